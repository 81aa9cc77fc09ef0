"""What ``roletray credential-process --source SOURCE`` hands out for a keyring-held source.

``keys import SOURCE`` leaves the source profile with
``credential_process = roletray credential-process --source SOURCE --file-id=FILE_ID``
(FILE_ID: the credentials file the keys came from, ``tray.keys_index.file_id``; None
for a line from before file ids: the env's credentials file); every tool that
uses SOURCE directly (the aws CLI, an SDK) then gets an ``sts:GetSessionToken``
session made with the long-term keys from the OS keyring, never the keys themselves:
``start_session``. A session cannot call IAM without MFA (nor GetSessionToken
again); ``--no-session`` is the per-profile opt-out that hands out the long-term pair:
``long_term``.

MFA-aware: when the config profile SOURCE has ``mfa_serial``, the session is made with
a code (``MfaRequiredError`` without one), as ``aws --profile SOURCE`` would need.

Runs in one-shot commands and the worker child (``tray.engine.worker``), never in the
long-running tray or daemon: it loads botocore and ``keyring``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from tray import paths
from tray.awsfiles import awsconfig
from tray.domain.errors import MfaRequiredError, UnknownProfileError, UsageError
from tray.domain.models import SourceSession
from tray.i18n import N_

if TYPE_CHECKING:
    from tray.platform.secret_store import SecretStore, StoredKeys

# GetSessionToken's own limits for an IAM user's keys, and what roletray asks for.
MIN_SECONDS = 900
MAX_SECONDS = 36 * 3600
DEFAULT_SESSION = timedelta(hours=12)


def source_profile(source: str, env: Mapping[str, str]) -> dict[str, str]:
    """The config profile SOURCE (``[default]`` or ``[profile SOURCE]``); exit 2 when absent."""
    config_path = paths.aws_config_file(env)
    profile_map = awsconfig.load_profile_map(config_path, home=paths.home_of(env))
    if source not in profile_map:
        raise UnknownProfileError(profile=source, path=paths.display_path(config_path, env))
    return profile_map[source]


def session_seconds(duration: int | None = None) -> int:
    seconds = duration or int(DEFAULT_SESSION.total_seconds())
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise UsageError(N_("duration {seconds} must be a whole number from {low} to "
                            "{high} (GetSessionToken's limits)"),
                         seconds=seconds, low=MIN_SECONDS, high=MAX_SECONDS)
    return seconds


def start_session(source: str, *, env: Mapping[str, str], file_id: str | None = None,
                  mfa_code: str | None = None, duration: int | None = None,
                  store: SecretStore | None = None) -> SourceSession:
    """One GetSessionToken signed by SOURCE's keys from the keyring.

    Raises ``UnknownProfileError`` (no such profile), ``SourceCredentialsError`` (no keys
    in the keyring), ``KeyringLockedError``, ``MfaRequiredError`` (the profile has
    ``mfa_serial`` and no code was given), and the STS call's errors.
    """
    from tray.aws import sts
    from tray.aws.session import load_keyring_keys

    seconds = session_seconds(duration)
    config = source_profile(source, env)
    mfa_serial = config.get("mfa_serial") or None
    if mfa_serial and not mfa_code:
        # Before the keyring: a locked keyring is not worth a prompt when no code came.
        raise MfaRequiredError(profile=source, mfa_serial=mfa_serial)
    keys = load_keyring_keys(source, file_id, env=env, store=store)
    creds, date = sts.session_token_with_keys(
        source, keys.access_key_id, keys.secret_access_key, duration=seconds, env=env,
        mfa_serial=mfa_serial, mfa_code=mfa_code)
    return SourceSession(source=source, credentials=creds, server_date=date)


def long_term(source: str, *, env: Mapping[str, str], file_id: str | None = None,
              store: SecretStore | None = None) -> StoredKeys:
    """SOURCE's long-term pair (``--no-session``)."""
    from tray.aws.session import load_keyring_keys

    source_profile(source, env)
    return load_keyring_keys(source, file_id, env=env, store=store)


def long_term_document(keys: StoredKeys) -> dict[str, object]:
    """The Version 1 document without SessionToken and Expiration: botocore then
    treats the keys as static (never refreshed), as they are."""
    return {"Version": 1, "AccessKeyId": keys.access_key_id,
            "SecretAccessKey": keys.secret_access_key}


def needs_code(source: str, env: Mapping[str, str]) -> str | None:
    """SOURCE's ``mfa_serial``, when its sessions need a code."""
    return source_profile(source, env).get("mfa_serial") or None
