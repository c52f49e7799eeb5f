"""Pre/post kyphoplasty or vertebroplasty comparison, and follow-up re-collapse."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._errors import PlausibilityWarning, VcfMeasureError
from ._table import ResultTable
from .geometry import nearest_indices
from .levels import normalize_level

__all__ = ["compare", "Restoration", "PUBLISHED_LIMITS"]

#: Beyond these a result is flagged with a PlausibilityWarning: far outside the published
#: magnitudes of REFERENCE.md section 5 (Lieberman 2001 +2.9 mm / 46.8 %; J Orthop Trauma
#: 2004 +4.6 mm anterior; Papanastassiou 2012 4.8 deg kyphosis reduction).
PUBLISHED_LIMITS = {"delta_mm": 15.0, "restored_fraction": 1.5, "angle_deg": 25.0}

_H = ("a", "m", "p")


def _positions(morph: Any, levels: list[str]) -> np.ndarray:
    pos = {lv: i for i, lv in enumerate(morph.levels)}
    return np.array([pos[lv] for lv in levels], dtype=np.int64)


class Restoration(ResultTable):
    """Height restoration and kyphosis correction per treated (or common) level.

    Made by :func:`compare`; see there for the columns. ``warnings_`` lists the
    comparability and plausibility warnings that were issued.
    """

    def __init__(self, levels: list[str], columns: dict[str, Any], *, unit: str,
                 spacing_source: str, warnings_: list[str]) -> None:
        self.levels = tuple(levels)
        self.unit = unit
        self.spacing_source = spacing_source
        self.warnings_ = warnings_
        self._columns = columns

    def __repr__(self) -> str:
        return f"<Restoration {len(self.levels)} levels, unit={self.unit}>"


def _reference(pre: Any, untreated_normal: np.ndarray, max_gap: int):
    """Reference heights (N, 3) from the nearest eligible neighbours in the pre image."""
    li = pre.level_index
    up, down = nearest_indices(li, untreated_normal, max_gap=max_gap)
    # row n is a NaN sentinel that index -1 (no neighbour) reads
    h = np.stack([pre.ha, pre.hm, pre.hp], axis=1)
    h = np.vstack([h, np.full((1, 3), np.nan)])
    hu, hd = h[up], h[down]
    # mean of the neighbours present (fmax/fmin skip a NaN), else own Hp
    ref = 0.5 * (np.fmax(hu, hd) + np.fmin(hu, hd))
    ref = np.where(np.isnan(ref), pre.hp[:, None], ref)
    source = []
    for u, d in zip(up, down, strict=True):
        names = [pre.levels[j] for j in (u, d) if j >= 0]
        source.append("mean of " + " and ".join(names) if len(names) == 2
                      else names[0] if names else "own hp")
    return ref, source


def compare(
    pre: Any,
    post: Any,
    *,
    follow_up: Any = None,
    treated: Iterable[str] | None = None,
    recollapse_height: float = 0.15,
    recollapse_angle: float = 10.0,
    normal_ratio: float = 0.80,
    max_gap: int = 3,
    min_loss: float = 0.02,
) -> Restoration:
    """Height restoration and kyphosis correction between a pre- and a post-operative image.

    Parameters
    ----------
    pre, post : Morphometry
        The same patient before and after the procedure, in the same unit.
    follow_up : Morphometry, optional
        A later image: loss of the restored height and re-collapse.
    treated : iterable of str, optional
        Levels that were treated. They never serve as reference, and when given only
        they are reported; by default every level present in both images is reported.
    recollapse_height, recollapse_angle : float
        Re-collapse when a height falls by at least this fraction, or the wedge angle or
        local kyphosis grows by at least this many degrees, from post to follow-up
        (Yu 2017: 0.15 and 10 deg).
    normal_ratio, max_gap : float, int
        A reference neighbour must have Ha/Hp and Hm/Hp >= ``normal_ratio`` in the pre
        image, be untreated, and lie within ``max_gap`` levels.
    min_loss : float
        A pre-operative loss below this fraction of the reference height counts as
        nothing lost (``restored_x`` NaN): a fraction of a loss smaller than the
        measurement precision (REFERENCE.md section 6) is noise. Default 0.02 [D].

    Returns
    -------
    Restoration
        Per level: ``level, unit``; for x in a, m, p: ``hx_pre, hx_post, delta_hx`` (mm
        or px restored), ``reference_hx`` (Ĥx), ``preop_loss_x`` ((Ĥx - Hx,pre)/Ĥx),
        ``restored_x`` (fraction of lost height regained, NaN when nothing was lost, with
        ``restored_note``); ``reference_source``; ``level_guessed`` (the level name is a
        detector's guess in one of the images: warned); ``wedge_angle_pre/post/correction``
        and ``local_kyphosis_pre/post/correction`` (deg, pre - post, + = kyphosis
        reduced); with ``follow_up``: ``hx_fu, loss_x`` ((Hx,post - Hx,fu)/Hx,post),
        ``wedge_angle_fu, angle_loss`` (fu - post), ``local_kyphosis_fu,
        local_kyphosis_loss``, ``recollapse``.

    Warns
    -----
    PlausibilityWarning
        When the images' spacing sources or patient positions differ, a level name was
        guessed by the detector, or a result lies far outside the published magnitudes
        (:data:`PUBLISHED_LIMITS`).

    References
    ----------
    REFERENCE.md section 5: Lieberman et al. 2001; Winkelmann et al. 2018; Yu et al. 2017.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> def spine(ha):
    ...     mid = box.copy(); mid[2:4, 1] = [15 - ha / 2, 15 + ha / 2]
    ...     return vm.Landmarks({"T12": box, "L1": mid + [0, 36], "L2": box + [0, 72]})
    >>> r = vm.compare(vm.measure(spine(18.0)), vm.measure(spine(24.0))).to_records()[1]
    >>> r["level"], r["delta_ha"], r["restored_a"]
    ('L1', 6.0, 0.5)
    """
    for name, m in (("pre", pre), ("post", post), ("follow_up", follow_up)):
        if m is not None and not hasattr(m, "ha"):
            raise VcfMeasureError(f"compare({name}=...) needs a Morphometry from vcfmeasure.measure")
    images = [("pre", pre), ("post", post)] + ([("follow_up", follow_up)] if follow_up else [])
    units = {m.unit for _, m in images}
    if len(units) > 1:
        raise VcfMeasureError(
            "compare: the images are in different units ("
            + ", ".join(f"{n} {m.unit}" for n, m in images)
            + "); give every image a spacing in mm, or none"
        )
    notes: list[str] = []
    sources = {m.spacing_source for _, m in images}
    if len(sources) > 1:
        notes.append(
            "spacing sources differ (" + "; ".join(f"{n}: {m.spacing_source}" for n, m in images)
            + "): height changes in mm may reflect calibration, not the vertebra"
        )
    positions = {n: m.metadata.get("patient_position") for n, m in images}
    if len({p for p in positions.values() if p}) > 1:
        notes.append(
            "patient positions differ (" + ", ".join(f"{n}: {p}" for n, p in positions.items())
            + "); heights and kyphosis change with position (REFERENCE.md section 5)"
        )
    treated_set = {normalize_level(t) for t in treated} if treated is not None else set()
    missing = treated_set - set(pre.levels) - set(post.levels)
    if missing:
        raise VcfMeasureError(f"{sorted(missing)[0]}: treated level is in neither image")
    common = [lv for lv in pre.levels if lv in set(post.levels)
              and (follow_up is None or lv in set(follow_up.levels))]
    if treated is not None:
        common = [lv for lv in common if lv in treated_set]
    if not common:
        raise VcfMeasureError(
            "compare: no level is present in every image ("
            + "; ".join(f"{n}: {', '.join(m.levels) or 'none'}" for n, m in images) + ")"
        )
    eligible = np.array(
        [lv not in treated_set for lv in pre.levels]
    ) & (pre.wedge_ratio >= normal_ratio - 1e-12) & (pre.biconcavity_ratio >= normal_ratio - 1e-12)
    ref_all, src_all = _reference(pre, eligible, max_gap)
    ipre, ipost = _positions(pre, common), _positions(post, common)
    ref = ref_all[ipre]
    cols: dict[str, Any] = {"level": common, "unit": [pre.unit] * len(common)}
    notes_per_level: list[list[str]] = [[] for _ in common]
    for k, x in enumerate(_H):
        h_pre = getattr(pre, f"h{x}")[ipre]
        h_post = getattr(post, f"h{x}")[ipost]
        lost = ref[:, k] - h_pre
        was_lost = lost > min_loss * ref[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            restored = np.where(was_lost, (h_post - h_pre) / lost, np.nan)
        for i in np.flatnonzero(~was_lost):
            notes_per_level[i].append(
                f"h{x}: no height lost against the reference (< {min_loss:.0%})")
        cols[f"h{x}_pre"] = h_pre
        cols[f"h{x}_post"] = h_post
        cols[f"delta_h{x}"] = h_post - h_pre
        cols[f"reference_h{x}"] = ref[:, k]
        cols[f"preop_loss_{x}"] = lost / ref[:, k]
        cols[f"restored_{x}"] = restored
    cols["reference_source"] = [src_all[i] for i in ipre]
    cols["level_guessed"] = _guessed(images, common, notes)
    cols["restored_note"] = ["; ".join(n) for n in notes_per_level]
    for col in ("wedge_angle", "local_kyphosis"):
        src = "local_kyphosis_cobb" if col == "local_kyphosis" else col
        a_pre, a_post = getattr(pre, src)[ipre], getattr(post, src)[ipost]
        cols[f"{col}_pre"] = a_pre
        cols[f"{col}_post"] = a_post
        cols[f"{col}_correction"] = a_pre - a_post
    if follow_up is not None:
        ifu = _positions(follow_up, common)
        collapse = np.zeros(len(common), dtype=bool)
        for x in _H:
            h_post, h_fu = cols[f"h{x}_post"], getattr(follow_up, f"h{x}")[ifu]
            cols[f"h{x}_fu"] = h_fu
            cols[f"loss_{x}"] = (h_post - h_fu) / h_post
            collapse |= cols[f"loss_{x}"] >= recollapse_height
        for col, src in (("wedge_angle", "wedge_angle"), ("local_kyphosis", "local_kyphosis_cobb")):
            fu = getattr(follow_up, src)[ifu]
            cols[f"{col}_fu"] = fu
            loss = fu - cols[f"{col}_post"]
            cols["angle_loss" if col == "wedge_angle" else "local_kyphosis_loss"] = loss
            collapse |= np.nan_to_num(loss) >= recollapse_angle
        cols["recollapse"] = collapse
    _plausibility(cols, pre.unit, notes)
    for note in notes:
        warnings.warn(f"compare: {note}", PlausibilityWarning, stacklevel=2)
    return Restoration(common, cols, unit=pre.unit, spacing_source=pre.spacing_source,
                       warnings_=notes)


def _guessed(images: list[tuple[str, Any]], common: list[str], notes: list[str]) -> list[bool]:
    """Per compared level, whether its name is a detector's guess in any image (noted)."""
    out = []
    for lv in common:
        where = [n for n, m in images if m.landmarks.provenance[lv].level_guessed]
        out.append(bool(where))
        if where:
            notes.append(
                f"{lv}: level name guessed by the detector in {', '.join(where)}: the images "
                "may compare different vertebrae; confirm the levels (detect_landmarks("
                "levels=...)) before reading the change"
            )
    return out


def _plausibility(cols: dict[str, Any], unit: str, notes: list[str]) -> None:
    lim = PUBLISHED_LIMITS
    for i, level in enumerate(cols["level"]):
        big = []
        for x in _H:
            d = cols[f"delta_h{x}"][i]
            if unit == "mm" and abs(d) > lim["delta_mm"]:
                big.append(f"h{x} changed by {d:+.1f} mm")
            f = cols[f"restored_{x}"][i]
            if np.isfinite(f) and abs(f) > lim["restored_fraction"]:
                big.append(f"{f:.0%} of lost h{x} restored")
        for col in ("wedge_angle_correction", "local_kyphosis_correction"):
            a = cols[col][i]
            if np.isfinite(a) and abs(a) > lim["angle_deg"]:
                big.append(f"{col.replace('_', ' ')} {a:+.1f} deg")
        if big:
            notes.append(
                f"{level}: {', '.join(big)} — far outside published magnitudes (Lieberman "
                "2001: +2.9 mm, 46.8 % of lost height; kyphosis reduction about 3-5 deg); "
                "check the landmarks and that both images are of the same spine"
            )
