"""ONE way to run a Python child: the refresh worker, the doctor, the MFA prompt.

- ``command(module, args)`` is ``python -m MODULE ARGS``. A frozen bundle has no
  interpreter to take ``-m``, but its entry script (``packaging/entry.py``) reads the
  same argv: ``sys.executable`` is the bundle itself, so nothing here asks whether the
  process is frozen.
- The child leads a process group of its own, so ending it ends what it started too
  (a ``credential_process`` helper and that helper's own children), never left behind
  with the parent gone.
- ``run`` gives the child its stdin (secrets travel there, never in argv or the
  environment), collects its stdout line by line (each line is handed to ``on_line``
  as it arrives: progress before the answer) and its stderr, and kills the group when
  the whole run outlasts ``timeout``.
- ``Children`` tracks the children of one owner while they run, so its shutdown can
  end them (``terminate``: SIGTERM to each group). ``WORKERS`` is the instance's: the
  refresh worker and the doctor run there.
- In the child, ``exit_on_terminate()`` turns that SIGTERM into ``SystemExit``: every
  ``finally`` runs, and a helper that sits in a group of its own (``credential_process``,
  ``tray.aws.session.BoundedPopen``) is stopped with it instead of left behind.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

_POSIX = os.name == "posix"
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


class ChildTimeout(Exception):
    """The child did not finish within ``timeout`` seconds; it and its group were killed."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"did not finish within {timeout:.0f} s")
        self.timeout = timeout


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


def command(module: str, args: Sequence[str] = (), *,
            executable: str | None = None) -> list[str]:
    """The argv of ``python -m MODULE ARGS`` (the bundle's own executable when frozen)."""
    return [executable or sys.executable, "-m", module, *args]


def own_group() -> dict[str, Any]:
    if _POSIX:
        return {"process_group": 0}  # pgid == the child's pid
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """``sig`` to the child's whole group (on Windows: to the child)."""
    if _POSIX:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        return
    with contextlib.suppress(OSError):
        proc.kill() if sig == KILL else proc.terminate()


class Children:
    """The children of one owner that are still running."""

    def __init__(self) -> None:
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._live.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._live.discard(proc)

    def live(self) -> list[subprocess.Popen[bytes]]:
        with self._lock:
            return list(self._live)

    def terminate(self) -> int:
        """SIGTERM to every running child's group (the owner is stopping). How many."""
        procs = self.live()
        for proc in procs:
            signal_group(proc, signal.SIGTERM)
        return len(procs)


WORKERS = Children()


def run(module: str, args: Sequence[str] = (), *, env: Mapping[str, str], timeout: float,
        stdin: bytes | None = None, children: Children = WORKERS,
        on_line: Callable[[bytes], None] | None = None) -> Finished:
    """``python -m MODULE ARGS`` in a group of its own, tracked in ``children``.

    ``on_line`` gets each line of stdout as it arrives, in the caller's thread. Raises
    ``ChildTimeout`` (the group killed) when the child has not exited within ``timeout``.
    """
    proc = subprocess.Popen(command(module, args), env=dict(env),
                            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **own_group())
    children.add(proc)
    try:
        return _collect(proc, stdin, time.monotonic() + timeout, timeout, on_line)
    finally:
        children.discard(proc)


def _collect(proc: subprocess.Popen[bytes], stdin: bytes | None, deadline: float,
             timeout: float, on_line: Callable[[bytes], None] | None) -> Finished:
    lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    err = bytearray()
    assert proc.stdout is not None and proc.stderr is not None
    out_pipe, err_pipe, in_pipe = proc.stdout, proc.stderr, proc.stdin

    def feed() -> None:
        assert in_pipe is not None
        with contextlib.suppress(OSError):  # a child that exits unread: a broken pipe
            in_pipe.write(stdin or b"")
        with contextlib.suppress(OSError):
            in_pipe.close()

    def pump_out() -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in out_pipe:
                lines.put(line)
        lines.put(None)

    def pump_err() -> None:
        with contextlib.suppress(OSError, ValueError):
            err.extend(err_pipe.read())

    pumps: dict[Callable[[], None], IO[bytes] | None] = {pump_out: out_pipe, pump_err: err_pipe}
    if stdin is not None:
        pumps[feed] = None
    threads = {threading.Thread(target=f, daemon=True, name=f"roletray-child-{f.__name__}"): pipe
               for f, pipe in pumps.items()}
    for t in threads:
        t.start()
    out = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            line = lines.get(timeout=left) if left > 0 else lines.get_nowait()
            if line is None:
                break
            out += line
            if on_line is not None:
                on_line(line)
        proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
    except (queue.Empty, subprocess.TimeoutExpired):
        raise ChildTimeout(timeout) from None
    finally:
        if proc.poll() is None:  # timed out, or on_line raised: end it and what it started
            signal_group(proc, KILL)
            proc.wait()
        for t, pipe in threads.items():
            t.join(timeout=1.0)  # the pipes close with the group
            if pipe is not None and not t.is_alive():  # a stray holder's pipe is let go
                pipe.close()
    return Finished(proc.returncode, bytes(out), bytes(err))


def exit_on_terminate() -> None:
    """In a child's main: SIGTERM raises ``SystemExit(143)`` in the main thread, so the
    cleanup on the way out runs (helpers in groups of their own are ended too)."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
