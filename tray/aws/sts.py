"""sts:AssumeRole, GetSessionToken and GetCallerIdentity, and checks of the written target.

The STS client comes from ``tray.aws.session``: it signs with the role's
*source* credentials as botocore resolves them, and is configured as the role
profile, as ``aws --profile ROLE`` does. Every botocore failure becomes one
``RoletrayError`` line naming the profile, and never carrying a secret.
Nothing here reads the process environment: callers pass ``env``.

botocore is imported when a call needs it, not with this module: the tray and
the daemon import this module's callers but run every AssumeRole in a worker
process (``tray.engine.worker``), and never load botocore themselves.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tray import paths
from tray.aws import session as aws_session
from tray.aws.session import (
    DEFAULT_DURATION,
    PROCESS_TIMEOUT,
    PROCESS_TIMEOUT_ENV,
    ClientFactory,
    Limits,
    error_code,
    source_label,
)
from tray.aws.session import (
    session_name as default_session_name,
)
from tray.awsfiles import awsconfig, credfile
from tray.awsfiles.awsenv import env_warnings
from tray.domain import denied
from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    ConfigError,
    CredentialsFileError,
    EndpointError,
    MfaRequiredError,
    MfaSessionEndedError,
    RoletrayError,
    SignInNotAllowedError,
    SignInRequiredError,
    SourceCredentialsError,
    SsoLoginRequiredError,
    TemporarySourceKeysError,
    UnknownProfileError,
    UsageError,
)
from tray.domain.models import AssumeResult, RoleProfile, TempCredentials, mask, utcnow
from tray.domain.text import N_, Text

__all__ = ["DEFAULT_DURATION", "PROCESS_TIMEOUT", "PROCESS_TIMEOUT_ENV", "ClientFactory",
           "assume_role", "caller_identity", "default_client_factory", "env_warnings",
           "get_session_token", "keys_identity", "make_client_factory", "server_date",
           "session_token_with_keys", "verify_target"]

_THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                   "TooManyRequestsException", "RequestThrottled", "SlowDown"}
_REJECTED_KEY_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                       "ExpiredTokenException", "UnrecognizedClientException",
                       "InvalidAccessKeyId", "AuthFailure", "IncompleteSignature",
                       "InvalidToken", "TokenRefreshRequired"}
_MFA_CODE_RE = re.compile(r"^[0-9]{6}$")
# Session tokens are long base64 runs; nothing else in an AWS message looks like one.
_TOKEN_LIKE_RE = re.compile(r"[A-Za-z0-9+/=]{100,}")


def make_client_factory(*, connect_timeout: float = aws_session.CONNECT_TIMEOUT,
                        read_timeout: float = aws_session.READ_TIMEOUT,
                        max_attempts: int = aws_session.MAX_ATTEMPTS,
                        process_timeout: float | None = None) -> ClientFactory:
    """A ``ClientFactory`` with other timeouts (tests use short ones).

    ``process_timeout`` None: ``ROLETRAY_PROCESS_TIMEOUT`` of the call's env, else
    ``PROCESS_TIMEOUT``.
    """
    return aws_session.make_client_factory(Limits(
        connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=max_attempts,
        process_timeout=process_timeout))


default_client_factory: ClientFactory = make_client_factory()


def _creator(profile: RoleProfile, factory: ClientFactory | None, env: Mapping[str, str],
             profile_map: Mapping[str, Mapping[str, str]] | None,
             secrets: tuple[str | None, ...]) -> aws_session.ClientCreator:
    try:
        return (factory or default_client_factory)(profile, env=env, profile_map=profile_map)
    except RoletrayError:
        raise
    except Exception as e:
        raise source_error(e, profile, secrets, env, profile_map) from e


def assume_role(
    profile: RoleProfile,
    *,
    mfa_code: str | None = None,
    duration: int | None = None,
    session_name: str | None = None,
    env: Mapping[str, str],
    profile_map: Mapping[str, Mapping[str, str]] | None = None,
    client_factory: ClientFactory | None = None,
    now: Callable[[], datetime] | None = None,
    session: TempCredentials | None = None,
) -> AssumeResult:
    """Exactly one sts:AssumeRole for ``profile``; the identity comes from its answer.

    ``session``: the keys of an MFA session (GetSessionToken) to sign with instead
    of the source's; they carry the MFA, so no code is sent. ``env``: where the
    AWS files, endpoints and timeouts are found; ``profile_map``: the config
    file, when the caller has read it already.
    """
    if profile.kind != "assume":  # a permission set or a sign-in: no AssumeRole
        from tray.aws.own_keys import own_keys

        return own_keys(profile, env=env, profile_map=profile_map, duration=duration, now=now)
    now = now or utcnow
    if session is not None:
        mfa_code = None
    elif profile.mfa_serial and not mfa_code:
        raise MfaRequiredError(profile=profile.name, mfa_serial=profile.mfa_serial)
    if mfa_code is not None and not _MFA_CODE_RE.match(mfa_code):
        raise UsageError(N_("profile '{name}': the MFA code must be 6 digits"),
                         name=profile.name)
    seconds = duration or profile.duration_seconds or DEFAULT_DURATION
    if not aws_session.MIN_DURATION <= seconds <= aws_session.MAX_DURATION:
        raise UsageError(N_("duration {seconds} must be a whole number from {low} to {high}"),
                         seconds=seconds, low=aws_session.MIN_DURATION,
                         high=aws_session.MAX_DURATION)
    params: dict[str, Any] = {
        "RoleArn": profile.role_arn,
        "RoleSessionName": (session_name or profile.role_session_name
                            or default_session_name(now())),
        "DurationSeconds": seconds,
    }
    if profile.external_id:
        params["ExternalId"] = profile.external_id
    if profile.mfa_serial and mfa_code:
        params["SerialNumber"] = profile.mfa_serial
        params["TokenCode"] = mfa_code
    secrets = (mfa_code,) if session is None else (session.secret_access_key,
                                                     session.session_token)
    creator = _creator(profile, client_factory, env, profile_map, secrets)
    try:
        if session is None:
            client = creator("sts")
        else:
            client = creator("sts", aws_access_key_id=session.access_key_id,
                             aws_secret_access_key=session.secret_access_key,
                             aws_session_token=session.session_token)
    except RoletrayError:
        raise
    except Exception as e:
        raise source_error(e, profile, secrets, env, profile_map) from e
    try:
        response = client.assume_role(**params)
        received_at = now()
    except RoletrayError:
        raise
    except Exception as e:
        error = _call_error(e, profile.name, source=_source_name(profile, session is not None),
                            endpoint=_endpoint_of(client), secrets=secrets,
                            mfa_serial=profile.mfa_serial, role_arn=profile.role_arn)
        if session is not None and isinstance(error, SourceCredentialsError):
            code = error_code(e) or type(e).__name__
            raise MfaSessionEndedError(profile=profile.name, mfa_serial=profile.mfa_serial,
                                       code=code) from e
        raise error from e
    return replace(_result(profile, response, _endpoint_of(client)), received_at=received_at)


def get_session_token(
    profile: RoleProfile,
    mfa_code: str,
    *,
    duration: int,
    env: Mapping[str, str],
    profile_map: Mapping[str, Mapping[str, str]] | None = None,
    client_factory: ClientFactory | None = None,
) -> tuple[TempCredentials, datetime | None]:
    """One sts:GetSessionToken with ``profile``'s MFA device, signed by its source.

    Returns the session's keys and the response's Date (for clock skew).
    """
    if not profile.mfa_serial:
        raise UsageError(N_("profile '{name}' has no mfa_serial"),
                         name=profile.name)
    if not _MFA_CODE_RE.match(mfa_code):
        raise UsageError(N_("profile '{name}': the MFA code must be 6 digits"),
                         name=profile.name)
    secrets = (mfa_code,)
    creator = _creator(profile, client_factory, env, profile_map, secrets)
    try:
        client = creator("sts")
    except RoletrayError:
        raise
    except Exception as e:
        raise source_error(e, profile, secrets, env, profile_map) from e
    try:
        response = client.get_session_token(SerialNumber=profile.mfa_serial,
                                            TokenCode=mfa_code, DurationSeconds=duration)
    except Exception as e:
        raise _call_error(e, profile.name, source=_source_name(profile),
                          endpoint=_endpoint_of(client), secrets=secrets,
                          mfa_serial=profile.mfa_serial, operation="GetSessionToken") from e
    return _session_of(response, profile.name, _endpoint_of(client))


def session_token_with_keys(
    source: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    duration: int,
    env: Mapping[str, str],
    mfa_serial: str | None = None,
    mfa_code: str | None = None,
) -> tuple[TempCredentials, datetime | None]:
    """One sts:GetSessionToken signed by ``source``'s long-term keys (given, not
    resolved: a keyring-held source), configured as the profile ``source`` (region,
    endpoints). With ``mfa_serial`` the code goes with it.

    Returns the session's keys and the response's Date (for clock skew).
    """
    if mfa_serial and not mfa_code:
        raise MfaRequiredError(profile=source, mfa_serial=mfa_serial)
    if mfa_code is not None and not _MFA_CODE_RE.match(mfa_code):
        raise UsageError(N_("profile '{source}': the MFA code must be 6 digits"),
                         source=source)
    secrets = (secret_access_key, mfa_code)
    params: dict[str, Any] = {"DurationSeconds": duration}
    if mfa_serial:
        params.update(SerialNumber=mfa_serial, TokenCode=mfa_code)
    try:
        client = _identity_creator(source, env)(
            "sts", aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=_identity_config())
    except Exception as e:
        raise _call_error(e, source, source="its keyring", endpoint="STS", secrets=secrets,
                          operation="GetSessionToken") from e
    try:
        response = client.get_session_token(**params)
    except Exception as e:
        raise _call_error(e, source, source="its keyring", endpoint=_endpoint_of(client),
                          secrets=secrets, mfa_serial=mfa_serial,
                          operation="GetSessionToken") from e
    return _session_of(response, source, _endpoint_of(client))


def _session_of(response: Any, name: str, endpoint: str) -> tuple[TempCredentials, datetime | None]:
    """A GetSessionToken answer's keys and its Date (for clock skew)."""
    with _complete(name, "GetSessionToken", endpoint):
        keys = _keys_of(response["Credentials"])
    return keys, server_date(response)


