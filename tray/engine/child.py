"""Run one function in a short-lived child process and get its JSON-able result back.

For work that loads botocore (the doctor): CPython keeps the pages of
botocore's models after they are freed, so a long-running tray that ran it
in-process would stay ~10 MiB larger for good. The function is named as
``"package.module:function"`` (no import here, so the parent's import graph
stays free of it); its keyword arguments go through the child's stdin, never
argv, and it gets ``env=``, the environment it runs in (the child's own: the parent's
``env``)::

    parent -> {"call": "tray.doctor.brief:brief", "kwargs": {"profile": "platform"}}
    child  -> {"ok": true, "result": ...}
              {"ok": false, "code": "config", "error": "...", "exit_code": 2, ...}

The pipe is ``tray.child.codec`` (``tray.domain.wire``'s replies): an error comes back
as the class it was raised as, with its exit code.

It runs as every child does (``tray.child.runner``: a process group of its own, killed
whole on timeout, tracked for the instance's shutdown). (The refresh worker,
``tray.engine.worker``, speaks the same codec with requests of its own.)
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tray.child import codec, runner
from tray.domain import wire
from tray.domain.errors import RoletrayError
from tray.i18n import N_

TIMEOUT = 180.0


def _resolve(call: str) -> Any:
    module, _, name = call.partition(":")
    return getattr(importlib.import_module(module), name)


def call_in_child(call: str, *, env: Mapping[str, str], timeout: float = TIMEOUT,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  **kwargs: Any) -> Any:
    """``module:function(**kwargs)`` in ``python -m tray.engine.child``; its result.

    With ``on_event``, the function also gets ``emit`` (``emit("device_code", code=...)``)
    and each event reaches ``on_event`` as the child sends it. Raises the child's own
    error (same class, message and exit code), or a ``RoletrayError`` naming what failed
    when the child times out or answers nothing.
    """
    try:
        got = codec.request("tray.engine.child",
                            {"call": call, "kwargs": kwargs, "events": on_event is not None},
                            env=env, timeout=timeout, on_event=on_event)
    except runner.ChildTimeout:
        raise RoletrayError(N_("{call} did not finish within {seconds} s"), call=call,
                            seconds=f"{timeout:.0f}") from None
    if got.reply is None:
        last = (got.stderr.strip().splitlines() or [f"exit {got.returncode}"])[-1]
        raise RoletrayError(N_("{call} stopped: {last}"), call=call, last=last[:300])
    return wire.raise_for(got.reply).get("result")


def _handle(request: dict[str, Any], emit: codec.Emit) -> dict[str, Any]:
    try:
        kwargs = dict(request.get("kwargs") or {})
        if request.get("events") is True:
            kwargs["emit"] = emit
        # The child's main is a composition root: its environment is the one the parent chose.
        result = _resolve(str(request["call"]))(env=os.environ, **kwargs)
    except RoletrayError as e:
        return wire.encode_error(e)
    except Exception as e:  # noqa: BLE001 - a bug: its type only, never a message that might hold a secret
        return wire.internal_error(f"internal error in the child ({type(e).__name__})")
    return wire.ok(result=result)


if __name__ == "__main__":
    runner.exit_on_terminate()
    sys.exit(codec.answer(_handle))
