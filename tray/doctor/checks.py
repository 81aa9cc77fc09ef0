"""The doctor's checks against AWS: who you are, the trust policy, your own policies,
session limits, and one real AssumeRole.

Each check takes the shared ``Run`` and returns a ``Finding``; none raises for
what it finds. Policies are evaluated with IAM's semantics (``tray.doctor.policy``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.parsers

from tray import paths
from tray.aws import session as aws_session
from tray.aws import sts
from tray.aws.session import (
    CHAINED_MAX,
    DEFAULT_DURATION,
    MAX_DURATION,
    MIN_DURATION,
    ClientCreator,
    ClientFactory,
    source_label,
)
from tray.awsfiles import awsconfig
from tray.doctor import fixes, iamread, policy
from tray.doctor.findings import UNREACHABLE, Finding, Status
from tray.doctor.policy import Verdict
from tray.domain.errors import RoletrayError
from tray.domain.models import RoleProfile, iso_utc

__all__ = ["CHAINED_MAX", "DEFAULT_DURATION", "Caller", "ClientFactory", "Run", "check_assume",
           "check_identity", "check_limits", "check_trust", "check_whoami", "reconcile",
           "request_context", "skipped", "source_label"]

ASSUME = "sts:AssumeRole"
PROBE_SESSION_NAME = "roletray-doctor"
_MFA_KEYS = {"aws:multifactorauthpresent", "aws:multifactorauthage"}
_TOKEN_LIKE_RE = re.compile(r"[A-Za-z0-9+/=]{100,}")

# ------------------------------------------------------------------ the caller

@dataclass(frozen=True)
class Caller:
    """Who the source keys make you, from sts:GetCallerIdentity."""

    arn: str
    account: str
    user_id: str

    @property
    def resource(self) -> str:
        parts = self.arn.split(":", 5)
        return parts[5] if len(parts) == 6 else ""

    @property
    def kind(self) -> str:
        """``user``, ``assumed-role``, ``root``, ``federated-user`` or ``other``."""
        if self.resource == "root":
            return "root"
        head = self.resource.split("/", 1)[0]
        return head if head in ("user", "assumed-role", "federated-user") else "other"

    @property
    def name(self) -> str:
        """The user name, or the role name of a role session."""
        bits = self.resource.split("/")
        if self.kind == "assumed-role" and len(bits) >= 2:
            return bits[1]
        return bits[-1]

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: a role session is its role."""
        return fixes.trustable_arn(self.arn)


def request_context(role: RoleProfile, caller: Caller, now: datetime) -> dict[str, Any]:
    """The condition keys of the AssumeRole roletray would send, as far as they are known.

    A key set to None is known to be absent; a key left out is unknown.
    """
    ctx: dict[str, Any] = {
        "aws:CurrentTime": now,
        "aws:EpochTime": int(now.timestamp()),
        "aws:SecureTransport": True,
        "aws:PrincipalArn": caller.principal_arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": {"user": "User", "assumed-role": "AssumedRole", "root": "Account",
                              "federated-user": "FederatedUser"}.get(caller.kind),
        "aws:userid": caller.user_id,
        "aws:PrincipalIsAWSService": False,
        "aws:ViaAWSService": False,
        "sts:ExternalId": role.external_id,
        "sts:RoleSessionName": role.role_session_name or aws_session.session_name(now),
    }
    if caller.kind == "user":
        ctx["aws:username"] = caller.name
    if role.mfa_serial:
        ctx["aws:MultiFactorAuthPresent"] = True
        ctx["aws:MultiFactorAuthAge"] = 0  # the code is typed just before the call
    elif caller.kind == "user":
        # Long-term keys: the MFA keys are absent from the request (not false).
        ctx["aws:MultiFactorAuthPresent"] = None
        ctx["aws:MultiFactorAuthAge"] = None
    return ctx


# ------------------------------------------------------------------ error text

def _code(e: BaseException) -> str:
    if isinstance(e, botocore.exceptions.ClientError):
        return aws_session.error_code(e) or "Unknown"
    return type(e).__name__


def _aws_message(e: BaseException) -> str:
    if isinstance(e, botocore.exceptions.ClientError):
        text = aws_session.error_message(e)
    else:
        text = type(e).__name__
    text = _TOKEN_LIKE_RE.sub("<redacted>", " ".join(text.split()))
    return text if len(text) <= 300 else text[:297] + "..."


