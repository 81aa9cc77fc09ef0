"""The ``roletray`` command line. ``main(argv=None) -> int`` runs in-process for tests.

Errors are one line on stderr, never a traceback; ``--json`` prints exactly one
JSON document on stdout. Exit status: 0 done, 1 AWS refused or unreachable,
2 bad usage, bad input files or a refused write.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from tray import __version__, fsutil, i18n, shell_cli
from tray.domain import timefmt
from tray.domain.errors import EXIT_OK, AccessDeniedError, RoletrayError, UsageError
from tray.paths import Paths
from tray.settings import check_target

if TYPE_CHECKING:
    from tray.engine.actions import Context
    from tray.state import State

log = logging.getLogger("roletray")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage and exits 2 itself; keep its exit code, make it one line.
        self.exit(2, f"roletray: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="roletray", description="Keep AWS IAM role credentials fresh "
                "in ~/.aws/credentials, from the system tray.")
    p.add_argument("--version", action="version", version=f"roletray {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("run", help="the tray app (default)")
    d = sub.add_parser("daemon", help="the refresher without a tray, in the foreground")
    d.add_argument("--quiet", action="store_true", help="log only warnings to stderr")
    demo = sub.add_parser("demo", help="the tray (or daemon) against a local sandbox AWS")
    demo.add_argument("--headless", action="store_true", help="no tray: a live status line")
    demo.add_argument("--keep", action="store_true", help="keep the sandbox folder on exit")

    s = sub.add_parser("profiles", help="the role profiles found in the AWS config")
    s.add_argument("--json", action="store_true")

    a = sub.add_parser("assume", help="assume PROFILE now and write the target section")
    a.add_argument("profile", help="the role profile of the AWS config to assume "
                   "(`roletray profiles` lists them)")
    a.add_argument("--target", help="credentials-file section to write (default: roletray)")
    a.add_argument("--duration", type=int, metavar="S", help="session length in seconds")
    a.add_argument("--mfa-code", metavar="CODE",
                   help="MFA code; '-' reads it from stdin, which keeps it out of `ps` "
                        "(asked on a terminal when needed)")
    a.add_argument("--force", action="store_true",
                   help="take over a target section holding temporary keys roletray did not write")
    a.add_argument("--yes", action="store_true",
                   help="use a guarded profile (roletray_guard) without asking")
    a.add_argument("--json", action="store_true",
                   help="print the new identity and expiry as JSON")

    s = sub.add_parser("status", help="every kept section's role, identity, expiry and state")
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("refresh", help="refresh a kept section now (default: the active role's)")
    r.add_argument("--target", help="the kept section to refresh (default: the active role's)")
    r.add_argument("--mfa-code", metavar="CODE",
                   help="MFA code; '-' reads it from stdin, which keeps it out of `ps`")
    r.add_argument("--json", action="store_true")

    c = sub.add_parser("clear", help="stop keeping a section fresh and remove it "
                       "(default: roletray's; the others stay kept)")
    c.add_argument("--target", help="the kept section to remove (default: the active role's)")
    c.add_argument("--json", action="store_true")

    doc = sub.add_parser("doctor", help="explain what stops PROFILE from working, with the fix")
    doc.add_argument("profile", nargs="?")
    doc.add_argument("--json", action="store_true")

    co = sub.add_parser("console", help="open the AWS console as PROFILE (default: the active role)")
    co.add_argument("profile", nargs="?")
    co.add_argument("--print", action="store_true", help="print the sign-in URL instead")
    co.add_argument("--destination", metavar="URL_OR_SERVICE",
                    help="a service such as s3, or a console URL (default: the console home)")
    co.add_argument("--region", metavar="R", help="the console's region (default: the role's)")

    cp = sub.add_parser("credential-process",
                        help="print PROFILE's keys for an AWS `credential_process` line "
                             "(--source SOURCE: a session of a keyring-held source's keys)")
    cp.add_argument("profile", nargs="?")
    cp.add_argument("--source", metavar="SOURCE",
                    help="a source profile whose keys are in the OS keyring "
                         "(`roletray keys import`): print a GetSessionToken session of them")
    cp.add_argument("--file-id", metavar="FILE_ID",
                    help="with --source: the credentials file the keys were imported from "
                         "(written by `roletray keys import`; default: the caller's "
                         "credentials file)")
    cp.add_argument("--no-session", action="store_true",
                    help="with --source: print the long-term keys themselves (for calls a "
                         "session cannot make, such as IAM without MFA)")

    sv = sub.add_parser("serve", help="a loopback container-credentials endpoint for PROFILE, "
                        "in the foreground")
    sv.add_argument("profile")

    au = sub.add_parser("autostart", help="start roletray at login, or not")
    au.add_argument("action", choices=["enable", "disable", "status"])
    au.add_argument("--force", action="store_true",
                    help="replace or remove a roletray.desktop that roletray did not write")
    au.add_argument("--json", action="store_true")

    k = sub.add_parser("keys", help="move a source profile's long-term keys into the OS "
                       "keyring, list, export or forget them")
    k.add_argument("action", choices=["import", "list", "export", "remove"])
    k.add_argument("source", nargs="?", help="the credentials-file section (source profile) "
                   "whose access key pair moves; not for `list`")
    k.add_argument("--force", action="store_true",
                   help="remove: forget the keys even when the credentials file lacks them")
    k.add_argument("--json", action="store_true")
    shell_cli.add_parsers(sub)  # exec, env, prompt

    from tray import setup_cli, sso_cli

    sso_cli.add_parser(sub)
    setup_cli.add_parser(sub)
    return p


@dataclass(frozen=True)
class Root:
    """What every command starts from: the environment and the paths resolved from it once."""

    env: Mapping[str, str]
    paths: Paths
    one_shot: bool = False  # this process is `roletray CMD` (not a test, not a parent)

    def context(self) -> Context:
        """The use cases' context; reads the settings file (a broken one is an error)."""
        from tray import compose  # AWS in this process: a one-shot command
        from tray.engine.actions import Context
        from tray.settings import load_settings

        return Context(paths=self.paths, env=self.env, settings=load_settings(self.paths),
                       aws=compose.in_process_aws(self.env))


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """``env``: the environment to run in (default: the process's, read here only)."""
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    handler = _COMMANDS[command]
    try:
        e = os.environ if env is None else env
        i18n.setup(e)
        code = int(handler(args, Root(env=e, paths=Paths.from_env(e),
                                      one_shot=argv is None and env is None)))
        sys.stdout.flush()  # a reader that left (`| head -1`) shows here, not at exit
        return code
    except RoletrayError as e:
        _fail(args, str(e), e.exit_code, shown_as=e.localized)
        return e.exit_code
    except KeyboardInterrupt:
        print("roletray: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `roletray profiles | head -1`: the reader left, as is its right. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        _drop_stdout()
        return 141  # as a shell reports a command ended by SIGPIPE


def _drop_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


def shown(text: str) -> str:
    """``text`` for a terminal: a name from a config file may hold escape sequences,
    control characters or bidi overrides; those are shown escaped (as ``ascii()``
    does), never sent raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _fail(args: argparse.Namespace, message: str, code: int, *,
          shown_as: str | None = None) -> None:
    """``message`` (English) in ``--json``; ``shown_as`` (its translation) on stderr."""
    print(f"roletray: {shown(shown_as or message)}", file=sys.stderr)
    if getattr(args, "json", False):
        _emit({"ok": False, "error": message, "exit_code": code})


def _emit(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=False))


# --- formatting -----------------------------------------------------------------

def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {shown(v)}" for k, v in rows)


def _snapshot_rows(snap: Any) -> list[tuple[str, str]]:
    from tray.domain.models import utcnow

    now = snap.now or utcnow()
    rows = [("state", snap.state.value), ("role", snap.role or "-"), ("target", f"[{snap.target}]")]
    if snap.identity_arn:
        rows.append(("identity", snap.identity_arn))
    if snap.account:
        rows.append(("account", snap.account))
    if snap.expiration:
        rows.append(("expires", timefmt.when(snap.expiration, now)))
    if snap.mfa_session_expiration:
        verb = "ends" if snap.mfa_session_expiration > now else "ended"
        rows.append(("MFA session", f"{verb} {timefmt.when(snap.mfa_session_expiration, now)}"))
    if snap.clock_skew_seconds:
        rows.append(("clock skew", f"{snap.clock_skew_seconds:+.0f} s against AWS"))
    if snap.last_error:
        rows.append(("last error", snap.last_error))
    return rows


# --- commands -------------------------------------------------------------------

def cmd_run(args: argparse.Namespace, root: Root) -> int:
    from tray import app

    return app.run_tray(args, root.env)


def cmd_daemon(args: argparse.Namespace, root: Root) -> int:
    from tray import app

    return app.run_daemon(args, root.env)


def cmd_demo(args: argparse.Namespace, root: Root) -> int:
    from tray import demo

    return demo.run(args)  # a root of its own: it points this process at its sandbox


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
        _emit({"config_file": str(config_path), "profiles": items})
        return EXIT_OK
    if not items:
        print(f"No role profiles in {root.paths.display(config_path)} yet. `roletray setup` "
              "asks step by step: IAM Identity Center, an aws login sign-in, or a role over "
              "the keys you have.")
        return EXIT_OK
    rows = [("PROFILE", "ROLE", "SOURCE", "REGION", "MFA")]
    for it in items:
        if "problem" in it:
            continue
        name = it["name"] + (f" [{it['guard']}]" if it["guard"] else "")
        rows.append((shown(name), shown(it["describe"]), shown(it["source"]),
                     shown(it["region"] or "-"),
                     "yes" if it["mfa"] else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for it in items:
        if "problem" in it:
            print(f"warning: {shown(it['problem'])}", file=sys.stderr)
    return EXIT_OK


def _read_mfa_code(value: str | None) -> str | None:
    if value == "-":
        code = sys.stdin.readline().strip()
        if not code:
            raise UsageError("--mfa-code -: no code on standard input")
        return code
    return value


def _prompt_mfa(serial: str) -> str | None:
    """Ask on the terminal, never unasked elsewhere; None when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    code = getpass.getpass(f"MFA code for {serial}: ").strip()
    return code or None


def _needs_mfa(profile_name: str | None, root: Root,
               raw: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    """The mfa_serial of a profile, if it has one (checked locally, before any call).
    ``raw``: the config file already parsed, to be shared with the switch after."""
    if not profile_name:
        return None
    from tray.awsfiles import awsconfig

    try:
        return awsconfig.get_role_profile(
            profile_name, root.paths.aws_config,
            credentials_path=root.paths.aws_credentials, raw=raw,
            home=root.paths.home).mfa_serial
    except RoletrayError:
        return None  # the real call reports the problem with full context


def _mfa_for(profile_name: str | None, given: str | None, root: Root, *,
             raw: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    code = _read_mfa_code(given)
    if code is None and profile_name:
        code = _command_code(profile_name, root, raw)
    if code is None:
        code = _ask_mfa(_needs_mfa(profile_name, root, raw))
    return code


def _command_code(profile_name: str, root: Root,
                  raw: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    """The code of a role with ``mfa_process``, from that command (no terminal needed)."""
    from tray.awsfiles import awsconfig
    from tray.engine.mfa_codes import MfaCodes

    try:
        role = awsconfig.get_role_profile(profile_name, root.paths.aws_config,
                                          credentials_path=root.paths.aws_credentials, raw=raw,
                                          home=root.paths.home)
    except RoletrayError:
        return None
    if not role.mfa_process:
        return None
    return MfaCodes(root.paths.state_dir, root.env).code_for(role, role.mfa_process)


def _confirm_guard(profile_name: str, root: Root, *, yes: bool, verb: str = "Use",
                   raw: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Ask before a guarded profile is used (on a terminal), or refuse without ``--yes``."""
    from tray import guard
    from tray.awsfiles import awsconfig

    try:
        role = awsconfig.get_role_profile(profile_name, root.paths.aws_config,
                                          credentials_path=root.paths.aws_credentials,
                                          raw=raw, home=root.paths.home)
    except RoletrayError:
        return  # the command itself reports what is wrong, with context
    ask = input if sys.stdin.isatty() else None
    guard.confirm(role, yes=yes, ask=ask, verb=verb)


def _ask_mfa(serial: str | None) -> str | None:
    return _prompt_mfa(serial) if serial else None


def _parsed_config(root: Root) -> dict[str, dict[str, str]]:
    """The config file, parsed once for the MFA check and the switch that follows."""
    from tray.awsfiles import awsconfig

    return awsconfig.raw_config_parse(root.paths.aws_config, home=root.paths.home)


def _handover(cmd: str, payload: dict[str, Any], root: Root) -> Any | None:
    """Hand the command to a running tray/daemon; None when none runs."""
    from tray.instance import control

    reply = control.send(cmd, payload, where=root.paths)
    if reply is None:
        return None
    return _checked(reply)


def _checked(reply: dict[str, Any]) -> dict[str, Any]:
    from tray.domain import wire

    wire.raise_for(reply)
    return reply


def _handover_asking(cmd: str, payload: dict[str, Any], profile: str | None,
                     retry: str, root: Root) -> Any | None:
    """Hand ``cmd`` over without a code first: the running instance may hold an MFA
    session. If it needs a code, ask on the terminal and send it with ``retry``
    (``{"mfa_code": code}`` added to the payload). None when no instance runs.
    The tray's flow too (``tray.engine.roles.ask_and_retry``)."""
    from tray.domain import wire
    from tray.domain.errors import MfaRequiredError
    from tray.engine.roles import ask_and_retry
    from tray.instance import control, handover

    where = root.paths
    last: list[dict[str, Any] | None] = [None]

    def attempt(code: str | None) -> None:
        if code is None:  # the lean path's reply to this very request, if it got one
            reply = handover.handed_over(cmd, payload) or control.send(cmd, payload,
                                                                       where=where)
        else:
            reply = control.send(retry, {**payload, "mfa_code": code, "code": code},
                                 where=where)
        if reply is None and code is not None:
            raise UsageError("the running roletray went away while asking for the code")
        last[0] = reply
        if reply is not None and not reply.get("ok") and \
                isinstance(wire.decode_error(reply), MfaRequiredError):
            # A signal for ask_and_retry; the reply kept in ``last`` says the rest.
            raise MfaRequiredError(profile=profile or "", mfa_serial="")

    def ask() -> str | None:
        return _ask_mfa(_needs_mfa(profile, root))

    try:
        ask_and_retry(attempt, ask, ask_first=False)
    except MfaRequiredError:
        pass  # refused with the code too: the instance's own reply says why
    reply = last[0]
    return None if reply is None else _checked(reply)


def _print_snapshot(args: argparse.Namespace, snap_json: dict[str, Any], extra: str = "") -> None:
    if args.json:
        _emit(snap_json)
        return
    if extra:
        print(extra)
    print(_table(_snapshot_rows(_snapshot_of(snap_json))))


def _print_sections(args: argparse.Namespace, sections: list[dict[str, Any]]) -> None:
    """``status``: the default target's section, then every other kept one. ``--json``:
    the first one's document (as before) with all of them under ``sections``."""
    if args.json:
        _emit({**sections[0], "sections": sections})
        return
    print(_table(_snapshot_rows(_snapshot_of(sections[0]))))
    for snap_json in sections[1:]:
        snap = _snapshot_of(snap_json)
        print(f"\nAlso kept fresh: {snap.role or '-'} -> [{snap.target}]")
        print(_table(_snapshot_rows(snap)))


def _snapshot_of(snap_json: dict[str, Any]) -> Any:
    from tray.domain.models import RefreshState, Snapshot, parse_iso_utc, utcnow
    from tray.domain.problems import Problem

    return Snapshot(
        state=RefreshState(snap_json.get("state", "idle")), role=snap_json.get("role"),
        target=snap_json.get("target") or "roletray", identity_arn=snap_json.get("identity_arn"),
        account=snap_json.get("account"),
        expiration=parse_iso_utc(snap_json["expiration"]) if snap_json.get("expiration") else None,
        now=utcnow(), problem=Problem.from_json(snap_json.get("problem")),
        clock_skew_seconds=snap_json.get("clock_skew_seconds"),
        mfa_session_expiration=parse_iso_utc(snap_json["mfa_session_expiration"])
        if snap_json.get("mfa_session_expiration") else None)


def cmd_assume(args: argparse.Namespace, root: Root) -> int:
    check_target(args.target)  # before the socket: one rule, and the same words, everywhere
    # One parse for the guard, the MFA check and the switch that follows; a broken file
    # is reported below, after the settings file, as before.
    raw: dict[str, dict[str, str]] | None
    try:
        raw = _parsed_config(root)
    except RoletrayError:
        raw = None
    _confirm_guard(args.profile, root, yes=args.yes, verb="Switch to", raw=raw)
    given = _read_mfa_code(args.mfa_code)
    if args.duration is not None and not 900 <= args.duration <= 43200:
        raise UsageError(i18n.N_("--duration {value}: must be from 900 to 43200 seconds"),
                         value=args.duration)
    # A running instance may hold an MFA session for this role: ask only if it says so.
    try:
        reply = _handover_asking("assume", {"profile": args.profile, "target": args.target,
                                            "duration": args.duration, "mfa_code": given,
                                            "force": args.force}, args.profile,
                                 retry="assume", root=root)
    except AccessDeniedError as e:  # said as without an instance
        raise _diagnosed(args.profile, e, root) from e
    if reply is not None:
        target = reply["snapshot"].get("target")
        default = reply.get("default_target")  # the instance's: it did the switch
        if not isinstance(default, str):
            from tray.settings import load_settings  # an instance that does not say

            default = load_settings(root.paths).target
        said = f"Switched the running roletray to {args.profile}." if target in (None, default) \
            else f"The running roletray keeps {args.profile} fresh in [{target}] too."
        _print_snapshot(args, reply["snapshot"], extra=shown(said))
        return EXIT_OK
    from tray.domain.models import iso_utc
    from tray.engine import actions

    ctx = root.context()  # a broken settings file is reported before the config file
    if raw is None:
        raw = _parsed_config(root)
    mfa_code = _mfa_for(args.profile, given, root, raw=raw)
    if root.one_shot:  # one AssumeRole, then exit: no awscrt unless a sign-in needs it
        from tray.aws.session import skip_crt_unless_login
        from tray.awsfiles.awsconfig import build_profile_map

        skip_crt_unless_login(args.profile, build_profile_map(raw))
    try:
        out = actions.assume(args.profile, target=args.target, duration=args.duration,
                             mfa_code=mfa_code, force=args.force, ctx=ctx, raw=raw)
    except AccessDeniedError as e:
        raise _diagnosed(args.profile, e, root) from e
    creds = out.result.credentials
    for w in out.warnings:
        print(f"warning: {shown(w)}", file=sys.stderr)
    cred_path = root.paths.aws_credentials
    if args.json:
        _emit({"ok": True, "profile": out.role.name, "role_arn": out.role.role_arn or None,
               "target": out.target, "identity_arn": out.result.identity_arn,
               "account": out.result.account, "access_key_id": creds.masked_key,
               "expiration": iso_utc(creds.expiration), "region": out.region,
               "credentials_file": str(cred_path), "warnings": list(out.warnings)})
        return EXIT_OK
    from tray.domain.models import utcnow

    rows = [("identity", out.result.identity_arn), ("account", out.result.account),
            ("access key", creds.masked_key), ("expires", timefmt.when(creds.expiration, utcnow())),
            ("wrote", f"[{out.target}] in {root.paths.display(cred_path)}"
             + (f", region {out.region}" if out.region else ""))]
    print(shown(f"Assumed {out.role.name} ({out.role.describe})"))
    print(_table(rows))
    quoted = shlex.quote(out.target)
    print(f"\nUse it:  export AWS_PROFILE={quoted}   or   aws --profile {quoted} ...")
    print("Keep it fresh: run `roletray` (tray) or `roletray daemon`.")
    return EXIT_OK


def _diagnosed(profile: str, error: AccessDeniedError, root: Root) -> AccessDeniedError:
    """A denied AssumeRole said once, finding first: the doctor's finding when it has one
    (no second AssumeRole), else the denial as it came (tray.domain.denied's sentence)."""
    from tray.doctor import diagnose

    try:
        report = diagnose.run_doctor(profile, try_assume=False, env=root.env)
    except Exception:  # the denial itself is the error to report; the diagnosis is a bonus
        log.debug("diagnosis failed", exc_info=True)
        return error
    if not diagnose.explains_denial(report):
        return error
    return AccessDeniedError(f"profile '{profile}': {diagnose.summarize(report)}")


def cmd_status(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    reply = _handover("status", {}, root)
    if reply is not None:
        _print_sections(args, reply.get("sections") or [reply["snapshot"]])
        return EXIT_OK
    _print_sections(args, [s.to_json() for s in actions.statuses(root.context())])
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    state = _kept_section(check_target(args.target), root)
    said = f"Refreshed {state.active_role}" + (
        f" in [{state.target}]." if args.target else ".")
    given = _read_mfa_code(args.mfa_code)
    # The running instance may refresh from its MFA session; if it needs a code, it
    # gets the one typed here through the `mfa` command (for the same target).
    reply = _handover_asking("refresh", {"mfa_code": given, "target": state.target},
                             state.active_role, retry="mfa", root=root)
    if reply is not None:
        _print_snapshot(args, reply["snapshot"], extra=shown(said))
        return EXIT_OK
    ctx = root.context()  # one settings read for the refresh and the status after it
    raw = _parsed_config(root)
    mfa_code = _mfa_for(state.active_role, given, root, raw=raw)
    out = actions.assume(state.active_role, target=state.target, mfa_code=mfa_code, ctx=ctx,
                         raw=raw)
    for w in out.warnings:
        print(f"warning: {shown(w)}", file=sys.stderr)
    snap = next(s for s in actions.statuses(ctx) if s.target == out.target)
    _print_snapshot(args, snap.to_json(), extra=shown(said))
    return EXIT_OK


def _kept_section(target: str | None, root: Root) -> State:
    """The kept section ``target`` names (the state file says which role it holds), or
    without one the active role's: the default target's, else the first kept (as
    ``status`` shows it). ``UsageError`` (exit 2) naming it when it is not kept."""
    from tray.state import load_states

    states = load_states(root.paths)
    if target is None:
        default = root.context().target
        states.sort(key=lambda s: s.target != default)
        if not states:
            raise UsageError("no active role to refresh: run `roletray assume PROFILE` first")
        return states[0]
    for state in states:
        if state.target == target:
            return state
    kept = ", ".join(f"[{s.target}]" for s in states) or "none"
    raise UsageError(f"[{target}] is not a section roletray keeps (kept: {kept}); "
                     f"`roletray assume PROFILE --target {target}` keeps one there")


def cmd_clear(args: argparse.Namespace, root: Root) -> int:
    from tray.engine import actions

    check_target(args.target)
    reply = _handover("clear", {"target": args.target}, root)
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
        _emit({"ok": True, "removed": removed, "unreadable_state_removed": unreadable})
        return EXIT_OK
    if unreadable:
        print(f"Removed roletray's unreadable state file {root.paths.display(root.paths.state_file)}"
              " (only that file); the next assume writes a new one.")
    where = f"[{target}]" if target else "roletray's section"
    if removed and (section or not unreadable):
        print(f"Removed {where} from {root.paths.display(root.paths.aws_credentials)}"
              " and stopped keeping it fresh.")
    elif not removed:
        print(f"Nothing to clear: no role kept in {where} and no such roletray section.")
    return EXIT_OK


def _profile_or_active(profile: str | None, root: Root, command: str) -> str:
    """``profile``, else the active role (refused when there is none)."""
    if profile is not None:
        return profile
    from tray.state import load_state

    state = load_state(root.paths)
    if state is None:
        raise UsageError(f"no active role: name a profile, e.g. `roletray {command} platform`")
    return state.active_role


def cmd_doctor(args: argparse.Namespace, root: Root) -> int:
    from tray.doctor import diagnose

    profile = _profile_or_active(args.profile, root, "doctor")
    report = diagnose.run_doctor(profile, env=root.env)
    if args.json:
        _emit(report.to_json())
    else:
        print("\n".join(shown(line) for line in diagnose.format_report(report).splitlines()))
    return int(report.exit_code)


def cmd_console(args: argparse.Namespace, root: Root) -> int:
    from tray import console

    profile = _profile_or_active(args.profile, root, "console")
    # A running instance that keeps the role hands its keys over: no AssumeRole.
    held = console.instance_keys(profile, where=root.paths)

    def assume(role: Any, profile_map: Any) -> Any:
        from tray.aws import sts

        return sts.assume_role(role, mfa_code=_ask_mfa(role.mfa_serial), env=root.env,
                               profile_map=profile_map).credentials

    try:
        url = console.console_url(profile, env=root.env, destination=args.destination,
                                  region=args.region, keys=held, assume=assume)
    except AccessDeniedError as e:
        raise _diagnosed(profile, e, root) from e
    return console.deliver(url, profile, print_only=args.print,
                           folder=fsutil.private_dir(root.paths.runtime_dir))


def cmd_credential_process(args: argparse.Namespace, root: Root) -> int:
    """``credential_process = roletray credential-process PROFILE``: the Version 1 document
    on stdout and nothing else. A served answer is normally printed by
    ``tray.serve.fastpath`` before this module loads; this is the full path: an error
    reply (reported with the doctor's diagnosis), an MFA code to ask for on the
    terminal, or no running instance (the role is assumed here, nothing written)."""
    from tray.domain import wire
    from tray.domain.errors import MfaRequiredError
    from tray.instance import control
    from tray.serve import fastpath

    if args.source is not None or args.no_session or args.file_id is not None:
        if args.profile is not None or not args.source:
            raise UsageError("credential-process: give either PROFILE or --source SOURCE "
                             "(--no-session and --file-id go with --source)")
        document = _source_document(args.source, args.file_id, root,
                                    session=not args.no_session)
        sys.stdout.write(json.dumps(document) + "\n")
        return EXIT_OK
    if args.profile is None:
        raise UsageError("credential-process: a PROFILE or --source SOURCE is required")
    where = root.paths
    reply = cast("dict[str, Any] | None", fastpath.handed_over(args.profile)) or \
        control.send("credentials", {"profile": args.profile}, where=where)
    if reply is not None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), MfaRequiredError):
        code = _tty_mfa_code(args.profile, root)
        reply = control.send("credentials", {"profile": args.profile, "mfa_code": code},
                             where=where)
        if reply is None:
            raise UsageError("the running roletray went away while asking for the code")
    if reply is not None:
        try:
            wire.raise_for(reply)
        except AccessDeniedError as e:
            raise _diagnosed(args.profile, e, root) from e
        document = reply["document"]
    else:
        document = _serve_here(args.profile, root)
    sys.stdout.write(json.dumps(document) + "\n")
    return EXIT_OK


def _serve_here(profile: str, root: Root) -> dict[str, Any]:
    """No running instance: one AssumeRole in this process, nothing written."""
    from tray.domain.errors import MfaRequiredError
    from tray.engine import actions
    from tray.serve.document import process_document

    ctx = root.context()
    try:
        try:
            out = actions.assume_only(profile, ctx=ctx)
        except MfaRequiredError:
            out = actions.assume_only(profile, ctx=ctx,
                                      mfa_code=_tty_mfa_code(profile, root))
    except AccessDeniedError as e:
        raise _diagnosed(profile, e, root) from e
    return process_document(out.result.credentials)


def _source_document(source: str, file_id: str | None, root: Root, *,
                     session: bool) -> dict[str, Any]:
    """``credential-process --source SOURCE [--file-id=FILE_ID]``: a GetSessionToken
    session of the keyring-held keys of SOURCE of the credentials file FILE_ID, from
    the running instance (which keeps it) or made here; ``session`` False: the
    long-term pair, read here (the instance never holds it).

    Without FILE_ID (a line from before file ids) the file is the caller's own
    credentials file, and the keyring's item from before file ids is taken over here,
    with the caller's files (``tray.keys_legacy``), never by the instance."""
    from tray import keys_index
    from tray.aws import source_keys
    from tray.domain import wire
    from tray.domain.errors import KeyringKeysMissingError, MfaRequiredError
    from tray.domain.source_line import FILE_ID_RE
    from tray.instance import control
    from tray.serve import fastpath
    from tray.serve.document import process_document

    if file_id is not None and not FILE_ID_RE.fullmatch(file_id):
        raise UsageError(f"credential-process: --file-id {file_id!r} is not a credentials "
                         "file id (12 hex digits, as `roletray keys import` writes it)")
    if not session:
        return source_keys.long_term_document(
            source_keys.long_term(source, env=root.env, file_id=file_id))
    where = root.paths
    request = {"source": source,
               "file_id": file_id or keys_index.file_id(root.paths.aws_credentials)}
    reply = cast("dict[str, Any] | None", fastpath.handed_over(source, source=True)) or \
        control.send("credentials", request, where=where)
    if reply is not None and file_id is None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), KeyringKeysMissingError):
        from tray import keys_legacy
        from tray.platform.secret_store import SecretStore

        if keys_legacy.claim(source, SecretStore(), root.paths) is not None:
            reply = control.send("credentials", request, where=where)
    if reply is not None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), MfaRequiredError):
        code = _tty_mfa_code(source, root, serial=source_keys.needs_code(source, root.env),
                             source=True)
        reply = control.send("credentials", {**request, "mfa_code": code}, where=where)
        if reply is None:
            raise UsageError("the running roletray went away while asking for the code")
    if reply is not None:
        wire.raise_for(reply)
        return dict(reply["document"])
    try:
        made = source_keys.start_session(source, env=root.env, file_id=file_id)
    except MfaRequiredError:
        code = _tty_mfa_code(source, root, serial=source_keys.needs_code(source, root.env),
                             source=True)
        made = source_keys.start_session(source, env=root.env, file_id=file_id,
                                         mfa_code=code)
    return process_document(made.credentials)


