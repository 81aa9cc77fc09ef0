"""Is the OS keyring locked? Asked of the Secret Service over D-Bus, never prompting.

The refresher waits in needs-input (``needs_keyring``) when a source's keys sit in a
locked keyring; it asks ``SecretServiceLock.locked`` on its 30 s tick, only while such
a wait is on, and refreshes once the keyring reads unlocked. The question is the
default collection's ``Locked`` property (``ReadAlias("default")``, then
``Properties.Get``), which never shows a prompt and never unlocks anything.

Through ``jeepney`` (pure Python, already the notifier's D-Bus client): the long-running
parent never loads ``keyring`` or ``secretstorage``. Each look opens its own short
connection, so nothing is held while no wait is on, and threads never share one. The
calls carry D-Bus's ``no_auto_start`` flag: a look never starts a keyring daemon.

``lock_check(env)`` is the composition root's way in: None where nothing can be watched
(macOS, Windows, no D-Bus session bus, no jeepney); there a person unlocks the keyring
and chooses "Try again".
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# True: locked; False: unlocked; None: no answer (no Secret Service on the bus, no
# default collection, the bus gone): nothing to go by.
LockCheck = Callable[[], "bool | None"]

SERVICE = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
SERVICE_IFACE = "org.freedesktop.Secret.Service"
COLLECTION_IFACE = "org.freedesktop.Secret.Collection"
TIMEOUT = 2.0  # seconds per call: a wedged bus must not hold the tick for long


class SecretServiceLock:
    """The Secret Service's default collection on the bus at ``address``."""

    def __init__(self, address: str, *, timeout: float = TIMEOUT) -> None:
        self.address = address
        self._timeout = timeout

    def locked(self) -> bool | None:
        """The default collection's ``Locked`` property; None when nothing answers it."""
        try:
            from jeepney.io.blocking import open_dbus_connection

            conn = open_dbus_connection(bus=self.address)
        except Exception as e:  # noqa: BLE001 - no bus: nothing to go by
            log.debug("no D-Bus session bus to ask about the keyring: %s", e)
            return None
        try:
            return self._ask(conn)
        except Exception as e:  # noqa: BLE001 - a timeout, a bus that went away
            log.debug("the Secret Service did not say whether it is locked: %s", e)
            return None
        finally:
            conn.close()

    def _ask(self, conn: Any) -> bool | None:
        from jeepney import DBusAddress, Properties, new_method_call

        service = DBusAddress(SERVICE_PATH, bus_name=SERVICE, interface=SERVICE_IFACE)
        alias = self._call(conn, new_method_call(service, "ReadAlias", "s", ("default",)))
        path = alias[0] if alias else "/"
        if not isinstance(path, str) or path == "/":  # no default collection (yet)
            return None
        collection = DBusAddress(path, bus_name=SERVICE, interface=COLLECTION_IFACE)
        reply = self._call(conn, Properties(collection).get("Locked"))
        if not reply:
            return None
        signature, value = reply[0]
        return value if signature == "b" and isinstance(value, bool) else None

    def _call(self, conn: Any, msg: Any) -> tuple[Any, ...] | None:
        """The reply's body; None for an error reply (ServiceUnknown: nobody owns the
        name, and we asked D-Bus not to start anybody)."""
        from jeepney.low_level import MessageFlag, MessageType

        msg.header.flags |= MessageFlag.no_auto_start
        reply = conn.send_and_get_reply(msg, timeout=self._timeout)
        if reply.header.message_type is MessageType.error:
            return None
        return tuple(reply.body)


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """The D-Bus session bus of ``env``: ``DBUS_SESSION_BUS_ADDRESS``, else systemd's
    ``$XDG_RUNTIME_DIR/bus`` when that socket exists."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime, "bus").is_socket():
        return f"unix:path={Path(runtime, 'bus')}"
    return None


def lock_check(env: Mapping[str, str], platform: str | None = None) -> LockCheck | None:
    """How the running instance asks whether the keyring is locked; None where it cannot
    (the keyring is then macOS's, Windows', or not on a D-Bus session bus)."""
    platform = platform or sys.platform
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return None
    if importlib.util.find_spec("jeepney") is None:
        return None
    address = session_bus_address(env)
    return SecretServiceLock(address).locked if address else None
