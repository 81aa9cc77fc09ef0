"""A real Secret Service for one test: a private D-Bus bus and gnome-keyring-daemon.

    service = start(env, workdir)      # env: the test's HOME, XDG_* folders
    service.env                        # env + DBUS_SESSION_BUS_ADDRESS, for subprocesses
    service.items()                    # (label, attributes, secret) of every item
    service.lock()                     # lock the login collection
    service.stop()                     # both processes, by PID

The bus is ``dbus-daemon --nofork --print-address=1`` with a session-bus config of
its own that has no service folders: nothing the machine has installed is
activated on it (not another gnome-keyring, not the desktop's unlock prompter), so
a locked collection stays locked and ``keyring`` says so at once. The daemon is
``gnome-keyring-daemon --foreground --unlock --components=secrets`` with the
password on stdin, which creates and unlocks the ``login`` keyring in the test's
``$XDG_DATA_HOME/keyrings``. Waiting for it is waiting for its bus name (a D-Bus
signal, not a sleep).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRETS_NAME = "org.freedesktop.secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"
START_TIMEOUT = 20.0  # seconds; a start takes well under one
PROGRAMS = ("dbus-daemon", "gnome-keyring-daemon")
# Nothing of the machine's desktop session may leak into the test's processes.
DROP = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL",
         "PYTHON_KEYRING_BACKEND", "SSH_AUTH_SOCK")

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def missing() -> str | None:
    """Why the harness cannot run here (a program that is not installed), or None."""
    absent = [p for p in PROGRAMS if shutil.which(p) is None]
    if absent:
        return (f"{' and '.join(absent)} not installed (apt-get install dbus gnome-keyring "
                "libsecret-tools)")
    return None


@dataclass
class SecretService:
    address: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.address)
        try:
            yield conn
        finally:
            conn.close()

    def lock(self) -> None:
        import secretstorage

        with self.connection() as conn:
            collection = secretstorage.Collection(conn, LOGIN)
            collection.lock()
            assert collection.is_locked()

    def is_locked(self) -> bool:
        import secretstorage

        with self.connection() as conn:
            return bool(secretstorage.Collection(conn, LOGIN).is_locked())

    def items(self) -> list[tuple[str, dict[str, str], str | None]]:
        """Every item of the login collection: label, attributes, and the secret
        (None while the collection is locked)."""
        import secretstorage

        with self.connection() as conn:
            collection = secretstorage.Collection(conn, LOGIN)
            locked = collection.is_locked()
            return [(item.get_label(), dict(item.get_attributes()),
                     None if locked else item.get_secret().decode("utf-8"))
                    for item in collection.get_all_items()]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.procs.clear()


def start(env: Mapping[str, str], workdir: Path, password: str = "test-login") -> SecretService:
    """Start the bus and the daemon for a test whose folders ``env`` names (HOME,
    XDG_DATA_HOME, XDG_RUNTIME_DIR); ``workdir``: a private folder for the bus."""
    base = {k: v for k, v in env.items() if k not in DROP}
    folder = workdir / "bus"
    folder.mkdir(mode=0o700)
    config = workdir / "bus.conf"
    config.write_text(_BUS_CONFIG.format(folder=folder))
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                            "--print-address=1"], env=base, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    service = SecretService(address="", env=base, procs=[bus])
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            raise RuntimeError("dbus-daemon printed no address")
        service.address = address
        service.env = {**base, "DBUS_SESSION_BUS_ADDRESS": address}
        with service.connection() as conn:
            _start_keyring(service, conn, password)
    except BaseException:
        service.stop()
        raise
    return service


def _start_keyring(service: SecretService, conn: Any, password: str) -> None:
    from jeepney import MatchRule, message_bus
    from jeepney.io.blocking import Proxy

    bus = Proxy(message_bus, conn)
    rule = MatchRule(type="signal", sender=message_bus.bus_name,
                     interface=message_bus.interface, member="NameOwnerChanged",
                     path=message_bus.object_path)
    rule.add_arg_condition(0, SECRETS_NAME)
    bus.AddMatch(rule)
    with conn.filter(rule) as queue:
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=service.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        service.procs.append(daemon)
        assert daemon.stdin is not None
        daemon.stdin.write(password.encode())
        daemon.stdin.close()  # --unlock reads the password up to EOF
        if not bus.NameHasOwner(SECRETS_NAME)[0]:
            try:
                conn.recv_until_filtered(queue, timeout=START_TIMEOUT)
            except TimeoutError:
                raise RuntimeError(f"gnome-keyring-daemon did not take {SECRETS_NAME} "
                                   f"within {START_TIMEOUT:.0f} s") from None
