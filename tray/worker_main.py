"""The refresh worker's main (``python -m tray.worker_main``): a composition root.

It wires the use cases (``tray.engine.actions``) to the in-process adapter
(``tray.aws.port.InProcessAws``), which is why it lives here and not in
``tray.engine``. The parent's side, and the requests, are ``tray.engine.worker``'s
(a use case run whole: ``assume``, ``assume_only``) and ``tray.child.aws``'s (one
call of ``AwsPort``: ``{"port": NAME, ...}``). One request (a worker started for one
call) or many (the instance's warm worker, ``tray.child.warm``).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tray import compose, i18n
from tray.aws.port import InProcessAws
from tray.child import codec, portwire, runner
from tray.domain import wire
from tray.domain.errors import RoletrayError
from tray.domain.mfa import MfaSession
from tray.domain.models import iso_utc
from tray.domain.text import lines_to_json
from tray.engine import actions


def _handle(request: dict[str, Any], emit: codec.Emit) -> dict[str, Any]:
    # The child's main is a composition root: its env is the one the parent chose.
    env = os.environ
    i18n.setup(env)  # its errors reach the person in their language too
    try:
        if portwire.PORT in request:
            return _port_call(request, compose.in_process_aws(env))
        if request.get("write") is False:
            return _serve(request, _emitter(emit), compose.in_process(env))
        return _assume(request, _emitter(emit), compose.in_process(env))
    except RoletrayError as e:
        return wire.encode_error(e)
    except Exception as e:  # noqa: BLE001 - a bug: its type only, never a message that might hold a secret
        return wire.internal_error(f"internal error in the refresh worker ({type(e).__name__})")


def _emitter(emit: codec.Emit) -> actions.OnMfaSession:
    def started(session: MfaSession) -> None:
        emit("mfa_session", session=session.to_wire())
    return started


def _profile_map(doc: object) -> dict[str, dict[str, str]] | None:
    return {str(k): dict(v) for k, v in doc.items()} if isinstance(doc, dict) else None


def _port_call(request: Mapping[str, Any], aws: InProcessAws) -> dict[str, Any]:
    """One call of the port, answered as ``{"ok": true, "result": ...}``."""
    name = request[portwire.PORT]
    calls: dict[str, Callable[[], Any]] = {
        "assume": lambda: portwire.result_to(aws.assume(
            portwire.role_from(request["role"]), profile_map=_profile_map(request.get("profile_map")),
            mfa_code=request.get("mfa_code"), duration=request.get("duration"),
            session=portwire.creds_from(request["session"]) if request.get("session") else None)),
        "session_token": lambda: portwire.creds_to(aws.session_token(
            portwire.role_from(request["role"]), str(request["code"]),
            duration=int(request["duration"]),
            profile_map=_profile_map(request.get("profile_map")))),
        "source_session": lambda: portwire.source_session_to(aws.source_session(
            str(request["source"]), file_id=request.get("file_id") or None,
            mfa_code=request.get("mfa_code"), duration=request.get("duration"))),
        "verify_target": lambda: aws.verify_target(
            str(request["target"]), str(request["access_key_id"]),
            profile_map=_profile_map(request.get("profile_map"))),
        "diagnose": lambda: list(aws.diagnose(request.get("profile"))),
    }
    if name not in calls:
        return wire.internal_error(f"internal error: the refresh worker has no call {name!r}")
    return wire.ok(result=calls[name]())


def _assume(request: dict[str, Any], started: actions.OnMfaSession,
            ctx: actions.Context) -> dict[str, Any]:
    session = request.get("mfa_session")
    outcome = actions.assume(request["profile"], target=request.get("target"),
                             duration=request.get("duration"),
                             mfa_code=request.get("mfa_code"),
                             force=bool(request.get("force")),
                             mfa_session=MfaSession.from_wire(session) if session else None,
                             mfa_session_hours=request.get("mfa_session_hours"),
                             on_mfa_session=started, ctx=ctx)
    res = outcome.result
    return wire.ok(role=dataclasses.asdict(outcome.role), target=outcome.target,
                   region=outcome.region, warnings=list(outcome.warnings),
                   warning_texts=lines_to_json(outcome.warnings),
                   identity_arn=res.identity_arn, assumed_role_id=res.assumed_role_id,
                   access_key_id=res.credentials.access_key_id,
                   expiration=iso_utc(res.credentials.expiration),
                   server_date=iso_utc(res.server_date) if res.server_date else None,
                   received_at=iso_utc(res.received_at) if res.received_at else None,
                   mfa_session=outcome.mfa_session.to_wire() if outcome.mfa_session else None)


def _serve(request: dict[str, Any], started: actions.OnMfaSession,
           ctx: actions.Context) -> dict[str, Any]:
    session = request.get("mfa_session")
    outcome = actions.assume_only(request["profile"], duration=request.get("duration"),
                                  mfa_code=request.get("mfa_code"),
                                  mfa_session=MfaSession.from_wire(session) if session else None,
                                  mfa_session_hours=request.get("mfa_session_hours"),
                                  on_mfa_session=started, ctx=ctx)
    res = outcome.result
    return wire.ok(role=dataclasses.asdict(outcome.role), region=outcome.region,
                   identity_arn=res.identity_arn, assumed_role_id=res.assumed_role_id,
                   server_date=iso_utc(res.server_date) if res.server_date else None,
                   credentials=portwire.creds_to(res.credentials),
                   mfa_session=outcome.mfa_session.to_wire() if outcome.mfa_session else None)


if __name__ == "__main__":
    # A parent that waits on signals with sigwaitinfo (``roletray exec``) started this
    # child from a thread that blocks them: take the default mask back, so SIGTERM ends it.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    runner.exit_on_terminate()
    sys.exit(codec.serve(_handle))  # one request (one-shot) or many (warm.WarmChild)
