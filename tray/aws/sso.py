"""AWS SSO (IAM Identity Center) source profiles: the token cache, and signing in.

roletray never holds an SSO token itself: botocore reads it from its own cache,
``~/.aws/sso/cache/<sha1>.json``, where ``aws sso login`` writes it. The file
name is the SHA-1 of the ``sso_session`` name (or, for a legacy profile, of
``sso_start_url``)::

    [profile dev-sso]                    ~/.aws/sso/cache/<sha1("corp")>.json
    sso_session = corp            ->     {"startUrl": "https://corp.awsapps.com/start",
    sso_account_id = 111122223333         "region": "us-east-1", "accessToken": "...",
    sso_role_name = Developer             "expiresAt": "2026-11-28T20:00:00Z",
    [sso-session corp]                    "clientId": "...", "clientSecret": "...",
    sso_start_url = https://corp...       "registrationExpiresAt": "...", "refreshToken": "..."}
    sso_region = us-east-1

``start_sso_login(profile)`` signs in: through ``aws sso login --profile X``
when AWS CLI v2 is on PATH (it opens the browser and writes the file), else
through the OAuth device authorization flow of ``sso-oidc`` itself (register,
start, open the verification page, poll ``CreateToken``), writing the same
file in the same format. Tokens are secrets: never logged, never in argv.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tray import fsutil, paths

# The sign-in's files, read without botocore (``tray.engine.sso_watch`` reads them in the
# long-running parent); here too for this module's callers.
from tray.awsfiles.ssocache import (  # noqa: F401
    DEFAULT_SCOPES,
    SsoConfig,
    TokenState,
    cache_dir,
    find_sso_profile,
    is_sso_profile,
    load_config,
    login_reason,
    token_path,
    token_state,
)
from tray.domain.errors import AwsError, RoletrayError
from tray.domain.models import iso_utc, utcnow
from tray.i18n import N_

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 600.0  # seconds a sign-in may take, browser included
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


# ------------------------------------------------------------------ signing in

Runner = Callable[..., Any]
Opener = Callable[[str], Any]


def start_sso_login(
    profile: str,
    *,
    config_path: Path | None = None,
    env: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    runner: Runner = subprocess.run,
    opener: Opener | None = None,
    oidc_client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utcnow,
    on_code: Callable[[str, str], None] | None = None,
    timeout: float = LOGIN_TIMEOUT,
) -> Path:
    """Sign ``profile`` in to AWS SSO; returns the token file botocore will read.

    Blocks until the person has approved in the browser (or ``timeout``): run
    it off the UI thread. ``on_code(user_code, url)`` lets the caller show the
    code the browser page asks to confirm (device flow only).
    """
    cfg = load_config(profile, config_path, env=env)
    aws = aws_cli_v2(which=which, runner=runner, env=env)
    if aws is not None:
        log.info("signing in to AWS SSO for profile %s with %s", profile, aws)
        try:
            # Arguments are names only; the CLI inherits the desktop session to open a browser.
            done = runner([aws, "sso", "login", "--profile", profile],
                          env=dict(env), timeout=timeout,
                          check=False)
        except subprocess.TimeoutExpired as e:
            raise AwsError(N_("`aws sso login --profile {profile_name}` did not finish within "
                              "{timeout:.0f} s"),
                           profile_name=profile, timeout=timeout) from e
        if done.returncode != 0:
            raise AwsError(N_("`aws sso login --profile {profile_name}` failed (exit "
                              "{code})"),
                           profile_name=profile, code=done.returncode)
        return token_path(cfg, env)
    return device_login(cfg, opener=opener, oidc_client=oidc_client, sleep=sleep,
                        monotonic=monotonic, now=now, on_code=on_code, timeout=timeout, env=env)


def sign_in(*, env: Mapping[str, str], profile: str, config_path: str | None,
            emit: Callable[..., None]) -> str:
    """``start_sso_login`` as a child runs it for the tray (``tray.engine.child``): the
    code to confirm goes back as an event, ``emit("device_code", code=, url=)``; the
    browser (and ``aws sso login``) start detached, with nothing of the child's pipes."""
    from tray.platform.desktop_open import open_url

    def quiet(argv: list[str], **kwargs: Any) -> Any:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        if not kwargs.get("capture_output"):  # `aws --version` is read; `aws sso login` not
            kwargs.setdefault("stdout", subprocess.DEVNULL)
            kwargs.setdefault("stderr", subprocess.DEVNULL)
        return subprocess.run(argv, check=kwargs.pop("check", False), **kwargs)

    path = start_sso_login(profile, config_path=Path(config_path) if config_path else None,
                           env=env, runner=quiet, opener=lambda url: open_url(url, env=env),
                           on_code=lambda code, url: emit("device_code", code=code, url=url))
    return str(path)


