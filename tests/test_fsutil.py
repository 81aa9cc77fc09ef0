"""tray.fsutil: one atomic write, one private folder (the strict kind), one kernel lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tray import fsutil, state
from tray.awsfiles import filelock_lite
from tray.domain.errors import StateError, UsageError
from tray.paths import Paths


def test_atomic_write_replaces_whole_with_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    target = folder / "f.json"
    target.write_text("old")
    assert fsutil.atomic_write(target, "new", mode=0o640)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in folder.iterdir()] == ["f.json"]  # no temporary file left


def test_atomic_write_keeps_the_file_when_the_last_look_says_no(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    target = folder / "f"
    target.write_text("theirs")
    assert not fsutil.atomic_write(target, b"ours", last_look=lambda: False)
    assert target.read_text() == "theirs"
    assert [p.name for p in folder.iterdir()] == ["f"]


def test_private_dir_creates_every_missing_folder_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        made = fsutil.private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    for d in (tmp_path / "a", made):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_private_dir_tightens_its_own_and_refuses_a_link(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    fsutil.private_dir(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    (tmp_path / "link").symlink_to(loose)
    with pytest.raises(UsageError, match="symbolic link"):
        fsutil.private_dir(tmp_path / "link")


def test_the_state_folder_is_refused_when_it_is_a_link(tmp_path: Path) -> None:
    # Before: state.make_private_dirs followed a planted link and wrote the state there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    paths = Paths.from_env({"HOME": str(tmp_path / "home"),
                            "XDG_STATE_HOME": str(tmp_path / "state")})
    paths.state_file.parent.parent.mkdir(parents=True)
    paths.state_file.parent.symlink_to(elsewhere)
    with pytest.raises(StateError, match="symbolic link"):
        state.check_writable(paths)
    assert list(elsewhere.iterdir()) == []


def test_the_instance_lock_and_filelock_lite_take_one_lock(tmp_path: Path) -> None:
    from tray.instance.lock import InstanceLock

    path = tmp_path / "x.lock"
    with filelock_lite.locked(str(path), timeout=1):
        fd = os.open(path, os.O_RDWR)
        try:
            assert not fsutil.try_lock(fd)
        finally:
            os.close(fd)
    with InstanceLock(path), pytest.raises(filelock_lite.LockTimeout):
        filelock_lite.acquire(str(path), timeout=0.05)
