"""``roletray credential-process PROFILE``: served roles, kept in memory by a running instance.

Against moto's server. The refresh part runs an in-process keeper on a FakeClock and
FakeScheduler behind a real control socket; the rest runs ``roletray daemon`` in a
subprocess, and the aws CLI and boto3 as the SDKs that run the process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakes import FakeClock, FakeScheduler
from stsproxy import StsProxy
from test_daemon import Daemon, poll_until, run_cli, spawn  # noqa: F401 (a fixture)

from tray import compose
from tray.domain.models import utcnow
from tray.engine import actions, worker
from tray.instance import control
from tray.paths import Paths
from tray.serve import document
from tray.serve.keeper import JOB_PREFIX, ServedKeeper

REPO = Path(__file__).resolve().parent.parent
LIVE = ("\n[profile platform-live]\ncredential_process = roletray credential-process platform\n"
        "region = us-east-1\n")


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


@pytest.fixture
def roletray_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``roletray`` command that runs this checkout, first on PATH (the SDKs run it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "roletray"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m tray \"$@\"\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return exe


def live_world(aws: AwsSandbox) -> None:
    aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write(LIVE)


def credproc(*args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args[:-1], "-m", "tray", "credential-process",
                           args[-1]],
                          env={**(env or os.environ), "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def run_aws(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    return subprocess.run([exe, *args, "--output", "json"], capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)


def assert_document(out: str) -> dict[str, object]:
    doc = json.loads(out)  # the whole of stdout is the one document
    assert set(doc) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken",
                        "Expiration"}
    assert doc["Version"] == 1 and str(doc["AccessKeyId"]).startswith("ASIA")
    return doc  # type: ignore[no-any-return]


# ----------------------------------------------------------------- the use case

def test_served_duration_is_at_least_an_hour() -> None:
    from tray.domain.models import RoleProfile

    role = RoleProfile(name="p", role_arn="arn:aws:iam::123456789012:role/p",
                       source_profile="default")
    assert actions.served_duration(role) == 3600
    assert actions.served_duration(role, 900) == 3600  # 900 s would be born inside 15 min
    assert actions.served_duration(replace(role, duration_seconds=7200)) == 7200


def test_a_served_permission_set_asks_for_no_duration(isolated_env: Path, capsys) -> None:
    """AWS sets how long a permission set's keys last: serving one (credential-process,
    exec, serve) asks for no duration, so the person meets the sign-in it needs, not a
    refusal of a --duration nobody gave."""
    from tray.cli import main
    from tray.domain.models import RoleProfile

    sso = RoleProfile(name="dev-admin", role_arn="", kind="sso", account_id="111122223333",
                      sso_role_name="Admin")
    assert actions.served_duration(sso) is None
    assert actions.served_duration(sso, 900) == 900  # given: passed on, and refused there
    (isolated_env / ".aws" / "config").write_text(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = ap-northeast-2\n[profile dev-admin]\nsso_session = corp\n"
        "sso_account_id = 111122223333\nsso_role_name = Admin\n")
    assert main(["credential-process", "dev-admin"], env=dict(os.environ)) != 0
    err = capsys.readouterr().err
    assert "SSO sign-in needed for profile 'dev-admin' (not signed in)" in err
    assert "--duration" not in err


def test_assume_only_in_child_returns_keys_and_writes_nothing(aws: AwsSandbox) -> None:
    live_world(aws)
    aws.enforce()
    creds_before = aws.credentials_path.read_bytes()
    config_before = aws.config_path.read_bytes()
    ctx = compose.in_process({**os.environ, "PYTHONPATH": str(REPO)})
    out = worker.assume_only_in_child("platform", ctx=ctx)
    left = out.result.credentials.expiration - utcnow()
    assert timedelta(minutes=55) < left <= timedelta(hours=1)  # asked for 3600 s
    assert out.result.identity_arn.endswith(":assumed-role/platform/" +
                                            out.result.identity_arn.rsplit("/", 1)[1])
    assert aws.credentials_path.read_bytes() == creds_before
    assert aws.config_path.read_bytes() == config_before
    assert not Paths.from_env(os.environ).state_file.exists()


# ------------------------------------------- an in-process instance on a FakeClock

class Instance:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sched = FakeScheduler(clock)
        ctx = compose.in_process(os.environ, now=clock.now)
        self.keeper = ServedKeeper(ctx, self.sched, assume_fn=actions.assume_only)
        self.server = control.ControlServer(
            lambda request: control.serve_credentials(self.keeper, request),
            control.socket_path(Paths.from_env(os.environ)), where=here())


@contextmanager
def instance_behind(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, behind: timedelta
                    ) -> Iterator[tuple[Instance, StsProxy]]:
    """An instance whose AWS (the STS proxy) lives on a FakeClock ``behind`` the real one:
    its served keys have an hour less ``behind`` left by the real clock the SDKs use."""
    clock = FakeClock(utcnow().replace(microsecond=0) - behind)
    with StsProxy(aws.url, clock=clock) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        inst = Instance(clock)
        inst.server.start()
        try:
            yield inst, proxy
        finally:
            inst.server.stop()


@pytest.fixture
def instance(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Instance,
                                                                                StsProxy]]:
    # 50 minutes behind: a served key then has 10 real minutes left, so botocore in the
    # long-running process asks the process again on every call, and sees whatever the
    # instance hands out by then.
    with instance_behind(aws, monkeypatch, timedelta(minutes=50)) as running:
        yield running


def test_keeper_hands_out_the_same_keys_then_refreshes_before_15_minutes(
        aws: AwsSandbox, instance: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    aws.enforce()
    inst, proxy = instance
    first = inst.keeper.credentials("platform")
    assert inst.keeper.credentials("platform") == first
    assert len(proxy.of("AssumeRole")) == 1
    due = inst.sched.next_run(JOB_PREFIX + "platform")
    assert due == first.expiration - document.SERVE_MARGIN
    inst.sched.advance(due - inst.clock.now() - timedelta(seconds=1))
    assert inst.keeper.credentials("platform") == first  # still good: no STS call
    assert len(proxy.of("AssumeRole")) == 1
    inst.sched.advance(timedelta(seconds=2))
    second = inst.keeper.credentials("platform")
    assert second.access_key_id != first.access_key_id
    assert len(proxy.of("AssumeRole")) == 2
    assert second.expiration - inst.clock.now() > document.MIN_LEFT
    # nothing written anywhere
    assert "ASIA" not in aws.credentials_path.read_text()


def test_keeper_retries_a_failed_refresh_and_keeps_serving_good_keys(
        aws: AwsSandbox, instance: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    aws.enforce()
    inst, proxy = instance
    first = inst.keeper.credentials("platform")
    proxy.fail("AssumeRole", "AccessDenied", "not now", times=1)  # botocore retries none
    due = inst.sched.next_run(JOB_PREFIX + "platform")
    assert due is not None
    inst.sched.advance_to(due)
    retry = inst.sched.next_run(JOB_PREFIX + "platform")
    now = inst.clock.now()
    assert retry is not None and now + timedelta(seconds=239) < retry <= now + timedelta(
        seconds=300)  # a person's problem: retried at the policy's cap
    assert inst.keeper.credentials("platform") == first  # 25 min left: still handed out
    assert len(proxy.of("AssumeRole")) == 2
    inst.sched.advance(timedelta(seconds=300))
    assert inst.keeper.credentials("platform").access_key_id != first.access_key_id


def test_long_running_boto3_session_sees_the_new_key_across_a_refresh(
        aws: AwsSandbox, instance: tuple[Instance, StsProxy], roletray_on_path: Path) -> None:
    import boto3

    live_world(aws)
    aws.enforce()
    inst, proxy = instance
    session = boto3.Session(profile_name="platform-live")
    sts = session.client("sts")
    assert ":assumed-role/platform/" in sts.get_caller_identity()["Arn"]
    first = session.get_credentials().get_frozen_credentials().access_key
    assert first == inst.keeper.credentials("platform").access_key_id

    inst.sched.advance(timedelta(minutes=36))  # past expiration - SERVE_MARGIN
    new = inst.keeper.credentials("platform").access_key_id
    assert new != first and len(proxy.of("AssumeRole")) == 2
    assert ":assumed-role/platform/" in sts.get_caller_identity()["Arn"]  # the same client
    assert session.get_credentials().get_frozen_credentials().access_key == new
    assert len(proxy.of("AssumeRole")) == 2  # the process was served from memory


def test_twenty_concurrent_first_calls_get_one_assume_role(
        aws: AwsSandbox, instance: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    aws.enforce()
    _inst, proxy = instance
    with ThreadPoolExecutor(20) as pool:
        docs = list(pool.map(lambda _: credproc("platform"), range(20)))
    assert [d.returncode for d in docs] == [0] * 20, docs[0].stderr
    assert len({assert_document(d.stdout)["AccessKeyId"] for d in docs}) == 1
    assert len(proxy.of("AssumeRole")) == 1


# ------------------------------------------------------------- a daemon process

def test_daemon_serves_the_aws_cli_from_memory(aws: AwsSandbox, spawn,  # noqa: F811
                                              roletray_on_path: Path) -> None:
    live_world(aws)
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    with StsProxy(aws.url) as proxy:
        d = spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url})
        d.wait_ready()
        who = run_aws("sts", "get-caller-identity", "--profile", "platform-live")
        assert who.returncode == 0, who.stderr
        assert ":assumed-role/platform/" in json.loads(who.stdout)["Arn"]
        first = credproc("platform")
        again = credproc("platform")
        assert first.returncode == again.returncode == 0 and first.stderr == ""
        assert assert_document(first.stdout) == assert_document(again.stdout)
        assert len(proxy.of("AssumeRole")) == 1
        left = json.loads(first.stdout)["Expiration"]
        from tray.domain.models import parse_iso_utc

        assert parse_iso_utc(left) - utcnow() > document.MIN_LEFT

        # The served path is the lean one: no botocore, not even the full command line.
        timed = credproc("-X", "importtime", "platform")
        assert timed.returncode == 0 and assert_document(timed.stdout) == json.loads(
            first.stdout)
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in timed.stderr.splitlines()}
        assert "tray.serve.fastpath" in imported
        assert not {m for m in imported if m.split(".")[0] in ("botocore", "boto3")}
        assert not imported & {"tray.cli", "tray.engine.actions", "argparse", "logging"}

        # An SSH session, cron: no XDG_RUNTIME_DIR while the daemon was started with it.
        # The keeper record beside the credentials file names its socket: still lean.
        no_xdg = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        assert fastpath_socket(no_xdg) != str(control.socket_path(Paths.from_env(no_xdg)))
        timed = credproc("-X", "importtime", "platform", env=no_xdg)
        assert timed.returncode == 0, timed.stderr
        assert assert_document(timed.stdout) == json.loads(first.stdout)
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in timed.stderr.splitlines()}
        assert "tray.serve.fastpath" in imported
        assert not imported & {"tray.cli", "tray.instance.control", "argparse", "logging"}
        assert len(proxy.of("AssumeRole")) == 1

        unknown = credproc("nope")
        assert (unknown.returncode, unknown.stdout) == (2, "")
        assert "nope" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
    assert aws.credentials_path.read_bytes() == before  # nothing written
    secret = json.loads(first.stdout)["SecretAccessKey"]
    assert secret not in d.stderr


# ------------------------------------------------------------ no running instance

def test_without_an_instance_it_assumes_itself_and_writes_nothing(
        aws: AwsSandbox, roletray_on_path: Path) -> None:
    live_world(aws)
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    who = run_aws("sts", "get-caller-identity", "--profile", "platform-live")
    assert who.returncode == 0, who.stderr
    assert ":assumed-role/platform/" in json.loads(who.stdout)["Arn"]
    out = credproc("platform")
    assert out.returncode == 0 and out.stderr == ""
    assert_document(out.stdout)
    assert aws.credentials_path.read_bytes() == before
    assert not Paths.from_env(os.environ).state_file.exists()


def test_errors_are_one_line_with_empty_stdout(aws: AwsSandbox) -> None:
    live_world(aws)
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n"
                "\n[profile guarded]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
                "source_profile = default\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\n")
    aws.enforce()
    secret = aws.users["dev"][1]

    unknown = credproc("nope")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr.startswith("roletray: ") and "'nope'" in unknown.stderr

    denied = credproc("locked")
    assert (denied.returncode, denied.stdout) == (1, "")
    assert denied.stderr.count("`roletray doctor locked` shows the fix") == 1
    assert len(denied.stderr.splitlines()) == 1

    no_tty = credproc("guarded")
    assert no_tty.returncode != 0 and no_tty.stdout == ""
    assert "start the tray" in no_tty.stderr and len(no_tty.stderr.splitlines()) == 1

    down = credproc("platform", env={**os.environ,
                                     "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
                                     "AWS_MAX_ATTEMPTS": "1"})
    assert (down.returncode, down.stdout) == (1, "")
    assert len(down.stderr.splitlines()) == 1
    for r in (unknown, denied, no_tty, down):
        assert "Traceback" not in r.stderr and secret not in r.stderr


def test_daemon_passes_errors_on_with_their_exit_codes(aws: AwsSandbox, spawn  # noqa: F811
                                                      ) -> None:
    live_world(aws)
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()
    d = spawn()
    d.wait_ready()
    unknown = credproc("nope")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    denied = credproc("locked")
    assert (denied.returncode, denied.stdout) == (1, "")
    assert denied.stderr.count("`roletray doctor locked` shows the fix") == 1
    assert len(denied.stderr.splitlines()) == 1
    ok = poll_until("a served answer", lambda: credproc("platform").returncode == 0)
    assert ok


# ------------------------------------------------------------------------ doctor

def test_doctor_follows_a_credential_process_line_to_the_role(aws: AwsSandbox) -> None:
    from tray.doctor import diagnose

    arn = aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write(LIVE)
    report = diagnose.run_doctor("platform-live", try_assume=False, env=os.environ)
    ids = {f.id: f for f in report.findings}
    assert ids["served"].status == "ok" and "platform" in ids["served"].message
    assert report.role_arn == arn and report.profile == "platform"


@pytest.mark.parametrize(("line", "served"), [
    ("roletray credential-process platform", "platform"),
    ("/usr/local/bin/roletray credential-process 'with space'", "with space"),
    ("python -m tray credential-process x", "x"),
    ("aws-vault export --format=json platform", None),
    ("roletray credential-process", None),
    ("roletray 'unclosed", None),
])
def test_served_profile_reads_the_line(line: str, served: str | None) -> None:
    from tray.doctor.diagnose import served_profile

    assert served_profile({"credential_process": line}) == served


def test_keeper_single_flight_in_threads(aws: AwsSandbox,
                                         instance: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    aws.enforce()
    inst, proxy = instance
    start = threading.Barrier(20)

    def call(_: int) -> str:
        start.wait()
        return inst.keeper.credentials("platform").access_key_id

    with ThreadPoolExecutor(20) as pool:
        keys = set(pool.map(call, range(20)))
    assert len(keys) == 1 and inst.keeper.assume_calls == 1
    assert len(proxy.of("AssumeRole")) == 1


# ----------------------------------------------------------------- the lean path

def test_fastpath_finds_the_socket_the_instance_listens_on() -> None:
    from tray.serve import fastpath

    assert fastpath.socket_path(os.environ) == str(
        control.socket_path(Paths.from_env(os.environ)))
    assert fastpath.socket_path({}, "win32") == ""  # no folder it knows: the full path

def fastpath_socket(env: dict[str, str]) -> str:
    from tray.serve import fastpath

    return fastpath.instance_socket(env, fastpath.aws_files(env))


def test_fastpath_finds_the_instance_as_send_does(tmp_path: Path) -> None:
    """Kept in step with ``control.send``: the keeper record of the caller's credentials
    file first (wherever its socket is), else the caller's own runtime folder."""
    from tray.instance import keeper

    where = here()
    assert keeper.read(where.aws_credentials) is None
    assert fastpath_socket(dict(os.environ)) == str(control.socket_path(where))
    elsewhere = tmp_path / "elsewhere" / "control.sock"
    with keeper.acquire(where.aws_credentials, elsewhere):
        found = keeper.read(where.aws_credentials)
        assert found is not None and found.socket == elsewhere
        assert fastpath_socket(dict(os.environ)) == str(elsewhere)
        no_xdg = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        assert fastpath_socket(no_xdg) == str(elsewhere)
    assert fastpath_socket(dict(os.environ)) == str(control.socket_path(where))


