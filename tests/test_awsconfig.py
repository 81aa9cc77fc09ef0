"""The AWS config file as botocore reads it, and validated role profiles."""

from __future__ import annotations

import os
from pathlib import Path

import botocore.configloader
import botocore.exceptions
import botocore.session
import pytest

from tray import paths
from tray.awsfiles import awsconfig
from tray.domain.errors import ConfigError, CredentialsFileError, UnknownProfileError
from tray.domain.models import RoleProfile

ARN = "arn:aws:iam::111122223333:role/platform"


@pytest.fixture
def config(isolated_env: Path) -> Path:
    return isolated_env / ".aws" / "config"


@pytest.fixture
def credentials(isolated_env: Path) -> Path:
    return isolated_env / ".aws" / "credentials"


def roles_of(text: str, config: Path, creds: tuple[str, ...] = ("default",)
             ) -> tuple[dict[str, RoleProfile], dict[str, ConfigError]]:
    config.write_text(text)
    return awsconfig.build_role_profiles(awsconfig.load_profile_map(config), config,
                                         credential_profiles=creds, credentials_path=None,
                                         home=Path.home())


# --- parsing -----------------------------------------------------------------

def test_missing_file_is_empty(config: Path) -> None:
    assert awsconfig.raw_config_parse(config) == {}
    assert awsconfig.load_profile_map(paths.aws_config_file(os.environ)) == {}


def test_profile_map_follows_botocore(config: Path) -> None:
    text = ("[default]\nregion = ap-northeast-2\n\n[profile platform]\nrole_arn = " + ARN
            + "\nsource_profile = default\n\n[preview]\nx = 1\n\n[profile a b]\ny = 2\n"
            "[profile \"spaced name\"]\nregion = eu-west-1\n[sso-session corp]\nsso_region = x\n"
            "[profile s3ish]\ns3 =\n  addressing_style = path\n")
    config.write_text(text)
    raw = awsconfig.raw_config_parse(config)
    before = {k: dict(v) for k, v in raw.items()}
    profiles = awsconfig.build_profile_map(raw)
    assert raw == before  # pure: the input is not changed
    assert set(profiles) == {"default", "platform", "spaced name", "s3ish"}
    assert "preview" not in profiles  # a bare [x] is not a profile in the config file
    assert profiles["platform"] == {"role_arn": ARN, "source_profile": "default"}
    assert set(profiles) == set(botocore.configloader.load_config(str(config))["profiles"])


@pytest.mark.parametrize(("text", "line", "what"), [
    ("[default]\nregion = a\n\n[default]\nregion = b\n", 4, "section [default] appears twice"),
    ("[default]\nregion = a\nregion = b\n", 3, "'region' appears twice in [default]"),
    ("region = a\n[default]\n", 1, "text before the first [section] header"),
    ("[default]\nregion = a\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", 3, "not a [section]"),
    ("\ufeff[default]\nregion = a\n", 1, "byte-order mark"),
    ("[default]\nregion = a\n[profile x]\ns3 =\n  addressing_style\n", 4, "indented lines"),
])
def test_parse_errors_name_file_and_line(config: Path, text: str, line: int, what: str) -> None:
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        awsconfig.load_profile_map(config, home=Path.home())
    msg = str(err.value)
    assert msg.startswith(f"~/.aws/config, line {line}: ")
    assert what in msg
    assert "\n" not in msg and err.value.exit_code == 2
    assert "wJalrXUtnFEMI" not in msg  # the offending line is never quoted


def test_botocore_rejects_what_we_reject(config: Path) -> None:
    config.write_text("[default]\nregion = a\n[default]\n")
    with pytest.raises(botocore.exceptions.ConfigParseError):
        botocore.configloader.raw_config_parse(str(config))