def aws_cli_v2(*, which: Callable[[str], str | None] = shutil.which, runner: Runner = subprocess.run,
               env: Mapping[str, str]) -> str | None:
    """The path of an AWS CLI that has ``aws sso login`` (version 2), or None."""
    from tray.platform import awscli

    return awscli.aws_cli((2, 0), env=env, which=which, runner=runner)


def device_login(
    cfg: SsoConfig,
    *,
    opener: Opener | None = None,
    oidc_client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utcnow,
    on_code: Callable[[str, str], None] | None = None,
    timeout: float = LOGIN_TIMEOUT,
    env: Mapping[str, str],
) -> Path:
    """The device authorization flow of ``sso-oidc``, then botocore's cache file
    (under ``env``'s HOME)."""
    client = oidc_client or _oidc_client(cfg.region, env)
    errors = client.exceptions
    name = f"roletray-{cfg.session_name or 'legacy'}"
    try:
        reg_kwargs: dict[str, Any] = {"clientName": name, "clientType": "public"}
        if cfg.scopes:
            reg_kwargs["scopes"] = list(cfg.scopes)
        reg = client.register_client(**reg_kwargs)
        auth = client.start_device_authorization(
            clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=cfg.start_url)
    except RoletrayError:
        raise
    except Exception as e:
        raise _oidc_error(e, cfg, "could not start the sign-in") from e
    url = auth.get("verificationUriComplete") or auth["verificationUri"]
    log.info("SSO sign-in for profile %s: waiting for approval at %s", cfg.profile,
             auth["verificationUri"])
    if on_code is not None:
        on_code(str(auth.get("userCode", "")), str(url))
    if opener is None:
        import webbrowser  # only for a sign-in: a cold assume of another role never needs it

        opener = webbrowser.open
    opener(url)
    interval = float(auth.get("interval") or 5)
    deadline = monotonic() + min(timeout, float(auth.get("expiresIn") or timeout))
    while True:
        if monotonic() >= deadline:
            raise AwsError(N_("SSO sign-in for profile '{profile_name}' was not approved in "
                              "time; start it again"),
                           profile_name=cfg.profile)
        sleep(interval)
        try:
            token = client.create_token(grantType=DEVICE_GRANT, deviceCode=auth["deviceCode"],
                                        clientId=reg["clientId"], clientSecret=reg["clientSecret"])
        except errors.AuthorizationPendingException:
            continue
        except errors.SlowDownException:
            interval += 5  # RFC 8628, 3.5
            continue
        except Exception as e:
            raise _oidc_error(e, cfg, "the sign-in was not completed") from e
        break
    issued = now()
    doc: dict[str, Any] = {
        "startUrl": cfg.start_url, "region": cfg.region, "accessToken": token["accessToken"],
        "expiresAt": iso_utc(issued + timedelta(seconds=int(token.get("expiresIn") or 3600))),
    }
    if cfg.session_name is not None:  # lets botocore refresh the token by itself
        doc["clientId"] = reg["clientId"]
        doc["clientSecret"] = reg["clientSecret"]
        expires = reg.get("clientSecretExpiresAt")
        if expires:
            doc["registrationExpiresAt"] = iso_utc(datetime.fromtimestamp(int(expires), UTC))
        if token.get("refreshToken"):
            doc["refreshToken"] = token["refreshToken"]
    path = token_path(cfg, env)
    _write_private_json(path, doc)
    log.info("SSO sign-in for profile %s done; token cached in %s", cfg.profile,
             paths.display_path(path, env))
    return path


def _oidc_client(region: str, env: Mapping[str, str]) -> Any:
    from botocore import UNSIGNED
    from botocore.config import Config

    from tray.aws import session as aws_session

    session = aws_session.base_session(env)
    return session.create_client(
        "sso-oidc", region_name=region,
        endpoint_url=aws_session.endpoint_from(env, "sso-oidc"), config=Config(
        signature_version=UNSIGNED, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": 2}))


def _oidc_error(e: Exception, cfg: SsoConfig, what: str) -> RoletrayError:
    from tray.aws.session import error_code

    code = error_code(e)
    # Only the code: OIDC messages may echo request fields.
    return AwsError(N_("SSO sign-in for profile '{profile_name}': {what} ({value})"),
                    profile_name=cfg.profile, what=what, value=code or type(e).__name__)


def _write_private_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Atomic, 0600 in a 0700 folder: the file holds a bearer token."""
    fsutil.make_dirs(path.parent)
    fsutil.atomic_write(path, json.dumps(doc), prefix=".roletray-")
