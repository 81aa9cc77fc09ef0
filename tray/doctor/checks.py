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
from tray.domain.text import N_, Text, join

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
        return Finding("whoami", "unknown", Text(N_("{source}: {why}"), source=run.source_label,
                                                 why=blocked))
    src = run.role.source_profile or "default"
    try:
        response = run.client("sts").get_caller_identity()
    except _AWS_ERRORS as e:
        run.server_date, run.local_date = _server_date(e), run.now()
        return _source_failure(e, run, src)
    run.server_date, run.local_date = _server_date(response), run.now()
    ident = {k: str(response.get(k, "")) for k in ("UserId", "Account", "Arn")}
    run.caller = Caller(arn=ident["Arn"], account=ident["Account"], user_id=ident["UserId"])
    return Finding("whoami", "ok", Text(N_("{source} makes you {arn}"), source=run.source_label,
                                        arn=ident["Arn"]),
                   data=ident, detail=json.dumps(ident, indent=4))


def _prompting_source(run: Run) -> Text | None:
    # botocore would prompt on the terminal for a chained source's MFA code.
    for name in awsconfig.source_chain(run.role, run.profile_map)[1:]:
        values = run.profile_map.get(name, {})
        if name == run.role.name or any(k in values for k in awsconfig.STATIC_KEYS):
            break
        if "mfa_serial" in values and "role_arn" in values:
            return Text(N_("profile '{name}' in its source chain needs an MFA code, and the "
                           "doctor does not prompt; run `roletray doctor {name}` for that role "
                           "first"), name=name)
    return None


def _source_failure(e: Exception, run: Run, src: str) -> Finding:
    exc = botocore.exceptions
    label = run.source_label
    creds = paths.display_path(paths.aws_credentials_file(run.env), run.env)
    configure = f"aws configure --profile {src}"
    if isinstance(e, RoletrayError):
        # The bounded credential_process (timed out, or failed: its output is not shown).
        return Finding("whoami", "problem", Text(N_("{source}: {error}"), source=label, error=e),
                       fix=Text(N_("run `aws sts get-caller-identity --profile {profile}` to see "
                                   "what its credential_process asks for or reports"),
                                profile=src))
    if isinstance(e, exc.ProfileNotFound):
        return Finding("whoami", "problem", Text(N_("{source} does not exist"), source=label),
                       fix=Text(N_("add [{profile}] with your IAM user's keys to {path} "
                                   "(`{command}`), or correct source_profile in {section}"),
                                profile=src, path=creds, command=configure,
                                section=run.section))
    if isinstance(e, (exc.NoCredentialsError, exc.PartialCredentialsError)):
        fix: Text
        if run.role.credential_source == "Environment":
            fix = Text(N_("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in roletray's "
                          "environment, or use source_profile instead of credential_source in "
                          "{section}"), section=run.section)
        elif run.role.credential_source:
            fix = Text(N_("run roletray where {credential_source} provides credentials, or use "
                          "source_profile instead of credential_source in {section}"),
                       credential_source=run.role.credential_source, section=run.section)
        else:
            fix = Text(N_("put your IAM user's access key under [{profile}] in {path}: "
                          "`{command}`"), profile=src, path=creds, command=configure)
        return Finding("whoami", "problem", Text(N_("{source} yields no credentials"),
                                                 source=label), fix=fix)
    if isinstance(e, (exc.SSOTokenLoadError, exc.UnauthorizedSSOTokenError,
                      exc.TokenRetrievalError)):
        return Finding("whoami", "problem", Text(N_("{source} needs an SSO sign-in"),
                                                 source=label),
                       fix=f"aws sso login --profile {src}")
    if isinstance(e, exc.CredentialRetrievalError):
        provider = getattr(e, "kwargs", {}).get("provider", "its provider")
        return Finding("whoami", "problem",
                       Text(N_("{source} gave no credentials ({provider} failed)"),
                            source=label, provider=provider),
                       fix=Text(N_("run `aws sts get-caller-identity --profile {profile}` to "
                                   "see why"), profile=src))
    if isinstance(e, _UNREACHABLE):
        url = getattr(e, "kwargs", {}).get("endpoint_url", "STS")
        return Finding("whoami", "unknown", Text(N_("could not reach {url} ({error})"), url=url,
                                                 error=type(e).__name__),
                       data={UNREACHABLE: True})
    if isinstance(e, _GARBLED):
        return Finding("whoami", "unknown", Text(N_("STS answered with something that is not "
                                                    "an AWS answer (a proxy or captive portal "
                                                    "in the way?)")),
                       data={UNREACHABLE: True})
    code, message = _code(e), _aws_message(e)
    if code == "InvalidClientTokenId":
        return Finding("whoami", "problem",
                       Text(N_("AWS does not know the access key of {source} (deleted, "
                               "deactivated or mistyped): {message}"), source=label,
                            message=message),
                       fix=Text(N_("create a new access key (IAM console -> Users -> you -> "
                                   "Security credentials -> Create access key), then "
                                   "`{command}`"), command=configure))
    if code == "SignatureDoesNotMatch":
        return Finding("whoami", "problem",
                       Text(N_("AWS rejected the signature of {source}: its secret key does not "
                               "match its access key, or this machine's clock is off"),
                            source=label),
                       fix=Text(N_("re-enter the key pair with `{command}`, and check the "
                                   "clock"), command=configure))
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return Finding("whoami", "problem", Text(N_("{source}: {code}: {message}"), source=label,
                                                 code=code, message=message),
                       fix=Text(N_("get fresh keys for the source (or fix this machine's "
                                   "clock)")))
    if isinstance(e, exc.ClientError) and "role_arn" in run.profile_map.get(src, {}):
        return Finding("whoami", "problem",
                       Text(N_("{source} is itself a role, and assuming it failed: {code}: "
                               "{message}"), source=label, code=code, message=message),
                       fix=Text(N_("run `roletray doctor {profile}` first"), profile=src))
    return Finding("whoami", "unknown", Text(N_("GetCallerIdentity failed: {code}: {message}"),
                                             code=code, message=message))


