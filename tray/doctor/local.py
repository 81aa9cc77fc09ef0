"""The doctor's local checks: traps on this machine that make tools miss roletray's keys.

No AWS calls. Each check returns a ``Finding``; none raises for what it finds.
The credentials file is only read here (never written), for key *names* and
its mode; a value is never kept or shown.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tray import paths
from tray.awsfiles import awsconfig, credfile, logincache
from tray.doctor.findings import Finding
from tray.domain import timefmt
from tray.domain.errors import KeyringLockedError, RoletrayError
from tray.domain.models import RoleProfile
from tray.domain.source_line import is_roletray_source_line

if TYPE_CHECKING:
    from tray.platform.secret_store import SecretStore

CLOCK_SKEW_LIMIT = 60.0  # seconds; SigV4 itself refuses requests 5 minutes off


def check_target(target: str, profile_map: Mapping[str, Mapping[str, str]],
                 role: RoleProfile | None, config_path: Path, creds_path: Path,
                 env: Mapping[str, str]) -> Finding:
    """The target section must be one botocore reads as plain keys, and ours to write."""
    settings_shown = paths.display_path(paths.settings_file(env), env)
    shadow = [k for k in awsconfig.SHADOWING_KEYS if k in profile_map.get(target, {})]
    if shadow:
        config_shown = paths.display_path(config_path, env)
        return Finding("target", "problem",
                       f"[profile {target}] in {config_shown} has {shadow[0]}: botocore resolves "
                       f"that profile by itself and ignores the keys roletray writes to [{target}]",
                       fix=f"remove {', '.join(shadow)} from [profile {target}] in "
                           f"{config_shown}, or choose another target "
                           f"(`target = \"roletray-keys\"` in {settings_shown})")
    try:
        awsconfig.check_target(target, profile_map, role, config_path,
                               home=paths.home_of(env))
    except RoletrayError as e:
        return Finding("target", "problem", str(e), fix=(
            f"choose another target: `target = \"roletray\"` in {settings_shown}, "
            "or --target NAME"))
    from tray.awsfiles import credfile

    shown = paths.display_path(creds_path, env)
    where = f"[{target}] in {shown}"
    try:
        state = credfile.section_state(creds_path, target, home=paths.home_of(env))
    except RoletrayError as e:
        return Finding("target", "problem", str(e),
                       fix=f"correct {shown} at that line: the AWS tools cannot read it either")
    except OSError as e:
        return Finding("target", "unknown", f"{shown} cannot be read ({e.__class__.__name__})")
    if state == "foreign":
        keys = section_keys(creds_path, target) or set()
        temporary = bool(keys & {"aws_session_token", "aws_security_token"})
        return Finding("target", "problem",
                       f"{where} holds {'temporary' if temporary else 'long-term'} keys that "
                       "roletray did not write; roletray will not overwrite them",
                       fix=(f"move those keys to another section, or choose another target "
                            f"(`target = \"roletray\"` in {settings_shown}, or --target NAME)"
                            + ("; or pass --force to `roletray assume` to take the section over"
                               if temporary else "")))
    return Finding("target", "ok", f"{where} is roletray's" if state == "owned" else
                   f"{where} does not exist yet; roletray creates it")


def section_keys(creds_path: Path, target: str) -> set[str] | None:
    """The key names of ``[target]`` (empty when absent); None when the file is unreadable."""
    try:
        return set(credfile.key_names(creds_path, target))
    except (RoletrayError, OSError):
        return None


def check_security_token(creds_path: Path, target: str, env: Mapping[str, str]) -> Finding:
    keys = section_keys(creds_path, target) or set()
    where = f"[{target}] in {paths.display_path(creds_path, env)}"
    if "aws_security_token" in keys:
        return Finding("security-token", "problem",
                       f"{where} has a stale aws_security_token, which botocore reads before "
                       "aws_session_token: tools would send an old token with the new keys",
                       fix=f"delete the aws_security_token line from {where}; the next "
                           "`roletray assume` or refresh rewrites the section without it")
    return Finding("security-token", "ok", f"{where} has no stale aws_security_token")


def check_environment(target: str, env: Mapping[str, str]) -> Finding:
    """AWS_* variables that make tools look somewhere other than the target section."""
    from tray.aws.sts import env_warnings

    warnings = env_warnings(target, env)
    if warnings:
        unset = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                             "AWS_SECURITY_TOKEN") if env.get(v)]
        fix = (["unset " + " ".join(unset)] if unset else []) + [
            f"export AWS_PROFILE={shlex.quote(target)}   # or pass --profile {shlex.quote(target)}"]
        return Finding("environment", "problem", "; ".join(warnings), fix="\n".join(fix))
    if env.get("AWS_PROFILE") == target:
        return Finding("environment", "ok", f"AWS_PROFILE={target}: tools use roletray's keys")
    return Finding("environment", "ok", "no AWS_* variable overrides the files; tools use "
                   f"roletray's keys with AWS_PROFILE={target} or --profile {target}")


def check_file_mode(creds_path: Path, env: Mapping[str, str]) -> Finding:
    shown = paths.display_path(creds_path, env)
    if os.name == "nt":
        return Finding("file-mode", "ok", f"{shown}: permissions are not checked on Windows")
    try:
        mode = stat.S_IMODE(creds_path.stat().st_mode)
    except FileNotFoundError:
        return Finding("file-mode", "ok", f"{shown} does not exist yet (roletray creates it 0600)")
    except OSError as e:
        return Finding("file-mode", "unknown", f"{shown}: cannot stat ({e.__class__.__name__})")
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
        return Finding("file-mode", "problem",
                       f"{shown} (mode {mode:04o}) is open to {who}: anyone who can read it "
                       "gets your keys", fix=f"chmod 600 {shown}")
    return Finding("file-mode", "ok", f"{shown} is private (mode {mode:04o})")


def check_clock(server_date: datetime | None, local: datetime | None) -> Finding:
    """Compare this machine's clock with the Date header of an AWS answer."""
    if server_date is None or local is None:
        return Finding("clock", "unknown", "no answer from AWS to compare the clock with")
    skew = (local - server_date).total_seconds()
    # The Date header has whole seconds: up to one second of difference is rounding.
    if abs(skew) > CLOCK_SKEW_LIMIT:
        direction = "ahead of" if skew > 0 else "behind"
        return Finding("clock", "problem",
                       f"this machine's clock is {abs(skew):.0f} s {direction} AWS's: "
                       "expiry times are off, and past 5 minutes AWS refuses every request",
                       fix="turn on time synchronisation (Linux: `timedatectl set-ntp true`; "
                           "macOS: System Settings -> General -> Date & Time)",
                       data={"skew_seconds": round(skew, 1)})
    return Finding("clock", "ok", f"clock agrees with AWS (within {max(1, abs(round(skew)))} s)",
                   data={"skew_seconds": round(skew, 1)})


