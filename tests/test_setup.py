"""``roletray setup``: the first run from an empty HOME, as a new user meets it: the three
ways in, each writing one section with the lossless editor and showing it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakes import fake_program
from ssofake import SsoFake

from tray.cli import main

ROLE_ARN = "arn:aws:iam::123456789012:role/platform"


def answers(monkeypatch: pytest.MonkeyPatch, *said: str) -> list[str]:
    """A terminal that answers ``said`` in turn; the questions asked are returned."""
    asked: list[str] = []
    queue = list(said)

    def ask(question: str) -> str:
        asked.append(question)
        return queue.pop(0)

    monkeypatch.setattr("tray.cli.setup_cmd.sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", ask)
    return asked


@pytest.fixture
def keys_only(aws: AwsSandbox) -> AwsSandbox:
    """A new user: long-term keys in [default], a config with a comment and no role."""
    akid, secret = aws.create_user("dev")
    aws.create_role("platform", trust_principal=aws.user_arn("dev"))
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    aws.write_config("# mine\r\n[default]\r\nregion = ap-northeast-2\r\n")
    return aws


def test_a_role_over_the_keys_you_have_asked_step_by_step(
        keys_only: AwsSandbox, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    asked = answers(monkeypatch, "3", ROLE_ARN, "", "")
    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert asked == ["Choose [1]: ", "Role ARN (arn:aws:iam::ACCOUNT:role/NAME): ",
                     "Profile name [platform]: ", "Its region [ap-northeast-2]: "]
    text = keys_only.config_path.read_bytes().decode()
    assert text.startswith("# mine\r\n[default]\r\nregion = ap-northeast-2\r\n")  # kept
    assert text.endswith(f"[profile platform]\r\nrole_arn = {ROLE_ARN}\r\n"
                         "source_profile = default\r\nregion = ap-northeast-2\r\n")
    assert "Wrote to ~/.aws/config:" in out and f"    role_arn = {ROLE_ARN}" in out
    assert main(["assume", "platform"]) == 0  # and it works


def test_a_typo_is_caught_where_it_is_made_and_asked_again(
        keys_only: AwsSandbox, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A role ARN, a profile name or a region that cannot be right is refused at its own
    question (one line, then the question again), not after every other question."""
    asked = answers(monkeypatch, "3", "arn:aws:iam::123:user/dev", ROLE_ARN,
                    "bad name!", "", "eu west", "")
    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert asked == ["Choose [1]: ", "Role ARN (arn:aws:iam::ACCOUNT:role/NAME): ",
                     "Role ARN (arn:aws:iam::ACCOUNT:role/NAME): ",
                     "Profile name [platform]: ", "Profile name [platform]: ",
                     "Its region [ap-northeast-2]: ", "Its region [ap-northeast-2]: "]
    assert "'arn:aws:iam::123:user/dev' is not an IAM role ARN" in out
    assert "profile name 'bad name!' must be" in out
    assert "'eu west' is not a region name" in out
    assert keys_only.config_path.read_text().endswith(
        f"role_arn = {ROLE_ARN}\nsource_profile = default\nregion = ap-northeast-2\n")


