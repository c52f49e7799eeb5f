"""After the procedure: restoration by procedure type, new fractures at other levels.

:func:`adjacent_fractures` lists, for a follow-up film, the new or worsened fractures at
the untreated levels, adjacent levels first, next to each treated level's re-collapse;
:func:`restoration_by_procedure` summarises a :class:`~vcfmeasure.Restoration` per
procedure type. Both are used by :func:`vcfmeasure.compare` (``procedures=`` and
``follow_up=``) and documented in ``docs/cement.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._errors import VcfMeasureError
from ._table import ResultTable
from .levels import LEVELS, normalize_level

__all__ = ["adjacent_fractures", "restoration_by_procedure", "IncidentFractures",
           "normalize_procedures", "parse_procedures", "CEMENT_COLUMNS"]

#: Columns :func:`vcfmeasure.cement.measure_cement` adds to a compare table (batch, CLI).
CEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cement", "bool"),
    ("cement_area", "float"),
    ("cement_fill", "float"),
    ("cement_extent_cc", "float"),
    ("cement_extent_ap", "float"),
    ("contact_superior", "bool"),
    ("contact_inferior", "bool"),
    ("implant", "bool"),
    ("leaks", "int"),
    ("leaks_uncertain", "int"),
    ("leak_kinds", "str"),
    ("leak_max_size", "float"),
    ("leak_area", "float"),
)


def normalize_procedures(procedures: Mapping[str, str] | None) -> dict[str, str]:
    """Level -> procedure text with the level names normalised (``"l1"`` -> ``"L1"``).

    Examples
    --------
    >>> normalize_procedures({"l1": " kyphoplasty "})
    {'L1': 'kyphoplasty'}
    """
    out = {}
    for lv, p in (procedures or {}).items():
        if not isinstance(p, str) or not p.strip():
            raise VcfMeasureError(f"{lv}: a procedure is a non-empty text such as 'kyphoplasty'")
        out[normalize_level(lv)] = p.strip()
    return out


def parse_procedures(text: str, treated: Iterable[str] | None) -> dict[str, str]:
    """A manifest ``procedure`` cell: ``"kyphoplasty"`` or ``"L1=kyphoplasty; L2=implant"``.

    A bare name applies to every treated level (and needs them); pairs are separated by
    ``;`` and written ``level=procedure`` or ``level:procedure``.

    Examples
    --------
    >>> parse_procedures("L1=kyphoplasty; l2: Kiva implant", None)
    {'L1': 'kyphoplasty', 'L2': 'Kiva implant'}
    >>> parse_procedures("vertebroplasty", ["T12", "L1"])
    {'T12': 'vertebroplasty', 'L1': 'vertebroplasty'}
    """
    text = (text or "").strip()
    if not text:
        return {}
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not any("=" in p or ":" in p for p in parts):
        if not treated:
            raise VcfMeasureError(
                f"procedure {text!r} names no level: give the treated levels or write "
                "'L1=kyphoplasty'")
        return normalize_procedures(dict.fromkeys(treated, text))
    pairs = {}
    for p in parts:
        sep = "=" if "=" in p else ":"
        if sep not in p:
            raise VcfMeasureError(f"procedure {p!r}: write level=procedure, e.g. 'L1=kyphoplasty'")
        lv, name = p.split(sep, 1)
        pairs[lv.strip()] = name
    return normalize_procedures(pairs)


class IncidentFractures(ResultTable):
    """New or worsened fractures between post-procedure and follow-up; see :func:`adjacent_fractures`."""

    def __init__(self, columns: dict[str, Any], *, unit: str) -> None:
        self.levels = tuple(columns["level"])
        self.unit = unit
        self._columns = columns

    def __repr__(self) -> str:
        n = int(np.sum(self._columns["new_fracture"])) if self.levels else 0
        return f"<IncidentFractures {len(self.levels)} levels, {n} new or worsened>"


def adjacent_fractures(
    post: Any,
    follow_up: Any,
    *,
    treated: Iterable[str],
    fit_fraction: float = 0.20,
    fit_mm: float = 4.0,
    recollapse_height: float = 0.15,
    reference: str = "radelement",
) -> IncidentFractures:
    """Incident fractures at the other levels, adjacent to the treated ones first.

    A level has a new (or worsened) fracture when its Genant grade rose by at least one
    (SQ) or a height fell by at least ``fit_fraction`` and ``fit_mm`` (FIT 20 % / 4 mm
    rule, mm only) from the post-procedure film to the follow-up
    (:func:`vcfmeasure.criteria.incident_fractures`). Treated levels are listed too,
    with their own re-collapse (a height lost by ``recollapse_height`` or more).

    Parameters
    ----------
    post, follow_up : Morphometry
        The post-procedure and follow-up films of one patient.
    treated : iterable of str
        The treated (cemented) levels.

    Returns
    -------
    IncidentFractures
        One row per level in both films, ordered by ``distance`` (levels to the nearest
        treated level; 0 = treated, 1 = adjacent) then cranial -> caudal: ``level, unit,
        treated, distance, adjacent_to`` (nearest treated level), ``grade_post,
        grade_fu, sq_incident, fit_incident`` (NaN without mm), ``max_fall`` (largest
        height fall, unit), ``max_fall_fraction``, ``new_fracture`` (untreated: SQ or FIT),
        ``recollapse`` (treated: a height fell by ``recollapse_height``).

    References
    ----------
    Genant et al. 1993 (SQ); Black et al. 1996 (FIT 20 % and 4 mm); Lindsay et al. 2001
    (after a first vertebral fracture ~5x the risk of another in the next year).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [50, 0], [100, 0], [100, 150], [50, 150], [0, 150]], float)
    >>> low = box.copy(); low[3, 1] = 90.0
    >>> t1 = vm.measure(vm.Landmarks({"L1": box, "L2": box + [0, 200]}), spacing=0.2)
    >>> t2 = vm.measure(vm.Landmarks({"L1": low, "L2": box + [0, 200]}), spacing=0.2)
    >>> r = adjacent_fractures(t1, t2, treated=["L2"]).to_records()
    >>> [(x["level"], x["distance"], bool(x["new_fracture"])) for x in r]
    [('L2', 0, False), ('L1', 1, True)]
    """
    from .criteria import incident_fractures

    treated_set = {normalize_level(t) for t in treated}
    inc = incident_fractures(post, follow_up, fit_fraction=fit_fraction, fit_mm=fit_mm,
                             reference=reference)
    levels = list(inc.levels)
    if not treated_set:
        raise VcfMeasureError("adjacent_fractures: name the treated levels (treated=...)")
    t_idx = np.array([LEVELS.index(t) for t in treated_set])
    l_idx = np.array([LEVELS.index(lv) for lv in levels])
    gap = np.abs(l_idx[:, None] - t_idx[None, :])
    dist = gap.min(axis=1)
    nearest = [LEVELS[t_idx[k]] for k in gap.argmin(axis=1)]
    unit = post.unit
    falls = np.stack([inc._columns[f"fall_{x}_{unit}"] for x in "amp"], axis=1)
    fracs = np.stack([inc._columns[f"fall_{x}_fraction"] for x in "amp"], axis=1)
    is_treated = np.array([lv in treated_set for lv in levels])
    sq = np.asarray(inc._columns["sq_incident"], dtype=bool)
    fit = np.asarray(inc._columns["fit_incident"], dtype=float)
    incident = sq | (np.nan_to_num(fit) > 0)
    order = np.lexsort((l_idx, dist))
    cols: dict[str, Any] = {
        "level": [levels[i] for i in order],
        "unit": [unit] * len(levels),
        "treated": is_treated[order],
        "distance": dist[order],
        "adjacent_to": [nearest[i] for i in order],
        "grade_post": np.asarray(inc._columns["grade_baseline"])[order],
        "grade_fu": np.asarray(inc._columns["grade_follow_up"])[order],
        "sq_incident": sq[order],
        "fit_incident": fit[order] if unit == "mm" else np.full(len(levels), np.nan),
        "max_fall": falls.max(axis=1)[order],
        "max_fall_fraction": fracs.max(axis=1)[order],
        "new_fracture": (incident & ~is_treated)[order],
        "recollapse": (is_treated & (fracs.max(axis=1) >= recollapse_height))[order],
    }
    return IncidentFractures(cols, unit=unit)


def restoration_by_procedure(restoration: Any) -> list[dict[str, Any]]:
    """Mean restoration per procedure type of a :func:`vcfmeasure.compare` result.

    Returns
    -------
    list of dict
        One per procedure (``""`` = not recorded): ``procedure, levels`` (count),
        ``restored_a, restored_m, restored_p`` (mean fraction of lost height regained,
        NaN levels skipped), ``delta_ha`` (mean, unit), ``wedge_angle_correction``
        (mean, deg), ``unit``.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> low = box.copy(); low[2:4, 1] = [6.0, 24.0]
    >>> lm = lambda mid: vm.Landmarks({"T12": box, "L1": mid + [0, 36], "L2": box + [0, 72]})
    >>> r = vm.compare(vm.measure(lm(low)), vm.measure(lm(box)), procedures={"L1": "kyphoplasty"})
    >>> s = restoration_by_procedure(r)[0]
    >>> s["procedure"], s["levels"], s["restored_a"]
    ('kyphoplasty', 1, 1.0)
    """
    cols = restoration._columns
    procs = list(cols.get("procedure", [""] * len(restoration.levels)))
    out = []
    for name in dict.fromkeys(procs):
        sel = np.array([p == name for p in procs])
        row: dict[str, Any] = {"procedure": name, "levels": int(sel.sum())}
        for col in ("restored_a", "restored_m", "restored_p", "delta_ha", "wedge_angle_correction"):
            v = np.asarray(cols[col], dtype=float)[sel]
            v = v[np.isfinite(v)]
            row[col] = float(v.mean()) if v.size else float("nan")
        row["unit"] = restoration.unit
        out.append(row)
    return out
