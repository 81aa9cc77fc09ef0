"""The loopback container endpoint, with botocore's own container provider as the client."""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from fakes import FakeClock

from tray.domain.errors import AwsError
from tray.domain.models import TempCredentials
from tray.serve.container import ContainerEndpoint

TOKEN = "s3cr3t-token-for-tests"


@pytest.fixture
def clock() -> FakeClock:
    # Starts at the real time: botocore judges the keys' expiry by its own clock.
    return FakeClock(start=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def keys(clock: FakeClock) -> dict[str, TempCredentials]:
    return {"platform": TempCredentials("ASIAPLATFORM0000001", "platform-secret",
                                        "platform-token", clock.now() + timedelta(hours=1))}


@pytest.fixture
def endpoint(keys: dict[str, TempCredentials], clock: FakeClock):  # type: ignore[no-untyped-def]
    def keys_for(profile: str) -> TempCredentials:
        if profile not in keys:
            raise AwsError(f"no keys for {profile}")
        return keys[profile]

    ep = ContainerEndpoint(keys_for, {"platform", "broken"}, TOKEN, now=clock.now).start()
    yield ep
    ep.stop()


def _get(ep: ContainerEndpoint, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_botocore_reads_the_keys(endpoint: ContainerEndpoint, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url_for("platform"))
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    session = botocore.session.Session()
    creds = session.get_credentials()
    assert creds is not None and creds.method == "container-role"
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == \
        ("ASIAPLATFORM0000001", "platform-secret", "platform-token")


def _headers(ep: ContainerEndpoint, **kw: str) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{ep.port}", "Authorization": TOKEN, **kw}


def test_the_exact_token_is_required(endpoint: ContainerEndpoint) -> None:
    assert _get(endpoint, "/role/platform", _headers(endpoint))[0] == 200
    for bad in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        status, body = _get(endpoint, "/role/platform", _headers(endpoint, Authorization=bad))
        assert status == 401 and "AccessKeyId" not in body


def test_a_foreign_host_header_is_refused(endpoint: ContainerEndpoint) -> None:
    # DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends its own Host.
    for host in ("evil.example", f"evil.example:{endpoint.port}", "127.0.0.1:1"):
        status, body = _get(endpoint, "/role/platform", _headers(endpoint, Host=host))
        assert status == 403 and "AccessKeyId" not in body
    assert _get(endpoint, "/role/platform", _headers(endpoint, Host=f"localhost:{endpoint.port}")
                )[0] == 200


def test_only_its_roles_and_only_keys_with_time_left(endpoint: ContainerEndpoint,
                                                      clock: FakeClock) -> None:
    assert _get(endpoint, "/role/other", _headers(endpoint))[0] == 404
    assert _get(endpoint, "/role/", _headers(endpoint))[0] == 404
    status, body = _get(endpoint, "/role/broken", _headers(endpoint))
    assert status == 503 and body["message"] == "no keys for broken"
    clock.advance(timedelta(minutes=45))  # exactly 15 minutes left: not handed out
    status, body = _get(endpoint, "/role/platform", _headers(endpoint))
    assert status == 503 and "platform-secret" not in json.dumps(body)


def test_a_non_loopback_peer_is_refused(endpoint: ContainerEndpoint) -> None:
    status, body = endpoint.answer("10.0.0.5", _headers(endpoint), "/role/platform")
    assert status == 403 and "AccessKeyId" not in body
    assert endpoint.answer("127.0.0.2", _headers(endpoint), "/role/platform")[0] == 200
