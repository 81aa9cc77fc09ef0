"""Persisted, non-secret state: which role each kept section holds, until when.

Stored as JSON in ``user_state_dir("roletray")/state.json``::

    {"version": 1, "active_role": "platform", "target": "roletray",
     "expiration": "2026-11-28T14:26:50Z",
     "identity_arn": "arn:aws:sts::111122223333:assumed-role/platform/roletray-1764340010",
     "updated_at": "2026-11-28T13:26:50Z",
     "files": {"config": "/home/u/.aws/config", "credentials": "/home/u/.aws/credentials"},
     "also_kept": [{"active_role": "platform2", "target": "second", ...}]}

The top level is the first kept section (the file an older roletray wrote, and can
still read); ``also_kept`` holds the others. Never a key, a token or an MFA code.

A section belongs to the AWS files it was written with (``files``: real paths, see
``Paths.aws_files``): one state folder serves a daemon on ``~/.aws/config`` and a
project's CLI with its own ``AWS_CONFIG_FILE``, and neither resumes, lists or clears
the other's sections. One entry per section: (credentials file, target); saving one
replaces what another config recorded there (the section holds the new keys now).
An entry without ``files`` (written before they were recorded) belongs to whoever
reads it, as it did, and gets the files of the next save. A broken file is an error naming the file and line; it is never
silently replaced (``roletray clear`` removes it).

Every change is a read-modify-write under an exclusive lock on ``.state.lock`` beside
the file (``filelock_lite``), so processes that write at once (two ``roletray assume
--target`` without an instance, a CLI beside the daemon) never drop each other's
sections.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tray import fsutil
from tray.awsfiles.filelock_lite import LockTimeout, acquire, release
from tray.domain.errors import StateError, UsageError
from tray.domain.models import iso_utc, parse_iso_utc
from tray.i18n import N_
from tray.paths import Paths

VERSION = 1

Files = tuple[str, str]  # (config, credentials), real paths: Paths.aws_files()


@dataclass(frozen=True)
class State:
    active_role: str
    target: str
    expiration: datetime | None = None
    identity_arn: str | None = None
    updated_at: datetime | None = None
    files: Files | None = None  # None: recorded before the files were (anyone's)

    def to_json(self) -> dict[str, object]:
        return {"version": VERSION, **self._entry()}

    def _entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "active_role": self.active_role,
            "target": self.target,
            "expiration": iso_utc(self.expiration) if self.expiration else None,
            "identity_arn": self.identity_arn,
            "updated_at": iso_utc(self.updated_at) if self.updated_at else None,
        }
        if self.files is not None:
            entry["files"] = {"config": self.files[0], "credentials": self.files[1]}
        return entry

    def belongs_to(self, files: Files) -> bool:
        """Whether this section was kept for ``files`` (or recorded before files were)."""
        return self.files is None or self.files == files

    def _holds(self, files: Files, target: str) -> bool:
        """Whether this entry is about the section ``target`` of ``files``' credentials
        file, whichever config recorded it."""
        return self.target == target and (self.files is None or self.files[1] == files[1])


# One writer at a time: each save reads the others' entries and writes them back, so two
# writers at once would lose one's section. The thread lock orders this process's writers
# (the refresher's sections, the control server's threads); the file lock orders processes
# (`roletray assume --target a` and `--target b` with no instance, a CLI and the daemon).
_write_lock = threading.Lock()
LOCK_NAME = ".state.lock"
LOCK_TIMEOUT = 10.0  # seconds; a read-modify-write holds it for a millisecond or so


@contextmanager
def _writing(paths: Paths) -> Iterator[None]:
    """Exclusive, across threads and processes, around a read-modify-write of the file."""
    folder = paths.state_file.parent
    with _write_lock:
        try:
            fsutil.private_dir(folder)
            fd = acquire(str(folder / LOCK_NAME), timeout=LOCK_TIMEOUT)
        except LockTimeout:
            raise StateError(N_("{path}: another roletray held the state lock for "
                                "{seconds:g} s; try again"),
                             path=paths.display(folder / LOCK_NAME), seconds=LOCK_TIMEOUT) from None
        except (OSError, UsageError) as e:
            raise _cannot_write(paths, e) from None
        try:
            yield
        finally:
            release(fd)


def load_state(paths: Paths) -> State | None:
    """The first kept section (what an older roletray called the active role)."""
    states = load_states(paths)
    return states[0] if states else None


def load_states(paths: Paths) -> list[State]:
    """Every section kept for ``paths``' AWS files, the first one first; one per target."""
    own = paths.aws_files()
    states: dict[str, State] = {}
    for state in _load_all(paths):
        if state.belongs_to(own):
            states.setdefault(state.target, state)
    return list(states.values())


