"""``roletray console``: moto's AssumeRole, then a local fake of AWS's federation endpoint.

The fake (reached through ROLETRAY_FEDERATION_ENDPOINT) records every request it
gets, so the tests see exactly which keys left the machine and where to.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.faultserver import LocalServer, QuietHandler
from tray import console
from tray.aws import federation
from tray.cli import main
from tray.domain.models import RoleProfile, TempCredentials

ACCOUNT = "123456789012"
TOKEN = "fake-signin-token-" + "Q" * 40
REPO = Path(__file__).resolve().parent.parent


def forwarded_url(uri: str, text: str | None = None) -> str:
    """The sign-in URL behind the page a browser is given (``signin_page``): served once
    on loopback to the user alone (fetched here unless ``text``, the page as the browser
    got it, is given), or a private file. The URL is on no command line."""
    import html
    import re
    import stat
    import urllib.request

    assert "SigninToken" not in uri, uri
    if uri.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(uri).path))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
    else:
        assert uri.startswith("http://127.0.0.1:"), uri
        assert len(urllib.parse.urlsplit(uri).path) > 40  # unguessable
        if text is None:
            with urllib.request.urlopen(uri, timeout=30) as answer:
                text = answer.read().decode()
    found = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', text)
    assert found is not None
    return html.unescape(found.group(1))


class FakeFederation(LocalServer):
    """AWS's /federation: answers getSigninToken as ``mode`` says, records each query.

    Modes: ok (a JSON token), html (a sign-in page), notoken (JSON without one),
    500, redirect (to /elsewhere on itself), garbage (not HTTP), hang (no answer
    until stopped).
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.queries: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"{self.url}/federation"

    def stop(self) -> None:
        self._stopped.set()
        super().stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                with fake._lock:
                    fake.paths.append(parts.path)
                    fake.queries.append(dict(urllib.parse.parse_qsl(parts.query)))
                if fake.mode == "hang":
                    fake._stopped.wait(20)
                    self.close_connection = True
                    return
                if fake.mode == "garbage":
                    self.wfile.write(b"hello, not HTTP\r\n")
                    self.close_connection = True
                    return
                if fake.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"{fake.url}/elsewhere?{parts.query}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, kind, body = {
                    "ok": (200, "application/json", json.dumps({"SigninToken": TOKEN})),
                    "html": (200, "text/html", "<html><body>Sign in</body></html>"),
                    "notoken": (200, "application/json", json.dumps({"Error": "none"})),
                    "500": (500, "text/html", "<html>Internal error</html>"),
                }[fake.mode]
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeFederation() as fake:
        monkeypatch.setenv(federation.ENDPOINT_ENV, fake.endpoint)
        yield fake


