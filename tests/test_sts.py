"""AssumeRole against moto's server (auth enforced), and against servers that misbehave."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, AwsSandbox  # tests/ is on sys.path (pytest's rootdir-less import)
from faultserver import FaultServer

from tray import paths
from tray.aws import session as aws_session
from tray.aws import sts
from tray.awsfiles import awsconfig
from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    ConfigError,
    CredentialsFileError,
    EndpointError,
    MfaRequiredError,
    SourceCredentialsError,
    UnknownProfileError,
    UsageError,
)
from tray.domain.models import AssumeResult, RoleProfile


def assume(role: RoleProfile, **kwargs: Any) -> AssumeResult:
    """``sts.assume_role`` with the process environment, which conftest points at moto."""
    return sts.assume_role(role, env=os.environ, **kwargs)


FAST = sts.make_client_factory(connect_timeout=1, read_timeout=1, max_attempts=2)
NOW = datetime(2026, 3, 27, 1, 25, 20, tzinfo=UTC)


def identity_of(aws: AwsSandbox, akid: str, secret: str, token: str | None = None) -> str:
    client = boto3.client("sts", endpoint_url=aws.url, region_name="us-east-1",
                          aws_access_key_id=akid, aws_secret_access_key=secret,
                          aws_session_token=token)
    return str(client.get_caller_identity()["Arn"])


def add_config(aws: AwsSandbox, text: str) -> None:
    aws.write_config(aws.config_path.read_text() + "\n" + text)


@pytest.fixture
def proxy(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """A counting proxy in front of moto for STS only."""
    with FaultServer("proxy", upstream=aws.url) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        yield srv


# --- success --------------------------------------------------------------------

def test_seed_flow(aws: AwsSandbox, proxy: FaultServer) -> None:
    aws.seed_world()
    aws.enforce()
    result = assume(awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)), now=lambda: NOW)
    ts = int(NOW.timestamp())
    assert result.identity_arn == (f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/"
                                   f"roletray-{ts}")
    assert result.assumed_role_id.endswith(f":roletray-{ts}")
    assert result.account == ACCOUNT and result.profile == "platform"
    creds = result.credentials
    assert creds.access_key_id.startswith("ASIA")
    assert creds.expiration.tzinfo == UTC
    assert result.server_date is not None and result.server_date.tzinfo == UTC
    assert abs((creds.expiration - result.server_date).total_seconds() - 3600) < 5
    # Exactly one request, and no GetCallerIdentity: the identity came from the answer.
    assert proxy.actions == ["AssumeRole"]
    form = proxy.forms[0]
    assert form["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/platform"
    assert form["DurationSeconds"] == "3600" and "ExternalId" not in form
    # The keys work, as the role.
    assert identity_of(aws, creds.access_key_id, creds.secret_access_key,
                       creds.session_token) == result.identity_arn


def test_parameters_from_profile_and_arguments(aws: AwsSandbox, proxy: FaultServer) -> None:
    arn = aws.seed_world()
    add_config(aws, f"[profile tuned]\nrole_arn = {arn}\nsource_profile = default\n"
                    "external_id = ext-42\nrole_session_name = alice\nduration_seconds = 1800\n")
    aws.enforce()
    role = awsconfig.get_role_profile("tuned", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    first = assume(role)
    assert first.identity_arn.endswith("assumed-role/platform/alice")
    assert first.server_date is not None
    assert abs((first.credentials.expiration - first.server_date).total_seconds() - 1800) < 5
    second = assume(role, duration=900, session_name="bob")
    assert second.identity_arn.endswith("/bob")
    assert second.server_date is not None
    assert abs((second.credentials.expiration - second.server_date).total_seconds() - 900) < 5
    assert [f["ExternalId"] for f in proxy.forms] == ["ext-42", "ext-42"]
    assert [f["DurationSeconds"] for f in proxy.forms] == ["1800", "900"]


def test_mfa(aws: AwsSandbox, proxy: FaultServer) -> None:
    arn = aws.seed_world()
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/dev"
    add_config(aws, f"[profile mfa]\nrole_arn = {arn}\nsource_profile = default\n"
                    f"mfa_serial = {serial}\n")
    aws.enforce()
    role = awsconfig.get_role_profile("mfa", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    with pytest.raises(MfaRequiredError) as err:
        assume(role)
    assert serial in str(err.value) and err.value.exit_code == 2
    with pytest.raises(UsageError, match="6 digits"):
        assume(role, mfa_code="12a456")
    assert proxy.requests == 0  # refused before any call
    assume(role, mfa_code="123456")
    assert proxy.forms[0]["SerialNumber"] == serial and proxy.forms[0]["TokenCode"] == "123456"


def test_bad_duration_argument(aws: AwsSandbox, proxy: FaultServer) -> None:
    aws.seed_world()
    with pytest.raises(UsageError, match="duration 60 must be a whole number from 900"):
        assume(awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)), duration=60)
    assert proxy.requests == 0


def test_chained_role_source(aws: AwsSandbox) -> None:
    aws.seed_world()
    base = aws.create_role("base")
    # moto matches the assumed-role session ARN exactly, hence a fixed session name.
    top = aws.create_role("top", trust_principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/base/chain")
    add_config(aws, f"[profile base]\nrole_arn = {base}\nsource_profile = default\n"
                    f"role_session_name = chain\n[profile top]\nrole_arn = {top}\n"
                    "source_profile = base\n")
    aws.enforce()
    result = assume(awsconfig.get_role_profile("top", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert result.identity_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/top/roletray-")


def test_chained_source_denied_names_the_source(aws: AwsSandbox) -> None:
    aws.seed_world()
    base = aws.create_role("base", trust_principal="arn:aws:iam::999999999999:root")
    add_config(aws, f"[profile base]\nrole_arn = {base}\nsource_profile = default\n"
                    f"[profile top]\nrole_arn = {base}\nsource_profile = base\n")
    aws.enforce()
    with pytest.raises(AccessDeniedError) as err:
        assume(awsconfig.get_role_profile("top", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert str(err.value).startswith("profile 'top': profile 'base': the trust policy of role "
                                     "'base' probably does not trust ")


def test_chained_source_is_bounded_too(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = aws.seed_world()
    add_config(aws, f"[profile base]\nrole_arn = {arn}\nsource_profile = default\n"
                    f"[profile top]\nrole_arn = {arn}\nsource_profile = base\n")
    with FaultServer("hang") as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        start = time.monotonic()
        with pytest.raises(EndpointError) as err:
            assume(awsconfig.get_role_profile("top", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)), client_factory=FAST)
        assert time.monotonic() - start < 10  # botocore's defaults would wait minutes
    assert str(err.value).startswith("profile 'top': STS at ")
    assert srv.requests == 2  # base's AssumeRole, retried once; ours never started


def test_credential_process_source(aws: AwsSandbox, tmp_path: Path) -> None:
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    script = tmp_path / "creds.py"
    keys = {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret}
    script.write_text(f"print({json.dumps(json.dumps(keys))})\n")
    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nsys.stderr.write('token cache is empty')\nsys.exit(3)\n")
    add_config(aws, f"[profile proc]\ncredential_process = {sys.executable} {script}\n"
                    f"[profile via-proc]\nrole_arn = {arn}\nsource_profile = proc\n"
                    f"[profile badproc]\ncredential_process = {sys.executable} {failing}\n"
                    f"[profile via-badproc]\nrole_arn = {arn}\nsource_profile = badproc\n")
    aws.write_credentials("")  # the process is the only source of keys
    aws.enforce()
    result = assume(awsconfig.get_role_profile("via-proc", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert "assumed-role/platform/" in result.identity_arn
    with pytest.raises(SourceCredentialsError) as err:
        assume(awsconfig.get_role_profile("via-badproc", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert str(err.value) == (
        "credential_process for profile 'badproc' exited with code 3; its messages are not "
        "repeated here (they may hold a secret): run `aws sts get-caller-identity --profile "
        "badproc` to see them")
    assert "token cache is empty" not in str(err.value)


def test_a_failing_process_never_repeats_its_stderr(aws: AwsSandbox, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    # Issue 13 item 9: a helper may print a secret when it fails; neither the error
    # nor the log may carry it.
    arn = aws.seed_world()
    fake_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRETKEY"
    leaky = tmp_path / "leaky.py"
    leaky.write_text(f"import sys\nsys.stderr.write('refresh failed for {fake_secret}')\n"
                     "sys.exit(1)\n")
    add_config(aws, f"[profile leaky]\ncredential_process = {sys.executable} {leaky}\n"
                    f"[profile via-leaky]\nrole_arn = {arn}\nsource_profile = leaky\n")
    aws.write_credentials("")
    caplog.set_level("DEBUG")
    with pytest.raises(SourceCredentialsError) as err:
        assume(awsconfig.get_role_profile("via-leaky", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert "exited with code 1" in str(err.value) and "--profile leaky" in str(err.value)
    shown = str(err.value) + repr(err.value.kwargs) + caplog.text
    assert fake_secret not in shown and "refresh failed" not in shown


def test_credential_source_environment(aws: AwsSandbox,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    add_config(aws, f"[profile envrole]\nrole_arn = {arn}\ncredential_source = Environment\n")
    aws.write_credentials("")
    aws.enforce()
    role = awsconfig.get_role_profile("envrole", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    with pytest.raises(SourceCredentialsError, match="credential_source Environment"):
        assume(role)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", akid)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    assert "assumed-role/platform/" in assume(role).identity_arn


def test_role_profile_that_is_its_own_source(aws: AwsSandbox) -> None:
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    add_config(aws, f"[profile selfish]\nrole_arn = {arn}\nsource_profile = selfish\n"
                    f"aws_access_key_id = {akid}\naws_secret_access_key = {secret}\n")
    aws.write_credentials("")
    aws.enforce()
    result = assume(awsconfig.get_role_profile("selfish", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert "assumed-role/platform/" in result.identity_arn


# --- endpoints and regions ----------------------------------------------------------

def test_sts_endpoint_variable_wins(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.seed_world()
    aws.enforce()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.url)
    with FaultServer("refuse") as dead:
        monkeypatch.setenv("AWS_ENDPOINT_URL", dead.url)
        assert "assumed-role/platform/" in assume(
            awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))).identity_arn


def test_sts_endpoint_variable_alone(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.seed_world()
    aws.enforce()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.url)
    role = awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    # Checked before the call, so that a mistake never reaches the real AWS.
    assert sts.default_client_factory(role, env=os.environ)("sts").meta.endpoint_url == aws.url
    assert "assumed-role/platform/" in assume(role).identity_arn


def test_profile_endpoint_url(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = aws.seed_world()
    add_config(aws, f"[profile local]\nrole_arn = {arn}\nsource_profile = default\n"
                    f"endpoint_url = {aws.url}\n")
    aws.enforce()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    role = awsconfig.get_role_profile("local", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    assert sts.default_client_factory(role, env=os.environ)("sts").meta.endpoint_url == aws.url
    assert "assumed-role/platform/" in assume(role).identity_arn


def test_region_and_regional_endpoints(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = aws.seed_world()  # [default] region = ap-northeast-2
    add_config(aws, f"[profile eu]\nrole_arn = {arn}\nsource_profile = default\n"
                    "region = eu-west-1\n"
                    f"[profile legacy]\nrole_arn = {arn}\nsource_profile = default\n"
                    "region = us-east-1\nsts_regional_endpoints = legacy\n"
                    f"[profile regional]\nrole_arn = {arn}\nsource_profile = default\n"
                    "region = us-east-1\nsts_regional_endpoints = regional\n")
    def client(name: str):  # type: ignore[no-untyped-def]
        role = awsconfig.get_role_profile(name, paths.aws_config_file(os.environ),
                                          credentials_path=paths.aws_credentials_file(os.environ))
        return sts.default_client_factory(role, env=os.environ)("sts")

    assert client("platform").meta.region_name == "ap-northeast-2"  # the default's
    assert client("eu").meta.region_name == "eu-west-1"
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # endpoints are only looked at, never called
    assert client("legacy").meta.endpoint_url == "https://sts.amazonaws.com"
    assert client("regional").meta.endpoint_url == "https://sts.us-east-1.amazonaws.com"
    aws.write_config(aws.config_path.read_text().replace("region = ap-northeast-2\n", ""))
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert client("platform").meta.region_name == "sa-east-1"
    monkeypatch.delenv("AWS_REGION")
    assert client("platform").meta.region_name == "us-east-1"


# --- AWS says no ------------------------------------------------------------------------

def test_access_denied_by_trust(aws: AwsSandbox) -> None:
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    add_config(aws, f"[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()
    with pytest.raises(AccessDeniedError) as err:
        assume(awsconfig.get_role_profile("locked", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    msg = str(err.value)
    # The finding first, the role and AWS's code in brackets, the fix pointer once (moto
    # leaves out AWS's "on resource: ARN": the role is named all the same).
    assert msg == (f"profile 'locked': the trust policy of role 'locked' probably does not "
                   f"trust arn:aws:iam::{ACCOUNT}:user/dev (AWS: AccessDenied for "
                   f"sts:AssumeRole on arn:aws:iam::{ACCOUNT}:role/locked); "
                   "`roletray doctor locked` shows the fix")
    assert err.value.exit_code == 1 and "\n" not in msg


def test_revoked_source_keys(aws: AwsSandbox) -> None:
    aws.seed_world()
    akid, secret = aws.users["dev"]
    aws.admin("iam").delete_access_key(UserName="dev", AccessKeyId=akid)
    aws.enforce()
    with pytest.raises(SourceCredentialsError) as err:
        assume(awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    msg = str(err.value)
    assert msg.startswith("profile 'platform': source profile 'default' keys were rejected "
                          "by AWS: InvalidClientTokenId")
    assert secret not in msg and err.value.exit_code == 1


@pytest.mark.parametrize(("code", "message", "error", "expected"), [
    ("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
     AccessDeniedError, "the MFA code was rejected for arn:aws:iam::123456789012:mfa/dev"),
    ("ExpiredToken", "The security token included in the request is expired",
     SourceCredentialsError, "source profile 'default' keys were rejected by AWS: ExpiredToken"),
    ("SignatureDoesNotMatch", "The request signature we calculated does not match",
     SourceCredentialsError, "keys were rejected by AWS: SignatureDoesNotMatch"),
    ("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration",
     AwsError, "AssumeRole failed: ValidationError: The requested DurationSeconds"),
])
def test_error_answers(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, code: str,
                       message: str, error: type[Exception], expected: str) -> None:
    aws.seed_world()
    role = RoleProfile(name="platform", role_arn=f"arn:aws:iam::{ACCOUNT}:role/platform",
                       source_profile="default", mfa_serial=f"arn:aws:iam::{ACCOUNT}:mfa/dev")
    with FaultServer("error", status=403, code=code, message=message) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        with pytest.raises(error) as err:
            assume(role, mfa_code="654321")
    assert type(err.value) is error
    assert expected in str(err.value) and "654321" not in str(err.value)
    assert srv.actions == ["AssumeRole"]  # a refusal is not retried


def test_missing_or_empty_source(aws: AwsSandbox) -> None:
    arn = aws.seed_world()
    add_config(aws, "[profile empty]\nregion = eu-west-1\n")
    ghost = RoleProfile(name="ghost", role_arn=arn, source_profile="nowhere")
    with pytest.raises(ConfigError, match="source profile 'nowhere' does not exist"):
        assume(ghost)
    aws.write_credentials("")
    empty = RoleProfile(name="x", role_arn=arn, source_profile="empty")
    with pytest.raises(SourceCredentialsError, match="source profile 'empty' yields no "):
        assume(empty)


def test_broken_credentials_file_is_not_quoted(aws: AwsSandbox) -> None:
    aws.seed_world()
    akid, secret = aws.users["dev"]
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n{secret}\n")
    with pytest.raises(ConfigError) as err:
        assume(awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert str(err.value) == "profile 'platform': botocore cannot parse ~/.aws/credentials"
    assert secret not in str(err.value)


def test_source_role_needing_mfa_is_refused(aws: AwsSandbox, proxy: FaultServer) -> None:
    arn = aws.seed_world()
    add_config(aws, f"[profile mid]\nrole_arn = {arn}\nsource_profile = default\n"
                    f"mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev\n"
                    f"[profile top]\nrole_arn = {arn}\nsource_profile = mid\n")
    with pytest.raises(ConfigError, match="source profile 'mid' needs an MFA code"):
        assume(awsconfig.get_role_profile("top", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)))
    assert proxy.requests == 0  # botocore never got to prompt on a terminal


# --- STS unreachable or unwell ---------------------------------------------------------

def _seed_pointing_at(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch, url: str) -> RoleProfile:
    aws.seed_world()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    return awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))


def test_refused_port_fails_fast(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer("refuse") as srv:
        role = _seed_pointing_at(aws, monkeypatch, srv.url)
        start = time.monotonic()
        with pytest.raises(EndpointError) as err:
            assume(role)  # the default factory: real timeouts and retries
        assert time.monotonic() - start < 15
    assert f"could not reach STS at {srv.url}" in str(err.value)
    assert str(err.value).startswith("profile 'platform': ") and err.value.exit_code == 1


def test_hanging_server_times_out(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer("hang") as srv:
        role = _seed_pointing_at(aws, monkeypatch, srv.url)
        start = time.monotonic()
        with pytest.raises(EndpointError) as err:
            assume(role)  # the default factory
        elapsed = time.monotonic() - start
    assert elapsed < 15
    assert "timed out" in str(err.value) and srv.url in str(err.value)
    assert srv.requests == aws_session.MAX_ATTEMPTS


def test_server_error_after_retries(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer("500") as srv:
        role = _seed_pointing_at(aws, monkeypatch, srv.url)
        with pytest.raises(EndpointError) as err:
            assume(role, client_factory=FAST)
    assert srv.requests == 2  # retried once, then reported
    assert f"STS at {srv.url} answered HTTP 500 (InternalFailure) after 2 attempts" in str(
        err.value)


def test_throttled(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer("throttle") as srv:
        role = _seed_pointing_at(aws, monkeypatch, srv.url)
        with pytest.raises(AwsError) as err:
            assume(role, client_factory=FAST)
    assert type(err.value) is AwsError and err.value.exit_code == 1
    assert "STS throttled the request (Throttling: Rate exceeded)" in str(err.value)
    assert srv.actions == ["AssumeRole", "AssumeRole"]


def test_slow_but_in_time(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer("slow", upstream=aws.url, delay=0.3) as srv:
        role = _seed_pointing_at(aws, monkeypatch, srv.url)
        aws.enforce()
        assert "assumed-role/platform/" in assume(role, client_factory=FAST).identity_arn
    assert srv.requests == 1


# --- caller_identity ------------------------------------------------------------------------

def test_caller_identity(aws: AwsSandbox) -> None:
    aws.seed_world()
    aws.enforce()
    ident = sts.caller_identity("default", env=os.environ)
    assert ident["Arn"] == aws.user_arn("dev") and ident["Account"] == ACCOUNT
    with pytest.raises(UnknownProfileError, match="no profile named 'nope'"):
        sts.caller_identity("nope", env=os.environ)


# --- verify_target and env_warnings -------------------------------------------------------------

def _write_target(aws: AwsSandbox, akid: str = "ASIAEXAMPLENEWKEY123") -> None:
    aws.write_credentials("[default]\naws_access_key_id = AKIAOLD\naws_secret_access_key = s\n"
                          f"[roletray]\naws_access_key_id = {akid}\n"
                          "aws_secret_access_key = secret\naws_session_token = token\n")


def test_verify_target_ok_even_with_env_keys(aws: AwsSandbox,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _write_target(aws)
    aws.write_config("[profile roletray]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    sts.verify_target("roletray", "ASIAEXAMPLENEWKEY123",
                      os.environ)  # raises when it does not match


def test_verify_target_mismatch_is_masked(aws: AwsSandbox) -> None:
    _write_target(aws, "ASIAEXAMPLEOTHERKEYZ")
    with pytest.raises(CredentialsFileError) as err:
        sts.verify_target("roletray", "ASIAEXAMPLENEWKEY123", os.environ)
    assert str(err.value) == ("~/.aws/credentials: profile 'roletray' yields key "
                              "****************KEYZ, not the new ****************Y123")


def test_verify_target_shadowed_or_missing(aws: AwsSandbox) -> None:
    _write_target(aws)
    aws.write_config("[profile roletray]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                     "source_profile = default\n")
    with pytest.raises(CredentialsFileError, match="profile 'roletray' has role_arn"):
        sts.verify_target("roletray", "ASIAEXAMPLENEWKEY123", os.environ)
    aws.write_config("[profile other]\ncredential_process = /bin/false\n")
    aws.write_credentials("[default]\naws_access_key_id = A\naws_secret_access_key = s\n")
    with pytest.raises(CredentialsFileError, match="no profile 'roletray'"):
        sts.verify_target("roletray", "ASIAEXAMPLENEWKEY123", os.environ)


def test_verify_target_uses_given_env(aws: AwsSandbox, tmp_path: Path) -> None:
    creds = tmp_path / "elsewhere"
    creds.write_text("[roletray]\naws_access_key_id = ASIAELSEWHERE\naws_secret_access_key = s\n")
    env = {"HOME": str(aws.home), "AWS_SHARED_CREDENTIALS_FILE": str(creds),
           "AWS_CONFIG_FILE": str(aws.config_path)}
    sts.verify_target("roletray", "ASIAELSEWHERE", env)
    with pytest.raises(CredentialsFileError):
        sts.verify_target("roletray", "ASIAELSEWHERE", os.environ)  # the process's own files


def test_env_warnings() -> None:
    assert sts.env_warnings("roletray", {}) == []
    assert sts.env_warnings("roletray", {"AWS_PROFILE": "roletray"}) == []
    warnings = sts.env_warnings("roletray", {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "topsecret",
        "AWS_SESSION_TOKEN": "tokentoken", "AWS_PROFILE": "default"})
    assert len(warnings) == 3
    assert warnings[0].startswith("AWS_ACCESS_KEY_ID is set in the environment")
    assert "AWS_SESSION_TOKEN is set" in warnings[1]
    assert "AWS_PROFILE=default in the environment" in warnings[2]
    assert not any(s in w for w in warnings for s in ("topsecret", "tokentoken", "AKIAEXAMPLE"))
    assert sts.env_warnings("roletray", {"AWS_DEFAULT_PROFILE": "dev"}) == [
        "AWS_DEFAULT_PROFILE=dev in the environment: tools use profile 'dev', not 'roletray'"]


def test_env_warnings_reads_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "platform")
    assert sts.env_warnings("roletray", os.environ) == [
        "AWS_PROFILE=platform in the environment: tools use profile 'platform', not 'roletray'"]


def test_expiration_is_utc_aware_for_naive_answers() -> None:
    naive = datetime(2026, 1, 1, 12, 0, 0)

    class Fake:
        def assume_role(self, **kwargs: object) -> dict[str, object]:
            return {"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": "s",
                                    "SessionToken": "t", "Expiration": naive},
                    "AssumedRoleUser": {"Arn": "arn:aws:sts::1:assumed-role/r/s",
                                        "AssumedRoleId": "AROA:s"},
                    "ResponseMetadata": {"HTTPHeaders": {}}}

    role = RoleProfile(name="p", role_arn="arn:aws:iam::111122223333:role/r",
                       source_profile="default")
    result = assume(role, client_factory=lambda _p, **_: lambda *_a, **_k: Fake())
    assert result.credentials.expiration == naive.replace(tzinfo=UTC)
    assert result.server_date is None
