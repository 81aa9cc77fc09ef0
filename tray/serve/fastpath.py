"""``roletray credential-process PROFILE`` (or ``--source SOURCE``) answered by a running
instance, on a lean path.

It runs before every SDK process that uses the profile, so its start-up is the cost:
``tray.cli`` and ``tray.instance.control`` bring argparse, logging, dataclasses,
pathlib and threading (~30 ms here). This module imports only what a Unix socket
and JSON need (and the socket's line framing, ``tray.domain.wireline``, and the keeper
record's reader, ``tray.instance.record``), asks the instance, and prints the
document. Anything else (no instance, an error reply, a platform without ``AF_UNIX``)
returns None, and the full command line takes over and reports with its diagnosis. An
error reply is handed to it (``handed_over``) rather than asked for again: a refused
role costs one request, and so one AssumeRole, per call.

The checks and the request are ``tray.instance.control.send``'s, kept in step by
tests/test_credential_process.py: the instance is found as ``send`` finds it (the
keeper record of the caller's credentials file first, wherever that instance's runtime
folder is, then the caller's own runtime folder); the socket and its folder must be the
user's own and the folder private, and the listening process must run as the user; the
request names the caller's AWS files (``control.files_of``) and the protocol
(``tray.domain.wire.PROTO``), and a reply of another protocol, or a decline for other
files, goes the long way too.
"""

import json
import os
import socket
import stat
import struct
import sys
import time

from tray import __version__
from tray.domain import wireline
from tray.instance import record

PROTO = 3  # tray.domain.wire.PROTO
DECLINES = ("other_files", "other_proto")  # tray.domain.wire.OTHER_FILES, OTHER_PROTO
TIMEOUT = 5.0  # a served answer comes from memory; anything slower goes the long way
MAX_REPLY = 64 * 1024


_XDG_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd")


def socket_path(env: "dict[str, str] | os._Environ[str]", platform: str = sys.platform) -> str:
    """``tray.instance.control.socket_path(Paths.from_env(env))`` without importing them:
    ``XDG_RUNTIME_DIR/roletray`` when that folder exists, else the state folder's ``run``
    (SSH sessions, containers, cron, macOS). '' where ``Paths`` asks platformdirs for a
    folder this module does not know (Windows, which has no Unix sockets to ask anyway)."""
    base = env.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return os.path.join(base, "roletray", "control.sock")
    if not platform.startswith((*_XDG_PLATFORMS, "darwin")):
        return ""
    state = env.get("XDG_STATE_HOME", "")  # only an absolute value counts (XDG, platformdirs)
    if not os.path.isabs(state):
        state = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state") \
            if platform.startswith(_XDG_PLATFORMS) \
            else os.path.expanduser("~/Library/Application Support")  # platformdirs' macOS
    return os.path.join(state, "roletray", "run", "control.sock")


def instance_socket(env: "dict[str, str] | os._Environ[str]", files: "dict[str, str]") -> str:
    """The socket to ask, in ``tray.instance.control.send``'s order: the one named by the
    keeper record of the caller's credentials file (``files["credentials"]``, as
    ``aws_files`` gives it), wherever that instance's runtime folder is (it was started
    with another ``XDG_RUNTIME_DIR``, or with one this caller lacks: SSH, cron); else
    ``socket_path(env)``. The record is trusted as the full path trusts it
    (``tray.instance.record.read``), and the socket it names is checked by ``request``
    as any other."""
    found = record.read(files["credentials"])
    return socket_path(env) if found is None else found[1]


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


# The error reply this process got, for the full command line: ((name, is_source), reply)
_handed: "tuple[tuple[str, bool], dict[str, object]] | None" = None


def handed_over(name: str, *, source: bool = False) -> "dict[str, object] | None":
    """The error reply the lean path got for ``name`` in this process (once), as
    ``tray.instance.control.send`` gives it (without ``proto``); None when it got none."""
    global _handed
    kept, _handed = _handed, None
    return kept[1] if kept is not None and kept[0] == (name, source) else None