def _keys_of(creds: Any) -> TempCredentials:
    return TempCredentials(access_key_id=creds["AccessKeyId"],
                           secret_access_key=creds["SecretAccessKey"],
                           session_token=creds["SessionToken"],
                           expiration=_utc(creds["Expiration"]))


@contextmanager
def _complete(name: str, operation: str, endpoint: str) -> Iterator[None]:
    """A 200 answer lacking a field (a broken proxy, a fake STS) is a transient
    ``EndpointError`` naming the field, never a ``KeyError`` far from its cause."""
    try:
        yield
    except KeyError as e:
        raise EndpointError(N_("profile '{name}': STS at {endpoint} answered {operation} without "
                               "{field}; try again later"),
                            name=name, endpoint=endpoint, operation=operation,
                            field=e.args[0]) from None
    except (TypeError, ValueError, AttributeError) as e:
        raise EndpointError(N_("profile '{name}': STS at {endpoint} answered {operation} with a "
                               "malformed field ({error_type}); try again later"),
                            name=name, endpoint=endpoint, operation=operation,
                            error_type=type(e).__name__) from None


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # STS times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def _result(profile: RoleProfile, response: Mapping[str, Any],
            endpoint: str = "STS") -> AssumeResult:
    with _complete(profile.name, "AssumeRole", endpoint):
        user = response["AssumedRoleUser"]
        return AssumeResult(
            profile=profile.name,
            credentials=_keys_of(response["Credentials"]),
            identity_arn=user["Arn"],
            assumed_role_id=user["AssumedRoleId"],
            server_date=server_date(response),
        )


