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

A frozen build has no ``-m``: the function runs in-process there.
(The refresh worker, ``tray.engine.worker``, keeps its own richer protocol.)
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

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
    if getattr(sys, "frozen", False):
        return _resolve(call)(env=env, **kwargs)
    request = json.dumps({"call": call, "kwargs": kwargs})
    try:
        proc = subprocess.run([sys.executable, "-m", "tray.engine.child"], input=request + "\n",
                              capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(env))
    except subprocess.TimeoutExpired:
        raise RoletrayError(f"{call} did not finish within {timeout:.0f} s") from None
    reply = last_json(proc.stdout)
    if reply is None:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
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
    sys.exit(_child())