def _tty_mfa_code(profile: str, root: Root, *, serial: str | None = None,
                  source: bool = False) -> str:
    """Ask on the controlling terminal: stdout belongs to the SDK reading the document,
    and stdin may be its pipe. No terminal: an error that says how to get past it."""
    serial = serial or _needs_mfa(profile, root) or "the MFA device"
    try:
        tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError:
        how = ("start the tray (`roletray`) or `roletray daemon`, and run "
               f"`aws sts get-caller-identity --profile {profile}` in a terminal once (the "
               "instance keeps the session)" if source else "start the tray (`roletray`) or `roletray daemon` and "
               f"give it the code (`roletray assume {profile}`)")
        raise UsageError(
            f"profile '{profile}' needs an MFA code and there is no terminal to ask on; "
            f"{how}, then run this again") from None
    with tty:
        code = getpass.getpass(f"MFA code for {serial}: ", stream=tty).strip()
    if not code:
        raise UsageError(f"profile '{profile}': no MFA code given")
    return code


def cmd_serve(args: argparse.Namespace, root: Root) -> int:
    from tray.serve import foreground

    # An MFA role's code is asked here, before the endpoint opens: its callers cannot be.
    return foreground.run(args.profile, root.env,
                          ask_code=lambda profile: _tty_mfa_code(profile, root))


