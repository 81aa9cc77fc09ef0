"""A 200 answer that is not what STS (or IAM, or an SSO cache file) should give is a
one-line error, never a traceback; the daemon retries it as a transient failure."""

from __future__ import annotations

import os

import pytest
from faultserver import FaultServer
from test_sso import world  # noqa: F401 - a fixture

from tray import paths
from tray.cli import main
from tray.domain.errors import EndpointError
from tray.engine.refresh_policy import is_transient

PARTIAL = """<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials><AccessKeyId>ASIAPARTIAL000000000</AccessKeyId></Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata>
</AssumeRoleResponse>
"""
HTML = "<html><body><h1>Welcome to the captive portal</h1></body></html>"


@pytest.mark.parametrize("body, content_type", [(PARTIAL, "text/xml"), (HTML, "text/html"),
                                                ("", "text/xml")], ids=["partial", "html", "empty"])
def test_a_broken_sts_answer_is_one_line_and_writes_nothing(aws, capsys, monkeypatch,
                                                            body, content_type):
    aws.seed_world()
    before = aws.credentials_path.read_bytes()
    with FaultServer("answer", body=body, content_type=content_type) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        code = main(["assume", "platform"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyError" not in err
    assert code == 1, err
    lines = [ln for ln in err.splitlines() if "STS" in ln or "127.0.0.1" in ln]
    assert lines, err
    assert aws.credentials_path.read_bytes() == before


def test_a_partial_sts_answer_is_a_transient_endpoint_error(aws, monkeypatch):
    from tray.aws import sts
    from tray.awsfiles import awsconfig

    aws.seed_world()
    role = awsconfig.get_role_profile("platform", aws.config_path,
                                      credentials_path=paths.aws_credentials_file(os.environ))
    with FaultServer("answer", body=PARTIAL) as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        with pytest.raises(EndpointError) as caught:
            sts.assume_role(role, env=dict(os.environ))
    assert is_transient(caught.value)
    assert "without AssumedRoleUser" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("garbage", [b"\xff\xfe not json", b"[1, 2]", b'{"accessToken": 5}',
                                     b'{"startUrl": "x", "accessToken": "t", "expiresAt": 7}',
                                     b"{" * 5000],
                         ids=["not-utf8", "a-list", "token-a-number", "expiry-a-number",
                              "deep"])
def test_a_garbage_sso_cache_file_asks_for_a_sign_in(world, garbage, capsys):  # noqa: F811
    import hashlib

    from tray.aws import sso

    path = sso.cache_dir(env=os.environ) / (hashlib.sha1(b"corp").hexdigest() + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage)
    code = main(["assume", "via-sso"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code != 0
    [line] = [ln for ln in err.splitlines() if "sso" in ln.lower()]
    assert "aws sso login --profile sso-dev" in line, err


@pytest.mark.parametrize("mode", ["answer", "refuse"])
def test_the_doctor_says_aws_was_not_reached_and_exits_1(aws, capsys, monkeypatch, mode):
    aws.seed_world()
    with FaultServer(mode, body=HTML, content_type="text/html") as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", srv.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        code = main(["doctor", "platform"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == 1, captured.out + captured.err
    [line] = [ln for ln in captured.out.splitlines() if ln.split()[:2] == ["unknown", "whoami"]]
    assert ("not an AWS answer" if mode == "answer" else "could not reach") in line