def test_invalid_utf8_names_line(config: Path) -> None:
    config.write_bytes(b"[default]\nregion = a\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"^~/\.aws/config, line 3: not valid UTF-8$"):
        awsconfig.raw_config_parse(config, home=Path.home())


# --- role profiles -----------------------------------------------------------

def test_full_role_profile(config: Path) -> None:
    roles, errors = roles_of(
        "[default]\nregion = ap-northeast-2\n[profile platform]\n"
        f"role_arn = {ARN}\nsource_profile = default\nmfa_serial = arn:aws:iam::111122223333:mfa/dev\n"
        "external_id = ext-123\nrole_session_name = me@example.com\nduration_seconds = 7200\n"
        "region = eu-west-1\nsts_regional_endpoints = regional\n"
        "[profile ec2]\nrole_arn = arn:aws-cn:iam::111122223333:role/x\n"
        "credential_source = Ec2InstanceMetadata\n", config)
    assert errors == {}
    assert roles["platform"] == RoleProfile(
        name="platform", role_arn=ARN, source_profile="default",
        mfa_serial="arn:aws:iam::111122223333:mfa/dev", external_id="ext-123",
        role_session_name="me@example.com", duration_seconds=7200, region="eu-west-1",
        sts_regional_endpoints="regional")
    assert roles["ec2"].credential_source == "Ec2InstanceMetadata"
    assert set(roles) == {"platform", "ec2"}  # [default] is not a role profile


@pytest.mark.parametrize(("body", "expected"), [
    ("role_arn = arn:aws:iam::111122223333:user/dev\nsource_profile = default",
     "role_arn 'arn:aws:iam::111122223333:user/dev' is not an IAM role ARN"),
    ("role_arn = arn:aws-xx:iam::111122223333:role/p\nsource_profile = default",
     "is not an IAM role ARN"),
    ("role_arn = arn:aws:iam::1111:role/p\nsource_profile = default", "is not an IAM role ARN"),
    (f"role_arn = {ARN}\nsource_profile = default\nduration_seconds = 90",
     "duration_seconds '90' must be a whole number from 900 to 43200"),
    (f"role_arn = {ARN}\nsource_profile = default\nduration_seconds = 3600.5",
     "duration_seconds '3600.5' must be a whole number"),
    (f"role_arn = {ARN}\nsource_profile = default\nduration_seconds = 43201",
     "must be a whole number from 900 to 43200"),
    (f"role_arn = {ARN}\nsource_profile = default\ncredential_source = Environment",
     "has both source_profile and credential_source"),
    (f"role_arn = {ARN}\ncredential_source = Laptop",
     "credential_source 'Laptop' must be one of Environment, Ec2InstanceMetadata, EcsContainer"),
    (f"role_arn = {ARN}", "role_arn needs source_profile or credential_source"),
    (f"role_arn = {ARN}\nsource_profile = nowhere",
     "source_profile 'nowhere' does not exist in the config or credentials file"),
    (f"role_arn = {ARN}\nsource_profile = default\nrole_session_name = has space",
     "role_session_name 'has space' must be"),
    (f"role_arn = {ARN}\nsource_profile = default\nsts_regional_endpoints = sometimes",
     "sts_regional_endpoints 'sometimes' must be 'legacy' or 'regional'"),
    (f"role_arn = {ARN}\nsource_profile = default\nregion = not a region",
     "region 'not a region' is not a valid region name"),
])
def test_bad_role_profiles(config: Path, body: str, expected: str) -> None:
    roles, errors = roles_of(f"[default]\nregion = a\n[profile platform]\n{body}\n", config)
    assert "platform" not in roles
    msg = str(errors["platform"])
    assert msg.startswith("~/.aws/config: profile 'platform': ")
    assert expected in msg
    assert errors["platform"].exit_code == 2


def test_duration_message_exactly(config: Path) -> None:
    _, errors = roles_of(f"[profile platform]\nrole_arn = {ARN}\nsource_profile = default\n"
                         "duration_seconds = 90\n", config)
    assert str(errors["platform"]) == ("~/.aws/config: profile 'platform': duration_seconds "
                                       "'90' must be a whole number from 900 to 43200")


def test_source_profile_only_in_credentials_file(config: Path, credentials: Path) -> None:
    # botocore accepts a source_profile that exists only in the credentials file.
    credentials.write_text("[dev-keys]\naws_access_key_id = AKIAEXAMPLE\n"
                           "aws_secret_access_key = x\n")
    config.write_text(f"[profile platform]\nrole_arn = {ARN}\nsource_profile = dev-keys\n")
    roles, errors = awsconfig.build_role_profiles(
        awsconfig.load_profile_map(config), config,
        credentials_path=paths.aws_credentials_file(os.environ))
    assert errors == {} and roles["platform"].source_profile == "dev-keys"
    credentials.write_text("[other]\n")
    roles, errors = awsconfig.build_role_profiles(
        awsconfig.load_profile_map(config), config,
        credentials_path=paths.aws_credentials_file(os.environ))
    assert "does not exist" in str(errors["platform"])


def test_cycle_is_refused_as_botocore_does(config: Path, credentials: Path) -> None:
    text = (f"[profile a]\nrole_arn = {ARN}\nsource_profile = b\n"
            f"[profile b]\nrole_arn = {ARN}\nsource_profile = a\n")
    roles, errors = roles_of(text, config, creds=())
    assert roles == {}
    assert "source_profile chain loops: a -> b -> a" in str(errors["a"])
    assert "b -> a -> b" in str(errors["b"])
    with pytest.raises(botocore.exceptions.InfiniteLoopConfigError):
        botocore.session.Session(profile="a").get_credentials()


def test_self_source_with_static_keys_is_legal(config: Path) -> None:
    text = (f"[profile selfish]\nrole_arn = {ARN}\nsource_profile = selfish\n"
            "aws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"
            f"[profile loop]\nrole_arn = {ARN}\nsource_profile = loop\n")
    roles, errors = roles_of(text, config, creds=())
    assert roles["selfish"].source_profile == "selfish"
    assert "chain loops: loop -> loop" in str(errors["loop"])
    # botocore agrees on both, without any network call.
    assert botocore.session.Session(profile="selfish").get_credentials() is not None
    with pytest.raises(botocore.exceptions.InfiniteLoopConfigError):
        botocore.session.Session(profile="loop").get_credentials()


def test_chain_through_a_role_and_broken_links(config: Path) -> None:
    text = (f"[profile top]\nrole_arn = {ARN}\nsource_profile = mid\n"
            f"[profile mid]\nrole_arn = {ARN}\nsource_profile = default\n"
            f"[profile bad-top]\nrole_arn = {ARN}\nsource_profile = bad-mid\n"
            f"[profile bad-mid]\nrole_arn = {ARN}\nsource_profile = default\n"
            "duration_seconds = 5\n")
    roles, errors = roles_of(text, config)
    assert set(roles) == {"top", "mid"}
    assert "source_profile 'bad-mid' is itself broken" in str(errors["bad-top"])
    assert "duration_seconds '5'" in str(errors["bad-top"])


def test_web_identity_profile_is_not_ours(config: Path) -> None:
    roles, errors = roles_of(f"[profile ci]\nrole_arn = {ARN}\n"
                             "web_identity_token_file = /tmp/token\n", config)
    assert roles == {} and errors == {}
    with pytest.raises(ConfigError, match="uses web_identity_token_file"):
        awsconfig.get_role_profile("ci", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))


