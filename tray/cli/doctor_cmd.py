"""``roletray doctor``: what stops a profile from working, with the fix."""

from __future__ import annotations

import argparse

from tray.cli.common import Root, emit, profile_or_active
from tray.cli.snapshot_text import shown


def cmd_doctor(args: argparse.Namespace, root: Root) -> int:
    from tray.doctor import diagnose

    profile = profile_or_active(args.profile, root, "doctor")
    report = diagnose.run_doctor(profile, env=root.env)
    if args.json:
        emit(report.to_json())
    else:
        print("\n".join(shown(line) for line in diagnose.format_report(report).splitlines()))
    return int(report.exit_code)
