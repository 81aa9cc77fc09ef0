"""The tray menu as plain data, built from a status snapshot. No GUI import here.

``build_menu_model`` returns ``MenuNode``s; ``tray_app.to_pystray`` turns them into
pystray's Menu, and ``render_text`` into text for tests and benchmarks::

    Account 123456789012 [disabled]
    arn:aws:sts::123456789012:assumed-role/platform/roletray-1764340010 [disabled]
    expires 14:26 CET (in 52 min) [disabled]
    ----
    (*) platform
    ( ) readonly
    ----
    Refresh now
    ...

Many profiles stay usable: more than ``FLAT_MAX`` are grouped in one submenu
per account, an account with more than ``CHUNK_MAX`` is split in alphabetical
chunks, and more than ``CHUNK_MAX`` accounts are split in ranges of accounts.
Building is linear after one sort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from typing import Literal, TypeVar

from tray.domain.models import RefreshState, RoleProfile, Snapshot
from tray.domain.problems import plain_reason, problem_line
from tray.domain.timefmt import expiry_phrase, keys_work_until, mfa_session_phrase
from tray.i18n import N_, _, ngettext

FLAT_MAX = 15  # up to this many role profiles: one flat list of radio items
CHUNK_MAX = 30  # no submenu holds more entries than this
ERROR_MAX = 110  # characters of the problem line shown in the menu
BADGE_EXACT = 15  # the icon's badge counts each minute in the keys' last 15 minutes

IconState = Literal["fresh", "warning", "error", "idle"]
# Marks the account (and chunk, and range) row that leads to the active role. Rows that
# open a submenu carry no check state: GTK toggles check items as their submenus open.
ACTIVE_MARK = " ✓"


def _noop() -> None:
    return None


@dataclass(frozen=True)
class MenuNode:
    """One menu entry. ``checked`` is None for a plain item; ``children`` makes a submenu."""

    text: str
    action: Callable[[], None] | None = None
    children: tuple[MenuNode, ...] = ()
    checked: bool | None = None
    radio: bool = False
    enabled: bool = True
    separator: bool = False

    @property
    def is_submenu(self) -> bool:
        return bool(self.children)


SEPARATOR = MenuNode("----", separator=True, enabled=False)


@dataclass(frozen=True)
class MenuActions:
    """What the menu's entries do. Each runs on the GUI thread: keep it short."""

    switch: Callable[[str], None] = lambda name: None
    enter_mfa: Callable[[], None] = _noop
    # "Enter MFA code for [NAME]…": a section kept besides the active role's (its target)
    enter_mfa_for: Callable[[str], None] = lambda target: None
    sso_login: Callable[[], None] = _noop  # "Sign in to AWS SSO…": the input profile
    aws_login: Callable[[], None] = _noop  # "Sign in with aws login…": the input profile
    retry: Callable[[], None] = _noop  # "Try again": after answering a credential process
    refresh: Callable[[], None] = _noop
    stop: Callable[[], None] = _noop
    diagnose: Callable[[], None] = _noop
    copy_export: Callable[[], None] = _noop
    open_config: Callable[[], None] = _noop
    open_log: Callable[[], None] = _noop
    toggle_autostart: Callable[[], None] = _noop
    quit: Callable[[], None] = _noop
    keep: Callable[[str], None] = lambda name: None  # keep a role fresh in its own section
    unkeep: Callable[[str], None] = lambda target: None  # stop keeping a section, remove it
    open_console: Callable[[str], None] = lambda name: None  # the console as a kept role
    copy_process_line: Callable[[str], None] = lambda name: None  # its credential_process
    setup: Callable[[], None] = _noop  # "Set up…": the first-run dialog
    sync_accounts: Callable[[], None] = _noop  # "Sync accounts from Identity Center"


def _info(text: str) -> MenuNode:
    return MenuNode(text, enabled=False)


