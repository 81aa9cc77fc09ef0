"""Run one function in a short-lived child process and get its JSON-able result back.

For work that loads botocore (the doctor): CPython keeps the pages of
botocore's models after they are freed, so a long-running tray that ran it
in-process would stay ~10 MiB larger for good. The function is named as
``"package.module:function"`` (no import here, so the parent's import graph
stays free of it); its keyword arguments go through the child's stdin, never
argv, and it gets ``env=``, the environment it runs in (the child's own: the parent's
``env``)::

    parent -> {"call": "tray.doctor.brief:brief", "kwargs": {"profile": "platform"}}
    child  -> {"ok": true, "result": ...}  or  {"ok": false, "error": "..."}

It runs as every child does (``tray.child.runner``: a process group of its own, killed
whole on timeout, tracked for the instance's shutdown). (The refresh worker,
``tray.engine.worker``, keeps its own richer protocol.)
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from tray.child import runner
from tray.domain.errors import RoletrayError

TIMEOUT = 180.0


def _resolve(call: str) -> Any:
    module, _, name = call.partition(":")
    return getattr(importlib.import_module(module), name)


def call_in_child(call: str, *, env: Mapping[str, str],
                  timeout: float = TIMEOUT, **kwargs: Any) -> Any:
    """``module:function(**kwargs)`` in ``python -m tray.engine.child``; its result.

    Raises ``RoletrayError`` naming what failed when the child fails, times out or
    answers nothing.
    """
    request = json.dumps({"call": call, "kwargs": kwargs})
    try:
        done = runner.run("tray.engine.child", env=env, timeout=timeout,
                          stdin=request.encode() + b"\n")
    except runner.ChildTimeout:
        raise RoletrayError(f"{call} did not finish within {timeout:.0f} s") from None
    reply = last_json(done.stdout.decode(errors="replace"))
    if reply is None:
        stderr = done.stderr.decode(errors="replace")
        last = (stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise RoletrayError(f"{call} stopped: {last[:300]}")
    if not reply.get("ok"):
        raise RoletrayError(str(reply.get("error") or f"{call} failed"))
    return reply.get("result")


def last_json(out: str) -> dict[str, Any] | None:
    """The last line of a child's stdout that is a JSON object (its reply)."""
    for line in reversed(out.splitlines()):
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict):
                return doc
    return None


def _child() -> int:
    try:
        request = json.loads(sys.stdin.readline())
        # The child's main is a composition root: its environment is the one the parent chose.
        result = _resolve(str(request["call"]))(env=os.environ,
                                                **dict(request.get("kwargs") or {}))
        reply: dict[str, Any] = {"ok": True, "result": result}
    except RoletrayError as e:
        reply = {"ok": False, "error": str(e)}
    except Exception as e:  # noqa: BLE001 - a bug: its type only, never a message that might hold a secret
        reply = {"ok": False, "error": f"internal error in the child ({type(e).__name__})"}
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    runner.exit_on_terminate()
    sys.exit(_child())