NO_CALLER = N_("no caller identity (see whoami)")


def skipped(check_id: str, why: str = NO_CALLER) -> Finding:
    return Finding(check_id, "unknown", Text(N_("not checked: {why}"), why=Text(why)))


def check_trust(run: Run) -> Finding:
    role, caller = run.role, run.caller
    assert caller is not None
    name = role.role_name
    if caller.account != role.account:
        return Finding("trust", "unknown",
                       Text(N_("role '{name}' is in account {account} and you are in account "
                               "{your_account}: IAM shows a role's trust policy only inside its "
                               "own account, so roletray cannot read it from here"),
                            name=name, account=role.account, your_account=caller.account),
                       fix=Text(N_("ask an administrator of account {account} to check that "
                                   "the trust relationship of role '{name}' names you (see "
                                   "assume)"), account=role.account, name=name))
    try:
        answer = run.client("iam").get_role(RoleName=name)["Role"]
    except _AWS_ERRORS as e:
        code = _code(e)
        if code == "NoSuchEntity":
            return Finding("trust", "problem",
                           Text(N_("role '{name}' does not exist in account {account}"),
                                name=name, account=role.account),
                           fix=Text(N_("correct role_arn in {section}; `aws iam list-roles "
                                       "--query 'Roles[].Arn'` lists the roles"),
                                    section=run.section))
        if code in ("AccessDenied", "AccessDeniedException"):
            what = Text(N_("could not read the role's trust policy: iam:GetRole denied"))
        else:
            what = Text(N_("could not read the role's trust policy: iam:GetRole failed: "
                           "{code}"), code=code)
        return Finding("trust", "unknown", what, data={"unreadable": ["iam:GetRole"]})
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
                           Text(N_("role '{name}' trusts your account {account} ({root}): your "
                                   "own IAM policy must allow {action} on it (see identity)"),
                                name=name, account=caller.account,
                                root=fixes.root_arn(caller.arn), action=ASSUME), data=data)
        if decision.via == "any":
            return Finding("trust", "ok", Text(N_("role '{name}' trusts any AWS principal "
                                                  "('*')"), name=name), data=data)
        return Finding("trust", "ok", Text(N_("role '{name}' trusts you ({principal})"),
                                           name=name, principal=caller.principal_arn),
                       data=data)
    if decision.verdict is Verdict.EXPLICIT_DENY:
        return Finding("trust", "problem",
                       Text(N_("a Deny in the trust policy of role '{name}' refuses you"),
                            name=name),
                       fix=Text(N_("remove or narrow this statement in the trust relationship "
                                   "of role '{name}' (IAM console -> Roles -> {name} -> Trust "
                                   "relationships):\n\n{statement}"),
                                name=name, statement=fixes.pretty(decision.statement)),
                       data=data)
    if decision.verdict is Verdict.UNKNOWN:
        return Finding("trust", "unknown",
                       Text(N_("role '{name}' trusts you only under conditions roletray "
                               "cannot evaluate: {keys}"), name=name,
                            keys=", ".join(decision.unknown)), data=data)
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
                       Text(N_("role '{name}' trusts you only with MFA ({condition}), and "
                               "profile '{profile}' has no mfa_serial"),
                            name=name, condition=mfa[0].describe(), profile=role.name),
                       fix=Text(N_("add to {section}:\n    mfa_serial = {device}\nroletray "
                                   "then asks for a code when it assumes the role (`roletray "
                                   "assume {profile} --mfa-code 123456`)"),
                                section=run.section, device=_mfa_device(run), profile=role.name),
                       data=data)
    if ext:
        if role.external_id is None:
            return Finding("trust", "problem",
                           Text(N_("role '{name}' trusts you only with an external ID "
                                   "(Condition sts:ExternalId), and profile '{profile}' has no "
                                   "external_id"), name=name, profile=role.name),
                           fix=Text(N_("add to {section}:\n    external_id = <the external ID "
                                       "the owner of role '{name}' gave you>"),
                                    section=run.section, name=name), data=data)
        return Finding("trust", "problem",
                       Text(N_("the external_id of profile '{profile}' is not the one role "
                               "'{name}' expects (Condition sts:ExternalId)"),
                            profile=role.name, name=name),
                       fix=Text(N_("set external_id in {section} to the value in the role's "
                                   "trust policy (ask its owner)"), section=run.section),
                       data=data)
    if misses:
        return Finding("trust", "problem",
                       Text(N_("role '{name}' trusts you only when {condition}"), name=name,
                            condition=misses[0].describe()),
                       fix=Text(N_("meet that condition, or ask the owner of the role to change "
                                   "its trust relationship:\n\n{policy}"),
                                policy=fixes.pretty(run.trust_doc)), data=data)
    trusted = policy.trusted_principals(run.trust_doc)
    data = {**data, "trusted": trusted,
            "add_statement": fixes.trust_statement(fixes.root_arn(caller.arn)),
            "narrow_statement": fixes.trust_statement(caller.principal_arn),
            "merged_trust_policy": fixes.merged_trust(
                run.trust_doc, fixes.trust_statement(caller.principal_arn))}
    if trusted:
        message = Text(N_("the trust policy of role '{name}' does not trust {principal} (it "
                          "trusts {trusted})"), name=name, principal=caller.principal_arn,
                       trusted=", ".join(trusted))
    else:
        message = Text(N_("the trust policy of role '{name}' does not trust {principal} (it "
                          "trusts no AWS principal)"), name=name, principal=caller.principal_arn)
    return Finding("trust", "problem", message,
                   fix=fixes.trust_fix(role.role_arn, caller.arn, run.trust_doc), data=data)


