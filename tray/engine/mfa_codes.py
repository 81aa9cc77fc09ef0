"""MFA codes from a command: ``mfa_process = COMMAND`` on a role profile.

The code is COMMAND's standard output (``ykman oath accounts code --single NAME``,
which waits for a touch), read in place of a person typing it. Two rules keep AWS
from refusing it: a code is never sent twice, and never two codes from one 30-second
TOTP window (the second would be the same code, or one AWS counts as reused). The
window last used per MFA device is kept in the state folder, so two roletray processes
follow the rule too; a caller in the same window waits for the next one.

COMMAND's stderr is never echoed or logged: it may hold a secret.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tray import fsutil
from tray.awsfiles import filelock_lite
from tray.domain.errors import MfaProcessError
from tray.domain.models import RoleProfile

log = logging.getLogger(__name__)

WINDOW = 30  # seconds of one TOTP code
TIMEOUT = 60.0  # a touch is waited for this long
_CODE_RE = re.compile(r"^\d{6}$")
FILE = "mfa-windows.json"

Runner = Callable[[list[str], Mapping[str, str], float], tuple[int, bytes]]
"""``runner(argv, env, timeout) -> (exit code, stdout)``; raises ``TimeoutError``."""


def run_command(argv: list[str], env: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """COMMAND in a process group of its own, stderr dropped, the group killed on timeout."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=dict(env), process_group=0)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimeoutError from None
    return proc.returncode, out


class MfaCodes:
    """Codes for roles with ``mfa_process``. ``on_wait(profile)`` is told while COMMAND
    runs (the tray says "Touch your security key"). Clock and sleep are injected."""

    def __init__(self, state_dir: Path, env: Mapping[str, str], *,
                 runner: Runner = run_command, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[str], None] | None = None,
                 timeout: float = TIMEOUT) -> None:
        self._file = state_dir / FILE
        self._env = env
        self._runner = runner
        self._clock = clock
        self._sleep = sleep
        self.on_wait = on_wait
        self._timeout = timeout

    def code_for(self, role: RoleProfile, command: str) -> str:
        """One fresh code for ``role``'s MFA device from ``command``; never one of a window
        already used. Raises ``MfaProcessError`` (one line, no output of COMMAND)."""
        serial = role.mfa_serial or role.name
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = []
        if not argv:
            raise MfaProcessError(profile=role.name, how="is not a command line")
        with self._locked():
            used = self._used().get(serial)
            window = int(self._clock() // WINDOW)
            if used is not None and window <= used:
                # The code of this window went out already: the next one is new.
                self._sleep((used + 1) * WINDOW - self._clock() + 0.5)
            if self.on_wait is not None:
                self.on_wait(role.name)
            try:
                status, out = self._runner(argv, self._env, self._timeout)
            except TimeoutError:
                raise MfaProcessError(profile=role.name,
                                      how=f"did not answer within {self._timeout:.0f} s "
                                          "(was the key touched?)") from None
            except OSError as e:
                raise MfaProcessError(profile=role.name,
                                      how=f"could not be started ({e.strerror or e})") from None
            code = out.decode("ascii", "replace").strip()
            if status != 0:
                raise MfaProcessError(profile=role.name, how=f"exited with code {status}")
            if not _CODE_RE.match(code):
                raise MfaProcessError(profile=role.name, how="printed no 6-digit code")
            self._mark(serial, int(self._clock() // WINDOW))
        log.info("MFA code for %s came from its mfa_process", role.name)
        return code

    # -- the windows used, shared between processes -----------------------------------

    @contextlib.contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        fsutil.private_dir(self._file.parent)
        # Held while a code is waited for: another process's window wait and its run.
        with filelock_lite.locked(str(self._file.with_suffix(".lock")),
                                  timeout=2 * WINDOW + self._timeout + 5):
            yield

    def _used(self) -> dict[str, int]:
        try:
            doc = json.loads(self._file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict):
            return {}
        return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, int)}

    def _mark(self, serial: str, window: int) -> None:
        from tray.state import write_private

        used = self._used()
        used[serial] = max(window, used.get(serial, window))
        write_private(self._file, json.dumps(used) + "\n")
