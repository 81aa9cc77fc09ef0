"""``roletray credential-process PROFILE`` (or ``--source SOURCE``) answered by a running
instance, on a lean path.

It runs before every SDK process that uses the profile, so its start-up is the cost:
``tray.cli`` and ``tray.instance.control`` bring argparse, logging, dataclasses,
pathlib and threading (~30 ms here). This module imports only what a Unix socket
and JSON need, asks the instance, and prints the document. Anything else (no
instance, an error reply, a platform without ``AF_UNIX``) returns None, and the
full command line takes over: it asks again and reports with its diagnosis.

The checks and the request are ``tray.instance.control.send``'s, kept in step by
tests/test_credential_process.py: the socket and its folder must be the user's own
and the folder private, and the listening process must run as the user; the request
names the caller's AWS files (``control.files_of``) and the protocol
(``tray.domain.wire.PROTO``), and a reply of another protocol, or a decline for other
files, goes the long way too.
"""

import json
import os
import socket
import stat
import struct
import sys

from tray import __version__

PROTO = 2  # tray.domain.wire.PROTO
TIMEOUT = 5.0  # a served answer comes from memory; anything slower goes the long way
MAX_REPLY = 64 * 1024


def socket_path(env: "dict[str, str] | os._Environ[str]") -> str:
    """``tray.paths.Paths.runtime_dir / control.sock`` for the usual layout (Linux with
    ``XDG_RUNTIME_DIR``), without importing it; '' otherwise: the full path resolves it."""
    base = env.get("XDG_RUNTIME_DIR")
    if not sys.platform.startswith("linux") or not base or not os.path.isdir(base):
        return ""
    return os.path.join(base, "roletray", "control.sock")


def aws_files(env: "dict[str, str] | os._Environ[str]") -> "dict[str, str]":
    """``tray.instance.control.files_of(Paths.from_env(env))``, without importing them:
    the AWS files as the AWS CLI finds them, real paths."""
    home = env.get("HOME") or os.path.expanduser("~")

    def real(value: str) -> str:
        if value == "~" or value.startswith("~/"):
            value = home + value[1:]
        return os.path.realpath(os.path.expandvars(value))

    return {"config": real(env.get("AWS_CONFIG_FILE") or "~/.aws/config"),
            "credentials": real(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")}


def ask(path: str, profile: str, files: "dict[str, str]", *,
        source: bool = False) -> "dict[str, object] | None":
    """The document, or None (the full command line decides what to do). ``files``: the
    caller's AWS files (``aws_files``). ``source``: ``profile`` names a keyring-held
    source (``credential-process --source``)."""
    reply = request(path, files, {"cmd": "credentials",
                                  ("source" if source else "profile"): profile})
    if reply is None or reply.get("ok") is not True:
        return None
    document = reply.get("document")
    return document if isinstance(document, dict) and document.get("Version") == 1 else None


def request(path: str, files: "dict[str, str]", call: "dict[str, object]"
            ) -> "dict[str, object] | None":
    """The instance's reply to ``call`` (``{"cmd": ..., ...}``) for ``files``, in this
    protocol; None when no instance answers, or when anything is not as it should be
    (the full path says what is wrong). Also ``roletray prompt``'s ``status``."""
    if not path or not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    try:
        st = os.lstat(path)
        folder = os.lstat(os.path.dirname(path))
    except OSError:
        return None
    uid = os.getuid()
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != uid or not stat.S_ISDIR(folder.st_mode) \
            or folder.st_uid != uid or stat.S_IMODE(folder.st_mode) & 0o077:
        return None  # the full path says what is wrong with it
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            peercred = getattr(socket, "SO_PEERCRED", None)
            if peercred is not None:
                raw = sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
                if struct.unpack("3i", raw)[1] != uid:
                    return None
            envelope = {"proto": PROTO, "version": __version__, "files": files, "call": call}
            sock.sendall(json.dumps(envelope).encode() + b"\n")
            buf = b""
            while b"\n" not in buf and len(buf) < MAX_REPLY:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                buf += chunk
    except OSError:
        return None
    try:
        reply = json.loads(buf.split(b"\n", 1)[0])
    except ValueError:
        return None
    if not isinstance(reply, dict) or reply.get("proto") != PROTO:
        return None
    return reply


def parse(argv: "list[str]") -> "tuple[str, bool] | None":
    """(name, is_source) of ``credential-process PROFILE`` or ``credential-process
    --source SOURCE`` (``--source=SOURCE``); None for anything else (``--no-session``
    hands out the long-term keys, which only the full path reads from the keyring)."""
    if not argv or argv[0] != "credential-process":
        return None
    rest = argv[1:]
    if len(rest) == 1 and rest[0].startswith("--source="):
        rest = ["--source", rest[0][len("--source="):]]
    if len(rest) == 2 and rest[0] == "--source" and rest[1] and not rest[1].startswith("-"):
        return rest[1], True
    if len(rest) == 1 and rest[0] and not rest[0].startswith("-"):
        return rest[0], False
    return None


def main() -> "int | None":
    """Served: print the document, return 0. Otherwise None."""
    parsed = parse(sys.argv[1:])
    if parsed is None:
        return None
    document = ask(socket_path(os.environ), parsed[0], aws_files(os.environ), source=parsed[1])
    if document is None:
        return None
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()
    return 0