# --- get_role_profile ---------------------------------------------------------

def test_get_role_profile(config: Path, credentials: Path) -> None:
    credentials.write_text("[default]\naws_access_key_id = A\naws_secret_access_key = B\n")
    config.write_text(f"[default]\nregion = ap-northeast-2\n[profile platform]\nrole_arn = {ARN}\n"
                      "source_profile = default\n[platform2]\nrole_arn = x\n"
                      "[profile plain]\nregion = eu-west-1\n[profile broken]\n"
                      f"role_arn = {ARN}\nsource_profile = default\nduration_seconds = 1\n")
    assert awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ)).role_arn == ARN
    with pytest.raises(UnknownProfileError) as err:
        awsconfig.get_role_profile("nope", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ), home=Path.home())
    assert str(err.value) == "~/.aws/config: no profile named 'nope'"
    with pytest.raises(UnknownProfileError, match=r"name it \[profile platform2\]"):
        awsconfig.get_role_profile("platform2", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    with pytest.raises(ConfigError, match="'plain' is not a role profile: it has no role_arn"):
        awsconfig.get_role_profile("plain", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    with pytest.raises(ConfigError, match="profile 'broken': duration_seconds '1'"):
        awsconfig.get_role_profile("broken", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))


# --- region_for ------------------------------------------------------------------

def test_region_for(config: Path) -> None:
    config.write_text(
        "[default]\nregion = ap-northeast-2\n"
        f"[profile own]\nrole_arn = {ARN}\nsource_profile = default\nregion = eu-west-1\n"
        f"[profile top]\nrole_arn = {ARN}\nsource_profile = mid\n"
        f"[profile mid]\nrole_arn = {ARN}\nsource_profile = keys\n"
        "[profile keys]\nregion = us-west-2\n"
        f"[profile plain]\nrole_arn = {ARN}\nsource_profile = default\n")
    pm = awsconfig.load_profile_map(paths.aws_config_file(os.environ))
    roles, _ = awsconfig.build_role_profiles(pm, config, credential_profiles=(),
                                             credentials_path=None)
    assert awsconfig.region_for(roles["own"], pm) == "eu-west-1"
    assert awsconfig.region_for(roles["top"], pm) == "us-west-2"  # from the source chain
    assert awsconfig.region_for(roles["plain"], pm) == "ap-northeast-2"
    assert awsconfig.region_for("top", pm) == "us-west-2"
    del pm["default"]
    assert awsconfig.region_for(roles["plain"], pm) is None


# --- check_target ------------------------------------------------------------------

@pytest.fixture
def target_world(config: Path) -> tuple[dict[str, dict[str, str]], RoleProfile]:
    config.write_text(
        "[default]\nregion = a\n"
        f"[profile platform]\nrole_arn = {ARN}\nsource_profile = mid\n"
        f"[profile mid]\nrole_arn = {ARN}\nsource_profile = base\n"
        "[profile proc]\ncredential_process = /bin/true\n"
        "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\n"
        "[profile legacy-sso]\nsso_start_url = https://x.awsapps.com/start\n"
        "[profile web]\nweb_identity_token_file = /tmp/t\nrole_arn = " + ARN + "\n"
        "[profile roletray]\nregion = a\n")
    pm = awsconfig.load_profile_map(paths.aws_config_file(os.environ))
    return pm, awsconfig.build_role_profiles(pm, config, credential_profiles=("base",),
                                             credentials_path=None)[0][
        "platform"]


@pytest.mark.parametrize(("target", "expected"), [
    ("", "non-empty section name"),
    ("has space", "without spaces"),
    (" roletray", "without spaces"),
    ("a\tb", "without spaces"),
    ("[x]", "brackets"),
    ("x]", "brackets"),
    ("default", "default profile"),
    ("platform", "is the role profile itself"),
    ("mid", "source chain of profile 'platform' (platform -> mid -> base)"),
    ("base", "source chain"),
    ("proc", "has credential_process"),
    ("sso", "has sso_session"),
    ("legacy-sso", "has sso_start_url"),
    ("web", "has role_arn"),
])
def test_check_target_refusals(target_world: tuple[dict[str, dict[str, str]], RoleProfile],
                               target: str, expected: str) -> None:
    pm, role = target_world
    with pytest.raises(CredentialsFileError) as err:
        awsconfig.check_target(target, pm, role, paths.aws_config_file(os.environ))
    assert expected in str(err.value)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def test_check_target_accepts_plain_names(
        target_world: tuple[dict[str, dict[str, str]], RoleProfile]) -> None:
    pm, role = target_world
    # A config profile that only carries a region (as roletray writes) is fine.
    awsconfig.check_target("roletray", pm, role,
                           paths.aws_config_file(os.environ))  # raises when refused
    awsconfig.check_target("work-role_2", pm, role, paths.aws_config_file(os.environ))
