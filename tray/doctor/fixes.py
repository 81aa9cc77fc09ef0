"""The policy statements that fix a role that cannot be assumed, and where to put them.

Pure text: the doctor decides *what* is wrong; this module writes the fix the
way the seed's author needed it, as JSON ready to paste::

    {
        "Effect": "Allow",
        "Principal": {
            "AWS": "arn:aws:iam::111122223333:root"
        },
        "Action": "sts:AssumeRole"
    }
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tray.domain.text import N_, Text, join

_DENIED_RE = re.compile(
    r"(?:User|Principal): (?P<caller>arn:\S+) is not authorized to perform: "
    r"sts:AssumeRole on resource: (?P<role>arn:[^\s,;]+)", re.IGNORECASE)
_ARN_ACCOUNT_RE = re.compile(r"^arn:(?P<partition>[^:]+):[^:]*:[^:]*:(?P<account>\d{12}):")


def pretty(doc: Any) -> str:
    return json.dumps(doc, indent=4)


def compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def account_of(arn: str) -> str:
    m = _ARN_ACCOUNT_RE.match(arn)
    return m.group("account") if m else ""


def partition_of(arn: str) -> str:
    m = _ARN_ACCOUNT_RE.match(arn)
    return m.group("partition") if m else "aws"


def role_name_of(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def trustable_arn(caller_arn: str) -> str:
    """The ARN a trust policy can name for this caller.

    A role session (``arn:aws:sts::1:assumed-role/R/s``) is trusted through its
    role (``arn:aws:iam::1:role/R``); users and roots are named as they are.
    """
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


def root_arn(caller_arn: str) -> str:
    return f"arn:{partition_of(caller_arn)}:iam::{account_of(caller_arn)}:root"


def trust_statement(principal: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}


def assume_policy(role_arn: str) -> dict[str, Any]:
    """The caller's identity policy that allows assuming exactly this role."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}


def merged_trust(current: dict[str, Any] | None, statement: dict[str, Any]) -> dict[str, Any]:
    """The current trust policy with ``statement`` appended (a new one if unknown)."""
    if current is None:
        return {"Version": "2012-10-17", "Statement": [statement]}
    doc = copy.deepcopy(current)
    stmts = doc.get("Statement", [])
    if isinstance(stmts, dict):
        stmts = [stmts]
    doc["Statement"] = [*stmts, statement]
    doc.setdefault("Version", "2012-10-17")
    return doc


def trust_fix(role_arn: str, caller_arn: str, current: dict[str, Any] | None) -> Text:
    """What to add to the role's trust relationship, and where, for a caller it does not trust."""
    name = role_name_of(role_arn)
    account = account_of(caller_arn)
    narrow = trustable_arn(caller_arn)
    same_account = account_of(role_arn) == account
    lines: list[str] = [
        Text(N_("Add this statement to the trust relationship of role '{name}' (IAM console -> "
                "Roles -> {name} -> Trust relationships -> Edit trust policy), as an "
                "administrator of account {account}:"), name=name, account=account_of(role_arn)),
        "",
        pretty(trust_statement(root_arn(caller_arn))),
        "",
        Text(N_("It trusts every user and role of account {account} whose own IAM policy "
                "allows sts:AssumeRole on {role_arn}."), account=account, role_arn=role_arn)
        if same_account else
        Text(N_("It trusts every user and role of account {account} whose own IAM policy "
                "allows sts:AssumeRole on {role_arn} (the usual way to trust another "
                "account)."), account=account, role_arn=role_arn),
        Text(N_("The narrower choice trusts only you:")),
        "",
        pretty(trust_statement(narrow)),
        "",
        Text(N_("Or from the command line: save the current trust policy with this statement "
                "added as trust.json and run")),
        (f"    aws iam update-assume-role-policy --role-name {name} "
         "--policy-document file://trust.json"),
    ]
    if current is not None:
        lines += [Text(N_("with trust.json:")), "",
                  pretty(merged_trust(current, trust_statement(narrow)))]
    else:
        lines.append(Text(N_("(get the current one with `aws iam get-role --role-name {name} "
                             "--query Role.AssumeRolePolicyDocument`: update-assume-role-policy "
                             "replaces the whole document)"), name=name))
    return join("\n", lines)


def identity_fix(role_arn: str, caller_arn: str) -> Text:
    """The inline policy that lets the caller call sts:AssumeRole on the role."""
    parts = caller_arn.split(":", 5)
    kind, _, rest = (parts[5] if len(parts) == 6 else "").partition("/")
    name = role_name_of(role_arn)
    policy_name = f"roletray-assume-{name}"[:128]
    doc = pretty(assume_policy(role_arn))
    if kind == "user":
        who = rest.rsplit("/", 1)[-1]
        where = Text(N_("(IAM console -> Users -> {who} -> Add permissions -> Create inline "
                        "policy), or\n    {command}"), who=who,
                     command=f"aws iam put-user-policy --user-name {who} --policy-name "
                             f"{policy_name} --policy-document file://assume.json")
    elif kind == "assumed-role":
        who = rest.split("/")[0]
        where = Text(N_("(IAM console -> Roles -> {who} -> Add permissions -> Create inline "
                        "policy), or\n    {command}"), who=who,
                     command=f"aws iam put-role-policy --role-name {who} --policy-name "
                             f"{policy_name} --policy-document file://assume.json")
    else:
        where = Text(N_("(as an inline policy of the identity you use)"))
    return Text(N_("Allow sts:AssumeRole on the role in your own IAM policy {where}\nwith "
                   "assume.json:\n\n{policy}"), where=where, policy=doc)


def trust_hint(error_message: str, role_arn: str | None = None,
               caller_arn: str | None = None) -> str:
    """One line for an AssumeRole AccessDenied: the usual cause and the statement that fixes it.

    ``""`` when the message is not an AssumeRole AccessDenied. The ARNs come
    from the message when not given::

        >>> hint = trust_hint("User: arn:aws:iam::111122223333:user/dev is not authorized to "
        ...                   "perform: sts:AssumeRole on resource: "
        ...                   "arn:aws:iam::111122223333:role/platform")
        >>> '"Principal":{"AWS":"arn:aws:iam::111122223333:root"}' in hint
        True
    """
    m = _DENIED_RE.search(error_message or "")
    if m is None and not (role_arn and caller_arn and "AccessDenied" in (error_message or "")):
        return ""
    caller = caller_arn or (m.group("caller") if m else "")
    role = role_arn or (m.group("role") if m else "")
    if not caller or not role:
        return ""
    statement = compact(trust_statement(root_arn(caller)))
    return (f"the role's trust relationship probably does not trust you: add {statement} "
            f"(or, narrower, Principal {trustable_arn(caller)}) to the trust policy of role "
            f"'{role_name_of(role)}' (IAM console -> Roles -> {role_name_of(role)} -> Trust "
            f"relationships), and allow sts:AssumeRole on {role} in your own IAM policy; "
            "`roletray doctor` checks both")
