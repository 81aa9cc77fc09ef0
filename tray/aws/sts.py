"""sts:AssumeRole and GetCallerIdentity through botocore, and checks of the written target.

The STS client takes its credentials from botocore's own resolution of the
role's *source* (static keys, ``credential_process``, SSO, another role...),
and its region, endpoint and ``sts_regional_endpoints`` from the role profile,
as ``aws --profile ROLE`` does. Every botocore failure becomes one
``RoletrayError`` line naming the profile, and never carrying a secret.

Two of botocore's source providers are swapped for bounded or current ones:
a ``credential_process`` that waits for a person is stopped after
``PROCESS_TIMEOUT`` seconds (``ROLETRAY_PROCESS_TIMEOUT`` overrides it), and an
SSO source reads the token cache under the current HOME. A client factory
given ``credentials=`` (an MFA session's keys) signs with those instead.

botocore is imported when a call needs it, not with this module: the tray and
the daemon import this module's callers but run every AssumeRole in a worker
process (``tray.engine.worker``), and never load botocore themselves.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tray import paths
from tray.awsfiles import awsconfig
from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    ConfigError,
    CredentialProcessTimeoutError,
    CredentialsFileError,
    EndpointError,
    MfaRequiredError,
    MfaSessionEndedError,
    RoletrayError,
    SourceCredentialsError,
    SsoLoginRequiredError,
    UnknownProfileError,
    UsageError,
)
from tray.domain.models import AssumeResult, RoleProfile, TempCredentials, mask, utcnow

if TYPE_CHECKING:
    import botocore.session
    from botocore.config import Config

# ``factory(profile)`` signs as the role's source; ``factory(profile, credentials=keys)``
# signs with those keys (an MFA session's), configured as the profile all the same.
ClientFactory = Callable[..., Any]

# Bounded, so that a dead or hanging endpoint fails in seconds, not minutes:
# a hang costs at most MAX_ATTEMPTS * READ_TIMEOUT plus about a second of backoff.
# The refresher retries later with its own backoff, so few attempts here suffice.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
MAX_ATTEMPTS = 2
DEFAULT_REGION = "us-east-1"
DEFAULT_DURATION = 3600
# A credential_process that has not answered by then is waiting for a person, or stuck.
PROCESS_TIMEOUT = 30.0
PROCESS_TIMEOUT_ENV = "ROLETRAY_PROCESS_TIMEOUT"

_THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                   "TooManyRequestsException", "RequestThrottled", "SlowDown"}
_REJECTED_KEY_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                       "ExpiredTokenException", "UnrecognizedClientException",
                       "InvalidAccessKeyId", "AuthFailure", "IncompleteSignature",
                       "InvalidToken", "TokenRefreshRequired"}
_MFA_CODE_RE = re.compile(r"^[0-9]{6}$")
# Session tokens are long base64 runs; nothing else in an AWS message looks like one.
_TOKEN_LIKE_RE = re.compile(r"[A-Za-z0-9+/=]{100,}")


def make_client_factory(*, connect_timeout: float = CONNECT_TIMEOUT,
                        read_timeout: float = READ_TIMEOUT,
                        max_attempts: int = MAX_ATTEMPTS,
                        process_timeout: float | None = None) -> ClientFactory:
    """A ``ClientFactory`` with other timeouts (tests use short ones).

    ``process_timeout`` None: ``ROLETRAY_PROCESS_TIMEOUT`` from the environment at
    call time, else ``PROCESS_TIMEOUT``.
    """
    configs: list[Config] = []  # built on the first call: botocore is imported then

    def factory(profile: RoleProfile, *, credentials: TempCredentials | None = None) -> Any:
        if not configs:
            from botocore.config import Config

            configs.append(Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                  retries={"mode": "standard",
                                           "total_max_attempts": max_attempts}))
        return _build_client(profile, configs[0], credentials=credentials,
                             process_timeout=process_timeout)

    return factory


def default_client_factory(profile: RoleProfile, *,
                           credentials: TempCredentials | None = None) -> Any:
    """An STS client acting as ``profile``'s source (or with ``credentials``),
    configured as ``profile``."""
    return _DEFAULT_FACTORY(profile, credentials=credentials)


_DEFAULT_FACTORY = make_client_factory()  # imports botocore only when first called


def process_timeout_seconds(value: float | None = None) -> float:
    if value is not None:
        return value
    try:
        return float(os.environ.get(PROCESS_TIMEOUT_ENV) or PROCESS_TIMEOUT)
    except ValueError:
        return PROCESS_TIMEOUT


def _build_client(profile: RoleProfile, config: Config, *,
                  credentials: TempCredentials | None = None,
                  process_timeout: float | None = None) -> Any:
    import botocore.exceptions
    import botocore.session

    profile_map = awsconfig.load_profile_map()
    region = _region(profile, profile_map)
    if credentials is not None:
        # Keys already in hand (an MFA session): no source to resolve, no process to run.
        client_session = botocore.session.Session()
        _configure_as(client_session, profile)
        return client_session.create_client(
            "sts", region_name=region, config=config,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token)
    _refuse_prompting_chain(profile, profile_map)
    # One botocore session does it all (each one registers all of botocore's handlers
    # and loads its data files again): first, as profile <source>, it resolves the
    # source's credentials with botocore's own chain; then, configured as the role
    # profile (endpoints, regional STS), it creates the client that signs with them.
    if profile.credential_source is not None:
        session = botocore.session.Session()
        session.register_component("credential_provider",
                                   _CredentialSourceResolver(profile.credential_source))
    else:
        session = botocore.session.Session(profile=str(profile.source_profile))
        _source_resolver(session, profile, region, config,
                         process_timeout_seconds(process_timeout))
    credentials_ = session.get_credentials()
    if credentials_ is None:
        raise botocore.exceptions.NoCredentialsError()
    # Resolve now (a chained source assumes its own role here) so that a failure
    # is reported as the source's, apart from the one AssumeRole that is ours.
    credentials_.get_frozen_credentials()
    # The session keeps the credentials it resolved; from here on it reads the role
    # profile's settings, as `aws --profile ROLE` does for its STS client.
    _configure_as(session, profile)
    return session.create_client("sts", region_name=region, config=config)


def _configure_as(session: botocore.session.Session, profile: RoleProfile) -> None:
    """Configure ``session`` as ``profile`` (endpoints, regional STS)."""
    names = session.full_config["profiles"]
    if profile.name in names:
        session.set_config_variable("profile", profile.name)
    elif profile.source_profile in names:
        session.set_config_variable("profile", profile.source_profile)
    if profile.sts_regional_endpoints:
        session.set_config_variable("sts_regional_endpoints", profile.sts_regional_endpoints)


def _region(profile: RoleProfile, profile_map: Mapping[str, Mapping[str, str]]) -> str:
    # The role's configured region (or its chain's) is the most specific statement
    # about where to assume it, so it comes before AWS_REGION here.
    return (awsconfig.region_for(profile, profile_map) or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)


def _refuse_prompting_chain(profile: RoleProfile,
                            profile_map: Mapping[str, Mapping[str, str]]) -> None:
    # botocore would prompt on the terminal (getpass) for a source role's MFA code;
    # in the tray or the daemon that blocks forever.
    for name in awsconfig.source_chain(profile, profile_map)[1:]:
        values = profile_map.get(name, {})
        if name == profile.name or any(k in values for k in awsconfig.STATIC_KEYS):
            break
        if "mfa_serial" in values and "role_arn" in values:
            raise ConfigError(f"profile '{profile.name}': source profile '{name}' needs an MFA "
                              "code; roletray asks for MFA only for the role it assumes")


def _source_resolver(session: botocore.session.Session, profile: RoleProfile, region: str,
                     config: Config, process_timeout: float = PROCESS_TIMEOUT) -> Any:
    """botocore's credential chain for the role's source, nothing else, as the
    credential provider of ``session`` (whose profile is the source)."""
    import botocore.credentials

    source = str(profile.source_profile)
    # A source that is itself a role calls STS in this region, as `aws --profile` would,
    # and with the same bounded timeouts as ours (botocore's own wait a minute, 5 times).
    session.set_config_variable("region", region)
    session.set_default_client_config(config)
    resolver = session.get_component("credential_provider")
    # An explicit profile already turns the environment variables off; a role
    # profile that is its own source takes its static keys, not the role.
    if profile.source_profile == profile.name:
        resolver.remove("assume-role")
    for index, provider in enumerate(resolver.providers):
        method = getattr(provider, "METHOD", None)
        if method == "custom-process":
            resolver.providers[index] = botocore.credentials.ProcessProvider(
                profile_name=source, load_config=lambda: session.full_config,
                popen=partial(_BoundedPopen, timeout=process_timeout, profile=source))
        elif method == "sso":
            resolver.providers[index] = _sso_provider(session, source)
    return resolver


def _sso_provider(session: botocore.session.Session, profile_name: str) -> Any:
    """botocore's SSO provider, reading the token cache under the current HOME
    (botocore computes its default folder once, when it is imported)."""
    import botocore.credentials
    import botocore.tokens
    from botocore.utils import JSONFileCache

    from tray.aws import sso

    folder = str(sso.cache_dir())
    token_cache = JSONFileCache(folder, dumps_func=_sso_dumps)
    return botocore.credentials.SSOProvider(
        load_config=lambda: session.full_config, client_creator=session.create_client,
        profile_name=profile_name, cache={}, token_cache=token_cache,
        token_provider=botocore.tokens.SSOTokenProvider(session, cache=token_cache,
                                                        profile_name=profile_name))


def _sso_dumps(obj: Any) -> str:
    """botocore's cache format: datetimes as ``2026-11-28T14:26:50Z``."""
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value

    return json.dumps(obj, default=default)


