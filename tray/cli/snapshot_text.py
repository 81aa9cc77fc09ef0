"""The status table as a person reads it: what ``roletray assume``, ``status`` and
``refresh`` print under their first line.

Lean on purpose (no argparse, no logging, nothing of the engine): a hand-over path that
prints the same table imports this module alone.
"""

from __future__ import annotations

from typing import Any

from tray.domain import timefmt


def shown(text: str) -> str:
    """``text`` for a terminal: a name from a config file may hold escape sequences,
    control characters or bidi overrides; those are shown escaped (as ``ascii()``
    does), never sent raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {shown(v)}" for k, v in rows)


def snapshot_rows(snap: Any) -> list[tuple[str, str]]:
    from tray.domain.models import utcnow

    now = snap.now or utcnow()
    rows = [("state", snap.state.value), ("role", snap.role or "-"), ("target", f"[{snap.target}]")]
    if snap.identity_arn:
        rows.append(("identity", snap.identity_arn))
    if snap.account:
        rows.append(("account", snap.account))
    if snap.expiration:
        rows.append(("expires", timefmt.when(snap.expiration, now)))
    if snap.mfa_session_expiration:
        verb = "ends" if snap.mfa_session_expiration > now else "ended"
        rows.append(("MFA session", f"{verb} {timefmt.when(snap.mfa_session_expiration, now)}"))
    if snap.clock_skew_seconds:
        rows.append(("clock skew", f"{snap.clock_skew_seconds:+.0f} s against AWS"))
    if snap.last_error:
        rows.append(("last error", snap.last_error))
    return rows


def snapshot_of(snap_json: dict[str, Any]) -> Any:
    from tray.domain.models import RefreshState, Snapshot, parse_iso_utc, utcnow
    from tray.domain.problems import Problem

    return Snapshot(
        state=RefreshState(snap_json.get("state", "idle")), role=snap_json.get("role"),
        target=snap_json.get("target") or "roletray", identity_arn=snap_json.get("identity_arn"),
        account=snap_json.get("account"),
        expiration=parse_iso_utc(snap_json["expiration"]) if snap_json.get("expiration") else None,
        now=utcnow(), problem=Problem.from_json(snap_json.get("problem")),
        clock_skew_seconds=snap_json.get("clock_skew_seconds"),
        mfa_session_expiration=parse_iso_utc(snap_json["mfa_session_expiration"])
        if snap_json.get("mfa_session_expiration") else None)
