"""Notifications: what to say when the state changes, and how to show it.

Two halves, both free of GUI imports:

- ``NotificationPolicy.on_change(old, new)`` decides, from two ``Snapshot``s,
  whether the user must hear about a change (pure logic with a little memory,
  so that one state change gives one notification, never a flood).
- ``Notifier`` backends show a notification: the freedesktop service over D-Bus
  (``jeepney``, pure Python; an action button such as "Enter MFA code" where the
  server supports actions), macOS (``osascript``), a callback (pystray's
  ``icon.notify`` on Windows), and the log as the last resort.

Notifications never carry a secret: they are built from profile names, account
ids, times and one-line error reasons.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from queue import Queue
from typing import Any, Literal, Protocol

from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import Problem, plain_reason
from tray.domain.text import localized
from tray.domain.timefmt import expiry_phrase, keys_work_until, mfa_session_phrase
from tray.i18n import N_, _

log = logging.getLogger(__name__)

Urgency = Literal["low", "normal", "critical"]
Action = tuple[str, Callable[[], None]]
APP_NAME = "roletray"

# The action key that freedesktop servers invoke when the notification body is
# clicked; using it makes "click the notification" and the button the same thing.
DEFAULT_ACTION_KEY = "default"


# --------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------
class Notifier(Protocol):
    """Shows one notification. ``action`` is a label and what clicking it does."""

    @property
    def supports_actions(self) -> bool: ...

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None: ...

    def close(self) -> None: ...


class LogNotifier:
    """The last resort: the notification goes to the log (it has no secret in it)."""

    supports_actions = False

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None:
        level = logging.WARNING if urgency == "critical" else logging.INFO
        self._log.log(level, "notification: %s: %s", title, body)

    def close(self) -> None:
        pass


class CallbackNotifier:
    """Hands notifications to a function, e.g. pystray's ``icon.notify(message, title)``."""

    supports_actions = False

    def __init__(self, show: Callable[[str, str], None]) -> None:
        self._show = show

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None:
        self._show(body, title)

    def close(self) -> None:
        pass


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class OsascriptNotifier:
    """macOS: ``display notification`` through osascript (no action buttons)."""

    supports_actions = False

    def __init__(self, runner: Callable[..., Any] = subprocess.run) -> None:
        self._run = runner

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None:
        script = (f"display notification {_applescript_string(body)} "
                  f"with title {_applescript_string(title)}")
        self._run(["osascript", "-e", script], check=True, timeout=10,
                  capture_output=True)

    def close(self) -> None:
        pass


Unseen = Callable[[tuple[str, str] | None], None]


class FallbackNotifier:
    """Tries each notifier in turn; a failing one is logged and the next is used.

    ``on_unseen``: told ``(title, body)`` when the first notifier (the platform's own)
    failed, so the notification may not have reached the screen (with no notification
    daemon the fallbacks fail too, or only log); told None once one gets through again.
    The tray shows such a message atop its menu, where a person looks next.
    """

    def __init__(self, notifiers: Sequence[Notifier], *,
                 on_unseen: Unseen | None = None) -> None:
        if not notifiers:
            raise ValueError("FallbackNotifier needs at least one notifier")
        self._notifiers = list(notifiers)
        self.on_unseen = on_unseen

    @property
    def supports_actions(self) -> bool:
        return self._notifiers[0].supports_actions

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None:
        for i, n in enumerate(self._notifiers):
            try:
                n.notify(title, body, urgency=urgency, action=action)
            except Exception as e:  # noqa: BLE001 - any backend failure falls through
                log.warning("notifications through %s failed (%s); trying the next",
                            type(n).__name__, e.__class__.__name__)
                continue
            if self.on_unseen is not None:
                self.on_unseen(None if i == 0 else (title, body))
            return
        if self.on_unseen is not None:
            self.on_unseen((title, body))

    def close(self) -> None:
        for n in self._notifiers:
            n.close()


