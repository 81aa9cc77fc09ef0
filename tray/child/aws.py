"""The child adapter of ``tray.engine.ports.AwsPort``: each call answered by the worker
child, so the long-running tray and daemon never load botocore.

A call goes to the instance's warm worker (``via``, ``tray.child.warm.WarmChild``) or,
without one, to a worker started for it alone (``python -m tray.worker_main``); the
doctor runs in a child of its own (``tray.engine.child``). The request and the reply
are ``tray.child.codec``'s, the values ``tray.child.portwire``'s: an error comes back
as the class it was raised as, with its exit code, exactly as the in-process adapter
(``tray.aws.port.InProcessAws``) raises it. Conforms to the port structurally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tray.child import codec, portwire, runner, warm
from tray.domain import wire
from tray.domain.errors import EndpointError, RoletrayError
from tray.domain.models import AssumeResult, RoleProfile, SourceSession, TempCredentials

log = logging.getLogger(__name__)

WORKER = "tray.worker_main"  # the worker's main: a composition root (botocore, the use cases)
DOCTOR_CHILD = "tray.engine.child"
TIMEOUT = wire.WORKER_TIMEOUT
DOCTOR_TIMEOUT = 180.0

ProfileMap = Mapping[str, Mapping[str, str]]


class ChildAws:
    """The port, answered by a child under ``env`` (the caller's AWS files)."""

    def __init__(self, env: Mapping[str, str], *, via: warm.WarmChild | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.env = env
        self.via = via
        self.timeout = timeout

    def assume(self, role: RoleProfile, *, profile_map: ProfileMap | None = None,
               mfa_code: str | None = None, duration: int | None = None,
               session: TempCredentials | None = None,
               now: Callable[[], datetime] | None = None) -> AssumeResult:
        # ``now``: the child's clock stamps ``received_at`` as the answer arrives there.
        reply = self._call(role.name, "AssumeRole", {
            portwire.PORT: "assume", "role": portwire.role_to(role),
            "profile_map": _plain(profile_map), "mfa_code": mfa_code, "duration": duration,
            "session": portwire.creds_to(session) if session else None})
        return portwire.result_from(reply["result"])

    def session_token(self, role: RoleProfile, code: str, *, duration: int,
                      profile_map: ProfileMap | None = None) -> TempCredentials:
        reply = self._call(role.name, "GetSessionToken", {
            portwire.PORT: "session_token", "role": portwire.role_to(role), "code": code,
            "duration": duration, "profile_map": _plain(profile_map)})
        return portwire.creds_from(reply["result"])

    def source_session(self, source: str, *, file_id: str | None,
                       mfa_code: str | None = None,
                       duration: int | None = None) -> SourceSession:
        reply = self._call(source, "GetSessionToken", {
            portwire.PORT: "source_session", "source": source, "file_id": file_id,
            "mfa_code": mfa_code, "duration": duration})
        return portwire.source_session_from(reply["result"])

    def verify_target(self, target: str, access_key_id: str, *,
                      profile_map: ProfileMap | None = None) -> None:
        self._call(target, "the check of the written keys", {
            portwire.PORT: "verify_target", "target": target,
            "access_key_id": access_key_id, "profile_map": _plain(profile_map)})

    def diagnose(self, profile: str | None) -> tuple[str, str]:
        try:
            got = codec.request(DOCTOR_CHILD, {"call": "tray.doctor.brief:brief",
                                               "kwargs": {"profile": profile},
                                               "events": False},
                                env=self.env, timeout=DOCTOR_TIMEOUT)
        except runner.ChildTimeout:
            raise RoletrayError(f"the doctor did not finish within {DOCTOR_TIMEOUT:.0f} s") \
                from None
        if got.reply is None:
            last = (got.stderr.strip().splitlines() or [f"exit {got.returncode}"])[-1]
            raise RoletrayError(f"the doctor stopped: {last[:300]}")
        summary, report = wire.raise_for(got.reply)["result"]
        return str(summary), str(report)

    def _call(self, name: str, what: str, request: dict[str, Any]) -> dict[str, Any]:
        """The worker's successful reply to ``request``; its error raised as itself."""
        return dict(wire.raise_for(ask_worker(request, name=name, what=what, env=self.env,
                                              timeout=self.timeout, via=self.via)))


def ask_worker(request: dict[str, Any], *, name: str, what: str, env: Mapping[str, str],
               timeout: float, via: warm.WarmChild | None = None,
               on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The worker's reply to ``request`` (an error reply too): from the instance's warm
    worker ``via``, else from a worker started for this call alone. A timeout, a worker
    that died, or one that answered nothing is one line naming profile ``name`` and
    ``what`` it was doing."""
    try:
        if via is not None:
            got = via.request(request, timeout=timeout, on_event=on_event)
        else:
            got = codec.request(WORKER, request, env=env, timeout=timeout, on_event=on_event)
    except runner.ChildTimeout:
        raise EndpointError(f"profile '{name}': {what} did not finish within "
                            f"{timeout:.0f} s") from None
    except warm.WorkerGone as e:
        raise RoletrayError(f"profile '{name}': the refresh worker stopped ({e}) before "
                            "it answered; try again (a new worker starts)") from None
    for line in got.stderr.splitlines()[-5:]:
        log.warning("worker: %s", line[:300])
    if got.reply is None:
        raise RoletrayError(f"internal error: the refresh worker exited {got.returncode} "
                            "without an answer; see the log")
    return got.reply


def _plain(profile_map: ProfileMap | None) -> dict[str, dict[str, str]] | None:
    return None if profile_map is None else {k: dict(v) for k, v in profile_map.items()}
