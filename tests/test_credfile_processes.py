"""credfile under real concurrent processes, and processes killed (SIGKILL) mid-write."""

from __future__ import annotations

import configparser
import io
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tray.awsfiles import inifile

REPO = Path(__file__).resolve().parents[1]

# A worker writes `count` times (forever with -1), printing each index once it is written.
# `crash` makes it SIGKILL itself at one exact point of the write.
WORKER = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from datetime import datetime, timezone
from pathlib import Path
from tray.awsfiles import credfile
from tray.domain.models import TempCredentials

path, target, count, crash, first = (Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                                     sys.argv[5], int(sys.argv[6]))

def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)

real_fsync, fsyncs = os.fsync, []
def fsync(fd):
    fsyncs.append(fd)
    if (crash == "at-temp-fsync" and len(fsyncs) == 1) or (
            crash == "at-folder-fsync" and len(fsyncs) == 2):
        die()
    real_fsync(fd)
os.fsync = fsync
if crash == "at-replace":
    os.replace = die
if crash == "mid-data":
    real_fdopen = os.fdopen
    class HalfWriter:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *a): return self.f.__exit__(*a)
        def fileno(self): return self.f.fileno()
        def flush(self): self.f.flush()
        def write(self, data):
            self.f.write(data[: len(data) // 2]); self.f.flush(); die()
    os.fdopen = lambda fd, mode="r", *a, **k: HalfWriter(real_fdopen(fd, mode, *a, **k))

def creds(i):
    return TempCredentials(f"ASIA{target[:4].upper().ljust(4, 'X')}{i:012d}", f"secret-{target}-{i}",
                           f"token-{target}-{i}", datetime(2030, 1, 1, tzinfo=timezone.utc))

sys.stdin.readline()  # start together
i = first
while count < 0 or i < first + count:
    credfile.write_credentials(path, target, creds(i), role=f"role-{target}")
    print(i, flush=True)
    i += 1
"""

BASE = ("# shared by several tools ☃\r\n[default]\r\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\r\n"
        "aws_secret_access_key = longterm\r\n\r\n; prod keys\r\n[prod]\r\n"
        "aws_access_key_id = AKIAPROD\r\naws_secret_access_key = prodsecret\r\n")


def start(path: Path, target: str, count: int, crash: str = "", first: int = 0
          ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(REPO), str(path), target,
                             str(count), crash, str(first)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=os.environ.copy())


def go(*workers: subprocess.Popen[str]) -> None:
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()


def sections(text: str) -> dict[str, dict[str, str]]:
    cp = configparser.RawConfigParser()
    cp.read_file(io.StringIO(text, newline=None))  # raises if the file is not whole
    return {s: dict(cp.items(s)) for s in cp.sections()}


def whole(items: dict[str, str], target: str) -> int:
    """The write index that a section comes from; fails if its keys are from different writes."""
    i = int(items["aws_secret_access_key"].rsplit("-", 1)[1])
    assert items["aws_session_token"] == f"token-{target}-{i}"
    assert items["aws_access_key_id"].endswith(f"{i:012d}")
    assert items["x_roletray_managed"] == "true"
    return i


def without(text: str, *targets: str) -> str:
    for t in targets:
        text = inifile.replace_section(text, t, None)
    return text


def temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def cred_path(isolated_env: Path) -> Path:
    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    path.write_bytes(BASE.encode())
    os.chmod(path, 0o640)
    return path


def test_concurrent_writers_of_different_targets_lose_nothing(cred_path: Path) -> None:
    targets = [f"rt{n}" for n in range(4)]
    workers = [start(cred_path, t, 25) for t in targets]
    go(*workers)
    for w in workers:
        out, _ = w.communicate(timeout=120)
        assert w.returncode == 0
        assert out.split() == [str(i) for i in range(25)]
    text = cred_path.read_bytes().decode()
    found = sections(text)
    for t in targets:
        assert whole(found[t], t) == 24
    assert without(text, *targets) == BASE  # every other byte, CRLF included
    assert oct(cred_path.stat().st_mode & 0o777) == "0o640"
    assert temps(cred_path.parent) == []


def test_concurrent_writers_of_one_target_leave_one_whole_section(cred_path: Path) -> None:
    workers = [start(cred_path, "shared", 20, first=1000 * n) for n in range(3)]
    go(*workers)
    for w in workers:
        w.communicate(timeout=120)
        assert w.returncode == 0
    text = cred_path.read_bytes().decode()
    assert whole(sections(text)["shared"], "shared") in (19, 1019, 2019)
    assert without(text, "shared") == BASE


@pytest.mark.parametrize("crash, survives", [
    ("mid-data", "old"), ("at-temp-fsync", "old"), ("at-replace", "old"),
    ("at-folder-fsync", "new"),
])
def test_killed_at_each_step_leaves_old_or_new_whole(cred_path: Path, crash: str,
                                                     survives: str) -> None:
    first = start(cred_path, "roletray", 1)
    go(first)
    first.communicate(timeout=60)
    old = cred_path.read_bytes()
    w = start(cred_path, "roletray", 1, crash=crash, first=1)
    go(w)
    w.communicate(timeout=60)
    assert w.returncode == -signal.SIGKILL
    text = cred_path.read_bytes().decode()
    assert whole(sections(text)["roletray"], "roletray") == (0 if survives == "old" else 1)
    if survives == "old":
        assert cred_path.read_bytes() == old
        assert len(temps(cred_path.parent)) == 1  # what the killed writer left behind ...
    assert without(text, "roletray") == BASE
    after = start(cred_path, "roletray", 1, first=2)
    go(after)
    after.communicate(timeout=60)
    assert temps(cred_path.parent) == []  # ... is gone after the next write
    assert whole(sections(cred_path.read_bytes().decode())["roletray"], "roletray") == 2


def test_killed_at_random_moments(cred_path: Path) -> None:
    rng = random.Random(20261128)
    last = -1
    for round_ in range(12):
        w = start(cred_path, "roletray", -1, first=round_ * 1000)
        go(w)
        assert w.stdout is not None
        # Read a few "written" reports; the writer is already busy with the next write
        # when the kill lands, at whatever point the scheduler has it.
        for _ in range(rng.randint(1, 4)):
            last = int(w.stdout.readline())
        w.send_signal(signal.SIGKILL)
        w.communicate(timeout=60)
        text = cred_path.read_bytes().decode()
        i = whole(sections(text)["roletray"], "roletray")
        assert i >= last  # what was reported written is there (or a later write)
        assert without(text, "roletray") == BASE
    closing = start(cred_path, "roletray", 1, first=99_999)
    go(closing)
    closing.communicate(timeout=60)
    assert temps(cred_path.parent) == []
    assert oct(cred_path.stat().st_mode & 0o777) == "0o640"
