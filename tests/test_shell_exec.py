"""``roletray exec PROFILE -- CMD``: CMD is the role, for as long as it runs.

Against moto's server, with the seed's long-term user keys in ``[default]`` of the
credentials file (botocore reads that file before the container provider). The aws
CLI, boto3 and (tests/test_js_sdk.py's node client) the JS SDK are the children. The
refresh test runs the endpoint in-process on a FakeClock 57 minutes behind the real
one (through ``StsProxy``), so a child judging expiry by the real clock asks again on
every call, and moves the clock 70 minutes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import AwsSandbox
from fakes import FakeClock, FakeScheduler
from stsproxy import StsProxy
from test_credential_process import Instance, roletray_on_path  # noqa: F401 (a fixture)
from test_daemon import spawn  # noqa: F401 (a fixture)

from tray import compose
from tray.domain.models import utcnow
from tray.paths import Paths
from tray.shell import childenv, runner

REPO = Path(__file__).resolve().parent.parent
ROLE = ":assumed-role/platform/"

# A long-running boto3 client: each line on stdin is one GetCallerIdentity; it prints the
# Arn, the key that signed it, and how botocore found its keys.
BOTO3_CHILD = """
import json, os, sys, boto3
session = boto3.Session()
sts = session.client("sts")
print(json.dumps({"ready": True}), flush=True)
for _ in sys.stdin:
    who = sts.get_caller_identity()
    creds = session.get_credentials()
    print(json.dumps({"arn": who["Arn"], "key": creds.get_frozen_credentials().access_key,
                      "method": creds.method, "region": session.region_name}), flush=True)
"""

# Reports each signal it gets; exits 3 on SIGTERM.
SIGNAL_CHILD = """
import os, signal, sys
def got(signum, frame):
    print(signal.Signals(signum).name, flush=True)
    if signum == signal.SIGTERM:
        sys.exit(3)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, got)
print("ready", os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
      os.environ.get("AWS_SHARED_CREDENTIALS_FILE", ""), flush=True)
while True:
    signal.pause()
