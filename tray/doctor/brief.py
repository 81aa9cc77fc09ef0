"""The doctor's answer in the two pieces the tray shows: a summary and the full report."""

from __future__ import annotations

from collections.abc import Mapping

from tray.doctor import diagnose


def brief(profile: str | None, *, env: Mapping[str, str]) -> list[str]:
    """``[summary, report]`` for ``profile`` under ``env``, in the reader's language
    (JSON-able: it comes back from a child, which speaks the user's language)."""
    report = diagnose.run_doctor(profile, env=env)
    return [diagnose.summarize(report).localized, diagnose.format_report(report)]
