"""Pre/post kyphoplasty or vertebroplasty comparison, and follow-up re-collapse.

docs/reference.md section 5.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._errors import PlausibilityWarning, VcfMeasureError
from ._table import ResultTable
from .levels import LEVELS, normalize_level

__all__ = ["compare", "Restoration", "PUBLISHED_LIMITS"]

#: Beyond these a result is flagged with a PlausibilityWarning: far outside the published
#: magnitudes of docs/reference.md section 5 (Lieberman 2001 +2.9 mm / 46.8 %; J Orthop Trauma
#: 2004 +4.6 mm anterior; Papanastassiou 2012 4.8 deg kyphosis reduction).
PUBLISHED_LIMITS = {"delta_mm": 15.0, "restored_fraction": 1.5, "angle_deg": 25.0}

_H = ("a", "m", "p")
_GENANT = frozenset(LEVELS[LEVELS.index("T4") : LEVELS.index("L4") + 1])


def _positions(morph: Any, levels: list[str]) -> np.ndarray:
    pos = {lv: i for i, lv in enumerate(morph.levels)}
    return np.array([pos[lv] for lv in levels], dtype=np.int64)


class Restoration(ResultTable):
    """Height restoration and kyphosis correction per treated (or common) level.

    Made by :func:`compare`; see there for the columns. ``warnings_`` lists the
    comparability and plausibility warnings that were issued.
    """

    def __init__(self, levels: list[str], columns: dict[str, Any], *, unit: str,
                 spacing_source: str, warnings_: list[str], incident: Any = None,
                 spacing: tuple[float, float] | None = None) -> None:
        self.levels = tuple(levels)
        self.unit = unit
        #: The pre-procedure image's spacing ``(row_mm, col_mm)`` (None: lengths in px);
        #: written with ``spacing_source`` into every CSV row.
        self.spacing = spacing
        self.spacing_source = spacing_source
        self.warnings_ = warnings_
        self._columns = columns
        #: With ``follow_up`` and known treated levels: the other levels' new fractures
        #: (:class:`vcfmeasure.procedures.IncidentFractures`), adjacent first; else None.
        self.incident = incident

    def by_procedure(self) -> list[dict[str, Any]]:
        """Mean restoration per procedure type (:func:`vcfmeasure.procedures.restoration_by_procedure`)."""
        from .procedures import restoration_by_procedure

        return restoration_by_procedure(self)

    def __repr__(self) -> str:
        return f"<Restoration {len(self.levels)} levels, unit={self.unit}>"


def _reference(pre: Any, untreated: np.ndarray, reference: str, normal_ratio: float,
               max_gap: int) -> tuple[np.ndarray, list[str]]:
    """Expected heights (N, 3) in the pre image and the levels that gave them.

    The engine of :func:`vcfmeasure.grade`, so a strategy means the same in both.
    """
    from .grading import grade_arrays

    g = grade_arrays(pre.ha, pre.hm, pre.hp, pre.area, pre.level_index,
                     gradable=~pre.landmarks.needs_review, may_reference=untreated,
                     reference=reference, normal_ratio=normal_ratio, max_gap=max_gap)
    ref = np.stack([g["expected_ha"], g["expected_hm"], g["expected_hp"]], axis=1)
    used = []
    for u, d in zip(g["ref_above"], g["ref_below"], strict=True):
        names = [pre.levels[j] for j in (u, d) if j >= 0]
        used.append("+".join(names) if names else "own hp")
    return ref, used


def _source_text(reference: str, used: str) -> str:
    if used == "own hp":
        return used
    names = used.split("+")
    if len(names) == 1:
        return names[0]
    word = "mean" if reference in ("neighbour_mean", "adjacent_mean") else reference
    return f"{word} of {names[0]} and {names[1]}"


def compare(
    pre: Any,
    post: Any,
    *,
    follow_up: Any = None,
    treated: Iterable[str] | None = None,
    reference: str = "neighbour_mean",
    recollapse_height: float = 0.15,
    recollapse_angle: float = 10.0,
    normal_ratio: float = 0.80,
    max_gap: int = 3,
    min_loss: float = 0.02,
    procedures: Any = None,
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
    reference : str
        How the expected height Ĥ is found in the pre image: a key of
        :data:`vcfmeasure.grading.REFERENCE_STRATEGIES`, computed exactly as
        :func:`vcfmeasure.grade` does (treated levels excluded as references). Default
        ``"neighbour_mean"``, the kyphoplasty literature's: the mean of the same height
        in the nearest normal, untreated vertebrae above and below, else one of them,
        else own Hp. ``reference="radelement"`` makes ``preop_loss_x`` equal
        ``grade``'s ``reduction_x``; restored fractions depend on this choice (see
        ``docs/measurement.md``).
    recollapse_height, recollapse_angle : float
        Re-collapse when a height falls by at least this fraction, or the wedge angle or
        local kyphosis grows by at least this many degrees, from post to follow-up
        (Yu 2017: 0.15 and 10 deg).
    normal_ratio, max_gap : float, int
        A reference neighbour must have Ha/Hp and Hm/Hp >= ``normal_ratio`` in the pre
        image, an Hp not reduced against the spine around it (as in
        :func:`vcfmeasure.grade`), be untreated, and lie within ``max_gap`` levels.
    min_loss : float
        A pre-operative loss below this fraction of the reference height counts as
        nothing lost (``restored_x`` NaN): a fraction of a loss smaller than the
        measurement precision (docs/reference.md section 6) is noise. Default 0.02 [D].
    procedures : dict, optional
        Level -> procedure (``"vertebroplasty"``, ``"kyphoplasty"``, ``"implant"`` or free
        text): a ``procedure`` column, :meth:`Restoration.by_procedure`, and (without
        ``treated``) the treated levels.

    Returns
    -------
    Restoration
        Per level: ``level, unit``; for x in a, m, p: ``hx_pre, hx_post, delta_hx`` (mm
        or px restored), ``reference_hx`` (Ĥx), ``preop_loss_x`` ((Ĥx - Hx,pre)/Ĥx),
        ``restored_x`` (fraction of lost height regained, NaN when nothing was lost, with
        ``restored_note``); ``reference`` (the strategy), ``reference_levels`` (the
        neighbour levels used, ``"T12+L2"`` or ``"own hp"``), ``reference_source`` (the
        same in words); ``outside_genant_range``; ``level_guessed`` (the level name is a
        detector's guess in one of the images: warned); ``wedge_angle_pre/post/correction``
        and ``local_kyphosis_pre/post/correction`` (deg, pre - post, + = kyphosis
        reduced); with ``follow_up``: ``hx_fu, loss_x`` ((Hx,post - Hx,fu)/Hx,post),
        ``wedge_angle_fu, angle_loss`` (fu - post), ``local_kyphosis_fu,
        local_kyphosis_loss``, ``recollapse``; with ``procedures``: ``procedure``; with
        ``follow_up`` and treated levels: ``adjacent_new_fractures`` (";"-joined levels
        next to this one with a new or worsened fracture) and ``Restoration.incident``,
        every level's incident fracture, adjacent levels first (docs/cement.md).

    Warns
    -----
    PlausibilityWarning
        When the images' spacing sources or patient positions differ, a level name was
        guessed by the detector, or a result lies far outside the published magnitudes
        (:data:`PUBLISHED_LIMITS`).

    References
    ----------
    docs/reference.md section 5: Lieberman et al. 2001; Winkelmann et al. 2018; Yu et al.
    2017.

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
    from ._checks import check_compare

    check_compare(pre, post, follow_up, treated, {"min_loss": min_loss, "recollapse_height":
                  recollapse_height, "recollapse_angle": recollapse_angle,
                  "normal_ratio": normal_ratio}, max_gap)
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
            + "); heights and kyphosis change with position (docs/reference.md section 5)"
        )
    from .procedures import normalize_procedures

    procs = normalize_procedures(procedures)
    if treated is None and procs:
        treated = list(procs)
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
    untreated = np.array([lv not in treated_set for lv in pre.levels], dtype=bool)
    ref_all, used_all = _reference(pre, untreated, reference, normal_ratio, max_gap)
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
    cols["reference"] = [reference] * len(common)
    cols["reference_levels"] = [used_all[i] for i in ipre]
    cols["reference_source"] = [_source_text(reference, used_all[i]) for i in ipre]
    cols["outside_genant_range"] = [lv not in _GENANT for lv in common]
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
    if procs:
        cols["procedure"] = [procs.get(lv, "") for lv in common]
    incident = None
    if follow_up is not None and treated_set:
        from .procedures import adjacent_fractures

        incident = adjacent_fractures(post, follow_up, treated=treated_set,
                                      recollapse_height=recollapse_height)
        new = [(lv, near) for lv, near, d, f in zip(incident.levels, incident.adjacent_to,
                                                    incident.distance, incident.new_fracture,
                                                    strict=True) if f and d == 1]
        cols["adjacent_new_fractures"] = [";".join(a for a, near in new if near == lv)
                                          for lv in common]
    _plausibility(cols, pre.unit, notes)
    for note in notes:
        warnings.warn(f"compare: {note}", PlausibilityWarning, stacklevel=2)
    return Restoration(common, cols, unit=pre.unit, spacing_source=pre.spacing_source,
                       warnings_=notes, incident=incident, spacing=pre.spacing)


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
