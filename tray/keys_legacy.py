"""Keys that roletray put into the OS keyring before it kept them per credentials file:
found at first use, and moved once to the file they belong to.

Before, the keyring item was named SOURCE alone (``SecretStore.get(source, None)``) and
``keys.json`` (version 1) recorded no file. Such an item belongs to the credentials
file whose ``[SOURCE]`` it was moved out of; nothing recorded which one, so ``claim``
asks the files of the caller (its credentials file and config file):

- the credentials file holds the same key pair in ``[SOURCE]`` (an import stopped
  before its last step, or an export): the item is that file's;
- the credentials file holds no keys in ``[SOURCE]`` and the config profile SOURCE has
  roletray's line without a file id (the line that import wrote beside it): the item
  is that file's;
- anything else (other keys in ``[SOURCE]``, the line of another file, no line):
  roletray cannot tell, and refuses with one line (``LegacyKeysUnclaimed``), moving
  nothing.

Claimed, the item is copied to ``SOURCE@FILE_ID``, read back and recorded in
``keys.json`` under the file; then the old item and its version 1 entry go. Once:
the old item is gone afterwards, so another file never gets it (a copy left by a
stop between those steps is recognised as the claimed file's and removed).
"""

from __future__ import annotations

from tray import keys_index
from tray.awsfiles import configedit, credfile
from tray.domain.errors import KeyringKeysMissingError, KeyringUnavailableError
from tray.domain.models import mask, utcnow
from tray.domain.source_line import parse_source_line
from tray.paths import Paths
from tray.platform.secret_store import SecretStore, StoredKeys


class LegacyKeysUnclaimed(KeyringKeysMissingError):
    """An item from before file ids that the caller's files do not show to be theirs."""


def claim(source: str, store: SecretStore, paths: Paths) -> StoredKeys | None:
    """The keys of ``source`` of ``paths.aws_credentials`` taken over from the item
    made before file ids, when they are that file's (see the module); None when there
    is no such item. Raises ``LegacyKeysUnclaimed`` when they may be another file's."""
    legacy = store.get(source, None)
    if legacy is None:
        return None
    cred = paths.aws_credentials
    fid = keys_index.file_id(cred)
    if _claimed_already(legacy, store, paths):
        store.delete(source, None)  # the copy a stop mid-claim left; its file has it
        keys_index.forget(source, None, paths)
        return store.get(source, fid)
    why = _not_this_files(legacy, paths)
    if why is not None:
        raise LegacyKeysUnclaimed(
            f"the OS keyring holds keys of '{source}' ({legacy.masked_key}) from before "
            f"roletray kept keys per credentials file, and {why}: roletray cannot tell "
            "which credentials file they belong to, so it moves nothing; run `roletray "
            f"keys export {source}` with the file they came from "
            f"(AWS_SHARED_CREDENTIALS_FILE=PATH), or forget them with `roletray keys "
            f"remove {source} --force`")
    store.put(legacy, fid, paths.display(cred))
    if store.get(source, fid) != legacy:
        raise KeyringUnavailableError(
            reason=f"{store.describe()} did not give back the keys of '{source}' that "
                   "were put into it")
    old = keys_index.load(paths).get((None, source))
    keys_index.record(keys_index.Entry(
        source, legacy.masked_key, old.imported_at if old else utcnow(), fid,
        keys_index.real_path(cred)), paths)
    store.delete(source, None)
    keys_index.forget(source, None, paths)
    return legacy


def _claimed_already(legacy: StoredKeys, store: SecretStore, paths: Paths) -> bool:
    """Whether a file claimed ``legacy`` and a stop kept the old item from going."""
    for (fid, name), entry in keys_index.load(paths).items():
        if fid is not None and name == legacy.source \
                and entry.masked_key == legacy.masked_key \
                and store.get(name, fid) == legacy:
            return True
    return False


def _not_this_files(legacy: StoredKeys, paths: Paths) -> str | None:
    """None when the caller's files show the item to be theirs; else why not."""
    source, cred, config = legacy.source, paths.aws_credentials, paths.aws_config
    shown = paths.display(cred)
    found = credfile.read_source_keys(cred, source, home=paths.home)
    if found.state == "long-term":
        if (found.access_key_id, found.secret_access_key) == \
                (legacy.access_key_id, legacy.secret_access_key):
            return None
        return f"{shown} holds other keys in [{source}] ({mask(found.access_key_id or '')})"
    if found.state not in ("absent", "other"):
        return f"{shown} holds other keys in [{source}]"
    line = parse_source_line(configedit.source_line_of(config, source, home=paths.home))
    if line is None or line.source != source:
        return (f"{paths.display(config)}: profile '{source}' has no roletray "
                "credential_process line beside it")
    if line.file_id is not None:
        return (f"{paths.display(config)}: profile '{source}' hands out the keys of "
                f"another credentials file (--file-id={line.file_id})")
    return None


def lookup(source: str, file_id: str | None, store: SecretStore,
           paths: Paths) -> StoredKeys | None:
    """The keys of a ``--source`` line: ``file_id`` from the line, or (a line from
    before file ids) the caller's credentials file, whose item may be the old one
    still (``claim``)."""
    if file_id is not None:
        return store.get(source, file_id)
    found = store.get(source, keys_index.file_id(paths.aws_credentials))
    return found if found is not None else claim(source, store, paths)