def server_date(response: Mapping[str, Any]) -> datetime | None:
    """The HTTP ``Date`` of an AWS response (or of a ClientError's ``.response``)."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _endpoint_of(client: Any) -> str:
    meta = getattr(client, "meta", None)
    return str(getattr(meta, "endpoint_url", "") or "STS")


def _clean(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "******")
    text = _TOKEN_LIKE_RE.sub("<redacted>", text)
    return text if len(text) <= 300 else text[:297] + "..."


def _source_name(profile: RoleProfile, mfa_session: bool = False) -> str:
    return Text(N_("the MFA session's")) if mfa_session else source_label(profile)


def source_error(e: Exception, profile: RoleProfile, secrets: tuple[str | None, ...],
                  env: Mapping[str, str],
                  profile_map: Mapping[str, Mapping[str, str]] | None = None) -> RoletrayError:
    """A failure while resolving the source's credentials, before our AssumeRole.
    ``profile_map``: the config file as the caller read it (read here when None)."""
    import botocore.exceptions

    source = _source_name(profile)
    exc = botocore.exceptions
    if isinstance(e, exc.ProfileNotFound):
        return ConfigError(N_("profile '{name}': {source} does not exist in the config or "
                              "credentials file"),
                           name=profile.name, source=source)
    if isinstance(e, exc.ConfigParseError):
        # Not str(e): configparser quotes the offending line, which may be a secret.
        where = paths.display_path(Path(str(e.kwargs.get("path", "the AWS config"))), env)
        return ConfigError(N_("profile '{name}': botocore cannot parse {where}"),
                           name=profile.name, where=where)
    if isinstance(e, (exc.InvalidConfigError, exc.PartialCredentialsError,
                      exc.InfiniteLoopConfigError, exc.UnknownCredentialError)):
        return ConfigError(N_("profile '{name}': {source}: {detail}"),
                           name=profile.name, source=source, detail=_clean(str(e), secrets))
    if isinstance(e, (ValueError, TypeError, KeyError)) \
            and _sso_chain(profile, env, profile_map):
        # botocore reading a garbage token cache file (not JSON, not UTF-8, wrong types).
        return _sso_error(profile, env, profile_map)
    if isinstance(e, (exc.LoginError, exc.MissingDependencyException)):
        return _login_error(e, profile, env, profile_map)
    if isinstance(e, exc.NoCredentialsError):
        return SourceCredentialsError(N_("profile '{name}': {source} yields no credentials (no "
                                         "keys, credential_process or SSO configured)"),
                                      name=profile.name, source=source)
    if isinstance(e, (exc.SSOTokenLoadError, exc.UnauthorizedSSOTokenError,
                      exc.TokenRetrievalError)):
        return _sso_error(profile, env, profile_map)
    if isinstance(e, exc.CredentialRetrievalError):
        return SourceCredentialsError(N_("profile '{name}': {source} gave no credentials: "
                                         "{detail}"),
                                      name=profile.name, source=source,
                                      detail=_clean(str(e), secrets))
    if isinstance(e, exc.ClientError):
        # The source is itself a role, and its own AssumeRole failed.
        try:
            source_arn = _profile_map(profile_map, env).get(
                str(profile.source_profile), {}).get("role_arn")
        except RoletrayError:
            source_arn = None  # the denial is still said, without the role's name
        inner = _call_error(e, str(profile.source_profile), source="its source's",
                            endpoint="STS", secrets=secrets, role_arn=source_arn)
        return type(inner)(f"profile '{profile.name}': {inner}")
    if isinstance(e, exc.BotoCoreError):
        return _call_error(e, profile.name, source=_source_name(profile), endpoint="STS",
                           secrets=secrets)
    return SourceCredentialsError(N_("profile '{name}': {source} could not be resolved "
                                     "({error_type})"),
                                  name=profile.name, source=source, error_type=type(e).__name__)


def _sso_chain(profile: RoleProfile, env: Mapping[str, str],
               profile_map: Mapping[str, Mapping[str, str]] | None) -> bool:
    """Whether ``profile``'s source chain ends in an SSO profile."""
    from tray.aws import sso

    try:
        profile_map = _profile_map(profile_map, env)
    except RoletrayError:
        return False
    return sso.find_sso_profile(_chain_start(profile), profile_map) is not None


