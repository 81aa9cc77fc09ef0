"""One sentence for a denied AssumeRole, wherever it is said.

The CLI (with or without a running instance), the notifications, the menu's ⚠ line and
the README all say it in one shape: the finding first, then where the fix is, once::

    the trust policy of role 'locked' does not trust arn:aws:iam::123456789012:user/dev
    (it trusts arn:aws:iam::999999999999:root); `roletray doctor locked` shows the fix

The finding is the doctor's when it could read the role's trust policy, else what AWS's
denial alone says (``assume_denied_finding``: "probably", with AWS's code in brackets).
"""

from __future__ import annotations

import re

DENIED_RE = re.compile(
    r"(?:User|Principal): (?P<caller>arn:\S+) is not authorized to perform: "
    r"sts:AssumeRole(?: on resource: (?P<role>arn:[^\s,;]+))?(?P<tail>[^;]*)", re.IGNORECASE)


def fix_pointer(profile: str) -> str:
    """Where the fix is: the doctor's report (the tray's "Diagnose" shows the same)."""
    return f"`roletray doctor {profile}` shows the fix"


def with_fix(finding: str, profile: str) -> str:
    """The sentence: ``<finding>; `roletray doctor PROFILE` shows the fix``."""
    return f"{finding}; {fix_pointer(profile)}"


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1] if "/" in role_arn else role_arn


def assume_denied_finding(message: str, role_arn: str | None = None) -> str:
    """What AWS's AccessDenied for AssumeRole says by itself, finding first.

    >>> assume_denied_finding("User: arn:aws:iam::111122223333:user/dev is not authorized "
    ...                       "to perform: sts:AssumeRole on resource: "
    ...                       "arn:aws:iam::111122223333:role/locked")
    "the trust policy of role 'locked' probably does not trust arn:aws:iam::111122223333:user/dev (AWS: AccessDenied for sts:AssumeRole on arn:aws:iam::111122223333:role/locked)"

    AWS's own reason, when its message gives one ("because no identity-based policy
    allows ...", "with an explicit deny in ..."), is the finding instead.
    """
    m = DENIED_RE.search(message or "")
    if m is None:
        role = f" on {role_arn}" if role_arn and role_arn not in message else ""
        return f"AWS denied sts:AssumeRole{role}: {message}"
    caller, role = m.group("caller"), role_arn or m.group("role")
    tail = m.group("tail").strip().rstrip(".")
    if tail:
        on = f" on role '{_role_name(role)}'" if role else ""
        return f"AWS denies {caller} sts:AssumeRole{on} {tail}"
    if not role:
        return (f"the role's trust policy probably does not trust {caller} "
                "(AWS: AccessDenied for sts:AssumeRole)")
    return (f"the trust policy of role '{_role_name(role)}' probably does not trust {caller} "
            f"(AWS: AccessDenied for sts:AssumeRole on {role})")