@pytest.mark.parametrize("xdg_state", ["absolute", "relative", "unset"])
def test_fastpath_finds_the_socket_without_a_runtime_folder(
        xdg_state: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SSH sessions, containers, cron: no XDG_RUNTIME_DIR, so the instance listens in
    the state folder's run dir, and the fast path looks there too."""
    from tray.serve import fastpath

    monkeypatch.delenv("XDG_RUNTIME_DIR")
    if xdg_state == "relative":
        monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    elif xdg_state == "unset":
        monkeypatch.delenv("XDG_STATE_HOME")
    want = control.socket_path(Paths.from_env(os.environ))
    assert fastpath.socket_path(os.environ) == str(want)
    assert want.parent == Paths.from_env(os.environ).state_dir / "run"
    # a runtime dir that does not exist is no runtime dir, for both
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "gone"))
    assert fastpath.socket_path(os.environ) == str(control.socket_path(Paths.from_env(
        os.environ)))


@pytest.mark.parametrize("xdg_state", [True, False])
def test_fastpath_finds_the_socket_on_macos(xdg_state: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs.macos

    from tray.serve import fastpath

    monkeypatch.delenv("XDG_RUNTIME_DIR")
    if not xdg_state:
        monkeypatch.delenv("XDG_STATE_HOME")
    state = platformdirs.macos.MacOS("roletray").user_state_dir  # what Paths asks for there
    assert fastpath.socket_path(os.environ, "darwin") == os.path.join(state, "run",
                                                                       "control.sock")
    assert fastpath.socket_path(os.environ, "win32") == ""


def test_credential_process_is_served_on_the_fast_path_without_a_runtime_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole ``roletray credential-process`` run, lean (no tray.cli), against an
    instance listening in the state folder; its folder opened to others: not served."""
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    doc = {"Version": 1, "AccessKeyId": "ASIAFAST", "SecretAccessKey": "s",
           "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}
    from tray.domain import wire

    path = control.socket_path(here())
    server = control.ControlServer(lambda _: wire.ok(document=doc), path, where=here()).start()
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "tray",
                              "credential-process", "platform"], env=env, check=False,
                             capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0 and json.loads(run.stdout) == doc
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in run.stderr.splitlines()}
        assert "tray.serve.fastpath" in imported and "tray.cli" not in imported
        from tray.serve import fastpath

        os.chmod(path.parent, 0o755)  # exactly as strict as the full path
        assert fastpath.ask(fastpath.socket_path(os.environ), "platform",
                            fastpath.aws_files(os.environ)) is None
    finally:
        server.stop()


DOC = {"Version": 1, "AccessKeyId": "ASIAFAST", "SecretAccessKey": "s",
       "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}


@contextmanager
def instance_elsewhere(tmp_path: Path) -> Iterator[tuple[Path, Path, list[object]]]:
    """An instance whose socket is in another runtime folder than the caller's, named by
    the keeper record of the caller's credentials file: (socket, record, requests)."""
    from tray.domain import wire
    from tray.instance import keeper

    got: list[object] = []

    def handler(request: dict[str, object]) -> dict[str, object]:
        got.append(request)
        if request.get("cmd") == "status":
            return wire.ok(snapshot={"role": "platform", "seconds_left": 600, "state": "fresh"})
        return wire.ok(document=DOC)

    run = tmp_path / "daemon-run"
    run.mkdir(mode=0o700)
    path = run / "roletray" / "control.sock"
    server = control.ControlServer(handler, path, where=here()).start()
    try:
        with keeper.acquire(here().aws_credentials, path):
            yield path, keeper.record_path(here().aws_credentials), got
    finally:
        server.stop()


def test_credential_process_without_a_runtime_folder_finds_the_daemon_by_its_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon was started with XDG_RUNTIME_DIR, the caller has none (SSH, cron): the
    keeper record names the daemon's socket, and the lean path is served there."""
    with instance_elsewhere(tmp_path) as (_path, _record, got):
        monkeypatch.delenv("XDG_RUNTIME_DIR")
        assert not control.socket_path(here()).exists()
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "tray",
                              "credential-process", "platform"],
                             env={**os.environ, "PYTHONPATH": str(REPO)}, check=False,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == DOC
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in run.stderr.splitlines()}
        assert "tray.serve.fastpath" in imported
        assert not imported & {"tray.cli", "tray.instance.control", "tray.instance.keeper"}
        assert len(got) == 1
        # roletray prompt finds it the same way (a status request there)
        from tray.shell import prompt

        assert prompt.line(os.environ) == "platform 10m"
        assert len(got) == 2


