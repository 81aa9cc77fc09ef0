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
import unicodedata
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
from tray.doctor.findings import Finding, Report, said
from tray.doctor.fixes import trust_hint
from tray.domain import denied
from tray.domain.errors import RoletrayError
from tray.domain.models import RoleProfile, utcnow
from tray.domain.source_line import is_roletray_source_line, parse_source_line
from tray.domain.text import N_, Text, join, localized, shaped
from tray.i18n import _, ngettext

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
        found["profile"] = Finding("profile", "problem", said(err),
                                   fix=Text(N_("correct that line: the AWS tools cannot read "
                                               "the file either")))
        profile_map = {}
    target, settings_problem = _target(target, e)
    if profile_name is None:
        profile_name = _active_role(e)
    keyring_line = parse_source_line(
        profile_map.get(profile_name or "", {}).get("credential_process"))
    keyring_source = keyring_line.source if keyring_line is not None else None
    if keyring_line is not None and keyring_source is not None and profile_name is not None:
        found["served"] = Finding(
            "served", "ok", Text(N_("profile '{profile}' runs `roletray credential-process "
                                    "--source {source}`: tools get sessions of the keys of "
                                    "'{source}' kept in the OS keyring"),
                                 profile=profile_name, source=keyring_source))
        found["profile"] = Finding("profile", "ok", Text(N_("'{profile}' is a source profile, "
                                                            "not a role: its keys are checked, "
                                                            "no AssumeRole"),
                                                         profile=profile_name))
        found["keyring"] = local.check_keyring(keyring_source, keyring_line.file_id,
                                               creds_path, store)
    served = served_profile(profile_map.get(profile_name or "", {}))
    if served is not None and profile_name is not None:
        found["served"] = Finding("served", "ok", Text(N_(
            "profile '{profile}' runs `roletray credential-process {role}`: checking role "
            "'{role}'"), profile=profile_name, role=served))
        profile_name = served
    role: RoleProfile | None = None
    if profile_name is None:
        found.setdefault("profile", Finding("profile", "unknown", Text(N_(
            "no profile named and no active role: only local checks were run"))))
    elif "profile" not in found:
        try:
            role = awsconfig.get_role_profile(profile_name, config_path,
                                                credentials_path=creds_path,
                                                home=paths.home_of(env))
        except RoletrayError as err:
            found["profile"] = Finding("profile", "problem", said(err),
                                       fix=_profile_fix(profile_name, profile_map, config_path, e))
    report = Report(profile=profile_name, role_arn=role.role_arn if role else None,
                    source=role.source if role else None, target=target, checked_at=clock())

    run: Run | None = None
    if role is not None and role.kind != "assume":
        found["profile"] = Finding("profile", "ok", Text(N_(
            "'{profile}' is {what}: no AssumeRole, its keys come from the sign-in"),
            profile=role.name, what=role.describe))
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
        return Finding("assume", "problem", said(err))
    until = f"{result.credentials.expiration:%H:%M}"
    found = Text(N_("GetRoleCredentials works: keys until {time} UTC"), time=until) \
        if role.kind == "sso" else \
        Text(N_("the aws login sign-in works: keys until {time} UTC"), time=until)
    return Finding("assume", "ok", found,
                   data={"expiration": result.credentials.expiration.isoformat()})


def _target(target: str | None, env: Mapping[str, str]) -> tuple[str, Finding | None]:
    if target:
        return target, None
    from tray.settings import load_settings

    try:
        return load_settings(paths.Paths.from_env(env)).target, None
    except RoletrayError as err:
        return "roletray", Finding("settings", "problem", said(err),
                                   fix=Text(N_("correct that line of roletray's settings")))


def _active_role(env: Mapping[str, str]) -> str | None:
    from tray.state import load_state

    try:
        state = load_state(paths.Paths.from_env(env))
    except RoletrayError:
        return None
    return state.active_role if state else None


def _profile_line(role: RoleProfile) -> Text:
    extras: list[str] = [Text(N_("MFA {mfa_serial}"), mfa_serial=role.mfa_serial)
                         if role.mfa_serial else "",
                         Text(N_("an external ID")) if role.external_id else "",
                         Text(N_("{seconds} s sessions"), seconds=role.duration_seconds)
                         if role.duration_seconds else ""]
    extra = [x for x in extras if x]
    if extra:
        return Text(N_("profile '{profile}' assumes {role_arn} with the keys of {source} "
                       "({extras})"), profile=role.name, role_arn=role.role_arn,
                    source=source_label(role), extras=join(", ", extra))
    return Text(N_("profile '{profile}' assumes {role_arn} with the keys of {source}"),
                profile=role.name, role_arn=role.role_arn, source=source_label(role))


