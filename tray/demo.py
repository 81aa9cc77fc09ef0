"""``roletray demo``: the whole story on a local AWS, with no account needed.

Starts moto's server on 127.0.0.1, makes a sandbox folder with its own AWS
config and credentials (the real ``~/.aws`` is never read or written) holding
the seed's situation, and runs the tray against it (or, without a display, the
daemon with a live status line). Quit or Ctrl-C cleans up.

The sandbox:
- user ``dev`` with long-term keys in ``[default]``;
- role ``platform`` that trusts ``dev`` (15-minute sessions, so refreshes show);
- role ``locked`` whose trust relationship names another account, so assuming it
  fails with the seed's AccessDenied and Diagnose shows the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tray.demo_signin import DemoSignIn
from tray.domain.errors import RoletrayError
from tray.domain.text import Text
from tray.i18n import N_, _

DEMO_REGION = "ap-northeast-2"
OTHER_ACCOUNT = "999999999999"


@dataclass(frozen=True)
class Sandbox:
    folder: Path
    endpoint: str
    federation: str = ""  # the local console sign-in (``tray.demo_signin``)

    @property
    def env(self) -> dict[str, str]:
        """The variables that point roletray and the aws CLI at the sandbox."""
        return {
            "AWS_CONFIG_FILE": str(self.folder / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.folder / "aws" / "credentials"),
            "AWS_ENDPOINT_URL": self.endpoint,
            "XDG_CONFIG_HOME": str(self.folder / "config"),
            "XDG_STATE_HOME": str(self.folder / "state"),
            "XDG_RUNTIME_DIR": str(self.folder / "run"),
            "AWS_EC2_METADATA_DISABLED": "true",
            **({"ROLETRAY_FEDERATION_ENDPOINT": self.federation} if self.federation else {}),
        }


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for moto's server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_text(url: str, body: str) -> None:
    """POST a text/plain body, as moto's /moto-api/reset-auth wants it."""
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def populate(folder: Path, endpoint: str) -> None:
    """Create the seed's world on the server and in the sandbox's AWS files."""
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="assume-roles", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetCallerIdentity",
                                                     "iam:GetRole", "iam:Get*", "iam:List*"],
                       "Resource": "*"}]}))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    account = iam.get_user(UserName="dev")["User"]["Arn"].split(":")[4]
    user_arn = f"arn:aws:iam::{account}:user/dev"

    def role(name: str, principal: str) -> str:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                              MaxSessionDuration=3600)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        return str(arn)

    platform = role("platform", user_arn)
    locked = role("locked", f"arn:aws:iam::{OTHER_ACCOUNT}:root")

    aws_dir = folder / "aws"
    aws_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    creds = aws_dir / "credentials"
    creds.write_text("# sandbox made by `roletray demo`: fake keys for a local AWS\n"
                     f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
                     f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    os.chmod(creds, 0o600)
    (aws_dir / "config").write_text(
        f"[default]\nregion = {DEMO_REGION}\noutput = json\n\n"
        f"# trusts user dev: works\n[profile platform]\nrole_arn = {platform}\n"
        "source_profile = default\nduration_seconds = 900\n\n"
        f"# trusts only account {OTHER_ACCOUNT}: AccessDenied, see Diagnose\n"
        f"[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    for sub in ("config", "state", "run"):
        (folder / sub).mkdir(mode=0o700, exist_ok=True)
    # From here on the server checks signatures, policies and trust, as AWS does.
    post_text(endpoint + "/moto-api/reset-auth", "0")


@contextmanager
def sandbox(keep: bool = False) -> Iterator[Sandbox]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        from tray.domain.errors import UsageError

        raise UsageError(Text(N_("the demo needs moto's server: pip install "
                                 "'roletray[demo]'"))) from e
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    folder = Path(tempfile.mkdtemp(prefix="roletray-demo-"))
    endpoint = f"http://127.0.0.1:{port}"
    signin = DemoSignIn(endpoint).start()
    try:
        populate(folder, endpoint)
        yield Sandbox(folder=folder, endpoint=endpoint, federation=signin.endpoint)
    finally:
        signin.stop()
        server.stop()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def apply_env(box: Sandbox, environ: MutableMapping[str, str]) -> None:
    """The sandbox's variables in ``environ``. The session bus stays the desktop's: where
    it is found at ``$XDG_RUNTIME_DIR/bus`` (no DBUS_SESSION_BUS_ADDRESS), the sandbox's
    XDG_RUNTIME_DIR would hide it, and the tray's icon and notifications with it."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if not environ.get("DBUS_SESSION_BUS_ADDRESS") and runtime:
        bus = Path(runtime) / "bus"
        if bus.is_socket():
            environ["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_STS"):
        environ.pop(var, None)
    environ.update(box.env)


def paste_block(box: Sandbox) -> str:
    """The lines that make another shell talk to the demo: its AWS files and endpoint
    (for roletray and the aws CLI) and its XDG folders (roletray's state, settings and
    control socket, so ``roletray status`` finds the demo and nothing lands in the real
    home). Quoted for a POSIX shell."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in box.env.items())


def banner(box: Sandbox) -> str:
    return _("roletray demo: a local AWS on {endpoint}, sandbox in {folder}\n"
             "The real ~/.aws is not read or written. The local AWS listens on 127.0.0.1 only\n"
             "but without a password: other users of this machine could reach it (and the\n"
             "sandbox's fake keys, which work nowhere else) while the demo runs.\n"
             "To talk to the demo from another shell, paste this block there:\n"
             "{paste_block}\n"
             "then try: roletray status; roletray assume locked; roletray doctor locked;\n"
             "  roletray console platform (a local page stands in for the AWS console)\n"
             "The aws CLI is not included (pip install awscli); with it:\n"
             "  aws sts get-caller-identity --profile roletray\n"
             "Profiles: platform (works), locked (AccessDenied: its trust names another "
             "account).\n").format(endpoint=box.endpoint, folder=box.folder,
                                   paste_block=paste_block(box))


TRAY_NEEDS = N_(
    "For the tray, add PyGObject: `sudo apt install libgirepository1.0-dev libcairo2-dev "
    "pkg-config python3-dev gcc gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1` then "
    "`pip install 'roletray[gui]'` (on Debian 12 / Ubuntu; see docs/INSTALL.md)")


def _stop_on_hangup_and_term() -> None:
    """SIGHUP (the terminal closed) stops the demo like SIGTERM; and until the tray or
    daemon installs its own handlers, SIGTERM unwinds so the sandbox is removed."""
    def hangup(signum: int, frame: object) -> None:
        signal.raise_signal(signal.SIGTERM)  # whatever handles SIGTERM now: the same stop

    def term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, term)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, hangup)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
        or sys.platform in ("darwin", "win32")


