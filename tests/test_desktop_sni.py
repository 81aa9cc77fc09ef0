"""The tray on the StatusNotifierItem path (KDE Plasma, GNOME's AppIndicator extension):
no XEmbed tray, a StatusNotifierWatcher on the session bus (tests/sniwatcher.py), the
menu read and clicked over com.canonical.dbusmenu, as data.

Issue 24: the role and minutes left without opening the menu (Title for hosts that show
it on hover, XAyatanaLabel for GNOME's, which shows no tooltips), an icon a host can read
(a themed name under an IconThemePath), NeedsAttention when red, one registration per
tray, a truthful needUpdate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_desktop
from sniwatcher import SniWatcher, menu_text
from test_desktop import REPO, complaints, role_in_file, section, wait_note, world
from test_desktop_menu import many_profiles
from xsession import XSession, wait_for

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module")
def xs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XSession]:
    """test_desktop's desktop, without trayer: Ayatana then registers over SNI."""
    yield from test_desktop.desktop(tmp_path_factory, tray=False)


@dataclass
class SniTray:
    xs: XSession
    watcher: SniWatcher
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> None:
        assert self.proc.poll() is None, f"the tray exited {self.proc.returncode}: {self.tail()}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def props(self) -> dict[str, Any]:
        self.alive()
        return self.watcher.props()

    def wait_props(self, what: str, ok: Any, timeout: float = 30) -> dict[str, Any]:
        def matching() -> dict[str, Any] | None:
            props = self.props()
            return props if ok(props) else None
        try:
            return wait_for(matching, timeout, what)
        except TimeoutError:
            raise AssertionError(f"{what}: {self.props()}; log: {self.tail()}") from None

    def menu(self) -> str:
        return menu_text(self.watcher.layout())

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=15)


@pytest.fixture
def start_sni(xs: XSession) -> Iterator[Any]:
    started: list[tuple[SniWatcher, SniTray]] = []

    def start(**extra: str) -> SniTray:
        watcher = SniWatcher(xs.bus_address).__enter__()
        env = xs.env_with(os.environ)
        env.update(TZ="Europe/Paris", PYTHONPATH=str(REPO), **extra)
        env.pop("PYSTRAY_BACKEND", None)
        log = xs.workdir / f"sni-{len(started)}-{os.getpid()}.log"
        log.unlink(missing_ok=True)
        proc = xs.spawn([sys.executable, "-m", "tray", "run"], stdout_path=log, env=env)
        tray = SniTray(xs, watcher, proc, log)
        started.append((watcher, tray))
        watcher.wait_item(30, tray.alive)
        tray.wait_props("the menu to be exported",
                        lambda p: p.get("Menu") and watcher.layout()["children"])
        return tray

    yield start
    for watcher, tray in started:
        if tray.proc.poll() is None:
            tray.stop()
        watcher.__exit__(None, None, None)


