"""``roletray keys``: move a source's long-term keys between the credentials file and
the OS keyring.

``import_keys`` takes the steps in the one order that keeps the keys somewhere at
every moment, so a crash (kill -9) at any point leaves them in the file or the
keyring, never in neither, and running it again completes it:

1. ``keyring``: put the pair into the keyring, read it back, compare; the index
   (``tray.keys_index``) records the source;
2. ``verified``: sts:GetCallerIdentity signed with the pair;
3. ``config``: ``credential_process = roletray credential-process --source SOURCE``
   in the config profile SOURCE (botocore still prefers the file's keys, so the
   profile works unchanged);
4. ``file``: the two key lines leave the credentials file.

``pause(step)`` is called after each step: a no-op, except for the kill -9 tests
(``ROLETRAY_TEST_PAUSE_FILE``, read by the CLI). The AWS check comes in as
``verify``, so this module never imports botocore (nor ``keyring``: the
``SecretStore`` loads it on first use).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from tray import keys_index
from tray.awsfiles import awsconfig, credfile
from tray.domain.errors import (
    ConfigError,
    CredentialsFileError,
    KeyringLockedError,
    KeyringUnavailableError,
    RoletrayError,
)
from tray.domain.models import iso_utc, mask, utcnow
from tray.domain.source_line import PROGRAM, is_roletray_source_line, source_line
from tray.paths import Paths
from tray.platform.secret_store import UNLOCK_HOW, SecretStore, StoredKeys

STEPS = ("keyring", "verified", "config", "file")
EXPORT_STEPS = ("file", "config")
# Config keys that make a profile something else than "the keys of the file".
_OTHER_SOURCES = ("role_arn", "credential_source", "web_identity_token_file")

T = TypeVar("T")
Verify = Callable[[StoredKeys], Mapping[str, str]]


def _no_pause(step: str) -> None:
    return None


def test_pause(path: str | None, at: str | None) -> Callable[[str], None]:
    """The kill -9 tests' hook: at step ``at`` write its name to ``path`` (a file or
    a FIFO the test reads) and wait until killed. No ``path``: never pauses."""
    if not path:
        return _no_pause

    def pause(step: str) -> None:
        if at and step != at:
            return
        with open(path, "w", encoding="utf-8") as f:
            f.write(step + "\n")
        threading.Event().wait()  # until the test's kill -9

    return pause


@dataclass(frozen=True)
class KeysContext:
    """What the keys use cases work with; built by the CLI (tests pass a fake store,
    and ``verify`` calls moto)."""

    paths: Paths
    store: SecretStore
    verify: Verify  # sts:GetCallerIdentity signed with the keys; AwsError when refused
    program: Sequence[str] = PROGRAM  # the words that start roletray in the config line
    now: Callable[[], datetime] = utcnow
    pause: Callable[[str], None] = field(default=_no_pause)


@dataclass(frozen=True)
class Imported:
    source: str
    masked_key: str
    backend: str
    identity_arn: str | None  # None: nothing left to do, so AWS was not asked
    line: str  # the credential_process value now in the config


@dataclass(frozen=True)
class Held:
    """One source of ``keys list``."""

    source: str
    masked_key: str
    backend: str
    in_keyring: bool
    config_line: bool  # roletray's credential_process line is in the config profile
    file_has_keys: bool  # the credentials file (still, or again) has a key pair for it
    imported_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "key": self.masked_key, "backend": self.backend,
                "in_keyring": self.in_keyring, "config_line": self.config_line,
                "file_has_keys": self.file_has_keys,
                "imported_at": iso_utc(self.imported_at)}


@dataclass(frozen=True)
class Exported:
    source: str
    masked_key: str
    line_removed: bool


@dataclass(frozen=True)
class Removed:
    source: str
    forgot: bool  # False: the keyring held nothing for it
    line_removed: bool


# --- import ----------------------------------------------------------------------------


def import_keys(source: str, ctx: KeysContext) -> Imported:
    """Move ``[source]``'s key pair into the keyring (see the module's steps)."""
    cred, config = ctx.paths.aws_credentials, ctx.paths.aws_config
    line = source_line(source, ctx.program)
    line_in_place = _check_profile(source, ctx)
    found = credfile.read_source_keys(cred, source)
    where = f"{ctx.paths.display(cred)} line {found.lineno}: section [{source}]"
    if found.state in ("absent", "other"):
        held = _locked_says_how(lambda: ctx.store.get(source), source)
        if held is not None and line_in_place:
            _record(held, ctx)
            return Imported(source, held.masked_key, ctx.store.describe(), None, line)
        raise CredentialsFileError(f"{ctx.paths.display(cred)}: no access key pair in section "
                                   f"[{source}] to import")
    if found.state == "owned":
        raise CredentialsFileError(f"{where} is roletray's own kept section (temporary keys "
                                   "it writes); only long-term keys are imported")
    if found.state == "temporary":
        raise CredentialsFileError(f"{where} holds temporary keys (aws_session_token); only "
                                   "long-term keys (an IAM user's access key) are imported")
    if found.state == "partial":
        raise CredentialsFileError(f"{where} has only one of aws_access_key_id and "
                                   "aws_secret_access_key; nothing to import")
    assert found.access_key_id and found.secret_access_key
    keys = StoredKeys(source, found.access_key_id, found.secret_access_key)

    before = _locked_says_how(lambda: _put_and_check(keys, ctx.store), source)
    _record(keys, ctx)
    ctx.pause("keyring")
    try:
        identity = ctx.verify(keys)
    except RoletrayError as e:
        # Leave the keyring as it was: an earlier import's (working) keys come back.
        if before is None:
            ctx.store.delete(source)
            keys_index.forget(source, ctx.paths)
        elif before != keys:
            ctx.store.put(before)
            _record(before, ctx)
        raise _told(e, f"the keys stay in {ctx.paths.display(cred)}, nothing was moved") from e
    ctx.pause("verified")
    credfile.set_source_line(config, source, line)
    ctx.pause("config")
    credfile.remove_source_keys(cred, source, keys.access_key_id)
    ctx.pause("file")
    return Imported(source, keys.masked_key, ctx.store.describe(),
                    identity.get("Arn"), line)


def _told(error: RoletrayError, more: str) -> RoletrayError:
    """``error`` of the same class (so the same exit code), its message followed by
    ``more``; a class with a message template of its own is left as it is."""
    if type(error).fmt != RoletrayError.fmt:
        return error
    return type(error)(f"{error}; {more}")


def _check_profile(source: str, ctx: KeysContext) -> bool:
    """Refuse a config profile that gets its keys elsewhere; True when roletray's line
    for ``source`` is in place (an import that ran, or was killed after step 3)."""
    config = ctx.paths.aws_config
    credfile.name_checked(config, source)
    values = awsconfig.load_profile_map(config).get(source, {})
    process = values.get("credential_process")
    if process is not None and is_roletray_source_line(process) != source:
        raise ConfigError(f"{ctx.paths.display(config)}: profile '{source}' has a "
                          "credential_process already; its keys come from there, not the "
                          "credentials file")
    other = [k for k in values if k in _OTHER_SOURCES or k.startswith("sso_")]
    if other:
        raise ConfigError(f"{ctx.paths.display(config)}: profile '{source}' has {other[0]}; "
                          "it is not a profile of long-term keys, nothing to import")
    return process is not None


def _put_and_check(keys: StoredKeys, store: SecretStore) -> StoredKeys | None:
    """Put ``keys`` (unless held already) and read them back; what was held before."""
    before = store.get(keys.source)
    if before != keys:
        store.put(keys)
    if store.get(keys.source) != keys:
        raise KeyringUnavailableError(
            reason=f"{store.describe()} did not give back the keys of '{keys.source}' "
                   "that were put into it")
    return before


def _record(keys: StoredKeys, ctx: KeysContext) -> None:
    entry = keys_index.load(ctx.paths).get(keys.source)
    if entry is None or entry.masked_key != keys.masked_key:
        keys_index.record(keys_index.Entry(keys.source, keys.masked_key, ctx.now()), ctx.paths)


def _locked_says_how(call: Callable[[], T], source: str) -> T:
    try:
        return call()
    except KeyringLockedError as e:
        raise KeyringLockedError(source=source, profile=source,
                                 how=UNLOCK_HOW + "; nothing was moved") from e


# --- list ------------------------------------------------------------------------------


def list_keys(ctx: KeysContext) -> list[Held]:
    """The index's sources, each confirmed against the keyring and the files."""
    entries = keys_index.load(ctx.paths)
    if not entries:
        return []
    backend = ctx.store.describe()
    held = []
    for name, entry in sorted(entries.items()):
        keys = ctx.store.get(name)
        found = credfile.read_source_keys(ctx.paths.aws_credentials, name)
        line = credfile.source_line_of(ctx.paths.aws_config, name)
        held.append(Held(name, keys.masked_key if keys else entry.masked_key, backend,
                         keys is not None, is_roletray_source_line(line) == name,
                         found.state == "long-term", entry.imported_at))
    return held


