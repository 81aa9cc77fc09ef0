"""Which sources' keys roletray put into the OS keyring: a non-secret index.

The keyring has no "list my items" call that every backend offers, so
``roletray keys import`` records each source here and ``keys list`` confirms each
entry against the keyring. Keys are kept per credentials file: two files that both
have a ``[default]`` are two sources. A file is named by its id (``file_id``: the
first 12 hex digits of the SHA-256 of its real path, symbolic links resolved), and
the index records the path each id was made from, so a clash of two paths on one id
is seen and refused. Stored as JSON in the state folder (0600, atomic)::

    {"version": 2,
     "files": {"3f2a9c1b7d4e": {"path": "/home/ann/.aws/credentials",
                                "sources": {"default": {"key": "****************HQEK",
                                                        "imported_at": "2026-11-28T13:26:50Z"}}}},
     "legacy": {}}

``legacy`` holds the entries of a version 1 index (roletray before keys were kept per
file: ``{"version": 1, "sources": {...}}``, read as it is) until each is claimed by
its credentials file (``tray.keys_legacy``).

Only the masked key id, a time and a path: never a key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tray.domain.errors import StateError
from tray.domain.models import iso_utc, parse_iso_utc
from tray.i18n import N_
from tray.paths import Paths
from tray.state import write_private

VERSION = 2
LEGACY_VERSION = 1
FILE_NAME = "keys.json"


def real_path(path: Path) -> str:
    """The credentials file's path as its id is made from: absolute, links resolved
    (the file need not exist)."""
    return os.path.realpath(os.path.abspath(path))


def file_id(path: Path) -> str:
    """The credentials file's id: 12 hex digits of the SHA-256 of ``real_path``.

    The same file reached through a symbolic link, or as ``~/.aws/credentials`` and
    as an absolute path, has one id; another file has another.
    """
    import hashlib  # here: it maps OpenSSL, which an idle tray need not hold

    return hashlib.sha256(os.fsencode(real_path(path))).hexdigest()[:12]


@dataclass(frozen=True)
class Entry:
    source: str
    masked_key: str
    imported_at: datetime
    file_id: str | None = None  # None: a version 1 entry, not claimed by a file yet
    file_path: str | None = None  # the real path the id was made from


Key = tuple[str | None, str]  # (file_id, source)


def index_path(paths: Paths) -> Path:
    return paths.state_dir / FILE_NAME


def load(paths: Paths) -> dict[Key, Entry]:
    """The index by (file id, source); {} when there is none. Entries of a version 1
    index have the file id None. A damaged file is a ``StateError`` naming it
    (``keys list`` never guesses)."""
    path = index_path(paths)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise _damaged(paths, getattr(e, "strerror", None) or type(e).__name__) from None
    try:
        doc = json.loads(text)
        if doc.get("version") == LEGACY_VERSION:
            return _entries(doc["sources"], None, None)
        if doc.get("version") != VERSION:
            raise TypeError("version")
        found = _entries(doc["legacy"], None, None)
        files = doc["files"]
        if not isinstance(files, dict):
            raise TypeError("no files")
        for fid, one in files.items():
            if not isinstance(fid, str) or not isinstance(one["path"], str):
                raise TypeError("file")
            found.update(_entries(one["sources"], fid, one["path"]))
        return found
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise _damaged(paths, f"not a roletray keys index: {type(e).__name__}") from None


def _entries(sources: Any, fid: str | None, path: str | None) -> dict[Key, Entry]:
    if not isinstance(sources, dict):
        raise TypeError("no sources")
    return {(fid, name): Entry(name, str(v["key"]), parse_iso_utc(str(v["imported_at"])),
                               fid, path)
            for name, v in sources.items()}


def path_of(file_id: str, paths: Paths) -> str | None:
    """The real path recorded for ``file_id``, if any entry has it."""
    for entry in load(paths).values():
        if entry.file_id == file_id:
            return entry.file_path
    return None


def record(entry: Entry, paths: Paths) -> None:
    entries = load(paths)
    entries[(entry.file_id, entry.source)] = entry
    _save(entries, paths)


def forget(source: str, file_id: str | None, paths: Paths) -> bool:
    """Forget the entry of (``file_id``, ``source``); None: the version 1 entry."""
    entries = load(paths)
    if entries.pop((file_id, source), None) is None:
        return False
    _save(entries, paths)
    return True


def _save(entries: dict[Key, Entry], paths: Paths) -> None:
    files: dict[str, dict[str, Any]] = {}
    legacy: dict[str, Any] = {}
    for e in sorted(entries.values(), key=lambda e: (e.file_id or "", e.source)):
        value = {"key": e.masked_key, "imported_at": iso_utc(e.imported_at)}
        if e.file_id is None:
            legacy[e.source] = value
        else:
            one = files.setdefault(e.file_id, {"path": e.file_path or "", "sources": {}})
            one["sources"][e.source] = value
    doc = {"version": VERSION, "files": files, "legacy": legacy}
    try:
        write_private(index_path(paths), json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise StateError(N_("{path}: cannot write it ({reason})"),
                         path=paths.display(index_path(paths)),
                         reason=e.strerror or type(e).__name__) from None


def _damaged(paths: Paths, why: str) -> StateError:
    return StateError(N_("{path}: cannot read roletray's keys index ({why}); remove the file and "
                         "run `roletray keys import` again for each source"),
                      path=paths.display(index_path(paths)), why=why)
