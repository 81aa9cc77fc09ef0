"""The ``roletray`` argument parser: every command, its arguments and their help."""

from __future__ import annotations

import argparse
import re
from typing import Any

from tray import __version__
from tray.domain.text import Text
from tray.i18n import N_, _

# argparse's own error lines (English: Python ships no catalog for them), matched whole
# and said again as one of our templates with the same fields; a line not listed here
# stays as argparse words it. Its help words (usage:, options:) stay its own.
_ARGPARSE_ERRORS = [(re.compile(pattern, re.DOTALL), template) for pattern, template in (
    (r"the following arguments are required: (?P<names>.+)",
     N_("the following arguments are required: {names}")),
    (r"unrecognized arguments: (?P<args>.*)", N_("unrecognized arguments: {args}")),
    (r"argument (?P<arg>.+?): invalid choice: (?P<value>.+) \(choose from (?P<choices>.*)\)",
     N_("argument {arg}: invalid choice: {value} (choose from {choices})")),
    (r"argument (?P<arg>.+?): invalid (?P<type>\w+) value: (?P<value>.*)",
     N_("argument {arg}: invalid {type} value: {value}")),
    (r"argument (?P<arg>.+?): expected one argument",
     N_("argument {arg}: expected one argument")),
    (r"argument (?P<arg>.+?): expected at least one argument",
     N_("argument {arg}: expected at least one argument")),
    (r"argument (?P<arg>.+?): not allowed with argument (?P<other>.+)",
     N_("argument {arg}: not allowed with argument {other}")),
    (r"argument (?P<arg>.+?): ignored explicit argument (?P<value>.+)",
     N_("argument {arg}: ignored explicit argument {value}")),
    (r"one of the arguments (?P<names>.+) is required",
     N_("one of the arguments {names} is required")),
    (r"ambiguous option: (?P<option>.+?) could match (?P<matches>.+)",
     N_("ambiguous option: {option} could match {matches}")),
)]


