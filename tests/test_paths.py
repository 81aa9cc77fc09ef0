"""Paths resolved once from an environment mapping, and contexts built on them.

Two contexts with different environments work side by side in one process: each
reads its own settings and AWS files and writes its own credentials and state,
whatever the process environment says.
"""

from __future__ import annotations

import ast
import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tray import app, compose
from tray.domain.errors import SettingsError
from tray.domain.models import RefreshState
from tray.engine import actions
from tray.paths import Paths
from tray.settings import Settings
from tray.state import State, load_state, save_state

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="XDG folders are the Linux layout")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@linux_only
def test_paths_come_from_the_mapping_given_not_the_process(tmp_path: Path) -> None:
    run = tmp_path / "elsewhere-run"
    run.mkdir()
    env = {"HOME": "/h/ana", "XDG_CONFIG_HOME": "/x/conf", "XDG_STATE_HOME": "/x/state",
           "XDG_RUNTIME_DIR": str(run)}
    p = Paths.from_env(env)
    assert p.home == Path("/h/ana")
    assert p.aws_config == Path("/h/ana/.aws/config")
    assert p.aws_credentials == Path("/h/ana/.aws/credentials")
    assert p.settings_file == Path("/x/conf/roletray/config.toml")
    assert p.state_dir == Path("/x/state/roletray")
    assert p.state_file == Path("/x/state/roletray/state.json")
    assert p.log_dir == Path("/x/state/roletray/log")
    assert p.runtime_dir == run / "roletray"
    assert p.display(p.aws_credentials) == "~/.aws/credentials"
    assert p != Paths.from_env(os.environ)  # the process's own environment played no part


@linux_only
def test_defaults_follow_xdg_and_the_aws_cli(tmp_path: Path) -> None:
    env = {"HOME": "/h/bo", "XDG_CONFIG_HOME": "relative/is/ignored",
           "AWS_CONFIG_FILE": "~/cfg/aws", "AWS_SHARED_CREDENTIALS_FILE": "/elsewhere/creds",
           "XDG_RUNTIME_DIR": str(tmp_path / "missing")}
    p = Paths.from_env(env)
    assert p.settings_file == Path("/h/bo/.config/roletray/config.toml")
    assert p.state_dir == Path("/h/bo/.local/state/roletray")
    assert p.aws_config == Path("/h/bo/cfg/aws")
    assert p.aws_credentials == Path("/elsewhere/creds")
    # No runtime folder: the state folder, private to the user too.
    assert p.runtime_dir == Path("/h/bo/.local/state/roletray/run")


@linux_only
def test_paths_agree_with_platformdirs_for_the_process_environment() -> None:
    import platformdirs

    p = Paths.from_env(os.environ)
    assert p.settings_file == Path(platformdirs.user_config_dir("roletray")) / "config.toml"
    assert p.state_dir == Path(platformdirs.user_state_dir("roletray"))
    assert p.log_dir == Path(platformdirs.user_log_dir("roletray"))
    assert p.runtime_dir == Path(os.environ["XDG_RUNTIME_DIR"]) / "roletray"


def test_building_a_context_reads_no_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "conf")}
    p = Paths.from_env(env)
    p.settings_file.parent.mkdir(parents=True)
    p.settings_file.write_text("target = [\n")  # broken
    ctx = actions.Context(paths=p, env=env, settings=Settings())  # no I/O: no error
    assert ctx.target == "roletray" and ctx.credentials_path == p.aws_credentials
    with pytest.raises(SettingsError, match=r"config\.toml: not valid TOML"):
        compose.in_process(env)  # the composition root's way: reads the file


# --------------------------------------------------------- two contexts, one process

def _home(root: Path, aws: Any, *, target: str, user: str, role_arn: str) -> dict[str, str]:
    """A user's world of its own: HOME, XDG folders, AWS files, a settings file."""
    home = root / "home"
    (home / ".aws").mkdir(parents=True)
    akid, secret = aws.create_user(user)
    creds = home / ".aws" / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n")
    os.chmod(creds, 0o600)
    (home / ".aws" / "config").write_text(
        f"[default]\nregion = eu-west-1\n\n[profile platform]\nrole_arn = {role_arn}\n"
        "source_profile = default\n")
    (root / "run").mkdir(mode=0o700)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_STATE_HOME": str(root / "state"), "XDG_RUNTIME_DIR": str(root / "run")}
    settings = Paths.from_env(env).settings_file
    settings.parent.mkdir(parents=True)
    settings.write_text(f'target = "{target}"\n')
    return env


