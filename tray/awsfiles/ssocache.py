"""The AWS SSO sign-in's files, without botocore: where a profile signs in
(``load_config``, its ``[sso-session]`` merged in) and botocore's token cache file
(``token_path``, ``token_state``), under the env's HOME. ``tray.aws.sso`` signs in;
``tray.engine.sso_watch`` notices a new token from the long-running parent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from tray import paths
from tray.awsfiles import awsconfig
from tray.domain.errors import ConfigError
from tray.domain.models import parse_iso_utc, utcnow
from tray.domain.text import N_, Text

TokenState = Literal["missing", "expired", "valid", "unreadable"]
DEFAULT_SCOPES = ("sso:account:access",)


@dataclass(frozen=True)
class SsoConfig:
    """Where ``profile`` signs in: the start URL, the region, the session name if any."""

    profile: str
    start_url: str
    region: str
    session_name: str | None = None
    scopes: tuple[str, ...] = ()

    @property
    def cache_key(self) -> str:
        import hashlib  # here: it maps OpenSSL, which an idle tray need not hold

        return hashlib.sha1((self.session_name or self.start_url).encode("utf-8")).hexdigest()


def cache_dir(env: Mapping[str, str]) -> Path:
    """``~/.aws/sso/cache`` under ``env``'s HOME (botocore fixes its own copy at import)."""
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".aws" / "sso" / "cache"


def token_path(cfg: SsoConfig, env: Mapping[str, str]) -> Path:
    return cache_dir(env) / f"{cfg.cache_key}.json"


def is_sso_profile(values: Mapping[str, str]) -> bool:
    return "sso_session" in values or "sso_start_url" in values


def find_sso_profile(name: str, profile_map: Mapping[str, Mapping[str, str]]) -> str | None:
    """The first profile of ``name``'s source chain that signs in with SSO."""
    for link in awsconfig.source_chain(name, profile_map):
        if is_sso_profile(profile_map.get(link, {})):
            return link
    return None


def load_config(profile: str, config_path: Path | None = None, *,
                env: Mapping[str, str]) -> SsoConfig:
    """The SSO settings of ``profile``, its ``[sso-session]`` merged in."""
    path = config_path or paths.aws_config_file(env)
    shown = paths.display_path(path, env)
    raw = awsconfig.raw_config_parse(path, home=paths.home_of(env))
    values = awsconfig.build_profile_map(raw).get(profile)
    if values is None:
        raise ConfigError(N_("{path}: no profile named '{profile_name}'"),
                          path=shown, profile_name=profile)
    session_name = values.get("sso_session")
    merged = dict(values)
    if session_name is not None:
        section = raw.get(f"sso-session {session_name}")
        if section is None:
            raise ConfigError(N_("{path}: profile '{profile_name}' names sso_session "
                                 "'{session_name}', but there is no [sso-session {session_name}] "
                                 "section"),
                              path=shown, profile_name=profile, session_name=session_name)
        merged.update(section)
    start_url, region = merged.get("sso_start_url"), merged.get("sso_region")
    if not start_url or not region:
        missing = "sso_start_url" if not start_url else "sso_region"
        raise ConfigError(N_("{path}: profile '{profile_name}' signs in with SSO but has no "
                             "{missing}"),
                          path=shown, profile_name=profile, missing=missing)
    scopes: tuple[str, ...] = ()
    if session_name is not None:
        listed = merged.get("sso_registration_scopes", "")
        scopes = tuple(s.strip() for s in listed.split(",") if s.strip()) or DEFAULT_SCOPES
    return SsoConfig(profile=profile, start_url=start_url, region=region,
                     session_name=session_name, scopes=scopes)


def token_state(cfg: SsoConfig, now: datetime | None = None, *,
                env: Mapping[str, str]) -> TokenState:
    """What the cached token of ``cfg`` looks like; never returns the token."""
    path = token_path(cfg, env)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        expires = parse_iso_utc(str(doc["expiresAt"]))
        if not doc["accessToken"]:
            return "unreadable"
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable"
    return "valid" if expires > (now or utcnow()) else "expired"


def login_reason(state: TokenState) -> Text:
    """Why a sign-in is needed, said whole (in the reader's language where it is read)."""
    return Text({"missing": N_("not signed in"), "expired": N_("token expired"),
                 "unreadable": N_("the token cache file cannot be read"),
                 "valid": N_("the token was refused")}[state])