# ------------------------------------------------------------------ where the keys live

def source_of(role: RoleProfile | None, profile_map: Mapping[str, Mapping[str, str]]
              ) -> str | None:
    """The profile at the root of ``role``'s source chain: where its keys come from
    (None for a ``credential_source`` role, whose keys are the environment's)."""
    if role is None or role.credential_source is not None:
        return None
    chain = awsconfig.source_chain(role, profile_map)
    return role.name if role.source_profile == role.name else chain[-1]


def key_location(source: str, profile_map: Mapping[str, Mapping[str, str]],
                 creds_path: Path) -> str:
    """Where botocore finds SOURCE's keys, in its order: "file" (the credentials file),
    "config" (keys in the config file), "keyring" (roletray's ``--source`` line), "sso",
    "login" (an ``aws login`` sign-in),
    "process" (another ``credential_process``), "role" (a role, assumed), or "none"."""
    section = profile_map.get(source, {})
    if set(awsconfig.STATIC_KEYS) <= (section_keys(creds_path, source) or set()):
        return "file"
    if "role_arn" in section:
        return "role"
    if "sso_session" in section or "sso_start_url" in section:
        return "sso"
    if logincache.is_login_profile(section):
        return "login"
    if "credential_process" in section:
        return "keyring" if is_roletray_source_line(section["credential_process"]) \
            else "process"
    if set(awsconfig.STATIC_KEYS) <= set(section):
        return "config"
    return "none"


def git_work_tree(path: Path) -> Path | None:
    """The folder holding a ``.git`` at ``path``'s folder or above, if any."""
    for folder in [path.parent, *path.parent.parents]:
        try:
            if (folder / ".git").exists():
                return folder
        except OSError:
            return None
    return None


