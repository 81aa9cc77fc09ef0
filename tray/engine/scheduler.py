"""When things run: a small Protocol, and the one adapter that imports APScheduler.

The refresher needs "run this function at that wall-clock time, moving whatever was
due under that id" and "run this every 30 s", so that is the whole seam, and the
scheduler is its one timer: its jobs are named after their section
(``refresh:roletray``, ``expire:roletray``, ``mfa-ahead:roletray``) plus one interval
job, ``tick``. Tests use ``FakeScheduler`` in tests/fakes.py, which fires due jobs when
told to ``advance``.

APScheduler waits on monotonic time and picks due jobs by the wall clock: the
tick keeps every wait short, so after a suspend due jobs run within one tick of
waking. A wall clock stepped *back* delays every job, the tick included, by the
step (a forward step or a suspend only makes jobs due sooner).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

JobFn = Callable[[], None]


class Scheduler(Protocol):
    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        """Run ``fn`` once at ``run_at`` (UTC-aware); a job with the same id that has not
        started yet is moved there (and runs ``fn``) instead.

        ``inline``: a short job (no network, no child) that may run on the scheduler's own
        thread, and so wakes one thread instead of three. An inline job must not place its
        own successor under its own id (APScheduler removes the id after the run): a job
        that repeats is ``every``.
        """

    def every(self, job_id: str, interval: timedelta, fn: JobFn, *, inline: bool = False) -> None:
        """Run ``fn`` every ``interval`` from now on (the tick), until ``cancel(job_id)``;
        runs missed while asleep are one run."""

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

    A job keeps its id: ``schedule`` on an id APScheduler still holds gives the job the
    new function and ``reschedule_job`` s it; once APScheduler has handed a date job to
    its executor it is out of the store (under the store's lock, so a pool job that
    places its successor waits for that), and ``schedule`` adds a new one. The tick is
    an interval job: it never places its own successor (an inline date job doing so
    under its own id would see APScheduler remove the successor with it).
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
        self._lock = threading.Lock()  # one schedule/cancel of ours at a time

    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        from apscheduler.jobstores.base import JobLookupError

        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        executor = "inline" if inline else "default"
        with self._lock:
            try:
                self._sched.modify_job(job_id, func=fn, executor=executor)
                self._sched.reschedule_job(job_id, trigger="date", run_date=run_at)
            except JobLookupError:  # none, or handed to its executor already
                # The name is set explicitly so APScheduler's log lines never repr the
                # callable (a bound partial could one day carry something private).
                self._sched.add_job(fn, trigger="date", run_date=run_at, id=job_id,
                                    name=job_id, executor=executor, replace_existing=True)

    def every(self, job_id: str, interval: timedelta, fn: JobFn, *, inline: bool = False) -> None:
        with self._lock:
            self._sched.add_job(fn, trigger="interval", seconds=interval.total_seconds(),
                                id=job_id, name=job_id, replace_existing=True,
                                executor="inline" if inline else "default")

    def cancel(self, job_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        with self._lock, contextlib.suppress(JobLookupError):
            self._sched.remove_job(job_id)

    def start(self) -> None:
        self._sched.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=wait)

    def pending(self) -> dict[str, datetime]:
        """Job id -> when it runs next; for logs and tests."""
        found = {job.id: getattr(job, "next_run_time", None)  # None: not started yet
                 or getattr(job.trigger, "run_date", None) for job in self._sched.get_jobs()}
        return {job_id: when for job_id, when in found.items() if when is not None}