"""


def roletray(*args: str, env: dict[str, str] | None = None, **kw: Any
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tray", *args],
                          env={**(env or os.environ), "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL, **kw)


def aws_cli() -> str:
    import shutil

    return shutil.which("aws") or str(Path(sys.executable).with_name("aws"))


def user_everywhere(aws: AwsSandbox) -> dict[str, str]:
    """The user's keys in [default] of both files, and every variable that names them."""
    aws.seed_world()
    akid, secret = aws.users["dev"]
    config = aws.config_path.read_text().replace(
        "[default]\n", f"[default]\naws_access_key_id = {akid}\n"
        f"aws_secret_access_key = {secret}\n", 1)
    aws.write_config(config)
    aws.enforce()
    return {**os.environ, "AWS_PROFILE": "default", "AWS_DEFAULT_PROFILE": "default",
            "AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret}


# ------------------------------------------------------------------ who the child is

def test_the_aws_cli_and_boto3_are_the_role_despite_the_users_keys(aws: AwsSandbox) -> None:
    env = user_everywhere(aws)
    before = (aws.credentials_path.read_bytes(), aws.config_path.read_bytes())
    cli = roletray("exec", "platform", "--", aws_cli(), "sts", "get-caller-identity",
                   "--output", "json", env=env)
    assert cli.returncode == 0, cli.stderr
    assert ROLE in json.loads(cli.stdout)["Arn"]

    code = ("import boto3, json, os; s = boto3.Session(); print(json.dumps({"
            "'arn': s.client('sts').get_caller_identity()['Arn'], "
            "'method': s.get_credentials().method, 'region': s.region_name, "
            "'role': os.environ['ROLETRAY_ROLE'], "
            "'profile': os.environ.get('AWS_PROFILE')}))")
    py = roletray("exec", "platform", "--", sys.executable, "-c", code, env=env)
    assert py.returncode == 0, py.stderr
    seen = json.loads(py.stdout)
    assert ROLE in seen["arn"] and seen["method"] == "container-role"
    assert (seen["region"], seen["role"], seen["profile"]) == ("ap-northeast-2", "platform",
                                                               None)
    assert (aws.credentials_path.read_bytes(), aws.config_path.read_bytes()) == before
    assert not list(Paths.from_env(os.environ).runtime_dir.glob("exec-*"))  # cleaned up


def test_the_child_keeps_the_config_when_its_default_gives_no_keys(aws: AwsSandbox) -> None:
    aws.seed_world()  # [default] of the config: region and output only
    aws.enforce()
    code = "import os; print(os.environ.get('AWS_CONFIG_FILE', ''))"
    out = roletray("exec", "platform", "--", sys.executable, "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == os.environ.get("AWS_CONFIG_FILE", "")


def test_env_flag_gives_plain_keys_and_their_expiration(aws: AwsSandbox) -> None:
    env = user_everywhere(aws)
    code = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in ("
            "'AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION', "
            "'AWS_REGION', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', "
            "'AWS_CONTAINER_CREDENTIALS_FULL_URI')}))")
    out = roletray("exec", "platform", "--env", "--", sys.executable, "-c", code, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["AWS_ACCESS_KEY_ID"].startswith("ASIA") and seen["AWS_SESSION_TOKEN"]
    assert seen["AWS_CREDENTIAL_EXPIRATION"].endswith("Z")
    assert seen["AWS_REGION"] == "ap-northeast-2"
    assert seen["AWS_PROFILE"] is seen["AWS_DEFAULT_PROFILE"] is None
    assert seen["AWS_CONTAINER_CREDENTIALS_FULL_URI"] is None
    cli = roletray("exec", "platform", "--env", "--", aws_cli(), "sts", "get-caller-identity",
                   "--output", "json", env=env)
    assert cli.returncode == 0 and ROLE in json.loads(cli.stdout)["Arn"], cli.stderr


def test_with_a_daemon_running_the_child_gets_its_served_keys(
        aws: AwsSandbox, spawn) -> None:  # noqa: F811
    aws.seed_world()
    aws.enforce()
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        spawn(env).wait_ready()
        code = ("import boto3; print(boto3.Session().get_credentials()"
                ".get_frozen_credentials().access_key)")
        keys = [roletray("exec", "platform", "--", sys.executable, "-c", code, env=env)
                for _ in range(2)]
        assert [k.returncode for k in keys] == [0, 0], keys[0].stderr
        assert keys[0].stdout == keys[1].stdout  # the daemon's, from memory
        assert len(proxy.of("AssumeRole")) == 1


# ------------------------------------------------------------------ status and signals

def test_the_exit_status_is_cmds(aws: AwsSandbox) -> None:
    aws.seed_world()
    assert roletray("exec", "platform", "--", "sh", "-c", "exit 7").returncode == 7
    assert roletray("exec", "platform", "--", "sh", "-c", "kill -TERM $$").returncode == 143
    missing = roletray("exec", "platform", "--", "no-such-command-here")
    assert missing.returncode == 127 and "no-such-command-here" in missing.stderr
    unknown = roletray("exec", "nope", "--", "true")
    assert unknown.returncode == 2 and "'nope'" in unknown.stderr
    assert len(unknown.stderr.splitlines()) == 1
    bare = roletray("exec", "platform")
    assert bare.returncode == 2 and "--" in bare.stderr


class Running:
    """``roletray exec platform -- python -c SIGNAL_CHILD``, read line by line."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tray", "exec", "platform", "--", sys.executable, "-c",
             SIGNAL_CHILD], env={**(env or os.environ), "PYTHONPATH": str(REPO)},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)

    def line(self, timeout: float = 60) -> str:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        assert ready, "the child said nothing"
        return out.readline().strip()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@contextmanager
def running(env: dict[str, str] | None = None) -> Iterator[Running]:
    r = Running(env)
    try:
        yield r
    finally:
        r.close()


def test_signals_are_passed_on_and_no_secret_is_in_any_argv(aws: AwsSandbox) -> None:
    aws.seed_world()
    aws.enforce()
    secret = aws.users["dev"][1]
    with running() as r:
        ready, token_file, creds_file = r.line().split(" ")
        assert ready == "ready"
        token = Path(token_file).read_text()
        assert Path(token_file).stat().st_mode & 0o777 == 0o600
        assert Path(creds_file).read_text() == "" and creds_file != str(aws.credentials_path)
        # Every process's argv, this test's own included: no token, no key.
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes()
            except OSError:
                continue  # gone since
            assert token.encode() not in argv and secret.encode() not in argv, cmdline
        for signum, name in ((signal.SIGINT, "SIGINT"), (signal.SIGHUP, "SIGHUP"),
                             (signal.SIGTERM, "SIGTERM")):
            r.proc.send_signal(signum)
            assert r.line() == name
        assert r.proc.wait(30) == 3
        assert r.proc.stderr is not None and "Traceback" not in r.proc.stderr.read()
    assert not Path(token_file).exists() and not Path(creds_file).exists()


def test_a_terminals_ctrl_c_reaches_cmd_once(aws: AwsSandbox) -> None:
    """Ctrl-C goes to the terminal's whole foreground group, CMD included: ``exec`` must
    not send it a second time (terraform gives up at once on a second one)."""
    import pty

    aws.seed_world()
    aws.enforce()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own, the pty its terminal
        os.execve(sys.executable, [sys.executable, "-m", "tray", "exec", "platform", "--",
                                   sys.executable, "-c", SIGNAL_CHILD], env)
    try:
        seen = b""

        def read_until(word: bytes) -> None:
            nonlocal seen
            while word not in seen:
                ready, _, _ = select.select([fd], [], [], 60)
                assert ready, f"no {word!r} in {seen!r}"
                seen += os.read(fd, 4096)

        read_until(b"ready")
        os.write(fd, b"\x03")  # the terminal's Ctrl-C
        read_until(b"SIGINT")
        os.kill(pid, signal.SIGTERM)  # a process's: passed on, and after any second INT
        read_until(b"SIGTERM")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3
        assert seen.count(b"SIGINT") == 1, seen
    finally:
        with_suppress_kill(pid)
        os.close(fd)


def with_suppress_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


# ------------------------------------------------------------------ past the first keys

class Boto3Child:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", BOTO3_CHILD], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert json.loads(self._line())["ready"]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise AssertionError(self.proc.stderr.read() if self.proc.stderr else "")
        return line

    def call(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("call\n")
        self.proc.stdin.flush()
        return json.loads(self._line())  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@contextmanager
def endpoint_behind(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, *, instance: bool
                    ) -> Iterator[tuple[runner.ExecEndpoint, dict[str, str], FakeClock,
                                        FakeScheduler, StsProxy]]:
    """``exec``'s endpoint on a FakeClock 57 minutes behind: its keys (an hour by that
    clock) have 3 real minutes left, so a child asks again on every call. ``instance``:
    a running instance (in-process, on the same clock) serves them; else exec's own
    keeper. Yields the endpoint, the child's environment, the clock, the scheduler
    that keeps the role, and the proxy."""
    clock = FakeClock(utcnow().replace(microsecond=0) - timedelta(minutes=57))
    with StsProxy(aws.url, clock=clock) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        monkeypatch.setenv("PYTHONPATH", str(REPO))
        ctx = compose.in_process(dict(os.environ), now=clock.now)
        own = FakeScheduler(clock)
        inst = Instance(clock) if instance else None
        if inst is not None:
            inst.server.start()
        ep = runner.ExecEndpoint(runner.role_of("platform", ctx), ctx, scheduler=own)
        try:
            ep.first_keys(lambda profile: "000000")
            env = ep.start()
            yield ep, env, clock, inst.sched if inst else own, proxy
        finally:
            ep.close()
            if inst is not None:
                inst.server.stop()


@pytest.mark.parametrize("instance", [False, True], ids=["own-keeper", "instance"])
def test_a_long_running_child_picks_up_refreshed_keys_past_the_first_expiry(
        aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, instance: bool) -> None:
    aws.seed_world()
    aws.enforce()
    with endpoint_behind(aws, monkeypatch, instance=instance) as (ep, env, clock, sched,
                                                                    proxy):
        child = Boto3Child(env)
        try:
            first = child.call()
            assert ROLE in first["arn"] and first["method"] == "container-role"
            assert first["region"] == "ap-northeast-2"
            assert len(proxy.of("AssumeRole")) == 1

            sched.advance(timedelta(minutes=70))  # past the first keys' end
            assert clock.now() > utcnow()  # by the fake clock, the first keys are gone
            renewed = ep.keys_for("platform")
            assert renewed.access_key_id != first["key"]
            assert len(proxy.of("AssumeRole")) >= 2

            later = child.call()  # the same process and client
            assert ROLE in later["arn"] and later["key"] == renewed.access_key_id
            signed = [c.access_key_id for c in proxy.of("GetCallerIdentity")]
            assert signed == [first["key"], renewed.access_key_id]
        finally:
            child.close()


def test_childenv_drops_every_steering_variable() -> None:
    env = {name: "x" for name in childenv.STEERING} | {"HOME": "/h", "PATH": "/bin"}
    child = childenv.container_env(env, "http://127.0.0.1:1/role/p", "/t", region=None)
    assert set(child) == {"HOME", "PATH", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", childenv.ROLE_VAR}
    assert child["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://127.0.0.1:1/role/p"
    assert childenv.gives_keys({"credential_process": "x"})
    assert not childenv.gives_keys({"region": "eu-west-1", "output": "json"})


def test_a_long_running_js_sdk_child_is_the_role_and_picks_up_refreshed_keys(
        aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from test_daemon import poll_until
    from test_js_sdk import WHY_NOT, JsClient

    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    aws.seed_world()
    aws.enforce()
    with endpoint_behind(aws, monkeypatch, instance=False) as (ep, env, _clock, sched, _):
        # node calls moto itself, on the real clock; the keeper's AssumeRole goes
        # through the proxy on the fake one.
        env = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL_STS"}
        client = JsClient(None, env, tmp_path / "node.err")
        try:
            first = client.call()
            key = ep.keys_for("platform").access_key_id
            assert ROLE in first["Arn"] and first["AccessKeyId"] == key  # not the user

            sched.advance(timedelta(minutes=70))
            renewed = ep.keys_for("platform").access_key_id
            assert renewed != key
            answers: list[dict[str, Any]] = []

            def a_refreshed_key_signs() -> bool:
                # Not necessarily the latest: a refresh the SDK started in the background
                # of the first call may have ended between the two the clock went past,
                # with keys that are good for another 38 minutes.
                answers.append(client.call())
                return answers[-1]["AccessKeyId"] != key

            poll_until("a call signed with a refreshed key", a_refreshed_key_signs, timeout=30)
            assert all(ROLE in a["Arn"] for a in answers)
        finally:
            client.close()
