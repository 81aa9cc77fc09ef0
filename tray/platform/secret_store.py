"""A source's long-term access keys in the OS secret store, through ``keyring``.

One item per source of a credentials file: service ``roletray``, user name
``SOURCE@FILE_ID`` (``item_name``; FILE_ID is ``tray.keys_index.file_id`` of the
credentials file the keys came from, so two files' ``[default]`` are two items), the
secret a small JSON document with the key pair. roletray before file ids named the
item SOURCE alone: ``file_id`` None reads such an item (``tray.keys_legacy`` moves it
to its file once). The Secret Service item's label names the source, the file and
the access key id (never the secret), so a person can find it in Seahorse or
KWallet. macOS Keychain and Windows Credential Locker come from
``keyring``'s own backend selection.

``keyring`` is imported lazily, by one-shot commands and the short-lived children
that call AWS: the long-running tray and daemon never load it.

Errors are the user's to act on and name the piece that is missing:
- no usable backend: ``KeyringUnavailableError`` (exit 2);
- a locked store that stayed locked (the system's prompt was dismissed, or none can
  be shown): ``KeyringLockedError``, a needs-input state like an MFA code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from tray.domain.errors import KeyringLockedError, KeyringUnavailableError
from tray.domain.models import mask
from tray.domain.text import N_, Text

SERVICE = "roletray"

# What to do about a locked store, for a person without a desktop prompt. The password
# is typed, never in a command line or the shell's history, and goes in without a
# newline (gnome-keyring would take it as part of the password). Never `keyring get`:
# it prints the stored secret.
UNLOCK_HOW = ("unlock it from your desktop (it asks for your login password), or without a "
              "desktop (GNOME Keyring) run `read -rs P && printf %s \"$P\" | "
              "gnome-keyring-daemon --replace --unlock; unset P` and type the password; "
              "then try again (a running roletray tray or daemon goes on by itself)")


class Backend(Protocol):
    """The part of ``keyring.backend.KeyringBackend`` roletray uses."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


@dataclass(frozen=True)
class StoredKeys:
    """A source's long-term key pair. ``repr`` shows the masked key id only."""

    source: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    @property
    def masked_key(self) -> str:
        return mask(self.access_key_id)

    def to_secret(self) -> str:
        return json.dumps({"Version": 1, "AccessKeyId": self.access_key_id,
                           "SecretAccessKey": self.secret_access_key})

    @classmethod
    def from_secret(cls, source: str, secret: str) -> StoredKeys | None:
        """None when the item is not one of ours (hand-made, or damaged)."""
        try:
            doc = json.loads(secret)
        except ValueError:
            return None
        if not isinstance(doc, dict) or doc.get("Version") != 1:
            return None
        key_id, secret_key = doc.get("AccessKeyId"), doc.get("SecretAccessKey")
        if not isinstance(key_id, str) or not isinstance(secret_key, str) \
                or not key_id or not secret_key:
            return None
        return cls(source, key_id, secret_key)


def item_name(source: str, file_id: str | None) -> str:
    """The item's user name: ``SOURCE@FILE_ID``; SOURCE alone for ``file_id`` None
    (an item made before file ids)."""
    return source if file_id is None else f"{source}@{file_id}"


def label_for(keys: StoredKeys, where: str | None = None) -> str:
    of = f"'{keys.source}' in {where}" if where else f"'{keys.source}'"
    return f"roletray: AWS keys of {of} ({keys.access_key_id})"


class SecretStore:
    """The OS keyring as seen by roletray. ``backend`` is resolved on first use when
    not given (tests pass a fake one)."""

    def __init__(self, backend: Backend | None = None) -> None:
        self._backend = backend

    # ------------------------------------------------------------------ backend

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = _default_backend()
        return self._backend

    def describe(self) -> str:
        """The backend's name for messages and the doctor ("SecretService Keyring")."""
        backend = self.backend
        name = getattr(backend, "name", None)
        return name if isinstance(name, str) else type(backend).__name__

    # ------------------------------------------------------------------ items

    def get(self, source: str, file_id: str | None) -> StoredKeys | None:
        """The keys of ``source`` of the credentials file ``file_id`` (None: the item
        from before file ids)."""
        secret = self._call(source, "get_password", SERVICE, item_name(source, file_id))
        return StoredKeys.from_secret(source, secret) if isinstance(secret, str) else None

    def put(self, keys: StoredKeys, file_id: str | None, where: str | None = None) -> None:
        """``where``: the credentials file as shown to the user, for the label."""
        name = item_name(keys.source, file_id)
        self._call(keys.source, "set_password", SERVICE, name, keys.to_secret())
        _relabel(self.backend, name, label_for(keys, where))

    def delete(self, source: str, file_id: str | None) -> bool:
        """False when there was nothing to delete."""
        from keyring.errors import PasswordDeleteError

        try:
            self._call(source, "delete_password", SERVICE, item_name(source, file_id))
        except PasswordDeleteError:
            return False
        return True

    def _call(self, source: str, method: str, *args: str) -> Any:
        try:
            from keyring import errors as kerr
        except ImportError as e:
            raise KeyringUnavailableError(reason=_NOT_INSTALLED) from e
        try:
            return getattr(self.backend, method)(*args)
        except kerr.KeyringLocked as e:
            raise KeyringLockedError(source=source, profile=source, how=UNLOCK_HOW) from e
        except (kerr.NoKeyringError, kerr.InitError) as e:
            raise KeyringUnavailableError(reason=_reason(e)) from e


_NOT_INSTALLED = Text(N_("the Python package 'keyring' is not installed"))


def _default_backend() -> Backend:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError as e:
        raise KeyringUnavailableError(reason=_NOT_INSTALLED) from e
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise KeyringUnavailableError(
            reason=Text(N_("keyring found no backend (on Linux: a Secret Service such as "
                           "gnome-keyring or KWallet on the D-Bus session bus)")))
    return backend  # type: ignore[no-any-return]


def _reason(error: Exception) -> str:
    """A one-line reason from keyring's own message (it names the backend, never a secret)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


def _relabel(backend: Backend, name: str, label: str) -> None:
    """Secret Service: name the source, the file and the key id in the item's label
    (keyring's own label is "Password for 'NAME' on 'roletray'"). Best effort: a label
    is a courtesy, never a reason to fail an import."""
    get_collection = getattr(backend, "get_preferred_collection", None)
    query = getattr(backend, "_query", None)
    if get_collection is None or query is None:
        return
    try:
        from contextlib import closing

        collection = get_collection()
        with closing(collection.connection):
            for item in collection.search_items(query(SERVICE, name)):
                item.set_label(label)
    except Exception:  # noqa: BLE001 (see the docstring)
        return