def cmd_autostart(args: argparse.Namespace, root: Root) -> int:
    from tray.platform import autostart

    return int(autostart.cli(args.action, env=root.env, json_output=args.json, force=args.force))


def cmd_keys(args: argparse.Namespace, root: Root) -> int:
    from tray import keys

    if (args.action == "list") != (args.source is None):
        raise UsageError("`roletray keys list` takes no SOURCE" if args.source else
                         f"`roletray keys {args.action}` needs SOURCE (a credentials-file "
                         "section, e.g. default)")
    ctx = _keys_context(root)
    creds, config = root.paths.display(root.paths.aws_credentials), \
        root.paths.display(root.paths.aws_config)
    doc: dict[str, Any]
    if args.action == "list":
        held = keys.list_keys(ctx)
        if args.json:
            _emit({"ok": True, "sources": [h.to_json() for h in held]})
        elif not held:
            print("roletray holds no keys (`roletray keys import SOURCE` moves them there)")
        else:
            rows = [("SOURCE", "KEY", "IN KEYRING", "CONFIG LINE", "KEYS IN FILE", "FILE")]
            rows += [(h.source, h.masked_key, _yes(h.in_keyring), _yes(h.config_line),
                      _yes(h.file_has_keys), h.file or "(from before file ids)")
                     for h in held]
            width = [max(len(r[i]) for r in rows) for i in range(5)]
            for r in rows:
                print(shown("  ".join(c.ljust(w) for c, w in zip(r, width, strict=False))
                            + "  " + r[5]))
            print(f"keyring: {held[0].backend}")
        return EXIT_OK
    if args.action == "import":
        imported = keys.import_keys(args.source, ctx)
        doc = {"source": imported.source, "key": imported.masked_key,
               "backend": imported.backend, "identity_arn": imported.identity_arn,
               "credential_process": imported.line, "already": imported.identity_arn is None}
        text = (f"the keys of '{imported.source}' ({imported.masked_key}) were in "
                f"{imported.backend} already, and the config line in place: nothing to do"
                if imported.identity_arn is None else
                f"moved the keys of '{imported.source}' ({imported.masked_key}) into "
                f"{imported.backend}; AWS accepts them ({imported.identity_arn})\n"
                f"{config}: credential_process = {imported.line}\n"
                f"{creds}: the two key lines of [{imported.source}] removed")
    elif args.action == "export":
        exported = keys.export_keys(args.source, ctx)
        doc = {"source": exported.source, "key": exported.masked_key,
               "line_removed": exported.line_removed}
        text = (f"put the keys of '{exported.source}' ({exported.masked_key}) back into "
                f"{creds}" + (f"; removed roletray's credential_process line from {config}"
                              if exported.line_removed else "")
                + f"\nthe OS keyring still holds them: `roletray keys remove "
                f"{exported.source}` forgets them")
    else:
        removed = keys.remove_keys(args.source, ctx, force=args.force)
        doc = {"source": removed.source, "forgot": removed.forgot,
               "line_removed": removed.line_removed}
        text = (f"forgot the keys of '{removed.source}' in the OS keyring" if removed.forgot
                else f"the OS keyring held no keys of '{removed.source}'") + (
            f"; removed roletray's credential_process line from {config}"
            if removed.line_removed else "")
    if args.json:
        _emit({"ok": True, **doc})
    else:
        print("\n".join(shown(line) for line in text.splitlines()))
    return EXIT_OK


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _keys_context(root: Root) -> Any:
    """The keys use cases' collaborators: the OS keyring, GetCallerIdentity (botocore,
    loaded here only), this installation's command, and the kill -9 tests' pause."""
    from tray.keys import KeysContext, test_pause
    from tray.platform.autostart import this_roletray
    from tray.platform.secret_store import SecretStore, StoredKeys

    def verify(k: StoredKeys) -> Mapping[str, str]:
        from tray.aws import sts

        return sts.keys_identity(k.source, k.access_key_id, k.secret_access_key, env=root.env)

    return KeysContext(paths=root.paths, store=SecretStore(), verify=verify,
                       program=this_roletray(root.env),
                       pause=test_pause(root.env.get("ROLETRAY_TEST_PAUSE_FILE"),
                                        root.env.get("ROLETRAY_TEST_PAUSE_AT")))


_COMMANDS: dict[str, Callable[[argparse.Namespace, Root], int]] = {
    "run": cmd_run, "daemon": cmd_daemon, "demo": cmd_demo, "profiles": cmd_profiles,
    "assume": cmd_assume, "status": cmd_status, "refresh": cmd_refresh, "clear": cmd_clear,
    "doctor": cmd_doctor, "autostart": cmd_autostart, "console": cmd_console,
    "credential-process": cmd_credential_process, "serve": cmd_serve,
    "keys": cmd_keys, **shell_cli.COMMANDS, "sso": lambda args, root: _sso(args, root),
    "setup": lambda args, root: _setup(args, root),
}


def _setup(args: argparse.Namespace, root: Root) -> int:
    from tray import setup_cli

    return setup_cli.cmd_setup(args, root)


def _sso(args: argparse.Namespace, root: Root) -> int:
    from tray import sso_cli

    return sso_cli.cmd_sso(args, root)
