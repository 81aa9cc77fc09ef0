"""The tray icon: pystray on the main thread, fed by the refresher's snapshots.

Threads: ``TrayApp.run()`` owns the main thread (pystray's loop). The refresher
calls ``on_snapshot`` from its worker threads; pystray's gtk and appindicator
backends hand every change of image, title and menu to the GLib main loop with
``idle_add``, so setting them from any thread is safe. Menu callbacks run on the
main loop and only hand work to a worker (``_work``): AssumeRole, the MFA
prompt, the doctor and D-Bus calls never block the loop.

pystray is imported only after ``select_backend`` has chosen a backend with a
menu (appindicator, else gtk): the xorg backend has none (pystray #151).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from tray import paths
from tray.domain.errors import MfaRequiredError, NeedsInputError, RoletrayError
from tray.domain.models import RefreshState, RoleProfile, Snapshot, utcnow
from tray.domain.problems import Problem, problem_from
from tray.platform.notify import (
    DIAGNOSE_ACTION,
    DIAGNOSE_ACTION_LABEL,
    MFA_ACTION,
    MFA_ACTION_LABEL,
    SSO_ACTION,
    SSO_ACTION_LABEL,
    Notification,
    NotificationPolicy,
    Notifier,
    choose_notifier,
    refused_switch,
)
from tray.ui.menu import (
    MenuActions,
    MenuNode,
    build_menu_model,
    input_needed,
    render_text,
    tray_look,
)

log = logging.getLogger(__name__)

ICON_SIZE = 64
TICK_SECONDS = 20.0  # the tooltip, badge and "in N min" follow the clock this often
PROMPT_TIMEOUT = 300.0
_CODE_RE = re.compile(r"^\d{6}$")

INSTALL_HINT = (
    "the tray needs PyGObject (the `gi` module) for its menu; pystray's xorg backend has "
    "none. Install it with `apt install python3-gi gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1` for Debian's python3, or in a virtualenv: "
    "`apt install libgirepository1.0-dev libcairo2-dev pkg-config gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1` then `pip install \"pygobject<3.51\"`. "
    "Without a desktop, run `roletray daemon`"
)


class TrayUnavailableError(RoletrayError):
    """No tray backend with a menu can run here (exit 2)."""


# --------------------------------------------------------------------------- backend

def _gi_has(namespace: str, version: str) -> bool:
    import gi

    try:
        gi.require_version(namespace, version)
        __import__(f"gi.repository.{namespace}")
    except (ValueError, ImportError):
        return False
    return True


_SET_BY_US: set[str] = set()  # variables set for this process only, not for what it opens


def child_env() -> dict[str, str]:
    """The environment for programs the tray opens (editor, prompt): without our tweaks."""
    return {k: v for k, v in os.environ.items() if k not in _SET_BY_US}


def select_backend(env: MutableMapping[str, str] | None = None,
                   platform: str | None = None) -> str:
    """Choose pystray's backend and set ``PYSTRAY_BACKEND``: appindicator, else gtk.

    Raises ``TrayUnavailableError`` when only the menu-less xorg backend could run.
    """
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if platform == "darwin" or platform.startswith("win"):
        return env.get("PYSTRAY_BACKEND", "")
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        raise TrayUnavailableError("no graphical display (DISPLAY is not set); "
                                   "run `roletray daemon` for the refresher without a tray")
    if "GDK_GL" not in env:
        # A tray icon draws no OpenGL, but GDK probes GLX visuals on start, which can
        # map Mesa and LLVM: ~50 MiB of resident memory for nothing.
        env["GDK_GL"] = "disable"
        _SET_BY_US.add("GDK_GL")
    chosen = env.get("PYSTRAY_BACKEND")
    if chosen == "xorg":
        raise TrayUnavailableError("PYSTRAY_BACKEND=xorg has no menu; " + INSTALL_HINT)
    try:
        import gi  # noqa: F401
    except ImportError:
        raise TrayUnavailableError(INSTALL_HINT) from None
    if chosen:
        return chosen
    if _gi_has("AyatanaAppIndicator3", "0.1") or _gi_has("AppIndicator3", "0.1"):
        backend = "appindicator"
    elif _gi_has("Gtk", "3.0"):
        backend = "gtk"
    else:
        raise TrayUnavailableError("PyGObject is installed but GTK 3 is not "
                                   "(apt install gir1.2-gtk-3.0); " + INSTALL_HINT)
    env["PYSTRAY_BACKEND"] = backend
    _SET_BY_US.add("PYSTRAY_BACKEND")
    return backend


# --------------------------------------------------------------------------- adapter

def _constant(value: bool) -> Callable[[Any], bool]:
    def checked(item: Any) -> bool:
        return value
    return checked


def _call(fn: Callable[[], None]) -> Callable[[Any, Any], None]:
    # Exactly two parameters: pystray inspects the arity of what it is given.
    def action(icon: Any, item: Any) -> None:
        fn()
    return action


def to_pystray(model: list[MenuNode] | tuple[MenuNode, ...]) -> Any:
    """``MenuNode``s as a pystray ``Menu`` (static values: the menu is rebuilt on change)."""
    import pystray

    items: list[Any] = []
    for node in model:
        if node.separator:
            items.append(pystray.Menu.SEPARATOR)
            continue
        checked = None if node.checked is None else _constant(node.checked)
        if node.children:
            action: Any = to_pystray(node.children)
        elif node.action is not None:
            action = _call(node.action)
        else:
            action = None
        items.append(pystray.MenuItem(node.text, action, checked=checked, radio=node.radio,
                                      enabled=node.enabled))
    return pystray.Menu(*items)


# ---------------------------------------------------------------------- collaborators

class ProfileCache:
    """The role profiles of the AWS config, read again only when the file changes."""

    def __init__(self, config_path: Path) -> None:
        self.path = config_path
        self._key: tuple[int, int] | None = None
        self._profiles: dict[str, RoleProfile] = {}
        self._problems = 0
        self._lock = threading.Lock()

    def get(self) -> tuple[dict[str, RoleProfile], int]:
        from tray.awsfiles import awsconfig

        try:
            st = self.path.stat()
            key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if key != self._key or key is None:
                try:
                    pmap = awsconfig.load_profile_map(self.path)
                    self._profiles, errors = awsconfig.build_role_profiles(pmap, self.path)
                    self._problems = len(errors)
                except RoletrayError as e:
                    log.warning("%s", e)
                    self._profiles, self._problems = {}, 1
                self._key = key
            return self._profiles, self._problems


_prompts: set[subprocess.Popen[bytes]] = set()  # open dialogs, closed when the tray quits
_prompts_lock = threading.Lock()


def ask_mfa_code(serial: str, profile: str, *, env: Mapping[str, str] | None = None,
                 timeout: float = PROMPT_TIMEOUT) -> str | None:
    """Open the prompt process; the code comes back through its stdout pipe, never argv."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tray.ui.prompt", "--serial", serial, "--profile", profile],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env() if env is None else dict(env))
    with _prompts_lock:
        _prompts.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.info("the MFA prompt was left open for %.0f s; closed it", timeout)
        proc.kill()
        proc.communicate()
        return None
    finally:
        with _prompts_lock:
            _prompts.discard(proc)
    code = out.decode("ascii", "replace").strip()
    if proc.returncode != 0 or not _CODE_RE.match(code):
        if proc.returncode not in (0, 1, -15):
            log.warning("the MFA prompt failed (exit %d): %s", proc.returncode,
                        err.decode(errors="replace").strip()[-300:])
        return None
    return code