def check_source_keys(source: str | None, role: RoleProfile | None,
                      profile_map: Mapping[str, Mapping[str, str]], creds_path: Path,
                      config_path: Path, env: Mapping[str, str]) -> Finding:
    """Where the source's keys live, and long-term keys left where others can get them."""
    if source is None:
        what = (f"credential_source {role.credential_source}" if role is not None
                and role.credential_source else "no source")
        return Finding("source-keys", "ok" if role is not None else "unknown",
                       f"the keys come from {what}, not from a file")
    kind = key_location(source, profile_map, creds_path)
    shown = paths.display_path(creds_path, env)
    said = {
        "keyring": f"the long-term keys of '{source}' are in the OS keyring; tools get "
                   f"sessions of them from `roletray credential-process --source {source}`",
        "sso": f"'{source}' signs in with AWS SSO: no long-term keys on this machine",
        "login": f"'{source}' signs in with `aws login`: no long-term keys on this machine",
        "process": f"'{source}' gets its keys from its own credential_process",
        "role": f"'{source}' is a role: its keys come from its own source",
        "none": f"no keys found for '{source}' in {shown} or "
                f"{paths.display_path(config_path, env)}",
    }
    if kind in said:
        return Finding("source-keys", "unknown" if kind == "none" else "ok", said[kind])
    where = shown if kind == "file" else paths.display_path(config_path, env)
    path = creds_path if kind == "file" else config_path
    move = f"`roletray keys import {source}` moves them into the OS keyring"
    if kind == "file" and is_roletray_source_line(
            profile_map.get(source, {}).get("credential_process")):
        return Finding("source-keys", "problem",
                       f"'{source}' has roletray's keyring line, but {shown} still holds its "
                       "keys, which tools use first (an import that did not finish)",
                       fix=f"run `roletray keys import {source}` again to finish it")
    exposed = _exposed(path)
    if exposed is not None:
        reason, fix = exposed
        return Finding("source-keys", "problem",
                       f"the long-term keys of '{source}' are in plain text in {where}, "
                       f"which {reason}",
                       fix=f"{move}; {fix.replace('{where}', where)}" if kind == "file" else
                       f"move the keys to {shown}, then {move}")
    return Finding("source-keys", "ok", f"the long-term keys of '{source}' are in plain "
                   f"text in {where} (private); {move}")


def check_signin(source: str, profile_map: Mapping[str, Mapping[str, str]],
                 env: Mapping[str, str], now: datetime) -> Finding:
    """An ``aws login`` source: is there a sign-in to renew, and until when can it last."""
    session = profile_map.get(source, {}).get(logincache.LOGIN_KEY, "")
    again = f"run `aws login --profile {source}`"
    found = logincache.read_sign_in(session, env) if session else None
    if found is None:
        shown = paths.display_path(logincache.cache_dir(env), env)
        return Finding("signin", "problem", f"'{source}' signs in with `aws login`, but "
                       f"{shown} holds no sign-in for it (not signed in, or signed out)",
                       fix=again)
    if not found.renewable:
        return Finding("signin", "problem", f"'{source}' signs in with `aws login`, but its "
                       f"token file {paths.display_path(found.path, env)} cannot be renewed "
                       "(no refresh token or key in it)", fix=again)
    ends = found.ends_by
    if ends is not None and ends <= now:
        return Finding("signin", "problem", f"'{source}' signs in with `aws login`; that "
                       f"sign-in began at {timefmt.clock_time(found.signed_in or ends, now)} "
                       "and has ended (a sign-in lasts 12 hours at most)", fix=again)
    account = f" to account {found.account_id}" if found.account_id else ""
    until = (f"until {timefmt.clock_time(ends, now)} at the latest" if ends is not None
             else "for up to 12 hours after `aws login` at the latest")
    return Finding("signin", "ok", f"'{source}' signs in with `aws login`{account}: botocore "
                   f"renews its 15-minute keys {until}; then {again}")


def _exposed(path: Path) -> tuple[str, str] | None:
    """Why a file with long-term keys is in reach of others, and what else to do."""
    if os.name != "nt":
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0
        if mode & 0o077:
            who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007))
                               if mode & bits)
            return f"{who} can read (mode {mode:04o})", "until then `chmod 600 {where}`"
    repo = git_work_tree(path)
    if repo is not None:
        return (f"sits inside a git work tree ({repo}): a commit or a push publishes it",
                "keep {where} out of that repository")
    return None


def check_keyring(source: str, file_id: str | None, creds_path: Path,
                  store: SecretStore | None = None) -> Finding:
    """Whether the OS keyring holds SOURCE's keys (a ``--source`` profile) of the
    credentials file ``file_id`` (None: a line from before file ids, for the keys of
    ``creds_path``, maybe still in the item from before file ids). Reads only."""
    from tray.keys_index import file_id as id_of
    from tray.platform.secret_store import SecretStore

    store = store or SecretStore()
    try:
        keys = store.get(source, file_id or id_of(creds_path))
        if keys is None and file_id is None:
            keys = store.get(source, None)
            if keys is not None:
                return Finding("keyring", "ok", f"the OS keyring holds the keys of '{source}' "
                               f"({keys.masked_key}) as roletray kept them before keys were "
                               "kept per credentials file; their first use moves them to "
                               "this credentials file")
    except KeyringLockedError as e:
        return Finding("keyring", "unknown", str(e))
    except RoletrayError as e:
        return Finding("keyring", "problem", str(e),
                       fix="install and start a Secret Service (gnome-keyring, KWallet), or "
                           f"put the keys back in the credentials file: `roletray keys export "
                           f"{source}` on a machine where the keyring works")
    if keys is None:
        return Finding("keyring", "problem", f"the OS keyring holds no keys for '{source}'",
                       fix=f"put the keys in the credentials file as [{source}] and run "
                           f"`roletray keys import {source}`")
    return Finding("keyring", "ok", f"the OS keyring holds the keys of '{source}' "
                   f"({keys.masked_key})")
