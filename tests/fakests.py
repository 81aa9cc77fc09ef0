"""A scripted AssumeRole for the refresher's timing tests, and the files it needs.

``FakeSts`` stands in for ``actions.assume`` (the refresher's ``assume_fn``
seam): keys expire relative to the ``FakeClock`` (real moto keys expire by the
real clock, which a timing test does not follow), the Date it reports can be
skewed or left out, and failures are scripted. Everything after the call is
real: ``actions.prepare`` checks the config locally and ``actions.write``
writes the section through credfile, verifies it with botocore and saves state.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from fakes import FakeClock

from tray.domain.errors import MfaRequiredError
from tray.domain.models import AssumeResult, TempCredentials
from tray.engine import actions

ACCOUNT = "123456789012"
DEFAULT_KEY = "AKIAEXAMPLEDEFAULT01"
DEFAULT_SECRET = "defaultSecretValueThatNeverAppears01234"

CONFIG = f"""[default]
region = ap-northeast-2

[profile platform]
role_arn = arn:aws:iam::{ACCOUNT}:role/platform
source_profile = default

[profile other]
role_arn = arn:aws:iam::{ACCOUNT}:role/other
source_profile = default

[profile guarded]
role_arn = arn:aws:iam::{ACCOUNT}:role/guarded
source_profile = default
mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev
"""

CREDENTIALS = f"""# my long-term keys
[default]
aws_access_key_id = {DEFAULT_KEY}
aws_secret_access_key = {DEFAULT_SECRET}
"""


def write_world(home: Path) -> tuple[Path, Path]:
    config = home / ".aws" / "config"
    creds = home / ".aws" / "credentials"
    config.write_text(CONFIG)
    creds.write_text(CREDENTIALS)
    os.chmod(creds, 0o600)
    return config, creds


class FakeSts:
    """``actions.assume`` with a scripted STS in the middle."""

    def __init__(self, clock: FakeClock, *, duration: int = 3600,
                 server_offset: timedelta = timedelta(0), send_date: bool = True,
                 step_after_answer: timedelta = timedelta(0)) -> None:
        self.clock = clock
        self.duration = duration
        self.server_offset = server_offset  # AWS's clock minus ours
        self.send_date = send_date
        self.step_after_answer = step_after_answer  # a suspend between answer and handling
        self.errors: list[Exception] = []  # raised one per call, in order, before successes
        self.fail_with: Exception | None = None  # raised on every call while set
        self.calls: list[dict[str, Any]] = []  # every AssumeRole that reached "AWS"
        self.gate: threading.Event | None = None  # when set, calls wait for it (bounded)
        self.entered = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self.secrets: list[str] = []
        self._lock = threading.Lock()

    @property
    def keys(self) -> list[str]:
        return [c["key"] for c in self.calls if c["key"]]

    def __call__(self, profile_name: str, *, ctx: actions.Context, target: str | None = None,
                 duration: int | None = None, mfa_code: str | None = None,
                 force: bool = False) -> actions.Outcome:
        target = target or ctx.target
        role = actions.prepare(profile_name, target, ctx, force=force)
        if role.mfa_serial and not mfa_code:  # as sts.assume_role: no call without a code
            raise MfaRequiredError(profile=role.name, mfa_serial=role.mfa_serial)
        call: dict[str, Any] = {"profile": profile_name, "target": target, "at": self.clock.now(),
                                "mfa_code": mfa_code, "key": None}
        with self._lock:
            self.calls.append(call)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(10), "test gate never opened"
            if self.errors:
                raise self.errors.pop(0)
            if self.fail_with is not None:
                raise self.fail_with
        finally:
            with self._lock:
                self.in_flight -= 1
        n = len(self.calls)
        server_now = self.clock.now() + self.server_offset
        secret = f"fakeSecret{n:04d}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        self.secrets.append(secret)
        creds = TempCredentials(
            access_key_id=f"ASIAFAKE{n:012d}", secret_access_key=secret,
            session_token=f"fakeToken{n:04d}" + "T" * 40,
            expiration=server_now.replace(microsecond=0)
            + timedelta(seconds=duration or self.duration))
        call["key"] = creds.access_key_id
        result = AssumeResult(
            profile=profile_name, credentials=creds,
            identity_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.role_name}/roletray-{n}",
            assumed_role_id=f"AROAFAKE:roletray-{n}",
            server_date=server_now.replace(microsecond=0) if self.send_date else None,
            received_at=self.clock.now())
        outcome = actions.write(result, role, target, ctx, force=force)
        if self.step_after_answer:
            self.clock.advance(self.step_after_answer)
        return outcome