class _BoundedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """``credential_process`` as botocore runs it, but stopped after ``timeout`` seconds.

    Without a terminal (the tray, the daemon's worker) it gets a session of its own
    so that its whole tree can be stopped; on a terminal it stays in ours, so a
    process that prompts on /dev/tty still can.
    """

    def __init__(self, args: Any, *, timeout: float, profile: str, **kwargs: Any) -> None:
        self._bound = timeout
        self._profile = profile
        self._own_group = not _stdin_is_tty()
        super().__init__(args, start_new_session=self._own_group, **kwargs)

    def communicate(self, input: Any = None, timeout: float | None = None) -> Any:
        try:
            return super().communicate(input, timeout=self._bound)
        except subprocess.TimeoutExpired:
            self._stop()
            super().communicate()
            raise CredentialProcessTimeoutError(profile=self._profile,
                                                seconds=f"{self._bound:g}") from None

    def _stop(self) -> None:
        try:
            if self._own_group and hasattr(os, "killpg"):
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self.kill()
        except OSError:
            pass


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class _CredentialSourceResolver:
    """``credential_source`` resolved by botocore's own providers for it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def load_credentials(self) -> Any:
        import botocore.credentials
        import botocore.exceptions

        fetcher = botocore.credentials.InstanceMetadataFetcher(timeout=1, num_attempts=1)
        sourcer = botocore.credentials.CanonicalNameCredentialSourcer([
            botocore.credentials.EnvProvider(),
            botocore.credentials.ContainerProvider(),
            botocore.credentials.InstanceMetadataProvider(iam_role_fetcher=fetcher),
        ])
        creds = sourcer.source_credentials(self.name)
        if creds is None:
            raise botocore.exceptions.CredentialRetrievalError(
                provider=self.name, error_msg="no credentials found")
        return creds


def assume_role(
    profile: RoleProfile,
    *,
    mfa_code: str | None = None,
    duration: int | None = None,
    session_name: str | None = None,
    client_factory: ClientFactory | None = None,
    now: Callable[[], datetime] | None = None,
    session: TempCredentials | None = None,
) -> AssumeResult:
    """Exactly one sts:AssumeRole for ``profile``; the identity comes from its answer.

    ``session``: the keys of an MFA session (GetSessionToken) to sign with instead
    of the source's; they carry the MFA, so no code is sent.
    """
    now = now or utcnow
    if session is not None:
        mfa_code = None
    elif profile.mfa_serial and not mfa_code:
        raise MfaRequiredError(profile=profile.name, mfa_serial=profile.mfa_serial)
    if mfa_code is not None and not _MFA_CODE_RE.match(mfa_code):
        raise UsageError(f"profile '{profile.name}': the MFA code must be 6 digits")
    seconds = duration or profile.duration_seconds or DEFAULT_DURATION
    if not awsconfig.MIN_DURATION <= seconds <= awsconfig.MAX_DURATION:
        raise UsageError(f"duration {seconds} must be a whole number from "
                         f"{awsconfig.MIN_DURATION} to {awsconfig.MAX_DURATION}")
    params: dict[str, Any] = {
        "RoleArn": profile.role_arn,
        "RoleSessionName": (session_name or profile.role_session_name
                            or f"roletray-{int(now().timestamp())}"),
        "DurationSeconds": seconds,
    }
    if profile.external_id:
        params["ExternalId"] = profile.external_id
    if profile.mfa_serial and mfa_code:
        params["SerialNumber"] = profile.mfa_serial
        params["TokenCode"] = mfa_code
    secrets = (mfa_code,) if session is None else (session.secret_access_key,
                                                     session.session_token)
    factory = client_factory or default_client_factory
    try:
        client = factory(profile) if session is None else factory(profile, credentials=session)
    except RoletrayError:
        raise
    except Exception as e:
        raise _source_error(e, profile, secrets) from e
    try:
        response = client.assume_role(**params)
    except RoletrayError:
        raise
    except Exception as e:
        error = _call_error(e, profile.name, source=_source_name(profile, session is not None),
                            endpoint=_endpoint_of(client), secrets=secrets,
                            mfa_serial=profile.mfa_serial, role_arn=profile.role_arn)
        if session is not None and isinstance(error, SourceCredentialsError):
            code = _error_code(e) or type(e).__name__
            raise MfaSessionEndedError(profile=profile.name, mfa_serial=profile.mfa_serial,
                                       code=code) from e
        raise error from e
    return _result(profile, response)


def get_session_token(
    profile: RoleProfile,
    mfa_code: str,
    *,
    duration: int,
    client_factory: ClientFactory | None = None,
) -> tuple[TempCredentials, datetime | None]:
    """One sts:GetSessionToken with ``profile``'s MFA device, signed by its source.

    Returns the session's keys and the response's Date (for clock skew).
    """
    if not profile.mfa_serial:
        raise UsageError(f"profile '{profile.name}' has no mfa_serial")
    if not _MFA_CODE_RE.match(mfa_code):
        raise UsageError(f"profile '{profile.name}': the MFA code must be 6 digits")
    secrets = (mfa_code,)
    factory = client_factory or default_client_factory
    try:
        client = factory(profile)
    except RoletrayError:
        raise
    except Exception as e:
        raise _source_error(e, profile, secrets) from e
    try:
        response = client.get_session_token(SerialNumber=profile.mfa_serial,
                                            TokenCode=mfa_code, DurationSeconds=duration)
    except Exception as e:
        raise _call_error(e, profile.name, source=_source_name(profile),
                          endpoint=_endpoint_of(client), secrets=secrets,
                          mfa_serial=profile.mfa_serial, operation="GetSessionToken") from e
    creds = response["Credentials"]
    return (TempCredentials(access_key_id=creds["AccessKeyId"],
                            secret_access_key=creds["SecretAccessKey"],
                            session_token=creds["SessionToken"],
                            expiration=_utc(creds["Expiration"])),
            server_date(response))


def _error_code(e: Exception) -> str | None:
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # STS times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def _result(profile: RoleProfile, response: Mapping[str, Any]) -> AssumeResult:
    creds = response["Credentials"]
    expiration = creds["Expiration"]
    if isinstance(expiration, str):
        expiration = datetime.fromisoformat(expiration)
    if expiration.tzinfo is None:  # STS times are UTC
        expiration = expiration.replace(tzinfo=UTC)
    user = response["AssumedRoleUser"]
    return AssumeResult(
        profile=profile.name,
        credentials=TempCredentials(
            access_key_id=creds["AccessKeyId"], secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"], expiration=expiration.astimezone(UTC)),
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
    if mfa_session:
        return "the MFA session's"
    if profile.source_profile:
        return f"source profile '{profile.source_profile}'"
    return f"credential_source {profile.credential_source}"


def _source_error(e: Exception, profile: RoleProfile, secrets: tuple[str | None, ...]
                  ) -> RoletrayError:
    """A failure while resolving the source's credentials, before our AssumeRole."""
    import botocore.exceptions

    prefix = f"profile '{profile.name}': {_source_name(profile)}"
    exc = botocore.exceptions
    if isinstance(e, exc.ProfileNotFound):
        return ConfigError(f"{prefix} does not exist in the config or credentials file")
    if isinstance(e, exc.ConfigParseError):
        # Not str(e): configparser quotes the offending line, which may be a secret.
        where = paths.display_path(Path(str(e.kwargs.get("path", "the AWS config"))))
        return ConfigError(f"profile '{profile.name}': botocore cannot parse {where}")
    if isinstance(e, (exc.InvalidConfigError, exc.PartialCredentialsError,
                      exc.InfiniteLoopConfigError, exc.UnknownCredentialError)):
        return ConfigError(f"{prefix}: {_clean(str(e), secrets)}")
    if isinstance(e, exc.NoCredentialsError):
        return SourceCredentialsError(f"{prefix} yields no credentials (no keys, "
                                      "credential_process or SSO configured)")
    if isinstance(e, (exc.SSOTokenLoadError, exc.UnauthorizedSSOTokenError,
                      exc.TokenRetrievalError)):
        return _sso_error(profile)
    if isinstance(e, exc.CredentialRetrievalError):
        return SourceCredentialsError(f"{prefix} gave no credentials: {_clean(str(e), secrets)}")
    if isinstance(e, exc.ClientError):
        # The source is itself a role, and its own AssumeRole failed.
        inner = _call_error(e, str(profile.source_profile), source="its source's",
                            endpoint="STS", secrets=secrets)
        return type(inner)(f"profile '{profile.name}': {inner}")
    if isinstance(e, exc.BotoCoreError):
        return _call_error(e, profile.name, source=_source_name(profile), endpoint="STS",
                           secrets=secrets)
    return SourceCredentialsError(f"{prefix} could not be resolved ({type(e).__name__})")


