"""The one botocore session builder (tray.aws.session): the env given is the only
environment it reads, the doctor gets the same bounded credential_process as
assume, and a stuck helper's whole process tree is stopped, on a terminal too.

Bounds are kept with subprocess timeouts, never sleeps: a regression here is a hang.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import AwsSandbox
from faultserver import FaultServer

from tray import compose, paths
from tray.aws import session as aws_session
from tray.awsfiles import awsconfig
from tray.domain.errors import CredentialProcessTimeoutError
from tray.domain.models import RoleProfile
from tray.engine import actions
from tray.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def ends(pid: int, within: float = 5.0) -> bool:
    """Whether ``pid`` has ended or ends within ``within`` seconds (SIGKILL is delivered
    asynchronously): a pidfd becomes readable when its process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], within)[0])
    finally:
        os.close(fd)


def test_the_contexts_env_is_the_only_one_read(aws: AwsSandbox, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 11: a Context whose env points at a valid config, while the process
    # env points at an empty one (and at a dead endpoint), still assumes.
    aws.seed_world()
    aws.enforce()
    env = dict(os.environ)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config").write_text("")
    (elsewhere / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(elsewhere / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(elsewhere / "credentials"))
    with FaultServer("refuse") as dead:
        monkeypatch.setenv("AWS_ENDPOINT_URL", dead.url)
        ctx = compose.in_process(env, settings=Settings())
        outcome = actions.assume("platform", ctx=ctx)
    assert "assumed-role/platform/" in outcome.result.identity_arn
    assert outcome.result.credentials.access_key_id in aws.credentials_path.read_text()
    assert (elsewhere / "credentials").read_text() == ""  # the process env's files: untouched


def test_two_envs_in_one_process(aws: AwsSandbox, tmp_path: Path) -> None:
    # The builder reads each env it is given, not the first one or the process's.
    aws.seed_world()
    other_home = tmp_path / "other"
    (other_home / ".aws").mkdir(parents=True)
    (other_home / ".aws" / "config").write_text("[profile platform]\nregion = eu-west-1\n")
    other = {"HOME": str(other_home), "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"}
    role = RoleProfile(name="platform", role_arn="arn:aws:iam::123456789012:role/platform",
                       source_profile="platform")
    here = aws_session.client_creator(awsconfig.get_role_profile("platform",
                                                                 paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)),
                                      env=dict(os.environ))
    there = aws_session.client_creator(role, env=other)
    assert here("sts", aws_access_key_id="AKIAX", aws_secret_access_key="s").meta.region_name \
        == "ap-northeast-2"
    client = there("sts", aws_access_key_id="AKIAX", aws_secret_access_key="s")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


def test_sessions_share_the_models_not_their_settings_or_handlers(tmp_path: Path) -> None:
    # The warm worker builds a session per call: the JSON models and botocore's built-in
    # handlers are loaded once per process; each session still reads its own env and
    # files, and a handler one session registers never reaches another.
    envs = []
    for name, region in (("a", "eu-west-1"), ("b", "sa-east-1")):
        home = tmp_path / name
        (home / ".aws").mkdir(parents=True)
        (home / ".aws" / "config").write_text(f"[default]\nregion = {region}\n")
        envs.append({"HOME": str(home), "AWS_ACCESS_KEY_ID": "AKIAX",
                     "AWS_SECRET_ACCESS_KEY": "s"})
    first, second = (aws_session.base_session(e) for e in envs)
    assert first.get_component("data_loader") is second.get_component("data_loader")
    seen: list[str] = []
    first.register("roletray-probe", lambda **_: seen.append("first"))
    assert second.create_client("sts").meta.region_name == "sa-east-1"
    assert first.create_client("sts").meta.region_name == "eu-west-1"
    second.get_component("event_emitter").emit("roletray-probe")
    assert seen == []
    first.get_component("event_emitter").emit("roletray-probe")
    assert seen == ["first"]


def test_the_loader_finds_what_botocores_finds_looking_at_one_service(tmp_path: Path) -> None:
    """Its models are botocore's, found alike (AWS_DATA_PATH's folders too); an unknown
    service is the same error; only the check that a service exists looks at that one
    service's folder instead of listing every service botocore ships."""
    import botocore.exceptions
    from botocore.loaders import create_loader

    from tray.aws.loader import loader

    extra = tmp_path / "models"
    (extra / "roletray-test" / "2020-01-01").mkdir(parents=True)
    model = {"version": "2.0", "metadata": {"apiVersion": "2020-01-01",
                                            "endpointPrefix": "roletray-test"},
             "operations": {}, "shapes": {}}
    (extra / "roletray-test" / "2020-01-01" / "service-2.json").write_text(json.dumps(model))
    for data_path in (None, str(extra)):
        ours, theirs = loader(data_path), create_loader(data_path)
        for service, kind in (("sts", "service-2"), ("sts", "endpoint-rule-set-1"),
                              ("iam", "service-2"), ("sso-oidc", "service-2")):
            assert ours.load_service_model(service, kind) == \
                theirs.load_service_model(service, kind)
        assert ("roletray-test" in ours.list_available_services("service-2")) \
            == (data_path is not None)
        if data_path is not None:
            assert ours.load_service_model("roletray-test", "service-2")["metadata"] == \
                model["metadata"]
        listed = ours.list_available_services("service-2")
        assert list(listed) == theirs.list_available_services("service-2")
        assert len(listed) > 100 and listed[0] == theirs.list_available_services(
            "service-2")[0]
        assert "../sts" not in listed and "" not in listed
        errors = []
        for one in (ours, theirs):
            with pytest.raises(botocore.exceptions.UnknownServiceError) as caught:
                one.load_service_model("no-such-service", "service-2")
            errors.append(str(caught.value))
        assert errors[0] == errors[1]


def test_awscrt_is_left_unloaded_unless_a_sign_in_needs_it() -> None:
    plain = {"platform": {"role_arn": "arn:aws:iam::123456789012:role/platform",
                          "source_profile": "base"},
             "base": {"role_arn": "arn:aws:iam::123456789012:role/base",
                      "source_profile": "default"}, "default": {}}
    modules: dict[str, object] = {}
    assert aws_session.skip_crt_unless_login("platform", plain, modules)
    assert modules == {"awscrt": None}  # `import awscrt.auth` fails: botocore goes without
    signed_in = {**plain, "default": {"login_session": "arn:aws:iam::123456789012:user/dev"}}
    for name in ("platform", "default"):  # a source deep in the chain, or the role's own
        modules = {}
        assert not aws_session.skip_crt_unless_login(name, signed_in, modules)
        assert modules == {}
    modules = {"botocore": object()}  # loaded already: it decided then
    assert not aws_session.skip_crt_unless_login("platform", plain, modules)
    assert "awscrt" not in modules


def _stuck_source(aws: AwsSandbox, command: str) -> None:
    arn = aws.seed_world()
    aws.write_credentials("")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile stuck]\ncredential_process = {command}\n"
                f"\n[profile via-stuck]\nrole_arn = {arn}\nsource_profile = stuck\n")


