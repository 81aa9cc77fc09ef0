"""MFA sessions against moto's server: one code (GetSessionToken) for a day of AssumeRoles.

What moto does, and where it differs from AWS (the tests are written to moto):
- GetSessionToken accepts SerialNumber and TokenCode but never checks them, and
  always answers the same example keys (``AKIAIOSFODNN7EXAMPLE``; AWS gives
  ``ASIA...`` keys). A wrong code is therefore scripted by ``StsProxy``, with
  AWS's own error text.
- With enforcement on, moto refuses any call signed by those keys
  (``InvalidClientTokenId``); AWS accepts them, and the caller of AssumeRole is
  then the user, with ``aws:MultiFactorAuthPresent`` true. So the session flow
  runs with enforcement off, and enforcement on plays "AWS no longer accepts
  the session".
- moto does not evaluate ``aws:MultiFactorAuthPresent`` at all.

Time: ``StsProxy`` puts moto's Expirations and Date on the test's FakeClock.
"""

from __future__ import annotations

import logging
import os
import pty
import random
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, AwsSandbox
from fakes import EPOCH, FakeClock, FakeScheduler
from stsproxy import StsProxy

from tray import app, compose, paths
from tray.aws import sts
from tray.awsfiles import awsconfig
from tray.child import runner
from tray.domain.errors import AccessDeniedError, MfaRequiredError, MfaSessionEndedError
from tray.domain.mfa import MfaSession
from tray.domain.models import AssumeResult, RefreshState, RoleProfile, Snapshot
from tray.engine import actions, mfa_session, worker
from tray.engine.refresher import MFA_ASK_AHEAD, Refresher
from tray.instance import control
from tray.paths import Paths
from tray.settings import Settings


def sock() -> Path:
    """The control socket of the environment the test set up."""
    return control.socket_path(Paths.from_env(os.environ))


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)

def assume(role: RoleProfile, **kwargs: Any) -> AssumeResult:
    """``sts.assume_role`` with the process environment, which conftest points at moto."""
    return sts.assume_role(role, env=os.environ, **kwargs)


REPO = Path(__file__).resolve().parent.parent
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/dev"
SESSION_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # moto's GetSessionToken keys, always the same
SESSION_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
WRONG_CODE_MESSAGE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def mfa_world(aws: AwsSandbox) -> tuple[str, str]:
    """[default] keys of user dev; guarded-a and guarded-b share dev's MFA device."""
    akid, secret = aws.create_user("dev")
    for name in ("guarded-a", "guarded-b", "elsewhere"):
        aws.create_role(name, trust_principal=aws.user_arn("dev"))
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    aws.write_config(
        "[default]\nregion = us-east-1\n\n"
        f"[profile guarded-a]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/guarded-a\n"
        f"source_profile = default\nmfa_serial = {SERIAL}\n\n"
        f"[profile guarded-b]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/guarded-b\n"
        f"source_profile = default\nmfa_serial = {SERIAL}\n\n"
        f"[profile elsewhere]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/elsewhere\n"
        f"source_profile = default\nmfa_serial = arn:aws:iam::{ACCOUNT}:mfa/other\n")
    return akid, secret


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EPOCH)


