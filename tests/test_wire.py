"""The one codec for results and errors on the control socket and the worker pipe."""

from __future__ import annotations

import inspect
import json

import pytest

from tray.domain import errors, wire
from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    MfaRequiredError,
    RoletrayError,
    SsoLoginRequiredError,
)
from tray.domain.problems import input_kind, input_profile


def every_error_class() -> list[type[RoletrayError]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, RoletrayError)]


def test_every_error_class_has_its_own_stable_code() -> None:
    classes = every_error_class()
    assert set(wire.ERROR_CODES) == set(classes)
    assert len(set(wire.ERROR_CODES.values())) == len(classes)
    # Codes are not class names: renaming a class must not change the wire.
    assert wire.ERROR_CODES[MfaRequiredError] == "mfa_required"
    assert all(code != cls.__name__ for cls, code in wire.ERROR_CODES.items())


@pytest.mark.parametrize("error", [
    MfaRequiredError(profile="guarded", mfa_serial="arn:aws:iam::1:mfa/dev"),
    SsoLoginRequiredError(profile="corp", reason="the token expired"),
    AccessDeniedError("profile 'platform': AccessDenied: not authorized"),
    errors.UnknownProfileError(profile="nope", path="~/.aws/config"),
])
def test_an_error_comes_back_as_the_same_class_message_and_fields(error: RoletrayError) -> None:
    doc = json.loads(json.dumps(wire.encode_error(error)))  # through real JSON
    assert doc["ok"] is False and "error_type" not in doc
    back = wire.decode_error(doc)
    assert type(back) is type(error) and str(back) == str(error)
    assert back.exit_code == error.exit_code
    assert input_profile(back) == input_profile(error)
    assert input_kind(back) == input_kind(error)
    assert not hasattr(back, "mfa_session")  # a session never rides on an error


def test_an_unknown_code_falls_back_by_exit_code() -> None:
    back = wire.decode_error({"ok": False, "code": "from_the_future", "error": "boom",
                              "exit_code": 1})
    assert type(back) is AwsError and back.exit_code == 1 and str(back) == "boom"
    back = wire.decode_error({"ok": False, "error_type": "AccessDeniedError", "error": "x"})
    assert type(back) is RoletrayError and back.exit_code == 2  # class names mean nothing
    back = wire.decode_error({"ok": False, "code": wire.INTERNAL, "error": "a\nb",
                              "exit_code": "2"})
    assert type(back) is RoletrayError and str(back) == "a b"  # one line, always


def test_raise_for_passes_results_and_raises_errors() -> None:
    reply = wire.ok(snapshot={"state": "idle"})
    assert wire.raise_for(reply) is reply
    with pytest.raises(MfaRequiredError, match="needs an MFA code"):
        wire.raise_for(wire.encode_error(MfaRequiredError(profile="g", mfa_serial="s")))


# --- the line framing (wireline): the socket's and the children's pipes' ---------------

def test_a_line_round_trips_and_bad_lines_are_value_errors() -> None:
    from tray.domain import wireline

    line = wireline.encode(wire.ok(snapshot={"role": "platform"}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert wireline.decode(line.rstrip(b"\n")) == {"ok": True, "snapshot": {"role": "platform"}}
    for bad in (b"{", b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(ValueError):
            wireline.decode(bad)


def test_read_line_is_bounded_in_size_and_in_time() -> None:
    import socket
    import time

    from tray.domain import wireline

    far = time.monotonic() + 30
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b'{"cmd": "status"}\n{"next": 1}\n')
        assert wireline.read_line(a, far) == b'{"cmd": "status"}'
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b'{"cmd": "status"}')  # no newline, then the peer closes: still a line
        b.shutdown(socket.SHUT_WR)
        assert wireline.read_line(a, far) == b'{"cmd": "status"}'
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b"x" * 5000)
        with pytest.raises(ValueError, match="too long"):
            wireline.read_line(a, far, max_size=4096)
    a, b = socket.socketpair()
    with a, b:
        b.shutdown(socket.SHUT_WR)
        with pytest.raises(ValueError, match="empty"):
            wireline.read_line(a, far)
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b'{"cmd": ')  # a trickle: part of a line, and the deadline already passed
        with pytest.raises(TimeoutError):
            wireline.read_line(a, time.monotonic())


def test_the_fast_path_imports_the_framing_and_no_typing() -> None:
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = ("import json, sys; import tray.serve.fastpath; "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'typing' or m.startswith('tray'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
                         timeout=60, check=True)
    loaded = json.loads(out.stdout)
    assert "tray.domain.wireline" in loaded and "typing" not in loaded
    assert "tray.domain.wire" not in loaded and "tray.domain.errors" not in loaded
