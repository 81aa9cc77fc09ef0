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

from tray.domain.text import N_, Text

DENIED_RE = re.compile(
    r"(?:User|Principal): (?P<caller>arn:\S+) is not authorized to perform: "
    r"sts:AssumeRole(?: on resource: (?P<role>arn:[^\s,;]+))?(?P<tail>[^;]*)", re.IGNORECASE)


# The CLI's error for a denied assume: the profile, then the sentence below.
PROFILE_DENIED = N_("profile '{profile}': {finding}")


def fix_pointer(profile: str) -> Text:
    """Where the fix is: the doctor's report (the tray's "Diagnose" shows the same)."""
    return Text(N_("`roletray doctor {profile}` shows the fix"), profile=profile)


def with_fix(finding: str, profile: str) -> Text:
    """The sentence: ``<finding>; `roletray doctor PROFILE` shows the fix``."""
    return Text(N_("{finding}; `roletray doctor {profile}` shows the fix"), finding=finding,
                profile=profile)


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1] if "/" in role_arn else role_arn


def assume_denied_finding(message: str, role_arn: str | None = None) -> Text:
    """What AWS's AccessDenied for AssumeRole says by itself, finding first.

    >>> assume_denied_finding("User: arn:aws:iam::111122223333:user/dev is not authorized "
    ...                       "to perform: sts:AssumeRole on resource: "
    ...                       "arn:aws:iam::111122223333:role/locked")
    "the trust policy of role 'locked' probably does not trust arn:aws:iam::111122223333:user/dev (AWS: AccessDenied for sts:AssumeRole on arn:aws:iam::111122223333:role/locked)"

    AWS's own reason, when its message gives one ("because no identity-based policy
    allows ...", "with an explicit deny in ..."), is the finding instead (AWS's words
    stay English: they are AWS's).
    """
    m = DENIED_RE.search(message or "")
    if m is None:
        if role_arn and role_arn not in message:
            return Text(N_("AWS denied sts:AssumeRole on {role_arn}: {message}"),
                        role_arn=role_arn, message=message)
        return Text(N_("AWS denied sts:AssumeRole: {message}"), message=message)
    caller, role = m.group("caller"), role_arn or m.group("role")
    tail = m.group("tail").strip().rstrip(".")
    if tail:
        if role:
            return Text(N_("AWS denies {caller} sts:AssumeRole on role '{name}' {reason}"),
                        caller=caller, name=_role_name(role), reason=tail)
        return Text(N_("AWS denies {caller} sts:AssumeRole {reason}"), caller=caller,
                    reason=tail)
    if not role:
        return Text(N_("the role's trust policy probably does not trust {caller} (AWS: "
                       "AccessDenied for sts:AssumeRole)"), caller=caller)
    return Text(N_("the trust policy of role '{name}' probably does not trust {caller} (AWS: "
                   "AccessDenied for sts:AssumeRole on {role_arn})"), name=_role_name(role),
                caller=caller, role_arn=role)