def _server_date(response_or_error: Any) -> datetime | None:
    if isinstance(response_or_error, botocore.exceptions.ClientError):
        response_or_error = response_or_error.response
    if not isinstance(response_or_error, Mapping):
        return None
    return sts.server_date(response_or_error)


# What an AWS call can raise: every one of them becomes a finding, never a crash.
# (ResponseParserError is what a garbled answer gives: moto's HTML 500, a proxy page.)
# botocore's query parser raises a bare KeyError on well-formed XML of another shape
# (an HTML page answered with 200).
_GARBLED = (botocore.parsers.ResponseParserError, KeyError)
_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
               *_GARBLED, RoletrayError)

_UNREACHABLE = (botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError,
                botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


# ------------------------------------------------------------------ checks

@dataclass
class Run:
    """What the checks share within one run."""

    role: RoleProfile
    factory: ClientFactory
    now: Callable[[], datetime]
    env: Mapping[str, str]
    config_path: Path
    profile_map: Mapping[str, Mapping[str, str]]
    duration: int
    caller: Caller | None = None
    server_date: datetime | None = None
    local_date: datetime | None = None
    trust_doc: dict[str, Any] | None = None
    trust_via: str | None = None
    max_session: int | None = None
    creator: ClientCreator | None = field(default=None, repr=False)

    @property
    def shown_config(self) -> str:
        return paths.display_path(self.config_path, self.env)

    @property
    def section(self) -> str:
        return f"[profile {self.role.name}] in {self.shown_config}"

    @property
    def source_label(self) -> str:
        return source_label(self.role)

    @property
    def chained(self) -> bool:
        src = self.role.source_profile
        if src and src != self.role.name and "role_arn" in self.profile_map.get(src, {}):
            return True
        return self.caller is not None and self.caller.kind == "assumed-role"

    def client(self, service: str) -> Any:
        # One creator per run, so a chained source assumes its own role once.
        if self.creator is None:
            self.creator = self.factory(self.role, env=self.env, profile_map=self.profile_map)
        return self.creator(service)


def check_whoami(run: Run) -> Finding:
    """sts:GetCallerIdentity with the source's keys, shown as `aws sts get-caller-identity` does."""
    blocked = _prompting_source(run)
    if blocked:
        return Finding("whoami", "unknown", f"{run.source_label}: {blocked}")
    src = run.role.source_profile or "default"
    try:
        response = run.client("sts").get_caller_identity()
    except _AWS_ERRORS as e:
        run.server_date, run.local_date = _server_date(e), run.now()
        return _source_failure(e, run, src)
    run.server_date, run.local_date = _server_date(response), run.now()
    ident = {k: str(response.get(k, "")) for k in ("UserId", "Account", "Arn")}
    run.caller = Caller(arn=ident["Arn"], account=ident["Account"], user_id=ident["UserId"])
    return Finding("whoami", "ok", f"{run.source_label} makes you {ident['Arn']}", data=ident,
                   detail=json.dumps(ident, indent=4))


def _prompting_source(run: Run) -> str | None:
    # botocore would prompt on the terminal for a chained source's MFA code.
    for name in awsconfig.source_chain(run.role, run.profile_map)[1:]:
        values = run.profile_map.get(name, {})
        if name == run.role.name or any(k in values for k in awsconfig.STATIC_KEYS):
            break
        if "mfa_serial" in values and "role_arn" in values:
            return (f"profile '{name}' in its source chain needs an MFA code, and the doctor "
                    f"does not prompt; run `roletray doctor {name}` for that role first")
    return None


def _source_failure(e: Exception, run: Run, src: str) -> Finding:
    exc = botocore.exceptions
    label = run.source_label
    creds = paths.display_path(paths.aws_credentials_file(run.env), run.env)
    configure = f"aws configure --profile {src}"
    if isinstance(e, RoletrayError):
        # The bounded credential_process (timed out, or failed: its output is not shown).
        return Finding("whoami", "problem", f"{label}: {e}",
                       fix=f"run `aws sts get-caller-identity --profile {src}` to see what its "
                           "credential_process asks for or reports")
    if isinstance(e, exc.ProfileNotFound):
        return Finding("whoami", "problem", f"{label} does not exist",
                       fix=f"add [{src}] with your IAM user's keys to {creds} "
                           f"(`{configure}`), or correct source_profile in {run.section}")
    if isinstance(e, (exc.NoCredentialsError, exc.PartialCredentialsError)):
        if run.role.credential_source == "Environment":
            fix = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in roletray's environment, "
                   f"or use source_profile instead of credential_source in {run.section}")
        elif run.role.credential_source:
            fix = (f"run roletray where {run.role.credential_source} provides credentials, or use "
                   f"source_profile instead of credential_source in {run.section}")
        else:
            fix = f"put your IAM user's access key under [{src}] in {creds}: `{configure}`"
        return Finding("whoami", "problem", f"{label} yields no credentials", fix=fix)
    if isinstance(e, (exc.SSOTokenLoadError, exc.UnauthorizedSSOTokenError,
                      exc.TokenRetrievalError)):
        return Finding("whoami", "problem", f"{label} needs an SSO sign-in",
                       fix=f"aws sso login --profile {src}")
    if isinstance(e, exc.CredentialRetrievalError):
        provider = getattr(e, "kwargs", {}).get("provider", "its provider")
        return Finding("whoami", "problem", f"{label} gave no credentials ({provider} failed)",
                       fix=f"run `aws sts get-caller-identity --profile {src}` to see why")
    if isinstance(e, _UNREACHABLE):
        url = getattr(e, "kwargs", {}).get("endpoint_url", "STS")
        return Finding("whoami", "unknown", f"could not reach {url} ({type(e).__name__})",
                       data={UNREACHABLE: True})
    if isinstance(e, _GARBLED):
        return Finding("whoami", "unknown", "STS answered with something that is not an AWS "
                       "answer (a proxy or captive portal in the way?)",
                       data={UNREACHABLE: True})
    code, message = _code(e), _aws_message(e)
    if code == "InvalidClientTokenId":
        return Finding("whoami", "problem",
                       f"AWS does not know the access key of {label} (deleted, deactivated or "
                       f"mistyped): {message}",
                       fix="create a new access key (IAM console -> Users -> you -> Security "
                           f"credentials -> Create access key), then `{configure}`")
    if code == "SignatureDoesNotMatch":
        return Finding("whoami", "problem",
                       f"AWS rejected the signature of {label}: its secret key does not match "
                       "its access key, or this machine's clock is off",
                       fix=f"re-enter the key pair with `{configure}`, and check the clock")
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return Finding("whoami", "problem", f"{label}: {code}: {message}",
                       fix="get fresh keys for the source (or fix this machine's clock)")
    if isinstance(e, exc.ClientError) and "role_arn" in run.profile_map.get(src, {}):
        return Finding("whoami", "problem",
                       f"{label} is itself a role, and assuming it failed: {code}: {message}",
                       fix=f"run `roletray doctor {src}` first")
    return Finding("whoami", "unknown", f"GetCallerIdentity failed: {code}: {message}")


