"""A switch changes the credentials, the config region and the state together or not at all.

What cannot be written is found before AssumeRole (nothing changes, one line);
a failure after the credentials were written puts the previous section back.
Read-only and full disks are real tmpfs mounts (root only; skipped elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tray import compose, paths
from tray.awsfiles import awsconfig, configedit, credfile, filelock_lite
from tray.cli import main
from tray.domain.errors import CredentialsFileError, StateError
from tray.domain.models import AssumeResult, TempCredentials
from tray.engine import actions

NOBODY = 65534


def _mount(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for where in reversed(made):
        subprocess.run(["umount", "-l", str(where)], check=False)


def read_only_dir(where: Path, mounts: list[Path], files: dict[str, str]) -> Path:
    _mount(where, "size=256k,mode=0755")
    mounts.append(where)
    for name, text in files.items():
        (where / name).write_text(text)
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    return where


def full_dir(where: Path, mounts: list[Path]) -> Path:
    _mount(where, "size=64k,mode=0700")
    mounts.append(where)
    fill(where)
    return where


def fill(where: Path) -> None:
    with open(where / "filler", "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"x" * 4096)


def one_line_error(capsys: pytest.CaptureFixture[str], needle: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if needle in ln]
    return line


def test_read_only_config_link_is_refused_before_assume_role(aws, capsys, mounts, tmp_path):
    aws.seed_world()
    config = aws.config_path.read_text()
    dotfiles = read_only_dir(tmp_path / "dotfiles", mounts, {"config": config})
    aws.config_path.unlink()
    aws.config_path.symlink_to(dotfiles / "config")
    before = aws.credentials_path.read_bytes()

    assert main(["assume", "platform"]) == 2
    line = one_line_error(capsys, "read-only")
    assert "config" in line
    assert aws.credentials_path.read_bytes() == before  # the keys did not switch
    assert not (aws.home / ".local" / "state" / "roletray" / "state.json").exists()
    assert main(["status", "--json"]) == 0
    assert '"idle"' in capsys.readouterr().out


def test_full_state_folder_is_refused_before_assume_role(aws, capsys, mounts, monkeypatch,
                                                         tmp_path):
    aws.seed_world()
    state_home = full_dir(tmp_path / "statedisk", mounts)
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    before = aws.credentials_path.read_bytes()
    config_before = aws.config_path.read_bytes()

    assert main(["assume", "platform"]) == 2
    line = one_line_error(capsys, "cannot write roletray's state")
    assert "No space left" in line
    assert aws.credentials_path.read_bytes() == before
    assert aws.config_path.read_bytes() == config_before


def _result(key: str) -> AssumeResult:
    exp = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return AssumeResult(profile="platform",
                        credentials=TempCredentials(key, "secret" + key, "token" + key, exp),
                        identity_arn="arn:aws:sts::123456789012:assumed-role/platform/s",
                        assumed_role_id="AROAX:s")


def test_a_failure_after_the_credentials_write_puts_the_old_section_back(
        aws, capsys, mounts, monkeypatch, tmp_path):
    aws.seed_world()
    state_home = tmp_path / "statedisk"
    _mount(state_home, "size=64k,mode=0700")
    mounts.append(state_home)
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    assert main(["assume", "platform"]) == 0
    capsys.readouterr()
    before = aws.credentials_path.read_text()
    # The disk fills after the checks passed: only the rollback can keep the files whole.
    fill(state_home)
    ctx = compose.in_process(dict(os.environ))
    role = awsconfig.get_role_profile("platform", aws.config_path,
                                      credentials_path=paths.aws_credentials_file(os.environ))

    with pytest.raises(StateError) as caught:
        actions.write(_result("ASIANEWKEY0000000000"), role, "roletray", ctx)
    message = str(caught.value)
    assert "\n" not in message and "put back the previous [roletray] section" in message
    assert aws.credentials_path.read_text() == before
    assert "ASIANEWKEY" not in aws.credentials_path.read_text()


def test_rollback_of_a_new_target_removes_its_section_and_region(aws, tmp_path):
    aws.seed_world()
    config_before = aws.config_path.read_text()
    creds_before = aws.credentials_path.read_text()
    before = credfile.previous(aws.credentials_path, aws.config_path, "fresh")
    creds = _result("ASIAROLLBACK00000000").credentials
    credfile.write_credentials(aws.credentials_path, "fresh", creds, role="platform")
    configedit.set_profile_region(aws.config_path, "fresh", "eu-west-1")
    assert "[profile fresh]" in aws.config_path.read_text()

    credfile.restore(aws.credentials_path, aws.config_path, before, creds.access_key_id)
    assert aws.credentials_path.read_text() == creds_before
    assert aws.config_path.read_text() == config_before


def test_rollback_leaves_a_newer_roletray_write_alone(aws):
    aws.seed_world()
    before = credfile.previous(aws.credentials_path, aws.config_path, "roletray")
    mine, theirs = _result("ASIAMINE000000000000"), _result("ASIATHEIRS0000000000")
    credfile.write_credentials(aws.credentials_path, "roletray", mine.credentials, role="p")
    credfile.write_credentials(aws.credentials_path, "roletray", theirs.credentials, role="p")
    credfile.restore(aws.credentials_path, aws.config_path, before, "ASIAMINE000000000000")
    assert "ASIATHEIRS0000000000" in aws.credentials_path.read_text()


def test_a_later_roletray_write_is_no_failure_of_the_post_write_check(aws):
    """20 parallel `assume`s: each checks after its write and may see a later one's key."""
    from tray.aws import sts

    aws.seed_world()
    env = dict(os.environ)
    mine, theirs = _result("ASIAMINE000000000000"), _result("ASIATHEIRS0000000000")
    credfile.write_credentials(aws.credentials_path, "roletray", mine.credentials, role="p")
    credfile.write_credentials(aws.credentials_path, "roletray", theirs.credentials, role="p")
    sts.verify_target("roletray", "ASIAMINE000000000000", env)  # no error

    # A section somebody else wrote (no marker) with another key still fails the check.
    aws.write_credentials(aws.credentials_path.read_text().replace(
        "x_roletray_managed = true\n", ""))
    with pytest.raises(CredentialsFileError, match="yields key"):
        sts.verify_target("roletray", "ASIAMINE000000000000", env)


