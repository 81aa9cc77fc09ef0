"""The line framing under ``tray.domain.wire``: one JSON value per line, UTF-8.

Every channel that crosses a process boundary speaks it: the control socket
(``tray.instance.control``, both ends, and the credential-process fast path
``tray.serve.fastpath``) and the children's pipes (``tray.child.codec``). A reader
bounds the line's size and reads it within one deadline as a whole: a peer that
trickles a byte every few seconds does not keep the connection.

Only json, socket and time: the fast path imports this module alone and stays lean.
"""

from __future__ import annotations

import json
import socket
import time

MAX_LINE = 64 * 1024  # a request or a reply on the socket is a few hundred bytes


def encode(doc: object) -> bytes:
    """``doc`` as one line, newline included."""
    return json.dumps(doc).encode("utf-8") + b"\n"


def decode(line: bytes) -> object:
    """The JSON value of one line; ``ValueError`` when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(line.decode("utf-8"))
    except RecursionError:  # "[[[[..." 60,000 deep fits in MAX_LINE
        raise ValueError("nested too deeply") from None


def read_line(sock: socket.socket, deadline: float, max_size: int = MAX_LINE) -> bytes:
    """One line from ``sock``, without its newline, within ``deadline`` (monotonic) as a
    whole. A peer that closes after an unterminated line has sent that line. Raises
    ``TimeoutError`` when the deadline passes, ``ValueError`` when the line is empty or
    longer than ``max_size``."""
    buf = bytearray()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete line in time")
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > max_size:
            raise ValueError("line too long")
    line = bytes(buf).split(b"\n", 1)[0]
    if not line:
        raise ValueError("empty line")
    return line