def test_switching_over_sni_shows_role_and_minutes_without_the_menu(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    world(aws)
    seen = len(xs.notifications())
    tray = start_sni()
    props = tray.props()
    assert props["Status"] == "Active" and props["XAyatanaLabel"] == ""
    assert props["Title"] == "roletray · no role active"
    # A themed name under roletray's own theme path: a host outside /tmp can read it.
    theme = Path(props["IconThemePath"])
    assert not str(theme).startswith("/tmp/tmp") and (theme / f"{props['IconName']}.png").is_file()
    assert props["IconName"] == "roletray-idle-64"

    before = tray.watcher.layout()
    quit_id = tray.watcher.find("Quit", before)["id"]  # type: ignore[index]
    assert "platform" in tray.menu() and "readonly" in tray.menu()
    tray.watcher.click_label("platform")
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    wait_note(xs, seen, "Now working as platform")
    # GNOME's extension: the label; KDE: the title on hover. An hour's keys: the badge
    # counts from 55 (5-minute steps above the last 15).
    props = tray.wait_props("the label to name the role",
                            lambda p: p["XAyatanaLabel"].startswith("platform · "))
    assert props["XAyatanaLabel"] in ("platform · 55 min", "platform · 50 min"), props
    assert props["Title"].startswith("platform · 123456789012 · expires "), props
    assert props["IconName"] in ("roletray-fresh-64-55", "roletray-fresh-64-50"), props
    assert (theme / f"{props['IconName']}.png").is_file()
    assert props["Status"] == "Active"

    tray.watcher.click_label("readonly")
    wait_for(lambda: role_in_file(aws) == "readonly", 30, "[roletray] to hold readonly")
    tray.wait_props("the label to follow", lambda p: p["XAyatanaLabel"].startswith("readonly"))
    # One registration for the tray's life: a host sees the item once, not at every change.
    assert tray.watcher.registration_count() == 1, tray.watcher.registrations
    # Rows that did not change keep their ids.
    after = tray.watcher.layout()
    assert tray.watcher.find("Quit", after)["id"] == quit_id  # type: ignore[index]
    assert tray.stop() == 0


def test_the_tray_says_nothing_on_stderr_over_start_menu_switch_and_stop(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    """SNI: no GLib/GTK/GDK warning or critical, no traceback, from start to stop (the
    indicator's dispose said "connection-changed" to a handler after pystray dropped it:
    a traceback and a GLib-GObject-CRITICAL at every stop)."""
    many_profiles(aws)
    tray = start_sni()
    layout = tray.watcher.layout()
    account = next(n for n in layout["children"] if n["label"].startswith("111111111111"))
    tray.watcher.about_to_show(0)  # the host opens the menu, then a submenu
    tray.watcher.about_to_show(account["id"])
    tray.watcher.click_label("platform")
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    tray.wait_props("the label to name the role",
                    lambda p: p["XAyatanaLabel"].startswith("platform · "))
    assert tray.stop() == 0
    log = tray.log.read_text(errors="replace")
    assert complaints(log) == [], log


CLICK_TO_FILE_MAX = 0.25  # issue 21: a tray click puts the keys in the file within 0.25 s


def seconds_until(holds: Any, start: float, timeout: float = 30) -> float:
    """Seconds from ``start`` (``time.monotonic``) to the first poll where ``holds()``,
    taken after that poll (an upper bound). Polls every 2 ms; fails after ``timeout``."""
    while True:
        done = holds()
        now = time.monotonic()
        if done:
            return now - start
        assert now - start < timeout, "timed out"
        time.sleep(0.002)


def test_a_click_puts_the_new_keys_in_the_file_within_a_quarter_second(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    """Issue 21: from a click on a role in the menu (dbusmenu "clicked", as a host sends
    it) to the moment ~/.aws/credentials holds that role's new keys.

    The first switch starts the warm worker (a child that imports botocore once), which
    the tray keeps loaded: the clicks measured are the ones after it, as a person's
    next click. Best of three: a loaded 2-core machine can stall any single one, but not
    the best of three by seconds; every figure is printed (``pytest -s``)."""
    world(aws)
    tray = start_sni()
    tray.watcher.click_label("platform")  # warms the worker
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    figures: list[float] = []
    for name in ("readonly", "platform", "readonly"):
        # Settled: the label follows the last switch (its notification is sent).
        tray.wait_props("the tray to settle", lambda p: p["XAyatanaLabel"].startswith(
            f"{role_in_file(aws)} · "))
        row = tray.watcher.find(name)
        assert row is not None, tray.menu()
        old_key = section(aws)["aws_access_key_id"]

        def holds(name: str = name, old_key: str = old_key) -> bool:
            keys = section(aws)
            return (keys.get("x_roletray_role") == name
                    and keys.get("aws_access_key_id") not in (None, old_key))
        start = time.monotonic()
        tray.watcher.click(row["id"])
        figures.append(seconds_until(holds, start))
    print(f"\nclick -> keys in the file: {', '.join(f'{f * 1000:.0f} ms' for f in figures)}"
          f" (best {min(figures) * 1000:.0f} ms; limit {CLICK_TO_FILE_MAX * 1000:.0f} ms)")
    assert min(figures) <= CLICK_TO_FILE_MAX, figures
    assert tray.stop() == 0


def test_a_denied_role_needs_attention_and_diagnose_names_it(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    """Red keys: NeedsAttention (KDE shows a hidden icon again). "Diagnose…" after a
    refused switch diagnoses the refused role, not the active one (issue 24)."""
    world(aws, locked=True)
    seen = len(xs.notifications())
    tray = start_sni(BROWSER="true")
    tray.watcher.click_label("platform")
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    tray.watcher.click_label("locked")
    wait_note(xs, seen, "Could not switch to locked")
    menu = wait_for(lambda: "⚠ locked" in tray.menu() and tray.menu(), 20,
                    "the refusal in the menu")
    assert "Dismiss this message" in menu
    tray.watcher.click_label("Diagnose…")
    note = wait_note(xs, seen, "Diagnosis of locked", timeout=60)
    assert "trust" in note["body"], note
    assert tray.stop() == 0


def test_red_keys_need_attention(xs: XSession, aws: Any, start_sni: Any) -> None:
    world(aws, locked=True)
    from tray.paths import Paths
    from tray.state import State, save_state

    save_state(State(active_role="locked", target="roletray"), Paths.from_env(os.environ))
    tray = start_sni()
    props = tray.wait_props("NeedsAttention", lambda p: p["Status"] == "NeedsAttention")
    assert props["IconName"].startswith("roletray-error-"), props
    assert props["XAyatanaLabel"].startswith("locked"), props
    tray.watcher.click_label("platform")
    tray.wait_props("Active again", lambda p: p["Status"] == "Active")
    assert tray.watcher.registration_count() == 1, tray.watcher.registrations
    assert tray.stop() == 0


def test_submenus_are_complete_when_about_to_show_says_no_update(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    """libdbusmenu answers every AboutToShow with needUpdate=false: true only when the
    submenu the host has is already complete (no placeholder filled afterwards)."""
    many_profiles(aws)
    tray = start_sni()
    layout = tray.watcher.layout()
    account = next(n for n in layout["children"] if n["label"].startswith("111111111111"))
    assert [c["label"] for c in account["children"]] == [f"team{n}-111" for n in range(8)]
    assert tray.watcher.about_to_show(account["id"]) is False
    again = tray.watcher.layout()
    assert again["revision"] == layout["revision"]
    assert tray.stop() == 0


def test_a_new_user_sets_up_from_the_menu_and_switches(xs: XSession, aws: Any,
                                                      start_sni: Any) -> None:
    """From an empty config: "Set up…" in the menu, the dialog (a role, since the
    credentials file has keys), the ARN typed, Enter; the menu then offers the role."""
    akid, secret = aws.create_user("dev")
    aws.create_role("platform", trust_principal=aws.user_arn("dev"))
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    seen = len(xs.notifications())
    tray = start_sni()
    assert "No role profiles in ~/.aws/config" in tray.menu()
    tray.watcher.click_label("Set up…")
    [wid] = wait_for(lambda: xs.search(["--name", "roletray: Set up"]), 30, "the dialog")
    xs.xdotool("windowfocus", "--sync", str(wid))
    xs.xdotool("type", "--delay", "10", "123456789012:role/platform")
    xs.xdotool("key", "Return")
    note = wait_note(xs, seen, "roletray is set up")
    assert note["body"] == "Wrote [profile platform] to ~/.aws/config"
    wait_for(lambda: tray.watcher.find("platform"), 30, "the menu to offer platform")
    tray.watcher.click_label("platform")
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    assert tray.stop() == 0


def test_sync_accounts_from_identity_center_fills_the_menu(
        xs: XSession, aws: Any, start_sni: Any) -> None:
    import json
    from datetime import timedelta

    from ssofake import SsoFake

    from tray.aws import sso
    from tray.domain.models import iso_utc, utcnow

    aws.write_config("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
                     "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n")
    cfg = sso.SsoConfig(profile="corp", start_url="https://corp.awsapps.com/start",
                        region="eu-west-1", session_name="corp")
    token = sso.token_path(cfg, os.environ)
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text(json.dumps({"startUrl": cfg.start_url, "region": "eu-west-1",
                                 "accessToken": "desktopToken0001",
                                 "expiresAt": iso_utc(utcnow() + timedelta(hours=8))}))
    with SsoFake(valid_tokens={"desktopToken0001"}) as fake:
        fake.directory = {"111111111111": ("Prod", ["ReadOnly"]),
                          "222222222222": ("Dev", ["Developer"])}
        seen = len(xs.notifications())
        tray = start_sni(AWS_ENDPOINT_URL_SSO=fake.url, AWS_ENDPOINT_URL_SSO_OIDC=fake.url)
        tray.watcher.click_label("Sync accounts from Identity Center")
        note = wait_note(xs, seen, "Accounts synced from Identity Center")
        assert note["body"] == "sso-session corp: 2 profiles (2 added, 0 removed)"
        wait_for(lambda: tray.watcher.find("Prod/ReadOnly"), 30, "the menu to offer them")
        assert tray.watcher.find("Dev/Developer") is not None
        assert tray.stop() == 0
