"""The role commands: ``profiles``, ``assume``, ``status``, ``refresh`` and ``clear``.

Each hands its work to a running tray or daemon when one runs (``handover``), else does
it here through the use cases (``tray.engine.actions``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING, Any

from tray.cli import asking
from tray.cli.common import Root, diagnosed, emit
from tray.cli.handover import handover, handover_asking
from tray.cli.snapshot_text import (
    columns,
    sections_text,
    shown,
    snapshot_table,
    switched_line,
    table,
    warning_line,
    warning_lines,
)
from tray.domain import timefmt
from tray.domain.errors import EXIT_OK, AccessDeniedError, RoletrayError, UsageError
from tray.domain.text import Text
from tray.i18n import N_, _
from tray.settings import check_target

if TYPE_CHECKING:
    from tray.state import State


def cmd_profiles(args: argparse.Namespace, root: Root) -> int:
    from tray.awsfiles import awsconfig

    config_path = root.paths.aws_config
    profile_map = awsconfig.load_profile_map(config_path, home=root.paths.home)
    roles, problems = awsconfig.build_role_profiles(
        profile_map, config_path, credentials_path=root.paths.aws_credentials,
        home=root.paths.home)
    items: list[dict[str, Any]] = []
    for name in sorted(set(roles) | set(problems)):
        role = roles.get(name)
        if role is None:
            items.append({"name": name, "problem": str(problems[name])})
            continue
        items.append({
            "name": name, "kind": role.kind, "guard": role.guard,
            "role_arn": role.role_arn or None,
            "describe": role.describe, "account": role.account,
            "role_name": role.role_name,
            "source": role.source, "region": awsconfig.region_for(role, profile_map),
            "mfa": role.mfa_serial is not None, "mfa_serial": role.mfa_serial,
            "external_id": role.external_id is not None,
            "duration_seconds": role.duration_seconds,
        })
    if args.json:
        emit({"config_file": str(config_path), "profiles": items})
        return EXIT_OK
    if not items:
        print(shown(_("No role profiles in {config} yet. `roletray setup` asks step by step: "
                      "IAM Identity Center, an aws login sign-in, or a role over the keys you "
                      "have.").format(config=root.paths.display(config_path))))
        return EXIT_OK
    rows = [(_("PROFILE"), _("ROLE"), _("SOURCE"), _("REGION"), _("MFA"))]
    for it in items:
        if "problem" in it:
            continue
        name = it["name"] + (f" [{it['guard']}]" if it["guard"] else "")
        rows.append((shown(name), shown(it["describe"]), shown(it["source"]),
                     shown(it["region"] or "-"), yes_no(it["mfa"])))
    for line in columns(rows):
        print(line)
    for name in sorted(problems):
        warn(problems[name].localized)
    return EXIT_OK


def yes_no(flag: bool) -> str:
    return _("yes") if flag else _("no")


def warn(message: str) -> None:
    """One warning line on stderr, in the user's language."""
    print(warning_line(message), file=sys.stderr)


def parsed_config(root: Root) -> dict[str, dict[str, str]]:
    """The config file, parsed once for the MFA check and the switch that follows."""
    from tray.awsfiles import awsconfig

    return awsconfig.raw_config_parse(root.paths.aws_config, home=root.paths.home)


def print_snapshot(args: argparse.Namespace, snap_json: dict[str, Any], extra: str = "") -> None:
    if args.json:
        emit(snap_json)
        return
    print(snapshot_table(snap_json, extra))


def print_sections(args: argparse.Namespace, sections: list[dict[str, Any]]) -> None:
    """``status``: the default target's section, then every other kept one. ``--json``:
    the first one's document (as before) with all of them under ``sections``."""
    if args.json:
        emit({**sections[0], "sections": sections})
        return
    print(sections_text(sections))


