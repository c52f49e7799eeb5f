"""Automatic detection of vertebral bodies (placeholder until issue 6 lands)."""

from __future__ import annotations

from typing import Any

__all__ = ["detect_landmarks"]


def detect_landmarks(radiograph: Any, *, levels: Any = None) -> Any:
    """Find the vertebral bodies and place six points on each (not implemented yet).

    Raises
    ------
    NotImplementedError
        Always, until issue 6 lands.
    """
    raise NotImplementedError("detect_landmarks lands with issue 6")
