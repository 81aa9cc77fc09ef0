"""``roletray keys``: move a source's long-term keys between the credentials file and
the OS keyring.

``import_keys`` takes the steps in the one order that keeps the keys somewhere at
every moment, so a crash (kill -9) at any point leaves them in the file or the
keyring, never in neither, and running it again completes it:

1. ``keyring``: put the pair into the keyring, read it back, compare; the index
   (``tray.keys_index``) records the source;
2. ``verified``: sts:GetCallerIdentity signed with the pair;
3. ``config``: ``credential_process = roletray credential-process --source SOURCE
   --file-id=FILE_ID`` in the config profile SOURCE (botocore still prefers the
   file's keys, so the profile works unchanged);
4. ``file``: the two key lines leave the credentials file.

Keys are kept per credentials file (the one ``AWS_SHARED_CREDENTIALS_FILE`` names, or
``~/.aws/credentials``): the keyring item and the index entry are those of
(FILE_ID, SOURCE), FILE_ID being ``keys_index.file_id`` of the file's real path. An
import never writes over another file's keys: a config profile whose line hands out
another file's keys, or a file id recorded for another path, is refused before
anything is written. An item from before file ids is claimed by its file at first use
(``tray.keys_legacy``).

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
from pathlib import Path
from typing import TypeVar

from tray import keys_index, keys_legacy
from tray.awsfiles import awsconfig, configedit, credfile
from tray.domain.errors import (
    ConfigError,
    CredentialsFileError,
    KeyringLockedError,
    KeyringUnavailableError,
    RoletrayError,
)
from tray.domain.models import iso_utc, mask, utcnow
from tray.domain.source_line import PROGRAM, SourceLine, parse_source_line, source_line
from tray.domain.text import N_, Text
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
    config_line: bool  # the config profile has roletray's credential_process line for it
    file_has_keys: bool  # its credentials file (still, or again) has a key pair for it
    imported_at: datetime
    file: str | None = None  # its credentials file as shown (None: from before file ids)
    file_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "key": self.masked_key, "backend": self.backend,
                "file": self.file, "file_id": self.file_id,
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
    fid = _file_id(ctx)
    line = source_line(source, ctx.program, fid)
    current = _check_profile(source, fid, ctx)
    found = credfile.read_source_keys(cred, source, home=ctx.paths.home)
    where = Text(N_("{path} line {line}: section [{section}]"), path=ctx.paths.display(cred),
                 line=found.lineno, section=source)
    if found.state in ("absent", "other"):
        held = _locked_says_how(lambda: _held(source, ctx), source)
        if held is not None and current is not None:
            _record(held, ctx)
            configedit.set_source_line(config, source, line, home=ctx.paths.home)
            return Imported(source, held.masked_key, ctx.store.describe(), None, line)
        raise CredentialsFileError(N_("{path}: no access key pair in section [{source}] to import"),
                                   path=ctx.paths.display(cred), source=source)
    if found.state == "owned":
        raise CredentialsFileError(N_("{where} is roletray's own kept section (temporary keys it "
                                      "writes); only long-term keys are imported"),
                                   where=where)
    if found.state == "temporary":
        raise CredentialsFileError(N_("{where} holds temporary keys (aws_session_token); only "
                                      "long-term keys (an IAM user's access key) are imported"),
                                   where=where)
    if found.state == "partial":
        raise CredentialsFileError(N_("{where} has only one of aws_access_key_id and "
                                      "aws_secret_access_key; nothing to import"),
                                   where=where)
    assert found.access_key_id and found.secret_access_key
    keys = StoredKeys(source, found.access_key_id, found.secret_access_key)

    before = _locked_says_how(lambda: _put_and_check(keys, ctx), source)
    _record(keys, ctx)
    ctx.pause("keyring")
    try:
        identity = ctx.verify(keys)
    except RoletrayError as e:
        # Leave the keyring as it was: an earlier import's (working) keys come back.
        if before is None:
            ctx.store.delete(source, fid)
            keys_index.forget(source, fid, ctx.paths)
        elif before != keys:
            ctx.store.put(before, fid, ctx.paths.display(cred))
            _record(before, ctx)
        raise _told(e, f"the keys stay in {ctx.paths.display(cred)}, nothing was moved") from e
    ctx.pause("verified")
    configedit.set_source_line(config, source, line, home=ctx.paths.home)
    ctx.pause("config")
    credfile.remove_source_keys(cred, source, keys.access_key_id, home=ctx.paths.home)
    ctx.pause("file")
    return Imported(source, keys.masked_key, ctx.store.describe(),
                    identity.get("Arn"), line)


def _told(error: RoletrayError, more: str) -> RoletrayError:
    """``error`` of the same class (so the same exit code), its message followed by
    ``more``; a class with a message template of its own is left as it is."""
    if type(error).fmt != RoletrayError.fmt:
        return error
    return type(error)(f"{error}; {more}")


def _file_id(ctx: KeysContext) -> str:
    """The id of the credentials file; refused when the index records that id for
    another path (two paths on one id: neither file's keys are written over)."""
    cred = ctx.paths.aws_credentials
    fid = keys_index.file_id(cred)
    recorded = keys_index.path_of(fid, ctx.paths)
    if recorded is not None and recorded != keys_index.real_path(cred):
        raise CredentialsFileError(
            N_("{path}: its file id {file_id} is that of {recorded} in roletray's keys index "
               "already; roletray keeps the keys of one file per id and writes over neither: "
               "move one of the two files, or `roletray keys export` that file's sources first; "
               "nothing was moved"),
            path=ctx.paths.display(cred), file_id=fid, recorded=recorded)
    return fid


def _check_profile(source: str, fid: str, ctx: KeysContext) -> SourceLine | None:
    """Refuse a config profile that gets its keys elsewhere, including roletray's line
    of another credentials file; roletray's line for ``source`` when in place (an
    import that ran, or was killed after step 3; or the line from before file ids)."""
    config = ctx.paths.aws_config
    configedit.name_checked(config, source, home=ctx.paths.home)
    values = awsconfig.load_profile_map(config, home=ctx.paths.home).get(source, {})
    process = values.get("credential_process")
    line = parse_source_line(process)
    if process is not None and (line is None or line.source != source):
        raise ConfigError(N_("{path}: profile '{source}' has a credential_process already; its "
                             "keys come from there, not the credentials file"),
                          path=ctx.paths.display(config), source=source)
    if line is not None and line.file_id not in (None, fid):
        other = keys_index.path_of(line.file_id or "", ctx.paths)
        raise ConfigError(
            N_("{path}: profile '{source}' hands out the keys of [{source}] of another "
               "credentials file ({other}); one profile hands out one file's keys: give "
               "{credentials} a config of its own (AWS_CONFIG_FILE), or run `roletray keys "
               "export {source}` with the other file first; nothing was moved"),
            path=ctx.paths.display(config), source=source,
            other=other or Text(N_("file id {file_id}"), file_id=str(line.file_id)),
            credentials=ctx.paths.display(ctx.paths.aws_credentials))
    elsewhere = [k for k in values if k in _OTHER_SOURCES or k.startswith("sso_")]
    if elsewhere:
        raise ConfigError(N_("{path}: profile '{source}' has {elsewhere}; it is not a profile of "
                             "long-term keys, nothing to import"),
                          path=ctx.paths.display(config), source=source, elsewhere=elsewhere[0])
    return line


def _held(source: str, ctx: KeysContext) -> StoredKeys | None:
    """What the keyring holds for ``source`` of the credentials file, taking over the
    item from before file ids when it is this file's (``keys_legacy.claim``)."""
    found = ctx.store.get(source, keys_index.file_id(ctx.paths.aws_credentials))
    return found if found is not None else keys_legacy.claim(source, ctx.store, ctx.paths)


def _put_and_check(keys: StoredKeys, ctx: KeysContext) -> StoredKeys | None:
    """Put ``keys`` (unless held already) and read them back; what was held before."""
    store, cred = ctx.store, ctx.paths.aws_credentials
    fid = keys_index.file_id(cred)
    before = _held(keys.source, ctx)
    if before != keys:
        store.put(keys, fid, ctx.paths.display(cred))
    if store.get(keys.source, fid) != keys:
        raise KeyringUnavailableError(
            reason=f"{store.describe()} did not give back the keys of '{keys.source}' "
                   "that were put into it")
    return before


def _record(keys: StoredKeys, ctx: KeysContext) -> None:
    cred = ctx.paths.aws_credentials
    fid = keys_index.file_id(cred)
    entry = keys_index.load(ctx.paths).get((fid, keys.source))
    if entry is None or entry.masked_key != keys.masked_key:
        keys_index.record(keys_index.Entry(keys.source, keys.masked_key, ctx.now(), fid,
                                           keys_index.real_path(cred)), ctx.paths)


def _locked_says_how(call: Callable[[], T], source: str) -> T:
    try:
        return call()
    except KeyringLockedError as e:
        raise KeyringLockedError(source=source, profile=source,
                                 how=UNLOCK_HOW + "; nothing was moved") from e


# --- list ------------------------------------------------------------------------------


def list_keys(ctx: KeysContext) -> list[Held]:
    """The index's sources of every credentials file, each confirmed against the
    keyring, its file and the config file."""
    entries = keys_index.load(ctx.paths)
    if not entries:
        return []
    backend = ctx.store.describe()
    held = []
    for (fid, name), entry in sorted(entries.items(), key=lambda kv: (kv[0][0] or "",
                                                                      kv[0][1])):
        keys = ctx.store.get(name, fid)
        cred = Path(entry.file_path) if entry.file_path else ctx.paths.aws_credentials
        try:
            found = credfile.read_source_keys(cred, name, home=ctx.paths.home).state
        except RoletrayError:
            found = "absent"
        line = parse_source_line(configedit.source_line_of(ctx.paths.aws_config, name,
                                                         home=ctx.paths.home))
        held.append(Held(name, keys.masked_key if keys else entry.masked_key, backend,
                         keys is not None, line is not None and line.source == name
                         and line.file_id == fid, found == "long-term",
                         entry.imported_at,
                         ctx.paths.display(cred) if entry.file_path else None, fid))
    return held


# --- export and remove -----------------------------------------------------------------


def export_keys(source: str, ctx: KeysContext) -> Exported:
    """Put the keyring's pair of the credentials file's ``[source]`` back into it, then
    remove roletray's config line for that file (only it). The keyring item stays
    until ``remove``."""
    cred = ctx.paths.aws_credentials
    keys = _held(source, ctx)
    if keys is None:
        raise CredentialsFileError(N_("the OS keyring ({keyring}) holds no keys for '{source}' "
                                      "of {path}; `roletray keys list` shows what it holds"),
                                   keyring=ctx.store.describe(), source=source,
                                   path=ctx.paths.display(cred))
    credfile.put_source_keys(cred, source, keys.access_key_id, keys.secret_access_key,
                             home=ctx.paths.home)
    ctx.pause("file")
    removed = configedit.remove_source_line(ctx.paths.aws_config, source,
                                          file_id=keys_index.file_id(cred),
                                          home=ctx.paths.home)
    ctx.pause("config")
    return Exported(source, keys.masked_key, removed)


def remove_keys(source: str, ctx: KeysContext, *, force: bool = False) -> Removed:
    """Forget the keyring's pair of the credentials file's ``source`` (and roletray's
    config line for it, which would have nothing to hand out). Refused unless the
    credentials file holds the same pair, or ``force`` (which also forgets an item
    from before file ids that no file can claim)."""
    cred, config, home = ctx.paths.aws_credentials, ctx.paths.aws_config, ctx.paths.home
    fid = keys_index.file_id(cred)
    try:
        keys = _held(source, ctx)
    except keys_legacy.LegacyKeysUnclaimed:
        if not force:
            raise
        ctx.store.delete(source, None)
        keys_index.forget(source, None, ctx.paths)
        return Removed(source, True, False)
    if keys is None:
        keys_index.forget(source, fid, ctx.paths)
        return Removed(source, False,
                       configedit.remove_source_line(config, source, file_id=fid, home=home))
    found = credfile.read_source_keys(cred, source, home=home)
    in_file = (found.state == "long-term" and found.access_key_id == keys.access_key_id
               and found.secret_access_key == keys.secret_access_key)
    if not in_file and not force:
        raise CredentialsFileError(
            N_("{path} does not hold the keys of '{source}' ({key}) that the keyring holds; "
               "forgetting them would lose them: run `roletray keys export {source}` first, or "
               "--force"),
            path=ctx.paths.display(cred), source=source, key=mask(keys.access_key_id))
    line_removed = configedit.remove_source_line(config, source, file_id=fid, home=home)
    ctx.store.delete(source, fid)
    keys_index.forget(source, fid, ctx.paths)
    return Removed(source, True, line_removed)
