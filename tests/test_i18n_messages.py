"""The doctor and the stored reasons in the reader's language (SPEC "Language"): the doctor
speaks Korean under ``LANG=ko_KR.UTF-8`` and English under ``LANG=C`` (its ``--json`` the
same in both); a problem written by one process is read in another reader's language."""

from __future__ import annotations

import json
import os

import pytest

from tests.langs import KO, C
from tests.test_doctor import OTHER_ROOT, USER_ARN, statements_in, world
from tray import i18n
from tray.cli import main
from tray.domain import denied, wire
from tray.domain.errors import AccessDeniedError, RoletrayError
from tray.domain.problems import Problem, plain_reason, problem_from, problem_line
from tray.domain.text import N_, Text, localized


def _doctor(capsys: pytest.CaptureFixture[str], lang: dict[str, str], *args: str
            ) -> tuple[int, str]:
    code = main(["doctor", "platform", *args], env={**os.environ, **lang})
    return code, capsys.readouterr().out


# ------------------------------------------------------------------ the doctor

def test_the_doctor_of_a_denied_trust_relationship_in_korean_and_in_english(aws, capsys):
    world(aws, trust=OTHER_ROOT)
    aws.enforce()

    code, ko = _doctor(capsys, KO)
    assert code == 1
    assert "roletray doctor: 프로필 'platform'" in ko
    assert (f"역할 'platform'의 신뢰 정책이 {USER_ARN}을(를) 신뢰하지 않습니다(신뢰하는 대상: "
            f"{OTHER_ROOT})") in ko
    assert "해결 방법:" in ko and "문제 2개 발견: trust, assume" in ko
    assert "계정 123456789012의 관리자로서 역할 'platform'의 신뢰 관계에 이 문을 추가하세요" in ko
    assert "the trust policy" not in ko and "PROBLEM" not in ko

    code, en = _doctor(capsys, C)
    assert code == 1
    assert (f"the trust policy of role 'platform' does not trust {USER_ARN} (it trusts "
            f"{OTHER_ROOT})") in en
    assert "fix:" in en and "2 problems found: trust, assume" in en
    assert "해결" not in en

    # The policies to paste are the same JSON in both languages.
    assert statements_in(ko) == statements_in(en) != []


def test_the_doctors_json_is_english_whatever_the_locale(aws, capsys):
    world(aws, trust=OTHER_ROOT)
    aws.enforce()

    docs = []
    for lang in (KO, C):
        code, out = _doctor(capsys, lang, "--json")
        assert code == 1
        doc = json.loads(out)
        doc.pop("checked_at")
        for finding in doc["findings"]:
            if finding["id"] == "clock":  # this machine's clock, measured again each run
                finding.pop("data")
                finding["message"] = finding["message"].split("(")[0]
        docs.append(doc)
    assert docs[0] == docs[1]
    assert not any("\uac00" <= c <= "\ud7a3" for c in json.dumps(docs[0], ensure_ascii=False))
    assert docs[0]["summary"] == (f"the trust policy of role 'platform' does not trust "
                                  f"{USER_ARN} (it trusts {OTHER_ROOT}); `roletray doctor "
                                  "platform` shows the fix")


# ------------------------------------------------------------------ a denied assume

DENIED = ("User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
          "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/locked")


def _denied() -> AccessDeniedError:
    return AccessDeniedError(denied.PROFILE_DENIED, profile="locked", finding=denied.with_fix(
        denied.assume_denied_finding(DENIED), "locked"))


def test_the_denial_is_one_sentence_in_each_language():
    english = ("profile 'locked': the trust policy of role 'locked' probably does not trust "
               "arn:aws:iam::123456789012:user/dev (AWS: AccessDenied for sts:AssumeRole on "
               "arn:aws:iam::123456789012:role/locked); `roletray doctor locked` shows the fix")
    assert str(_denied()) == english
    i18n.setup(KO)
    error = _denied()
    assert str(error) == english
    assert error.localized == (
        "프로필 'locked': 역할 'locked'의 신뢰 정책이 arn:aws:iam::123456789012:user/dev을(를) "
        "신뢰하지 않는 것 같습니다(AWS: arn:aws:iam::123456789012:role/locked에 대한 "
        "sts:AssumeRole에 AccessDenied). `roletray doctor locked`이(가) 해결 방법을 보여 줍니다")


# ------------------------------------------------------------------ a stored problem

