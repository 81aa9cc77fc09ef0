"""The JS SDK v3 through a profile whose config says
``credential_process = roletray credential-process platform``.

``tests/js/whoami.js`` is a long-running node process with one STSClient on the
default provider chain: each line on its stdin makes it call GetCallerIdentity and
print the Arn and the access key id that signed the call. Against moto's server, with
a ``roletray daemon`` process serving the keys, then with an in-process instance on a
FakeClock whose refresh the test moves past (no sleep). Skipped when node, npm or
``tests/js/node_modules`` (``npm ci --prefix tests/js``) are missing.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import ACCOUNT, AwsSandbox
from stsproxy import StsProxy
from test_credential_process import (  # noqa: F401 (a fixture)
    Instance,
    assert_document,
    credproc,
    instance_behind,
    live_world,
    roletray_on_path,
)
from test_daemon import poll_until, spawn  # noqa: F401 (a fixture)

from tray.serve import document

JS = Path(__file__).resolve().parent / "js"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/"


def _why_not() -> str | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "the JS SDK test needs node and npm on PATH (not found)"
    if not (JS / "node_modules" / "@aws-sdk" / "client-sts").is_dir():
        return "tests/js/node_modules is missing: run `npm ci --prefix tests/js`"
    major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                           capture_output=True, text=True, timeout=30, check=False).stdout
    if not major.strip().isdigit() or int(major) < 20:
        return f"the JS SDK v3 needs node 20 or newer (found {major.strip() or 'none'})"
    return None


WHY_NOT = _why_not()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))


class JsClient:
    """``node whoami.js`` as AWS_PROFILE=``profile``; ``call()`` is one GetCallerIdentity."""

    def __init__(self, profile: str | None, env: dict[str, str], stderr: Path) -> None:
        """``profile`` None: the environment as given (``roletray exec``'s child)."""
        self.stderr_path = stderr
        self._stderr = open(stderr, "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            ["node", str(JS / "whoami.js")], cwd=JS,
            env={**env, "AWS_PROFILE": profile} if profile else env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True)

    def call(self, timeout: float = 60.0) -> dict[str, Any]:
        stdin, stdout = self._pipes()
        stdin.write("call\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else ""
        if not line:
            self.close()
            raise AssertionError(f"node gave no answer: {self.stderr_path.read_text()}")
        answer: dict[str, Any] = json.loads(line)
        assert "error" not in answer, answer
        return answer

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._stderr.close()


@pytest.fixture
def js(tmp_path: Path, roletray_on_path: Path) -> Iterator[Any]:  # noqa: F811
    started: list[JsClient] = []

    def start(profile: str = "platform-live", env: dict[str, str] | None = None) -> JsClient:
        client = JsClient(profile, dict(env or os.environ), tmp_path / f"node{len(started)}.err")
        started.append(client)
        return client

    yield start
    for client in started:
        client.close()


def test_js_sdk_gets_the_daemons_served_keys_through_the_profile(
        aws: AwsSandbox, spawn, js) -> None:  # noqa: F811
    live_world(aws)
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        d = spawn(env)
        d.wait_ready()
        client = js(env=env)
        who = client.call()
        again = client.call()
        served = assert_document(credproc("platform").stdout)
        # The key that signed the SDK's calls is the one the daemon serves from memory.
        assert who["Arn"].startswith(ROLE_ARN)
        assert who["AccessKeyId"] == again["AccessKeyId"] == served["AccessKeyId"]
        signed = [c.access_key_id for c in proxy.of("GetCallerIdentity")]
        assert signed == [served["AccessKeyId"]] * 2
        assert len(proxy.of("AssumeRole")) == 1  # the process and credproc: no STS call
    assert aws.credentials_path.read_bytes() == before  # nothing written
    assert str(served["SecretAccessKey"]) not in d.stderr + client.stderr_path.read_text()


@pytest.fixture
def near_end(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[tuple[Instance, StsProxy]]:
    # 57 minutes behind: a served key (an hour by the instance's clock) has 3 real
    # minutes left, inside the JS SDK's 5-minute refresh window, so the long-running
    # node process runs the process again (in the background of a call) and sees
    # whatever the instance hands out by then.
    with instance_behind(aws, monkeypatch, timedelta(minutes=57)) as running:
        yield running


def test_long_running_js_sdk_client_sees_the_new_key_across_a_refresh(
        aws: AwsSandbox, near_end: tuple[Instance, StsProxy], js) -> None:
    live_world(aws)
    aws.enforce()
    inst, proxy = near_end
    # node calls moto itself, on the real clock; the instance's AssumeRole goes
    # through the proxy on the fake one.
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_STS"}
    client = js(env=env)
    first = client.call()
    key = inst.keeper.credentials("platform").access_key_id
    assert first["Arn"].startswith(ROLE_ARN) and first["AccessKeyId"] == key
    assert len(proxy.of("AssumeRole")) == 1

    inst.sched.advance(timedelta(minutes=36))  # past expiration - SERVE_MARGIN
    renewed = inst.keeper.credentials("platform")
    assert renewed.access_key_id != key and len(proxy.of("AssumeRole")) == 2
    assert renewed.expiration - inst.clock.now() > document.MIN_LEFT

    # The same process and client. Its key is inside the SDK's 5-minute window: the
    # next call starts a refresh in the background (the process runs again) and is
    # signed with the old key, still good; a call after that refresh is signed with
    # the new one. Every call works on the way.
    answers: list[dict[str, Any]] = []

    def renewed_key_signs() -> bool:
        answers.append(client.call())
        return answers[-1]["AccessKeyId"] == renewed.access_key_id

    poll_until("a call signed with the renewed key", renewed_key_signs, timeout=30)
    assert all(a["Arn"].startswith(ROLE_ARN) for a in answers)
    assert {a["AccessKeyId"] for a in answers[:-1]} <= {key}
    assert len(proxy.of("AssumeRole")) == 2  # the process was served from memory


def test_js_sdk_reads_roletray_serves_token_path_and_not_after_kill_9(
        aws: AwsSandbox, js, tmp_path: Path) -> None:
    """The token path of ``roletray serve`` (``/proc/PID/fd/N``, a memfd) is one the JS
    SDK's container provider reads (``fs.readFile``); gone after SIGKILL."""
    import signal

    from test_serve_hardening import serving

    live_world(aws)
    aws.enforce()
    with serving() as (proc, exports):
        env = {**os.environ, **exports, "AWS_REGION": "us-east-1",
               "AWS_CONFIG_FILE": str(tmp_path / "none"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
        client = js(profile="nothing-here", env=env)  # no such profile: the container
        who = client.call()
        assert who["Arn"].startswith(ROLE_ARN) and who["AccessKeyId"].startswith("ASIA")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    fresh = js(profile="nothing-here", env=env)
    stdin, stdout = fresh._pipes()
    stdin.write("call\n")
    stdin.flush()
    ready, _, _ = select.select([stdout], [], [], 60)
    assert ready, "node gave no answer"
    answer = json.loads(stdout.readline())
    assert "error" in answer and "Arn" not in answer


def test_js_sdk_works_as_a_permission_set_through_its_section(
        aws: AwsSandbox, js, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: a populated Identity Center permission set, kept in a section by
    `roletray assume`, is what the JS SDK signs with through AWS_PROFILE=<section>."""
    from ssofake import SsoFake
    from test_sso import CONFIG, TOKEN, write_token

    from tray.cli import main

    aws.write_config(CONFIG)
    aws.write_credentials("")
    with SsoFake(valid_tokens={TOKEN}) as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", fake.url)
        write_token("corp")
        assert main(["assume", "sso-dev", "--target", "dev-keys"]) == 0
    who = js("dev-keys").call()
    assert who["AccessKeyId"] == fake.role_keys[0]  # the section's keys signed the call
    assert who["Arn"].startswith("arn:aws:")
