"""Open a file or URL in the user's default application, leaving no child behind.

``xdg-open`` may run for as long as the application it starts (or exit at
once): either way the tray must not keep it as a zombie. It is started by a
shell that puts it in the background and exits at once; the shell is waited
for here, and ``xdg-open`` is adopted by init, which reaps it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# "$@" keeps the path one argument whatever it holds; the shell exits once it has forked.
_DETACH = '"$@" </dev/null >/dev/null 2>&1 &'


def opener_argv(target: str, platform: str | None = None) -> list[str]:
    """The program that shows ``target`` on this platform (none on Windows: startfile)."""
    platform = platform or sys.platform
    return ["open", target] if platform == "darwin" else ["xdg-open", target]


def open_target(target: Path | str, *, env: Mapping[str, str]) -> None:
    """Show ``target`` (a path or a URL) in its default application, detached."""
    if sys.platform.startswith("win"):
        os.startfile(str(target))  # type: ignore[attr-defined]
        return
    opener = opener_argv(str(target))
    if shutil.which(opener[0], path=env.get("PATH")) is None:
        # The shell would fail in the background, unseen: say it here.
        raise FileNotFoundError(f"{opener[0]} is not installed")
    argv = ["/bin/sh", "-c", _DETACH, "sh", *opener]
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, start_new_session=True, check=True, timeout=10,
                   env=dict(env))


def browser_argv(url: str, env: Mapping[str, str]) -> list[str] | None:
    """``$BROWSER`` as Python's ``webbrowser`` reads it (commands separated by ``os.pathsep``,
    the first one found on PATH; ``%s`` stands for the URL, else it is added), or None."""
    for command in env.get("BROWSER", "").split(os.pathsep):
        try:
            argv = shlex.split(command)
        except ValueError:
            continue
        if argv and shutil.which(argv[0], path=env.get("PATH")):
            return [a.replace("%s", url) for a in argv] if "%s" in command else [*argv, url]
    return None


def open_url(url: str, *, env: Mapping[str, str]) -> None:
    """Show ``url`` in the browser ``$BROWSER`` names, else the default one, detached: the
    caller neither waits for the browser nor keeps it as a zombie. The URL may be a
    bearer credential: it goes to the browser alone, never to a log or a message."""
    argv = browser_argv(url, env)
    if argv is None:
        open_target(url, env=env)
        return
    subprocess.run(["/bin/sh", "-c", _DETACH, "sh", *argv], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   start_new_session=True, check=True, timeout=10, env=dict(env))
