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
from tray.doctor.findings import Finding, said
from tray.domain import timefmt
from tray.domain.errors import KeyringLockedError, RoletrayError
from tray.domain.models import RoleProfile
from tray.domain.source_line import is_roletray_source_line
from tray.domain.text import N_, Text, join

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
                       Text(N_("[profile {target}] in {path} has {key}: botocore resolves that "
                               "profile by itself and ignores the keys roletray writes to "
                               "[{target}]"), target=target, path=config_shown, key=shadow[0]),
                       fix=Text(N_("remove {keys} from [profile {target}] in {path}, or choose "
                                   "another target (`target = \"roletray-keys\"` in "
                                   "{settings})"), keys=", ".join(shadow), target=target,
                                path=config_shown, settings=settings_shown))
    try:
        awsconfig.check_target(target, profile_map, role, config_path,
                               home=paths.home_of(env))
    except RoletrayError as e:
        return Finding("target", "problem", said(e), fix=Text(N_(
            "choose another target: `target = \"roletray\"` in {settings}, or --target NAME"),
            settings=settings_shown))
    from tray.awsfiles import credfile

    shown = paths.display_path(creds_path, env)
    try:
        state = credfile.section_state(creds_path, target, home=paths.home_of(env))
    except RoletrayError as e:
        return Finding("target", "problem", said(e),
                       fix=Text(N_("correct {path} at that line: the AWS tools cannot read it "
                                   "either"), path=shown))
    except OSError as e:
        return Finding("target", "unknown", Text(N_("{path} cannot be read ({error})"),
                                                 path=shown, error=e.__class__.__name__))
    if state == "foreign":
        keys = section_keys(creds_path, target) or set()
        if keys & {"aws_session_token", "aws_security_token"}:
            return Finding("target", "problem",
                           Text(N_("[{target}] in {path} holds temporary keys that roletray did "
                                   "not write; roletray will not overwrite them"),
                                target=target, path=shown),
                           fix=Text(N_("move those keys to another section, or choose another "
                                       "target (`target = \"roletray\"` in {settings}, or "
                                       "--target NAME); or pass --force to `roletray assume` "
                                       "to take the section over"), settings=settings_shown))
        return Finding("target", "problem",
                       Text(N_("[{target}] in {path} holds long-term keys that roletray did "
                               "not write; roletray will not overwrite them"),
                            target=target, path=shown),
                       fix=Text(N_("move those keys to another section, or choose another "
                                   "target (`target = \"roletray\"` in {settings}, or --target "
                                   "NAME)"), settings=settings_shown))
    if state == "owned":
        return Finding("target", "ok", Text(N_("[{target}] in {path} is roletray's"),
                                            target=target, path=shown))
    return Finding("target", "ok", Text(N_("[{target}] in {path} does not exist yet; roletray "
                                           "creates it"), target=target, path=shown))


def section_keys(creds_path: Path, target: str) -> set[str] | None:
    """The key names of ``[target]`` (empty when absent); None when the file is unreadable."""
    try:
        return set(credfile.key_names(creds_path, target))
    except (RoletrayError, OSError):
        return None


def check_security_token(creds_path: Path, target: str, env: Mapping[str, str]) -> Finding:
    keys = section_keys(creds_path, target) or set()
    shown = paths.display_path(creds_path, env)
    if "aws_security_token" in keys:
        return Finding("security-token", "problem",
                       Text(N_("[{target}] in {path} has a stale aws_security_token, which "
                               "botocore reads before aws_session_token: tools would send an "
                               "old token with the new keys"), target=target, path=shown),
                       fix=Text(N_("delete the aws_security_token line from [{target}] in "
                                   "{path}; the next `roletray assume` or refresh rewrites the "
                                   "section without it"), target=target, path=shown))
    return Finding("security-token", "ok", Text(N_("[{target}] in {path} has no stale "
                                                   "aws_security_token"), target=target,
                                                path=shown))


def check_environment(target: str, env: Mapping[str, str]) -> Finding:
    """AWS_* variables that make tools look somewhere other than the target section."""
    from tray.aws.sts import env_warnings

    warnings = env_warnings(target, env)
    if warnings:
        unset = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                             "AWS_SECURITY_TOKEN") if env.get(v)]
        fix: list[str] = (["unset " + " ".join(unset)] if unset else []) + [
            Text(N_("export AWS_PROFILE={quoted}   # or pass --profile {quoted}"),
                 quoted=shlex.quote(target))]
        return Finding("environment", "problem", join("; ", warnings), fix=join("\n", fix))
    if env.get("AWS_PROFILE") == target:
        return Finding("environment", "ok", Text(N_("AWS_PROFILE={target}: tools use "
                                                    "roletray's keys"), target=target))
    return Finding("environment", "ok", Text(N_("no AWS_* variable overrides the files; tools "
                                                "use roletray's keys with AWS_PROFILE={target} "
                                                "or --profile {target}"), target=target))


