"""The menu's rows for finding a role: "Find a role…" after the role rows and, in a menu
grouped by account (more than ``FLAT_MAX`` roles), the roles used most recently and most
often at the top of the roles, before the accounts. No GUI import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from tray.domain.models import RoleProfile
from tray.i18n import N_, _
from tray.ui.menu import FLAT_MAX, SEPARATOR, MenuNode

FIND_TEXT = N_("Find a role…")  # translated where shown
RECENT_TEXT = N_("Recently used")
RECENT_MAX = 5


def recent_nodes(recent: Sequence[str], profiles: Mapping[str, RoleProfile],
                 active: str | None, switch: Callable[[str], None]) -> list[MenuNode]:
    nodes = [MenuNode(_(RECENT_TEXT), enabled=False)]
    for name in recent[:RECENT_MAX]:
        p = profiles.get(name)
        if p is None:
            continue
        text = name + (f" [{p.guard}]" if p.guard else "") + (" (MFA)" if p.mfa_serial else "")
        nodes.append(MenuNode(text, partial(switch, name), checked=name == active, radio=True))
    return nodes if len(nodes) > 1 else []


def with_finder(model: list[MenuNode], profiles: Mapping[str, RoleProfile], *,
                active: str | None, find: Callable[[], None], switch: Callable[[str], None],
                recent: Sequence[str] = ()) -> list[MenuNode]:
    """``model`` (``build_menu_model``'s) with the finder's row and the recent roles."""
    if not profiles:
        return model
    try:
        first = model.index(SEPARATOR)  # the identity lines end here; the roles follow
        refresh = next(i for i, n in enumerate(model) if n.text == _("Refresh now"))
    except (ValueError, StopIteration):
        return model
    end = max(i for i in range(first, refresh) if model[i].separator)  # after the roles
    top = recent_nodes(recent, profiles, active, switch) if len(profiles) > FLAT_MAX else []
    return [*model[:first + 1], *top, *([SEPARATOR] if top else []),
            *model[first + 1:end], MenuNode(_(FIND_TEXT), find), *model[end:]]
