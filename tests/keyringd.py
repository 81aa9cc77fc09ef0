"""A real Secret Service for tests: a private D-Bus session bus and gnome-keyring-daemon.

``SecretService(home).start()`` starts ``dbus-daemon --session`` (its address read from
its stdout) and, on that bus, ``gnome-keyring-daemon --foreground --unlock
--components=secrets`` with the login password on its stdin; ``env`` is what a
process needs to find it (``DBUS_SESSION_BUS_ADDRESS``, ``HOME``). ``lock()`` locks
the login collection as a screen lock would, ``unlock()`` unlocks it (a restarted
gnome-keyring-daemon, password on stdin); ``stop()`` ends both by PID.

(The ``keys`` work has a harness of its own, tests/secretservice.py; the two are to be
merged into one.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

PASSWORD = b"roletray-test-login"


def available() -> bool:
    return all(shutil.which(p) for p in ("dbus-daemon", "gnome-keyring-daemon"))


class SecretService:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 20.0) -> SecretService:
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        assert address, "dbus-daemon printed no address"
        self.env = {"DBUS_SESSION_BUS_ADDRESS": address, "HOME": str(self.home)}
        try:
            self._start_keyringd(timeout)
        except BaseException:
            self.stop()  # never leave a bus or a daemon behind a failed start
            raise
        return self

    def _start_keyringd(self, timeout: float) -> None:
        env = {**os.environ, **self.env}
        env.pop("GNOME_KEYRING_CONTROL", None)
        keyringd = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env)
        self._procs.append(keyringd)
        assert keyringd.stdin is not None
        keyringd.stdin.write(PASSWORD)
        keyringd.stdin.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        # Readiness, not timing: the service answers once it owns its bus name. Not
        # asked before that: a call to the free name would make the bus start another
        # gnome-keyring-daemon (D-Bus activation), with a locked keyring, which then
        # holds the name ("another secret service is running").
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self._connection() as conn:
                    import secretstorage

                    if _name_owned(conn):
                        collection = secretstorage.get_default_collection(conn)
                        if not collection.is_locked():
                            return
            except Exception:  # noqa: BLE001, S110 - not up yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring-daemon did not come up")
            time.sleep(0.05)

    @contextlib.contextmanager
    def _connection(self):  # type: ignore[no-untyped-def]
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.env["DBUS_SESSION_BUS_ADDRESS"])
        try:
            yield conn
        finally:
            conn.close()

    def lock(self) -> None:
        """Lock the default collection (what a screen lock may do)."""
        import secretstorage

        with self._connection() as conn:
            collection = secretstorage.get_default_collection(conn)
            collection.lock()
            assert collection.is_locked()

    def unlock(self, timeout: float = 20.0) -> None:
        """Unlock the login collection without a prompt: gnome-keyring-daemon restarted
        on the same bus with the password on its stdin (what a person without a desktop
        does). Not ``--replace``: the new daemon may ask for the bus name before the old
        one has let go of it, and then runs without a Secret Service."""
        old = self._procs.pop()  # the running gnome-keyring-daemon (dbus-daemon is first)
        old.terminate()
        old.wait(timeout=5)
        self._wait_name_free(timeout)  # the bus may not have seen it go yet
        self._start_keyringd(timeout)

    def _wait_name_free(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._connection() as conn:
                if not _name_owned(conn):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the old gnome-keyring-daemon kept its bus name")
            time.sleep(0.02)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(OSError):
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()


def _name_owned(conn) -> bool:  # type: ignore[no-untyped-def]
    """Does anybody own the Secret Service's name? (Asking never starts anybody.)"""
    from jeepney import message_bus, new_method_call

    reply = conn.send_and_get_reply(new_method_call(
        message_bus, "NameHasOwner", "s", ("org.freedesktop.secrets",)), timeout=5)
    return bool(reply.body[0])
