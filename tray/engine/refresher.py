"""The refresh engine: keeps the active role's keys fresh in the target section.

One ``Refresher`` per running instance (tray or daemon). It schedules a refresh
at ``Expiration - margin``, retries failures with jittered exponential backoff,
notices suspends and clock jumps (a 30 s tick compares wall and monotonic time),
corrects for a skewed local clock with the STS response's Date, restores its
section when another program removes or changes it, and publishes a
``Snapshot`` to subscribers on every change.

MFA: for a role with ``mfa_serial`` the first code starts an MFA session
(``tray.engine.mfa_session``) kept in this object's memory; refreshes use it without
asking again, and roles sharing the source and device share it. When the next
refresh would fall after the session's end, the needs-input state is published
``MFA_ASK_AHEAD`` before that end, so a code can be asked for while the keys
still work. A needs-input state says what it waits for (``Snapshot.input_needed``):
an MFA code, an SSO sign-in (retried by itself once the token file changes), or
an answer to a credential process.

Threads: scheduled jobs run in the scheduler's workers, the tick in its own
daemon thread, ``switch``/``refresh_now``/``clear`` in the caller's (the control
server's or the tray's). ``_refresh_lock`` makes sure at most one AssumeRole is
in flight; ``_state_lock`` guards the fields the snapshot is built from.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from tray import paths
from tray.awsfiles import awsconfig, credfile
from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    CredentialsFileError,
    MfaSessionEndedError,
    NeedsInputError,
    RoletrayError,
    SourceCredentialsError,
    StateError,
    UsageError,
)
from tray.domain.models import RefreshState, RoleProfile, Snapshot, TempCredentials, iso_utc
from tray.domain.problems import Problem, problem_from
from tray.engine import actions
from tray.engine.mfa_session import (
    EXPIRY_SLACK,
    MfaSession,
    MfaSessionCache,
    SessionKey,
    session_key,
)
from tray.engine.scheduler import Scheduler
from tray.state import State, load_state

log = logging.getLogger(__name__)

BACKOFF_FIRST = 5.0  # seconds before the first retry
BACKOFF_CAP = 300.0  # retries never wait longer than this
JITTER = 0.2  # a retry waits between (1 - JITTER) and 1 times its step, so clients spread out
MIN_INTERVAL = timedelta(seconds=60)  # after a success, never refresh again sooner than this
SKEW_LIMIT = timedelta(seconds=60)  # below this, the local clock is trusted as it is
WAKE_JUMP = timedelta(seconds=5)  # wall minus monotonic beyond this: a suspend or clock step
TICK_INTERVAL = 30.0
RESTORE_SLACK = timedelta(seconds=60)  # in-memory keys this close to expiry are not worth restoring
_SESSION_SLACK = EXPIRY_SLACK  # a refresh this close to the MFA session's end cannot use it

MFA_ASK_AHEAD = timedelta(minutes=15)  # ask for a code this long before the MFA session ends

REFRESH_JOB = "refresh"
EXPIRE_JOB = "expire"
MFA_JOB = "mfa-ahead"

Subscriber = Callable[[Snapshot], None]
AssumeFn = Callable[..., actions.Outcome]
SectionKind = Literal["ours", "absent", "changed", "foreign"]


def is_transient(error: RoletrayError) -> bool:
    """Worth a quick retry: AWS unreachable, throttling, a 5xx. Anything else (AccessDenied,
    a bad config or credentials file, source keys rejected) waits for a person, so it is
    retried at the cap only: a trust policy or a file can be fixed while we wait."""
    return isinstance(error, AwsError) and not isinstance(
        error, (AccessDeniedError, SourceCredentialsError))


def backoff_step(failures: int) -> float:
    """Seconds before retry number ``failures`` (1-based), before jitter: 5, 10, 20 ... 300."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, failures - 1))


@dataclass
class _Job:
    run_at: datetime
    fn: Callable[[], None]


