"""The ``credential_process`` line that hands a keyring-held source to the AWS tools.

``roletray keys import SOURCE`` writes, in the config profile SOURCE::

    credential_process = roletray credential-process --source SOURCE --file-id=FILE_ID

(the program is the absolute path of this installation's entry point when ``roletray``
on PATH is not it). FILE_ID names the credentials file the keys were imported from
(``tray.keys_index.file_id``: 12 hex digits of the SHA-256 of its real path): the
keyring holds one item per (credentials file, source), and the line says which one,
whatever the caller's environment. A line without ``--file-id`` is the one roletray
wrote before keys were kept per file; it means "the caller's credentials file"
(``tray.keys_legacy``).

The doctor, ``keys list``/``export`` and the session builder recognise the line with
``is_roletray_source_line`` (the source) and ``parse_source_line`` (the source and the
file id); ``keys export`` removes only a line it recognises. Pure: no I/O, no
environment.

The words are split as botocore splits a ``credential_process`` value on POSIX
(``shlex.split``), so a source name with a space is quoted and read back alike.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

PROGRAM = ("roletray",)
COMMAND = "credential-process"
SOURCE_FLAG = "--source"
FILE_FLAG = "--file-id"
FILE_ID_RE = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True)
class SourceLine:
    """What roletray's line names: the source, and the credentials file its keys came
    from (None: a line written before keys were kept per file)."""

    source: str
    file_id: str | None


def source_line(source: str, program: Sequence[str] = PROGRAM,
                file_id: str | None = None) -> str:
    """The config value for SOURCE: ``roletray credential-process --source SOURCE
    --file-id=FILE_ID``. The id is one word (``--file-id=``), so a roletray from before
    it still reads the line as its own.

    >>> source_line("default", file_id="0123456789ab")
    'roletray credential-process --source default --file-id=0123456789ab'
    >>> source_line("my keys", ["/opt/rt/bin/roletray"])
    "/opt/rt/bin/roletray credential-process --source 'my keys'"
    """
    if not source or not program:
        raise ValueError("a source name and a program are required")
    if file_id is not None and not FILE_ID_RE.fullmatch(file_id):
        raise ValueError(f"not a credentials file id: {file_id!r}")
    words = [*program, COMMAND, SOURCE_FLAG, source]
    return shlex.join(words + ([f"{FILE_FLAG}={file_id}"] if file_id else []))


def is_roletray_source_line(value: str | None) -> str | None:
    """SOURCE when ``value`` is a line ``source_line`` writes (any program path,
    ``<python> -m tray``, extra ``--flags`` such as ``--no-session``), else None.

    >>> is_roletray_source_line("roletray credential-process --source default")
    'default'
    >>> is_roletray_source_line("/usr/bin/roletray credential-process --source=ci --no-session")
    'ci'
    >>> is_roletray_source_line("roletray credential-process platform") is None
    True
    """
    parsed = parse_source_line(value)
    return parsed.source if parsed is not None else None


def parse_source_line(value: str | None) -> SourceLine | None:
    """The source and file id of roletray's line (see ``is_roletray_source_line``);
    None when ``value`` is not one, or names a file id that is not 12 hex digits.

    >>> parse_source_line("roletray credential-process --source ci --file-id=0123456789ab")
    SourceLine(source='ci', file_id='0123456789ab')
    >>> parse_source_line("roletray credential-process --source ci")
    SourceLine(source='ci', file_id=None)
    """
    if not value:
        return None
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    rest = _after_program(words)
    if rest is None or not rest or rest[0] != COMMAND:
        return None
    source: str | None = None
    file_id: str | None = None
    args = iter(rest[1:])
    for word in args:
        if word in (SOURCE_FLAG, FILE_FLAG):
            flag, found = word, next(args, None)
        elif word.startswith((SOURCE_FLAG + "=", FILE_FLAG + "=")):
            flag, found = word.split("=", 1)
        elif word.startswith("--") and len(word) > 2:
            continue  # another option of the command (--no-session, ...)
        else:
            return None  # a positional word: the role-profile form, or not ours
        if flag == FILE_FLAG:
            if file_id is not None or found is None or not FILE_ID_RE.fullmatch(found):
                return None
            file_id = found
            continue
        if source is not None or not found or found.startswith("-"):
            return None
        source = found
    return SourceLine(source, file_id) if source is not None else None


def _after_program(words: list[str]) -> list[str] | None:
    """The words after roletray's program (``roletray``, a path to it, or
    ``<python> -m tray``), or None when the line starts with another program."""
    if not words:
        return None
    if _stem(words[0]) == "roletray":
        return words[1:]
    if _stem(words[0]).startswith("python") and words[1:3] == ["-m", "tray"]:
        return words[3:]
    return None


def _stem(path: str) -> str:
    name = PurePath(path).name
    return name[:-4] if name.lower().endswith(".exe") else name
