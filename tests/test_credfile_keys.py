"""The credentials- and config-file edits of `roletray keys`: lossless, only ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from tray.awsfiles import configedit, credfile
from tray.domain.errors import CredentialsFileError
from tray.domain.source_line import source_line

LINE = "roletray credential-process --source default"


@pytest.fixture
def cred(isolated_env: Path) -> Path:
    """The test HOME's credentials file; its config file is ``cred.with_name("config")``."""
    return isolated_env / ".aws" / "credentials"


@pytest.mark.parametrize("text, state", [
    ("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n", "long-term"),
    (("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s1\n"
     "aws_session_token = t\n"), "temporary"),
    (("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s1\n"
     "aws_session_token = t\nx_roletray_managed = true\n"), "owned"),
    ("[default]\naws_access_key_id = AKIA1\n", "partial"),
    ("[default]\nregion = us-east-1\n", "other"),
    ("[default]\n", "absent"),
    ("[other]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n", "absent"),
])
def test_read_source_keys_says_what_the_section_holds(cred: Path, text: str, state: str) -> None:
    cred.write_text(text)
    assert credfile.read_source_keys(cred, "default").state == state


def test_the_secret_is_not_in_the_repr(cred: Path) -> None:
    cred.write_text("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s3cr3t\n")
    found = credfile.read_source_keys(cred, "default")
    assert found.secret_access_key == "s3cr3t"
    assert "s3cr3t" not in repr(found)


def test_removing_the_keys_removes_the_empty_section_and_keeps_comments(cred: Path) -> None:
    cred.write_text("# my keys\n[default]\n# from the console, 2024\n"
                    "aws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n"
                    "[ci]\naws_access_key_id = AKIA2\naws_secret_access_key = s2\n")
    assert credfile.remove_source_keys(cred, "default", "AKIA1") is True
    assert cred.read_text() == ("# my keys\n# from the console, 2024\n\n"
                                "[ci]\naws_access_key_id = AKIA2\naws_secret_access_key = s2\n")
    assert credfile.remove_source_keys(cred, "default", "AKIA1") is False  # idempotent


def test_removing_keeps_a_section_with_other_lines(cred: Path) -> None:
    cred.write_text("[ci]\nregion = eu-west-1\naws_access_key_id = AKIA2\n"
                    "aws_secret_access_key = s2\n")
    assert credfile.remove_source_keys(cred, "ci", "AKIA2")
    assert cred.read_text() == "[ci]\nregion = eu-west-1\n"


def test_removing_leaves_other_keys_alone(cred: Path) -> None:
    text = "[ci]\naws_access_key_id = AKIANEW\naws_secret_access_key = s2\n"
    cred.write_text(text)
    assert credfile.remove_source_keys(cred, "ci", "AKIAOLD") is False
    assert cred.read_text() == text


def test_put_then_remove_gives_back_the_same_bytes(cred: Path) -> None:
    text = "[ci]\naws_access_key_id = AKIA2\naws_secret_access_key = s2\n"
    cred.write_text(text)
    assert credfile.put_source_keys(cred, "default", "AKIA1", "s1")
    assert credfile.put_source_keys(cred, "default", "AKIA1", "s1") is False
    assert credfile.read_source_keys(cred, "default").access_key_id == "AKIA1"
    assert credfile.remove_source_keys(cred, "default", "AKIA1")
    assert cred.read_text() == text


def test_put_refuses_a_section_with_other_keys(cred: Path) -> None:
    text = "[ci]\naws_access_key_id = AKIA2\naws_secret_access_key = s2\n"
    cred.write_text(text)
    with pytest.raises(CredentialsFileError, match=r"line 1: section \[ci\] already holds other"):
        credfile.put_source_keys(cred, "ci", "AKIA1", "s1")
    assert cred.read_text() == text


def test_put_creates_the_file_0600(cred: Path) -> None:
    assert credfile.put_source_keys(cred, "ci", "AKIA1", "s1")
    assert cred.stat().st_mode & 0o777 == 0o600


def test_the_config_line_goes_into_default_and_comes_out_again(cred: Path) -> None:
    config = cred.with_name("config")
    text = "# mine\n[default]\nregion = eu-west-1\n\n[profile platform]\nrole_arn = x\n"
    config.write_text(text)
    assert configedit.set_source_line(config, "default", LINE)
    assert configedit.set_source_line(config, "default", LINE) is False
    assert configedit.source_line_of(config, "default") == LINE
    assert "[default]\nregion = eu-west-1\ncredential_process = " + LINE in config.read_text()
    assert configedit.remove_source_line(config, "default", file_id=None)
    assert config.read_text() == text


def test_the_config_line_of_another_profile_gets_its_own_section(cred: Path) -> None:
    config = cred.with_name("config")
    config.write_text("[default]\nregion = eu-west-1\n")
    line = "roletray credential-process --source ci"
    assert configedit.set_source_line(config, "ci", line)
    assert config.read_text() == ("[default]\nregion = eu-west-1\n\n[profile ci]\n"
                                  f"credential_process = {line}\n")
    assert configedit.remove_source_line(config, "ci", file_id=None)
    assert config.read_text() == "[default]\nregion = eu-west-1\n"


def test_another_credential_process_is_neither_replaced_nor_removed(cred: Path) -> None:
    config = cred.with_name("config")
    text = "[profile ci]\ncredential_process = aws-vault exec ci --json\n"
    config.write_text(text)
    with pytest.raises(CredentialsFileError, match="profile 'ci' already has a "
                       "credential_process that is not roletray's"):
        configedit.set_source_line(config, "ci", "roletray credential-process --source ci")
    assert configedit.remove_source_line(config, "ci", file_id=None) is False
    assert config.read_text() == text


def test_our_line_for_another_source_is_not_removed(cred: Path) -> None:
    config = cred.with_name("config")
    text = "[profile ci]\ncredential_process = roletray credential-process --source other\n"
    config.write_text(text)
    assert configedit.remove_source_line(config, "ci", file_id=None) is False
    assert config.read_text() == text


def test_our_line_changed_by_hand_stays_as_it_is(cred: Path) -> None:
    config = cred.with_name("config")
    text = ("[default]\ncredential_process = /opt/rt/bin/roletray credential-process "
            "--source default --no-session\n")
    config.write_text(text)
    assert configedit.set_source_line(config, "default", LINE) is False
    assert config.read_text() == text


FID_A, FID_B = "0123456789ab", "ba9876543210"


def test_the_line_from_before_file_ids_gets_the_file_id_added(cred: Path) -> None:
    config = cred.with_name("config")
    config.write_text("[default]\ncredential_process = /opt/rt/bin/roletray "
                      "credential-process --source default --no-session\n")
    assert configedit.set_source_line(config, "default", source_line("default", file_id=FID_A))
    assert config.read_text() == (
        "[default]\ncredential_process = /opt/rt/bin/roletray credential-process --source "
        f"default --no-session --file-id={FID_A}\n")
    assert configedit.set_source_line(config, "default",
                                    source_line("default", file_id=FID_A)) is False


def test_the_line_of_another_credentials_file_is_neither_replaced_nor_removed(
        cred: Path) -> None:
    config = cred.with_name("config")
    text = f"[default]\ncredential_process = {source_line('default', file_id=FID_A)}\n"
    config.write_text(text)
    with pytest.raises(CredentialsFileError, match="keys of another credentials file"):
        configedit.set_source_line(config, "default", source_line("default", file_id=FID_B))
    assert configedit.remove_source_line(config, "default", file_id=FID_B) is False
    assert config.read_text() == text
    assert configedit.remove_source_line(config, "default", file_id=FID_A)
