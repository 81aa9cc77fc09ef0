"""The tray presenter: shows the refresher's state as an icon, a tooltip and a menu.

Threads: ``TrayApp.run()`` owns the main thread (pystray's GLib loop). Events
from the core (the refresher's snapshots, from its worker threads; a workflow's
progress) are handed to the GUI thread with ``call_soon`` (``GLib.idle_add``),
so the presenter's own state is only touched there and needs no lock. Menu
callbacks run on the GUI thread and hand the workflows (``tray.engine.roles``:
AssumeRole, the MFA prompt, the SSO sign-in, the doctor) to a worker.

pystray is imported only once ``select_backend`` has chosen a backend with a
menu (appindicator, else gtk): the xorg backend has none (pystray #151).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from tray import fsutil
from tray.domain.errors import NeedsInputError, RoletrayError
from tray.domain.models import RefreshState, Snapshot, utcnow
from tray.domain.problems import Problem, problem_from
from tray.engine.roles import (
    AskCode,
    Done,
    ProfileCache,
    RoleService,
    StepFailed,
    run_doctor_in_child,
)
from tray.i18n import N_, _, ngettext
from tray.paths import Paths
from tray.platform import desktop_open
from tray.platform.notify import (
    DIAGNOSE_ACTION,
    DIAGNOSE_ACTION_LABEL,
    MFA_ACTION,
    MFA_ACTION_LABEL,
    SSO_ACTION,
    SSO_ACTION_LABEL,
    KeptNotices,
    Notification,
    NotificationPolicy,
    Notifier,
    OneSignInNotice,
    choose_notifier,
    refused_switch,
)
from tray.ui import finder_menu, guarded
from tray.ui.backend import (  # noqa: F401 - re-exported: the composition root uses them
    INSTALL_HINT,
    TrayBackend,
    TrayUnavailableError,
    load_pystray,
    select_backend,
)
from tray.ui.menu import (
    MenuActions,
    MenuNode,
    badge_minutes,
    build_menu_model,
    own_target,
    render_text,
    tray_look,
)
from tray.ui.mfa_prompt import MfaPrompts
from tray.ui.pystray_menu import lazy_icon_class, to_pystray
from tray.ui.usage import Usage

log = logging.getLogger(__name__)

ICON_SIZE = 64
UNSEEN_MAX = 110  # the menu line of a notification that may not have been shown
# The clock is looked at just after the badge's value changes (``badge_minutes``: every
# 5 minutes, each minute in the last 15), at least every 5 minutes: an idle tray should
# not wake more (issue 15's idle cost). Everything else comes with a new snapshot.
TICK_MAX_SECONDS = 300.0
TICK_MIN_SECONDS = 5.0
# SIGHUP: the terminal that started it closed (``roletray demo``): stop cleanly too.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

CallSoon = Callable[[Callable[[], None]], None]


def _glib_call_soon(fn: Callable[[], None]) -> None:
    try:
        from tray.ui import gtk_glue

        gtk_glue.call_soon(fn)
    except ImportError:  # no GLib (macOS, Windows): pystray's setters take any thread
        fn()


def _copy_text(text: str, env: Mapping[str, str]) -> str:
    from tray.ui import gtk_glue

    return gtk_glue.copy_text(text, env)


SSO_SIGN_IN_TIMEOUT = 660.0  # the sign-in's own 600 s, and the child's start
SETUP_TIMEOUT = 3600.0  # the first-run dialog may stay open while a person reads


def start_sso_login(profile: str, *, env: Mapping[str, str], config_path: Path | None = None,
                    on_code: Callable[[str, str], None] | None = None) -> Path:
    """``tray.aws.sso.start_sso_login`` in a child (it builds a botocore client, which would
    stay in the tray's memory); the code to confirm comes back as it is known. Blocks:
    a worker thread only."""
    from tray.engine.child import call_in_child

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "device_code" and on_code is not None:
            on_code(str(event.get("code", "")), str(event.get("url", "")))

    return Path(call_in_child("tray.aws.sso:sign_in", env=env, timeout=SSO_SIGN_IN_TIMEOUT,
                              on_event=on_event, profile=profile,
                              config_path=str(config_path) if config_path else None))


def process_profile(profile: str, program: Sequence[str] = ("roletray",)) -> str:
    """The config profile whose SDK processes ask roletray again for ``profile``'s keys
    (README, "Long-running processes"); ``program`` starts this installation
    (``autostart.this_roletray``)."""
    return (f"[profile {profile}-live]\n"
            f"credential_process = {shlex.join([*program, 'credential-process', profile])}")


@dataclass
class Services:
    """What the tray needs besides the refresher; tests replace any of them.

    ``None``: the real one, built from the environment the tray was started with.
    """

    notifier: Notifier | None = None
    ask_code: AskCode | None = None  # (serial, profile, target) -> code
    sso_login: Callable[..., Path] = start_sso_login
    open_path: Callable[[Path], None] | None = None
    open_url: Callable[[str], None] | None = None  # a bearer URL: to the browser alone
    copy_text: Callable[[str], str] | None = None  # -> how ("" when it could not)
    autostart: Any = None  # tray.platform.autostart.Backend; None: backend_for(env)
    doctor: Callable[[str | None], tuple[str, str]] | None = None  # -> (summary, report)
    call_soon: CallSoon = _glib_call_soon  # run on the GUI thread
    # (profile, label, target) -> go ahead? Before a guarded profile is used (a dialog).
    confirm_guard: Callable[[str, str, str | None], bool] | None = None


def synced(done: Mapping[str, Any]) -> str:
    """One sso-session's line in "Accounts synced from Identity Center"."""
    fields = {k: done[k] for k in ("session", "profiles", "added", "removed", "skipped")}
    if done["skipped"]:
        return ngettext("sso-session {session}: {profiles} profile ({added} added, {removed} "
                        "removed, {skipped} skipped)",
                        "sso-session {session}: {profiles} profiles ({added} added, {removed} "
                        "removed, {skipped} skipped)", done["profiles"]).format(**fields)
    return ngettext("sso-session {session}: {profiles} profile ({added} added, {removed} "
                    "removed)",
                    "sso-session {session}: {profiles} profiles ({added} added, {removed} "
                    "removed)", done["profiles"]).format(**fields)


def next_tick(snap: Snapshot, now: datetime) -> float:
    """Seconds until the icon's badge changes (or the keys expire: it turns red), at most
    ``TICK_MAX_SECONDS``."""
    if snap.expiration is None:
        return TICK_MAX_SECONDS
    left = (snap.expiration - (snap.now or now)).total_seconds()
    if left <= 0:
        return TICK_MAX_SECONDS
    badge = badge_minutes(int(left))
    # The badge changes once fewer seconds than it shows are left (none above an hour).
    shown = 60 if badge is None else badge if left >= 60 else 0
    # Just past the boundary, so that the value shown has changed when we look.
    return min(TICK_MAX_SECONDS, max(TICK_MIN_SECONDS, left - shown * 60 + 0.5))


class TrayApp:
    """One tray icon for one refresher. ``run()`` blocks the main thread until Quit."""

    def __init__(self, refresher: Any, *, log_path: Path, services: Services | None = None,
                 tz: tzinfo | None = None, now: Callable[[], datetime] = utcnow,
                 config_path: Path | None = None, notifications: bool = True,
                 backend: TrayBackend | None = None,
                 env: Mapping[str, str]) -> None:
        self.log_path = log_path
        self.svc = services or Services()
        self.tz = tz
        self._now = now
        self._backend = backend or TrayBackend("")
        # Programs the tray opens get the environment it was started with.
        self._child_env = dict(env)
        self._paths = Paths.from_env(env)
        self._call_soon = self.svc.call_soon
        self._prompts = MfaPrompts(self._child_env)
        self._profiles = ProfileCache(config_path or self._paths.aws_config,
                                     self._paths.aws_credentials)
        # Guarded profiles ask first (a dialog of its own); the roles used, for the finder.
        self._guard_dialogs = guarded.GuardDialogs(self._child_env)
        self.usage = Usage(self._paths.state_dir, self._profiles.path)
        self._finder: Any = None  # tray.ui.finder.Finder, made when first opened
        self._touch: str | None = None  # "Touch your security key" while mfa_process runs
        # The last notification that may not have reached the screen (no notification
        # daemon): atop the menu until one gets through again.
        self._unseen: str | None = None
        self.policy = NotificationPolicy(tz=tz)
        self._kept_notices = KeptNotices(tz=tz)
        self._sign_in_notice = OneSignInNotice()
        self._notifications = notifications
        self._notifier: Notifier | None = self.svc.notifier
        self._icon: Any = None
        self._refresher: Any = None
        self.roles: RoleService | None = None
        # Touched on the GUI thread only (see the module's docstring).
        self._last: Snapshot | None = None
        self._shown: tuple[str, int | None, bool] | None = None
        self._shown_title: str | None = None
        self._shown_menu: str | None = None
        self._busy: str | None = None  # "Switching to X…" while a workflow runs
        # A failed switch (the refresher keeps no trace), shown until the next switch, refresh
        # (new keys or another role: ``_problem_keys`` changes) or "Dismiss".
        self._local_problem: Problem | None = None
        self._problem_keys: tuple[str | None, datetime | None] | None = None
        self._problem_role: str | None = None  # the role whose switch failed
        self._autostart: bool | None = None
        self._stop = threading.Event()
        self._retick = threading.Event()  # a new state: the tick times its wait again
        self._work_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tray-action")
        self._side_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tray-side")
        self._notify_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tray-notify")
        self._pending_lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        self.actions = MenuActions(
            switch=lambda name: self._work(self._switch, name),
            enter_mfa=lambda: self._work(self._enter_mfa),
            enter_mfa_for=lambda target: self._work(self._enter_mfa, target),
            sso_login=lambda: self._work(self._sso_sign_in),
            aws_login=lambda: self._side(self._aws_login),
            retry=lambda: self._work(self._retry),
            refresh=lambda: self._work(self._refresh),
            stop=lambda: self._work(self._clear),
            diagnose=lambda: self._side(self._diagnose, self._diagnose_role()),
            setup=lambda: self._side(self._first_run),
            sync_accounts=lambda: self._work(self._sync_accounts),
            copy_export=self._copy_export,
            open_config=lambda: self._side(self._open, self._profiles.path),
            open_log=lambda: self._side(self._open, self.log_path),
            toggle_autostart=lambda: self._side(self._toggle_autostart),
            quit=self.quit,
            keep=lambda name: self._work(self._keep, name),
            unkeep=lambda target: self._work(self._unkeep, target),
            open_console=lambda name: self._side(self._open_console, name),
            copy_process_line=self._copy_process_line,
        )
        self._dismiss_node = MenuNode(_("Dismiss this message"), self._forget_problem)
        if refresher is not None:
            self.attach(refresher)

    # -- wiring --------------------------------------------------------------------
    @property
    def refresher(self) -> Any:
        return self._refresher

    def attach(self, refresher: Any) -> None:
        """Show ``refresher`` (built after the tray by the composition root)."""
        self._refresher = refresher
        self.roles = RoleService(
            refresher, self._profiles, ask_code=self.svc.ask_code or self._prompts.ask,
            sso_login=self.svc.sso_login, doctor=self.svc.doctor or self._doctor_in_child,
            child_env=self._child_env, progress=self._progress)

    def _doctor_in_child(self, profile: str | None) -> tuple[str, str]:
        return run_doctor_in_child(profile, env=self._child_env)

    # -- lifecycle -----------------------------------------------------------------
    def prepare(self) -> None:
        """Read what the menu shows besides the refresher's state (autostart)."""
        self._autostart = self._autostart_status()

    def run(self) -> int:
        """The pystray loop, on the main thread, until ``quit()`` or SIGINT/SIGTERM."""
        pystray = load_pystray(self._backend)
        self.prepare()
        snap = self._current()
        look = tray_look(snap, snap.now or self._now(), self._kept(), self.tz)
        guard = self._guard_of(snap.role)
        tooltip = guarded.label_tooltip(look.tooltip, snap.role, guard)
        self._icon = self._icon_class(pystray)(
            "roletray", self._image(look.state, look.minutes_left, bool(guard)), tooltip,
            to_pystray(self.menu(snap)))
        self._shown = (look.state, look.minutes_left, bool(guard))
        self._shown_title = tooltip
        self._show_state(look)
        if self._notifier is None:
            icon_notify = self._icon.notify if getattr(self._icon, "HAS_NOTIFICATION", False) \
                else None
            self._notifier = choose_notifier(icon_notify=icon_notify, enabled=self._notifications,
                                             env=self._child_env, on_unseen=self.unseen)
        # Once the loop runs: pystray resets SIGINT to the default as it starts its loop.
        self._call_soon(self._install_stop_signals)
        log.info("tray running with pystray backend %s", type(self._icon).__module__)
        self._icon.run(setup=self._setup)
        self._stop.set()
        return 0

    def _icon_class(self, pystray: Any) -> type:
        if type(pystray.Icon).__module__ == "pystray._appindicator" or \
                getattr(pystray.Icon, "__module__", "") == "pystray._appindicator":
            # Read over D-Bus by the host (SNI): see tray.ui.indicator.
            from tray.ui.indicator import indicator_icon_class

            return indicator_icon_class(pystray.Icon, self._paths.state_dir / "icons")
        # GTK's own popup: a submenu's widgets are built when it first opens (2,000 roles).
        return lazy_icon_class(pystray.Icon)

    def _show_state(self, look: Any) -> None:
        """The label beside the icon and NeedsAttention, where the icon has them."""
        show = getattr(self._icon, "show_state", None)
        if show is not None:
            show(look.label, look.attention)

    def _install_stop_signals(self) -> None:
        from tray.ui import gtk_glue

        gtk_glue.on_signals(STOP_SIGNALS, self.stop_on_signal)

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self._call_soon(self.render)
        threading.Thread(target=self._tick_loop, name="tray-tick", daemon=True).start()

    def quit(self) -> None:
        """The menu's Quit."""
        log.info("quit from the tray menu")
        self._end_loop()

    def stop_on_signal(self, sig: signal.Signals) -> None:
        """SIGINT (Ctrl-C) or SIGTERM: stop like Quit, so everything is cleaned up."""
        if self._stop.is_set():
            return
        log.info("stopping on %s", sig.name)
        print(_("roletray: stopping on {signal}").format(signal=sig.name), file=sys.stderr,
              flush=True)
        self._end_loop()

    def _end_loop(self) -> None:
        self._stop.set()
        self._retick.set()
        if self._icon is not None:
            self._icon.stop()

    def close(self) -> None:
        """After ``run()``: stop the workers (a prompt left open is abandoned)."""
        self._stop.set()
        self._retick.set()
        self._prompts.close_all()
        self._guard_dialogs.close_all()
        for pool in (self._work_pool, self._side_pool, self._notify_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        if self._notifier is not None:
            self._notifier.close()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the workflows and notifications handed out so far are done (tests)."""
        while True:
            with self._pending_lock:
                pending = [f for f in self._pending if not f.done()]
                self._pending = set(pending)
            if not pending:
                return
            wait(pending, timeout=timeout)

    def _submit(self, pool: ThreadPoolExecutor, fn: Callable[..., None], *args: Any) -> None:
        try:
            future = pool.submit(fn, *args)
        except RuntimeError:  # shut down: the tray is quitting
            return
        with self._pending_lock:
            self._pending.add(future)

    def _tick_loop(self) -> None:
        """Redraw when the badge changes. The first wait is timed from the state now, and
        a new state (``on_snapshot``) times it again: a role switched to with 15 minutes
        left counts each minute at once, not after the longest wait (issue 24)."""
        delay = self._tick_delay()
        while not self._tick_wait(delay):
            if self._retick.is_set():  # a new state: it was shown already; time it again
                self._retick.clear()
                delay = self._tick_delay()
                continue
            try:
                snap = self._refresher.snapshot()
                self._call_soon(partial(self._show_snapshot, snap))
            except Exception:
                log.exception("tray tick failed")
            delay = self._tick_delay()

    def _tick_delay(self) -> float:
        try:
            return next_tick(self._current(), self._now())
        except Exception:
            log.exception("tray tick failed")
            return TICK_MAX_SECONDS

    def _tick_wait(self, delay: float) -> bool:
        """Wait ``delay`` s, or until a new state or the stop; True once stopped."""
        self._retick.wait(delay)
        return self._stop.is_set()

    # -- events from the core (any thread) -------------------------------------------
    def on_snapshot(self, snap: Snapshot) -> None:
        """A refresher subscriber: called from worker threads."""
        self._call_soon(lambda: self._show_snapshot(snap))
        self._retick.set()

    def _progress(self, text: str | None) -> None:
        def show() -> None:
            self._busy = text
            self.render()
        self._call_soon(show)

    def on_mfa_wait(self, profile: str) -> None:
        """``MfaCodes.on_wait``: a role's ``mfa_process`` runs (a YubiKey waits for a
        touch); said in the menu until the next settled snapshot, and notified."""
        text = _("Touch your security key ({profile})…").format(profile=profile)

        def show() -> None:
            self._touch = text
            self.render()
        self._call_soon(show)
        self.notify(Notification("touch", _("Touch your security key"),
                                 _("roletray needs an MFA code for {profile} from your "
                                   "security key.").format(profile=profile), "normal"))

    def _failed_switch(self, name: str, error: RoletrayError) -> None:
        """On the worker thread: the refusal, led by the doctor's finding when AWS denied."""
        problem = problem_from(error, role=name)
        if problem.code == "access_denied" and problem.hint is None:
            problem = problem.with_hint(self._service().finding(name))

        def show() -> None:
            snap = self._current()
            self._local_problem = problem
            self._problem_role = name
            self._problem_keys = (snap.role, snap.expiration)
            self.render()
        self._call_soon(show)
        profile = self._profiles.get()[0].get(name)
        self.notify(refused_switch(name, problem, profile.describe if profile else None))

    # -- the GUI thread --------------------------------------------------------------
    def _show_snapshot(self, snap: Snapshot) -> None:
        prev, self._last = self._last, snap
        if snap.state is not RefreshState.REFRESHING:
            self._touch = None  # the mfa_process command has answered (or failed)
        if self._local_problem is not None and (snap.role, snap.expiration) != self._problem_keys:
            self._local_problem = None  # new keys or another role: the failure is history
        note = self.policy.first(snap) if prev is None else self.policy.on_change(prev, snap)
        # The kept sections' trouble too, one notification each, by the same rules; one
        # sign-in that several sections wait for is announced once.
        kept = self._kept()
        notes = ([note] if note is not None else []) + self._kept_notices.on_change(kept)
        for each in self._sign_in_notice.filter(notes, [snap, *kept]):
            self.notify(each)
        self.render()

    def _current(self) -> Snapshot:
        """The refresher's latest state, timed now (by AWS's clock when ours is off)."""
        snap = self._refresher.snapshot() if self._refresher is not None else Snapshot()
        return snap if snap.now is not None else replace(snap, now=self._now())

    def menu(self, snap: Snapshot | None = None) -> list[MenuNode]:
        """The menu for ``snap`` (default: the refresher's state now), as ``MenuNode``s."""
        snap = snap or self._current()
        profiles, problems = self._profiles.get()
        local = self._local_problem is not None and snap.problem is None
        if local:
            snap = replace(snap, problem=self._local_problem)
        # No "(in 52 min)": the menu then changes only with its content, and an idle tray
        # does not rebuild it (every widget, over D-Bus too) each minute.
        model = build_menu_model(snap, profiles, now=snap.now or self._now(), tz=self.tz,
                                 actions=self.actions, autostart=self._autostart,
                                 problems=problems,
                                 config_hint=self._paths.display(self._profiles.path),
                                 relative=False, kept=self._kept(),
                                 sso_sessions=self._profiles.sso_sessions())
        if local:
            at = next((i for i, n in enumerate(model) if n.text.startswith("⚠ ")), None)
            if at is not None:
                model.insert(at + 1, self._dismiss_node)
        model = finder_menu.with_finder(
            model, profiles, active=snap.role, find=self.open_finder, switch=self.actions.switch,
            recent=self.usage.top(profiles, finder_menu.RECENT_MAX)
            if len(profiles) > finder_menu.FLAT_MAX else ())
        for line in (self._busy, self._touch, self._unseen):
            if line:
                model.insert(0, MenuNode(line, enabled=False))
        return model

    def _guard_of(self, profile: str | None) -> str | None:
        role = self._profiles.get()[0].get(profile) if profile else None
        return role.guard if role is not None else None

    def open_finder(self) -> None:
        """"Find a role…" (GUI thread): the finder window over the profiles now, in the
        order of use."""
        from tray.ui.finder import Finder
        from tray.ui.finder_index import RoleIndex

        if self._finder is None:
            self._finder = Finder(self.actions.switch)
        profiles, _ = self._profiles.get()
        self._finder.show(RoleIndex(profiles.values(), self.usage.ranks()))

    def _kept(self) -> list[Snapshot]:
        """The sections kept besides the active role's, timed now."""
        snapshots = getattr(self._refresher, "snapshots", None)
        if snapshots is None:
            return []
        return [s if s.now is not None else replace(s, now=self._now()) for s in snapshots()[1:]]

    def menu_text(self) -> str:
        """The menu as text, as a person reads it (``render_text``)."""
        return render_text(self.menu())

    def _image(self, state: str, minutes: int | None, guard: bool = False) -> Any:
        if self._backend.name in ("appindicator", "gtk"):
            # pystray's GTK backends only save it as PNG: no PIL in the tray (~5 MiB).
            from tray.ui.png_icon import PngIcon, icon_name, icon_png

            try:
                return PngIcon(icon_png(state, ICON_SIZE, minutes, guard),
                               icon_name(state, ICON_SIZE, minutes, guard))
            except (FileNotFoundError, ValueError):
                pass  # a checkout without the shipped PNGs: PIL draws them
        from tray.ui.icons import load_icon

        return load_icon(state, ICON_SIZE, minutes, guard)

    def render(self) -> None:
        """Bring icon, tooltip and menu in line with the latest state (GUI thread)."""
        icon = self._icon
        if icon is None:
            return
        snap = self._current()
        look = tray_look(snap, snap.now or self._now(), self._kept(), self.tz)
        guard = self._guard_of(snap.role)  # the icon's ring: a guarded role is active
        if (look.state, look.minutes_left, bool(guard)) != self._shown:
            icon.icon = self._image(look.state, look.minutes_left, bool(guard))
            self._shown = (look.state, look.minutes_left, bool(guard))
        tooltip = guarded.label_tooltip(look.tooltip, snap.role, guard)
        if tooltip != self._shown_title:
            icon.title = tooltip
            self._shown_title = tooltip
        self._show_state(look)
        model = self.menu(snap)
        text = render_text(model)
        if text != self._shown_menu:
            icon.menu = to_pystray(model)
            self._shown_menu = text

    def unseen(self, note: tuple[str, str] | None) -> None:
        """``FallbackNotifier``'s ``on_unseen`` (any thread): a notification that may not
        have been shown is the menu's top line, where a person who clicked "Diagnose…" or
        a role and saw nothing looks next; None (one got through) takes it away."""
        text = None
        if note is not None:
            title, body = note
            first = body.splitlines()[0] if body else ""
            text = " ".join(f"✉ {title}: {first}".split())
            text = text if len(text) <= UNSEEN_MAX else text[:UNSEEN_MAX - 1] + "…"

        def show() -> None:
            if text != self._unseen:
                self._unseen = text
                self.render()
        self._call_soon(show)

    def notify(self, note: Notification) -> None:
        """Send a notification from the notify worker (D-Bus calls may take a moment)."""
        action: tuple[str, Callable[[], None]] | None = None
        # Clicked in the notifier's thread: queued with the other role changes, and the
        # same handler as the menu item.
        if note.action == MFA_ACTION and note.target is not None:  # a kept section's
            action = (_(MFA_ACTION_LABEL), partial(self.actions.enter_mfa_for, note.target))
        elif note.action == MFA_ACTION:
            action = (_(MFA_ACTION_LABEL), self.actions.enter_mfa)
        elif note.action == SSO_ACTION:
            action = (_(SSO_ACTION_LABEL), self.actions.sso_login)
        elif note.action == DIAGNOSE_ACTION:
            role = note.profile
            action = (_(DIAGNOSE_ACTION_LABEL), lambda: self._side(self._diagnose, role))
        guards = {n: p.guard for n, p in self._profiles.get()[0].items() if p.guard}
        note = guarded.label_note(note, guards) if guards else note
        notifier = self._notifier

        def send() -> None:
            if notifier is None:
                log.info("notification (no notifier yet): %s: %s", note.title, note.body)
                return
            try:
                notifier.notify(note.title, note.body, urgency=note.urgency, action=action)
            except Exception:
                log.exception("notification failed")

        if not self._stop.is_set():
            self._submit(self._notify_pool, send)

    # -- menu actions: the workflows, on a worker --------------------------------------
    def _work(self, fn: Callable[..., None], *args: Any) -> None:
        """Role changes run one at a time, in order, off the GUI thread."""
        self._submit(self._work_pool, self._guarded, fn, *args)

    def _side(self, fn: Callable[..., None], *args: Any) -> None:
        self._submit(self._side_pool, self._guarded, fn, *args)

    @staticmethod
    def _guarded(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("tray action failed")

    def _service(self) -> RoleService:
        assert self.roles is not None, "attach() a refresher first"
        return self.roles

    def _diagnose_role(self) -> str | None:
        """On the GUI thread: what "Diagnose…" diagnoses: the role whose switch just failed
        while its refusal is shown, else the active role (None)."""
        return self._problem_role if self._local_problem is not None else None

    def _forget_problem(self) -> None:
        """On the GUI thread: "Dismiss this message", and the start of a switch or refresh."""
        self._local_problem = None
        self.render()

    def _forget_shown_problem(self) -> None:
        # Read off the GUI thread: at worst a forget that finds nothing left to forget.
        if self._local_problem is not None:
            self._call_soon(self._forget_problem)

    def _asked(self, name: str, target: str | None = None) -> bool:
        """On the worker: whether ``name`` may be used; a guarded profile asks in a dialog
        first (Cancel changes nothing)."""
        guard = self._guard_of(name)
        if guard is None:
            return True
        confirm = self.svc.confirm_guard or self._guard_dialogs.confirm
        if confirm(name, guard, target):
            return True
        log.info("guarded %s not %s: cancelled in the dialog", name,
                 "switched to" if target is None else f"kept in [{target}]")
        return False

    def _switch(self, name: str) -> None:
        if not self._asked(name):
            return
        self._forget_shown_problem()
        try:
            done = self._service().switch(name)
        except RoletrayError as e:
            self._failed_switch(name, e)
            return
        if done is Done.DONE:
            self.usage.used(name)

    def _refresh(self) -> None:
        self._forget_shown_problem()
        try:
            self._service().refresh()
        except NeedsInputError:
            pass  # the snapshot says so, and the notification offers the prompt
        except RoletrayError as e:
            log.info("refresh from the menu failed: %s", e)

    def _enter_mfa(self, target: str | None = None) -> None:
        """"Enter MFA code…" (the active role's), or "… for [NAME]…" (a kept section's)."""
        try:
            self._service().enter_mfa_code(target)
        except RoletrayError as e:
            # The section waits for a code again: its menu item and notification ask.
            log.info("refresh%s with the MFA code failed: %s",
                     f" of [{target}]" if target else "", e)

    def _retry(self) -> None:
        try:
            self._service().retry()
        except RoletrayError as e:
            log.info("retry from the menu failed: %s", e)  # the snapshot says the rest

    def _aws_login(self) -> None:
        """"Sign in with aws login…": the AWS CLI (2.32+) signs the waiting profile in, in
        the browser; the refresher notices the new token file and every section waiting
        for it resumes. Without that CLI, a notification says what to run."""
        import subprocess

        from tray import setup

        snap = self._current()
        waiting = [s for s in (snap, *self._kept()) if s.input_needed == "signin"]
        profile = next((s.input_profile for s in waiting if s.input_profile), None)
        if profile is None:
            return  # signed in meanwhile
        aws = setup.aws_cli_login(env=self._child_env)
        if aws is None:
            self.notify(Notification(
                "failure", _("aws login sign-in needed"),
                _("Run `aws login --profile {profile}` in a terminal (AWS CLI {version} or "
                  "later)").format(profile=profile, version="2.32"), "critical"))
            return
        self._progress(_("Signing in with aws login ({profile})…").format(profile=profile))
        try:
            subprocess.run([aws, "login", "--profile", profile], env=self._child_env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=SSO_SIGN_IN_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.info("aws login did not finish (%s)", type(e).__name__)
        finally:
            self._progress(None)

    def _sso_sign_in(self) -> None:
        snap = self._service().refresher.snapshot()

        def on_code(code: str, url: str) -> None:
            # The code the browser page shows, to match: no secret (the token never is).
            profile = snap.input_profile or snap.role
            self.notify(Notification("sso-code",
                                     _("AWS SSO sign-in for {profile}").format(profile=profile),
                                     _("Confirm code {code} in your browser").format(code=code)))

        try:
            self._service().sso_sign_in(on_code)
        except StepFailed as e:
            if e.step == "sign-in":
                self.notify(Notification("failure", _("AWS SSO sign-in failed"),
                                         e.error.localized, "critical"))
            else:  # the state may not change (still needs-input): say it here
                who = snap.role or snap.input_profile
                self.notify(Notification("failure", _("{who}: refresh after the SSO sign-in "
                                                      "failed").format(who=who),
                                         e.error.localized, "critical"))

    def _sync_accounts(self) -> None:
        """"Sync accounts from Identity Center": every sso-session populated in a child; a
        session not signed in asks once (the code in a notification, one browser tab)."""
        from tray.engine.child import call_in_child

        def on_event(event: dict[str, Any]) -> None:
            if event.get("event") == "device_code":
                self.notify(Notification(
                    "sso-code", _("Sign in to sync accounts from sso-session {session}").format(
                        session=event.get("session")),
                    _("Confirm code {code} in your browser").format(code=event.get("code"))))

        self._progress(_("Syncing accounts from Identity Center…"))
        try:
            done = call_in_child("tray.aws.sso_populate:sync", env=self._child_env,
                                 timeout=SSO_SIGN_IN_TIMEOUT, on_event=on_event)
        except RoletrayError as e:
            self.notify(Notification("failure", _("Could not sync accounts from Identity Center"),
                                     e.localized, "critical"))
            return
        finally:
            self._progress(None)
        self.notify(Notification("sync", _("Accounts synced from Identity Center"),
                                 "; ".join(synced(d) for d in done)))

    def _first_run(self) -> None:
        """"Set up…": the first-run dialog, a process of its own; the menu follows the
        config file it writes (the profile cache reads it again when it changes)."""
        from tray.child import runner

        try:
            done = runner.run("tray.ui.setup_dialog", env=self._child_env,
                              timeout=SETUP_TIMEOUT)
        except runner.ChildTimeout:
            return
        said = done.stdout.decode("utf-8", "replace").strip()
        if done.returncode == 0 and said:
            self.notify(Notification("setup", _("roletray is set up"), said))
        self._call_soon(self.render)

    def _clear(self) -> None:
        self._call_soon(self._forget_problem)
        try:
            self._service().clear()
        except RoletrayError as e:
            self.notify(Notification("failure", _("Could not remove the keys"), e.localized,
                                     "critical"))

    def _keep(self, name: str) -> None:
        """"Keep fresh in its own profile…": ``name`` in ``[name-roletray]`` too."""
        if not self._asked(name, own_target(name)):
            return
        try:
            self._service().switch(name, target=own_target(name))
        except RoletrayError as e:
            self._failed_switch(name, e)

    def _unkeep(self, target: str) -> None:
        try:
            self._service().refresher.clear(target)
        except RoletrayError as e:
            self.notify(Notification("failure", _("Could not remove [{target}]").format(
                target=target), e.localized, "critical"))

    def _diagnose(self, role: str | None = None) -> None:
        try:
            role, summary, report = self._service().diagnose(role)
        except Exception as e:
            log.exception("diagnosis failed")
            role = self._service().refresher.snapshot().role
            summary = _("the diagnosis failed ({error}); see the log").format(
                error=e.__class__.__name__)
            report = ""
        path = self._paths.state_dir / "doctor-report.txt"
        body = summary
        if report:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(report + "\n")
            body += "\n" + _("Full report: {path}").format(path=self._paths.display(path))
        self.notify(Notification("diagnosis", _("Diagnosis of {role}").format(
            role=role or "roletray"), body))
        if report:
            self._open(path)

    def _open(self, path: Path) -> None:
        try:
            if self.svc.open_path is not None:
                self.svc.open_path(path)
            else:
                desktop_open.open_target(path, env=self._child_env)
        except (OSError, subprocess.SubprocessError) as e:
            log.info("could not open %s: %s", path, e.__class__.__name__)

    def _copy_export(self) -> None:
        """On the GUI thread: GTK's clipboard belongs to it."""
        text = f"export AWS_PROFILE={self._current().target}"
        how = self._to_clipboard(text)
        if not how:
            self.notify(Notification("copy", _("Copy this into your shell"), text, "low"))
        else:
            log.info("copied %r to the clipboard with %s", text, how)

    def _open_console(self, profile: str) -> None:
        """"Open console as NAME": the keys the refresher keeps for it (no AssumeRole, no
        botocore here: the federation call is plain HTTP), then the browser. The sign-in
        URL is a bearer credential: never logged, never notified."""
        from tray import console

        def failed(why: str) -> None:
            self.notify(Notification("failure", _("Could not open the console as {profile}").format(
                profile=profile),
                                     why, "normal"))

        keys = self._refresher.held_keys(profile)
        try:
            if keys is None:
                raise RoletrayError(N_("roletray holds no working keys for {profile} now; "
                                       "Refresh now, then try again"), profile=profile)
            url = console.console_url(profile, env=self._child_env, keys=keys, now=self._now)
        except RoletrayError as e:
            failed(e.localized)
            return
        browser = self.svc.open_url or partial(desktop_open.open_url, env=self._child_env)
        try:
            # Never on a command line: the browser gets a page that forwards to it, served
            # once to the user alone (it stops by itself) or a private file.
            from tray.platform import signin_page  # html, secrets: when a console opens

            forward = signin_page.offer(url, fsutil.private_dir(self._paths.runtime_dir),
                                        title=guarded.console_title(profile,
                                                                    self._guard_of(profile)))
            browser(forward.address)
        except (OSError, subprocess.SubprocessError, RoletrayError) as e:
            failed(_("no web browser could be started ({error}); set $BROWSER, or run "
                     "`roletray console --print`").format(error=type(e).__name__))
            return
        log.info("opened the console as %s", profile)

    def _copy_process_line(self, profile: str) -> None:
        """On the GUI thread: a profile for long-running processes, to paste into the config."""
        from tray.platform.autostart import this_roletray  # a large module, for this alone

        text = process_profile(profile, this_roletray(self._child_env))
        where = self._paths.display(self._profiles.path)
        how = self._to_clipboard(text)
        if how:
            log.info("copied the credential_process profile of %s with %s", profile, how)
            self.notify(Notification(
                "copy", _("Copied a credential_process profile for {profile}").format(
                    profile=profile),
                _("Paste it into {where}:\n{text}").format(where=where, text=text), "low"))
        else:
            self.notify(Notification("copy", _("Copy this into {where}").format(where=where),
                                     text, "low"))

    def _to_clipboard(self, text: str) -> str:
        """On the GUI thread (GTK's clipboard belongs to it): how it was copied, "" if not."""
        try:
            return (self.svc.copy_text(text) if self.svc.copy_text is not None
                    else _copy_text(text, self._child_env))
        except (OSError, subprocess.SubprocessError):
            return ""

    def _autostart_backend(self) -> Any:
        if self.svc.autostart is None:
            from tray.platform import autostart

            self.svc.autostart = autostart.backend_for(env=self._child_env)
        return self.svc.autostart

    def _autostart_status(self) -> bool | None:
        try:
            return bool(self._autostart_backend().status().enabled)
        except Exception as e:  # noqa: BLE001 - an unknown status hides the item
            log.info("autostart status unknown: %s", e)
            return None

    def _toggle_autostart(self) -> None:
        backend = self._autostart_backend()
        try:
            status = backend.disable() if backend.status().enabled else backend.enable()
        except RoletrayError as e:
            self.notify(Notification("failure", _("Start at login"), e.localized, "normal"))
            return

        def show() -> None:
            self._autostart = bool(status.enabled)
            self.render()
        self._call_soon(show)
