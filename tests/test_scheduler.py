"""The scheduler seam: the fake used by timing tests, and the real APScheduler adapter.

The real one runs with short real delays; every wait is on an Event with a
bound, never a sleep.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeClock, FakeScheduler

from tray.domain.models import utcnow
from tray.engine.scheduler import ApsScheduler, Scheduler

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)


# ---------------------------------------------------------------------- fakes

def test_fake_clock_moves_wall_and_monotonic_together_except_on_a_jump() -> None:
    clock = FakeClock(T0, monotonic=50.0)
    clock.advance(10 * S)
    assert clock.now() == T0 + 10 * S and clock.monotonic() == 60.0
    clock.jump_wall(timedelta(hours=3))
    assert clock.now() == T0 + timedelta(hours=3, seconds=10) and clock.monotonic() == 60.0
    with pytest.raises(ValueError):
        clock.advance(-S)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))


def test_fake_scheduler_fires_due_jobs_in_time_order_at_their_time() -> None:
    clock = FakeClock(T0)
    sched: Scheduler = FakeScheduler(clock)
    ran: list[tuple[str, datetime]] = []

    def job(name: str):  # type: ignore[no-untyped-def]
        return lambda: ran.append((name, clock.now()))

    sched.schedule("c", T0 + 30 * S, job("c"))
    sched.schedule("a", T0 + 10 * S, job("a"))
    sched.schedule("b", T0 + 20 * S, job("b"))
    sched.schedule("late", T0 + 99 * S, job("late"))
    assert isinstance(sched, FakeScheduler)
    assert sched.advance(30 * S) == 3
    assert ran == [("a", T0 + 10 * S), ("b", T0 + 20 * S), ("c", T0 + 30 * S)]
    assert clock.now() == T0 + 30 * S
    assert sched.pending() == {"late": T0 + 99 * S}


def test_fake_scheduler_replaces_cancels_and_runs_jobs_scheduled_by_jobs() -> None:
    clock = FakeClock(T0)
    sched = FakeScheduler(clock)
    ran: list[str] = []
    sched.schedule("x", T0 + 5 * S, lambda: ran.append("old"))
    sched.schedule("x", T0 + 8 * S, lambda: ran.append("new"))  # replaces
    sched.schedule("gone", T0 + 6 * S, lambda: ran.append("gone"))
    sched.cancel("gone")
    sched.cancel("never-there")

    def chain() -> None:
        ran.append("chain")
        sched.schedule("next", clock.now() + 2 * S, lambda: ran.append("next"))

    sched.schedule("chain", T0 + 9 * S, chain)
    sched.advance(20 * S)
    assert ran == ["new", "chain", "next"]
    assert [job_id for job_id, _ in sched.fired] == ["x", "chain", "next"]
    assert sched.fired[-1][1] == T0 + 11 * S


def test_fake_scheduler_does_not_fire_on_a_wall_jump_until_asked() -> None:
    clock = FakeClock(T0)
    sched = FakeScheduler(clock)
    ran: list[datetime] = []
    sched.schedule("x", T0 + 60 * S, lambda: ran.append(clock.now()))
    clock.jump_wall(timedelta(hours=3))
    assert ran == []  # like APScheduler asleep on monotonic time
    assert sched.run_due() == 1
    assert ran == [T0 + timedelta(hours=3)]  # late, at the time it finally ran


def test_fake_scheduler_stops_a_job_that_reschedules_itself_at_once() -> None:
    clock = FakeClock(T0)
    sched = FakeScheduler(clock)
    sched.max_jobs_per_call = 50

    def loop() -> None:
        sched.schedule("loop", clock.now(), loop)

    sched.schedule("loop", T0, loop)
    with pytest.raises(RuntimeError, match="scheduling themselves"):
        sched.advance(S)


def test_fake_scheduler_refuses_naive_times() -> None:
    sched = FakeScheduler(FakeClock(T0))
    with pytest.raises(ValueError):
        sched.schedule("x", datetime(2026, 1, 1), lambda: None)


# ---------------------------------------------------------------- APScheduler

@pytest.fixture
def aps() -> ApsScheduler:
    sched = ApsScheduler()
    sched.start()
    yield sched  # type: ignore[misc]
    sched.shutdown(wait=True)


def test_aps_runs_a_job_at_its_time(aps: ApsScheduler) -> None:
    done = threading.Event()
    start = utcnow()
    ran_at: list[datetime] = []
    aps.schedule("soon", start + timedelta(milliseconds=100),
                 lambda: (ran_at.append(utcnow()), done.set()))
    assert done.wait(5)
    assert ran_at[0] >= start + timedelta(milliseconds=100)
    assert "soon" not in aps.pending()  # a date job runs once


def test_aps_runs_a_job_whose_time_passed_long_ago(aps: ApsScheduler) -> None:
    """APScheduler's default (misfire_grace_time=1) would drop it silently."""
    done = threading.Event()
    aps.schedule("late", utcnow() - timedelta(hours=3), done.set)
    assert done.wait(5), "a late job was dropped"


