"""``roletray sso populate`` over a directory of 200 accounts with 2 permission sets each.

The Identity Center portal is the tests' stand-in (tests/ssofake.py) on loopback,
answering each ListAccounts / ListAccountRoles call after 50 ms, as a distant
service would: 2 pages of accounts, then 200 ListAccountRoles calls. ``roletray sso
populate`` runs as a process (the command a person types: interpreter start,
botocore import, the calls 8 at a time, the locked write of 400 profiles); the
peer is the same populate making one call at a time (in-process, so that it pays
no start-up), which must take more than 202 x 50 ms = 10.1 s.

    python bench/bench_sso_populate.py
    python bench/run.py sso

Target (issue 20): under 5 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from common import median_seconds, sandbox_env, tmpdir
from ssofake import SsoFake

ACCOUNTS = 200
ROLES = ("AdministratorAccess", "ReadOnlyAccess")
DELAY = 0.05  # seconds per call at the stand-in
TARGET = 5.0
TOKEN = "benchAccessToken0001"
CONFIG = """[default]
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
"""


def _prepare(folder: Path, fake: SsoFake) -> dict[str, str]:
    env = sandbox_env(folder, "http://127.0.0.1:9")  # nothing but the SSO portal is called
    env.update(AWS_ENDPOINT_URL_SSO=fake.url, AWS_ENDPOINT_URL_SSO_OIDC=fake.url,
               PYTHONPATH=str(REPO))
    cache = folder / "home" / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, mode=0o700)
    expires = (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(json.dumps({
        "startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
        "accessToken": TOKEN, "expiresAt": expires}))
    return env


def run(runs: int = 3) -> list[tuple[str, str, str, str]]:
    folder = tmpdir("roletray-bench-sso-")
    fake = SsoFake(valid_tokens={TOKEN}).start()
    try:
        fake.directory = {f"{100000000000 + i}": (f"account-{i:03d}", list(ROLES))
                          for i in range(ACCOUNTS)}
        fake.delay = DELAY
        env = _prepare(folder, fake)
        config = Path(env["AWS_CONFIG_FILE"])
        roletray = [sys.executable, "-m", "tray", "sso", "populate", "--json"]

        def ours() -> None:
            config.write_text(CONFIG)
            subprocess.run(roletray, env=env, check=True, capture_output=True, timeout=120)

        ours()  # warm the page and bytecode caches
        written = json.loads(subprocess.run(roletray, env=env, check=True, capture_output=True,
                                            timeout=120).stdout)
        assert len(written["profiles"]) == ACCOUNTS * len(ROLES), written
        before = len(fake.requests)
        ours_s = median_seconds(ours, runs)
        calls = (len(fake.requests) - before) // runs

        from tray.aws import sso_populate

        config.write_text(CONFIG)
        t0 = time.perf_counter()
        result = sso_populate.populate(None, env=env, workers=1)
        peer_s = time.perf_counter() - t0
        assert len(result.profiles) == ACCOUNTS * len(ROLES)
    finally:
        fake.stop()
        shutil.rmtree(folder, ignore_errors=True)
    met = "met" if ours_s < TARGET else "NOT met"
    label = (f"sso populate: {ACCOUNTS} accounts x {len(ROLES)} permission sets, "
             f"{DELAY * 1000:.0f} ms per call at the stand-in ({calls} calls): `roletray sso "
             f"populate` (a process, 8 calls at a time; median of {runs}) vs one call at a time")
    return [(label, f"{ours_s:.2f} s", f"{peer_s:.2f} s",
             f"{ours_s / peer_s:.2f}; target < {TARGET:.0f} s: {met}")]


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for row in run():
        print(" | ".join(row))
