"""A console sign-in URL reaches the browser through a one-shot page, never a command line.

The login URL carries a ``SigninToken``: a bearer credential for the console. A
browser started as ``firefox URL`` shows it to every local user in the process
list (``/proc/PID/cmdline``). Instead the URL goes into a small page that forwards
to it at once, and the browser is given that page's address.

On Linux the page is served once on loopback (``OneShotPage``), at an unguessable
path, only to a connection of the same user (its owner read from ``/proc/net/tcp``
by the socket's two ports; any other is refused), and the server stops after that
one answer or ``LIFETIME``: a confined browser (Ubuntu's Firefox is a snap, which
cannot read /tmp, /run/user or hidden folders of HOME) opens it like any web page.
Elsewhere the page is a file, written 0600 in roletray's private runtime folder
(0700), and the browser is given its ``file://`` address.

AWS accepts a SigninToken for 15 minutes after it is issued; pages older than that
are swept each time a new one is written (and the runtime folder itself goes away
at logout).
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

PREFIX = "console-signin-"
MAX_AGE_S = 15 * 60
LIFETIME = 300.0  # seconds the one-shot page waits for the browser
REQUEST_DEADLINE = 5.0  # seconds for a connection to send its whole request head
MAX_HEAD = 8 * 1024
PROC_NET_TCP = "/proc/net/tcp"


TITLE = "roletray: opening the AWS console"


def page(url: str, title: str = TITLE) -> str:
    """The forwarding page: a meta refresh (and a link, for a browser that refuses it).
    ``title``: the tab's title (a guarded profile's names its label)."""
    target = html.escape(url, quote=True)
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<meta http-equiv=\"refresh\" content=\"0;url={target}\">"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<p>Opening the AWS console&hellip; <a href=\"{target}\">continue</a></p>"
            "</body></html>\n")


def write(url: str, folder: Path, *, now: float | None = None, title: str = TITLE) -> Path:
    """A new forwarding page for ``url`` in ``folder`` (the caller's private folder), 0600."""
    sweep(folder, now=now)
    fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=".html", dir=folder)  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page(url, title))
    return Path(name)


def sweep(folder: Path, *, now: float | None = None) -> int:
    """Remove the pages whose token AWS no longer accepts. Returns how many went."""
    limit = (time.time() if now is None else now) - MAX_AGE_S
    gone = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(PREFIX) and entry.name.endswith(".html")):
            continue
        try:
            if entry.is_file(follow_symlinks=False) \
                    and entry.stat(follow_symlinks=False).st_mtime < limit:
                os.unlink(entry.path)
                gone += 1
        except OSError:
            continue
    return gone


# --- the one-shot loopback page ----------------------------------------------------------


class Offer:
    """The page as the browser gets it: ``address`` to open; ``wait()`` until it was
    fetched (True) or will not be (False); ``close()`` ends it."""

    address: str

    def wait(self, timeout: float | None = None) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class FilePage(Offer):
    def __init__(self, url: str, folder: Path, *, title: str = TITLE) -> None:
        self.path = write(url, folder, title=title)
        self.address = self.path.as_uri()

    def wait(self, timeout: float | None = None) -> bool:
        return True  # the browser reads it when it likes; sweep() removes it

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def uid_of_peer(local: tuple[str, int], peer: tuple[str, int], *,
                table: str = PROC_NET_TCP) -> int | None:
    """The uid owning the TCP socket at ``peer`` connected to ``local`` (IPv4), read from
    ``/proc/net/tcp``: the line whose local address is ``peer`` and whose remote one is
    ``local``. None when no such line is found."""
    want_local, want_remote = _hex_address(peer), _hex_address(local)
    try:
        with open(table, encoding="ascii") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) > 7 and fields[1] == want_local and fields[2] == want_remote:
                    return int(fields[7])
    except (OSError, ValueError):
        return None
    return None