# --- export and remove -----------------------------------------------------------------


def export_keys(source: str, ctx: KeysContext) -> Exported:
    """Put the keyring's pair back into ``[source]``, then remove roletray's config
    line (only it). The keyring item stays until ``remove``."""
    cred = ctx.paths.aws_credentials
    keys = ctx.store.get(source)
    if keys is None:
        raise CredentialsFileError(f"the OS keyring ({ctx.store.describe()}) holds no keys "
                                   f"for '{source}'; `roletray keys list` shows what it holds")
    credfile.put_source_keys(cred, source, keys.access_key_id, keys.secret_access_key)
    ctx.pause("file")
    removed = credfile.remove_source_line(ctx.paths.aws_config, source)
    ctx.pause("config")
    return Exported(source, keys.masked_key, removed)


def remove_keys(source: str, ctx: KeysContext, *, force: bool = False) -> Removed:
    """Forget the keyring's pair of ``source`` (and roletray's config line, which would
    have nothing to hand out). Refused unless the credentials file holds the same
    pair, or ``force``."""
    cred = ctx.paths.aws_credentials
    keys = ctx.store.get(source)
    if keys is None:
        keys_index.forget(source, ctx.paths)
        return Removed(source, False, credfile.remove_source_line(ctx.paths.aws_config, source))
    found = credfile.read_source_keys(cred, source)
    in_file = (found.state == "long-term" and found.access_key_id == keys.access_key_id
               and found.secret_access_key == keys.secret_access_key)
    if not in_file and not force:
        raise CredentialsFileError(
            f"{ctx.paths.display(cred)} does not hold the keys of '{source}' "
            f"({mask(keys.access_key_id)}) that the keyring holds; forgetting them would lose "
            f"them: run `roletray keys export {source}` first, or --force")
    line_removed = credfile.remove_source_line(ctx.paths.aws_config, source)
    ctx.store.delete(source)
    keys_index.forget(source, ctx.paths)
    return Removed(source, True, line_removed)
