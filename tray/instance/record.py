"""Where a credentials file's keeper record lies and what it says, on ``os`` and ``stat``
alone (``hashlib`` only for the fallback folder's file name, when it is needed).

``tray.instance.keeper`` (the instance that holds the record, and the full command
line's ``tray.instance.control.send``) and the lean ``credential-process`` and
``prompt`` paths (``tray.serve.fastpath``) all read records through this module, so
they find the same record and trust exactly the same ones: a regular file of the
user's own, naming a live process. The rules are the keeper module's docstring.
"""

import os
import stat
from collections.abc import Callable  # loaded with socket anyway

SUFFIX = ".roletray.instance"
MAX_RECORD = 4096


def real_path(credentials: "str | os.PathLike[str]") -> str:
    """As ``tray.keys_index.real_path``: absolute, links resolved."""
    return os.path.realpath(os.path.abspath(credentials))


def file_id(credentials: "str | os.PathLike[str]") -> str:
    """As ``tray.keys_index.file_id``: 12 hex digits of the SHA-256 of the real path."""
    import hashlib

    return hashlib.sha256(os.fsencode(real_path(credentials))).hexdigest()[:12]


def fallback_dir() -> str:
    """roletray's state folder under the passwd entry's home: one per user, whatever
    ``HOME`` and ``XDG_STATE_HOME`` say."""
    home = None
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, OSError):
        pass
    return os.path.join(home or os.path.expanduser("~"), ".local", "state", "roletray",
                        "keepers")


def writable_own(folder: str) -> bool:
    """A folder of the user's own that the user may write: another user's folder (even a
    writable one) would let that user read or plant records."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    own = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and own and os.access(folder, os.W_OK | os.X_OK)


def record_path(credentials: "str | os.PathLike[str]", *, create: bool = False,
                fallback: "Callable[[], str | os.PathLike[str]] | None" = None) -> str:
    """Where the keeper record of ``credentials`` is: ``.NAME.roletray.instance`` beside
    the real file when its folder is the user's own to write, else
    ``FALLBACK/FILE_ID.roletray.instance``. ``create``: make the credentials file's
    folder first, as its first write would. ``fallback``: a callable giving the fallback
    folder (``fallback_dir``'s by default)."""
    real = real_path(credentials)
    folder, name = os.path.split(real)
    if create:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError:
            pass
    if writable_own(folder):
        return os.path.join(folder, f".{name}{SUFFIX}")
    base = fallback() if fallback is not None else fallback_dir()
    return os.path.join(os.fspath(base), f"{file_id(real)}{SUFFIX}")


def read(credentials: "str | os.PathLike[str]", *,
         fallback: "Callable[[], str | os.PathLike[str]] | None" = None
         ) -> "tuple[int, str] | None":
    """(pid, socket path) of the keeper of ``credentials`` when its record is a regular
    file of the user's own (not followed through a link) naming a live process of the
    user's and an absolute socket path; None otherwise. The socket itself is checked by
    whoever connects to it."""
    try:
        path = record_path(credentials, fallback=fallback)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return None
        text = os.read(fd, MAX_RECORD).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit() or not os.path.isabs(lines[1]):
        return None
    pid = int(lines[0])
    return (pid, lines[1]) if alive(pid) else None


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