def close_prompts() -> None:
    """End the prompts still open (the tray is quitting: nobody would read the code)."""
    with _prompts_lock:
        procs = list(_prompts)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()


def open_path(path: Path) -> None:
    """Show a file in the user's default application, detached."""
    if sys.platform == "darwin":
        argv = ["open", str(path)]
    elif sys.platform.startswith("win"):
        os.startfile(str(path))  # type: ignore[attr-defined]
        return
    else:
        argv = ["xdg-open", str(path)]
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, env=child_env())


def copy_text(text: str) -> str:
    """Put ``text`` on the clipboard: GTK when it runs, else xclip/wl-copy. Returns how."""
    try:
        import gi

        gi.require_version("Gtk", "3.0")
        gi.require_version("Gdk", "3.0")
        from gi.repository import Gdk, Gtk

        clipboard = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
        clipboard.set_text(text, -1)
        clipboard.store()
        return "gtk"
    except (ImportError, ValueError, AttributeError):
        pass
    for argv in (["wl-copy"], ["xclip", "-selection", "clipboard"],
                 ["xsel", "--clipboard", "--input"], ["pbcopy"]):
        if shutil.which(argv[0]):
            subprocess.run(argv, input=text.encode(), check=True, timeout=5)
            return argv[0]
    return ""


