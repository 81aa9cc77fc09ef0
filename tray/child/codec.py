"""The children's pipe protocol, in the line framing and the reply shape of
``tray.domain.wire`` (the control socket's): one request in, progress events, one reply.

    parent -> {"profile": "platform", ...}                  stdin, one line: secrets
                                                            travel here, never in argv
    child  -> {"event": "device_code", ...}                 any number, as they happen
    child  -> {"ok": true, ...}                             the reply, last
              {"ok": false, "code": "access_denied", "error": "...", "exit_code": 1,
               "profile": null}

An error keeps its class and exit code across the pipe (``wire.encode_error`` /
``wire.decode_error``). In the child the protocol has a descriptor of its own and
stdout goes to stderr; in the parent, lines that are neither are skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from tray.child import runner
from tray.domain import wire, wireline

# Our own child, not a stranger on a socket: a doctor's report may be long.
MAX_PIPE_LINE = 16 * 1024 * 1024

Emit = Callable[..., None]  # emit("device_code", url=..., code=...)
Handler = Callable[[dict[str, Any], Emit], dict[str, Any]]


def event(name: str, **fields: Any) -> dict[str, Any]:
    return {"event": name, **fields}


def is_event(doc: Mapping[str, Any]) -> bool:
    return isinstance(doc.get("event"), str) and "ok" not in doc


@dataclass(frozen=True)
class Answer:
    reply: dict[str, Any] | None  # None: the child exited without one
    returncode: int
    stderr: str


def request(module: str, doc: Mapping[str, Any], *, env: Mapping[str, str], timeout: float,
            children: runner.Children = runner.WORKERS,
            on_event: Callable[[dict[str, Any]], None] | None = None) -> Answer:
    """``doc`` to ``python -m MODULE`` (which answers with ``answer``); its reply. Events
    reach ``on_event`` in the caller's thread as the child sends them. Raises
    ``runner.ChildTimeout`` as ``runner.run`` does."""
    replies: list[dict[str, Any]] = []

    def on_line(line: bytes) -> None:
        if len(line) > MAX_PIPE_LINE:
            return
        try:
            got = wireline.decode(line.rstrip(b"\n"))
        except ValueError:
            return
        if not isinstance(got, dict):
            return
        if is_event(got):
            if on_event is not None:
                on_event(got)
        elif isinstance(got.get("ok"), bool):
            replies.append(got)

    done = runner.run(module, env=env, timeout=timeout, stdin=wireline.encode(dict(doc)),
                      children=children, on_line=on_line)
    return Answer(replies[-1] if replies else None, done.returncode,
                  done.stderr.decode(errors="replace"))


def answer(handle: Handler, *, stdin: IO[bytes] | None = None,
           stdout: IO[str] | None = None) -> int:
    """A child's main: one request from stdin to ``handle(request, emit)``, its reply to
    stdout. ``handle`` turns its own errors into ``wire.encode_error`` replies."""
    source, send, emit = _channel(stdin, stdout)
    _reply(source.readline(MAX_PIPE_LINE + 1), handle, send, emit)
    return 0


def serve(handle: Handler, *, stdin: IO[bytes] | None = None,
          stdout: IO[str] | None = None) -> int:
    """A warm child's main (``tray.child.warm``): ``answer`` for each request line until
    stdin ends. A one-shot parent writes one line and closes stdin: one answer, as
    ``answer`` gives."""
    source, send, emit = _channel(stdin, stdout)
    while True:
        raw = source.readline(MAX_PIPE_LINE + 1)
        if not raw:
            return 0
        _reply(raw, handle, send, emit)


def _channel(stdin: IO[bytes] | None, stdout: IO[str] | None
             ) -> tuple[IO[bytes], Callable[[dict[str, Any]], None], Emit]:
    """The child's end of the pipe: where requests come from, how a reply and an event
    are sent (a line each, flushed)."""
    source = stdin if stdin is not None else sys.stdin.buffer
    sink = stdout if stdout is not None else _private_stdout()

    def send(doc: dict[str, Any]) -> None:
        sink.write(wireline.encode(doc).decode("utf-8"))
        sink.flush()

    def emit(name: str, **fields: Any) -> None:
        send(event(name, **fields))

    return source, send, emit


def _reply(raw: bytes, handle: Handler, send: Callable[[dict[str, Any]], None],
           emit: Emit) -> None:
    """``handle``'s reply to the request line ``raw``; a line that is not a JSON object
    gets a bad-request reply (its type only)."""
    try:
        got = wireline.decode(raw.rstrip(b"\n"))
        if not isinstance(got, dict):
            raise TypeError("not a JSON object")
    except (ValueError, TypeError) as e:
        send(wire.internal_error(f"bad request to the child ({type(e).__name__})"))
        return
    send(handle(got, emit))


def _private_stdout() -> IO[str]:
    """The pipe to the parent, on a descriptor of its own that no program the child
    starts inherits; descriptor 1 goes to stderr. A stray print cannot break a line,
    and a program that outlives the child (a browser) cannot hold the pipe open."""
    sys.stdout.flush()
    private = os.dup(1)  # not inheritable (PEP 446)
    os.dup2(2, 1)
    return open(private, "w", encoding="utf-8", closefd=True)
