"""Waiting for an SSO sign-in: remember the token file's signature, notice a new one.

``tray.aws.sso`` is imported only for SSO sources (it loads hashlib, OpenSSL's).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tray.domain.errors import RoletrayError

Watch = tuple[Path, tuple[int, int] | None]


def watch_token(profile: str, config_path: Path, env: Mapping[str, str]) -> Watch | None:
    """The token file of ``profile``'s SSO session (under ``env``'s HOME) and its signature now."""
    from tray.aws import sso

    try:
        path = sso.token_path(sso.load_config(profile, config_path, env=env), env)
    except RoletrayError:
        return None
    return path, sso.file_signature(path)


def signed_in_since(watch: Watch) -> bool:
    """Has the token file been written since ``watch`` was taken?"""
    from tray.aws import sso

    path, before = watch
    after = sso.file_signature(path)
    return after is not None and after != before
