"""Files roletray writes: one atomic write, one private folder, one kernel lock.

- ``atomic_write``: a temporary file in the same folder, written, fsynced, given its
  mode, renamed over the target, the folder fsynced. A crash leaves the old file or
  the new one, never half of either (state, usage, MFA windows, the SSO token cache,
  autostart entries, and through ``sharedfile`` the AWS files).
- ``private_dir``: roletray's own folders (state, runtime, logs): missing ones are
  created 0700 one by one (``mkdir(parents=True, mode=)`` would give the parents the
  umask's); the folder itself is refused when it is a symbolic link, not a folder, or
  another user's, and tightened to 0700 when it is ours.
- ``try_lock``/``unlock``: the exclusive kernel lock on an open lock file (``flock``
  on POSIX, byte 0 on Windows), the one ``filelock_lite`` waits for and the instance
  lock takes without waiting.

Used by ``tray.awsfiles`` as much as by the state and the instance, so it sits beside
``paths``, below all of them; it imports nothing of roletray but the domain's errors.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from tray.domain.errors import UsageError
from tray.i18n import N_

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def atomic_write(path: Path, data: bytes | str, *, mode: int = PRIVATE_FILE_MODE,
                 prefix: str | None = None,
                 set_mode: Callable[[int], None] | None = None,
                 last_look: Callable[[], bool] | None = None) -> bool:
    """Replace ``path`` with ``data`` all at once (str is written as UTF-8).

    ``set_mode(fd)``: gives the temporary file its mode and owner instead of ``mode``.
    ``last_look()``: asked just before the rename; False leaves ``path`` as it is and
    returns False (a writer that ignores roletray's lock changed it meanwhile).
    ``OSError`` is raised as it is, and no temporary file is left behind.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.roletray-{os.getpid()}-",
                               suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            if set_mode is not None:
                set_mode(f.fileno())
            elif hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)  # mkstemp's 0600 may have met an odd umask
            os.fsync(f.fileno())
        if last_look is not None and not last_look():
            os.unlink(tmp)
            return False
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)
    return True


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (its entry on disk); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_dirs(folder: Path, mode: int = PRIVATE_FOLDER_MODE) -> None:
    """Create ``folder`` and its missing parents with ``mode`` each, whatever the umask.

    ``NotADirectoryError`` when something on the way is a file; other ``OSError`` s as
    they are."""
    missing: list[Path] = []
    p = folder
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        p = p.parent
    if p != folder and not p.is_dir():
        raise NotADirectoryError(20, "not a folder", str(p))
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(d, mode)  # a strict umask (0o277) would leave it unwritable to us


def private_dir(path: Path) -> Path:
    """``path``, created 0700 (with its missing parents), or tightened when it is ours;
    ``UsageError`` for a link, a non-folder, or one owned by someone else. Opened with
    O_NOFOLLOW: a symlink planted in a shared folder must not redirect a socket, a lock
    or a state file elsewhere."""
    try:
        make_dirs(path)
    except NotADirectoryError:
        raise UsageError(N_("{path}: something above it is a file, not a folder; refusing to use "
                            "it"),
                         path=path) from None
    except OSError as e:
        raise UsageError(N_("{path}: cannot create it ({reason})"),
                         path=path, reason=e.strerror or type(e).__name__) from None
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise UsageError(N_("{path} is a symbolic link or not a folder ({reason}); refusing to "
                            "use it"),
                         path=path, reason=e.strerror) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(N_("{path} is not a folder; refusing to use it"),
                             path=path)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise UsageError(N_("{path} belongs to another user; refusing to use it"),
                             path=path)
        if stat.S_IMODE(st.st_mode) & 0o077 and hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_FOLDER_MODE)
    finally:
        os.close(fd)
    return path


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock on byte 0 of ``fd`` without waiting; False: held."""
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]

else:
    import fcntl

    def try_lock(fd: int) -> bool:
        """Take the exclusive ``flock`` on ``fd`` without waiting; False: another open
        file holds it (the kernel drops it when its holder dies)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