def _chain_start(profile: RoleProfile) -> str:
    """Where ``profile``'s keys come from: its source, or itself (a permission set, a
    sign-in)."""
    return profile.name if profile.kind != "assume" else str(profile.source_profile)


def _sso_error(profile: RoleProfile, env: Mapping[str, str],
               profile_map: Mapping[str, Mapping[str, str]] | None) -> RoletrayError:
    """The SSO profile of the chain to sign in again, and why (from the token cache)."""
    from tray.aws import sso

    name = _chain_start(profile)
    reason: str = Text(N_("not signed in"))
    try:
        config_path = paths.aws_config_file(env)
        name = sso.find_sso_profile(name, _profile_map(profile_map, env)) or name
        reason = sso.login_reason(sso.token_state(sso.load_config(name, config_path, env=env),
                                                  env=env))
    except RoletrayError:
        pass  # the sign-in itself will say what is wrong with the configuration
    return SsoLoginRequiredError(profile=name, reason=reason)


def _login_error(e: Exception, profile: RoleProfile, env: Mapping[str, str],
                 profile_map: Mapping[str, Mapping[str, str]] | None) -> RoletrayError:
    """An ``aws login`` source that botocore could not use: the sign-in to renew (naming
    the profile to sign in with, and why), or the missing ``botocore[crt]``."""
    import botocore.exceptions

    from tray.awsfiles import logincache

    exc = botocore.exceptions
    name = _chain_start(profile) if profile.source_profile or profile.kind != "assume" \
        else profile.name
    try:
        mapped = _profile_map(profile_map, env)
        name = logincache.find_login_profile(name, mapped) or name
        session = mapped.get(name, {}).get(logincache.LOGIN_KEY)
    except RoletrayError:
        session = None
    if isinstance(e, exc.MissingDependencyException):
        return ConfigError(N_("profile '{name}': source profile '{source}' signs in with `aws "
                              "login`, which needs botocore's CRT extension: `pip install "
                              "'botocore[crt]'`"),
                           name=profile.name, source=name)
    if isinstance(e, exc.LoginInsufficientPermissions):
        return SignInNotAllowedError(profile=name)
    if isinstance(e, exc.LoginRefreshRequired):
        cause = getattr(e.__cause__, "response", None)
        code = cause.get("error") if isinstance(cause, Mapping) else None
        why = {"TOKEN_EXPIRED": Text(N_("has ended (TOKEN_EXPIRED)")),
               "USER_CREDENTIALS_CHANGED": Text(N_("has ended: the user's credentials changed "
                                                   "(USER_CREDENTIALS_CHANGED)"))}
        return SignInRequiredError(profile=name,
                                   reason=why.get(str(code), Text(N_("has ended"))))
    found = logincache.read_sign_in(session, env) if session else None
    if found is None:
        shown = paths.display_path(logincache.cache_dir(env), env)
        return SignInRequiredError(profile=name, reason=Text(
            N_("was not found in {path} (not signed in)"), path=shown))
    if isinstance(e, exc.LoginTokenLoadError):
        return SignInRequiredError(profile=name, reason=Text(
            N_("cannot be read from {path}"), path=paths.display_path(found.path, env)))
    return SourceCredentialsError(N_("profile '{name}': the aws login sign-in of '{source}' "
                                     "failed ({error_type})"),
                                  name=profile.name, source=name, error_type=type(e).__name__)