def _mfa_device(run: Run) -> Text | str:
    caller = run.caller
    assert caller is not None
    if caller.kind == "user":
        try:
            devices = run.client("iam").list_mfa_devices(UserName=caller.name)["MFADevices"]
        except _AWS_ERRORS:
            devices = []  # only a nicer hint is lost
        if devices:
            return str(devices[0]["SerialNumber"])
        return Text(N_("{arn}   # your device's ARN: IAM console -> Users -> you -> Security "
                       "credentials"),
                    arn=f"arn:{fixes.partition_of(caller.arn)}:iam::{caller.account}:mfa/"
                        f"{caller.name}")
    return Text(N_("<the ARN of your MFA device>"))


def check_identity(run: Run) -> Finding:
    role, caller = run.role, run.caller
    assert caller is not None
    name = role.role_name
    if caller.kind == "root":
        return Finding("identity", "problem",
                       Text(N_("you are the root user of account {account}: AWS does not let "
                               "the root user assume roles"), account=caller.account),
                       fix=Text(N_("use an IAM user's access key for {source} (IAM console -> "
                                   "Users -> Create user), never the root's"),
                                source=run.source_label))
    if caller.kind not in ("user", "assumed-role"):
        return Finding("identity", "unknown",
                       Text(N_("roletray cannot read the policies of {arn}"), arn=caller.arn))
    same_account = caller.account == role.account
    needed: bool | None
    why: Text | None
    if not same_account:
        needed, why = True, Text(N_("needed: the role is in another account ({account})"),
                                 account=role.account)
    elif run.trust_via == "account":
        needed, why = True, Text(N_("needed: the role trusts your account, not you by name"))
    elif run.trust_via in ("principal", "any"):
        needed, why = False, None
    else:
        needed, why = None, None
    try:
        iam = run.client("iam")
    except _AWS_ERRORS as e:
        return Finding("identity", "unknown", Text(N_("no IAM client: {code}"), code=_code(e)))
    verdict, statement_label, unreadable, extra = _identity_verdict(run, iam)
    data: dict[str, Any] = {"verdict": verdict, "needed": needed, "unreadable": unreadable}
    if verdict == "allowed":
        found = Text(N_("your IAM policy allows {action} on role '{name}' ({policy})"),
                     action=ASSUME, name=name, policy=statement_label) if statement_label \
            else Text(N_("your IAM policy allows {action} on role '{name}'"), action=ASSUME,
                      name=name)
        return Finding("identity", "ok", _unread(found, unreadable), data=data)
    if verdict == "explicitDeny":
        found = Text(N_("your IAM policy denies {action} on role '{name}' ({policy})"),
                     action=ASSUME, name=name, policy=statement_label) if statement_label \
            else Text(N_("your IAM policy denies {action} on role '{name}'"), action=ASSUME,
                      name=name)
        fix = Text(N_("remove or narrow that Deny:\n\n{statement}"),
                   statement=fixes.pretty(extra["statement"])) if extra.get("statement") \
            else Text(N_("remove or narrow that Deny"))
        return Finding("identity", "problem", found, fix=fix, data=data)
    if verdict == "boundary":
        # A boundary limits identity grants only: a trust policy naming you still works.
        if needed is False:
            return Finding("identity", "ok",
                           Text(N_("your {boundary} does not allow {action} on role '{name}', "
                                   "but it need not: the role's trust policy names you, in its "
                                   "own account"), boundary=statement_label, action=ASSUME,
                                name=name), data=data)
        return Finding("identity", "problem",
                       Text(N_("your IAM policy allows {action} on role '{name}', but your "
                               "{boundary} does not"), action=ASSUME, name=name,
                            boundary=statement_label),
                       fix=Text(N_("add {action} on {role_arn} to the {boundary} too, or ask "
                                   "its owner (boundaries are usually set by an "
                                   "administrator)"), action=ASSUME, role_arn=role.role_arn,
                                boundary=statement_label),
                       data=data)
    if verdict == "unknown":
        return Finding("identity", "unknown",
                       _unread(Text(N_("your IAM policy allows {action} on role '{name}' only "
                                       "under conditions roletray cannot evaluate: {keys}"),
                                    action=ASSUME, name=name,
                                    keys=", ".join(extra.get("unknown", []))), unreadable),
                       data=data)
    # implicit deny
    fix = fixes.identity_fix(role.role_arn, caller.arn)
    if unreadable and not extra.get("policies_seen"):
        return Finding("identity", "unknown",
                       Text(N_("could not read your IAM policies: {actions} denied"),
                            actions=", ".join(unreadable)),
                       fix=Text(N_("If they do not already allow it:\n{fix}"), fix=fix)
                       if needed is not False else None,
                       data=data)
    if needed is False:
        return Finding("identity", "ok",
                       Text(N_("no IAM policy of yours allows {action} on role '{name}', and "
                               "none is needed: the role's trust policy names you, in its own "
                               "account"), action=ASSUME, name=name), data=data)
    misses = extra.get("misses") or ()
    status: Status = "unknown" if unreadable else "problem"
    need = why or Text(N_("needed unless the role's trust policy names you"))
    found = Text(N_("no IAM policy of yours allows {action} on role '{name}' ({need})"),
                 action=ASSUME, name=name, need=need)
    if misses:
        found = Text(N_("{finding}; conditions not met: {condition}"), finding=found,
                     condition=misses[0].describe())
    return Finding("identity", status, _unread(found, unreadable), fix=fix, data=data)


