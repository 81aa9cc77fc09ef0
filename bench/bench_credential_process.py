"""``roletray credential-process`` with a daemon running, against the floors and a peer.

It runs before every SDK process that uses the profile, so its start-up is the cost.
Whole processes, medians of N runs, interleaved so each sees the same machine load:

- ours: ``roletray credential-process platform``, answered by a running
  ``roletray daemon`` from memory (the first call, in the warm-up, assumed the role);
- the floor: a Python process that imports nothing of roletray and reads the
  credentials file (what a static-keys profile costs at the least);
- the peer: ``aws-export-credentials --json --cache-file F`` (botocore-based, the same
  job) from /work/peers/aec (a venv with botocore<1.35, newer botocore breaks it),
  cached (its file holds keys) and uncached (a new cache file each run: one AssumeRole).
  Skipped, with a note in the table, when that venv is missing.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import sandbox_env, seed, start_moto, tmpdir

from tray.instance import control
from tray.paths import Paths

PEER = Path("/work/peers/aec/bin/aws-export-credentials")
TARGET_MS = 60.0
FLOOR_CODE = ("import configparser, json, os; p = configparser.ConfigParser(); "
              "p.read(os.environ['AWS_SHARED_CREDENTIALS_FILE']); "
              "print(json.dumps(dict(p['default'])))")


def _wait_for_socket(sock: Path, daemon: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited {daemon.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon never listened")
        time.sleep(0.05)  # polling for the socket, not timing


def run(runs: int = 21) -> list[tuple[str, str, str, str]]:
    server, endpoint = start_moto()
    folder = tmpdir("roletray-bench-cp-")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        env = sandbox_env(folder, endpoint)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        seed(folder, endpoint)
        roletray = [sys.executable, "-m", "tray"]
        daemon = subprocess.Popen([*roletray, "daemon", "--quiet"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_socket(control.socket_path(Paths.from_env(env)), daemon)

        def ours() -> None:
            subprocess.run([*roletray, "credential-process", "platform"], env=env, check=True,
                           capture_output=True)

        def floor() -> None:
            subprocess.run([sys.executable, "-c", FLOOR_CODE], env=env, check=True,
                           capture_output=True)

        # Its botocore does not take the region from [default] for the role profile's
        # STS client; the same region, given the way it reads it.
        env_peer = {**env, "AWS_DEFAULT_REGION": "ap-northeast-2"}
        cache = folder / "aec-cache.json"
        fresh = iter(range(10_000))

        def peer_cached() -> None:
            subprocess.run([str(PEER), "--profile", "platform", "--json", "--cache-file",
                            str(cache)], env=env_peer, check=True, capture_output=True)

        def peer_uncached() -> None:
            subprocess.run([str(PEER), "--profile", "platform", "--json", "--cache-file",
                            str(folder / f"aec-{next(fresh)}.json")], env=env_peer, check=True,
                           capture_output=True)

        have_peer = PEER.exists()
        fns = {"ours": ours, "floor": floor}
        if have_peer:
            fns |= {"peer_cached": peer_cached, "peer_uncached": peer_uncached}
        for fn in fns.values():
            fn()  # warm up: the daemon assumes the role, the peer fills its cache
        times: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(runs):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
        rows = [
            ((f"credential-process: `roletray credential-process` (daemon running) vs the "
             f"static-file floor (python reading the credentials file), median of {runs} runs"),
             f"{med['ours']:.0f} ms", f"{med['floor']:.0f} ms",
             (f"{med['ours'] / med['floor']:.2f}× the floor; target < {TARGET_MS:.0f} ms: "
             f"{'met' if med['ours'] < TARGET_MS else 'NOT met'}")),
        ]
        if have_peer:
            rows += [
                (("credential-process: ours vs `aws-export-credentials --json --cache-file F`"
                 " (cached)"), f"{med['ours']:.0f} ms", f"{med['peer_cached']:.0f} ms",
                 f"{med['ours'] / med['peer_cached']:.2f}"),
                (("credential-process: ours vs `aws-export-credentials` uncached (one "
                 "AssumeRole each)"), f"{med['ours']:.0f} ms", f"{med['peer_uncached']:.0f} ms",
                 f"{med['ours'] / med['peer_uncached']:.2f}"),
            ]
        else:
            rows.append(("credential-process: aws-export-credentials", "-", "skipped",
                         f"{PEER} is missing"))
        return rows
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
