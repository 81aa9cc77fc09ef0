"""The token of ``roletray serve``, at a path that lives only as long as the process.

The SDKs read ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` on every refresh and send what
it holds to the endpoint's port. Were the file left behind by a stop that runs no
cleanup (``kill -9``, a crash, a power cut of the session), a local user who binds the
freed port would be sent the token, and the user's SDKs would accept that user's keys.

On Linux the token is in a memfd, an anonymous file in memory that this process holds
open, and the SDKs are pointed at ``/proc/PID/fd/N``: opening that path reopens the
memfd (botocore, the aws CLI and the JS SDK just ``open`` and read the path; no
special support is needed), only processes of the user may open it (the kernel's own
check on ``/proc/PID/fd``), and it is gone the moment the process ends, however it
ends: there is nothing to remove. The memfd is mode 0600 and sealed (no write, no
resize), and not inherited by child processes.

Elsewhere (or when ``/proc`` cannot be read back) it is a 0600 file in the private
runtime folder, removed on the way out; files of that kind left by a process that no
longer runs are removed when the next one starts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from tray import fsutil

_PREFIX, _SUFFIX = "serve-", ".token"


class TokenFile:
    """``path`` holds ``token`` while this process runs; ``close()`` ends it at once."""

    def __init__(self, path: Path, token: str, *, fd: int | None = None) -> None:
        self.path = path
        self.token = token
        self._fd = fd  # the memfd; None: a file to remove

    @property
    def in_memory(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        else:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def publish(folder: Path) -> TokenFile:
    """A new random token where the SDKs can read it while this process lives."""
    token = secrets.token_urlsafe(32)
    if folder.is_dir():
        remove_stale(folder)
    made = _in_memory(token)
    return made if made is not None else _in_folder(folder, token)


def _in_memory(token: str) -> TokenFile | None:
    if not hasattr(os, "memfd_create"):
        return None
    try:
        fd = os.memfd_create("roletray-serve-token",
                             os.MFD_CLOEXEC | getattr(os, "MFD_ALLOW_SEALING", 0))
    except OSError:
        return None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, token.encode("ascii"))
        _seal(fd)
        path = Path(f"/proc/{os.getpid()}/fd/{fd}")
        with open(path, encoding="ascii") as f:  # as an SDK will: it must work here
            if f.read() != token:
                raise OSError("the memfd reads back otherwise")
    except OSError:
        os.close(fd)
        return None
    return TokenFile(path, token, fd=fd)


def _seal(fd: int) -> None:
    import fcntl

    seals = sum(getattr(fcntl, name, 0) for name in
                ("F_SEAL_SHRINK", "F_SEAL_GROW", "F_SEAL_WRITE", "F_SEAL_SEAL"))
    add = getattr(fcntl, "F_ADD_SEALS", None)
    if add is not None and seals:
        with contextlib.suppress(OSError):  # a kernel without seals: 0600 still holds
            fcntl.fcntl(fd, add, seals)


def _in_folder(folder: Path, token: str) -> TokenFile:
    fsutil.private_dir(folder)
    path = folder / f"{_PREFIX}{os.getpid()}{_SUFFIX}"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token)
    return TokenFile(path, token)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the token files of ``roletray serve`` processes that no longer run."""
    removed = []
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
            pid = path.name[len(_PREFIX):-len(_SUFFIX)]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's: not ours to judge
    return True
