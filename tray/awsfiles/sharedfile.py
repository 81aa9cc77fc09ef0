"""Reading and replacing a file that other programs also write, without roletray's lock.

roletray's own processes take the lock beside the file (``filelock_lite``); other
tools do not. The aws CLI's writer, for one, truncates the file and then writes
it again, so a read can land in between and see an empty or partial file. This
module gives the two halves a careful writer needs and leaves the judgement of
the content (does it parse, did sections vanish) to the caller:

- ``read_once``: the bytes of a regular file of bounded size, read without
  blocking (a FIFO or a device is refused, not read), and whether the read
  looks torn (fewer bytes than ``fstat`` said, or the file changed meanwhile);
- ``Patience``: how long and how often to re-read a file that looks mid-write,
  with an injectable clock and sleep;
- ``replace``: write a temporary file beside it, fsync, check once more that the
  file still holds exactly the bytes the edit was made from, rename, fsync the
  folder.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tray import fsutil
from tray.domain.errors import CredentialsFileError
from tray.i18n import N_

MAX_SIZE = 4 * 1024 * 1024  # bytes; real credentials files are a few KiB
NEW_FILE_MODE = 0o600

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


@dataclass(frozen=True)
class Fingerprint:
    """What ``stat`` says about a file: equal fingerprints mean "unchanged", cheaply.

    Any rename (a new inode), truncation or write changes one of these fields
    (mtime and ctime have nanosecond resolution where the file system does).
    """

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Fingerprint:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def fingerprint(real: Path) -> Fingerprint | None:
    """The file's fingerprint; None when it does not exist (or cannot be stat'ed)."""
    try:
        return Fingerprint.of(os.stat(real))
    except OSError:
        return None


@dataclass(frozen=True)
class Snapshot:
    """One read: the bytes, the fingerprint after reading (None: no file), and whether
    the read looked torn (a writer was busy with the file while it was read)."""

    data: bytes
    st: os.stat_result | None
    torn: bool = False

    @property
    def fp(self) -> Fingerprint | None:
        return None if self.st is None else Fingerprint.of(self.st)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(shown: str, mode: int) -> CredentialsFileError:
    return CredentialsFileError(N_("{path}: is {kind}, not a regular file; roletray reads and "
                                   "writes only regular files"),
                                path=shown, kind=_kind(mode))


def _too_large(shown: str) -> CredentialsFileError:
    return CredentialsFileError(N_("{path}: larger than {value} MiB; that is not an AWS "
                                   "credentials or config file roletray will read"),
                                path=shown, value=MAX_SIZE // (1024 * 1024))


def check_regular(real: Path, shown: str) -> None:
    """Refuse (before taking any lock) what ``read_once`` would refuse by its stat alone."""
    try:
        st = os.stat(real)
    except OSError:
        return  # missing, or unreadable: the read says so in its own words
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(shown, st.st_mode)
    if st.st_size > MAX_SIZE:
        raise _too_large(shown)


def read_once(real: Path, shown: str) -> Snapshot:
    """Read ``real`` whole, never blocking and never more than ``MAX_SIZE`` bytes.

    Raises ``CredentialsFileError`` (naming ``shown``) for what is not a regular
    file, a file over the cap, or one that cannot be read.
    """
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        return Snapshot(b"", None)
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket, or a FIFO on some systems
            with suppress(OSError):
                raise _not_regular(shown, os.stat(real).st_mode) from None
        raise CredentialsFileError(N_("{path}: cannot read it ({reason})"),
                                   path=shown, reason=e.strerror) from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise _not_regular(shown, before.st_mode)
        if before.st_size > MAX_SIZE:
            raise _too_large(shown)
        chunks = []
        total = 0
        while total <= MAX_SIZE:  # the file may grow while it is read
            chunk = os.read(fd, max(before.st_size - total, 0) + 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_SIZE:
            raise _too_large(shown)
        after = os.fstat(fd)
    except OSError as e:
        raise CredentialsFileError(N_("{path}: cannot read it ({reason})"),
                                   path=shown, reason=e.strerror) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    torn = len(data) != after.st_size or Fingerprint.of(before) != Fingerprint.of(after)
    return Snapshot(data, after, torn)


@dataclass(frozen=True)
class Patience:
    """How to wait for a file that another program may be in the middle of writing.

    A read that looks suspect (torn, empty, unparsable) is trusted only once the
    file has been quiet for ``quiet`` seconds: its mtime is that old, or it read
    the same for that long. (A read missing sections an earlier read had is never
    trusted.) After ``deadline`` seconds of a file that will not settle, the
    caller refuses.
    """

    quiet: float = 0.5
    step: float = 0.005  # seconds between re-reads
    deadline: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # to compare with file mtimes


class Settler:
    """Tracks successive reads of one file for one operation: is it quiet, is time up?"""

    def __init__(self, patience: Patience) -> None:
        self.patience = patience
        self.start = patience.monotonic()
        self._last: Snapshot | None = None
        self._same_since = self.start

    def observe(self, snap: Snapshot) -> bool:
        """Record a read; True when the file counts as quiet (not being written now)."""
        p = self.patience
        now = p.monotonic()
        last = self._last
        if last is None or last.fp != snap.fp or last.data != snap.data or snap.torn:
            self._same_since = now
        self._last = snap
        if snap.torn:
            return False
        if snap.fp is not None and p.wall() - snap.fp.mtime_ns / 1e9 >= p.quiet:
            return True
        return last is not None and now - self._same_since >= p.quiet

    def expired(self) -> bool:
        p = self.patience
        return p.monotonic() - self.start >= p.deadline

    def wait(self) -> None:
        self.patience.sleep(self.patience.step)


def replace(real: Path, data: bytes, base: Snapshot, shown: str) -> bool:
    """Replace ``real`` with ``data`` all at once; False (nothing written) when the file
    no longer holds exactly ``base``'s bytes by the time of the rename.
    """
    def unchanged() -> bool:
        # The last look compares the bytes, which is what the edit was made from: stat
        # could miss a truncate-and-write within one mtime tick, and would flag a
        # writer that rewrote the same bytes (harmless: nothing of its would be lost).
        now = read_once(real, shown)
        return not now.torn and now.data == base.data

    try:
        return fsutil.atomic_write(real, data, set_mode=lambda fd: _copy_owner_and_mode(fd, base.st),
                                   last_look=unchanged)
    except OSError as e:
        raise CredentialsFileError(N_("{path}: cannot write it ({reason})"),
                                   path=shown, reason=e.strerror) from None


def _copy_owner_and_mode(fd: int, st: os.stat_result | None) -> None:
    """Give the new file the old one's mode (and owner, as far as allowed); else 0600."""
    if not hasattr(os, "fchmod"):  # Windows: modes are not ours to keep
        return
    if st is None:
        os.fchmod(fd, NEW_FILE_MODE)  # mkstemp's 0600 may have met an odd umask
        return
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        with suppress(OSError):  # best effort: only root may give a file away
            os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
