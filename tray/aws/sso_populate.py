"""``roletray sso populate``: the directory of an sso-session, written as profiles.

The steps: the sso-session (``sso_sessions.choose``), its token (no sign-in: say
how, write nothing), every account and permission set (``sso_directory``), then
one locked, atomic edit of the config file (``configedit.edit_file``) that replaces
roletray's block for the session (``ssoblock``) and checks that every section
outside it reads as before. ``dry_run`` reads the file and reports the same
plan, and writes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tray import paths
from tray.aws import sso_directory, sso_sessions
from tray.awsfiles import configedit, inifile, ssoblock
from tray.domain.errors import ConfigError, CredentialsFileError
from tray.i18n import N_

_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")


@dataclass
class PopulateResult:
    session: str
    config_file: str  # as shown to the user (~/...)
    region: str
    accounts: int
    profiles: list[str]
    added: list[str]
    removed: list[str]
    kept: list[str]
    skipped: list[ssoblock.Skipped]
    dry_run: bool
    changed: bool  # the file was (dry run: would be) rewritten
    calls: int = 0
    throttled: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"sso_session": self.session, "config_file": self.config_file,
                "region": self.region, "dry_run": self.dry_run, "changed": self.changed,
                "accounts": self.accounts, "profiles": self.profiles, "added": self.added,
                "removed": self.removed, "kept": self.kept,
                "skipped": [s.to_json() for s in self.skipped]}


def populate(session_name: str | None, *, env: Mapping[str, str],
             template: str = ssoblock.DEFAULT_TEMPLATE, region: str | None = None,
             dry_run: bool = False, workers: int = sso_directory.WORKERS,
             sleep: Callable[[float], None] = time.sleep, client: Any = None,
             guards: Sequence[tuple[str, str]] = ()) -> PopulateResult:
    config_path = paths.aws_config_file(env)
    shown = paths.display_path(config_path, env)
    try:
        ssoblock.check_template(template)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if region is not None and not _REGION_RE.match(region):
        raise ConfigError(N_("--region {region!r} is not a region name (e.g. eu-west-1)"),
                          region=region)
    cfg = sso_sessions.choose(session_name, config_path, env=env)
    session = cfg.session_name
    assert session is not None
    region = region or cfg.region
    token = sso_sessions.access_token(cfg, env=env)
    directory = sso_directory.Directory(
        client or sso_directory.portal_client(cfg.region, env, workers), token, session,
        workers=workers, sleep=sleep)
    accounts = directory.accounts()
    home = paths.home_of(env)
    outcome: dict[str, Any] = {}

    def edit(text: str, layout: inifile.Layout) -> str | None:
        try:
            block = ssoblock.find(layout, session)
            taken = ssoblock.taken_names(layout, block, describe=f"in {shown}")
            profiles, skipped = ssoblock.plan(session, accounts, template, taken, guards)
            lines = ssoblock.render(session, profiles, region, inifile.newline_of(layout.lines))
            new_text = ssoblock.splice(layout, block, lines)
            ssoblock.check_splice(layout, block, new_text, session)
        except ssoblock.BlockError as e:
            raise CredentialsFileError(N_("{path} line {lineno}: {problem}; roletray did not "
                                          "change the file"),
                                       path=shown, lineno=e.lineno, problem=e.problem) from None
        outcome.update(block=block, profiles=profiles, skipped=skipped,
                       changed=new_text != text)
        return None if dry_run else new_text

    if dry_run:
        layout = configedit.read_layout(config_path, home=home)
        edit("".join(layout.lines), layout)
    else:
        configedit.edit_file(Path(config_path), edit, home=home)
    block: ssoblock.Block | None = outcome["block"]
    before = list(block.names) if block else []
    names = [p.name for p in outcome["profiles"]]
    return PopulateResult(
        session=session, config_file=shown, region=region, accounts=len(accounts),
        profiles=names, added=[n for n in names if n not in before],
        removed=[n for n in before if n not in names], kept=[n for n in names if n in before],
        skipped=outcome["skipped"], dry_run=dry_run, changed=outcome["changed"],
        calls=directory.calls, throttled=directory.throttled)


def sync(*, env: Mapping[str, str], emit: Callable[..., None],
         session: str | None = None) -> list[dict[str, Any]]:
    """The tray's "Sync accounts from Identity Center", in a child (``tray.engine.child``):
    every sso-session of the config (or ``session``) populated with the default template;
    a session without a usable sign-in is signed in first (the code goes back as an event,
    ``emit("device_code", code=, url=, session=)``; the browser opens once per session).
    One dict per session: its name and the counts of the report."""
    from tray.aws import sso
    from tray.platform.desktop_open import open_url

    config_path = paths.aws_config_file(env)
    names = [session] if session else sso_sessions.session_names(
        _raw_config(config_path, env))
    if not names:
        raise ConfigError(N_("{path} has no [sso-session]; `roletray setup` adds one"),
                          path=paths.display_path(config_path, env))
    done = []
    for name in names:
        try:
            result = populate(name, env=env)
        except sso_sessions.SsoSessionSignInError:
            cfg = sso_sessions.choose(name, config_path, env=env)

            def on_code(code: str, url: str, session: str = name) -> None:
                emit("device_code", code=code, url=url, session=session)

            sso.device_login(cfg, opener=lambda url: open_url(url, env=env), on_code=on_code,
                             env=env)
            result = populate(name, env=env)
        done.append({"session": name, "profiles": len(result.profiles),
                     "added": len(result.added), "removed": len(result.removed),
                     "skipped": len(result.skipped)})
    return done


def _raw_config(config_path: Path, env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    from tray.awsfiles import awsconfig

    return awsconfig.raw_config_parse(config_path, home=paths.home_of(env))
