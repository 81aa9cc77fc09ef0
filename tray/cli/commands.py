"""Which function runs each command: ``cmd(args, root) -> exit status``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tray.cli import (
    app_cmd,
    console_cmd,
    doctor_cmd,
    keys_cmd,
    roles,
    serving,
    setup_cmd,
    shell_cmd,
    sso_cmd,
)
from tray.cli.common import Root

COMMANDS: dict[str, Callable[[argparse.Namespace, Root], int]] = {
    "run": app_cmd.cmd_run, "daemon": app_cmd.cmd_daemon, "demo": app_cmd.cmd_demo,
    "autostart": app_cmd.cmd_autostart,
    "profiles": roles.cmd_profiles, "assume": roles.cmd_assume, "status": roles.cmd_status,
    "refresh": roles.cmd_refresh, "clear": roles.cmd_clear,
    "doctor": doctor_cmd.cmd_doctor, "console": console_cmd.cmd_console,
    "credential-process": serving.cmd_credential_process, "serve": serving.cmd_serve,
    "keys": keys_cmd.cmd_keys, **shell_cmd.COMMANDS, "sso": sso_cmd.cmd_sso,
    "setup": setup_cmd.cmd_setup,
}
