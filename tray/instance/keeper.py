"""One keeper per credentials file, whatever the XDG variables say.

The state folder's ``instance.lock`` keeps one instance per state folder; two instances
started with different ``XDG_STATE_HOME`` values would both keep the same credentials
file and rewrite its ``[roletray]`` by turns. So an instance also holds the *keeper
record* of its credentials file, found from the file's real path alone:

- ``.NAME.roletray.instance`` beside the real file (as its write lock
  ``.NAME.roletray.lock``), when that folder is the user's to write;
- else ``keepers/FILE_ID.instance`` in roletray's state folder under the home folder of
  the user's passwd entry (never the XDG variables): a read-only ``~/.aws``, or a file
  in a folder of another user. ``FILE_ID`` is ``tray.keys_index.file_id``'s.

The instance holds an exclusive ``flock`` on the record for its life and writes into it
its pid and its control socket's path (before it binds). A second instance for the same
file is refused naming that pid; a CLI whose runtime folder is another one reads the
socket's path there and hands over to that instance; a CLI that finds the record of a
live instance but no socket yet (it is starting) waits for it briefly
(``tray.instance.control.send``). A record is trusted only when it is a regular file of
the user's own: the socket it names is checked again before anything is sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tray.instance.lock import InstanceLock

SUFFIX = ".roletray.instance"


@dataclass(frozen=True)
class Keeper:
    pid: int
    socket: Path


def real_path(credentials: Path) -> str:
    """As ``tray.keys_index.real_path``: absolute, links resolved."""
    return os.path.realpath(os.path.abspath(credentials))


def file_id(credentials: Path) -> str:
    """As ``tray.keys_index.file_id``: 12 hex digits of the SHA-256 of the real path."""
    return hashlib.sha256(os.fsencode(real_path(credentials))).hexdigest()[:12]


def record_path(credentials: Path, *, create: bool = False) -> Path:
    """Where the keeper record of ``credentials`` is (see the module's docstring).
    ``create``: make the credentials file's folder first, as its first write would."""
    real = Path(real_path(credentials))
    folder = real.parent
    if create:
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _writable_own(folder):
        return folder / f".{real.name}{SUFFIX}"
    return fallback_dir() / f"{file_id(credentials)}{SUFFIX}"


def fallback_dir() -> Path:
    """roletray's state folder under the passwd entry's home: one per user, whatever
    ``HOME`` and ``XDG_STATE_HOME`` say."""
    home = None
    with contextlib.suppress(ImportError, KeyError, OSError):
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return Path(home or os.path.expanduser("~")) / ".local" / "state" / "roletray" / "keepers"


def _writable_own(folder: Path) -> bool:
    """A folder of the user's own that the user may write: another user's folder (even a
    writable one) would let that user read or plant records."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    own = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and own and os.access(folder, os.W_OK | os.X_OK)


def acquire(credentials: Path, socket: Path) -> InstanceLock:
    """Hold the keeper record of ``credentials``, naming ``socket``; raises
    ``InstanceRunningError`` (naming the keeper's pid) when another instance keeps it."""
    path = record_path(credentials, create=True)
    beside = path.parent == Path(real_path(credentials)).parent
    return InstanceLock(path, extra=str(socket), what=f"it keeps {credentials}",
                        private_folder=not beside).acquire()


def read(credentials: Path) -> Keeper | None:
    """The keeper of ``credentials`` when its record names a live process of the user's;
    None when there is none (or none that can be trusted)."""
    try:
        path = record_path(credentials)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return None
        text = os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit() or not os.path.isabs(lines[1]):
        return None
    pid = int(lines[0])
    return Keeper(pid, Path(lines[1])) if alive(pid) else None


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