def _who(mode: int) -> Text:
    group, others = mode & 0o070, mode & 0o007
    if group and others:
        return Text(N_("group and others"))
    return Text(N_("group")) if group else Text(N_("others"))


def check_file_mode(creds_path: Path, env: Mapping[str, str]) -> Finding:
    shown = paths.display_path(creds_path, env)
    if os.name == "nt":
        return Finding("file-mode", "ok", Text(N_("{path}: permissions are not checked on "
                                                  "Windows"), path=shown))
    try:
        mode = stat.S_IMODE(creds_path.stat().st_mode)
    except FileNotFoundError:
        return Finding("file-mode", "ok", Text(N_("{path} does not exist yet (roletray creates "
                                                  "it 0600)"), path=shown))
    except OSError as e:
        return Finding("file-mode", "unknown", Text(N_("{path}: cannot stat ({error})"),
                                                    path=shown, error=e.__class__.__name__))
    if mode & 0o077:
        return Finding("file-mode", "problem",
                       Text(N_("{path} (mode {mode}) is open to {who}: anyone who can read it "
                               "gets your keys"), path=shown, mode=f"{mode:04o}",
                            who=_who(mode)), fix=f"chmod 600 {shown}")
    return Finding("file-mode", "ok", Text(N_("{path} is private (mode {mode})"), path=shown,
                                           mode=f"{mode:04o}"))


