"""A real Secret Service for tests: a private D-Bus bus and gnome-keyring-daemon.

    service = start(env, workdir)      # env: the test's HOME, XDG_* folders
    service.env                        # env - DROP + DBUS_SESSION_BUS_ADDRESS, for subprocesses
    service.items()                    # (label, attributes, secret) of every item
    service.lock()                     # lock the login collection (a screen lock)
    service.unlock()                   # a restarted daemon, password on stdin
    service.name_owned()               # does anybody own org.freedesktop.secrets?
    start_bus(env, workdir)            # the bus alone, nobody on it
    service.stop()                     # both processes, by PID

In pytest, the ``secret_service`` fixture (tests/conftest.py) is this, with the
test's process environment pointed at the bus.

The bus is ``dbus-daemon --nofork --print-address=1`` with a session-bus config of
its own that has no service folders: nothing the machine has installed is
activated on it (not another gnome-keyring, not the desktop's unlock prompter), so
a locked collection stays locked and ``keyring`` says so at once. The daemon is
``gnome-keyring-daemon --foreground --unlock --components=secrets`` with the
password on stdin, which creates and unlocks the ``login`` keyring in the
``$XDG_DATA_HOME/keyrings`` of ``env``. Nothing asks the service before it owns
its bus name: waiting for it (and, in ``unlock()``, for the old daemon to let go
of the name) is waiting for the bus's NameOwnerChanged signal, not a sleep. A
start that fails stops what it started; the daemon's stderr goes to
``workdir/gnome-keyring-daemon.log``, whose last line a failed start quotes.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRETS_NAME = "org.freedesktop.secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"
TIMEOUT = 20.0  # seconds; a start or a restart takes well under one
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
    workdir: Path
    password: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)  # the bus first

    @contextmanager
    def connection(self) -> Iterator[Any]:
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.address)
        try:
            yield conn
        finally:
            conn.close()

    def lock(self) -> None:
        """Lock the login collection (what a screen lock may do)."""
        import secretstorage

        with self.connection() as conn:
            collection = secretstorage.Collection(conn, LOGIN)
            collection.lock()
            assert collection.is_locked()

    def unlock(self) -> None:
        """Unlock the login collection without a prompt: gnome-keyring-daemon restarted
        on the same bus with the password on its stdin (what a person without a desktop
        does). Not ``--replace``: the new daemon may ask for the bus name before the old
        one has let go of it, and then runs without a Secret Service; so the old one is
        stopped and the name seen free first."""
        old = self.procs.pop()
        _wait_name(self, owned=False, action=lambda: _end(old))
        _wait_name(self, owned=True, action=self._start_daemon)
        assert not self.is_locked()

    def name_owned(self) -> bool:
        """Does anybody own the Secret Service's bus name? (Only the bus is asked.)"""
        from jeepney import message_bus
        from jeepney.io.blocking import Proxy

        with self.connection() as conn:
            return bool(Proxy(message_bus, conn).NameHasOwner(SECRETS_NAME)[0])

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
        """End the daemon, then the bus, by PID."""
        for proc in reversed(self.procs):
            _end(proc)
        self.procs.clear()

    def _start_daemon(self) -> None:
        with (self.workdir / "gnome-keyring-daemon.log").open("ab") as log:
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                env=self.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(daemon)
        assert daemon.stdin is not None
        daemon.stdin.write(self.password.encode())
        daemon.stdin.close()  # --unlock reads the password up to EOF


def start_bus(env: Mapping[str, str], workdir: Path, *,
              machine_services: bool = False) -> SecretService:
    """The bus alone (nobody owns the Secret Service's name on it yet), for a test whose
    folders ``env`` names; ``workdir``: a private folder for the bus and the log.
    ``machine_services=True`` runs ``dbus-daemon --session`` instead, whose installed
    services (gnome-keyring among them) the bus starts on a call that allows it: what
    a test that a call never starts a keyring needs."""
    base = {k: v for k, v in env.items() if k not in DROP}
    if machine_services:
        config = "--session"
    else:
        folder = workdir / "bus"
        folder.mkdir(mode=0o700)
        (workdir / "bus.conf").write_text(_BUS_CONFIG.format(folder=folder))
        config = f"--config-file={workdir / 'bus.conf'}"
    bus = subprocess.Popen(["dbus-daemon", config, "--nofork", "--print-address=1"], env=base,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    service = SecretService(address="", env=base, workdir=workdir, password="", procs=[bus])
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    if not address:
        service.stop()
        raise RuntimeError("dbus-daemon printed no address")
    service.address = address
    service.env = {**base, "DBUS_SESSION_BUS_ADDRESS": address}
    return service


def start(env: Mapping[str, str], workdir: Path, password: str = "test-login") -> SecretService:
    """The bus and, on it, the daemon with the login collection unlocked (see
    ``start_bus`` for ``env`` and ``workdir``)."""
    service = start_bus(env, workdir)
    service.password = password
    try:
        _wait_name(service, owned=True, action=service._start_daemon)
    except BaseException:
        service.stop()  # never leave a bus or a daemon behind a failed start
        raise
    return service


def _wait_name(service: SecretService, *, owned: bool, action: Callable[[], None]) -> None:
    """Run ``action`` and return once the Secret Service's bus name is ``owned`` (or
    free): the bus's NameOwnerChanged signal, subscribed to before ``action``. Only the
    bus is asked: a call to the service before it owns the name could make a bus with
    service folders start another daemon (D-Bus activation)."""
    from jeepney import MatchRule, message_bus
    from jeepney.io.blocking import Proxy

    with service.connection() as conn:
        bus = Proxy(message_bus, conn)
        rule = MatchRule(type="signal", sender=message_bus.bus_name,
                         interface=message_bus.interface, member="NameOwnerChanged",
                         path=message_bus.object_path)
        rule.add_arg_condition(0, SECRETS_NAME)
        bus.AddMatch(rule)
        with conn.filter(rule) as queue:
            action()
            if bool(bus.NameHasOwner(SECRETS_NAME)[0]) == owned:
                return
            try:
                while bool(conn.recv_until_filtered(queue, timeout=TIMEOUT).body[2]) != owned:
                    pass
            except TimeoutError:
                log = service.workdir / "gnome-keyring-daemon.log"
                said = log.read_text(errors="replace").strip().splitlines()[-1:] \
                    if log.exists() else []
                raise RuntimeError(
                    f"{SECRETS_NAME} not {'taken' if owned else 'let go of'} within "
                    f"{TIMEOUT:.0f} s" + (f" (gnome-keyring-daemon: {said[0]})" if said else "")
                ) from None


def _end(proc: subprocess.Popen[bytes]) -> None:
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