def test_aps_replace_and_cancel(aps: ApsScheduler) -> None:
    ran: list[str] = []
    sentinel = threading.Event()
    now = utcnow()
    aps.schedule("x", now + timedelta(milliseconds=100), lambda: ran.append("old"))
    aps.schedule("x", now + timedelta(milliseconds=200), lambda: ran.append("new"))
    aps.schedule("gone", now + timedelta(milliseconds=100), lambda: ran.append("gone"))
    aps.cancel("gone")
    aps.cancel("never-there")
    # Runs after both "old" and "gone" would have: their absence is then meaningful.
    aps.schedule("sentinel", now + timedelta(milliseconds=300), sentinel.set)
    assert sentinel.wait(5)
    assert ran == ["new"]


def test_aps_survives_a_failing_job_and_refuses_naive_times(aps: ApsScheduler) -> None:
    def boom() -> None:
        raise RuntimeError("job failed")

    done = threading.Event()
    aps.schedule("boom", utcnow(), boom)
    aps.schedule("after", utcnow() + timedelta(milliseconds=50), done.set)
    assert done.wait(5)
    with pytest.raises(ValueError):
        aps.schedule("naive", datetime(2026, 1, 1), lambda: None)


def test_aps_shutdown_without_start_is_harmless() -> None:
    ApsScheduler().shutdown()



def test_aps_a_pool_job_that_places_its_successor_under_its_own_id_keeps_running(
        aps: ApsScheduler) -> None:
    """A refresh places the next refresh under its own id from inside its run. APScheduler
    removes a date job by id right after handing it to the pool, under the store's lock;
    the successor waits for that lock, so it is not removed with its predecessor."""
    runs: list[int] = []
    third = threading.Event()

    def job() -> None:
        runs.append(1)
        if len(runs) == 3:
            third.set()
            return
        aps.schedule("refresh:x", utcnow() + timedelta(milliseconds=50), job)

    aps.schedule("refresh:x", utcnow() + timedelta(milliseconds=50), job)
    assert third.wait(5), f"the job ran {len(runs)} time(s), not 3"
    assert "refresh:x" not in aps.pending()


def test_aps_the_tick_is_an_interval_job_on_the_schedulers_thread(aps: ApsScheduler) -> None:
    threads: list[threading.Thread] = []
    third = threading.Event()

    def tick() -> None:
        threads.append(threading.current_thread())
        if len(threads) == 3:
            third.set()

    aps.every("tick", timedelta(milliseconds=50), tick, inline=True)
    assert third.wait(5), f"the tick ran {len(threads)} time(s), not 3"
    assert "tick" in aps.pending()  # one job, placed again by APScheduler, not by itself
    assert len(set(threads)) == 1  # inline: the scheduler's own thread each time
    aps.cancel("tick")
    assert "tick" not in aps.pending()


def test_aps_schedule_moves_a_job_that_has_not_run(aps: ApsScheduler) -> None:
    ran: list[str] = []
    done = threading.Event()
    later = utcnow() + timedelta(hours=1)
    aps.schedule("refresh:x", later, lambda: ran.append("old"))
    assert aps.pending()["refresh:x"] == later
    aps.schedule("refresh:x", utcnow() + timedelta(milliseconds=50),
                 lambda: (ran.append("new"), done.set()))  # reschedule_job: sooner
    assert done.wait(5)
    assert ran == ["new"] and "refresh:x" not in aps.pending()
