"""Read what IAM shows the caller about itself: its identity policies, or a simulation.

Every read is allowed to fail: what could not be seen is returned by name
(``iam:ListGroupsForUser``) so the doctor can say so, never raised.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import botocore.parsers

from tray.domain.text import N_, Text


@dataclass
class IdentityPolicies:
    """The caller's policies as (label, document), its boundary, and what was not readable."""

    policies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    boundary: tuple[str, dict[str, Any]] | None = None
    unreadable: list[str] = field(default_factory=list)

    def label_of(self, statement: dict[str, Any] | None) -> str | None:
        """Which policy a statement (as returned by ``policy.evaluate``) came from."""
        if statement is None:
            return None
        for label, doc in [*self.policies, *([self.boundary] if self.boundary else [])]:
            stmts = doc.get("Statement", [])
            for s in stmts if isinstance(stmts, list) else [stmts]:
                if s is statement:
                    return label
        return None


class _Denied(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def document(raw: Any) -> dict[str, Any]:
    """boto3 decodes IAM documents to dicts; other clients may hand back URL-encoded JSON."""
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    if text.lstrip().startswith("%7B") or "%22" in text:
        text = urllib.parse.unquote(text)
    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


def _call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    method = getattr(client, _snake(operation))
    try:
        return dict(method(**params))
    except botocore.exceptions.ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        suffix = "" if code in ("AccessDenied", "AccessDeniedException") else f" ({code})"
        raise _Denied(f"iam:{operation}{suffix}") from e
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as e:
        raise _Denied(f"iam:{operation} ({type(e).__name__})") from e


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    marker: str | None = None
    while True:
        page = _call(client, operation, **params, **({"Marker": marker} if marker else {}))
        yield from page.get(key, [])
        if not page.get("IsTruncated") or not page.get("Marker"):
            return
        marker = page["Marker"]


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _managed(client: Any, arn: str) -> dict[str, Any]:
    meta = _call(client, "GetPolicy", PolicyArn=arn)["Policy"]
    version = _call(client, "GetPolicyVersion", PolicyArn=arn,
                    VersionId=meta["DefaultVersionId"])["PolicyVersion"]
    return document(version["Document"])


def read_user_policies(client: Any, user: str) -> IdentityPolicies:
    """Inline, attached and group policies of an IAM user, and its permissions boundary."""
    return _read_policies(client, "User", user)


def read_role_policies(client: Any, role: str) -> IdentityPolicies:
    """Inline and attached policies of the role behind a role session, and its boundary."""
    return _read_policies(client, "Role", role)


def _read_policies(client: Any, kind: str, name: str) -> IdentityPolicies:
    """The IAM API names its calls alike for users and roles (``ListUserPolicies``,
    ``ListRolePolicies``...); each read that is denied is recorded, not raised."""
    out = IdentityPolicies()
    ident = {f"{kind}Name": name}
    inline_label = N_("inline policy '{policy}' of user {name}") if kind == "User" \
        else N_("inline policy '{policy}' of role {name}")

    def inline() -> None:
        for pol in list(_pages(client, f"List{kind}Policies", "PolicyNames", **ident)):
            doc = _call(client, f"Get{kind}Policy", PolicyName=pol, **ident)["PolicyDocument"]
            out.policies.append((Text(inline_label, policy=pol, name=name), document(doc)))

    def attached() -> None:
        for p in list(_pages(client, f"ListAttached{kind}Policies", "AttachedPolicies", **ident)):
            out.policies.append((Text(N_("managed policy '{policy}'"), policy=p["PolicyName"]),
                                 _managed(client, p["PolicyArn"])))

    def groups() -> None:
        for g in list(_pages(client, "ListGroupsForUser", "Groups", UserName=name)):
            group = g["GroupName"]
            for pol in list(_pages(client, "ListGroupPolicies", "PolicyNames", GroupName=group)):
                doc = _call(client, "GetGroupPolicy", GroupName=group,
                            PolicyName=pol)["PolicyDocument"]
                out.policies.append((Text(N_("inline policy '{policy}' of group {group}"),
                                      policy=pol, group=group), document(doc)))
            for p in list(_pages(client, "ListAttachedGroupPolicies", "AttachedPolicies",
                                 GroupName=group)):
                out.policies.append((Text(N_("managed policy '{policy}' of group {group}"),
                                          policy=p["PolicyName"], group=group),
                                     _managed(client, p["PolicyArn"])))

    def boundary() -> None:
        info = _call(client, f"Get{kind}", **ident)[kind].get("PermissionsBoundary")
        if info and info.get("PermissionsBoundaryArn"):
            arn = info["PermissionsBoundaryArn"]
            out.boundary = (Text(N_("permissions boundary {name}"), name=arn.rsplit("/", 1)[-1]),
                            _managed(client, arn))

    steps = (inline, attached, groups, boundary) if kind == "User" else (inline, attached, boundary)
    for step in steps:
        try:
            step()
        except _Denied as d:
            out.unreadable.append(d.what)
    return out


@dataclass(frozen=True)
class Simulation:
    decision: str  # "allowed" | "explicitDeny" | "implicitDeny"
    missing_context: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()  # SourcePolicyId of the statements that decided


def simulate(client: Any, source_arn: str, action: str, resource: str,
             mfa: bool | None) -> Simulation | None:
    """iam:SimulatePrincipalPolicy; None when it is denied or not available (moto: HTTP 500)."""
    entries = []
    if mfa is not None:
        entries.append({"ContextKeyName": "aws:MultiFactorAuthPresent",
                        "ContextKeyValues": ["true" if mfa else "false"],
                        "ContextKeyType": "boolean"})
    try:
        answer = client.simulate_principal_policy(
            PolicySourceArn=source_arn, ActionNames=[action], ResourceArns=[resource],
            ContextEntries=entries)
        result = answer["EvaluationResults"][0]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            botocore.parsers.ResponseParserError, KeyError, IndexError):
        # denied, not implemented (moto answers an HTML 500), or unreachable
        return None
    return Simulation(
        decision=str(result.get("EvalDecision", "")),
        missing_context=tuple(result.get("MissingContextValues", []) or ()),
        matched=tuple(str(m.get("SourcePolicyId", "")) for m in
                      result.get("MatchedStatements", []) or ()),
    )
