"""The doctor's answer in the two pieces the tray shows: a summary and the full report."""

from __future__ import annotations

from tray.doctor import diagnose


def brief(profile: str | None) -> list[str]:
    """``[summary, report]`` for ``profile`` (JSON-able: it comes back from a child)."""
    report = diagnose.run_doctor(profile)
    return [diagnose.summarize(report), diagnose.format_report(report)]