def _hex_address(address: tuple[str, int]) -> str:
    # /proc/net/tcp: the IPv4 address as a native-order 32-bit hex number, the port in hex.
    packed = struct.unpack("=I", socket.inet_aton(address[0]))[0]
    return f"{packed:08X}:{address[1]:04X}"


class OneShotPage(Offer):
    """``page(url)`` served once on 127.0.0.1 at an unguessable path, to the user alone."""

    def __init__(self, url: str, *, lifetime: float = LIFETIME,
                 uid: int | None = None, table: str = PROC_NET_TCP,
                 monotonic: Callable[[], float] = time.monotonic, title: str = TITLE) -> None:
        self._body = page(url, title).encode("utf-8")
        self._uid = os.getuid() if uid is None else uid
        self._table = table
        self._monotonic = monotonic
        self._ends = monotonic() + lifetime
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._port = int(self._sock.getsockname()[1])
        self._path = "/" + secrets.token_urlsafe(32)
        self.address = f"http://127.0.0.1:{self._port}{self._path}"
        self._served = threading.Event()
        self._done = threading.Event()
        self.refused = 0  # connections of other users, wrong paths: for tests and logs
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="roletray-signin-page")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        self._done.wait(timeout)
        return self._served.is_set()

    def close(self) -> None:
        self._done.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._sock.close()

    def _run(self) -> None:
        try:
            while not self._done.is_set():
                left = self._ends - self._monotonic()
                if left <= 0:
                    return
                self._sock.settimeout(min(left, 1.0))
                try:
                    conn, peer = self._sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return  # closed
                with conn:
                    if self._answer(conn, peer):
                        self._served.set()
                        return
        finally:
            self._done.set()
            with contextlib.suppress(OSError):
                self._sock.close()

    def _answer(self, conn: socket.socket, peer: tuple[str, int]) -> bool:
        """True when the page went out (the one shot)."""
        owner = uid_of_peer(("127.0.0.1", self._port), (str(peer[0]), int(peer[1])),
                            table=self._table)
        if owner != self._uid:
            self.refused += 1
            return False  # another user's (or unknown): closed without a word
        head = _read_head(conn, self._monotonic)
        line = head.split(b"\r\n", 1)[0].split() if head else []
        if len(line) != 3 or line[0] != b"GET" or line[1].decode("latin-1") != self._path:
            self.refused += 1
            _send(conn, b"404 Not Found", b"not here\n", "text/plain")
            return False
        _send(conn, b"200 OK", self._body, "text/html; charset=utf-8")
        return True


def _read_head(conn: socket.socket, monotonic: Callable[[], float]) -> bytes:
    """The request head, read within ``REQUEST_DEADLINE`` and ``MAX_HEAD``; b"" if not."""
    ends = monotonic() + REQUEST_DEADLINE
    data = b""
    while b"\r\n\r\n" not in data:
        left = ends - monotonic()
        if left <= 0 or len(data) > MAX_HEAD:
            return b""
        conn.settimeout(left)
        try:
            chunk = conn.recv(4096)
        except OSError:
            return b""
        if not chunk:
            return b""
        data += chunk
    return data


def _send(conn: socket.socket, status: bytes, body: bytes, kind: str) -> None:
    head = (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind.encode() +
            b"\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer"
            b"\r\nConnection: close\r\n\r\n")
    with contextlib.suppress(OSError):
        conn.settimeout(REQUEST_DEADLINE)
        conn.sendall(head + body)


def offer(url: str, folder: Path, *, title: str = TITLE) -> Offer:
    """The page for ``url`` in the form this system's browsers can open: the one-shot
    loopback page on Linux (``/proc/net/tcp`` names a connection's owner), else a file
    in ``folder`` (the caller's private folder). ``title``: the tab's (a guarded
    profile's names its label)."""
    if sys.platform.startswith("linux") and os.access(PROC_NET_TCP, os.R_OK):
        return OneShotPage(url, title=title)
    return FilePage(url, folder, title=title)
