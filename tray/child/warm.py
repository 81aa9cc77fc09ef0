"""One child kept loaded and used again: the instance's refresh worker.

A fresh ``python -m tray.engine.worker`` per AssumeRole imports botocore each time
(~0.3-0.5 s); the tray and the daemon keep one running instead and send it one request
line per call over its stdin, in ``tray.child.codec``'s shape (events, then the reply,
on its stdout). It leaves after ``idle`` without a call (its memory goes back to the
system: the reason the worker is a child at all) and comes back with the next call.

- One call at a time (a lock): the pipe carries one conversation.
- A worker that died (``kill -9``, a crash) fails the call in flight with
  ``WorkerGone``, never a hang; the next call starts a new one. One found dead before
  its request was written is started again for that call.
- A call that outlasts its ``timeout`` kills the worker's group (``ChildTimeout``).
- The idle exit is a job on the instance's scheduler (APScheduler, the one timer; a
  ``FakeScheduler`` in tests): its stdin closed, the worker ends as the one-shot
  worker does at EOF.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from tray.child import codec, runner
from tray.domain import wireline

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds a worker gets to leave at EOF before it is killed


class Timer(Protocol):
    """What this needs of ``tray.engine.scheduler.Scheduler``."""

    def schedule(self, job_id: str, run_at: datetime, fn: Callable[[], None], *,
                 inline: bool = False) -> None: ...

    def cancel(self, job_id: str) -> None: ...


class WorkerGone(Exception):
    """The worker exited before it answered (killed, crashed)."""

    def __init__(self, returncode: int | None) -> None:
        how = (f"killed by signal {-returncode}" if returncode is not None and returncode < 0
               else f"exit status {returncode}")
        super().__init__(how)
        self.returncode = returncode


class _Live:
    """One running worker: its process and the lines of its stdout."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout, proc.stderr

        def pump_out() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in out:
                    self.lines.put(line)
            self.lines.put(None)

        def pump_err() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in err:
                    log.warning("worker: %s", line.decode(errors="replace").rstrip()[:300])

        for f in (pump_out, pump_err):
            threading.Thread(target=f, daemon=True, name=f"roletray-warm-{f.__name__}").start()


class WarmChild:
    """``python -m MODULE`` kept running between calls, leaving after ``idle``."""

    def __init__(self, module: str, *, env: Mapping[str, str], idle: timedelta,
                 scheduler: Timer, now: Callable[[], datetime],
                 children: runner.Children = runner.WORKERS,
                 job_id: str = "warm-worker") -> None:
        self._module = module
        self._env = dict(env)
        self._idle = idle
        self._scheduler = scheduler
        self._now = now
        self._children = children
        self._job_id = job_id
        self._lock = threading.Lock()
        self._live: _Live | None = None
        self._calls = 0  # an idle job placed before the last call does nothing
        self.started = 0  # how many workers this has started (tests, the bench)

    @property
    def pid(self) -> int | None:
        live = self._live
        return live.proc.pid if live is not None and live.proc.poll() is None else None

    def request(self, doc: Mapping[str, Any], *, timeout: float,
                on_event: Callable[[dict[str, Any]], None] | None = None) -> codec.Answer:
        """``doc`` to the worker, its reply; events reach ``on_event`` first. Raises
        ``WorkerGone`` (the worker exited mid-call) or ``runner.ChildTimeout``."""
        with self._lock:
            self._calls += 1
            try:
                return self._call(doc, time.monotonic() + timeout, timeout, on_event)
            finally:
                self._arm_idle()

    def stop(self) -> None:
        """End the worker (the instance is stopping); a later call starts a new one."""
        self._scheduler.cancel(self._job_id)
        with self._lock:
            self._end()

    def _call(self, doc: Mapping[str, Any], deadline: float, timeout: float,
              on_event: Callable[[dict[str, Any]], None] | None) -> codec.Answer:
        line = wireline.encode(dict(doc))
        live = self._ensure()
        if not self._send(live, line):  # died while idle: nothing was asked of it yet
            self._end()
            live = self._ensure()
            if not self._send(live, line):
                raise WorkerGone(self._end())
        try:
            while True:
                left = deadline - time.monotonic()
                try:
                    got = live.lines.get(timeout=left) if left > 0 else live.lines.get_nowait()
                except queue.Empty:
                    raise runner.ChildTimeout(timeout) from None
                if got is None:
                    raise WorkerGone(self._end())  # its stdout closed: it is leaving
                reply = self._read(got, on_event)
                if reply is not None:
                    return codec.Answer(reply, 0, "")
        except BaseException:
            self._end(kill=True)  # timed out, gone, or on_event raised: the next call
            raise  # starts afresh

    @staticmethod
    def _read(line: bytes, on_event: Callable[[dict[str, Any]], None] | None
              ) -> dict[str, Any] | None:
        if len(line) > codec.MAX_PIPE_LINE:
            return None
        try:
            doc = wireline.decode(line.rstrip(b"\n"))
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        if codec.is_event(doc):
            if on_event is not None:
                on_event(doc)
            return None
        return doc if isinstance(doc.get("ok"), bool) else None

    @staticmethod
    def _send(live: _Live, line: bytes) -> bool:
        stdin = live.proc.stdin
        assert stdin is not None
        try:
            stdin.write(line)
            stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _ensure(self) -> _Live:
        live = self._live
        if live is not None and live.proc.poll() is None:
            return live
        if live is not None:
            self._end()
        proc = subprocess.Popen(runner.command(self._module), env=self._env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, **runner.own_group())
        self._children.add(proc)
        self.started += 1
        self._live = _Live(proc)
        log.debug("started the warm worker (pid %d)", proc.pid)
        return self._live

    def _end(self, *, kill: bool = False) -> int | None:
        """Close the worker's stdin (it leaves at EOF), kill its group if it lingers
        (at once with ``kill``), reap it. Its exit status; None when there was none."""
        live, self._live = self._live, None
        if live is None:
            return None
        proc = live.proc
        if kill and proc.poll() is None:
            runner.signal_group(proc, runner.KILL)
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            runner.signal_group(proc, runner.KILL)
            proc.wait()
        self._children.discard(proc)
        return proc.returncode

    def _arm_idle(self) -> None:
        calls = self._calls

        def leave_if_idle() -> None:
            if not self._lock.acquire(blocking=False):
                return  # a call is running; it places the next idle job when done
            try:
                if self._calls == calls and self._live is not None:
                    log.debug("the warm worker leaves after %s idle", self._idle)
                    self._end()
            finally:
                self._lock.release()

        self._scheduler.schedule(self._job_id, self._now() + self._idle, leave_if_idle)
