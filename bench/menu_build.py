"""Building the tray menu for 2,000 role profiles across 200 accounts.

``build_menu_model`` (sort, group by account, chunk, one node per profile) is
timed as the median of N runs; the peer is its floor, sorting the same
profiles by name. A second row times the whole step the tray takes on a
change: model, then its text (compared to skip unchanged menus). When Xvfb and
PyGObject are there, a third row times what the GUI thread then does with it:
pystray's Menu and the GTK widgets (the tray rebuilds them when the text changes,
at most once a minute while "in N min" counts down).

    python bench/menu_build.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import median_seconds

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
from tray.ui.menu import MenuActions, build_menu_model
from tray.ui.tray_app import to_pystray
import pystray
from PIL import Image
profs = profiles()
now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
snap = Snapshot(state=RefreshState.FRESH, role=sorted(profs)[1234], now=now,
                expiration=now + timedelta(hours=1))
model = build_menu_model(snap, profs, now=now, tz=timezone.utc, actions=MenuActions())
icon = pystray.Icon("bench", Image.new("RGBA", (16, 16)), "bench", None)
times = []
for _ in range(7):
    t0 = time.perf_counter()
    icon._create_menu(to_pystray(model)).destroy()
    times.append(time.perf_counter() - t0)
print(statistics.median(times) * 1000)
"""


def gtk_row() -> tuple[str, str, str, str] | None:
    """pystray Menu + GTK widgets for the same model, on a virtual display."""
    try:
        import gi  # noqa: F401
    except ImportError:
        return None
    if shutil.which("Xvfb") is None:
        return None
    sys.path.insert(0, str(HERE.parent / "tests"))
    from xsession import XSession

    with XSession(Path(tempfile.mkdtemp(prefix="roletray-bench-menu-")), tray=False,
                  notifications=False) as xs:
        code = GTK_CODE.format(bench=str(HERE), repo=str(HERE.parent))
        out = subprocess.run([sys.executable, "-c", code], env=xs.env_with(os.environ),
                             capture_output=True, text=True, timeout=300, check=True)
    ms = float(out.stdout.strip().splitlines()[-1])
    return ("GTK menu widgets for that model (pystray gtk backend, Xvfb; median of 7)",
            f"{ms:.1f} ms", "-", "on the GUI thread, at most once a minute")


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
        *([row] if (row := gtk_row()) else []),
    ]


def main(argv: list[str]) -> int:
    rows = run()
    for row in rows:
        print(" | ".join(row))
    return 0 if float(rows[0][1].split()[0]) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
