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

from dataclasses import dataclass
from pathlib import Path

from tray.domain.text import Text
from tray.i18n import N_
from tray.instance import record
from tray.instance.lock import InstanceLock

SUFFIX = record.SUFFIX


@dataclass(frozen=True)
class Keeper:
    pid: int
    socket: Path


def real_path(credentials: Path) -> str:
    """As ``tray.keys_index.real_path``: absolute, links resolved."""
    return record.real_path(credentials)


def file_id(credentials: Path) -> str:
    """As ``tray.keys_index.file_id``: 12 hex digits of the SHA-256 of the real path."""
    return record.file_id(credentials)


def record_path(credentials: Path, *, create: bool = False) -> Path:
    """Where the keeper record of ``credentials`` is (see the module's docstring;
    ``tray.instance.record`` finds it, for the lean paths too). ``create``: make the
    credentials file's folder first, as its first write would."""
    return Path(record.record_path(credentials, create=create, fallback=fallback_dir))


def fallback_dir() -> Path:
    """roletray's state folder under the passwd entry's home: one per user, whatever
    ``HOME`` and ``XDG_STATE_HOME`` say."""
    return Path(record.fallback_dir())


def acquire(credentials: Path, socket: Path) -> InstanceLock:
    """Hold the keeper record of ``credentials``, naming ``socket``; raises
    ``InstanceRunningError`` (naming the keeper's pid) when another instance keeps it."""
    path = record_path(credentials, create=True)
    beside = path.parent == Path(real_path(credentials)).parent
    return InstanceLock(path, extra=str(socket), what=Text(N_("it keeps {credentials}"), credentials=credentials),
                        private_folder=not beside).acquire()


def read(credentials: Path) -> Keeper | None:
    """The keeper of ``credentials`` when its record names a live process of the user's;
    None when there is none (or none that can be trusted)."""
    found = record.read(credentials, fallback=fallback_dir)
    return None if found is None else Keeper(found[0], Path(found[1]))
