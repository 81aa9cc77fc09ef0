"""Notice and restore a target section another program removed or rewrote.

``inspect`` says what the section holds compared with the keys we wrote last;
``restore`` writes ours back. Another program's temporary keys may be replaced,
long-term keys never (``credfile`` refuses those, and so do we).
"""

from __future__ import annotations

import logging
from typing import Literal

from tray import paths
from tray.awsfiles import credfile
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials
from tray.engine import actions

log = logging.getLogger(__name__)

SectionKind = Literal["ours", "absent", "changed", "foreign"]


class SectionGuard:
    def __init__(self, ctx: actions.Context) -> None:
        self._ctx = ctx

    def inspect(self, target: str, ours: TempCredentials | None) -> SectionKind:
        """``ours``: the keys we wrote last (None: whatever roletray wrote is ours)."""
        path = self._ctx.credentials_path
        try:
            state = credfile.section_state(path, target, home=self._ctx.paths.home)
            if state != "owned":
                return "absent" if state == "absent" else "foreign"
            owned = credfile.read_owned(path, target, home=self._ctx.paths.home)
        except CredentialsFileError:
            return "ours"  # unparsable: the next write reports it, naming the line
        if ours is not None and (owned is None or owned.access_key_id != ours.access_key_id):
            return "changed"
        return "ours"

    def restore(self, target: str, creds: TempCredentials, *, role: str,
                kind: SectionKind) -> None:
        """Write ``creds`` back; raises ``CredentialsFileError`` when the file refuses."""
        credfile.write_credentials(self._ctx.credentials_path, target, creds, role=role,
                                   force=kind == "foreign", home=self._ctx.paths.home)
        self.log_restored(target, kind)

    def log_restored(self, target: str, kind: SectionKind) -> None:
        what = "removed" if kind == "absent" else "changed"
        log.warning("restored [%s] in %s: another program %s it", target,
                    paths.display_path(self._ctx.credentials_path, self._ctx.env), what)
