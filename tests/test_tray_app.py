"""The tray presenter without a display, through its public API: backend choice,
menu actions, notifications, and events handed to the GUI thread.

The icon itself is tested for real in tests/test_desktop.py; here TrayApp runs
with no pystray icon (``render`` is then a no-op), fake collaborators, and a fake
GUI loop (``FakeGui``) in place of ``GLib.idle_add``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tray.domain.errors import AccessDeniedError, MfaRequiredError
from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import Problem
from tray.engine.roles import ProfileCache
from tray.ui import backend as ui_backend
from tray.ui.backend import TrayBackend, TrayUnavailableError, select_backend
from tray.ui.menu import MenuNode
from tray.ui.tray_app import Services, TrayApp

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

    def snapshot(self, target: str | None = None) -> Snapshot:
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

    def refresh_now(self, mfa_code: str | None = None, *, target: str | None = None
                    ) -> Snapshot:
        return self._call("refresh", mfa_code, *([target] if target else []))

    def provide_mfa_code(self, code: str, *, target: str | None = None) -> Snapshot:
        return self._call("mfa", code, *([target] if target else []))

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


class FakeGui:
    """``GLib.idle_add`` for tests: calls queue up until ``run()``, on the test's thread."""

    def __init__(self) -> None:
        self.queue: list[Any] = []
        self.lock = threading.Condition()
        self.ran_on: set[str] = set()

    def call_soon(self, fn: Any) -> None:
        with self.lock:
            self.queue.append(fn)
            self.lock.notify_all()

    def wait_queued(self, timeout: float = 10) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: bool(self.queue), timeout), "nothing queued"

    def run(self) -> int:
        ran = 0
        while True:
            with self.lock:
                if not self.queue:
                    return ran
                fn = self.queue.pop(0)
            self.ran_on.add(threading.current_thread().name)
            fn()
            ran += 1


@dataclass
class Tray:
    app: TrayApp
    refresher: FakeRefresher
    notifier: FakeNotifier
    gui: FakeGui

    def settle(self) -> None:
        """Run workers and the GUI loop until neither has anything left."""
        while True:
            self.app.drain()
            if not self.gui.run():
                self.app.drain()
                if not self.gui.queue:
                    return

    def menu_text(self) -> str:
        self.settle()
        return self.app.menu_text()

    def item(self, text: str) -> MenuNode:
        def walk(nodes: list[MenuNode] | tuple[MenuNode, ...]) -> MenuNode | None:
            for n in nodes:
                if n.text == text:
                    return n
                found = walk(n.children)
                if found is not None:
                    return found
            return None
        node = walk(self.app.menu())
        assert node is not None and node.action is not None, self.app.menu_text()
        return node

    def click(self, text: str) -> None:
        """Choose a menu entry as a person does (on the GUI thread), and let it finish."""
        self.item(text).action()  # type: ignore[misc]
        self.settle()


@pytest.fixture
def config(isolated_env: Path) -> Path:
    path = isolated_env / ".aws" / "config"
    path.write_text(CONFIG)
    return path


def make(config: Path, **svc: Any) -> Tray:
    refresher, notifier, gui = FakeRefresher(), FakeNotifier(), FakeGui()
    services = Services(**{"notifier": notifier, **svc}, call_soon=gui.call_soon)
    app = TrayApp(refresher, log_path=config.parent / "roletray.log", services=services,
                  tz=UTC, now=lambda: NOW, config_path=config, env=os.environ)
    return Tray(app, refresher, notifier, gui)


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


def test_backend_prefers_appindicator_then_gtk_and_leaves_the_env_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gi")
    env: dict[str, str] = {"DISPLAY": ":9"}
    monkeypatch.setattr(ui_backend, "_gi_has", lambda ns, v: ns == "Gtk")
    assert select_backend(env, platform="linux") == TrayBackend(
        "gtk", {"GDK_GL": "disable", "PYSTRAY_BACKEND": "gtk"})
    assert env == {"DISPLAY": ":9"}  # a value, not a change to the environment
    monkeypatch.setattr(ui_backend, "_gi_has", lambda ns, v: True)
    assert select_backend(env, platform="linux").name == "appindicator"
    chosen = select_backend({"DISPLAY": ":9", "PYSTRAY_BACKEND": "gtk", "GDK_GL": "x"},
                            platform="linux")
    assert chosen == TrayBackend("gtk", {})
    assert select_backend({}, platform="darwin") == TrayBackend("")


