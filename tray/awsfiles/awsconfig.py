"""Read the AWS config file as botocore does, and build validated role profiles.

``raw_config_parse`` does the I/O; ``build_profile_map`` and
``build_role_profiles`` are pure transformations of what it returns::

    [default]                      {"default": {"region": "ap-northeast-2"},
    region = ap-northeast-2   ->    "platform": {"role_arn": "arn:aws:iam::...:role/platform",
    [profile platform]                           "source_profile": "default"}}
    role_arn = arn:aws:iam::...:role/platform
    source_profile = default
"""

from __future__ import annotations

import configparser
import re
import shlex
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from tray import paths
from tray.domain.errors import (
    ConfigError,
    CredentialsFileError,
    NotAProfileError,
    UnknownProfileError,
)
from tray.domain.models import ROLE_ARN_RE, RoleProfile
from tray.domain.text import N_, Text

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov"})
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
MIN_DURATION, MAX_DURATION = 900, 43200

# Keys that make botocore resolve a profile by itself instead of reading keys
# from the credentials file: a target carrying one of them would be shadowed.
SHADOWING_KEYS = ("role_arn", "credential_process", "sso_start_url", "sso_session",
                  "sso_account_id", "web_identity_token_file")
STATIC_KEYS = ("aws_access_key_id", "aws_secret_access_key")

# STS's own patterns for these request parameters (API reference).
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
# botocore's InvalidRegionError check.
_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_WHOLE_RE = re.compile(r"^[0-9]+$")
_SECTION_HEADER_RE = re.compile(r"^\s*\[(?P<name>[^\]]*)\]")

ProfileMap = dict[str, dict[str, str]]
# The caller's home folder: messages name files under it as ``~/...`` (as given without one).
Home = paths.Home


def raw_config_parse(path: Path | str, *, home: Home = None) -> dict[str, dict[str, str]]:
    """Every section of an INI file as a dict; a missing file gives ``{}``.

    Parsed as botocore's ``raw_config_parse`` does (RawConfigParser, strict,
    lowercased keys), but a parse error becomes a one-line ``ConfigError``
    naming the file (``~/...`` under the caller's ``home``) and line. Indented
    sub-blocks stay as their raw string.
    """
    path = Path(path)
    shown = _shown(path, home)
    if not path.is_file():  # botocore treats a missing (or non-file) config as empty
        return {}
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(N_("{path}: cannot read: {reason}"),
                          path=shown, reason=e.strerror or e) from e
    key = str(path)
    with _cache_lock:
        cached = _parsed.get(key)
    if cached is not None and cached[0] == data:
        # The same bytes as last time: the same answer, without parsing them again
        # (a command reads the config file several times).
        return {name: dict(values) for name, values in cached[1].items()}
    config = _parse_config(data, path, shown)
    with _cache_lock:
        _parsed[key] = (data, config)
    return {name: dict(values) for name, values in config.items()}


# path -> (the bytes parsed, what they gave); only the last version of each file.
_parsed: dict[str, tuple[bytes, dict[str, dict[str, str]]]] = {}
_cache_lock = threading.Lock()


