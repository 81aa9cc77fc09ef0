"""AssumeRole in a child process: same results and errors as in-process, bounded, killable."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from fakes import gone
from faultserver import FaultServer
from stsproxy import StsProxy

from tray import compose
from tray.awsfiles import credfile
from tray.child import runner
from tray.domain import errors
from tray.domain.errors import (
    AccessDeniedError,
    EndpointError,
    MfaRequiredError,
    NeedsInputError,
    RoletrayError,
)
from tray.domain.mfa import MfaSession
from tray.domain.problems import input_profile
from tray.engine import worker
from tray.paths import Paths
from tray.state import load_state

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def test_the_child_assumes_writes_and_reports_back(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    out = worker.assume_in_child("platform", ctx=compose.in_process(os.environ))
    assert out.role.name == "platform" and out.target == "roletray"
    assert out.region == "ap-northeast-2" and out.warnings == ()
    assert out.result.identity_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    assert out.result.server_date is not None  # for the clock-skew check
    owned = credfile.read_owned(aws.credentials_path, "roletray")
    assert owned == out.result.credentials  # the keys came back through the file
    state = load_state(Paths.from_env(os.environ))
    assert state is not None and state.active_role == "platform"
    assert runner.WORKERS.live() == []


def test_errors_come_back_as_the_same_classes(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n"
                f"\n[profile guarded]\nrole_arn = {locked}\nsource_profile = default\n"
                f"mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev\n")
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    with pytest.raises(AccessDeniedError) as denied:
        worker.assume_in_child("locked", ctx=compose.in_process(os.environ))
    assert denied.value.exit_code == 1 and "the trust policy of role" in str(denied.value)
    with pytest.raises(MfaRequiredError) as mfa:
        worker.assume_in_child("guarded", ctx=compose.in_process(os.environ))
    assert isinstance(mfa.value, NeedsInputError) and "needs an MFA code" in str(mfa.value)
    assert input_profile(mfa.value) == "guarded" and not hasattr(mfa.value, "mfa_session")
    with pytest.raises(errors.UnknownProfileError):
        worker.assume_in_child("nope", ctx=compose.in_process(os.environ))
    assert aws.credentials_path.read_bytes() == before


def test_a_hanging_call_is_bounded_and_the_child_killed(aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    with FaultServer("hang", lifetime=30) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        start = time.monotonic()
        with pytest.raises(EndpointError, match="did not finish within 2 s"):
            worker.assume_in_child("platform", ctx=compose.in_process(os.environ), timeout=2.0)
        assert time.monotonic() - start < 5
    assert runner.WORKERS.live() == []


def test_terminate_children_ends_a_refresh_in_flight_and_codes_stay_off_argv(
        aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile guarded]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/platform\n"
                f"source_profile = default\nmfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev\n")
    with FaultServer("hang", lifetime=30) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                worker.assume_in_child("guarded", mfa_code="902817", ctx=compose.in_process(os.environ))
            except RoletrayError as e:
                failures.append(e)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 15
        while srv.requests < 1:  # poll until the child is talking to the server
            assert time.monotonic() < deadline, "the child never called STS"
            time.sleep(0.05)
        [child] = runner.WORKERS.live()
        cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes()
        assert b"902817" not in cmdline and b"tray.worker_main" in cmdline
        assert worker.terminate_children() == 1
        t.join(5)
        assert not t.is_alive()
    assert failures and "exited" in str(failures[0])
    assert srv.forms[0].get("TokenCode") == "902817"  # it did go to STS, by stdin


def test_a_session_started_before_a_denial_comes_back_on_the_error(
        aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The code is spent on GetSessionToken; AssumeRole then fails: the parent must still
    get the session, as a typed field of the error it rebuilds."""
    akid, secret = aws.create_user("dev")
    aws.create_role("guarded", trust_principal=aws.user_arn("dev"))
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/dev"
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    aws.write_config("[default]\nregion = us-east-1\n\n"
                     f"[profile guarded]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/guarded\n"
                     f"source_profile = default\nmfa_serial = {serial}\n")
    with StsProxy(aws.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        proxy.fail("AssumeRole", "AccessDenied", "not authorized to perform sts:AssumeRole")
        kept: list[MfaSession] = []
        with pytest.raises(AccessDeniedError) as denied:
            worker.assume_in_child("guarded", ctx=compose.in_process(os.environ), mfa_code="902817",
                                   mfa_session_hours=12, on_mfa_session=kept.append)
        assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    [session] = kept
    assert isinstance(session, MfaSession) and session.key == ("default", serial)
    assert session.credentials.secret_access_key  # the keys came back through the pipe
    assert session.credentials.secret_access_key not in str(denied.value)



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stopping_ends_the_source_helper_and_its_children_too(
        aws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Stopping the instance mid-refresh used to leave the credential_process helper's own
    children behind, with PPID 1 (issue 25, Low 7): the worker's whole group goes now."""
    pids = tmp_path / "pids"
    helper = tmp_path / "helper.py"
    helper.write_text("import os, subprocess, time\n"
                      "sleeper = subprocess.Popen(['sleep', '60'])\n"
                      f"open({str(pids)!r} + '.part', 'w').write(f'{{os.getpid()}} {{sleeper.pid}}')\n"
                      f"os.rename({str(pids)!r} + '.part', {str(pids)!r})\n"
                      "time.sleep(60)\n")
    aws.seed_world()
    aws.write_config(aws.config_path.read_text().replace("source_profile = default",
                                                         "source_profile = proc")
                     + f"\n[profile proc]\ncredential_process = {sys.executable} {helper}\n")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            worker.assume_in_child("platform", ctx=compose.in_process(os.environ))
        except RoletrayError as e:
            failures.append(e)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while not pids.exists():  # poll until the helper runs
        assert time.monotonic() < deadline, "the worker never ran the helper"
        time.sleep(0.05)
    assert worker.terminate_children() == 1
    t.join(10)
    assert not t.is_alive() and failures and "exited" in str(failures[0])
    for pid in map(int, pids.read_text().split()):
        assert gone(pid), f"pid {pid} outlived the stop"


