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
- ours, keyring-held source: ``roletray credential-process --source default --file-id=ID``, answered
  by the same daemon from memory (an ``sts:GetSessionToken`` session of the keys it
  holds). The keys live in a real Secret Service (a private D-Bus session bus and
  gnome-keyring-daemon, tests/secretservice.py), put there as ``keys import`` leaves them:
  the config's [default] holds roletray's ``--source`` line and the credentials file no
  keys. The keyring is read only by the first call (the daemon's worker reads it and
  runs GetSessionToken; that call is timed once, on its own row); the median is of the
  calls after it, which do not touch the keyring. Skipped, with a note, without
  dbus-daemon and gnome-keyring-daemon.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import sandbox_env, seed, start_moto, tmpdir, wait_for_socket

from tray.domain.source_line import source_line
from tray.instance import control
from tray.keys_index import file_id
from tray.paths import Paths

HERE = Path(__file__).resolve().parent

PEER = Path("/work/peers/aec/bin/aws-export-credentials")
TARGET_MS = 60.0
FLOOR_CODE = ("import configparser, json, os; p = configparser.ConfigParser(); "
              "p.read(os.environ['AWS_SHARED_CREDENTIALS_FILE']); "
              "print(json.dumps(dict(p['default'])))")


# Run in the sandbox's environment (its bus): the keys go in on stdin, never in argv.
PUT_CODE = ("import sys; from tray.platform.secret_store import SecretStore, StoredKeys; "
            "akid, secret = sys.stdin.read().split(); "
            "SecretStore().put(StoredKeys('default', akid, secret), sys.argv[1])")


def _move_keys_to_keyring(folder: Path, env: dict[str, str],
                          services: list[Any]) -> str | None:
    """What ``roletray keys import default`` leaves: the keys in the keyring, roletray's
    line in [default], no keys in the file. Returns why not (the rows say it), or None."""
    sys.path.insert(0, str(HERE.parent))  # the tests' private Secret Service
    from tests import secretservice

    why = secretservice.missing()
    if why:
        return why
    workdir = folder / "secret-service"
    workdir.mkdir()
    service = secretservice.start(env, workdir)
    services.append(service)  # stopped by the caller
    env.clear()
    env.update(service.env)  # the sandbox's, on the service's bus, no desktop variables
    aws = folder / "home" / ".aws"
    keys = dict(line.split(" = ", 1) for line in
                (aws / "credentials").read_text().splitlines() if " = " in line)
    fid = file_id(aws / "credentials")
    subprocess.run([sys.executable, "-c", PUT_CODE, fid], env=env, check=True,
                   capture_output=True,
                   input=f"{keys['aws_access_key_id']} {keys['aws_secret_access_key']}",
                   text=True)
    config = (aws / "config").read_text()
    (aws / "config").write_text(config.replace(
        "[default]\n", f"[default]\ncredential_process = "
        f"{source_line('default', file_id=fid)}\n", 1))
    (aws / "credentials").write_text("")
    return None


def run(runs: int = 21) -> list[tuple[str, str, str, str]]:
    server, endpoint = start_moto()
    folder = tmpdir("roletray-bench-cp-")
    daemon: subprocess.Popen[bytes] | None = None
    services: list[Any] = []
    try:
        env = sandbox_env(folder, endpoint)
        env["PYTHONPATH"] = str(HERE.parent)
        seed(folder, endpoint)
        # The floor and the peer read the file's keys: a copy of the world as seeded.
        peer_home = folder / "peer-aws"
        shutil.copytree(folder / "home" / ".aws", peer_home)
        no_keyring = _move_keys_to_keyring(folder, env, services)
        roletray = [sys.executable, "-m", "tray"]
        daemon = subprocess.Popen([*roletray, "daemon", "--quiet"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_socket(control.socket_path(Paths.from_env(env)), daemon)

        def ours() -> None:
            subprocess.run([*roletray, "credential-process", "platform"], env=env, check=True,
                           capture_output=True)

        # An SSH session, a container, cron: no XDG_RUNTIME_DIR; the daemon is found anyway.
        env_no_xdg = {k: v for k, v in env.items() if k != "XDG_RUNTIME_DIR"}

        def ours_no_xdg() -> None:
            subprocess.run([*roletray, "credential-process", "platform"], env=env_no_xdg,
                           check=True, capture_output=True)

        env_floor = {**env, "AWS_SHARED_CREDENTIALS_FILE": str(peer_home / "credentials")}

        def floor() -> None:
            subprocess.run([sys.executable, "-c", FLOOR_CODE], env=env_floor, check=True,
                           capture_output=True)

        def ours_source() -> None:
            subprocess.run([*roletray, "credential-process", "--source", "default",
                            f"--file-id={file_id(folder / 'home' / '.aws' / 'credentials')}"], env=env,
                           check=True, capture_output=True)

        # Its botocore does not take the region from [default] for the role profile's
        # STS client; the same region, given the way it reads it.
        env_peer = {**env, "AWS_DEFAULT_REGION": "ap-northeast-2",
                    "AWS_CONFIG_FILE": str(peer_home / "config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(peer_home / "credentials")}
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
        fns = {"ours": ours, "ours_no_xdg": ours_no_xdg, "floor": floor}
        if have_peer:
            fns |= {"peer_cached": peer_cached, "peer_uncached": peer_uncached}
        first_source = None
        if no_keyring is None:
            t0 = time.perf_counter()
            ours_source()  # the keyring is read here, and only here
            first_source = (time.perf_counter() - t0) * 1000
            fns["ours_source"] = ours_source
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
            ((f"credential-process without XDG_RUNTIME_DIR (SSH, containers, cron; the daemon "
              f"started with it) vs the same floor, median of {runs} runs"),
             f"{med['ours_no_xdg']:.0f} ms", f"{med['floor']:.0f} ms",
             f"{med['ours_no_xdg'] / med['floor']:.2f}× the floor; target ≤ 1.3×"),
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
        if first_source is not None:
            src, peer = med["ours_source"], med.get("peer_cached")
            rows += [
                ((f"credential-process --source: `roletray credential-process --source "
                  f"default` (daemon running, keys in a real Secret Service; a hit does not "
                  f"read the keyring) vs the static-file floor, median of {runs} runs"),
                 f"{src:.0f} ms", f"{med['floor']:.0f} ms",
                 (f"{src / med['floor']:.2f}× the floor"
                  + (f", {src / peer:.2f} of aws-export-credentials cached" if peer else "")
                  + f"; target < {TARGET_MS:.0f} ms: "
                  f"{'met' if src < TARGET_MS else 'NOT met'}")),
                (("credential-process --source: the first call (the daemon's worker reads "
                  "the keyring, one GetSessionToken), one run"), f"{first_source:.0f} ms",
                 "-", "once per 12-hour session"),
            ]
        else:
            rows.append(("credential-process --source", "-", "skipped", str(no_keyring)))
        return rows
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        for service in services:
            service.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
