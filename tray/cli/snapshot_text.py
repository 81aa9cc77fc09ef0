"""The status table as a person reads it: what ``roletray assume`` (handed over),
``status`` and ``refresh`` print, from a snapshot's JSON document (``Snapshot.to_json``,
as the running instance sends it).

Lean on purpose: the standard library's datetime (unicodedata for wide text),
``tray.domain.timefmt`` and ``tray.i18n``, nothing else (no argparse, logging,
dataclasses, nor the domain's models), so that a hand-over path can print the same table
importing this module alone (``python -X importtime -c "import tray.cli.snapshot_text"``;
tests/test_cli_lean.py keeps it so).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tray.domain import timefmt
from tray.domain.text import lines_from_json, localized, text_of
from tray.i18n import N_, _

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


def width(text: str) -> int:
    """The columns ``text`` takes on a terminal: an East Asian wide or full-width
    character (Korean, say) takes two."""
    if text.isascii():
        return len(text)
    import unicodedata  # loaded only for such text

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """``text`` filled with spaces to ``columns`` terminal columns (``str.ljust`` counts
    characters, which leaves a Korean label's column out of line)."""
    return text + " " * max(0, columns - width(text))


def table(rows: list[tuple[str, str]]) -> str:
    """Labels (in the user's language) in a column, then their values."""
    columns = max(width(k) for k, _v in rows)
    return "\n".join(f"{pad(k, columns)}  {shown(v)}" for k, v in rows)


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells in aligned columns (a header row first), trailing blanks cut."""
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


# The states as the table names them (the menu's words where it has them).
STATES = {"idle": N_("idle"), "fresh": N_("fresh"), "refreshing": N_("refreshing"),
          "retrying": N_("retrying"), "expired": N_("expired"),
          "needs-input": N_("needs input"), "error": N_("error")}


def _utc(text: str) -> datetime:
    """``tray.domain.models.parse_iso_utc``, without loading the models."""
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).astimezone(UTC)


def snapshot_rows(snap: Mapping[str, Any], now: datetime | None = None) -> list[tuple[str, str]]:
    """The rows of one kept section's snapshot document, its times against ``now``."""
    now = now or datetime.now(UTC)
    state = str(snap.get("state") or "idle")
    rows = [(_("state"), _(STATES[state]) if state in STATES else state),
            (_("role"), snap.get("role") or "-"),
            (_("target"), f"[{snap.get('target') or 'roletray'}]")]
    if snap.get("identity_arn"):
        rows.append((_("identity"), snap["identity_arn"]))
    if snap.get("account"):
        rows.append((_("account"), snap["account"]))
    if snap.get("expiration"):
        rows.append((_("expires"), timefmt.when(_utc(snap["expiration"]), now)))
    if snap.get("mfa_session_expiration"):
        ends = _utc(snap["mfa_session_expiration"])
        rows.append((_("MFA session"), (_("ends {when}") if ends > now else
                                         _("ended {when}")).format(when=timefmt.when(ends, now))))
    if snap.get("clock_skew_seconds"):
        rows.append((_("clock skew"), _("{seconds:+.0f} s against AWS").format(
            seconds=snap["clock_skew_seconds"])))
    problem = snap.get("problem")
    if isinstance(problem, dict) and problem.get("message"):
        said = text_of(problem.get("template"), problem.get("fields"))  # the reader's language
        rows.append((_("last error"), " ".join(said.localized.split()) if said is not None
                     else str(problem["message"])))
    return rows


def snapshot_table(snap: Mapping[str, Any], extra: str = "") -> str:
    """``extra`` (a first line, already shown-safe) and one section's table."""
    text = table(snapshot_rows(snap))
    return f"{extra}\n{text}" if extra else text


def warning_lines(reply: Mapping[str, Any]) -> list[str]:
    """The warnings of a running instance's switch (the credentials file's mode, AWS_*
    variables that win over the profile), as the full command line prints them: one
    ``warning: ...`` line each, in the reader's language where the reply says how."""
    return [warning_line(w)
            for w in lines_from_json(reply.get("warnings"), reply.get("warning_texts"))]


def warning_line(message: str) -> str:
    """``warning: MESSAGE`` on one line, in the reader's language where ``message`` (a
    ``Text``, an error's words) has one."""
    return shown(_("warning: {message}").format(message=" ".join(str(localized(message)).split())))


def switched_line(profile: str, target: object, default: object) -> str:
    """What ``assume`` says after a running instance switched: the default target, or
    one more section it keeps fresh (shown-safe)."""
    if target in (None, default):
        return shown(_("Switched the running roletray to {profile}.").format(profile=profile))
    return shown(_("The running roletray keeps {profile} fresh in [{target}] too.").format(
        profile=profile, target=target))


def sections_text(sections: Sequence[Mapping[str, Any]]) -> str:
    """``status``: the default target's section, then every other kept one."""
    parts = [table(snapshot_rows(sections[0]))]
    for snap in sections[1:]:
        parts.append("\n" + shown(_("Also kept fresh: {role} -> [{target}]").format(
            role=snap.get("role") or "-", target=snap.get("target") or "roletray")))
        parts.append(table(snapshot_rows(snap)))
    return "\n".join(parts)
