"""The doctor against moto's server over HTTP, with IAM enforcement on.

moto and AWS disagree in places (DESKTOP-TESTING.md); the doctor follows AWS.
Where a test meets such a place, it says so and asserts both what the doctor
concludes (AWS's answer) and what moto's real AssumeRole did.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, timedelta

import pytest

from tray.cli import main
from tray.doctor import diagnose
from tray.doctor.diagnose import format_report, run_doctor, summarize, trust_hint
from tray.doctor.findings import Finding, Report
from tray.domain.models import utcnow

ACCOUNT = "123456789012"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/dev"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_ROOT = "arn:aws:iam::999999999999:root"
# The seed's user is a super user; ours may read IAM, which the doctor needs to look.
IAM_READS = {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}


def world(aws, *, trust: str | None = None, trust_policy: dict | None = None,
          allow_assume: bool = True, reads: bool = True, profile_extra: str = "",
          extra_config: str = "") -> tuple[str, tuple[str, str]]:
    """The seed's files: [default] keys of user dev, [profile platform] -> role platform."""
    keys = aws.create_user("dev", allow_assume=allow_assume,
                           extra_policy=IAM_READS if reads else None)
    arn = aws.create_role("platform", trust_principal=trust or USER_ARN, trust_policy=trust_policy)
    aws.write_credentials(f"[default]\naws_access_key_id = {keys[0]}\n"
                          f"aws_secret_access_key = {keys[1]}\n")
    aws.write_config("[default]\nregion = ap-northeast-2\noutput = json\n\n"
                     f"[profile platform]\nrole_arn = {arn}\nsource_profile = default\n"
                     f"{profile_extra}{extra_config}")
    return arn, keys


def trust_doc(principal: str, condition: dict | None = None) -> dict:
    stmt: dict = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


def status(report: Report, check: str) -> str:
    found = report.finding(check)
    assert found is not None, f"no finding {check}: {[f.id for f in report.findings]}"
    return found.status


def get(report: Report, check: str) -> Finding:
    found = report.finding(check)
    assert found is not None
    return found


