"""``roletray assume`` against ``aws sts assume-role`` on the same local STS.

Both are whole processes started the way a user starts them; medians of N runs,
interleaved (run after run) so that each sees the same machine load. A third
process, measured the same way, is the floor under both: botocore alone, doing
the same AssumeRole with no file read or written (the import of botocore and the
creation of its client are most of either command's time).
Also counts the requests one ``roletray refresh`` makes at the endpoint, and runs
``roletray assume`` again with a daemon running: the command hands the switch over, and
the daemon's warm worker (kept loaded between calls) does one AssumeRole; the aws CLI is
measured again, interleaved, in that phase. The warm worker's RSS is read after it.

Both run with Python's default of caching bytecode (``common.sandbox_env`` drops
PYTHONDONTWRITEBYTECODE): awscli and botocore were byte-compiled when pip installed
them, and an installed roletray is too, but an editable checkout under
PYTHONDONTWRITEBYTECODE=1 would compile roletray's ~40 modules from source on
every run (~40 ms here), a cost no installed copy pays. The warm-up run writes
roletray's ``__pycache__`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import sandbox_env, seed, start_moto, tmpdir
from counting_proxy import CountingProxy
from daemon_idle import REPO, rss_mib


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _medians(fns: dict[str, object], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _warm_rows(roletray: list[str], env: dict[str, str], peer: object, folder: Path,
               runs: int) -> list[tuple[str, str, str, str]]:
    """``roletray assume`` handed over to a running daemon, against the aws CLI."""
    denv = {**env, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO),
                                                               env.get("PYTHONPATH"))))}
    daemon = subprocess.Popen([sys.executable, "-m", "tray", "daemon", "--quiet"], env=denv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = folder / "run" / "roletray" / "control.sock"
        deadline = time.monotonic() + 30
        while not sock.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.05)

        def warm() -> None:
            subprocess.run([*roletray, "assume", "platform", "--json"], env=env, check=True,
                           capture_output=True)

        def plain() -> None:  # the table a person reads, in the user's words
            subprocess.run([*roletray, "assume", "platform"], env=env, check=True,
                           capture_output=True)

        from tray.instance import control
        from tray.paths import Paths

        where = Paths.from_env(env)

        def switch() -> None:  # what a tray click runs: the instance's switch, no CLI start
            reply = control.send("assume", {"profile": "platform", "target": None,
                                            "duration": None, "mfa_code": None,
                                            "force": False}, where=where)
            assert reply is not None and reply.get("ok"), reply

        warm()  # the first hand-over starts the worker
        workers = _children(daemon.pid)
        t = _medians({"warm": warm, "plain": plain, "peer": peer, "switch": switch}, runs)
        assert _children(daemon.pid) == workers, "the worker was started again"
        worker_rss = rss_mib(workers[0]) if workers else float("nan")
        daemon_rss = rss_mib(daemon.pid)
    finally:
        daemon.terminate()
        daemon.wait(15)
    return [
        (("assume, instance running: `roletray assume` handed over to a daemon, whose warm "
          f"worker does the AssumeRole, vs `aws sts assume-role` (same phase), median of "
          f"{runs} runs"), f"{t['warm'] * 1000:.0f} ms", f"{t['peer'] * 1000:.0f} ms",
         f"{t['warm'] / t['peer']:.2f} (target ≤ 0.2)"),
        ("the same, `roletray assume platform` (its table, not --json)",
         f"{t['plain'] * 1000:.0f} ms", f"{t['peer'] * 1000:.0f} ms",
         f"{t['plain'] / t['peer']:.2f} (target ≤ 0.2)"),
        (("the switch a tray click runs: the instance's `assume` over its socket (warm "
          "worker: one AssumeRole, the section and state written) until its reply, from a "
          f"client already running (no CLI start), median of {runs} runs"),
         f"{t['switch'] * 1000:.0f} ms", f"{t['peer'] * 1000:.0f} ms",
         f"{t['switch'] / t['peer']:.2f} of the aws CLI; target: keys in the file ≤ 250 ms"),
        (("the daemon's warm worker: RSS after those switches (VmRSS; the daemon itself "
          f"{daemon_rss:.1f} MiB); it leaves after worker_idle_minutes (10)"),
         f"{worker_rss:.1f} MiB", "-", "given back when idle"),
    ]


def run(runs: int = 15) -> list[tuple[str, str, str, str]]:
    server, endpoint = start_moto()
    folder = tmpdir("roletray-bench-")
    try:
        env = sandbox_env(folder, endpoint)
        role_arn = seed(folder, endpoint)
        roletray = [sys.executable, "-m", "tray"]
        if shutil.which("roletray"):
            roletray = [str(shutil.which("roletray"))]
        aws = shutil.which("aws") or "aws"

        def ours() -> None:
            subprocess.run([*roletray, "assume", "platform", "--json"], env=env, check=True,
                           capture_output=True)

        floor_code = ("import os, botocore.session; "
                      "s = botocore.session.Session(profile='default'); "
                      "c = s.create_client('sts', region_name='ap-northeast-2'); "
                      "c.assume_role(RoleArn=os.environ['ROLE_ARN'], RoleSessionName='bench', "
                      "DurationSeconds=3600)")

        def floor() -> None:  # botocore alone: one session, one client, one call, no file
            subprocess.run([sys.executable, "-c", floor_code], env={**env, "ROLE_ARN": role_arn},
                           check=True, capture_output=True)

        def peer() -> None:
            subprocess.run([aws, "sts", "assume-role", "--role-arn", role_arn,
                            "--role-session-name", "bench", "--output", "json"], env=env,
                           check=True, capture_output=True)

        ours(), peer(), floor()  # warm the page cache (and roletray's bytecode cache)
        t = _medians({"ours": ours, "peer": peer, "floor": floor}, runs)
        t_ours, t_peer, t_floor = t["ours"], t["peer"], t["floor"]

        with CountingProxy(endpoint) as proxy:
            env_p = dict(env, AWS_ENDPOINT_URL=proxy.url)
            subprocess.run([*roletray, "refresh", "--json"], env=env_p, check=True,
                           capture_output=True)
            counted = dict(proxy.actions)
        total = sum(counted.values())
        return [
            (("assume: `roletray assume` vs `aws sts assume-role`, median of "
             f"{runs} runs"), f"{t_ours * 1000:.0f} ms", f"{t_peer * 1000:.0f} ms",
             f"{t_ours / t_peer:.2f} (target ≤ 0.6)"),
            (("assume: the botocore floor (`python -c`: import botocore, one session, one "
             "client, one AssumeRole; no file read or written) vs the same peer"),
             f"{t_floor * 1000:.0f} ms", f"{t_peer * 1000:.0f} ms",
             f"{t_floor / t_peer:.2f}; roletray is {t_ours / t_floor:.2f}× this floor"),
            ("requests at the endpoint per `roletray refresh`",
             f"{total} ({', '.join(f'{k} {v}' for k, v in sorted(counted.items()))})",
             "-", "target: exactly 1"),
            *_warm_rows(roletray, env, peer, folder, runs),
        ]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