def skipped(check_id: str, why: str = "no caller identity (see whoami)") -> Finding:
    return Finding(check_id, "unknown", f"not checked: {why}")


def check_trust(run: Run) -> Finding:
    role, caller = run.role, run.caller
    assert caller is not None
    name = role.role_name
    if caller.account != role.account:
        return Finding("trust", "unknown",
                       f"role '{name}' is in account {role.account} and you are in account "
                       f"{caller.account}: IAM shows a role's trust policy only inside its own "
                       "account, so roletray cannot read it from here",
                       fix=f"ask an administrator of account {role.account} to check that the "
                           f"trust relationship of role '{name}' names you (see assume)")
    try:
        answer = run.client("iam").get_role(RoleName=name)["Role"]
    except _AWS_ERRORS as e:
        code = _code(e)
        if code == "NoSuchEntity":
            return Finding("trust", "problem", f"role '{name}' does not exist in account "
                           f"{role.account}",
                           fix=f"correct role_arn in {run.section}; "
                               "`aws iam list-roles --query 'Roles[].Arn'` lists the roles")
        what = "iam:GetRole denied" if code in ("AccessDenied", "AccessDeniedException") \
            else f"iam:GetRole failed: {code}"
        return Finding("trust", "unknown", f"could not read the role's trust policy: {what}",
                       data={"unreadable": ["iam:GetRole"]})
    run.trust_doc = iamread.document(answer.get("AssumeRolePolicyDocument", {}))
    run.max_session = int(answer["MaxSessionDuration"]) if answer.get("MaxSessionDuration") \
        else None
    ctx = request_context(role, caller, run.now())
    decision = policy.trust_allows(run.trust_doc, caller.arn, ctx)
    data = {"verdict": decision.verdict.value, "via": decision.via,
            "trust_policy": run.trust_doc}
    if decision.verdict is Verdict.ALLOWED:
        run.trust_via = decision.via
        if decision.via == "account":
            return Finding("trust", "ok",
                           f"role '{name}' trusts your account {caller.account} "
                           f"({fixes.root_arn(caller.arn)}): your own IAM policy must allow "
                           f"{ASSUME} on it (see identity)", data=data)
        if decision.via == "any":
            return Finding("trust", "ok", f"role '{name}' trusts any AWS principal ('*')",
                           data=data)
        return Finding("trust", "ok", f"role '{name}' trusts you ({caller.principal_arn})",
                       data=data)
    if decision.verdict is Verdict.EXPLICIT_DENY:
        return Finding("trust", "problem",
                       f"a Deny in the trust policy of role '{name}' refuses you",
                       fix=f"remove or narrow this statement in the trust relationship of role "
                           f"'{name}' (IAM console -> Roles -> {name} -> Trust relationships):"
                           f"\n\n{fixes.pretty(decision.statement)}", data=data)
    if decision.verdict is Verdict.UNKNOWN:
        return Finding("trust", "unknown",
                       f"role '{name}' trusts you only under conditions roletray cannot "
                       f"evaluate: {', '.join(decision.unknown)}", data=data)
    return _trust_denied(run, decision, data)