@pytest.fixture
def two_users(aws: Any, tmp_path: Path) -> Iterator[tuple[actions.Context, actions.Context]]:
    arn_a = aws.create_role("platform-a", trust_principal=aws.user_arn("ana"))
    arn_b = aws.create_role("platform-b", trust_principal=aws.user_arn("bo"))
    env_a = _home(tmp_path / "a", aws, target="alpha", user="ana", role_arn=arn_a)
    env_b = _home(tmp_path / "b", aws, target="beta", user="bo", role_arn=arn_b)
    aws.enforce()
    yield (compose.in_process(env_a),
           compose.in_process(env_b))


def test_two_contexts_with_different_environments_work_side_by_side(
        aws: Any, two_users: tuple[actions.Context, actions.Context]) -> None:
    a, b = two_users
    process = Paths.from_env(os.environ)  # conftest's HOME: no profile, no keys
    assert a.target == "alpha" and b.target == "beta"  # each read its own settings

    out_a = actions.assume("platform", ctx=a)
    assert out_a.target == "alpha" and out_a.role.role_arn.endswith(":role/platform-a")
    assert "[alpha]" in a.credentials_path.read_text()
    assert "[profile alpha]" in a.config_path.read_text()  # the role's region, A's config
    assert "alpha" not in b.credentials_path.read_text()
    state_a = load_state(a.paths)
    assert state_a is not None and state_a.target == "alpha"
    assert load_state(b.paths) is None
    assert actions.status(b).state is RefreshState.IDLE

    out_b = actions.assume("platform", ctx=b)
    assert out_b.result.identity_arn.split("/")[1] == "platform-b"
    snap_a, snap_b = actions.status(a), actions.status(b)
    assert (snap_a.state, snap_a.role, snap_a.target) == (RefreshState.FRESH, "platform", "alpha")
    assert (snap_b.state, snap_b.role, snap_b.target) == (RefreshState.FRESH, "platform", "beta")
    assert snap_a.identity_arn == out_a.result.identity_arn != snap_b.identity_arn

    assert actions.clear(ctx=a)
    assert "[alpha]" not in a.credentials_path.read_text()
    assert load_state(a.paths) is None
    assert actions.status(b).state is RefreshState.FRESH  # B untouched
    assert "[beta]" in b.credentials_path.read_text()

    # Nothing went to the process's own files.
    assert not process.state_file.exists()
    assert not process.aws_credentials.exists()
    assert not process.aws_config.exists()


# ------------------------------------------------------------------- private folders

@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@linux_only
def test_the_state_folder_is_created_0700_by_the_log(umask_022: None) -> None:
    p = Paths.from_env(os.environ)
    assert not p.state_dir.parent.exists()  # ~/.local/state: none yet
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        app.setup_logging(to_stderr=False, log_file=p.log_dir / app.LOG_NAME)
    finally:
        for h in list(root.handlers):
            if getattr(h, "_roletray", False):
                root.removeHandler(h)
                h.close()
        root.handlers[:], root.level = saved[0], saved[1]
    assert mode(p.log_dir) == 0o700
    assert mode(p.state_dir) == 0o700  # was 0755: the log folder's parent
    assert mode(p.state_dir.parent) == 0o700


@linux_only
def test_the_state_folder_is_created_0700_by_the_state(umask_022: None) -> None:
    p = Paths.from_env(os.environ)
    save_state(State(active_role="platform", target="roletray"), p)
    assert mode(p.state_dir) == 0o700 and mode(p.state_file) == 0o600


def test_settings_given_to_a_context_win_over_the_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "conf")}
    p = Paths.from_env(env)
    p.settings_file.parent.mkdir(parents=True)
    p.settings_file.write_text('target = "from-file"\n')
    assert compose.in_process(env).target == "from-file"
    assert compose.in_process(env, settings=Settings(target="given")).target == "given"


# --- only the composition roots read the process environment -------------------------------

TRAY = Path(__file__).resolve().parent.parent / "tray"
# Where the process environment may be read (or platformdirs called): the module, or the
# functions in it (qualified names) that are a process's main. Everything else is given its
# env mapping or ``Paths``.
ROOTS: dict[str, frozenset[str] | None] = {
    "cli/__init__.py": frozenset({"main"}),
    "app.py": None,
    "demo.py": None,
    "launch.py": None,
    "serve/fastpath.py": frozenset({"main"}),
    "worker_main.py": frozenset({"_handle"}),
    "engine/child.py": frozenset({"_handle"}),
    "ui/prompt.py": frozenset({"main"}),
    "shell/prompt.py": frozenset({"main"}),  # `roletray prompt`: its own fast main
    # The dialogs are processes of their own, started with the environment the tray chose.
    "ui/confirm.py": frozenset({"main"}),
    "ui/setup_dialog.py": frozenset({"main"}),
    # pystray reads its backend from the process environment: that one update stays.
    "ui/backend.py": frozenset({"load_pystray"}),
    # The resolver itself: platformdirs knows the macOS and Windows folders.
    "paths.py": frozenset({"Paths.from_env"}),
}
# Still reading the process environment, to be given theirs (issue 11): empty when done.
NOT_YET: dict[str, frozenset[str]] = {}


