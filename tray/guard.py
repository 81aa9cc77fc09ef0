"""Guarded profiles (``roletray_guard = LABEL``): asked before they are used, never unasked.

A profile such as production carries a label; every way of making it the keys in use
asks first: the tray's dialog, ``assume`` on a terminal, ``exec`` and ``env``. Without a
terminal the command refuses (exit 2) unless ``--yes`` says the person meant it.
"""

from __future__ import annotations

from collections.abc import Callable

from tray.domain.errors import UsageError
from tray.domain.models import RoleProfile
from tray.i18n import N_

Ask = Callable[[str], str]
"""``ask(question) -> answer``: a terminal's ``input``; None where there is no terminal."""


def question(role: RoleProfile, verb: str = "Use") -> str:
    """``Profile 'prod' is guarded (production). Switch to prod? [y/N] ``"""
    return f"Profile '{role.name}' is guarded ({role.guard}). {verb} {role.name}? [y/N] "


def confirm(role: RoleProfile, *, yes: bool, ask: Ask | None, verb: str = "Use",
            flag: str = "--yes") -> None:
    """Return when ``role`` may be used: not guarded, ``yes`` given, or the person said yes.
    Raises ``UsageError`` (exit 2) otherwise, before anything is written."""
    if role.guard is None or yes:
        return
    if ask is None:
        raise UsageError(N_("profile '{name}' is guarded ({guard}): run this on a terminal to "
                            "confirm, or pass {flag}"),
                         name=role.name, guard=role.guard, flag=flag)
    try:
        answer = ask(question(role, verb))
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(N_("profile '{name}' ({guard}): not confirmed; nothing was changed"),
                         name=role.name, guard=role.guard)