def test_a_shared_credentials_file_gets_a_warning(aws, capsys):
    aws.seed_world()
    os.chmod(aws.credentials_path, 0o666)
    assert main(["assume", "platform"]) == 0
    err = capsys.readouterr().err
    assert "writable by other users (mode 666)" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_root_run_leaves_a_lock_file_the_user_can_take(tmp_path):
    # Outside pytest's tmp folder, which only root may enter.
    top = Path(tempfile.mkdtemp(prefix="roletray-lock-"))
    try:
        _root_run(top)
    finally:
        shutil.rmtree(top)


def _root_run(top: Path) -> None:
    os.chmod(top, 0o755)
    folder = top / ".aws"
    folder.mkdir()
    os.chown(folder, NOBODY, NOBODY)
    os.chmod(folder, 0o755)
    creds = folder / "credentials"
    credfile.write_credentials(creds, "roletray", _result("ASIAROOTRUN000000000").credentials,
                               role="p")
    lock = credfile.lock_path(creds)
    assert lock.stat().st_uid == NOBODY

    # A lock file the user cannot write (still root's: an older roletray left it) is
    # taken through a read-only descriptor.
    os.chown(lock, 0, 0)
    os.chmod(lock, 0o644)
    pid = os.fork()
    if pid == 0:  # the user, in a child: only system calls after the fork
        status = 1
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            filelock_lite.release(filelock_lite.acquire(str(lock), timeout=5))
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    filelock_lite.release(filelock_lite.acquire(str(lock), timeout=1))


def test_a_credentials_file_others_can_read_gets_a_warning_naming_the_fix(aws, capsys):
    # Issue 25, Low 13: secrets went into a 0644 file without a word.
    aws.seed_world()
    os.chmod(aws.credentials_path, 0o644)
    assert main(["assume", "platform"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "other users" in line]
    assert lines == [("warning: ~/.aws/credentials is readable by other users "
                      f"(mode 644); run: chmod 600 {aws.credentials_path}")]
    assert "[roletray]" in aws.credentials_path.read_text()  # warned, as for 0666, not refused