def cmd_assume(args: argparse.Namespace, root: Root) -> int:
    check_target(args.target)  # before the socket: one rule, and the same words, everywhere
    # One parse for the guard, the MFA check and the switch that follows; a broken file
    # is reported below, after the settings file, as before.
    raw: dict[str, dict[str, str]] | None
    try:
        raw = parsed_config(root)
    except RoletrayError:
        raw = None
    asking.confirm_guard(args.profile, root, yes=args.yes, verb="Switch to", raw=raw)
    given = asking.read_mfa_code(args.mfa_code)
    if args.duration is not None and not 900 <= args.duration <= 43200:
        raise UsageError(N_("--duration {value}: must be from 900 to 43200 seconds"),
                         value=args.duration)
    # A running instance may hold an MFA session for this role: ask only if it says so.
    try:
        reply = handover_asking("assume", {"profile": args.profile, "target": args.target,
                                           "duration": args.duration, "mfa_code": given,
                                           "force": args.force}, args.profile,
                                retry="assume", root=root)
    except AccessDeniedError as e:  # said as without an instance
        raise diagnosed(args.profile, e, root) from e
    if reply is not None:
        target = reply["snapshot"].get("target")
        default = reply.get("default_target")  # the instance's: it did the switch
        if not isinstance(default, str):
            from tray.settings import load_settings  # an instance that does not say

            default = load_settings(root.paths).target
        said = switched_line(args.profile, target, default)
        for line in warning_lines(reply):
            print(line, file=sys.stderr)
        print_snapshot(args, reply["snapshot"], extra=said)
        return EXIT_OK
    from tray.domain.models import iso_utc
    from tray.engine import actions

    ctx = root.context()  # a broken settings file is reported before the config file
    if raw is None:
        raw = parsed_config(root)
    mfa_code = asking.mfa_for(args.profile, given, root, raw=raw)
    if root.one_shot:  # one AssumeRole, then exit: no awscrt unless a sign-in needs it
        from tray.aws.session import skip_crt_unless_login
        from tray.awsfiles.awsconfig import build_profile_map

        skip_crt_unless_login(args.profile, build_profile_map(raw))
    try:
        out = actions.assume(args.profile, target=args.target, duration=args.duration,
                             mfa_code=mfa_code, force=args.force, ctx=ctx, raw=raw)
    except AccessDeniedError as e:
        raise diagnosed(args.profile, e, root) from e
    creds = out.result.credentials
    for w in out.warnings:
        warn(w)
    cred_path = root.paths.aws_credentials
    if args.json:
        emit({"ok": True, "profile": out.role.name, "role_arn": out.role.role_arn or None,
               "target": out.target, "identity_arn": out.result.identity_arn,
               "account": out.result.account, "access_key_id": creds.masked_key,
               "expiration": iso_utc(creds.expiration), "region": out.region,
               "credentials_file": str(cred_path), "warnings": list(out.warnings)})
        return EXIT_OK
    from tray.domain.models import utcnow

    where = root.paths.display(cred_path)
    wrote = _("[{target}] in {file}, region {region}").format(
        target=out.target, file=where, region=out.region) if out.region else \
        _("[{target}] in {file}").format(target=out.target, file=where)
    rows = [(_("identity"), out.result.identity_arn), (_("account"), out.result.account),
            (_("access key"), creds.masked_key),
            (_("expires"), timefmt.when(creds.expiration, utcnow())), (_("wrote"), wrote)]
    print(shown(_("Assumed {profile} ({role})").format(profile=out.role.name,
                                                       role=out.role.describe)))
    print(table(rows))
    quoted = shlex.quote(out.target)
    print()
    print(shown(_("Use it:  export AWS_PROFILE={profile}   or   aws --profile {profile} ...")
                .format(profile=quoted)))
    print(_("Keep it fresh: run `roletray` (tray) or `roletray daemon`."))
    return EXIT_OK


