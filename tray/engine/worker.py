"""One AssumeRole in a child process, for the long-running tray and daemon: the parent
side (``tray.worker_main`` is the child's).

Why a child: each AssumeRole builds several botocore sessions, each loading
megabytes of JSON models, and CPython keeps those pages after they are freed:
in-process, a daemon grows from ~38 MiB to ~60 MiB within a day of refreshes.
A child gives everything back when it exits (~0.5 s of CPU every 50 minutes),
and a call stuck on the network can be killed without harming the daemon.

The parent writes one JSON object to the child's stdin (an MFA code and an MFA
session's keys travel here, never in the argument list or the environment)::

    {"profile": "platform", "target": "roletray", "duration": null,
     "mfa_code": null, "force": false,
     "mfa_session": null, "mfa_session_hours": null}

``mfa_session`` is ``MfaSession.to_wire()`` (keys of a session the parent keeps
in memory); ``mfa_session_hours`` asks the child to start a new session with
``mfa_code`` first. The child runs ``actions.assume`` (which writes the section
and the state) and prints one JSON line::

    {"ok": true, "role": {"name": "platform", "role_arn": "...", ...},
     "target": "roletray", "region": "ap-northeast-2", "warnings": [],
     "identity_arn": "...", "assumed_role_id": "...", "access_key_id": "ASIA...",
     "expiration": "2026-11-28T14:26:50Z", "server_date": "2026-11-28T13:26:50Z",
     "mfa_session": null}
    {"ok": false, "code": "access_denied", "error": "...", "exit_code": 1,
     "profile": null, "mfa_session": null}

The pipe is ``tray.child.codec``: the framing, results and errors of
``tray.domain.wire``, the control socket's codec; only ``mfa_session`` is this pipe's
own (it never crosses the socket).

The role's keys are not in it: the parent reads them back from the section the
child wrote. The only secret in the answer is a newly started MFA session's
keys, which exist nowhere else; they go back through this private pipe.

The other mode, ``{"profile": ..., "write": false, "duration": null, "mfa_code": null,
"mfa_session": null, "mfa_session_hours": null}``, serves a role (``credential-process``):
the child runs ``actions.assume_only``, writes nothing, and its answer carries the keys
themselves (``"credentials": {"access_key_id", "secret_access_key", "session_token",
"expiration"}``), which exist nowhere else either, and ``mfa_session`` as above (served
roles and the refresher share the instance's MFA sessions).

The port's calls (``tray.engine.ports.AwsPort``, ``{"port": "assume", ...}``), sent by
``tray.child.aws.ChildAws``, go to the same worker: a keyring-held source's session
(``credential-process --source``) among them, so the parent never loads ``keyring``.
The child gets the parent's environment, ``DBUS_SESSION_BUS_ADDRESS`` included: the
Secret Service is found on that bus.

The child's side is ``tray.worker_main``: a composition root, since it wires the use
cases to the in-process adapter (``tray.aws.port``), which nothing in ``tray.engine``
may import.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tray.awsfiles import credfile
from tray.child import aws as child_aws
from tray.child import portwire, runner, warm
from tray.domain import wire
from tray.domain.errors import CredentialsFileError
from tray.domain.mfa import MfaSession
from tray.domain.models import (
    AssumeResult,
    RoleProfile,
    SourceSession,
    parse_iso_utc,
)
from tray.domain.text import lines_from_json
from tray.engine import actions
from tray.i18n import N_

log = logging.getLogger(__name__)

TIMEOUT = wire.WORKER_TIMEOUT  # botocore's own timeouts end a call long before
MODULE = child_aws.WORKER  # the worker's main, ``tray.worker_main``: a composition root
IDLE = timedelta(minutes=10)  # a warm worker's default life without a call


def warm_worker(env: Mapping[str, str], scheduler: warm.Timer, *,
                now: Callable[[], datetime], idle: timedelta = IDLE) -> warm.WarmChild:
    """The instance's one worker, kept loaded between calls (``tray.child.warm``); pass
    it as ``via`` (``functools.partial``) to the functions below."""
    return warm.WarmChild(MODULE, env=env, idle=idle, scheduler=scheduler, now=now)


def assume_in_child(profile: str, *, ctx: actions.Context, target: str | None = None,
                    duration: int | None = None, mfa_code: str | None = None,
                    force: bool = False, timeout: float = TIMEOUT,
                    mfa_session: MfaSession | None = None,
                    mfa_session_hours: int | None = None,
                    on_mfa_session: actions.OnMfaSession | None = None,
                    via: warm.WarmChild | None = None) -> actions.Outcome:
    """``actions.assume`` run by ``python -m tray.engine.worker``; same arguments, same errors."""
    target = target or ctx.target
    reply = _run_child({"profile": profile, "target": target, "duration": duration,
                        "mfa_code": mfa_code, "force": force,
                        "mfa_session": mfa_session.to_wire() if mfa_session else None,
                        "mfa_session_hours": mfa_session_hours}, profile, ctx, timeout,
                       on_mfa_session, via)
    if reply.get("ok") is not True:
        raise wire.decode_error(reply)
    started = _session_of(reply.get("mfa_session"))
    outcome = _outcome(reply, ctx, target)
    return dataclasses.replace(outcome, mfa_session=started) if started else outcome


def assume_only_in_child(profile: str, *, ctx: actions.Context, duration: int | None = None,
                         mfa_code: str | None = None, mfa_session: MfaSession | None = None,
                         mfa_session_hours: int | None = None,
                         on_mfa_session: actions.OnMfaSession | None = None,
                         timeout: float = TIMEOUT,
                         via: warm.WarmChild | None = None) -> actions.Outcome:
    """``actions.assume_only`` (keys returned, nothing written) run in the child; an MFA
    session it starts comes back as ``assume_in_child``'s does."""
    reply = _run_child({"profile": profile, "write": False, "duration": duration,
                        "mfa_code": mfa_code,
                        "mfa_session": mfa_session.to_wire() if mfa_session else None,
                        "mfa_session_hours": mfa_session_hours},
                       profile, ctx, timeout, on_mfa_session, via)
    if reply.get("ok") is not True:
        raise wire.decode_error(reply)
    started = _session_of(reply.get("mfa_session"))
    creds = portwire.creds_from(reply["credentials"])
    server_date = reply.get("server_date")
    result = AssumeResult(profile=reply["role"]["name"], credentials=creds,
                          identity_arn=reply["identity_arn"],
                          assumed_role_id=reply["assumed_role_id"],
                          server_date=parse_iso_utc(server_date) if server_date else None)
    return actions.Outcome(result=result, role=RoleProfile(**reply["role"]), target="",
                           region=reply.get("region"), mfa_session=started)


