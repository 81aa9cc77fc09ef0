"""SIGINT and SIGTERM for a foreground process whose main thread only waits (the daemon,
``roletray serve``): each becomes a byte on a socket the main thread blocks on."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def blocked_until_stop() -> Iterator[socket.socket]:
    """SIGINT/SIGTERM become a byte on a socket the main thread blocks on.

    Whichever thread the kernel delivers the signal to, Python's C handler
    writes it to the wakeup fd; the main thread sleeps in ``recv`` (no polling,
    no wakeups while idle) and nothing runs inside a signal handler.
    """
    rsock, wsock = socket.socketpair()
    wsock.setblocking(False)
    old_fd = signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
    old = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield rsock
    finally:
        signal.set_wakeup_fd(old_fd)
        for s, handler in old.items():
            signal.signal(s, handler)
        rsock.close()
        wsock.close()


def wait(rsock: socket.socket) -> int:
    wanted = {int(signal.SIGINT), int(signal.SIGTERM)}
    while True:
        data = rsock.recv(16)
        for signum in data:
            if signum in wanted:
                return signum
