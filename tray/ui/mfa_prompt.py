"""The MFA prompt as a process of its own (``tray.ui.prompt``), and closing those left open.

The code comes back through the prompt's stdout pipe, never argv or the environment.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

PROMPT_TIMEOUT = 300.0
_CODE_RE = re.compile(r"^\d{6}$")


class MfaPrompts:
    """Opens prompts; ``close_all`` ends those still open (the tray is quitting)."""

    def __init__(self, env: Mapping[str, str], timeout: float = PROMPT_TIMEOUT) -> None:
        self.env = dict(env)
        self.timeout = timeout
        self._open: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def ask(self, serial: str, profile: str, target: str | None = None) -> str | None:
        """The six digits typed; None when cancelled, closed or left open too long.
        ``target``: the kept section the code is for (the prompt's title names it)."""
        where = ["--target", target] if target else []
        proc = subprocess.Popen(
            [sys.executable, "-m", "tray.ui.prompt", "--serial", serial, "--profile", profile,
             *where],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env)
        with self._lock:
            self._open.add(proc)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            log.info("the MFA prompt was left open for %.0f s; closed it", self.timeout)
            proc.kill()
            proc.communicate()
            return None
        finally:
            with self._lock:
                self._open.discard(proc)
        code = out.decode("ascii", "replace").strip()
        if proc.returncode != 0 or not _CODE_RE.match(code):
            if proc.returncode not in (0, 1, -15):
                log.warning("the MFA prompt failed (exit %d): %s", proc.returncode,
                            err.decode(errors="replace").strip()[-300:])
            return None
        return code

    def close_all(self) -> None:
        with self._lock:
            procs = list(self._open)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
