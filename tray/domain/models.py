"""Plain data: role profiles, temporary credentials and status snapshots. No I/O."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tray.domain.problems import Problem
from tray.domain.text import N_, Text

ROLE_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):iam::(?P<account>\d{12}):role/(?P<path_name>[\w+=,.@/-]{1,512})$"
)


def mask(value: str | None) -> str:
    """Mask a key as the AWS CLI does: ``****************HQEK``."""
    if not value:
        return "<not set>"
    return "*" * 16 + value[-4:]


RoleKind = Literal["assume", "sso", "login"]
_USER_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(?P<account>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$")


@dataclass(frozen=True)
class RoleProfile:
    """A profile of the AWS config file that roletray can keep fresh in a section.

    ``kind`` says how its keys are made: "assume" (``role_arn``: one sts:AssumeRole),
    "sso" (an IAM Identity Center permission set: ``sso_account_id`` and
    ``sso_role_name``, one sso:GetRoleCredentials), "login" (an ``aws login`` sign-in,
    the signed-in user itself: ``login_session``)::

    >>> RoleProfile(name="platform", role_arn="arn:aws:iam::111122223333:role/platform",
    ...             source_profile="default").account
    '111122223333'
    >>> RoleProfile(name="dev-admin", role_arn="", kind="sso", account_id="111122223333",
    ...             sso_role_name="Admin").describe
    'permission set Admin in account 111122223333'
    """

    name: str
    role_arn: str  # "" for the kinds that have none (sso, login)
    source_profile: str | None = None
    credential_source: str | None = None
    mfa_serial: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    region: str | None = None
    sts_regional_endpoints: str | None = None
    kind: RoleKind = "assume"
    account_id: str | None = None  # sso: sso_account_id
    sso_role_name: str | None = None  # sso: the permission set
    login_session: str | None = None  # login: the session's name (the user's ARN)
    guard: str | None = None  # roletray_guard: asked before it becomes the active role
    mfa_process: str | None = None  # a command that prints the MFA code (a YubiKey's)

    @property
    def account(self) -> str:
        if self.kind == "sso":
            return self.account_id or ""
        if self.kind == "login":
            m = _USER_ARN_RE.match(self.login_session or "")
            return m.group("account") if m else ""
        m = ROLE_ARN_RE.match(self.role_arn)
        return m.group("account") if m else ""

    @property
    def role_name(self) -> str:
        if self.kind == "sso":
            return self.sso_role_name or ""
        if self.kind == "login":
            m = _USER_ARN_RE.match(self.login_session or "")
            return m.group("name") if m else self.name
        m = ROLE_ARN_RE.match(self.role_arn)
        return m.group("path_name").rsplit("/", 1)[-1] if m else self.role_arn

    @property
    def describe(self) -> str:
        """What the profile's keys are, for people: the role ARN, the permission set, the
        signed-in user."""
        if self.kind == "sso":
            return Text(N_("permission set {name} in account {account}"),
                        name=self.sso_role_name, account=self.account_id)
        if self.kind == "login":
            return Text(N_("aws login sign-in {session}"), session=self.login_session)
        return self.role_arn

    @property
    def source(self) -> str:
        """What the keys come from, as shown to the user."""
        if self.kind == "sso":
            return "IAM Identity Center"
        if self.kind == "login":
            return "aws login"
        if self.source_profile:
            return self.source_profile
        return f"credential_source={self.credential_source}"


@dataclass(frozen=True)
class TempCredentials:
    """Temporary keys from STS; ``expiration`` is timezone-aware UTC."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime

    def __post_init__(self) -> None:
        if self.expiration.tzinfo is None:
            raise ValueError("expiration must be timezone-aware")

    @property
    def masked_key(self) -> str:
        return mask(self.access_key_id)


@dataclass(frozen=True)
class AssumeResult:
    """What one AssumeRole call gave: the keys and who they make you."""

    profile: str
    credentials: TempCredentials
    identity_arn: str  # AssumedRoleUser.Arn, e.g. arn:aws:sts::1111:assumed-role/platform/s
    assumed_role_id: str
    server_date: datetime | None = None  # the response's Date header, for clock skew
    # The local clock when that answer arrived: skew is judged against it, not against
    # the clock when a parent process handles the result (a suspend may come between).
    received_at: datetime | None = None

    @property
    def account(self) -> str:
        parts = self.identity_arn.split(":")
        return parts[4] if len(parts) > 4 else ""


@dataclass(frozen=True)
class SourceSession:
    """A GetSessionToken session of a keyring-held source's keys (secret): what
    ``credential-process --source SOURCE`` hands out. ``server_date`` is AWS's clock."""

    source: str
    credentials: TempCredentials
    server_date: datetime | None = None


class RefreshState(str, enum.Enum):
    IDLE = "idle"  # no active role
    FRESH = "fresh"
    REFRESHING = "refreshing"
    RETRYING = "retrying"
    EXPIRED = "expired"
    NEEDS_INPUT = "needs-input"  # an MFA code or a sign-in is needed
    ERROR = "error"  # a failure that retrying will not fix (AccessDenied, bad config)


@dataclass(frozen=True)
class Snapshot:
    """The state of roletray at one moment, for the CLI, the tray and notifications."""

    state: RefreshState = RefreshState.IDLE
    role: str | None = None
    target: str = "roletray"
    identity_arn: str | None = None
    account: str | None = None
    expiration: datetime | None = None
    now: datetime | None = None
    # Why roletray cannot go on by itself (the last failure), as fields to read.
    problem: Problem | None = None
    clock_skew_seconds: float | None = None
    # When the active role's MFA session ends (AWS's clock); None without one.
    mfa_session_expiration: datetime | None = None

    @property
    def last_error(self) -> str | None:
        """The problem's whole message, one line (the CLI's "last error")."""
        return self.problem.message if self.problem is not None else None

    @property
    def last_error_localized(self) -> str | None:
        """``last_error`` in the reader's language (``Problem.localized``): what a person
        reads, where ``last_error`` is what a log or ``--json`` keeps."""
        return self.problem.localized() if self.problem is not None else None

    @property
    def input_needed(self) -> str | None:
        """In the needs-input state: what a person must provide ("mfa", "sso", "process")."""
        if self.state is not RefreshState.NEEDS_INPUT or self.problem is None:
            return None
        return self.problem.input_kind

    @property
    def input_profile(self) -> str | None:
        """In the needs-input state: the profile that input is about (the SSO profile to
        sign in, the process's profile, the role an MFA code is for)."""
        if self.state is not RefreshState.NEEDS_INPUT or self.problem is None:
            return None
        return self.problem.profile

    @property
    def seconds_left(self) -> int | None:
        if self.expiration is None or self.now is None:
            return None
        return max(0, int((self.expiration - self.now).total_seconds()))

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "role": self.role,
            "target": self.target,
            "identity_arn": self.identity_arn,
            "account": self.account,
            "expiration": iso_utc(self.expiration) if self.expiration else None,
            "seconds_left": self.seconds_left,
            "last_error": self.last_error,
            "clock_skew_seconds": self.clock_skew_seconds,
            "mfa_session_expiration": iso_utc(self.mfa_session_expiration)
            if self.mfa_session_expiration else None,
            "input_needed": self.input_needed,
            "input_profile": self.input_profile,
            "problem": self.problem.to_json() if self.problem is not None else None,
        }


def utcnow() -> datetime:
    """The default clock. Logic takes ``now`` as a parameter; only composition uses this."""
    return datetime.now(UTC)


def iso_utc(dt: datetime) -> str:
    """``2026-11-28T14:26:50Z``: the form AWS uses."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