def _secrets(aws: Any) -> list[str]:
    """The long-term secret of every user made in the sandbox."""
    return [secret for _, secret in aws.users.values()]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_print_signs_in_with_the_roles_keys_and_prints_only_the_url(aws, fed, capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="roletray")
    caplog.set_level(logging.DEBUG, logger="tray")
    aws.seed_world()
    aws.enforce()
    long_term_key = aws.users["dev"][0]
    creds_before = aws.credentials_path.read_bytes()

    assert main(["console", "platform", "--print"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.endswith("\n") and out.count("\n") == 1  # the URL, alone
    url = out.strip()

    # What was sent to the federation endpoint: the role's session, never the user's keys.
    assert fed.paths == ["/federation"]
    [sent] = fed.queries
    assert sent["Action"] == "getSigninToken"
    session = json.loads(sent["Session"])
    assert set(session) == {"sessionId", "sessionKey", "sessionToken"}
    assert session["sessionId"] != long_term_key and session["sessionId"].startswith("ASIA")
    assert session["sessionKey"] not in _secrets(aws)
    import boto3

    who = boto3.client("sts", endpoint_url=aws.url, region_name="us-east-1",
                       aws_access_key_id=session["sessionId"],
                       aws_secret_access_key=session["sessionKey"],
                       aws_session_token=session["sessionToken"]).get_caller_identity()
    assert who["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    # The user's long-term keys assumed the role: AWS allows a console session as long.
    assert 3500 <= int(sent["SessionDuration"]) <= 3600

    # The login URL: same endpoint, the issuer, the role's region's console home, the token.
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == fed.endpoint
    params = dict(urllib.parse.parse_qsl(parts.query))
    assert params == {"Action": "login", "Issuer": "roletray", "SigninToken": TOKEN,
                      "Destination": "https://console.aws.amazon.com/console/home"
                                     "?region=ap-northeast-2"}
    for secret in (session["sessionKey"], session["sessionToken"], *_secrets(aws)):
        assert secret not in url and secret not in caplog.text
    assert TOKEN not in caplog.text and url not in caplog.text
    assert aws.credentials_path.read_bytes() == creds_before  # nothing written


def test_a_chained_roles_session_gets_no_session_duration(aws, fed, capsys):
    arn = aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile deep]\nrole_arn = {arn}\nsource_profile = platform\n")

    assert main(["console", "deep", "--print"]) == 0
    capsys.readouterr()
    [sent] = fed.queries
    assert sent["Action"] == "getSigninToken" and "Session" in sent
    assert "SessionDuration" not in sent


@pytest.mark.parametrize("extra, expected", [
    ([], "https://console.aws.amazon.com/console/home?region=ap-northeast-2"),
    (["--destination", "s3"], "https://console.aws.amazon.com/s3/home?region=ap-northeast-2"),
    (["--destination", "ec2", "--region", "eu-west-1"],
     "https://console.aws.amazon.com/ec2/home?region=eu-west-1"),
    (["--region", "us-west-2"], "https://console.aws.amazon.com/console/home?region=us-west-2"),
    (["--destination", "https://eu-west-1.console.aws.amazon.com/lambda/home#/functions"],
     "https://eu-west-1.console.aws.amazon.com/lambda/home#/functions"),
])
def test_destination(aws, fed, capsys, extra, expected):
    aws.seed_world()
    assert main(["console", "platform", "--print", *extra]) == 0
    url = capsys.readouterr().out.strip()
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert params["Destination"] == expected


@pytest.mark.parametrize("extra, needle", [
    (["--destination", "https://evil.example/console.aws.amazon.com/"], "--destination"),
    (["--destination", "http://console.aws.amazon.com/s3/home"], "--destination"),
    (["--destination", "s3 buckets"], "--destination"),
    (["--region", "Mars"], "--region 'Mars'"),
])
def test_bad_destination_or_region_exit_2_before_any_call(aws, fed, capsys, extra, needle):
    aws.seed_world()
    assert main(["console", "platform", "--print", *extra]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert needle in _one_line(err)
    assert fed.queries == []


def test_a_refused_role_sends_nothing_to_the_federation_endpoint(aws, fed, capsys):
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()

    assert main(["console", "locked", "--print"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    line = _one_line(err)
    # the same sentence as `roletray assume`: the finding, then the fix pointer once
    assert line.startswith("roletray: profile 'locked': the trust policy of role 'locked' ")
    assert "role/locked" in line and line.count("roletray doctor") == 1
    assert fed.queries == []


def test_unknown_profile_exit_2(aws, fed, capsys):
    aws.seed_world()
    assert main(["console", "nope", "--print"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "no profile named 'nope'" in _one_line(err)
    assert fed.queries == []


def test_the_active_role_is_the_default_profile(aws, fed, capsys):
    aws.seed_world()
    assert main(["console", "--print"]) == 2
    assert "no active role" in _one_line(capsys.readouterr().err)
    assert main(["assume", "platform"]) == 0
    capsys.readouterr()

    assert main(["console", "--print"]) == 0
    assert capsys.readouterr().out.startswith(fed.endpoint + "?Action=login&")
    assert len(fed.queries) == 1


@pytest.mark.parametrize("mode, needle", [
    ("html", "answered with an HTML page, not a sign-in token"),
    ("notoken", "answered without a sign-in token"),
    ("500", "answered HTTP 500"),
    ("redirect", "answered HTTP 302"),
    ("garbage", "answered with something other than HTTP (BadStatusLine)"),
])
def test_a_bad_federation_answer_is_exit_1_one_line_without_secrets(aws, fed, capsys,
                                                                    mode, needle):
    aws.seed_world()
    fed.mode = mode
    assert main(["console", "platform", "--print"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    line = _one_line(err)
    assert line == f"roletray: federation endpoint {fed.url} {needle}"
    assert fed.paths == ["/federation"]  # a redirect is not followed with the keys


def test_an_unreachable_federation_endpoint_is_exit_1(aws, capsys, monkeypatch):
    aws.seed_world()
    with FakeFederation() as gone:
        url = gone.endpoint
    monkeypatch.setenv(federation.ENDPOINT_ENV, url)
    assert main(["console", "platform", "--print"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "could not be reached: the connection was refused" in _one_line(err)


def test_a_hanging_federation_endpoint_times_out():
    keys = TempCredentials("ASIAEXAMPLE", "secret-key", "session-token",
                           datetime.now(UTC) + timedelta(hours=1))
    with FakeFederation("hang") as fake, pytest.raises(federation.FederationError) as caught:
        federation.get_signin_token(fake.endpoint, keys, timeout=0.3)
    assert str(caught.value) == f"federation endpoint {fake.url} timed out: no answer"
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("value, needle", [
    ("http://signin.example.com/federation", "http is allowed only to this machine"),
    ("https://signin.aws.amazon.com/", "must be a full URL ending in /federation"),
    ("ftp://127.0.0.1/federation", "must be a full URL ending in /federation"),
    ("https://signin.aws.amazon.com/federation?x=1", "must be a full URL"),
    ("signin.aws.amazon.com/federation", "must be a full URL"),
    ("https://user:pw@signin.aws.amazon.com/federation", "must not carry a user name"),
])
def test_a_bad_endpoint_override_exit_2_before_any_call(aws, capsys, monkeypatch, value, needle):
    aws.seed_world()
    aws.enforce()
    monkeypatch.setenv(federation.ENDPOINT_ENV, value)
    assert main(["console", "platform", "--print"]) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert out == "" and federation.ENDPOINT_ENV in line and needle in line
    assert "pw" not in line


def test_browser_gets_the_url_and_nothing_else_prints_it(aws, fed, tmp_path):
    aws.seed_world()
    aws.enforce()
    got, fetched = tmp_path / "browser-argv", tmp_path / "browser-page"
    browser = tmp_path / "browser.sh"
    # A browser of the same user: records its argv, then loads the page (twice: the
    # second gets nothing, the page is served once).
    browser.write_text(
        f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{got}'\n"
        f"exec {sys.executable} -c 'import sys, urllib.request\n"
        "page = urllib.request.urlopen(sys.argv[1], timeout=30).read()\n"
        "try:\n    again = urllib.request.urlopen(sys.argv[1], timeout=30).status\n"
        "except OSError as e:\n    again = type(e).__name__\n"
        f"open(\"{fetched}\", \"wb\").write(page + b\"\\nagain: \" + str(again).encode())' \"$1\"\n")
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "tray", "console", "platform"],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    [uri] = got.read_text().splitlines()
    assert uri.startswith("http://127.0.0.1:") and "SigninToken" not in uri
    page, again = fetched.read_text().rsplit("\nagain: ", 1)
    assert again in ("URLError", "HTTPError", "ConnectionResetError", "RemoteDisconnected")
    url = forwarded_url(uri, page)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert params["SigninToken"] == TOKEN and params["Action"] == "login"
    assert "Opened the AWS console as platform" in run.stdout
    session = json.loads(fed.queries[0]["Session"])
    for secret in (TOKEN, session["sessionKey"], session["sessionToken"], *_secrets(aws)):
        assert secret not in run.stdout and secret not in run.stderr
    # The same, in Korean.
    run = subprocess.run([sys.executable, "-m", "tray", "console", "platform"],
                         capture_output=True, text=True, env={**env, "LANG": "ko_KR.UTF-8"},
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "웹 브라우저에서 platform(으)로 AWS 콘솔을 열었습니다.\n"


def test_partition_endpoints_and_console_hosts():
    assert federation.endpoint("aws", {}) == "https://signin.aws.amazon.com/federation"
    assert federation.endpoint("aws-cn", {}) == "https://signin.amazonaws.cn/federation"
    assert federation.endpoint("aws-us-gov", {}) == \
        "https://signin.amazonaws-us-gov.com/federation"
    assert federation.partition_of("arn:aws-cn:iam::123456789012:role/x") == "aws-cn"
    assert federation.destination("aws-us-gov", "us-gov-west-1", "s3") == \
        "https://console.amazonaws-us-gov.com/s3/home?region=us-gov-west-1"
    assert federation.destination("aws-cn", "cn-north-1") == \
        "https://console.amazonaws.cn/console/home?region=cn-north-1"
    with pytest.raises(federation.UsageError):  # the other partition's console
        federation.destination("aws-cn", "cn-north-1", "https://console.aws.amazon.com/s3/")
    local = "http://127.0.0.1:9/federation"
    assert federation.endpoint("aws", {federation.ENDPOINT_ENV: local}) == local


_R = "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
_KEYS = "aws_access_key_id = AKIA1\naws_secret_access_key = s\n"


@pytest.mark.parametrize("config, credentials, env, expected", [
    (_R + "source_profile = u\n", "[u]\n" + _KEYS, {}, True),
    # keys with a session token may be a role's own session
    (_R + "source_profile = u\n", "[u]\n" + _KEYS + "aws_session_token = t\n", {}, False),
    # the source is itself a role, even with keys in the credentials file
    (_R + "source_profile = u\n[profile u]\nrole_arn = arn:aws:iam::123456789012:role/u\n"
     "source_profile = default\n", "[default]\n" + _KEYS + "[u]\n" + _KEYS, {}, False),
    # a role profile that takes static keys from itself
    (_R + "source_profile = r\n", "[r]\n" + _KEYS, {}, True),
    # SSO and processes give role sessions, or may
    (_R + "source_profile = u\n[profile u]\nsso_session = corp\nsso_role_name = x\n",
     "", {}, False),
    (_R + "source_profile = u\n[profile u]\ncredential_process = /bin/true\n", "", {}, False),
    (_R + "credential_source = Ec2InstanceMetadata\n", "", {}, False),
    (_R + "credential_source = Environment\n", "", {"AWS_ACCESS_KEY_ID": "AKIA1"}, True),
    (_R + "credential_source = Environment\n", "",
     {"AWS_ACCESS_KEY_ID": "ASIA1", "AWS_SESSION_TOKEN": "t"}, False),
])
def test_session_duration_only_for_long_term_user_keys(isolated_env, config, credentials, env,
                                                       expected):
    from tray.awsfiles import awsconfig

    (isolated_env / ".aws" / "config").write_text(config)
    (isolated_env / ".aws" / "credentials").write_text(credentials)
    files = {"AWS_CONFIG_FILE": str(isolated_env / ".aws" / "config"),
             "AWS_SHARED_CREDENTIALS_FILE": str(isolated_env / ".aws" / "credentials")}
    profile_map = awsconfig.load_profile_map(files["AWS_CONFIG_FILE"])
    role = RoleProfile(name="r", role_arn="arn:aws:iam::123456789012:role/r",
                       source_profile=profile_map["r"].get("source_profile"),
                       credential_source=profile_map["r"].get("credential_source"))
    assert console.long_term_source(role, profile_map, {**files, **env}) is expected


def test_session_duration_follows_the_keys_within_aws_limits():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def keys(seconds: int) -> TempCredentials:
        return TempCredentials("ASIA1", "s", "t", now + timedelta(seconds=seconds))

    assert federation.session_duration(keys(3600), now) == 3600
    assert federation.session_duration(keys(60), now) == 900
    assert federation.session_duration(keys(50000), now) == 43200


def test_no_browser_is_one_line_without_the_url(aws, fed, tmp_path):
    aws.seed_world()
    browser = tmp_path / "failing-browser.sh"
    browser.write_text("#!/bin/sh\nexit 1\n")
    browser.chmod(0o755)
    empty = tmp_path / "bin"
    empty.mkdir()
    # No display and nothing on PATH: webbrowser has no other browser to fall back on.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(BROWSER=str(browser), PATH=str(empty), PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "tray", "console", "platform"],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 2
    assert run.stdout == ""
    assert "no web browser could be started" in _one_line(run.stderr)
    assert TOKEN not in run.stderr and "SigninToken" not in run.stderr


# ------------------------------------------------- keys handed over by a running instance

def _held(section: str) -> dict[str, str]:
    """The keys a section of the credentials file holds."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    return dict(parser[section])


def test_a_running_instance_hands_its_keys_over_no_assume_role(aws, fed, capsys, caplog,
                                                                monkeypatch):
    """`roletray console PROFILE` signs in with the keys a running instance keeps for that
    role (the active one, or an extra section's), handed over its socket: no AssumeRole."""
    from stsproxy import StsProxy

    from tray import app
    from tray.engine.actions import Context

    caplog.set_level(logging.DEBUG)
    aws.seed_world()
    arn = aws.create_role("readonly")
    with open(aws.config_path, "a") as f:
        f.write(f"\n[profile readonly]\nrole_arn = {arn}\nsource_profile = default\n")
    aws.enforce()
    with StsProxy(aws.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        with app.running_instance(ctx=Context.from_env(os.environ)) as refresher:
            refresher.switch("platform")
            refresher.switch("readonly", target="second")
            assumed = len(proxy.of("AssumeRole"))
            assert assumed == 2

            assert main(["console", "platform", "--print"]) == 0
            assert main(["console", "readonly", "--print"]) == 0
            assert len(proxy.of("AssumeRole")) == assumed  # none of our own
            sessions = [json.loads(q["Session"]) for q in fed.queries]
            assert [s["sessionId"] for s in sessions] == [
                _held("roletray")["aws_access_key_id"], _held("second")["aws_access_key_id"]]
            assert sessions[1]["sessionKey"] == _held("second")["aws_secret_access_key"]

            # A role no section keeps: the command assumes it itself, once.
            refresher.clear_section("second")
            assert main(["console", "readonly", "--print"]) == 0
            assert len(proxy.of("AssumeRole")) == assumed + 1
            assert json.loads(fed.queries[2]["Session"])["sessionId"] != \
                sessions[1]["sessionId"]
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 3
    for s in sessions:  # the keys crossed the socket, and went nowhere else
        assert s["sessionKey"] not in caplog.text and s["sessionToken"] not in caplog.text


def test_section_keys_only_for_a_kept_role_with_working_keys(isolated_env):
    """The control command answers from memory: the kept section's keys, or none."""
    from datetime import UTC, datetime, timedelta

    from tray.instance import control

    keys = TempCredentials("ASIAHELD", "held-secret", "held-token",
                           datetime.now(UTC) + timedelta(minutes=30))

    class Refresher:
        def held_keys(self, profile: str) -> TempCredentials | None:
            return keys if profile == "platform" else None

    reply = control.dispatch(Refresher(), {"cmd": "section_keys", "profile": "platform"})  # type: ignore[arg-type]
    assert reply["ok"] and reply["document"]["SecretAccessKey"] == "held-secret"
    assert control.dispatch(Refresher(), {"cmd": "section_keys", "profile": "other"})[  # type: ignore[arg-type]
        "document"] is None
    bad = control.dispatch(Refresher(), {"cmd": "section_keys"})  # type: ignore[arg-type]
    assert not bad["ok"] and bad["exit_code"] == 2
