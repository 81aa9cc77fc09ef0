"""The children's pipe protocol: one request in, events as they happen, one reply out."""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path

from tray.child import codec, runner
from tray.domain import wire, wireline
from tray.domain.errors import MfaRequiredError

REPO = Path(__file__).resolve().parent.parent


def _answer(stdin: bytes, handle: codec.Handler) -> list[object]:
    out = io.StringIO()
    assert codec.answer(handle, stdin=io.BytesIO(stdin), stdout=out) == 0
    return [wireline.decode(line.encode()) for line in out.getvalue().splitlines()]


def test_the_child_side_reads_one_request_and_answers_once() -> None:
    def handle(request: dict, emit: codec.Emit) -> dict:  # type: ignore[type-arg]
        emit("step", n=1)
        return wire.ok(echo=request["profile"])

    assert _answer(b'{"profile": "platform"}\n', handle) == [
        {"event": "step", "n": 1}, {"ok": True, "echo": "platform"}]


def test_a_bad_request_is_answered_not_raised() -> None:
    def handle(request: dict, emit: codec.Emit) -> dict:  # type: ignore[type-arg]
        raise AssertionError("never called")

    for bad in (b"not json\n", b"[1, 2]\n", b""):
        [reply] = _answer(bad, handle)
        assert isinstance(reply, dict) and reply["ok"] is False
        assert reply["code"] == wire.INTERNAL and "bad request" in reply["error"]


def test_the_parent_gets_the_reply_past_stray_lines_and_errors_keep_their_class(
        tmp_path: Path) -> None:
    (tmp_path / "chatty.py").write_text(textwrap.dedent("""
        import sys
        from tray.child import codec
        from tray.domain import wire
        from tray.domain.errors import MfaRequiredError

        def handle(request, emit):
            print("a library's stray print")
            print("[1, 2]")
            return wire.encode_error(MfaRequiredError(profile=request["profile"],
                                                      mfa_serial="arn:aws:iam::1:mfa/dev"))

        sys.exit(codec.answer(handle))
        """))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    got = codec.request("chatty", {"profile": "guarded"}, env=env, timeout=30)
    assert got.returncode == 0 and got.reply is not None
    error = wire.decode_error(got.reply)
    assert isinstance(error, MfaRequiredError) and error.exit_code == 2
    assert runner.WORKERS.live() == []


def test_no_reply_is_none_with_the_exit_code_and_stderr(tmp_path: Path) -> None:
    (tmp_path / "dies.py").write_text("import sys\nprint('oops', file=sys.stderr)\nsys.exit(7)\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    got = codec.request("dies", {}, env=env, timeout=30)
    assert (got.reply, got.returncode, got.stderr.strip()) == (None, 7, "oops")


def test_events_reach_the_parent_while_the_child_waits_and_before_the_reply(
        tmp_path: Path) -> None:
    go = tmp_path / "go"
    (tmp_path / "signer.py").write_text(textwrap.dedent(f"""
        import os, sys, time
        from tray.child import codec
        from tray.domain import wire

        def handle(request, emit):
            emit("device_code", code="ABCD-EFGH", url="https://device.example/")
            print("not on the protocol's pipe")  # stdout is stderr in a child
            while not os.path.exists({str(go)!r}):  # until the parent has shown the code
                time.sleep(0.01)
            return wire.ok(path="/token.json")

        sys.exit(codec.answer(handle))
        """))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    events: list[dict] = []  # type: ignore[type-arg]

    def on_event(doc: dict) -> None:  # type: ignore[type-arg]
        events.append(doc)
        go.touch()

    got = codec.request("signer", {}, env=env, timeout=30, on_event=on_event)
    assert events == [{"event": "device_code", "code": "ABCD-EFGH", "url": "https://device.example/"}]
    assert got.reply == {"ok": True, "path": "/token.json"}
    assert "not on the protocol's pipe" in got.stderr
