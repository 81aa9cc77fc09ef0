"""The tray's per-role items: "Open console as NAME" (the keys the refresher keeps, the
federation endpoint, the browser) and "Copy credential_process line for NAME"."""

from __future__ import annotations

import json
import logging
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


def test_copy_credential_process_line_copies_the_profile_and_says_what(config: Path) -> None:
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
