"""The block of the AWS config file that ``roletray sso populate`` owns. Pure: no I/O.

One block per sso-session, between two comment lines that name roletray and the
session; inside, one profile per (account, permission set)::

    # roletray sso populate: begin sso-session corp
    # Written by `roletray sso populate corp`; the next run replaces everything up to the end line.
    [profile Prod/AdministratorAccess]
    sso_session = corp
    sso_account_id = 111122223333
    sso_role_name = AdministratorAccess
    region = eu-west-1
    # roletray sso populate: end sso-session corp

A second run replaces the lines from the begin line to the end line, and only
those: every byte outside stays (line endings, a missing final newline). A first
run appends the block at the end of the file. Comments are invisible to
botocore, so the block is a run of ordinary profiles to every AWS tool.
"""

from __future__ import annotations

import fnmatch
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tray.awsfiles import awsconfig, inifile

DEFAULT_TEMPLATE = "{account_name}/{role_name}"
FIELDS = ("account_name", "account_id", "role_name", "sso_session")
_NAME_PUNCT = frozenset("._-/@+=,:")


@dataclass(frozen=True)
class Account:
    """An account the sign-in can use, and its permission sets."""

    account_id: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    account_id: str
    account_name: str
    role_name: str
    guard: str | None = None  # roletray_guard: asked before it becomes the active role


@dataclass(frozen=True)
class Skipped:
    name: str
    account_id: str
    account_name: str
    role_name: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"profile": self.name, "account_id": self.account_id,
                "account_name": self.account_name, "role_name": self.role_name,
                "reason": self.reason}


@dataclass(frozen=True)
class Block:
    """Where a session's block is: lines ``[begin, end)`` of the file (end line included)."""

    begin: int
    end: int
    names: tuple[str, ...]  # the profiles it holds now


class BlockError(ValueError):
    """The file's block cannot be found or replaced safely (a 1-based line, a problem)."""

    def __init__(self, lineno: int, problem: str) -> None:
        self.lineno = lineno
        self.problem = problem
        super().__init__(f"line {lineno}: {problem}")


def begin_line(session: str) -> str:
    return f"# roletray sso populate: begin sso-session {session}"


def end_line(session: str) -> str:
    return f"# roletray sso populate: end sso-session {session}"


def check_template(template: str) -> None:
    """Raise ``ValueError`` (naming the allowed fields) for a template that cannot be used."""
    allowed = ", ".join("{" + f + "}" for f in FIELDS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"--template {template!r}: {e} (fields: {allowed})") from None
    used = [f for _, f, _, _ in parsed if f is not None]
    for f in used:
        if f not in FIELDS:
            raise ValueError(f"--template {template!r}: unknown field {{{f}}} "
                             f"(fields: {allowed})")
    try:
        template.format_map(dict.fromkeys(FIELDS, "x"))
    except (ValueError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"--template {template!r}: cannot be used ({e}; fields: "
                         f"{allowed})") from None
    if "role_name" not in used:
        raise ValueError(f"--template {template!r}: needs {{role_name}}, or the permission "
                         "sets of one account would all get the same name")
    if "account_name" not in used and "account_id" not in used:
        raise ValueError(f"--template {template!r}: needs {{account_name}} or {{account_id}}, "
                         "or the accounts would all get the same names")


def sanitise(name: str) -> str:
    """A profile name the AWS CLI reads back as written: letters, digits and ``._-/@+=,:``;
    any other run of characters (spaces, brackets, quotes) becomes one ``-``."""
    out: list[str] = []
    for c in name:
        ok = c.isalnum() or c in _NAME_PUNCT
        if ok:
            out.append(c)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def name_for(template: str, session: str, account: Account, role: str) -> str:
    fields = {"account_name": account.name or account.account_id,
              "account_id": account.account_id, "role_name": role, "sso_session": session}
    # Each value on its own first: "Audit [old]" gives "Audit-old", not "Audit-old-".
    return sanitise(template.format_map({k: sanitise(v) for k, v in fields.items()}))


def plan(session: str, accounts: Iterable[Account], template: str,
         taken: Mapping[str, str], guards: Sequence[tuple[str, str]] = ()
         ) -> tuple[list[Profile], list[Skipped]]:
    """The profiles to write, and those skipped with why.

    ``taken``: profile name -> where it is defined outside the block (for the reason).
    ``guards``: (LABEL, PATTERN) pairs; a profile whose name matches PATTERN (shell-style,
    ``Prod*/*``) gets ``roletray_guard = LABEL``, the first match winning.
    """
    profiles: list[Profile] = []
    skipped: list[Skipped] = []
    seen: dict[str, Profile] = {}
    for account in accounts:
        for role in account.roles:
            name = name_for(template, session, account, role)
            why = None
            if not name or not _round_trips(name):
                why = f"the template gives no usable profile name ({name!r})"
            elif name in taken:
                why = f"a profile of that name is already defined {taken[name]}, outside the block"
            elif name in seen:
                first = seen[name]
                why = (f"the template gives the same name as account {first.account_id} "
                       f"permission set {first.role_name}; add {{account_id}} to --template")
            if why is not None:
                skipped.append(Skipped(name, account.account_id, account.name, role, why))
                continue
            guard = next((label for label, pattern in guards
                          if fnmatch.fnmatchcase(name, pattern)), None)
            seen[name] = Profile(name, account.account_id, account.name, role, guard)
            profiles.append(seen[name])
    return profiles, skipped


