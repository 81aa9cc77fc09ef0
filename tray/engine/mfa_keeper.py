"""The refresher's MFA sessions: which session a role uses, starting one with a code,
dropping one AWS no longer accepts. The sessions themselves (``MfaSession``, the
in-memory ``MfaSessionCache``, GetSessionToken) live in ``tray.engine.mfa_session``;
when to ask for the next code is ``refresh_policy.mfa_ask_at``.

Sessions are kept only for assume functions that take them (``actions.assume`` and
``worker.assume_in_child`` say so); any other gets one code per AssumeRole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tray.awsfiles import awsconfig
from tray.domain.errors import MfaSessionEndedError, RoletrayError
from tray.domain.mfa import MfaSession, SessionKey, session_key
from tray.domain.models import RoleProfile, iso_utc
from tray.engine import actions
from tray.engine.mfa_codes import MfaCodes
from tray.engine.mfa_session import MfaSessionCache

log = logging.getLogger(__name__)

AssumeFn = Callable[..., actions.Outcome]


class MfaKeeper:
    """The running instance's MFA sessions as the refresher uses them. Thread-safe."""

    def __init__(self, ctx: actions.Context, *, enabled: bool,
                 codes: MfaCodes | None = None) -> None:
        self._ctx = ctx
        self.enabled = enabled
        self._cache = MfaSessionCache()  # secret: never logged, never published
        # Codes of roles with mfa_process, read when a code is needed and none was given.
        self.codes = codes or MfaCodes(ctx.paths.state_dir, ctx.env)

    def key(self, profile: str) -> SessionKey | None:
        """The session ``profile`` would use; None without ``mfa_serial`` or sessions."""
        role = self._role_profile(profile) if self.enabled else None
        return session_key(role) if role is not None else None

    def key_of(self, role: RoleProfile) -> SessionKey | None:
        return session_key(role) if self.enabled else None

    def session(self, key: SessionKey | None) -> MfaSession | None:
        """The session for ``key``, even one that has ended."""
        return self._cache.peek(key)

    def end(self, key: SessionKey | None) -> datetime | None:
        session = self._cache.peek(key)
        return session.expiration if session is not None else None

    def usable(self, key: SessionKey | None, aws_now: datetime) -> bool:
        return self._cache.get(key, aws_now) is not None

    def needs_code(self, profile: str, aws_now: datetime) -> bool:
        """Whether assuming ``profile`` needs a code now (False while a usable session
        lasts, or when it has no ``mfa_serial``)."""
        role = self._role_profile(profile)
        if role is None or not role.mfa_serial:
            return False
        return not self.enabled or self._cache.get(session_key(role), aws_now) is None

    def assume(self, fn: AssumeFn, profile: str, *, aws_now: datetime,
               mfa_code: str | None = None, **kwargs: Any) -> actions.Outcome:
        """``fn(profile, ...)`` with the session it can use, or with ``mfa_code`` to start
        a new one; keeps what it started, drops what AWS refused. A role with
        ``mfa_process`` gets its code from that command when one is needed."""
        if not mfa_code and self.needs_code(profile, aws_now):
            role = self._role_profile(profile)
            if role is not None and role.mfa_process:
                mfa_code = self.codes.code_for(role, role.mfa_process)
        key = self.key(profile)
        if key is None:
            return fn(profile, ctx=self._ctx, mfa_code=mfa_code, **kwargs)
        if mfa_code:  # a code starts a new session, replacing one that may be ending
            kwargs["mfa_session_hours"] = self._ctx.settings.mfa_session_hours
            kwargs["on_mfa_session"] = self._started  # the code is spent: kept even if
            # the AssumeRole after it fails
        else:
            kwargs["mfa_session"] = self._cache.get(key, aws_now)
        try:
            return fn(profile, ctx=self._ctx, mfa_code=mfa_code, **kwargs)
        except MfaSessionEndedError:
            self._cache.drop(key)
            raise

    def _started(self, session: MfaSession) -> None:
        self._cache.put(session)
        log.info("started an MFA session for %s (source %s) until %s", session.mfa_serial,
                 session.source, iso_utc(session.expiration))

    def _role_profile(self, profile: str) -> RoleProfile | None:
        try:
            return awsconfig.get_role_profile(
                profile, self._ctx.config_path, credentials_path=self._ctx.credentials_path,
                home=self._ctx.paths.home)
        except RoletrayError:
            return None  # the assume itself reports what is wrong, with context
