"""``roletray console``: the AWS console opened (or its sign-in URL printed) as a role."""

from __future__ import annotations

import argparse
from typing import Any

from tray import fsutil
from tray.cli import asking
from tray.cli.common import Root, diagnosed, profile_or_active
from tray.domain.errors import AccessDeniedError


def cmd_console(args: argparse.Namespace, root: Root) -> int:
    from tray import console

    profile = profile_or_active(args.profile, root, "console")
    # A running instance that keeps the role hands its keys over: no AssumeRole.
    held = console.instance_keys(profile, where=root.paths)

    def assume(role: Any, profile_map: Any) -> Any:
        from tray.aws import sts

        return sts.assume_role(role, mfa_code=asking.ask_mfa(role.mfa_serial), env=root.env,
                               profile_map=profile_map).credentials

    try:
        url = console.console_url(profile, env=root.env, destination=args.destination,
                                  region=args.region, keys=held, assume=assume)
    except AccessDeniedError as e:
        raise diagnosed(profile, e, root) from e
    return console.deliver(url, profile, print_only=args.print,
                           folder=fsutil.private_dir(root.paths.runtime_dir))
