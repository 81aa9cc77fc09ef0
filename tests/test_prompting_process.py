"""A credential_process that waits for a person never hangs roletray: it is
stopped after a bounded time and the refresher says it needs input.

The scripts are real processes that block (on /dev/tty when there is one,
else in a sleep); the bound is set to 1 s here instead of 30 s.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsSandbox
from fakes import FakeClock, FakeScheduler

from tray import compose, paths
from tray.aws import sts
from tray.awsfiles import awsconfig
from tray.child import runner
from tray.domain.errors import CredentialProcessTimeoutError
from tray.domain.models import AssumeResult, RefreshState, RoleProfile
from tray.engine import worker
from tray.engine.refresher import Refresher
from tray.settings import Settings


def assume(role: RoleProfile, **kwargs: Any) -> AssumeResult:
    """``sts.assume_role`` with the process environment, which conftest points at moto."""
    return sts.assume_role(role, env=os.environ, **kwargs)


REPO = Path(__file__).resolve().parent.parent


def waiting_source(aws: AwsSandbox, tmp_path: Path) -> tuple[Path, Path]:
    """Profile ``waits`` (source of role ``via-process``) answers with the user's keys,
    unless the file ``block`` exists: then it waits for a person, forever."""
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    block, pid_file = tmp_path / "block", tmp_path / "process.pid"
    script = tmp_path / "ask.py"
    script.write_text(
        "import json, os, sys, time\n"
        f"if os.path.exists({str(block)!r}):\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    try:\n"
        "        open('/dev/tty').readline()  # 'Touch your YubiKey, then press Enter'\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(600)\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {akid!r}, "
        f"'SecretAccessKey': {secret!r}}}))\n")
    aws.write_credentials("")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile waits]\ncredential_process = {sys.executable} {script}\n"
                f"\n[profile via-process]\nrole_arn = {arn}\nsource_profile = waits\n")
    return block, pid_file


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # a zombie waiting for a reaper is gone too


def test_a_waiting_process_is_stopped_after_the_bound(aws: AwsSandbox, tmp_path: Path) -> None:
    block, pid_file = waiting_source(aws, tmp_path)
    role = awsconfig.get_role_profile("via-process", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    factory = sts.make_client_factory(process_timeout=1)
    assert "assumed-role/platform/" in assume(role, client_factory=factory).identity_arn

    block.touch()
    start = time.monotonic()
    with pytest.raises(CredentialProcessTimeoutError) as err:
        assume(role, client_factory=factory)
    assert time.monotonic() - start < 10
    assert str(err.value) == ("credential_process for profile 'waits' did not answer within "
                              "1 s (it may be waiting for you)")
    assert err.value.exit_code == 2 and err.value.input_kind == "process"
    assert gone(int(pid_file.read_text()))  # stopped, not left behind


def test_the_refresher_says_it_needs_input_then_recovers(aws: AwsSandbox, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sts.PROCESS_TIMEOUT_ENV, "1")
    block, _ = waiting_source(aws, tmp_path)
    clock = FakeClock()
    sched = FakeScheduler(clock)
    r = Refresher(compose.in_process(os.environ, now=clock.now, settings=Settings()), sched,
                  monotonic=clock.monotonic, rng=random.Random(2), tick_interval=None)
    r.start()
    assert r.switch("via-process").state is RefreshState.FRESH

    block.touch()
    with pytest.raises(CredentialProcessTimeoutError):
        r.refresh_now()
    snap = r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.input_needed == "process" and snap.input_profile == "waits"
    assert snap.last_error is not None and "did not answer within 1 s" in snap.last_error
    assert json.loads(json.dumps(snap.to_json()))["input_needed"] == "process"

    block.unlink()  # the person answered
    snap = r.refresh_now()
    assert snap.state is RefreshState.FRESH and snap.input_needed is None


def test_the_worker_brings_the_timeout_back_and_stays_bounded(
        aws: AwsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv(sts.PROCESS_TIMEOUT_ENV, "1")
    block, pid_file = waiting_source(aws, tmp_path)
    block.touch()
    start = time.monotonic()
    with pytest.raises(CredentialProcessTimeoutError) as err:
        worker.assume_in_child("via-process", ctx=compose.in_process(os.environ))
    assert time.monotonic() - start < 15  # far below the worker's own 60 s backstop
    assert err.value.kwargs["profile"] == "waits"
    assert gone(int(pid_file.read_text()))
    assert runner.WORKERS.live() == []