@pytest.fixture
def proxy(aws: AwsSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[StsProxy]:
    with StsProxy(aws.url, clock=clock) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        yield srv


@dataclass
class Rig:
    r: Refresher
    sched: FakeScheduler
    clock: FakeClock
    proxy: StsProxy
    seen: list[Snapshot] = field(default_factory=list)


def make_rig(clock: FakeClock, proxy: StsProxy, *, hours: int = 12) -> Rig:
    sched = FakeScheduler(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings(mfa_session_hours=hours))
    # assume_fn None: the real actions.assume, in this process, against moto.
    r = Refresher(ctx, sched, monotonic=clock.monotonic, rng=random.Random(5),
                  tick_interval=None)
    rig = Rig(r, sched, clock, proxy)
    r.subscribe(rig.seen.append)
    r.start()
    return rig


@pytest.fixture
def private_log(tmp_path: Path) -> Iterator[Path]:
    """The app's own logging setup (file, DEBUG for roletray, botocore held at WARNING)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {n: logging.getLogger(n).level for n in ("apscheduler", "botocore", "boto3",
                                                       "urllib3")})
    path = app.setup_logging(to_stderr=False, log_file=tmp_path / "roletray.log",
                             level=logging.DEBUG)
    yield path
    for h in list(root.handlers):
        if getattr(h, "_roletray", False):
            root.removeHandler(h)
            h.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def everything_written(rig: Rig, aws: AwsSandbox, log: Path) -> str:
    """Every place a secret must never land: the log, state, snapshots, our files."""
    parts = [log.read_text(), Paths.from_env(os.environ).state_file.read_text() if Paths.from_env(os.environ).state_file.exists()
             else "", aws.credentials_path.read_text(), aws.config_path.read_text(),
             repr([s.to_json() for s in rig.seen]), repr(rig.seen)]
    return "\n".join(parts)


# ---------------------------------------------------------------- sts and sessions

def test_get_session_token_then_assume_role_from_the_session(aws: AwsSandbox,
                                                             proxy: StsProxy) -> None:
    akid, _ = mfa_world(aws)
    role = awsconfig.get_role_profile("guarded-a", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    session = mfa_session.start_session(role, "902817", hours=12, aws=compose.in_process_aws(os.environ))
    assert session is not None and session.key == ("default", SERIAL)
    assert session.expiration == EPOCH + 12 * H
    [gst] = proxy.of("GetSessionToken")
    assert gst.form["SerialNumber"] == SERIAL and gst.form["TokenCode"] == "902817"
    assert gst.form["DurationSeconds"] == "43200"
    assert gst.access_key_id == akid and not gst.has_token  # signed by the source's own keys

    result = assume(role, session=session.credentials, now=lambda: EPOCH)
    assert result.identity_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/guarded-a/")
    [ar] = proxy.of("AssumeRole")
    # The session carries the MFA: no code with AssumeRole, signed by the session's keys.
    assert "SerialNumber" not in ar.form and "TokenCode" not in ar.form
    assert ar.access_key_id == SESSION_KEY_ID and ar.has_token
    assert SESSION_SECRET not in repr(session) and session.credentials.session_token not in \
        repr(session)


def test_a_source_with_temporary_keys_sends_the_code_with_assume_role(
        aws: AwsSandbox, proxy: StsProxy) -> None:
    mfa_world(aws)
    proxy.fail("GetSessionToken", "AccessDenied",
               "Cannot call GetSessionToken with session credentials")
    out = actions.assume("guarded-a", mfa_code="902817", mfa_session_hours=12,
                          ctx=compose.in_process(os.environ))
    assert out.mfa_session is None
    assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    [ar] = proxy.of("AssumeRole")
    assert ar.form["SerialNumber"] == SERIAL and ar.form["TokenCode"] == "902817"


def test_sources_known_to_be_temporary_start_no_session() -> None:
    role = awsconfig.RoleProfile(name="r", role_arn=f"arn:aws:iam::{ACCOUNT}:role/r",
                                 source_profile="src", mfa_serial=SERIAL)
    assert mfa_session.can_start(role, {"src": {"aws_access_key_id": "AKIA"}})
    assert mfa_session.can_start(role, {})  # keys only in the credentials file
    for values in ({"sso_session": "corp"}, {"sso_start_url": "https://x"},
                   {"role_arn": "arn:aws:iam::1:role/x", "source_profile": "default"}):
        assert not mfa_session.can_start(role, {"src": values})
    cs = awsconfig.RoleProfile(name="r", role_arn=role.role_arn,
                               credential_source="Environment", mfa_serial=SERIAL)
    assert not mfa_session.can_start(cs, {})


def test_aws_refusing_the_session_keys_drops_the_session(aws: AwsSandbox, proxy: StsProxy,
                                                         clock: FakeClock) -> None:
    # moto with enforcement refuses GetSessionToken's keys (AWS would accept them):
    # the same answer AWS gives for a session that was revoked.
    mfa_world(aws)
    aws.enforce()
    rig = make_rig(clock, proxy)
    before = aws.credentials_path.read_bytes()
    with pytest.raises(MfaSessionEndedError) as err:
        rig.r.switch("guarded-a", mfa_code="902817")
    assert "InvalidClientTokenId" in str(err.value) and "enter a new MFA code" in str(err.value)
    assert err.value.exit_code == 2  # a person must act: not an AWS outage
    assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    assert rig.r.needs_mfa_code("guarded-a") and rig.r.mfa_session_end("guarded-a") is None
    assert aws.credentials_path.read_bytes() == before
    assert rig.r.snapshot().role is None  # a failed switch changes nothing


# ----------------------------------------------------------- the refresher's sessions

def test_one_code_for_every_role_sharing_the_device(aws: AwsSandbox, proxy: StsProxy,
                                                   clock: FakeClock, private_log: Path) -> None:
    mfa_world(aws)
    rig = make_rig(clock, proxy)
    assert rig.r.needs_mfa_code("guarded-a") and rig.r.needs_mfa_code("guarded-b")
    with pytest.raises(MfaRequiredError):
        rig.r.switch("guarded-a")  # no session yet, no code: asks, calls nothing
    assert proxy.calls == []

    snap = rig.r.switch("guarded-a", mfa_code="902817")
    assert snap.state is RefreshState.FRESH and snap.role == "guarded-a"
    assert snap.mfa_session_expiration == EPOCH + 12 * H
    assert snap.to_json()["mfa_session_expiration"] == "2026-11-29T00:00:00Z"
    assert not rig.r.needs_mfa_code("guarded-b")  # same source, same device
    assert rig.r.needs_mfa_code("elsewhere")  # another device needs its own code

    snap = rig.r.switch("guarded-b")  # no code asked
    assert snap.state is RefreshState.FRESH and snap.role == "guarded-b"
    assert snap.identity_arn is not None and "assumed-role/guarded-b/" in snap.identity_arn
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert [c.access_key_id for c in proxy.of("AssumeRole")] == [SESSION_KEY_ID] * 2

    rig.sched.advance(5 * H)  # hourly keys, refreshed from the session: no code
    assert rig.r.snapshot().state is RefreshState.FRESH
    assert len(proxy.of("GetSessionToken")) == 1 and len(proxy.of("AssumeRole")) == 2 + 6
    assert all("TokenCode" not in c.form for c in proxy.of("AssumeRole"))

    written = everything_written(rig, aws, private_log)
    assert "902817" not in written and SESSION_SECRET not in written
    assert "started an MFA session" in private_log.read_text()


def test_asks_for_a_code_before_the_session_ends_and_a_wrong_one_is_not_retried(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock, private_log: Path) -> None:
    mfa_world(aws)
    rig = make_rig(clock, proxy)
    rig.r.switch("guarded-a", mfa_code="902817")
    end = EPOCH + 12 * H

    # Refreshes run at 50 min steps; the one at 11:40 gives keys until 12:40, so the
    # next (12:30) would fall after the session's end: ask at 12:00 - 15 min.
    rig.sched.advance_to(end - MFA_ASK_AHEAD - MIN)
    assert rig.r.snapshot().state is RefreshState.FRESH
    rig.sched.advance(2 * MIN)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT and snap.input_needed == "mfa"
    assert snap.input_profile == "guarded-a"
    assert snap.last_error is not None and "MFA session" in snap.last_error
    assert "2026-11-29T00:00:00Z" in snap.last_error
    assert snap.seconds_left is not None and snap.seconds_left > 50 * 60  # keys still good
    assert len(proxy.of("GetSessionToken")) == 1

    proxy.fail("GetSessionToken", "AccessDenied", WRONG_CODE_MESSAGE)
    with pytest.raises(AccessDeniedError) as err:
        rig.r.provide_mfa_code("000000")
    assert "the MFA code was rejected" in str(err.value)
    assert "wait for the next code" in str(err.value) and "000000" not in str(err.value)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT and snap.input_needed == "mfa"
    assert snap.last_error == str(err.value)
    # The old session still serves the refresh already due, so that stays scheduled.
    assert rig.sched.next_run("refresh:roletray") is not None

    rig.sched.advance(2 * H)  # the session ends, then the keys: never the same code again
    assert len(proxy.of("GetSessionToken")) == 2
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT and snap.input_needed == "mfa"
    assert snap.last_error is not None and "needs an MFA code" in snap.last_error

    snap = rig.r.provide_mfa_code("654321")
    assert snap.state is RefreshState.FRESH and snap.last_error is None
    assert snap.mfa_session_expiration == clock.now() + 12 * H
    assert [c.form["TokenCode"] for c in proxy.of("GetSessionToken")] == \
        ["902817", "000000", "654321"]
    written = everything_written(rig, aws, private_log)
    for secret in ("902817", "000000", "654321", SESSION_SECRET):
        assert secret not in written


def test_a_code_given_ahead_of_time_starts_the_next_session(aws: AwsSandbox, proxy: StsProxy,
                                                           clock: FakeClock) -> None:
    mfa_world(aws)
    rig = make_rig(clock, proxy, hours=1)  # 1 h sessions and 1 h keys
    snap = rig.r.switch("guarded-a", mfa_code="902817")
    assert snap.state is RefreshState.FRESH and snap.mfa_session_expiration == EPOCH + H
    # The refresh at 0:50 is the last the session serves (the next, 1:40, is past its
    # end) and is already within 15 min of the end: it asks at once.
    rig.sched.advance(50 * MIN)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT and snap.input_needed == "mfa"
    assert len(proxy.of("AssumeRole")) == 2 and snap.seconds_left == 3600
    rig.sched.advance(5 * MIN)
    snap = rig.r.provide_mfa_code("234567")
    assert snap.state is RefreshState.FRESH and snap.last_error is None
    assert snap.mfa_session_expiration == EPOCH + 55 * MIN + H
    assert len(proxy.of("GetSessionToken")) == 2
    assert rig.r.clear().state is RefreshState.IDLE
    # Removing the keys is not signing out: the session lasts until it ends (or roletray
    # quits), so the next switch to a role of that device asks no code.
    assert rig.r.mfa_session_end("guarded-a") == EPOCH + 55 * MIN + H
    assert not rig.r.needs_mfa_code("guarded-b")


# ---------------------------------------------------------------- the worker's pipes

def test_the_session_travels_to_and_from_the_worker_by_pipe_only(
        aws: AwsSandbox, proxy: StsProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    akid, secret = mfa_world(aws)
    # The source is a credential_process that records its parent's (the worker's)
    # argument list and environment: the code and the session keys must be in neither.
    record = tmp_path / "seen-by-the-process"
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, os, sys\n"
        "ppid = os.getppid()\n"
        f"with open({str(record)!r}, 'ab') as f:\n"
        "    f.write(open(f'/proc/{ppid}/cmdline', 'rb').read() + b'\\n')\n"
        "    f.write(open(f'/proc/{ppid}/environ', 'rb').read() + b'\\n')\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {akid!r}, "
        f"'SecretAccessKey': {secret!r}}}))\n")
    aws.write_credentials("")
    aws.write_config(aws.config_path.read_text().replace("source_profile = default",
                                                         "source_profile = proc")
                     + f"\n[profile proc]\ncredential_process = {sys.executable} {script}\n")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    ctx = compose.in_process(os.environ)

    out = worker.assume_in_child("guarded-a", ctx=ctx, mfa_code="902817", mfa_session_hours=12)
    session = out.mfa_session
    assert isinstance(session, MfaSession) and session.key == ("proc", SERIAL)
    assert session.credentials.secret_access_key == SESSION_SECRET  # back through stdout
    out2 = worker.assume_in_child("guarded-b", ctx=ctx, mfa_session=session)
    assert out2.mfa_session is None and out2.role.name == "guarded-b"
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert proxy.of("AssumeRole")[1].access_key_id == SESSION_KEY_ID  # sent down stdin
    seen = record.read_bytes()
    assert b"tray.worker_main" in seen  # it did record the worker
    assert b"902817" not in seen and SESSION_SECRET.encode() not in seen
    assert runner.WORKERS.live() == []


# ------------------------------------------------------------------ the command line

def test_daemon_keeps_the_session_for_cli_hand_overs(aws: AwsSandbox, tmp_path: Path) -> None:
    mfa_world(aws)
    with StsProxy(aws.url) as srv:  # real time here: the daemon runs on the real clock
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": srv.url, "PYTHONPATH": str(REPO),
               "PYTHONUNBUFFERED": "1"}
        stderr = tmp_path / "daemon.stderr"
        with open(stderr, "wb") as err:
            daemon = subprocess.Popen([sys.executable, "-m", "tray", "daemon"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=err,
                                      stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while control.send("status", {}, timeout=5, where=here()) is None:
                assert daemon.poll() is None, stderr.read_text()
                assert time.monotonic() < deadline, "the daemon never listened"
                time.sleep(0.05)  # polling for the socket, not timing

            def cli(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([sys.executable, "-m", "tray", *args], env=env,
                                      capture_output=True, text=True, timeout=60,
                                      stdin=subprocess.DEVNULL, check=False)

            first = cli("assume", "guarded-a", "--mfa-code", "902817")
            assert first.returncode == 0, first.stderr
            second = cli("assume", "guarded-b")  # no terminal, no code: the session serves
            assert second.returncode == 0, second.stderr
            assert "Switched the running roletray to guarded-b" in second.stdout
            third = cli("assume", "elsewhere")  # another device: the daemon says so
            assert third.returncode == 2 and "needs an MFA code" in third.stderr
            status = cli("status")
            assert status.returncode == 0
            assert re.search(r"MFA session  ends .*\(in (11 h 5\d min|12 h)\)", status.stdout), \
                status.stdout
            assert srv.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
        finally:
            daemon.terminate()
            daemon.wait(10)
    log_text = (Paths.from_env(os.environ).log_dir / "roletray.log").read_text() + stderr.read_text()
    assert "started an MFA session" in log_text
    assert "902817" not in log_text and SESSION_SECRET not in log_text


def _read_until(fd: int, needle: bytes, timeout: float = 30.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {needle!r} in {out!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            out += chunk
    return out


def test_refresh_on_a_terminal_asks_and_hands_the_code_over(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:
    mfa_world(aws)
    rig = make_rig(clock, proxy)
    rig.r.switch("guarded-a", mfa_code="902817")
    rig.sched.advance(13 * H)  # the session and then the keys ended: a code is needed
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    server = control.ControlServer(control.make_handler(rig.r), path=sock(), where=here()).start()
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tray", "refresh"],
                                env={**os.environ, "PYTHONPATH": str(REPO)},
                                stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                start_new_session=True)
        os.close(slave)
        shown = _read_until(master, b"MFA code for " + SERIAL.encode())
        os.write(master, b"765432\n")
        shown += _read_until(master, b"MFA session")
        assert proc.wait(30) == 0, shown
        assert b"Refreshed guarded-a." in shown
    finally:
        os.close(master)
        server.stop()
    assert b"765432" not in shown  # typed without echo
    assert b"MFA session  " in shown
    assert [c.form["TokenCode"] for c in proxy.of("GetSessionToken")] == ["902817", "765432"]
    assert rig.r.snapshot().state is RefreshState.FRESH


def test_the_temporary_source_refusal_is_a_class_of_its_own(
        aws: AwsSandbox, proxy: StsProxy) -> None:
    """mfa_session decides by the error's class, never by its words (issue 21)."""
    from tray.domain import wire
    from tray.domain.errors import TemporarySourceKeysError

    mfa_world(aws)
    role = awsconfig.get_role_profile("guarded-a", aws.config_path,
                                      credentials_path=aws.credentials_path)
    proxy.fail("GetSessionToken", "AccessDenied",
               "Cannot call GetSessionToken with session credentials")
    with pytest.raises(TemporarySourceKeysError) as refused:
        sts.get_session_token(role, "902817", duration=3600, env=os.environ)
    back = wire.decode_error(wire.encode_error(refused.value))
    assert type(back) is TemporarySourceKeysError and back.exit_code == 1
    proxy.fail("GetSessionToken", "AccessDenied", "not authorized to perform GetSessionToken")
    with pytest.raises(AccessDeniedError) as denied:
        mfa_session.start_session(role, "902817", hours=1, aws=compose.in_process_aws(os.environ))
    assert type(denied.value) is AccessDeniedError
