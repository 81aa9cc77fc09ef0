"""Where files live: one immutable ``Paths``, built once from an environment mapping.

The composition root (``cli.main``, ``app``, ``demo``, the worker child) calls
``Paths.from_env(os.environ)`` once and passes the value down; nothing below it
reads the environment to find a file, so two ``Paths`` from two environments
work side by side in one process.

The AWS files are found as the AWS CLI finds them: ``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/config`` and ``~/.aws/credentials``.
roletray's own files follow the XDG variables on Linux and the BSDs (as
platformdirs does there), and platformdirs elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "roletray"

# A home folder given to a module that names files in its messages: ``~/...`` under it;
# None names them as given. Never the process's HOME read behind the caller's back.
Home = Path | str | None


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _expand(value: str, env: Mapping[str, str]) -> Path:
    home = _home(env)
    if value == "~" or value.startswith("~/"):
        value = home + value[1:]
    return Path(os.path.expandvars(value))


def _xdg(env: Mapping[str, str], var: str, default: str) -> Path:
    # As the XDG spec (and platformdirs) says: only an absolute value counts.
    value = env.get(var, "")
    return Path(value) if os.path.isabs(value) else Path(_home(env)) / default


@dataclass(frozen=True)
class Paths:
    home: Path
    aws_config: Path
    aws_credentials: Path
    settings_file: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        """Resolve every path from ``env``: the only place its variables are read for paths."""
        if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
            config_dir = _xdg(env, "XDG_CONFIG_HOME", ".config") / APP
            state_dir = _xdg(env, "XDG_STATE_HOME", ".local/state") / APP
            log_dir = state_dir / "log"
        else:  # macOS, Windows: platformdirs knows their folders (from the process's HOME)
            import platformdirs

            config_dir = Path(platformdirs.user_config_dir(APP))
            state_dir = Path(platformdirs.user_state_dir(APP))
            log_dir = Path(platformdirs.user_log_dir(APP))
        base = env.get("XDG_RUNTIME_DIR")
        if base and os.path.isdir(base):
            runtime_dir = Path(base) / APP
        else:  # no runtime dir (containers, macOS): the state dir is private to the user too
            runtime_dir = state_dir / "run"
        return cls(
            home=Path(_home(env)),
            aws_config=_expand(env.get("AWS_CONFIG_FILE") or "~/.aws/config", env),
            aws_credentials=_expand(env.get("AWS_SHARED_CREDENTIALS_FILE")
                                    or "~/.aws/credentials", env),
            settings_file=config_dir / "config.toml",
            state_dir=state_dir,
            log_dir=log_dir,
            runtime_dir=runtime_dir,
        )

    def display(self, path: Path) -> str:
        """A path as the user would write it: ``~/.aws/credentials``."""
        return _shorten(path, str(self.home))

    def aws_files(self) -> tuple[str, str]:
        """(config, credentials) as real paths (links resolved, a relative one from the
        working folder): what tells one set of AWS files from another."""
        return os.path.realpath(self.aws_config), os.path.realpath(self.aws_credentials)


def _shorten(path: Path, home: str) -> str:
    s = str(path)
    if home and (s == home or s.startswith(home.rstrip("/") + "/")):
        return "~" + s[len(home.rstrip("/")):]
    return s


# --- for modules that take an env mapping rather than a ``Paths`` (aws, awsfiles, doctor,
# ui): each reads only the mapping it is given, never the process environment. ---------------

def aws_config_file(env: Mapping[str, str]) -> Path:
    return _expand(env.get("AWS_CONFIG_FILE") or "~/.aws/config", env)


def aws_credentials_file(env: Mapping[str, str]) -> Path:
    return _expand(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", env)


def expand(value: str, env: Mapping[str, str]) -> Path:
    """A path variable's value as the AWS tools expand it: ``~`` is ``env``'s HOME."""
    return _expand(value, env)


def settings_file(env: Mapping[str, str]) -> Path:
    return Paths.from_env(env).settings_file


def state_dir(env: Mapping[str, str]) -> Path:
    return Paths.from_env(env).state_dir


def runtime_dir(env: Mapping[str, str]) -> Path:
    return Paths.from_env(env).runtime_dir


def display_path(path: Path, env: Mapping[str, str]) -> str:
    """A path as the user would write it: ``~/.aws/credentials``."""
    return _shorten(path, _home(env))


def home_of(env: Mapping[str, str]) -> Path:
    """The home folder ``env`` names (what ``display_path`` shortens to ``~``)."""
    return Path(_home(env))


def display_in(path: Path | str, home: Home) -> str:
    """``path`` as ``~/...`` when under ``home``; as given when not, or with no ``home``."""
    return str(path) if home is None else _shorten(Path(path), str(home))
