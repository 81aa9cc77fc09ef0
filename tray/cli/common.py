"""What every command shares: ``Root`` (the environment and its paths), the one error
line, ``--json``'s one document, the active role as a default, a denial said once."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tray.cli.snapshot_text import shown
from tray.domain.errors import AccessDeniedError, UsageError
from tray.i18n import N_
from tray.paths import Paths

if TYPE_CHECKING:
    import argparse

    from tray.engine.actions import Context

log = logging.getLogger("roletray")


@dataclass(frozen=True)
class Root:
    """What every command starts from: the environment and the paths resolved from it once."""

    env: Mapping[str, str]
    paths: Paths
    one_shot: bool = False  # this process is `roletray CMD` (not a test, not a parent)

    def context(self) -> Context:
        """The use cases' context; reads the settings file (a broken one is an error)."""
        from tray import compose  # AWS in this process: a one-shot command
        from tray.engine.actions import Context
        from tray.settings import load_settings

        return Context(paths=self.paths, env=self.env, settings=load_settings(self.paths),
                       aws=compose.in_process_aws(self.env))


def fail(args: argparse.Namespace, message: str, code: int, *,
         shown_as: str | None = None) -> None:
    """``message`` (English) in ``--json``; ``shown_as`` (its translation) on stderr."""
    print(f"roletray: {shown(shown_as or message)}", file=sys.stderr)
    if getattr(args, "json", False):
        emit({"ok": False, "error": message, "exit_code": code})


def emit(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=False))


def profile_or_active(profile: str | None, root: Root, command: str) -> str:
    """``profile``, else the active role (refused when there is none)."""
    if profile is not None:
        return profile
    from tray.state import load_state

    state = load_state(root.paths)
    if state is None:
        raise UsageError(N_("no active role: name a profile, e.g. `roletray {command} "
                            "platform`"), command=command)
    return state.active_role


def diagnosed(profile: str, error: AccessDeniedError, root: Root) -> AccessDeniedError:
    """A denied AssumeRole said once, finding first: the doctor's finding when it has one
    (no second AssumeRole), else the denial as it came (tray.domain.denied's sentence)."""
    from tray.doctor import diagnose
    from tray.domain import denied

    try:
        report = diagnose.run_doctor(profile, try_assume=False, env=root.env)
    except Exception:  # the denial itself is the error to report; the diagnosis is a bonus
        log.debug("diagnosis failed", exc_info=True)
        return error
    if not diagnose.explains_denial(report):
        return error
    return AccessDeniedError(denied.PROFILE_DENIED, profile=profile,
                             finding=diagnose.summarize(report))
