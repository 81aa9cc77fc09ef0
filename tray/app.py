"""Composition root: the one place that wires real collaborators together.

``run_daemon`` is ``roletray daemon``. The tray (``run_tray``) reuses
``setup_logging``, ``build_refresher`` and ``running_instance``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import logging.handlers
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tray import fsutil
from tray.child.aws import ChildAws
from tray.child.warm import WarmChild
from tray.domain import timefmt
from tray.domain.models import Snapshot, utcnow
from tray.engine import actions, worker
from tray.engine.mfa_keeper import MfaKeeper
from tray.engine.ports import AwsPort
from tray.engine.refresher import TICK_INTERVAL, Refresher
from tray.engine.scheduler import ApsScheduler, Scheduler
from tray.i18n import N_, _
from tray.instance import control, keeper
from tray.platform import keyring_watch, stop_signals
from tray.serve.keeper import instance_keeper

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)

LOG_NAME = "roletray.log"
LOG_BYTES = 1024 * 1024
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_GRACE = 3.0  # seconds a refresh in flight may finish after SIGTERM

Notify = Callable[[Snapshot, Snapshot], None]


# ----------------------------------------------------------------------- logging

class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotating log whose files are born 0600: they name roles, accounts and paths."""

    def _open(self) -> IO[Any]:  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(to_stderr: bool, *, log_file: Path, quiet: bool = False,
                  level: int = logging.INFO) -> Path:
    """Log to ``log_file`` (``Paths.log_dir/roletray.log``: 1 MiB x 3, 0600) and, if
    asked, to stderr.

    Safe to call twice: the handlers it added before are replaced.
    """
    path = log_file
    fsutil.private_dir(path.parent)  # the state folder above it too, 0700
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_roletray", False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter(LOG_FORMAT)
    file_handler = _PrivateRotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                               encoding="utf-8", delay=False)
    file_handler.setFormatter(fmt)
    file_handler._roletray = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    os.chmod(path, 0o600)
    if to_stderr:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(fmt)
        err.setLevel(logging.WARNING if quiet else level)
        err._roletray = True  # type: ignore[attr-defined]
        root.addHandler(err)
    root.setLevel(level)
    # Their INFO lines are per request or per job: noise in a log that runs for months.
    for noisy in ("apscheduler", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


# ------------------------------------------------------------------- composition

def notify_subscriber(notify: Notify) -> Callable[[Snapshot], None]:
    """Adapt ``notify(before, after)`` to a refresher subscriber (which gets ``after`` only)."""
    lock = threading.Lock()
    last: list[Snapshot] = [Snapshot()]

    def on_snapshot(snap: Snapshot) -> None:
        with lock:
            before, last[0] = last[0], snap
        notify(before, snap)

    return on_snapshot


def build_refresher(ctx: actions.Context, *, scheduler: Scheduler | None = None,
                    notify: Notify | None = None, tick_interval: float | None = TICK_INTERVAL,
                    in_process: bool = False, mfa: MfaKeeper | None = None,
                    via: WarmChild | None = None) -> Refresher:
    """The refresher with the real scheduler and clock; ``notify`` sees every change.

    Each AssumeRole runs in a child process (``tray.engine.worker``) unless ``in_process``:
    the warm worker ``via`` when given, else one started for the call.
    ``mfa``: the instance's MFA sessions, when its served roles share them. A wait for
    a locked keyring ends by itself where the Secret Service can be asked
    (``keyring_watch``); elsewhere by "Try again".
    """
    refresher = Refresher(ctx, scheduler or ApsScheduler(),
                          tick_interval=tick_interval, mfa_sessions=True, mfa=mfa,
                          assume_fn=actions.assume if in_process
                          else functools.partial(worker.assume_in_child, via=via),
                          keyring_locked=keyring_watch.lock_check(ctx.env))
    if notify is not None:
        refresher.subscribe(notify_subscriber(notify))
    return refresher


@contextlib.contextmanager
def running_instance(*, ctx: actions.Context, notify: Notify | None = None,
                     subscribers: tuple[Callable[[Snapshot], None], ...] = (),
                     on_mfa_wait: Callable[[str], None] | None = None
                     ) -> Iterator[Refresher]:
    """Lock the instance, start the refresher and the control socket; undo all on exit.

    ``on_mfa_wait(profile)``: told while a role's ``mfa_process`` runs (the tray says
    "Touch your security key").

    Raises ``InstanceRunningError`` (exit 2) when another tray or daemon runs.
    ``refresher.stopped_cleanly`` says afterwards whether a refresh was cut short.
    """
    fsutil.private_dir(ctx.paths.runtime_dir)
    # One instance per state folder, one keeper per credentials file (whatever the XDG
    # variables say), one listener per socket; each lock names its holder's pid.
    socket_path = control.socket_path(ctx.paths)
    locks: list[control.InstanceLock] = []
    try:
        locks.append(control.InstanceLock(control.lock_path(ctx.paths)).acquire())
        locks.append(keeper.acquire(ctx.paths.aws_credentials, socket_path))
        locks.append(control.InstanceLock(control.socket_lock_path(ctx.paths)).acquire())
    except BaseException:
        for held in reversed(locks):
            held.release()
        raise
    server: control.ControlServer | None = None
    scheduler = ApsScheduler()  # the one timer: the refresher's sections and served roles
    # One set of MFA sessions: a code typed for the active role serves a served role from
    # the same source and device, and the other way round.
    mfa = MfaKeeper(ctx, enabled=True)
    mfa.codes.on_wait = on_mfa_wait
    # One worker, loaded while used: a switch or a served role costs one STS round trip.
    warm = worker.warm_worker(ctx.env, scheduler, now=utcnow,
                              idle=timedelta(minutes=ctx.settings.worker_idle_minutes))
    if ctx.aws is None:  # every AWS call of this process goes to that worker
        aws: AwsPort = ChildAws(ctx.env, via=warm)
        ctx = dataclasses.replace(ctx, aws=aws)
    refresher = build_refresher(ctx, notify=notify, scheduler=scheduler, mfa=mfa, via=warm)
    served = instance_keeper(ctx, scheduler, mfa=mfa, via=warm)
    for cb in subscribers:
        refresher.subscribe(cb)
    try:
        refresher.start()
        server = control.ControlServer(control.make_handler(refresher, served),
                                       socket_path, where=ctx.paths).start()
        log.info("roletray %s running (pid %d); control socket %s", _version(), os.getpid(),
                 ctx.paths.display(server.path))
        yield refresher
    finally:
        if server is not None:
            server.stop()
        if not refresher.stop(timeout=STOP_GRACE) and worker.terminate_children():
            log.warning("a refresh was still in flight after %.0f s; stopped its worker",
                        STOP_GRACE)
            refresher.wait_idle(timeout=2.0)
        warm.stop()
        for held in reversed(locks):
            held.release()


def _version() -> str:
    from tray import __version__

    return __version__


# ------------------------------------------------------------------------ daemon

# The states as the status line names them (the words of ``roletray status``).
_STATE_WORDS = {"idle": N_("idle"), "fresh": N_("fresh"), "refreshing": N_("refreshing"),
                "retrying": N_("retrying"), "expired": N_("expired"),
                "needs-input": N_("needs input"), "error": N_("error")}


def _status_line(snap: Snapshot) -> None:
    left = snap.seconds_left
    state = snap.state.value
    parts = [f"[{_(_STATE_WORDS.get(state, state))}]", snap.role or "-"]
    if left is not None:
        parts.append(_("{left} left").format(left=timefmt.duration(left)))
    if snap.last_error_localized:
        parts.append(f"- {snap.last_error_localized}")
    print(" ".join(parts), flush=True)


def run_daemon(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``roletray daemon``: the refresher in the foreground until SIGINT or SIGTERM.

    ``env``: the process environment, read here and nowhere below. Raises
    ``InstanceRunningError`` (exit 2, naming the pid) if a tray or daemon runs.
    """
    ctx = actions.Context.from_env(env)  # a broken settings file stops us before anything
    quiet = bool(getattr(args, "quiet", False))
    log_path = setup_logging(to_stderr=True, quiet=quiet, log_file=ctx.paths.log_dir / LOG_NAME)
    subscribers: tuple[Callable[[Snapshot], None], ...] = ()
    if getattr(args, "status_line", False):
        subscribers = (_status_line,)
    with stop_signals.blocked_until_stop() as rsock, running_instance(ctx=ctx, subscribers=subscribers) as refresher:
        log.info("daemon logging to %s; stop with Ctrl-C or SIGTERM",
                 ctx.paths.display(log_path))
        signum = stop_signals.wait(rsock)
        log.info("stopping on %s", signal.Signals(signum).name)
    _exit_now_if_stuck(refresher, 0)
    log.info("stopped")
    return 0


# -------------------------------------------------------------------------- tray

def run_tray(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``roletray run``: the tray icon, the refresher and notifications until Quit.

    Refuses (exit 2) before anything starts when no tray with a menu can run
    (no display, or PyGObject missing: the message says how to install it), and
    when another tray or daemon holds the instance lock.
    """
    from tray.ui import tray_app  # the GUI is reached from here only

    backend = tray_app.select_backend(env)  # refuses before anything starts
    ctx = actions.Context.from_env(env)  # a broken settings file stops us before the lock
    log_path = setup_logging(to_stderr=True, quiet=bool(getattr(args, "quiet", True)),
                             log_file=ctx.paths.log_dir / LOG_NAME)
    app = tray_app.TrayApp(None, log_path=log_path, config_path=ctx.config_path,
                           notifications=ctx.settings.notifications, backend=backend,
                           env=env)
    try:
        with running_instance(ctx=ctx, subscribers=(app.on_snapshot,),
                              on_mfa_wait=app.on_mfa_wait) as refresher:
            app.attach(refresher)
            code = app.run()
            log.info("tray stopped")
    finally:
        app.close()
    _exit_now_if_stuck(refresher, code)
    return code


def _exit_now_if_stuck(refresher: Refresher, code: int) -> None:
    """Exit with ``code`` at once when a refresh is still in flight after stopping.

    It is stuck on the network (bounded by botocore's timeouts, but still
    seconds): the keys on disk are whole, so do not wait for it.
    """
    if refresher.stopped_cleanly:
        return
    log.warning("a refresh was still in flight; exiting without waiting for it")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