def _trust_denied(run: Run, decision: policy.Decision, data: dict[str, Any]) -> Finding:
    role, caller = run.role, run.caller
    assert caller is not None and run.trust_doc is not None
    name = role.role_name
    misses = decision.misses
    mfa = [m for m in misses if m.key.lower() in _MFA_KEYS]
    ext = [m for m in misses if m.key.lower() == "sts:externalid"]
    if mfa and not role.mfa_serial:
        return Finding("trust", "problem",
                       f"role '{name}' trusts you only with MFA ({mfa[0].describe()}), and "
                       f"profile '{role.name}' has no mfa_serial",
                       fix=f"add to {run.section}:\n    mfa_serial = {_mfa_device(run)}\n"
                           "roletray then asks for a code when it assumes the role "
                           f"(`roletray assume {role.name} --mfa-code 123456`)", data=data)
    if ext:
        if role.external_id is None:
            return Finding("trust", "problem",
                           f"role '{name}' trusts you only with an external ID "
                           f"(Condition sts:ExternalId), and profile '{role.name}' has no "
                           "external_id",
                           fix=f"add to {run.section}:\n    external_id = <the external ID the "
                               f"owner of role '{name}' gave you>", data=data)
        return Finding("trust", "problem",
                       f"the external_id of profile '{role.name}' is not the one role '{name}' "
                       "expects (Condition sts:ExternalId)",
                       fix=f"set external_id in {run.section} to the value in the role's trust "
                           "policy (ask its owner)", data=data)
    if misses:
        return Finding("trust", "problem",
                       f"role '{name}' trusts you only when {misses[0].describe()}",
                       fix="meet that condition, or ask the owner of the role to change its "
                           f"trust relationship:\n\n{fixes.pretty(run.trust_doc)}", data=data)
    trusted = policy.trusted_principals(run.trust_doc)
    listing = ", ".join(trusted) if trusted else "no AWS principal"
    data = {**data, "trusted": trusted,
            "add_statement": fixes.trust_statement(fixes.root_arn(caller.arn)),
            "narrow_statement": fixes.trust_statement(caller.principal_arn),
            "merged_trust_policy": fixes.merged_trust(
                run.trust_doc, fixes.trust_statement(caller.principal_arn))}
    return Finding("trust", "problem",
                   f"the trust policy of role '{name}' does not trust {caller.principal_arn} "
                   f"(it trusts {listing})",
                   fix=fixes.trust_fix(role.role_arn, caller.arn, run.trust_doc), data=data)


