"""The ``credential_process`` line that hands a keyring-held source to the AWS tools.

``roletray keys import SOURCE`` writes, in the config profile SOURCE::

    credential_process = roletray credential-process --source SOURCE

(the program is the absolute path of this installation's entry point when ``roletray``
on PATH is not it). The doctor, ``keys list``/``export`` and the session builder
recognise the line with ``is_roletray_source_line``; ``keys export`` removes only a
line it recognises. Pure: no I/O, no environment.

The words are split as botocore splits a ``credential_process`` value on POSIX
(``shlex.split``), so a source name with a space is quoted and read back alike.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import PurePath

PROGRAM = ("roletray",)
COMMAND = "credential-process"
SOURCE_FLAG = "--source"


def source_line(source: str, program: Sequence[str] = PROGRAM) -> str:
    """The config value for SOURCE: ``roletray credential-process --source SOURCE``.

    >>> source_line("default")
    'roletray credential-process --source default'
    >>> source_line("my keys", ["/opt/rt/bin/roletray"])
    "/opt/rt/bin/roletray credential-process --source 'my keys'"
    """
    if not source or not program:
        raise ValueError("a source name and a program are required")
    return shlex.join([*program, COMMAND, SOURCE_FLAG, source])


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
    args = iter(rest[1:])
    for word in args:
        if word == SOURCE_FLAG:
            found = next(args, None)
        elif word.startswith(SOURCE_FLAG + "="):
            found = word[len(SOURCE_FLAG) + 1:]
        elif word.startswith("--") and len(word) > 2:
            continue  # another option of the command (--no-session, ...)
        else:
            return None  # a positional word: the role-profile form, or not ours
        if source is not None or not found or found.startswith("-"):
            return None
        source = found
    return source


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