def test_a_bad_flag_is_refused_before_any_question(
        keys_only: AwsSandbox, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    asked = answers(monkeypatch)
    before = keys_only.config_path.read_bytes()
    assert main(["setup", "--role-arn", "arn:aws:iam::123456789012:user/dev"]) == 2
    assert asked == []
    assert "is not an IAM role ARN" in capsys.readouterr().err
    assert keys_only.config_path.read_bytes() == before


def test_the_same_with_flags_and_no_terminal(keys_only: AwsSandbox,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--role-arn", ROLE_ARN, "--profile", "deploy",
                 "--region", "eu-west-1"]) == 0
    assert "[profile deploy]\r\nrole_arn" in keys_only.config_path.read_bytes().decode()
    # Run again with the same answers: nothing to do; another role under that name: refused.
    before = keys_only.config_path.read_bytes()
    assert main(["setup", "--role-arn", ROLE_ARN, "--profile", "deploy",
                 "--region", "eu-west-1"]) == 0
    assert keys_only.config_path.read_bytes() == before
    capsys.readouterr()
    assert main(["setup", "--role-arn", ROLE_ARN.replace("platform", "other"),
                 "--profile", "deploy", "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("~/.aws/config: [profile deploy] exists already; choose another name "
                        "(nothing was written)")
    assert keys_only.config_path.read_bytes() == before


def test_without_a_terminal_setup_asks_for_flags_and_writes_nothing(
        keys_only: AwsSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    before = keys_only.config_path.read_bytes()
    assert main(["setup"]) == 2
    assert "run it in a terminal, or give every answer as a flag" in capsys.readouterr().err
    assert keys_only.config_path.read_bytes() == before


def test_no_keys_at_all_says_how_to_get_them(aws: AwsSandbox,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--role-arn", ROLE_ARN]) == 2
    assert "holds no access key pair to assume a role with: `aws configure`" in \
        capsys.readouterr().err
    assert not aws.config_path.exists()


@pytest.fixture
def portal(isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Iterator[SsoFake]:
    with SsoFake(pending=0) as fake:
        fake.directory = {"111111111111": ("Prod", ["ReadOnly"]),
                          "222222222222": ("Dev", ["Developer", "ReadOnly"])}
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", fake.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.url)
        monkeypatch.setenv("BROWSER", str(fake_program(tmp_path / "bin", "browser", "exit 0\n")))
        yield fake


def test_identity_center_from_an_empty_home_signs_in_and_populates(
        portal: SsoFake, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    asked = answers(monkeypatch, "1", "https://corp.awsapps.com/start", "eu-west-1", "")
    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert asked[1:] == ["Start URL (from your AWS access portal's address): ",
                         "Its region [us-east-1]: ", "A name for this sign-in [corp]: "]
    text = Path(os.environ["AWS_CONFIG_FILE"]).read_text()
    assert text.startswith("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
                           "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n")
    assert "check that it matches: ABCD-EFGH" in out
    assert "3 profiles for sso-session corp (2 accounts)" in out
    assert main(["profiles", "--json"]) == 0
    kinds = {p["name"]: p["kind"] for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert kinds == {"Dev/Developer": "sso", "Dev/ReadOnly": "sso", "Prod/ReadOnly": "sso"}


def test_a_start_url_that_is_not_https_is_refused(portal: SsoFake,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--sso-start-url", "corp.awsapps.com/start",
                 "--sso-region", "eu-west-1"]) == 2
    assert "must be an https:// address" in capsys.readouterr().err
    assert not Path(os.environ["AWS_CONFIG_FILE"]).exists()


def test_aws_login_needs_the_aws_cli_2_32(aws: AwsSandbox, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "aws", 'echo "aws-cli/2.31.0 Python/3.13"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert main(["setup", "--login", "dev", "--region", "eu-west-1"]) == 2
    assert "needs the AWS CLI 2.32 or later" in capsys.readouterr().err


def test_aws_login_runs_the_cli_and_shows_the_profile_it_wrote(
        aws: AwsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / "bin"
    # A stand-in for AWS CLI 2.32's `aws login`: it writes the profile as the CLI does.
    fake_program(bin_dir, "aws", f"""case "$1" in
  --version) echo "aws-cli/2.32.3 Python/3.13" ;;
  login) printf '[profile %s]\\nlogin_session = arn:aws:iam::123456789012:user/dev\\nregion = %s\\n' \
"$3" "$5" >> "{aws.config_path}" ;;
esac
""")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert main(["setup", "--login", "dev", "--region", "eu-west-1"]) == 0
    out = capsys.readouterr().out
    assert "aws login wrote to ~/.aws/config:" in out
    assert "    login_session = arn:aws:iam::123456789012:user/dev" in out
    assert "roletray assume dev --target dev-keys" in out


def test_sync_accounts_signs_in_once_then_populates_every_session(
        portal: SsoFake, tmp_path: Path) -> None:
    """The tray's "Sync accounts from Identity Center", as the tray runs it: in a child,
    the sign-in's code as an event, the browser opened once."""
    from tray.engine.child import call_in_child

    repo = Path(__file__).resolve().parent.parent
    opened = tmp_path / "opened"
    env = {**os.environ, "PYTHONPATH": str(repo),
           "BROWSER": str(fake_program(tmp_path / "bin2", "browser", f'echo "$1" >> {opened}\n'))}
    Path(os.environ["AWS_CONFIG_FILE"]).write_text(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n")
    events: list[dict[str, object]] = []
    done = call_in_child("tray.aws.sso_populate:sync", env=env, timeout=60,
                         on_event=events.append)
    assert done == [{"session": "corp", "profiles": 3, "added": 3, "removed": 0, "skipped": 0}]
    assert [(e["event"], e["code"], e["session"]) for e in events] == [
        ("device_code", "ABCD-EFGH", "corp")]
    # Signed in now: a second sync asks nothing and changes nothing.
    events.clear()
    again = call_in_child("tray.aws.sso_populate:sync", env=env, timeout=60,
                          on_event=events.append)
    assert again[0]["added"] == 0 and events == []


def test_the_menu_offers_set_up_and_sync() -> None:
    from datetime import UTC, datetime

    from tray.domain.models import Snapshot
    from tray.ui.menu import MenuActions, build_menu_model, render_text

    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    empty = render_text(build_menu_model(Snapshot(), {}, now=now, tz=UTC,
                                         actions=MenuActions()))
    assert "Set up…" in empty and "Sync accounts" not in empty
    synced = render_text(build_menu_model(Snapshot(), {}, now=now, tz=UTC,
                                          actions=MenuActions(), sso_sessions=1))
    assert "Sync accounts from Identity Center" in synced
