"""Times as people read them: one wording for the CLI, the doctor, the menu and the
notifications (89 minutes is ``1 h 29 min`` everywhere)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def clock_time(dt: datetime, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """``14:26 CET`` in ``tz`` (None: the machine's zone), never UTC shown as local; with
    ``now``, ``tomorrow 01:05 CEST`` or ``Nov 28 14:26 CET`` on another day.

    >>> from datetime import timezone
    >>> clock_time(datetime(2026, 11, 28, 13, 26, tzinfo=timezone.utc), tz=timezone.utc)
    '13:26 UTC'
    """
    local = dt.astimezone(tz) if tz is not None else dt.astimezone()
    zone = local.strftime("%Z")
    if not zone or zone[0] in "+-":
        off = local.utcoffset() or timedelta(0)
        total = int(off.total_seconds() // 60)
        sign = "+" if total >= 0 else "-"
        zone = f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    text = local.strftime("%H:%M") + " " + zone
    if now is not None:
        today = (now.astimezone(tz) if tz is not None else now.astimezone()).date()
        if local.date() != today:
            prefix = "tomorrow" if local.date() == today + timedelta(days=1) else \
                local.strftime("%b %d").replace(" 0", " ")
            text = f"{prefix} {text}"
    return text


def duration(seconds: int) -> str:
    """``40 s``, ``52 min``, ``1 h 29 min``, ``2 h``: whole units, rounded down."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d} min"


def relative(dt: datetime, now: datetime) -> str:
    """``in 52 min`` or ``4 min ago``."""
    seconds = int((dt - now).total_seconds())
    return f"in {duration(seconds)}" if seconds >= 0 else f"{duration(-seconds)} ago"


def when(dt: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """``14:26 KST (in 52 min)``: the clock time and how far off it is."""
    return f"{clock_time(dt, now, tz)} ({relative(dt, now)})"


def expiry_phrase(expiration: datetime, now: datetime, tz: tzinfo | None, *,
                  plural: bool = False, relative: bool = True) -> str:
    """``expires 14:26 CET (in 52 min)`` or ``expired 14:26 CET (4 min ago)``;
    ``plural`` gives ``expire ...`` for "the keys expire ..."; ``relative`` False leaves
    out the part in brackets."""
    left = int((expiration - now).total_seconds())
    at = clock_time(expiration, now, tz)
    if not relative:
        return f"{'expire' if plural else 'expires'} {at}" if left > 0 else f"expired {at}"
    if left > 0:
        return f"{'expire' if plural else 'expires'} {at} (in {duration(left)})"
    return f"expired {at} ({duration(-left)} ago)"


def keys_work_until(expiration: datetime, now: datetime, tz: tzinfo | None) -> str:
    """``keys work until 08:16 CET``: after a refused refresh, how long tools still work."""
    return f"keys work until {clock_time(expiration, now, tz)}"


def mfa_session_phrase(end: datetime, now: datetime, tz: tzinfo | None, *,
                       relative: bool = True) -> str:
    """``MFA session ends 02:14 KST (in 11 h 58 min)``, or ``... ended ... ago``;
    ``relative`` False leaves out the part in brackets."""
    left = int((end - now).total_seconds())
    at = clock_time(end, now, tz)
    if not relative:
        return f"MFA session {'ends' if left > 0 else 'ended'} {at}"
    if left > 0:
        return f"MFA session ends {at} (in {duration(left)})"
    return f"MFA session ended {at} ({duration(-left)} ago)"
