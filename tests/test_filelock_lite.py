"""tray.awsfiles.filelock_lite: the lock credfile takes, compatible with filelock.FileLock."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import filelock
import pytest

from tray.awsfiles import filelock_lite


def test_excludes_filelock_both_ways(tmp_path: Path) -> None:
    name = str(tmp_path / ".credentials.roletray.lock")
    with filelock_lite.locked(name, timeout=1), pytest.raises(filelock.Timeout):
        filelock.FileLock(name).acquire(timeout=0.1)
    other = filelock.FileLock(name)
    other.acquire()
    try:
        with pytest.raises(filelock_lite.LockTimeout):
            filelock_lite.acquire(name, timeout=0.1)
    finally:
        other.release()
    filelock_lite.release(filelock_lite.acquire(name, timeout=0.1))


def test_threads_exclude_each_other_and_waiters_get_it(tmp_path: Path) -> None:
    name = str(tmp_path / "lock")
    inside: list[int] = []
    overlaps: list[int] = []

    def work(i: int) -> None:
        for _ in range(20):
            with filelock_lite.locked(name, timeout=10):
                if inside:
                    overlaps.append(i)
                inside.append(i)
                time.sleep(0.0005)
                inside.pop()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_new_lock_file_is_0600_and_stays(tmp_path: Path) -> None:
    name = tmp_path / "lock"
    with filelock_lite.locked(str(name), timeout=1, mode=0o600):
        pass
    assert stat.S_IMODE(name.stat().st_mode) == 0o600


def test_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        filelock_lite.acquire(str(tmp_path / "nope" / "lock"), timeout=1)
