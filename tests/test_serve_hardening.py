"""``roletray serve`` under hostile clients, and its token after any stop (issue 25, Medium 3).

The endpoint runs in a child process (its threads and memory are read from
``/proc/PID/status``), on loopback, and stops when the test closes its stdin. The
token part runs ``roletray serve`` itself against moto's server and stops it with
SIGKILL, as the issue's reviewer did.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import botocore.session
import pytest
from conftest import AwsSandbox
from test_credential_process import REPO, live_world

from tray.paths import Paths
from tray.serve import container, tokenfile

TOKEN = "flood-test-token"
FLOOD = 200
DEADLINE = 2.0  # seconds: the endpoint's whole-request deadline in these tests

# The endpoint in a process of its own: prints its port, serves until stdin closes.
ENDPOINT = f"""
import inspect, sys
from datetime import UTC, datetime, timedelta
from tray.domain.models import TempCredentials
from tray.serve.container import ContainerEndpoint

keys = TempCredentials("ASIAFLOOD0000000001", "flood-secret", "flood-session",
                       datetime.now(UTC) + timedelta(hours=1))
# (the endpoint before issue 25 had no deadline: only a timeout per read, of 10 s)
kw = {{"deadline": {DEADLINE}}} if "deadline" in inspect.signature(ContainerEndpoint).parameters \\
    else {{}}
ep = ContainerEndpoint(lambda profile: keys, {{"platform"}}, {TOKEN!r},
                       now=lambda: datetime.now(UTC), **kw).start()
