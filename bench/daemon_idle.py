"""An idle ``roletray daemon``: resident memory and wakeups per second.

The daemon runs in a sandbox HOME against moto's server on loopback. It
resumes an active role, then refreshes it a few times (hand-overs from
``roletray refresh``) so that the memory measured is the steady state of a
daemon that has been refreshing for a while, not just its start. Then it
idles: nothing is due for 50 minutes, so what is measured is the idle loop
itself: the 30 s tick, the scheduler asleep until its job, the socket waiting.
Wakeups are context switches (voluntary + nonvoluntary) summed over every
thread in ``/proc/PID/task/*/status``, counted over the window.

The peer is the floor under it: an idle ``python3`` that imported the same
third-party libraries as the daemon (apscheduler, platformdirs) and does nothing.
The daemon never imports botocore or boto3: each AssumeRole runs in a short-lived
worker process (``tray.engine.worker``). Until 2026-05 it did, and so did this peer.

    python bench/daemon_idle.py            # 30 s window
    python bench/daemon_idle.py 60         # another window, in seconds
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from common import sandbox_env, seed, start_moto, tmpdir

TARGET_RSS_MIB = 40.0
TARGET_WAKEUPS = 0.1
PEER_CODE = ("import signal, platformdirs, apscheduler.schedulers.background, "
             "apscheduler.executors.pool; "
             "print('ready', flush=True); signal.pause()")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def switches(pid: int) -> tuple[int, int]:
    """(context switches summed over all threads, number of threads)."""
    total = threads = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # a thread that just ended
            continue
        threads += 1
        for line in text.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total, threads


def measure(pid: int, seconds: float) -> tuple[float, float, int]:
    before, _ = switches(pid)
    time.sleep(seconds)  # the measurement window itself
    after, threads = switches(pid)
    return rss_mib(pid), (after - before) / seconds, threads


REFRESHES = 5


def _prepare(folder: Path) -> tuple[dict[str, str], Any]:
    """A sandbox, moto on loopback, and an active role assumed once."""
    server, endpoint = start_moto()
    env = sandbox_env(folder, endpoint)
    env["PYTHONPATH"] = str(REPO)
    seed(folder, endpoint)
    subprocess.run([sys.executable, "-m", "tray", "assume", "platform"], env=env, check=True,
                   capture_output=True)
    return env, server


def _wait_ready(proc: subprocess.Popen[bytes], sock: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the daemon did not start")
        time.sleep(0.05)


def run(seconds: float = 30.0, settle: float = 3.0) -> list[tuple[str, str, str, str]]:
    folder = tmpdir("roletray-bench-idle-")
    env, server = _prepare(folder)
    daemon = subprocess.Popen([sys.executable, "-m", "tray", "daemon", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peer = subprocess.Popen([sys.executable, "-c", PEER_CODE], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(daemon, folder / "run" / "roletray" / "control.sock")
        assert peer.stdout is not None and peer.stdout.readline().strip() == b"ready"
        rss_start = rss_mib(daemon.pid)
        for _ in range(REFRESHES):  # handed over to the daemon: it does the AssumeRole
            subprocess.run([sys.executable, "-m", "tray", "refresh"], env=env, check=True,
                           capture_output=True)
        time.sleep(settle)  # let start-up work (imports, the first tick's setup) finish
        # Both windows at once: same machine load for each.
        p_before, _ = switches(peer.pid)
        d_rss, d_wake, d_threads = measure(daemon.pid, seconds)
        p_after, _ = switches(peer.pid)
        p_rss, p_wake = rss_mib(peer.pid), (p_after - p_before) / seconds
    finally:
        for proc in (daemon, peer):
            proc.send_signal(signal.SIGTERM)
        daemon_rc = daemon.wait(10)
        peer.wait(10)
        server.stop()
    if daemon_rc != 0:
        raise RuntimeError(f"the daemon exited {daemon_rc} on SIGTERM")
    return [
        (f"daemon idle RSS after {REFRESHES} refreshes (VmRSS; {rss_start:.1f} MiB at start; "
         + "peer: python3 with the same imports, idle)",
         f"{d_rss:.1f} MiB", f"{p_rss:.1f} MiB",
         f"{d_rss / p_rss:.2f} (target ≤ {TARGET_RSS_MIB:.0f} MiB)"),
        (f"daemon idle wakeups/s over {seconds:.0f} s ({d_threads} threads)",
         f"{d_wake:.3f}", f"{p_wake:.3f}", f"target ≤ {TARGET_WAKEUPS}"),
    ]


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 30.0
    rows = run(seconds)
    for row in rows:
        print(" | ".join(row))
    rss = float(rows[0][1].split()[0])
    wake = float(rows[1][1])
    return 0 if rss <= TARGET_RSS_MIB and wake <= TARGET_WAKEUPS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
