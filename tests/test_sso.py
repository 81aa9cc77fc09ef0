"""SSO source profiles: botocore's token cache, signing in, and resuming by itself.

moto 5.2 has no SSO portal or OIDC service, so ``SsoFake`` (tests/ssofake.py)
plays both on 127.0.0.1; STS is moto behind ``StsProxy``, which records which
keys signed each call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, AwsSandbox
from fakes import FakeClock, FakeScheduler, fake_program
from ssofake import SsoFake
from stsproxy import StsProxy

from tray import compose, paths
from tray.aws import sso, sts
from tray.awsfiles import awsconfig
from tray.domain.errors import AwsError, SsoLoginRequiredError
from tray.domain.models import AssumeResult, RefreshState, RoleProfile, iso_utc, utcnow
from tray.engine import worker
from tray.engine.refresher import Refresher
from tray.settings import Settings


def assume(role: RoleProfile, **kwargs: Any) -> AssumeResult:
    """``sts.assume_role`` with the process environment, which conftest points at moto."""
    return sts.assume_role(role, env=os.environ, **kwargs)


REPO = Path(__file__).resolve().parent.parent
START_URL = "https://corp.awsapps.com/start"
LEGACY_URL = "https://legacy.awsapps.com/start"
CONFIG = f"""[default]
region = us-east-1

[sso-session corp]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile sso-dev]
sso_session = corp
sso_account_id = {ACCOUNT}
sso_role_name = Developer
region = us-east-1

[profile legacy-dev]
sso_start_url = {LEGACY_URL}
sso_region = us-east-1
sso_account_id = {ACCOUNT}
sso_role_name = Developer

[profile via-sso]
role_arn = arn:aws:iam::{ACCOUNT}:role/platform
source_profile = sso-dev

