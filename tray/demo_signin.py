"""The demo's stand-in for AWS's console sign-in (``/federation``), on 127.0.0.1.

``getSigninToken`` checks the session keys against the demo's local AWS (one
``GetCallerIdentity`` signed with them, as AWS checks them) and answers a random
token; the ``login`` URL made from that token answers a page that names the role it
signed in as. So "Open console" and ``roletray console`` work in the demo and show
who they signed in as. Tokens live in memory only (the newest ``MAX_TOKENS``).
Demo code: the tests have their own fakes (``tests/test_console.py``).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import urllib.parse
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_TOKENS = 100


def role_of(assumed_arn: str) -> tuple[str, str]:
    """``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` -> (NAME, the role's ARN)."""
    parts = assumed_arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        name = parts[5].split("/")[1]
        return name, f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"
    return assumed_arn.rsplit("/", 1)[-1], assumed_arn


class DemoSignIn:
    """``start()`` serves on a free port of 127.0.0.1 until ``stop()``."""

    def __init__(self, aws_endpoint: str) -> None:
        self.aws_endpoint = aws_endpoint
        self._tokens: OrderedDict[str, str] = OrderedDict()  # token -> assumed-role ARN
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        """The ``ROLETRAY_FEDERATION_ENDPOINT`` that points roletray here."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/federation"

    def start(self) -> DemoSignIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="demo-signin",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def identity(self, session: dict[str, Any]) -> str:
        """Who the session keys are, by the local AWS (it refuses keys that do not work)."""
        import boto3

        sts = boto3.client("sts", endpoint_url=self.aws_endpoint, region_name="us-east-1",
                           aws_access_key_id=str(session["sessionId"]),
                           aws_secret_access_key=str(session["sessionKey"]),
                           aws_session_token=str(session["sessionToken"]))
        return str(sts.get_caller_identity()["Arn"])

    def issue(self, arn: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = arn
            while len(self._tokens) > MAX_TOKENS:
                self._tokens.popitem(last=False)
        return token

    def signed_in(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        signin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query holds keys and tokens: no request log

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                action = query.get("Action")
                if parts.path != "/federation":
                    self._answer(404, "text/plain", "not found")
                elif action == "getSigninToken":
                    self._token(query)
                elif action == "login":
                    self._login(query)
                else:
                    self._answer(400, "text/plain", "unknown Action")

            def _token(self, query: dict[str, str]) -> None:
                try:
                    arn = signin.identity(json.loads(query["Session"]))
                except Exception:  # noqa: BLE001 - bad JSON, refused keys: AWS's 400
                    self._answer(400, "text/plain", "the session keys were refused")
                    return
                self._answer(200, "application/json",
                             json.dumps({"SigninToken": signin.issue(arn)}))

            def _login(self, query: dict[str, str]) -> None:
                arn = signin.signed_in(query.get("SigninToken", ""))
                if arn is None:
                    self._answer(403, "text/html", _page("Sign-in failed",
                                                         "<p>Unknown sign-in token.</p>"))
                    return
                name, role_arn = role_of(arn)
                body = (f"<h1>Signed in as {html.escape(name)} ({html.escape(role_arn)})</h1>"
                        f"<p>Session: {html.escape(arn)}</p>"
                        f"<p>The real console would open "
                        f"{html.escape(query.get('Destination', ''))} now. This is "
                        "<code>roletray demo</code>'s local sign-in page.</p>")
                self._answer(200, "text/html", _page(f"Signed in as {name}", body))

            def _answer(self, status: int, kind: str, text: str) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body>{body}</body></html>")
