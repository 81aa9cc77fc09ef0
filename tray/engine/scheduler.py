"""When things run: a small Protocol, and the one adapter that imports APScheduler.

The refresher only ever needs "run this function at that wall-clock time,
replacing whatever ran under that id", so that is the whole seam, and the
scheduler is its one timer: its jobs are named after their section
(``refresh:roletray``, ``expire:roletray``, ``mfa-ahead:roletray``) plus one
``tick`` that re-places itself every 30 s. Tests use ``FakeScheduler`` in
tests/fakes.py, which fires due jobs when told to ``advance``.

APScheduler waits on monotonic time and picks due jobs by the wall clock: the
tick keeps every wait short, so after a suspend due jobs run within one tick of
waking. A wall clock stepped *back* delays every job, the tick included, by the
step (a forward step or a suspend only makes jobs due sooner).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

JobFn = Callable[[], None]
# A replaced or cancelled job due sooner than this may be in APScheduler's hands already:
# it is left to run as a no-op instead of being removed under it.
_IN_FLIGHT = timedelta(seconds=5)


class Scheduler(Protocol):
    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        """Run ``fn`` once at ``run_at`` (UTC-aware), replacing a job with the same id.

        ``inline``: a short job (no network, no child) that may run on the scheduler's own
        thread; the periodic tick is one, and so wakes one thread instead of three.
        """

    def cancel(self, job_id: str) -> None:
        """Forget the job; nothing happens if there is none."""

    def start(self) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


def _background_scheduler(**options: Any) -> Any:
    """APScheduler's BackgroundScheduler, except that its thread does not die of a
    ``JobLookupError`` when ``shutdown`` comes between running a job and removing it
    (once stopped, APScheduler looks for the job among those not yet added)."""
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class Background(BackgroundScheduler):  # type: ignore[misc]
        def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
            try:
                super().remove_job(job_id, jobstore)
            except JobLookupError:
                if self.state != STATE_STOPPED:
                    raise

    return Background(**options)


class ApsScheduler:
    """APScheduler's BackgroundScheduler behind the ``Scheduler`` Protocol.

    APScheduler's defaults drop a date job that runs more than one second late
    (``misfire_grace_time=1``), which after a suspend would lose a refresh
    silently: here a late job always runs (grace None), once (coalesce).

    Each ``schedule`` call is a job of its own in APScheduler (``ID#n``); which one
    is current for an id is kept here. APScheduler removes a date job by its id
    right after handing it to its executor: had a job (the tick, on the scheduler's
    own thread) placed its successor under the same id, that removal would take the
    successor too, and the tick would run once. A job that is no longer current
    (replaced, cancelled) runs as a no-op.
    """

    def __init__(self, *, max_workers: int = 2) -> None:
        from apscheduler.executors.debug import DebugExecutor
        from apscheduler.executors.pool import ThreadPoolExecutor

        self._sched: Any = _background_scheduler(
            timezone=UTC,
            # "inline" runs a job on the scheduler's thread (APScheduler's DebugExecutor):
            # for the 30 s tick, which only reads clocks and file stats and schedules.
            executors={"default": ThreadPoolExecutor(max_workers=max_workers),
                       "inline": DebugExecutor()},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            daemon=True,
        )
        self._lock = threading.Lock()
        self._current: dict[str, tuple[str, datetime]] = {}  # id -> (APScheduler's id, when)
        self._seq = itertools.count(1)

    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        aps_id = f"{job_id}#{next(self._seq)}"

        def run() -> None:
            with self._lock:
                if self._current.get(job_id, ("",))[0] != aps_id:
                    return  # replaced or cancelled since
                del self._current[job_id]  # before fn: fn may place the next one
            fn()

        with self._lock:  # current before APScheduler may run it
            before = self._current.get(job_id)
            self._current[job_id] = (aps_id, run_at)
        # The name is set explicitly so APScheduler's log lines never repr the
        # callable (a bound partial could one day carry something private).
        self._sched.add_job(run, trigger="date", run_date=run_at, id=aps_id, name=job_id,
                            misfire_grace_time=None, coalesce=True,
                            executor="inline" if inline else "default")
        if before is not None:
            self._drop(before)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            before = self._current.pop(job_id, None)
        if before is not None:
            self._drop(before)

    def _drop(self, job: tuple[str, datetime]) -> None:
        """Take a job that is no longer current out of APScheduler's store, unless it is
        due so soon that APScheduler may be running it (then it runs as a no-op)."""
        from apscheduler.jobstores.base import JobLookupError

        aps_id, run_at = job
        if run_at - datetime.now(UTC) < _IN_FLIGHT:
            return
        try:
            self._sched.remove_job(aps_id)
        except JobLookupError:
            pass

    def start(self) -> None:
        self._sched.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=wait)

    def pending(self) -> dict[str, datetime]:
        """Job id -> when it runs; for logs and tests."""
        with self._lock:
            return {job_id: when for job_id, (_, when) in self._current.items()}