def _profile_map(given: Mapping[str, Mapping[str, str]] | None, env: Mapping[str, str]
                 ) -> Mapping[str, Mapping[str, str]]:
    """The config file's profiles: the caller's, else read from ``env``'s config file."""
    if given is not None:
        return given
    return awsconfig.load_profile_map(paths.aws_config_file(env), home=paths.home_of(env))


def _call_error(e: Exception, name: str, *, source: str, endpoint: str,
                secrets: tuple[str | None, ...] = (), mfa_serial: str | None = None,
                role_arn: str | None = None, operation: str = "AssumeRole") -> RoletrayError:
    """A failure of one STS call; ``source`` says whose keys signed it."""
    import botocore.exceptions

    exc = botocore.exceptions
    if isinstance(e, exc.ClientError):
        error = e.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = _clean(str(error.get("Message", "")), secrets)
        meta = e.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        if code in _THROTTLE_CODES:
            return AwsError(N_("profile '{name}': STS throttled the request ({code}: {detail}); "
                               "try again later"),
                            name=name, code=code, detail=message)
        if "MultiFactorAuthentication" in message or (code == "AccessDenied" and
                                                      mfa_serial and "MFA" in message):
            return AccessDeniedError(N_("profile '{name}': the MFA code was rejected for "
                                        "{mfa_serial}; wait for the next code ({detail})"),
                                     name=name, mfa_serial=mfa_serial, detail=message)
        if code == "AccessDenied" and operation == "AssumeRole":
            # The seed's lesson: the user's own policy is rarely the cause. One sentence
            # everywhere (tray.domain.denied): the finding first, the fix pointer once.
            return AccessDeniedError(denied.PROFILE_DENIED, profile=name, finding=denied.with_fix(
                denied.assume_denied_finding(message, role_arn), name))
        if code == "AccessDenied" and operation == "GetSessionToken" \
                and "session credentials" in message:
            # "Cannot call GetSessionToken with session credentials": AWS's only sign of it.
            return TemporarySourceKeysError(N_("profile '{name}': {operation} denied: {detail}"),
                                            name=name, operation=operation, detail=message)
        if code == "AccessDenied":
            return AccessDeniedError(N_("profile '{name}': {operation} denied: {detail}"),
                                     name=name, operation=operation, detail=message)
        if code in _REJECTED_KEY_CODES:
            return SourceCredentialsError(N_("profile '{name}': {source} keys were rejected by "
                                             "AWS: {code}: {detail}"),
                                          name=name, source=source, code=code, detail=message)
        if code == "RequestExpired":
            return AwsError(N_("profile '{name}': AWS says the request has expired ({detail}); "
                               "check this machine's clock"),
                            name=name, detail=message)
        if status >= 500:
            attempts = int(meta.get("RetryAttempts") or 0) + 1
            return EndpointError(N_("profile '{name}': STS at {endpoint} answered HTTP {status} "
                                    "({code}) after {attempts} attempts; try again later"),
                                 name=name, endpoint=endpoint, status=status, code=code,
                                 attempts=attempts)
        return AwsError(N_("profile '{name}': {operation} failed: {code}: {detail}"),
                        name=name, operation=operation, code=code, detail=message)
    if isinstance(e, exc.ParamValidationError):
        return ConfigError(N_("profile '{name}': {operation} parameters are invalid: {detail}"),
                           name=name, operation=operation, detail=_clean(str(e), secrets))
    url = getattr(e, "kwargs", {}).get("endpoint_url") or endpoint
    if isinstance(e, exc.ConnectTimeoutError):
        return EndpointError(N_("profile '{name}': could not reach STS at {url}: the connection "
                                "timed out"),
                             name=name, url=url)
    if isinstance(e, exc.ReadTimeoutError):
        return EndpointError(N_("profile '{name}': STS at {url} timed out: no answer"),
                             name=name, url=url)
    if isinstance(e, exc.EndpointConnectionError):
        return EndpointError(N_("profile '{name}': could not reach STS at {url}: the connection "
                                "failed"),
                             name=name, url=url)
    if isinstance(e, (exc.ConnectionError, exc.HTTPClientError)):
        return EndpointError(N_("profile '{name}': could not reach STS at {url} ({error_type})"),
                             name=name, url=url, error_type=type(e).__name__)
    from botocore.parsers import ResponseParserError

    # botocore's parser raises a bare KeyError on XML of another shape (an HTML page).
    if isinstance(e, (ResponseParserError, KeyError)):
        return EndpointError(N_("profile '{name}': STS at {url} answered with something that is "
                                "not an {operation} answer (a proxy or captive portal?); try "
                                "again later"),
                             name=name, url=url, operation=operation)
    if isinstance(e, exc.NoCredentialsError):
        return SourceCredentialsError(N_("profile '{name}': {source} yields no credentials"),
                                      name=name, source=source)
    if isinstance(e, exc.NoRegionError):
        return ConfigError(N_("profile '{name}': no region configured"),
                           name=name)
    if isinstance(e, exc.BotoCoreError):
        return AwsError(N_("profile '{name}': {operation} failed: {detail}"),
                        name=name, operation=operation, detail=_clean(str(e), secrets))
    return AwsError(N_("profile '{name}': {operation} failed ({error_type})"),
                    name=name, operation=operation, error_type=type(e).__name__)