def _profile_fix(name: str, profile_map: Mapping[str, Mapping[str, str]], config_path: Path,
                 env: Mapping[str, str]) -> Text:
    roles = sorted(n for n, v in profile_map.items() if "role_arn" in v)
    example = (f"    [profile {name}]\n    role_arn = arn:aws:iam::123456789012:role/ROLE\n"
               "    source_profile = default")
    shown = paths.display_path(config_path, env)
    if roles:
        return Text(N_("role profiles found: {roles}. A role profile in {path} looks like:\n"
                       "{example}"), roles=", ".join(roles), path=shown, example=example)
    return Text(N_("no role profile found. A role profile in {path} looks like:\n{example}"),
                path=shown, example=example)


# ------------------------------------------------------------------ output

# A check's status as the report tags it (English: ok, PROBLEM, unknown).
_TAGS = {"ok": N_("ok"), "problem": N_("PROBLEM"), "unknown": N_("unknown")}
_HEAD = (("role", N_("role")), ("source", N_("source")), ("target", N_("target")))


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a Korean syllable takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


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
    """The report as text for a terminal, in the reader's language: one block per check,
    fixes indented below (the policies to paste stay as they are)."""
    head = [_("roletray doctor: profile '{profile}'").format(profile=report.profile)
            if report.profile else _("roletray doctor")]
    values = {"role": report.role_arn, "source": report.source, "target": report.target}
    labels = {key: _(label) for key, label in _HEAD}
    label_width = max(8, *(_width(t) + 1 for t in labels.values()))
    for key, _label in _HEAD:
        if values[key]:
            head.append(f"  {_pad(labels[key], label_width)}{values[key]}")
    lines = [*head, ""]
    tags = {status: _(tag) for status, tag in _TAGS.items()}
    tag_width = max(9, *(_width(t) + 1 for t in tags.values()))
    width = max((len(f.id) for f in report.findings), default=8) + 2
    pad = " " * (tag_width + width)
    for f in report.findings:
        lines.append(f"{_pad(tags[f.status], tag_width)}{f.id:<{width}}{localized(f.message)}")
        if f.detail:
            lines += [pad + ln if ln else "" for ln in f.detail.splitlines()]
        if f.fix:
            lines.append(pad + _("fix:"))
            lines += [pad + "  " + ln if ln else "" for ln in str(localized(f.fix)).splitlines()]
    lines.append("")
    problems = report.problems
    if problems:
        lines.append(ngettext("{count} problem found: {checks}", "{count} problems found: "
                              "{checks}", len(problems)).format(
            count=len(problems), checks=", ".join(f.id for f in problems)))
    else:
        lines.append(summarize(report).localized)
    return "\n".join(lines)


def _denied_assume(f: Finding) -> bool:
    return f.id == "assume" and (f.data or {}).get("code") == "AccessDenied"


def explains_denial(report: Report) -> bool:
    """Whether the report found, on AWS's side, why an AssumeRole is denied (the role
    profile, who the keys make you, the trust policy, your own IAM policies): its summary
    then leads the CLI's error instead of what AWS's denial alone says."""
    return any(f.id in ("profile", "whoami", "trust", "identity") for f in report.problems)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 600 else text[:597] + "..."


def summarize(report: Report) -> Text:
    """One line for a failed assume's error, a notification, or the tray's Diagnose item:
    English (``--json``, an error's ``str``), its ``localized`` in the reader's language."""
    problems = report.problems
    name = report.profile or "PROFILE"
    text: str
    if not problems:
        unknown = [f.id for f in report.unknowns]
        if unknown:
            text = Text(N_("nothing found that stops profile '{profile}' (could not check: "
                           "{checks})"), profile=name, checks=", ".join(unknown))
        else:
            text = Text(N_("nothing found that stops profile '{profile}'"), profile=name)
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
            text = Text(N_("{finding} (and {count} more)"), finding=text, count=len(more))
        if first.fix or _denied_assume(first):
            text = denied.with_fix(text, name)
    if not isinstance(text, Text):
        text = Text("{text}", text=text)
    return shaped(text, _one_line)
