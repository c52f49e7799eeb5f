"""3-D edits of a CT before projection, each moving the truth with it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import VcfMeasureError
from ..levels import normalize_level
from ._ct_volume import CTVolume

__all__ = ["Edited", "apply_edits"]


@dataclass
class Edited:
    """Slab sums, truth points and outlines after the edits of one render."""

    sums: np.ndarray
    points: dict[str, np.ndarray]
    outlines: dict[str, np.ndarray]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def truth_record(self, level: str) -> dict[str, Any]:
        """The ``truth[level]`` dict of the rendered film."""
        rec = {
            "deformity": "normal", "severity": 0.0, "grade": 0, "cement": None,
            "osteoporosis": 0.0, "edits": [], "source": "ct",
        }
        rec.update(self.records.get(level, {}))
        rec["points_3d"] = self.points[level].copy()
        return rec


def apply_edits(
    vol: CTVolume,
    prep: dict[str, Any],
    *,
    fractures: Mapping[str, tuple[str, float]] | None = None,
    osteoporosis: float | Mapping[str, float] = 0.0,
    cement: Mapping[str, Mapping[str, Any]] | None = None,
    raise_collapsed: Mapping[str, float] | None = None,
) -> Edited:
    """Apply the requested edits; unedited renders share the cached slab sums."""
    points = {lv: vol.level_truth(lv).points.copy() for lv in vol.levels}
    outlines = {lv: vol.level_truth(lv).outline.copy() for lv in vol.levels}
    edits = {"fractures": fractures, "cement": cement, "raise_collapsed": raise_collapsed}
    for name, val in edits.items():
        if val:
            raise VcfMeasureError(f"{name}= is not available in this version of render_ct")
    if isinstance(osteoporosis, Mapping):
        for k in osteoporosis:
            normalize_level(k)
    return Edited(prep["sums"], points, outlines)