def check_clock(server_date: datetime | None, local: datetime | None) -> Finding:
    """Compare this machine's clock with the Date header of an AWS answer."""
    if server_date is None or local is None:
        return Finding("clock", "unknown", Text(N_("no answer from AWS to compare the clock "
                                                   "with")))
    skew = (local - server_date).total_seconds()
    # The Date header has whole seconds: up to one second of difference is rounding.
    if abs(skew) > CLOCK_SKEW_LIMIT:
        seconds = f"{abs(skew):.0f}"
        found = Text(N_("this machine's clock is {seconds} s ahead of AWS's: expiry times are "
                        "off, and past 5 minutes AWS refuses every request"), seconds=seconds) \
            if skew > 0 else \
            Text(N_("this machine's clock is {seconds} s behind AWS's: expiry times are off, "
                    "and past 5 minutes AWS refuses every request"), seconds=seconds)
        return Finding("clock", "problem", found,
                       fix=Text(N_("turn on time synchronisation (Linux: `timedatectl set-ntp "
                                   "true`; macOS: System Settings -> General -> Date & Time)")),
                       data={"skew_seconds": round(skew, 1)})
    return Finding("clock", "ok", Text(N_("clock agrees with AWS (within {seconds} s)"),
                                       seconds=max(1, abs(round(skew)))),
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
        found = Text(N_("the keys come from credential_source {credential_source}, not from a "
                        "file"), credential_source=role.credential_source) \
            if role is not None and role.credential_source \
            else Text(N_("the keys come from no source, not from a file"))
        return Finding("source-keys", "ok" if role is not None else "unknown", found)
    kind = key_location(source, profile_map, creds_path)
    shown = paths.display_path(creds_path, env)
    said_of = {
        "keyring": N_("the long-term keys of '{source}' are in the OS keyring; tools get "
                      "sessions of them from `roletray credential-process --source {source}`"),
        "sso": N_("'{source}' signs in with AWS SSO: no long-term keys on this machine"),
        "login": N_("'{source}' signs in with `aws login`: no long-term keys on this machine"),
        "process": N_("'{source}' gets its keys from its own credential_process"),
        "role": N_("'{source}' is a role: its keys come from its own source"),
        "none": N_("no keys found for '{source}' in {path} or {config}"),
    }
    if kind in said_of:
        return Finding("source-keys", "unknown" if kind == "none" else "ok",
                       Text(said_of[kind], source=source, path=shown,
                            config=paths.display_path(config_path, env)))
    where = shown if kind == "file" else paths.display_path(config_path, env)
    path = creds_path if kind == "file" else config_path
    if kind == "file" and is_roletray_source_line(
            profile_map.get(source, {}).get("credential_process")):
        return Finding("source-keys", "problem",
                       Text(N_("'{source}' has roletray's keyring line, but {path} still holds "
                               "its keys, which tools use first (an import that did not "
                               "finish)"), source=source, path=shown),
                       fix=Text(N_("run `roletray keys import {source}` again to finish it"),
                                source=source))
    exposed = _exposed(path, where)
    if exposed is not None:
        reason, then = exposed
        return Finding("source-keys", "problem",
                       Text(N_("the long-term keys of '{source}' are in plain text in {path}, "
                               "which {reason}"), source=source, path=where, reason=reason),
                       fix=Text(N_("`roletray keys import {source}` moves them into the OS "
                                   "keyring; {then}"), source=source, then=then)
                       if kind == "file" else
                       Text(N_("move the keys to {path}, then `roletray keys import {source}` "
                               "moves them into the OS keyring"), path=shown, source=source))
    return Finding("source-keys", "ok",
                   Text(N_("the long-term keys of '{source}' are in plain text in {path} "
                           "(private); `roletray keys import {source}` moves them into the OS "
                           "keyring"), source=source, path=where))


def check_signin(source: str, profile_map: Mapping[str, Mapping[str, str]],
                 env: Mapping[str, str], now: datetime) -> Finding:
    """An ``aws login`` source: is there a sign-in to renew, and until when can it last."""
    session = profile_map.get(source, {}).get(logincache.LOGIN_KEY, "")
    again = Text(N_("run `aws login --profile {source}`"), source=source)
    found = logincache.read_sign_in(session, env) if session else None
    if found is None:
        shown = paths.display_path(logincache.cache_dir(env), env)
        return Finding("signin", "problem",
                       Text(N_("'{source}' signs in with `aws login`, but {path} holds no "
                               "sign-in for it (not signed in, or signed out)"),
                            source=source, path=shown), fix=again)
    if not found.renewable:
        return Finding("signin", "problem",
                       Text(N_("'{source}' signs in with `aws login`, but its token file {path} "
                               "cannot be renewed (no refresh token or key in it)"),
                            source=source, path=paths.display_path(found.path, env)), fix=again)
    ends = found.ends_by
    if ends is not None and ends <= now:
        return Finding("signin", "problem",
                       Text(N_("'{source}' signs in with `aws login`; that sign-in began at "
                               "{began} and has ended (a sign-in lasts 12 hours at most)"),
                            source=source, began=timefmt.clock_time(found.signed_in or ends,
                                                                    now)), fix=again)
    until = Text(N_("until {time} at the latest"), time=timefmt.clock_time(ends, now)) \
        if ends is not None else Text(N_("for up to 12 hours after `aws login` at the latest"))
    if found.account_id:
        return Finding("signin", "ok",
                       Text(N_("'{source}' signs in with `aws login` to account {account}: "
                               "botocore renews its 15-minute keys {until}; then {again}"),
                            source=source, account=found.account_id, until=until, again=again))
    return Finding("signin", "ok",
                   Text(N_("'{source}' signs in with `aws login`: botocore renews its 15-minute "
                           "keys {until}; then {again}"), source=source, until=until,
                        again=again))


def _exposed(path: Path, where: str) -> tuple[Text, Text] | None:
    """Why a file with long-term keys is in reach of others, and what else to do."""
    if os.name != "nt":
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0
        if mode & 0o077:
            return (Text(N_("{who} can read (mode {mode})"), who=_who(mode),
                         mode=f"{mode:04o}"),
                    Text(N_("until then `chmod 600 {path}`"), path=where))
    repo = git_work_tree(path)
    if repo is not None:
        return (Text(N_("sits inside a git work tree ({repo}): a commit or a push publishes "
                        "it"), repo=str(repo)),
                Text(N_("keep {path} out of that repository"), path=where))
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
                return Finding("keyring", "ok",
                               Text(N_("the OS keyring holds the keys of '{source}' ({masked}) "
                                       "as roletray kept them before keys were kept per "
                                       "credentials file; their first use moves them to this "
                                       "credentials file"), source=source,
                                    masked=keys.masked_key))
    except KeyringLockedError as e:
        return Finding("keyring", "unknown", said(e))
    except RoletrayError as e:
        return Finding("keyring", "problem", said(e),
                       fix=Text(N_("install and start a Secret Service (gnome-keyring, "
                                   "KWallet), or put the keys back in the credentials file: "
                                   "`roletray keys export {source}` on a machine where the "
                                   "keyring works"), source=source))
    if keys is None:
        return Finding("keyring", "problem",
                       Text(N_("the OS keyring holds no keys for '{source}'"), source=source),
                       fix=Text(N_("put the keys in the credentials file as [{source}] and run "
                                   "`roletray keys import {source}`"), source=source))
    return Finding("keyring", "ok", Text(N_("the OS keyring holds the keys of '{source}' "
                                            "({masked})"), source=source,
                                         masked=keys.masked_key))
