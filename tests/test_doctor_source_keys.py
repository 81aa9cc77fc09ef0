"""The doctor says where a source's keys live, and warns about long-term keys in reach
of others (a file group or others can read, a file inside a git work tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import AwsSandbox
from test_source_keys import FakeBackend, keyring_world

from tray.aws.session import make_client_factory
from tray.doctor import diagnose, local
from tray.doctor.diagnose import format_report, run_doctor
from tray.doctor.findings import Finding, Report
from tray.platform.secret_store import SecretStore


def get(report: Report, check: str) -> Finding:
    return next(f for f in report.findings if f.id == check)


def doctor(profile: str, backend: FakeBackend | None = None) -> Report:
    store = SecretStore(backend or FakeBackend())
    return run_doctor(profile, env=os.environ, try_assume=False, store=store,
                      client_factory=make_client_factory(store=store))


def test_private_file_keys_are_ok_and_the_doctor_names_the_way_out(aws: AwsSandbox) -> None:
    aws.seed_world()
    found = get(doctor("platform"), "source-keys")
    assert found.status == "ok", found
    assert "plain text in ~/.aws/credentials" in found.message
    assert "roletray keys import default" in found.message


def test_keys_in_a_file_others_can_read_are_a_problem(aws: AwsSandbox) -> None:
    aws.seed_world()
    os.chmod(aws.credentials_path, 0o644)
    found = get(doctor("platform"), "source-keys")
    assert found.status == "problem"
    assert "group and others can read (mode 0644)" in found.message
    assert found.fix is not None and "roletray keys import default" in found.fix
    assert "chmod 600 ~/.aws/credentials" in found.fix


def test_keys_in_a_git_work_tree_are_a_problem(aws: AwsSandbox) -> None:
    aws.seed_world()
    (aws.home / ".git").mkdir()  # a dotfiles repository in HOME
    found = get(doctor("platform"), "source-keys")
    assert found.status == "problem", found
    assert "git work tree" in found.message and str(aws.home) in found.message
    assert found.fix is not None and "roletray keys import default" in found.fix


def test_keyring_keys_are_reported_as_such(aws: AwsSandbox) -> None:
    backend = FakeBackend()
    keyring_world(aws, backend)
    os.chmod(aws.credentials_path, 0o644)  # holds no keys: nothing to warn about
    report = doctor("platform", backend)
    found = get(report, "source-keys")
    assert found.status == "ok" and "in the OS keyring" in found.message, found
    assert get(report, "whoami").status == "ok", format_report(report)  # signed by the keyring


def test_an_unfinished_import_is_a_problem(aws: AwsSandbox) -> None:
    keyring_world(aws, FakeBackend(), file_keys=True)
    found = get(doctor("platform"), "source-keys")
    assert found.status == "problem" and "did not finish" in found.message
    assert found.fix == "run `roletray keys import default` again to finish it"


def test_a_source_profile_is_recognised_and_its_keyring_checked(aws: AwsSandbox) -> None:
    backend = FakeBackend()
    keyring_world(aws, backend)
    report = doctor("default", backend)
    assert "--source default" in get(report, "served").message
    assert get(report, "profile").status == "ok"
    assert get(report, "keyring").status == "ok"
    akid, message = aws.users["dev"][0], get(report, "keyring").message
    assert akid[-4:] in message and akid not in message  # masked
    assert get(report, "source-keys").status == "ok"
    assert report.exit_code == 0, format_report(report)

    backend.items.clear()
    missing = get(doctor("default", backend), "keyring")
    assert missing.status == "problem" and missing.fix is not None
    assert "roletray keys import default" in missing.fix


def test_served_profile_is_not_fooled_by_a_source_line() -> None:
    # It read `--source` as the role's name before.
    line = {"credential_process": "roletray credential-process --source default"}
    assert diagnose.served_profile(line) is None
    assert diagnose.served_profile({"credential_process":
                                    "roletray credential-process platform"}) == "platform"


@pytest.mark.parametrize(("section", "kind"), [
    ({"credential_process": "roletray credential-process --source default"}, "keyring"),
    ({"credential_process": "/opt/bin/helper"}, "process"),
    ({"sso_session": "corp"}, "sso"),
    ({"role_arn": "arn:aws:iam::1:role/x", "source_profile": "base"}, "role"),
    ({"aws_access_key_id": "A", "aws_secret_access_key": "B"}, "config"),
    ({}, "none"),
])
def test_key_location(section: dict[str, str], kind: str, tmp_path: Path) -> None:
    assert local.key_location("default", {"default": section}, tmp_path / "none") == kind
