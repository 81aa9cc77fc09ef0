"""``python -m tray daemon`` end to end: real processes, moto's server, signals.

Waits poll the control socket or the files with a deadline; nothing sleeps a
fixed time and hopes.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultserver import FaultServer

from tray import compose
from tray.awsfiles import credfile
from tray.engine import actions
from tray.instance import control
from tray.paths import Paths
from tray.state import load_state

REPO = Path(__file__).resolve().parent.parent



def sock() -> Path:
    """The control socket of the environment the test set up."""
    return control.socket_path(Paths.from_env(os.environ))


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def poll_until(what: str, pred: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)  # a polling interval, not a timing assumption


class Daemon:
    def __init__(self, tmp: Path, env: dict[str, str] | None = None, name: str = "d") -> None:
        self.env = {**(env or os.environ), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.stderr_path = tmp / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "tray", "daemon"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.stderr}")
            return control.send("status", {}, timeout=5, where=here())

        return poll_until("the daemon's control socket", ready)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self._stderr.close()
        return rc, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(env: dict[str, str] | None = None, name: str = "d") -> Daemon:
        d = Daemon(tmp_path, env, name)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def status() -> dict[str, Any]:
    reply = control.send("status", {}, timeout=10, where=here())
    assert reply is not None and reply["ok"], reply
    return reply["snapshot"]  # type: ignore[no-any-return]


def fresh_status() -> dict[str, Any] | None:
    snap = status()
    return snap if snap["state"] == "fresh" else None


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tray", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def test_daemon_refreshes_takes_hand_overs_stops_and_resumes(aws, spawn) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    other = aws.create_role("other", trust_principal=aws.user_arn())
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile other]\nrole_arn = {other}\nsource_profile = default\n")
    aws.enforce()
    first = actions.assume("platform", ctx=compose.in_process(os.environ)).result.credentials.access_key_id
    credfile.remove_credentials(aws.credentials_path, "roletray")  # so a refresh is due

    d = spawn()
    d.wait_ready()
    snap = poll_until("the resumed refresh", lambda: fresh_status())
    assert snap["role"] == "platform"
    owned = credfile.read_owned(aws.credentials_path, "roletray")
    assert owned is not None and owned.access_key_id != first
    assert 3500 < snap["seconds_left"] <= 3600

    # Hand-over through the socket: synchronous, so "within 2 s" is the call itself.
    start = time.monotonic()
    reply = control.send("assume", {"profile": "other", "target": None, "duration": None,
                                    "mfa_code": None, "force": False}, where=here())
    assert time.monotonic() - start < 2.0
    assert reply is not None and reply["ok"], reply
    assert reply["snapshot"]["role"] == "other"
    assert credfile.owned_role(aws.credentials_path, "roletray") == "other"
    assert load_state(Paths.from_env(os.environ)).active_role == "other"  # type: ignore[union-attr]

    # ... and through the CLI, which finds the running instance by itself.
    cli = run_cli("assume", "platform", "--json")
    assert cli.returncode == 0, cli.stderr
    assert '"role": "platform"' in cli.stdout
    assert status()["role"] == "platform"  # the daemon already knows
    cli = run_cli("status", "--json")
    assert cli.returncode == 0 and '"state": "fresh"' in cli.stdout

    key = credfile.read_owned(aws.credentials_path, "roletray").access_key_id  # type: ignore[union-attr]
    rc, took = d.stop(signal.SIGTERM)
    assert rc == 0 and took < 5.0, d.stderr
    assert not sock().exists()
    assert control.send("status", {}, where=here()) is None
    log_file = Paths.from_env(os.environ).log_dir / "roletray.log"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    log_text = log_file.read_text()
    assert "refreshing platform" in log_text and "stopping on SIGTERM" in log_text
    text = aws.credentials_path.read_text()
    secret = [ln for ln in text.splitlines() if ln.startswith("aws_secret_access_key")][-1]
    assert secret.split("=", 1)[1].strip() not in log_text + d.stderr

    # Restarted, it resumes the active role from state; not due, so no AssumeRole.
    d2 = spawn(name="d2")
    snap = d2.wait_ready()["snapshot"]
    assert snap["role"] == "platform" and snap["state"] == "fresh"
    assert credfile.read_owned(aws.credentials_path, "roletray").access_key_id == key  # type: ignore[union-attr]
    rc, took = d2.stop(signal.SIGINT)
    assert rc == 0 and took < 5.0, d2.stderr


def test_a_second_daemon_exits_2_naming_the_first(spawn) -> None:  # type: ignore[no-untyped-def]
    d = spawn()
    assert d.wait_ready()["snapshot"]["state"] == "idle"
    second = run_cli("daemon")
    assert second.returncode == 2
    assert f"already running (pid {d.proc.pid})" in second.stderr
    assert control.send("status", {}, where=here()) is not None  # the first one is unharmed
    rc, _ = d.stop()
    assert rc == 0


def test_sts_errors_then_recovery_in_the_daemon(aws, spawn, moto_url: str) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    first = actions.assume("platform", ctx=compose.in_process(os.environ)).result.credentials.access_key_id
    with FaultServer("500", upstream=moto_url, lifetime=90) as srv:
        d = spawn({**os.environ, "AWS_ENDPOINT_URL_STS": srv.url})
        assert d.wait_ready()["snapshot"]["state"] == "fresh"  # resumed; nothing due
        assert srv.requests == 0

        reply = control.send("refresh", {"mfa_code": None}, where=here())
        assert reply is not None and reply["ok"] is False and reply["exit_code"] == 1
        assert "HTTP 500" in reply["error"]
        snap = status()
        assert snap["state"] == "retrying" and "HTTP 500" in snap["last_error"]
        assert credfile.read_owned(aws.credentials_path, "roletray").access_key_id == first  # type: ignore[union-attr]

        srv.mode = "proxy"  # STS is back: the next retry (5 s with jitter) succeeds
        poll_until("recovery", lambda: status()["state"] == "fresh", timeout=20)
        assert status()["last_error"] is None
        assert set(srv.actions) == {"AssumeRole"}
        assert credfile.read_owned(aws.credentials_path, "roletray").access_key_id != first  # type: ignore[union-attr]
        rc, _ = d.stop()
        assert rc == 0


def test_sigterm_does_not_wait_for_a_hanging_sts(aws, spawn) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    actions.assume("platform", ctx=compose.in_process(os.environ))
    with FaultServer("hang", lifetime=60) as srv:
        d = spawn({**os.environ, "AWS_ENDPOINT_URL_STS": srv.url})
        d.wait_ready()
        replies: list[Any] = []
        t = threading.Thread(target=lambda: replies.append(
            control.send("refresh", {}, timeout=30, where=here())), daemon=True)
        t.start()
        poll_until("the request to reach the hanging server", lambda: srv.requests >= 1)
        rc, took = d.stop(signal.SIGTERM)
        assert rc == 0 and took < 6.0, d.stderr
        assert "a refresh was still in flight" in d.stderr
        t.join(10)
    assert replies and (replies[0] is None or replies[0]["ok"] is False)
