"""The ``[sso-session NAME]`` sections of the AWS config file, and their access tokens.

``roletray sso login`` and ``roletray sso populate`` name an sso-session, not a
profile: the session has the start URL, the region and the registration scopes;
its token is botocore's cache file ``~/.aws/sso/cache/<sha1(NAME)>.json``
(``tray.aws.sso`` writes it). ``access_token`` reads that file as botocore does,
and, when the token has run out but the file has a refresh token (a session with
``sso_registration_scopes``), renews it with the OIDC refresh grant and saves the
new token in the same file, in botocore's format, as botocore would.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from tray import paths
from tray.aws import sso
from tray.awsfiles import awsconfig
from tray.domain.errors import AwsError, ConfigError, InputKind, NeedsInputError
from tray.domain.models import iso_utc, parse_iso_utc, utcnow
from tray.domain.text import N_, Text

log = logging.getLogger(__name__)

REFRESH_GRANT = "refresh_token"
# Refresh a token this close to its end: a populate takes seconds, not minutes.
MARGIN = timedelta(seconds=60)


class SsoSessionSignInError(NeedsInputError):
    """The sso-session has no usable token: someone has to sign in."""

    input_kind: ClassVar[InputKind] = "sso"
    fmt = ("not signed in to sso-session '{session}' ({reason}); run `roletray sso login "
           "{session}` (or `aws sso login --sso-session {session}`), then try again")


def session_names(raw: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The sso-sessions of a parsed config file, by botocore's rule (``sso-session NAME``
    split as a shell would, two words)."""
    return list(_sections(raw))


def _sections(raw: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """sso-session name -> its section's key in ``raw`` (the last one, as botocore)."""
    found: dict[str, str] = {}
    for key in raw:
        if key.startswith("sso-session"):
            try:
                parts = shlex.split(key)
            except ValueError:
                continue
            if len(parts) == 2 and parts[0] == "sso-session":
                found[parts[1]] = key
    return found


def choose(name: str | None, config_path: Path, *, env: Mapping[str, str]) -> sso.SsoConfig:
    """The sso-session ``name`` (or the only one when None) as an ``SsoConfig``."""
    shown = paths.display_path(config_path, env)
    raw = awsconfig.raw_config_parse(config_path, home=paths.home_of(env))
    sections = _sections(raw)
    names = list(sections)
    if name is None:
        if len(names) == 1:
            name = names[0]
        elif not names:
            raise ConfigError(N_("{path}: no [sso-session NAME] section; add one with "
                                 "sso_start_url and sso_region (or run `aws configure "
                                 "sso-session`)"),
                              path=shown)
        else:
            raise ConfigError(N_("{path} has {count} sso-sessions ({names}); name one: roletray "
                                 "sso ... SSO_SESSION"),
                              path=shown, count=len(names), names=', '.join(names))
    if name not in names:
        listed = f" (it has: {', '.join(names)})" if names else ""
        raise ConfigError(N_("{path}: no [sso-session {name}] section{listed}"),
                          path=shown, name=name, listed=listed)
    section = raw[sections[name]]
    start_url, region = section.get("sso_start_url"), section.get("sso_region")
    if not start_url or not region:
        missing = "sso_start_url" if not start_url else "sso_region"
        raise ConfigError(N_("{path}: [sso-session {name}] has no {missing}"),
                          path=shown, name=name, missing=missing)
    listed_scopes = section.get("sso_registration_scopes", "")
    scopes = tuple(s.strip() for s in listed_scopes.split(",") if s.strip())
    # ``profile`` names the session in the device flow's messages.
    return sso.SsoConfig(profile=f"sso-session {name}", start_url=start_url, region=region,
                         session_name=name, scopes=scopes)


def access_token(cfg: sso.SsoConfig, *, env: Mapping[str, str],
                 now: Callable[[], datetime] = utcnow, oidc_client: Any = None) -> str:
    """The session's access token from botocore's cache, renewed when it has run out and
    can be; ``SsoSessionSignInError`` when nobody is signed in (or the sign-in ended)."""
    assert cfg.session_name is not None
    session = cfg.session_name
    path = sso.token_path(cfg, env)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        token, expires = str(doc["accessToken"]), parse_iso_utc(str(doc["expiresAt"]))
    except FileNotFoundError:
        raise SsoSessionSignInError(session=session, reason=Text(N_("no sign-in yet"))) from None
    except (OSError, ValueError, KeyError, TypeError):
        raise SsoSessionSignInError(session=session, reason=Text(
            N_("its token cache file {path} cannot be read"),
            path=paths.display_path(path, env))) from None
    if token and expires - now() > MARGIN:
        return token
    renewed = _refresh(cfg, doc, path, env=env, now=now, oidc_client=oidc_client)
    if renewed is None:
        raise SsoSessionSignInError(session=session, reason=Text(N_("the sign-in has ended")))
    return renewed


def _refresh(cfg: sso.SsoConfig, doc: Mapping[str, Any], path: Path, *,
             env: Mapping[str, str], now: Callable[[], datetime],
             oidc_client: Any) -> str | None:
    """botocore's ``SSOTokenProvider`` refresh: the new token, or None when it cannot."""
    need = ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")
    if any(not doc.get(k) for k in need):
        return None
    try:
        if parse_iso_utc(str(doc["registrationExpiresAt"])) <= now():
            return None
    except ValueError:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from tray.aws.session import error_code

    client = oidc_client or sso._oidc_client(cfg.region, env)
    try:
        answer = client.create_token(grantType=REFRESH_GRANT, clientId=doc["clientId"],
                                     clientSecret=doc["clientSecret"],
                                     refreshToken=doc["refreshToken"])
    except (BotoCoreError, ClientError) as e:
        code = error_code(e)
        if not isinstance(e, ClientError):
            raise AwsError(N_("sso-session '{session_name}': could not reach SSO OIDC to renew "
                              "the token ({error_type})"),
                           session_name=cfg.session_name, error_type=type(e).__name__) from None
        log.info("sso-session %s: the refresh grant was refused (%s)", cfg.session_name, code)
        return None
    new = {"startUrl": cfg.start_url, "region": cfg.region, "accessToken": answer["accessToken"],
           "expiresAt": iso_utc(now() + timedelta(seconds=int(answer["expiresIn"]))),
           "clientId": doc["clientId"], "clientSecret": doc["clientSecret"],
           "registrationExpiresAt": doc["registrationExpiresAt"],
           "refreshToken": answer.get("refreshToken") or doc["refreshToken"]}
    sso._write_private_json(path, new)
    log.info("sso-session %s: token renewed with its refresh token", cfg.session_name)
    return str(answer["accessToken"])
