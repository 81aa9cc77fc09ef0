"""Where files live. Everything is computed on call, from the environment given.

The AWS files are found as the AWS CLI finds them: ``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/config`` and ``~/.aws/credentials``.
roletray's own files follow platformdirs (on Linux, the XDG variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "roletray"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _expand(value: str, env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or os.path.expanduser("~")
    if value == "~" or value.startswith("~/"):
        value = home + value[1:]
    return Path(os.path.expandvars(value))


def aws_config_file(env: Mapping[str, str] | None = None) -> Path:
    e = _env(env)
    return _expand(e.get("AWS_CONFIG_FILE") or "~/.aws/config", e)


def aws_credentials_file(env: Mapping[str, str] | None = None) -> Path:
    e = _env(env)
    return _expand(e.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", e)


def settings_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP))


def state_file() -> Path:
    return state_dir() / "state.json"


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP))


def runtime_dir() -> Path:
    """Private per-user folder for the instance lock and the control socket."""
    import platformdirs

    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return Path(base) / APP
    # No runtime dir (containers, macOS): the state dir is private to the user too.
    return Path(platformdirs.user_state_dir(APP)) / "run"


def display_path(path: Path, env: Mapping[str, str] | None = None) -> str:
    """A path as the user would write it: ``~/.aws/credentials``."""
    home = _env(env).get("HOME") or os.path.expanduser("~")
    s = str(path)
    if home and (s == home or s.startswith(home.rstrip("/") + "/")):
        return "~" + s[len(home.rstrip("/")):]
    return s
