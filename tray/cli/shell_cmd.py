"""The shell commands of the command line: ``exec``, ``env`` and ``prompt``.

Their arguments are ``tray.cli.parser``'s; ``tray.cli.commands`` runs them;
the work is in ``tray.shell``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tray.domain.errors import EXIT_OK, UsageError
from tray.i18n import N_

if TYPE_CHECKING:
    from tray.cli.common import Root


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
        raise UsageError(N_("exec: name the command after --, e.g. `roletray exec {profile} "
                            "-- aws sts get-caller-identity`"), profile=args.profile)
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
            raise UsageError(N_("exec: unknown option {option}; the command goes after --"),
                             option=words[0])
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