def cmd_status(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    reply = handover("status", {}, root)
    if reply is not None:
        print_sections(args, reply.get("sections") or [reply["snapshot"]])
        return EXIT_OK
    print_sections(args, [s.to_json() for s in actions.statuses(root.context())])
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    state = kept_section(check_target(args.target), root)
    said = _("Refreshed {profile} in [{target}].").format(
        profile=state.active_role, target=state.target) if args.target else \
        _("Refreshed {profile}.").format(profile=state.active_role)
    given = asking.read_mfa_code(args.mfa_code)
    # The running instance may refresh from its MFA session; if it needs a code, it
    # gets the one typed here through the `mfa` command (for the same target).
    reply = handover_asking("refresh", {"mfa_code": given, "target": state.target},
                            state.active_role, retry="mfa", root=root)
    if reply is not None:
        for line in warning_lines(reply):
            print(line, file=sys.stderr)
        print_snapshot(args, reply["snapshot"], extra=said)
        return EXIT_OK
    ctx = root.context()  # one settings read for the refresh and the status after it
    raw = parsed_config(root)
    mfa_code = asking.mfa_for(state.active_role, given, root, raw=raw)
    out = actions.assume(state.active_role, target=state.target, mfa_code=mfa_code, ctx=ctx,
                         raw=raw)
    for w in out.warnings:
        warn(w)
    snap = next(s for s in actions.statuses(ctx) if s.target == out.target)
    print_snapshot(args, snap.to_json(), extra=shown(said))
    return EXIT_OK


def kept_section(target: str | None, root: Root) -> State:
    """The kept section ``target`` names (the state file says which role it holds), or
    without one the active role's: the default target's, else the first kept (as
    ``status`` shows it). ``UsageError`` (exit 2) naming it when it is not kept."""
    from tray.state import load_states

    states = load_states(root.paths)
    if target is None:
        default = root.context().target
        states.sort(key=lambda s: s.target != default)
        if not states:
            raise UsageError(Text(N_("no active role to refresh: run `roletray assume "
                                           "PROFILE` first")))
        return states[0]
    for state in states:
        if state.target == target:
            return state
    if not states:
        raise UsageError(N_("[{target}] is not a section roletray keeps (kept: none); "
                            "`roletray assume PROFILE --target {target}` keeps one there"),
                         target=target)
    raise UsageError(N_("[{target}] is not a section roletray keeps (kept: {kept}); "
                        "`roletray assume PROFILE --target {target}` keeps one there"),
                     target=target, kept=", ".join(f"[{s.target}]" for s in states))


def cmd_clear(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    check_target(args.target)
    reply = handover("clear", {"target": args.target}, root)
    if reply is not None:
        # The running instance says what it removed (an older one did not: assume it did).
        removed, unreadable = bool(reply.get("removed", True)), False
        section = bool(reply.get("section", removed))
        target = reply.get("target") or args.target
    else:
        cleared = actions.clear(args.target, ctx=root.context())
        removed, unreadable, section = cleared.anything, cleared.unreadable_state, cleared.section
        target = cleared.target
    if args.json:
        emit({"ok": True, "removed": removed, "unreadable_state_removed": unreadable})
        return EXIT_OK
    if unreadable:
        print(shown(_("Removed roletray's unreadable state file {file} (only that file); the "
                      "next assume writes a new one.").format(
                          file=root.paths.display(root.paths.state_file))))
    creds = root.paths.display(root.paths.aws_credentials)
    if removed and (section or not unreadable):
        print(shown(_("Removed [{target}] from {file} and stopped keeping it fresh.").format(
            target=target, file=creds) if target else
            _("Removed roletray's section from {file} and stopped keeping it fresh.").format(
                file=creds)))
    elif not removed:
        print(shown(_("Nothing to clear: no role kept in [{target}] and no such roletray "
                      "section.").format(target=target) if target else
                    _("Nothing to clear: no role kept in roletray's section and no such "
                      "roletray section.")))
    return EXIT_OK
