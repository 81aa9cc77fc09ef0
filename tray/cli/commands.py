"""Which function runs each command: ``cmd(args, root) -> exit status``, found by name
so that a command loads only its own group's module (``roletray assume`` never reads
the keys', the console's or the doctor's)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import argparse

    from tray.cli.common import Root

Command = Callable[["argparse.Namespace", "Root"], int]

# command -> (module of tray.cli, function)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("app_cmd", "cmd_run"), "daemon": ("app_cmd", "cmd_daemon"),
    "demo": ("app_cmd", "cmd_demo"), "autostart": ("app_cmd", "cmd_autostart"),
    "profiles": ("roles", "cmd_profiles"), "assume": ("roles", "cmd_assume"),
    "status": ("roles", "cmd_status"), "refresh": ("roles", "cmd_refresh"),
    "clear": ("roles", "cmd_clear"),
    "doctor": ("doctor_cmd", "cmd_doctor"), "console": ("console_cmd", "cmd_console"),
    "credential-process": ("serving", "cmd_credential_process"),
    "serve": ("serving", "cmd_serve"),
    "keys": ("keys_cmd", "cmd_keys"),
    "exec": ("shell_cmd", "cmd_exec"), "env": ("shell_cmd", "cmd_env"),
    "prompt": ("shell_cmd", "cmd_prompt"),
    "sso": ("sso_cmd", "cmd_sso"), "setup": ("setup_cmd", "cmd_setup"),
}


def handler(command: str) -> Command:
    """The function that runs ``command`` (its module imported now)."""
    module, function = COMMANDS[command]
    return cast("Command", getattr(importlib.import_module(f"tray.cli.{module}"), function))
