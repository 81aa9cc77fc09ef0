"""MFA sessions: one code a day instead of one code an hour.

For a role profile with ``mfa_serial``, one code starts a session:
``sts:GetSessionToken`` with SerialNumber and TokenCode, signed by the role's
*source* (``mfa_session_hours`` long, 12 by default). The role is then assumed
with the session's keys, without a code: they carry the MFA, so trust policies
that ask for ``aws:MultiFactorAuthPresent`` still pass. Roles that share a
source profile and an MFA device share the session.

The keys live in the memory of the running tray or daemon only
(``MfaSessionCache``); they travel to a refresh worker through its stdin pipe
and back through its stdout pipe, never through argv, a file or a log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime

from tray.domain.errors import TemporarySourceKeysError
from tray.domain.mfa import EXPIRY_SLACK, MfaSession, SessionKey, session_key
from tray.domain.models import RoleProfile
from tray.engine.ports import AwsPort

log = logging.getLogger(__name__)

# AWS refuses GetSessionToken signed by temporary keys (a role, SSO, most processes).
_TEMPORARY_SOURCE_KEYS = ("role_arn", "sso_session", "sso_start_url", "web_identity_token_file")

__all__ = ["EXPIRY_SLACK", "MfaSession", "MfaSessionCache", "SessionKey", "can_start",
           "session_key", "start_session"]


def can_start(role: RoleProfile, profile_map: Mapping[str, Mapping[str, str]]) -> bool:
    """False when the source's keys are known to be temporary: AWS would refuse
    GetSessionToken, so the code goes to AssumeRole itself, as without sessions."""
    if not role.mfa_serial or role.credential_source is not None:
        return False
    source = profile_map.get(str(role.source_profile), {})
    if role.source_profile == role.name:
        return True  # a role profile that is its own source: its static keys
    return not any(k in source for k in _TEMPORARY_SOURCE_KEYS)


def start_session(role: RoleProfile, code: str, *, hours: int, aws: AwsPort,
                  profile_map: Mapping[str, Mapping[str, str]] | None = None
                  ) -> MfaSession | None:
    """GetSessionToken with ``code`` through ``aws``; None when the source cannot start
    a session (its keys are temporary), so that the caller sends the code with
    AssumeRole."""
    if role.mfa_serial is None:
        return None
    if profile_map is not None and not can_start(role, profile_map):
        return None
    try:
        creds = aws.session_token(role, code, duration=hours * 3600, profile_map=profile_map)
    except TemporarySourceKeysError:  # the code was not used
        log.info("profile %s: its source has temporary keys; sending the MFA code with "
                 "AssumeRole instead of starting an MFA session", role.name)
        return None
    return MfaSession(source=role.source, mfa_serial=role.mfa_serial, credentials=creds)


class MfaSessionCache:
    """The running instance's MFA sessions, in memory only. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[SessionKey, MfaSession] = {}

    def get(self, key: SessionKey | None, now: datetime) -> MfaSession | None:
        """The session for ``key`` if it is still good for a call at ``now``."""
        session = self.peek(key)
        return session if session is not None and session.usable(now) else None

    def peek(self, key: SessionKey | None) -> MfaSession | None:
        """The session for ``key``, even one that has ended."""
        if key is None:
            return None
        with self._lock:
            return self._sessions.get(key)

    def put(self, session: MfaSession) -> None:
        with self._lock:
            self._sessions[session.key] = session

    def drop(self, key: SessionKey | None) -> bool:
        if key is None:
            return False
        with self._lock:
            return self._sessions.pop(key, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

