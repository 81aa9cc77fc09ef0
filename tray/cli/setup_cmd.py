"""``roletray setup``: the first run, asked step by step (or given as flags).

    $ roletray setup
    How do you get into AWS?
      1) IAM Identity Center (AWS SSO): a start URL from your organisation
      2) aws login: sign in as your IAM user, no stored keys (AWS CLI 2.32+)
      3) A role ARN, over access keys already in ~/.aws/credentials
    Choose 1-3:

Each way writes one section with the lossless editor and shows it; Identity Center then
signs in (the browser opens once) and writes a profile per account and permission set.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tray.domain.errors import EXIT_OK, UsageError
from tray.domain.text import Text
from tray.i18n import N_, _

if TYPE_CHECKING:
    from tray.cli.common import Root
    from tray.setup import Written

Ask = Callable[[str], str]

WAYS = (("sso", N_("IAM Identity Center (AWS SSO): a start URL from your organisation")),
        ("login", N_("aws login: sign in as your IAM user, no stored keys (AWS CLI 2.32+)")),
        ("role", N_("A role ARN, over access keys already in your credentials file")))


class Questions:
    """Asks on the terminal; with no terminal, refuses to guess (the flags say it all)."""

    def __init__(self, ask: Ask | None) -> None:
        self._ask = ask

    def __call__(self, question: str, default: str | None = None,
                 check: Callable[[str], str] | None = None) -> str:
        """The answer (``default`` for an empty one). ``check`` returns the value to use
        or raises ``UsageError``: its line is shown and the question asked again, so a
        typo is caught where it is made, not after every other question."""
        if self._ask is None:
            raise UsageError(Text(N_(
                "roletray setup asks questions: run it in a terminal, or give every answer "
                "as a flag (see `roletray setup --help`)")))
        prompt = _("{question} [{default}]: ").format(question=question, default=default) \
            if default else _("{question}: ").format(question=question)
        while True:
            try:
                answer = self._ask(prompt).strip()
            except EOFError:
                raise UsageError(Text(N_(
                    "roletray setup: no answer; nothing more was written"))) from None
            if not (answer or default):
                continue
            value = answer or str(default)
            if check is None:
                return value
            try:
                return check(value)
            except UsageError as e:
                from tray.cli.snapshot_text import shown

                print(shown(e.localized))

    def value(self, given: str | None, question: str, default: str | None = None, *,
              check: Callable[[str], str]) -> str:
        """``given`` (a flag), checked at once; else the answer to ``question``."""
        return check(given) if given else self(question, default, check)

    def choose(self, question: str, options: Sequence[str], default: int = 1) -> int:
        for i, text in enumerate(options, 1):
            print(f"  {i}) {text}")
        while True:
            answer = self(question, str(default))
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return int(answer)
            print(_("  choose a number from 1 to {n}").format(n=len(options)))


def cmd_setup(args: argparse.Namespace, root: Root, *, ask: Ask | None = None) -> int:
    if ask is None and sys.stdin.isatty():
        ask = input
    q = Questions(ask)
    way = _way(args, q)
    if way == "sso":
        return _sso(args, root, q)
    if way == "login":
        return _login(args, root, q)
    return _role(args, root, q)


def _way(args: argparse.Namespace, q: Questions) -> str:
    if args.sso_start_url:
        return "sso"
    if args.login:
        return "login"
    if args.role_arn:
        return "role"
    print(_("How do you get into AWS?"))
    return WAYS[q.choose(_("Choose"), [_(text) for _way, text in WAYS]) - 1][0]


def _show(written: Written, root: Root, *, by_aws: bool = False) -> None:
    from tray.cli.snapshot_text import shown

    where = root.paths.display(written.path)
    print(shown(_("aws login wrote to {file}:").format(file=where) if by_aws else
                _("Wrote to {file}:").format(file=where)))
    for line in written.text().splitlines():
        print(shown(f"    {line}"))


def _sso(args: argparse.Namespace, root: Root, q: Questions) -> int:
    from tray import setup

    url = q.value(args.sso_start_url, _("Start URL (from your AWS access portal's address)"),
                  check=setup.check_start_url)
    region = q.value(args.sso_region, _("Its region"), "us-east-1", check=setup.check_region)
    name = q.value(args.sso_session, _("A name for this sign-in"),
                   setup.session_name_for(url),
                   check=lambda n: setup.check_name(n, "sso-session name"))
    written = setup.add_sso_session(root.paths.aws_config, name, url, region,
                                    home=root.paths.home)
    _show(written, root)
    if args.no_sign_in:
        print()
        print(_("Next: roletray sso login {name}  then  roletray sso populate {name}").format(
            name=name))
        return EXIT_OK
    from tray.cli.sso_cmd import login, populate

    print()
    login(name, root)
    print()
    return populate(name, root, template=None, region=args.region, dry_run=False,
                    as_json=False)


def _login(args: argparse.Namespace, root: Root, q: Questions) -> int:
    from tray import setup

    aws = setup.aws_cli_login(env=root.env)
    if aws is None:
        raise UsageError(Text(N_(
            "aws login needs the AWS CLI 2.32 or later on PATH "
            "(https://docs.aws.amazon.com/cli/); nothing was written")))
    name = q.value(args.login, _("Profile to sign in as"), "dev", check=setup.check_name)
    region = q.value(args.region, _("Its region"), "us-east-1", check=setup.check_region)
    # The AWS CLI opens the browser and writes the profile itself; names only in argv.
    done = subprocess.run([aws, "login", "--profile", name, "--region", region],
                          env=dict(root.env), check=False)
    if done.returncode != 0:
        raise UsageError(N_("`aws login --profile {name}` failed (exit {code})"), name=name,
                         code=done.returncode)
    written = setup.login_profile(root.paths.aws_config, name, home=root.paths.home)
    if written is None:
        raise UsageError(N_("`aws login --profile {name}` wrote no login_session to {file}"),
                         name=name, file=root.paths.display(root.paths.aws_config))
    _show(written, root, by_aws=True)
    print()
    print(_("Next: roletray assume {name} --target {name}-keys   (its keys for every tool), "
            "or use it as the source_profile of a role").format(name=name))
    return EXIT_OK


def _role(args: argparse.Namespace, root: Root, q: Questions) -> int:
    from tray import setup
    from tray.awsfiles import awsconfig
    from tray.domain.models import RoleProfile

    creds = root.paths.aws_credentials
    sources = setup.key_sources(creds, home=root.paths.home)
    if not sources:
        raise UsageError(N_("{file} holds no access key pair to assume a role with: `aws "
                            "configure` puts yours there; nothing was written"),
                         file=root.paths.display(creds))
    source = args.source_profile
    if source is None:
        if len(sources) == 1:
            source = sources[0]
        else:
            print(_("Whose keys assume the role?"))
            source = sources[q.choose(_("Choose"), sources) - 1]
    elif source not in sources:
        raise UsageError(N_("{file} has no key pair under [{source}] (it has: {sources})"),
                         file=root.paths.display(creds), source=source,
                         sources=", ".join(sources))
    arn = q.value(args.role_arn, _("Role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
                  check=setup.check_role_arn)
    default_name = RoleProfile(name="-", role_arn=arn).role_name
    name = q.value(args.profile, _("Profile name"), default_name, check=setup.check_name)
    profile_map = awsconfig.load_profile_map(root.paths.aws_config, home=root.paths.home)
    region = q.value(args.region, _("Its region"),
                     awsconfig.region_for(source, profile_map) or "us-east-1",
                     check=setup.check_region)
    written = setup.add_role(root.paths.aws_config, name, arn, source, region,
                             home=root.paths.home)
    _show(written, root)
    print()
    print(_("Next: roletray assume {name}   (or choose it in the tray's menu); roletray "
            "doctor {name} explains a refusal").format(name=name))
    return EXIT_OK
