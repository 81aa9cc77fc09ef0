"""The command line in the user's language (issue 24): ``assume``, ``status``,
``profiles`` and their errors in Korean under ``LANG=ko_KR.UTF-8``, English under
``LANG=C``; ``--json`` the same under both. Against moto's server, in-process."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.langs import KO, C
from tray import i18n
from tray.cli import main
from tray.cli.snapshot_text import table, width
from tray.domain.errors import UsageError
from tray.domain.text import Text


def run(lang: dict[str, str], capsys: pytest.CaptureFixture[str],
        *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), env={**os.environ, **lang})
    out, err = capsys.readouterr()
    return code, out, err


def value_column(line: str, value: str) -> int:
    """The terminal column where ``value`` starts in ``line``."""
    return width(line[:line.index(value)])


def value_columns(lines: list[str], labels: list[str]) -> set[int]:
    """The terminal columns where the values of a table's ``lines`` start."""
    assert [line[:len(label)] for line, label in zip(lines, labels, strict=True)] == labels
    return {width(line) - width(line[len(label):].lstrip())
            for line, label in zip(lines, labels, strict=True)}


def steady(doc: Any) -> Any:
    """A status document without the seconds that pass between two runs."""
    if isinstance(doc, dict):
        return {k: steady(v) for k, v in doc.items() if k != "seconds_left"}
    if isinstance(doc, list):
        return [steady(v) for v in doc]
    return doc


def test_profiles_assume_and_status_in_korean_and_in_english(
        aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    aws.seed_world()
    aws.enforce()

    code, ko, _err = run(KO, capsys, "profiles")
    assert code == 0
    header, row = ko.splitlines()
    assert header.split() == ["프로필", "역할", "소스", "리전", "MFA"]
    assert row.split()[0] == "platform" and row.split()[-1] == "아니요"
    # Columns line up on a terminal: "역할" takes 4 columns, as the row's role below it.
    assert value_column(header, "역할") == value_column(row, row.split()[1])
    assert value_column(header, "리전") == value_column(row, "ap-northeast-2")
    en = run(C, capsys, "profiles")[1]
    assert en.splitlines()[0].split() == ["PROFILE", "ROLE", "SOURCE", "REGION", "MFA"]
    assert en.splitlines()[1].split()[-1] == "no"
    assert run(KO, capsys, "profiles", "--json")[1] == run(C, capsys, "profiles", "--json")[1]

    code, ko, _err = run(KO, capsys, "assume", "platform")
    assert code == 0
    lines = ko.splitlines()
    assert lines[0].startswith("platform 역할을 맡았습니다(")
    rows = lines[1:6]
    assert len(value_columns(rows, ["신원", "계정", "액세스 키", "만료", "기록"])) == 1
    assert "만료" in rows[3] and "후)" in rows[3]  # "(52분 후)": times in Korean too
    assert "[roletray]" in rows[4] and "리전 ap-northeast-2" in rows[4]
    assert "사용법:  export AWS_PROFILE=roletray   또는   aws --profile roletray ..." in ko
    assert "`roletray daemon`을 실행하세요." in ko
    en = run(C, capsys, "assume", "platform")[1]
    assert en.startswith("Assumed platform (") and "\nidentity " in en
    assert "Use it:  export AWS_PROFILE=roletray   or   aws --profile roletray ..." in en

    code, ko, _err = run(KO, capsys, "status")
    assert code == 0
    rows = ko.splitlines()
    assert len(value_columns(rows, ["상태", "역할", "대상", "신원", "계정", "만료"])) == 1
    assert rows[0].split()[1] == "최신" and rows[1].split()[1] == "platform"
    en = run(C, capsys, "status")[1].splitlines()
    assert en[0].split() == ["state", "fresh"]
    assert steady(json.loads(run(KO, capsys, "status", "--json")[1])) == \
        steady(json.loads(run(C, capsys, "status", "--json")[1]))

    ko_doc = json.loads(run(KO, capsys, "assume", "platform", "--json")[1])
    en_doc = json.loads(run(C, capsys, "assume", "platform", "--json")[1])
    for doc in (ko_doc, en_doc):  # a new session each time: its key, expiry and name
        doc.pop("access_key_id")
        doc.pop("expiration")
        assert ":assumed-role/platform/roletray-" in doc.pop("identity_arn")
    assert ko_doc == en_doc and ko_doc["ok"] is True


def test_an_error_of_the_cli_in_korean_and_its_json_in_english(
        isolated_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(KO, capsys, "refresh")
    assert code == 2
    assert err == ("roletray: 갱신할 활성 역할이 없습니다. 먼저 `roletray assume PROFILE`을 "
                   "실행하세요\n")
    code, _out, err = run(C, capsys, "refresh")
    assert err == "roletray: no active role to refresh: run `roletray assume PROFILE` first\n"
    ko = run(KO, capsys, "refresh", "--json")[1]
    assert ko == run(C, capsys, "refresh", "--json")[1]
    assert json.loads(ko)["error"].startswith("no active role to refresh")


def test_an_error_without_fields_is_translated_whole_and_english_in_str() -> None:
    i18n.setup(KO)
    e = UsageError(Text(i18n.N_("--mfa-code -: no code on standard input")))
    assert str(e) == "--mfa-code -: no code on standard input"
    assert e.localized == "--mfa-code -: 표준 입력에 코드가 없습니다"


def test_the_table_pads_by_display_width() -> None:
    lines = table([("상태", "fresh"), ("MFA 세션", "ends"), ("target", "[roletray]")])
    assert value_columns(lines.splitlines(), ["상태", "MFA 세션", "target"]) == {10}
    assert width("상태") == 4 and width("target") == 6


def test_the_help_and_a_usage_error_in_korean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["assume", "--help"], env=KO)
    assert done.value.code == 0
    assert "맡을 AWS config의 역할 프로필(`roletray profiles`로 목록을 봅니다)" in \
        capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["assume"], env=KO)
    assert done.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith("(`roletray assume --help` 참고)")
    with pytest.raises(SystemExit):
        main(["assume", "--help"], env=C)
    assert "the role profile of the AWS config to assume" in capsys.readouterr().out


