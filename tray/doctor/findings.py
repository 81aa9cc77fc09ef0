"""What the doctor found: one ``Finding`` per check, gathered in a ``Report``. No I/O.

A finding's ``message`` and ``fix`` are English (``--json``, logs, tests read them); each is
a ``tray.domain.text.Text`` where it was written from a template, so the report is shown
in the reader's language (``tray.domain.text.localized``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tray.domain.errors import RoletrayError
from tray.domain.models import iso_utc
from tray.domain.text import Text, join

Status = Literal["ok", "problem", "unknown"]
STATUSES: tuple[Status, ...] = ("ok", "problem", "unknown")

# Checks whose problem stops the role from being assumed (the others are traps
# that make tools miss roletray's keys, or hazards).
BLOCKING = ("profile", "whoami", "trust", "identity", "limits", "assume")


@dataclass(frozen=True)
class Finding:
    """One check's result. ``message`` is one line; ``fix`` may span lines (JSON to paste).

    ``detail`` is shown under the message (the caller identity as JSON, say);
    ``data`` is machine-readable detail for ``--json``. Neither holds a secret.
    """

    id: str
    status: Status
    message: str
    fix: str | None = None
    data: dict[str, Any] | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def blocking(self) -> bool:
        return self.id in BLOCKING

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message,
                "fix": self.fix, "data": self.data}

    def but(self, status: Status, note: str) -> Finding:
        """The same finding with another status and a note appended to its message."""
        return Finding(self.id, status, join("; ", [self.message, note]), self.fix, self.data,
                       self.detail)


def said(error: RoletrayError) -> Text:
    """An error's message as a finding says it: ``str(error)``, in the reader's language
    where the error has a translation."""
    return Text("{error}", error=error)


UNREACHABLE = "unreachable"  # a Finding.data flag: AWS could not be reached, or answered garbage


@dataclass
class Report:
    """Every finding for one profile. ``exit_code``: 0 nothing wrong found, 1 a problem."""

    profile: str | None
    role_arn: str | None = None
    source: str | None = None
    caller_arn: str | None = None
    target: str | None = None
    findings: list[Finding] = field(default_factory=list)
    checked_at: datetime | None = None

    @property
    def problems(self) -> list[Finding]:
        """Problems, those that stop the role first."""
        found = [f for f in self.findings if f.status == "problem"]
        return sorted(found, key=lambda f: (not f.blocking, self.findings.index(f)))

    @property
    def unknowns(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "unknown"]

    @property
    def exit_code(self) -> int:
        """1 also when AWS could not be reached: nothing was checked, so nothing is known good."""
        unreachable = any(f.data and f.data.get(UNREACHABLE) for f in self.findings)
        return 1 if self.problems or unreachable else 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def finding(self, check_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        from tray.doctor.diagnose import summarize

        return {
            "profile": self.profile,
            "role_arn": self.role_arn,
            "source": self.source,
            "caller_arn": self.caller_arn,
            "target": self.target,
            "checked_at": iso_utc(self.checked_at) if self.checked_at else None,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "summary": summarize(self),
            "problems": [f.id for f in self.problems],
            "findings": [f.to_json() for f in self.findings],
        }
