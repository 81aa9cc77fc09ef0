"""Guarded profiles in the tray: the dialog before one becomes the active role (or a kept
section), and its label where the tray names the role (notifications, the tooltip,
the console page's title). No GUI import: the dialog is a process of its own
(``tray.ui.confirm``); the icon's ring is ``png_icon.guard_ring``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace

from tray.child import runner
from tray.i18n import _
from tray.platform.notify import Notification

log = logging.getLogger(__name__)

DIALOG_TIMEOUT = 300.0


class GuardDialogs:
    """Opens the dialog; ``close_all`` ends those still open (the tray is quitting)."""

    def __init__(self, env: Mapping[str, str], timeout: float = DIALOG_TIMEOUT,
                 module: str = "tray.ui.confirm") -> None:
        self.env = dict(env)
        self.timeout = timeout
        self.module = module
        self._open = runner.Children()

    def confirm(self, profile: str, label: str, target: str | None = None) -> bool:
        """True only when the person chose to go ahead; Cancel, Escape, closing the
        window, no display, or leaving it open for ``timeout`` are all a no."""
        where = ["--target", target] if target else []
        try:
            done = runner.run(self.module, ["--profile", profile, "--label", label, *where],
                              env=self.env, timeout=self.timeout, children=self._open)
        except runner.ChildTimeout:
            log.info("the dialog for guarded %s was left open for %.0f s; closed it",
                     profile, self.timeout)
            return False
        if done.returncode not in (0, 1, -15):
            log.warning("the dialog for guarded %s failed (exit %d): %s", profile,
                        done.returncode, done.stderr.decode(errors="replace").strip()[-300:])
        return done.returncode == 0

    def close_all(self) -> None:
        self._open.terminate()


def labelled(role: str, guard: str | None) -> str:
    """``prod [production]``; the name alone when it is not guarded."""
    return f"{role} [{guard}]" if guard else role


def label_note(note: Notification, guards: Mapping[str, str]) -> Notification:
    """``note`` with each guarded role its title names labelled: "Now working as prod
    [production]", "prod [production]: keys expire soon"."""
    title = note.title
    for role, guard in guards.items():
        if role in title:
            title = re.sub(rf"(?<![\w./@+=,:-]){re.escape(role)}(?![\w./@+=-])",
                           labelled(role, guard).replace("\\", "\\\\"), title, count=1)
    return note if title == note.title else replace(note, title=title)


def label_tooltip(tooltip: str, role: str | None, guard: str | None) -> str:
    """The tooltip, which starts with the active role, with its label."""
    if not role or not guard or not tooltip.startswith(role):
        return tooltip
    return labelled(role, guard) + tooltip[len(role):]


def console_title(profile: str, guard: str | None) -> str:
    """The title of the page that opens the console (``signin_page``)."""
    return _("roletray: opening the AWS console as {profile}").format(
        profile=labelled(profile, guard))
