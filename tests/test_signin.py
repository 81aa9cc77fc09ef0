"""`aws login` sources: a role over a ``login_session`` profile, renewed by botocore
against a Sign-In stand-in on loopback (tests/signinfake.py), its rotated token saved
where botocore and the AWS CLI read it; an ended sign-in is a needs-input state that
names the command to run, and nothing is written."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from conftest import ACCOUNT, AwsSandbox
from fakes import FakeClock, FakeScheduler
from signinfake import Keys, SignInFake, expired, write_token_cache
from stsproxy import StsProxy

from tray import compose
from tray.awsfiles import logincache
from tray.cli import main
from tray.domain.errors import SignInNotAllowedError, SignInRequiredError
from tray.domain.models import RefreshState
from tray.domain.problems import problem_from
from tray.engine.refresher import Refresher
from tray.settings import Settings

SESSION = f"arn:aws:iam::{ACCOUNT}:user/dev"
CONFIG = f"""[default]
region = us-east-1

[profile dev]
login_session = {SESSION}
region = us-east-1

[profile platform]
role_arn = arn:aws:iam::{ACCOUNT}:role/platform
source_profile = dev
"""


@dataclass
class World:
    aws: AwsSandbox
    fake: SignInFake
    proxy: StsProxy

    def moto_keys(self) -> Keys:
        """A session of the user's own keys, from moto: what a sign-in hands out."""
        akid, secret = self.aws.users["dev"]
        sts = boto3.client("sts", endpoint_url=self.aws.url, region_name="us-east-1",
                           aws_access_key_id=akid, aws_secret_access_key=secret)
        c = sts.get_session_token(DurationSeconds=900)["Credentials"]
        return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]

    def sign_in(self, *, expires_at: datetime | None = None) -> Path:
        """As `aws login` leaves it: keys that expired a while ago by default, so the
        first use renews them at the stand-in."""
        return write_token_cache(logincache.cache_dir(os.environ), SESSION, self.fake,
                                 self.moto_keys(), expires_at=expires_at or expired())


