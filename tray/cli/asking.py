"""What the command line asks the person at the terminal, and only there: an MFA code
(given with ``--mfa-code``, from a role's ``mfa_process``, or typed), and a guarded
profile's confirmation."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tray.domain.errors import RoletrayError, UsageError

if TYPE_CHECKING:
    from tray.cli.common import Root


def read_mfa_code(value: str | None) -> str | None:
    if value == "-":
        code = sys.stdin.readline().strip()
        if not code:
            raise UsageError("--mfa-code -: no code on standard input")
        return code
    return value


def prompt_mfa(serial: str) -> str | None:
    """Ask on the terminal, never unasked elsewhere; None when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    code = getpass.getpass(f"MFA code for {serial}: ").strip()
    return code or None


def needs_mfa(profile_name: str | None, root: Root,
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


def mfa_for(profile_name: str | None, given: str | None, root: Root, *,
            raw: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    code = read_mfa_code(given)
    if code is None and profile_name:
        code = command_code(profile_name, root, raw)
    if code is None:
        code = ask_mfa(needs_mfa(profile_name, root, raw))
    return code


def command_code(profile_name: str, root: Root,
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


def confirm_guard(profile_name: str, root: Root, *, yes: bool, verb: str = "Use",
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


def ask_mfa(serial: str | None) -> str | None:
    return prompt_mfa(serial) if serial else None


def tty_mfa_code(profile: str, root: Root, *, serial: str | None = None,
                 source: bool = False) -> str:
    """Ask on the controlling terminal: stdout belongs to the SDK reading the document,
    and stdin may be its pipe. No terminal: an error that says how to get past it."""
    serial = serial or needs_mfa(profile, root) or "the MFA device"
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
