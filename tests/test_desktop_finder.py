"""Guarded profiles and "Find a role…" in a real tray: Xvfb, trayer, dunst, the app as a
process, moto as AWS. Clicking a guarded profile opens the dialog (Cancel: the credentials
file is byte for byte the same; Switch: switched, the icon ringed, the label notified);
the finder filters as you type and switches from the keyboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import test_desktop
from test_desktop import role_in_file, wait_note, world
from xsession import XSession, wait_for

from tray.paths import Paths

pytestmark = pytest.mark.desktop
xs = test_desktop.xs
start_tray = test_desktop.start_tray

DIALOG = "roletray: guarded profile"
FINDER = "roletray: find a role"


def with_prod(aws: Any) -> None:
    """platform, prod (guarded: production) and readonly, all assumable."""
    arn = aws.create_role("prod")  # before world(), which makes moto check every call
    world(aws)
    with open(aws.config_path, "a", encoding="utf-8") as f:
        f.write(f"\n[profile prod]\nrole_arn = {arn}\nsource_profile = default\n"
                "roletray_guard = production\n")


def app_log() -> str:
    path = Paths.from_env(os.environ).log_dir / "roletray.log"
    return path.read_text(errors="replace") if path.exists() else ""


def focused(xs: XSession, name: str) -> int:
    wid = wait_for(lambda: xs.search(["--name", name]), 20, f"the window {name!r}")[0]
    xs.xdotool("windowfocus", "--sync", str(wid))
    return int(wid)


def gone(xs: XSession, name: str) -> None:
    wait_for(lambda: not xs.search(["--name", name]), 10, f"{name!r} to close")


def open_finder(xs: XSession, tray: Any) -> None:
    """The menu's "Find a role…" (the third enabled row: platform, readonly, Find…)."""
    tray.open_menu()
    xs.xdotool("key", "Down", "Down", "Down", "Return")
    focused(xs, FINDER)


def guard_pixels(img: Any) -> int:
    from tray.ui.png_icon import GUARD

    rgb = img.convert("RGB")
    return sum(1 for px in test_desktop._pixels(rgb)
               if all(abs(a - b) <= 30 for a, b in zip(px, GUARD, strict=True)))


def test_a_guarded_profile_asks_cancel_keeps_the_file_switch_switches(
        xs: XSession, aws: Any, start_tray: Any, tmp_path: Path) -> None:
    with_prod(aws)
    tray = start_tray()
    tray.wait_colour("idle")
    before = Path(aws.credentials_path).read_bytes()

    tray.choose(2)  # platform, prod [production], readonly
    focused(xs, DIALOG)
    xs.xdotool("key", "Escape")
    gone(xs, DIALOG)
    wait_for(lambda: "guarded prod not switched to: cancelled" in app_log(), 20,
             "the tray to log the cancel")
    assert Path(aws.credentials_path).read_bytes() == before
    tray.wait_colour("idle")

    seen = len(xs.notifications())
    tray.choose(2)
    focused(xs, DIALOG)
    xs.xdotool("key", "alt+s")  # "Switch to prod"
    gone(xs, DIALOG)
    wait_for(lambda: role_in_file(aws) == "prod", 30, "[roletray] to hold prod")
    img = tray.wait_colour("fresh")
    assert guard_pixels(img) > img.width * img.height // 10, "no guard ring on the icon"
    wait_note(xs, seen, "Now working as prod [production]")
    assert tray.stop() == 0


def test_the_finder_filters_and_switches_from_the_keyboard(
        xs: XSession, aws: Any, start_tray: Any) -> None:
    world(aws)
    tray = start_tray()
    tray.wait_colour("idle")
    open_finder(xs, tray)
    xs.xdotool("type", "--delay", "30", "read")
    xs.xdotool("key", "Return")
    gone(xs, FINDER)
    try:
        wait_for(lambda: role_in_file(aws) == "readonly", 30, "[roletray] to hold readonly")
    except TimeoutError:
        raise AssertionError(app_log()[-3000:] + tray.tail()) from None
    tray.wait_colour("fresh")

    # Escape closes it without a switch; typing narrows to nothing, Enter does nothing.
    open_finder(xs, tray)
    xs.xdotool("type", "--delay", "30", "plat")
    xs.xdotool("key", "Escape")
    gone(xs, FINDER)
    open_finder(xs, tray)
    xs.xdotool("type", "--delay", "30", "zzz")
    xs.xdotool("key", "Return", "Escape")
    gone(xs, FINDER)
    assert role_in_file(aws) == "readonly"
    assert "from the finder" in app_log() and app_log().count("from the finder") == 1
    assert tray.stop() == 0
