"""The in-process adapter of ``tray.engine.ports.AwsPort``: botocore in this process.

For one-shot commands and for the worker child itself (``tray.worker_main``); the
long-running tray and daemon use ``tray.child.aws.ChildAws`` instead. It conforms to
the port structurally: ``tray.aws`` never imports ``tray.engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from tray.aws import source_keys, sts
from tray.aws.session import ClientFactory
from tray.domain.errors import RoletrayError
from tray.domain.models import AssumeResult, RoleProfile, SourceSession, TempCredentials
from tray.domain.text import N_, Text

ProfileMap = Mapping[str, Mapping[str, str]]
# (profile, *, env) -> [summary, report]: ``tray.doctor.brief.brief``, given by the
# composition root (the doctor builds on this package, so it is not imported here).
Doctor = Callable[..., list[str]]


class InProcessAws:
    """Every call runs here, under ``env`` (the AWS files, endpoints, timeouts)."""

    def __init__(self, env: Mapping[str, str], *, client_factory: ClientFactory | None = None,
                 doctor: Doctor | None = None) -> None:
        self.env = env
        self.client_factory = client_factory
        self._doctor = doctor

    def assume(self, role: RoleProfile, *, profile_map: ProfileMap | None = None,
               mfa_code: str | None = None, duration: int | None = None,
               session: TempCredentials | None = None,
               now: Callable[[], datetime] | None = None) -> AssumeResult:
        return sts.assume_role(role, mfa_code=mfa_code, duration=duration, env=self.env,
                               profile_map=profile_map, client_factory=self.client_factory,
                               now=now, session=session)

    def session_token(self, role: RoleProfile, code: str, *, duration: int,
                      profile_map: ProfileMap | None = None) -> TempCredentials:
        creds, _date = sts.get_session_token(role, code, duration=duration, env=self.env,
                                             profile_map=profile_map,
                                             client_factory=self.client_factory)
        return creds

    def source_session(self, source: str, *, file_id: str | None,
                       mfa_code: str | None = None,
                       duration: int | None = None) -> SourceSession:
        return source_keys.start_session(source, env=self.env, file_id=file_id,
                                         mfa_code=mfa_code, duration=duration)

    def verify_target(self, target: str, access_key_id: str, *,
                      profile_map: ProfileMap | None = None) -> None:
        sts.verify_target(target, access_key_id, self.env, profile_map=profile_map)

    def diagnose(self, profile: str | None) -> tuple[str, str]:
        if self._doctor is None:
            raise RoletrayError(Text(N_("internal error: this roletray was built without its "
                                        "doctor")))
        summary, report = self._doctor(profile, env=self.env)
        return summary, report
