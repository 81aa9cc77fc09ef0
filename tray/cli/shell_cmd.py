"""The shell commands of the command line: ``exec``, ``env`` and ``prompt``.

Registered by ``tray.cli.parser`` (``add_parsers``) and ``tray.cli.commands``
(``COMMANDS``); the work is in ``tray.shell``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tray.domain.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from tray.cli.common import Root


def add_parsers(sub: Any) -> None:
    """The three subcommands, on the main subparsers."""
    ex = sub.add_parser(
        "exec", help="run CMD as PROFILE: it asks a loopback endpoint for keys, so it "
        "follows refreshes for as long as it runs",
        usage="roletray exec PROFILE [--env] -- CMD [ARG...]")
    ex.add_argument("profile", help="the role profile to run CMD as")
    ex.add_argument("--env", action="store_true",
                    help="give CMD plain keys, AWS_CREDENTIAL_EXPIRATION and the region "
                         "instead (for tools without the container provider; they end)")
    ex.add_argument("--yes", action="store_true",
                    help="use a guarded profile (roletray_guard) without asking")
    # REMAINDER: CMD's own options are CMD's (argparse's "*" loses `P --env -- CMD`).
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]",
                    help="the command and its arguments, after --")

    en = sub.add_parser("env", help="print the lines that put PROFILE's keys into this "
                        "shell: eval \"$(roletray env PROFILE)\"")
    en.add_argument("profile")
    en.add_argument("--yes", action="store_true",
                    help="use a guarded profile (roletray_guard) without asking")
    en.add_argument("--shell", choices=("sh", "fish", "powershell"), default="sh",
                    help="the syntax (default: sh, for bash, zsh, dash; fish: "
                         "roletray env P --shell fish | source; PowerShell: "
                         "roletray env P --shell powershell | Invoke-Expression)")

    pr = sub.add_parser("prompt", help="one short line for a shell prompt: the active "
                        "role and minutes left ('!' when refreshing fails); empty with none")
    pr.add_argument("--format", default=None, metavar="F",
                    help="fields {role} {target} {minutes} {state} {mark} "
                         "(default: '{role} {minutes}m{mark}')")


def check_guard(profile: str, root: Root, *, command: str, yes: bool) -> None:
    """Before ``exec`` and ``env`` hand PROFILE's keys out: a guarded profile
    (``roletray_guard``) is asked for on a terminal, refused without one unless ``--yes``
    (``UsageError``, exit 2, nothing handed out)."""
    from tray.cli.asking import confirm_guard

    confirm_guard(profile, root, yes=yes, verb=command)


def _ask_code(root: Root) -> Any:
    from tray.cli.asking import tty_mfa_code  # the one terminal prompt for codes

    return lambda profile: tty_mfa_code(profile, root)


def cmd_exec(args: argparse.Namespace, root: Root) -> int:
    from tray.shell import childenv, runner

    argv, plain, yes = _split(list(args.argv), args.env, args.yes)
    if not argv:
        raise UsageError("exec: name the command after --, e.g. "
                         f"`roletray exec {args.profile} -- aws sts get-caller-identity`")
    ctx = root.context()
    role = runner.role_of(args.profile, ctx)  # an unknown profile is refused first
    check_guard(args.profile, root, command="Run this command as", yes=yes)
    if plain:
        keys = runner.plain_keys(args.profile, ctx, _ask_code(root))
        env = childenv.keys_env(ctx.env, keys, region=role.region, role=args.profile)
        with runner.signals_held() as mask:
            return runner.run_child(argv, env, mask)
    endpoint = runner.ExecEndpoint(role, ctx)
    try:
        endpoint.first_keys(_ask_code(root))
    except BaseException:
        endpoint.close()
        raise
    return runner.serve_and_run(endpoint, argv)


def _split(words: list[str], plain: bool, yes: bool) -> tuple[list[str], bool, bool]:
    """(CMD's argv, --env, --yes) from what follows PROFILE: ``--env`` and ``--yes`` may
    come before ``--``."""
    while words and words[0] != "--" and words[0].startswith("-"):
        if words[0] == "--env":
            plain = True
        elif words[0] == "--yes":
            yes = True
        else:
            raise UsageError(f"exec: unknown option {words[0]}; the command goes after --")
        words = words[1:]
    return (words[1:] if words[:1] == ["--"] else words), plain, yes


def cmd_env(args: argparse.Namespace, root: Root) -> int:
    from tray.shell import childenv, runner

    ctx = root.context()
    role = runner.role_of(args.profile, ctx)
    check_guard(args.profile, root, command="Print the keys of", yes=args.yes)
    keys = runner.plain_keys(args.profile, ctx, _ask_code(root))
    variables = {**childenv.keys_vars(keys, role.region), childenv.ROLE_VAR: args.profile}
    sys.stdout.write(childenv.lines(variables, args.shell) + "\n")
    return EXIT_OK


def cmd_prompt(args: argparse.Namespace, root: Root) -> int:
    """The full command line's way in (``--help``, a platform without the lean path's
    layout); the lean path (``tray.launch``) normally answers first."""
    from tray.shell import prompt

    return prompt.run(args.format if args.format is not None else prompt.DEFAULT_FORMAT,
                      dict(root.env))


COMMANDS = {"exec": cmd_exec, "env": cmd_env, "prompt": cmd_prompt}