def _sso_error(profile: RoleProfile) -> RoletrayError:
    """The SSO profile of the chain to sign in again, and why (from the token cache)."""
    from tray.aws import sso

    name = str(profile.source_profile)
    reason = "not signed in"
    try:
        profile_map = awsconfig.load_profile_map()
        name = sso.find_sso_profile(name, profile_map) or name
        reason = sso.login_reason(sso.token_state(sso.load_config(name)))
    except RoletrayError:
        pass  # the sign-in itself will say what is wrong with the configuration
    return SsoLoginRequiredError(profile=name, reason=reason)


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
            return AwsError(f"profile '{name}': STS throttled the request ({code}: {message}); "
                            "try again later")
        if "MultiFactorAuthentication" in message or (code == "AccessDenied" and
                                                      mfa_serial and "MFA" in message):
            return AccessDeniedError(f"profile '{name}': the MFA code was rejected for "
                                     f"{mfa_serial}; wait for the next code ({message})")
        if code == "AccessDenied" and operation == "AssumeRole":
            # The seed's lesson: the user's own policy is rarely the cause.
            role = f" (role {role_arn})" if role_arn and role_arn not in message else ""
            return AccessDeniedError(
                f"profile '{name}': AccessDenied: {message}{role}; the role's trust relationship "
                f"probably does not include this user; run `roletray doctor {name}`")
        if code == "AccessDenied":
            return AccessDeniedError(f"profile '{name}': {operation} denied: {message}")
        if code in _REJECTED_KEY_CODES:
            return SourceCredentialsError(f"profile '{name}': {source} keys were rejected "
                                          f"by AWS: {code}: {message}")
        if code == "RequestExpired":
            return AwsError(f"profile '{name}': AWS says the request has expired ({message}); "
                            "check this machine's clock")
        if status >= 500:
            attempts = int(meta.get("RetryAttempts") or 0) + 1
            return EndpointError(f"profile '{name}': STS at {endpoint} answered HTTP {status} "
                                 f"({code}) after {attempts} attempts; try again later")
        return AwsError(f"profile '{name}': {operation} failed: {code}: {message}")
    if isinstance(e, exc.ParamValidationError):
        return ConfigError(f"profile '{name}': {operation} parameters are invalid: "
                           f"{_clean(str(e), secrets)}")
    url = getattr(e, "kwargs", {}).get("endpoint_url") or endpoint
    if isinstance(e, exc.ConnectTimeoutError):
        return EndpointError(f"profile '{name}': could not reach STS at {url}: "
                             "the connection timed out")
    if isinstance(e, exc.ReadTimeoutError):
        return EndpointError(f"profile '{name}': STS at {url} timed out: no answer")
    if isinstance(e, exc.EndpointConnectionError):
        return EndpointError(f"profile '{name}': could not reach STS at {url}: "
                             "the connection failed")
    if isinstance(e, (exc.ConnectionError, exc.HTTPClientError)):
        return EndpointError(f"profile '{name}': could not reach STS at {url} "
                             f"({type(e).__name__})")
    if isinstance(e, exc.NoCredentialsError):
        return SourceCredentialsError(f"profile '{name}': {source} yields no credentials")
    if isinstance(e, exc.NoRegionError):
        return ConfigError(f"profile '{name}': no region configured")
    if isinstance(e, exc.BotoCoreError):
        return AwsError(f"profile '{name}': {operation} failed: {_clean(str(e), secrets)}")
    return AwsError(f"profile '{name}': {operation} failed ({type(e).__name__})")


