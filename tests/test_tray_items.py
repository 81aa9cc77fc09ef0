"""The tray's per-role items: "Open console as NAME" (the keys the refresher keeps, the
federation endpoint, the browser) and "Copy credential_process line for NAME"."""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from test_console import TOKEN, FakeFederation, forwarded_url
from test_tray_app import CONFIG, NOW, FakeRefresher, Tray, fresh, make

from tray.aws import federation
from tray.domain.models import Snapshot, TempCredentials
from tray.ui.tray_app import process_profile

KEYS = TempCredentials("ASIAKEPTKEYS", "kept-secret-key", "kept-session-token",
                       NOW + timedelta(minutes=40))


@pytest.fixture
def config(isolated_env: Path) -> Path:
    path = isolated_env / ".aws" / "config"
    path.write_text(CONFIG)
    return path


@dataclass
class KeepingRefresher(FakeRefresher):
    """Keeps ``platform`` in [roletray] and ``secure`` in [second], with keys in memory."""

    held: dict[str, TempCredentials] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def held_keys(self, profile: str) -> TempCredentials | None:
        self.asked.append(profile)
        return self.held.get(profile)

    def snapshots(self) -> list[Snapshot]:
        return [self.snap, fresh("secure", target="second")]


def keeping(config: Path, **svc: object) -> tuple[Tray, list[str]]:
    opened: list[str] = []
    t = make(config, open_url=opened.append, **svc)
    refresher = KeepingRefresher(snap=fresh(), held={"platform": KEYS})
    t.app.attach(refresher)
    t.refresher = refresher
    return t, opened


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeFederation() as fake:
        monkeypatch.setenv(federation.ENDPOINT_ENV, fake.endpoint)
        yield fake


