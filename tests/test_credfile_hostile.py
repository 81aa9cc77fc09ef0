"""credfile against hostile local conditions (issue 13 items 1 and 4), in real files.

Other writers are played in-process at the exact moments that matter: from the
wait credfile makes (its injected sleep), or from the fsync just before the
rename. credfile's clock is a FakeClock, so its patience costs no real time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeClock

from tray.awsfiles import credfile, sharedfile
from tray.awsfiles.sharedfile import Patience
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials

BASE = ("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = longtermsecret\n\n[awscli]\nregion = us-east-1\n")
CREDS = TempCredentials("ASIA0000000000000001", "secret1", "token1",
                        datetime(2030, 1, 1, tzinfo=UTC))
OLD_NS = 1_000_000_000_000_000_000  # 2001: a file nobody is writing now


class Waits:
    """credfile's patience on a fake clock; ``then`` runs at the n-th wait (a peer's move)."""

    def __init__(self) -> None:
        self.clock = FakeClock(datetime.now(UTC))
        self.count = 0
        self.then: dict[int, object] = {}

    def sleep(self, seconds: float) -> None:
        self.count += 1
        self.clock.advance(timedelta(seconds=seconds))
        action = self.then.get(self.count)
        if callable(action):
            action()

    def patience(self) -> Patience:
        return Patience(sleep=self.sleep, monotonic=self.clock.monotonic,
                        wall=lambda: self.clock.now().timestamp())


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    w = Waits()
    monkeypatch.setattr(credfile, "PATIENCE", w.patience())
    return w


@pytest.fixture
def cred_path(isolated_env: Path) -> Path:
    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    path.write_text(BASE)
    os.chmod(path, 0o600)
    return path


def write() -> None:
    credfile.write_credentials(Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]), "roletray",
                               CREDS, role="platform", home=Path.home())


def sections(path: Path) -> list[str]:
    return credfile.section_names(path)


# --- item 1: a writer that truncates, then writes -------------------------------------------


def test_an_empty_read_of_a_file_being_rewritten_is_not_trusted(cred_path: Path,
                                                                waits: Waits) -> None:
    cred_path.write_text("")  # the aws CLI has just opened it with "w" ...
    waits.then[3] = lambda: cred_path.write_text(BASE)  # ... and writes it a moment later
    write()
    assert sections(cred_path) == ["default", "awscli", "roletray"]
    assert cred_path.read_text().startswith(BASE)
    assert waits.count == 3


def test_an_empty_file_untouched_for_a_while_is_just_empty(cred_path: Path, waits: Waits) -> None:
    cred_path.write_text("")
    os.utime(cred_path, ns=(OLD_NS, OLD_NS))
    write()
    assert sections(cred_path) == ["roletray"]
    assert waits.count == 0  # no waiting in the common case


def test_an_empty_file_that_stays_empty_is_written_after_the_quiet_time(cred_path: Path,
                                                                        waits: Waits) -> None:
    cred_path.write_text("")  # created a moment ago, e.g. by `touch`
    write()
    assert sections(cred_path) == ["roletray"]
    waited = waits.count * credfile.PATIENCE.step
    assert credfile.PATIENCE.quiet <= waited < credfile.PATIENCE.quiet + 0.1


def test_a_partial_read_that_does_not_parse_is_read_again(cred_path: Path, waits: Waits) -> None:
    cred_path.write_text(BASE[:60])  # mid-write: "[default]\n...\naws_secr"
    waits.then[1] = lambda: cred_path.write_text(BASE)
    write()
    assert sections(cred_path) == ["default", "awscli", "roletray"]


def test_a_broken_file_nobody_is_writing_is_refused_at_once(cred_path: Path, waits: Waits) -> None:
    cred_path.write_text("[default]\nthis is not a key line\n")
    os.utime(cred_path, ns=(OLD_NS, OLD_NS))
    with pytest.raises(CredentialsFileError, match="line 2: not a 'key = value' line"):
        write()
    assert waits.count == 0


def test_a_change_between_read_and_rename_is_seen_even_with_the_same_size_and_mtime(
        cred_path: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes are compared just before the rename, not only size and mtime."""
    os.utime(cred_path, ns=(OLD_NS, OLD_NS))
    changed = BASE.replace("us-east-1", "eu-west-1")  # same length
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:  # the temp file is written; the rename comes next
            with open(cred_path, "r+") as f:  # another program edits in place ...
                f.write(changed)
            os.utime(cred_path, ns=(OLD_NS, OLD_NS))  # ... within the same mtime tick
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write()
    text = cred_path.read_text()
    assert text.startswith(changed)  # its edit is kept ...
    assert "[roletray]" in text  # ... and ours made on top of it


