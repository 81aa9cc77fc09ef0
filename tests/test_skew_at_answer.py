"""Clock skew is judged when STS's answer arrives, not when the long-running process
handles the result: a suspend in between is not skew."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes import FakeClock
from fakests import write_world
from test_refresher import REFRESH, make_rig

from tray import compose, paths
from tray.aws import sts
from tray.awsfiles import awsconfig
from tray.domain.models import AssumeResult, TempCredentials, iso_utc
from tray.engine import worker

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_a_suspend_after_the_answer_is_not_read_as_skew(isolated_env: Path) -> None:
    from fakests import FakeSts

    clock = FakeClock(T0)
    creds_path = write_world(isolated_env)[1]
    # AWS's clock agrees with ours; then the machine sleeps 10 minutes before the
    # parent handles the answer.
    rig = make_rig(clock, creds_path, fake=FakeSts(clock, step_after_answer=10 * MIN))
    rig.r.start()
    snap = rig.r.switch("platform")
    assert snap.clock_skew_seconds is None
    assert rig.sched.next_run(REFRESH) == T0 + 50 * MIN  # by the keys' own hour, not an hour late


def test_sts_records_when_the_answer_arrived(aws) -> None:
    aws.seed_world()
    role = awsconfig.get_role_profile("platform", aws.config_path,
                                      credentials_path=paths.aws_credentials_file(os.environ))
    at = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = sts.assume_role(role, env=dict(os.environ), now=lambda: at)
    assert result.received_at == at and result.server_date is not None


def test_the_worker_reply_carries_it(isolated_env: Path) -> None:
    from tray.engine import actions

    creds_path = write_world(isolated_env)[1]
    ctx = compose.in_process(os.environ)
    role = awsconfig.get_role_profile("platform", paths.aws_config_file(os.environ),
        credentials_path=paths.aws_credentials_file(os.environ))
    creds = TempCredentials("ASIAWORKER0000000000", "s" * 40, "t" * 60, T0 + 60 * MIN)
    actions.write(AssumeResult("platform", creds, "arn:aws:sts::1:assumed-role/p/s", "AROA:s",
                               server_date=T0, received_at=T0 + MIN), role, "roletray", ctx)
    reply = {"role": {"name": role.name, "role_arn": role.role_arn,
                      "source_profile": role.source_profile},
             "identity_arn": "arn:aws:sts::1:assumed-role/p/s", "assumed_role_id": "AROA:s",
             "access_key_id": "ASIAWORKER0000000000", "server_date": iso_utc(T0),
             "received_at": iso_utc(T0 + MIN)}
    assert creds_path.exists()
    outcome = worker._outcome(reply, ctx, "roletray")
    assert outcome.result.received_at == T0 + MIN
