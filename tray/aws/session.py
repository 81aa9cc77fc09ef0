"""The one botocore session builder for a role's *source*, and the rules every AWS
caller shares (duration limits, session names, source labels, error codes).

``client_creator(profile, env=...)`` returns a function with the signature of
botocore's ``Session.create_client`` (the ``client_creator`` contract botocore's
own providers take). Its clients sign with the role's source credentials as
botocore resolves them (static keys, chained roles, ``credential_process``,
SSO), and are configured as the role profile, as ``aws --profile ROLE`` does.
Given ``aws_access_key_id=...`` (an MFA session's keys) it signs with those.
The assume path, the MFA session, the doctor and identity checks all use it.

Three of botocore's providers are swapped through its resolver API for bounded or
current ones: ``credential_process`` is stopped after ``PROCESS_TIMEOUT`` seconds
(``ROLETRAY_PROCESS_TIMEOUT`` in the env given overrides it), with its whole
process group, and its stderr is never repeated (it may hold a secret); SSO
and ``aws login`` read their token caches under the env's HOME. Everything is read from the
``env`` mapping given, never from the process environment.

botocore is imported when a session is built, not with this module: the tray and
the daemon import this module's callers but never load botocore themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from tray import paths
from tray.awsfiles import awsconfig
from tray.domain import chain as call_chain
from tray.domain.errors import (
    ConfigError,
    CredentialProcessTimeoutError,
    KeyringKeysMissingError,
    SourceCredentialsError,
)
from tray.domain.models import RoleProfile
from tray.domain.source_line import parse_source_line
from tray.domain.text import N_, Text

if TYPE_CHECKING:
    import botocore.session

    from tray.platform.secret_store import SecretStore, StoredKeys

ClientCreator = Callable[..., Any]
"""``(service_name, region_name=None, api_version=None, use_ssl=True, verify=None,
endpoint_url=None, aws_access_key_id=None, aws_secret_access_key=None,
aws_session_token=None, config=None, aws_account_id=None) -> client``:
botocore's ``Session.create_client``."""

ClientFactory = Callable[..., ClientCreator]
"""``factory(profile, *, env, profile_map=None) -> ClientCreator`` for ``profile``'s source."""

# Bounded, so that a dead or hanging endpoint fails in seconds, not minutes:
# a hang costs at most MAX_ATTEMPTS * READ_TIMEOUT plus about a second of backoff.
# The refresher retries later with its own backoff, so few attempts here suffice.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
MAX_ATTEMPTS = 2
DEFAULT_REGION = "us-east-1"
# A credential_process that has not answered by then is waiting for a person, or stuck.
PROCESS_TIMEOUT = 30.0
PROCESS_TIMEOUT_ENV = "ROLETRAY_PROCESS_TIMEOUT"

# Session durations, in seconds: what roletray asks for when the profile names
# none, what AWS accepts, and AWS's cap for a session assumed with role-session keys.
DEFAULT_DURATION = 3600
MIN_DURATION = awsconfig.MIN_DURATION
MAX_DURATION = awsconfig.MAX_DURATION
CHAINED_MAX = 3600


def session_name(now: datetime) -> str:
    """The RoleSessionName roletray sends when the profile names none."""
    return f"roletray-{int(now.timestamp())}"


def source_label(profile: RoleProfile) -> str:
    """Whose keys sign for ``profile``, as messages name them."""
    if profile.kind == "sso":
        return Text(N_("its Identity Center sign-in"))
    if profile.kind == "login":
        return Text(N_("its aws login sign-in"))
    if profile.source_profile:
        return Text(N_("source profile '{profile}'"), profile=profile.source_profile)
    return Text(N_("credential_source {credential_source}"),
                credential_source=profile.credential_source)


