"""Put text on the clipboard with the desktop's command-line tools.

The tray tries the GTK clipboard first (it owns one while it runs); this is
the fallback for Wayland, X11 and macOS.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

TOOLS = (["wl-copy"], ["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"],
         ["pbcopy"])


def copy_with_tools(text: str, *, env: Mapping[str, str]) -> str:
    """Copy ``text`` with the first tool found on PATH. Returns its name, "" when none."""
    for argv in TOOLS:
        if shutil.which(argv[0], path=env.get("PATH")):
            subprocess.run(argv, input=text.encode(), check=True, timeout=5,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(env))
            return argv[0]
    return ""