def caller_identity(profile_name: str | None, *, env: Mapping[str, str],
                    client_creator: aws_session.ClientCreator | None = None) -> dict[str, str]:
    """GetCallerIdentity as ``aws sts get-caller-identity --profile NAME`` does it.

    ``client_creator``: ``session.create_client``'s signature (None: a botocore
    session of ``profile_name``, or of botocore's default, read from ``env``).
    """
    import botocore.exceptions

    label = profile_name or "default"
    try:
        client = (client_creator or _identity_creator(profile_name, env))(
            "sts", config=_identity_config())
    except RoletrayError:
        raise
    except botocore.exceptions.ProfileNotFound as e:
        raise UnknownProfileError(profile=label, path=paths.display_path(
            paths.aws_config_file(env), env)) from e
    except Exception as e:
        raise _call_error(e, label, source="its", endpoint="STS",
                          operation="GetCallerIdentity") from e
    try:
        response = client.get_caller_identity()
    except Exception as e:
        raise _call_error(e, label, source="its", endpoint=_endpoint_of(client),
                          operation="GetCallerIdentity") from e
    return {k: str(response[k]) for k in ("UserId", "Account", "Arn")}


def keys_identity(profile_name: str, access_key_id: str, secret_access_key: str, *,
                  env: Mapping[str, str]) -> dict[str, str]:
    """GetCallerIdentity signed with this key pair (not what the files say), in the
    region and endpoint of ``profile_name``: ``roletray keys import``'s check."""
    base = _identity_creator(profile_name, env)

    def create(service_name: str, **kwargs: Any) -> Any:
        return base(service_name, aws_access_key_id=access_key_id,
                    aws_secret_access_key=secret_access_key, **kwargs)

    return caller_identity(profile_name, env=env, client_creator=create)


