"""state.json is read, changed and written by more than one process: `roletray assume
--target a` and `--target b` with no instance running, or a CLI beside the daemon.
Each write keeps the others' sections, so two at once must take turns (a file lock in
the state folder), or one's section is lost.

Real processes (multiprocessing, spawned), started together on a barrier.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping

import pytest

from tray.domain.errors import StateError
from tray.paths import Paths
from tray.state import LOCK_NAME, State, clear_state, forget_state, load_states, save_state

WRITERS = 6
EACH = 15  # sections each writer adds, one save at a time


def _add_sections(env: Mapping[str, str], writer: int, barrier: object) -> None:
    paths = Paths.from_env(env)
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(EACH):
        save_state(State(active_role=f"role{writer}", target=f"w{writer}-{n}"), paths)


def _forget_own(env: Mapping[str, str], writer: int, barrier: object) -> None:
    paths = Paths.from_env(env)
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(EACH):
        if n % 2:
            forget_state(paths, f"w{writer}-{n}")
        else:
            save_state(State(active_role=f"again{writer}", target=f"w{writer}-{n}"), paths)


def _run_together(fn: object) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of pytest's threads
    barrier = ctx.Barrier(WRITERS)
    env = dict(os.environ)
    procs = [ctx.Process(target=fn, args=(env, w, barrier))  # type: ignore[arg-type]
             for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS


def test_writers_in_several_processes_lose_no_section() -> None:
    """Fails without the file lock: each process's read-modify-write drops the sections
    the others wrote between its read and its rename."""
    paths = Paths.from_env(os.environ)
    _run_together(_add_sections)
    kept = {s.target: s.active_role for s in load_states(paths)}
    assert kept == {f"w{w}-{n}": f"role{w}" for w in range(WRITERS) for n in range(EACH)}
    assert (paths.state_dir / LOCK_NAME).exists()  # it stays: waiters share one inode

    _run_together(_forget_own)  # removals and rewrites at once keep the rest too
    kept = {s.target: s.active_role for s in load_states(paths)}
    assert kept == {f"w{w}-{n}": f"again{w}" for w in range(WRITERS)
                    for n in range(0, EACH, 2)}


def test_a_held_lock_makes_a_one_line_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tray import state
    from tray.awsfiles.filelock_lite import locked

    paths = Paths.from_env(os.environ)
    save_state(State(active_role="platform", target="roletray"), paths)
    monkeypatch.setattr(state, "LOCK_TIMEOUT", 0.05)
    held = locked(str(paths.state_dir / LOCK_NAME), timeout=1)  # another process's, say
    with held, pytest.raises(StateError, match=r"\.state\.lock: another roletray held") as e:
        save_state(State(active_role="other", target="second"), paths)
    assert "\n" not in str(e.value)
    assert [s.target for s in load_states(paths)] == ["roletray"]  # nothing written


def test_clear_and_forget_make_no_state_folder() -> None:
    paths = Paths.from_env(os.environ)
    assert forget_state(paths, "roletray") is False
    assert clear_state(paths) is False
    assert not paths.state_dir.exists()


def test_a_state_folder_that_is_a_file_is_a_one_line_state_error() -> None:
    paths = Paths.from_env(os.environ)
    paths.state_dir.parent.mkdir(parents=True)
    paths.state_dir.write_text("not a folder\n")  # the lock cannot be made there
    with pytest.raises(StateError, match="cannot write roletray's state there") as e:
        save_state(State(active_role="platform", target="roletray"), paths)
    assert "\n" not in str(e.value)
    assert paths.state_dir.read_text() == "not a folder\n"