def caller_identity(profile_name: str | None, *,
                    client_factory: Callable[[str | None], Any] | None = None) -> dict[str, str]:
    """GetCallerIdentity as ``aws sts get-caller-identity --profile NAME`` does it.

    ``client_factory`` here takes a profile name (None: botocore's default).
    """
    import botocore.exceptions

    label = profile_name or "default"
    try:
        client = (client_factory or _identity_client)(profile_name)
    except RoletrayError:
        raise
    except botocore.exceptions.ProfileNotFound as e:
        raise UnknownProfileError(profile=label,
                                  path=paths.display_path(paths.aws_config_file())) from e
    except Exception as e:
        raise _call_error(e, label, source="its", endpoint="STS",
                          operation="GetCallerIdentity") from e
    try:
        response = client.get_caller_identity()
    except Exception as e:
        raise _call_error(e, label, source="its", endpoint=_endpoint_of(client),
                          operation="GetCallerIdentity") from e
    return {k: str(response[k]) for k in ("UserId", "Account", "Arn")}


def _identity_client(profile_name: str | None) -> Any:
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session(profile=profile_name)
    region = (session.get_config_variable("region") or os.environ.get("AWS_REGION")
              or DEFAULT_REGION)
    return session.create_client("sts", region_name=region, config=Config(
        connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}))