def test_the_doctor_stops_a_stuck_process_too(aws: AwsSandbox) -> None:
    # Issue 11: `roletray doctor` hung on a source credential_process that never
    # answers, while `assume` stopped it: the doctor now builds the same session.
    _stuck_source(aws, "sleep 100")
    code = ("import os; from tray.doctor import diagnose; "
            "r = diagnose.run_doctor('via-stuck', try_assume=False, env=os.environ); "
            "print(diagnose.format_report(r))")
    env = {**os.environ, "PYTHONPATH": str(REPO), aws_session.PROCESS_TIMEOUT_ENV: "2"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert time.monotonic() - start < 30, "the doctor waited for the process"
    assert done.returncode == 0, done.stderr
    assert ("PROBLEM  whoami" in done.stdout and "source profile 'stuck': credential_process "
            "for profile 'stuck' did not answer within 2 s" in done.stdout), done.stdout
    assert "aws sts get-caller-identity --profile stuck" in done.stdout


def test_the_doctor_takes_the_timeout_from_its_env(aws: AwsSandbox) -> None:
    from tray.doctor import diagnose

    _stuck_source(aws, f"{sys.executable} -c 'import sys; sys.exit(5)'")
    report = diagnose.run_doctor("via-stuck", try_assume=False,
                                 env={**os.environ, aws_session.PROCESS_TIMEOUT_ENV: "1"})
    who = report.finding("whoami")
    assert who is not None and who.status == "problem"
    assert "exited with code 5" in who.message


def _grandchild_script(tmp_path: Path) -> tuple[Path, Path]:
    pid_file = tmp_path / "sleep.pid"
    script = tmp_path / "helper.sh"
    # The shell waits for its child, which holds the stdout pipe open.
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {pid_file}\nwait\n")
    script.chmod(0o755)
    return script, pid_file


_ASSUME = """
import os
import sys
from tray.domain.errors import RoletrayError
from tray import compose
from tray.engine import actions
from tray.settings import Settings
print("stdin is a tty:", sys.stdin.isatty(), flush=True)
try:
    actions.assume(sys.argv[1], ctx=compose.in_process(os.environ, settings=Settings()))
    print("assumed")
except RoletrayError as e:
    print("error:", e)
"""


def _run_on_a_terminal(args: list[str], env: dict[str, str],
                       typed: bytes = b"") -> subprocess.CompletedProcess[str]:
    """``args`` with a terminal of its own as stdin and controlling terminal."""
    master, slave = os.openpty()
    # A new session (no preexec_fn: the test process has threads) that makes the
    # terminal its controlling one, then runs ``args``.
    take_terminal = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                     "os.execv(sys.argv[1], sys.argv[1:])")
    try:
        if typed:
            os.write(master, typed)  # held by the terminal until someone reads it
        proc = subprocess.Popen([sys.executable, "-c", take_terminal, *args], env=env,
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        os.close(slave)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(args, proc.returncode, out, err)
    finally:
        os.close(master)


def test_the_timeout_holds_on_a_terminal_with_a_grandchild(aws: AwsSandbox,
                                                           tmp_path: Path) -> None:
    # Issue 13 item 5: on a terminal only the shell was killed, and its `sleep`
    # kept the pipe open: roletray waited for EOF for good.
    script, pid_file = _grandchild_script(tmp_path)
    _stuck_source(aws, str(script))
    env = {**os.environ, "PYTHONPATH": str(REPO), aws_session.PROCESS_TIMEOUT_ENV: "1"}
    start = time.monotonic()
    done = _run_on_a_terminal([sys.executable, "-c", _ASSUME, "via-stuck"], env)
    assert time.monotonic() - start < 30
    assert "stdin is a tty: True" in done.stdout, done.stderr
    assert ("error: credential_process for profile 'stuck' did not answer within 1 s"
            in done.stdout), done.stdout + done.stderr
    assert ends(int(pid_file.read_text()))  # the whole group, grandchild included


def test_a_helper_can_still_ask_on_the_terminal(aws: AwsSandbox, tmp_path: Path) -> None:
    # Its own process group must not cost the helper the terminal: it is handed over.
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    aws.write_credentials("")
    helper = tmp_path / "ask.sh"
    helper.write_text("#!/bin/sh\nprintf 'Touch your key, then press Enter ' > /dev/tty\n"
                      "read answer < /dev/tty\n"
                      f"echo '{{\"Version\": 1, \"AccessKeyId\": \"{akid}\", "
                      f"\"SecretAccessKey\": \"{secret}\"}}'\n")
    helper.chmod(0o755)
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile asks]\ncredential_process = {helper}\n"
                f"\n[profile via-asks]\nrole_arn = {arn}\nsource_profile = asks\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), aws_session.PROCESS_TIMEOUT_ENV: "20"}
    done = _run_on_a_terminal([sys.executable, "-c", _ASSUME, "via-asks"], env, typed=b"\n")
    assert "assumed" in done.stdout, done.stdout + done.stderr


def test_a_stuck_process_in_process(aws: AwsSandbox, tmp_path: Path) -> None:
    # Without a terminal (the tray, the daemon's worker) the same bound holds.
    script, pid_file = _grandchild_script(tmp_path)
    _stuck_source(aws, str(script))
    role = awsconfig.get_role_profile("via-stuck", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    creator = aws_session.client_creator(role, env=dict(os.environ),
                                         limits=aws_session.Limits(process_timeout=1))
    start = time.monotonic()
    with pytest.raises(CredentialProcessTimeoutError):
        creator("sts")
    assert time.monotonic() - start < 10
    assert ends(int(pid_file.read_text()))
