"""Kept for ``tray.engine.worker`` until its error codec reads ``tray.domain.problems``
(where the classification now lives); new code imports from there."""

from __future__ import annotations

from tray.domain.problems import input_kind, input_profile

__all__ = ["input_kind", "input_profile"]