[profile via-legacy]
role_arn = arn:aws:iam::{ACCOUNT}:role/platform
source_profile = legacy-dev
"""
TOKEN = "ssoAccessTokenWrittenByTheTest0001"


@pytest.fixture
def world(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SsoFake, StsProxy]]:
    aws.create_role("platform", trust_principal=aws.user_arn("dev"))
    aws.write_config(CONFIG)
    aws.write_credentials("")  # no long-term keys anywhere: SSO is the only source
    with SsoFake(valid_tokens={TOKEN}) as fake, StsProxy(aws.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        yield fake, proxy


def write_token(key_source: str, *, token: str = TOKEN, expires_in: timedelta = timedelta(hours=8),
                start_url: str = START_URL) -> Path:
    path = sso.cache_dir(env=os.environ) / (hashlib.sha1(key_source.encode()).hexdigest() + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"startUrl": start_url, "region": "us-east-1",
                                "accessToken": token,
                                "expiresAt": iso_utc(utcnow() + expires_in)}))
    return path


# --------------------------------------------------------------------- resolution

@pytest.mark.parametrize(("role", "key_source", "start_url"), [
    ("via-sso", "corp", START_URL),  # sso_session: the file is sha1 of the session name
    ("via-legacy", LEGACY_URL, LEGACY_URL),  # legacy: sha1 of the start URL
])
def test_an_sso_source_signs_with_the_portals_keys(world: tuple[SsoFake, StsProxy], role: str,
                                                  key_source: str, start_url: str) -> None:
    fake, proxy = world
    write_token(key_source, start_url=start_url)
    result = assume(awsconfig.get_role_profile(role, paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert "assumed-role/platform/" in result.identity_arn
    [call] = proxy.calls
    assert call.action == "AssumeRole" and call.access_key_id == fake.role_keys[0]
    assert call.has_token
    assert fake.paths() == ["/federation/credentials"]


@pytest.mark.parametrize(("token_kwargs", "reason"), [
    (None, "not signed in"),
    ({"expires_in": timedelta(minutes=-5)}, "token expired"),
    ({"token": "a-token-the-portal-does-not-know"}, "the token was refused"),
])
def test_a_sign_in_is_asked_for_naming_the_profile_and_why(
        world: tuple[SsoFake, StsProxy], token_kwargs: dict[str, object] | None,
        reason: str) -> None:
    _, proxy = world
    if token_kwargs is not None:
        write_token("corp", **token_kwargs)  # type: ignore[arg-type]
    with pytest.raises(SsoLoginRequiredError) as err:
        assume(awsconfig.get_role_profile("via-sso", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert str(err.value).startswith(f"SSO sign-in needed for profile 'sso-dev' ({reason})")
    assert "aws sso login --profile sso-dev" in str(err.value)
    assert err.value.exit_code == 2 and err.value.input_kind == "sso"
    assert err.value.kwargs["profile"] == "sso-dev"
    assert proxy.calls == []  # nothing reached STS
    if token_kwargs and "token" in token_kwargs:
        assert str(token_kwargs["token"]) not in str(err.value)


def test_the_worker_reports_which_profile_to_sign_in(world: tuple[SsoFake, StsProxy],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    write_token("corp", expires_in=timedelta(minutes=-1))
    with pytest.raises(SsoLoginRequiredError) as err:
        worker.assume_in_child("via-sso", ctx=compose.in_process(os.environ))
    assert "(token expired)" in str(err.value) and err.value.kwargs["profile"] == "sso-dev"


# ----------------------------------------------------------------------- signing in

def test_device_flow_writes_botocores_cache_and_botocore_uses_it(
        world: tuple[SsoFake, StsProxy], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tray")
    fake, proxy = world
    fake.slow_down = 1
    opened: list[str] = []
    slept: list[float] = []
    codes: list[tuple[str, str]] = []
    path = sso.start_sso_login("sso-dev", which=lambda _: None, opener=opened.append,
                               sleep=slept.append, on_code=lambda c, u: codes.append((c, u)),
                               env=os.environ)
    assert path == sso.cache_dir(env=os.environ) / (hashlib.sha1(b"corp").hexdigest() + ".json")
    assert opened == ["https://device.sso.example/?user_code=ABCD-EFGH"]
    assert codes == [("ABCD-EFGH", opened[0])]
    assert slept == [1, 1, 1, 6]  # pending, pending, slow down (+5 s), granted
    assert fake.paths() == ["/client/register", "/device_authorization"] + ["/token"] * 4
    register = fake.requests[0][2]
    assert register["clientType"] == "public" and register["scopes"] == ["sso:account:access"]
    token_poll = fake.requests[2][2]
    assert token_poll["grantType"] == sso.DEVICE_GRANT
    assert token_poll["deviceCode"] == "fake-device-code"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    doc = json.loads(path.read_text())
    assert doc["accessToken"] == fake.issued_token and doc["startUrl"] == START_URL
    assert doc["refreshToken"] == "fake-refresh-token" and doc["clientId"] == "fake-client-id"
    assert doc["expiresAt"].endswith("Z") and doc["registrationExpiresAt"].endswith("Z")
    assert sso.token_state(sso.load_config("sso-dev", env=os.environ), env=os.environ) == "valid"

    # botocore itself reads the file we wrote: the role is assumed with the portal's keys.
    result = assume(awsconfig.get_role_profile("via-sso", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert "assumed-role/platform/" in result.identity_arn
    assert proxy.calls[-1].access_key_id == fake.role_keys[0]
    for secret in (fake.issued_token, "fake-refresh-token", "fake-client-secret"):
        assert secret not in caplog.text


def test_the_trays_sign_in_runs_in_a_child_whose_code_arrives_as_an_event(
        world: tuple[SsoFake, StsProxy], tmp_path: Path) -> None:
    """The device flow builds a botocore client: the tray runs it in a child (issue 21),
    and the code to confirm reaches it while the child waits for the approval."""
    fake, _ = world
    fake.pending = 0
    opened = tmp_path / "opened"
    browser = fake_program(tmp_path / "bin", "fakebrowser", f'echo "$1" > {opened}\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "BROWSER": str(browser),
           "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}  # no `aws` CLI: the device flow
    code = ("import json, os, sys\n"
            "from tray.ui import tray_app\n"
            "codes = []\n"
            "path = tray_app.start_sso_login('sso-dev', env=os.environ,\n"
            "                                on_code=lambda c, u: codes.append([c, u]))\n"
            "print(json.dumps({'path': str(path), 'codes': codes, 'loaded': sorted(\n"
            "    m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3'))}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.splitlines()[-1])
    url = "https://device.sso.example/?user_code=ABCD-EFGH"
    assert doc["codes"] == [["ABCD-EFGH", url]] and doc["loaded"] == []
    assert Path(doc["path"]) == sso.token_path(sso.load_config("sso-dev", env=env), env)
    assert sso.token_state(sso.load_config("sso-dev", env=env), env=env) == "valid"
    deadline = time.monotonic() + 10  # the browser starts detached
    while not opened.exists() or not opened.read_text():
        assert time.monotonic() < deadline, "the browser was never opened"
        time.sleep(0.02)
    assert opened.read_text().strip() == url


def test_device_flow_gives_up_when_nobody_approves(world: tuple[SsoFake, StsProxy]) -> None:
    fake, _ = world
    fake.pending = 10**6
    mono = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock: the waiting costs no real time
        mono[0] += seconds

    with pytest.raises(AwsError, match="was not approved in time"):
        sso.start_sso_login("sso-dev", which=lambda _: None, opener=lambda _: None,
                            sleep=sleep, monotonic=lambda: mono[0], timeout=5, env=os.environ)
    assert fake.paths().count("/token") == 5
    assert sso.token_state(sso.load_config("sso-dev", env=os.environ), env=os.environ) == "missing"


def _fake_aws(tmp_path: Path, version: str) -> Path:
    """An `aws` executable: prints ``version``; `sso login` records its argv and
    environment and writes a token as AWS CLI v2 would."""
    record = tmp_path / "aws-record.json"
    script = tmp_path / "bin" / "aws"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import hashlib, json, os, sys, datetime\n"
        "if sys.argv[1:] == ['--version']:\n"
        f"    print({version!r}); sys.exit(0)\n"
        f"open({str(record)!r}, 'w').write(json.dumps({{'argv': sys.argv[1:], "
        "'display': os.environ.get('DISPLAY')}))\n"
        "d = os.path.expanduser('~/.aws/sso/cache'); os.makedirs(d, exist_ok=True)\n"
        "exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8))\n"
        "open(os.path.join(d, hashlib.sha1(b'corp').hexdigest() + '.json'), 'w').write(\n"
        f"    json.dumps({{'startUrl': {START_URL!r}, 'region': 'us-east-1', "
        f"'accessToken': {TOKEN!r}, 'expiresAt': exp.strftime('%Y-%m-%dT%H:%M:%SZ')}}))\n")
    script.chmod(0o755)
    return script


def test_aws_cli_v2_signs_in_when_it_is_there(world: tuple[SsoFake, StsProxy], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake, _ = world
    monkeypatch.setenv("DISPLAY", ":77")
    aws = _fake_aws(tmp_path, "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64")
    path = sso.start_sso_login("sso-dev", which=lambda name: str(aws) if name == "aws" else None,
                               opener=lambda _: pytest.fail("the CLI opens the browser"),
                               env=os.environ)
    record = json.loads((tmp_path / "aws-record.json").read_text())
    assert record == {"argv": ["sso", "login", "--profile", "sso-dev"], "display": ":77"}
    assert path == sso.token_path(sso.load_config("sso-dev", env=os.environ), env=os.environ)
    assert sso.token_state(sso.load_config("sso-dev", env=os.environ), env=os.environ) == "valid"
    assert fake.requests == []  # the CLI did it all


def test_aws_cli_v1_has_no_sso_login_so_the_device_flow_runs(
        world: tuple[SsoFake, StsProxy], tmp_path: Path) -> None:
    fake, _ = world
    aws = _fake_aws(tmp_path, "aws-cli/1.45.11 Python/3.11.7 Linux/6.18 botocore/1.43.11")
    sso.start_sso_login("sso-dev", which=lambda _: str(aws), opener=lambda _: None,
                        sleep=lambda _: None, env=os.environ)
    assert not (tmp_path / "aws-record.json").exists()
    assert "/device_authorization" in fake.paths()
    assert sso.token_state(sso.load_config("sso-dev", env=os.environ), env=os.environ) == "valid"


# ---------------------------------------------------------------------- refreshing

def test_the_refresher_waits_for_the_sign_in_then_resumes_by_itself(
        world: tuple[SsoFake, StsProxy]) -> None:
    fake, proxy = world
    clock = FakeClock()
    sched = FakeScheduler(clock)
    r = Refresher(compose.in_process(os.environ, now=clock.now, settings=Settings()), sched,
                  monotonic=clock.monotonic, rng=random.Random(1), tick_interval=None)
    r.start()
    write_token("corp")
    assert r.switch("via-sso").state is RefreshState.FRESH

    write_token("corp", expires_in=timedelta(minutes=-1))  # the working day is over
    with pytest.raises(SsoLoginRequiredError):
        r.refresh_now()
    snap = r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.input_needed == "sso" and snap.input_profile == "sso-dev"
    assert snap.last_error is not None
    assert snap.last_error.startswith("SSO sign-in needed for profile 'sso-dev' (token expired)")
    assert sched.next_run("refresh:roletray") is None  # nothing retries until a person signs in
    r.check_wake()  # nothing changed: still waiting, nothing called
    assert r.snapshot().state is RefreshState.NEEDS_INPUT and len(proxy.calls) == 1

    sso.start_sso_login("sso-dev", which=lambda _: None, opener=lambda _: None,
                        sleep=lambda _: None, env=os.environ)
    r.check_wake()  # the token file changed: refresh at once
    snap = r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.input_needed is None
    assert len(proxy.calls) == 2 and proxy.calls[-1].access_key_id == fake.role_keys[0]
    assert sched.next_run("refresh:roletray") is not None
    assert os.environ.get("AWS_ENDPOINT_URL_SSO") == fake.url  # never the real portal


# ------------------------------------------------------- permission sets are roles

def test_a_permission_set_is_listed_and_kept_in_a_section_with_one_call(
        world: tuple[SsoFake, StsProxy], capsys: pytest.CaptureFixture[str]) -> None:
    from test_cli_e2e import run_aws

    from tray.cli import main

    fake, proxy = world
    write_token("corp")
    assert main(["profiles", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert (listed["sso-dev"]["kind"], listed["sso-dev"]["account"],
            listed["sso-dev"]["role_name"]) == ("sso", ACCOUNT, "Developer")
    assert listed["legacy-dev"]["kind"] == "sso"

    assert main(["assume", "sso-dev", "--target", "dev-keys", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["account"] == ACCOUNT and "AWSReservedSSO_Developer" in out["identity_arn"]
    assert fake.paths() == ["/federation/credentials"]  # one GetRoleCredentials
    assert proxy.calls == []  # no STS call at all
    text = (Path(os.environ["HOME"]) / ".aws" / "credentials").read_text()
    assert f"aws_access_key_id = {fake.role_keys[0]}" in text
    done = run_aws("sts", "get-caller-identity", "--profile", "dev-keys")
    assert done.returncode == 0, done.stderr


def test_a_permission_set_the_sign_in_may_not_use_is_refused_in_one_line(
        world: tuple[SsoFake, StsProxy], capsys: pytest.CaptureFixture[str]) -> None:
    from tray.cli import main

    fake, _ = world
    fake.forbidden.add("Developer")
    write_token("corp")
    creds = Path(os.environ["HOME"]) / ".aws" / "credentials"
    before = creds.read_bytes()
    assert main(["assume", "sso-dev", "--target", "dev-keys"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"permission set Developer in account {ACCOUNT} (ForbiddenException)" in err
    assert creds.read_bytes() == before


def test_a_permission_set_without_a_sign_in_asks_for_one(
        world: tuple[SsoFake, StsProxy], capsys: pytest.CaptureFixture[str]) -> None:
    from tray.cli import main

    fake, _ = world
    assert main(["assume", "sso-dev", "--target", "dev-keys"]) == 2
    err = capsys.readouterr().err
    assert "SSO sign-in needed for profile 'sso-dev' (not signed in)" in err
    assert fake.paths() == []


def test_the_doctor_checks_a_permission_set_with_its_one_call(
        world: tuple[SsoFake, StsProxy], capsys: pytest.CaptureFixture[str]) -> None:
    from tray.cli import main

    fake, proxy = world
    write_token("corp")
    main(["doctor", "sso-dev"])
    out = capsys.readouterr().out
    assert f"'sso-dev' is permission set Developer in account {ACCOUNT}" in out
    assert "GetRoleCredentials works" in out
    fake.forbidden.add("Developer")
    assert main(["doctor", "sso-dev"]) != 0
    assert "(ForbiddenException)" in capsys.readouterr().out
    assert proxy.calls == []