def statements_in(text: str) -> list[dict]:
    """Every JSON object printed at the start of a line in a fix (the statements to paste)."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "{":
            indent = len(lines[i]) - len(lines[i].lstrip())
            j = i + 1
            while not (lines[j].strip() == "}" and len(lines[j]) - len(lines[j].lstrip()) == indent):
                j += 1
            out.append(json.loads("\n".join(lines[i:j + 1])))
            i = j
        i += 1
    return out


# ------------------------------------------------------------------ the seed

def test_seed_trust_names_another_account(aws):
    _, (_, secret) = world(aws, trust=OTHER_ROOT)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert report.exit_code == 1
    assert report.caller_arn == USER_ARN
    who = get(report, "whoami")
    assert who.status == "ok" and who.data is not None
    assert who.data["Arn"] == USER_ARN and who.data["Account"] == ACCOUNT
    assert json.loads(who.detail or "") == who.data  # shown as `aws sts get-caller-identity`

    trust = get(report, "trust")
    assert trust.status == "problem"
    assert USER_ARN in trust.message and OTHER_ROOT in trust.message
    assert trust.fix is not None
    pasted = statements_in(trust.fix)
    assert {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN},
            "Action": "sts:AssumeRole"} in pasted  # the seed's fix: trust the account
    assert {"Effect": "Allow", "Principal": {"AWS": USER_ARN},
            "Action": "sts:AssumeRole"} in pasted  # the narrower choice
    assert "IAM console -> Roles -> platform -> Trust relationships" in trust.fix
    assert ("aws iam update-assume-role-policy --role-name platform "
            "--policy-document file://trust.json") in trust.fix
    merged = [d for d in pasted if "Statement" in d]
    assert merged and [s["Principal"]["AWS"] for s in merged[0]["Statement"]] == \
        [OTHER_ROOT, USER_ARN]  # the current policy is kept, the caller appended

    assert status(report, "identity") == "ok"  # the user's own policy was never the cause
    assume = get(report, "assume")
    assert assume.status == "problem" and "AccessDenied" in assume.message
    assert "trust" in (assume.fix or "")

    assert [f.id for f in report.problems] == ["trust", "assume"]
    line = summarize(report)
    # The finding, then the fix pointer once; the AssumeRole's AccessDenied restates the
    # finding and is not "(and 1 more)".
    assert line == (f"the trust policy of role 'platform' does not trust {USER_ARN} (it trusts "
                    f"{OTHER_ROOT}); `roletray doctor platform` shows the fix")

    text = format_report(report)
    js = json.dumps(report.to_json())
    for out in (text, js):
        assert secret not in out  # no secret anywhere
    assert '"AWS": "arn:aws:iam::123456789012:root"' in text
    doc = json.loads(js)
    assert doc["exit_code"] == 1 and doc["problems"] == ["trust", "assume"]
    trust_json = next(f for f in doc["findings"] if f["id"] == "trust")
    assert trust_json["data"]["add_statement"]["Principal"] == {"AWS": ROOT_ARN}
    assert trust_json["data"]["narrow_statement"]["Principal"] == {"AWS": USER_ARN}


def test_role_that_trusts_the_user_is_ok(aws):
    world(aws, trust=USER_ARN)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert report.exit_code == 0, format_report(report)
    for check in ("profile", "whoami", "trust", "identity", "limits", "assume", "target",
                  "environment", "file-mode", "clock", "security-token"):
        assert status(report, check) == "ok", (check, format_report(report))
    assert "trusts you" in get(report, "trust").message
    assert get(report, "assume").data["assumed_role_arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    assert summarize(report) == "nothing found that stops profile 'platform'"


def test_cli_doctor_json_and_exit_code(aws, capsys):
    world(aws, trust=OTHER_ROOT)
    aws.enforce()
    assert main(["doctor", "platform", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["profile"] == "platform" and "trust" in doc["problems"]


# ------------------------------------------------------------------ conditions

MFA_TRUE = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_trust_requires_mfa_and_profile_has_no_mfa_serial(aws):
    world(aws, trust_policy=trust_doc(USER_ARN, MFA_TRUE))
    aws.enforce()

    report = run_doctor("platform", try_assume=False, env=os.environ)

    trust = get(report, "trust")
    assert trust.status == "problem" and report.exit_code == 1
    assert "MFA" in trust.message and "no mfa_serial" in trust.message
    assert f"mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev" in (trust.fix or "")
    assert report.finding("assume") is None  # not tried, as asked


def test_mfa_condition_moto_ignores_it_and_the_real_call_wins(aws):
    # moto does not evaluate Bool conditions: its AssumeRole succeeds where AWS
    # would refuse. A successful AssumeRole is the ground truth, so the doctor
    # turns its own objection into "unknown" instead of claiming a problem.
    world(aws, trust_policy=trust_doc(USER_ARN, MFA_TRUE))
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "assume") == "ok"
    trust = get(report, "trust")
    assert trust.status == "unknown" and "AssumeRole just succeeded" in trust.message
    assert report.exit_code == 0


def test_mfa_serial_satisfies_the_condition_and_no_code_means_no_try(aws):
    world(aws, trust_policy=trust_doc(USER_ARN, MFA_TRUE),
          profile_extra=f"mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/dev\n")
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "trust") == "ok"
    assume = get(report, "assume")
    assert assume.status == "unknown" and "needs an MFA code" in assume.message
    assert report.exit_code == 0


EXTERNAL = {"StringEquals": {"sts:ExternalId": "ext-4242"}}


def test_trust_requires_external_id_and_profile_has_none(aws):
    # moto lets an AssumeRole without ExternalId through (AWS does not): no probe here.
    world(aws, trust_policy=trust_doc(USER_ARN, EXTERNAL))
    aws.enforce()

    report = run_doctor("platform", try_assume=False, env=os.environ)

    trust = get(report, "trust")
    assert trust.status == "problem" and "external ID" in trust.message
    assert "external_id = " in (trust.fix or "")
    assert "ext-4242" not in format_report(report)  # not repeated in the text


def test_wrong_external_id_is_a_problem_and_moto_agrees(aws):
    world(aws, trust_policy=trust_doc(USER_ARN, EXTERNAL), profile_extra="external_id = nope-1\n")
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "trust") == "problem"
    assert "not the one" in get(report, "trust").message
    assert status(report, "assume") == "problem"  # moto compares a value that is sent


def test_right_external_id_is_ok(aws):
    world(aws, trust_policy=trust_doc(USER_ARN, EXTERNAL), profile_extra="external_id = ext-4242\n")
    aws.enforce()
    report = run_doctor("platform", env=os.environ)
    assert status(report, "trust") == "ok" and status(report, "assume") == "ok"
    assert report.exit_code == 0


# ------------------------------------------------------------------ identity policies

def test_user_without_assume_permission(aws):
    # The role trusts the account root: AWS then needs the user's own Allow.
    # (moto denies account-root trust outright; the doctor follows AWS.)
    role_arn, _ = world(aws, trust=ROOT_ARN, allow_assume=False)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    trust = get(report, "trust")
    assert trust.status == "ok" and "trusts your account" in trust.message
    identity = get(report, "identity")
    assert identity.status == "problem", format_report(report)
    assert "no IAM policy of yours allows sts:AssumeRole" in identity.message
    assert {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Resource": role_arn}]} in statements_in(identity.fix or "")
    assert "aws iam put-user-policy --user-name dev" in (identity.fix or "")
    assert status(report, "assume") == "problem"
    assert report.problems[0].id == "identity"
    assert "sts:AssumeRole" in summarize(report)


def test_explicit_deny_in_a_group_policy(aws):
    world(aws, trust=USER_ARN)
    iam = aws.admin("iam")
    iam.create_group(GroupName="guarded")
    iam.add_user_to_group(GroupName="guarded", UserName="dev")
    deny = {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoRoles", "Effect": "Deny", "Action": "sts:Assume*", "Resource": "*"}]}
    iam.put_group_policy(GroupName="guarded", PolicyName="no-roles",
                         PolicyDocument=json.dumps(deny))
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    identity = get(report, "identity")
    assert identity.status == "problem" and "denies" in identity.message
    assert "group guarded" in identity.message
    assert '"Sid": "NoRoles"' in (identity.fix or "")
    assert status(report, "assume") == "problem"  # moto applies the Deny too


def test_same_account_trust_naming_the_user_needs_no_identity_policy(aws):
    # AWS: a trust policy naming the user in the role's own account is enough.
    # moto always wants an identity Allow too, so its AssumeRole is denied; the
    # doctor reports AWS's view and points past the two policies it checked.
    world(aws, trust=USER_ARN, allow_assume=False)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    identity = get(report, "identity")
    assert identity.status == "ok" and "none is needed" in identity.message
    assume = get(report, "assume")
    assert assume.status == "problem"  # moto's difference from AWS
    assert "both allow it as far as roletray can see" in (assume.fix or "")


def test_account_root_trust_where_moto_differs(aws):
    # DESKTOP-TESTING.md: moto denies a user when the trust names the account
    # root; AWS allows it when the user's own policy allows. The doctor says ok.
    world(aws, trust=ROOT_ARN)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "trust") == "ok"
    assert status(report, "identity") == "ok"
    assume = get(report, "assume")
    assert assume.status == "problem" and "AccessDenied" in assume.message  # moto, not AWS


# ------------------------------------------------------------------ IAM reads denied

def test_iam_reads_denied_says_what_it_could_not_see(aws):
    _, (_, secret) = world(aws, trust=OTHER_ROOT, reads=False)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "whoami") == "ok"
    trust = get(report, "trust")
    assert trust.status == "unknown"
    assert trust.message == "could not read the role's trust policy: iam:GetRole denied"
    identity = get(report, "identity")
    assert identity.status == "unknown" and "iam:ListUserPolicies" in identity.message
    assume = get(report, "assume")
    assert assume.status == "problem" and "AccessDenied" in assume.message
    pasted = statements_in(assume.fix or "")
    assert {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN},
            "Action": "sts:AssumeRole"} in pasted  # still the likely fix
    assert {"Effect": "Allow", "Principal": {"AWS": USER_ARN},
            "Action": "sts:AssumeRole"} in pasted
    # the rest is still reported
    for check in ("limits", "target", "environment", "file-mode", "clock", "security-token"):
        assert report.finding(check) is not None
    assert status(report, "clock") == "ok"
    assert report.exit_code == 1
    assert secret not in format_report(report)
    line = summarize(report)  # what AWS's denial says, finding first; the fix pointer once
    assert line == ("the trust policy of role 'platform' probably does not trust "
                    f"{USER_ARN} (AWS: AccessDenied for sts:AssumeRole on "
                    "arn:aws:iam::123456789012:role/platform); `roletray doctor platform` "
                    "shows the fix")


def test_iam_reads_denied_but_the_role_works(aws):
    world(aws, trust=USER_ARN, reads=False)
    aws.enforce()

    report = run_doctor("platform", env=os.environ)

    assert status(report, "assume") == "ok"
    assert {f.id for f in report.unknowns} == {"trust", "identity"}
    assert report.exit_code == 0
    assert "could not check: trust, identity" in summarize(report)


# ------------------------------------------------------------------ limits

def test_duration_above_max_session_duration(aws):
    world(aws, trust=USER_ARN, profile_extra="duration_seconds = 7200\n")
    aws.admin("iam").update_role(RoleName="platform", MaxSessionDuration=3600)
    aws.enforce()

    report = run_doctor("platform", try_assume=False, env=os.environ)

    limits = get(report, "limits")
    assert limits.status == "problem" and "MaxSessionDuration" in limits.message
    assert "aws iam update-role --role-name platform --max-session-duration 7200" in limits.fix
    assert "duration_seconds = 3600" in limits.fix
    assert report.exit_code == 1


def test_role_chaining_is_capped_at_one_hour(aws):
    world(aws, trust=USER_ARN, extra_config=(
        "\n[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
        "source_profile = platform\nduration_seconds = 7200\n"))
    aws.create_role("deploy", trust_principal=f"arn:aws:iam::{ACCOUNT}:role/platform")
    aws.enforce()

    # moto compares the session ARN with the trusted role ARN and refuses; AWS
    # trusts the role's sessions. The policies decide here: no probe.
    report = run_doctor("deploy", try_assume=False, env=os.environ)

    assert get(report, "whoami").data["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    assert status(report, "trust") == "ok"  # a role ARN trusts its sessions
    assert status(report, "identity") == "ok"  # read from the role's own policies
    limits = get(report, "limits")
    assert limits.status == "problem" and "role chaining" in limits.message
    assert limits.data == {"duration_seconds": 7200, "max_session_duration": 43200,
                           "chained": True}


def test_permissions_boundary_of_the_source_role(aws):
    # A role session's boundary must allow sts:AssumeRole too when the target
    # role trusts the account rather than the source role by name.
    world(aws, trust=USER_ARN, extra_config=(
        "\n[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
        "source_profile = platform\n"))
    aws.create_role("deploy", trust_principal=ROOT_ARN)
    iam = aws.admin("iam")
    boundary = iam.create_policy(PolicyName="no-sts", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"}]}))
    iam.put_role_permissions_boundary(RoleName="platform",
                                      PermissionsBoundary=boundary["Policy"]["Arn"])
    aws.enforce()

    report = run_doctor("deploy", try_assume=False, env=os.environ)

    assert status(report, "trust") == "ok"
    identity = get(report, "identity")
    assert identity.status == "problem", format_report(report)
    assert "permissions boundary no-sts does not" in identity.message


# ------------------------------------------------------------------ local traps

def test_local_traps(aws):
    world(aws, trust=USER_ARN, extra_config=(
        "\n[profile roletray]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
        "source_profile = default\n"))
    with aws.credentials_path.open("a") as f:
        f.write("\n[roletray]\naws_access_key_id = ASIAOLD\naws_secret_access_key = x\n"
                "aws_session_token = t\naws_security_token = old\nx_roletray_managed = true\n")
    os.chmod(aws.credentials_path, 0o644)
    aws.enforce()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret",
           "AWS_PROFILE": "default"}

    report = run_doctor("platform", env=env)

    target = get(report, "target")
    assert target.status == "problem" and "has role_arn" in target.message
    environment = get(report, "environment")
    assert environment.status == "problem"
    assert "AWS_ACCESS_KEY_ID" in environment.message and "AWS_PROFILE=default" in environment.message
    assert "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY" in (environment.fix or "")
    mode = get(report, "file-mode")
    assert mode.status == "problem" and "0644" in mode.message
    assert mode.fix == "chmod 600 ~/.aws/credentials"
    assert status(report, "security-token") == "problem"
    # the role itself still works: the traps are reported beside it
    assert status(report, "assume") == "ok"
    text = format_report(report)
    assert "envsecret" not in text and "AKIAENVKEY" not in text


def test_foreign_target_section_is_reported(aws):
    world(aws, trust=USER_ARN)
    with aws.credentials_path.open("a") as f:
        f.write("\n[roletray]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = y\n")
    report = run_doctor("platform", try_assume=False, env=os.environ)
    target = get(report, "target")
    assert target.status == "problem" and "long-term keys" in target.message


def test_clock_skew_from_the_date_header(aws):
    world(aws, trust=USER_ARN)
    aws.enforce()
    report = run_doctor("platform", env=os.environ, now=lambda: utcnow() + timedelta(minutes=5),
                        try_assume=False)
    clock = get(report, "clock")
    assert clock.status == "problem" and "ahead of" in clock.message
    assert 290 <= clock.data["skew_seconds"] <= 310


# ------------------------------------------------------------------ source failures

def test_source_without_keys(aws):
    world(aws, trust=USER_ARN)
    aws.write_credentials("[other]\naws_access_key_id = AKIAX\naws_secret_access_key = y\n")
    aws.write_config("[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
                     "source_profile = default\n[default]\nregion = us-east-1\n")
    report = run_doctor("platform", env=os.environ)
    who = get(report, "whoami")
    assert who.status == "problem" and "yields no credentials" in who.message
    assert "aws configure --profile default" in (who.fix or "")
    assert status(report, "trust") == "unknown" and report.finding("assume") is None


def test_credential_source_environment_uses_the_env_given(aws):
    _, (akid, secret) = world(aws, trust=USER_ARN)
    aws.write_config("[default]\nregion = us-east-1\n[profile platform]\n"
                     f"role_arn = arn:aws:iam::{ACCOUNT}:role/platform\n"
                     "credential_source = Environment\n")
    aws.enforce()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret}

    report = run_doctor("platform", env=env)
    assert status(report, "whoami") == "ok" and status(report, "assume") == "ok"
    assert secret not in format_report(report) and secret not in json.dumps(report.to_json())

    # Without the variables, the source has nothing, even though [default] has keys.
    report = run_doctor("platform", env=os.environ)
    who = get(report, "whoami")
    assert who.status == "problem" and "yields no credentials" in who.message


def test_unknown_access_key(aws):
    world(aws, trust=USER_ARN)
    aws.write_credentials("[default]\naws_access_key_id = AKIADELETED0000\n"
                          "aws_secret_access_key = nothing\n")
    aws.enforce()
    report = run_doctor("platform", env=os.environ)
    who = get(report, "whoami")
    assert who.status == "problem" and "does not know the access key" in who.message
    assert report.exit_code == 1


def test_unknown_profile_lists_the_role_profiles(aws):
    world(aws, trust=USER_ARN)
    report = run_doctor("plaform", env=os.environ)
    found = get(report, "profile")
    assert found.status == "problem" and "plaform" in found.message
    assert "role profiles found: platform" in (found.fix or "")
    assert report.finding("whoami") is None and report.finding("target") is not None


def test_unreachable_endpoint_is_unknown_not_a_crash(aws, monkeypatch):
    from tests.conftest import free_port

    world(aws, trust=USER_ARN)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    report = run_doctor("platform", env=os.environ)
    assert status(report, "whoami") == "unknown"
    assert "could not reach" in get(report, "whoami").message
    assert status(report, "clock") == "unknown"


def test_broken_config_is_a_finding_not_a_crash(aws):
    aws.write_config("[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
                     "this line is not ini\n")
    report = run_doctor("platform", env=os.environ)
    found = get(report, "profile")
    assert found.status == "problem" and "line 3" in found.message
    assert report.exit_code == 1 and report.finding("file-mode") is not None


def test_no_profile_and_no_active_role_runs_the_local_checks():
    report = run_doctor(None, env=os.environ)
    assert status(report, "profile") == "unknown"
    assert report.finding("whoami") is None and status(report, "environment") == "ok"
    assert report.exit_code == 0


def test_clock_behind_is_reported_too():
    from datetime import datetime

    from tray.doctor.local import check_clock

    server = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    behind = check_clock(server, server - timedelta(seconds=90))
    assert behind.status == "problem" and "90 s behind" in behind.message
    assert check_clock(server, server + timedelta(seconds=1)).status == "ok"
    assert check_clock(None, server).status == "unknown"


# ------------------------------------------------------------------ one-liners

def test_trust_hint_from_the_seeds_error_message():
    message = ("User: arn:aws:iam::111122223333:user/CCC@gmail.com is not authorized to perform: "
               "sts:AssumeRole on resource: arn:aws:iam::111122223333:role/DDD")
    hint = trust_hint(message)
    assert "\n" not in hint
    assert '{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},' \
           '"Action":"sts:AssumeRole"}' in hint
    assert "arn:aws:iam::111122223333:user/CCC@gmail.com" in hint and "role 'DDD'" in hint
    assert trust_hint("ExpiredToken: the security token included in the request is expired") == ""


def test_client_factory_is_the_seam(aws):
    # The doctor's AWS calls all go through the factory: count them by service.
    world(aws, trust=USER_ARN)
    aws.enforce()
    real = diagnose.default_client_factory()
    calls: list[str] = []

    built: list[str] = []

    def counting(profile, **kwargs):
        built.append(profile.name)
        create = real(profile, **kwargs)

        def create_client(service, **client_kwargs):
            calls.append(service)
            return create(service, **client_kwargs)

        return create_client

    report = run_doctor("platform", client_factory=counting, env=os.environ)
    assert report.exit_code == 0
    assert set(calls) == {"sts", "iam"} and calls[0] == "sts"
    assert built == ["platform"]  # one source session per run: a chained source assumes once


def test_finding_rejects_an_unknown_status():
    with pytest.raises(ValueError):
        Finding("x", "warning", "nope")  # type: ignore[arg-type]
