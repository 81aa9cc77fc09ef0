"""A command given to the running tray or daemon over its control socket, and its
reply checked (an error reply raised as its own class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tray.cli import asking
from tray.domain.errors import UsageError

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
    """Hand ``cmd`` over without a code first: the running instance may hold an MFA
    session. If it needs a code, ask on the terminal and send it with ``retry``
    (``{"mfa_code": code}`` added to the payload). None when no instance runs.
    The tray's flow too (``tray.engine.roles.ask_and_retry``)."""
    from tray.domain import wire
    from tray.domain.errors import MfaRequiredError
    from tray.engine.roles import ask_and_retry
    from tray.instance import control

    where = root.paths
    last: list[dict[str, Any] | None] = [None]

    def attempt(code: str | None) -> None:
        reply = control.send(cmd, payload, where=where) if code is None else \
            control.send(retry, {**payload, "mfa_code": code, "code": code}, where=where)
        if reply is None and code is not None:
            raise UsageError("the running roletray went away while asking for the code")
        last[0] = reply
        if reply is not None and not reply.get("ok") and \
                isinstance(wire.decode_error(reply), MfaRequiredError):
            # A signal for ask_and_retry; the reply kept in ``last`` says the rest.
            raise MfaRequiredError(profile=profile or "", mfa_serial="")

    def ask() -> str | None:
        return asking.ask_mfa(asking.needs_mfa(profile, root))

    try:
        ask_and_retry(attempt, ask, ask_first=False)
    except MfaRequiredError:
        pass  # refused with the code too: the instance's own reply says why
    reply = last[0]
    return None if reply is None else checked(reply)
