"""One wording for times: the CLI, the menu and the notifications say a span alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tray.cli import snapshot_text
from tray.domain import timefmt
from tray.domain.models import RefreshState, Snapshot
from tray.ui.menu import MenuActions, build_menu_model, render_text

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "0 s"), (40, "40 s"), (89, "1 min"), (60 * 52, "52 min"), (60 * 89, "1 h 29 min"),
    (60 * 65, "1 h 05 min"), (3600 * 2, "2 h"), (3600 * 12 - 60, "11 h 59 min"),
])
def test_a_span_is_said_one_way(seconds: int, said: str) -> None:
    assert timefmt.duration(seconds) == said


def test_relative_both_ways() -> None:
    assert timefmt.relative(NOW + timedelta(minutes=52), NOW) == "in 52 min"
    assert timefmt.relative(NOW - timedelta(minutes=4), NOW) == "4 min ago"


def test_89_minutes_read_the_same_in_the_cli_and_the_menu() -> None:
    # Before: "(in 89 min)" from `roletray status`, "(in 1 h 29 min)" in the tray's menu.
    exp = NOW + timedelta(minutes=89)
    snap = Snapshot(state=RefreshState.FRESH, role="platform", expiration=exp, now=NOW)
    cli_line = dict(snapshot_text.snapshot_rows(snap))["expires"]
    menu = render_text(build_menu_model(snap, {}, now=NOW, tz=ZoneInfo("Asia/Seoul"),
                                        actions=MenuActions()))
    assert cli_line.endswith("(in 1 h 29 min)")
    assert "(in 1 h 29 min)" in menu
