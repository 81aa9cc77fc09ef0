"""A keyring backend in a dict, for unit tests of what roletray does with the OS keyring.

It raises what ``keyring``'s real backends raise (``KeyringLocked`` when ``locked``,
``PasswordDeleteError`` for a missing item); the integration tests use a real Secret
Service (``tests/secretservice.py``).
"""

from __future__ import annotations

from keyring.errors import KeyringLocked, NoKeyringError, PasswordDeleteError


class FakeKeyring:
    name = "fake keyring"

    def __init__(self, *, locked: bool = False, missing: bool = False) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.locked = locked
        self.missing = missing  # as if no backend could start
        self.calls: list[str] = []

    def _check(self, method: str) -> None:
        self.calls.append(method)
        if self.missing:
            raise NoKeyringError("no backend (fake)")
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")

    def get_password(self, service: str, username: str) -> str | None:
        self._check("get")
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check("set")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check("delete")
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("no such item")


def cred_file_id() -> str:
    """The id of the test's credentials file (``AWS_SHARED_CREDENTIALS_FILE``), as
    ``roletray keys import`` names its keyring item and writes its config line."""
    import os
    from pathlib import Path

    from tray.keys_index import file_id

    return file_id(Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]))


def imported_line(source: str = "default") -> str:
    """The config line ``roletray keys import SOURCE`` writes for the test's files."""
    from tray.domain.source_line import source_line

    return source_line(source, file_id=cred_file_id())
