"""The AWS CLI on PATH, and whether it is new enough for what roletray hands it:
``aws sso login`` (version 2) or ``aws login`` (2.32 and later)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

_VERSION_RE = re.compile(r"aws-cli/(\d+)\.(\d+)")

Runner = Callable[..., Any]  # subprocess.run's signature


def aws_cli(at_least: tuple[int, int], *, env: Mapping[str, str],
            which: Callable[[str], str | None] = shutil.which,
            runner: Runner = subprocess.run) -> str | None:
    """The path of the ``aws`` on PATH when its ``--version`` is ``at_least`` (major, minor),
    else None (none there, too old, or it did not answer within 20 s)."""
    path = which("aws")
    if not path:
        return None
    try:
        out = runner([path, "--version"], capture_output=True, text=True, timeout=20,
                     env=dict(env), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION_RE.search(f"{out.stdout or ''} {out.stderr or ''}")
    return path if m and (int(m.group(1)), int(m.group(2))) >= at_least else None
