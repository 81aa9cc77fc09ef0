"""The refresh engine: keeps every kept section's role fresh in its target section.

One ``Refresher`` per running instance (tray or daemon). It keeps one ``Section``
per target: the default target's (settings.target: "the active role" the tray's
radio items switch) and one for each other target a role was assumed into
(``assume PROFILE --target NAME``), each with its own schedule, retries, MFA
session use and state, all on the one scheduler. It is the orchestrator:
when to refresh, retry, expire and ask for an MFA code is ``refresh_policy`` (pure);
which MFA session a role uses is ``MfaKeeper``; noticing and restoring a section
another program rewrote is ``SectionGuard``; what is known about the section is a
``Section``. This class runs AssumeRole, applies the policy's plans to the
scheduler and publishes a ``Snapshot`` to subscribers on every change.

The scheduler is the one timer. Jobs are named after the section
(``refresh:roletray``, ``expire:roletray``, ``mfa-ahead:roletray``) and replaced,
never duplicated; the wall-clock check (``check_wake``: a suspend, a clock jump,
a rewritten section, a renewed SSO token) is the scheduler's ``tick`` job. It runs
every ``TICK_INTERVAL`` seconds, so the scheduler never sleeps longer than that.

A needs-input state says what it waits for (``Snapshot.input_needed``): an MFA
code, an SSO sign-in (retried by itself once the token file changes), an answer
to a credential process, or a locked OS keyring (retried by itself once the
``keyring_locked`` check, asked on the tick while such a wait is on, reads unlocked).
Nothing here ever prompts.

Threads: jobs run in the scheduler's workers, ``switch``/``refresh_now``/``clear``
in the caller's (the control server's or the tray's). ``_refresh_lock`` makes sure
at most one AssumeRole is in flight; ``_state_lock`` guards the sections.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from tray.awsfiles import awsconfig, credfile
from tray.domain.errors import (
    CredentialsFileError,
    NeedsInputError,
    RoletrayError,
    StateError,
    UsageError,
)
from tray.domain.models import RefreshState, Snapshot, TempCredentials, iso_utc
from tray.domain.problems import InputKind, Problem, problem_from
from tray.domain.text import N_, Text
from tray.engine import actions, sso_watch
from tray.engine import refresh_policy as policy
from tray.engine.mfa_keeper import AssumeFn, MfaKeeper
from tray.engine.refresh_policy import BACKOFF_CAP, MFA_ASK_AHEAD, Keys, backoff_step, is_transient
from tray.engine.scheduler import Scheduler
from tray.engine.section import EXPIRE_JOB, JOB_KINDS, MFA_JOB, REFRESH_JOB, Section, store_problem
from tray.engine.section_guard import SectionGuard
from tray.state import State, load_states

__all__ = ["BACKOFF_CAP", "MFA_ASK_AHEAD", "TICK_INTERVAL", "TICK_JOB", "AssumeFn", "Refresher",
           "Subscriber", "backoff_step", "is_transient"]

log = logging.getLogger(__name__)

TICK_INTERVAL = 30.0
TICK_JOB = "tick"  # one for the whole instance: it looks at every section
TICK_WORK_JOB = "tick-work"  # what the tick found to do, on the pool

Subscriber = Callable[[Snapshot], None]
# Is the OS keyring locked? True, False, or None (cannot tell); I/O (D-Bus), never a
# prompt: ``tray.platform.keyring_watch.lock_check`` in the app.
KeyringCheck = Callable[[], bool | None]
# ``held_keys`` hands out no keys closer to their end than this: the console's sign-in
# needs them to work for its one call, and a refresh is due long before.
HELD_MIN_LEFT = timedelta(minutes=2)
_LIVE = (RefreshState.FRESH, RefreshState.RETRYING, RefreshState.REFRESHING)


class Refresher:
    """Keeps the kept sections fresh. See the module docstring for the threads involved."""

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
        mfa: MfaKeeper | None = None,
        keyring_locked: KeyringCheck | None = None,
    ) -> None:
        """``mfa``: the instance's MFA sessions when others share them (its served
        roles); None: the refresher's own, on when ``mfa_sessions`` says so."""
        self._ctx = ctx
        self._sched = scheduler
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._assume_fn = assume_fn  # None: actions.assume, looked up at call time
        self._tick_interval = tick_interval
        self._mfa = mfa or MfaKeeper(ctx, enabled=mfa_sessions if mfa_sessions is not None
                                     else assume_fn is None)
        self._guard = SectionGuard(ctx)
        self._keyring_locked = keyring_locked  # None: a keyring wait ends by "Try again" only
        self._said_unwatched = False

        self._refresh_lock = threading.RLock()  # held for a whole refresh, AssumeRole included
        self._state_lock = threading.RLock()  # short: the sections, never across I/O
        self._subscribers: list[Subscriber] = []
        self._stopping = threading.Event()
        self.stopped_cleanly = True
        # The default target's section always; another target's while it is kept.
        self._sections: dict[str, Section] = {ctx.target: Section(ctx.target)}
        self._clocks: tuple[datetime, float] | None = None  # (wall, monotonic) at the last look

    # ------------------------------------------------------------------ public

    @property
    def _section(self) -> Section:
        """The default target's section (the active role)."""
        return self._sections[self._ctx.target]

    @property
    def last_outcome(self) -> actions.Outcome | None:
        """The active section's last successful assume (for the control socket's reply)."""
        return self._section.last_outcome

    def outcome_of(self, target: str | None) -> actions.Outcome | None:
        """The last successful assume into ``target`` (default: the default target)."""
        with self._state_lock:
            sec = self._sections.get(target or self._ctx.target)
            return sec.last_outcome if sec is not None else None

    def subscribe(self, cb: Subscriber) -> None:
        """``cb(snapshot)`` on every change, from whichever thread made it; keep it short."""
        with self._state_lock:
            self._subscribers.append(cb)

    def snapshot(self, target: str | None = None) -> Snapshot:
        """The default target's section (or ``target``'s; the default's when not kept)."""
        with self._state_lock:
            sec = self._sections.get(target or self._ctx.target, self._section)
            return sec.snapshot(self._ctx.now(), self._mfa.end(sec.mfa_key))

    def snapshots(self) -> list[Snapshot]:
        """Every kept section, the default target's first."""
        with self._state_lock:
            now = self._ctx.now()
            return [sec.snapshot(now, self._mfa.end(sec.mfa_key))
                    for sec in self._sections.values()]

    def kept_targets(self) -> list[str]:
        """The targets kept besides the default one."""
        with self._state_lock:
            return [t for t in self._sections if t != self._ctx.target]

    def held_keys(self, profile: str, min_left: timedelta = HELD_MIN_LEFT
                  ) -> TempCredentials | None:
        """The keys a kept section holds for ``profile`` (the default target's first) while
        they have more than ``min_left`` left by AWS's clock, else None: for work that
        needs the role's keys once (the console), with no AssumeRole. Secret: the caller
        hands them only to the user's own processes and never logs them."""
        with self._state_lock:
            now = self._ctx.now()
            for sec in self._sections.values():
                if sec.role == profile and sec.creds is not None and not sec.blocked \
                        and sec.creds.expiration - sec.keys.aws_now(now) > min_left:
                    return sec.creds
        return None

    def start(self) -> Snapshot:
        """Resume every kept section from the state file; refresh at once when due."""
        self._sched.start()
        with self._refresh_lock:
            self._mark_clocks()
            try:
                saved = load_states(self._ctx.paths)
            except StateError as e:
                log.error("%s", e)
                self._enter(self._section, RefreshState.ERROR, e)
            else:
                if not saved:
                    self._publish()
                for state in saved:
                    self._resume(state)
        self._schedule_tick()
        return self.snapshot()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop ticking and scheduling. False if a refresh was still in flight after ``timeout``."""
        self._stopping.set()
        idle = self._refresh_lock.acquire(timeout=timeout)
        try:
            with self._state_lock:
                for sec in self._sections.values():
                    self._cancel_jobs(sec)
            self._sched.cancel(TICK_JOB)
            self._sched.cancel(TICK_WORK_JOB)
        finally:
            if idle:
                self._refresh_lock.release()
        # Never wait for a job stuck on the network: the caller decides what to do.
        self._sched.shutdown(wait=False)
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
        """Assume ``profile`` now and keep it fresh in ``target`` (default: the default
        target, whose role is the active one). Errors are raised; the section's role
        stays as it was. Returns the target section's snapshot."""
        with self._refresh_lock:
            target = target or self._ctx.target
            try:
                outcome = self._assume(profile, target=target, duration=duration,
                                       mfa_code=mfa_code, force=force)
            except RoletrayError as e:
                log.warning("switch to %s failed: %s", profile, e)
                raise
            with self._state_lock:
                sec = self._sections.get(target)
                if sec is None:
                    sec = self._sections[target] = Section(target)
                elif profile != sec.role:
                    sec.creds = None  # not ours to compare against any more
                sec.role, sec.duration = profile, duration
            log.info("%s is now kept fresh in [%s]", profile, target)
            self._succeeded(sec, outcome)
            return self.snapshot(target)

    def refresh_now(self, mfa_code: str | None = None, *, target: str | None = None
                    ) -> Snapshot:
        """Refresh a section (default: the active role) at once; a failure updates its
        state and is raised."""
        with self._refresh_lock:
            with self._state_lock:
                sec = self._sections.get(target or self._ctx.target)
            if sec is None or sec.role is None:
                if target:
                    raise UsageError(N_("no role kept in [{target}] to refresh: assume a role "
                                        "first"), target=target)
                raise UsageError(Text(N_("no active role to refresh: assume a role first")))
            self._refresh_locked(sec, mfa_code, reason="asked", raise_errors=True)
            return self.snapshot(sec.target)

    def provide_mfa_code(self, code: str, *, target: str | None = None) -> Snapshot:
        """The code a person typed after a needs-input event (or ahead of the MFA
        session's end): it starts a new MFA session for the section's role."""
        return self.refresh_now(mfa_code=code, target=target)

    @property
    def default_target(self) -> str:
        """The section a switch without a target keeps (the settings' ``target``)."""
        return self._ctx.target

    def guard_of(self, profile: str) -> str | None:
        """The label of a guarded profile (``roletray_guard``): a person confirms it
        before it is used. None when unguarded, or not a usable role profile (the
        switch then says what is wrong, with context)."""
        try:
            role = awsconfig.get_role_profile(
                profile, self._ctx.config_path, credentials_path=self._ctx.credentials_path,
                home=self._ctx.paths.home)
        except RoletrayError:
            return None
        return role.guard

    def needs_mfa_code(self, profile: str) -> bool:
        """Whether switching to ``profile`` needs a code now (False while an MFA
        session it can use lasts, or when it has no ``mfa_serial``)."""
        return self._mfa.needs_code(profile, self._aws_now())

    def mfa_session_end(self, profile: str | None = None) -> datetime | None:
        """When the MFA session ``profile`` (default: the active role) would use ends."""
        if profile is None:
            with self._state_lock:
                key = self._section.mfa_key
        else:
            key = self._mfa.key(profile)
        return self._mfa.end(key)

    def clear(self, target: str | None = None) -> Snapshot:
        """Stop keeping ``target`` (default: the default target) and remove its section;
        the other sections stay kept, and so do the MFA sessions (until they end).
        Returns the default target's snapshot."""
        self.clear_section(target)
        return self.snapshot()

    def clear_section(self, target: str | None = None) -> actions.Cleared:
        """``clear``, saying what was removed."""
        with self._refresh_lock:
            target = target or self._ctx.target
            cleared = actions.clear(target, ctx=self._ctx)
            with self._state_lock:
                sec = self._sections.get(target)
                kept = sec is not None and sec.role is not None
                if sec is not None:
                    self._cancel_jobs(sec)
                    if target == self._ctx.target:
                        sec.forget_role()
                    else:
                        del self._sections[target]
            # The MFA sessions stay until they end (or the instance quits): they are the
            # instance's, used by served roles and any section of the same source and
            # device, and removing a section's keys is not signing out.
            if sec is None:
                return cleared
            log.info("stopped keeping [%s]%s", target,
                     "" if cleared.section else " (its section was gone already)")
            if target == self._ctx.target:
                self._enter(sec, RefreshState.IDLE, None)
            else:
                self._publish()
            # Kept in memory until now counts as forgotten, whatever the state file said.
            return replace(cleared, state=True) if kept else cleared

    def check_wake(self) -> None:
        """The tick: catch up after a suspend or a clock jump, run a refresh the scheduler
        slept through, notice an SSO sign-in or an unlocked keyring, guard the sections."""
        now = self._ctx.now()
        mono = self._monotonic()
        with self._state_lock:
            jumped = policy.wall_jump(self._clocks, now, mono)
            self._clocks = (now, mono)
            planned = [(sec, sec.refresh_at) for sec in self._sections.values()]
        if jumped is not None:
            log.info("the wall clock moved %+.0f s more than the monotonic one (suspend or "
                     "clock change)", jumped.total_seconds())
        # A refresh in progress does the same checks: skip this tick rather than queue.
        if not self._refresh_lock.acquire(blocking=False):
            return
        try:
            for sec, refresh_at in planned:
                if self._stopping.is_set():
                    return
                self._check_section(sec, now, refresh_at, jumped is not None)
        finally:
            self._refresh_lock.release()

    def _check_section(self, sec: Section, now: datetime, planned: datetime | None,
                       jumped: bool) -> None:
        """One section's part of the tick; the caller holds ``_refresh_lock``."""
        due = policy.overdue(now, planned)
        if sec.role is None or not self._is_kept(sec):
            return
        if due:
            if sec.refresh_at == planned:  # the scheduled job has not run it meanwhile
                self._refresh_locked(sec, None, reason="due after a suspend or clock "
                                     "jump" if jumped else "overdue")
            return
        if self._signed_in_meanwhile(sec):
            self._refresh_locked(sec, None, reason="the sign-in was renewed")
            return
        if self._keyring_unlocked(sec):
            self._refresh_locked(sec, None, reason="the keyring was unlocked")
            return
        self._guard_section(sec)
        self._expire_if_past(sec)

    def _is_kept(self, sec: Section) -> bool:
        """Whether ``sec`` is still the one kept for its target (not cleared or replaced)."""
        with self._state_lock:
            return self._sections.get(sec.target) is sec

    # ---------------------------------------------------------------- refreshing

    def _assume(self, profile: str, *, mfa_code: str | None, target: str,
                duration: int | None, force: bool) -> actions.Outcome:
        fn = self._assume_fn or actions.assume
        return self._mfa.assume(fn, profile, aws_now=self._aws_now(), mfa_code=mfa_code,
                                target=target, duration=duration, force=force)

    def _aws_now(self) -> datetime:
        """AWS's time: the clock skew is this machine's, measured by whichever section
        refreshed (the default one's first)."""
        with self._state_lock:
            keys = next((s.keys for s in self._sections.values() if s.keys.skew),
                        self._section.keys)
            return keys.aws_now(self._ctx.now())

    def _margin(self) -> timedelta:
        assert self._ctx.settings is not None
        return self._ctx.settings.refresh_margin

    def _resume(self, saved: State) -> None:
        creds = None
        try:
            creds = credfile.read_owned(self._ctx.credentials_path, saved.target)
        except CredentialsFileError as e:
            log.warning("%s", e)
        keys = Keys(saved.expiration)
        if creds is not None:
            # The state's updated_at is when these keys were issued: it gives their
            # lifetime, which caps the margin of short sessions.
            issued = saved.updated_at if saved.updated_at is not None else creds.expiration
            keys = Keys.issued(creds.expiration, issued, timedelta(0))
        with self._state_lock:
            sec = self._sections[saved.target] = Section(
                saved.target, role=saved.active_role, identity_arn=saved.identity_arn,
                keys=keys, creds=creds)
        plan = policy.on_resume(self._ctx.now(), keys, self._margin(),
                                have_keys=creds is not None)
        log.info("resuming %s in [%s]", saved.active_role, saved.target)
        self._mark(sec, plan.state)
        assert plan.refresh_at is not None
        self._schedule_refresh(sec, plan.refresh_at)  # when due: at once, in the scheduler
        if plan.expire_at is not None:
            self._schedule_expiry(sec, plan.expire_at)

    def _refresh_locked(self, sec: Section, mfa_code: str | None, *, reason: str,
                        raise_errors: bool = False) -> None:
        """One AssumeRole for the section's role; the caller holds ``_refresh_lock``."""
        role = sec.role
        if role is None:
            return
        self._cancel_refresh(sec)
        with self._state_lock:
            ours = sec.creds
        kind = self._guard.inspect(sec.target, ours)
        log.info("refreshing %s (%s)", role, reason)
        self._mark(sec, RefreshState.REFRESHING)
        try:
            outcome = self._assume(role, target=sec.target, duration=sec.duration,
                                   mfa_code=mfa_code, force=kind == "foreign")
        except NeedsInputError as e:
            # Never prompt from here: the tray says a code is needed and waits for a person.
            log.warning("%s", e)
            self._needs_input(sec, e, role)
            if raise_errors:
                raise
            return
        except CredentialsFileError as e:
            if kind == "foreign":
                self._refuse_foreign(sec, e)
            else:
                self._failed(sec, e, transient=False)
            if raise_errors:
                raise
            return
        except RoletrayError as e:
            if mfa_code is not None and not is_transient(e):
                # The code was rejected or the role refused: a new code is what helps.
                # Never again with this code (an MFA device locks after a few failures).
                self._enter(sec, RefreshState.NEEDS_INPUT, e, input=("mfa", role))
                self._keep_session_schedule(sec)
            else:
                self._failed(sec, e, transient=is_transient(e))
            if raise_errors:
                raise
            return
        except Exception as e:  # a bug must not stop the refresher
            log.exception("refresh of %s failed unexpectedly", role)
            self._failed(sec, RoletrayError(N_("internal error ({error_type}); see the log"),
                                            error_type=e.__class__.__name__), transient=False)
            if raise_errors:
                raise
            return
        if kind != "ours" and ours is not None:
            self._guard.log_restored(sec.target, kind)
        self._succeeded(sec, outcome)

    def _succeeded(self, sec: Section, outcome: actions.Outcome) -> None:
        res = outcome.result
        now = self._ctx.now()
        skew = policy.measure_skew(res.received_at or now, res.server_date)
        if skew:
            log.warning("this machine's clock is %+.0f s off AWS's (the Date of the STS "
                        "response); scheduling refreshes by AWS's time", skew.total_seconds())
        keys = Keys.issued(res.credentials.expiration, res.server_date or now, skew)
        mfa_key = self._mfa.key_of(outcome.role)
        with self._state_lock:
            sec.keys = keys
            sec.creds = res.credentials
            sec.identity_arn = res.identity_arn
            sec.failures = 0
            sec.blocked = False
            sec.last_outcome = outcome
            sec.mfa_key = mfa_key
        plan = policy.after_success(now, keys, self._margin(), self._mfa.end(mfa_key))
        assert plan.refresh_at is not None and plan.expire_at is not None
        self._schedule_refresh(sec, plan.refresh_at)
        self._schedule_expiry(sec, plan.expire_at)
        log.info("refreshed %s: %s, expires %s, next refresh at %s", outcome.role.name,
                 res.credentials.masked_key, iso_utc(res.credentials.expiration),
                 iso_utc(plan.refresh_at))
        self._schedule_mfa_ask(sec, plan.ask_mfa_at)
        if plan.state is RefreshState.NEEDS_INPUT:
            self._ask_for_code(sec)
        else:
            self._enter(sec, plan.state, None)

    def _failed(self, sec: Section, error: RoletrayError, *, transient: bool) -> None:
        now = self._ctx.now()
        with self._state_lock:
            sec.failures += 1
            failures, keys = sec.failures, sec.keys
        plan = policy.after_failure(now, keys, failures, transient=transient,
                                    draw=self._rng.random())
        assert plan.refresh_at is not None
        log.warning("refresh of %s failed (%s); try %d, next in %.0f s: %s", sec.role,
                    plan.state.value, failures, (plan.refresh_at - now).total_seconds(), error)
        self._schedule_refresh(sec, plan.refresh_at)
        self._enter(sec, plan.state, error)

    def _expire_if_past(self, sec: Section) -> None:
        with self._state_lock:
            expired = sec.state in _LIVE and sec.keys.past(self._ctx.now())
        if expired:
            log.warning("the keys of %s expired", sec.role)
            self._mark(sec, RefreshState.EXPIRED)

    # -- waiting for a person ------------------------------------------------------

    def _needs_input(self, sec: Section, error: RoletrayError, role: str) -> None:
        problem = problem_from(error, role=role)
        kind, profile = problem.input_kind or "mfa", problem.profile
        watch = None
        if kind == "sso" and profile:
            watch = sso_watch.watch_token(profile, self._ctx.config_path, self._ctx.env)
        elif kind == "signin" and profile:
            watch = sso_watch.watch_login(profile, self._ctx.config_path, self._ctx.env)
        seen_locked = self._watch_keyring(profile) if kind == "keyring" else None
        self._enter(sec, RefreshState.NEEDS_INPUT, error, input=(kind, profile), watch=watch,
                    keyring_seen=seen_locked)

    def _signed_in_meanwhile(self, sec: Section) -> bool:
        """In the needs-input state for a sign-in: has its token file been written since?"""
        with self._state_lock:
            watch = sec.sso_watch if sec.state is RefreshState.NEEDS_INPUT else None
        return watch is not None and sso_watch.signed_in_since(watch)

    def _watch_keyring(self, source: str | None) -> bool | None:
        """A keyring wait begins: whether the keyring reads locked now (None: no watch).

        The wait ends by itself only after the keyring was seen locked, then unlocked:
        when it reads unlocked already (the keys sit in another collection than the
        default one, or it was unlocked this very moment), a refresh on each tick would
        only fail again, each time with the system's unlock prompt."""
        if self._keyring_locked is None:
            self._say_unwatched("it is not a Secret Service on a D-Bus session bus")
            return None
        locked = self._keyring_locked()
        if locked is None:
            self._say_unwatched("no Secret Service answered on the D-Bus session bus")
        elif locked:
            log.info("waiting for the OS keyring to be unlocked: roletray looks every %.0f s "
                     "and goes on by itself then", self._tick_interval or TICK_INTERVAL)
        else:
            log.info("the OS keyring's default collection reads unlocked, yet the keys of "
                     "'%s' were locked: once they can be read, choose \"Try again\" or run "
                     "`roletray refresh`", source)
        return locked is True

    def _keyring_waiting(self, sec: Section) -> bool:
        with self._state_lock:
            return sec.state is RefreshState.NEEDS_INPUT and sec.keyring_seen_locked is not None

    def _keyring_unlocked(self, sec: Section) -> bool:
        """In a watched keyring wait: has the keyring been unlocked since it read locked?
        One D-Bus look; none when no keyring wait is on."""
        if self._keyring_locked is None or not self._keyring_waiting(sec):
            return False
        locked = self._keyring_locked()
        if locked is None:
            self._say_unwatched("no Secret Service answered on the D-Bus session bus")
            return False
        with self._state_lock:
            seen = sec.keyring_seen_locked
            if locked and seen is False:
                sec.keyring_seen_locked = True
        return bool(seen) and not locked

    def _say_unwatched(self, why: str) -> None:
        """Once per instance, not per tick: a keyring wait here ends by a person only."""
        if self._said_unwatched:
            return
        self._said_unwatched = True
        log.info("roletray cannot tell when the OS keyring is unlocked (%s): after unlocking "
                 "it, choose \"Try again\" or run `roletray refresh`", why)

    def _keep_session_schedule(self, sec: Section) -> None:
        """After a refused code: an MFA session that still lasts keeps refreshing."""
        with self._state_lock:
            key, keys = sec.mfa_key, sec.keys
            live = sec.creds is not None and keys.expiration is not None
        if key is None or not live or not self._mfa.usable(key, self._aws_now()):
            return
        self._schedule_refresh(sec, policy.keep_schedule(self._ctx.now(), keys,
                                                         self._margin()))

    def _ask_for_code(self, sec: Section) -> None:
        with self._state_lock:
            session, role = self._mfa.session(sec.mfa_key), sec.role
        if session is None or role is None:
            return
        end = iso_utc(session.expiration)
        log.warning("the MFA session for %s ends at %s; a code is needed to keep %s fresh "
                    "after that", session.mfa_serial, end, role)
        self._enter(sec, RefreshState.NEEDS_INPUT, Problem(
            "mfa_session_ending", Text(N_("the MFA session for {mfa_serial} ends at {end}: "
                                          "enter an MFA code to keep '{role}' fresh after that"),
                                       mfa_serial=session.mfa_serial, end=end, role=role),
            profile=role, input_kind="mfa"), input=("mfa", role))

    # -- the target section -----------------------------------------------------

    def _guard_section(self, sec: Section) -> None:
        """Restore the section if another program removed or changed it. Caller holds
        ``_refresh_lock``."""
        with self._state_lock:
            creds, blocked, keys = sec.creds, sec.blocked, sec.keys
            role, state = sec.role, sec.state
        kind = self._guard.inspect(sec.target, creds)
        action = policy.on_rewritten_section(
            kind, blocked=blocked, waiting=state is RefreshState.NEEDS_INPUT,
            restorable=creds is not None and policy.restorable(self._ctx.now(), keys))
        if action == "refresh":
            self._refresh_locked(sec, None, reason=f"the section was {kind}")
        if action != "restore" or creds is None or role is None:
            return
        try:
            self._guard.restore(sec.target, creds, role=role, kind=kind)
        except CredentialsFileError as e:
            if kind == "foreign":
                self._refuse_foreign(sec, e)
            else:
                log.error("could not restore [%s]: %s", sec.target, e)
                self._enter(sec, RefreshState.ERROR, e)
            return
        if blocked or state is RefreshState.ERROR:
            with self._state_lock:
                sec.blocked = False
            self._schedule_refresh(sec, policy.keep_schedule(
                self._ctx.now(), keys, self._margin(), floor=timedelta(0)))
            self._enter(sec, RefreshState.FRESH, None)

    def _refuse_foreign(self, sec: Section, error: CredentialsFileError) -> None:
        with self._state_lock:
            first = not sec.blocked
            sec.blocked = True
        self._cancel_refresh(sec)  # nothing to do until the section is ours again
        if first:
            log.error("not touching [%s]: %s", sec.target, error)
        self._enter(sec, RefreshState.ERROR, Problem("foreign_section", str(error),
                                                     profile=sec.role, text=error.text))

    # -- the scheduler's jobs ------------------------------------------------------

    def _schedule(self, sec: Section, kind: str, run_at: datetime,
                  fn: Callable[[], None]) -> None:
        if not self._stopping.is_set():
            self._sched.schedule(sec.job(kind), run_at, fn)

    def _schedule_refresh(self, sec: Section, run_at: datetime) -> None:
        with self._state_lock:
            sec.refresh_at = run_at

        def run() -> None:
            with self._refresh_lock:
                with self._state_lock:
                    current = self._sections.get(sec.target) is sec and sec.refresh_at == run_at
                if current and not self._stopping.is_set():
                    self._refresh_locked(sec, None, reason="scheduled")
                # else: replaced meanwhile, done by the tick or a hand-over, or stopping

        self._schedule(sec, REFRESH_JOB, run_at, run)

    def _schedule_expiry(self, sec: Section, run_at: datetime) -> None:
        def run() -> None:
            with self._refresh_lock:
                if self._is_kept(sec):
                    self._expire_if_past(sec)

        self._schedule(sec, EXPIRE_JOB, run_at, run)

    def _schedule_mfa_ask(self, sec: Section, ask_at: datetime | None) -> None:
        self._sched.cancel(sec.job(MFA_JOB))
        if ask_at is None:
            return
        with self._state_lock:
            role, session = sec.role, self._mfa.session(sec.mfa_key)

        def run() -> None:
            with self._refresh_lock:
                with self._state_lock:
                    current = self._sections.get(sec.target) is sec and sec.role == role and \
                        self._mfa.session(sec.mfa_key) is session
                    live = sec.state in (RefreshState.FRESH, RefreshState.RETRYING)
                if current and live:
                    self._ask_for_code(sec)

        self._schedule(sec, MFA_JOB, ask_at, run)

    def _cancel_refresh(self, sec: Section) -> None:
        with self._state_lock:
            sec.refresh_at = None
        self._sched.cancel(sec.job(REFRESH_JOB))

    def _cancel_jobs(self, sec: Section) -> None:
        with self._state_lock:
            sec.refresh_at = None
        for kind in JOB_KINDS:
            self._sched.cancel(sec.job(kind))

    def _schedule_tick(self) -> None:
        if self._tick_interval and not self._stopping.is_set():
            self._sched.every(TICK_JOB, timedelta(seconds=self._tick_interval), self._tick,
                              inline=True)

    def _tick(self) -> None:
        """On the scheduler's own thread (an inline job: an idle instance wakes one thread
        every 30 s): the cheap checks here; a refresh to catch up goes to the pool."""
        try:
            if self._catch_up_needed():
                self._sched.schedule(TICK_WORK_JOB, self._ctx.now(), self._tick_work)
            else:
                self.check_wake()
        except Exception:  # the tick must survive anything
            log.exception("wake check failed")

    def _tick_work(self) -> None:
        try:
            self.check_wake()
        except Exception:
            log.exception("wake check failed")

    def _catch_up_needed(self) -> bool:
        """Would ``check_wake`` refresh something now (a suspend, a clock jump, an overdue
        refresh, a renewed SSO token), or ask the keyring (D-Bus: I/O, so on the pool,
        only while a keyring wait is on)? Reads clocks and file stats only; changes
        nothing."""
        now = self._ctx.now()
        with self._state_lock:
            if policy.wall_jump(self._clocks, now, self._monotonic()) is not None:
                return True
            sections = list(self._sections.values())
        return any(policy.overdue(now, sec.refresh_at) or self._signed_in_meanwhile(sec)
                   or self._keyring_waiting(sec) for sec in sections if sec.role is not None)

    def _mark_clocks(self) -> None:
        with self._state_lock:
            self._clocks = (self._ctx.now(), self._monotonic())

    # -- events ------------------------------------------------------------------

    def _enter(self, sec: Section, state: RefreshState, error: RoletrayError | Problem | None,
               *, input: tuple[InputKind, str | None] | None = None,
               watch: sso_watch.Watch | None = None, keyring_seen: bool | None = None
               ) -> None:
        """A new state with its problem (None: none); ``input``, ``watch`` and
        ``keyring_seen`` say what a needs-input state waits for."""
        with self._state_lock:
            sec.state = state
            waiting = state is RefreshState.NEEDS_INPUT
            store_problem(sec, error, waiting=input if waiting else None)
            sec.sso_watch = watch if waiting else None
            sec.keyring_seen_locked = keyring_seen if waiting else None
        self._publish()

    def _mark(self, sec: Section, state: RefreshState) -> None:
        """A new state that keeps the problem last seen (refreshing, expired, resumed)."""
        with self._state_lock:
            sec.state = state
            sec.sso_watch = None
            sec.keyring_seen_locked = None
        self._publish()

    def _publish(self) -> None:
        with self._state_lock:
            snap = self.snapshot()
            subscribers = list(self._subscribers)
        for cb in subscribers:
            try:
                cb(snap)
            except Exception:  # a broken subscriber must not break refreshing
                log.exception("subscriber %r failed", cb)
