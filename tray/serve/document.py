"""The documents the SDKs read, and when keys are good enough to hand out.

botocore re-runs a ``credential_process`` (or asks a container endpoint again) once
its keys are in the last 15 minutes (the *advisory* window) and blocks every call on
a refresh in the last 10 (the *mandatory* one). Keys handed out with 15 minutes or
less left would be asked for again at once, so roletray hands out only keys with
more than ``MIN_LEFT``, and refreshes a served role ``SERVE_MARGIN`` before its end.

>>> from datetime import datetime, UTC
>>> keys = TempCredentials("ASIAEXAMPLE", "secret", "token",
...                        datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
>>> process_document(keys)["Expiration"]
'2026-12-02T09:00:00Z'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tray.domain.models import TempCredentials, iso_utc

# botocore's advisory refresh window for credential_process and container keys.
MIN_LEFT = timedelta(minutes=15)
# A served role is refreshed this long before it ends: past botocore's 15 minutes,
# with room for a few retries before its keys stop being handed out.
SERVE_MARGIN = timedelta(minutes=25)


def good_to_hand_out(creds: TempCredentials | None, now: datetime) -> bool:
    """True when ``creds`` have more than ``MIN_LEFT`` left at ``now``."""
    return creds is not None and creds.expiration - now > MIN_LEFT


def process_document(creds: TempCredentials) -> dict[str, Any]:
    """The ``credential_process`` output (Version 1) that botocore, the aws CLI and
    the Go and JS SDKs read."""
    return {
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": iso_utc(creds.expiration),
    }


def container_document(creds: TempCredentials) -> dict[str, Any]:
    """The container credentials provider's document (the ECS/EKS endpoint's form)."""
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": iso_utc(creds.expiration),
    }