def _mfa_device(run: Run) -> str:
    caller = run.caller
    assert caller is not None
    if caller.kind == "user":
        try:
            devices = run.client("iam").list_mfa_devices(UserName=caller.name)["MFADevices"]
        except _AWS_ERRORS:
            devices = []  # only a nicer hint is lost
        if devices:
            return str(devices[0]["SerialNumber"])
        return (f"arn:{fixes.partition_of(caller.arn)}:iam::{caller.account}:mfa/{caller.name}"
                "   # your device's ARN: IAM console -> Users -> you -> Security credentials")
    return "<the ARN of your MFA device>"


def check_identity(run: Run) -> Finding:
    role, caller = run.role, run.caller
    assert caller is not None
    name = role.role_name
    if caller.kind == "root":
        return Finding("identity", "problem",
                       f"you are the root user of account {caller.account}: AWS does not let the "
                       "root user assume roles",
                       fix=f"use an IAM user's access key for {run.source_label} (IAM console "
                           "-> Users -> Create user), never the root's")
    if caller.kind not in ("user", "assumed-role"):
        return Finding("identity", "unknown",
                       f"roletray cannot read the policies of {caller.arn}")
    same_account = caller.account == role.account
    needed: bool | None
    if not same_account:
        needed, why = True, f"the role is in another account ({role.account})"
    elif run.trust_via == "account":
        needed, why = True, "the role trusts your account, not you by name"
    elif run.trust_via in ("principal", "any"):
        needed, why = False, ""
    else:
        needed, why = None, ""
    try:
        iam = run.client("iam")
    except _AWS_ERRORS as e:
        return Finding("identity", "unknown", f"no IAM client: {_code(e)}")
    verdict, statement_label, unreadable, extra = _identity_verdict(run, iam)
    data: dict[str, Any] = {"verdict": verdict, "needed": needed, "unreadable": unreadable}
    seen = f"; could not read: {', '.join(unreadable)}" if unreadable else ""
    if verdict == "allowed":
        where = f" ({statement_label})" if statement_label else ""
        return Finding("identity", "ok", f"your IAM policy allows {ASSUME} on role "
                       f"'{name}'{where}{seen}", data=data)
    if verdict == "explicitDeny":
        where = f" ({statement_label})" if statement_label else ""
        fix = "remove or narrow that Deny"
        if extra.get("statement"):
            fix += f":\n\n{fixes.pretty(extra['statement'])}"
        return Finding("identity", "problem",
                       f"your IAM policy denies {ASSUME} on role '{name}'{where}",
                       fix=fix, data=data)
    if verdict == "boundary":
        # A boundary limits identity grants only: a trust policy naming you still works.
        if needed is False:
            return Finding("identity", "ok",
                           f"your {statement_label} does not allow {ASSUME} on role '{name}', "
                           "but it need not: the role's trust policy names you, in its own "
                           "account", data=data)
        return Finding("identity", "problem",
                       f"your IAM policy allows {ASSUME} on role '{name}', but your "
                       f"{statement_label} does not",
                       fix=f"add {ASSUME} on {role.role_arn} to the {statement_label} too, or "
                           "ask its owner (boundaries are usually set by an administrator)",
                       data=data)
    if verdict == "unknown":
        return Finding("identity", "unknown",
                       f"your IAM policy allows {ASSUME} on role '{name}' only under conditions "
                       f"roletray cannot evaluate: {', '.join(extra.get('unknown', []))}{seen}",
                       data=data)
    # implicit deny
    fix = fixes.identity_fix(role.role_arn, caller.arn)
    if unreadable and not extra.get("policies_seen"):
        return Finding("identity", "unknown",
                       f"could not read your IAM policies: {', '.join(unreadable)} denied",
                       fix=("If they do not already allow it:\n" + fix)
                       if needed is not False else None,
                       data=data)
    if needed is False:
        return Finding("identity", "ok",
                       f"no IAM policy of yours allows {ASSUME} on role '{name}', and none is "
                       "needed: the role's trust policy names you, in its own account", data=data)
    misses = extra.get("misses") or ()
    cond = f"; conditions not met: {misses[0].describe()}" if misses else ""
    status: Status = "unknown" if unreadable else "problem"
    need = f"needed: {why}" if why else "needed unless the role's trust policy names you"
    return Finding("identity", status,
                   f"no IAM policy of yours allows {ASSUME} on role '{name}' ({need})"
                   f"{cond}{seen}", fix=fix, data=data)


