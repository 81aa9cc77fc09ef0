"""The long-running roletray (``run``: the tray, ``daemon``, ``demo``) and starting it
at login (``autostart``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tray.cli.common import Root

if TYPE_CHECKING:
    import argparse


def cmd_run(args: argparse.Namespace, root: Root) -> int:
    from tray import app

    return app.run_tray(args, root.env)


def cmd_daemon(args: argparse.Namespace, root: Root) -> int:
    from tray import app

    return app.run_daemon(args, root.env)


def cmd_demo(args: argparse.Namespace, root: Root) -> int:
    from tray import demo

    return demo.run(args)  # a root of its own: it points this process at its sandbox


def cmd_autostart(args: argparse.Namespace, root: Root) -> int:
    from tray.platform import autostart

    return int(autostart.cli(args.action, env=root.env, json_output=args.json, force=args.force))
