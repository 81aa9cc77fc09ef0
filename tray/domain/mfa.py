"""An MFA session's value: its keys (secret) and whose they are.

Made by ``tray.engine.mfa_session.start_session`` (one sts:GetSessionToken), kept in
memory by the running instance (``MfaSessionCache``), carried to and from a worker on
its private pipe (``to_wire``/``from_wire``), never in argv, a file or a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tray.domain.models import RoleProfile, TempCredentials, iso_utc, parse_iso_utc

SessionKey = tuple[str, str]  # (source, mfa_serial)

# A session this close to its end is not used for a call: the call could outlive it.
EXPIRY_SLACK = timedelta(minutes=2)


@dataclass(frozen=True)
class MfaSession:
    """An MFA session's keys (secret) and whose they are. ``expiration`` is AWS's clock."""

    source: str
    mfa_serial: str
    credentials: TempCredentials

    @property
    def key(self) -> SessionKey:
        return (self.source, self.mfa_serial)

    @property
    def expiration(self) -> datetime:
        return self.credentials.expiration

    def usable(self, now: datetime) -> bool:
        """Good for one more call at ``now`` (by AWS's clock)."""
        return now < self.expiration - EXPIRY_SLACK

    def to_wire(self) -> dict[str, str]:
        """For the worker's pipes only: this holds the secret key and the token."""
        c = self.credentials
        return {"source": self.source, "mfa_serial": self.mfa_serial,
                "access_key_id": c.access_key_id, "secret_access_key": c.secret_access_key,
                "session_token": c.session_token, "expiration": iso_utc(c.expiration)}

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> MfaSession:
        return cls(source=str(doc["source"]), mfa_serial=str(doc["mfa_serial"]),
                   credentials=TempCredentials(
                       access_key_id=str(doc["access_key_id"]),
                       secret_access_key=str(doc["secret_access_key"]),
                       session_token=str(doc["session_token"]),
                       expiration=parse_iso_utc(str(doc["expiration"]))))


def session_key(role: RoleProfile) -> SessionKey | None:
    """Roles with the same source and MFA device share a session; None without MFA."""
    if not role.mfa_serial:
        return None
    return (role.source, role.mfa_serial)
