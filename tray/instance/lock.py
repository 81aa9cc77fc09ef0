"""The locks an instance holds for its life: an exclusive ``flock`` on a small file that
names the holder's pid (and what else a caller needs to find it), in a private folder
(``tray.fsutil.private_dir``).

The kernel drops a ``flock`` when its holder dies, so a crash leaves no stale lock; the
file stays on release (unlinking a lock file races with a starting instance), emptied.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO

from tray import fsutil
from tray.domain.errors import InstanceRunningError, UsageError
from tray.domain.text import Text
from tray.i18n import N_


def _running_hint(what: str, pid: str) -> Text:
    """What to do about the instance that holds the lock, said whole (``what``: about
    the holder, a ``Text`` said in the reader's language too)."""
    if what:
        return Text(N_("{what}; `roletray assume|refresh|clear|status` talk to it; stop it "
                       "with `kill {pid}` to start another"), what=what, pid=pid)
    return Text(N_("`roletray assume|refresh|clear|status` talk to it; stop it with "
                   "`kill {pid}` to start another"), pid=pid)


class InstanceLock:
    """Held for the life of the tray or daemon; released by ``release()`` or process exit.

    The file holds the owner's pid, then ``extra`` (a line, when given: the keeper
    record's socket path). ``what``: said about the holder when another one is refused
    (``it keeps ~/.aws/credentials``). ``private_folder``: make the folder 0700 (roletray's
    own folders); False for a record beside the credentials file, whose folder is the
    user's to choose.
    """

    def __init__(self, path: Path, *, extra: str | None = None, what: str = "",
                 private_folder: bool = True) -> None:
        self.path = path
        self.extra = extra
        self.what = what
        self.private_folder = private_folder
        self._file: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        if self.private_folder:
            fsutil.private_dir(self.path.parent)
        f = self._open()
        try:
            _lock_nonblocking(f)
        except OSError as e:
            f.seek(0)
            pid = (f.read().splitlines() or [""])[0].strip() or "unknown"
            f.close()
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise InstanceRunningError(pid=pid, hint=_running_hint(self.what, pid)) from None
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n" + (f"{self.extra}\n" if self.extra else ""))
        f.flush()
        self._file = f
        return self

    def _open(self) -> IO[str]:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except IsADirectoryError:
            raise UsageError(N_("{path} is a folder, not roletray's lock file; remove it and "
                                "start again"),
                             path=self.path) from None
        except OSError as e:
            raise UsageError(N_("{path}: cannot open roletray's lock file ({reason}); remove it "
                                "if it is a link"),
                             path=self.path, reason=e.strerror or type(e).__name__) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(N_("{path} is not a regular file, not roletray's lock file; remove "
                                "it and start again"),
                             path=self.path)
        return os.fdopen(fd, "r+", encoding="utf-8")

    def release(self) -> None:
        # The file stays: unlinking a lock file races with a starting instance.
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            self._file.close()
            self._file = None

    def __enter__(self) -> InstanceLock:  # noqa: PYI034
        return self if self._file is not None else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_nonblocking(f: IO[str]) -> None:
    if not fsutil.try_lock(f.fileno()):
        raise OSError(errno.EAGAIN, "held by another process")


def running_pid(path: Path) -> int | None:
    """The pid in the lock file ``path``, if an instance holds the lock now."""
    try:
        with InstanceLock(path):
            return None
    except InstanceRunningError as e:
        try:
            return int(e.kwargs["pid"])
        except (KeyError, ValueError):
            return None
