"""A command given to the running tray or daemon over its control socket, and its
reply checked (an error reply raised as its own class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tray.cli import asking

if TYPE_CHECKING:
    from tray.cli.common import Root


def handover(cmd: str, payload: dict[str, Any], root: Root) -> Any | None:
    """Hand the command to a running tray/daemon; None when none runs."""
    from tray.instance import control

    reply = control.send(cmd, payload, where=root.paths)
    if reply is None:
        return None
    return checked(reply)


def checked(reply: dict[str, Any]) -> dict[str, Any]:
    from tray.domain import wire

    wire.raise_for(reply)
    return reply


def handover_asking(cmd: str, payload: dict[str, Any], profile: str | None,
                    retry: str, root: Root) -> Any | None:
    """Hand ``cmd`` over, asking on the terminal for PROFILE's MFA code only if the
    running instance says it needs one (then sent with ``retry``); checked. None when
    no instance runs."""
    from tray.instance import control

    reply = control.send_asking(
        cmd, payload, lambda: asking.ask_mfa(asking.needs_mfa(profile, root)),
        retry=retry, where=root.paths)
    return None if reply is None else checked(reply)
