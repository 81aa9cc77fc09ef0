"""``roletray sso populate`` and ``roletray sso login`` against the SSO stand-in.

``SsoFake`` (tests/ssofake.py) is the portal (ListAccounts, ListAccountRoles, paged,
with a per-call delay and scripted throttling) and OIDC (device code, refresh grant)
on 127.0.0.1, reached over real HTTP by botocore's ``sso`` and ``sso-oidc`` clients
through ``AWS_ENDPOINT_URL_SSO`` / ``AWS_ENDPOINT_URL_SSO_OIDC``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_program
from ssofake import SsoFake

from tray import cli
from tray.aws import sso, sso_directory, sso_populate, sso_sessions
from tray.awsfiles import ssoblock
from tray.domain.errors import ConfigError, CredentialsFileError
from tray.domain.models import iso_utc, utcnow

START_URL = "https://corp.awsapps.com/start"
TOKEN = "ssoAccessTokenForPopulate0001"
SESSION = f"""[sso-session corp]
sso_start_url = {START_URL}
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
"""
HEAD = "# my settings\n[default]\nregion = us-east-1\n\n" + SESSION
DIRECTORY = {
    "111111111111": ("Prod", ["AdministratorAccess", "ReadOnly"]),
    "222222222222": ("Dev Sandbox", ["Developer"]),
    "333333333333": ("Audit [old]", ["ReadOnly"]),
}


@pytest.fixture
def fake(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SsoFake]:
    with SsoFake(valid_tokens={TOKEN}) as f:
        f.directory = {k: (n, list(r)) for k, (n, r) in DIRECTORY.items()}
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", f.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", f.url)
        yield f


def config_path() -> Path:
    return Path(os.environ["AWS_CONFIG_FILE"])


def token_file(session: str = "corp") -> Path:
    cfg = sso.SsoConfig(profile=session, start_url=START_URL, region="eu-west-1",
                        session_name=session)
    return sso.token_path(cfg, os.environ)


def write_token(*, token: str = TOKEN, expires_in: timedelta = timedelta(hours=8),
                **extra: str) -> Path:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"startUrl": START_URL, "region": "eu-west-1",
                                "accessToken": token,
                                "expiresAt": iso_utc(utcnow() + expires_in), **extra}))
    return path


def run(*argv: str) -> int:
    return cli.main(list(argv), env=os.environ)


def populate(**kwargs: Any) -> sso_populate.PopulateResult:
    return sso_populate.populate(kwargs.pop("session", None), env=os.environ, **kwargs)


def block_of(text: str) -> str:
    a = text.index(ssoblock.begin_line("corp"))
    b = text.index(ssoblock.end_line("corp")) + len(ssoblock.end_line("corp"))
    return text[a:b]


def outside(text: str) -> tuple[str, str]:
    a = text.index(ssoblock.begin_line("corp"))
    b = text.index(ssoblock.end_line("corp")) + len(ssoblock.end_line("corp"))
    return text[:a], text[b:]


def read_bytes() -> bytes:
    return config_path().read_bytes()


# ----------------------------------------------------------------------- populate

def test_every_page_of_accounts_becomes_a_block_botocore_reads(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    fake.page_size = 2  # three accounts: two pages
    config_path().write_text(HEAD)
    write_token()
    assert run("sso", "populate") == 0
    assert [p for p in fake.paths() if p == "/assignment/accounts"] == ["/assignment/accounts"] * 2
    assert fake.paths().count("/assignment/roles") == 3
    text = config_path().read_text()
    assert text.startswith(HEAD + "\n" + ssoblock.begin_line("corp") + "\n")
    assert text.endswith(ssoblock.end_line("corp") + "\n")
    assert "[profile Prod/AdministratorAccess]\nsso_session = corp\n" \
           "sso_account_id = 111111111111\nsso_role_name = AdministratorAccess\n" \
           "region = eu-west-1\n" in text
    out = capsys.readouterr().out
    assert "wrote 4 profiles for sso-session corp (3 accounts): 4 added, 0 removed, 0 kept" in out

    # botocore's own loader, and the aws CLI, read the profiles back.
    import botocore.session

    s = botocore.session.Session()
    s.set_config_variable("config_file", str(config_path()))
    profiles = s.full_config["profiles"]
    names = ["Audit-old/ReadOnly", "Dev-Sandbox/Developer", "Prod/AdministratorAccess",
             "Prod/ReadOnly"]
    for name in names:
        assert profiles[name]["sso_session"] == "corp"
        assert profiles[name]["region"] == "eu-west-1"
    assert profiles["Dev-Sandbox/Developer"]["sso_account_id"] == "222222222222"
    # The aws CLI (v1 here: no `configure list-profiles`) reads each profile by its name.
    aws = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    for name, role in zip(names, ["ReadOnly", "Developer", "AdministratorAccess", "ReadOnly"],
                          strict=True):
        got = subprocess.run([aws, "configure", "get", "sso_role_name", "--profile", name],
                             capture_output=True, text=True, env=os.environ, timeout=60,
                             check=True)
        assert got.stdout.strip() == role


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_a_second_run_follows_the_directory_and_keeps_every_other_byte(
        fake: SsoFake, newline: str, final_newline: bool) -> None:
    before = HEAD.replace("\n", newline)
    if not final_newline:
        before = before.rstrip(newline)
    config_path().write_bytes(before.encode())
    write_token()
    first = populate()
    assert first.added == ["Audit-old/ReadOnly", "Dev-Sandbox/Developer",
                           "Prod/AdministratorAccess", "Prod/ReadOnly"]
    text = read_bytes().decode()
    head, tail = outside(text)
    # Appending needs a line break after an unterminated last line, and one blank line.
    assert head == before + (newline if not final_newline else "") + newline
    assert tail == (newline if final_newline else "")
    assert newline == "\r\n" or "\r" not in text

    # The user adds a section below the block (and the file keeps its style).
    after_block = f"{newline}[profile mine]{newline}region = ap-northeast-2"
    after_block += newline if final_newline else ""
    text = text[: len(text) - len(tail)] + after_block
    config_path().write_bytes(text.encode())
    head, tail = outside(text)

    del fake.directory["222222222222"]  # an account removed
    fake.directory["444444444444"] = ("Data", ["Analyst"])  # one added
    second = populate()
    assert second.added == ["Data/Analyst"] and second.removed == ["Dev-Sandbox/Developer"]
    assert second.kept == ["Audit-old/ReadOnly", "Prod/AdministratorAccess", "Prod/ReadOnly"]
    again = read_bytes().decode()
    assert outside(again) == (head, tail)  # byte for byte
    assert "[profile Data/Analyst]" in block_of(again) and "Dev-Sandbox" not in again
    assert all(line.endswith("\r") == (newline == "\r\n")
               for line in block_of(again).split("\n")[:-1])

    third = populate()  # nothing changed in the directory: nothing written
    assert not third.changed and read_bytes().decode() == again


def test_a_name_used_outside_the_block_is_skipped_and_reported(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD + "\n[profile Prod/ReadOnly]\nregion = us-west-2\n")
    write_token()
    assert run("sso", "populate", "corp") == 0
    out = capsys.readouterr().out
    assert ("skipped Prod/ReadOnly (account 111111111111 Prod, ReadOnly): a profile of that "
            "name is already defined in ~/.aws/config line 10, outside the block") in out
    text = config_path().read_text()
    assert text.count("[profile Prod/ReadOnly]") == 1
    assert text.startswith(HEAD + "\n[profile Prod/ReadOnly]\nregion = us-west-2\n\n")

    assert run("sso", "populate", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["kept"] == ["Audit-old/ReadOnly", "Dev-Sandbox/Developer",
                                                 "Prod/AdministratorAccess"]
    assert doc["skipped"] == [{"profile": "Prod/ReadOnly", "account_id": "111111111111",
                               "account_name": "Prod", "role_name": "ReadOnly",
                               "reason": "a profile of that name is already defined in "
                                         "~/.aws/config line 10, outside the block"}]


def test_dry_run_says_what_would_change_and_writes_nothing(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD)
    write_token()
    assert run("sso", "populate") == 0
    capsys.readouterr()
    del fake.directory["111111111111"]
    data, mtime = read_bytes(), config_path().stat().st_mtime_ns
    assert run("sso", "populate", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would write 2 profiles for sso-session corp (2 accounts): 0 added, 2 removed, " \
           "2 kept (dry run: nothing written)" in out
    assert "removed: Prod/AdministratorAccess, Prod/ReadOnly" in out
    assert run("sso", "populate", "--dry-run", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dry_run"] is True and doc["changed"] is True and len(doc["removed"]) == 2
    assert read_bytes() == data and config_path().stat().st_mtime_ns == mtime


@pytest.mark.parametrize("token", [None, "expired", "refused"])
def test_no_sign_in_says_how_and_writes_nothing(
        fake: SsoFake, capsys: pytest.CaptureFixture[str], token: str | None) -> None:
    config_path().write_text(HEAD)
    if token == "expired":  # and no refresh token to renew it with
        write_token(expires_in=timedelta(minutes=-5))
    elif token == "refused":
        write_token(token="a-token-the-portal-does-not-know")
    data = read_bytes()
    assert run("sso", "populate") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("roletray: not signed in to sso-session 'corp' (")
    assert "run `roletray sso login corp` (or `aws sso login --sso-session corp`)" in line
    assert "a-token-the-portal" not in line
    assert read_bytes() == data
    assert fake.paths() == ([] if token != "refused" else ["/assignment/accounts"])


def test_an_expired_token_is_renewed_with_its_refresh_token_first(fake: SsoFake) -> None:
    config_path().write_text(HEAD)
    fake.refresh_tokens.add("refresh-me")
    write_token(expires_in=timedelta(minutes=-5), refreshToken="refresh-me", clientId="cid",
                clientSecret="csecret",
                registrationExpiresAt=iso_utc(utcnow() + timedelta(days=30)))
    result = populate()
    assert len(result.profiles) == 4
    assert fake.paths()[0] == "/token" and fake.requests[0][2]["grantType"] == "refresh_token"
    doc = json.loads(token_file().read_text())
    assert doc["accessToken"] == "ssoRefreshedAccessToken0001"
    assert doc["refreshToken"] == "fake-refresh-token-1" and doc["clientId"] == "cid"
    assert oct(token_file().stat().st_mode & 0o777) == "0o600"


def test_throttled_calls_are_retried_with_growing_waits(fake: SsoFake) -> None:
    config_path().write_text(HEAD)
    write_token()
    fake.throttle = 4
    slept: list[float] = []
    result = populate(sleep=slept.append, workers=1)
    assert len(result.profiles) == 4 and result.throttled == 4
    assert len(slept) == 4 and slept == sorted(slept)  # one at a time: each wait longer
    assert 0.1 <= slept[0] <= 0.2 and slept[-1] <= 1.6
    assert fake.paths().count("/assignment/accounts") == 5  # four refusals, then the page


def test_endless_throttling_gives_up_with_one_line_and_writes_nothing(fake: SsoFake) -> None:
    config_path().write_text(HEAD)
    write_token()
    fake.throttle = 10**6
    with pytest.raises(Exception, match=r"kept throttling ListAccounts \(8 tries\)") as err:
        populate(sleep=lambda _: None)
    assert getattr(err.value, "exit_code", None) == 1
    assert config_path().read_text() == HEAD


def test_a_refused_account_stops_the_run_with_one_line_and_writes_nothing(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD)
    write_token()
    fake.directory.update({f"{i:012d}": (f"acct{i:02d}", ["Admin"]) for i in range(20)})
    fake.refuse_roles = {"000000000007"}
    assert run("sso", "populate") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("roletray: Identity Center refused ListAccountRoles of account "
                    "000000000007 (ResourceNotFoundException)")
    assert config_path().read_text() == HEAD


def test_permission_sets_are_listed_concurrently_a_bounded_number_at_a_time(
        fake: SsoFake) -> None:
    config_path().write_text(HEAD)
    write_token()
    fake.directory = {f"{i:012d}": (f"acct{i:02d}", ["Admin", "Read"]) for i in range(24)}
    fake.delay = 0.05
    fake.throttle = 0
    result = populate(workers=4)
    assert len(result.profiles) == 48 and result.accounts == 24
    assert 1 < fake.max_in_flight <= 4


def test_the_template_names_the_profiles(fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD)
    write_token()
    assert run("sso", "populate", "--template", "{sso_session}-{account_id}:{role_name}",
               "--region", "ap-northeast-2") == 0
    text = config_path().read_text()
    assert "[profile corp-111111111111:ReadOnly]" in text
    assert "region = ap-northeast-2" in block_of(text) and "eu-west-1\n" not in block_of(text)
    capsys.readouterr()
    assert run("sso", "populate", "--template", "{account}/{role_name}") == 2
    err = capsys.readouterr().err
    assert "unknown field {account}" in err and "{account_name}" in err


def test_names_that_collide_inside_the_block_are_skipped_too(fake: SsoFake) -> None:
    config_path().write_text(HEAD)
    write_token()
    fake.directory["555555555555"] = ("Prod", ["ReadOnly"])  # account names need not be unique
    result = populate()
    [skipped] = result.skipped
    assert skipped.account_id == "555555555555" and "add {account_id}" in skipped.reason


def test_the_session_must_be_named_when_there_are_several(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD + "\n" + SESSION.replace("corp", "lab"))
    assert run("sso", "populate") == 2
    err = capsys.readouterr().err
    assert "has 2 sso-sessions (corp, lab); name one" in err
    assert run("sso", "populate", "nope") == 2
    assert "no [sso-session nope] section (it has: corp, lab)" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        sso_sessions.choose(None, config_path(), env={**os.environ, "AWS_CONFIG_FILE": "/nowhere"})


def test_a_broken_block_is_refused_and_nothing_written(fake: SsoFake) -> None:
    config_path().write_text(HEAD + "\n" + ssoblock.begin_line("corp") + "\n[profile x]\n"
                             "region = us-east-1\n")
    write_token()
    with pytest.raises(CredentialsFileError, match=r"line 10: roletray's block for sso-session "
                       "corp has no end line"):
        populate()
    text = HEAD + "\n" + ssoblock.begin_line("corp") + "\n" + ssoblock.end_line("corp") \
        + "\nregion = us-east-1\n"
    config_path().write_text(text)
    with pytest.raises(CredentialsFileError, match="line 12: this line, after the end"):
        populate()
    assert config_path().read_text() == text


@pytest.mark.parametrize(("template", "words"), [
    ("{account}/{role_name}", "unknown field {account}"),
    ("{account_name!z}/{role_name}", "cannot be used"),
    ("{account_name}/{role_name", "expected '}' before end of string"),
    ("{account_name}", "needs {role_name}"),
    ("{role_name}", "needs {account_name} or {account_id}"),
])
def test_an_unusable_template_is_one_line_naming_the_fields(template: str, words: str) -> None:
    with pytest.raises(ValueError, match=r"--template .*") as err:
        ssoblock.check_template(template)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_sanitised_names_are_what_the_aws_cli_reads_back() -> None:
    assert ssoblock.sanitise("Audit [old] team") == "Audit-old-team"
    assert ssoblock.sanitise("a\"b'c\\d") == "a-b-c-d"
    assert ssoblock.sanitise("운영/Admin") == "운영/Admin"
    assert ssoblock.sanitise("  ") == ""


# ------------------------------------------------------------------------- sign in

def test_sso_login_shows_the_code_opens_the_browser_once_and_saves_a_renewable_token(
        fake: SsoFake, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_path().write_text(HEAD)
    fake.pending = 0
    opened = tmp_path / "opened.txt"
    browser = fake_program(tmp_path / "bin", "browser", f'echo "$1" >> "{opened}"\n')
    monkeypatch.setenv("BROWSER", str(browser))
    assert run("sso", "login") == 0
    out = capsys.readouterr().out
    assert "Sign in to sso-session corp in the browser: " \
           "https://device.sso.example/?user_code=ABCD-EFGH" in out
    assert "check that it matches: ABCD-EFGH" in out
    assert "they renew it with its refresh token" in out
    assert fake.requests[0][2]["scopes"] == ["sso:account:access"]
    doc = json.loads(token_file().read_text())
    assert doc["accessToken"] == fake.issued_token and doc["refreshToken"] == "fake-refresh-token"
    for secret in (fake.issued_token, "fake-refresh-token", "fake-client-secret"):
        assert secret not in out
    # The browser is started detached: wait (bounded) for its one line.
    import time

    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert opened.read_text().splitlines() == ["https://device.sso.example/?user_code=ABCD-EFGH"]

    # botocore renews the saved token by itself, from the file we wrote.
    doc["expiresAt"] = iso_utc(utcnow() - timedelta(minutes=1))
    token_file().write_text(json.dumps(doc))
    config_path().write_text(HEAD + "\n[profile p]\nsso_session = corp\n"
                             "sso_account_id = 111111111111\nsso_role_name = ReadOnly\n")
    import botocore.session
    from botocore.tokens import SSOTokenProvider
    from botocore.utils import JSONFileCache

    s = botocore.session.Session()
    s.set_config_variable("config_file", str(config_path()))
    provider = SSOTokenProvider(s, cache=JSONFileCache(str(sso.cache_dir(os.environ))),
                                profile_name="p")
    assert provider.load_token().get_frozen_token().token == "ssoRefreshedAccessToken0001"
    assert json.loads(token_file().read_text())["refreshToken"] == "fake-refresh-token-1"


def test_sso_login_without_registration_scopes_says_there_is_no_refresh_token(
        fake: SsoFake, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    config_path().write_text(HEAD.replace("sso_registration_scopes = sso:account:access\n", ""))
    fake.pending = 0
    monkeypatch.setenv("BROWSER", str(fake_program(tmp_path / "bin", "browser", "exit 0\n")))
    assert run("sso", "login", "corp") == 0
    assert "no refresh token: add sso_registration_scopes" in capsys.readouterr().out
    assert "scopes" not in fake.requests[0][2]
    assert "refreshToken" not in json.loads(token_file().read_text())


def test_accounts_come_sorted_by_name_and_one_without_permission_sets_has_none(
        fake: SsoFake) -> None:
    write_token()
    fake.directory["999999999999"] = ("Gone", [])
    client = sso_directory.portal_client("eu-west-1", os.environ)
    d = sso_directory.Directory(client, TOKEN, "corp", workers=2)
    accounts = d.accounts()
    assert accounts[0].account_id == "333333333333"  # sorted by name
    assert next(a for a in accounts if a.name == "Gone").roles == ()


def test_a_guard_pattern_marks_the_matching_profiles(
        fake: SsoFake, capsys: pytest.CaptureFixture[str]) -> None:
    config_path().write_text(HEAD)
    write_token()
    assert run("sso", "populate", "--guard", "production=Prod/*",
               "--guard", "audit=*ReadOnly") == 0
    capsys.readouterr()
    assert run("profiles", "--json") == 0
    guards = {p["name"]: p["guard"] for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert guards == {"Prod/AdministratorAccess": "production", "Prod/ReadOnly": "production",
                      "Dev-Sandbox/Developer": None, "Audit-old/ReadOnly": "audit"}
    before = read_bytes()
    assert run("sso", "populate", "--guard", "[prod]=Prod/*") == 2
    assert "--guard '[prod]=Prod/*': give LABEL=PATTERN" in capsys.readouterr().err
    assert read_bytes() == before
