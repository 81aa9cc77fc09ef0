"""A console sign-in URL reaches the browser through a private file, never a command line.

The login URL carries a ``SigninToken``: a bearer credential for the console. A
browser started as ``firefox URL`` shows it to every local user in the process
list (``/proc/PID/cmdline``). Instead the URL goes into a small page that forwards
to it at once, written 0600 in roletray's private runtime folder (0700), and the
browser is given that page's ``file://`` address.

AWS accepts a SigninToken for 15 minutes after it is issued; pages older than that
are swept each time a new one is written (and the runtime folder itself goes away
at logout).
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from pathlib import Path

PREFIX = "console-signin-"
MAX_AGE_S = 15 * 60


TITLE = "roletray: opening the AWS console"


def page(url: str, title: str = TITLE) -> str:
    """The forwarding page: a meta refresh (and a link, for a browser that refuses it).
    ``title``: the tab's title (a guarded profile's names its label)."""
    target = html.escape(url, quote=True)
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<meta http-equiv=\"refresh\" content=\"0;url={target}\">"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<p>Opening the AWS console&hellip; <a href=\"{target}\">continue</a></p>"
            "</body></html>\n")


def write(url: str, folder: Path, *, now: float | None = None, title: str = TITLE) -> Path:
    """A new forwarding page for ``url`` in ``folder`` (the caller's private folder), 0600."""
    sweep(folder, now=now)
    fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=".html", dir=folder)  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page(url, title))
    return Path(name)


def sweep(folder: Path, *, now: float | None = None) -> int:
    """Remove the pages whose token AWS no longer accepts. Returns how many went."""
    limit = (time.time() if now is None else now) - MAX_AGE_S
    gone = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(PREFIX) and entry.name.endswith(".html")):
            continue
        try:
            if entry.is_file(follow_symlinks=False) \
                    and entry.stat(follow_symlinks=False).st_mtime < limit:
                os.unlink(entry.path)
                gone += 1
        except OSError:
            continue
    return gone
