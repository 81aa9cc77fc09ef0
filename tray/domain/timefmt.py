"""Times as people read them: one wording for the CLI, the doctor, the menu and the
notifications (89 minutes is ``1 h 29 min`` everywhere)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from tray.i18n import N_, _

_MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
           N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


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
        if local.date() == today + timedelta(days=1):
            text = _("tomorrow {time}").format(time=text)
        elif local.date() != today:
            text = _("{month} {day} {time}").format(month=_(_MONTHS[local.month - 1]),
                                                     day=local.day, time=text)
    return text


def duration(seconds: int) -> str:
    """``40 s``, ``52 min``, ``1 h 29 min``, ``2 h``: whole units, rounded down."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    return _("{hours} h").format(hours=hours) if minutes == 0 else \
        _("{hours} h {minutes:02d} min").format(hours=hours, minutes=minutes)


def relative(dt: datetime, now: datetime) -> str:
    """``in 52 min`` or ``4 min ago``."""
    seconds = int((dt - now).total_seconds())
    return _("in {left}").format(left=duration(seconds)) if seconds >= 0 else \
        _("{left} ago").format(left=duration(-seconds))


def when(dt: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """``14:26 KST (in 52 min)``: the clock time and how far off it is."""
    return _("{time} ({relative})").format(time=clock_time(dt, now, tz),
                                           relative=relative(dt, now))


def expiry_phrase(expiration: datetime, now: datetime, tz: tzinfo | None, *,
                  plural: bool = False, relative: bool = True) -> str:
    """``expires 14:26 CET (in 52 min)`` or ``expired 14:26 CET (4 min ago)``;
    ``plural`` gives ``expire ...`` for "the keys expire ..."; ``relative`` False leaves
    out the part in brackets."""
    left = int((expiration - now).total_seconds())
    at = clock_time(expiration, now, tz)
    if not relative:
        if left <= 0:
            return _("expired {when}").format(when=at)
        return (_("expire {when}") if plural else _("expires {when}")).format(when=at)
    if left > 0:
        return (_("expire {when} (in {left})") if plural else
                _("expires {when} (in {left})")).format(when=at, left=duration(left))
    return _("expired {when} ({left} ago)").format(when=at, left=duration(-left))


def keys_work_until(expiration: datetime, now: datetime, tz: tzinfo | None) -> str:
    """``keys work until 08:16 CET``: after a refused refresh, how long tools still work."""
    return _("keys work until {when}").format(when=clock_time(expiration, now, tz))


def mfa_session_phrase(end: datetime, now: datetime, tz: tzinfo | None, *,
                       relative: bool = True) -> str:
    """``MFA session ends 02:14 KST (in 11 h 58 min)``, or ``... ended ... ago``;
    ``relative`` False leaves out the part in brackets."""
    left = int((end - now).total_seconds())
    at = clock_time(end, now, tz)
    if not relative:
        return (_("MFA session ends {when}") if left > 0 else
                _("MFA session ended {when}")).format(when=at)
    if left > 0:
        return _("MFA session ends {when} (in {left})").format(when=at, left=duration(left))
    return _("MFA session ended {when} ({left} ago)").format(when=at, left=duration(-left))
