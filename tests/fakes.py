"""Fakes for tests and demos: a clock with a separate monotonic time, and a scheduler
that fires due jobs when told to ``advance``, so timing tests need no sleep.

    clock = FakeClock()
    sched = FakeScheduler(clock)
    sched.schedule("job", clock.now() + timedelta(minutes=5), fn)
    sched.advance(timedelta(minutes=5))   # fn ran, clock.now() moved 5 minutes

``clock.jump_wall(timedelta(hours=3))`` is a suspend: wall time moves, monotonic
time does not, and (as with the real scheduler) nothing fires until something
looks at the clock again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

JobFn = Callable[[], None]

EPOCH = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """Wall time (UTC-aware) and monotonic seconds, both moved by hand."""

    def __init__(self, start: datetime = EPOCH, monotonic: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._wall = start
        self._mono = monotonic
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta) -> None:
        """Time passes normally: both clocks move."""
        if delta < timedelta(0):
            raise ValueError("time does not run backwards; use jump_wall")
        with self._lock:
            self._wall += delta
            self._mono += delta.total_seconds()

    def jump_wall(self, delta: timedelta) -> None:
        """A suspend (or an NTP step): the wall clock moves, the monotonic one does not."""
        with self._lock:
            self._wall += delta


@dataclass
class _Job:
    run_at: datetime
    seq: int
    fn: JobFn
    every: timedelta | None = None  # an interval job (the tick): placed again after each run


class FakeScheduler:
    """The ``Scheduler`` Protocol over a ``FakeClock``; jobs run in the caller's thread."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._jobs: dict[str, _Job] = {}
        self._seq = itertools.count()
        self.fired: list[tuple[str, datetime]] = []  # (job id, clock time when it ran)
        self.started = False
        self.stopped = False
        # A job that keeps rescheduling itself "now" is a refresh loop: fail loudly.
        self.max_jobs_per_call = 2000

    # -- the Protocol --
    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        self._jobs[job_id] = _Job(run_at, next(self._seq), fn)

    def every(self, job_id: str, interval: timedelta, fn: JobFn, *, inline: bool = False) -> None:
        if interval <= timedelta(0):
            raise ValueError("interval must be positive")
        self._jobs[job_id] = _Job(self.clock.now() + interval, next(self._seq), fn, interval)

    def cancel(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def start(self) -> None:
        self.started = True

    def shutdown(self, wait: bool = True) -> None:
        self.stopped = True
        self._jobs.clear()

    # -- test controls --
    def pending(self) -> dict[str, datetime]:
        return {job_id: job.run_at for job_id, job in self._jobs.items()}

    def job(self, job_id: str) -> JobFn | None:
        """The function scheduled under ``job_id`` (to fire a stale copy by hand, say)."""
        job = self._jobs.get(job_id)
        return job.fn if job else None

    def next_run(self, job_id: str) -> datetime | None:
        job = self._jobs.get(job_id)
        return job.run_at if job else None

    def _pop_due(self, until: datetime) -> tuple[str, _Job] | None:
        due = [(job.run_at, job.seq, job_id) for job_id, job in self._jobs.items()
               if job.run_at <= until]
        if not due:
            return None
        _, _, job_id = min(due)
        return job_id, self._jobs.pop(job_id)

    def run_due(self) -> int:
        """Fire what is due now without moving the clock (what a late scheduler does)."""
        return self._fire_until(self.clock.now(), move_clock=False)

    def advance(self, delta: timedelta) -> int:
        """Move the clock by ``delta``, firing each due job, in time order, at its time.

        Returns how many jobs ran. A job a job schedules inside the window runs too.
        """
        end = self.clock.now() + delta
        count = self._fire_until(end, move_clock=True)
        rest = end - self.clock.now()
        if rest > timedelta(0):
            self.clock.advance(rest)
        return count

    def advance_to(self, when: datetime) -> int:
        return self.advance(max(timedelta(0), when - self.clock.now()))

    def _fire_until(self, end: datetime, *, move_clock: bool) -> int:
        count = 0
        while (item := self._pop_due(end)) is not None:
            job_id, job = item
            if move_clock and job.run_at > self.clock.now():
                self.clock.advance(job.run_at - self.clock.now())
            self.fired.append((job_id, self.clock.now()))
            count += 1
            if job.every is not None:
                # As APScheduler's interval trigger with coalesce: runs missed while the
                # clock jumped are one run; the next is the first of the grid after now.
                after = job.run_at + job.every
                while after <= self.clock.now():
                    after += job.every
                self._jobs[job_id] = _Job(after, next(self._seq), job.fn, job.every)
            job.fn()
            if count > self.max_jobs_per_call:
                raise RuntimeError("FakeScheduler: jobs keep scheduling themselves at once")
        return count


def fake_program(folder: Path, name: str, script: str) -> Path:
    """An executable shell script ``folder/name`` running ``script`` (the folder is made
    when missing): a stand-in for a program a test puts first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    return exe


def gone(pid: int, within: float = 10.0) -> bool:
    """Process ``pid`` has exited within ``within`` seconds (a zombie waiting for init to
    reap it runs no more): waits for the condition, never for a fixed time."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