def skip_crt_unless_login(profile_name: str, profile_map: Mapping[str, Mapping[str, str]],
                          modules: dict[str, Any] | None = None) -> bool:
    """For a one-shot process about to assume ``profile_name``: leave awscrt unloaded
    unless an ``aws login`` sign-in is in its chain. Returns whether it did.

    botocore imports ``awscrt.auth`` when it is imported (``botocore.compat``), used or
    not: its native library costs ~100 ms, a quarter of a cold ``roletray assume``.
    ``BOTO_DISABLE_CRT`` does not save it (botocore reads it after the import), and it
    would take away the EC keys the ``aws login`` provider signs its DPoP proofs with
    anyway. So the module is marked absent (``sys.modules[name] = None``, the import
    system's own "not available"): botocore then behaves as with no awscrt installed,
    signing SigV4 in Python, which STS, IAM and SSO all accept. A chain with a
    ``login_session`` (the role's own, or a source's) keeps it. Nothing changes once
    botocore is loaded (it decided then), nor in a process that serves many profiles
    (the warm worker: this is for composition roots making one call)."""
    found: dict[str, Any] = sys.modules if modules is None else modules
    if "botocore" in found or "awscrt" in found:
        return False
    if any("login_session" in profile_map.get(name, {})
           for name in awsconfig.source_chain(profile_name, profile_map)):
        return False
    found["awscrt"] = None
    return True


