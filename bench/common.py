"""Shared helpers for the benchmarks: a sandbox HOME, moto on loopback, medians."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tray.demo import free_port, post_text


def start_moto() -> tuple[Any, str]:
    """moto's server on a free loopback port, started: (the server, its endpoint URL)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def sandbox_env(folder: Path, endpoint: str) -> dict[str, str]:
    """An environment that points everything at ``folder`` and the local endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Python's default: cache bytecode. awscli, botocore and every other installed package
    # were byte-compiled by pip, and so is an installed roletray; an editable checkout run
    # under PYTHONDONTWRITEBYTECODE=1 would compile ~40 modules from source in every
    # process (~40 ms at start, ~2 MiB kept by a long-running one), a cost no install pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({
        "HOME": str(folder / "home"),
        "XDG_CONFIG_HOME": str(folder / "home" / ".config"),
        "XDG_STATE_HOME": str(folder / "home" / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(folder / "run"),
        "AWS_CONFIG_FILE": str(folder / "home" / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "home" / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    })
    (folder / "home" / ".aws").mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "run").mkdir(exist_ok=True, mode=0o700)
    return env


def seed(folder: Path, endpoint: str) -> str:
    """The seed's world: user dev with keys in [default], role platform trusting dev."""
    import boto3

    # One moto backend per process, shared by every server it starts: bench/run.py runs
    # several benchmarks in one process, each seeding the same user.
    post_text(endpoint + "/moto-api/reset", "")
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    arn = iam.create_role(RoleName="platform", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/dev"}}]}))["Role"]["Arn"]
    aws = folder / "home" / ".aws"
    (aws / "credentials").write_text(f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
                                     f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    os.chmod(aws / "credentials", 0o600)
    (aws / "config").write_text("[default]\nregion = ap-northeast-2\n\n[profile platform]\n"
                                f"role_arn = {arn}\nsource_profile = default\n")
    return str(arn)


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def wait_for_socket(sock: Path, daemon: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until ``daemon`` listens on ``sock``; an exit or a timeout is an error."""
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited {daemon.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon never listened")
        time.sleep(0.05)  # polling for the socket, not timing


def on_xvfb(code: str, prefix: str) -> str | None:
    """The last line ``python -c code`` prints on a virtual display of its own (Xvfb, no
    tray, no notifications); None without PyGObject or Xvfb."""
    import shutil
    import sys

    try:
        import gi  # noqa: F401
    except ImportError:
        return None
    if shutil.which("Xvfb") is None:
        return None
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "tests"))
    from xsession import XSession

    with XSession(Path(tempfile.mkdtemp(prefix=prefix)), tray=False,
                  notifications=False) as xs:
        out = subprocess.run([sys.executable, "-c", code], env=xs.env_with(os.environ),
                             capture_output=True, text=True, timeout=300, check=True)
    return out.stdout.strip().splitlines()[-1]
