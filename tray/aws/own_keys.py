"""Keys of the profiles that are not assumed: an Identity Center permission set
(one ``sso:GetRoleCredentials``) and an ``aws login`` sign-in (its own 15-minute keys).

Both are resolved by botocore's own providers, built by ``tray.aws.session`` from the
caller's env (token caches under its HOME, endpoints from its variables), so the
sign-ins are read, refreshed and saved exactly where the AWS CLI keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tray.aws import session as aws_session
from tray.domain.errors import AccessDeniedError, RoletrayError, UsageError
from tray.domain.models import AssumeResult, RoleProfile, TempCredentials, utcnow
from tray.domain.text import N_, Text

# A sign-in's keys with less than this left are renewed when roletray asks: more than
# the refresh margin of a 15-minute session (half of it), so every refresh renews once.
LOGIN_RENEW_BELOW = timedelta(minutes=10)


def own_keys(profile: RoleProfile, *, env: Mapping[str, str],
             profile_map: Mapping[str, Mapping[str, str]] | None = None,
             duration: int | None = None, now: Callable[[], datetime] | None = None,
             limits: aws_session.Limits | None = None) -> AssumeResult:
    """The keys of ``profile`` ("sso" or "login" kind) and who they make you."""
    now = now or utcnow
    if duration is not None:
        what = (Text(N_("an Identity Center permission set")) if profile.kind == "sso"
                else Text(N_("an aws login sign-in")))
        raise UsageError(N_("profile '{name}' is {what}: AWS sets how long its keys last, so "
                            "--duration does not apply"),
                         name=profile.name, what=what)
    try:
        session = aws_session.own_session(profile, env=env, profile_map=profile_map,
                                          limits=limits,
                                          login_renew_below=LOGIN_RENEW_BELOW)
        creds = session.get_credentials()
        if creds is None:
            raise LookupError("no credentials")
        frozen = creds.get_frozen_credentials()
        received = now()
    except RoletrayError:
        raise
    except Exception as e:
        raise _error(e, profile, env, profile_map) from e
    expiry = _expiry(creds)
    keys = TempCredentials(access_key_id=frozen.access_key, secret_access_key=frozen.secret_key,
                           session_token=frozen.token or "", expiration=expiry)
    return AssumeResult(profile=profile.name, credentials=keys,
                        identity_arn=_identity(profile), assumed_role_id="",
                        received_at=received)


def _expiry(creds: Any) -> datetime:
    """When botocore's refreshable credentials expire (it keeps the time it was told)."""
    value = getattr(creds, "_expiry_time", None)
    if not isinstance(value, datetime):
        raise TypeError("no expiry")
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _identity(profile: RoleProfile) -> str:
    """Who the keys make you, without a second call: the signed-in user's ARN for a
    sign-in; for a permission set, the role Identity Center made for it, whose name ends
    in a suffix only another call would tell (shown as ``_*``)."""
    if profile.kind == "login" and (profile.login_session or "").startswith("arn:"):
        return str(profile.login_session)
    if profile.kind == "sso":
        return (f"arn:aws:sts::{profile.account_id}:assumed-role/"
                f"AWSReservedSSO_{profile.sso_role_name}_*")
    return f"arn:aws:iam::{profile.account}:user/{profile.role_name}"


def _error(e: Exception, profile: RoleProfile, env: Mapping[str, str],
           profile_map: Mapping[str, Mapping[str, str]] | None) -> RoletrayError:
    from tray.aws import sts

    if profile.kind == "sso":
        code = aws_session.error_code(e)
        if code == "ForbiddenException":
            return AccessDeniedError(
                N_("profile '{name}': Identity Center does not give your sign-in permission set "
                   "{sso_role_name} in account {account_id} (ForbiddenException); ask for that "
                   "assignment, or run `roletray sso populate` to list the ones you have"),
                name=profile.name, sso_role_name=profile.sso_role_name,
                account_id=profile.account_id)
    return sts.source_error(e, profile, (), env, profile_map)