def test_a_problem_stored_by_an_english_daemon_reads_in_korean():
    problem = problem_from(_denied(), role="locked")  # written in English (no setup)
    doc = json.loads(json.dumps(problem.to_json()))
    assert doc["message"] == str(_denied())  # the stored message stays English
    assert "template" in doc and "fields" in doc
    assert "AKIA" not in json.dumps(doc)

    read = Problem.from_json(doc)
    assert read is not None and read.message == problem.message
    assert read.localized() == problem.message  # English until a language is set
    i18n.setup(KO)
    assert read.localized().startswith("프로필 'locked': 역할 'locked'의 신뢰 정책이")
    # The menu's line and a notification's reason: without the profile's opening.
    assert plain_reason(read).startswith("역할 'locked'의 신뢰 정책이")
    assert problem_line(read).startswith("locked: 역할 'locked'의 신뢰 정책이")


def test_a_problem_of_an_older_roletray_reads_as_its_message():
    doc = {"code": "access_denied", "profile": "locked", "input_kind": None,
           "message": "profile 'locked': denied", "hint": None}
    i18n.setup(KO)
    read = Problem.from_json(doc)
    assert read is not None and read.text is None
    assert read.localized() == "profile 'locked': denied"
    assert plain_reason(read) == "denied"
    # A template whose fields do not fit is not trusted: the message is said.
    broken = Problem.from_json({**doc, "template": "{missing} x", "fields": {}})
    assert broken is not None and broken.localized() == "profile 'locked': denied"


def test_a_one_off_problem_of_the_engine_reads_in_korean():
    problem = Problem("missing_section", Text(N_("section [{target}] is missing from {path}"),
                                              target="roletray", path="~/.aws/credentials"))
    assert problem.message == "section [roletray] is missing from ~/.aws/credentials"
    i18n.setup(KO)
    read = Problem.from_json(problem.to_json())
    assert read is not None
    assert read.localized() == "~/.aws/credentials에 [roletray] 섹션이 없습니다"


# ------------------------------------------------------------------ over the wire

def test_an_error_over_the_wire_is_said_in_the_readers_language():
    doc = json.loads(json.dumps(wire.encode_error(_denied())))  # the English side
    assert "localized" not in doc and doc["template"] == denied.PROFILE_DENIED
    i18n.setup(KO)
    read = wire.decode_error(doc)
    assert isinstance(read, AccessDeniedError)
    assert str(read) == str(_denied())
    assert read.localized.startswith("프로필 'locked': 역할 'locked'의 신뢰 정책이")
    assert problem_from(read).localized() == read.localized
    # An older side sends no template: its own text is kept.
    old = {k: v for k, v in doc.items() if k not in ("template", "fields")}
    assert wire.decode_error(old).localized == str(_denied())


def test_a_plain_error_has_no_text():
    error = RoletrayError("plain words")
    assert error.text is None and problem_from(error).to_json().get("template") is None


# ------------------------------------------------------------------ one-off errors

def test_one_off_errors_of_the_files_come_out_korean(isolated_env):
    from tray.awsfiles import awsconfig
    from tray.domain.errors import ConfigError, SettingsError, StateError
    from tray.paths import Paths
    from tray.settings import load_settings
    from tray.state import load_state

    env = dict(os.environ)
    paths = Paths.from_env(env)
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text('target = "roletray"\nbogus = 1\n')
    config = isolated_env / ".aws" / "config"
    config.write_text("[profile plain]\nregion = eu-west-1\n")
    paths.state_file.parent.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text("{not json")

    def raised(call) -> RoletrayError:
        with pytest.raises(RoletrayError) as caught:
            call()
        return caught.value

    english = [raised(lambda: load_settings(paths)),
               raised(lambda: awsconfig.get_role_profile("plain", config,
                                                         credentials_path=None)),
               raised(lambda: load_state(paths))]
    i18n.setup(KO)
    korean = [raised(lambda: load_settings(paths)),
              raised(lambda: awsconfig.get_role_profile("plain", config,
                                                        credentials_path=None)),
              raised(lambda: load_state(paths))]
    assert [type(e) for e in korean] == [SettingsError, ConfigError, StateError]
    assert [str(e) for e in korean] == [str(e) for e in english]  # str() stays English
    assert str(english[0]).endswith(", line 2: unknown setting 'bogus' (known: "
                                    "mfa_session_hours, notifications, refresh_margin, "
                                    "target, worker_idle_minutes)")
    assert korean[0].localized.endswith(", 2번째 줄: 알 수 없는 설정 'bogus'(알려진 설정: "
                                        "mfa_session_hours, notifications, refresh_margin, "
                                        "target, worker_idle_minutes)")
    assert "프로필 'plain'은(는) 역할 프로필이 아닙니다" in korean[1].localized
    assert "올바른 JSON이 아닙니다" in korean[2].localized
    # What a problem keeps of them reads back Korean in another process.
    stored = json.loads(json.dumps(problem_from(english[1]).to_json()))
    assert Problem.from_json(stored).localized() == korean[1].localized  # type: ignore[union-attr]


