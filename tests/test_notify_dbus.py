"""FreedesktopNotifier on a real, private D-Bus bus, against a scripted notification server.

The server is a few lines of jeepney that owns org.freedesktop.Notifications,
records Notify calls and emits ActionInvoked/NotificationClosed on request, so
the action path is tested without a desktop (tests/test_desktop.py does it with
dunst).
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tray.platform.notify import FreedesktopNotifier

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@pytest.fixture
def bus() -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dbus-daemon is missing (apt install dbus)")
        pytest.skip("dbus-daemon is not installed")
    p = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                          "--print-address=1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    address = p.stdout.readline().decode().strip()
    try:
        yield address
    finally:
        p.terminate()
        p.wait(timeout=10)


class FakeServer:
    """Owns the notifications name; answers GetCapabilities and Notify."""

    def __init__(self, address: str, caps: list[str]) -> None:
        from jeepney import message_bus
        from jeepney.io.blocking import Proxy, open_dbus_connection

        self.caps = caps
        self.calls: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._out: queue.Queue[Any] = queue.Queue()
        self.conn = open_dbus_connection(address)
        Proxy(message_bus, self.conn, timeout=5).RequestName(NAME, 4)
        self._next = 41
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_method_return

        while not self._stop.is_set():
            while not self._out.empty():
                self.conn.send(self._out.get())
            try:
                msg = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            if msg.header.message_type is not MessageType.method_call:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            if member == "GetCapabilities":
                self.conn.send(new_method_return(msg, "as", (self.caps,)))
            elif member == "Notify":
                self._next += 1
                self.calls.put((self._next, *msg.body))
                self.conn.send(new_method_return(msg, "u", (self._next,)))

    def emit(self, member: str, nid: int, arg: Any, sig: str = "us") -> None:
        from jeepney import DBusAddress, new_signal

        self._out.put(new_signal(DBusAddress(PATH, interface=NAME), member, sig, (nid, arg)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.conn.close()


def test_notify_with_action_and_click(bus: str) -> None:
    server = FakeServer(bus, ["actions", "body"])
    clicked = threading.Event()
    n = FreedesktopNotifier(bus=bus)
    try:
        n.notify("platform: MFA code needed", "Click to enter the code.", urgency="critical",
                 action=("Enter MFA code", clicked.set))
        nid, app, replaces, _icon, title, body, actions, hints, _ = server.calls.get(timeout=5)
        assert (app, replaces, title, body) == ("roletray", 0, "platform: MFA code needed",
                                                "Click to enter the code.")
        assert actions == ["default", "Enter MFA code"]
        assert hints["urgency"] == ("y", 2)
        assert n.supports_actions
        server.emit("ActionInvoked", nid, "default")
        assert clicked.wait(5)
        # The next notification replaces the previous one: one on screen at a time.
        n.notify("platform: keys are fresh again", "ok", urgency="low")
        call = server.calls.get(timeout=5)
        assert call[2] == nid and call[6] == [] and call[7]["urgency"] == ("y", 0)
    finally:
        n.close()
        server.close()


def test_closed_or_foreign_signals_do_not_run_the_action(bus: str) -> None:
    from jeepney import DBusAddress, new_signal
    from jeepney.io.blocking import open_dbus_connection

    server = FakeServer(bus, ["actions"])
    ran = threading.Event()
    n = FreedesktopNotifier(bus=bus)
    try:
        n.notify("t", "b", action=("Enter MFA code", ran.set))
        nid = server.calls.get(timeout=5)[0]
        # Another program on the bus cannot click for the user: it is not the server.
        with open_dbus_connection(bus) as other:
            other.send(new_signal(DBusAddress(PATH, interface=NAME), "ActionInvoked", "us",
                                  (nid, "default")))
        server.emit("NotificationClosed", nid, 2, "uu")
        server.emit("ActionInvoked", nid, "default")  # after closing: stale
        # A later notification's click proves the listener processed the signals above.
        second = threading.Event()
        n.notify("t2", "b2", action=("Enter MFA code", second.set))
        nid2 = server.calls.get(timeout=5)[0]
        server.emit("ActionInvoked", nid2, "default")
        assert second.wait(5)
        assert not ran.is_set()
    finally:
        n.close()
        server.close()


def test_no_actions_capability_sends_no_buttons(bus: str) -> None:
    server = FakeServer(bus, ["body"])
    n = FreedesktopNotifier(bus=bus)
    try:
        n.notify("t", "b", action=("Enter MFA code", lambda: None))
        assert server.calls.get(timeout=5)[6] == []
        assert not n.supports_actions
    finally:
        n.close()
        server.close()


def test_no_server_raises_so_the_fallback_takes_over(bus: str) -> None:
    n = FreedesktopNotifier(bus=bus, timeout=2)
    with pytest.raises(Exception):  # noqa: B017 - jeepney's DBusErrorResponse
        n.notify("t", "b")
    n.close()


def test_no_notification_daemon_is_reported_as_unseen(bus: str) -> None:
    """Issue 24: with no notification service every notification failed, its fallback
    too (or only logged), and nothing told the user. The platform's notifier failing is
    now said to ``on_unseen`` (the tray puts it atop its menu); one that gets through
    clears it."""
    from tray.platform.notify import FallbackNotifier, LogNotifier

    seen: list[tuple[str, str] | None] = []
    fallback = FallbackNotifier([FreedesktopNotifier(bus=bus, timeout=2), LogNotifier()],
                                on_unseen=seen.append)
    body = "the trust policy ...\nFull report: ~/r.txt"
    try:
        fallback.notify("Diagnosis of locked", body)  # nobody owns the name on this bus
        assert seen == [("Diagnosis of locked", body)]
        server = FakeServer(bus, ["body"])
        try:
            fallback.notify("Now working as platform", "expires 14:26")
        finally:
            server.close()
    finally:
        fallback.close()
    assert seen[1:] == [None]


def test_no_session_bus_at_all_is_unseen_too(tmp_path: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tray.platform.notify import choose_notifier

    seen: list[tuple[str, str] | None] = []
    env = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", env["DBUS_SESSION_BUS_ADDRESS"])
    notifier = choose_notifier(env=env, platform="linux", on_unseen=seen.append)
    notifier.notify("Diagnosis of locked", "the trust policy ...")
    notifier.close()
    assert seen == [("Diagnosis of locked", "the trust policy ...")]