class FreedesktopNotifier:
    """``org.freedesktop.Notifications`` on the session bus, through jeepney.

    Connects on first use. When ``action`` is given and the server supports
    actions, the notification gets a button with the action's label and clicking
    the notification invokes it too; the callback runs in a thread of its own.
    Each notification replaces the previous one, so at most one is on screen.
    """

    _IFACE = "org.freedesktop.Notifications"
    _PATH = "/org/freedesktop/Notifications"

    def __init__(self, app_name: str = APP_NAME, *, bus: str = "SESSION",
                 icon: str = "dialog-password", timeout: float = 5.0) -> None:
        self.app_name = app_name
        self._bus = bus
        self._icon = icon
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: Any = None
        self._router: Any = None
        self._filter: Any = None
        self._queue: Queue[Any] = Queue(maxsize=256)
        self._listener: threading.Thread | None = None
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._last_id = 0
        self._server: str | None = None
        self._caps: frozenset[str] = frozenset()

    @property
    def supports_actions(self) -> bool:
        try:
            self._ensure()
        except Exception:  # noqa: BLE001 - no bus: no actions
            return False
        return "actions" in self._caps

    def _address(self) -> Any:
        from jeepney import DBusAddress

        return DBusAddress(self._PATH, bus_name=self._IFACE, interface=self._IFACE)

    def _ensure(self) -> None:
        with self._lock:
            if self._router is not None:
                return
            from jeepney import MatchRule, message_bus, new_method_call
            from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection

            conn = open_dbus_connection(self._bus)
            router = DBusRouter(conn)
            try:
                bus = Proxy(message_bus, router, timeout=self._timeout)
                # Only signals from the current owner of the name reach us.
                for member in ("ActionInvoked", "NotificationClosed"):
                    bus.AddMatch(MatchRule(type="signal", sender=self._IFACE,
                                           interface=self._IFACE, member=member))
                self._server = bus.GetNameOwner(self._IFACE)[0]
                reply = router.send_and_get_reply(
                    new_method_call(self._address(), "GetCapabilities"), timeout=self._timeout)
                self._caps = frozenset(reply.body[0]) if reply.body else frozenset()
                self._filter = router.filter(MatchRule(type="signal", interface=self._IFACE),
                                             queue=self._queue)
            except BaseException:
                router.close()
                conn.close()
                raise
            self._conn, self._router = conn, router
            self._listener = threading.Thread(target=self._listen, name="notify-actions",
                                              daemon=True)
            self._listener.start()

    def notify(self, title: str, body: str, *, urgency: Urgency = "normal",
               action: Action | None = None) -> None:
        from jeepney import new_method_call

        self._ensure()
        actions: list[str] = []
        if action is not None and "actions" in self._caps:
            actions = [DEFAULT_ACTION_KEY, action[0]]
        hints = {"urgency": ("y", {"low": 0, "normal": 1, "critical": 2}[urgency]),
                 "desktop-entry": ("s", self.app_name)}
        msg = new_method_call(self._address(), "Notify", "susssasa{sv}i",
                              (self.app_name, self._last_id, self._icon, title, body,
                               actions, hints, -1))
        reply = self._router.send_and_get_reply(msg, timeout=self._timeout)
        if reply.header.message_type.name == "error":
            raise RuntimeError(f"Notify failed: {reply.header.fields}")
        nid = int(reply.body[0])
        with self._lock:
            self._callbacks.pop(self._last_id, None)
            self._last_id = nid
            if actions and action is not None:
                self._callbacks[nid] = action[1]

    def _listen(self) -> None:
        from jeepney import HeaderFields

        while True:
            msg = self._queue.get()
            if msg is None:
                return
            if msg.header.fields.get(HeaderFields.sender) != self._server:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            nid = int(msg.body[0]) if msg.body else -1
            if member == "ActionInvoked":
                with self._lock:
                    cb = self._callbacks.pop(nid, None)
                if cb is not None:
                    threading.Thread(target=_run_logged, args=(cb,), name="notify-action",
                                     daemon=True).start()
            elif member == "NotificationClosed":
                with self._lock:
                    self._callbacks.pop(nid, None)

    def close(self) -> None:
        with self._lock:
            router, conn, flt = self._router, self._conn, self._filter
            self._router = self._conn = self._filter = None
        if router is None:
            return
        self._queue.put(None)
        if flt is not None:
            flt.close()
        router.close()
        conn.close()
        if self._listener is not None:
            self._listener.join(timeout=5)


