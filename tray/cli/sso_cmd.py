"""``roletray sso login`` and ``roletray sso populate``: IAM Identity Center from the command line.

botocore is loaded only by the commands that call AWS, inside their functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from tray.domain.errors import EXIT_OK

if TYPE_CHECKING:
    from tray.aws.sso_populate import PopulateResult
    from tray.cli.common import Root

SHOWN_NAMES = 20  # names listed per line of the text output; --json has them all


def add_parser(sub: Any) -> None:
    """The ``sso`` command and its two subcommands, on ``sub`` (the main subparsers)."""
    s = sub.add_parser("sso", help="IAM Identity Center: sign in, or write a profile for "
                       "every account and permission set")
    ss = s.add_subparsers(dest="sso_command", metavar="SUBCOMMAND", required=True,
                          parser_class=type(s))
    lg = ss.add_parser("login", help="sign in to an sso-session (device code; the browser "
                       "opens once) and save the token where botocore and the AWS CLI read it")
    lg.add_argument("sso_session", nargs="?", metavar="SSO_SESSION",
                    help="the [sso-session NAME] of the AWS config (default: the only one)")
    p = ss.add_parser("populate", help="write a profile for every account and permission set "
                      "the sign-in can use, in a block of the AWS config that roletray owns")
    p.add_argument("sso_session", nargs="?", metavar="SSO_SESSION",
                   help="the [sso-session NAME] of the AWS config (default: the only one)")
    p.add_argument("--template", metavar="T", default=None,
                   help="profile names: {account_name}, {account_id}, {role_name}, "
                        "{sso_session} (default: {account_name}/{role_name})")
    p.add_argument("--region", metavar="R",
                   help="the profiles' region (default: the sso-session's sso_region)")
    p.add_argument("--guard", action="append", default=[], metavar="LABEL=PATTERN",
                   help="guard the profiles whose name matches PATTERN (shell-style, e.g. "
                        "'production=Prod*/*'): roletray asks before they become the active "
                        "role; may be given more than once, the first match wins")
    p.add_argument("--dry-run", action="store_true",
                   help="say what would change, write nothing")
    p.add_argument("--json", action="store_true")


def cmd_sso(args: argparse.Namespace, root: Root) -> int:
    if args.sso_command == "login":
        return login(args.sso_session, root)
    return populate(args.sso_session, root, template=args.template, region=args.region,
                    dry_run=args.dry_run, as_json=args.json, guards=parse_guards(args.guard))


def parse_guards(given: list[str]) -> list[tuple[str, str]]:
    """``["production=Prod*/*"]`` -> ``[("production", "Prod*/*")]``; one line naming a bad
    one."""
    from tray.awsfiles.awsconfig import GUARD_RE
    from tray.domain.errors import UsageError

    out = []
    for item in given:
        label, sep, pattern = item.partition("=")
        if not sep or not pattern or not GUARD_RE.match(label.strip()):
            raise UsageError(f"--guard {item!r}: give LABEL=PATTERN, the label 1 to 40 "
                             "letters, digits, spaces or .:/+- (e.g. production=Prod*/*)")
        out.append((label.strip(), pattern.strip()))
    return out


def login(session: str | None, root: Root) -> int:
    """Sign in to ``session`` (the only one when None): the code shown, the browser
    opened once, the token saved where botocore reads it."""
    import subprocess

    from tray.aws import sso, sso_sessions
    from tray.platform import desktop_open

    cfg = sso_sessions.choose(session, root.paths.aws_config, env=root.env)
    name = cfg.session_name

    def show(code: str, url: str) -> None:
        print(f"Sign in to sso-session {name} in the browser: {url}")
        print(f"The page shows this code; check that it matches: {code}", flush=True)

    def open_browser(url: str) -> None:
        try:
            desktop_open.open_url(url, env=root.env)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"roletray: could not open a browser ({type(e).__name__}); open the "
                  "address above yourself", file=sys.stderr, flush=True)

    path = sso.device_login(cfg, opener=open_browser, on_code=show, env=root.env)
    try:
        renewable = bool(json.loads(path.read_text(encoding="utf-8")).get("refreshToken"))
    except (OSError, ValueError):
        renewable = False
    print(f"Signed in to sso-session {name}; the token is in {root.paths.display(path)}, "
          "where botocore and the AWS CLI read it"
          + ("; they renew it with its refresh token" if renewable else
             " (no refresh token: add sso_registration_scopes = sso:account:access to "
             f"[sso-session {name}] for one)"))
    return EXIT_OK


def populate(session: str | None, root: Root, *, template: str | None, region: str | None,
             dry_run: bool, as_json: bool, guards: list[tuple[str, str]] | None = None) -> int:
    """Write (or with ``dry_run`` only say) the block of ``session``'s accounts."""
    from tray.aws import sso_populate
    from tray.awsfiles import ssoblock

    result = sso_populate.populate(session, env=root.env,
                                   template=template or ssoblock.DEFAULT_TEMPLATE,
                                   region=region, dry_run=dry_run, guards=guards or ())
    if as_json:
        print(json.dumps({"ok": True, **result.to_json()}, indent=2))
    else:
        from tray.cli.snapshot_text import shown

        for line in describe(result):
            print(shown(line))
    return EXIT_OK


def describe(r: PopulateResult) -> list[str]:
    """The text report of a populate: what changed (or would), and what was skipped."""
    verb = "would write" if r.dry_run else ("wrote" if r.changed else "kept")
    lines = [f"{r.config_file}: {verb} {len(r.profiles)} profiles for sso-session {r.session} "
             f"({r.accounts} accounts): {len(r.added)} added, {len(r.removed)} removed, "
             f"{len(r.kept)} kept" + (" (dry run: nothing written)" if r.dry_run else "")]
    for label, names in (("added", r.added), ("removed", r.removed)):
        if names:
            more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
            lines.append(f"  {label}: {', '.join(names[:SHOWN_NAMES])}{more}")
    for s in r.skipped:
        lines.append(f"  skipped {s.name or '(no name)'} (account {s.account_id} "
                     f"{s.account_name}, {s.role_name}): {s.reason}")
    if r.profiles and not r.dry_run:
        lines.append(f"  use one: aws sts get-caller-identity --profile {r.profiles[0]}")
    return lines