def test_status_says_a_stored_problem_in_the_readers_language() -> None:
    """A refresh failure stored in English (the daemon's log language) reads in Korean."""
    from tray.cli.snapshot_text import snapshot_rows
    from tray.domain.errors import UnknownProfileError
    from tray.domain.problems import problem_from

    stored = problem_from(UnknownProfileError(profile="gone", path="~/.aws/config")).to_json()
    snap = {"state": "error", "role": "gone", "target": "roletray", "problem": stored}
    i18n.setup(KO)
    assert ("마지막 오류", "~/.aws/config: 'gone'라는 프로필이 없습니다") in snapshot_rows(snap)
    i18n.setup(C)
    assert ("last error", "~/.aws/config: no profile named 'gone'") in snapshot_rows(snap)
    old = {**snap, "problem": {"code": "config", "message": "an older roletray's words"}}
    assert ("last error", "an older roletray's words") in snapshot_rows(old)


# ------------------------------------------------ the sweep: what a Korean reader still met

def test_argparses_own_error_lines_in_korean(capsys: pytest.CaptureFixture[str]) -> None:
    """The parser's error line is the CLI's words too: a missing or unknown argument and a
    bad choice, in Korean; argparse's English under LANG=C."""
    said = {}
    for lang in (KO, C):
        lines = []
        for argv in (["assume"], ["refresh", "x"], ["autostart", "bogus"]):
            with pytest.raises(SystemExit) as done:
                main(argv, env=lang)
            assert done.value.code == 2
            lines.append(capsys.readouterr().err)
        said[lang["LANG"]] = lines
    assert said["ko_KR.UTF-8"] == [
        "roletray: 다음 인수가 필요합니다: profile (`roletray assume --help` 참고)\n",
        "roletray: 알 수 없는 인수입니다: x (`roletray --help` 참고)\n",
        ("roletray: 인수 action: 잘못된 선택입니다: 'bogus'(다음 중에서 고르세요: 'enable', "
        "'disable', 'status') (`roletray autostart --help` 참고)\n")]
    assert said["C"] == [
        ("roletray: the following arguments are required: profile (see `roletray assume "
        "--help`)\n"),
        "roletray: unrecognized arguments: x (see `roletray --help`)\n",
        ("roletray: argument action: invalid choice: 'bogus' (choose from 'enable', 'disable', "
        "'status') (see `roletray autostart --help`)\n")]