def _identity_verdict(run: Run, iam: Any) -> tuple[str, str | None, list[str], dict[str, Any]]:
    """(allowed|explicitDeny|implicitDeny|boundary|unknown, deciding policy, unreadable, extra).

    ``boundary``: the identity policies allow it, the permissions boundary does not.
    """
    role, caller = run.role, run.caller
    assert caller is not None
    source_arn = caller.arn if caller.kind == "user" else caller.principal_arn
    sim = iamread.simulate(iam, source_arn, ASSUME, role.role_arn,
                           True if role.mfa_serial else None)
    if sim is not None and sim.decision in ("allowed", "explicitDeny", "implicitDeny"):
        if sim.decision == "implicitDeny" and sim.missing_context:
            return "unknown", None, [], {"unknown": list(sim.missing_context)}
        label = f"iam:SimulatePrincipalPolicy: {', '.join(sim.matched)}" if sim.matched \
            else "iam:SimulatePrincipalPolicy"
        return sim.decision, label, [], {"policies_seen": True}
    if caller.kind == "user":
        read = iamread.read_user_policies(iam, caller.name)
    else:
        read = iamread.read_role_policies(iam, caller.name)
    ctx = request_context(role, caller, run.now())
    decision = policy.evaluate([doc for _, doc in read.policies], ASSUME, role.role_arn, ctx)
    extra: dict[str, Any] = {"policies_seen": bool(read.policies) or not read.unreadable,
                             "statement": decision.statement, "misses": decision.misses,
                             "unknown": list(decision.unknown)}
    if decision.verdict is Verdict.ALLOWED and read.boundary is not None:
        bound = policy.evaluate([read.boundary[1]], ASSUME, role.role_arn, ctx)
        if not bound.allowed:
            verdict = "explicitDeny" if bound.verdict is Verdict.EXPLICIT_DENY else \
                "unknown" if bound.verdict is Verdict.UNKNOWN else "implicitDeny"
            if verdict == "implicitDeny":
                return "boundary", read.boundary[0], read.unreadable, extra
            return verdict, read.boundary[0], read.unreadable, {**extra, "statement":
                                                                 bound.statement}
    verdict = {Verdict.ALLOWED: "allowed", Verdict.EXPLICIT_DENY: "explicitDeny",
               Verdict.IMPLICIT_DENY: "implicitDeny", Verdict.UNKNOWN: "unknown"}[decision.verdict]
    return verdict, read.label_of(decision.statement), read.unreadable, extra


def check_limits(run: Run) -> Finding:
    role, seconds = run.role, run.duration
    name = role.role_name
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        problems.append((f"duration {seconds} s is outside AWS's {MIN_DURATION}..{MAX_DURATION}",
                         f"set duration_seconds between {MIN_DURATION} and {MAX_DURATION} in "
                         + run.section))
    if run.chained:
        if seconds > CHAINED_MAX:
            problems.append((
                (f"role chaining: {run.source_label} is itself a role session, and AWS refuses "
                 f"more than {CHAINED_MAX} s for a role assumed with it (asked: {seconds} s)"),
                (f"set duration_seconds = {CHAINED_MAX} in {run.section} (roletray refreshes "
                 "before expiry), or give the source long-term keys")))
        else:
            notes.append(f"role chaining caps sessions at {CHAINED_MAX} s")
    if run.max_session is not None and seconds > run.max_session:
        problems.append((
            (f"duration {seconds} s is above the MaxSessionDuration of role '{name}' "
             f"({run.max_session} s)"),
            (f"set duration_seconds = {run.max_session} in {run.section}, or raise the role's "
             f"limit: aws iam update-role --role-name {name} --max-session-duration {seconds}")))
    data = {"duration_seconds": seconds, "max_session_duration": run.max_session,
            "chained": run.chained}
    if problems:
        return Finding("limits", "problem", "; ".join(p for p, _ in problems),
                       fix="\n".join(f for _, f in problems), data=data)
    if run.max_session is None and seconds > DEFAULT_DURATION:
        return Finding("limits", "unknown",
                       f"duration {seconds} s needs role '{name}' to allow sessions that long, "
                       "and its MaxSessionDuration could not be read", data=data)
    limit = f" (the role allows {run.max_session} s)" if run.max_session else ""
    return Finding("limits", "ok", f"sessions of {seconds} s{limit}"
                   + (f"; {'; '.join(notes)}" if notes else ""), data=data)


