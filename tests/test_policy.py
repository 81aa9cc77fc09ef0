"""The pure IAM evaluator: the tricky cases of identity and trust policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.doctor.policy import (
    Verdict,
    action_matches,
    arn_matches,
    evaluate,
    evaluate_conditions,
    glob_match,
    trust_allows,
    trusted_principals,
)

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/platform"
USER = f"arn:aws:iam::{ACCT}:user/dev"
ASSUME = "sts:AssumeRole"


def doc(*stmts: dict, version: str = "2012-10-17") -> dict:
    return {"Version": version, "Statement": list(stmts)}


def allow(action: object = ASSUME, resource: object = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: object = ASSUME, resource: object = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(principal: object, **extra: object) -> dict:
    return doc({"Effect": "Allow", "Principal": principal, "Action": ASSUME, **extra})


# ------------------------------------------------------------- identity policies

@pytest.mark.parametrize("pattern", ["sts:AssumeRole", "STS:assumerole", "sts:*", "*",
                                     "sts:Assume*", "sts:AssumeRol?", ["iam:Get*", "sts:A*"]])
def test_action_patterns_that_match(pattern: object) -> None:
    assert evaluate([doc(allow(pattern, ROLE))], ASSUME, ROLE).verdict is Verdict.ALLOWED


@pytest.mark.parametrize("pattern", ["sts:AssumeRoleWithSAML", "iam:*", "sts:AssumeRol",
                                     "sts:Assume?", "s3:*", []])
def test_action_patterns_that_do_not_match(pattern: object) -> None:
    assert evaluate([doc(allow(pattern, ROLE))], ASSUME, ROLE).verdict is Verdict.IMPLICIT_DENY


@pytest.mark.parametrize("resource,expected", [
    (ROLE, True), ("*", True), (f"arn:aws:iam::{ACCT}:role/*", True),
    ("arn:aws:iam::*:role/plat*", True), (f"arn:aws:iam::{ACCT}:role/platfor?", True),
    (f"arn:aws:iam::{ACCT}:role/Platform", False),  # resources are case-sensitive
    ("arn:aws:iam::999999999999:role/platform", False),
    (f"arn:aws:iam::{ACCT}:role/platform-dev", False),
    (["arn:aws:s3:::bucket", ROLE], True),
])
def test_resource_patterns(resource: object, expected: bool) -> None:
    got = evaluate([doc(allow(ASSUME, resource))], ASSUME, ROLE).verdict
    assert got is (Verdict.ALLOWED if expected else Verdict.IMPLICIT_DENY)


def test_arn_patterns_match_segment_by_segment() -> None:
    assert arn_matches("arn:*:iam::*:role/platform", ROLE)
    assert arn_matches("arn:aws:iam::*:*", ROLE)
    assert not arn_matches("arn:aws:iam::*:role/plat", ROLE)
    # the account segment's '*' stays in its segment: it cannot eat "iam::1111...:role"
    assert not arn_matches("arn:aws:s3:*:*:role/platform", ROLE)
    assert arn_matches("arn:aws:iam::*:role/*", "arn:aws:iam::1:role/a/b/c")


def test_action_match_is_case_insensitive_and_anchored() -> None:
    assert action_matches("STS:ASSUMEROLE", "sts:AssumeRole")
    assert not action_matches("sts:Assume", "sts:AssumeRole")


def test_statement_may_be_a_single_dict_and_action_a_string() -> None:
    policy = {"Version": "2012-10-17", "Statement": allow(ASSUME, ROLE)}
    assert evaluate([policy], ASSUME, ROLE).verdict is Verdict.ALLOWED


def test_policy_given_as_json_text() -> None:
    assert evaluate([json.dumps(doc(allow()))], ASSUME, ROLE).allowed


def test_no_policies_is_an_implicit_deny() -> None:
    d = evaluate([], ASSUME, ROLE)
    assert d.verdict is Verdict.IMPLICIT_DENY
    assert "no Allow" in d.reason


def test_explicit_deny_wins_over_allow_in_another_policy() -> None:
    d = evaluate([doc(allow("*")), doc(deny("sts:*", ROLE))], ASSUME, ROLE)
    assert d.verdict is Verdict.EXPLICIT_DENY
    assert d.statement is not None and d.statement["Effect"] == "Deny"


def test_deny_on_another_resource_does_not_apply() -> None:
    d = evaluate([doc(allow(), deny(ASSUME, f"arn:aws:iam::{ACCT}:role/admin"))], ASSUME, ROLE)
    assert d.verdict is Verdict.ALLOWED


def test_not_action_allows_everything_else() -> None:
    assert evaluate([doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
                    ASSUME, ROLE).allowed
    assert not evaluate([doc({"Effect": "Allow", "NotAction": "sts:*", "Resource": "*"})],
                        ASSUME, ROLE).allowed


def test_not_action_deny_is_the_admin_guard_pattern() -> None:
    # "deny everything except iam:*" denies sts:AssumeRole
    policies = [doc(allow("*"), {"Effect": "Deny", "NotAction": ["iam:*"], "Resource": "*"})]
    assert evaluate(policies, ASSUME, ROLE).verdict is Verdict.EXPLICIT_DENY


def test_not_resource() -> None:
    stmt = {"Effect": "Allow", "Action": ASSUME, "NotResource": f"arn:aws:iam::{ACCT}:role/admin*"}
    assert evaluate([doc(stmt)], ASSUME, ROLE).allowed
    assert not evaluate([doc(stmt)], ASSUME, f"arn:aws:iam::{ACCT}:role/admin-x").allowed


def test_policy_variable_in_resource() -> None:
    policy = doc(allow(ASSUME, f"arn:aws:iam::{ACCT}:role/${{aws:username}}-*"))
    mine = f"arn:aws:iam::{ACCT}:role/dev-sandbox"
    assert evaluate([policy], ASSUME, mine, {"aws:username": "dev"}).allowed
    assert evaluate([policy], ASSUME, mine, {"aws:username": "ops"}).verdict is Verdict.IMPLICIT_DENY
    assert evaluate([policy], ASSUME, mine, {}).verdict is Verdict.UNKNOWN


def test_policy_variables_are_literal_in_version_2008() -> None:
    policy = doc(allow(ASSUME, f"arn:aws:iam::{ACCT}:role/${{aws:username}}"), version="2008-10-17")
    assert not evaluate([policy], ASSUME, f"arn:aws:iam::{ACCT}:role/dev",
                        {"aws:username": "dev"}).allowed


def test_unevaluable_condition_on_the_only_allow_is_unknown() -> None:
    policy = doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    d = evaluate([policy], ASSUME, ROLE, {})
    assert d.verdict is Verdict.UNKNOWN
    assert "aws:SourceIp" in d.unknown


def test_unevaluable_condition_does_not_matter_when_another_allow_decides() -> None:
    policies = [doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), allow())]
    assert evaluate(policies, ASSUME, ROLE, {}).verdict is Verdict.ALLOWED


def test_possible_deny_makes_an_allow_unknown() -> None:
    policies = [doc(allow(), deny(Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}}))]
    d = evaluate(policies, ASSUME, ROLE, {})
    assert d.verdict is Verdict.UNKNOWN
    assert d.statement is not None and d.statement["Effect"] == "Deny"


def test_possible_deny_without_any_allow_is_still_denied() -> None:
    policies = [doc(deny(Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}}))]
    assert evaluate(policies, ASSUME, ROLE, {}).verdict is Verdict.IMPLICIT_DENY


def test_unknown_operator_is_unknown_not_allowed() -> None:
    policy = doc(allow(Condition={"StringMatchesRegex": {"aws:username": "d.*"}}))
    d = evaluate([policy], ASSUME, ROLE, {"aws:username": "dev"})
    assert d.verdict is Verdict.UNKNOWN
    assert "StringMatchesRegex" in d.unknown


# -------------------------------------------------------------------- conditions

def cond(block: dict, context: dict) -> bool | None:
    return evaluate_conditions(block, context).value


MFA_ABSENT = {"aws:MultiFactorAuthPresent": None, "aws:MultiFactorAuthAge": None}
MFA_PRESENT = {"aws:MultiFactorAuthPresent": True, "aws:MultiFactorAuthAge": 30}


def test_bool_mfa_present_true() -> None:
    block = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert cond(block, MFA_PRESENT) is True
    assert cond(block, MFA_ABSENT) is False  # long-term keys: the key is absent, not false
    assert cond(block, {"aws:multifactorauthpresent": False}) is False  # keys are case-insensitive
    assert cond(block, {}) is None  # not known at all


def test_bool_policy_value_may_be_a_json_boolean() -> None:
    assert cond({"Bool": {"aws:MultiFactorAuthPresent": True}}, MFA_PRESENT) is True


def test_bool_if_exists_false_matches_when_absent() -> None:
    # The classic "deny unless MFA" statement: applies to long-term keys.
    block = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    assert cond(block, MFA_ABSENT) is True
    assert cond(block, MFA_PRESENT) is False
    policies = [doc(allow(), deny("*", Condition=block))]
    assert evaluate(policies, ASSUME, ROLE, MFA_ABSENT).verdict is Verdict.EXPLICIT_DENY
    assert evaluate(policies, ASSUME, ROLE, MFA_PRESENT).verdict is Verdict.ALLOWED


def test_numeric_mfa_age() -> None:
    block = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    assert cond(block, MFA_PRESENT) is True
    assert cond(block, {"aws:MultiFactorAuthAge": 7200}) is False
    assert cond(block, MFA_ABSENT) is False
    assert cond({"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}}, MFA_ABSENT) is True
    assert cond({"NumericGreaterThanEquals": {"aws:MultiFactorAuthAge": 30}}, MFA_PRESENT) is True
    assert cond({"NumericEquals": {"aws:MultiFactorAuthAge": "thirty"}}, MFA_PRESENT) is False


def test_string_equals_external_id() -> None:
    block = {"StringEquals": {"sts:ExternalId": "abc-123"}}
    assert cond(block, {"sts:ExternalId": "abc-123"}) is True
    assert cond(block, {"sts:ExternalId": "ABC-123"}) is False
    assert cond(block, {"sts:ExternalId": None}) is False
    assert cond({"StringEqualsIgnoreCase": {"sts:ExternalId": "abc-123"}},
                {"sts:ExternalId": "ABC-123"}) is True


def test_values_of_one_key_are_ored_and_keys_are_anded() -> None:
    block = {"StringEquals": {"sts:ExternalId": ["a", "b"], "aws:username": "dev"}}
    assert cond(block, {"sts:ExternalId": "b", "aws:username": "dev"}) is True
    assert cond(block, {"sts:ExternalId": "b", "aws:username": "ops"}) is False
    # a False anywhere decides, even next to an unknown key
    assert cond({"StringEquals": {"sts:ExternalId": "a"},
                 "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"sts:ExternalId": "z"}) is False


def test_negated_operators_hold_when_the_key_is_absent() -> None:
    assert cond({"StringNotEquals": {"sts:ExternalId": "x"}}, {"sts:ExternalId": None}) is True
    assert cond({"StringNotEquals": {"sts:ExternalId": "x"}}, {"sts:ExternalId": "x"}) is False
    assert cond({"StringNotLike": {"aws:username": "adm*"}}, {"aws:username": "dev"}) is True


def test_string_like_and_arn_like() -> None:
    assert cond({"StringLike": {"aws:username": "d?v*"}}, {"aws:username": "devops"}) is True
    assert cond({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/*"}},
                {"aws:PrincipalArn": USER}) is True
    assert cond({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/*"}},
                {"aws:PrincipalArn": USER}) is True


def test_ip_and_date_operators() -> None:
    assert cond({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"})
    assert cond({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
                {"aws:SourceIp": "198.51.100.1"}) is True
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert cond({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
                {"aws:CurrentTime": now}) is True
    assert cond({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
                {"aws:CurrentTime": now}) is False


def test_null_operator() -> None:
    assert cond({"Null": {"aws:MultiFactorAuthAge": "true"}}, MFA_ABSENT) is True
    assert cond({"Null": {"aws:MultiFactorAuthAge": "true"}}, MFA_PRESENT) is False
    assert cond({"Null": {"aws:MultiFactorAuthAge": "false"}}, MFA_PRESENT) is True
    assert cond({"Null": {"aws:SourceIp": "true"}}, {}) is None


def test_for_any_and_for_all_values() -> None:
    ctx = {"aws:TagKeys": ["team", "env"]}
    assert cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, ctx) is True
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, ctx) is False
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, ctx) is True
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": None}) is True
    assert cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": None}) is False
    assert cond({"ForEveryValue:StringEquals": {"aws:TagKeys": ["env"]}}, ctx) is None


def test_policy_variable_in_condition_value() -> None:
    block = {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}
    assert cond(block, {"sts:RoleSessionName": "dev", "aws:username": "dev"}) is True
    assert cond(block, {"sts:RoleSessionName": "dev", "aws:username": "ops"}) is False
    assert cond(block, {"sts:RoleSessionName": "dev"}) is None


# ---------------------------------------------------------------- trust policies

def test_trust_naming_the_user_exactly() -> None:
    d = trust_allows(trust({"AWS": USER}), USER)
    assert d.verdict is Verdict.ALLOWED and d.via == "principal"


def test_trust_with_principal_list_and_other_kinds() -> None:
    policy = trust({"AWS": ["arn:aws:iam::999999999999:user/x", USER],
                    "Service": "ec2.amazonaws.com"})
    assert trust_allows(policy, USER).via == "principal"
    assert trusted_principals(policy) == ["arn:aws:iam::999999999999:user/x", USER,
                                          "Service: ec2.amazonaws.com"]


@pytest.mark.parametrize("principal", [{"AWS": f"arn:aws:iam::{ACCT}:root"}, {"AWS": ACCT}])
def test_trust_naming_the_callers_account_delegates(principal: dict) -> None:
    d = trust_allows(trust(principal), USER)
    assert d.verdict is Verdict.ALLOWED
    assert d.via == "account"  # the caller's identity policy must allow it too


def test_trust_naming_another_account_is_the_seeds_access_denied() -> None:
    d = trust_allows(trust({"AWS": "arn:aws:iam::999999999999:root"}), USER)
    assert d.verdict is Verdict.IMPLICIT_DENY
    assert d.misses == ()  # no condition to blame: the principal is not trusted


def test_trust_service_principal_does_not_trust_a_user() -> None:
    policy = trust({"Service": "ec2.amazonaws.com"})
    assert trust_allows(policy, USER).verdict is Verdict.IMPLICIT_DENY


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_trust_wildcard(principal: object) -> None:
    d = trust_allows(trust(principal), USER)
    assert d.verdict is Verdict.ALLOWED and d.via == "any"


def test_trust_role_arn_trusts_its_sessions() -> None:
    policy = trust({"AWS": f"arn:aws:iam::{ACCT}:role/path/ci"})
    session = f"arn:aws:sts::{ACCT}:assumed-role/ci/botocore-session-1"
    assert trust_allows(policy, session).via == "principal"
    other = f"arn:aws:sts::{ACCT}:assumed-role/cd/botocore-session-1"
    assert trust_allows(policy, other).verdict is Verdict.IMPLICIT_DENY


def test_trust_unique_id_of_a_deleted_user() -> None:
    policy = trust({"AWS": "AIDAEXAMPLEOLDUSER0"})
    assert trust_allows(policy, USER, {"aws:userid": "AIDANEWUSER0000000"}).verdict \
        is Verdict.IMPLICIT_DENY


def test_trust_requiring_mfa() -> None:
    policy = trust({"AWS": USER}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    d = trust_allows(policy, USER, MFA_ABSENT)
    assert d.verdict is Verdict.IMPLICIT_DENY
    assert [m.key for m in d.misses] == ["aws:MultiFactorAuthPresent"]
    assert "absent" in d.misses[0].describe()
    assert trust_allows(policy, USER, MFA_PRESENT).allowed


def test_trust_requiring_external_id() -> None:
    policy = trust({"AWS": USER}, Condition={"StringEquals": {"sts:ExternalId": "abc"}})
    d = trust_allows(policy, USER, {"sts:ExternalId": None})
    assert d.verdict is Verdict.IMPLICIT_DENY
    assert d.misses[0].key == "sts:ExternalId" and d.misses[0].expected == ("abc",)
    assert "abc" not in d.misses[0].describe() and "abc" not in d.reason  # not repeated
    assert trust_allows(policy, USER, {"sts:ExternalId": "abc"}).allowed


def test_trust_explicit_deny_wins() -> None:
    policy = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                  "Action": ASSUME},
                 {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "sts:*"})
    d = trust_allows(policy, USER)
    assert d.verdict is Verdict.EXPLICIT_DENY
    assert trust_allows(policy, f"arn:aws:iam::{ACCT}:user/other").allowed


def test_trust_not_principal_deny() -> None:
    policy = doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ASSUME},
                 {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCT}:user/admin"},
                  "Action": ASSUME})
    assert trust_allows(policy, USER).verdict is Verdict.EXPLICIT_DENY
    assert trust_allows(policy, f"arn:aws:iam::{ACCT}:user/admin").allowed


def test_trust_for_another_action_does_not_count() -> None:
    policy = doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:TagSession"})
    assert trust_allows(policy, USER).verdict is Verdict.IMPLICIT_DENY


def test_trust_prefers_the_exact_principal_over_the_account() -> None:
    policy = doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": ASSUME},
                 {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": ASSUME})
    assert trust_allows(policy, USER).via == "principal"


# ------------------------------------------------------------------- properties

_actions = st.sampled_from(["sts:AssumeRole", "sts:GetCallerIdentity", "iam:GetRole",
                            "s3:GetObject"])
_patterns = st.sampled_from(["*", "sts:*", "iam:Get*", "sts:AssumeRole", "s3:?etObject", "ec2:*"])
_effects = st.sampled_from(["Allow", "Deny"])
_stmt = st.builds(lambda e, a, r: {"Effect": e, "Action": a, "Resource": r},
                  _effects, st.lists(_patterns, min_size=1, max_size=3),
                  st.sampled_from(["*", ROLE, f"arn:aws:iam::{ACCT}:role/other"]))


@given(st.lists(_stmt, max_size=6), _actions)
def test_property_an_unconditional_matching_deny_always_wins(stmts: list[dict], action: str) -> None:
    policies = [doc(*stmts), doc(deny(action, ROLE))]
    assert evaluate(policies, action, ROLE).verdict is Verdict.EXPLICIT_DENY


@given(st.lists(_stmt, max_size=6), _actions)
def test_property_allowed_iff_some_allow_matches_and_no_deny(stmts: list[dict], action: str) -> None:
    def matches(s: dict) -> bool:
        return (any(action_matches(p, action) for p in s["Action"])
                and s["Resource"] in ("*", ROLE))

    expect_deny = any(matches(s) for s in stmts if s["Effect"] == "Deny")
    expect_allow = any(matches(s) for s in stmts if s["Effect"] == "Allow")
    got = evaluate([doc(*stmts)], action, ROLE).verdict
    if expect_deny:
        assert got is Verdict.EXPLICIT_DENY
    elif expect_allow:
        assert got is Verdict.ALLOWED
    else:
        assert got is Verdict.IMPLICIT_DENY


@given(st.text(alphabet="abcXYZ:*?", max_size=12), st.text(alphabet="abcXYZ:", max_size=12))
def test_property_action_match_ignores_case(pattern: str, action: str) -> None:
    assert action_matches(pattern, action) == action_matches(pattern.swapcase(), action)


# ------------------------------------------------- the wildcard matcher is linear

def _reference_glob(pattern: str, value: str, ignore_case: bool) -> bool:
    """The old regex translation: right, but exponential on hostile patterns."""
    import re

    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(body, value, flags) is not None


@given(st.text(alphabet="ab*?:/", max_size=12), st.text(alphabet="abAB:/", max_size=12),
       st.booleans())
def test_glob_match_agrees_with_the_regex_translation(pattern, value, ignore_case):
    assert glob_match(pattern, value, ignore_case=ignore_case) == \
        _reference_glob(pattern, value, ignore_case)


def test_glob_match_of_a_hostile_pattern_finishes():
    # role/ + "*a" x 22 + "*b" against a 60-character name that has no b: the regex
    # translation backtracks for minutes (issue: the doctor ran > 120 s at 100 % CPU).
    # Run in a child so that a regression fails the test instead of hanging the suite.
    import subprocess
    import sys

    code = ("from tray.doctor.policy import glob_match;"
            "print(glob_match('role/' + '*a' * 22 + '*b', 'role/' + 'a' * 55))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True)
    assert out.stdout.strip() == "False"
    assert glob_match("role/" + "*a" * 22 + "*b", "role/" + "a" * 54 + "b")
