"""The doctor's answer in the two pieces the tray shows: a summary and the full report."""

from __future__ import annotations

from collections.abc import Mapping

from tray.doctor import diagnose


def brief(profile: str | None, *, env: Mapping[str, str]) -> list[str]:
    """``[summary, report]`` for ``profile`` under ``env`` (JSON-able: it comes back from a
    child)."""
    report = diagnose.run_doctor(profile, env=env)
    return [diagnose.summarize(report), diagnose.format_report(report)]
