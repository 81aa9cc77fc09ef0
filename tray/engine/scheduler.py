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

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

JobFn = Callable[[], None]


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


class ApsScheduler:
    """APScheduler's BackgroundScheduler behind the ``Scheduler`` Protocol.

    APScheduler's defaults drop a date job that runs more than one second late
    (``misfire_grace_time=1``), which after a suspend would lose a refresh
    silently: here a late job always runs (grace None), once (coalesce).
    """

    def __init__(self, *, max_workers: int = 2) -> None:
        from apscheduler.executors.debug import DebugExecutor
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self._sched: Any = BackgroundScheduler(
            timezone=UTC,
            # "inline" runs a job on the scheduler's thread (APScheduler's DebugExecutor):
            # for the 30 s tick, which only reads clocks and file stats and schedules.
            executors={"default": ThreadPoolExecutor(max_workers=max_workers),
                       "inline": DebugExecutor()},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            daemon=True,
        )

    def schedule(self, job_id: str, run_at: datetime, fn: JobFn, *, inline: bool = False) -> None:
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        # The name is set explicitly so APScheduler's log lines never repr the
        # callable (a bound partial could one day carry something private).
        self._sched.add_job(fn, trigger="date", run_date=run_at, id=job_id, name=job_id,
                            replace_existing=True, misfire_grace_time=None, coalesce=True,
                            executor="inline" if inline else "default")

    def cancel(self, job_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        try:
            self._sched.remove_job(job_id)
        except JobLookupError:
            pass

    def start(self) -> None:
        self._sched.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=wait)

    def pending(self) -> dict[str, datetime]:
        """Job id -> next run time; for logs and tests."""
        return {job.id: job.next_run_time for job in self._sched.get_jobs()}
