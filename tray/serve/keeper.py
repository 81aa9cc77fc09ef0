"""Served roles: keys kept in memory for ``credential-process`` callers, never written.

The first ``credentials(profile)`` assumes the role (in the worker child) and from
then on the role is kept fresh on the instance's one scheduler (job
``serve:PROFILE``), ``SERVE_MARGIN`` before its keys end, so callers always get keys
with more than ``MIN_LEFT`` (botocore's 15-minute advisory window) left. While the
keys are good, calls return them without asking STS.

Single flight: each role has its own lock, held across its AssumeRole; twenty
callers arriving together wait on the first one's call and then read its keys.
A failed scheduled refresh is retried on the refresh policy's backoff while the old
keys are still handed out (they have more than 15 minutes left, or they are not).
One that needs a person (an MFA code, an SSO sign-in) is not retried on a timer: the
first call after the keys run low gets the error, and ``credential-process`` asks on
the terminal, sending the code with its next request.

MFA roles use the instance's MFA sessions (``MfaKeeper``, the refresher's too): a usable
session for the role's (source, mfa_serial) signs its AssumeRole without a code, and a
code a caller gives starts a new session (``mfa_session_hours`` long) that the
refresher's roles and the scheduled refreshes here then use. Without sessions (a source
with temporary keys, or no ``MfaKeeper``) every AssumeRole needs a code.

Keyring-held sources are served alike (``source_credentials``, job
``serve:source:SOURCE@FILE_ID``), kept by source and credentials file (two files'
``[default]`` are two sources, never one's session for the other): an
``sts:GetSessionToken`` session of the source's long-term
keys, made in the worker child (which reads the keyring: the parent never loads it),
12 hours long, refreshed ``SERVE_MARGIN`` before its end. A source with ``mfa_serial``
needs a code for each new session, asked of the next caller as for an MFA role; a
locked keyring is a needs-input error too (``KeyringLockedError``), passed to the
caller and not retried on a timer.

A refusal is kept ``REFUSAL_TTL`` (on the context's clock): twenty callers denied
together cause one AssumeRole, not one each. A call with an MFA code is never answered
from it, and neither is a needs-input error kept.

The config file is watched on each request (its mtime, size and inode): after an edit,
a served role whose definition changed (``role_arn``, its source, its MFA device...) is
dropped, so the next call assumes the role as it is now configured instead of handing
out the old role's keys until the next refresh; kept refusals are dropped too.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tray.child.warm import WarmChild
from tray.domain.errors import KeyringKeysMissingError, NeedsInputError, RoletrayError
from tray.domain.models import RoleProfile, SourceSession, TempCredentials
from tray.domain.text import N_, Text
from tray.engine import actions
from tray.engine import refresh_policy as policy
from tray.engine.mfa_keeper import MfaKeeper
from tray.engine.scheduler import Scheduler
from tray.serve.document import SERVE_MARGIN, good_to_hand_out

log = logging.getLogger(__name__)

# (profile, *, ctx, mfa_code) -> the keys, nothing written: worker.assume_only_in_child
AssumeOnlyFn = Callable[..., actions.Outcome]
# (source, *, ctx, file_id, mfa_code) -> a session of its keyring-held keys:
# worker.source_session_in_child
SourceSessionFn = Callable[..., SourceSession]
JOB_PREFIX = "serve:"
SOURCE_PREFIX = "source:"
REFUSAL_TTL = timedelta(seconds=5)  # a failed AssumeRole is the answer for this long

# What is served: a role profile, or (SOURCE_PREFIX + name) a keyring-held source of a
# credentials file. Role names never clash with sources: a source's key has a prefix no
# profile needs.
_Key = tuple[str, str, str]  # ("role", profile, "") | ("source", source, file id)


@dataclass
class _Served:
    key: _Key
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: TempCredentials | None = None
    policy_keys: policy.Keys = field(default_factory=policy.Keys)
    failures: int = 0
    role: RoleProfile | None = None  # the definition the keys were made from


# What says whose keys a role's are: a change of anything else (region, duration) keeps
# the served keys.
_WHO = ("kind", "role_arn", "source_profile", "credential_source", "mfa_serial",
        "external_id", "account_id", "sso_role_name", "login_session")


def _who(role: RoleProfile | None) -> tuple[object, ...] | None:
    return None if role is None else tuple(getattr(role, f) for f in _WHO)


_Mark = tuple[int, int, int] | None  # the config file's (mtime_ns, size, inode); None: none
_UNSEEN: _Mark = (-1, -1, -1)


class ServedKeeper:
    """The served roles of one running instance."""

    def __init__(self, ctx: actions.Context, scheduler: Scheduler, *,
                 assume_fn: AssumeOnlyFn, source_fn: SourceSessionFn | None = None,
                 mfa: MfaKeeper | None = None, rng: random.Random | None = None) -> None:
        """``mfa``: the instance's MFA sessions, shared with its refresher (None: one
        code per AssumeRole of an MFA role)."""
        self._ctx = ctx
        self._sched = scheduler
        self._assume_fn = assume_fn
        self._mfa = mfa
        self._source_fn = source_fn
        self._rng = rng or random.Random()
        self._roles: dict[_Key, _Served] = {}
        self._refused: dict[_Key, tuple[datetime, RoletrayError]] = {}
        self._config_mark: _Mark = _UNSEEN
        self._lock = threading.Lock()  # the dicts only; never held across a call to AWS
        self.assume_calls = 0  # for logs and tests (GetSessionToken calls count too)

    def profiles(self) -> list[str]:
        """The served roles, then the served sources as ``source:NAME@FILE_ID``."""
        with self._lock:
            return sorted(_label(k) for k, s in self._roles.items() if s.keys is not None)

    def credentials(self, profile: str, mfa_code: str | None = None) -> TempCredentials:
        """Keys for ``profile`` with more than 15 minutes left; the role is kept from now on.

        Raises the ``RoletrayError`` of a refused or failed AssumeRole.
        """
        return self._serve(("role", profile, ""), mfa_code)

    def source_credentials(self, source: str, file_id: str,
                           mfa_code: str | None = None) -> TempCredentials:
        """A session of keyring-held ``source`` of the credentials file ``file_id`` with
        more than 15 minutes left; kept fresh from now on. Raises the ``RoletrayError``
        of the keyring or GetSessionToken."""
        if self._source_fn is None:
            raise RoletrayError(Text(N_("this roletray instance does not serve keyring-held "
                                        "sources")))
        return self._serve(("source", source, file_id), mfa_code)

    def forget(self, profile: str) -> bool:
        return self._forget(("role", profile, ""))

    def forget_source(self, source: str, file_id: str) -> bool:
        return self._forget(("source", source, file_id))

    def _forget(self, key: _Key) -> bool:
        with self._lock:
            served = self._roles.pop(key, None)
        self._sched.cancel(JOB_PREFIX + _label(key))
        return served is not None

    def _serve(self, key: _Key, mfa_code: str | None) -> TempCredentials:
        self._check_config()
        with self._lock:
            served = self._roles.setdefault(key, _Served(key))
        with served.lock:
            if self._good(served):
                assert served.keys is not None
                return served.keys
            if not mfa_code:
                self._raise_if_refused(key)
            try:
                self._assume_locked(served, mfa_code)
            except (NeedsInputError, KeyringKeysMissingError):
                # A person (or the caller itself: an item of the version before, moved
                # to its file) fixes these at once: not kept.
                self._drop_unserved(served)
                raise
            except RoletrayError as e:
                self._keep_refusal(key, e)
                self._drop_unserved(served)
                raise
            with self._lock:
                self._refused.pop(key, None)
            assert served.keys is not None
            return served.keys

    def _drop_unserved(self, served: _Served) -> None:
        if served.keys is None:  # never served: do not keep one that fails
            with self._lock:
                if self._roles.get(served.key) is served:
                    del self._roles[served.key]

    def _keep_refusal(self, key: _Key, error: RoletrayError) -> None:
        now = self._ctx.now()
        with self._lock:  # the old ones go: names asked for once are not kept forever
            for old in [k for k, (at, _) in self._refused.items()
                        if not timedelta(0) <= now - at < REFUSAL_TTL]:
                del self._refused[old]
            self._refused[key] = (now, error)

    def _raise_if_refused(self, key: _Key) -> None:
        """The refusal of an AssumeRole a moment ago, instead of another one."""
        with self._lock:
            kept = self._refused.get(key)
            if kept is None:
                return
            at, error = kept
            age = self._ctx.now() - at
            if not timedelta(0) <= age < REFUSAL_TTL:
                del self._refused[key]
                return
        raise error.with_traceback(None)

    # ----------------------------------------------------------- config edits

    def _check_config(self) -> None:
        """After an edit of the config file, drop the served roles it redefined."""
        path = self._ctx.config_path
        try:
            st = os.stat(path)
            mark: _Mark = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            mark = None
        with self._lock:
            if mark == self._config_mark:
                return
            first = self._config_mark == _UNSEEN
            self._config_mark = mark
            if first:
                return  # nothing was served before this look
            self._refused.clear()  # the edit may be the fix
            served = [s for k, s in self._roles.items() if k[0] == "role" and s.role]
        if not served:
            return
        from tray.awsfiles import awsconfig

        try:
            profile_map = awsconfig.load_profile_map(path, home=self._ctx.paths.home)
        except RoletrayError as e:  # mid-write, or broken: look again on the next call
            log.info("config file changed but cannot be read now (%s)", e)
            with self._lock:
                self._config_mark = _UNSEEN if self._config_mark == mark else \
                    self._config_mark
            return
        roles, _errors = awsconfig.build_role_profiles(
            profile_map, path, credentials_path=self._ctx.credentials_path,
            home=self._ctx.paths.home)
        for one in served:
            name = one.key[1]
            if _who(roles.get(name)) != _who(one.role):
                log.info("served role %s: its definition changed in the config file; "
                         "its keys are dropped", name)
                with self._lock:
                    if self._roles.get(one.key) is one:
                        del self._roles[one.key]
                self._sched.cancel(JOB_PREFIX + _label(one.key))

    # ------------------------------------------------------------------ inside

    def _good(self, served: _Served) -> bool:
        return good_to_hand_out(served.keys, served.policy_keys.aws_now(self._ctx.now()))

    def _fetch(self, served: _Served, mfa_code: str | None
               ) -> tuple[TempCredentials, datetime | None, RoleProfile | None]:
        kind, name, file_id = served.key
        if kind == "source":
            assert self._source_fn is not None
            made = self._source_fn(name, ctx=self._ctx, file_id=file_id, mfa_code=mfa_code)
            return made.credentials, made.server_date, None
        if self._mfa is None:
            outcome = self._assume_fn(name, ctx=self._ctx, mfa_code=mfa_code)
        else:
            aws_now = served.policy_keys.aws_now(self._ctx.now())
            outcome = self._mfa.assume(self._assume_fn, name, aws_now=aws_now,
                                       mfa_code=mfa_code)
        return outcome.result.credentials, outcome.result.server_date, outcome.role

    def _assume_locked(self, served: _Served, mfa_code: str | None) -> None:
        self.assume_calls += 1
        creds, server_date, served.role = self._fetch(served, mfa_code)
        now = self._ctx.now()
        skew = policy.measure_skew(now, server_date)
        issued = server_date or (now - skew)
        served.keys = creds
        served.policy_keys = policy.Keys.issued(creds.expiration, issued, skew)
        served.failures = 0
        plan = policy.after_success(now, served.policy_keys, SERVE_MARGIN)
        assert plan.refresh_at is not None
        self._schedule(served, plan.refresh_at)
        log.info("serving %s (keys %s, refresh at %s)", _label(served.key),
                 creds.masked_key, plan.refresh_at.isoformat(timespec="seconds"))

    def _schedule(self, served: _Served, run_at: datetime) -> None:
        key = served.key

        def run() -> None:
            self._refresh(key)

        self._sched.schedule(JOB_PREFIX + _label(key), run_at, run)

    def _refresh(self, key: _Key) -> None:
        profile = _label(key)
        with self._lock:
            served = self._roles.get(key)
        if served is None:
            return
        with served.lock:
            try:
                self._assume_locked(served, None)
            except NeedsInputError as e:
                # A code or a sign-in is needed: retrying on a timer cannot help. The keys
                # are handed out while good; the next call after that asks the person.
                log.warning("served role %s: %s; asking the next caller", profile, e)
            except RoletrayError as e:
                served.failures += 1
                now = self._ctx.now()
                plan = policy.after_failure(now, served.policy_keys, served.failures,
                                            transient=policy.is_transient(e),
                                            draw=self._rng.random())
                assert plan.refresh_at is not None
                log.warning("served role %s: refresh failed (%s); retrying in %s", profile,
                            e, _human(plan.refresh_at - now))
                self._schedule(served, plan.refresh_at)


def instance_keeper(ctx: actions.Context, scheduler: Scheduler, *,
                    mfa: MfaKeeper | None = None, via: WarmChild | None = None
                    ) -> ServedKeeper:
    """The served roles of a process that keeps keys for others: a running tray or
    daemon (``app.running_instance``, whose refresher shares ``mfa``) or ``roletray
    serve`` on its own (``mfa`` None: MFA sessions of its own). AssumeRole and keyring
    sessions run in the worker child, so the process never loads botocore; MFA sessions
    are kept, so a served MFA role asks one code per session, not per AssumeRole. ``via``:
    the instance's warm worker (``worker.warm_worker``)."""
    from tray.engine import worker

    return ServedKeeper(ctx, scheduler,
                        assume_fn=functools.partial(worker.assume_only_in_child, via=via),
                        source_fn=functools.partial(worker.source_session_in_child, via=via),
                        mfa=mfa if mfa is not None else MfaKeeper(ctx, enabled=True))


def _label(key: _Key) -> str:
    """``platform`` for a role, ``source:default@3f2a9c1b7d4e`` for a source of a
    credentials file (logs, job ids)."""
    kind, name, file_id = key
    return f"{SOURCE_PREFIX}{name}@{file_id}" if kind == "source" else name


def _human(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"