def verify_target(target: str, access_key_id: str, env: Mapping[str, str] | None = None) -> None:
    """Check, with botocore's resolution and no network, that ``target`` yields the new key.

    Raises ``CredentialsFileError`` when it does not (say, a role profile of the
    same name in the config file shadows the keys in the credentials file).
    """
    config_path = paths.aws_config_file(env)
    creds_path = paths.aws_credentials_file(env)
    shown_config = paths.display_path(config_path, env)
    shown_creds = paths.display_path(creds_path, env)
    values = awsconfig.load_profile_map(config_path).get(target, {})
    # Profiles that resolve by themselves would run a process or call AWS to be checked.
    shadow = [k for k in awsconfig.SHADOWING_KEYS if k in values]
    if shadow:
        raise CredentialsFileError(
            f"{shown_config}: profile '{target}' has {shadow[0]}, so tools ignore the keys "
            f"in {shown_creds}; remove it or choose another target")
    import botocore.exceptions
    import botocore.session

    # A session of its own, so that botocore reads both files afresh, as written. It
    # only resolves credentials (no client, no call), so it needs none of the event
    # handlers a session otherwise registers (most of what creating one costs).
    session = botocore.session.Session(include_builtin_handlers=False)
    session.set_config_variable("config_file", str(config_path))
    session.set_config_variable("credentials_file", str(creds_path))
    # An explicit profile turns the AWS_ACCESS_KEY_ID... variables off: this checks the files.
    session.set_config_variable("profile", target)
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.ProfileNotFound as e:
        raise CredentialsFileError(f"{shown_creds}: botocore finds no profile '{target}' "
                                   "after the write") from e
    except botocore.exceptions.BotoCoreError as e:
        raise CredentialsFileError(f"{shown_creds}: botocore cannot read profile '{target}' "
                                   f"({type(e).__name__})") from e
    if credentials is None:
        raise CredentialsFileError(f"{shown_creds}: profile '{target}' yields no credentials "
                                   "through botocore after the write")
    method = getattr(credentials, "method", "?")
    if method != "shared-credentials-file":
        raise CredentialsFileError(f"profile '{target}' resolves through {method}, not "
                                   f"{shown_creds}; choose another target")
    found = credentials.access_key
    if found != access_key_id:
        raise CredentialsFileError(f"{shown_creds}: profile '{target}' yields key {mask(found)}, "
                                   f"not the new {mask(access_key_id)}")


def env_warnings(target: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Environment variables that make tools look somewhere other than ``target``."""
    e = os.environ if env is None else env
    warnings: list[str] = []
    if e.get("AWS_ACCESS_KEY_ID"):
        warnings.append(f"AWS_ACCESS_KEY_ID is set in the environment: tools use it, even with "
                        f"AWS_PROFILE={target}; only --profile {target} overrides it")
    elif e.get("AWS_SECRET_ACCESS_KEY"):
        warnings.append("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID: "
                        "some tools fail on the partial keys")
    if e.get("AWS_SESSION_TOKEN") or e.get("AWS_SECURITY_TOKEN"):
        var = "AWS_SESSION_TOKEN" if e.get("AWS_SESSION_TOKEN") else "AWS_SECURITY_TOKEN"
        warnings.append(f"{var} is set in the environment: tools may pair it with other keys "
                        f"instead of profile '{target}'")
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        value = e.get(var)
        if value and value != target:
            warnings.append(f"{var}={value} in the environment: tools use profile '{value}', "
                            f"not '{target}'")
            break
    return warnings