def _parse_config(data: bytes, path: Path, shown: str) -> dict[str, dict[str, str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(N_("{path}, line {line}: not valid UTF-8"),
                          path=shown, line=line) from e
    if text.startswith("\ufeff"):
        # botocore reads with the locale codec, so the mark lands in the first header.
        raise ConfigError(N_("{path}, line 1: starts with a UTF-8 byte-order mark, which "
                             "botocore rejects; save the file without it"),
                          path=shown) from None
    # botocore opens the file in text mode: universal newlines, so a lone CR ends a
    # line too (read_string would keep it inside the line).
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:
        raise ConfigError(_describe_parse_error(e, shown)) from e
    config: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        values: dict[str, str] = {}
        for option in parser.options(section):
            value = parser.get(section, option)
            if value.startswith("\n") and not _nested_ok(value):
                line = _option_line(text, section, option)
                raise ConfigError(N_("{path}, line {line}: the indented lines under '{option}' "
                                     "must each be 'name = value'"),
                                  path=shown, line=line, option=option)
            values[option] = value
        config[section] = values
    return config


def _describe_parse_error(e: configparser.Error, shown: str) -> Text:
    # Never quote the offending line: it may be a secret key pasted on its own.
    if isinstance(e, configparser.MissingSectionHeaderError):
        return Text(N_("{path}, line {line}: text before the first [section] header"),
                    path=shown, line=e.lineno)
    if isinstance(e, configparser.DuplicateSectionError):
        return Text(N_("{path}, line {line}: section [{section}] appears twice"),
                    path=shown, line=e.lineno, section=e.section)
    if isinstance(e, configparser.DuplicateOptionError):
        return Text(N_("{path}, line {line}: '{option}' appears twice in [{section}]"),
                    path=shown, line=e.lineno, option=e.option, section=e.section)
    if isinstance(e, configparser.ParsingError) and e.errors:
        return Text(N_("{path}, line {line}: not a [section] header or a 'name = value' line"),
                    path=shown, line=e.errors[0][0])
    return Text(N_("{path}: cannot be parsed ({error_type})"), path=shown,
                error_type=type(e).__name__)


def _nested_ok(value: str) -> bool:
    """botocore's ``_parse_nested`` accepts only ``name = value`` lines."""
    return all("=" in line for line in value.splitlines() if line.strip())


def _option_line(text: str, section: str, option: str) -> int:
    in_section = False
    for number, line in enumerate(text.splitlines(), start=1):
        header = _SECTION_HEADER_RE.match(line)
        if header:
            in_section = header.group("name").strip() == section
        elif in_section and line.split("=", 1)[0].strip().lower() == option:
            return number
    return 1


def build_profile_map(raw: Mapping[str, Mapping[str, str]]) -> ProfileMap:
    """The profiles of a parsed config file, by botocore's own rules.

    ``[profile x]`` is profile ``x``; ``[default]`` is ``default``; a bare
    ``[x]`` is not a profile in the config file and is left out.
    """
    # botocore.configloader.build_profile_map's rules, without importing botocore
    # (the tray and the daemon never load it; their refresh workers do).
    profiles: dict[str, dict[str, str]] = {}
    for key, values in raw.items():
        if key.startswith("profile"):
            name = _profile_name(key)
            if name is not None:
                profiles[name] = dict(values)
        elif key == "default":
            profiles[key] = dict(values)
    return profiles


def _profile_name(section: str) -> str | None:
    """``profile x`` -> ``x``, as botocore's ``_parse_section`` splits it (shell-like)."""
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def load_profile_map(path: Path | str, *, home: Home = None) -> ProfileMap:
    return build_profile_map(raw_config_parse(path, home=home))


def credential_profile_names(path: Path | str) -> set[str] | None:
    """Section names of the shared credentials file, read-only; None if unreadable.

    botocore lets ``source_profile`` name a profile that exists only there.
    """
    from tray.awsfiles import credfile

    path = Path(path)
    try:
        return set(credfile.section_names(path))
    except (CredentialsFileError, OSError):
        return None  # a broken file is credfile's to report, on write


def build_role_profiles(
    profile_map: Mapping[str, Mapping[str, str]],
    path: Path | str,
    *,
    credentials_path: Path | str | None,
    credential_profiles: Iterable[str] | None = None,
    home: Home = None,
) -> tuple[dict[str, RoleProfile], dict[str, ConfigError]]:
    """The valid role profiles, and a ``ConfigError`` for each broken one.

    ``credential_profiles`` are the credentials file's section names (read from
    ``credentials_path`` when None; None there, or an unreadable file, skips that
    existence check).
    """
    shown = _shown(Path(path), home)
    cred_names: set[str] | None = (
        set(credential_profiles) if credential_profiles is not None
        else credential_profile_names(credentials_path) if credentials_path is not None
        else None
    )
    roles: dict[str, RoleProfile] = {}
    errors: dict[str, ConfigError] = {}
    for name, values in profile_map.items():
        build = _builder(values)
        if build is None:
            continue
        try:
            role = build(name, values, profile_map, cred_names, shown)
            guard = _guard(name, values, shown)
            roles[name] = replace(role, guard=guard) if guard else role
        except ConfigError as e:
            errors[name] = e
    # A role whose source is a broken role profile is broken too, transitively.
    changed = True
    while changed:
        changed = False
        for name in list(roles):
            src = roles[name].source_profile
            if src and src != name and src in errors:
                inner = str(errors[src]).removeprefix(f"{shown}: ")
                errors[name] = ConfigError(N_("{path}: profile '{name}': source_profile '{src}' "
                                              "is itself broken ({inner})"),
                                           path=shown, name=name, src=src, inner=inner)
                del roles[name]
                changed = True
    return roles, errors


Builder = Callable[[str, Mapping[str, str], Mapping[str, Mapping[str, str]], "set[str] | None",
                    str], RoleProfile]


def _builder(values: Mapping[str, str]) -> Builder | None:
    """How to build the profile as something roletray keeps fresh, if it is one: a role
    (``role_arn``), an Identity Center permission set, an ``aws login`` sign-in."""
    if _is_role_candidate(values):
        return _build_one
    if "role_arn" in values:
        return None  # web identity: botocore's own
    if is_sso_role(values):
        return _build_sso
    if "login_session" in values:
        return _build_login
    return None


def is_sso_role(values: Mapping[str, str]) -> bool:
    """A permission set in an account: an SSO sign-in plus ``sso_account_id`` and
    ``sso_role_name`` (an sso-session that only signs in has neither)."""
    return (("sso_session" in values or "sso_start_url" in values)
            and "sso_account_id" in values and "sso_role_name" in values)


def _build_sso(name: str, v: Mapping[str, str], profile_map: Mapping[str, Mapping[str, str]],
               cred_names: set[str] | None, shown: str) -> RoleProfile:
    account = v["sso_account_id"].strip()
    role = v["sso_role_name"].strip()
    if not re.fullmatch(r"\d{12}", account):
        raise ConfigError(N_("{path}: profile '{name}': sso_account_id '{account}' is not a "
                             "12-digit account id"),
                          path=shown, name=name, account=account)
    if not role:
        raise ConfigError(N_("{path}: profile '{name}': sso_role_name is empty"),
                          path=shown, name=name)
    return RoleProfile(name=name, role_arn="", kind="sso", account_id=account,
                       sso_role_name=role, region=_region(name, v, shown))


def _build_login(name: str, v: Mapping[str, str], profile_map: Mapping[str, Mapping[str, str]],
                 cred_names: set[str] | None, shown: str) -> RoleProfile:
    session = v["login_session"].strip()
    if not session:
        raise ConfigError(N_("{path}: profile '{name}': login_session is empty"),
                          path=shown, name=name)
    return RoleProfile(name=name, role_arn="", kind="login", login_session=session,
                       region=_region(name, v, shown))


GUARD_KEY = "roletray_guard"
GUARD_RE = re.compile(r"^[\w][\w .:/+-]{0,39}$")


def _guard(name: str, v: Mapping[str, str], shown: str) -> str | None:
    """``roletray_guard = LABEL``: a profile to confirm before it becomes the active role
    (``production``). The AWS tools ignore keys they do not know."""
    label = v.get(GUARD_KEY)
    if label is None:
        return None
    label = label.strip()
    if not GUARD_RE.match(label):
        raise ConfigError(N_("{path}: profile '{name}': {key} '{label}' must be 1 to 40 "
                             "letters, digits, spaces or .:/+-"),
                          path=shown, name=name, key=GUARD_KEY, label=label)
    return label


def _region(name: str, v: Mapping[str, str], shown: str) -> str | None:
    region = v.get("region")
    if region and not _REGION_RE.match(region):
        raise ConfigError(N_("{path}: profile '{name}': region '{region}' is not a valid region "
                             "name"),
                          path=shown, name=name, region=region)
    return region or None


def _is_role_candidate(values: Mapping[str, str]) -> bool:
    # web_identity_token_file + role_arn is botocore's web-identity provider, not ours.
    return "role_arn" in values and "web_identity_token_file" not in values


def _build_one(name: str, v: Mapping[str, str], profile_map: Mapping[str, Mapping[str, str]],
               cred_names: set[str] | None, shown: str) -> RoleProfile:
    def fail(message: str) -> ConfigError:
        return ConfigError(N_("{path}: profile '{name}': {detail}"),
                           path=shown, name=name, detail=message)

    role_arn = v["role_arn"].strip()
    m = ROLE_ARN_RE.match(role_arn)
    if not m or m.group("partition") not in PARTITIONS:
        raise fail(f"role_arn '{role_arn}' is not an IAM role ARN "
                   "(arn:aws:iam::123456789012:role/NAME)")
    source = v.get("source_profile")
    cred_source = v.get("credential_source")
    if source is not None and cred_source is not None:
        raise fail("has both source_profile and credential_source; keep one")
    if source is None and cred_source is None:
        raise fail("role_arn needs source_profile or credential_source")
    if cred_source is not None and cred_source not in CREDENTIAL_SOURCES:
        raise fail(f"credential_source '{cred_source}' must be one of "
                   + ", ".join(CREDENTIAL_SOURCES))
    if source is not None:
        _check_source_chain(name, source, profile_map, cred_names, fail)
    duration = v.get("duration_seconds")
    if duration is not None:
        d = duration.strip()
        if not _WHOLE_RE.match(d) or not MIN_DURATION <= int(d) <= MAX_DURATION:
            raise fail(f"duration_seconds '{duration}' must be a whole number from "
                       f"{MIN_DURATION} to {MAX_DURATION}")
    session_name = v.get("role_session_name")
    if session_name is not None and not _SESSION_NAME_RE.match(session_name):
        raise fail(f"role_session_name '{session_name}' must be 2 to 64 letters, digits "
                   "or +=,.@_-")
    external_id = v.get("external_id")
    if external_id is not None and not _EXTERNAL_ID_RE.match(external_id):
        # The value itself is not quoted: some teams treat external IDs as shared secrets.
        raise fail("external_id must be 2 to 1224 letters, digits or +=,.@:/_-")
    mfa_serial = v.get("mfa_serial")
    if mfa_serial is not None and not mfa_serial.strip():
        raise fail("mfa_serial is empty")
    mfa_process = v.get("mfa_process")
    if mfa_process is not None and (not mfa_process.strip() or mfa_serial is None):
        raise fail("mfa_process needs a command and an mfa_serial")
    region = v.get("region")
    if region is not None and region and not _REGION_RE.match(region):
        raise fail(f"region '{region}' is not a valid region name")
    regional = v.get("sts_regional_endpoints")
    if regional is not None and regional not in ("legacy", "regional"):
        raise fail(f"sts_regional_endpoints '{regional}' must be 'legacy' or 'regional'")
    return RoleProfile(
        name=name, role_arn=role_arn, source_profile=source, credential_source=cred_source,
        mfa_serial=mfa_serial.strip() if mfa_serial else None, external_id=external_id,
        role_session_name=session_name,
        duration_seconds=int(duration.strip()) if duration is not None else None,
        region=region or None, sts_regional_endpoints=regional,
        mfa_process=mfa_process.strip() if mfa_process else None,
    )


def _check_source_chain(name: str, source: str, profile_map: Mapping[str, Mapping[str, str]],
                        cred_names: set[str] | None, fail: Callable[[str], ConfigError]) -> None:
    """Follow source_profile links as botocore's AssumeRoleProvider does."""
    known = source in profile_map or cred_names is None or source in cred_names
    if not source or not known:
        # cred_names None means an unreadable credentials file: botocore will say more.
        raise fail(f"source_profile '{source}' does not exist in the config or credentials file")
    visited, current, src = [name], name, source
    while src in profile_map:
        if src in visited:
            # botocore lets a role profile take static keys from itself, nothing else.
            if src == current and _has_static_keys(src, profile_map, cred_names):
                return
            raise fail("source_profile chain loops: " + " -> ".join([*visited, src]))
        values = profile_map[src]
        if _has_static_keys(src, profile_map, cred_names) or not _is_role_candidate(values):
            return  # keys, SSO or a process end the chain
        next_src = values.get("source_profile")
        if next_src is None:
            return  # credential_source ends it
        # A missing or broken link further on is reported on that profile, then
        # passed up to this one by build_role_profiles.
        visited.append(src)
        current, src = src, next_src


def _has_static_keys(name: str, profile_map: Mapping[str, Mapping[str, str]],
                     cred_names: set[str] | None) -> bool:
    # Only section names of the credentials file are known here: a section of
    # that name counts, since botocore merges its keys into the profile.
    values = profile_map.get(name, {})
    return any(k in values for k in STATIC_KEYS) or bool(cred_names and name in cred_names)


def get_role_profile(name: str, path: Path | str, *, credentials_path: Path | str | None,
                     raw: Mapping[str, Mapping[str, str]] | None = None,
                     home: Home = None) -> RoleProfile:
    """The role profile ``name``, or the error that says why it is not usable.

    ``raw`` is the file at ``path`` already parsed by ``raw_config_parse``; a
    ``source_profile`` may also name a section of ``credentials_path``.
    """
    config_path = Path(path)
    shown = _shown(config_path, home)
    if raw is None:
        raw = raw_config_parse(config_path, home=home)
    profile_map = build_profile_map(raw)
    roles, errors = build_role_profiles(profile_map, config_path,
                                        credentials_path=credentials_path, home=home)
    if name in roles:
        return roles[name]
    if name in errors:
        raise errors[name]
    values = profile_map.get(name)
    if values is None:
        if name in raw and name != "default":
            raise NotAProfileError(profile=name, path=shown)
        raise UnknownProfileError(profile=name, path=shown)
    if "web_identity_token_file" in values:
        raise ConfigError(N_("{path}: profile '{name}' uses web_identity_token_file; roletray "
                             "assumes roles from source_profile or credential_source only"),
                          path=shown, name=name)
    raise ConfigError(N_("{path}: profile '{name}' is not a role profile: it has no role_arn "
                         "(add role_arn and source_profile)"),
                      path=shown, name=name)


def source_chain(profile: RoleProfile | str, profile_map: Mapping[str, Mapping[str, str]]
                 ) -> list[str]:
    """The names a role's keys come through: ``["platform", "base", "default"]``."""
    name = profile if isinstance(profile, str) else profile.name
    chain = [name]
    src = (profile_map.get(name, {}).get("source_profile") if isinstance(profile, str)
           else profile.source_profile)
    while src and src not in chain:
        chain.append(src)
        src = profile_map.get(src, {}).get("source_profile")
    return chain


def region_for(profile: RoleProfile | str, profile_map: Mapping[str, Mapping[str, str]]
               ) -> str | None:
    """The role's region, else the first in its source chain, else the default profile's."""
    if isinstance(profile, RoleProfile) and profile.region:
        return profile.region
    for name in [*source_chain(profile, profile_map), "default"]:
        region = profile_map.get(name, {}).get("region", "").strip()
        if region:
            return region
    return None


def check_target(target: str, profile_map: Mapping[str, Mapping[str, str]],
                 role: RoleProfile | None, path: Path | str, *, home: Home = None) -> None:
    """Refuse a target section that botocore would not read as plain keys, or that is not ours.

    Raises ``CredentialsFileError`` (exit 2); returns None when the target is fine.
    """
    shown = _shown(Path(path), home)
    if not target or target != target.strip() or any(c.isspace() for c in target):
        raise CredentialsFileError(N_("target '{target}' must be a non-empty section name "
                                      "without spaces"),
                                   target=target)
    if any(c in target for c in "[]\"'"):
        raise CredentialsFileError(N_("target '{target}' must not contain brackets or quotes"),
                                   target=target)
    if target == "default":
        raise CredentialsFileError(Text(N_("target 'default' would overwrite your default "
                                           "profile; choose another target (e.g. roletray)")))
    if role is not None:
        chain = source_chain(role, profile_map)
        if target == role.name:
            raise CredentialsFileError(
                N_("target '{target}' is the role profile itself: botocore assumes the role for "
                   "that name and ignores keys stored under it; choose another target"),
                target=target)
        if target in chain:
            raise CredentialsFileError(
                N_("target '{target}' is in the source chain of profile '{name}' ({chain}): "
                   "writing there would replace the keys the role is assumed with; choose "
                   "another target"),
                target=target, name=role.name, chain=' -> '.join(chain))
    values = profile_map.get(target, {})
    shadow = [k for k in SHADOWING_KEYS if k in values]
    if shadow:
        raise CredentialsFileError(
            N_("{path}: profile '{target}' has {shadow}: botocore would use that and ignore "
               "keys written to the credentials file; choose another target"),
            path=shown, target=target, shadow=shadow[0])


def _shown(path: Path, home: Home) -> str:
    """``path`` for a message: ``~/...`` under the caller's ``home``, else as given."""
    return paths.display_in(path, home)
