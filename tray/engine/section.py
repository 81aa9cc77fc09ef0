"""One kept target section's state: what the refresher knows and publishes about it.

A ``Section`` is plain data guarded by the refresher's state lock. Keeping it per
target (and naming scheduler jobs after the target) is what lets one refresher
keep several sections fresh later, each with its own schedule, retries and state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tray.domain.errors import RoletrayError
from tray.domain.mfa import SessionKey
from tray.domain.models import RefreshState, Snapshot, TempCredentials
from tray.domain.problems import InputKind, Problem, problem_from
from tray.engine.refresh_policy import Keys

if TYPE_CHECKING:
    from tray.engine import actions

REFRESH_JOB = "refresh"
EXPIRE_JOB = "expire"
MFA_JOB = "mfa-ahead"
JOB_KINDS = (REFRESH_JOB, EXPIRE_JOB, MFA_JOB)


def job_id(kind: str, target: str) -> str:
    """The scheduler job of ``kind`` for section ``target``: ``refresh:roletray``."""
    return f"{kind}:{target}"


@dataclass
class Section:
    target: str
    role: str | None = None
    duration: int | None = None
    identity_arn: str | None = None
    keys: Keys = field(default_factory=Keys)
    creds: TempCredentials | None = None  # secret: never logged, never published
    failures: int = 0
    blocked: bool = False  # the section holds keys that are not ours: hands off
    state: RefreshState = RefreshState.IDLE
    problem: Problem | None = None  # what went wrong, and what it waits for, if anything
    sso_watch: tuple[Path, tuple[int, int] | None] | None = None
    # A keyring wait that is watched: has the keyring read locked since it began?
    # (None: no keyring wait, or nothing to watch it with.) See Refresher._keyring_unlocked.
    keyring_seen_locked: bool | None = None
    mfa_key: SessionKey | None = None  # the MFA session this section's role uses
    # When the scheduled refresh is due (local clock); a refresh job that finds
    # another time here was replaced meanwhile and does nothing.
    refresh_at: datetime | None = None
    last_outcome: actions.Outcome | None = None

    def job(self, kind: str) -> str:
        return job_id(kind, self.target)

    def forget_role(self) -> None:
        """No active role any more (clear): back to an idle section."""
        self.role = self.identity_arn = self.last_outcome = None
        self.creds = None
        self.duration = None
        self.keys = Keys()
        self.failures = 0
        self.blocked = False
        self.mfa_key = None
        self.refresh_at = None

    def snapshot(self, now: datetime, mfa_end: datetime | None) -> Snapshot:
        skew = self.keys.skew
        skewed = skew != timedelta(0)
        return Snapshot(
            state=self.state, role=self.role, target=self.target,
            identity_arn=self.identity_arn, account=_account(self.identity_arn),
            expiration=self.keys.expiration,
            # By AWS's clock when ours is off, so that seconds_left tells the truth.
            now=now - skew,
            problem=self.problem,
            clock_skew_seconds=round(skew.total_seconds(), 1) if skewed else None,
            mfa_session_expiration=mfa_end,
        )


def store_problem(section: Section, error: RoletrayError | Problem | None, *,
                  waiting: tuple[InputKind, str | None] | None = None) -> None:
    """The one place an error reaches the published state (``Snapshot.problem``);
    ``waiting``: the (input kind, profile) a needs-input state waits for."""
    if error is None:
        section.problem = None
        return
    problem = error if isinstance(error, Problem) else problem_from(error, role=section.role)
    section.problem = problem.waiting_for(*waiting) if waiting else problem


def _account(identity_arn: str | None) -> str | None:
    if not identity_arn:
        return None
    parts = identity_arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None
