"""Why a role cannot be assumed, and the policy that fixes it.

The seed's author lost time on ``AccessDenied ... is not authorized to perform:
sts:AssumeRole``: the role's *trust relationship* did not name them. The doctor
looks where they had to look, in this order, and prints the statement to add:

- ``profile``  the role profile itself (config file);
- ``whoami``   who the source profile's keys make you (sts:GetCallerIdentity);
- ``trust``    whether the role's trust policy lets you in (iam:GetRole, evaluated here);
- ``identity`` whether your own IAM policies allow sts:AssumeRole on the role
               (iam:SimulatePrincipalPolicy, else reading and evaluating them);
- ``limits``   duration_seconds against MaxSessionDuration and role chaining's 1 h;
- ``assume``   one real AssumeRole (unless told not to): the ground truth;
- ``target``, ``environment``, ``file-mode``, ``clock``, ``security-token``:
               local traps that make tools miss roletray's keys.

Policies are evaluated with IAM's semantics (``tray.doctor.policy``), not moto's: a
trust policy naming the account root lets a user of that account in when the
user's own policy allows it. Every AWS call goes through a ``client_factory``
(``tray.aws.session``'s contract: ``factory(profile, env=..., profile_map=...)``
gives ``create_client`` for the role's *source* credentials, the same builder
``assume`` uses); tests pass none and use moto's server through ``AWS_ENDPOINT_URL``.

The AWS checks live in ``tray.doctor.checks``, the local ones in
``tray.doctor.local``; this module runs them and renders the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tray import paths
from tray.aws.session import Limits, make_client_factory
from tray.awsfiles import awsconfig
from tray.doctor import local
from tray.doctor.checks import (
    DEFAULT_DURATION,
    Caller,
    ClientFactory,
    Run,
    check_assume,
    check_identity,
    check_limits,
    check_trust,
    check_whoami,
    reconcile,
    request_context,
    skipped,
    source_label,
)
from tray.doctor.findings import Finding, Report
from tray.doctor.fixes import trust_hint
from tray.domain import denied
from tray.domain.errors import RoletrayError
from tray.domain.models import RoleProfile, utcnow
from tray.domain.source_line import is_roletray_source_line, parse_source_line

if TYPE_CHECKING:
    from tray.platform.secret_store import SecretStore

__all__ = ["Caller", "ClientFactory", "Finding", "Report", "default_client_factory",
           "explains_denial", "format_report", "request_context", "run_doctor", "summarize",
           "trust_hint"]


# ------------------------------------------------------------------ clients

def default_client_factory() -> ClientFactory:
    """Clients signing with the role's source credentials as botocore resolves them,
    built by ``tray.aws.session`` as for ``assume`` (the same bounded
    credential_process, SSO cache and endpoints). One attempt per call: a
    diagnosis reports a failure rather than waiting through retries.
    """
    return make_client_factory(Limits(connect_timeout=3, read_timeout=10, max_attempts=1))


# ------------------------------------------------------------------ the run

def run_doctor(
    profile_name: str | None,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str],
    now: Callable[[], datetime] | None = None,
    try_assume: bool = True,
    mfa_code: str | None = None,
    duration: int | None = None,
    target: str | None = None,
    store: SecretStore | None = None,
) -> Report:
    """Check everything that can stop ``profile_name`` from working; never raises for findings.

    ``profile_name`` None means the active role. ``try_assume=False`` skips the
    real AssumeRole (the policies are still read and evaluated).
    """
    e = env
    clock = now or utcnow
    config_path, creds_path = paths.aws_config_file(e), paths.aws_credentials_file(e)
    found: dict[str, Finding] = {}

    try:
        profile_map: Mapping[str, Mapping[str, str]] = awsconfig.load_profile_map(
            config_path, home=paths.home_of(env))
    except RoletrayError as err:
        found["profile"] = Finding("profile", "problem", str(err),
                                   fix="correct that line: the AWS tools cannot read the file "
                                       "either")
        profile_map = {}
    target, settings_problem = _target(target, e)
    if profile_name is None:
        profile_name = _active_role(e)
    keyring_line = parse_source_line(
        profile_map.get(profile_name or "", {}).get("credential_process"))
    keyring_source = keyring_line.source if keyring_line is not None else None
    if keyring_line is not None and keyring_source is not None and profile_name is not None:
        found["served"] = Finding(
            "served", "ok", f"profile '{profile_name}' runs `roletray credential-process "
            f"--source {keyring_source}`: tools get sessions of the keys of "
            f"'{keyring_source}' kept in the OS keyring")
        found["profile"] = Finding("profile", "ok", f"'{profile_name}' is a source profile, "
                                   "not a role: its keys are checked, no AssumeRole")
        found["keyring"] = local.check_keyring(keyring_source, keyring_line.file_id,
                                               creds_path, store)
    served = served_profile(profile_map.get(profile_name or "", {}))
    if served is not None and profile_name is not None:
        found["served"] = Finding("served", "ok", f"profile '{profile_name}' runs `roletray "
                                  f"credential-process {served}`: checking role '{served}'")
        profile_name = served
    role: RoleProfile | None = None
    if profile_name is None:
        found.setdefault("profile", Finding("profile", "unknown", "no profile named and no "
                                            "active role: only local checks were run"))
    elif "profile" not in found:
        try:
            role = awsconfig.get_role_profile(profile_name, config_path,
                                                credentials_path=creds_path,
                                                home=paths.home_of(env))
        except RoletrayError as err:
            found["profile"] = Finding("profile", "problem", str(err),
                                       fix=_profile_fix(profile_name, profile_map, config_path, e))
    report = Report(profile=profile_name, role_arn=role.role_arn if role else None,
                    source=role.source if role else None, target=target, checked_at=clock())

    run: Run | None = None
    if role is not None and role.kind != "assume":
        found["profile"] = Finding("profile", "ok", f"'{role.name}' is {role.describe}: "
                                   "no AssumeRole, its keys come from the sign-in")
        if try_assume:
            found["assume"] = check_own_keys(role, e, profile_map)
    elif role is not None:
        found["profile"] = Finding("profile", "ok", _profile_line(role))
        run = Run(role=role, factory=client_factory or default_client_factory(), now=clock,
                  env=e, config_path=config_path, profile_map=profile_map,
                  duration=duration or role.duration_seconds or DEFAULT_DURATION)
        found["whoami"] = check_whoami(run)
        if run.caller is not None:
            report.caller_arn = run.caller.arn
            found["trust"] = check_trust(run)
            found["identity"] = check_identity(run)
        else:
            found["trust"], found["identity"] = skipped("trust"), skipped("identity")
        found["limits"] = check_limits(run)
        if try_assume and run.caller is not None:
            found["assume"] = check_assume(run, mfa_code)
        reconcile(found, run)

    if settings_problem is not None:
        found["settings"] = settings_problem
    found["target"] = local.check_target(target, profile_map, role, config_path,
                                                creds_path, e)
    found["environment"] = local.check_environment(target, e)
    found["file-mode"] = local.check_file_mode(creds_path, e)
    source = keyring_source or local.source_of(role, profile_map)
    if role is not None or keyring_source is not None:
        found["source-keys"] = local.check_source_keys(source, role, profile_map, creds_path,
                                                       config_path, e)
        if source is not None and local.key_location(source, profile_map,
                                                     creds_path) == "login":
            found["signin"] = local.check_signin(source, profile_map, e, clock())
    found["clock"] = local.check_clock(run.server_date if run else None,
                                              run.local_date if run else None)
    found["security-token"] = local.check_security_token(creds_path, target, e)
    report.findings = list(found.values())
    return report


def check_own_keys(role: RoleProfile, env: Mapping[str, str],
                   profile_map: Mapping[str, Mapping[str, str]]) -> Finding:
    """The keys of a permission set or a sign-in, fetched once and dropped (never shown or
    kept): the one call roletray makes for it, with the error it would report."""
    from tray.aws.own_keys import own_keys

    try:
        result = own_keys(role, env=env, profile_map=profile_map)
    except RoletrayError as err:
        return Finding("assume", "problem", str(err))
    what = "GetRoleCredentials" if role.kind == "sso" else "the aws login sign-in"
    return Finding("assume", "ok", f"{what} works: keys until "
                   f"{result.credentials.expiration:%H:%M} UTC",
                   data={"expiration": result.credentials.expiration.isoformat()})


def _target(target: str | None, env: Mapping[str, str]) -> tuple[str, Finding | None]:
    if target:
        return target, None
    from tray.settings import load_settings

    try:
        return load_settings(paths.Paths.from_env(env)).target, None
    except RoletrayError as err:
        return "roletray", Finding("settings", "problem", str(err),
                                   fix="correct that line of roletray's settings")


def _active_role(env: Mapping[str, str]) -> str | None:
    from tray.state import load_state

    try:
        state = load_state(paths.Paths.from_env(env))
    except RoletrayError:
        return None
    return state.active_role if state else None


def _profile_line(role: RoleProfile) -> str:
    extras = [f"MFA {role.mfa_serial}" if role.mfa_serial else "",
              "an external ID" if role.external_id else "",
              f"{role.duration_seconds} s sessions" if role.duration_seconds else ""]
    extra = ", ".join(x for x in extras if x)
    return (f"profile '{role.name}' assumes {role.role_arn} with the keys of {source_label(role)}"
            + (f" ({extra})" if extra else ""))


def _profile_fix(name: str, profile_map: Mapping[str, Mapping[str, str]], config_path: Path,
                 env: Mapping[str, str]) -> str:
    roles = sorted(n for n, v in profile_map.items() if "role_arn" in v)
    known = f"role profiles found: {', '.join(roles)}" if roles else "no role profile found"
    return (f"{known}. A role profile in {paths.display_path(config_path, env)} looks like:\n"
            f"    [profile {name}]\n    role_arn = arn:aws:iam::123456789012:role/ROLE\n"
            "    source_profile = default")


# ------------------------------------------------------------------ output

_TAGS = {"ok": "ok", "problem": "PROBLEM", "unknown": "unknown"}


def served_profile(section: Mapping[str, str]) -> str | None:
    """The role a ``credential_process = roletray credential-process NAME`` line serves
    (None for a ``--source`` line: that profile is a source, not a role)."""
    import shlex

    if is_roletray_source_line(section.get("credential_process")) is not None:
        return None

    try:
        words = shlex.split(section.get("credential_process", ""))
    except ValueError:
        return None
    for i, word in enumerate(words[:-1]):
        if word == "credential-process" and i > 0 and \
                (os.path.basename(words[i - 1]) == "roletray" or words[i - 1] == "tray"):
            return words[i + 1]
    return None


def format_report(report: Report) -> str:
    """The report as text for a terminal: one block per check, fixes indented below."""
    head = [f"roletray doctor: profile '{report.profile}'" if report.profile
            else "roletray doctor"]
    for label, value in (("role", report.role_arn), ("source", report.source),
                         ("target", report.target)):
        if value:
            head.append(f"  {label:<8}{value}")
    lines = [*head, ""]
    width = max((len(f.id) for f in report.findings), default=8) + 2
    pad = " " * (9 + width)
    for f in report.findings:
        lines.append(f"{_TAGS[f.status]:<9}{f.id:<{width}}{f.message}")
        if f.detail:
            lines += [pad + ln if ln else "" for ln in f.detail.splitlines()]
        if f.fix:
            lines.append(pad + "fix:")
            lines += [pad + "  " + ln if ln else "" for ln in f.fix.splitlines()]
    lines.append("")
    problems = report.problems
    if problems:
        names = ", ".join(f.id for f in problems)
        lines.append(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found: {names}")
    else:
        lines.append(summarize(report))
    return "\n".join(lines)


def _denied_assume(f: Finding) -> bool:
    return f.id == "assume" and (f.data or {}).get("code") == "AccessDenied"


def explains_denial(report: Report) -> bool:
    """Whether the report found, on AWS's side, why an AssumeRole is denied (the role
    profile, who the keys make you, the trust policy, your own IAM policies): its summary
    then leads the CLI's error instead of what AWS's denial alone says."""
    return any(f.id in ("profile", "whoami", "trust", "identity") for f in report.problems)


def summarize(report: Report) -> str:
    """One line for a failed assume's error, a notification, or the tray's Diagnose item."""
    problems = report.problems
    name = report.profile or "PROFILE"
    if not problems:
        unknown = [f.id for f in report.unknowns]
        text = f"nothing found that stops profile '{name}'"
        if unknown:
            text += f" (could not check: {', '.join(unknown)})"
    else:
        first = problems[0]
        text = first.message
        trust = report.finding("trust")
        if _denied_assume(first) and (trust is None or trust.status != "ok"):
            # No finding of the doctor's own: what AWS's denial says, finding first.
            text = denied.assume_denied_finding(first.message, report.role_arn)
        # A denied AssumeRole restates what trust or identity found: it is not one more.
        more = [p for p in problems[1:] if not _denied_assume(p)]
        if more:
            text += f" (and {len(more)} more)"
        if first.fix or _denied_assume(first):
            text = denied.with_fix(text, name)
    text = " ".join(text.split())
    return text if len(text) <= 600 else text[:597] + "..."
