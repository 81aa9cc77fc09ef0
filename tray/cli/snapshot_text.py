"""The status table as a person reads it: what ``roletray assume`` (handed over),
``status`` and ``refresh`` print, from a snapshot's JSON document (``Snapshot.to_json``,
as the running instance sends it).

Lean on purpose: the standard library's datetime, ``tray.domain.timefmt`` and
``tray.i18n``, nothing else (no argparse, logging, dataclasses, nor the domain's
models), so that a hand-over path can print the same table importing this module
alone (``python -X importtime -c "import tray.cli.snapshot_text"``;
tests/test_cli_lean.py keeps it so).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tray.domain import timefmt

TYPE_CHECKING = False  # typing itself costs ~4 ms at start-up; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any


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


def _utc(text: str) -> datetime:
    """``tray.domain.models.parse_iso_utc``, without loading the models."""
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).astimezone(UTC)


def snapshot_rows(snap: Mapping[str, Any], now: datetime | None = None) -> list[tuple[str, str]]:
    """The rows of one kept section's snapshot document, its times against ``now``."""
    now = now or datetime.now(UTC)
    rows = [("state", str(snap.get("state") or "idle")), ("role", snap.get("role") or "-"),
            ("target", f"[{snap.get('target') or 'roletray'}]")]
    if snap.get("identity_arn"):
        rows.append(("identity", snap["identity_arn"]))
    if snap.get("account"):
        rows.append(("account", snap["account"]))
    if snap.get("expiration"):
        rows.append(("expires", timefmt.when(_utc(snap["expiration"]), now)))
    if snap.get("mfa_session_expiration"):
        ends = _utc(snap["mfa_session_expiration"])
        verb = "ends" if ends > now else "ended"
        rows.append(("MFA session", f"{verb} {timefmt.when(ends, now)}"))
    if snap.get("clock_skew_seconds"):
        rows.append(("clock skew", f"{snap['clock_skew_seconds']:+.0f} s against AWS"))
    problem = snap.get("problem")
    if isinstance(problem, dict) and problem.get("message"):
        rows.append(("last error", str(problem["message"])))
    return rows


def snapshot_table(snap: Mapping[str, Any], extra: str = "") -> str:
    """``extra`` (a first line, already shown-safe) and one section's table."""
    text = table(snapshot_rows(snap))
    return f"{extra}\n{text}" if extra else text


def sections_text(sections: Sequence[Mapping[str, Any]]) -> str:
    """``status``: the default target's section, then every other kept one."""
    parts = [table(snapshot_rows(sections[0]))]
    for snap in sections[1:]:
        parts.append(f"\nAlso kept fresh: {snap.get('role') or '-'} -> "
                     f"[{snap.get('target') or 'roletray'}]")
        parts.append(table(snapshot_rows(snap)))
    return "\n".join(parts)
