"""roletray's settings: ``config.toml`` in ``user_config_dir("roletray")`` (``Paths.settings_file``).

Example::

    target = "roletray"          # the credentials-file section roletray owns
    refresh_margin = "10m"       # refresh this long before Expiration ("90s", "10m", "1h", or seconds)
    notifications = true
    mfa_session_hours = 12
    worker_idle_minutes = 10     # the tray's and daemon's AWS worker leaves after this idle

A missing file means the defaults. A broken one is an error naming the file and
line; it is never replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from tray.domain.errors import SettingsError, UsageError
from tray.domain.text import N_, Text
from tray.paths import Paths

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Settings:
    target: str = "roletray"
    refresh_margin: timedelta = timedelta(minutes=10)
    notifications: bool = True
    mfa_session_hours: int = 12
    worker_idle_minutes: int = 10


_TARGET_RE = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


def target_problem(name: object) -> Text | None:
    """Why ``name`` cannot be a target section, or None when it can.

    The one rule for every entry point (config.toml, ``--target``, the control
    socket): no control characters, bidi overrides, spaces or shell metacharacters
    reach the credentials file, a message or an ``export AWS_PROFILE=`` line.
    """
    if not isinstance(name, str):
        return Text(N_("the target must be a string"))
    if not _TARGET_RE.fullmatch(name):
        return Text(N_("target {name} is not a section name roletray writes (letters, digits "
                       "and _ . @ + - only, at most 64)"), name=ascii(name))
    return None


def check_target(name: str | None) -> str | None:
    """``name`` itself (None: the settings' default), or ``UsageError`` naming the rule."""
    if name is None:
        return None
    problem = target_problem(name)
    if problem:
        raise UsageError(problem)
    return name


def parse_duration(value: object) -> timedelta | None:
    """``"10m"`` -> 10 minutes; ``90`` -> 90 seconds; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return timedelta(seconds=value) if value >= 0 else None
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    return None


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def load_settings(paths: Paths) -> Settings:
    """The settings in ``paths.settings_file``; the defaults when there is none."""
    path = paths.settings_file
    shown = paths.display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(N_("{path}: cannot read settings: {error_type}"),
                            path=shown, error_type=e.__class__.__name__) from e
    import tomllib  # only when there is a file: most people have none

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(N_("{path}: not valid TOML: {error}"),
                            path=shown, error=e) from e
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = Text(N_("{path}, line {line}"), path=shown, line=_line_of(text, key))
        if key not in known:
            raise SettingsError(N_("{where}: unknown setting '{key}' (known: {known})"),
                                where=where, key=key, known=', '.join(sorted(known)))
        if key == "target":
            if target_problem(value):
                raise SettingsError(N_("{where}: target must be a section name such as "
                                       '"roletray" (letters, digits and _ . @ + - only, '
                                       "at most 64)"),
                                    where=where)
            values[key] = value
        elif key == "refresh_margin":
            margin = parse_duration(value)
            if margin is None:
                raise SettingsError(N_('{where}: refresh_margin must be a duration such as "10m" '
                                       "or 600"),
                                    where=where)
            values[key] = margin
        elif key == "notifications":
            if not isinstance(value, bool):
                raise SettingsError(N_("{where}: notifications must be true or false"),
                                    where=where)
            values[key] = value
        elif key == "mfa_session_hours":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36:
                raise SettingsError(N_("{where}: mfa_session_hours must be a whole number from 1 "
                                       "to 36"),
                                    where=where)
            values[key] = value
        elif key == "worker_idle_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
                raise SettingsError(N_("{where}: worker_idle_minutes must be a whole number from "
                                       "1 to 1440"),
                                    where=where)
            values[key] = value
    return Settings(**values)
