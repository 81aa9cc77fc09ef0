"""A blocking, exclusive lock on a lock file, with a timeout: what ``credfile`` needs of filelock.

It takes the same kernel locks as ``filelock.FileLock`` on the same file, so
roletray processes using either exclude each other: ``flock(LOCK_EX)`` on POSIX,
an exclusive lock on byte 0 on Windows (``msvcrt.locking``; filelock's
``LockFileEx`` on byte 0 conflicts with it). The lock file stays in place on
release, so that waiters share one inode.

Why not filelock itself: importing it costs ~30 ms (most of what ``roletray
assume`` spends outside botocore) and an acquire and release ~0.15 ms, more
than the rest of a small credentials-file write; this costs a few
microseconds. Each ``locked()`` opens its own descriptor, so threads of one
process exclude each other too (flock and byte-range locks belong to the open
file, not to the process)::

    with locked("/home/me/.aws/.credentials.roletray.lock", timeout=30):
        ...  # read, edit, write, rename
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tray.fsutil import try_lock as _try_lock
from tray.fsutil import unlock as _unlock

POLL_FIRST = 0.002  # seconds between attempts while another process holds the lock ...
POLL_MAX = 0.05  # ... growing to this (filelock polls every 0.05 s)


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than the timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        super().__init__(f"{path}: still locked after {timeout:g} s")


_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)


def _open_existing(path: str) -> int:
    try:
        return os.open(path, _FLAGS)
    except PermissionError:
        # Someone else's lock file (left by a root run, say): flock needs no write
        # access, so a read-only descriptor takes the same lock.
        return os.open(path, _FLAGS & ~os.O_RDWR | os.O_RDONLY)


def _open(path: str, mode: int) -> int:
    try:
        return _open_existing(path)  # the usual case: it is there from an earlier write
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:  # another process created it just now
        return _open_existing(path)
    if hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, mode)  # os.open's mode went through the umask
        except OSError:
            pass
    return fd


def acquire(path: str, *, timeout: float, mode: int = 0o600) -> int:
    """Take the exclusive lock on ``path`` (created with ``mode`` if missing); returns
    the descriptor to hand to ``release``.

    Waits at most ``timeout`` seconds, then raises ``LockTimeout``. Other
    ``OSError`` s (no such folder, not allowed) are raised as they are.
    """
    deadline: float | None = None
    delay = POLL_FIRST
    fd = _open(path, mode)
    try:
        while True:
            if _try_lock(fd):
                # A peer that removes the file on release (filelock does on Windows) may
                # have unlinked this inode before we locked it: lock the new one instead.
                if os.fstat(fd).st_nlink > 0:
                    return fd
                _unlock(fd)
                os.close(fd)
                fd = -1
                fd = _open(path, mode)
                continue
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout
            if now >= deadline:
                raise LockTimeout(path, timeout)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, POLL_MAX)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def release(fd: int) -> None:
    try:
        _unlock(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: str, *, timeout: float, mode: int = 0o600) -> Iterator[None]:
    """``acquire`` ... ``release`` around the block."""
    fd = acquire(path, timeout=timeout, mode=mode)
    try:
        yield
    finally:
        release(fd)
