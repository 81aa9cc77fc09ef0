"""Waiting for a sign-in (AWS SSO, or ``aws login``): remember the token file's
signature, notice a new one.

``tray.awsfiles.ssocache`` (botocore's token cache, read without botocore) is imported
only for SSO sources (it loads hashlib, OpenSSL's).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tray import paths
from tray.awsfiles import awsconfig, logincache
from tray.domain.errors import RoletrayError

Watch = tuple[Path, tuple[int, int] | None]


def watch_token(profile: str, config_path: Path, env: Mapping[str, str]) -> Watch | None:
    """The token file of ``profile``'s SSO session (under ``env``'s HOME) and its signature now."""
    from tray.awsfiles import ssocache as sso

    try:
        path = sso.token_path(sso.load_config(profile, config_path, env=env), env)
    except RoletrayError:
        return None
    return path, _signature(path)


def watch_login(profile: str, config_path: Path, env: Mapping[str, str]) -> Watch | None:
    """The ``aws login`` token file of ``profile`` (a ``login_session`` profile) and its
    signature now: ``aws login`` writes it anew when the person signs in again."""
    try:
        values = awsconfig.load_profile_map(config_path, home=paths.home_of(env)).get(profile, {})
    except RoletrayError:
        return None
    session = values.get(logincache.LOGIN_KEY)
    if not session:
        return None
    path = logincache.token_path(session, env)
    return path, _signature(path)


def signed_in_since(watch: Watch) -> bool:
    """Has the token file been written since ``watch`` was taken?"""
    path, before = watch
    after = _signature(path)
    return after is not None and after != before


def _signature(path: Path) -> tuple[int, int] | None:
    """Changes when the file is written again (mtime, size); None when absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
