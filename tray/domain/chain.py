"""The chain of profiles roletray processes are resolving, passed to their children.

A source whose ``credential_process`` is ``roletray credential-process ROLE``, for a
role built on that same source, would start roletray again and again: each one
resolves ROLE, runs the source's process, which is roletray resolving ROLE. So every
``credential_process`` roletray runs gets ``ROLETRAY_CHAIN`` in its environment: the
profiles being resolved above it (a JSON list), the role's and then the source's. A
``roletray credential-process PROFILE`` that finds PROFILE there, or finds the chain
``MAX_DEPTH`` long, refuses with one line and exit 2 before anything else (before it
even asks a running instance), and the roletray above it names the loop.

Light on purpose: ``tray.launch`` reads it before every ``credential-process`` answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

CHAIN_ENV = "ROLETRAY_CHAIN"
MAX_DEPTH = 8  # profiles resolved one inside another; no real setup comes near
LOOP_MARK = "roletray: loop:"  # how the refusal starts, so the roletray above knows it


def names(env: Mapping[str, str]) -> list[str]:
    """The chain ``env`` carries (empty when none, or when it is not roletray's)."""
    try:
        value = json.loads(env.get(CHAIN_ENV) or "[]")
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def extended(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``env`` with ``name`` at the end of its chain (once: a name already last stays)."""
    chain = names(env)
    if not chain or chain[-1] != name:
        chain.append(name)
    return {**env, CHAIN_ENV: json.dumps(chain)}


def refusal(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The one line that refuses ``roletray credential-process ...`` (``argv`` without the
    program) inside a loop; None when it may run."""
    if not argv or argv[0] != "credential-process":
        return None
    chain = names(env)
    if not chain:
        return None
    wanted = [a for a in argv[1:] if not a.startswith("-")]
    shown = " -> ".join(chain)
    if wanted and wanted[0] in chain:
        return (f"{LOOP_MARK} credential-process {wanted[0]} was started to resolve a profile "
                f"that needs {wanted[0]} itself (chain: {shown} -> {wanted[0]}); give the "
                "source profile keys of its own")
    if len(chain) >= MAX_DEPTH:
        return (f"{LOOP_MARK} credential-process started {len(chain)} deep (chain: {shown}); "
                "a source profile's credential_process leads back to roletray")
    return None