def argparse_said(message: str) -> str:
    """argparse's error ``message`` in the user's language, where it is one we know."""
    for pattern, template in _ARGPARSE_ERRORS:
        m = pattern.fullmatch(message)
        if m:
            return Text(template, **m.groupdict()).localized
    return message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage and exits 2 itself; keep its exit code, make it one line.
        self.exit(2, _("roletray: {message} (see `{command} --help`)").format(
            message=argparse_said(message), command=self.prog) + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="roletray", description=_("Keep AWS IAM role credentials fresh in "
                                               "~/.aws/credentials, from the system tray."))
    p.add_argument("--version", action="version", version=f"roletray {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("run", help=_("the tray app (default)"))
    d = sub.add_parser("daemon", help=_("the refresher without a tray, in the foreground"))
    d.add_argument("--quiet", action="store_true", help=_("log only warnings to stderr"))
    demo = sub.add_parser("demo", help=_("the tray (or daemon) against a local sandbox AWS"))
    demo.add_argument("--headless", action="store_true", help=_("no tray: a live status line"))
    demo.add_argument("--keep", action="store_true", help=_("keep the sandbox folder on exit"))

    s = sub.add_parser("profiles", help=_("the role profiles found in the AWS config"))
    s.add_argument("--json", action="store_true")

    a = sub.add_parser("assume", help=_("assume PROFILE now and write the target section"))
    a.add_argument("profile", help=_("the role profile of the AWS config to assume "
                                     "(`roletray profiles` lists them)"))
    a.add_argument("--target", help=_("credentials-file section to write (default: roletray)"))
    a.add_argument("--duration", type=int, metavar="S", help=_("session length in seconds"))
    a.add_argument("--mfa-code", metavar="CODE",
                   help=_("MFA code; '-' reads it from stdin, which keeps it out of `ps` "
                          "(asked on a terminal when needed)"))
    a.add_argument("--force", action="store_true",
                   help=_("take over a target section holding temporary keys roletray did "
                          "not write"))
    a.add_argument("--yes", action="store_true",
                   help=_("use a guarded profile (roletray_guard) without asking"))
    a.add_argument("--json", action="store_true",
                   help=_("print the new identity and expiry as JSON"))

    s = sub.add_parser("status", help=_("every kept section's role, identity, expiry and state"))
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("refresh", help=_("refresh a kept section now (default: the active role's)"))
    r.add_argument("--target", help=_("the kept section to refresh (default: the active role's)"))
    r.add_argument("--mfa-code", metavar="CODE",
                   help=_("MFA code; '-' reads it from stdin, which keeps it out of `ps`"))
    r.add_argument("--json", action="store_true")

    c = sub.add_parser("clear", help=_("stop keeping a section fresh and remove it "
                                       "(default: roletray's; the others stay kept)"))
    c.add_argument("--target", help=_("the kept section to remove (default: the active role's)"))
    c.add_argument("--json", action="store_true")

    doc = sub.add_parser("doctor", help=_("explain what stops PROFILE from working, with the fix"))
    doc.add_argument("profile", nargs="?")
    doc.add_argument("--json", action="store_true")

    co = sub.add_parser("console", help=_("open the AWS console as PROFILE (default: the "
                                          "active role)"))
    co.add_argument("profile", nargs="?")
    co.add_argument("--print", action="store_true", help=_("print the sign-in URL instead"))
    co.add_argument("--destination", metavar="URL_OR_SERVICE",
                    help=_("a service such as s3, or a console URL (default: the console home)"))
    co.add_argument("--region", metavar="R", help=_("the console's region (default: the role's)"))

    cp = sub.add_parser("credential-process",
                        help=_("print PROFILE's keys for an AWS `credential_process` line "
                               "(--source SOURCE: a session of a keyring-held source's keys)"))
    cp.add_argument("profile", nargs="?")
    cp.add_argument("--source", metavar="SOURCE",
                    help=_("a source profile whose keys are in the OS keyring "
                           "(`roletray keys import`): print a GetSessionToken session of them"))
    cp.add_argument("--file-id", metavar="FILE_ID",
                    help=_("with --source: the credentials file the keys were imported from "
                           "(written by `roletray keys import`; default: the caller's "
                           "credentials file)"))
    cp.add_argument("--no-session", action="store_true",
                    help=_("with --source: print the long-term keys themselves (for calls a "
                           "session cannot make, such as IAM without MFA)"))

    sv = sub.add_parser("serve", help=_("a loopback container-credentials endpoint for PROFILE, "
                                        "in the foreground"))
    sv.add_argument("profile")

    au = sub.add_parser("autostart", help=_("start roletray at login, or not"))
    au.add_argument("action", choices=["enable", "disable", "status"])
    au.add_argument("--force", action="store_true",
                    help=_("replace or remove a roletray.desktop that roletray did not write"))
    au.add_argument("--json", action="store_true")

    k = sub.add_parser("keys", help=_("move a source profile's long-term keys into the OS "
                                      "keyring, list, export or forget them"))
    k.add_argument("action", choices=["import", "list", "export", "remove"])
    k.add_argument("source", nargs="?", help=_("the credentials-file section (source profile) "
                                               "whose access key pair moves; not for `list`"))
    k.add_argument("--force", action="store_true",
                   help=_("remove: forget the keys even when the credentials file lacks them"))
    k.add_argument("--json", action="store_true")
    _add_shell(sub)  # exec, env, prompt
    _add_sso(sub)
    _add_setup(sub)
    return p


def _add_shell(sub: Any) -> None:
    """The three subcommands, on the main subparsers."""
    ex = sub.add_parser(
        "exec", help=_("run CMD as PROFILE: it asks a loopback endpoint for keys, so it "
                       "follows refreshes for as long as it runs"),
        usage="roletray exec PROFILE [--env] -- CMD [ARG...]")
    ex.add_argument("profile", help=_("the role profile to run CMD as"))
    ex.add_argument("--env", action="store_true",
                    help=_("give CMD plain keys, AWS_CREDENTIAL_EXPIRATION and the region "
                           "instead (for tools without the container provider; they end)"))
    ex.add_argument("--yes", action="store_true",
                    help=_("use a guarded profile (roletray_guard) without asking"))
    # REMAINDER: CMD's own options are CMD's (argparse's "*" loses `P --env -- CMD`).
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]",
                    help=_("the command and its arguments, after --"))

    en = sub.add_parser("env", help=_("print the lines that put PROFILE's keys into this "
                                      "shell: eval \"$(roletray env PROFILE)\""))
    en.add_argument("profile")
    en.add_argument("--yes", action="store_true",
                    help=_("use a guarded profile (roletray_guard) without asking"))
    en.add_argument("--shell", choices=("sh", "fish", "powershell"), default="sh",
                    help=_("the syntax (default: sh, for bash, zsh, dash; fish: "
                           "roletray env P --shell fish | source; PowerShell: "
                           "roletray env P --shell powershell | Invoke-Expression)"))

    pr = sub.add_parser("prompt", help=_("one short line for a shell prompt: the active "
                                         "role and minutes left ('!' when refreshing "
                                         "fails); empty with none"))
    pr.add_argument("--format", default=None, metavar="F",
                    help=_("fields {role} {target} {minutes} {state} {mark} "
                           "(default: '{role} {minutes}m{mark}')"))