def _identity_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=aws_session.CONNECT_TIMEOUT,
                  read_timeout=aws_session.READ_TIMEOUT,
                  retries={"mode": "standard", "total_max_attempts": aws_session.MAX_ATTEMPTS})


def _identity_creator(profile_name: str | None, env: Mapping[str, str]
                      ) -> aws_session.ClientCreator:
    session = aws_session.base_session(env, profile_name)
    region = (session.get_config_variable("region") or env.get("AWS_REGION")
              or aws_session.DEFAULT_REGION)

    def create(service_name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("region_name", region)
        kwargs.setdefault("endpoint_url", aws_session.endpoint_from(env, service_name))
        return session.create_client(service_name, **kwargs)

    return create


def verify_target(target: str, access_key_id: str, env: Mapping[str, str], *,
                  profile_map: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Check, with botocore's resolution and no network, that ``target`` yields the new key.

    Raises ``CredentialsFileError`` when it does not (say, a role profile of the
    same name in the config file shadows the keys in the credentials file).
    ``profile_map``: the config file as the caller read it (read here when None);
    botocore reads both files afresh either way.
    """
    config_path = paths.aws_config_file(env)
    creds_path = paths.aws_credentials_file(env)
    shown_config = paths.display_path(config_path, env)
    shown_creds = paths.display_path(creds_path, env)
    values = _profile_map(profile_map, env).get(target, {})
    # Profiles that resolve by themselves would run a process or call AWS to be checked.
    shadow = [k for k in awsconfig.SHADOWING_KEYS if k in values]
    if shadow:
        raise CredentialsFileError(
            N_("{shown_config}: profile '{target}' has {shadow}, so tools ignore the keys in "
               "{shown_creds}; remove it or choose another target"),
            shown_config=shown_config, target=target, shadow=shadow[0], shown_creds=shown_creds)
    import botocore.exceptions

    # A session of its own, so that botocore reads both files afresh, as written. It
    # only resolves credentials (no client, no call), so it needs none of the event
    # handlers a session otherwise registers (most of what creating one costs).
    # An explicit profile turns the AWS_ACCESS_KEY_ID... variables off: this checks the files.
    session = aws_session.base_session(env, target, include_builtin_handlers=False)
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.ProfileNotFound as e:
        raise CredentialsFileError(N_("{shown_creds}: botocore finds no profile '{target}' after "
                                      "the write"),
                                   shown_creds=shown_creds, target=target) from e
    except botocore.exceptions.BotoCoreError as e:
        raise CredentialsFileError(N_("{shown_creds}: botocore cannot read profile '{target}' "
                                      "({error_type})"),
                                   shown_creds=shown_creds, target=target,
                                   error_type=type(e).__name__) from e
    if credentials is None:
        raise CredentialsFileError(N_("{shown_creds}: profile '{target}' yields no credentials "
                                      "through botocore after the write"),
                                   shown_creds=shown_creds, target=target)
    method = getattr(credentials, "method", "?")
    if method != "shared-credentials-file":
        raise CredentialsFileError(N_("profile '{target}' resolves through {method}, not "
                                      "{shown_creds}; choose another target"),
                                   target=target, method=method, shown_creds=shown_creds)
    found = credentials.access_key
    if found != access_key_id and not _rewritten_by_roletray(creds_path, target, found, env):
        raise CredentialsFileError(N_("{shown_creds}: profile '{target}' yields key {key}, not "
                                      "the new {new_key}"),
                                   shown_creds=shown_creds, target=target, key=mask(found),
                                   new_key=mask(access_key_id))


def _rewritten_by_roletray(creds_path: Path, target: str, found: str,
                           env: Mapping[str, str]) -> bool:
    """Whether ``found`` is in roletray's own ``[target]``: another roletray wrote the
    section (under the lock) after this one did, which is no failure of this write."""
    current = credfile.read_owned(creds_path, target, home=paths.home_of(env))
    return current is not None and current.access_key_id == found
