"""Times as people read them, one wording for the CLI, the doctor and the tray."""

from __future__ import annotations

from datetime import datetime


def clock_time(dt: datetime, now: datetime) -> str:
    """``14:26 KST`` today, ``2026-12-08 09:12 KST`` on another day: local time with its
    zone, never UTC shown as local."""
    local = dt.astimezone()
    return local.strftime("%H:%M %Z") if local.date() == now.astimezone().date() \
        else local.strftime("%Y-%m-%d %H:%M %Z")