class Refresher:
    """Keeps one active role fresh. See the module docstring for the threads involved."""

    def __init__(
        self,
        ctx: actions.Context,
        scheduler: Scheduler,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        assume_fn: AssumeFn | None = None,
        tick_interval: float | None = TICK_INTERVAL,
        mfa_sessions: bool | None = None,
    ) -> None:
        self._ctx = ctx
        self._sched = scheduler
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._assume_fn = assume_fn  # None: actions.assume, looked up at call time
        self._tick_interval = tick_interval
        # MFA sessions need an assume function that takes them: actions.assume (None)
        # does; another says so with mfa_sessions=True, else one code per AssumeRole.
        self._mfa_enabled = mfa_sessions if mfa_sessions is not None else assume_fn is None
        self._mfa = MfaSessionCache()  # secret: never logged, never published

        self._refresh_lock = threading.RLock()  # held for a whole refresh, AssumeRole included
        self._state_lock = threading.RLock()  # short: the fields below, never across I/O
        self._subscribers: list[Subscriber] = []
        self._stop_evt = threading.Event()
        self._tick_thread: threading.Thread | None = None
        self.stopped_cleanly = True

        self._state = RefreshState.IDLE
        self._role: str | None = None
        self._target: str = ctx.target
        self._duration: int | None = None
        self._identity_arn: str | None = None
        self._expiration: datetime | None = None  # by AWS's clock, as STS gave it
        self._lifetime: timedelta | None = None
        self._skew = timedelta(0)  # local clock minus AWS's; zero while within SKEW_LIMIT
        self._problem: Problem | None = None
        self._creds: TempCredentials | None = None  # secret: never logged, never published
        self._failures = 0
        self._blocked = False  # the target holds keys that are not ours: hands off
        self.last_outcome: actions.Outcome | None = None
        self._mfa_key: SessionKey | None = None  # the active role's MFA session
        self._sso_watch: tuple[Path, tuple[int, int] | None] | None = None

        self._gen = 0  # bumped whenever the refresh job is replaced: stale runs see it
        self._jobs: dict[str, _Job] = {}
        self._last_wall: datetime | None = None
        self._last_mono: float | None = None

    # ------------------------------------------------------------------ public

    def subscribe(self, cb: Subscriber) -> None:
        """``cb(snapshot)`` on every change, from whichever thread made it; keep it short."""
        with self._state_lock:
            self._subscribers.append(cb)

    def snapshot(self) -> Snapshot:
        with self._state_lock:
            return self._snapshot_locked()

    def start(self) -> Snapshot:
        """Resume the active role from the state file; refresh at once when due."""
        self._sched.start()
        with self._refresh_lock:
            self._mark_clocks()
            try:
                saved = load_state(self._ctx.paths)
            except StateError as e:
                log.error("%s", e)
                saved = None
                self._set(state=RefreshState.ERROR, problem=problem_from(e))
            else:
                if saved is None:
                    self._publish()
                else:
                    self._resume(saved)
        if self._tick_interval:
            self._tick_thread = threading.Thread(target=self._tick_loop, name="roletray-tick",
                                                 daemon=True)
            self._tick_thread.start()
        return self.snapshot()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop ticking and scheduling. False if a refresh was still in flight after ``timeout``."""
        self._stop_evt.set()
        idle = self._refresh_lock.acquire(timeout=timeout)
        try:
            with self._state_lock:
                self._cancel_all()
        finally:
            if idle:
                self._refresh_lock.release()
        # Never wait for a job stuck on the network: the caller decides what to do.
        self._sched.shutdown(wait=False)
        if self._tick_thread is not None and self._tick_thread is not threading.current_thread():
            self._tick_thread.join(timeout=1.0)
        self.stopped_cleanly = idle
        return idle

    def wait_idle(self, timeout: float) -> bool:
        """Wait for a refresh in flight to end (after ``stop``); True if none is left."""
        idle = self._refresh_lock.acquire(timeout=timeout)
        if idle:
            self._refresh_lock.release()
        self.stopped_cleanly = idle
        return idle

    def switch(self, profile: str, mfa_code: str | None = None, *, target: str | None = None,
               duration: int | None = None, force: bool = False) -> Snapshot:
        """Assume ``profile`` now and make it the active role. Errors are raised; the
        current role stays as it was."""
        with self._refresh_lock:
            target = target or self._ctx.target
            try:
                outcome = self._assume(profile, target=target, duration=duration,
                                       mfa_code=mfa_code, force=force)
            except RoletrayError as e:
                log.warning("switch to %s failed: %s", profile, e)
                raise
            with self._state_lock:
                if target != self._target or profile != self._role:
                    self._creds = None  # not ours to compare against any more
                self._role, self._target, self._duration = profile, target, duration
            log.info("active role is now %s in [%s]", profile, target)
            self._succeeded(outcome)
            return self.snapshot()

    def refresh_now(self, mfa_code: str | None = None) -> Snapshot:
        """Refresh the active role at once; a failure updates the state and is raised."""
        with self._refresh_lock:
            if self._role is None:
                raise UsageError("no active role to refresh: assume a role first")
            self._refresh_locked(mfa_code, reason="asked", raise_errors=True)
            return self.snapshot()

    def provide_mfa_code(self, code: str) -> Snapshot:
        """The code a person typed after a needs-input event (or ahead of the MFA
        session's end): it starts a new MFA session for the active role."""
        return self.refresh_now(mfa_code=code)

    def needs_mfa_code(self, profile: str) -> bool:
        """Whether switching to ``profile`` needs a code now (False while an MFA
        session it can use lasts, or when it has no ``mfa_serial``)."""
        role = self._role_profile(profile)
        if role is None or not role.mfa_serial:
            return False
        return not self._mfa_enabled or self._mfa.get(session_key(role), self._aws_now()) is None

    def mfa_session_end(self, profile: str | None = None) -> datetime | None:
        """When the MFA session ``profile`` (default: the active role) would use ends."""
        if profile is None:
            with self._state_lock:
                key = self._mfa_key
        else:
            role = self._role_profile(profile)
            key = session_key(role) if role is not None else None
        session = self._mfa.peek(key)
        return session.expiration if session is not None else None

    def clear(self, target: str | None = None) -> Snapshot:
        """Remove the section and forget the active role (only that section if ``target``
        names another one)."""
        with self._refresh_lock:
            actions.clear(target, ctx=self._ctx)
            if target is None or target == self._target:
                with self._state_lock:
                    self._cancel_all()
                    self._role = self._identity_arn = self._expiration = None
                    self._creds = self.last_outcome = None
                    self._lifetime = self._duration = None
                    self._failures = 0
                    self._blocked = False
                    self._mfa_key = None
                self._mfa.clear()  # clearing says "no more keys": the MFA sessions go too
                log.info("cleared the active role")
                self._set(state=RefreshState.IDLE, problem=None)
            return self.snapshot()

    def check_wake(self) -> None:
        """The periodic tick: catch up after a suspend or a clock jump, guard the section."""
        now = self._ctx.now()
        mono = self._monotonic()
        with self._state_lock:
            jumped: timedelta | None = None
            if self._last_wall is not None and self._last_mono is not None:
                drift = (now - self._last_wall) - timedelta(seconds=mono - self._last_mono)
                if abs(drift) > WAKE_JUMP:
                    jumped = drift
            self._last_wall, self._last_mono = now, mono
            gen = self._gen
            job = self._jobs.get(REFRESH_JOB)
            due = job is not None and now >= job.run_at
        if jumped is not None:
            log.info("the wall clock moved %+.0f s more than the monotonic one (suspend or "
                     "clock change)", jumped.total_seconds())
            if not due:
                self._rearm()
        # A refresh in progress does the same checks: skip this tick rather than queue.
        if not self._refresh_lock.acquire(blocking=False):
            return
        try:
            if self._role is None or self._stop_evt.is_set():
                return
            if due:
                if self._gen == gen:  # the scheduled job has not run it meanwhile
                    self._refresh_locked(None, reason="due after a suspend or clock jump"
                                         if jumped is not None else "overdue")
                return
            if self._signed_in_meanwhile():
                self._refresh_locked(None, reason="the SSO token was renewed")
                return
            self._guard_section()
            self._expire_if_past()
        finally:
            self._refresh_lock.release()

    # ---------------------------------------------------------------- internals

    def _assume(self, profile: str, *, mfa_code: str | None = None,
                **kwargs: Any) -> actions.Outcome:
        fn = self._assume_fn or actions.assume
        role = self._role_profile(profile) if self._mfa_enabled else None
        key = session_key(role) if role is not None else None
        if key is None:
            return fn(profile, ctx=self._ctx, mfa_code=mfa_code, **kwargs)
        assert self._ctx.settings is not None
        if mfa_code:  # a code starts a new session, replacing one that may be ending
            kwargs["mfa_session_hours"] = self._ctx.settings.mfa_session_hours
        else:
            kwargs["mfa_session"] = self._mfa.get(key, self._aws_now())
        try:
            outcome = fn(profile, ctx=self._ctx, mfa_code=mfa_code, **kwargs)
        except MfaSessionEndedError:
            self._mfa.drop(key)
            raise
        except RoletrayError as e:
            started = getattr(e, "mfa_session", None)
            if isinstance(started, MfaSession):
                self._mfa.put(started)  # the code is spent; the session is still good
            raise
        if outcome.mfa_session is not None:
            self._mfa.put(outcome.mfa_session)
            log.info("started an MFA session for %s (source %s) until %s", key[1], key[0],
                     iso_utc(outcome.mfa_session.expiration))
        return outcome

    def _role_profile(self, profile: str) -> RoleProfile | None:
        try:
            return awsconfig.get_role_profile(profile, self._ctx.config_path)
        except RoletrayError:
            return None  # the assume itself reports what is wrong, with context

    def _aws_now(self) -> datetime:
        with self._state_lock:
            return self._ctx.now() - self._skew

    def _resume(self, saved: State) -> None:
        creds = None
        try:
            creds = credfile.read_owned(self._ctx.credentials_path, saved.target)
        except CredentialsFileError as e:
            log.warning("%s", e)
        with self._state_lock:
            self._role, self._target = saved.active_role, saved.target
            self._identity_arn = saved.identity_arn
            self._expiration = saved.expiration
            if creds is not None:
                self._creds = creds
                self._expiration = creds.expiration
                if saved.updated_at is not None and saved.updated_at < creds.expiration:
                    self._lifetime = creds.expiration - saved.updated_at
            expiration = self._expiration
        now = self._ctx.now()
        due = self._due_local()
        log.info("resuming %s in [%s]", saved.active_role, saved.target)
        if creds is None or due is None or expiration is None or now >= due:
            expired = expiration is None or now >= expiration
            self._set(state=RefreshState.EXPIRED if expired else RefreshState.REFRESHING)
            self._schedule_refresh(now)  # at once, in the scheduler's thread
        else:
            self._set(state=RefreshState.FRESH)
            self._schedule_refresh(due)
            self._schedule_expiry(expiration)

    def _refresh_locked(self, mfa_code: str | None, *, reason: str,
                        raise_errors: bool = False) -> None:
        """One AssumeRole for the active role; the caller holds ``_refresh_lock``."""
        role = self._role
        if role is None:
            return
        self._cancel(REFRESH_JOB)
        kind = self._section_kind()
        log.info("refreshing %s (%s)", role, reason)
        self._set(state=RefreshState.REFRESHING)
        try:
            outcome = self._assume(role, target=self._target, duration=self._duration,
                                   mfa_code=mfa_code, force=kind == "foreign")
        except NeedsInputError as e:
            # Never prompt from here: the tray says a code is needed and waits for a person.
            log.warning("%s", e)
            self._needs_input(e, role)
            if raise_errors:
                raise
            return
        except CredentialsFileError as e:
            if kind == "foreign":
                self._refuse_foreign(str(e))
            else:
                self._failed(e, transient=False)
            if raise_errors:
                raise
            return
        except RoletrayError as e:
            if mfa_code is not None and not is_transient(e):
                # The code was rejected or the role refused: a new code is what helps.
                # Never again with this code (an MFA device locks after a few failures).
                self._set(state=RefreshState.NEEDS_INPUT,
                          problem=problem_from(e, role=role).waiting_for("mfa", role))
                self._keep_session_schedule(role)
            else:
                self._failed(e, transient=is_transient(e))
            if raise_errors:
                raise
            return
        except Exception as e:  # a bug must not stop the refresher
            log.exception("refresh of %s failed unexpectedly", role)
            self._failed(RoletrayError(f"internal error ({e.__class__.__name__}); see the log"),
                         transient=False)
            if raise_errors:
                raise
            return
        if kind != "ours" and self._creds is not None:
            self._log_restored(kind)
        self._succeeded(outcome)

    def _needs_input(self, error: RoletrayError, role: str) -> None:
        problem = problem_from(error, role=role)
        kind, profile = problem.input_kind or "mfa", problem.profile
        watch = None
        if kind == "sso" and profile:
            from tray.aws import sso  # only for SSO sources (it loads hashlib, OpenSSL's)

            try:
                path = sso.token_path(sso.load_config(profile, self._ctx.config_path))
                watch = (path, sso.file_signature(path))
            except RoletrayError:
                pass
        with self._state_lock:
            self._sso_watch = watch
        self._set(state=RefreshState.NEEDS_INPUT, problem=problem.waiting_for(kind, profile))

    def _signed_in_meanwhile(self) -> bool:
        """In the needs-input state for SSO: has the token file been written since?"""
        with self._state_lock:
            watch = self._sso_watch if self._state is RefreshState.NEEDS_INPUT else None
        if watch is None:
            return False
        from tray.aws import sso

        path, before = watch
        after = sso.file_signature(path)
        return after is not None and after != before

    def _keep_session_schedule(self, role: str) -> None:
        """After a refused code: an MFA session that still lasts keeps refreshing."""
        with self._state_lock:
            key = self._mfa_key if self._role == role else None
            live = self._creds is not None and self._expiration is not None
        if key is None or not live or self._mfa.get(key, self._aws_now()) is None:
            return
        now = self._ctx.now()
        self._schedule_refresh(max(self._due_local() or now, now + MIN_INTERVAL))

    def _plan_mfa_ask(self, run_at: datetime, now: datetime) -> bool:
        """Ask for a code ahead of the MFA session's end when the next refresh (at
        ``run_at``, local) would fall after it. True: ask now."""
        self._cancel(MFA_JOB)
        with self._state_lock:
            key, role = self._mfa_key, self._role
            skew = self._skew
        session = self._mfa.peek(key)
        if session is None or role is None:
            return False
        end_local = session.expiration + skew
        if run_at < end_local - _SESSION_SLACK:
            return False  # the next refresh still runs on this session
        ask_at = end_local - MFA_ASK_AHEAD
        if ask_at <= now:
            return True

        def run() -> None:
            with self._refresh_lock:
                with self._state_lock:
                    self._jobs.pop(MFA_JOB, None)
                    current = self._role == role and self._mfa.peek(key) is session
                    live = self._state in (RefreshState.FRESH, RefreshState.RETRYING)
                if current and live:
                    self._ask_for_code(role, session)

        with self._state_lock:
            self._add_job(MFA_JOB, ask_at, run)
        return False

    def _ask_for_code(self, role: str, session: MfaSession) -> None:
        serial = session.mfa_serial
        log.warning("the MFA session for %s ends at %s; a code is needed to keep %s fresh "
                    "after that", serial, iso_utc(session.expiration), role)
        self._set(state=RefreshState.NEEDS_INPUT, problem=Problem(
            "mfa_session_ending", f"the MFA session for {serial} ends at "
            f"{iso_utc(session.expiration)}: enter an MFA code to keep '{role}' fresh "
            "after that", profile=role, input_kind="mfa"))

    def _succeeded(self, outcome: actions.Outcome) -> None:
        res = outcome.result
        now = self._ctx.now()
        skew = timedelta(0)
        if res.server_date is not None:
            measured = now - res.server_date
            if abs(measured) > SKEW_LIMIT:
                skew = measured
                log.warning("this machine's clock is %+.0f s off AWS's (the Date of the STS "
                            "response); scheduling refreshes by AWS's time",
                            measured.total_seconds())
        issued = res.server_date or now
        exp = res.credentials.expiration
        with self._state_lock:
            self._skew = skew
            self._creds = res.credentials
            self._expiration = exp
            self._lifetime = exp - issued if exp > issued else None
            self._identity_arn = res.identity_arn
            self._failures = 0
            self._blocked = False
            self.last_outcome = outcome
            self._mfa_key = session_key(outcome.role) if self._mfa_enabled else None
        due = self._due_local() or now
        # The floor keeps keys that look expired by a wrong local clock (and no Date
        # to correct it) from turning into a refresh loop.
        run_at = max(due, now + MIN_INTERVAL)
        self._schedule_refresh(run_at)
        self._schedule_expiry(exp)
        log.info("refreshed %s: %s, expires %s, next refresh at %s", outcome.role.name,
                 res.credentials.masked_key, iso_utc(exp), iso_utc(run_at))
        ask_now = self._plan_mfa_ask(run_at, now)
        session = self._mfa.peek(self._mfa_key)
        if ask_now and session is not None:
            self._ask_for_code(outcome.role.name, session)
        else:
            self._set(state=RefreshState.FRESH, problem=None)

    def _failed(self, error: RoletrayError, *, transient: bool) -> None:
        now = self._ctx.now()
        with self._state_lock:
            self._failures += 1
            failures = self._failures
            expired = self._expiration is None or now - self._skew >= self._expiration
        step = backoff_step(failures) if transient else BACKOFF_CAP
        delay = timedelta(seconds=step * (1 - JITTER * self._rng.random()))
        if not transient:
            state = RefreshState.ERROR
        else:
            state = RefreshState.EXPIRED if expired else RefreshState.RETRYING
        log.warning("refresh of %s failed (%s); try %d, next in %.0f s: %s", self._role,
                    state.value, failures, delay.total_seconds(), error)
        self._schedule_refresh(now + delay)
        self._set(state=state, problem=problem_from(error, role=self._role))

    def _expire_if_past(self) -> None:
        with self._state_lock:
            live = self._state in (RefreshState.FRESH, RefreshState.RETRYING,
                                   RefreshState.REFRESHING)
            past = self._expiration is not None and \
                self._ctx.now() - self._skew >= self._expiration
        if live and past:
            log.warning("the keys of %s expired", self._role)
            self._set(state=RefreshState.EXPIRED)

    # -- the target section ---------------------------------------------------

    def _section_kind(self) -> SectionKind:
        path = self._ctx.credentials_path
        try:
            state = credfile.section_state(path, self._target)
            if state != "owned":
                return "absent" if state == "absent" else "foreign"
            owned = credfile.read_owned(path, self._target)
        except CredentialsFileError:
            return "ours"  # unparsable: the next write reports it, naming the line
        with self._state_lock:
            ours = self._creds
        if ours is not None and (owned is None or owned.access_key_id != ours.access_key_id):
            return "changed"
        return "ours"

    def _guard_section(self) -> None:
        """Restore the section if another program removed or changed it. Caller holds
        ``_refresh_lock``."""
        kind = self._section_kind()
        with self._state_lock:
            blocked = self._blocked
            creds = self._creds
            usable = creds is not None and \
                self._ctx.now() - self._skew < creds.expiration - RESTORE_SLACK
        if kind == "ours" or (kind == "foreign" and blocked):
            return
        if self._state is RefreshState.NEEDS_INPUT and not usable:
            return  # nothing to restore, and refreshing needs a person
        if not usable or creds is None or self._role is None:
            self._refresh_locked(None, reason=f"the section was {kind}")
            return
        try:
            # force: another program's temporary keys may be replaced, never long-term
            # keys (credfile refuses those, and so do we).
            credfile.write_credentials(self._ctx.credentials_path, self._target, creds,
                                       role=self._role, force=kind == "foreign")
        except CredentialsFileError as e:
            if kind == "foreign":
                self._refuse_foreign(str(e))
            else:
                log.error("could not restore [%s]: %s", self._target, e)
                self._set(state=RefreshState.ERROR, problem=problem_from(e, role=self._role))
            return
        self._log_restored(kind)
        if blocked or self._state is RefreshState.ERROR:
            with self._state_lock:
                self._blocked = False
            now = self._ctx.now()
            self._schedule_refresh(max(self._due_local() or now, now))
            self._set(state=RefreshState.FRESH, problem=None)

    def _refuse_foreign(self, detail: str) -> None:
        with self._state_lock:
            first = not self._blocked
            self._blocked = True
        self._cancel(REFRESH_JOB)  # nothing to do until the section is ours again
        if first:
            log.error("not touching [%s]: %s", self._target, detail)
        self._set(state=RefreshState.ERROR,
                  problem=Problem("foreign_section", detail, profile=self._role))

    def _log_restored(self, kind: str) -> None:
        what = "removed" if kind == "absent" else "changed"
        log.warning("restored [%s] in %s: another program %s it", self._target,
                    paths.display_path(self._ctx.credentials_path, self._ctx.env), what)

    # -- timing ------------------------------------------------------------------

    def _margin(self) -> timedelta:
        assert self._ctx.settings is not None
        margin = self._ctx.settings.refresh_margin
        if self._lifetime is not None:
            margin = min(margin, self._lifetime / 2)
        return margin

    def _due_local(self) -> datetime | None:
        """When the next refresh is due, by the local clock (skew applied)."""
        with self._state_lock:
            if self._expiration is None:
                return None
            return self._expiration - self._margin() + self._skew

    def _schedule_refresh(self, run_at: datetime) -> None:
        with self._state_lock:
            self._gen += 1
            gen = self._gen

            def run() -> None:
                with self._refresh_lock:
                    if self._gen != gen or self._stop_evt.is_set():
                        return  # replaced, done by the tick or a hand-over, or stopping
                    self._refresh_locked(None, reason="scheduled")

            self._add_job(REFRESH_JOB, run_at, run)

    def _schedule_expiry(self, expiration: datetime) -> None:
        def run() -> None:
            with self._refresh_lock:
                with self._state_lock:
                    self._jobs.pop(EXPIRE_JOB, None)
                self._expire_if_past()

        with self._state_lock:
            self._add_job(EXPIRE_JOB, expiration + self._skew, run)

    def _add_job(self, job_id: str, run_at: datetime, fn: Callable[[], None]) -> None:
        if self._stop_evt.is_set():
            return
        self._jobs[job_id] = _Job(run_at, fn)
        self._sched.schedule(job_id, run_at, fn)

    def _cancel(self, job_id: str) -> None:
        with self._state_lock:
            if job_id == REFRESH_JOB:
                self._gen += 1
            if self._jobs.pop(job_id, None) is not None:
                self._sched.cancel(job_id)

    def _cancel_all(self) -> None:
        with self._state_lock:
            for job_id in list(self._jobs):
                self._cancel(job_id)

    def _rearm(self) -> None:
        """After a jump the real scheduler's monotonic wait is stale: hand it the jobs again."""
        with self._state_lock:
            for job_id, job in self._jobs.items():
                self._sched.schedule(job_id, job.run_at, job.fn)

    def _mark_clocks(self) -> None:
        with self._state_lock:
            self._last_wall, self._last_mono = self._ctx.now(), self._monotonic()

    def _tick_loop(self) -> None:
        assert self._tick_interval
        while not self._stop_evt.wait(self._tick_interval):
            try:
                self.check_wake()
            except Exception:  # the tick must survive anything
                log.exception("wake check failed")

    # -- events ------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._state_lock:
            if changes.get("state", RefreshState.NEEDS_INPUT) is not RefreshState.NEEDS_INPUT:
                self._sso_watch = None
            for key, value in changes.items():
                setattr(self, "_" + key, value)
        self._publish()

    def _snapshot_locked(self) -> Snapshot:
        skewed = self._skew != timedelta(0)
        return Snapshot(
            state=self._state, role=self._role, target=self._target,
            identity_arn=self._identity_arn,
            account=_account(self._identity_arn),
            expiration=self._expiration,
            # By AWS's clock when ours is off, so that seconds_left tells the truth.
            now=self._ctx.now() - self._skew,
            problem=self._problem,
            clock_skew_seconds=round(self._skew.total_seconds(), 1) if skewed else None,
            mfa_session_expiration=self._mfa_end_locked(),
        )

    def _mfa_end_locked(self) -> datetime | None:
        session = self._mfa.peek(self._mfa_key)
        return session.expiration if session is not None else None

    def _publish(self) -> None:
        with self._state_lock:
            snap = self._snapshot_locked()
            subscribers = list(self._subscribers)
        for cb in subscribers:
            try:
                cb(snap)
            except Exception:  # a broken subscriber must not break refreshing
                log.exception("subscriber %r failed", cb)


def _account(identity_arn: str | None) -> str | None:
    if not identity_arn:
        return None
    parts = identity_arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None
