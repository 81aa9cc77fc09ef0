"""A StatusNotifierItem host for tests: ``org.kde.StatusNotifierWatcher`` on a private
session bus, as KDE Plasma and GNOME's AppIndicator extension provide it, plus the
host's side: the item's properties and its menu over ``com.canonical.dbusmenu``.

    with SniWatcher(bus_address) as w:          # before the app starts (no trayer)
        item = w.wait_item(20)                  # ("service", "/object/path")
        w.props()["XAyatanaLabel"], w.layout(), w.click(item_id)

The watcher answers on its own connection, in a thread; everything the test asks
the item goes over a second connection. Registrations are counted (a host sees
each one as the item appearing again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_call,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from xsession import wait_for

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
DBUSMENU = "com.canonical.dbusmenu"
PROPS = "org.freedesktop.DBus.Properties"


class SniWatcher:
    def __init__(self, bus_address: str) -> None:
        self.bus_address = bus_address
        self.registrations: list[tuple[str, str]] = []  # (sender, service or path) as sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._serve: DBusConnection | None = None
        self._client: DBusConnection | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._serve = open_dbus_connection(bus=self.bus_address)
        reply = self._serve.send_and_get_reply(message_bus.RequestName(WATCHER, 4))
        assert reply.body[0] == 1, f"could not own {WATCHER}: {reply.body}"
        self._client = open_dbus_connection(bus=self.bus_address)
        self._thread = threading.Thread(target=self._loop, name="sni-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for conn in (self._serve, self._client):
            if conn is not None:
                conn.close()

    # -- the watcher ------------------------------------------------------------------
    def _loop(self) -> None:
        assert self._serve is not None
        while not self._stop.is_set():
            try:
                msg = self._serve.receive(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            try:
                self._answer(msg)
            except OSError:
                return

    def _answer(self, msg: Any) -> None:
        assert self._serve is not None
        fields = msg.header.fields
        member = fields.get(HeaderFields.member)
        iface = fields.get(HeaderFields.interface)
        sender = fields.get(HeaderFields.sender, "")
        if member == "RegisterStatusNotifierItem":
            (what,) = msg.body
            with self._lock:
                self.registrations.append((sender, what))
            self._serve.send(new_method_return(msg))
            service = what if not what.startswith("/") else sender
            here = DBusAddress(WATCHER_PATH, interface=WATCHER)
            self._serve.send(new_signal(here, "StatusNotifierItemRegistered", "s", (service,)))
        elif member == "RegisterStatusNotifierHost":
            self._serve.send(new_method_return(msg))
        elif iface == PROPS and member in ("Get", "GetAll"):
            values = {"IsStatusNotifierHostRegistered": ("b", True), "ProtocolVersion": ("i", 0),
                      "RegisteredStatusNotifierItems": ("as", [s for _, s in self.items()])}
            if member == "GetAll":
                self._serve.send(new_method_return(msg, "a{sv}", (values,)))
            elif msg.body[1] in values:
                self._serve.send(new_method_return(msg, "v", (values[msg.body[1]],)))
            else:
                self._serve.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownProperty"))
        elif iface == "org.freedesktop.DBus.Introspectable":
            self._serve.send(new_method_return(msg, "s", ("<node/>",)))
        else:
            self._serve.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.registrations)

    def registration_count(self) -> int:
        return len(self.items())

    # -- the host's side --------------------------------------------------------------
    def item(self) -> tuple[str, str]:
        """(bus name, object path) of the last registered item."""
        sender, what = self.items()[-1]
        return (sender, what) if what.startswith("/") else (what, "/StatusNotifierItem")

    def wait_item(self, timeout: float = 30,
                  alive: Callable[[], None] | None = None) -> tuple[str, str]:
        def registered() -> tuple[str, str] | None:
            if alive is not None:
                alive()
            return self.item() if self.items() else None
        return wait_for(registered, timeout, "an item to register with the watcher")

    def _call(self, path: str, iface: str, member: str, sig: str | None = None,
              body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        assert self._client is not None
        name, _ = self.item()
        addr = DBusAddress(path, bus_name=name, interface=iface)
        reply = self._client.send_and_get_reply(new_method_call(addr, member, sig, body),
                                                timeout=10)
        if reply.header.message_type == MessageType.error:
            raise RuntimeError(f"{member}: {reply.header.fields.get(HeaderFields.error_name)} "
                               f"{reply.body}")
        return tuple(reply.body)

    def props(self) -> dict[str, Any]:
        """The item's properties, as a host reads them (values unwrapped)."""
        _, path = self.item()
        (values,) = self._call(path, PROPS, "GetAll", "s", (ITEM,))
        return {k: v[1] for k, v in values.items()}

    def menu_path(self) -> str:
        return str(self.props()["Menu"])

    def layout(self) -> dict[str, Any]:
        """The menu: ``{id, label, enabled, visible, toggle, state, children}``."""
        revision, root = self._call(self.menu_path(), DBUSMENU, "GetLayout", "iias",
                                    (0, -1, []))
        return {"revision": revision, **_node(root)}

    def about_to_show(self, item_id: int) -> bool:
        """A host opens ``item_id``'s submenu: the item's answer (needUpdate)."""
        (need_update,) = self._call(self.menu_path(), DBUSMENU, "AboutToShow", "i", (item_id,))
        return bool(need_update)

    def click(self, item_id: int) -> None:
        self._call(self.menu_path(), DBUSMENU, "Event", "isvu",
                   (item_id, "clicked", ("i", 0), 0))

    def find(self, label: str, layout: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The first visible row labelled ``label`` (depth first)."""
        todo = [layout or self.layout()]
        while todo:
            node = todo.pop(0)
            if node["label"] == label and node["visible"]:
                return node
            todo[:0] = node["children"]
        return None

    def click_label(self, label: str) -> None:
        node = self.find(label)
        assert node is not None, f"no menu row {label!r}: {menu_text(self.layout())}"
        assert node["enabled"], f"{label!r} is disabled"
        self.click(node["id"])


def _node(raw: Any) -> dict[str, Any]:
    item_id, props, children = raw
    value = {k: v[1] for k, v in props.items()}
    return {"id": item_id, "label": str(value.get("label", "")).replace("__", "_"),
            "enabled": bool(value.get("enabled", True)),
            "visible": bool(value.get("visible", True)),
            "separator": value.get("type") == "separator",
            "toggle": value.get("toggle-type", ""), "state": value.get("toggle-state", -1),
            "children": [_node(c[1]) for c in children]}


def menu_text(node: dict[str, Any], depth: int = 0) -> str:
    """The menu as text (as ``tray.ui.menu.render_text`` writes it, without markers)."""
    lines = []
    for child in node["children"]:
        if not child["visible"]:
            continue
        text = "----" if child["separator"] else child["label"]
        if not child["enabled"] and not child["separator"]:
            text += " [disabled]"
        if child["toggle"] and child["state"] == 1:
            text = "(*) " + text
        lines.append("  " * depth + text)
        if child["children"]:
            lines.append(menu_text(child, depth + 1))
    return "\n".join(lines)
