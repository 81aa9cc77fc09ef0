"""``roletray prompt`` beside ``python -c pass``: what a shell prompt pays per command line.

Whole processes, medians of N runs, interleaved so each sees the same machine load:

- ours, instance: ``roletray prompt`` with a ``roletray daemon`` keeping the role (a
  ``status`` request over its socket);
- ours, state file: the same with no daemon (the state file the assume left);
- the floor: ``python -c pass``, the interpreter's own start.

The target is on what roletray adds to the interpreter's start (the median of ours
less the floor's): under 20 ms. The interpreter's start is the rest, and no Python
command can go below it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import sandbox_env, seed, start_moto, tmpdir, wait_for_socket

from tray.instance import control
from tray.paths import Paths

TARGET_MS = 20.0


def _medians(fns: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    for argv in fns.values():
        subprocess.run(argv, env=env, check=True, capture_output=True)  # warm the caches
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, argv in fns.items():
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def run(runs: int = 31) -> list[tuple[str, str, str, str]]:
    server, endpoint = start_moto()
    folder = tmpdir("roletray-bench-prompt-")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        env = sandbox_env(folder, endpoint)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        seed(folder, endpoint)
        roletray = [sys.executable, "-m", "tray"]
        daemon = subprocess.Popen([*roletray, "daemon", "--quiet"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_socket(control.socket_path(Paths.from_env(env)), daemon)
        subprocess.run([*roletray, "assume", "platform"], env=env, check=True,
                       capture_output=True)
        line = subprocess.run([*roletray, "prompt"], env=env, check=True, capture_output=True,
                              text=True).stdout.strip()
        if not line:
            raise RuntimeError("the prompt printed nothing with a role kept")
        # What the installed `roletray` script runs (python -m would add runpy's imports).
        script = [sys.executable, "-c", ("import sys; from tray.launch import entry; "
                  "sys.exit(entry())")]
        fns = {"ours": [*script, "prompt"], "floor": [sys.executable, "-c", "pass"]}
        live = _medians(fns, env, runs)
        daemon.terminate()
        daemon.wait(30)
        daemon = None
        from_file = _medians(fns, env, runs)
        rows = []
        for what, med in (("daemon running (a status request over its socket)", live),
                          ("no daemon (the state file)", from_file)):
            added = med["ours"] - med["floor"]
            rows.append((
                (f"prompt: `roletray prompt` ({line!r}), {what}, vs `python -c pass`, "
                f"median of {runs} runs"),
                f"{med['ours']:.0f} ms", f"{med['floor']:.0f} ms",
                (f"+{added:.1f} ms over the interpreter's start; target < {TARGET_MS:.0f} ms "
                f"added: {'met' if added < TARGET_MS else 'NOT met'}")))
        return rows
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
        server.stop()