def _run_logged(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("notification action failed")


def choose_notifier(*, env: Mapping[str, str], platform: str | None = None,
                    icon_notify: Callable[[str, str], None] | None = None,
                    enabled: bool = True, on_unseen: Unseen | None = None) -> Notifier:
    """The best notifier for this platform, falling back to the log.

    ``icon_notify`` is pystray's ``icon.notify`` when a tray icon exists (the
    Windows path, and a fallback elsewhere). ``on_unseen``: see ``FallbackNotifier``.
    """
    platform = platform or sys.platform
    fallback: list[Notifier] = []
    if icon_notify is not None:
        fallback.append(CallbackNotifier(icon_notify))
    fallback.append(LogNotifier())
    if not enabled:
        return LogNotifier()
    if platform == "darwin":
        return FallbackNotifier([OsascriptNotifier(), *fallback], on_unseen=on_unseen)
    if platform.startswith("win"):
        return FallbackNotifier(fallback, on_unseen=on_unseen)
    if env.get("DBUS_SESSION_BUS_ADDRESS") or env.get("XDG_RUNTIME_DIR"):
        try:
            import jeepney  # noqa: F401
        except ImportError:
            log.info("jeepney is not installed; notifications go to the log")
        else:
            return FallbackNotifier([FreedesktopNotifier(), *fallback], on_unseen=on_unseen)
    return FallbackNotifier(fallback, on_unseen=on_unseen)


# --------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Notification:
    """What to tell the user. ``action`` offers a button: ``"mfa"`` "Enter MFA code",
    ``"sso"`` "Sign in" (to AWS SSO), ``"diagnose"`` "Diagnose" (the doctor's report,
    with AWS's own words); the tray maps each to the menu item's handler. ``target``: the
    section kept besides the active role's that an "mfa" button answers (None: the
    active role's)."""

    kind: str
    title: str
    body: str
    urgency: Urgency = "normal"
    action: str | None = None
    profile: str | None = None  # the profile the action is about, when not the active role
    target: str | None = None  # the kept section an "mfa" button gives the code to
    # A sign-in that several sections may wait for: (input kind, profile to sign in).
    sign_in: tuple[str, str] | None = None


MFA_ACTION = "mfa"
MFA_ACTION_LABEL = N_("Enter MFA code")  # translated where shown
SSO_ACTION = "sso"
SSO_ACTION_LABEL = N_("Sign in")
DIAGNOSE_ACTION = "diagnose"
DIAGNOSE_ACTION_LABEL = N_("Diagnose")

def refused_switch(name: str, problem: Problem, role_arn: str | None = None) -> Notification:
    """A switch to ``name`` was refused: the finding in plain words on one line, then the
    role; AWS's raw message is behind the "Diagnose" button, not in the body."""
    body = _("{reason}\nRole: {role}").format(reason=plain_reason(problem),
                                              role=localized(role_arn) if role_arn else name)
    return Notification("failure", _("Could not switch to {name}").format(name=name), body,
                        "critical",
                        action=DIAGNOSE_ACTION, profile=name)


def input_action(s: Snapshot) -> str | None:
    """The button a needs-input notification offers: none for a credential process,
    which needs an answer in its own window, then "Try again" in the menu."""
    if s.state is not RefreshState.NEEDS_INPUT:
        return None
    kind = s.problem.input_kind if s.problem is not None else None
    return {None: MFA_ACTION, "mfa": MFA_ACTION, "sso": SSO_ACTION}.get(kind)

_TROUBLE = {RefreshState.RETRYING, RefreshState.NEEDS_INPUT, RefreshState.ERROR,
            RefreshState.EXPIRED}
# States in which the keys will not be renewed without help.
_STUCK = {RefreshState.RETRYING, RefreshState.NEEDS_INPUT, RefreshState.ERROR}


def _with_expiry(reason: str, expiry: str) -> str:
    """``reason.``, then when the keys expire if that is known."""
    if expiry:
        return _("{reason}. The keys {expiry}.").format(reason=reason, expiry=expiry)
    return _("{reason}.").format(reason=reason)


@dataclass
class NotificationPolicy:
    """Decides which state changes deserve a notification.

    Call ``on_change(old, new)`` with every snapshot the refresher publishes, and
    with a periodic tick (same state, later ``now``) so that "expires soon" can
    fire. One notification per state change; repeating the same problem says
    nothing; recovery is announced only after a problem was.

    ``section``: the policy speaks for a section kept besides the active role's: its
    titles name it, its MFA button names it (``Notification.target``: the tray asks the
    code for that section), it offers no SSO button (the sign-in answers the active
    role), and a switch or removal (a person's own doing) is not news.
    """

    tz: tzinfo | None = None
    warn_before: timedelta = timedelta(minutes=10)
    section: str | None = None
    _fresh_role: str | None = field(default=None, init=False)
    _problem: tuple[object, ...] | None = field(default=None, init=False)
    _told_trouble: bool = field(default=False, init=False)
    _warned: set[tuple[str | None, datetime | None]] = field(default_factory=set, init=False)

    def seed(self, snapshot: Snapshot) -> None:
        """What is true at start-up is not news: remember it without notifying."""
        self._fresh_role = snapshot.role
        if snapshot.state in _TROUBLE:
            self._problem = self._key(snapshot)

    @staticmethod
    def _key(s: Snapshot) -> tuple[object, ...]:
        if s.state is RefreshState.ERROR:
            return (s.state, s.role, s.problem)
        return (s.state, s.role, s.expiration)

    def _expiry(self, s: Snapshot, *, plural: bool = True) -> str:
        if s.expiration is None or s.now is None:
            return ""
        return expiry_phrase(s.expiration, s.now, self.tz, plural=plural)

    def first(self, snapshot: Snapshot) -> Notification | None:
        """The first snapshot seen: what is true at start is not news, unless a person
        must act."""
        if snapshot.state in (RefreshState.NEEDS_INPUT, RefreshState.ERROR):
            return self.on_change(Snapshot(), snapshot)
        self.seed(snapshot)
        return None

    def on_change(self, old: Snapshot, new: Snapshot) -> Notification | None:
        note = self._decide(old, new)
        left = new.seconds_left
        if (note is not None and new.state in _STUCK and left is not None
                and left <= self.warn_before.total_seconds()):
            # The problem note already says that the keys expire soon.
            self._warned.add((new.role, new.expiration))
        if note is None or self.section is None:
            return note
        if note.kind in ("switch", "stopped"):
            return None
        mfa = note.action == MFA_ACTION
        return replace(note, title=_("[{section}] {title}").format(section=self.section,
                                                                    title=note.title),
                       action=note.action if mfa or note.action == DIAGNOSE_ACTION else None,
                       target=self.section if mfa else None)

    def _decide(self, old: Snapshot, new: Snapshot) -> Notification | None:
        role = new.role or "?"
        reason = new.problem.localized() if new.problem is not None else _("no reason given")
        if new.state is RefreshState.IDLE:
            was = old.role or self._fresh_role
            self._fresh_role, self._problem, self._told_trouble = None, None, False
            if old.state is not RefreshState.IDLE and was:
                return Notification("stopped", _("Keys removed"),
                                    _("The keys of {role} were removed from [{target}].").format(
                                        role=was, target=new.target),
                                    "low")
            return None
        if new.state is RefreshState.FRESH:
            switched = new.role != self._fresh_role
            recovered = not switched and self._told_trouble
            self._fresh_role, self._problem, self._told_trouble = new.role, None, False
            where = f"{new.account} · " if new.account else ""
            if switched:
                return Notification("switch", _("Now working as {role}").format(role=role),
                                    _("{expiry}; tools use AWS_PROFILE={target}.").format(
                                        expiry=where + self._expiry(new, plural=False),
                                        target=new.target), "low")
            if recovered:
                return Notification("recovered",
                                    _("{role}: keys are fresh again").format(role=role),
                                    f"{where}{self._expiry(new, plural=False)}.", "low")
            return None
        if new.state is RefreshState.REFRESHING:
            return None
        key = self._key(new)
        if key != self._problem:
            self._problem = key
            self._told_trouble = True
            exp = self._expiry(new)
            if new.state is RefreshState.NEEDS_INPUT:
                return self._needs_input(new, role, reason, exp)
            if new.state is RefreshState.RETRYING:
                return Notification("retrying",
                                    _("{role}: refresh failed, retrying").format(role=role),
                                    _with_expiry(reason, exp),
                                    "normal")
            if new.state is RefreshState.EXPIRED:
                fails = _("Tools using the keys will fail until a refresh succeeds.")
                return Notification("expired", _("{role}: keys expired").format(role=role),
                                    _("{reason}. {consequence}").format(
                                        reason=reason, consequence=fails)
                                    if new.problem is not None else fails, "critical")
            left = new.seconds_left
            if new.problem is not None and left is not None and left > 0 and new.now is not None:
                # The keys still work: say until when, and leave red for when they do not.
                assert new.expiration is not None
                until = keys_work_until(new.expiration, new.now, self.tz)
                return Notification("failure", _("{role}: refresh refused").format(role=role),
                                    _("{reason}; {until}.").format(
                                        reason=plain_reason(new.problem), until=until), "normal",
                                    action=DIAGNOSE_ACTION, profile=new.role)
            return Notification("failure", _("{role}: failed").format(role=role),
                                plain_reason(new.problem) if new.problem else reason,
                                "critical")
        # Same problem as before: only the approaching expiry is news.
        if (new.state in _STUCK and new.seconds_left is not None
                and 0 < new.seconds_left <= self.warn_before.total_seconds()
                and (new.role, new.expiration) not in self._warned):
            self._warned.add((new.role, new.expiration))
            return Notification("expiring", _("{role}: keys expire soon").format(role=role),
                                _("The keys {expiry} and cannot be renewed by themselves: "
                                  "{reason}.").format(expiry=self._expiry(new), reason=reason),
                                "critical", action=input_action(new))
        return None

    def _needs_input(self, new: Snapshot, role: str, reason: str, exp: str) -> Notification:
        kind = (new.problem.input_kind if new.problem is not None else None) or "mfa"
        waits = new.problem.profile if new.problem is not None else None
        if kind == "sso":
            # The error says which profile and why, and how to sign in without the tray.
            return Notification("needs-input",
                                _("{role}: SSO sign-in needed").format(role=role), reason,
                                "critical", action=SSO_ACTION,
                                sign_in=("sso", waits) if waits else None)
        if kind == "keyring":
            # The message says how to unlock without a desktop; with one, the system's
            # own prompt does it, then "Try again" in the menu.
            return Notification("needs-input",
                                _("{role}: keyring locked — unlock it").format(role=role),
                                _with_expiry(reason, exp),
                                "critical")
        if kind == "signin":
            # The reason names the profile and the command; the tray resumes by itself
            # once `aws login` has written the new sign-in.
            return Notification("needs-input",
                                _("{role}: aws login sign-in needed").format(role=role),
                                _with_expiry(reason, exp),
                                "critical", sign_in=("signin", waits) if waits else None)
        if kind == "process":
            return Notification("needs-input",
                                _("{role}: credential process is waiting").format(role=role),
                                _with_expiry(reason, exp),
                                "critical")
        body = _("An MFA code is needed to renew the keys. Click to enter the code.")
        session_end = new.mfa_session_expiration
        if (session_end is not None and new.now is not None and session_end > new.now
                and (new.expiration is None or new.expiration > session_end)):
            # Asked ahead of time: the keys still work, the MFA session ends first.
            body = _("The {mfa_session}; a new code keeps the keys fresh after that. "
                     "Click to enter the code.").format(
                mfa_session=mfa_session_phrase(session_end, new.now, self.tz))
        elif exp:
            body = _("An MFA code is needed to renew the keys. They {expiry}. "
                     "Click to enter the code.").format(expiry=exp)
        return Notification("needs-input", _("{role}: MFA code needed").format(role=role),
                            body, "critical", action=MFA_ACTION)


@dataclass
class KeptNotices:
    """The notifications of the sections kept besides the active role's: one
    ``NotificationPolicy`` per section, so each follows the same no-flood rules and
    names its section. Call ``on_change`` with every kept section's latest snapshot."""

    tz: tzinfo | None = None
    _policies: dict[str, NotificationPolicy] = field(default_factory=dict, init=False)
    _last: dict[str, Snapshot] = field(default_factory=dict, init=False)

    def on_change(self, kept: Sequence[Snapshot]) -> list[Notification]:
        notes: list[Notification] = []
        for s in kept:
            policy = self._policies.get(s.target)
            if policy is None:
                policy = self._policies[s.target] = NotificationPolicy(tz=self.tz,
                                                                       section=s.target)
            before = self._last.get(s.target)
            self._last[s.target] = s
            note = policy.first(s) if before is None else policy.on_change(before, s)
            if note is not None:
                notes.append(note)
        for gone in set(self._policies) - {s.target for s in kept}:
            del self._policies[gone]
            self._last.pop(gone, None)
        return notes


SIGN_IN_KINDS = ("sso", "signin")


def awaited_sign_ins(snapshots: Sequence[Snapshot]) -> set[tuple[str, str]]:
    """The sign-ins (input kind, profile) that some section waits for now."""
    found: set[tuple[str, str]] = set()
    for s in snapshots:
        p = s.problem
        if (s.state is RefreshState.NEEDS_INPUT and p is not None and p.profile
                and p.input_kind in SIGN_IN_KINDS):
            found.add((p.input_kind, p.profile))
    return found


@dataclass
class OneSignInNotice:
    """At most one notification per sign-in that has ended, however many sections wait
    for it and whenever each finds out: five sections over one ended ``aws login`` give one
    notification (and its button, one browser tab). Once no section waits for that sign-in
    any more (the person signed in), the next time it ends is news again."""

    _announced: set[tuple[str, str]] = field(default_factory=set, init=False)

    def filter(self, notes: Sequence[Notification],
               snapshots: Sequence[Snapshot]) -> list[Notification]:
        self._announced &= awaited_sign_ins(snapshots)
        out: list[Notification] = []
        for note in notes:
            if note.sign_in is not None:
                if note.sign_in in self._announced:
                    continue
                self._announced.add(note.sign_in)
            out.append(note)
        return out
