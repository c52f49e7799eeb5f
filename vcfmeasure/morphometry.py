"""Six-point morphometry: heights, ratios, areas and angles of every vertebra at once."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import LandmarkError, SpacingError
from ._table import Column, ResultTable
from .geometry import (
    adjacent_indices,
    direction_angle,
    endplate_line_angle,
    heights_perpendicular,
    hexagon_area,
)
from .geometry._heights import IA, IP, SA, SP
from .geometry._neighbours import _with_sentinel
from .landmarks import Landmarks
from .levels import level_index
from .radiograph import resolve_spacing

__all__ = ["measure", "Morphometry", "measure_arrays", "CRUSH_VARIANTS", "HEIGHT_METHODS"]

#: Crush ratio denominators: Hp of the adjacent level above, below, or their mean.
CRUSH_VARIANTS = ("mean", "above", "below")
#: Euclidean corner-to-corner heights (default) or perpendicular to the superior endplate.
HEIGHT_METHODS = ("euclidean", "perpendicular")


def _scale(xy: np.ndarray, spacing: Any) -> np.ndarray:
    if spacing is None:
        return xy
    sp = np.asarray(spacing, dtype=float)
    if sp.ndim == 1:
        return xy if sp[0] == sp[1] == 1.0 else xy * sp[::-1]
    return xy * sp[:, None, ::-1]


def measure_arrays(
    xy: np.ndarray,
    level_idx: np.ndarray,
    *,
    spine_id: np.ndarray | None = None,
    spacing: Any = None,
    height_method: str = "euclidean",
) -> dict[str, np.ndarray]:
    """The morphometry of many vertebrae as arrays: the engine behind :func:`measure`.

    Parameters
    ----------
    xy : ndarray, shape (N, 6, 2)
        Points in pixels, ``POINT_NAMES`` order.
    level_idx : ndarray of int, shape (N,)
        Positions in :data:`vcfmeasure.LEVELS`; rows sorted cranial -> caudal within
        each spine.
    spine_id : ndarray, shape (N,), optional
        Which spine each row belongs to (rows of one spine contiguous).
    spacing : None, (row_mm, col_mm), or ndarray (N, 2)
        ``None`` keeps pixels.
    height_method : {"euclidean", "perpendicular"}

    Returns
    -------
    dict of ndarray, shape (N,)
        ``ha hm hp wedge_ratio biconcavity_ratio crush_ratio crush_ratio_above
        crush_ratio_below wedge_angle local_kyphosis_cobb local_kyphosis_gardner area``
        and ``above``/``below`` (row of the adjacent level, -1 if absent).

    Examples
    --------
    >>> box = np.array([[0, 0], [10, 0], [20, 0], [20, 16], [10, 18], [0, 20]], float)
    >>> out = measure_arrays(box[None], np.array([20]))
    >>> out["ha"], out["wedge_ratio"]
    (array([16.]), array([0.8]))
    """
    xy = np.asarray(xy, dtype=float)
    iso = spacing is not None and np.ndim(spacing) == 1 and spacing[0] == spacing[1]
    # isotropic: angles and ratios need no scaling; lengths and areas are scaled at the end
    mm = xy if iso else _scale(xy, spacing)
    n = len(mm)
    # vertical chords (sa-ia, sm-im, sp-ip) and endplate directions (sa-sp, ia-ip); the
    # directions get a NaN row n that index -1 (no neighbour) reads: no masks needed
    chords = mm[:, SA::-1] - mm[:, IA:]
    sup = np.empty((n + 1, 2))
    inf = np.empty((n + 1, 2))
    np.subtract(mm[:, SA], mm[:, SP], out=sup[:n])
    np.subtract(mm[:, IA], mm[:, IP], out=inf[:n])
    sup[n] = inf[n] = np.nan
    if height_method == "euclidean":
        h = np.hypot(chords[..., 0], chords[..., 1])
    elif height_method == "perpendicular":
        h = heights_perpendicular(mm)
    else:
        raise LandmarkError(f"height_method must be one of {HEIGHT_METHODS}, got {height_method!r}")
    area = hexagon_area(mm)
    if iso:
        h *= spacing[0]
        area *= spacing[0] ** 2
    ha, hm, hp = h[:, 0], h[:, 1], h[:, 2]
    above, below = adjacent_indices(level_idx, spine_id)
    hp_ext = _with_sentinel(hp, np.nan)
    hp_above, hp_below = hp_ext[above], hp_ext[below]
    # mean of the neighbours present: fmax/fmin skip a NaN, so one neighbour gives itself
    hp_adj = 0.5 * (np.fmax(hp_above, hp_below) + np.fmin(hp_above, hp_below))
    # handedness (see geometry.handedness): anterior = sup + inf, cranial = chords a + p
    ant = sup[:n] + inf[:n]
    cra = chords[:, 0] + chords[:, 2]
    hand = np.sign(ant[:, 0] * cra[:, 1] - ant[:, 1] * cra[:, 0])
    hand_above = _with_sentinel(hand, np.nan)[above]
    return {
        "ha": ha,
        "hm": hm,
        "hp": hp,
        "wedge_ratio": ha / hp,
        "biconcavity_ratio": hm / hp,
        "crush_ratio": hp / hp_adj,
        "crush_ratio_above": hp / hp_above,
        "crush_ratio_below": hp / hp_below,
        "wedge_angle": direction_angle(sup[:n], inf[:n], hand),
        "local_kyphosis_cobb": direction_angle(sup[above], inf[below], hand_above),
        "local_kyphosis_gardner": direction_angle(sup[above], inf[:n], hand_above),
        "area": area,
        "above": above,
        "below": below,
    }


# Regional angles: name -> list of (from level, endplate, to level, endplate, sign, label)
_REGIONAL = {
    "thoracic_kyphosis": [("T4", "superior", "T12", "inferior", 1.0, "T4 superior - T12 inferior")],
    "lumbar_lordosis": [
        ("L1", "superior", "S1", "superior", -1.0, "L1 superior - S1 superior"),
        ("L1", "superior", "L5", "inferior", -1.0, "L1 superior - L5 inferior"),
    ],
}


class Morphometry(ResultTable):
    """Measurements of every vertebra of one spine image, cranial -> caudal.

    Made by :func:`measure`. Columns are available as attributes (``m.ha``, ``m.wedge_ratio``
    ...) as ``(N,)`` arrays, and as records / DataFrame rows.

    Attributes
    ----------
    levels : tuple of str
    unit : {"mm", "px"}
        Unit of the heights (areas in unit²).
    spacing : (row_mm, col_mm) or None
    spacing_source : str
        Where the spacing came from (docs/reference.md section 7), ``"unknown"`` in pixels.
    landmarks : Landmarks
        The points measured, in pixels.
    regional : list of dict
        Thoracic kyphosis and lumbar lordosis when their levels are present.
    metadata : dict
        The radiograph's metadata when a Radiograph was given as spacing.
    """

    def __init__(
        self,
        landmarks: Landmarks,
        columns: dict[str, np.ndarray],
        *,
        unit: str,
        spacing: tuple[float, float] | None,
        spacing_source: str,
        crush_variant: str,
        height_method: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.landmarks = landmarks
        self.levels = landmarks.levels
        self.unit = unit
        self.spacing = spacing
        self.spacing_source = spacing_source
        self.crush_variant = crush_variant
        self.height_method = height_method
        self.metadata = dict(metadata or {})
        self._arrays = columns
        self._columns = columns
        self._regional: list[dict[str, Any]] | None = None

    ha = Column("Anterior heights |sa - ia|, shape (N,), in :attr:`unit`.")
    hm = Column("Middle heights |sm - im|, shape (N,), in :attr:`unit`.")
    hp = Column("Posterior heights |sp - ip|, shape (N,), in :attr:`unit`.")
    wedge_ratio = Column("Ha/Hp, shape (N,).")
    biconcavity_ratio = Column("Hm/Hp, shape (N,).")
    crush_ratio = Column("Hp over the Hp of the adjacent levels (the ``crush`` variant), (N,).")
    crush_ratio_above = Column("Hp over the Hp of the level above, shape (N,); NaN without it.")
    crush_ratio_below = Column("Hp over the Hp of the level below, shape (N,); NaN without it.")
    wedge_angle = Column("Endplate angle of each body, deg, + converging anteriorly, (N,).")
    local_kyphosis_cobb = Column("Cobb angle, level above to level below, deg, shape (N,).")
    local_kyphosis_gardner = Column("Gardner angle, level above to own body, deg, shape (N,).")
    area = Column("Projected hexagon area, shape (N,), in :attr:`unit` squared.")

    def __repr__(self) -> str:
        return (
            f"<Morphometry {len(self.levels)} levels, unit={self.unit}, "
            f"spacing_source={self.spacing_source!r}>"
        )

    @property
    def level_index(self) -> np.ndarray:
        """Positions of :attr:`levels` in :data:`vcfmeasure.LEVELS`."""
        return self._arrays["level_index"]

    @property
    def regional(self) -> list[dict[str, Any]]:
        """Thoracic kyphosis (T4-T12) and lumbar lordosis (L1-S1, else L1-L5), degrees.

        Kyphosis is + when kyphotic; lordosis is reported + when lordotic. Each entry
        says which ``definition`` was used; a region whose levels are missing is absent.

        References
        ----------
        docs/reference.md section 4, "Global".
        """
        if self._regional is None:
            out = []
            pos = {lv: i for i, lv in enumerate(self.levels)}
            mm = _scale(self.landmarks.array, self.spacing)
            for name, options in _REGIONAL.items():
                for lv0, ep0, lv1, ep1, sign, label in options:
                    if lv0 in pos and lv1 in pos:
                        i, j = pos[lv0], pos[lv1]
                        angle = endplate_line_angle(
                            mm[[i]], mm[[j]], upper_endplate=ep0, lower_endplate=ep1
                        )[0]
                        out.append({
                            "name": name,
                            "definition": f"Cobb {label}",
                            "angle": float(sign * angle),
                            "unit": "deg",
                        })
                        break
            self._regional = out
        return self._regional

    def _record_columns(self) -> dict[str, Any]:
        a = self._arrays
        prov = self.landmarks.provenance
        n = len(self.levels)
        sp = self.spacing or (np.nan, np.nan)
        cols: dict[str, Any] = {
            "level": self.levels,
            "unit": [self.unit] * n,
            "spacing_row_mm": [sp[0]] * n,
            "spacing_col_mm": [sp[1]] * n,
            "spacing_source": [self.spacing_source] * n,
        }
        for name in ("ha", "hm", "hp", "wedge_ratio", "biconcavity_ratio", "crush_ratio",
                     "crush_ratio_above", "crush_ratio_below", "wedge_angle",
                     "local_kyphosis_cobb", "local_kyphosis_gardner", "area"):
            cols[name] = a[name]
        # the third local-kyphosis definition (FREE trial): the index vertebra's own angle
        cols["local_kyphosis_vertebral"] = a["wedge_angle"]
        cols["crush_variant"] = [self.crush_variant] * n
        cols["height_method"] = [self.height_method] * n
        cols["provenance"] = [prov[lv].method for lv in self.levels]
        cols["confidence"] = [
            np.nan if prov[lv].confidence is None else prov[lv].confidence for lv in self.levels
        ]
        cols["needs_review"] = [prov[lv].needs_review for lv in self.levels]
        cols["level_guessed"] = [prov[lv].level_guessed for lv in self.levels]
        return cols


def measure(
    landmarks: Landmarks,
    *,
    spacing: Any = None,
    crush: str = "mean",
    height_method: str = "euclidean",
) -> Morphometry:
    """Measure every vertebra: heights, ratios, wedge and local kyphotic angles, area.

    Parameters
    ----------
    landmarks : Landmarks
        Six points per vertebra, in pixels.
    spacing : None, float, (row_mm, col_mm) or Radiograph
        ``None`` measures in pixels; a number or pair is a user spacing; a
        :class:`~vcfmeasure.Radiograph` gives its spacing and ``spacing_source`` (and its
        metadata, used by :func:`compare` to check positions).
    crush : {"mean", "above", "below"}
        Which variant is reported as ``crush_ratio``: Hp over the mean Hp of the adjacent
        measured levels (default), or over the level above / below only. All three are
        always in the records (``crush_ratio_above``, ``crush_ratio_below``).
    height_method : {"euclidean", "perpendicular"}
        Euclidean corner-to-corner heights (default, SOF style) or distances perpendicular
        to the superior endplate line (labelled variant).

    Returns
    -------
    Morphometry
        Per vertebra, cranial -> caudal: ``level, unit, spacing_source, ha, hm, hp``
        (unit), ``wedge_ratio`` (Ha/Hp), ``biconcavity_ratio`` (Hm/Hp), ``crush_ratio``,
        ``wedge_angle`` (deg, + when the endplates converge anteriorly),
        ``local_kyphosis_cobb`` (deg; superior endplate of the level above to inferior
        endplate of the level below), ``local_kyphosis_gardner`` (level above's superior
        to own inferior endplate), ``local_kyphosis_vertebral`` (the index vertebra's own
        endplate angle, the FREE trial's "kyphotic angulation"), ``area`` (unit², shoelace
        hexagon), provenance (``provenance, confidence, needs_review, level_guessed``:
        the last True where the level name is a detector's guess).

    Notes
    -----
    Anisotropic spacing scales x by the column spacing and y by the row spacing before
    any length or angle is taken. Neighbours are anatomical: a level's crush ratio and
    local kyphosis use the very next levels only, NaN when they were not measured. The
    anterior side and the cranial direction come from the landmarks, so mirrored or
    rotated films give the same numbers.

    References
    ----------
    docs/reference.md sections 1 (heights, ratios, area) and 4 (angles); Eastell et al.,
    JBMR 1991;6:207-15 (ratios).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [50, 0], [100, 0], [100, 80], [50, 90], [0, 100]], float)
    >>> m = vm.measure(vm.Landmarks({"L1": box}), spacing=0.2)
    >>> r = m.to_records()[0]
    >>> r["unit"], r["ha"], r["hp"], r["wedge_ratio"], r["biconcavity_ratio"]
    ('mm', 16.0, 20.0, 0.8, 0.9)
    """
    from ._checks import check_measure

    check_measure(landmarks, spacing, crush, height_method)
    if not isinstance(landmarks, Landmarks):
        raise LandmarkError(
            f"measure() needs a vcfmeasure.Landmarks, got {type(landmarks).__name__}; "
            "build one with Landmarks({...}) or read_landmarks(path)"
        )
    if crush not in CRUSH_VARIANTS:
        raise LandmarkError(f"crush must be one of {CRUSH_VARIANTS}, got {crush!r}")
    try:
        value, source = resolve_spacing(spacing)
    except SpacingError as exc:
        raise SpacingError(f"measure(spacing=...): {exc}") from None
    metadata = getattr(spacing, "metadata", None)
    li = landmarks.level_index
    cols = measure_arrays(landmarks.array, li, spacing=value, height_method=height_method)
    cols["level_index"] = li
    if crush != "mean":
        cols["crush_ratio"] = cols[f"crush_ratio_{crush}"]
    return Morphometry(
        landmarks,
        cols,
        unit="px" if value is None else "mm",
        spacing=value,
        spacing_source=source,
        crush_variant=crush,
        height_method=height_method,
        metadata=metadata,
    )


def _level_index_array(levels: Any) -> np.ndarray:
    arr = np.asarray(levels)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    return np.array([level_index(lv) for lv in arr], dtype=np.int64)