def test_choosing_the_backend_does_not_start_gdk_before_gdk_gl_is_set() -> None:
    """Importing Gtk initialises GDK, which reads GDK_GL then: the choice must only look
    for the typelibs, or GDK's GLX probe maps Mesa and LLVM (~55 MiB) into the tray."""
    pytest.importorskip("gi")
    code = ("import sys; from tray.ui.backend import select_backend; "
            "b = select_backend({'DISPLAY': ':9'}, platform='linux'); "
            "print(b.name, sorted(m for m in sys.modules if m.startswith('gi.repository.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    name, loaded = out.stdout.split(" ", 1)
    assert name in ("appindicator", "gtk")
    for namespace in ("Gtk", "Gdk", "AyatanaAppIndicator3", "AppIndicator3"):
        assert f"'gi.repository.{namespace}'" not in loaded, loaded


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
    t = make(config)
    t.app.on_snapshot(fresh())
    t.app.on_snapshot(fresh(state=RefreshState.REFRESHING))
    t.app.on_snapshot(fresh(state=RefreshState.ERROR,
                            problem=Problem("access_denied", "AccessDenied: no trust")))
    t.settle()
    # The keys still work for an hour: refused, with until when, not "failed".
    assert [(ti, b, u) for ti, b, u, _ in t.notifier.sent] == [
        ("platform: refresh refused",
         "AccessDenied: no trust; keys work until 13:00 UTC.", "normal")]


def test_core_events_reach_the_presenter_only_on_the_gui_thread(config: Path) -> None:
    t = make(config)
    worker = threading.Thread(target=t.app.on_snapshot, name="refresher-worker",
                              args=(fresh(state=RefreshState.ERROR, problem=Problem("aws", "boom")),))
    worker.start()
    worker.join()
    t.app.drain()
    assert t.notifier.sent == [] and len(t.gui.queue) == 1  # queued, not handled there
    t.settle()
    assert t.gui.ran_on == {threading.current_thread().name}
    assert [n[0] for n in t.notifier.sent] == ["platform: refresh refused"]


def test_needs_input_at_start_is_said_with_the_prompt_action(config: Path) -> None:
    t = make(config, ask_code=lambda serial, name, target=None: "123456")
    t.refresher.snap = fresh("secure", state=RefreshState.NEEDS_INPUT)
    t.app.on_snapshot(t.refresher.snap)
    t.settle()
    (title, _, urgency, action), = t.notifier.sent
    assert (title, urgency, action[0]) == ("secure: MFA code needed", "critical", "Enter MFA code")
    action[1]()  # the user clicks the notification
    t.settle()
    assert t.refresher.calls == [("mfa", "123456")]
    assert t.refresher.threads == ["tray-action_0"]


def test_keys_removed_is_not_called_roletray_stopped(config: Path) -> None:
    t = make(config)
    t.app.on_snapshot(fresh())
    t.click("Stop (remove keys)")
    assert t.refresher.calls == [("clear",)]
    t.app.on_snapshot(Snapshot(now=NOW))  # what the refresher publishes after clear()
    t.settle()
    (title, body, _, _), = t.notifier.sent
    assert title == "Keys removed" and "roletray stopped" not in title
    assert body == "The keys of platform were removed from [roletray]."


# ------------------------------------------------------------------------- actions

def test_menu_actions_run_off_the_gui_thread(config: Path) -> None:
    t = make(config)
    t.click("platform")
    assert t.refresher.calls == [("switch", "platform", None)]
    assert t.refresher.threads[0].startswith("tray-action")


def test_switch_to_an_mfa_role_asks_first_and_cancel_does_nothing(config: Path) -> None:
    asked: list[tuple[str, str]] = []
    answer: list[str | None] = ["654321"]

    def ask(serial: str, name: str, target: str | None = None) -> str | None:
        asked.append((serial, name))
        return answer[0]

    t = make(config, ask_code=ask)
    t.app.actions.switch("secure")
    t.settle()
    assert asked == [("arn:aws:iam::123456789012:mfa/dev", "secure")]
    assert t.refresher.calls == [("switch", "secure", "654321")]
    answer[0] = None
    t.app.actions.switch("secure")
    t.settle()
    assert len(t.refresher.calls) == 1


FINDING = "the trust policy of role 'platform' does not trust you (it trusts 999999999999)"


def test_failed_switch_leads_with_the_finding_and_offers_diagnose(config: Path) -> None:
    diagnosed: list[str | None] = []
    opened: list[Path] = []

    def doctor(role: str | None) -> tuple[str, str]:
        diagnosed.append(role)
        return FINDING, f"full report of {role}"

    t = make(config, doctor=doctor, open_path=opened.append)
    t.refresher.snap = fresh("readonly")
    aws_text = ("profile 'platform': AccessDenied: User: arn:aws:iam::123456789012:user/dev "
                "is not authorized to perform: sts:AssumeRole")
    t.refresher.fail = AccessDeniedError(aws_text)
    t.app.actions.switch("platform")
    t.settle()
    title, body, urgency, action = t.notifier.sent[-1]
    assert (title, urgency) == ("Could not switch to platform", "critical")
    assert body.splitlines() == [FINDING, "Role: arn:aws:iam::123456789012:role/platform"]
    assert "not authorized" not in body  # AWS's words are behind "Diagnose"
    assert diagnosed == ["platform"]
    assert f"⚠ platform: {FINDING}"[:60] in t.menu_text()
    assert "Switching to" not in t.menu_text()  # the busy line is gone again
    assert action is not None and action[0] == "Diagnose"
    action[1]()  # the button diagnoses the refused role, not the active one
    t.settle()
    assert diagnosed == ["platform", "platform"]
    assert opened and opened[-1].read_text() == "full report of platform\n"


def test_the_reason_of_a_failed_switch_stays_until_switch_refresh_or_dismiss(
        config: Path) -> None:
    """Issue 15, bug 3: a FRESH snapshot from the periodic tick used to clear it."""
    t = make(config, doctor=lambda role: (FINDING, "report"))
    t.refresher.snap = fresh("readonly")
    t.app.on_snapshot(t.refresher.snap)
    t.refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: no")

    def fail_switch() -> None:
        t.app.actions.switch("platform")
        t.settle()
        assert f"⚠ platform: {FINDING}"[:60] in t.menu_text()

    fail_switch()
    for minutes in (1, 2, 5):  # the tick: same keys, later
        t.app.on_snapshot(replace(t.refresher.snap, now=NOW + timedelta(minutes=minutes)))
        assert f"⚠ platform: {FINDING}"[:60] in t.menu_text()
    assert "Dismiss this message" in t.menu_text()
    t.click("Dismiss this message")
    assert "⚠" not in t.menu_text() and "Dismiss" not in t.menu_text()

    fail_switch()
    t.refresher.fail = None
    t.click("Refresh now")
    assert "⚠" not in t.menu_text()

    t.refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: no")
    fail_switch()
    # The scheduler refreshed the keys by itself: new keys, the failure is history.
    t.app.on_snapshot(fresh("readonly", expiration=NOW + timedelta(hours=2)))
    assert "⚠" not in t.menu_text()


@dataclass
class FakeIcon:
    """What ``render`` hands to pystray's icon: each assignment is a redraw."""
    sets: list[str] = field(default_factory=list)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "sets":
            self.sets.append(name)
        object.__setattr__(self, name, value)


def test_an_idle_tray_redraws_only_what_changed(config: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The menu is rebuilt only when its content changes (not each minute for "in N
    min"), the tooltip only with the keys (a clock time), and the icon image only when
    the badge's value changes: every 5 minutes, each minute in the last 15."""
    from tray.ui import tray_app

    monkeypatch.setattr(tray_app, "to_pystray", tuple)  # no display here: the model itself
    t = make(config)
    icon = FakeIcon()
    t.app._icon = icon
    t.refresher.snap = fresh(expiration=NOW + timedelta(minutes=50, seconds=59))
    t.app.render()
    assert sorted(icon.sets) == ["icon", "menu", "title"]
    redrawn = []
    for seconds in range(30, 50 * 60 + 59, 30):  # an idle half hour and more, looked at often
        icon.sets.clear()
        t.refresher.snap = replace(t.refresher.snap, now=NOW + timedelta(seconds=seconds))
        t.app.render()
        assert icon.sets in ([], ["icon"])
        if icon.sets:
            redrawn.append(t.app._shown[1])
    assert redrawn == [45, 40, 35, 30, 25, 20, 15, *range(14, 0, -1)]
    icon.sets.clear()
    t.refresher.snap = replace(t.refresher.snap, role="readonly")
    t.app.render()
    assert "menu" in icon.sets


@pytest.mark.parametrize(("left", "delay"), [
    (50 * 60 + 10, 10.5), (50 * 60, 5.0), (50 * 60 + 2, 5.0),
    (54 * 60 + 10, 250.5),  # the badge shows 50 until 49 minutes are left: 45
    (50 * 60 + 59.8, 60.3), (15 * 60 + 40, 40.5), (14 * 60 + 40, 40.5), (30, 30.5),
    (61 * 60, 60.5), (3 * 3600, 300.0), (-5, 300.0), (None, 300.0)])
def test_the_tick_wakes_just_after_the_badge_changes(left: float | None, delay: float) -> None:
    from tray.ui.tray_app import next_tick

    exp = None if left is None else NOW + timedelta(seconds=left)
    assert next_tick(fresh(expiration=exp), NOW) == pytest.approx(delay)


def test_the_busy_line_shows_while_a_switch_runs(config: Path) -> None:
    t = make(config)
    seen: list[str] = []
    gate = threading.Event()
    original = t.refresher.switch

    def slow(profile: str, mfa_code: str | None = None) -> Snapshot:
        gate.wait(10)
        return original(profile, mfa_code)

    t.refresher.switch = slow  # type: ignore[method-assign]
    t.app.actions.switch("platform")
    t.gui.wait_queued()  # the worker hands "Switching to platform…" to the GUI thread
    t.gui.run()
    seen.append(t.app.menu_text())
    gate.set()
    t.settle()
    assert seen[0].splitlines()[0] == "Switching to platform… [disabled]"
    assert "Switching" not in t.app.menu_text()


def test_refresh_of_mfa_role_asks_and_needs_input_is_left_to_the_snapshot(config: Path) -> None:
    t = make(config, ask_code=lambda s, n, target=None: "111222")
    t.refresher.snap = fresh("secure")
    t.refresher.fail = MfaRequiredError(profile="secure", mfa_serial="arn")
    t.app.actions.refresh()
    t.settle()
    assert t.refresher.calls == [("refresh", "111222")]
    assert t.notifier.sent == []


def test_open_config_and_log_hand_the_paths_over(config: Path) -> None:
    opened: list[Path] = []
    t = make(config, open_path=opened.append)
    t.app.actions.open_config()
    t.settle()
    t.app.actions.open_log()
    t.settle()
    assert opened == [config, config.parent / "roletray.log"]


def test_diagnose_writes_a_private_report_opens_it_and_notifies(config: Path) -> None:
    opened: list[Path] = []
    t = make(config, open_path=opened.append,
             doctor=lambda role: (f"AssumeRole of {role} was denied", "full report\nline 2"))
    t.refresher.snap = fresh()
    t.app.actions.diagnose()
    t.settle()
    (path,) = opened
    assert path.read_text() == "full report\nline 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    title, body, _, _ = t.notifier.sent[-1]
    assert title == "Diagnosis of platform"
    assert body.startswith("AssumeRole of platform was denied\nFull report: ~/")
    assert "Diagnosing" not in t.menu_text()


def test_copy_falls_back_to_a_notification(config: Path) -> None:
    copied: list[str] = []

    def no_clipboard(text: str) -> str:
        copied.append(text)
        return ""

    t = make(config, copy_text=no_clipboard)
    t.app.actions.copy_export()
    t.settle()
    assert copied == ["export AWS_PROFILE=roletray"]
    assert t.notifier.sent[-1][:2] == ("Copy this into your shell", "export AWS_PROFILE=roletray")
    t2 = make(config, copy_text=lambda text: "xclip")
    t2.app.actions.copy_export()
    t2.settle()
    assert t2.notifier.sent == []


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
    t = make(config, autostart=backend)
    t.app.prepare()
    assert "[ ] Start at login" in t.menu_text()
    t.click("Start at login")
    assert backend.on and "[x] Start at login" in t.menu_text()
    t.click("Start at login")
    assert not backend.on


def test_profiles_are_read_again_only_when_the_file_changes(config: Path) -> None:
    cache = ProfileCache(config, config.parent / "credentials")
    profiles, problems = cache.get()
    assert sorted(profiles) == ["platform", "secure"] and problems == 1
    assert cache.get()[0] is profiles  # unchanged file: same object, no parse
    config.write_text(CONFIG + f"\n[profile extra]\nrole_arn = {ARN}extra\nsource_profile = default\n")
    assert "extra" in cache.get()[0]


def test_a_signal_stops_the_tray_without_claiming_a_menu_quit(
        config: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    t = make(config)
    with caplog.at_level("INFO"):
        t.app.stop_on_signal(signal.SIGTERM)
        t.app.stop_on_signal(signal.SIGINT)  # a second signal while stopping: said once
    assert "stopping on SIGTERM" in caplog.text
    assert "quit from the tray menu" not in caplog.text and "SIGINT" not in caplog.text
    assert capsys.readouterr().err == "roletray: stopping on SIGTERM\n"
    caplog.clear()
    with caplog.at_level("INFO"):
        make(config).app.quit()
    assert "quit from the tray menu" in caplog.text


# ------------------------------------------------------------ MFA sessions and SSO

def test_a_usable_mfa_session_means_no_prompt(config: Path) -> None:
    asked: list[str] = []

    def ask(serial: str, name: str, target: str | None = None) -> str | None:
        asked.append(name)
        return "654321"

    t = make(config, ask_code=ask)
    t.refresher.usable_session = True
    t.app.actions.switch("secure")
    t.settle()
    assert asked == [] and t.refresher.calls == [("switch", "secure", None)]
    t.refresher.snap = fresh("secure")
    t.app.actions.refresh()
    t.settle()
    assert asked == [] and t.refresher.calls[-1] == ("refresh", None)
    t.app.actions.switch("platform")  # no mfa_serial: the refresher is not even asked
    t.settle()
    assert t.refresher.session_checks == ["secure", "secure"]
    # Without a usable session the same switch asks first.
    t.refresher.usable_session = False
    t.app.actions.switch("secure")
    t.settle()
    assert asked == ["secure"] and t.refresher.calls[-1] == ("switch", "secure", "654321")


def test_a_session_that_ended_meanwhile_asks_then(config: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    holder: list[FakeRefresher] = []

    def ask(serial: str, name: str, target: str | None = None) -> str | None:
        holder[0].fail = None  # the new code starts a new session
        return "909090"

    t = make(config, ask_code=ask)
    holder.append(t.refresher)
    t.refresher.usable_session = True
    t.refresher.fail = MfaRequiredError(profile="secure", mfa_serial="arn:aws:iam::1:mfa/dev")
    with caplog.at_level("DEBUG"):
        t.app.actions.switch("secure")
        t.settle()
    assert t.refresher.calls == [("switch", "secure", None), ("switch", "secure", "909090")]
    assert t.notifier.sent == []
    assert "909090" not in caplog.text + t.menu_text()


SSO_ERROR = "SSO sign-in needed for profile 'sso-dev' (token expired)"
SSO_SNAP = {"state": RefreshState.NEEDS_INPUT,
            "problem": Problem("needs_sso", SSO_ERROR, profile="sso-dev", input_kind="sso")}
SSO_TOKEN = "aoaAAAAAGsecret-access-token"


@dataclass
class FakeSsoLogin:
    refresher: FakeRefresher | None = None
    fail: Exception | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refreshes_before: list[int] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    def __call__(self, profile: str, **kwargs: Any) -> Path:
        assert self.refresher is not None
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


def make_sso(config: Path) -> tuple[Tray, FakeSsoLogin]:
    login = FakeSsoLogin()
    t = make(config, sso_login=login)
    login.refresher = t.refresher
    t.refresher.snap = fresh(**SSO_SNAP)
    return t, login


def test_sso_menu_item_signs_in_then_refreshes(config: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    t, login = make_sso(config)
    with caplog.at_level("DEBUG"):
        t.click("Sign in to AWS SSO…")  # on the GUI thread: hands the sign-in to the worker
    (profile, kwargs), = login.calls
    assert profile == "sso-dev" and kwargs["config_path"] == config
    assert kwargs["env"] == dict(os.environ)  # the environment the tray was started with
    assert login.threads[0].startswith("tray-action")
    assert login.refreshes_before == [0]  # signed in first...
    assert t.refresher.calls == [("refresh", None)]  # ...then refreshed at once
    assert t.refresher.threads == login.threads
    assert [s[:2] for s in t.notifier.sent] == [
        ("AWS SSO sign-in for sso-dev", "Confirm code WDJB-MJHT in your browser")]
    shown = caplog.text + repr(t.notifier.sent) + t.menu_text()
    assert SSO_TOKEN not in shown
    assert "Signing in" not in t.menu_text()  # busy line gone


def test_sso_notification_button_runs_the_same_sign_in(config: Path) -> None:
    t, login = make_sso(config)
    t.app.on_snapshot(fresh())
    t.app.on_snapshot(t.refresher.snap)
    t.settle()
    (title, body, urgency, action), = t.notifier.sent
    assert (title, urgency, action[0]) == ("platform: SSO sign-in needed", "critical", "Sign in")
    assert body == SSO_ERROR
    action[1]()  # clicked, in the notifier's thread
    t.settle()
    assert [c[0] for c in login.calls] == ["sso-dev"] and t.refresher.calls == [("refresh", None)]


def test_sso_sign_in_failure_is_notified_and_nothing_refreshed(config: Path) -> None:
    from tray.domain.errors import AwsError

    t, login = make_sso(config)
    login.fail = AwsError("`aws sso login --profile sso-dev` failed (exit 255)")
    t.app.actions.sso_login()
    t.settle()
    assert t.refresher.calls == []
    assert t.notifier.sent[-1][:3] == ("AWS SSO sign-in failed",
                                       "`aws sso login --profile sso-dev` failed (exit 255)",
                                       "critical")
    # A refresh still refused after the sign-in is said too (the state may not change).
    login.fail = None
    t.refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: not allowed")
    t.app.actions.sso_login()
    t.settle()
    assert t.refresher.calls == [("refresh", None)]
    assert t.notifier.sent[-1][:3] == ("platform: refresh after the SSO sign-in failed",
                                       "profile 'platform': AccessDenied: not allowed", "critical")


def test_sso_sign_in_is_skipped_once_no_longer_needed(config: Path) -> None:
    t, login = make_sso(config)
    t.refresher.snap = fresh()  # signed in meanwhile (a second click, or `aws sso login`)
    t.app.actions.sso_login()
    t.settle()
    assert login.calls == [] and t.refresher.calls == []


def test_try_again_after_a_credential_process_refreshes_without_a_prompt(config: Path) -> None:
    asked: list[str] = []
    t = make(config, ask_code=lambda s, n, target=None: asked.append(n) or "123456")
    t.refresher.snap = fresh("secure", state=RefreshState.NEEDS_INPUT,
                             problem=Problem("process_timeout", "did not answer",
                                             profile="waits", input_kind="process"))
    t.click("Try again")
    assert t.refresher.calls == [("refresh", None)] and asked == []
    assert t.refresher.threads[0].startswith("tray-action")


def test_diagnose_in_the_menu_after_a_refused_switch_diagnoses_that_role(config: Path) -> None:
    """Issue 24: "Diagnose…" diagnosed the active role (readonly), not the refused one."""
    diagnosed: list[str | None] = []

    def doctor(role: str | None) -> tuple[str, str]:
        diagnosed.append(role)
        return FINDING, f"full report of {role}"

    t = make(config, doctor=doctor, open_path=lambda path: None)
    t.refresher.snap = fresh("readonly")
    t.refresher.fail = AccessDeniedError("profile 'platform': AccessDenied: denied")
    t.app.actions.switch("platform")
    t.settle()
    diagnosed.clear()
    t.click("Diagnose…")
    assert diagnosed == ["platform"]
    assert t.notifier.sent[-1][0] == "Diagnosis of platform"
    t.click("Dismiss this message")
    t.click("Diagnose…")
    assert diagnosed == ["platform", "readonly"]  # the refusal dismissed: the active role


def test_the_tick_times_its_first_wait_from_the_state_and_again_on_a_new_one(
        config: Path) -> None:
    """Issue 24: the tick first waited its longest (300 s), and a new state did not time
    it again: the badge of a 15-minute session stayed frozen for 5 minutes."""
    waits: list[float] = []
    waited = threading.Event()
    go_on = threading.Semaphore(0)

    class Recording(TrayApp):
        def _tick_wait(self, delay: float) -> bool:
            waits.append(delay)
            waited.set()
            go_on.acquire()
            return super()._tick_wait(0)

    refresher, notifier, gui = FakeRefresher(), FakeNotifier(), FakeGui()
    app = Recording(refresher, log_path=config.parent / "roletray.log",
                    services=Services(notifier=notifier, call_soon=gui.call_soon), tz=UTC,
                    now=lambda: NOW, config_path=config, env=os.environ)
    refresher.snap = fresh(expiration=NOW + timedelta(minutes=14, seconds=30))
    ticker = threading.Thread(target=app._tick_loop, daemon=True)
    ticker.start()
    assert waited.wait(10)
    assert waits == [30.5]  # 14 min 30 s left: the badge turns 13 at 13:59.5 left
    waited.clear()
    refresher.snap = fresh(expiration=NOW + timedelta(minutes=9, seconds=50))
    app.on_snapshot(refresher.snap)  # a new state: timed again
    go_on.release()
    assert waited.wait(10)
    assert waits[-1] == 50.5
    app._stop.set()
    go_on.release()
    ticker.join(10)
    assert not ticker.is_alive()


def _waiting_for_aws_login() -> Snapshot:
    from tray.domain.problems import Problem

    return fresh(state=RefreshState.NEEDS_INPUT, problem=Problem(
        "needs_signin", "the aws login sign-in of profile 'dev' has ended (TOKEN_EXPIRED); "
        "sign in again with `aws login --profile dev`", profile="dev", input_kind="signin"))


def test_an_ended_aws_login_is_signed_in_again_from_the_menu(
        config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes import fake_program

    ran = tmp_path / "ran"
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "aws", f'case "$1" in --version) echo "aws-cli/2.32.3";; '
                                 f'*) echo "$@" >> {ran};; esac\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    t = make(config)
    t.refresher.snap = _waiting_for_aws_login()
    t.app.on_snapshot(t.refresher.snap)
    assert "Sign-in needed (aws login)" in t.menu_text()
    t.click("Sign in with aws login…")
    assert ran.read_text() == "login --profile dev\n"  # names only: no secret in argv


def test_without_aws_cli_2_32_the_menu_says_what_to_run(
        config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no aws at all
    t = make(config)
    t.refresher.snap = _waiting_for_aws_login()
    t.app.on_snapshot(t.refresher.snap)
    t.settle()
    t.click("Sign in with aws login…")
    said = ("Run `aws login --profile dev` in a terminal (AWS CLI 2.32 or later)")
    assert ("aws login sign-in needed", said, "critical", None) in t.notifier.sent


class NoDaemon:
    """A notifier whose service is not there (FreedesktopNotifier with no daemon)."""

    supports_actions = False
    up = False

    def notify(self, title: str, body: str, **kw: Any) -> None:
        if not self.up:
            raise ConnectionError("org.freedesktop.Notifications: no owner")

    def close(self) -> None:
        pass


def test_a_notification_nobody_saw_is_the_menus_top_line(config: Path) -> None:
    """Issue 24: with no notification daemon, "Diagnose…" gave no feedback at all."""
    from tray.platform.notify import FallbackNotifier, LogNotifier

    daemon = NoDaemon()
    fallback = FallbackNotifier([daemon, LogNotifier()])
    t = make(config, notifier=fallback, open_path=lambda path: None,
             doctor=lambda role: (f"the trust policy of role '{role}' does not trust you",
                                  "full report"))
    fallback.on_unseen = t.app.unseen
    t.refresher.snap = fresh()
    t.app.actions.diagnose()
    assert t.menu_text().splitlines()[0] == (
        "✉ Diagnosis of platform: the trust policy of role 'platform' does not trust you "
        "[disabled]")
    daemon.up = True  # one gets through: the line goes
    t.app.actions.copy_export()
    assert "✉" not in t.menu_text()
