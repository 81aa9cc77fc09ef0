"""Open a file or URL in the user's default application, leaving no child behind.

``xdg-open`` may run for as long as the application it starts (or exit at
once): either way the tray must not keep it as a zombie. It is started by a
shell that puts it in the background and exits at once; the shell is waited
for here, and ``xdg-open`` is adopted by init, which reaps it.
"""

from __future__ import annotations

import os
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
