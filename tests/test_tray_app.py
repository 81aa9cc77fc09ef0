"""The tray's logic without a display: backend choice, actions, notifications, caching.

The icon itself is tested for real in tests/test_desktop.py; here TrayApp runs
with no pystray icon (``render`` is then a no-op) and fake collaborators.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tray.domain.errors import AccessDeniedError, MfaRequiredError, RoletrayError
from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import Problem
from tray.platform.notify import DENIED_PLAIN
from tray.ui import tray_app
from tray.ui.menu import render_text
from tray.ui.tray_app import ProfileCache, Services, TrayApp, TrayUnavailableError, select_backend

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ARN = "arn:aws:iam::123456789012:role/"
CONFIG = f"""[default]
region = eu-west-3

[profile platform]
role_arn = {ARN}platform
source_profile = default

[profile secure]
role_arn = {ARN}secure
source_profile = default
mfa_serial = arn:aws:iam::123456789012:mfa/dev

[profile broken]
role_arn = not-an-arn
source_profile = default
"""


@dataclass
class FakeRefresher:
    snap: Snapshot = field(default_factory=lambda: Snapshot(now=NOW))
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: Exception | None = None
    threads: list[str] = field(default_factory=list)
    usable_session: bool = False  # an MFA session the refresher could use
    session_checks: list[str] = field(default_factory=list)

    def snapshot(self) -> Snapshot:
        return self.snap

    def needs_mfa_code(self, profile: str) -> bool:
        self.session_checks.append(profile)
        return not self.usable_session

    def _call(self, *call: Any) -> Snapshot:
        self.calls.append(call)
        self.threads.append(threading.current_thread().name)
        if self.fail is not None:
            raise self.fail
        return self.snap

    def switch(self, profile: str, mfa_code: str | None = None) -> Snapshot:
        return self._call("switch", profile, mfa_code)

    def refresh_now(self, mfa_code: str | None = None) -> Snapshot:
        return self._call("refresh", mfa_code)

    def provide_mfa_code(self, code: str) -> Snapshot:
        return self._call("mfa", code)

    def clear(self) -> Snapshot:
        return self._call("clear")


@dataclass
class FakeNotifier:
    sent: list[tuple[str, str, str, Any]] = field(default_factory=list)
    supports_actions: bool = True

    def notify(self, title: str, body: str, *, urgency: str = "normal", action: Any = None) -> None:
        self.sent.append((title, body, urgency, action))

    def close(self) -> None:
        pass


@pytest.fixture
def config(isolated_env: Path) -> Path:
    path = isolated_env / ".aws" / "config"
    path.write_text(CONFIG)
    return path


def make(config: Path, **svc: Any) -> tuple[TrayApp, FakeRefresher, FakeNotifier]:
    refresher, notifier = FakeRefresher(), FakeNotifier()
    services = Services(notifier=notifier, **svc)
    app = TrayApp(refresher, log_path=config.parent / "roletray.log", services=services,
                  tz=UTC, now=lambda: NOW, config_path=config)
    return app, refresher, notifier


def fresh(role: str = "platform", **kw: Any) -> Snapshot:
    base: dict[str, Any] = {"state": RefreshState.FRESH, "role": role,
                            "identity_arn": f"arn:aws:sts::123456789012:assumed-role/{role}/s",
                            "account": "123456789012", "expiration": NOW + timedelta(hours=1),
                            "now": NOW}
    base.update(kw)
    return Snapshot(**base)


# ------------------------------------------------------------------------- backend

def test_backend_needs_a_display() -> None:
    with pytest.raises(TrayUnavailableError, match="roletray daemon"):
        select_backend({}, platform="linux")


def test_xorg_backend_is_refused_with_the_install_hint() -> None:
    with pytest.raises(TrayUnavailableError) as e:
        select_backend({"DISPLAY": ":9", "PYSTRAY_BACKEND": "xorg"}, platform="linux")
    assert 'pip install "pygobject<3.51"' in str(e.value) and e.value.exit_code == 2


def test_backend_prefers_appindicator_then_gtk(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gi")
    env: dict[str, str] = {"DISPLAY": ":9"}
    monkeypatch.setattr(tray_app, "_gi_has", lambda ns, v: ns == "Gtk")
    assert select_backend(env, platform="linux") == "gtk" and env["PYSTRAY_BACKEND"] == "gtk"
    monkeypatch.setattr(tray_app, "_gi_has", lambda ns, v: True)
    env = {"DISPLAY": ":9"}
    assert select_backend(env, platform="linux") == "appindicator"
    assert select_backend({"DISPLAY": ":9", "PYSTRAY_BACKEND": "gtk"}, platform="linux") == "gtk"
    assert select_backend({}, platform="darwin") == ""


def test_run_without_pygobject_exits_2_saying_how_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "block" / "gi"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = {**os.environ, "DISPLAY": ":97", "PYTHONPATH": f"{blocker.parent}{os.pathsep}{REPO}"}
    env.pop("PYSTRAY_BACKEND", None)
    res = subprocess.run([sys.executable, "-m", "tray", "run"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1  # one line, no traceback
    assert "PyGObject" in res.stderr and 'pip install "pygobject<3.51"' in res.stderr


# ----------------------------------------------------------------------- snapshots

def test_first_snapshot_is_not_news_but_changes_are(config: Path) -> None:
    app, _, notifier = make(config)
    app.on_snapshot(fresh())
    app.on_snapshot(fresh(state=RefreshState.REFRESHING))
    app.on_snapshot(fresh(state=RefreshState.ERROR,
                          problem=Problem("access_denied", "AccessDenied: no trust")))
    app.drain()
    assert [(t, b, u) for t, b, u, _ in notifier.sent] == [
        ("platform: failed", "AccessDenied: no trust", "critical")]


def test_needs_input_at_start_is_said_with_the_prompt_action(config: Path) -> None:
    app, refresher, notifier = make(config, ask_code=lambda serial, name: "123456")
    refresher.snap = fresh("secure", state=RefreshState.NEEDS_INPUT)
    app.on_snapshot(refresher.snap)
    app.drain()
    (title, _, urgency, action), = notifier.sent
    assert (title, urgency, action[0]) == ("secure: MFA code needed", "critical", "Enter MFA code")
    action[1]()  # the user clicks the notification
    app.drain()
    assert refresher.calls == [("mfa", "123456")]
    assert refresher.threads == ["tray-action_0"]


# ------------------------------------------------------------------------- actions

def test_menu_actions_run_off_the_calling_thread(config: Path) -> None:
    app, refresher, _ = make(config)
    node = next(n for n in app._model(fresh()) if n.radio and n.text == "platform")
    assert node.action is not None
    node.action()
    app.drain()
    assert refresher.calls == [("switch", "platform", None)]
    assert refresher.threads[0].startswith("tray-action")


def test_switch_to_an_mfa_role_asks_first_and_cancel_does_nothing(config: Path) -> None:
    asked: list[tuple[str, str]] = []
    answer: list[str | None] = ["654321"]

    def ask(serial: str, name: str) -> str | None:
        asked.append((serial, name))
        return answer[0]

    app, refresher, _ = make(config, ask_code=ask)
    app._do_switch("secure")
    assert asked == [("arn:aws:iam::123456789012:mfa/dev", "secure")]
    assert refresher.calls == [("switch", "secure", "654321")]
    answer[0] = None
    app._do_switch("secure")
    assert len(refresher.calls) == 1


FINDING = "the trust policy of role 'platform' does not trust you (it trusts 999999999999)"


def test_failed_switch_leads_with_the_finding_and_offers_diagnose(config: Path) -> None:
    opened: list[Path] = []
    diagnosed: list[str | None] = []

    def doctor(role: str | None) -> tuple[str, str]:
        diagnosed.append(role)
        return FINDING, f"full report of {role}"

    app, refresher, notifier = make(config, doctor=doctor, open_path=opened.append)
    refresher.snap = fresh("readonly")
    aws_text = ("profile 'platform': AccessDenied: User: arn:aws:iam::123456789012:user/dev "
                "is not authorized to perform: sts:AssumeRole")
    refresher.fail = AccessDeniedError(aws_text)
    app._do_switch("platform")
    app.drain()
    title, body, urgency, action = notifier.sent[-1]
    assert (title, urgency) == ("Could not switch to platform", "critical")
    assert body.splitlines() == [FINDING, "Role: arn:aws:iam::123456789012:role/platform"]
    assert "not authorized" not in body  # AWS's words are behind "Diagnose"
    assert diagnosed == ["platform"]
    text = render_text(app._model(refresher.snap))
    assert f"⚠ platform: {FINDING}"[:100] in text
    assert "Could not switch" not in text
    assert "Switching to" not in text and "Diagnosing" not in text  # busy lines are gone
    # The button diagnoses the refused role, not the active one.
    assert action[0] == "Diagnose"
    action[1]()
    app.drain()
    assert diagnosed == ["platform", "platform"]
    assert opened and opened[-1].read_text() == "full report of platform\n"
    # A later success clears it.
    app.on_snapshot(fresh())
    assert "⚠" not in render_text(app._model(refresher.snap))


def test_failed_switch_without_a_finding_still_says_why(config: Path) -> None:
    def broken_doctor(role: str | None) -> tuple[str, str]:
        raise RuntimeError("no doctor")

    app, refresher, notifier = make(config, doctor=broken_doctor)
    refresher.snap = fresh("readonly")
    refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: not allowed")
    app._do_switch("platform")
    app.drain()
    assert notifier.sent[-1][1].splitlines() == [
        DENIED_PLAIN, "Role: arn:aws:iam::123456789012:role/platform"]
    # Not a denial: no doctor run, roletray's own sentence is the reason.
    refresher.fail = RoletrayError("profile 'platform': source profile 'default' does not exist")
    app._do_switch("platform")
    app.drain()
    assert notifier.sent[-1][1].splitlines()[0] == refresher.fail.args[0]
    assert "⚠ platform: source profile 'default' does not exist" in render_text(
        app._model(refresher.snap))


def test_refresh_of_mfa_role_asks_and_needs_input_is_left_to_the_snapshot(config: Path) -> None:
    app, refresher, notifier = make(config, ask_code=lambda s, n: "111222")
    refresher.snap = fresh("secure")
    refresher.fail = MfaRequiredError(profile="secure", mfa_serial="arn")
    app._do_refresh()
    app.drain()
    assert refresher.calls == [("refresh", "111222")]
    assert notifier.sent == []


def test_open_config_and_log_hand_the_paths_over(config: Path) -> None:
    opened: list[Path] = []
    app, _, _ = make(config, open_path=opened.append)
    app.actions.open_config()
    app.drain()
    app.actions.open_log()
    app.drain()
    assert opened == [config, config.parent / "roletray.log"]


def test_stop_clears(config: Path) -> None:
    app, refresher, _ = make(config)
    app._do_stop()
    assert refresher.calls == [("clear",)]


def test_diagnose_writes_a_private_report_opens_it_and_notifies(config: Path) -> None:
    opened: list[Path] = []
    app, refresher, notifier = make(
        config, open_path=opened.append,
        doctor=lambda role: (f"AssumeRole of {role} was denied", "full report\nline 2"))
    refresher.snap = fresh()
    app._do_diagnose()
    app.drain()
    (path,) = opened
    assert path.read_text() == "full report\nline 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    title, body, _, _ = notifier.sent[-1]
    assert title == "Diagnosis of platform"
    assert body.startswith("AssumeRole of platform was denied\nFull report: ~/")


def test_copy_falls_back_to_a_notification(config: Path) -> None:
    copied: list[str] = []

    def no_clipboard(text: str) -> str:
        copied.append(text)
        return ""

    app, _, notifier = make(config, copy_text=no_clipboard)
    app._do_copy()
    app.drain()
    assert copied == ["export AWS_PROFILE=roletray"]
    assert notifier.sent[-1][:2] == ("Copy this into your shell", "export AWS_PROFILE=roletray")
    app2, _, notifier2 = make(config, copy_text=lambda t: "xclip")
    app2._do_copy()
    app2.drain()
    assert notifier2.sent == []


def test_autostart_toggles(config: Path) -> None:
    @dataclass
    class Status:
        enabled: bool

    @dataclass
    class Backend:
        on: bool = False

        def status(self) -> Status:
            return Status(self.on)

        def enable(self) -> Status:
            self.on = True
            return Status(True)

        def disable(self) -> Status:
            self.on = False
            return Status(False)

    backend = Backend()
    app, _, _ = make(config, autostart=backend)
    app._autostart = app._autostart_status()
    assert "[ ] Start at login" in render_text(app._model(fresh()))
    app._do_toggle_autostart()
    assert backend.on and "[x] Start at login" in render_text(app._model(fresh()))
    app._do_toggle_autostart()
    assert not backend.on


def test_profiles_are_read_again_only_when_the_file_changes(config: Path) -> None:
    cache = ProfileCache(config)
    profiles, problems = cache.get()
    assert sorted(profiles) == ["platform", "secure"] and problems == 1
    assert cache.get()[0] is profiles  # unchanged file: same object, no parse
    config.write_text(CONFIG + f"\n[profile extra]\nrole_arn = {ARN}extra\nsource_profile = default\n")
    assert "extra" in cache.get()[0]


# ------------------------------------------------------------ MFA sessions and SSO

def test_a_usable_mfa_session_means_no_prompt(config: Path) -> None:
    asked: list[str] = []

    def ask(serial: str, name: str) -> str | None:
        asked.append(name)
        return "654321"

    app, refresher, _ = make(config, ask_code=ask)
    refresher.usable_session = True
    app._do_switch("secure")
    assert asked == [] and refresher.calls == [("switch", "secure", None)]
    refresher.snap = fresh("secure")
    app._do_refresh()
    assert asked == [] and refresher.calls[-1] == ("refresh", None)
    app._do_switch("platform")  # no mfa_serial: the refresher is not even asked
    assert refresher.session_checks == ["secure", "secure"]
    # Without a usable session the same switch asks first.
    refresher.usable_session = False
    app._do_switch("secure")
    assert asked == ["secure"] and refresher.calls[-1] == ("switch", "secure", "654321")


def test_a_session_that_ended_meanwhile_asks_then(config: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    app, refresher, notifier = make(config)
    refresher.usable_session = True
    refresher.fail = MfaRequiredError(profile="secure", mfa_serial="arn:aws:iam::1:mfa/dev")

    def ask(serial: str, name: str) -> str | None:
        refresher.fail = None  # the new code starts a new session
        return "909090"

    app.svc.ask_code = ask
    with caplog.at_level("DEBUG"):
        app._do_switch("secure")
        app.drain()
    assert refresher.calls == [("switch", "secure", None), ("switch", "secure", "909090")]
    assert notifier.sent == []
    assert "909090" not in caplog.text + render_text(app._model(refresher.snap))


SSO_ERROR = "SSO sign-in needed for profile 'sso-dev' (token expired)"
SSO_SNAP = {"state": RefreshState.NEEDS_INPUT,
            "problem": Problem("needs_sso", SSO_ERROR, profile="sso-dev", input_kind="sso")}
SSO_TOKEN = "aoaAAAAAGsecret-access-token"


@dataclass
class FakeSsoLogin:
    refresher: FakeRefresher
    fail: Exception | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refreshes_before: list[int] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    def __call__(self, profile: str, **kwargs: Any) -> Path:
        self.calls.append((profile, kwargs))
        self.refreshes_before.append(len(self.refresher.calls))
        self.threads.append(threading.current_thread().name)
        kwargs["on_code"]("WDJB-MJHT", "https://device.sso.eu-west-3.amazonaws.com/?user_code=WDJB-MJHT")
        if self.fail is not None:
            raise self.fail
        path = Path(os.environ["HOME"]) / ".aws" / "sso" / "cache" / "token.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{{"accessToken": "{SSO_TOKEN}"}}')
        return path


def make_sso(config: Path) -> tuple[TrayApp, FakeRefresher, FakeNotifier, FakeSsoLogin]:
    app, refresher, notifier = make(config)
    login = FakeSsoLogin(refresher)
    app.svc.sso_login = login
    refresher.snap = fresh(**SSO_SNAP)
    return app, refresher, notifier, login


def test_sso_menu_item_signs_in_then_refreshes(config: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    app, refresher, notifier, login = make_sso(config)
    node = next(n for n in app._model(refresher.snap) if n.text == "Sign in to AWS SSO…")
    assert node.action is not None
    with caplog.at_level("DEBUG"):
        node.action()  # on the GUI thread: hands the blocking sign-in to the worker
        app.drain()
    (profile, kwargs), = login.calls
    assert profile == "sso-dev" and kwargs["config_path"] == config
    assert login.threads[0].startswith("tray-action")
    assert login.refreshes_before == [0]  # signed in first...
    assert refresher.calls == [("refresh", None)]  # ...then refreshed at once
    assert refresher.threads == login.threads
    assert [s[:2] for s in notifier.sent] == [
        ("AWS SSO sign-in for sso-dev", "Confirm code WDJB-MJHT in your browser")]
    shown = caplog.text + repr(notifier.sent) + render_text(app._model(refresher.snap))
    assert SSO_TOKEN not in shown
    assert "Signing in" not in render_text(app._model(refresher.snap))  # busy line gone


def test_sso_notification_button_runs_the_same_sign_in(config: Path) -> None:
    app, refresher, notifier, login = make_sso(config)
    app.on_snapshot(fresh())
    app.on_snapshot(refresher.snap)
    app.drain()
    (title, body, urgency, action), = notifier.sent
    assert (title, urgency, action[0]) == ("platform: SSO sign-in needed", "critical", "Sign in")
    assert body == SSO_ERROR
    action[1]()  # clicked, in the notifier's thread
    app.drain()
    assert [c[0] for c in login.calls] == ["sso-dev"] and refresher.calls == [("refresh", None)]


def test_sso_sign_in_failure_is_notified_and_nothing_refreshed(config: Path) -> None:
    from tray.domain.errors import AwsError

    app, refresher, notifier, login = make_sso(config)
    login.fail = AwsError("`aws sso login --profile sso-dev` failed (exit 255)")
    app._do_sso_login()
    app.drain()
    assert refresher.calls == []
    assert notifier.sent[-1][:3] == ("AWS SSO sign-in failed",
                                     "`aws sso login --profile sso-dev` failed (exit 255)",
                                     "critical")
    # A refresh still refused after the sign-in is said too (the state may not change).
    login.fail = None
    refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: not allowed")
    app._do_sso_login()
    app.drain()
    assert refresher.calls == [("refresh", None)]
    assert notifier.sent[-1][:3] == ("platform: refresh after the SSO sign-in failed",
                                     "profile 'platform': AccessDenied: not allowed", "critical")


def test_sso_sign_in_is_skipped_once_no_longer_needed(config: Path) -> None:
    app, refresher, _, login = make_sso(config)
    refresher.snap = fresh()  # signed in meanwhile (a second click, or `aws sso login`)
    app._do_sso_login()
    assert login.calls == [] and refresher.calls == []


def test_try_again_after_a_credential_process_refreshes_without_a_prompt(config: Path) -> None:
    asked: list[str] = []
    app, refresher, _ = make(config, ask_code=lambda s, n: asked.append(n) or "123456")
    refresher.snap = fresh("secure", state=RefreshState.NEEDS_INPUT,
                           problem=Problem("process_timeout", "did not answer",
                                           profile="waits", input_kind="process"))
    node = next(n for n in app._model(refresher.snap) if n.text == "Try again")
    assert node.action is not None
    node.action()
    app.drain()
    assert refresher.calls == [("refresh", None)] and asked == []
    assert refresher.threads[0].startswith("tray-action")
