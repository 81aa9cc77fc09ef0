"""The port's values on the worker's pipe (``tray.child.aws`` in the parent, the
worker's main in the child): domain values to JSON and back. Secrets (keys, a code)
travel only on the private pipes, never in argv, the environment or a log."""

from __future__ import annotations

import dataclasses
from typing import Any

from tray.domain.models import (
    AssumeResult,
    RoleProfile,
    SourceSession,
    TempCredentials,
    iso_utc,
    parse_iso_utc,
)

PORT = "port"  # a request's field naming the port's method: {"port": "assume", ...}


def role_to(role: RoleProfile) -> dict[str, Any]:
    return dataclasses.asdict(role)


def role_from(doc: dict[str, Any]) -> RoleProfile:
    return RoleProfile(**doc)


def creds_to(creds: TempCredentials) -> dict[str, str]:
    return {"access_key_id": creds.access_key_id, "secret_access_key": creds.secret_access_key,
            "session_token": creds.session_token, "expiration": iso_utc(creds.expiration)}


def creds_from(doc: dict[str, Any]) -> TempCredentials:
    return TempCredentials(doc["access_key_id"], doc["secret_access_key"],
                           doc["session_token"], parse_iso_utc(doc["expiration"]))


def _time_to(value: Any) -> str | None:
    return iso_utc(value) if value is not None else None


def _time_from(value: Any) -> Any:
    return parse_iso_utc(value) if value else None


def result_to(result: AssumeResult) -> dict[str, Any]:
    return {"profile": result.profile, "credentials": creds_to(result.credentials),
            "identity_arn": result.identity_arn, "assumed_role_id": result.assumed_role_id,
            "server_date": _time_to(result.server_date),
            "received_at": _time_to(result.received_at)}


def result_from(doc: dict[str, Any]) -> AssumeResult:
    return AssumeResult(profile=doc["profile"], credentials=creds_from(doc["credentials"]),
                        identity_arn=doc["identity_arn"],
                        assumed_role_id=doc["assumed_role_id"],
                        server_date=_time_from(doc.get("server_date")),
                        received_at=_time_from(doc.get("received_at")))


def source_session_to(made: SourceSession) -> dict[str, Any]:
    return {"source": made.source, "credentials": creds_to(made.credentials),
            "server_date": _time_to(made.server_date)}


def source_session_from(doc: dict[str, Any]) -> SourceSession:
    return SourceSession(source=doc["source"], credentials=creds_from(doc["credentials"]),
                         server_date=_time_from(doc.get("server_date")))