def _round_trips(name: str) -> bool:
    return awsconfig.build_profile_map({f"profile {name}": {}}).keys() == {name}


def render(session: str, profiles: Sequence[Profile], region: str, nl: str = "\n") -> list[str]:
    """The block's lines, each ending with ``nl``."""
    note = (f"# Written by `roletray sso populate {session}`; the next run replaces "
            "everything up to the end line.")
    lines = [begin_line(session) + nl, note + nl]
    for i, p in enumerate(profiles):
        if i:
            lines.append(nl)
        lines.append(f"[profile {p.name}]{nl}")
        items = [("sso_session", session), ("sso_account_id", p.account_id),
                 ("sso_role_name", p.role_name), ("region", region)]
        if p.guard:
            items.append(("roletray_guard", p.guard))
        lines += inifile.render_items(items, nl)
    lines.append(end_line(session) + nl)
    return lines


def find(layout: inifile.Layout, session: str) -> Block | None:
    """The session's block in the file, or None; ``BlockError`` for a broken one."""
    lines = layout.lines
    begin, end = begin_line(session), end_line(session)
    starts = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n").rstrip() == begin]
    stops = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n").rstrip() == end]
    if not starts and not stops:
        return None
    fix = "; fix the comment lines by hand or remove the block"
    if len(starts) > 1 or len(stops) > 1:
        twice = starts[1] if len(starts) > 1 else stops[1]
        raise BlockError(twice + 1, f"roletray's block for sso-session {session} appears "
                         f"twice{fix}")
    if not starts or not stops or stops[0] < starts[0]:
        where = (starts or stops)[0]
        raise BlockError(where + 1, f"roletray's block for sso-session {session} has "
                         f"{'no end' if starts else 'no begin'} line{fix}")
    a, b = starts[0], stops[0] + 1
    inside = [s for s in layout.sections if a <= s.header < b]
    # A key line before the next header belongs to the block's last section: when the
    # block changes, so would its meaning.
    for j in range(b, len(lines)):
        s = lines[j].strip()
        if not s or s[0] in "#;":
            continue
        if not (lines[j][:1] == "[" and any(sec.header == j for sec in layout.sections)):
            raise BlockError(j + 1, "this line, after the end of roletray's block for "
                             f"sso-session {session}, belongs to no section of its own; move "
                             "it into a section or delete it")
        break
    names = awsconfig.build_profile_map({s.name: {} for s in inside})
    return Block(a, b, tuple(names))


def taken_names(layout: inifile.Layout, block: Block | None,
                describe: str = "in the file") -> dict[str, str]:
    """Profile name -> where it is defined, for every profile outside ``block``."""
    out: dict[str, str] = {}
    for sec in layout.sections:
        if block is not None and block.begin <= sec.header < block.end:
            continue
        for name in awsconfig.build_profile_map({sec.name: {}}):
            out[name] = f"{describe} line {sec.lineno}"
    return out


def splice(layout: inifile.Layout, block: Block | None, new_block: Sequence[str]) -> str:
    """The file's text with ``new_block`` (lines with endings) in place of ``block``, or
    appended at the end (after a blank line) when there is none."""
    lines = layout.lines
    if block is not None:
        head, tail = lines[:block.begin], lines[block.end:]
        body = list(new_block)
        if not tail and lines and not _ending(lines[-1]):  # no final newline: keep it so
            body[-1] = body[-1].rstrip("\r\n")
        return "".join(head + body + tail)
    if not lines:
        return "".join(new_block)
    nl = inifile.newline_of(lines)
    last = lines[-1]
    final_missing = not _ending(last)
    head = lines[:-1] + [last + nl if final_missing else last]
    if "".join(head).strip():
        head.append(nl)  # one blank line before the block
    body = list(new_block)
    if final_missing:
        body[-1] = body[-1].rstrip("\r\n")
    return "".join(head + body)


def check_splice(old: inifile.Layout, block: Block | None, new_text: str, session: str) -> None:
    """Raise ``BlockError`` unless every section outside the block reads as it did."""
    try:
        new = inifile.parse(new_text)
    except inifile.IniSyntaxError as e:
        raise BlockError(e.lineno, f"replacing roletray's block would make the file "
                         f"unreadable ({e.problem})") from None
    new_block = find(new, session)

    def outside(layout: inifile.Layout, b: Block | None) -> list[tuple[str, dict[str, str]]]:
        return [(s.name, layout.items(s)) for s in layout.sections
                if b is None or not b.begin <= s.header < b.end]

    if outside(old, block) != outside(new, new_block):
        line = block.begin + 1 if block else len(old.lines)
        raise BlockError(line, "replacing roletray's block would change how the lines "
                         "around it are read")


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]