def test_a_bad_target_and_a_broken_file_name_the_problem_in_korean(
        isolated_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The target's rule and the credentials file's parse problem were English inside a
    Korean sentence; nothing is written."""
    code, _out, err = run(KO, capsys, "assume", "platform", "--target", "a]b")
    assert code == 2
    assert err == ("roletray: 대상 'a]b'은(는) roletray가 기록하는 섹션 이름이 아닙니다(영문자, "
                   "숫자, _ . @ + -만, 최대 64자)\n")
    assert run(C, capsys, "assume", "platform", "--target", "a]b")[2] == (
        "roletray: target 'a]b' is not a section name roletray writes (letters, digits and "
        "_ . @ + - only, at most 64)\n")

    settings = isolated_env / ".config" / "roletray" / "config.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('target = "a b"\n')
    code, _out, err = run(KO, capsys, "assume", "platform")
    assert code == 2 and "(영문자, 숫자, _ . @ + -만, 최대 64자)" in err
    assert "letters" not in err
    settings.unlink()

    (isolated_env / ".aws" / "config").write_text(
        "[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
        "source_profile = default\n")
    credentials = isolated_env / ".aws" / "credentials"
    credentials.write_text("garbage\n[x]\n[x]\n")
    code, _out, err = run(KO, capsys, "assume", "platform")
    assert code == 2
    assert err.startswith("roletray: ~/.aws/credentials 1번째 줄: 첫 [section] 머리글 앞에 "
                          "글이 있습니다. botocore와 AWS CLI가")
    assert "text before" in run(C, capsys, "assume", "platform")[2]
    credentials.write_text("[x]\na = 1\n[x]\n")
    code, _out, err = run(KO, capsys, "assume", "platform")
    assert "3번째 줄: [x] 섹션이 두 번 나옵니다." in err
    assert credentials.read_text() == "[x]\na = 1\n[x]\n"


def test_the_warnings_of_an_assume_in_korean_and_english_in_json(
        aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    aws.seed_world()
    aws.enforce()
    os.chmod(aws.credentials_path, 0o644)
    monkeypatch.setenv("AWS_PROFILE", "other")
    code, _out, err = run(KO, capsys, "assume", "platform")
    assert code == 0
    assert err.splitlines() == [
        ("경고: ~/.aws/credentials을(를) 다른 사용자가 읽을 수 있습니다(모드 644). 다음을 "
        f"실행하세요: chmod 600 {aws.credentials_path}"),
        ("경고: 환경에 AWS_PROFILE=other이(가) 있습니다. 도구는 'roletray'이(가) 아니라 "
        "프로필 'other'을(를) 씁니다")]
    os.chmod(aws.credentials_path, 0o644)
    assert run(C, capsys, "assume", "platform")[2].splitlines() == [
        ("warning: ~/.aws/credentials is readable by other users (mode 644); run: chmod 600 "
        f"{aws.credentials_path}"),
        ("warning: AWS_PROFILE=other in the environment: tools use profile 'other', not "
        "'roletray'")]
    os.chmod(aws.credentials_path, 0o644)
    doc = json.loads(run(KO, capsys, "assume", "platform", "--json")[1])
    assert doc["warnings"] == [
        ("~/.aws/credentials is readable by other users (mode 644); run: chmod 600 "
        f"{aws.credentials_path}"),
        "AWS_PROFILE=other in the environment: tools use profile 'other', not 'roletray'"]


def test_autostart_in_korean_and_its_json_in_english(
        isolated_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    entry = isolated_env / ".config" / "autostart" / "roletray.desktop"
    assert run(KO, capsys, "autostart", "status")[1] == (
        "자동 시작 꺼짐: ~/.config/autostart/roletray.desktop\n  자동 시작 항목이 없습니다\n")
    assert run(C, capsys, "autostart", "status")[1] == (
        "autostart disabled: ~/.config/autostart/roletray.desktop\n  no autostart entry\n")
    code, ko, _err = run(KO, capsys, "autostart", "enable")
    assert code == 0 and ko.splitlines()[1].startswith("  시작 명령: ")
    assert json.loads(run(KO, capsys, "autostart", "status", "--json")[1])["detail"] \
        .startswith("starts: ")

    entry.write_text("[Desktop Entry]\nType=Application\nExec=other-app\nHidden=true\n")
    assert run(KO, capsys, "autostart", "status")[1].splitlines()[1] == (
        "  roletray가 쓴 항목이 아닙니다; 세션 설정에서 꺼져 있습니다(Hidden=true). "
        "'roletray autostart enable'로 켤 수 있습니다")
    code, _out, err = run(KO, capsys, "autostart", "disable")
    assert code == 2
    assert err == ("roletray: ~/.config/autostart/roletray.desktop: roletray가 쓴 항목이 "
                   "아니므로(X-Roletray-Managed=true 없음) 지우지 않습니다. 그래도 지우려면 "
                   "--force를 주세요\n")
    assert run(C, capsys, "autostart", "disable")[2] == (
        "roletray: ~/.config/autostart/roletray.desktop: not written by roletray (no "
        "X-Roletray-Managed=true); refusing to remove it; pass --force to remove it anyway\n")
    assert entry.read_text().startswith("[Desktop Entry]\nType=Application\nExec=other-app")


SSO_CONFIG = ("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
              "sso_region = ap-northeast-2\n[profile dev-admin]\nsso_session = corp\n"
              "sso_account_id = 111122223333\nsso_role_name = Admin\n")


def test_why_a_sign_in_is_needed_is_said_in_korean(
        isolated_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The reason inside a sign-in message (no sign-in yet, not signed in) and what a
    profile is (a permission set) were English inside the Korean sentence."""
    from tray.domain.errors import SsoLoginRequiredError
    from tray.domain.problems import Problem, problem_from

    (isolated_env / ".aws" / "config").write_text(SSO_CONFIG)
    code, _out, err = run(KO, capsys, "sso", "populate", "corp")
    assert code == 2 and err == (
        "roletray: sso-session 'corp'에 로그인되어 있지 않습니다(아직 로그인하지 않음). "
        "`roletray sso login corp`(또는 `aws sso login --sso-session corp`)을 실행한 뒤 다시 "
        "시도하세요\n")
    assert "(no sign-in yet); run `roletray sso login corp`" in \
        run(C, capsys, "sso", "populate", "corp")[2]
    code, _out, err = run(KO, capsys, "assume", "dev-admin")
    assert code != 0 and "SSO 로그인이 필요합니다(로그인되지 않음)." in err
    assert "(not signed in)" in run(C, capsys, "assume", "dev-admin")[2]
    code, _out, err = run(KO, capsys, "assume", "dev-admin", "--duration", "900")
    assert code == 2 and err.startswith("roletray: 프로필 'dev-admin'은(는) Identity Center 권한 "
                                        "집합입니다. 키의 유효 기간은 AWS가 정하므로")
    assert "is an Identity Center permission set: AWS sets" in \
        run(C, capsys, "assume", "dev-admin", "--duration", "900")[2]

    # Stored by an English daemon, read in Korean: the reason keeps its template.
    stored = problem_from(SsoLoginRequiredError(
        profile="dev-admin", reason=Text(i18n.N_("token expired")))).to_json()
    i18n.setup(KO)
    read = Problem.from_json(json.loads(json.dumps(stored)))
    assert read is not None and "(토큰 만료)" in read.localized()


def test_the_console_says_why_the_sign_in_page_failed_in_korean(
        aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from tray.demo import free_port

    aws.seed_world()
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ROLETRAY_FEDERATION_ENDPOINT", closed + "/federation")
    monkeypatch.setenv("BROWSER", "/bin/false")
    code, _out, err = run(KO, capsys, "console", "platform")
    assert code == 1
    assert err == f"roletray: 페더레이션 엔드포인트 {closed}: 연결할 수 없습니다: 연결이 거부되었습니다\n"
    assert run(C, capsys, "console", "platform")[2] == (
        f"roletray: federation endpoint {closed} could not be reached: the connection was "
        "refused\n")
