"""Opening a file or URL from the tray leaves no child behind (issue 15 bug 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes import fake_program
from xsession import wait_for

from tray.platform import desktop_open


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
    seen = tmp_path / "opened"
    fake_program(bin_dir, "xdg-open", f'printf "%s" "$1" > {seen}\n')
    target = tmp_path / "a file; with $(odd) chars.txt"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    desktop_open.open_target(target, env=env)
    wait_for(lambda: seen.exists() and seen.read_text() == str(target), 10, "xdg-open to run")
    # Once it has exited, a child of ours would stay a zombie until someone waits for it.
    wait_for(lambda: all(s == "Z" for s in _children_named("xdg-open")), 10, "xdg-open to end")
    assert _children_named("xdg-open") == []


def test_a_missing_opener_is_said_not_swallowed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="xdg-open is not installed"):
        desktop_open.open_target(tmp_path, env={"PATH": str(tmp_path)})


def test_browser_argv_reads_browser_as_webbrowser_does(tmp_path: Path) -> None:
    for name in ("firefox", "chromium"):
        fake_program(tmp_path, name, "")
    url = "https://signin.example/federation?Action=login&SigninToken=t%20k"
    env = {"PATH": str(tmp_path)}
    assert desktop_open.browser_argv(url, env) is None  # no $BROWSER
    assert desktop_open.browser_argv(url, {**env, "BROWSER": "firefox --new-tab"}) == [
        "firefox", "--new-tab", url]
    assert desktop_open.browser_argv(url, {**env, "BROWSER": "chromium --app=%s"}) == [
        "chromium", f"--app={url}"]
    # The first command found on PATH wins, as in webbrowser.
    assert desktop_open.browser_argv(url, {**env, "BROWSER": f"nope{os.pathsep}chromium"}) == [
        "chromium", url]


def test_open_url_runs_browser_detached_with_the_url_as_one_argument(tmp_path: Path) -> None:
    seen = tmp_path / "argv"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {seen}\n')
    browser.chmod(0o755)
    url = "http://127.0.0.1:1/federation?Action=login&Destination=a%20b&SigninToken=x;y"
    desktop_open.open_url(url, env={**os.environ, "BROWSER": str(browser)})
    wait_for(lambda: seen.exists() and seen.read_text() == url + "\n", 10, "the browser to run")
    wait_for(lambda: all(s == "Z" for s in _children_named("browser")), 10, "it to end")
    assert _children_named("browser") == []