def error_code(e: BaseException) -> str | None:
    """AWS's error code, where botocore keeps it (``ClientError.response``)."""
    response = getattr(e, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        code = error.get("Code") if isinstance(error, Mapping) else None
        return str(code) if code else None
    return None


def error_message(e: BaseException) -> str:
    """AWS's error message (of a ``ClientError``), else an empty string."""
    response = getattr(e, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            return str(error.get("Message", ""))
    return ""


def region(profile: RoleProfile, profile_map: Mapping[str, Mapping[str, str]],
           env: Mapping[str, str]) -> str:
    # The role's configured region (or its chain's) is the most specific statement
    # about where to assume it, so it comes before AWS_REGION here.
    return (awsconfig.region_for(profile, profile_map) or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)


def process_timeout_seconds(env: Mapping[str, str], value: float | None = None) -> float:
    if value is not None:
        return value
    try:
        return float(env.get(PROCESS_TIMEOUT_ENV) or PROCESS_TIMEOUT)
    except ValueError:
        return PROCESS_TIMEOUT


@dataclass(frozen=True)
class Limits:
    """How long one caller waits: per connection, per answer, attempts, helper process."""

    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    process_timeout: float | None = None  # None: the env's ROLETRAY_PROCESS_TIMEOUT, else 30 s


def make_client_factory(limits: Limits | None = None, *,
                        store: SecretStore | None = None) -> ClientFactory:
    """A ``ClientFactory`` with ``limits`` (tests and the doctor use shorter ones);
    ``store``: where keyring-held sources' keys are read (None: the OS keyring)."""
    bounds = limits or Limits()

    def factory(profile: RoleProfile, *, env: Mapping[str, str],
                profile_map: Mapping[str, Mapping[str, str]] | None = None) -> ClientCreator:
        return client_creator(profile, env=env, profile_map=profile_map, limits=bounds,
                              store=store)

    return factory


def client_creator(profile: RoleProfile, *, env: Mapping[str, str],
                   profile_map: Mapping[str, Mapping[str, str]] | None = None,
                   limits: Limits | None = None,
                   store: SecretStore | None = None) -> ClientCreator:
    """``session.create_client`` for ``profile``'s source, configured as ``profile``.

    Nothing is resolved yet: the source's credentials are, on the first client
    created without keys (a chained source assumes its own role then, once).
    Raises ``ConfigError`` for a chain that would prompt on the terminal.
    """
    from botocore.config import Config
    from botocore.exceptions import NoCredentialsError

    bounds = limits or Limits()
    if profile_map is None:
        profile_map = awsconfig.load_profile_map(paths.aws_config_file(env),
                                                 home=paths.home_of(env))
    refuse_prompting_chain(profile, profile_map)
    # Every credential_process below runs with this role in ROLETRAY_CHAIN: a helper that
    # is roletray resolving the same role again refuses (tray.domain.chain).
    env = call_chain.extended(env, profile.name)
    where = region(profile, profile_map, env)
    config = Config(connect_timeout=bounds.connect_timeout, read_timeout=bounds.read_timeout,
                    retries={"mode": "standard", "total_max_attempts": bounds.max_attempts})
    session = source_session(profile, env=env, region_name=where, config=config,
                             process_timeout=process_timeout_seconds(env, bounds.process_timeout),
                             store=store)
    configured: list[bool] = []

    def create_client(service_name: str, region_name: str | None = None,
                      api_version: str | None = None, use_ssl: bool = True,
                      verify: bool | str | None = None, endpoint_url: str | None = None,
                      aws_access_key_id: str | None = None,
                      aws_secret_access_key: str | None = None,
                      aws_session_token: str | None = None, config: Any = None,
                      aws_account_id: str | None = None) -> Any:
        if aws_access_key_id is None:
            credentials = session.get_credentials()
            if credentials is None:
                raise NoCredentialsError()
            # Resolve now (a chained source assumes its own role here) so that a failure
            # is the source's, apart from the call the client is made for.
            credentials.get_frozen_credentials()
        if not configured:
            # The resolver is bound to the source already; from here on the session
            # reads the role profile's settings, as `aws --profile ROLE` does.
            configure_as(session, profile)
            configured.append(True)
        return session.create_client(
            service_name, region_name=region_name or where, api_version=api_version,
            use_ssl=use_ssl, verify=verify,
            endpoint_url=endpoint_url or endpoint_from(env, service_name),
            aws_access_key_id=aws_access_key_id, aws_secret_access_key=aws_secret_access_key,
            # botocore merges ``config`` into the session's default (the bounded one).
            aws_session_token=aws_session_token, config=config, aws_account_id=aws_account_id)

    return create_client


def endpoint_from(env: Mapping[str, str], service_name: str) -> str | None:
    """``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``, of ``env``
    (botocore would read them from the process environment)."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    key = "AWS_ENDPOINT_URL_" + service_name.upper().replace("-", "_").replace(" ", "_")
    return env.get(key) or env.get("AWS_ENDPOINT_URL") or None


def base_session(env: Mapping[str, str], profile: str | None = None,
                 **kwargs: Any) -> botocore.session.Session:
    """A botocore session whose settings come from ``env`` and the files it names."""
    import botocore.configprovider as cp
    import botocore.session

    if kwargs.get("include_builtin_handlers", True) and "event_hooks" not in kwargs:
        kwargs = {**kwargs, "event_hooks": _builtin_hooks(), "include_builtin_handlers": False}
    session = botocore.session.Session(**kwargs)
    store = session.get_component("config_store")
    chain = cp.ConfigChainFactory(session=session, environ=dict(env))
    for name, (config_names, env_names, default, convert) in \
            cp.BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        store.set_config_provider(name, chain.create_config_chain(
            instance_name=name, env_var_names=env_names, config_property_names=config_names,
            default=default, conversion_func=convert))
    session.set_config_variable("config_file", str(paths.aws_config_file(env)))
    session.set_config_variable("credentials_file", str(paths.aws_credentials_file(env)))
    session.lazy_register_component("data_loader", partial(_shared_loader, session))
    if profile is not None:
        # An explicit profile turns the AWS_ACCESS_KEY_ID... variables off, as `--profile` does.
        session.set_config_variable("profile", profile)
    return session


# botocore's Loader (its JSON models: a service's API, its endpoint rules, the partitions)
# per data path, shared by every session of this process. A session builds its own, and
# parses megabytes of JSON again (~70 ms of each AssumeRole): the warm worker, which
# builds a session per call, parses them once. The models are what botocore ships (and
# AWS_DATA_PATH's folders, the key), not the caller's files or profile: sharing them
# changes nothing a call sees.
_LOADERS: dict[str | None, Any] = {}


_HOOKS: list[Any] = []


def _builtin_hooks() -> Any:
    """A copy of an event emitter holding botocore's built-in handlers, registered once
    per process: registering them (~600, each signature inspected) is most of what
    building a session costs (~25 ms), and the warm worker builds one per call. The
    handlers are botocore's module functions, the same for every session; a copy is
    what botocore gives each client of a session too."""
    import copy

    import botocore.hooks
    import botocore.session

    if not _HOOKS:
        template = botocore.hooks.HierarchicalEmitter()
        botocore.session.Session(event_hooks=template)  # registers them on ``template``
        _HOOKS.append(template)
    return copy.copy(_HOOKS[0])


def _shared_loader(session: botocore.session.Session) -> Any:
    from tray.aws.loader import loader as one_service_loader

    data_path = session.get_config_variable("data_path")
    key = str(data_path) if data_path is not None else None
    loader = _LOADERS.get(key)
    if loader is None:
        loader = _LOADERS[key] = one_service_loader(key)
    return loader


def source_session(profile: RoleProfile, *, env: Mapping[str, str], region_name: str,
                   config: Any, process_timeout: float,
                   store: SecretStore | None = None) -> botocore.session.Session:
    """A session whose credential resolver is the role's source's, and only that.

    A source whose ``credential_process`` is roletray's own ``--source`` line signs
    with the keyring's long-term keys directly (``KeyringOrProcess``): running that
    line would start roletray again, to hand back a session that cannot sign an
    MFA session's GetSessionToken."""
    import botocore.credentials

    if profile.credential_source is not None:
        session = base_session(env)
        # Only the named source, as botocore's AssumeRoleProvider does: never the files.
        session.register_component("credential_provider", botocore.credentials.CredentialResolver(
            [_credential_source(profile.credential_source, env)]))
        session.set_default_client_config(config)
        return session
    source = str(profile.source_profile)
    session = base_session(env, source)
    # A source that is itself a role calls STS in this region, as `aws --profile` would,
    # and with the same bounded timeouts (botocore's own wait a minute, 5 times).
    session.set_config_variable("region", region_name)
    session.set_default_client_config(config)
    resolver = session.get_component("credential_provider")
    ours = partial(_profile_providers, session, env=env, process_timeout=process_timeout,
                   store=store)
    if profile.source_profile == profile.name:
        # A role profile that is its own source signs with its static keys, not the role.
        resolver.remove("assume-role")
    else:
        # A source that is itself a role: its own source's providers are ours too, so a
        # keyring-held source deeper in the chain signs without running roletray again.
        _swap(resolver, _assume_role_provider(session, source, env, ours))
    for provider in ours(source):
        _swap(resolver, provider)
    _swap(resolver, botocore.credentials.ContainerProvider(environ=dict(env)))
    return session


def own_session(profile: RoleProfile, *, env: Mapping[str, str],
                profile_map: Mapping[str, Mapping[str, str]] | None = None,
                limits: Limits | None = None,
                login_renew_below: timedelta | None = None) -> botocore.session.Session:
    """A session whose credentials are ``profile``'s own (an Identity Center permission
    set, an ``aws login`` sign-in), resolved by botocore's providers as ``aws --profile``
    resolves them, from ``env``'s token caches and endpoints. A sign-in's keys with less
    than ``login_renew_below`` left are renewed (botocore's own rule: 5 minutes)."""
    bounds = limits or Limits()
    if profile_map is None:
        profile_map = awsconfig.load_profile_map(paths.aws_config_file(env),
                                                 home=paths.home_of(env))
    from botocore.config import Config

    session = base_session(env, profile.name)
    session.set_config_variable("region", region(profile, profile_map, env))
    session.set_default_client_config(Config(
        connect_timeout=bounds.connect_timeout, read_timeout=bounds.read_timeout,
        retries={"mode": "standard", "total_max_attempts": bounds.max_attempts}))
    resolver = session.get_component("credential_provider")
    _swap(resolver, _sso_provider(session, profile.name, env))
    _swap(resolver, _login_provider(session, profile.name, env, renew_below=login_renew_below))
    return session


def _profile_providers(session: botocore.session.Session, name: str, *,
                       env: Mapping[str, str], process_timeout: float,
                       store: SecretStore | None) -> list[Any]:
    """roletray's providers for profile ``name``, each to take the place of botocore's
    provider of the same ``METHOD``: the bounded process (or the keyring, for roletray's
    own ``--source`` line) and SSO reading the env's token cache."""
    import botocore.credentials

    process = botocore.credentials.ProcessProvider(
        profile_name=name, load_config=lambda: session.full_config,
        popen=partial(BoundedPopen, timeout=process_timeout, profile=name, env=dict(env)))
    return [KeyringOrProcess(process, profile_name=name,
                             load_config=lambda: session.full_config, env=env, store=store),
            _sso_provider(session, name, env), _login_provider(session, name, env)]


class _ChainProviders:
    """botocore's ``ProfileProviderBuilder`` (what its ``AssumeRoleProvider`` asks for
    the providers of a chain's source profile), with ``ours(name)`` in the place of
    botocore's providers of the same kind."""

    def __init__(self, builder: Any, ours: Callable[[str], list[Any]]) -> None:
        self._builder = builder
        self._ours = ours

    def providers(self, profile_name: str, disable_env_vars: bool = False) -> list[Any]:
        import botocore.credentials

        chain = botocore.credentials.CredentialResolver(self._builder.providers(
            profile_name=profile_name, disable_env_vars=disable_env_vars))
        for provider in self._ours(profile_name):
            _swap(chain, provider)
        return list(chain.providers)


def _assume_role_provider(session: botocore.session.Session, source: str,
                          env: Mapping[str, str], ours: Callable[[str], list[Any]]) -> Any:
    """botocore's ``AssumeRoleProvider`` for ``source``, as its default resolver builds
    it, except: the chain's source profiles get ``ours`` providers, its STS endpoint and
    a ``credential_source`` come from ``env`` (not the process environment), and it never
    prompts (the chain's MFA is refused before: ``refuse_prompting_chain``)."""
    import botocore.credentials

    def create_client(service_name: str, **kwargs: Any) -> Any:
        kwargs["endpoint_url"] = kwargs.get("endpoint_url") or endpoint_from(env, service_name)
        return session.create_client(service_name, **kwargs)

    return botocore.credentials.AssumeRoleProvider(
        load_config=lambda: session.full_config, client_creator=create_client,
        cache={}, profile_name=source, prompter=_never_prompt,
        credential_sourcer=botocore.credentials.CanonicalNameCredentialSourcer(
            [_credential_source(n, env) for n in ("Environment", "EcsContainer",
                                                   "Ec2InstanceMetadata")]),
        profile_provider_builder=_ChainProviders(
            botocore.credentials.ProfileProviderBuilder(session, cache={}), ours))


def _never_prompt(_prompt: str = "") -> str:
    raise ConfigError(Text(N_("a source profile in the chain asks for an MFA code; roletray "
                              "asks for MFA only for the role it assumes")))


def _swap(resolver: Any, provider: Any) -> None:
    """Put ``provider`` where botocore's own provider of the same kind is."""
    if provider.METHOD in [p.METHOD for p in resolver.providers]:
        # After it, then remove the first of that name: botocore's, not ours.
        resolver.insert_after(provider.METHOD, provider)
        resolver.remove(provider.METHOD)


class KeyringOrProcess:
    """botocore's ``custom-process`` provider, except for roletray's own line
    (``credential_process = roletray credential-process --source SOURCE
    --file-id=FILE_ID``): then the long-term keys come from the OS keyring, the item of
    the line's credentials file (a line without ``--file-id``: the env's credentials
    file), as static keys.

    It takes the process provider's place in botocore's order, so keys the
    credentials file still holds for the profile win (the moment between
    ``keys import`` writing the line and removing the file's keys).
    """

    METHOD = "custom-process"
    CANONICAL_NAME = "custom-process"

    def __init__(self, process: Any, *, profile_name: str,
                 load_config: Callable[[], Mapping[str, Any]], env: Mapping[str, str],
                 store: SecretStore | None = None) -> None:
        self._process = process
        self._profile = profile_name
        self._load_config = load_config
        self._env = env
        self._store = store

    def load(self) -> Any:
        profiles = self._load_config().get("profiles", {})
        line = parse_source_line(profiles.get(self._profile, {}).get("credential_process"))
        if line is None:
            return self._process.load()
        return keyring_credentials(line.source, line.file_id, env=self._env, store=self._store)


def keyring_credentials(source: str, file_id: str | None, *, env: Mapping[str, str],
                        store: SecretStore | None = None) -> Any:
    """botocore ``Credentials`` of SOURCE's long-term keys in the OS keyring.

    Raises ``SourceCredentialsError`` when the keyring holds none, and the secret
    store's ``KeyringLockedError`` / ``KeyringUnavailableError``."""
    import botocore.credentials

    keys = load_keyring_keys(source, file_id, env=env, store=store)
    return botocore.credentials.Credentials(keys.access_key_id, keys.secret_access_key,
                                            method="roletray-keyring")


def load_keyring_keys(source: str, file_id: str | None, *, env: Mapping[str, str],
                      store: SecretStore | None = None) -> StoredKeys:
    """SOURCE's ``StoredKeys`` of the credentials file ``file_id`` (None: the env's
    credentials file, taking over an item from before file ids: ``keys_legacy``);
    ``SourceCredentialsError`` naming the fix when absent."""
    from tray import keys_index, keys_legacy
    from tray.platform.secret_store import SecretStore

    where = paths.Paths.from_env(env)
    found = keys_legacy.lookup(source, file_id, store or SecretStore(), where)
    if found is None:
        shown = (where.display(where.aws_credentials) if file_id is None else
                 keys_index.path_of(file_id, where) or f"the credentials file {file_id}")
        raise KeyringKeysMissingError(
            N_("source profile '{source}': its keys (of [{source}] in {path}) are not in the OS "
               "keyring; put them in the credentials file and run `roletray keys import "
               "{source}`, or remove the profile's credential_process line (`roletray keys "
               "export {source}` does both when the keyring still has them)"),
            source=source, path=shown)
    return found


def configure_as(session: botocore.session.Session, profile: RoleProfile) -> None:
    """Configure ``session`` as ``profile`` (endpoints, regional STS)."""
    names = session.full_config["profiles"]
    if profile.name in names:
        session.set_config_variable("profile", profile.name)
    elif profile.source_profile in names:
        session.set_config_variable("profile", profile.source_profile)
    if profile.sts_regional_endpoints:
        session.set_config_variable("sts_regional_endpoints", profile.sts_regional_endpoints)


def refuse_prompting_chain(profile: RoleProfile,
                           profile_map: Mapping[str, Mapping[str, str]]) -> None:
    # botocore would prompt on the terminal (getpass) for a source role's MFA code;
    # in the tray or the daemon that blocks forever.
    for name in awsconfig.source_chain(profile, profile_map)[1:]:
        values = profile_map.get(name, {})
        if name == profile.name or any(k in values for k in awsconfig.STATIC_KEYS):
            break
        if "mfa_serial" in values and "role_arn" in values:
            raise ConfigError(N_("profile '{name}': source profile '{source}' needs an MFA code; "
                                 "roletray asks for MFA only for the role it assumes"),
                              name=profile.name, source=name)


def _credential_source(name: str, env: Mapping[str, str]) -> Any:
    import botocore.credentials
    import botocore.utils

    if name == "Environment":
        return botocore.credentials.EnvProvider(environ=dict(env))
    if name == "EcsContainer":
        return botocore.credentials.ContainerProvider(environ=dict(env))
    fetcher = botocore.utils.InstanceMetadataFetcher(timeout=1, num_attempts=1)
    return botocore.credentials.InstanceMetadataProvider(iam_role_fetcher=fetcher)


def _sso_provider(session: botocore.session.Session, profile_name: str,
                  env: Mapping[str, str]) -> Any:
    """botocore's SSO provider, reading the token cache under the env's HOME
    (botocore computes its default folder once, when it is imported)."""
    import botocore.credentials
    import botocore.tokens
    from botocore.utils import JSONFileCache

    from tray.aws import sso

    token_cache = JSONFileCache(str(sso.cache_dir(env)), dumps_func=_sso_dumps)
    return botocore.credentials.SSOProvider(
        load_config=lambda: session.full_config, client_creator=_env_endpoints(session, env),
        profile_name=profile_name, cache={}, token_cache=token_cache,
        token_provider=botocore.tokens.SSOTokenProvider(session, cache=token_cache,
                                                        profile_name=profile_name))


def _login_provider(session: botocore.session.Session, profile_name: str,
                    env: Mapping[str, str], *, renew_below: timedelta | None = None) -> Any:
    """botocore's ``aws login`` provider, reading and saving the token under the env's
    HOME (or its ``AWS_LOGIN_CACHE_DIRECTORY``), renewing at the env's Sign-In endpoint.
    botocore renews the keys with the refresh token and saves the rotated token where the
    AWS CLI reads it; roletray never copies it elsewhere. With ``renew_below``, keys with
    less than that left are renewed at once (a section kept fresh), not botocore's 5 min."""
    import botocore.credentials
    from botocore.utils import JSONFileCache

    from tray.awsfiles import logincache

    cache = JSONFileCache(str(logincache.cache_dir(env)))
    if renew_below is not None:
        return RenewingLogin(session, profile_name, env, cache, renew_below)
    return botocore.credentials.LoginProvider(
        load_config=lambda: session.full_config, client_creator=_env_endpoints(session, env),
        profile_name=profile_name, token_cache=cache)


def _env_endpoints(session: botocore.session.Session,
                   env: Mapping[str, str]) -> Callable[..., Any]:
    """``session.create_client`` with the endpoint of ``env`` (``AWS_ENDPOINT_URL_<SVC>``):
    botocore's providers would read the process environment's."""
    def create_client(service_name: str, **kwargs: Any) -> Any:
        kwargs["endpoint_url"] = kwargs.get("endpoint_url") or endpoint_from(env, service_name)
        return session.create_client(service_name, **kwargs)

    return create_client


class RenewingLogin:
    """botocore's ``aws login`` provider for a sign-in roletray keeps fresh in a section:
    the same fetcher (DPoP proof, rotated token saved in botocore's cache), but keys with
    less than ``renew_below`` left are renewed when asked, so each scheduled refresh
    renews once instead of handing back the keys it already wrote."""

    METHOD = "login"
    CANONICAL_NAME = "login"

    def __init__(self, session: botocore.session.Session, profile_name: str,
                 env: Mapping[str, str], cache: Any, renew_below: timedelta) -> None:
        self._session = session
        self._profile = profile_name
        self._env = env
        self._cache = cache
        self._renew_below = renew_below

    def load(self) -> Any:
        import botocore.compat
        import botocore.credentials
        import botocore.exceptions
        import botocore.utils

        values = self._session.full_config.get("profiles", {}).get(self._profile, {})
        if "login_session" not in values:
            return None
        if botocore.compat.EC is None:
            raise botocore.exceptions.MissingDependencyException(
                msg="the login credential provider needs botocore[crt]")

        class Fetcher(botocore.credentials.LoginCredentialFetcher):
            _REFRESH_THRESHOLD = int(self._renew_below.total_seconds())

        fetcher = Fetcher(session_name=values["login_session"],
                          token_loader=botocore.utils.LoginTokenLoader(self._cache),
                          client_creator=_env_endpoints(self._session, self._env))
        fetcher.load_cached_credentials()  # no sign-in at all: botocore's own error
        keys = fetcher.refresh_credentials()
        return botocore.credentials.RefreshableCredentials(
            access_key=keys["access_key"], secret_key=keys["secret_key"], token=keys["token"],
            expiry_time=botocore.utils.parse_timestamp(keys["expiry_time"]),
            account_id=keys["account_id"], method=self.METHOD,
            refresh_using=fetcher.refresh_credentials)


def _sso_dumps(obj: Any) -> str:
    """botocore's cache format: datetimes as ``2026-11-28T14:26:50Z``."""
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value

    return json.dumps(obj, default=default)


# ------------------------------------------------------------------ credential_process

class BoundedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """``credential_process`` as botocore runs it, but stopped after ``timeout`` seconds,
    and never quoted: a failure says how it failed and where to look, not its stderr.

    It runs in a process group of its own, so that the whole tree (a shell script's
    ``sleep`` grandchild too) is stopped; on a terminal that group is handed the
    terminal while it runs, so a helper that prompts on /dev/tty still can.
    """

    def __init__(self, args: Any, *, timeout: float, profile: str,
                 env: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self._bound = timeout
        self._profile = profile
        self._tty = _controlling_tty()
        self._chain = call_chain.names(env or {})
        if env is not None:
            env = call_chain.extended(env, profile)
        super().__init__(args, process_group=0, env=env, **kwargs)
        self._terminal = _hand_terminal(self._tty, self.pid)

    def communicate(self, input: Any = None, timeout: float | None = None) -> Any:
        try:
            out, err = super().communicate(input, timeout=self._bound)
        except subprocess.TimeoutExpired:
            self._stop()
            raise CredentialProcessTimeoutError(profile=self._profile,
                                                seconds=f"{self._bound:g}") from None
        except BaseException:  # we are stopping (a worker's SIGTERM, Ctrl-C): so is it
            self._stop()
            raise
        finally:
            self._take_terminal_back()
        if self.returncode != 0 and isinstance(err, bytes) \
                and err.startswith(call_chain.LOOP_MARK.encode()):
            # roletray's own refusal, not the helper's words: safe to name.
            shown = " -> ".join([*self._chain, self._profile])
            raise ConfigError(
                N_("profile '{profile_name}': its credential_process runs roletray for a profile "
                   "that is being resolved already, a loop (chain: {path} -> ...); give "
                   "'{profile_name}' keys of its own"),
                profile_name=self._profile, path=shown)
        if self.returncode != 0:
            how = (f"was killed by signal {-self.returncode}" if self.returncode < 0
                   else f"exited with code {self.returncode}")
            raise SourceCredentialsError(
                N_("credential_process for profile '{profile_name}' {how}; its messages are not "
                   "repeated here (they may hold a secret): run `aws sts get-caller-identity "
                   "--profile {profile_name}` to see them"),
                profile_name=self._profile, how=how)
        return out, b""

    def _stop(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        # Not communicate(): a process that left the group may keep the pipes open.
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=1)

    def _take_terminal_back(self) -> None:
        if self._terminal is not None:
            _give_terminal(*self._terminal)
            self._terminal = None


def _controlling_tty() -> int | None:
    """The fd of our terminal, when we are in its foreground (a CLI run)."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        if fd >= 0 and os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except (AttributeError, ValueError, OSError):
        pass
    return None


def _hand_terminal(fd: int | None, pgid: int) -> tuple[int, int] | None:
    """Make ``pgid`` the terminal's foreground group; (fd, our group) to restore."""
    if fd is None:
        return None
    ours = os.getpgrp()
    if not _give_terminal(fd, pgid):
        return None
    # It may have touched the terminal before it was its own, and been stopped for that.
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGCONT)
    return fd, ours


def _give_terminal(fd: int, pgid: int) -> bool:
    # A background group that sets the foreground group is sent SIGTTOU (a stop)
    # unless it blocks it; blocking works in any thread, unlike changing the handler.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return True