def test_a_bad_mfa_code_is_refused_in_korean_by_the_cli(aws, capsys):
    world(aws, trust=USER_ARN, profile_extra="mfa_serial = arn:aws:iam::123456789012:mfa/dev\n")
    code = main(["assume", "platform", "--mfa-code", "12"], env={**os.environ, **KO})
    err = capsys.readouterr().err
    assert code == 2
    assert err == "roletray: 프로필 'platform': MFA 코드는 6자리 숫자여야 합니다\n"
    code = main(["assume", "platform", "--mfa-code", "12"], env={**os.environ, **C})
    assert capsys.readouterr().err == "roletray: profile 'platform': the MFA code must be 6 digits\n"


def test_a_plain_sentence_and_a_parse_error_come_out_korean(isolated_env):
    from tray.awsfiles import awsconfig
    from tray.domain.errors import ConfigError, UsageError

    config = isolated_env / ".aws" / "config"
    config.write_text("[profile a]\nregion = eu-west-1\n[profile a]\n")
    with pytest.raises(ConfigError) as english:
        awsconfig.load_profile_map(config, home=isolated_env)
    i18n.setup(KO)
    with pytest.raises(ConfigError) as korean:
        awsconfig.load_profile_map(config, home=isolated_env)
    assert str(korean.value) == str(english.value) == \
        "~/.aws/config, line 3: section [profile a] appears twice"
    assert korean.value.localized == "~/.aws/config, 3번째 줄: [profile a] 섹션이 두 번 나옵니다"

    plain = UsageError(Text(N_("no web browser could be started; set $BROWSER, or use "
                               "--print and open the URL yourself")))
    assert str(plain).startswith("no web browser could be started")
    assert plain.localized.startswith("웹 브라우저를 시작할 수 없습니다")
    assert Problem.from_json(problem_from(plain).to_json()).localized() == plain.localized  # type: ignore[union-attr]


# ------------------------------------------------ the sweep: what a Korean reader still met

def test_a_second_instance_is_refused_in_korean(tmp_path):
    from tray.domain.errors import InstanceRunningError
    from tray.instance.lock import InstanceLock

    held = InstanceLock(tmp_path / "run" / "roletray.lock").acquire()
    keeps = Text(N_("it keeps {credentials}"), credentials="~/.aws/credentials")
    keeper = InstanceLock(tmp_path / "run" / "keeper.lock", what=keeps).acquire()
    try:
        i18n.setup(KO)
        with pytest.raises(InstanceRunningError) as refused:
            InstanceLock(tmp_path / "run" / "roletray.lock").acquire()
        pid = os.getpid()
        assert refused.value.localized == (
            f"roletray가 이미 실행 중입니다(pid {pid}). `roletray assume|refresh|clear|status`는 "
            f"이 프로세스에 요청합니다. 새로 시작하려면 `kill {pid}`로 멈추세요")
        assert str(refused.value) == (
            f"roletray is already running (pid {pid}); `roletray assume|refresh|clear|status` "
            f"talk to it; stop it with `kill {pid}` to start another")
        with pytest.raises(InstanceRunningError) as refused:
            InstanceLock(tmp_path / "run" / "keeper.lock", what=keeps).acquire()
        assert f"(pid {pid}). ~/.aws/credentials을(를) 유지하고 있습니다. " in \
            refused.value.localized
        i18n.setup(C)
        assert refused.value.text is not None
        assert refused.value.text.localized.startswith(
            f"roletray is already running (pid {pid}); it keeps ~/.aws/credentials; ")
    finally:
        keeper.release()
        held.release()