def run(args: argparse.Namespace) -> int:
    """A composition root of its own: the sandbox's variables go into the process
    environment (botocore, the worker and the aws CLI read them there), and the
    paths and settings are resolved from it once."""
    from tray import app, compose
    from tray.engine import actions

    _stop_on_hangup_and_term()
    with sandbox(keep=getattr(args, "keep", False)) as box:
        apply_env(box, os.environ)
        print(banner(box), flush=True)
        out = actions.assume("platform", ctx=compose.in_process(os.environ))
        print(_("Assumed platform: {identity}").format(identity=out.result.identity_arn),
              flush=True)
        if not getattr(args, "headless", False) and _has_display():
            try:
                from tray.ui.tray_app import select_backend

                select_backend(os.environ)
            except (RoletrayError, ImportError) as e:  # e.g. no PyGObject: the demo still runs
                why = e.localized if isinstance(e, RoletrayError) else str(e)
                print(_("No tray here: {reason}.\n{needs}.\nRunning the daemon instead "
                        "(Ctrl-C stops it).").format(reason=why, needs=_(TRAY_NEEDS)),
                      flush=True)
            else:
                from tray.paths import Paths

                log_file = Paths.from_env(os.environ).log_dir / app.LOG_NAME
                print(_("The tray is starting; its log is {path}.\n"
                        "Quit from the menu or press Ctrl-C.").format(path=log_file), flush=True)
                return app.run_tray(args, os.environ)
        args.status_line = True
        return app.run_daemon(args, os.environ)
