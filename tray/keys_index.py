"""Which sources' keys roletray put into the OS keyring: a non-secret index.

The keyring has no "list my items" call that every backend offers, so
``roletray keys import`` records each source here and ``keys list`` confirms each
entry against the keyring. Stored as JSON in the state folder (0600, atomic)::

    {"version": 1, "sources": {"default": {"key": "****************HQEK",
                                           "imported_at": "2026-11-28T13:26:50Z"}}}

Only the masked key id and a time: never a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tray.domain.errors import StateError
from tray.domain.models import iso_utc, parse_iso_utc
from tray.paths import Paths
from tray.state import write_private

VERSION = 1
FILE_NAME = "keys.json"


@dataclass(frozen=True)
class Entry:
    source: str
    masked_key: str
    imported_at: datetime


def index_path(paths: Paths) -> Path:
    return paths.state_dir / FILE_NAME


def load(paths: Paths) -> dict[str, Entry]:
    """The index by source name; {} when there is none. A damaged file is a
    ``StateError`` naming it (``keys list`` never guesses)."""
    path = index_path(paths)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise _damaged(paths, getattr(e, "strerror", None) or type(e).__name__) from None
    try:
        doc = json.loads(text)
        sources = doc["sources"] if doc.get("version") == VERSION else None
        if not isinstance(sources, dict):
            raise TypeError("no sources")
        return {name: Entry(name, str(v["key"]), parse_iso_utc(str(v["imported_at"])))
                for name, v in sources.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise _damaged(paths, f"not a roletray keys index: {type(e).__name__}") from None


def record(entry: Entry, paths: Paths) -> None:
    entries = load(paths)
    entries[entry.source] = entry
    _save(entries, paths)


def forget(source: str, paths: Paths) -> bool:
    entries = load(paths)
    if entries.pop(source, None) is None:
        return False
    _save(entries, paths)
    return True


def _save(entries: dict[str, Entry], paths: Paths) -> None:
    doc = {"version": VERSION, "sources": {
        e.source: {"key": e.masked_key, "imported_at": iso_utc(e.imported_at)}
        for e in sorted(entries.values(), key=lambda e: e.source)}}
    try:
        write_private(index_path(paths), json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise StateError(f"{paths.display(index_path(paths))}: cannot write it "
                         f"({e.strerror or type(e).__name__})") from None


def _damaged(paths: Paths, why: str) -> StateError:
    return StateError(f"{paths.display(index_path(paths))}: cannot read roletray's keys "
                      f"index ({why}); remove the file and run `roletray keys import` again "
                      "for each source")