def ask(path: str, profile: str, files: "dict[str, str]", *, source: bool = False,
        file_id: str = "") -> "dict[str, object] | None":
    """The document, or None (the full command line decides what to do). ``files``: the
    caller's AWS files (``aws_files``). ``source``: ``profile`` names a keyring-held
    source of the credentials file ``file_id`` (``credential-process --source SOURCE
    --file-id=FILE_ID``). An error reply is kept for ``handed_over``."""
    global _handed
    _handed = None
    call: dict[str, object] = {"cmd": "credentials", ("source" if source else "profile"): profile}
    if source:
        call["file_id"] = file_id
    reply = request(path, files, call)
    if reply is None:
        return None
    if reply.get("ok") is not True:
        if reply.get("ok") is False and reply.get("code") not in DECLINES:
            _handed = ((profile, source), {k: v for k, v in reply.items()
                                           if k not in ("proto", "version")})
        return None
    document = reply.get("document")
    return document if isinstance(document, dict) and document.get("Version") == 1 else None


def request(path: str, files: "dict[str, str]", call: "dict[str, object]", *,
            timeout: float = TIMEOUT, lost: "list[OSError | ValueError] | None" = None
            ) -> "dict[str, object] | None":
    """The instance's reply to ``call`` (``{"cmd": ..., ...}``) for ``files``, in this
    protocol; None when no instance answers, or when anything is not as it should be
    (the full path says what is wrong). Also ``roletray prompt``'s ``status``.
    ``lost``: given, it gets the error of a request that reached a checked instance
    (or may have) but brought no answer within ``timeout``: the instance may still act
    on it, so the caller must not send it again."""
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
    sending = False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            deadline = time.monotonic() + timeout
            sock.settimeout(timeout)
            sock.connect(path)
            peercred = getattr(socket, "SO_PEERCRED", None)
            if peercred is not None:
                raw = sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
                if struct.unpack("3i", raw)[1] != uid:
                    return None
            envelope = {"proto": PROTO, "version": __version__, "files": files, "call": call}
            sending = True
            sock.sendall(wireline.encode(envelope))
            reply = wireline.decode(wireline.read_line(sock, deadline, MAX_REPLY))
    except (OSError, ValueError) as e:
        if sending and lost is not None:
            lost.append(e)
        return None
    if not isinstance(reply, dict) or reply.get("proto") != PROTO:
        return None
    return reply


def parse(argv: "list[str]") -> "tuple[str, bool, str] | None":
    """(name, is_source, file_id) of ``credential-process PROFILE`` or
    ``credential-process --source SOURCE --file-id=FILE_ID`` (``--source=SOURCE``);
    None for anything else (``--no-session`` hands out the long-term keys, which only
    the full path reads from the keyring; a ``--source`` line without ``--file-id``
    means the caller's credentials file, whose id only the full path works out)."""
    if not argv or argv[0] != "credential-process":
        return None
    rest = argv[1:]
    if len(rest) == 2 and rest[0].startswith("--source="):
        rest = ["--source", rest[0][len("--source="):], rest[1]]
    if len(rest) == 3 and rest[0] == "--source" and rest[1] and not rest[1].startswith("-") \
            and rest[2].startswith("--file-id="):
        file_id = rest[2][len("--file-id="):]
        if len(file_id) == 12 and all(c in "0123456789abcdef" for c in file_id):
            return rest[1], True, file_id
        return None
    if len(rest) == 1 and rest[0] and not rest[0].startswith("-"):
        return rest[0], False, ""
    return None


def main() -> "int | None":
    """Served: print the document, return 0. Otherwise None."""
    parsed = parse(sys.argv[1:])
    if parsed is None:
        return None
    files = aws_files(os.environ)
    document = ask(instance_socket(os.environ, files), parsed[0], files, source=parsed[1],
                   file_id=parsed[2])
    if document is None:
        return None
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()
    return 0