print(ep.port, flush=True)
sys.stdin.read()
ep.stop()
"""


class Endpoint:
    def __init__(self, stderr: Path) -> None:
        self._err = open(stderr, "wb")  # noqa: SIM115 (closed in close())
        self.stderr_path = stderr
        self.proc = subprocess.Popen([sys.executable, "-c", ENDPOINT], cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "the endpoint did not start"
        self.port = int(self.proc.stdout.readline())

    def status(self) -> dict[str, int]:
        """Threads and VmRSS (KiB) of the endpoint's process."""
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.proc.pid}/status").read_text().splitlines())
        return {"threads": int(fields["Threads"]), "rss": int(fields["VmRSS"].split()[0])}

    def stop(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(15)
        self._err.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    ep = Endpoint(tmp_path / "endpoint.err")
    yield ep
    ep.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def good_request(port: int) -> tuple[int, bytes]:
    """A request with the token: (status, the whole answer)."""
    with connect(port) as s:
        s.sendall(f"GET /role/platform HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Authorization: {TOKEN}\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def ended(sock: socket.socket, timeout: float) -> bool:
    """Whether the server ended the connection (EOF or reset) within ``timeout``."""
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return False
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def reset(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as a client that crashes does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ------------------------------------------------------------------ the flood

def test_two_hundred_trickling_connections_cost_bounded_threads_and_memory(
        endpoint: Endpoint) -> None:
    before = endpoint.status()
    flood = [connect(endpoint.port) for _ in range(FLOOD)]
    try:
        for s in flood:  # each starts a request and trickles a byte more: never ending it
            with suppress(OSError):
                s.sendall(b"GET /role/platform HTTP/1.1\r\n")
        for s in flood:
            with suppress(OSError):
                s.sendall(b"X")
        # A client with the token is answered meanwhile (and, connecting after the
        # flood, proves the flood was accepted: the backlog is first in, first out).
        started = time.monotonic()
        status, answer = good_request(endpoint.port)
        assert status == 200 and b"ASIAFLOOD0000000001" in answer
        assert time.monotonic() - started < DEADLINE
        during = endpoint.status()
        # one thread reads, WORKERS answer, the main thread waits: not one per connection
        assert during["threads"] <= 2 + container.WORKERS, during
        assert during["rss"] - before["rss"] < 16 * 1024, (before, during)  # KiB
        # Every trickling connection ends by the deadline (or sooner: one past the
        # cap closes the oldest waiting one), by EOF or by reset.
        give_up = time.monotonic() + DEADLINE + 20
        left = list(flood)
        while left and time.monotonic() < give_up:
            left = [s for s in left if not ended(s, 0.5)]
        assert not left, f"{len(left)} of {FLOOD} connections still open"
    finally:
        for s in flood:
            s.close()
    assert endpoint.stop() == 0
    assert endpoint.stderr_path.read_text() == ""


def test_the_deadline_is_for_the_whole_request_not_for_each_read(endpoint: Endpoint) -> None:
    with connect(endpoint.port) as s:
        s.sendall(b"GET /role/platform HTTP/1.1\r\n")
        opened = time.monotonic()
        closed = False
        while not closed and time.monotonic() < opened + DEADLINE + 10:
            with suppress(OSError):
                s.sendall(b"X")  # a byte every quarter second: no read ever times out
            closed = ended(s, 0.25)
        assert closed, "a trickling client kept its connection past the deadline"
        assert time.monotonic() - opened < DEADLINE + 5


def test_a_head_past_the_cap_is_refused_before_the_token_check(endpoint: Endpoint) -> None:
    with connect(endpoint.port) as s:
        with suppress(OSError):
            s.sendall(b"GET /role/platform HTTP/1.1\r\nX-Pad: " + b"a" * container.MAX_HEAD)
        data = b""
        with suppress(ConnectionResetError):
            while chunk := s.recv(4096):
                data += chunk
    assert data == b"" or data.startswith(b"HTTP/1.1 431 ")
    assert good_request(endpoint.port)[0] == 200


def test_clients_that_hang_up_print_nothing(endpoint: Endpoint) -> None:
    port = endpoint.port
    connect(port).close()  # connects and goes
    s = connect(port)
    s.sendall(b"GET /role/platform HTTP/1.1\r\nHost: 127.0")
    reset(s)  # mid-request
    for _ in range(5):
        s = connect(port)
        s.sendall(f"GET /role/platform HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Authorization: {TOKEN}\r\n\r\n".encode())
        reset(s)  # before the answer
    s = connect(port)
    s.sendall(b"POST / HTTP/1.1\r\n\r\n")
    s.close()
    assert good_request(port)[0] == 200
    assert endpoint.stop() == 0
    err = endpoint.stderr_path.read_text()
    assert err == "", err


# ------------------------------------------------------------------ the token

@contextmanager
def serving(profile: str = "platform") -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``roletray serve PROFILE`` in a session of its own; its two exports."""
    proc = subprocess.Popen([sys.executable, "-m", "tray", "serve", profile],
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        assert all(ln.startswith("export ") for ln in lines), (lines, proc.stderr)
        yield proc, dict(ln.removeprefix("export ").split("=", 1) for ln in lines)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # it and its worker child
        proc.wait(10)


def botocore_keys(exports: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> str:
    """The access key botocore's container provider gets with ``exports``."""
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    creds = botocore.session.Session().get_credentials()
    assert creds is not None and creds.method == "container-role"
    return str(creds.get_frozen_credentials().access_key)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and memfd")
def test_after_kill_9_the_token_cannot_be_read_and_a_port_squatter_gets_nothing(
        aws: AwsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live_world(aws)
    aws.enforce()
    with serving() as (proc, exports):
        token_file = Path(exports["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
        token = token_file.read_text()  # another process of the user reads it
        assert len(token) >= 32 and token_file.stat().st_mode & 0o777 == 0o600
        assert botocore_keys(exports, tmp_path, monkeypatch).startswith("ASIA")
        runtime = Paths.from_env(os.environ).runtime_dir  # no token on disk
        assert not [p for p in runtime.rglob("*") if p.is_file() and token in
                    p.read_text(errors="replace")]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    with pytest.raises(OSError):  # gone with the process: nothing was left to remove
        token_file.read_text()

    # Another local user binds the freed port: the user's SDKs send it nothing.
    port = int(exports["AWS_CONTAINER_CREDENTIALS_FULL_URI"].split(":")[2].split("/")[0])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen(8)
    squatter.settimeout(0.5)
    try:
        with pytest.raises(FileNotFoundError):  # botocore reads the path before it sends
            botocore_keys(exports, tmp_path, monkeypatch)
        received = b""
        with suppress(TimeoutError):
            while True:
                conn, _ = squatter.accept()
                with conn:
                    conn.settimeout(1)
                    with suppress(OSError):
                        received += conn.recv(65536)
        assert token.encode() not in received
    finally:
        squatter.close()


def test_a_stopped_serve_leaves_no_token_and_stale_files_are_removed(
        tmp_path: Path) -> None:
    folder = tmp_path / "serve-run"
    folder.mkdir(mode=0o700)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = folder / f"serve-{int(dead.stdout)}.token"  # a version before the memfd
    stale.write_text("old-token")
    made = tokenfile.publish(folder)
    try:
        assert not stale.exists()
        assert made.path.read_text() == made.token
        assert str(made.token) not in str(made.path)
    finally:
        made.close()
    with pytest.raises(OSError):
        made.path.read_text()


def test_the_aws_cli_reads_the_token_path(aws: AwsSandbox, tmp_path: Path) -> None:
    import json
    import shutil

    live_world(aws)
    aws.enforce()
    exe = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    with serving() as (_proc, exports):
        env = {**os.environ, **exports, "AWS_CONFIG_FILE": str(tmp_path / "none"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
               "AWS_DEFAULT_REGION": "us-east-1"}
        env.pop("AWS_PROFILE", None)
        who = subprocess.run([exe, "sts", "get-caller-identity", "--output", "json"],
                             env=env, capture_output=True, text=True, timeout=60, check=False,
                             stdin=subprocess.DEVNULL)
    assert who.returncode == 0, who.stderr
    assert ":assumed-role/platform/" in json.loads(who.stdout)["Arn"]