def test_a_protocol_mismatch_reads_in_the_readers_language():
    """The instance declines another protocol in English (its log language); the CLI says
    it in Korean from the template it sent."""
    reply = wire.declined(wire.OTHER_PROTO, wire.mismatch(
        running=(wire.PROTO, "0.2.0"), caller=(2, None), pid=4242))
    assert reply["error"] == (
        "the running roletray (pid 4242) speaks roletray 0.2.0 (control protocol 3) and this "
        "command control protocol 2, an older version: restart it so that both are one "
        "version (quit the tray or `kill 4242`, then start `roletray` or `roletray daemon` "
        "again)")
    i18n.setup(KO)
    error = wire.decode_error(json.loads(json.dumps(reply)))
    assert error.localized == (
        "실행 중인 roletray(pid 4242)는 roletray 0.2.0(제어 프로토콜 3)을(를), 이 명령은 "
        "제어 프로토콜 2, 이전 버전을(를) 씁니다. 둘이 같은 버전이 되도록 다시 시작하세요(트레이를 "
        "종료하거나 `kill 4242`을 실행한 다음 `roletray`나 `roletray daemon`을 다시 시작하세요)")
    assert str(error) == reply["error"]
    no_answer = wire.decode_error(json.loads(json.dumps(wire.encode_error(RoletrayError(
        Text(N_("the running roletray gave no usable answer")))))))
    assert no_answer.localized == "실행 중인 roletray가 쓸 수 있는 응답을 주지 않았습니다"
    i18n.setup(C)
    assert wire.decode_error(reply).localized == reply["error"]


def test_a_refused_switch_names_a_permission_set_in_korean():
    from tray.domain.models import RoleProfile
    from tray.platform.notify import refused_switch

    sso = RoleProfile(name="dev-admin", role_arn="", kind="sso", account_id="111122223333",
                      sso_role_name="Admin")
    problem = Problem("endpoint", "profile 'dev-admin': could not reach SSO",
                      profile="dev-admin")
    i18n.setup(KO)
    ko = refused_switch("dev-admin", problem, sso.describe).body.splitlines()[-1]
    assert "permission set" not in ko and "Admin" in ko and "111122223333" in ko
    i18n.setup(C)
    assert refused_switch("dev-admin", problem, sso.describe).body.splitlines()[-1] == \
        "Role: permission set Admin in account 111122223333"


def test_no_keyring_is_said_in_korean():
    import keyring
    from keyring.backends import fail

    from tray.domain.errors import KeyringUnavailableError
    from tray.platform.secret_store import _default_backend

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        i18n.setup(KO)
        with pytest.raises(KeyringUnavailableError) as none:
            _default_backend()
    finally:
        keyring.set_keyring(before)
    assert none.value.localized == (
        "키를 보관할 OS 키링이 없습니다: keyring이 쓸 백엔드를 찾지 못했습니다(Linux에서는 D-Bus "
        "세션 버스의 gnome-keyring이나 KWallet 같은 Secret Service가 필요합니다). 아무것도 "
        "옮기지 않았습니다")
    assert str(none.value) == (
        "no OS keyring to keep keys in: keyring found no backend (on Linux: a Secret Service "
        "such as gnome-keyring or KWallet on the D-Bus session bus); nothing was moved")


def test_the_doctors_environment_finding_in_korean():
    """The AWS_* warnings are the assume's and the doctor's: one template each."""
    from tray.doctor.local import check_environment

    finding = check_environment("roletray", {"AWS_PROFILE": "other"})
    i18n.setup(KO)
    assert localized(finding.message) == ("환경에 AWS_PROFILE=other이(가) 있습니다. 도구는 "
                                          "'roletray'이(가) 아니라 프로필 'other'을(를) 씁니다")
    i18n.setup(C)
    assert localized(finding.message) == ("AWS_PROFILE=other in the environment: tools use "
                                          "profile 'other', not 'roletray'")


def test_a_malformed_control_request_is_refused_in_the_readers_language():
    """The control protocol's own refusals travel as templates too."""
    from tray.instance.control import dispatch

    reply = dispatch(None, {"cmd": "assume"})  # type: ignore[arg-type]  # refused before use
    assert reply["ok"] is False and reply["error"] == "assume: a profile name is required"
    i18n.setup(KO)
    assert wire.decode_error(json.loads(json.dumps(reply))).localized == \
        "assume: 프로필 이름이 필요합니다"
