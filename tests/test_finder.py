"""Guarded profiles and "Find a role…" in the tray, without a display: the filter, the
usage record, the menu's rows, the dialog's hook before a switch, the labels, the ring.
The windows themselves are tested under Xvfb in tests/test_desktop_finder.py."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import test_tray_app
from test_tray_app import NOW, fresh, make

from tray.domain.models import RoleProfile
from tray.platform import signin_page
from tray.platform.notify import Notification
from tray.ui import finder_menu, guarded
from tray.ui.finder_index import RoleIndex
from tray.ui.menu import MenuActions, build_menu_model, render_text
from tray.ui.png_icon import GUARD, decode_rgba, icon_png
from tray.ui.usage import HALF_LIFE, Usage

config = test_tray_app.config

GUARDED = test_tray_app.CONFIG + """
[profile prod]
role_arn = arn:aws:iam::123456789012:role/prod
source_profile = default
roletray_guard = production
"""


def role(name: str, account: str = "123456789012", guard: str | None = None) -> RoleProfile:
    return RoleProfile(name=name, role_arn=f"arn:aws:iam::{account}:role/{name.split('/')[-1]}",
                       source_profile="default", guard=guard)


def many(n: int = 2000) -> list[RoleProfile]:
    return [role(f"team{i:04d}-{['dev', 'ops', 'ro'][i % 3]}", f"{100000000000 + i // 10:012d}")
            for i in range(n)]


# -------------------------------------------------------------------------- filter

def test_every_word_must_match_profile_account_or_role() -> None:
    index = RoleIndex([role("Prod/AdministratorAccess", "111122223333"),
                       role("Dev/ReadOnly", "444455556666"), role("platform")], {})
    assert [e.name for e in index.search("").entries] == \
        ["Dev/ReadOnly", "platform", "Prod/AdministratorAccess"]
    assert [e.name for e in index.search("prod admin").entries] == ["Prod/AdministratorAccess"]
    assert [e.name for e in index.search("4444").entries] == ["Dev/ReadOnly"]
    assert [e.name for e in index.search("READONLY").entries] == ["Dev/ReadOnly"]
    assert index.search("nothing-like-it").entries == []


def test_used_roles_come_first_then_names_that_start_with_the_word() -> None:
    index = RoleIndex([role("a-ops"), role("ops-b"), role("ops-a"), role("c-ops")],
                      {"c-ops": 2.0, "a-ops": 1.0})
    assert [e.name for e in index.search("ops").entries] == ["c-ops", "a-ops", "ops-a", "ops-b"]
    assert [e.name for e in index.search("").entries][:2] == ["c-ops", "a-ops"]


def test_the_list_is_capped_and_says_how_many_matched() -> None:
    found = RoleIndex(many(), {}).search("team")
    assert found.total == 2000 and len(found.entries) == 200


def test_typing_on_narrows_and_backspace_widens_as_a_fresh_search() -> None:
    profiles = many(300)
    typed = RoleIndex(profiles, {"team0011-ops": 1.0})
    for q in ["t", "team00", "team001", "team0011", "team00", "", "ops", "ops 2", "ops 20",
              "ops 2", "OPS"]:
        fresh_result = RoleIndex(profiles, {"team0011-ops": 1.0}).search(q)
        assert typed.search(q) == fresh_result, q


# --------------------------------------------------------------------------- usage

def test_usage_ranks_recent_and_frequent_per_config_file(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    a = Usage(tmp_path / "state", tmp_path / "config-a", clock=lambda: clock[0])
    b = Usage(tmp_path / "state", tmp_path / "config-b", clock=lambda: clock[0])
    for _ in range(3):
        a.used("often")
    clock[0] += HALF_LIFE * 3  # long ago now: 3 uses weigh 3/8
    a.used("lately")
    b.used("prod")
    assert a.top(["often", "lately", "never", "prod"], 5) == ["lately", "often"]
    # Another config's "prod" is another profile; a fresh reader sees the same.
    again = Usage(tmp_path / "state", tmp_path / "config-a", clock=lambda: clock[0])
    assert "prod" not in again.ranks() and again.top(["often", "lately"], 1) == ["lately"]
    path = tmp_path / "state" / "usage.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert sorted(doc["configs"]) == sorted(os.path.realpath(tmp_path / f"config-{x}")
                                            for x in "ab")


def test_a_broken_usage_file_is_an_empty_record(tmp_path: Path) -> None:
    (tmp_path / "usage.json").write_text("{not json")
    u = Usage(tmp_path, tmp_path / "config", clock=lambda: 5.0)
    assert u.ranks() == {}
    u.used("x")
    assert u.ranks() == {"x": 1.0}


# ---------------------------------------------------------------------------- menu

def test_find_a_role_follows_the_roles_and_a_grouped_menu_leads_with_recent_ones() -> None:
    profiles = {p.name: p for p in [role("platform"), role("readonly"),
                                    role("prod", guard="production")]}
    model = build_menu_model(fresh(), profiles, now=NOW, tz=None, actions=MenuActions())
    text = render_text(finder_menu.with_finder(model, profiles, active="platform",
                                               find=lambda: None, switch=lambda n: None,
                                               recent=["prod"])).splitlines()
    at = text.index("( ) readonly")
    assert text[at - 2:at + 3] == ["(*) platform", "( ) prod [production]", "( ) readonly",
                                   "Find a role…", "----"]
    assert "Recently used" not in text  # a flat menu is short already

    big = {p.name: p for p in many(40)}
    model = build_menu_model(fresh("team0001-ops"), big, now=NOW, tz=None,
                             actions=MenuActions())
    text = render_text(finder_menu.with_finder(model, big, active="team0001-ops",
                                               find=lambda: None, switch=lambda n: None,
                                               recent=["team0001-ops", "team0007-ops"]))
    lines = text.splitlines()
    first = lines.index("Recently used [disabled]")
    assert lines[first - 1] == "----"
    assert lines[first + 1:first + 4] == ["(*) team0001-ops", "( ) team0007-ops", "----"]
    assert lines[lines.index("Find a role…") + 1] == "----"


# ----------------------------------------------------------------------- the tray

def guarded_tray(config: Path, answers: list[bool], **svc: Any) -> Any:
    config.write_text(GUARDED)
    asked: list[tuple[str, str, str | None]] = []

    def confirm(profile: str, label: str, target: str | None) -> bool:
        asked.append((profile, label, target))
        return answers.pop(0)

    t = make(config, confirm_guard=confirm, **svc)
    return t, asked


def test_a_guarded_profile_asks_and_cancel_changes_nothing(config: Path) -> None:
    t, asked = guarded_tray(config, [False, True])
    t.click("prod [production]")
    assert asked == [("prod", "production", None)]
    assert t.refresher.calls == []
    assert "prod" not in t.app.usage.ranks()
    t.click("prod [production]")
    assert t.refresher.calls == [("switch", "prod", None)]
    assert list(t.app.usage.ranks()) == ["prod"]
    t.click("platform")  # not guarded: no dialog
    assert len(asked) == 2 and t.refresher.calls[-1] == ("switch", "platform", None)


def test_keeping_a_guarded_profile_asks_too(config: Path) -> None:
    t, asked = guarded_tray(config, [False])
    t.click("prod → [prod-roletray]")
    assert asked == [("prod", "production", "prod-roletray")]
    assert t.refresher.calls == []


def test_the_label_is_in_notifications_and_the_tooltip() -> None:
    note = Notification("switch", "Now working as prod", "body")
    assert guarded.label_note(note, {"prod": "production"}).title == \
        "Now working as prod [production]"
    assert guarded.label_note(Notification("x", "prod: keys expire soon", ""),
                              {"prod": "production"}).title == \
        "prod [production]: keys expire soon"
    assert guarded.label_note(Notification("x", "Now working as prod-ro", ""),
                              {"prod": "production"}).title == "Now working as prod-ro"
    assert guarded.label_tooltip("prod · 123456789012", "prod", "production") == \
        "prod [production] · 123456789012"


def test_the_console_page_title_names_the_label(tmp_path: Path) -> None:
    page = signin_page.write("https://signin.example/?x=1", tmp_path,
                             title=guarded.console_title("prod", "production")).read_text()
    assert "<title>roletray: opening the AWS console as prod [production]</title>" in page


def test_touch_your_security_key_while_mfa_process_runs(config: Path) -> None:
    from tray.domain.models import RefreshState

    t = make(config)
    t.app.on_mfa_wait("secure")
    t.settle()
    assert t.app.menu_text().splitlines()[0] == "Touch your security key (secure)… [disabled]"
    assert [n[0] for n in t.notifier.sent] == ["Touch your security key"]
    t.app.on_snapshot(fresh(state=RefreshState.FRESH))
    t.settle()
    assert "Touch your security key" not in t.app.menu_text()


def test_the_guarded_ring_is_its_own_colour_and_drawn_once() -> None:
    plain = decode_rgba(icon_png("fresh", 64))[2]
    ringed = decode_rgba(icon_png("fresh", 64, None, True))[2]
    edge = (32 * 64 + 3) * 4  # the left edge of the disc, mid-height
    assert tuple(ringed[edge:edge + 3]) == GUARD and tuple(plain[edge:edge + 3]) != GUARD
    centre = (32 * 64 + 32) * 4
    assert ringed[centre:centre + 4] == plain[centre:centre + 4]
    badge = decode_rgba(icon_png("fresh", 64, 7, True))[2]
    assert tuple(badge[edge:edge + 3]) == GUARD
