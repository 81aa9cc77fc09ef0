"""What "Find a role…" lists for what was typed: pure, no GUI, built once per profile set.

Every word typed must appear (case-folded) in the profile's name, its account id, its
account name (the part of a name such as ``Prod/AdministratorAccess`` before the slash,
which is how ``sso populate`` names them) or its role (the role's or permission set's
name). The roles used most recently and most often come first (``usage.Usage``), then
those whose name starts with what was typed, then the rest by name. 2,000 roles are
filtered in about a millisecond: one substring test per word per role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tray.domain.models import RoleProfile

LIMIT = 200  # rows shown at most: more words narrow it


@dataclass(frozen=True)
class Entry:
    name: str
    account: str
    role: str
    guard: str | None
    used: bool
    hay: str  # what a word is looked for in, case-folded
    key: str  # the name, case-folded (for "starts with")


@dataclass(frozen=True)
class Found:
    entries: list[Entry]
    total: int  # how many matched (more than shown when over the limit)


def _entry(p: RoleProfile, used: bool) -> Entry:
    account_name = p.name.split("/", 1)[0] if "/" in p.name else ""
    role = p.role_name
    hay = " ".join(x for x in (p.name, p.account, account_name, role) if x).casefold()
    return Entry(p.name, p.account, role, p.guard, used, hay, p.name.casefold())


class RoleIndex:
    """The profiles in the finder's order; ``search`` filters them."""

    def __init__(self, profiles: Iterable[RoleProfile], ranks: Mapping[str, float]) -> None:
        ordered = sorted(profiles, key=lambda p: (-ranks.get(p.name, 0.0), p.name.casefold(),
                                                  p.name))
        self.entries = [_entry(p, p.name in ranks) for p in ordered]
        self._last: tuple[str, list[Entry] | None] = ("", None)

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query: str, limit: int = LIMIT) -> Found:
        q = query.casefold()
        words = q.split()
        if not words:
            return Found(self.entries[:limit], len(self.entries))
        # Typing on narrows: what matches "team01" is among what matched "team0".
        last_q, last = self._last
        pool = last if last is not None and last_q and q.startswith(last_q) else self.entries
        if len(words) == 1:
            w = words[0]
            matched = [e for e in pool if w in e.hay]
        else:
            matched = [e for e in pool if all(w in e.hay for w in words)]
        self._last = (q, matched)
        first = words[0]
        used = [e for e in matched if e.used]
        unused = [e for e in matched if not e.used]
        starts = [e for e in unused if e.key.startswith(first)]
        rest = [e for e in unused if not e.key.startswith(first)] if starts else unused
        return Found((used + starts + rest)[:limit], len(matched))
