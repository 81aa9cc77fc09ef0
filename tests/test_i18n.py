"""Messages in the user's language (SPEC "Language"): the catalogs are complete and
compiled from their ``.po``, the locale comes from the environment given, and the CLI,
the menu and the notifications speak Korean under ``LANG=ko_KR.UTF-8`` and English
under ``LANG=C``; ``--json`` stays English."""

from __future__ import annotations

import importlib.util
import json
import string
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.langs import KO, C
from tray import i18n
from tray.cli import main
from tray.domain.errors import UnknownProfileError, UsageError
from tray.domain.models import RefreshState, RoleProfile, Snapshot
from tray.platform.notify import NotificationPolicy
from tray.ui.menu import MenuActions, build_menu_model, render_text

ROOT = Path(__file__).resolve().parent.parent
def _tools() -> object:
    spec = importlib.util.spec_from_file_location("roletray_i18n_tools", ROOT / "tools/i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tools: object = _tools()


# ------------------------------------------------------------------ the catalogs

def test_the_catalogs_cover_the_code_and_each_mo_is_compiled_from_its_po(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert tools.main(["check"]) == 0, capsys.readouterr().err  # type: ignore[attr-defined]


def _fields(text: str) -> set[str]:
    return {name for _t, name, _s, _c in string.Formatter().parse(text) if name is not None}


def test_each_translation_keeps_the_fields_of_its_message() -> None:
    po = ROOT / "tray/locale/ko/LC_MESSAGES/roletray.po"
    _header, messages = tools.read_po(po.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    assert len(messages) > 100
    for m in messages:
        for t in m.translations:
            assert _fields(t) == _fields(m.msgid), m.msgid


def test_the_compiled_catalog_reads_back_with_gettext(tmp_path: Path) -> None:
    import gettext

    mo = tmp_path / "x.mo"
    mo.write_bytes(tools.compile_mo(  # type: ignore[attr-defined]
        "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=1; plural=0;\n",
        [tools.Message("Quit", translations=["종료"]),  # type: ignore[attr-defined]
         tools.Message("{n} role", "{n} roles", translations=["역할 {n}개"]),  # type: ignore[attr-defined]
         tools.Message("Untranslated")]))  # type: ignore[attr-defined]
    with mo.open("rb") as f:
        t = gettext.GNUTranslations(f)
    assert t.gettext("Quit") == "종료"
    assert t.ngettext("{n} role", "{n} roles", 5) == "역할 {n}개"
    assert t.gettext("Untranslated") == "Untranslated"


# ------------------------------------------------------------------ the locale

@pytest.mark.parametrize(("env", "expected"), [
    ({"LANG": "ko_KR.UTF-8"}, ["ko_KR.UTF-8"]),
    ({"LANG": "C", "LC_MESSAGES": "ko_KR.UTF-8"}, ["ko_KR.UTF-8"]),
    ({"LANG": "ko_KR.UTF-8", "LC_ALL": "C"}, []),  # LC_ALL wins
    ({"LANG": "C.UTF-8"}, []),
    ({"LANG": "POSIX", "LANGUAGE": "ko"}, []),  # LANGUAGE is not heeded in the C locale
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "ko:en"}, ["ko", "en"]),
    ({}, []),
])
def test_the_language_comes_from_the_mapping_given(env: dict[str, str],
                                                   expected: list[str]) -> None:
    assert i18n.languages(env) == expected


def test_a_language_without_a_catalog_is_english() -> None:
    i18n.setup({"LANG": "fr_FR.UTF-8"})
    assert i18n._("Quit") == "Quit"


# ------------------------------------------------------------------ the menu, a notification

ACCT = "123456789012"
NOW = datetime(2026, 11, 28, 12, 34, tzinfo=UTC)
SNAP = Snapshot(state=RefreshState.FRESH, role="platform", target="roletray",
                identity_arn=f"arn:aws:sts::{ACCT}:assumed-role/platform/x", account=ACCT,
                expiration=NOW + timedelta(minutes=52), now=NOW)
PROFILES = [RoleProfile(name="platform", role_arn=f"arn:aws:iam::{ACCT}:role/platform",
                        source_profile="default")]


def _menu(env: dict[str, str]) -> str:
    i18n.setup(env)
    return render_text(build_menu_model(SNAP, PROFILES, now=NOW, tz=UTC,
                                        actions=MenuActions(), autostart=False))


def test_the_menu_in_korean_and_in_english() -> None:
    ko = _menu(KO).splitlines()
    assert f"계정 {ACCT} [disabled]" in ko
    assert "13:26 UTC 만료(52분 후) [disabled]" in ko
    assert "지금 갱신" in ko and "종료" in ko and "[ ] 로그인할 때 시작" in ko
    assert "(*) platform" in ko  # names stay as they are
    en = _menu(C).splitlines()
    assert "Refresh now" in en and "Quit" in en
    assert "expires 13:26 UTC (in 52 min) [disabled]" in en


def test_a_notification_in_korean_and_in_english() -> None:
    def switched(env: dict[str, str]) -> tuple[str, str]:
        i18n.setup(env)
        note = NotificationPolicy(tz=UTC).on_change(Snapshot(), SNAP)
        assert note is not None
        return note.title, note.body

    assert switched(KO) == ("이제 platform 역할로 작업합니다",
                            f"{ACCT} · 13:26 UTC 만료(52분 후). 도구 설정: AWS_PROFILE=roletray.")
    body = f"{ACCT} · expires 13:26 UTC (in 52 min); tools use AWS_PROFILE=roletray."
    assert switched(C) == ("Now working as platform", body)


def test_the_tray_dialogs_and_daemon_speak_korean_and_english(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Messages added after the first catalog: the tray's (a sync's summary, the console
    page's title, "no display"), the menu's progress line, the daemon's status line."""
    from tray.app import _status_line
    from tray.engine.roles import ProfileCache, RoleService
    from tray.ui.backend import TrayUnavailableError, select_backend
    from tray.ui.guarded import console_title
    from tray.ui.tray_app import synced

    class Refresher:
        def switch(self, name: str, mfa_code: str | None = None, *,
                   target: str | None = None) -> None:
            pass

    def said(env: dict[str, str]) -> list[str]:
        i18n.setup(env)
        with pytest.raises(TrayUnavailableError) as no_display:
            select_backend({}, platform="linux")
        progress: list[str | None] = []
        none = tmp_path / "none"
        RoleService(Refresher(), ProfileCache(none, none), ask_code=lambda *a: None,  # type: ignore[arg-type]
                    sso_login=lambda *a, **k: none, doctor=lambda *a: ("", ""), child_env={},
                    progress=progress.append).switch("platform")
        _status_line(SNAP)
        done = {"session": "corp", "profiles": 2, "added": 2, "removed": 0, "skipped": 0}
        return [no_display.value.localized, str(progress[0]), synced(done),
                console_title("prod", "production"), capsys.readouterr().out.strip()]

    assert said(KO) == [
        ("그래픽 디스플레이가 없습니다(DISPLAY가 설정되지 않았습니다). 트레이 없이 키를 "
         "갱신하려면 `roletray daemon`을 실행하세요"),
        "platform(으)로 전환 중…",
        "sso-session corp: 프로필 2개(2개 추가, 0개 제거)",
        "roletray: prod [production](으)로 AWS 콘솔을 여는 중",
        "[최신] platform 52분 남음"]
    assert said(C) == [
        ("no graphical display (DISPLAY is not set); run `roletray daemon` for the refresher "
         "without a tray"),
        "Switching to platform…",
        "sso-session corp: 2 profiles (2 added, 0 removed)",
        "roletray: opening the AWS console as prod [production]",
        "[fresh] platform 52 min left"]


def test_an_error_is_english_in_str_and_translated_for_the_person() -> None:
    i18n.setup(KO)
    e = UnknownProfileError(profile="nope", path="~/.aws/config")
    assert str(e) == "~/.aws/config: no profile named 'nope'"  # logs, --json
    assert e.localized == "~/.aws/config: 'nope'라는 프로필이 없습니다"


def test_a_one_off_error_template_is_translated_whole_and_filled_in() -> None:
    i18n.setup(KO)
    e = UsageError(i18n.N_("--duration {value}: must be from 900 to 43200 seconds"),
                   value="{60}")  # a field's value is never read as a template
    assert str(e) == "--duration {60}: must be from 900 to 43200 seconds"
    assert e.localized == "--duration {60}: 900초에서 43200초 사이여야 합니다"
    assert UsageError("a plain {message}").localized == "a plain {message}"


# ------------------------------------------------------------------ the CLI

def _cli(env: dict[str, str], *args: str,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args), env=env)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_error_line_follows_the_locale_and_json_does_not(
        isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    (isolated_env / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    base = dict(os.environ)
    code, _out, err = _cli({**base, **KO}, "assume", "nope", capsys=capsys)
    assert code == 2
    assert err == "roletray: ~/.aws/config: 'nope'라는 프로필이 없습니다\n"
    code, _out, err = _cli({**base, **C}, "assume", "nope", capsys=capsys)
    assert err == "roletray: ~/.aws/config: no profile named 'nope'\n"
    ko = _cli({**base, **KO}, "assume", "nope", "--json", capsys=capsys)[1]
    en = _cli({**base, **C}, "assume", "nope", "--json", capsys=capsys)[1]
    assert ko == en and json.loads(en)["error"] == "~/.aws/config: no profile named 'nope'"


def test_the_demos_words_in_korean_and_english(tmp_path: Path) -> None:
    from tray.demo import Sandbox, banner

    box = Sandbox(folder=tmp_path / "demo", endpoint="http://127.0.0.1:9")
    i18n.setup(KO)
    ko = banner(box)
    assert ko.startswith(f"roletray 데모: 로컬 AWS는 http://127.0.0.1:9, 샌드박스는 "
                         f"{tmp_path / 'demo'}에 있습니다\n실제 ~/.aws는 읽거나 쓰지 않습니다.")
    assert f"export AWS_CONFIG_FILE={tmp_path / 'demo' / 'aws' / 'config'}\n" in ko
    assert ko.endswith("프로필: platform(동작함), locked(AccessDenied: 신뢰 정책이 다른 계정을 "
                       "지정합니다).\n")
    i18n.setup(C)
    en = banner(box)
    assert en.startswith("roletray demo: a local AWS on http://127.0.0.1:9, sandbox in ")
    # The block to paste is the same lines in both.
    block = [line for line in en.splitlines() if line.startswith("export ")]
    assert block == [line for line in ko.splitlines() if line.startswith("export ")] != []
