"""The MFA prompt as a process of its own (``tray.ui.prompt``), and closing those left open.

The code comes back through the prompt's stdout pipe, never argv or the environment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from tray.child import runner

log = logging.getLogger(__name__)

PROMPT_TIMEOUT = 300.0
_CODE_RE = re.compile(r"^\d{6}$")


class MfaPrompts:
    """Opens prompts; ``close_all`` ends those still open (the tray is quitting)."""

    def __init__(self, env: Mapping[str, str], timeout: float = PROMPT_TIMEOUT,
                 module: str = "tray.ui.prompt") -> None:
        self.env = dict(env)
        self.timeout = timeout
        self.module = module
        self._open = runner.Children()

    def ask(self, serial: str, profile: str, target: str | None = None) -> str | None:
        """The six digits typed; None when cancelled, closed or left open too long.
        ``target``: the kept section the code is for (the prompt's title names it)."""
        where = ["--target", target] if target else []
        try:
            done = runner.run(self.module, ["--serial", serial, "--profile", profile, *where],
                              env=self.env, timeout=self.timeout, children=self._open)
        except runner.ChildTimeout:
            log.info("the MFA prompt was left open for %.0f s; closed it", self.timeout)
            return None
        code = done.stdout.decode("ascii", "replace").strip()
        if done.returncode != 0 or not _CODE_RE.match(code):
            if done.returncode not in (0, 1, -15):
                log.warning("the MFA prompt failed (exit %d): %s", done.returncode,
                            done.stderr.decode(errors="replace").strip()[-300:])
            return None
        return code

    def close_all(self) -> None:
        self._open.terminate()
