"""``roletray sso login`` and ``roletray sso populate``: IAM Identity Center from the command line.

botocore is loaded only by the commands that call AWS, inside their functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from tray.domain.errors import EXIT_OK
from tray.i18n import _

if TYPE_CHECKING:
    from tray.aws.sso_populate import PopulateResult
    from tray.cli.common import Root

SHOWN_NAMES = 20  # names listed per line of the text output; --json has them all


def cmd_sso(args: argparse.Namespace, root: Root) -> int:
    if args.sso_command == "login":
        return login(args.sso_session, root)
    return populate(args.sso_session, root, template=args.template, region=args.region,
                    dry_run=args.dry_run, as_json=args.json, guards=parse_guards(args.guard))


def parse_guards(given: list[str]) -> list[tuple[str, str]]:
    """``["production=Prod*/*"]`` -> ``[("production", "Prod*/*")]``; one line naming a bad
    one."""
    from tray.awsfiles.awsconfig import GUARD_RE
    from tray.domain.errors import UsageError
    from tray.i18n import N_

    out = []
    for item in given:
        label, sep, pattern = item.partition("=")
        if not sep or not pattern or not GUARD_RE.match(label.strip()):
            raise UsageError(N_("--guard {item}: give LABEL=PATTERN, the label 1 to 40 "
                                "letters, digits, spaces or .:/+- (e.g. production=Prod*/*)"),
                             item=repr(item))
        out.append((label.strip(), pattern.strip()))
    return out


def login(session: str | None, root: Root) -> int:
    """Sign in to ``session`` (the only one when None): the code shown, the browser
    opened once, the token saved where botocore reads it."""
    import subprocess

    from tray.aws import sso, sso_sessions
    from tray.cli.snapshot_text import shown
    from tray.platform import desktop_open

    cfg = sso_sessions.choose(session, root.paths.aws_config, env=root.env)
    name = cfg.session_name

    def show(code: str, url: str) -> None:
        print(shown(_("Sign in to sso-session {name} in the browser: {url}").format(
            name=name, url=url)))
        print(_("The page shows this code; check that it matches: {code}").format(code=code),
              flush=True)

    def open_browser(url: str) -> None:
        try:
            desktop_open.open_url(url, env=root.env)
        except (OSError, subprocess.SubprocessError) as e:
            print(_("roletray: could not open a browser ({reason}); open the address above "
                    "yourself").format(reason=type(e).__name__), file=sys.stderr, flush=True)

    path = sso.device_login(cfg, opener=open_browser, on_code=show, env=root.env)
    try:
        renewable = bool(json.loads(path.read_text(encoding="utf-8")).get("refreshToken"))
    except (OSError, ValueError):
        renewable = False
    said = _("Signed in to sso-session {name}; the token is in {path}, where botocore and the "
             "AWS CLI read it; they renew it with its refresh token") if renewable else \
        _("Signed in to sso-session {name}; the token is in {path}, where botocore and the AWS "
          "CLI read it (no refresh token: add sso_registration_scopes = sso:account:access to "
          "[sso-session {name}] for one)")
    print(shown(said.format(name=name, path=root.paths.display(path))))
    return EXIT_OK


def populate(session: str | None, root: Root, *, template: str | None, region: str | None,
             dry_run: bool, as_json: bool, guards: list[tuple[str, str]] | None = None) -> int:
    """Write (or with ``dry_run`` only say) the block of ``session``'s accounts."""
    from tray.aws import sso_populate
    from tray.awsfiles import ssoblock

    result = sso_populate.populate(session, env=root.env,
                                   template=template or ssoblock.DEFAULT_TEMPLATE,
                                   region=region, dry_run=dry_run, guards=guards or ())
    if as_json:
        print(json.dumps({"ok": True, **result.to_json()}, indent=2))
    else:
        from tray.cli.snapshot_text import shown

        for line in describe(result):
            print(shown(line))
    return EXIT_OK


def describe(r: PopulateResult) -> list[str]:
    """The text report of a populate: what changed (or would), and what was skipped."""
    from tray.i18n import N_

    said = _("{file}: would write {n} profiles for sso-session {session} ({accounts} "
             "accounts): {added} added, {removed} removed, {kept} kept (dry run: nothing "
             "written)") if r.dry_run else \
        _("{file}: wrote {n} profiles for sso-session {session} ({accounts} accounts): "
          "{added} added, {removed} removed, {kept} kept") if r.changed else \
        _("{file}: kept {n} profiles for sso-session {session} ({accounts} accounts): "
          "{added} added, {removed} removed, {kept} kept")
    lines = [said.format(file=r.config_file, n=len(r.profiles), session=r.session,
                         accounts=r.accounts, added=len(r.added), removed=len(r.removed),
                         kept=len(r.kept))]
    for label, names in ((N_("  added: {names}"), r.added),
                         (N_("  removed: {names}"), r.removed)):
        if names:
            listed = ", ".join(names[:SHOWN_NAMES])
            if len(names) > SHOWN_NAMES:
                listed = _("{names} and {n} more").format(names=listed,
                                                          n=len(names) - SHOWN_NAMES)
            lines.append(_(label).format(names=listed))
    for s in r.skipped:
        lines.append(_("  skipped {name} (account {account_id} {account_name}, {role}): "
                       "{reason}").format(name=s.name or _("(no name)"), account_id=s.account_id,
                                          account_name=s.account_name, role=s.role_name,
                                          reason=s.reason))
    if r.profiles and not r.dry_run:
        lines.append(_("  use one: aws sts get-caller-identity --profile {profile}").format(
            profile=r.profiles[0]))
    return lines
