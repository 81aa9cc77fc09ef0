"""What credfile writes is what botocore and the aws CLI read (no network needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest

from tray.awsfiles import configedit, credfile
from tray.domain.models import TempCredentials

EXPIRY = datetime(2026, 11, 28, 14, 26, 50, tzinfo=UTC)
CREDS = TempCredentials("ASIAZZZZEXAMPLEHQEK", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY",
                        "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+==", EXPIRY)
LONG_TERM = ("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
             "aws_secret_access_key = longtermsecret\n")


@pytest.fixture
def cred_path(isolated_env: Path) -> Path:
    return Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])


def resolved(profile: str):  # type: ignore[no-untyped-def]
    return botocore.session.Session(profile=profile).get_credentials()


def test_botocore_reads_back_exactly_the_written_keys(cred_path: Path) -> None:
    cred_path.write_text(LONG_TERM)
    credfile.write_credentials(cred_path, "roletray", CREDS, role="platform")
    got = resolved("roletray")
    assert got.method == "shared-credentials-file"
    assert (got.access_key, got.secret_key, got.token) == (
        CREDS.access_key_id, CREDS.secret_access_key, CREDS.session_token)
    assert resolved("default").access_key == "AKIAIOSFODNN7EXAMPLE"  # untouched
    # The x_roletray_* keys are just unknown keys to botocore: config still loads, clients build.
    session = botocore.session.Session(profile="roletray")
    assert session.get_scoped_config()["x_roletray_managed"] == "true"
    session.create_client("sts", region_name="us-east-1")


def test_stale_security_token_is_removed(cred_path: Path) -> None:
    cred_path.write_text(LONG_TERM + "\n[roletray]\naws_access_key_id = ASIAOLD\n"
                         "aws_secret_access_key = old\naws_session_token = oldsession\n"
                         "aws_security_token = legacytoken\n")
    assert resolved("roletray").token == "legacytoken"  # botocore prefers the legacy name
    credfile.write_credentials(cred_path, "roletray", CREDS, role="platform", force=True)
    assert resolved("roletray").token == CREDS.session_token
    assert "aws_security_token" not in cred_path.read_text()


@pytest.mark.parametrize("nl", ["\r\n", "\r"])
def test_botocore_reads_our_section_in_files_with_other_line_ends(cred_path: Path,
                                                                 nl: str) -> None:
    cred_path.write_bytes(LONG_TERM.replace("\n", nl).encode())
    credfile.write_credentials(cred_path, "roletray", CREDS, role="platform")
    assert resolved("roletray").access_key == CREDS.access_key_id
    assert resolved("default").secret_key == "longtermsecret"


def test_region_reaches_botocore(cred_path: Path) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text("[default]\nregion = us-east-1\n")
    configedit.set_profile_region(config, "roletray", "ap-northeast-2")
    session = botocore.session.Session(profile="roletray")
    assert session.get_config_variable("region") == "ap-northeast-2"
    assert botocore.session.Session(profile="default").get_config_variable("region") == \
        "us-east-1"


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")
def test_aws_cli_sees_the_keys_in_the_shared_credentials_file(cred_path: Path) -> None:
    cred_path.write_text(LONG_TERM)
    credfile.write_credentials(cred_path, "roletray", CREDS, role="platform")
    configedit.set_profile_region(Path(os.environ["AWS_CONFIG_FILE"]), "roletray", "eu-west-1")
    out = subprocess.run(["aws", "configure", "list", "--profile", "roletray"],
                         capture_output=True, text=True, timeout=60, env=os.environ.copy(),
                         check=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["access_key"] == ["****************HQEK", "shared-credentials-file"]
    assert rows["secret_key"][1] == "shared-credentials-file"
    assert rows["region"][:2] == ["eu-west-1", "config-file"]