def _unread(found: Text, unreadable: list[str]) -> Text:
    """``found``, and what could not be read to find it."""
    if not unreadable:
        return found
    return Text(N_("{finding}; could not read: {actions}"), finding=found,
                actions=", ".join(unreadable))


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
    problems: list[tuple[Text, Text]] = []
    notes: list[Text] = []
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        problems.append((Text(N_("duration {seconds} s is outside AWS's {low}..{high}"),
                              seconds=seconds, low=MIN_DURATION, high=MAX_DURATION),
                         Text(N_("set duration_seconds between {low} and {high} in {section}"),
                              low=MIN_DURATION, high=MAX_DURATION, section=run.section)))
    if run.chained:
        if seconds > CHAINED_MAX:
            problems.append((
                Text(N_("role chaining: {source} is itself a role session, and AWS refuses "
                        "more than {most} s for a role assumed with it (asked: {seconds} s)"),
                     source=run.source_label, most=CHAINED_MAX, seconds=seconds),
                Text(N_("set duration_seconds = {most} in {section} (roletray refreshes before "
                        "expiry), or give the source long-term keys"),
                     most=CHAINED_MAX, section=run.section)))
        else:
            notes.append(Text(N_("role chaining caps sessions at {most} s"), most=CHAINED_MAX))
    if run.max_session is not None and seconds > run.max_session:
        problems.append((
            Text(N_("duration {seconds} s is above the MaxSessionDuration of role '{name}' "
                    "({most} s)"), seconds=seconds, name=name, most=run.max_session),
            Text(N_("set duration_seconds = {most} in {section}, or raise the role's limit: aws "
                    "iam update-role --role-name {name} --max-session-duration {seconds}"),
                 most=run.max_session, section=run.section, name=name, seconds=seconds)))
    data = {"duration_seconds": seconds, "max_session_duration": run.max_session,
            "chained": run.chained}
    if problems:
        return Finding("limits", "problem", join("; ", [p for p, _ in problems]),
                       fix=join("\n", [f for _, f in problems]), data=data)
    if run.max_session is None and seconds > DEFAULT_DURATION:
        return Finding("limits", "unknown",
                       Text(N_("duration {seconds} s needs role '{name}' to allow sessions that "
                               "long, and its MaxSessionDuration could not be read"),
                            seconds=seconds, name=name), data=data)
    found = Text(N_("sessions of {seconds} s (the role allows {most} s)"), seconds=seconds,
                 most=run.max_session) if run.max_session \
        else Text(N_("sessions of {seconds} s"), seconds=seconds)
    return Finding("limits", "ok", join("; ", [found, *notes]), data=data)


