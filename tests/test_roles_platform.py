"""The role service's ask-and-retry flow, and opening a path without leaving a zombie."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from xsession import wait_for

from tray.domain.errors import MfaRequiredError
from tray.engine.roles import Done, ask_and_retry
from tray.platform import desktop_open


def flow(needs: list[bool], answers: list[str | None], *, ask_first: bool
         ) -> tuple[object, list[str | None]]:
    tried: list[str | None] = []

    def attempt(code: str | None) -> str:
        tried.append(code)
        if needs.pop(0):
            raise MfaRequiredError(profile="p", mfa_serial="arn")
        return "ok"

    return ask_and_retry(attempt, lambda: answers.pop(0), ask_first=ask_first), tried


@pytest.mark.parametrize(("needs", "answers", "ask_first", "result", "tried"), [
    ([False], [], False, "ok", [None]),                     # a usable session: no prompt
    ([False], ["123456"], True, "ok", ["123456"]),          # no session: asked first
    ([], [None], True, Done.CANCELLED, []),                 # closed the prompt: nothing tried
    ([True, False], ["654321"], False, "ok", [None, "654321"]),  # the session ended meanwhile
    ([True], [None], False, Done.CANCELLED, [None]),
])
def test_ask_and_retry(needs: list[bool], answers: list[str | None], ask_first: bool,
                       result: object, tried: list[str | None]) -> None:
    assert flow(needs, answers, ask_first=ask_first) == (result, tried)


def test_a_refused_code_is_not_asked_again() -> None:
    with pytest.raises(MfaRequiredError):
        flow([True], ["111111", "222222"], ask_first=True)


def _children_named(name: str) -> list[str]:
    """The states (R, S, Z, ...) of this process's children called ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:]
        fields = rest.split()
        if comm == name and int(fields[1]) == os.getpid():
            found.append(fields[0])
    return found


def test_opening_a_path_leaves_no_zombie(tmp_path: Path) -> None:
    """Issue 15 bug 5: Diagnose/Open log left an exited xdg-open as the tray's zombie."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "opened"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {seen}\n')
    opener.chmod(0o755)
    target = tmp_path / "a file; with $(odd) chars.txt"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    desktop_open.open_target(target, env=env)
    wait_for(lambda: seen.exists() and seen.read_text() == str(target), 10, "xdg-open to run")
    # Once it has exited, a child of ours would stay a zombie until someone waits for it.
    wait_for(lambda: all(s == "Z" for s in _children_named("xdg-open")), 10, "xdg-open to end")
    assert _children_named("xdg-open") == []