def test_open_console_signs_in_with_the_kept_keys_and_hands_the_url_to_the_browser_only(
        config: Path, fed: FakeFederation, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    t, opened = keeping(config)
    t.click("Open console as platform")
    [uri] = opened
    url = forwarded_url(uri)
    assert t.refresher.asked == ["platform"]  # type: ignore[attr-defined]
    [sent] = fed.queries
    assert json.loads(sent["Session"]) == {"sessionId": "ASIAKEPTKEYS",
                                           "sessionKey": "kept-secret-key",
                                           "sessionToken": "kept-session-token"}
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert params["SigninToken"] == TOKEN
    assert params["Destination"] == "https://console.aws.amazon.com/console/home?region=eu-west-3"
    assert t.notifier.sent == []  # nothing to say when it worked; never the URL
    for secret in (TOKEN, "kept-secret-key", "kept-session-token"):
        assert secret not in caplog.text


def test_open_console_for_a_kept_section_uses_that_roles_keys(config: Path,
                                                              fed: FakeFederation) -> None:
    t, opened = keeping(config)
    t.refresher.held["secure"] = TempCredentials(  # type: ignore[attr-defined]
        "ASIASECOND", "second-secret", "second-token", NOW + timedelta(minutes=40))
    t.click("Open console as secure")
    assert len(opened) == 1
    assert json.loads(fed.queries[0]["Session"])["sessionId"] == "ASIASECOND"


def test_open_console_without_working_keys_says_so_and_calls_nobody(
        config: Path, fed: FakeFederation) -> None:
    t, opened = keeping(config)
    t.refresher.held.clear()  # type: ignore[attr-defined]
    t.click("Open console as platform")
    assert opened == [] and fed.queries == []
    [(title, body, _urgency, _action)] = t.notifier.sent
    assert title == "Could not open the console as platform"
    assert "no working keys" in body and "\n" not in body


def test_an_unreachable_federation_endpoint_is_one_line_without_secrets(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeFederation() as gone:
        endpoint = gone.endpoint
    monkeypatch.setenv(federation.ENDPOINT_ENV, endpoint)
    t, opened = keeping(config)
    t.click("Open console as platform")
    assert opened == []
    [(title, body, _urgency, _action)] = t.notifier.sent
    assert title == "Could not open the console as platform"
    assert "could not be reached" in body and "\n" not in body
    assert "kept-secret-key" not in body and "ASIAKEPTKEYS" not in body


def test_no_browser_is_one_notification(config: Path, fed: FakeFederation) -> None:
    def no_browser(url: str) -> None:
        raise FileNotFoundError("xdg-open is not installed")

    t, _ = keeping(config)
    t.app.svc.open_url = no_browser
    t.click("Open console as platform")
    [(title, body, _urgency, _action)] = t.notifier.sent
    assert title == "Could not open the console as platform"
    assert "no web browser could be started" in body and "?" not in body


def test_copy_credential_process_line_copies_the_profile_and_says_what(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # This installation's folder on PATH, as in an activated venv (and CI): the line then
    # says `roletray`, not the absolute path it says for a desktop without that folder.
    from tray.platform.autostart import launch_command

    folder = os.path.dirname(launch_command()[0])
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    copied: list[str] = []

    def clipboard(text: str) -> str:
        copied.append(text)
        return "gtk"

    t, _ = keeping(config, copy_text=clipboard)
    t.click("Copy credential_process line for secure")
    assert copied == [("[profile secure-live]\n"
                       "credential_process = roletray credential-process secure")]
    [(title, body, urgency, _action)] = t.notifier.sent
    assert title == "Copied a credential_process profile for secure"
    assert body == "Paste it into ~/.aws/config:\n" + copied[0] and urgency == "low"

    t2, _ = keeping(config, copy_text=lambda text: "")
    t2.click("Copy credential_process line for platform")
    assert t2.notifier.sent[-1][:2] == ("Copy this into ~/.aws/config",
                                        process_profile("platform"))


def test_the_line_quotes_a_profile_name_the_shell_would_split() -> None:
    assert process_profile("dev team").endswith("credential-process 'dev team'")


def test_a_kept_sections_trouble_is_notified_once_naming_it(config: Path) -> None:
    """Issue 12: an extra section has its own state: its failure is said, once."""
    from tray.domain.models import RefreshState
    from tray.domain.problems import Problem

    t, _ = keeping(config)
    t.app.on_snapshot(t.refresher.snap)
    t.settle()
    assert t.notifier.sent == []  # everything fresh at start: not news

    failing = fresh("secure", target="second", state=RefreshState.RETRYING,
                    problem=Problem("endpoint", "STS could not be reached", profile="secure"))

    class Failing(KeepingRefresher):
        def snapshots(self) -> list[Snapshot]:
            return [self.snap, failing]

    refresher = Failing(snap=fresh(), held={"platform": KEYS})
    t.app.attach(refresher)
    for _ in range(3):  # the refresher publishes on every change, the tick every minute
        t.app.on_snapshot(refresher.snap)
        t.settle()
    [(title, body, _urgency, _action)] = t.notifier.sent
    assert title == "[second] secure: refresh failed, retrying"
    assert "STS could not be reached" in body


# ------------------------------- issue 12: an MFA code for a section kept besides the active role's

SERIAL = "arn:aws:iam::123456789012:mfa/dev"


def mfa_wait(target: str = "second") -> Snapshot:
    from tray.domain.models import RefreshState
    from tray.domain.problems import Problem

    return fresh("secure", target=target, state=RefreshState.NEEDS_INPUT,
                 problem=Problem("needs_mfa", "profile 'secure' needs an MFA code",
                                 profile="secure", input_kind="mfa"))


@dataclass
class WaitingRefresher(FakeRefresher):
    """``platform`` fresh in [roletray]; ``secure`` (mfa_serial) kept in [second], waiting
    for a code until ``provide_mfa_code`` gets one (``refuse``: codes AWS refuses)."""

    second: Snapshot = field(default_factory=mfa_wait)
    refuse: set[str] = field(default_factory=set)

    def snapshots(self) -> list[Snapshot]:
        return [self.snap, self.second] if self.second.role else [self.snap]

    def snapshot(self, target: str | None = None) -> Snapshot:
        return self.second if target == "second" and self.second.role else self.snap

    def provide_mfa_code(self, code: str, *, target: str | None = None) -> Snapshot:
        from tray.domain.errors import MfaRequiredError

        done = self._call("mfa", code, target)
        if code in self.refuse:  # the section waits for a code again, as the refresher does
            raise MfaRequiredError(profile="secure", mfa_serial=SERIAL)
        self.second = fresh("secure", target="second")
        return done


def waiting(config: Path) -> tuple[Tray, WaitingRefresher, list[tuple[str, str, str | None]]]:
    asked: list[tuple[str, str, str | None]] = []
    codes = iter(["111111", "222222", "333333"])

    def ask(serial: str, name: str, target: str | None = None) -> str | None:
        asked.append((serial, name, target))
        return next(codes)

    t = make(config, ask_code=ask)
    refresher = WaitingRefresher(snap=fresh())
    t.app.attach(refresher)
    t.refresher = refresher
    return t, refresher, asked


def test_a_kept_section_waiting_for_a_code_offers_the_prompt_in_its_submenu(
        config: Path) -> None:
    t, refresher, asked = waiting(config)
    text = t.menu_text()
    assert "Also kept fresh: secure → [second] · MFA code needed >" in text
    assert "  Enter MFA code for [second]…" in text.splitlines()  # in that submenu
    assert "Enter MFA code…" not in text  # the active role needs none
    t.click("Enter MFA code for [second]…")
    assert asked == [(SERIAL, "secure", "second")]  # the prompt names the section
    assert refresher.calls == [("mfa", "111111", "second")]  # that section only
    assert refresher.threads[0].startswith("tray-action")  # off the GUI thread
    assert "Enter MFA code for" not in t.menu_text()  # fresh now: nothing to enter


def test_a_kept_sections_mfa_notification_has_the_button_for_that_section(
        config: Path) -> None:
    t, refresher, asked = waiting(config)
    t.app.on_snapshot(refresher.snap)
    t.settle()
    [(title, body, urgency, action)] = t.notifier.sent
    assert (title, urgency) == ("[second] secure: MFA code needed", "critical")
    assert action is not None and action[0] == "Enter MFA code"
    assert "Click to enter the code." in body and "In a terminal" not in body
    action[1]()  # clicked, in the notifier's thread
    t.settle()
    assert asked == [(SERIAL, "secure", "second")]
    assert refresher.calls == [("mfa", "111111", "second")]


def test_a_refused_code_for_a_kept_section_is_asked_again_from_the_menu(
        config: Path, caplog: pytest.LogCaptureFixture) -> None:
    t, refresher, asked = waiting(config)
    refresher.refuse = {"111111"}
    with caplog.at_level("INFO"):
        t.click("Enter MFA code for [second]…")
    assert refresher.calls == [("mfa", "111111", "second")]  # never twice with one code
    assert len(asked) == 1  # no prompt of its own accord: a device locks after a few
    assert "refresh of [second] with the MFA code failed" in caplog.text
    assert "111111" not in caplog.text
    t.click("Enter MFA code for [second]…")  # still offered: asked again
    assert refresher.calls[-1] == ("mfa", "222222", "second") and len(asked) == 2


def test_a_section_no_longer_kept_asks_nothing(config: Path) -> None:
    t, refresher, asked = waiting(config)
    item = t.item("Enter MFA code for [second]…")
    refresher.second = Snapshot(now=NOW)  # removed meanwhile (`roletray clear --target`)
    assert item.action is not None
    item.action()
    t.settle()
    assert asked == [] and refresher.calls == []


def test_the_prompt_names_the_section_and_its_role() -> None:
    from tray.ui import prompt

    assert prompt.title("secure") == "roletray: MFA code"
    assert prompt.title("secure", "second") == "roletray: MFA code for [second] (secure)"
    assert "profile 'secure', kept fresh in [second]" in prompt._message(SERIAL, "secure",
                                                                         "second")