def source_session_in_child(source: str, *, ctx: actions.Context, file_id: str,
                            mfa_code: str | None = None, duration: int | None = None,
                            timeout: float = TIMEOUT,
                            via: warm.WarmChild | None = None) -> SourceSession:
    """``AwsPort.source_session`` answered by the worker (``tray.child.aws.ChildAws``),
    for the keys of ``source`` of the credentials file ``file_id``; same errors (a
    locked keyring: ``KeyringLockedError``)."""
    return child_aws.ChildAws(ctx.env, via=via, timeout=timeout).source_session(
        source, file_id=file_id, mfa_code=mfa_code, duration=duration)


def _run_child(request: dict[str, Any], profile: str, ctx: actions.Context,
               timeout: float, on_mfa_session: actions.OnMfaSession | None = None,
               via: warm.WarmChild | None = None) -> dict[str, Any]:
    """The worker's reply: from the instance's warm worker ``via``, else from a worker
    started for this call alone."""
    def on_event(doc: dict[str, Any]) -> None:
        # A session the code started, sent before the AssumeRole: kept even if that fails.
        started = _session_of(doc.get("session")) if doc["event"] == "mfa_session" else None
        if started is not None and on_mfa_session is not None:
            on_mfa_session(started)

    return child_aws.ask_worker(request, name=profile, what="AssumeRole", env=ctx.env,
                                timeout=timeout, via=via, on_event=on_event)


def _session_of(doc: object) -> MfaSession | None:
    if not isinstance(doc, dict):
        return None
    try:
        return MfaSession.from_wire(doc)
    except (KeyError, ValueError, TypeError):
        log.warning("the refresh worker sent back a malformed MFA session; ignored")
        return None


def terminate_children() -> int:
    """Stop every worker still running, and what it started (the instance is shutting
    down). Returns how many."""
    return runner.WORKERS.terminate()


def _outcome(reply: dict[str, Any], ctx: actions.Context, target: str) -> actions.Outcome:
    creds = credfile.read_owned(ctx.credentials_path, target, home=ctx.paths.home)
    if creds is None or creds.access_key_id != reply["access_key_id"]:
        raise CredentialsFileError(N_("[{target}] changed again right after roletray wrote it; "
                                      "will try again"), target=target)
    server_date, received_at = reply.get("server_date"), reply.get("received_at")
    result = AssumeResult(profile=reply["role"]["name"], credentials=creds,
                          identity_arn=reply["identity_arn"],
                          assumed_role_id=reply["assumed_role_id"],
                          server_date=parse_iso_utc(server_date) if server_date else None,
                          received_at=parse_iso_utc(received_at) if received_at else None)
    return actions.Outcome(result=result, role=RoleProfile(**reply["role"]), target=target,
                           region=reply.get("region"),
                           warnings=tuple(lines_from_json(reply.get("warnings", []),
                                                          reply.get("warning_texts"))))
