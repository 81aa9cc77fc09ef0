"""First run: the config sections that ``roletray setup`` (and the tray's "Set up…") write.

Three ways in, each one section of the AWS config file, written with the lossless editor
(every other byte stays) and refused, with nothing written, when the name is taken::

    Identity Center                  an aws login sign-in         a role over your keys
    [sso-session corp]               (the AWS CLI's `aws login    [profile platform]
    sso_start_url = https://...       --profile dev` writes it)    role_arn = arn:aws:iam::...
    sso_region = eu-west-1                                         source_profile = default
    sso_registration_scopes = sso:account:access                   region = eu-west-1

No AWS call is made here: signing in and listing the accounts are the callers' steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tray import paths
from tray.awsfiles import awsconfig, configedit, credfile, inifile
from tray.domain.errors import ConfigError, RoletrayError, UsageError
from tray.domain.models import ROLE_ARN_RE
from tray.i18n import N_
from tray.platform import awscli

SCOPES = "sso:account:access"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class Written:
    """What setup wrote: the file, the section's header, and its lines as in the file."""

    path: Path
    section: str
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join((f"[{self.section}]", *self.lines))


def session_name_for(start_url: str) -> str:
    """A name for the sso-session of ``start_url``: ``corp`` for
    ``https://corp.awsapps.com/start`` (the host's first label)."""
    host = urlsplit(start_url).hostname or ""
    label = host.split(".", 1)[0]
    label = re.sub(r"[^A-Za-z0-9_.+-]", "-", label).strip("-.")
    return label if label and _NAME_RE.match(label) else "sso"


def check_start_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(N_("start URL '{url}' must be an https:// address, such as "
                            "https://my-org.awsapps.com/start"), url=url)
    return url


def check_region(region: str) -> str:
    region = region.strip()
    if not _REGION_RE.match(region):
        raise UsageError(N_("'{region}' is not a region name (such as eu-west-1)"),
                         region=region)
    return region


def check_name(name: str, what: str = "profile name") -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        if what == "sso-session name":
            raise UsageError(N_("sso-session name '{name}' must be 1 to 64 letters, digits "
                                "or _.+-, starting with a letter or digit"), name=name)
        raise UsageError(N_("profile name '{name}' must be 1 to 64 letters, digits or _.+-, "
                            "starting with a letter or digit"), name=name)
    return name


def add_sso_session(config: Path, name: str, start_url: str, region: str, *,
                    home: Path | None = None) -> Written:
    """``[sso-session NAME]`` with a refresh-token scope, so the sign-in renews itself."""
    check_name(name, "sso-session name")
    items = (("sso_start_url", check_start_url(start_url)), ("sso_region", check_region(region)),
             ("sso_registration_scopes", SCOPES))
    return _add(config, f"sso-session {name}", items, home=home)


def check_role_arn(arn: str) -> str:
    """``arn`` (stripped) when it is an IAM role's ARN; else ``UsageError``."""
    arn = arn.strip()
    if not ROLE_ARN_RE.match(arn):
        raise UsageError(N_("'{arn}' is not an IAM role ARN "
                            "(arn:aws:iam::123456789012:role/NAME)"), arn=arn)
    return arn


def add_role(config: Path, name: str, role_arn: str, source: str, region: str | None, *,
             home: Path | None = None) -> Written:
    """``[profile NAME]`` with ``role_arn`` over ``source``'s keys."""
    check_name(name)
    role_arn = check_role_arn(role_arn)
    items: list[tuple[str, str]] = [("role_arn", role_arn), ("source_profile", source)]
    if region:
        items.append(("region", check_region(region)))
    return _add(config, "default" if name == "default" else f"profile {name}", tuple(items),
                home=home)


def key_sources(credentials: Path, *, home: Path | None = None) -> list[str]:
    """The credentials file's sections with a long-term key pair: what a role can use."""
    def state(name: str) -> str | None:
        try:
            return credfile.read_source_keys(credentials, name, home=home).state
        except RoletrayError:
            return None  # an odd section is simply not offered

    return [n for n in credfile.section_names(credentials, home=home)
            if state(n) == "long-term"]


def aws_cli_login(*, env: Mapping[str, str], **probe: Any) -> str | None:
    """The AWS CLI that has ``aws login`` (2.32 and later), or None."""
    return awscli.aws_cli((2, 32), env=env, **probe)


def login_profile(config: Path, name: str, *, home: Path | None = None) -> Written | None:
    """The ``login_session`` profile ``aws login --profile NAME`` wrote, if it did."""
    raw = awsconfig.raw_config_parse(config, home=home)
    section = "default" if name == "default" else f"profile {name}"
    values = raw.get(section, {})
    if "login_session" not in values:
        return None
    return Written(config, section, tuple(f"{k} = {v}" for k, v in values.items()))


def _add(config: Path, section: str, items: tuple[tuple[str, str], ...], *,
         home: Path | None) -> Written:
    """Append ``[section]`` with ``items``; the same section written before is left as it
    is (setup run twice), any other section of that name is refused."""
    shown = paths.display_in(config, home)

    def edit(text: str, layout: inifile.Layout) -> str | None:
        if section in layout.by_name:
            current = layout.items(layout.by_name[section])
            if all(current.get(k) == v for k, v in items):
                return None  # written before, the same: setup run twice
            raise ConfigError(N_("{file}: [{section}] exists already; choose another name "
                                 "(nothing was written)"), file=shown, section=section)
        return inifile.replace_section(text, section, list(items), layout=layout)

    configedit.edit_file(config, edit, home=home)
    return Written(config, section, tuple(f"{k} = {v}" for k, v in items))