def _one_line(text: str, limit: int = ERROR_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


T = TypeVar("T")


def chunk(items: Sequence[T], size: int = CHUNK_MAX) -> list[Sequence[T]]:
    """Split into the fewest chunks of at most ``size``, as even as possible."""
    if len(items) <= size:
        return [items]
    parts = math.ceil(len(items) / size)
    per = math.ceil(len(items) / parts)
    return [items[i:i + per] for i in range(0, len(items), per)]


def input_needed(s: Snapshot) -> str | None:
    """In needs-input, what a person must provide: "mfa" (the default), "sso", "process",
    "keyring", "signin"."""
    if s.state is not RefreshState.NEEDS_INPUT:
        return None
    kind = s.problem.input_kind if s.problem is not None else None
    return kind or "mfa"


def needs_mfa(s: Snapshot) -> bool:
    """In needs-input, whether what is needed is an MFA code (the default kind)."""
    return input_needed(s) == "mfa"


# What needs-input waits for, in the tooltip and (capitalised) on the menu's state line.
INPUT_LABELS = {"mfa": N_("MFA code needed"), "sso": N_("SSO sign-in needed"),
                "process": N_("credential process is waiting"),
                "keyring": N_("keyring locked — unlock it"),
                "signin": N_("sign-in needed (aws login)")}


def input_label(s: Snapshot) -> str:
    return _(INPUT_LABELS.get(input_needed(s) or "mfa", N_("input needed")))


def refused_with_keys_left(s: Snapshot, now: datetime) -> bool:
    """An error (a refused refresh) while the keys the tools use still work: amber, not red."""
    return (s.state is RefreshState.ERROR and s.expiration is not None
            and s.expiration > now)


def _refused_line(s: Snapshot, now: datetime, tz: tzinfo | None) -> str:
    assert s.expiration is not None
    until = keys_work_until(s.expiration, now, tz)
    reason = plain_reason(s.problem) if s.problem is not None else _("no reason given")
    line = _("Refresh refused: {reason}; {until}")
    room = ERROR_MAX - len(line.format(reason="", until=until))
    return line.format(reason=_one_line(reason, max(room, 20)), until=until)


def _state_line(s: Snapshot) -> str | None:
    if s.state is RefreshState.NEEDS_INPUT:
        label = input_label(s)
        return label[0].upper() + label[1:]
    return {
        RefreshState.REFRESHING: _("Refreshing…"),
        RefreshState.RETRYING: _("Refresh failed; retrying"),
        RefreshState.EXPIRED: _("Keys expired"),
        RefreshState.ERROR: _("Not working"),
    }.get(s.state)


def input_node(s: Snapshot, actions: MenuActions) -> MenuNode | None:
    """The item that gets past needs-input: the MFA prompt, the SSO sign-in, a retry."""
    kind = input_needed(s)
    if kind is None:
        return None
    if kind == "sso":
        return MenuNode(_("Sign in to AWS SSO…"), actions.sso_login)
    if kind == "signin":
        # `aws login` writes the new sign-in; the tray notices it and resumes by itself.
        return MenuNode(_("Sign in with aws login…"), actions.aws_login)
    if kind in ("process", "keyring"):
        # The unlock happens in the system's own prompt (or a terminal); then retry.
        return MenuNode(_("Try again"), actions.retry)
    return MenuNode(_("Enter MFA code…"), actions.enter_mfa)


def identity_nodes(s: Snapshot, now: datetime, tz: tzinfo | None, *,
                   relative: bool = True) -> list[MenuNode]:
    """Who the keys make you, as ``aws sts get-caller-identity`` shows it, and until when.

    ``relative`` False leaves out "(in 52 min)": the line then changes only with the keys,
    so an idle tray need not rebuild its menu every minute (the badge and tooltip count)."""
    if s.role is None:
        return [_info(_("No role active: choose one below"))]
    nodes = [_info(f"{s.role} → [{s.target}]")]
    if s.account:
        nodes.append(_info(_("Account {account}").format(account=s.account)))
    if s.identity_arn:
        nodes.append(_info(s.identity_arn))
    if s.expiration is not None:
        nodes.append(_info(expiry_phrase(s.expiration, now, tz, relative=relative)))
    if s.mfa_session_expiration is not None:
        nodes.append(_info(mfa_session_phrase(s.mfa_session_expiration, now, tz,
                                              relative=relative)))
    return nodes


def role_tools(s: Snapshot, now: datetime, actions: MenuActions) -> list[MenuNode]:
    """What a kept role offers besides switching: the console with its keys (while they
    work) and the ``credential_process`` profile to paste. Only where a role is kept (the
    active one, each extra section): a row per role would double a 2,000-profile menu."""
    if s.role is None:
        return []
    keys_work = s.expiration is not None and s.expiration > now
    return [MenuNode(_("Open console as {role}").format(role=s.role),
                     partial(actions.open_console, s.role), enabled=keys_work),
            MenuNode(_("Copy credential_process line for {role}").format(role=s.role),
                     partial(actions.copy_process_line, s.role))]


def _role_item(p: RoleProfile, active: str | None, actions: MenuActions,
               label: str | None = None) -> MenuNode:
    text = label or p.name
    if p.guard:
        text += f" [{p.guard}]"
    if p.mfa_serial:
        text += " (MFA)"
    return MenuNode(text, partial(actions.switch, p.name), checked=p.name == active, radio=True)


def _group(text: str, children: tuple[MenuNode, ...], active: bool) -> MenuNode:
    return MenuNode(text + (ACTIVE_MARK if active else ""), children=children)


def is_marked(node: MenuNode) -> bool:
    """Whether a submenu row is marked as leading to the active role."""
    return node.is_submenu and node.text.endswith(ACTIVE_MARK)


def role_nodes(profiles: Iterable[RoleProfile], active: str | None,
               actions: MenuActions) -> list[MenuNode]:
    """Every role profile as a radio item; grouped by account when there are many."""
    ordered = sorted(profiles, key=lambda p: (p.name.casefold(), p.name))
    if len(ordered) <= FLAT_MAX:
        return [_role_item(p, active, actions) for p in ordered]
    by_account: dict[str, list[RoleProfile]] = {}
    for p in ordered:
        by_account.setdefault(p.account or "other", []).append(p)
    account_nodes: list[MenuNode] = []
    for account in sorted(by_account):
        members = by_account[account]
        has_active = any(p.name == active for p in members)
        parts = chunk(members)
        if len(parts) == 1:
            children = tuple(_role_item(p, active, actions) for p in members)
        else:
            children = tuple(
                _group(f"{part[0].name} … {part[-1].name}",
                       tuple(_role_item(p, active, actions) for p in part),
                       any(p.name == active for p in part))
                for part in parts)
        n = len(members)
        account_nodes.append(_group(ngettext("{account} ({n} role)", "{account} ({n} roles)",
                                             n).format(account=account, n=n),
                                    children, has_active))
    groups = chunk(account_nodes)
    if len(groups) == 1:
        return account_nodes
    return [_group(_("Accounts {first} … {last}").format(first=g[0].text.split()[0],
                                                         last=g[-1].text.split()[0]),
                   tuple(g), any(is_marked(n) for n in g))
            for g in groups]


def own_target(profile: str) -> str:
    """The section "Keep fresh in its own profile…" writes ``profile``'s keys to."""
    return f"{profile}-roletray"


def kept_nodes(kept: Sequence[Snapshot], items: Sequence[RoleProfile], *, now: datetime,
               tz: tzinfo | None, actions: MenuActions, relative: bool = True) -> list[MenuNode]:
    """The sections kept fresh besides the active role's, each with its own state, the MFA
    prompt for it while it waits for a code, and a way to stop keeping it; and the way to
    add one for a role."""
    nodes: list[MenuNode] = []
    for s in kept:
        line = _state_line(s)
        children = [*identity_nodes(s, now, tz, relative=relative)[1:]]
        if s.problem is not None:
            children.append(_info("⚠ " + _one_line(problem_line(s.problem))))
        if needs_mfa(s):
            children.append(MenuNode(_("Enter MFA code for [{target}]…").format(target=s.target),
                                     partial(actions.enter_mfa_for, s.target)))
        children += role_tools(s, s.now or now, actions)
        children.append(MenuNode(_("Stop keeping [{target}] fresh (remove keys)").format(
                                     target=s.target),
                                 partial(actions.unkeep, s.target)))
        head = _("Also kept fresh: {role} → [{target}]").format(role=s.role or "-",
                                                                 target=s.target)
        nodes.append(MenuNode(head + (f" · {line}" if line else ""), children=tuple(children)))
    taken = {s.target for s in kept}
    offer = [p for p in sorted(items, key=lambda p: (p.name.casefold(), p.name))
             if own_target(p.name) not in taken]
    if not offer:
        return nodes

    def item(p: RoleProfile) -> MenuNode:
        return MenuNode(f"{p.name} → [{own_target(p.name)}]", partial(actions.keep, p.name))

    # (first name, last name, node): submenus of at most CHUNK_MAX, nested as deep as needed.
    level = [(p.name, p.name, item(p)) for p in offer]
    while len(level) > CHUNK_MAX:
        level = [(part[0][0], part[-1][1], MenuNode(f"{part[0][0]} … {part[-1][1]}",
                                                    children=tuple(n for _f, _l, n in part)))
                 for part in chunk(level)]
    nodes.append(MenuNode(_("Keep fresh in its own profile…"),
                          children=tuple(n for _f, _l, n in level)))
    return nodes


def build_menu_model(snapshot: Snapshot, profiles: Mapping[str, RoleProfile] | Iterable[RoleProfile],
                     *, now: datetime, tz: tzinfo | None, actions: MenuActions,
                     autostart: bool | None = None, problems: int = 0,
                     config_hint: str = "~/.aws/config",
                     relative: bool = True, kept: Sequence[Snapshot] = (),
                     sso_sessions: int = 0) -> list[MenuNode]:
    """The whole tray menu for one snapshot. ``tz`` is the zone times are shown in
    (None: the machine's); ``autostart`` None hides "Start at login"; ``relative``: see
    ``identity_nodes``; ``kept``: the sections kept fresh besides the active role's;
    ``sso_sessions``: how many ``[sso-session]`` the config has ("Sync accounts…")."""
    items = list(profiles.values()) if isinstance(profiles, Mapping) else list(profiles)
    s = snapshot
    model: list[MenuNode] = identity_nodes(s, now, tz, relative=relative)
    refused = refused_with_keys_left(s, now)
    state_line = _refused_line(s, now, tz) if refused else _state_line(s)
    if state_line:
        model.append(_info(state_line))
    if s.problem is not None and not refused:  # the refused line already gives the reason
        model.append(_info("⚠ " + _one_line(problem_line(s.problem))))
    needed = input_node(s, actions)
    if needed is not None:
        model.append(needed)
    model.append(SEPARATOR)
    if items:
        model.extend(role_nodes(items, s.role, actions))
    else:
        model.append(_info(_("No role profiles in {config}").format(config=config_hint)))
        model.append(MenuNode(_("Set up…"), actions.setup))
    if sso_sessions:
        model.append(MenuNode(_("Sync accounts from Identity Center"), actions.sync_accounts))
    if problems:
        model.append(_info(ngettext("{n} profile not usable (Diagnose… says why)",
                                    "{n} profiles not usable (Diagnose… says why)",
                                    problems).format(n=problems)))
    active = s.role is not None
    model += [
        SEPARATOR,
        MenuNode(_("Refresh now"), actions.refresh, enabled=active),
        MenuNode(_("Stop (remove keys)"), actions.stop, enabled=active),
        *role_tools(s, now, actions),
        MenuNode(_("Diagnose…"), actions.diagnose),
        MenuNode(_("Copy “export AWS_PROFILE={target}”").format(target=s.target),
                 actions.copy_export),
        MenuNode(_("Open AWS config"), actions.open_config),
        MenuNode(_("Open log"), actions.open_log),
        SEPARATOR,
    ]
    extra = kept_nodes(kept, items, now=now, tz=tz, actions=actions, relative=relative)
    if extra:
        model += [*extra, SEPARATOR]
    if autostart is not None:
        model.append(MenuNode(_("Start at login"), actions.toggle_autostart,
                              checked=autostart))
    model.append(MenuNode(_("Quit"), actions.quit))
    return model


def render_text(model: Sequence[MenuNode], indent: int = 0) -> str:
    """The menu as text: ``(*)``/``( )`` radio, ``[x]``/``[ ]`` check, ``>`` submenu."""
    lines: list[str] = []
    _render(model, indent, lines)
    return "\n".join(lines)


def _render(model: Sequence[MenuNode], depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for n in model:
        if n.separator:
            out.append(pad + "----")
            continue
        mark = ""
        if n.checked is not None:
            mark = ("(*) " if n.checked else "( ) ") if n.radio else ("[x] " if n.checked else "[ ] ")
        out.append(pad + mark + n.text + (" >" if n.children else "")
                   + ("" if n.enabled else " [disabled]"))
        if n.children:
            _render(n.children, depth + 1, out)


def find(model: Sequence[MenuNode], text: str) -> MenuNode | None:
    """The first node whose text starts with ``text``, depth first."""
    for n in model:
        if n.text.startswith(text):
            return n
        if n.children:
            hit = find(n.children, text)
            if hit is not None:
                return hit
    return None


@dataclass(frozen=True)
class TrayLook:
    """What the icon shows: its state colour, the minutes badge and the tooltip; the
    label beside it (hosts that show one: GNOME's AppIndicator extension, which shows no
    tooltips) and whether it wants attention (red, or input needed)."""

    state: IconState
    minutes_left: int | None
    tooltip: str
    label: str = ""
    attention: bool = False


# Which colour wins when the active role and a kept section differ: the worse one.
_RANK: dict[IconState, int] = {"idle": 0, "fresh": 1, "warning": 2, "error": 3}
# A kept section colours the icon only in trouble: its routine refreshes stay quiet.
_KEPT_TROUBLE = (RefreshState.RETRYING, RefreshState.NEEDS_INPUT, RefreshState.ERROR,
                 RefreshState.EXPIRED)


def _section_look(s: Snapshot, now: datetime) -> tuple[IconState, int | None, str | None]:
    """One section's colour, seconds left and trouble word (for the tooltip)."""
    left = None if s.expiration is None else int((s.expiration - now).total_seconds())
    state: IconState
    no_keys = left is None or left <= 0  # tools using the target fail now
    if s.state is RefreshState.EXPIRED or (no_keys and s.state is not RefreshState.REFRESHING):
        state = "error"
    elif s.state in (RefreshState.REFRESHING, RefreshState.RETRYING, RefreshState.NEEDS_INPUT,
                     RefreshState.ERROR):
        state = "warning"
    else:
        state = "fresh"
    hint = {
        RefreshState.REFRESHING: _("refreshing"),
        RefreshState.RETRYING: _("retrying"),
        RefreshState.NEEDS_INPUT: input_label(s),
        RefreshState.ERROR: _("refresh refused") if not no_keys else _("error"),
        RefreshState.EXPIRED: _("expired"),
    }.get(s.state)
    return state, left, hint


def badge_minutes(left: int) -> int | None:
    """The badge for ``left`` seconds of keys: none above an hour; then the minutes left,
    rounded down to 5 until the last ``BADGE_EXACT`` minutes (a refresh is due 10 minutes
    before the end: until then, the minute does not matter), then each minute; at least 1.
    An idle tray redraws its icon 14 times an hour instead of 60."""
    if left <= 0 or left >= 3600:
        return None
    minutes = left // 60
    if minutes < BADGE_EXACT:
        return max(1, minutes)
    return minutes - minutes % 5


def tray_look(s: Snapshot, now: datetime, kept: Sequence[Snapshot] = (),
              tz: tzinfo | None = None) -> TrayLook:
    """fresh → green; refreshing, retrying, input needed, or a refused refresh while the
    keys still work → amber; expired, error without working keys, or no usable keys
    (unless a refresh is running) → red; idle → grey. Red means tools fail now. The badge
    counts the minutes of the last hour of the keys (``badge_minutes``); the tooltip says
    when they expire as a clock time in ``tz``, so it changes only with the keys. A
    ``kept`` section in trouble (retrying, input needed, refused, expired) turns the icon
    amber or red the same way, and the tooltip names it."""
    troubles = [(k, *_section_look(k, k.now or now)) for k in kept
                if k.role is not None and k.state in _KEPT_TROUBLE]
    extra = [f"[{k.target}] {k.role}: {hint}" for k, _state, _left, hint in troubles]
    worst: IconState = max((st for _k, st, _l, _h in troubles), key=_RANK.__getitem__,
                           default="idle")
    wants_input = any(k.state is RefreshState.NEEDS_INPUT for k, *_ in troubles)
    if s.role is None or s.state is RefreshState.IDLE:
        return TrayLook(worst, None, " · ".join([_("roletray · no role active"), *extra]),
                        attention=worst == "error" or wants_input)
    state, left, hint = _section_look(s, now)
    if s.state is RefreshState.EXPIRED:
        hint = None  # "expired" is said by the time left
    minutes = None if left is None else badge_minutes(left)
    parts = [s.role]
    if s.account:
        parts.append(s.account)
    if s.expiration is not None:
        parts.append(expiry_phrase(s.expiration, now, tz, relative=False))
    if hint:
        parts.append(hint)
    shown = max(state, worst, key=_RANK.__getitem__)
    # The label changes with the badge, not each minute: as often as the icon.
    label = s.role + (" · " + _("{minutes} min").format(minutes=minutes) if minutes is not None
                      else " · " + _("expired") if state == "error" and (left is None or left <= 0)
                      else "")
    return TrayLook(shown, minutes, " · ".join(parts + extra), label,
                    attention=shown == "error" or wants_input
                    or s.state is RefreshState.NEEDS_INPUT)
