"""Array API for cohorts: measure and grade millions of vertebrae in one call.

The same engine as :func:`vcfmeasure.measure` and :func:`vcfmeasure.grade`, without the
per-spine records: points come as one ``(N, 6, 2)`` array with a level and a spine id per
row, and results come back as a dict of ``(N,)`` arrays (``pandas.DataFrame(result)``
gives a table).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import LandmarkError
from .grading import DEFORMITY_TYPES, grade_arrays
from .landmarks import validate_bodies
from .levels import LEVELS
from .morphometry import _level_index_array, measure_arrays
from .radiograph import resolve_spacing

__all__ = ["measure_cohort", "grade_cohort", "DEFORMITY_TYPES"]


def measure_cohort(
    xy: Any,
    levels: Any,
    *,
    spine_id: Any = None,
    spacing: Any = None,
    validate: bool = False,
    height_method: str = "euclidean",
) -> dict[str, np.ndarray]:
    """Morphometry of many vertebrae of many spines.

    Parameters
    ----------
    xy : array_like, shape (N, 6, 2)
        Points in pixels, ``POINT_NAMES`` order.
    levels : array_like, shape (N,)
        Level names (``"L1"``) or positions in :data:`vcfmeasure.LEVELS`.
    spine_id : array_like, shape (N,), optional
        Which spine (image) each row belongs to. Rows must be grouped by spine and
        ordered cranial -> caudal within it (checked).
    spacing : None, number, (row_mm, col_mm), or array (N, 2)
        One spacing for all, or one per row.
    validate : bool
        Also run the per-body checks of :class:`~vcfmeasure.Landmarks` (slower).
    height_method : {"euclidean", "perpendicular"}

    Returns
    -------
    dict of ndarray
        ``level_index, spine_id``, the columns of :func:`vcfmeasure.morphometry.measure_arrays`
        and ``unit`` (a str: "mm" or "px").

    Examples
    --------
    >>> box = np.array([[0, 0], [10, 0], [20, 0], [20, 16], [10, 18], [0, 20]], float)
    >>> xy = np.stack([box, box + [0, 25], box])
    >>> m = measure_cohort(xy, ["L1", "L2", "L1"], spine_id=[0, 0, 1], spacing=0.5)
    >>> m["ha"], m["crush_ratio"]
    (array([8., 8., 8.]), array([ 1.,  1., nan]))
    """
    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 3 or xy.shape[1:] != (6, 2):
        raise LandmarkError(f"xy must have shape (N, 6, 2), got {xy.shape}")
    li = _level_index_array(levels)
    sid = np.zeros(len(li), dtype=np.int64) if spine_id is None else np.asarray(spine_id)
    if li.shape != (len(xy),) or sid.shape != (len(xy),):
        raise LandmarkError(
            f"levels and spine_id need one entry per row of xy ({len(xy)}), "
            f"got {li.shape} and {sid.shape}"
        )
    if not np.isfinite(xy).all():
        row = int(np.argmax(~np.isfinite(xy).all(axis=(1, 2))))
        raise LandmarkError(f"row {row} ({LEVELS[li[row]]}): a point is not finite")
    same = sid[1:] == sid[:-1]
    if (same & (li[1:] <= li[:-1])).any():
        row = int(np.argmax(same & (li[1:] <= li[:-1]))) + 1
        raise LandmarkError(
            f"row {row} ({LEVELS[li[row]]}): rows of a spine must be ordered cranial -> "
            "caudal without duplicates; sort by (spine_id, level) first"
        )
    if validate:
        for s in np.unique(sid):
            rows = np.flatnonzero(sid == s)
            validate_bodies(tuple(f"spine {s} {LEVELS[i]}" for i in li[rows]), xy[rows])
    sp: Any
    if spacing is not None and np.ndim(spacing) == 2:
        sp = np.asarray(spacing, dtype=float)
        if sp.shape != (len(xy), 2) or not (np.isfinite(sp).all() and (sp > 0).all()):
            raise LandmarkError("a per-row spacing must be a positive (N, 2) array")
        unit = "mm"
    else:
        sp, _ = resolve_spacing(spacing)
        unit = "px" if sp is None else "mm"
    out = measure_arrays(xy, li, spine_id=sid, spacing=sp, height_method=height_method)
    out["level_index"] = li
    out["spine_id"] = sid
    out["unit"] = unit  # type: ignore[assignment]
    return out


def grade_cohort(measurements: dict[str, Any], *, reference: str = "radelement",
                 **options: Any) -> dict[str, np.ndarray]:
    """Genant grades for the output of :func:`measure_cohort`.

    Options as :func:`vcfmeasure.grade` (``normal_ratio``, ``max_gap``,
    ``borderline_margin``); ``gradable=`` (bool per row) excludes vertebrae flagged for
    review.

    Returns
    -------
    dict of ndarray
        As :func:`vcfmeasure.grading.grade_arrays`.

    Examples
    --------
    >>> box = np.array([[0, 0], [10, 0], [20, 0], [20, 16], [10, 18], [0, 20]], float)
    >>> g = grade_cohort(measure_cohort(box[None], ["L1"]))
    >>> g["grade"], g["height_loss"]
    (array([1.]), array([0.2]))
    """
    m = measurements
    return grade_arrays(m["ha"], m["hm"], m["hp"], m["area"], m["level_index"],
                        spine_id=m["spine_id"], reference=reference, **options)
