"""The credential_process line of a keyring-held source: built, and recognised."""

from __future__ import annotations

import botocore.compat
import pytest

from tray.domain.source_line import is_roletray_source_line, source_line


@pytest.mark.parametrize("source, program", [
    ("default", ["roletray"]),
    ("ci", ["/home/ann/.local/bin/roletray"]),
    ("my keys", ["/opt/road trip/bin/roletray"]),
    ("o'brien", ["roletray"]),
    ("prod", ["/usr/bin/python3.12", "-m", "tray"]),
])
def test_the_line_reads_back_as_its_source(source: str, program: list[str]) -> None:
    line = source_line(source, program)
    assert is_roletray_source_line(line) == source
    # botocore splits the value so: the words it runs are the ones meant.
    assert botocore.compat.compat_shell_split(line, "linux") == \
        [*program, "credential-process", "--source", source]


def test_the_default_program_is_roletray_on_path() -> None:
    assert source_line("default") == "roletray credential-process --source default"


@pytest.mark.parametrize("value, expected", [
    ("roletray credential-process --source default", "default"),
    ("  roletray credential-process --source default  ", "default"),
    ("roletray credential-process --source=default", "default"),
    ("roletray credential-process --no-session --source ci", "ci"),
    ("roletray credential-process --source ci --no-session", "ci"),
    ("/usr/local/bin/roletray credential-process --source ci", "ci"),
    ("python3 -m tray credential-process --source ci", "ci"),
    # not ours, or not the source form
    ("roletray credential-process platform", None),
    ("roletray credential-process --source", None),
    ("roletray credential-process --source --no-session", None),
    ("roletray credential-process --source a --source b", None),
    ("roletray credential-process --source a extra", None),
    ("roletray status --source a", None),
    ("aws-vault exec ci --json", None),
    ("roletrayx credential-process --source a", None),
    ("python3 -m other credential-process --source a", None),
    ("roletray credential-process --source 'unclosed", None),
    ("", None),
    (None, None),
])
def test_recognise(value: str | None, expected: str | None) -> None:
    assert is_roletray_source_line(value) == expected


def test_no_line_without_a_source() -> None:
    with pytest.raises(ValueError):
        source_line("")