def test_sections_that_vanish_during_a_write_are_never_written_away(
        cred_path: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-read that lost a section refuses (after the deadline), naming file and section."""
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:  # another program rewrites it without [default], and keeps it so
            cred_path.write_text("[awscli]\nregion = us-east-1\n")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CredentialsFileError) as err:
        write()
    assert str(err.value) == ("~/.aws/credentials: section [default] vanished while roletray "
                              "was writing it (another program is rewriting the file); roletray "
                              "did not change the file")
    assert cred_path.read_text() == "[awscli]\nregion = us-east-1\n"  # nothing written
    assert waits.count * credfile.PATIENCE.step >= credfile.PATIENCE.deadline
    assert [p.name for p in cred_path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_file_that_never_settles_is_refused(cred_path: Path, waits: Waits,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    n = [0]

    def fsync(fd: int) -> None:  # a peer rewrites the file before every rename
        n[0] += 1
        with open(cred_path, "a") as f:
            f.write(f"# {n[0]}\n")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CredentialsFileError, match="kept changing while roletray read it"):
        write()
    assert "[roletray]" not in cred_path.read_text()


# --- item 4: not a regular file, or far too large ------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_blocking(isolated_env: Path, waits: Waits) -> None:
    fifo = isolated_env / ".aws" / "credentials"
    os.mkfifo(fifo)
    for call in (lambda: credfile.section_state(fifo, "roletray", home=isolated_env), write,
                 lambda: credfile.remove_credentials(fifo, "roletray", home=isolated_env)):
        with pytest.raises(CredentialsFileError) as err:
            call()
        assert str(err.value) == ("~/.aws/credentials: is a FIFO (named pipe), not a regular "
                                  "file; roletray reads and writes only regular files")
    assert fifo.is_fifo()


def test_a_device_is_refused(waits: Waits) -> None:
    with pytest.raises(CredentialsFileError, match="^/dev/zero: is a device, not a regular file"):
        credfile.read_owned(Path("/dev/zero"), "roletray")


def test_a_file_over_the_cap_is_refused_unread(cred_path: Path, waits: Waits) -> None:
    with open(cred_path, "ab") as f:
        f.truncate(sharedfile.MAX_SIZE + 1)  # sparse: no real disk space
    before = cred_path.stat()
    with pytest.raises(CredentialsFileError, match="^~/.aws/credentials: larger than 4 MiB"):
        write()
    after = cred_path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_file_that_grows_over_the_cap_while_read_is_refused(tmp_path: Path) -> None:
    """The cap holds for what is read, not only for what fstat said before."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    real_read = os.read

    def read(fd: int, n: int) -> bytes:
        return real_read(fd, n) or b"x" * 65536  # a file that never ends, like /dev/zero

    with pytest.MonkeyPatch.context() as m:
        m.setattr(os, "read", read)
        with pytest.raises(CredentialsFileError, match="larger than 4 MiB"):
            sharedfile.read_once(path, "f")


def test_fingerprint_tells_unchanged_from_changed(cred_path: Path, waits: Waits) -> None:
    first = credfile.fingerprint(cred_path)
    assert first is not None and credfile.fingerprint(cred_path) == first
    write()
    second = credfile.fingerprint(cred_path)
    assert second is not None and second != first
    assert credfile.fingerprint(cred_path.parent / "nope") is None


# --- the same through the command line: one line, exit 2, no hang ------------------------------


def run_cli(env_file: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": env_file}
    return subprocess.run([sys.executable, "-m", "tray", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "too large"])
def test_cli_assume_refuses_in_one_line(aws, kind: str) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    if kind == "fifo":
        target = aws.home / "fifo-credentials"
        os.mkfifo(target)
        shown, problem = "~/fifo-credentials", "is a FIFO (named pipe), not a regular file"
    elif kind == "/dev/zero":
        target, shown, problem = Path("/dev/zero"), "/dev/zero", "is a device, not a regular file"
    else:
        target = aws.home / "big-credentials"
        target.write_bytes(aws.credentials_path.read_bytes() + b"#" * sharedfile.MAX_SIZE + b"\n")
        shown, problem = "~/big-credentials", "larger than 4 MiB"
    before = os.stat(target)
    done = run_cli(str(target), "assume", "platform")
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"roletray: {shown}: {problem}" + done.stderr.split(problem, 1)[1]
    assert done.stderr.count("\n") == 1
    after = os.stat(target)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_write_that_would_cross_the_cap_is_refused(aws) -> None:  # type: ignore[no-untyped-def]
    # Issue 25, Low 12: a 4,194,108-byte file was written past the cap by assume, and
    # then every later read (clear included) refused it.
    aws.seed_world()
    target = aws.home / "big-credentials"
    base = aws.credentials_path.read_bytes()
    pad = 4_194_108 - len(base) - 2
    target.write_bytes(base + b"#" * pad + b"\n" + b"\n")
    assert target.stat().st_size == 4_194_108 < sharedfile.MAX_SIZE
    before = os.stat(target)
    done = run_cli(str(target), "assume", "platform")
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("roletray: ~/big-credentials: the edit would make it larger than "
                           "4 MiB, more than roletray reads; roletray did not change the file\n")
    after = os.stat(target)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    assert run_cli(str(target), "clear").returncode == 0  # still readable: nothing to clear