def _load_all(paths: Paths) -> list[State]:
    """Every entry of the file, whatever AWS files it was kept for."""
    path = paths.state_file
    shown = paths.display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise StateError(N_("{path}: cannot read state: {error_type}"),
                         path=shown, error_type=e.__class__.__name__) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateError(N_("{path}, line {lineno}: not valid JSON ({reason}); run `roletray "
                            "clear` to start over"),
                         path=shown, lineno=e.lineno, reason=e.msg) from e
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateError(N_("{path}, line 1: not a roletray state file of version {version}"),
                         path=shown, version=VERSION)
    try:
        others = data.get("also_kept", [])
        if not isinstance(others, list):
            raise TypeError("also_kept must be a list")
        states: dict[tuple[Files | None, str], State] = {}
        for entry in [data, *others]:
            state = _parse_entry(entry)
            states.setdefault((state.files, state.target), state)
        return list(states.values())
    except (KeyError, TypeError, ValueError) as e:
        raise StateError(N_("{path}: field {error} is missing or malformed; run `roletray "
                            "clear` to start over"),
                         path=shown, error=e) from e


def _parse_entry(data: object) -> State:
    if not isinstance(data, dict):
        raise TypeError("each kept section must be an object")
    role = data["active_role"]
    target = data["target"]
    if not isinstance(role, str) or not isinstance(target, str):
        raise TypeError("active_role and target must be strings")
    exp = data.get("expiration")
    upd = data.get("updated_at")
    arn = data.get("identity_arn")
    files = data.get("files")
    if files is not None and not (isinstance(files, dict)
                                  and isinstance(files.get("config"), str)
                                  and isinstance(files.get("credentials"), str)):
        raise TypeError("files must hold the config and credentials paths")
    return State(
        active_role=role,
        target=target,
        expiration=parse_iso_utc(exp) if exp else None,
        identity_arn=arn if isinstance(arn, str) else None,
        updated_at=parse_iso_utc(upd) if upd else None,
        files=None if files is None else (files["config"], files["credentials"]),
    )


def save_state(state: State, paths: Paths) -> None:
    """Record ``state`` for its target in ``paths``' AWS files, keeping every other entry
    (in place: the first one stays first); it replaces what any config recorded for that
    section of the credentials file. A file that cannot be read is replaced, as it
    always was."""
    own = paths.aws_files()
    state = replace(state, files=own)
    with _writing(paths):
        try:
            states = _load_all(paths)
        except StateError:
            states = []
        kept: list[State] = []
        placed = False
        for s in states:
            if not s._holds(own, state.target):
                kept.append(s)
            elif not placed:
                kept.append(state)  # where the section's entry was
                placed = True
        if not placed:
            kept.append(state)
        _write(kept, paths)


def forget_state(paths: Paths, target: str) -> bool:
    """Stop recording ``target``; the file goes when nothing is left. False: not kept.
    Raises ``StateError`` for a file that cannot be read (``clear_state`` removes it)."""
    if not paths.state_file.parent.is_dir():
        return False  # nothing kept, and no folder to make for saying so
    own = paths.aws_files()
    with _writing(paths):
        states = _load_all(paths)
        left = [s for s in states if not s._holds(own, target)]
        if len(left) == len(states):
            return False
        if left:
            _write(left, paths)
        else:
            _remove(paths)
        return True


def _write(states: list[State], paths: Paths) -> None:
    """Atomic write, 0600 in a 0700 folder. ``StateError`` (one line) when it cannot."""
    doc = states[0].to_json()
    if len(states) > 1:
        doc["also_kept"] = [s._entry() for s in states[1:]]
    text = json.dumps(doc, indent=2) + "\n"
    try:
        write_private(paths.state_file, text)
    except (OSError, UsageError) as e:
        raise _cannot_write(paths, e) from None


def check_writable(paths: Paths) -> None:
    """Raise the ``StateError`` ``save_state`` would (a read-only or full folder), now,
    before anything else is changed: a state file about as large as a real one is
    written beside it and removed. Not made durable (no fsync, no rename): it is gone
    at once, and a switch would wait for the disk twice for nothing."""
    probe = paths.state_file.with_name(".probe-state.json")
    try:
        fsutil.private_dir(probe.parent)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | getattr(os, "O_NOFOLLOW", 0), fsutil.PRIVATE_FILE_MODE)
        try:
            os.write(fd, b" " * 1024 + b"\n")
        finally:
            os.close(fd)
        probe.unlink()
    except (OSError, UsageError) as e:
        raise _cannot_write(paths, e) from None


def _cannot_write(paths: Paths, e: OSError | UsageError) -> StateError:
    folder = paths.state_file.parent
    if isinstance(e, UsageError):  # the folder refused (a link, another user's): why
        why = str(e).replace(str(folder), "the folder").removesuffix("; refusing to use it")
        return StateError(N_("{path}: cannot write roletray's state there ({why})"),
                          path=paths.display(folder), why=why)
    why = e.strerror or type(e).__name__
    return StateError(N_("{path}: cannot write roletray's state there ({why})"),
                      path=paths.display(paths.state_file.parent), why=why)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, 0600, in a private folder (created)."""
    fsutil.private_dir(path.parent)
    fsutil.atomic_write(path, text, prefix=".state-")


def clear_state(paths: Paths) -> bool:
    """Remove the state file, readable or not (``roletray clear`` is the way out of a
    corrupt one). Only that one file (and the lock beside it stays): never the folder or
    anything else in it."""
    if not paths.state_file.parent.is_dir():
        return False
    with _writing(paths):
        return _remove(paths)


def _remove(paths: Paths) -> bool:
    try:
        paths.state_file.unlink()
        return True
    except FileNotFoundError:
        return False