def _environment_reads(source: str) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what) for each read of the process environment."""
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope = [*scope, node.name]
        where = ".".join(scope)
        what = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "os" and node.attr in ("environ", "environb", "getenv",
                                                            "putenv", "unsetenv"):
            what = f"os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "getenv") for a in node.names):
            what = "from os import environ"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if any(n.split(".")[0] == "platformdirs" for n in names):
                what = "platformdirs"
        if what:
            found.append((getattr(node, "lineno", 0), where, what))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(ast.parse(source), [])
    return found


def _offenders() -> list[str]:
    bad = []
    for file in sorted(TRAY.rglob("*.py")):
        rel = file.relative_to(TRAY).as_posix()
        if rel in ROOTS and ROOTS[rel] is None:
            continue
        allowed = (ROOTS.get(rel) or frozenset()) | NOT_YET.get(rel, frozenset())
        for line, where, what in _environment_reads(file.read_text(encoding="utf-8")):
            if where not in allowed:
                bad.append(f"tray/{rel}:{line} {where or '<module>'}: {what}")
    return bad


def test_only_the_composition_roots_read_the_process_environment() -> None:
    assert _offenders() == []


def test_the_environment_check_sees_each_way_in() -> None:
    source = ("import os\nimport platformdirs\nfrom os import environ\n"
              "def f():\n    return os.environ.get('HOME')\n"
              "class C:\n    def m(self):\n        return os.getenv('X')\n")
    assert [(w, what) for _, w, what in _environment_reads(source)] == [
        ("", "platformdirs"), ("", "from os import environ"), ("f", "os.environ"),
        ("C.m", "os.getenv")]


def test_a_source_in_the_contexts_credentials_file_is_found(
        isolated_env: Path, tmp_path: Path) -> None:
    # Issue 11: the credentials file looked in was the process's, not the caller's.
    from tray.awsfiles import awsconfig

    config, creds = tmp_path / "other" / "config", tmp_path / "other" / "credentials"
    config.parent.mkdir()
    config.write_text("[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/p\n"
                      "source_profile = keys-only\n")
    creds.write_text("[keys-only]\naws_access_key_id = AKIAEXAMPLE\n"
                     "aws_secret_access_key = x\n")
    role = awsconfig.get_role_profile("platform", config, credentials_path=creds)
    assert role.source_profile == "keys-only"
    roles, errors = awsconfig.build_role_profiles(awsconfig.load_profile_map(config), config,
                                                  credentials_path=creds)
    assert set(roles) == {"platform"} and errors == {}


def test_the_sso_token_watch_looks_under_the_given_home(
        isolated_env: Path, tmp_path: Path) -> None:
    # Issue 11: the refresher's sign-in watch followed the process's HOME.
    from tray.engine import sso_watch

    config = tmp_path / "config"
    config.write_text("[profile dev]\nsso_start_url = https://corp.awsapps.com/start\n"
                      "sso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n")
    watch = sso_watch.watch_token("dev", config, {"HOME": str(tmp_path / "ana")})
    assert watch is not None
    assert watch[0].parent == tmp_path / "ana" / ".aws" / "sso" / "cache" and watch[1] is None


def test_messages_name_files_under_the_given_home_not_the_process(
        isolated_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 11: credfile and awsconfig shortened paths with the process's HOME, so a
    # context with a HOME of its own got its files named in full (and the process's
    # files would have been the ones shown as ~/...).
    from tray.cli import main

    home = tmp_path / "ana"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(
        "[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/p\n"
        "source_profile = default\n")
    creds = home / ".aws" / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n[default]\n")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "conf"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    assert Path(os.environ["HOME"]) != home

    assert main(["assume", "platform"], env=env) == 2
    err = capsys.readouterr().err
    assert err.startswith("roletray: ~/.aws/credentials line 3: section [default] appears "
                          "twice"), err
    (home / ".aws" / "config").write_text("[profile platform]\nrole_arn = x\n[x\n")
    assert main(["profiles"], env=env) == 2
    assert capsys.readouterr().err.startswith("roletray: ~/.aws/config, line 3: ")