def check_assume(run: Run, mfa_code: str | None) -> Finding:
    """One real AssumeRole; the keys are dropped at once, never shown or kept."""
    role = run.role
    if role.mfa_serial and not mfa_code:
        return Finding("assume", "unknown",
                       Text(N_("AssumeRole not tried: profile '{profile}' needs an MFA code "
                               "({mfa_serial})"), profile=role.name, mfa_serial=role.mfa_serial))
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
            return Finding("assume", "unknown", Text(N_("could not reach STS ({error})"),
                                                     error=type(e).__name__))
        if isinstance(e, botocore.exceptions.ParamValidationError):
            return Finding("assume", "problem",
                           Text(N_("AssumeRole parameters are invalid: {message}"),
                                message=_aws_message(e)),
                           fix=Text(N_("check {section}"), section=run.section))
        code, message = _code(e), _aws_message(e)
        if code == "RegionDisabledException":
            return Finding("assume", "problem", Text(N_("AssumeRole refused: {message}"),
                                                     message=message),
                           fix=Text(N_("activate STS in that region (IAM console -> Account "
                                       "settings), or set `sts_regional_endpoints = legacy` in "
                                       "{section}"), section=run.section))
        if code == "ValidationError" and "DurationSeconds" in message:
            fix = Text(N_("lower duration_seconds in {section} to {most}"), section=run.section,
                       most=run.max_session) if run.max_session \
                else Text(N_("lower duration_seconds in {section}"), section=run.section)
            return Finding("assume", "problem", Text(N_("AssumeRole refused: {message}"),
                                                     message=message), fix=fix)
        return Finding("assume", "problem", Text(N_("AssumeRole failed: {code}: {message}"),
                                                 code=code, message=message),
                       data={"code": code})
    user = answer.get("AssumedRoleUser", {})
    expiration = answer.get("Credentials", {}).get("Expiration")
    del answer  # the keys: not kept
    data = {"assumed_role_arn": user.get("Arn"),
            "expiration": iso_utc(expiration) if isinstance(expiration, datetime) else None}
    return Finding("assume", "ok", Text(N_("AssumeRole works: you become {arn}"),
                                        arn=str(user.get("Arn"))), data=data)