def _add_sso(sub: Any) -> None:
    """The ``sso`` command and its two subcommands, on ``sub`` (the main subparsers)."""
    s = sub.add_parser("sso", help=_("IAM Identity Center: sign in, or write a profile for "
                                     "every account and permission set"))
    ss = s.add_subparsers(dest="sso_command", metavar="SUBCOMMAND", required=True,
                          parser_class=type(s))
    lg = ss.add_parser("login", help=_("sign in to an sso-session (device code; the browser "
                                       "opens once) and save the token where botocore and "
                                       "the AWS CLI read it"))
    lg.add_argument("sso_session", nargs="?", metavar="SSO_SESSION",
                    help=_("the [sso-session NAME] of the AWS config (default: the only one)"))
    p = ss.add_parser("populate", help=_("write a profile for every account and permission "
                                         "set the sign-in can use, in a block of the AWS "
                                         "config that roletray owns"))
    p.add_argument("sso_session", nargs="?", metavar="SSO_SESSION",
                   help=_("the [sso-session NAME] of the AWS config (default: the only one)"))
    p.add_argument("--template", metavar="T", default=None,
                   help=_("profile names: {account_name}, {account_id}, {role_name}, "
                          "{sso_session} (default: {account_name}/{role_name})"))
    p.add_argument("--region", metavar="R",
                   help=_("the profiles' region (default: the sso-session's sso_region)"))
    p.add_argument("--guard", action="append", default=[], metavar="LABEL=PATTERN",
                   help=_("guard the profiles whose name matches PATTERN (shell-style, e.g. "
                          "'production=Prod*/*'): roletray asks before they become the active "
                          "role; may be given more than once, the first match wins"))
    p.add_argument("--dry-run", action="store_true",
                   help=_("say what would change, write nothing"))
    p.add_argument("--json", action="store_true")


def _add_setup(sub: Any) -> None:
    """``setup``: the first run, step by step or by flags."""
    s = sub.add_parser("setup", help=_("first run: Identity Center, an aws login sign-in, or a "
                                       "role over your keys, asked step by step"))
    s.add_argument("--sso-start-url", metavar="URL", help=_("IAM Identity Center: the start URL"))
    s.add_argument("--sso-region", metavar="R", help=_("IAM Identity Center: its region"))
    s.add_argument("--sso-session", metavar="NAME",
                   help=_("the name of the [sso-session] (default: from the start URL)"))
    s.add_argument("--no-sign-in", action="store_true",
                   help=_("Identity Center: write the sso-session only; sign in and "
                          "populate later"))
    s.add_argument("--login", metavar="PROFILE", help=_("aws login: the profile to sign in as"))
    s.add_argument("--role-arn", metavar="ARN", help=_("a role: its ARN"))
    s.add_argument("--source-profile", metavar="S", help=_("a role: the keys to assume it with"))
    s.add_argument("--profile", metavar="NAME", help=_("a role: the new profile's name"))
    s.add_argument("--region", metavar="R", help=_("the region of the new profiles"))