@pytest.fixture
def world(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    aws.create_user("dev")
    aws.create_role("platform", trust_principal=aws.user_arn("dev"))
    aws.write_config(CONFIG)
    aws.write_credentials("")  # no long-term key anywhere: the sign-in is the only source
    w: World
    with SignInFake(keys=lambda: w.moto_keys()) as fake, StsProxy(aws.url) as proxy:
        w = World(aws, fake, proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SIGNIN", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        yield w


def started_refresher() -> tuple[Refresher, FakeScheduler]:
    """A refresher on a fake clock and scheduler (no tick), started."""
    clock = FakeClock()
    sched = FakeScheduler(clock)
    r = Refresher(compose.in_process(os.environ, now=clock.now, settings=Settings()), sched,
                  monotonic=clock.monotonic, rng=random.Random(1), tick_interval=None)
    r.start()
    return r, sched


def token_doc(path: Path) -> dict:
    return json.loads(path.read_text())


def test_a_role_over_an_aws_login_source_is_assumed_and_the_rotated_token_saved(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    cache = world.sign_in()
    old = token_doc(cache)
    assert main(["assume", "platform", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "assumed-role/platform/" in out["identity_arn"]
    # botocore renewed the sign-in once, with a valid DPoP proof, and saved the rotated
    # token where the AWS CLI reads it; the spent one is dead.
    assert world.fake.refreshes == 1 and world.fake.refused == []
    new = token_doc(cache)
    assert new["refreshToken"] != old["refreshToken"]
    assert world.fake.live_tokens() == {new["refreshToken"]}
    assert new["dpopKey"] == old["dpopKey"] and new["clientId"] == old["clientId"]
    [call] = [c for c in world.proxy.calls if c.action == "AssumeRole"]
    assert call.access_key_id == new["accessToken"]["accessKeyId"]  # signed by the sign-in
    text = world.aws.credentials_path.read_text()
    assert "[roletray]" in text and new["refreshToken"] not in text


def test_the_command_loads_awscrt_for_a_sign_in_source(world: World) -> None:
    # `roletray assume` leaves awscrt unloaded when nothing in the chain needs it
    # (tray.aws.session.skip_crt_unless_login); an aws login source's DPoP proof does.
    world.sign_in()
    proc = subprocess.run([sys.executable, "-m", "tray", "assume", "platform", "--json"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ),
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "assumed-role/platform/" in json.loads(proc.stdout)["identity_arn"]
    assert world.fake.refreshes == 1 and world.fake.refused == []


def test_keys_that_still_work_are_used_without_renewing(world: World,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    world.sign_in(expires_at=datetime.now(UTC) + timedelta(minutes=12))
    assert main(["assume", "platform"]) == 0
    assert world.fake.refreshes == 0


@pytest.mark.parametrize(("ended", "error", "words"), [
    ("TOKEN_EXPIRED", SignInRequiredError, "has ended (TOKEN_EXPIRED)"),
    ("USER_CREDENTIALS_CHANGED", SignInRequiredError, "credentials changed"),
    ("INSUFFICIENT_PERMISSIONS", SignInNotAllowedError, "SignInLocalDevelopmentAccess"),
])
def test_an_ended_sign_in_names_the_command_and_writes_nothing(
        world: World, capsys: pytest.CaptureFixture[str], ended: str,
        error: type[SignInRequiredError], words: str) -> None:
    world.sign_in()
    world.fake.ended = ended
    before = world.aws.credentials_path.read_bytes()
    assert main(["assume", "platform"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert words in err and "`aws login --profile dev`" in err
    assert world.aws.credentials_path.read_bytes() == before
    assert [c for c in world.proxy.calls if c.action == "AssumeRole"] == []


def test_no_sign_in_at_all_says_so(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assume", "platform"]) == 2
    err = capsys.readouterr().err
    assert "was not found in ~/.aws/login/cache (not signed in)" in err
    assert "`aws login --profile dev`" in err


def test_an_ended_sign_in_is_a_needs_input_problem_for_the_signin_profile() -> None:
    p = problem_from(SignInRequiredError(profile="dev", reason="has ended (TOKEN_EXPIRED)"),
                     role="platform")
    assert (p.code, p.input_kind, p.profile) == ("needs_signin", "signin", "dev")


def test_the_refresher_waits_for_aws_login_then_resumes_by_itself(world: World) -> None:
    r, sched = started_refresher()
    world.sign_in()
    assert r.switch("platform").state is RefreshState.FRESH

    world.fake.ended = "TOKEN_EXPIRED"  # twelve hours later
    world.sign_in()  # an old file with expired keys: botocore must renew, and is refused
    world.fake.ended = "TOKEN_EXPIRED"
    with pytest.raises(SignInRequiredError):
        r.refresh_now()
    snap = r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.input_needed == "signin" and snap.input_profile == "dev"
    assert sched.next_run("refresh:roletray") is None  # nothing retries until a person acts
    calls = len(world.proxy.calls)
    r.check_wake()
    assert r.snapshot().state is RefreshState.NEEDS_INPUT and len(world.proxy.calls) == calls

    world.fake.ended = None
    world.sign_in()  # the person ran `aws login`: a new token file
    r.check_wake()
    assert r.snapshot().state is RefreshState.FRESH
    assert sched.next_run("refresh:roletray") is not None


def test_the_doctor_names_the_sign_in_and_until_when(world: World,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    world.sign_in()
    main(["doctor", "platform"])
    out = capsys.readouterr().out
    assert "'dev' signs in with `aws login`" in out
    assert "at the latest" in out and "aws login --profile dev" in out


# ------------------------------------------------- the sign-in itself kept in a section

def test_an_aws_login_profile_is_a_role_kept_in_a_section_the_aws_cli_reads(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from test_cli_e2e import run_aws

    cache = world.sign_in()
    assert main(["profiles", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert listed["dev"]["kind"] == "login" and listed["dev"]["account"] == ACCOUNT
    assert listed["dev"]["role_arn"] is None and listed["platform"]["kind"] == "assume"

    assert main(["assume", "dev", "--target", "dev-keys", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["identity_arn"] == SESSION
    assert world.fake.refreshes == 1  # the expired keys were renewed once
    keys = token_doc(cache)["accessToken"]
    assert f"aws_access_key_id = {keys['accessKeyId']}" in world.aws.credentials_path.read_text()
    # No AssumeRole: the sign-in's own keys.
    assert [c for c in world.proxy.calls if c.action == "AssumeRole"] == []
    done = run_aws("sts", "get-caller-identity", "--profile", "dev-keys")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == ACCOUNT


def test_a_kept_sign_in_renews_once_per_window(world: World,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cache = world.sign_in()
    assert main(["assume", "dev", "--target", "dev-keys"]) == 0
    assert world.fake.refreshes == 1
    assert main(["refresh", "--target", "dev-keys"]) == 0  # fresh keys: nothing to renew
    assert world.fake.refreshes == 1
    # Seven minutes later (the refresh margin of a 15-minute session): renewed, once.
    doc = token_doc(cache)
    doc["accessToken"]["expiresAt"] = (datetime.now(UTC) + timedelta(minutes=7)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    cache.write_text(json.dumps(doc))
    assert main(["refresh", "--target", "dev-keys"]) == 0
    assert world.fake.refreshes == 2
    assert main(["refresh", "--target", "dev-keys"]) == 0
    assert world.fake.refreshes == 2
    assert world.fake.live_tokens() == {token_doc(cache)["refreshToken"]}


def test_duration_does_not_apply_to_a_sign_in(world: World,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    world.sign_in()
    before = world.aws.credentials_path.read_bytes()
    assert main(["assume", "dev", "--target", "dev-keys", "--duration", "3600"]) == 2
    assert "--duration does not apply" in capsys.readouterr().err
    assert world.aws.credentials_path.read_bytes() == before


def test_five_sections_over_one_ended_sign_in_wait_once_and_all_resume(world: World) -> None:
    r, _sched = started_refresher()
    world.sign_in()
    targets = [f"kept{i}" for i in range(5)]
    for t in targets:
        assert r.switch("platform", target=t).state is RefreshState.FRESH
    world.fake.ended = "TOKEN_EXPIRED"
    world.sign_in()
    world.fake.ended = "TOKEN_EXPIRED"
    for t in targets:
        with pytest.raises(SignInRequiredError):
            r.refresh_now(target=t)
    waiting = [s for s in r.snapshots() if s.target in targets]
    assert {(s.state, s.input_needed, s.input_profile) for s in waiting} == {
        (RefreshState.NEEDS_INPUT, "signin", "dev")}

    world.fake.ended = None
    world.sign_in()
    renewed = world.fake.refreshes
    r.check_wake()
    assert {s.state for s in r.snapshots() if s.target in targets} == {RefreshState.FRESH}
    assert world.fake.refreshes == renewed + 1  # one renewal serves all five