def start_sso_login(profile: str, **kwargs: Any) -> Path:
    """``tray.aws.sso.start_sso_login``, imported when first needed (it blocks: a worker only)."""
    from tray.aws import sso

    return sso.start_sso_login(profile, **kwargs)


@dataclass
class Services:
    """What the tray needs besides the refresher; tests replace any of them."""

    notifier: Notifier | None = None
    ask_code: Callable[[str, str], str | None] = ask_mfa_code
    sso_login: Callable[..., Path] = start_sso_login
    open_path: Callable[[Path], None] = open_path
    copy_text: Callable[[str], str] = copy_text
    autostart: Any = None  # tray.platform.autostart.Backend; None: backend_for()
    doctor: Callable[[str | None], tuple[str, str]] | None = None  # -> (summary, report)


_DOCTOR_CHILD = (
    "import json, sys; from tray.doctor import diagnose; r = diagnose.run_doctor(sys.argv[1] or None); "
    "print(json.dumps([diagnose.summarize(r), diagnose.format_report(r)]))"
)


def _run_doctor(profile: str | None) -> tuple[str, str]:
    """(summary, report). In a child process: the doctor loads botocore, which would
    otherwise stay in the tray's memory for good (frozen bundles run it in-process)."""
    if getattr(sys, "frozen", False):
        from tray.doctor import diagnose

        report = diagnose.run_doctor(profile)
        return diagnose.summarize(report), diagnose.format_report(report)
    proc = subprocess.run([sys.executable, "-c", _DOCTOR_CHILD, profile or ""],
                          check=False, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise RoletrayError(f"the doctor stopped: {last}")
    summary, report = json.loads(proc.stdout)
    return str(summary), str(report)


# ------------------------------------------------------------------------------- app

class TrayApp:
    """One tray icon for one refresher. ``run()`` blocks the main thread until Quit."""

    def __init__(self, refresher: Any, *, log_path: Path, services: Services | None = None,
                 tz: tzinfo | None = None, now: Callable[[], datetime] = utcnow,
                 config_path: Path | None = None, notifications: bool = True) -> None:
        self.refresher = refresher
        self.log_path = log_path
        self.svc = services or Services()
        self.tz = tz
        self._now = now
        self._profiles = ProfileCache(config_path or paths.aws_config_file())
        self.policy = NotificationPolicy(tz=tz)
        self._notifications = notifications
        self._notifier: Notifier | None = self.svc.notifier
        self._icon: Any = None
        self._lock = threading.RLock()
        self._last: Snapshot | None = None
        self._shown: tuple[str, int | None] | None = None
        self._shown_title: str | None = None
        self._shown_menu: str | None = None
        self._busy: str | None = None  # "Switching to X…" while a user action runs
        self._local_problem: Problem | None = None  # a failed switch: the refresher keeps no trace
        self._autostart: bool | None = None
        self._stop = threading.Event()
        self._work_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tray-action")
        self._side_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tray-side")
        self._notify_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tray-notify")
        self._prompt_lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        self.actions = MenuActions(
            switch=lambda name: self._work(self._do_switch, name),
            enter_mfa=lambda: self._work(self._do_enter_mfa),
            sso_login=lambda: self._work(self._do_sso_login),
            retry=lambda: self._work(self._do_retry),
            refresh=lambda: self._work(self._do_refresh),
            stop=lambda: self._work(self._do_stop),
            diagnose=lambda: self._side(self._do_diagnose),
            copy_export=self._do_copy,
            open_config=lambda: self._side(self.svc.open_path, self._profiles.path),
            open_log=lambda: self._side(self.svc.open_path, self.log_path),
            toggle_autostart=lambda: self._side(self._do_toggle_autostart),
            quit=self.quit,
        )

    # -- lifecycle -----------------------------------------------------------------
    def run(self) -> int:
        """The pystray loop, on the main thread, until ``quit()``."""
        import pystray

        self._autostart = self._autostart_status()
        snap = self._current()
        look = tray_look(snap, snap.now or self._now())
        self._icon = pystray.Icon("roletray", self._image(look.state, look.minutes_left),
                                  look.tooltip, to_pystray(self._model(snap)))
        self._shown = (look.state, look.minutes_left)
        self._shown_title = look.tooltip
        if self._notifier is None:
            icon_notify = self._icon.notify if getattr(self._icon, "HAS_NOTIFICATION", False) \
                else None
            self._notifier = choose_notifier(icon_notify=icon_notify, enabled=self._notifications)
        self._install_sigterm()
        log.info("tray running with pystray backend %s", type(self._icon).__module__)
        self._icon.run(setup=self._setup)
        self._stop.set()
        return 0

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self.render()
        threading.Thread(target=self._tick_loop, name="tray-tick", daemon=True).start()

    def quit(self) -> None:
        log.info("quit from the tray menu")
        self._stop.set()
        if self._icon is not None:
            self._icon.stop()

    def close(self) -> None:
        """After ``run()``: stop the workers (a prompt left open is abandoned)."""
        self._stop.set()
        close_prompts()
        for pool in (self._work_pool, self._side_pool, self._notify_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        if self._notifier is not None:
            self._notifier.close()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the actions and notifications handed out so far are done (tests)."""
        while True:
            with self._lock:
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
        with self._lock:
            self._pending.add(future)

    def _install_sigterm(self) -> None:
        """SIGTERM/SIGINT end the loop like Quit, so the refresher stops cleanly."""
        try:
            import signal

            from gi.repository import GLib
        except ImportError:
            return

        def stop() -> bool:
            self.quit()
            return False

        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, stop)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.on_snapshot(self.refresher.snapshot())
            except Exception:
                log.exception("tray tick failed")

    # -- events --------------------------------------------------------------------
    def on_snapshot(self, snap: Snapshot) -> None:
        """A refresher subscriber: called from worker threads."""
        with self._lock:
            prev = self._last
            self._last = snap
            if snap.state is RefreshState.FRESH:
                self._local_problem = None
            if prev is None:
                # What is true at start is not news, unless a person must act.
                if snap.state in (RefreshState.NEEDS_INPUT, RefreshState.ERROR):
                    note = self.policy.on_change(Snapshot(), snap)
                else:
                    self.policy.seed(snap)
                    note = None
            else:
                note = self.policy.on_change(prev, snap)
        if note is not None:
            self.show(note)
        self.render()

    def _current(self) -> Snapshot:
        """The refresher's latest state, timed now (by AWS's clock when ours is off)."""
        snap = self.refresher.snapshot()
        return snap if snap.now is not None else replace(snap, now=self._now())

    def _model(self, snap: Snapshot) -> list[MenuNode]:
        profiles, problems = self._profiles.get()
        with self._lock:
            busy, local_problem = self._busy, self._local_problem
        if local_problem is not None and snap.problem is None:
            snap = replace(snap, problem=local_problem)
        model = build_menu_model(snap, profiles, now=snap.now or self._now(), tz=self.tz,
                                 actions=self.actions, autostart=self._autostart,
                                 problems=problems,
                                 config_hint=paths.display_path(self._profiles.path))
        if busy:
            model.insert(0, MenuNode(busy, enabled=False))
        return model

    @staticmethod
    def _image(state: str, minutes: int | None) -> Any:
        from tray.ui.icons import load_icon

        return load_icon(state, ICON_SIZE, minutes)

    def render(self) -> None:
        """Bring icon, tooltip and menu in line with the latest snapshot (any thread)."""
        icon = self._icon
        if icon is None:
            return
        with self._lock:
            snap = self._current()
            look = tray_look(snap, snap.now or self._now())
            if (look.state, look.minutes_left) != self._shown:
                icon.icon = self._image(look.state, look.minutes_left)
                self._shown = (look.state, look.minutes_left)
            if look.tooltip != self._shown_title:
                icon.title = look.tooltip
                self._shown_title = look.tooltip
            model = self._model(snap)
            text = render_text(model)
            if text != self._shown_menu:
                icon.menu = to_pystray(model)
                self._shown_menu = text

    def show(self, note: Notification) -> None:
        """Send a notification from the notify worker (D-Bus calls may take a moment)."""
        action = None
        # Clicked in the notifier's thread: queued with the other role changes, and the
        # same handler as the menu item.
        if note.action == MFA_ACTION:
            action = (MFA_ACTION_LABEL, lambda: self._work(self._do_enter_mfa))
        elif note.action == SSO_ACTION:
            action = (SSO_ACTION_LABEL, lambda: self._work(self._do_sso_login))
        elif note.action == DIAGNOSE_ACTION:
            action = (DIAGNOSE_ACTION_LABEL, lambda: self._side(self._do_diagnose, note.profile))
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

    # -- menu actions (each handed to a worker) ------------------------------------
    def _work(self, fn: Callable[..., None], *args: Any) -> None:
        """Role changes run one at a time, in order, off the GUI thread."""
        self._submit(self._work_pool, self._guarded, fn, *args)

    def _side(self, fn: Callable[..., None], *args: Any) -> None:
        self._submit(self._side_pool, self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("tray action failed")

    def _set_busy(self, text: str | None) -> None:
        with self._lock:
            self._busy = text
        self.render()

    def _ask(self, profile: RoleProfile | None, name: str) -> str | None:
        """The MFA prompt, one at a time; None when cancelled or not needed."""
        serial = profile.mfa_serial if profile else None
        if not serial:
            return None
        if not self._prompt_lock.acquire(blocking=False):
            log.info("an MFA prompt is already open")
            return None
        try:
            return self.svc.ask_code(serial, name)
        finally:
            self._prompt_lock.release()

    def _profile(self, name: str | None) -> RoleProfile | None:
        return self._profiles.get()[0].get(name) if name else None

    def _do_switch(self, name: str) -> None:
        profile = self._profile(name)
        code = None
        # The refresher keeps MFA sessions: a code is asked only when none is usable.
        if profile is not None and profile.mfa_serial and self.refresher.needs_mfa_code(name):
            code = self._ask(profile, name)
            if code is None:
                return
        self._set_busy(f"Switching to {name}…")
        try:
            try:
                self.refresher.switch(name, mfa_code=code)
            except MfaRequiredError:
                if code is not None or profile is None:
                    raise
                # The MFA session ended meanwhile: the user chose this role, so ask now.
                code = self._ask(profile, name)
                if code is None:
                    return
                self.refresher.switch(name, mfa_code=code)
        except RoletrayError as e:
            problem = problem_from(e, role=name)
            if problem.code == "access_denied" and problem.hint is None:
                problem = problem.with_hint(self._finding(name))
            with self._lock:
                self._local_problem = problem
            self.show(refused_switch(name, problem, profile.role_arn if profile else None))
        finally:
            self._set_busy(None)

    def _do_refresh(self) -> None:
        name = self.refresher.snapshot().role
        profile = self._profile(name)
        code = None
        if (name and profile is not None and profile.mfa_serial
                and self.refresher.needs_mfa_code(name)):
            code = self._ask(profile, name)
            if code is None:
                return
        self._set_busy("Refreshing…")
        try:
            self.refresher.refresh_now(mfa_code=code)
        except NeedsInputError:
            pass  # the snapshot says so, and the notification offers the prompt
        except RoletrayError as e:
            log.info("refresh from the menu failed: %s", e)
        finally:
            self._set_busy(None)

    def _do_enter_mfa(self) -> None:
        name = self.refresher.snapshot().role
        profile = self._profile(name)
        if profile is None or not profile.mfa_serial or name is None:
            self._do_refresh()
            return
        code = self._ask(profile, name)
        if code is None:
            return
        self._set_busy("Refreshing…")
        try:
            self.refresher.provide_mfa_code(code)
        except RoletrayError as e:
            log.info("refresh with the MFA code failed: %s", e)
        finally:
            self._set_busy(None)

    def _do_sso_login(self) -> None:
        """"Sign in to AWS SSO…" (menu or notification): sign in, then refresh at once."""
        snap = self.refresher.snapshot()
        if input_needed(snap) != "sso":
            log.info("no AWS SSO sign-in is needed any more")  # e.g. a second click
            return
        profile = snap.input_profile or snap.role
        if profile is None:
            return

        def on_code(code: str, url: str) -> None:
            # The code the browser page shows, to match: no secret (the token never is).
            self.show(Notification("sso-code", f"AWS SSO sign-in for {profile}",
                                   f"Confirm code {code} in your browser"))

        self._set_busy(f"Signing in to AWS SSO ({profile})…")
        try:
            try:
                self.svc.sso_login(profile, config_path=self._profiles.path, env=child_env(),
                                   on_code=on_code)
            except RoletrayError as e:
                self.show(Notification("failure", "AWS SSO sign-in failed", str(e),
                                       "critical"))
                return
            self._set_busy("Refreshing…")
            try:
                self.refresher.refresh_now()
            except RoletrayError as e:
                # The state may not change (still needs-input): say it here.
                self.show(Notification("failure", f"{snap.role or profile}: refresh after "
                                       "the SSO sign-in failed", str(e), "critical"))
        finally:
            self._set_busy(None)

    def _do_retry(self) -> None:
        """"Try again" once the person has answered their credential process."""
        self._set_busy("Refreshing…")
        try:
            self.refresher.refresh_now()
        except RoletrayError as e:
            log.info("retry from the menu failed: %s", e)  # the snapshot says the rest
        finally:
            self._set_busy(None)

    def _do_stop(self) -> None:
        with self._lock:
            self._local_problem = None
        try:
            self.refresher.clear()
        except RoletrayError as e:
            self.show(Notification("failure", "Could not remove the keys", str(e), "critical"))

    def _finding(self, name: str) -> str | None:
        """The doctor's one-line finding for a refused switch, as the CLI gives it."""
        self._set_busy(f"Diagnosing {name}…")
        try:
            summary, _ = (self.svc.doctor or _run_doctor)(name)
        except Exception:  # the refusal is still said, without the finding
            log.info("no diagnosis for %s", name, exc_info=True)
            return None
        return summary

    def _do_diagnose(self, role: str | None = None) -> None:
        role = role or self.refresher.snapshot().role
        self._set_busy("Diagnosing…")
        try:
            summary, report = (self.svc.doctor or _run_doctor)(role)
        except Exception as e:
            log.exception("diagnosis failed")
            summary, report = f"the diagnosis failed ({e.__class__.__name__}); see the log", ""
        finally:
            self._set_busy(None)
        path = paths.state_dir() / "doctor-report.txt"
        body = summary
        if report:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(report + "\n")
            body += f"\nFull report: {paths.display_path(path)}"
        self.show(Notification("diagnosis", f"Diagnosis of {role or 'roletray'}", body))
        if report:
            try:
                self.svc.open_path(path)
            except OSError as e:
                log.info("could not open %s: %s", path, e.__class__.__name__)

    def _do_copy(self) -> None:
        text = f"export AWS_PROFILE={self._current().target}"
        try:
            how = self.svc.copy_text(text)
        except (OSError, subprocess.SubprocessError):
            how = ""
        if not how:
            self.show(Notification("copy", "Copy this into your shell", text, "low"))
        else:
            log.info("copied %r to the clipboard with %s", text, how)

    def _autostart_backend(self) -> Any:
        if self.svc.autostart is None:
            from tray.platform import autostart

            self.svc.autostart = autostart.backend_for()
        return self.svc.autostart

    def _autostart_status(self) -> bool | None:
        try:
            return bool(self._autostart_backend().status().enabled)
        except Exception as e:  # noqa: BLE001 - an unknown status hides the item
            log.info("autostart status unknown: %s", e)
            return None

    def _do_toggle_autostart(self) -> None:
        backend = self._autostart_backend()
        try:
            status = backend.disable() if self._autostart else backend.enable()
            self._autostart = bool(status.enabled)
        except RoletrayError as e:
            self.show(Notification("failure", "Start at login", str(e), "normal"))
        self.render()
