"""The grouped menu (more than 15 role profiles) for real: GTK widgets under Xvfb, read back
through the dbusmenu layout the tray exports on the session bus.

Issue 15 bug 2: the account rows that open submenus were radio items, so GTK toggled
them as their submenus were opened; after browsing, other accounts looked selected and
the active one did not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import test_desktop
from test_desktop import REPO, section, world
from xsession import XSession, wait_for

pytestmark = pytest.mark.desktop
# test_desktop's fixtures: a desktop for this module, and the tray starter.
xs = test_desktop.xs
start_tray = test_desktop.start_tray

OTHER_ACCOUNTS = ("111111111111", "222222222222", "333333333333")


def many_profiles(aws: Any) -> None:
    """platform and readonly (assumable), and 8 profiles in each of three other accounts:
    more than FLAT_MAX, so the menu groups them by account."""
    world(aws)
    extra = ""
    for account in OTHER_ACCOUNTS:
        for n in range(8):
            name = f"team{n}-{account[:3]}"
            extra += (f"\n[profile {name}]\nrole_arn = arn:aws:iam::{account}:role/{name}\n"
                      "source_profile = default\n")
    with open(aws.config_path, "a", encoding="utf-8") as f:
        f.write(extra)


def layout(xs: XSession, pid: int, about_to_show: int | None = None) -> dict[str, Any]:
    """The tray's menu as its dbusmenu server exports it: {id, label, toggle, state,
    children}; after telling it that item ``about_to_show`` opens, as a tray host does."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                      interface="org.freedesktop.DBus")
    with open_dbus_connection(bus=xs.bus_address) as conn:
        names = conn.send_and_get_reply(new_method_call(bus, "ListNames")).body[0]
        owner = None
        for name in names:
            if not name.startswith(":"):
                continue
            reply = conn.send_and_get_reply(
                new_method_call(bus, "GetConnectionUnixProcessID", "s", (name,)))
            if reply.body and reply.body[0] == pid:
                owner = name
                break
        assert owner is not None, "the tray has no session bus connection"
        menu = DBusAddress("/org/ayatana/NotificationItem/roletray/Menu", bus_name=owner,
                           interface="com.canonical.dbusmenu")
        if about_to_show is not None:
            conn.send_and_get_reply(new_method_call(menu, "AboutToShow", "i", (about_to_show,)))
        reply = conn.send_and_get_reply(new_method_call(menu, "GetLayout", "iias",
                                                        (0, -1, [])))
        return _node(reply.body[1])


def _node(raw: Any) -> dict[str, Any]:
    item_id, props, children = raw
    value = {k: v[1] for k, v in props.items()}
    return {"id": item_id, "label": value.get("label", ""), "toggle": value.get("toggle-type", ""),
            "state": value.get("toggle-state", -1),
            "children": [_node(c[1]) for c in children]}


def test_browsing_account_submenus_marks_only_the_active_account(
        xs: XSession, aws: Any, start_tray: Any) -> None:
    many_profiles(aws)
    env = {**xs.env_with(os.environ), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "tray", "assume", "platform"], env=env,
                   check=True, capture_output=True, timeout=60)
    tray = start_tray()
    tray.wait_colour("fresh")

    # Under AppIndicator a submenu is built with its menu: libdbusmenu answers every
    # AboutToShow with needUpdate=false, true only when nothing is left to fill (issue 24).
    first = next(n for n in layout(xs, tray.proc.pid)["children"]
                 if n["label"].startswith("111111111111"))
    assert [c["label"] for c in first["children"]] == [f"team{n}-111" for n in range(8)]

    # The first enabled rows are the accounts, sorted: 111…, 123456789012 (the active
    # one), 222…, 333…. Open each one's submenu and leave it, then click every row
    # (GTK toggles a check item when it is activated).
    tray.open_menu()
    for _ in OTHER_ACCOUNTS + ("123456789012",):
        xs.xdotool("key", "Down", "Right", "Left")
    xs.xdotool("key", "Escape")
    wait_for(lambda: xs.popup_of(tray.proc.pid) is None, 10, "the menu to close")
    for downs in range(1, 5):
        tray.open_menu()
        xs.xdotool("key", *(["Down"] * downs), "Return", "Escape", "Escape")
        wait_for(lambda: xs.popup_of(tray.proc.pid) is None, 10, "the menu to close")

    top = layout(xs, tray.proc.pid)["children"]
    accounts = [n for n in top if n["children"] and n["label"][:12].isdigit()]
    assert [n["label"].split()[0] for n in accounts] == \
        ["111111111111", "123456789012", "222222222222", "333333333333"], top
    # A row that opens a submenu carries no check state; the active account's label is
    # marked, and no other row is.
    assert all(n["toggle"] == "" for n in accounts), accounts
    marked = [n["label"] for n in accounts if n["label"].endswith("✓")]
    assert marked == ["123456789012 (2 roles) ✓"], accounts
    # Inside the active account (opened above, so built), platform is the one chosen.
    active = next(n for n in accounts if n["label"].startswith("123456789012"))
    chosen = [c["label"] for c in active["children"] if c["state"] == 1]
    assert chosen == ["platform"], active
    assert section(aws)["x_roletray_role"] == "platform"  # browsing switched nothing
