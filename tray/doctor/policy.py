"""A pure evaluator of IAM policies: identity policies and role trust policies.

No I/O and no AWS calls: the doctor fetches the documents and builds the
request context; this module says what IAM would decide::

    >>> doc = {"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Action": "sts:Assume*", "Resource": "*"}]}
    >>> evaluate([doc], "sts:AssumeRole", "arn:aws:iam::111122223333:role/x", {}).verdict
    <Verdict.ALLOWED: 'allowed'>

The context maps condition keys (case-insensitive) to values. A key that is
*present with the value None* is known to be absent from the request (so
``Bool aws:MultiFactorAuthPresent true`` fails); a key that is *missing* from the
context is unknown, and a condition on it makes the result ``unknown`` unless the
rest of the policy decides anyway. Values may be str, bool, int, float, datetime,
or a list of those for multi-valued keys.

Semantics follow IAM: an explicit Deny wins; otherwise an Allow is needed;
actions match case-insensitively with ``*``/``?``; resources match per ARN
segment; ``NotAction``/``NotResource``/``NotPrincipal``; conditions AND across
operators and keys, OR across a key's values; ``...IfExists``; ``ForAnyValue:``
and ``ForAllValues:``; policy variables such as ``${aws:username}`` in
``Version 2012-10-17`` documents.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import eq, ge, gt, le, lt
from typing import Any

from tray.domain.text import N_, Text

Context = Mapping[str, Any]

# Condition keys whose expected values are not repeated in messages: some teams
# treat external IDs as shared secrets.
_REDACTED_KEYS = frozenset({"sts:externalid"})

_ROOT_RE = re.compile(r"^arn:(aws[a-zA-Z-]*):iam::(\d{12}):root$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")


class Verdict(str, enum.Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "denied-explicit"
    IMPLICIT_DENY = "implicit-deny"
    UNKNOWN = "unknown"  # a condition that decides it cannot be evaluated here


@dataclass(frozen=True)
class ConditionMiss:
    """A condition that made an otherwise matching statement not apply."""

    operator: str
    key: str
    expected: tuple[str, ...]
    actual: Any  # the context value; None when the key is absent

    def describe(self) -> str:
        """``Bool aws:MultiFactorAuthPresent "true" (the request has absent)``."""
        want: Any = self.expected[0] if len(self.expected) == 1 else list(self.expected)
        got: str = Text(N_("absent")) if self.actual is None \
            else json.dumps(_jsonable(self.actual))
        if self.key.lower() in _REDACTED_KEYS:
            want = "****"
            got = Text(N_("absent")) if self.actual is None else Text(N_("another value"))
        return Text(N_("{operator} {key} {value} (the request has {got})"),
                    operator=self.operator, key=self.key, value=json.dumps(want), got=got)


@dataclass(frozen=True)
class Decision:
    """What IAM would decide, and why.

    ``statement`` is the statement that decided (the Deny, or the first Allow).
    ``via`` (trust policies only) says how the principal matched: ``"principal"``
    (named exactly), ``"any"`` (``*``) or ``"account"`` (the caller's account,
    which delegates the decision to the caller's own identity policies).
    ``misses``: conditions that failed on statements that otherwise matched.
    ``unknown``: the condition keys or operators that could not be evaluated.
    """

    verdict: Verdict
    reason: str
    statement: dict[str, Any] | None = None
    via: str | None = None
    misses: tuple[ConditionMiss, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


# --------------------------------------------------------------------- helpers

def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def statements(policy: Mapping[str, Any] | str) -> list[dict[str, Any]]:
    """The statements of a policy document (a dict, or its JSON text)."""
    doc = json.loads(policy) if isinstance(policy, str) else policy
    raw = doc.get("Statement", []) if isinstance(doc, Mapping) else []
    return [s for s in _as_list(raw) if isinstance(s, dict)]


def _segment_at(segment: str, value: str, i: int) -> bool:
    """Does ``segment`` (``?`` any one character) match ``value`` at index ``i``?"""
    if i + len(segment) > len(value):
        return False
    return all(p == "?" or p == value[i + k] for k, p in enumerate(segment))


def _find_segment(segment: str, value: str, start: int, stop: int) -> int:
    """The leftmost index >= start where ``segment`` matches and ends by ``stop``, or -1."""
    for i in range(start, stop - len(segment) + 1):
        if _segment_at(segment, value, i):
            return i
    return -1


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one character.

    No backtracking: the pattern is split at ``*``; the first piece must match the
    start, the last the end, and each piece between is taken at its leftmost place
    (taking it any later can only leave less room for the rest). Time is at most
    len(pattern) * len(value), where a regex's backtracking was exponential for
    patterns such as ``*a*a*a...*b``.
    """
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return len(pattern) == len(value) and _segment_at(pattern, value, 0)
    first, *middle, last = pieces
    if len(first) + len(last) > len(value):
        return False
    if not _segment_at(first, value, 0) or not _segment_at(last, value, len(value) - len(last)):
        return False
    i, stop = len(first), len(value) - len(last)
    for piece in middle:
        found = _find_segment(piece, value, i, stop)
        if found < 0:
            return False
        i = found + len(piece)
    return True


def action_matches(pattern: str, action: str) -> bool:
    """``sts:Assume*`` matches ``STS:AssumeRole``: actions are case-insensitive."""
    return glob_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Match an ARN against an ARN pattern, segment by segment, as IAM does.

    The first five colon-separated segments are matched separately, the sixth
    (the resource, which may itself hold colons) as a whole.
    """
    if pattern == "*":
        return True
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return glob_match(pattern, arn)
    return all(glob_match(p, a) for p, a in zip(p_parts, a_parts))


# ------------------------------------------------------------ policy variables

_VAR_RE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL_VARS = {"*": "*", "?": "?", "$": "$"}


class _Unknown(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _lookup(context: Context, key: str) -> tuple[bool, Any]:
    """(known, value): value None means known to be absent."""
    lowered = key.lower()
    for k, v in context.items():
        if k.lower() == lowered:
            return True, v
    return False, None


def _substitute(text: str, context: Context, enabled: bool) -> str:
    """Replace ``${aws:username}`` and friends; raise _Unknown when a value is unknown."""
    if not enabled or "${" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1)
        if inner in _SPECIAL_VARS:
            return _SPECIAL_VARS[inner]
        key, _, default = inner.partition(",")
        key = key.strip()
        known, value = _lookup(context, key)
        if not known:
            raise _Unknown(key)
        if value is None or isinstance(value, (list, tuple)):
            d = default.strip()
            if d.startswith("'") and d.endswith("'") and len(d) >= 2:
                return d[1:-1]
            # IAM: a variable with no value and no default makes the string not match.
            raise _NoValue(key)
        return _to_str(value)

    return _VAR_RE.sub(repl, text)


class _NoValue(Exception):
    pass


def _variables_enabled(policy: Mapping[str, Any]) -> bool:
    return str(policy.get("Version", "")) == "2012-10-17"


# ------------------------------------------------------------------ conditions

def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text), UTC)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _ip_in(actual: Any, network: str) -> bool:
    try:
        return ipaddress.ip_address(str(actual)) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _compare(parse: Callable[[Any], Any], op: Callable[[Any, Any], bool]) -> Any:
    """Compares after ``parse`` (``_num`` or ``_date``); a value it cannot read never matches."""
    def f(actual: Any, expected: str) -> bool:
        a, e = parse(actual), parse(expected)
        if a is None or e is None:
            return False
        return op(a, e)
    return f


# name -> (positive match of one actual value against one expected value, negated?)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda a, e: _to_str(a) == e, False),
    "StringNotEquals": (lambda a, e: _to_str(a) == e, True),
    "StringEqualsIgnoreCase": (lambda a, e: _to_str(a).lower() == e.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda a, e: _to_str(a).lower() == e.lower(), True),
    "StringLike": (lambda a, e: glob_match(e, _to_str(a)), False),
    "StringNotLike": (lambda a, e: glob_match(e, _to_str(a)), True),
    "NumericEquals": (_compare(_num, eq), False),
    "NumericNotEquals": (_compare(_num, eq), True),
    "NumericLessThan": (_compare(_num, lt), False),
    "NumericLessThanEquals": (_compare(_num, le), False),
    "NumericGreaterThan": (_compare(_num, gt), False),
    "NumericGreaterThanEquals": (_compare(_num, ge), False),
    "DateEquals": (_compare(_date, eq), False),
    "DateNotEquals": (_compare(_date, eq), True),
    "DateLessThan": (_compare(_date, lt), False),
    "DateLessThanEquals": (_compare(_date, le), False),
    "DateGreaterThan": (_compare(_date, gt), False),
    "DateGreaterThanEquals": (_compare(_date, ge), False),
    "Bool": (lambda a, e: _to_str(a).lower() == e.lower(), False),
    "BinaryEquals": (lambda a, e: _to_str(a) == e, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (lambda a, e: arn_matches(e, _to_str(a)), False),
    "ArnLike": (lambda a, e: arn_matches(e, _to_str(a)), False),
    "ArnNotEquals": (lambda a, e: arn_matches(e, _to_str(a)), True),
    "ArnNotLike": (lambda a, e: arn_matches(e, _to_str(a)), True),
}


@dataclass
class _CondResult:
    value: bool | None  # None: unknown
    misses: list[ConditionMiss] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _eval_one(operator: str, key: str, expected_raw: Any, context: Context,
              variables: bool) -> _CondResult:
    """One operator on one key: True, False or None (unknown)."""
    expected_list = [_to_str(v) for v in _as_list(expected_raw)]
    known, actual = _lookup(context, key)
    op = operator
    set_op = None
    if ":" in op:
        set_op, _, op = op.partition(":")
        if set_op not in ("ForAnyValue", "ForAllValues"):
            return _CondResult(None, unknown=[operator])
    if_exists = op.endswith("IfExists") and op != "IfExists"
    if if_exists:
        op = op[: -len("IfExists")]

    def miss() -> _CondResult:
        return _CondResult(False, misses=[ConditionMiss(operator, key, tuple(expected_list), actual)])

    if op == "Null":
        if not known:
            return _CondResult(None, unknown=[key])
        want_absent = any(e.lower() == "true" for e in expected_list)
        absent = actual is None or actual == [] or actual == ()
        return _CondResult(True) if absent == want_absent else miss()
    if op not in _OPERATORS:
        return _CondResult(None, unknown=[operator])
    if not known:
        return _CondResult(None, unknown=[key])
    match, negated = _OPERATORS[op]

    try:
        expected = [_substitute(e, context, variables) for e in expected_list]
    except _Unknown as u:
        return _CondResult(None, unknown=[u.key])
    except _NoValue:
        expected = []

    values = _as_list(actual)
    if not values:  # the key is absent from the request
        if if_exists or set_op == "ForAllValues":
            return _CondResult(True)
        # Negated operators hold when there is nothing to compare (IAM's rule).
        return _CondResult(True) if negated and set_op is None else miss()

    def one(v: Any) -> bool:
        hit = any(match(v, e) for e in expected)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        ok = all(one(v) for v in values)
    else:  # ForAnyValue, and single-valued keys
        ok = any(one(v) for v in values)
    return _CondResult(True) if ok else miss()


def evaluate_conditions(condition: Any, context: Context, *, variables: bool = True) -> _CondResult:
    """AND over operators and keys; tri-state (True, False, None = unknown)."""
    if not condition:
        return _CondResult(True)
    if not isinstance(condition, Mapping):
        return _CondResult(None, unknown=["Condition"])
    result = _CondResult(True)
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            result.value = None if result.value is not False else False
            result.unknown.append(str(operator))
            continue
        for key, expected in block.items():
            r = _eval_one(str(operator), str(key), expected, context, variables)
            result.misses += r.misses
            result.unknown += r.unknown
            if r.value is False:
                result.value = False
            elif r.value is None and result.value is not False:
                result.value = None
    return result


# ------------------------------------------------------------------ principals

def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _role_name_of_session(arn: str) -> str | None:
    """``arn:aws:sts::1:assumed-role/R/s`` -> ``R``."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        bits = parts[5].split("/")
        return bits[1] if len(bits) >= 3 else None
    return None


def principal_match(entry: str, principal_arn: str, context: Context) -> str | None:
    """How one ``Principal.AWS`` entry matches the caller: principal, any, account, or None."""
    entry = entry.strip()
    if entry == "*":
        return "any"
    account = _account_of(principal_arn)
    m = _ROOT_RE.match(entry)
    if _ACCOUNT_RE.match(entry) or m:
        entry_account = entry if _ACCOUNT_RE.match(entry) else m.group(2)  # type: ignore[union-attr]
        if principal_arn == entry or (_ROOT_RE.match(principal_arn) and account == entry_account):
            return "principal"
        return "account" if entry_account == account else None
    if entry == principal_arn:
        return "principal"
    # A role ARN trusts every session of that role (the session ARN has no path).
    session_role = _role_name_of_session(principal_arn)
    parts = entry.split(":", 5)
    if (session_role and len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/")
            and parts[4] == account and parts[5].rsplit("/", 1)[-1] == session_role):
        return "principal"
    # A unique id (AIDA..., AROA...) is what IAM shows when the named user or role
    # was deleted: it matches only that exact old principal.
    known, userid = _lookup(context, "aws:userid")
    if known and userid and entry == str(userid).split(":", 1)[0]:
        return "principal"
    return None


def _principal_matches(principal: Any, principal_arn: str, context: Context) -> str | None:
    if principal == "*":
        return "any"
    if not isinstance(principal, Mapping):
        return None
    best: str | None = None
    rank = {"principal": 3, "any": 2, "account": 1}
    for entry in _as_list(principal.get("AWS")):
        how = principal_match(str(entry), principal_arn, context)
        if how and (best is None or rank[how] > rank[best]):
            best = how
    return best


# ------------------------------------------------------------------ evaluation

@dataclass
class _Acc:
    allow: dict[str, Any] | None = None
    allow_via: str | None = None
    maybe_allow: dict[str, Any] | None = None
    deny: dict[str, Any] | None = None
    maybe_deny: dict[str, Any] | None = None
    misses: list[ConditionMiss] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def decide(self, subject: str) -> Decision:
        misses = tuple(self.misses)
        unknown = tuple(dict.fromkeys(self.unknown))
        if self.deny is not None:
            return Decision(Verdict.EXPLICIT_DENY, f"an explicit Deny applies to {subject}",
                            self.deny, misses=misses, unknown=unknown)
        if self.maybe_deny is not None and (self.allow or self.maybe_allow):
            return Decision(Verdict.UNKNOWN, f"a Deny may apply to {subject}, on conditions "
                            f"that cannot be evaluated here ({', '.join(unknown)})",
                            self.maybe_deny, misses=misses, unknown=unknown)
        if self.allow is not None:
            return Decision(Verdict.ALLOWED, f"an Allow applies to {subject}", self.allow,
                            via=self.allow_via, misses=misses, unknown=unknown)
        if self.maybe_allow is not None:
            return Decision(Verdict.UNKNOWN, f"an Allow applies to {subject} only on conditions "
                            f"that cannot be evaluated here ({', '.join(unknown)})",
                            self.maybe_allow, via=self.allow_via, misses=misses, unknown=unknown)
        why = "no Allow applies to " + subject
        if misses:
            why += "; conditions not met: " + "; ".join(m.describe() for m in misses)
        return Decision(Verdict.IMPLICIT_DENY, why, None, misses=misses, unknown=unknown)

    def add(self, stmt: dict[str, Any], cond: _CondResult, via: str | None = None) -> None:
        effect = str(stmt.get("Effect", ""))
        self.unknown += cond.unknown
        if effect == "Deny":
            if cond.value is True and self.deny is None:
                self.deny = stmt
            elif cond.value is None and self.maybe_deny is None:
                self.maybe_deny = stmt
        elif effect == "Allow":
            if cond.value is False:
                self.misses += cond.misses
            elif cond.value is True:
                rank = {"principal": 3, "any": 2, "account": 1, None: 0}
                if self.allow is None or rank[via] > rank[self.allow_via]:
                    self.allow, self.allow_via = stmt, via
            elif self.maybe_allow is None:
                self.maybe_allow = stmt
                if self.allow is None:
                    self.allow_via = via


def _action_applies(stmt: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in stmt:
        return not any(action_matches(str(p), action) for p in _as_list(stmt["NotAction"]))
    return any(action_matches(str(p), action) for p in _as_list(stmt.get("Action")))


def _resource_applies(stmt: Mapping[str, Any], resource: str, context: Context,
                      variables: bool) -> bool | None:
    key = "NotResource" if "NotResource" in stmt else "Resource"
    unknown = False
    hit = False
    for raw in _as_list(stmt.get(key)):
        try:
            pattern = _substitute(str(raw), context, variables)
        except _Unknown:
            unknown = True
            continue
        except _NoValue:
            continue
        if arn_matches(pattern, resource):
            hit = True
            break
    if not hit and unknown:
        return None
    return (not hit) if key == "NotResource" else hit


def evaluate(policies: Iterable[Mapping[str, Any] | str], action: str, resource: str,
             context: Context | None = None) -> Decision:
    """Evaluate identity policies (Principal is ignored) for one action on one resource."""
    context = context or {}
    acc = _Acc()
    for policy in policies:
        doc = json.loads(policy) if isinstance(policy, str) else policy
        variables = _variables_enabled(doc)
        for stmt in statements(doc):
            if not _action_applies(stmt, action):
                continue
            res = _resource_applies(stmt, resource, context, variables)
            if res is False:
                continue
            cond = evaluate_conditions(stmt.get("Condition"), context, variables=variables)
            if res is None:
                cond = _CondResult(None if cond.value is not False else False, cond.misses,
                                   cond.unknown + ["Resource policy variable"])
            acc.add(stmt, cond)
    return acc.decide(f"{action} on {resource}")


def trust_allows(trust_policy: Mapping[str, Any] | str, principal_arn: str,
                 context: Context | None = None, *, action: str = "sts:AssumeRole") -> Decision:
    """Does a role's trust policy let ``principal_arn`` call ``action`` on the role?

    An entry naming the caller's own account (``"111122223333"`` or
    ``arn:aws:iam::111122223333:root``) allows with ``via="account"``: IAM then
    leaves the decision to the caller's identity policies.
    """
    context = context or {}
    doc = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    variables = _variables_enabled(doc)
    acc = _Acc()
    for stmt in statements(doc):
        if not _action_applies(stmt, action):
            continue
        via: str | None
        if "NotPrincipal" in stmt:
            excluded = _principal_matches(stmt["NotPrincipal"], principal_arn, context)
            if excluded in ("principal", "any", "account"):
                continue
            via = "any"
        else:
            via = _principal_matches(stmt.get("Principal"), principal_arn, context)
            if via is None:
                continue
        cond = evaluate_conditions(stmt.get("Condition"), context, variables=variables)
        acc.add(stmt, cond, via)
    return acc.decide(f"{action} by {principal_arn}")


def trusted_principals(trust_policy: Mapping[str, Any] | str,
                       action: str = "sts:AssumeRole") -> list[str]:
    """The principals the Allow statements for ``action`` name, for messages."""
    out: list[str] = []
    for stmt in statements(trust_policy):
        if stmt.get("Effect") != "Allow" or not _action_applies(stmt, action):
            continue
        principal = stmt.get("Principal")
        if principal == "*":
            out.append("*")
        elif isinstance(principal, Mapping):
            for kind, values in principal.items():
                for v in _as_list(values):
                    out.append(str(v) if kind == "AWS" else f"{kind}: {v}")
    return list(dict.fromkeys(out))
