"""Building the tray menu for 2,000 role profiles across 200 accounts.

``build_menu_model`` (sort, group by account, chunk, one node per profile) is
timed as the median of N runs; the peer is its floor, sorting the same
profiles by name. A second row times the whole step the tray takes on a
change: model, then its text (compared to skip unchanged menus). When Xvfb and
PyGObject are there, the next rows time what the GUI thread then does with it:
pystray's Menu and the GTK widgets, built the way roletray builds them (a submenu's
widgets when it first opens) against pystray's own build (every submenu at once),
in the same process.

    python bench/menu_build.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import median_seconds, on_xvfb

TARGET_MS = 100.0
ACCOUNTS = 200
PER_ACCOUNT = 10


def profiles() -> dict[str, Any]:
    from tray.domain.models import RoleProfile

    out: dict[str, Any] = {}
    for a in range(ACCOUNTS):
        account = f"{100000000000 + a * 7919:012d}"
        for r in range(PER_ACCOUNT):
            name = f"team{r:02d}-{account[-4:]}-{['dev', 'ops', 'ro'][r % 3]}"
            out[name] = RoleProfile(name=name, role_arn=f"arn:aws:iam::{account}:role/{name}",
                                    source_profile="default")
    return out


GTK_CODE = """
import os, sys, time, statistics
sys.path[:0] = [{bench!r}, {repo!r}]
os.environ["PYSTRAY_BACKEND"] = "gtk"
from datetime import datetime, timedelta, timezone
from menu_build import profiles
from tray.domain.models import RefreshState, Snapshot
from tray.ui.menu import MenuActions, build_menu_model, render_text
from tray.ui.pystray_menu import lazy_icon_class, to_pystray
import pystray
from gi.repository import Gtk
from PIL import Image
profs = profiles()
now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
snap = Snapshot(state=RefreshState.FRESH, role=sorted(profs)[1234], now=now,
                expiration=now + timedelta(hours=1))
actions = MenuActions()
image = Image.new("RGBA", (16, 16))
full = pystray.Icon("bench", image, "bench", None)  # pystray's own: every widget at once
lazy = lazy_icon_class(pystray.Icon)("bench", image, "bench", None)

def median(fn, n=7):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000

def step(icon):
    # What the tray does on a change: the model, its text (to skip an unchanged menu),
    # pystray's Menu and the GTK widgets; then the old menu goes.
    model = build_menu_model(snap, profs, now=now, tz=timezone.utc, actions=actions,
                             relative=False)
    render_text(model)
    icon._create_menu(to_pystray(model)).destroy()

def widgets(icon):
    model = build_menu_model(snap, profs, now=now, tz=timezone.utc, actions=actions)
    menu = to_pystray(model)
    return lambda: icon._create_menu(menu).destroy()

def open_account():
    # One "Accounts" group, then one account in it: what a person opens to switch.
    menu = lazy._create_menu(to_pystray(build_menu_model(
        snap, profs, now=now, tz=timezone.utc, actions=actions)))
    group = next(i for i in menu.get_children() if i.get_submenu() is not None)
    t0 = time.perf_counter()
    group.select()  # highlighted: its submenu opens next
    account = group.get_submenu().get_children()[0]
    account.select()
    ms = (time.perf_counter() - t0) * 1000
    assert len(account.get_submenu().get_children()) > 1
    menu.destroy()
    return ms

print(median(lambda: step(full)), median(lambda: step(lazy)), median(widgets(full)),
      median(widgets(lazy)), statistics.median(open_account() for _ in range(7)))
"""


def gtk_rows() -> list[tuple[str, str, str, str]]:
    """The tray's whole step on a change (model, text, GTK widgets) with pystray's own
    widget build (every submenu at once) and with roletray's (a submenu when it first
    opens), in one process on a virtual display; and the widgets alone."""
    line = on_xvfb(GTK_CODE.format(bench=str(HERE), repo=str(HERE.parent)),
                   "roletray-bench-menu-")
    if line is None:
        return []
    full, lazy, w_full, w_lazy, opened = map(float, line.split())
    return [
        ("menu on a change, GTK included: model + text + widgets (Xvfb, pystray gtk backend; "
         + "median of 7; peer: the same with pystray's own widget build, every submenu at once)",
         f"{lazy:.1f} ms", f"{full:.1f} ms",
         f"{lazy / full:.2f} (target ≤ {TARGET_MS:.0f} ms, on the GUI thread)"),
        ("GTK widgets alone for that model: submenus built when first opened vs all at once",
         f"{w_lazy:.1f} ms", f"{w_full:.1f} ms", f"{w_lazy / w_full:.2f}"),
        ("opening one group and one account in it (their widgets built then)",
         f"{opened:.1f} ms", "-", "on the GUI thread, once per submenu"),
    ]


def run(runs: int = 21) -> list[tuple[str, str, str, str]]:
    from zoneinfo import ZoneInfo

    from tray.domain.models import RefreshState, Snapshot
    from tray.ui.menu import MenuActions, build_menu_model, render_text

    profs = profiles()
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    active = sorted(profs)[1234]
    snap = Snapshot(state=RefreshState.FRESH, role=active, expiration=now + timedelta(hours=1),
                    identity_arn=f"arn:aws:sts::100000000000:assumed-role/{active}/s",
                    account="100000000000", now=now)
    tz = ZoneInfo("Europe/Paris")
    actions = MenuActions()

    def build() -> None:
        build_menu_model(snap, profs, now=now, tz=tz, actions=actions)

    def build_and_text() -> None:
        render_text(build_menu_model(snap, profs, now=now, tz=tz, actions=actions))

    def floor() -> None:
        sorted(profs.values(), key=lambda p: (p.name.casefold(), p.name))

    build()
    t_build = median_seconds(build, runs) * 1000
    t_text = median_seconds(build_and_text, runs) * 1000
    t_floor = median_seconds(floor, runs) * 1000
    n = len(profs)
    return [
        (f"menu model, {n:,} profiles in {ACCOUNTS} accounts (median of {runs}; "
         + "peer: sorting them)", f"{t_build:.1f} ms", f"{t_floor:.1f} ms",
         f"{t_build / t_floor:.1f}x (target ≤ {TARGET_MS:.0f} ms)"),
        ("menu model + its text (the tray's per-change step)", f"{t_text:.1f} ms",
         f"{t_floor:.1f} ms", f"{t_text / t_floor:.1f}x (target ≤ {TARGET_MS:.0f} ms)"),
        *gtk_rows(),
    ]


def main(argv: list[str]) -> int:
    rows = run()
    for row in rows:
        print(" | ".join(row))
    return 0 if float(rows[0][1].split()[0]) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
