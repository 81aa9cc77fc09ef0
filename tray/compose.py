"""Wiring for the composition roots: a use-case ``Context`` with the AWS adapter the
process calls AWS through.

A one-shot command (``cli``), the worker child (``tray.worker_main``), the demo and
tests that run the use cases in their own process take ``in_process``: botocore here.
The long-running tray and daemon (``app``) take ``tray.child.aws.ChildAws``, so they
never load botocore. This module imports ``tray.aws``: never import it from
``tray.engine`` or anything the long-running parent loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from tray.aws.port import InProcessAws
from tray.aws.session import ClientFactory
from tray.domain.models import utcnow
from tray.engine.actions import Context
from tray.settings import Settings


def _brief(profile: str | None, *, env: Mapping[str, str]) -> list[str]:
    # The doctor only when asked: a one-shot `roletray assume` never loads its modules.
    from tray.doctor.brief import brief

    return brief(profile, env=env)


def in_process_aws(env: Mapping[str, str], *,
                   client_factory: ClientFactory | None = None) -> InProcessAws:
    """The in-process adapter under ``env``, the doctor included."""
    return InProcessAws(env, client_factory=client_factory, doctor=_brief)


def in_process(env: Mapping[str, str], *, settings: Settings | None = None,
               now: Callable[[], datetime] = utcnow,
               client_factory: ClientFactory | None = None) -> Context:
    """``Context.from_env`` whose AWS calls run in this process."""
    return Context.from_env(env, settings=settings, now=now,
                            aws=in_process_aws(env, client_factory=client_factory))