def fastpath_files() -> dict[str, str]:
    from tray.serve import fastpath

    return fastpath.aws_files(os.environ)


@pytest.mark.parametrize("spoil", ["symlink", "other_user", "dead_pid", "not_a_socket",
                                   "open_folder"])
def test_fastpath_trusts_a_keeper_record_as_the_full_path_does(
        spoil: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record that is a link, another user's, or of a dead process is not read; the
    socket a good record names is checked as any other (a socket, the user's own, in a
    private folder). Nothing is sent, and the full path (``keeper.read``,
    ``control.send``) refuses the same."""
    from tray.domain.errors import UsageError
    from tray.instance import keeper
    from tray.serve import fastpath

    if spoil == "other_user" and not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("only root can give a file to another user")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    creds = here().aws_credentials
    with instance_elsewhere(tmp_path) as (path, record, got):
        text = record.read_text()
        assert fastpath.ask(fastpath_socket(dict(os.environ)), "platform",
                            fastpath_files()) == DOC  # as it is: served
        assert len(got) == 1
        # the instance still holds the record's lock; spoil a copy in the same place
        record.unlink()
        if spoil == "symlink":
            target = tmp_path / "planted"
            target.write_text(text)
            record.symlink_to(target)
        elif spoil == "other_user":
            record.write_text(text)
            os.chown(record, 65534, 65534)
        elif spoil == "dead_pid":
            dead = subprocess.Popen([sys.executable, "-c", "pass"])
            dead.wait(10)
            record.write_text(f"{dead.pid}\n{path}\n")
        elif spoil == "not_a_socket":
            plain = path.parent / "plain"
            plain.write_text("")
            record.write_text(f"{os.getpid()}\n{plain}\n")
        else:
            record.write_text(text)
            os.chmod(path.parent, 0o755)
        named = fastpath_socket(dict(os.environ))
        assert fastpath.ask(named, "platform", fastpath_files()) is None
        assert len(got) == 1  # nothing sent
        found = keeper.read(creds)
        if spoil in ("symlink", "other_user", "dead_pid"):
            assert found is None and named == str(control.socket_path(here()))
        elif spoil == "not_a_socket":
            assert found is not None and named == str(found.socket) == str(plain)
        else:
            assert found is not None and named == str(found.socket) == str(path)
            with pytest.raises(UsageError, match="not a private folder"):
                control.send("credentials", {"profile": "platform"}, where=here())


def test_fastpath_refuses_a_socket_in_a_folder_others_can_enter(tmp_path: Path) -> None:
    """The full path's checks, kept: nothing is sent, and the full path then says why."""
    from tray.domain.errors import UsageError
    from tray.serve import fastpath

    folder = tmp_path / "open"
    folder.mkdir()
    path = folder / "control.sock"
    got: list[bytes] = []

    def handler(request: dict[str, object]) -> dict[str, object]:
        got.append(json.dumps(request).encode())
        return {"ok": True, "document": {"Version": 1}}

    server = control.ControlServer(handler, path, where=here()).start()  # makes the folder 0700
    try:
        # private: served
        assert fastpath.ask(str(path), "platform", control.files_of(here())) == {"Version": 1}
        os.chmod(folder, 0o755)
        assert fastpath.ask(str(path), "platform", control.files_of(here())) is None
        assert len(got) == 1
        with pytest.raises(UsageError, match="not a private folder"):
            control.send("credentials", {"profile": "platform"}, where=here(), path=path)
    finally:
        server.stop()


def test_fastpath_leaves_errors_to_the_full_command_line(tmp_path: Path) -> None:
    from tray.domain import wire
    from tray.domain.errors import AccessDeniedError
    from tray.serve import fastpath

    path = tmp_path / "run" / "control.sock"
    server = control.ControlServer(
        lambda _: wire.encode_error(AccessDeniedError("profile 'p': denied")), path,
        where=here()).start()
    try:
        assert fastpath.ask(str(path), "p", control.files_of(here())) is None
    finally:
        server.stop()


def test_a_served_mfa_role_is_not_retried_on_a_timer_and_the_next_caller_is_asked(
        aws: AwsSandbox, instance: tuple[Instance, StsProxy]) -> None:
    from tray.domain.errors import MfaRequiredError

    live_world(aws)
    with aws.config_path.open("a") as f:
        f.write("\n[profile guarded]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
                "source_profile = default\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\n")
    aws.enforce()
    inst, proxy = instance
    first = inst.keeper.credentials("guarded", "123456")
    assert inst.keeper.credentials("guarded") == first  # no code needed while good
    due = inst.sched.next_run(JOB_PREFIX + "guarded")
    assert due is not None
    inst.sched.advance_to(due)  # needs a code: fails, and is not rescheduled
    assert inst.sched.next_run(JOB_PREFIX + "guarded") is None
    assert inst.keeper.credentials("guarded") == first  # 25 min left: still handed out
    inst.sched.advance(timedelta(minutes=11))
    with pytest.raises(MfaRequiredError):
        inst.keeper.credentials("guarded")
    assert inst.keeper.credentials("guarded", "654321").access_key_id != first.access_key_id
    assert len(proxy.of("AssumeRole")) == 2


# ------------------------------------------------------------------ roletray serve

def test_serve_prints_the_two_lines_boto3_gets_keys_and_ctrl_c_cleans_up(
        aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    import boto3

    live_world(aws)
    aws.enforce()
    proc = subprocess.Popen([sys.executable, "-m", "tray", "serve", "platform"],
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        exports = dict(ln.removeprefix("export ").split("=", 1) for ln in lines)
        assert set(exports) == {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}
        token_file = Path(exports["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token_file.read_text() not in "".join(lines)  # the token is in the file only
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        # botocore tries the credentials file before the container: point it at nothing.
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws.home / "none"))
        session = boto3.Session(region_name="us-east-1")
        who = session.client("sts").get_caller_identity()
        assert ":assumed-role/platform/" in who["Arn"]
        assert session.get_credentials().method == "container-role"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert not token_file.exists()
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_refuses_an_unknown_profile_before_starting(aws: AwsSandbox) -> None:
    live_world(aws)
    r = subprocess.run([sys.executable, "-m", "tray", "serve", "nope"],
                       env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                       text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (2, "") and "'nope'" in r.stderr
    assert not list(Paths.from_env(os.environ).runtime_dir.glob("serve-*.token"))


def test_a_denied_assume_reads_the_same_with_and_without_a_daemon(
        aws: AwsSandbox, spawn) -> None:  # noqa: F811
    """Issue 24: `roletray assume locked` said "probably does not include this user" with
    an instance running and gave the advice twice without one. One sentence for both: the
    doctor's finding first, then the fix pointer once."""
    _akid, secret = aws.locked_world()
    said = ("roletray: profile 'locked': the trust policy of role 'locked' does not trust "
            "arn:aws:iam::123456789012:user/dev (it trusts arn:aws:iam::999999999999:root); "
            "`roletray doctor locked` shows the fix\n")
    alone = run_cli("assume", "locked")
    assert (alone.returncode, alone.stderr) == (1, said)
    spawn().wait_ready()
    handed = run_cli("assume", "locked")
    assert (handed.returncode, handed.stderr) == (1, said)
    assert secret not in alone.stderr + handed.stderr