def check_assume(run: Run, mfa_code: str | None) -> Finding:
    """One real AssumeRole; the keys are dropped at once, never shown or kept."""
    role = run.role
    if role.mfa_serial and not mfa_code:
        return Finding("assume", "unknown",
                       f"AssumeRole not tried: profile '{role.name}' needs an MFA code "
                       f"({role.mfa_serial})")
    params: dict[str, Any] = {"RoleArn": role.role_arn,
                              "RoleSessionName": role.role_session_name or PROBE_SESSION_NAME,
                              "DurationSeconds": run.duration}
    if role.external_id:
        params["ExternalId"] = role.external_id
    if role.mfa_serial and mfa_code:
        params["SerialNumber"], params["TokenCode"] = role.mfa_serial, mfa_code
    try:
        answer = run.client("sts").assume_role(**params)
    except _AWS_ERRORS as e:
        if isinstance(e, _UNREACHABLE):
            return Finding("assume", "unknown", f"could not reach STS ({type(e).__name__})")
        if isinstance(e, botocore.exceptions.ParamValidationError):
            return Finding("assume", "problem", f"AssumeRole parameters are invalid: "
                           f"{_aws_message(e)}", fix=f"check {run.section}")
        code, message = _code(e), _aws_message(e)
        if code == "RegionDisabledException":
            return Finding("assume", "problem", f"AssumeRole refused: {message}",
                           fix="activate STS in that region (IAM console -> Account settings), "
                               f"or set `sts_regional_endpoints = legacy` in {run.section}")
        if code == "ValidationError" and "DurationSeconds" in message:
            return Finding("assume", "problem", f"AssumeRole refused: {message}",
                           fix=f"lower duration_seconds in {run.section}"
                               + (f" to {run.max_session}" if run.max_session else ""))
        return Finding("assume", "problem", f"AssumeRole failed: {code}: {message}",
                       data={"code": code})
    user = answer.get("AssumedRoleUser", {})
    expiration = answer.get("Credentials", {}).get("Expiration")
    del answer  # the keys: not kept
    data = {"assumed_role_arn": user.get("Arn"),
            "expiration": iso_utc(expiration) if isinstance(expiration, datetime) else None}
    return Finding("assume", "ok", f"AssumeRole works: you become {user.get('Arn')}", data=data)


def reconcile(findings: dict[str, Finding], run: Run) -> None:
    """Let the real AssumeRole correct or complete what the policies suggested."""
    assume = findings.get("assume")
    if assume is None:
        return
    if assume.status == "ok":
        for key in ("trust", "identity", "limits"):
            f = findings.get(key)
            if f is not None and f.status == "problem":
                findings[key] = f.but("unknown", "yet AssumeRole just succeeded, so this did "
                                      "not stop it (the server did not apply it)")
        return
    if (assume.data or {}).get("code") != "AccessDenied" or run.caller is None:
        return
    trust, identity = findings.get("trust"), findings.get("identity")
    role, caller = run.role, run.caller
    if trust is not None and trust.status == "problem":
        fix = "fix the trust relationship of the role (see trust above)"
    elif identity is not None and identity.status == "problem":
        fix = "allow sts:AssumeRole on the role in your own IAM policy (see identity above)"
    elif trust is None or trust.status != "ok":
        fix = ("This is usually the role's trust relationship. "
               + fixes.trust_fix(role.role_arn, caller.arn, run.trust_doc))
        if identity is not None and identity.status != "ok":
            fix += ("\n\nIf the role already trusts you, your own IAM policy may not allow "
                    "sts:AssumeRole on it (see identity above).")
    elif identity is not None and identity.status != "ok":
        fix = ("the role trusts you, so your own IAM policy probably does not allow "
               "sts:AssumeRole on it. " + fixes.identity_fix(role.role_arn, caller.arn))
    else:
        fix = ("the trust policy and your IAM policies both allow it as far as roletray can "
               "see: look for what it cannot see, such as a service control policy of your "
               "organization, a permissions boundary, a session policy, or conditions on tags "
               "or source IP")
    findings["assume"] = Finding(assume.id, assume.status, assume.message, fix, assume.data,
                                 assume.detail)