def reconcile(findings: dict[str, Finding], run: Run) -> None:
    """Let the real AssumeRole correct or complete what the policies suggested."""
    assume = findings.get("assume")
    if assume is None:
        return
    if assume.status == "ok":
        for key in ("trust", "identity", "limits"):
            f = findings.get(key)
            if f is not None and f.status == "problem":
                findings[key] = f.but("unknown", Text(N_(
                    "yet AssumeRole just succeeded, so this did not stop it (the server did "
                    "not apply it)")))
        return
    if (assume.data or {}).get("code") != "AccessDenied" or run.caller is None:
        return
    trust, identity = findings.get("trust"), findings.get("identity")
    role, caller = run.role, run.caller
    fix: Text
    if trust is not None and trust.status == "problem":
        fix = Text(N_("fix the trust relationship of the role (see trust above)"))
    elif identity is not None and identity.status == "problem":
        fix = Text(N_("allow sts:AssumeRole on the role in your own IAM policy (see identity "
                      "above)"))
    elif trust is None or trust.status != "ok":
        trust_fix = fixes.trust_fix(role.role_arn, caller.arn, run.trust_doc)
        if identity is not None and identity.status != "ok":
            fix = Text(N_("This is usually the role's trust relationship. {fix}\n\nIf the role "
                          "already trusts you, your own IAM policy may not allow sts:AssumeRole "
                          "on it (see identity above)."), fix=trust_fix)
        else:
            fix = Text(N_("This is usually the role's trust relationship. {fix}"), fix=trust_fix)
    elif identity is not None and identity.status != "ok":
        fix = Text(N_("the role trusts you, so your own IAM policy probably does not allow "
                      "sts:AssumeRole on it. {fix}"),
                   fix=fixes.identity_fix(role.role_arn, caller.arn))
    else:
        fix = Text(N_("the trust policy and your IAM policies both allow it as far as roletray "
                      "can see: look for what it cannot see, such as a service control policy "
                      "of your organization, a permissions boundary, a session policy, or "
                      "conditions on tags or source IP"))
    findings["assume"] = Finding(assume.id, assume.status, assume.message, fix, assume.data,
                                 assume.detail)
