"""Genant semi-quantitative grading from measured heights (docs/reference.md section 2)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._errors import DomainWarning, VcfMeasureError
from ._table import ResultTable
from .geometry import nearest_indices
from .geometry._neighbours import _with_sentinel
from .levels import LEVELS

__all__ = [
    "grade",
    "Grades",
    "grade_arrays",
    "REFERENCE_STRATEGIES",
    "GRADE_CUTS",
    "DEFORMITY_TYPES",
    "spinal_deformity_index",
    "GENANT_LEVELS",
    "LEVEL_GROWTH",
    "posterior_height_reduced",
    "sdi_levels",
]

#: Expected-height strategies (docs/reference.md section 2): name -> one-line description.
REFERENCE_STRATEGIES: dict[str, str] = {
    "radelement": "ACR/RSNA RadElement: max(nearest normal neighbour(s), own Hp) for a and m; "
    "nearest normal neighbour(s) for p (interpolated by level distance when on both sides)",
    "buckens": "Buckens 2013: nearest unfractured vertebra, cranial preferred",
    "neighbour_mean": "mean of the same height in the nearest normal vertebrae above and "
    "below, else one of them, else own Hp (kyphoplasty papers)",
    "adjacent_mean": "mean of the same height in the adjacent vertebrae above and below (LOVBH)",
    "intravertebral": "QM: own Hp for a and m; mean Hp of the adjacent vertebrae for p",
}
#: Strategies whose reference vertebrae must be normal (ratios and posterior height).
_NORMAL_NEIGHBOUR_STRATEGIES = ("radelement", "buckens", "neighbour_mean")
#: Levels Genant's method and the spinal deformity index were defined on.
GENANT_LEVELS: tuple[str, ...] = LEVELS[LEVELS.index("T4") : LEVELS.index("L4") + 1]
#: Largest natural growth of posterior body height per level, cranial -> caudal, allowed
#: when a caudal body is the size reference of a cranial one [D] (docs/reference.md §2).
LEVEL_GROWTH = 1.04
_C2, _T4, _L4 = LEVELS.index("C2"), LEVELS.index("T4"), LEVELS.index("L4")
#: Lower edges of grades 1, 2 and 3 (half-open bands [0, .20) [.20, .25) [.25, .40) [.40, inf)).
GRADE_CUTS: tuple[float, float, float] = (0.20, 0.25, 0.40)
#: Morphological type of the height with the largest reduction (a, m, p), or normal.
DEFORMITY_TYPES = ("wedge", "biconcave", "crush")
_TIE_BREAK = np.array([0.0, 1e-12, 2e-12])


def posterior_height_reduced(
    hp: np.ndarray,
    level_idx: np.ndarray,
    *,
    spine_id: np.ndarray | None = None,
    usable: np.ndarray | None = None,
    normal_ratio: float = 0.80,
    max_gap: int = 3,
    growth: float = LEVEL_GROWTH,
) -> np.ndarray:
    """Whether each body's posterior height is reduced against the spine around it.

    A uniformly crushed body keeps normal intra-vertebral ratios, so ratios alone would
    take it for a normal reference. Here each body's Hp is compared with the bodies
    within ``max_gap`` levels of it: a cranial body's Hp as it is (bodies do not shrink
    going caudally), a caudal body's Hp divided by ``growth`` per level between them (it
    is naturally larger). The body is reduced when its Hp is below ``normal_ratio`` times
    the largest of these: one normal body within reach is enough, however many
    neighbours are crushed. C2 (its body includes the dens) is never a size reference.

    Parameters
    ----------
    hp : ndarray, shape (N,)
        Posterior heights, any one unit.
    level_idx : ndarray of int, shape (N,)
        Positions in :data:`vcfmeasure.LEVELS`, sorted within each spine.
    spine_id : ndarray, shape (N,), optional
    usable : ndarray of bool, shape (N,), optional
        Rows that may serve as size references (default all).
    normal_ratio : float
        The 20 % rule's 0.80.
    max_gap : int
        Largest level distance to a size reference.
    growth : float
        Per-level factor allowed for caudal bodies (:data:`LEVEL_GROWTH`).

    Returns
    -------
    ndarray of bool, shape (N,)
        False where no other body lies within reach.

    References
    ----------
    docs/reference.md section 2 (the normal-neighbour rule, a vcfmeasure default).

    Examples
    --------
    Two adjacent crushed bodies (T12, L1) between normal T11 and L2:

    >>> hp = np.array([24.0, 14.0, 15.0, 27.0])
    >>> posterior_height_reduced(hp, np.array([17, 18, 19, 20]))
    array([False,  True,  True, False])
    """
    hp = np.asarray(hp, dtype=float)
    li = np.asarray(level_idx, dtype=np.int64)
    n = li.size
    sid = np.zeros(n, dtype=np.int64) if spine_id is None else np.asarray(spine_id)
    use = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    use = use & (li != _C2) & np.isfinite(hp)
    best = np.full(n, np.nan)
    # levels are unique within a spine, so a body within max_gap levels is within max_gap rows
    for k in range(1, min(max_gap, max(n - 1, 0)) + 1):
        i, j = slice(0, n - k), slice(k, n)  # row j is k rows caudal of row i
        gap = li[j] - li[i]
        near = (sid[i] == sid[j]) & (gap <= max_gap)
        # j as the reference of i (caudal: scaled down) and i as the reference of j (cranial)
        caudal = np.where(near & use[j], hp[j] * growth ** -gap.astype(float), np.nan)
        cranial = np.where(near & use[i], hp[i], np.nan)
        np.fmax(best[i], caudal, out=best[i])
        np.fmax(best[j], cranial, out=best[j])
    with np.errstate(invalid="ignore"):
        return hp < (normal_ratio - 1e-12) * best


def grade_arrays(
    ha: np.ndarray,
    hm: np.ndarray,
    hp: np.ndarray,
    area: np.ndarray,
    level_idx: np.ndarray,
    *,
    spine_id: np.ndarray | None = None,
    gradable: np.ndarray | None = None,
    may_reference: np.ndarray | None = None,
    reference: str = "radelement",
    normal_ratio: float = 0.80,
    max_gap: int = 3,
    borderline_margin: float = 0.02,
) -> dict[str, np.ndarray]:
    """Genant grades of many vertebrae as arrays: the engine behind :func:`grade`.

    Parameters
    ----------
    ha, hm, hp, area : ndarray, shape (N,)
        Heights (any one unit) and projected areas.
    level_idx : ndarray of int, shape (N,)
        Positions in :data:`vcfmeasure.LEVELS`, sorted within each spine.
    spine_id : ndarray, shape (N,), optional
    gradable : ndarray of bool, shape (N,), optional
        False for vertebrae flagged for review: they get no grade and serve as no
        reference.
    may_reference : ndarray of bool, shape (N,), optional
        False for vertebrae that must not serve as reference although they are graded
        (treated levels in :func:`vcfmeasure.compare`).
    reference : str
        A key of :data:`REFERENCE_STRATEGIES`.
    normal_ratio : float
        A vertebra is "normal" (may serve as reference) when Ha/Hp and Hm/Hp are both
        at least this and its Hp is not reduced by more than ``1 - normal_ratio``
        against the spine around it (:func:`posterior_height_reduced`).
    max_gap : int
        Largest level distance to a reference vertebra.
    borderline_margin : float
        Flag reductions within this distance of a grade cut.

    Returns
    -------
    dict of ndarray
        ``expected_ha expected_hm expected_hp reduction_a reduction_m reduction_p
        height_loss grade (float, NaN when not gradable) deformity_index (0 a, 1 m, 2 p)
        borderline expected_area area_reduction ref_above ref_below`` (reference rows,
        -1 when unused).

    Examples
    --------
    Three lumbar levels; the middle one lost 30 % of its anterior height:

    >>> ha, hm, hp = np.array([30., 21, 30]), np.array([29., 28, 29]), np.array([30., 30, 30])
    >>> g = grade_arrays(ha, hm, hp, np.full(3, 900.), np.array([18, 19, 20]))
    >>> g["grade"], g["height_loss"].round(2)
    (array([0., 2., 0.]), array([0.03, 0.3 , 0.03]))
    """
    if reference not in REFERENCE_STRATEGIES:
        raise VcfMeasureError(
            f"unknown reference strategy {reference!r}; use one of "
            f"{', '.join(REFERENCE_STRATEGIES)}"
        )
    ha, hm, hp = (np.asarray(v, dtype=float) for v in (ha, hm, hp))
    li = np.asarray(level_idx, dtype=np.int64)
    n = li.size
    ok = np.ones(n, dtype=bool) if gradable is None else np.asarray(gradable, dtype=bool)
    refs_ok = ok if may_reference is None else ok & np.asarray(may_reference, dtype=bool)
    if reference in _NORMAL_NEIGHBOUR_STRATEGIES:
        # a ratio of exactly normal_ratio counts as normal, whatever the rounding
        cut = (normal_ratio - 1e-12) * hp
        eligible = refs_ok & (ha >= cut) & (hm >= cut)
        eligible &= ~posterior_height_reduced(hp, li, spine_id=spine_id, usable=ok,
                                              normal_ratio=normal_ratio, max_gap=max_gap)
        up, down = nearest_indices(li, eligible, spine_id, max_gap=max_gap)
    else:
        up, down = nearest_indices(li, refs_ok, spine_id, max_gap=1)
    # row n is a zero sentinel: index -1 (no reference) reads it, with weight 0
    h = np.empty((n + 1, 4))
    h[:n, 0], h[:n, 1], h[:n, 2], h[:n, 3] = ha, hm, hp, np.asarray(area, dtype=float)
    h[n] = 0.0
    if reference == "buckens":
        down = np.where(up >= 0, -1, down)
    has_up, has_dn = up >= 0, down >= 0
    # weight of the caudal reference: 1 alone, 0 when only the cranial one, else 1/2 ...
    w_dn = np.where(has_up, np.where(has_dn, 0.5, 0.0), 1.0)
    if reference == "radelement":
        # ... or, with RadElement, by level distance: bodies grow caudally, so the nearer
        # normal body alone misstates the expected size (equal distances: the mean)
        li_ext = _with_sentinel(li, 0)
        d_up, d_dn = li - li_ext[up], li_ext[down] - li
        with np.errstate(invalid="ignore", divide="ignore"):
            w_dn = np.where(has_up & has_dn, d_up / (d_up + d_dn), w_dn)
    w = w_dn[:, None]
    ref = h[up] * (1.0 - w) + h[down] * w
    ref[~(has_up | has_dn)] = np.nan
    own = hp[:, None]
    expected = np.where(np.isnan(ref[:, :3]), own, ref[:, :3])
    if reference == "radelement":
        expected[:, :2] = np.maximum(expected[:, :2], own)
    elif reference == "intravertebral":
        expected[:, :2] = own
    with np.errstate(invalid="ignore", divide="ignore"):
        reduction = 1.0 - h[:n, :3] / expected
        area_reduction = 1.0 - h[:n, 3] / ref[:, 3]
    loss = np.maximum(reduction.max(axis=1), 0.0)
    cuts = np.asarray(GRADE_CUTS)
    # The 1e-12 puts a reduction of exactly 20 % (1 - 0.8 = 0.19999999999999996 in binary
    # floating point) in the band it belongs to.
    grades = np.searchsorted(cuts, loss + 1e-12, side="right").astype(float)
    borderline = (np.abs(loss[:, None] - cuts) < borderline_margin).any(axis=1) & ok
    grades[~ok] = np.nan
    loss[~ok] = np.nan
    return {
        "expected_ha": expected[:, 0],
        "expected_hm": expected[:, 1],
        "expected_hp": expected[:, 2],
        "reduction_a": reduction[:, 0],
        "reduction_m": reduction[:, 1],
        "reduction_p": reduction[:, 2],
        "height_loss": loss,
        "grade": grades,
        # ties (a uniformly collapsed body) go to p, then m: crush, then biconcave
        # near-ties (within rounding error; a uniformly collapsed body) go to p, then m
        "deformity_index": np.argmax(reduction + _TIE_BREAK, axis=1),
        "borderline": borderline,
        "expected_area": ref[:, 3],
        "area_reduction": area_reduction,
        "ref_above": up,
        "ref_below": down,
        "outside_genant_range": (li < _T4) | (li > _L4),
    }


class Grades(ResultTable):
    """Genant SQ grades of the vertebrae of one spine, cranial -> caudal.

    Made by :func:`grade`. ``grades.grade`` is a float array (NaN for a vertebra flagged
    for review, which is not graded); records give ``grade`` as int or ``None``.
    """

    def __init__(self, morphometry: Any, arrays: dict[str, np.ndarray], *, reference: str,
                 borderline_margin: float) -> None:
        self.morphometry = morphometry
        self.levels = morphometry.levels
        self.unit = morphometry.unit
        self.spacing = morphometry.spacing
        self.spacing_source = morphometry.spacing_source
        self.reference = reference
        self.borderline_margin = borderline_margin
        self._arrays = arrays
        self._columns = arrays

    def __repr__(self) -> str:
        counts = {g: int((self.grade == g).sum()) for g in (1, 2, 3)}
        return f"<Grades {len(self.levels)} levels, reference={self.reference!r}, fractures={counts}>"

    @property
    def deformity(self) -> list[str]:
        """``"normal"``, ``"wedge"``, ``"biconcave"``, ``"crush"``, or ``"not graded"``."""
        out = []
        for g, k in zip(self.grade, self.deformity_index, strict=True):
            if np.isnan(g):
                out.append("not graded")
            elif g == 0:
                out.append("normal")
            else:
                out.append(DEFORMITY_TYPES[k])
        return out

    @property
    def spinal_deformity_index(self) -> int:
        """Sum of the grades of T4-L4 (ungraded levels count 0)."""
        return spinal_deformity_index(self)

    def _record_columns(self) -> dict[str, Any]:
        a = self._arrays
        n = len(self.levels)

        def ref_levels(i: int) -> str:
            names = [self.levels[j] for j in (a["ref_above"][i], a["ref_below"][i]) if j >= 0]
            return "+".join(names) if names else "own hp"

        return {
            "level": self.levels,
            "grade": [None if np.isnan(g) else int(g) for g in a["grade"]],
            "deformity": self.deformity,
            "height_loss": a["height_loss"],
            "reference": [self.reference] * n,
            "reference_levels": [ref_levels(i) for i in range(n)],
            "borderline": a["borderline"],
            "reduction_a": a["reduction_a"],
            "reduction_m": a["reduction_m"],
            "reduction_p": a["reduction_p"],
            "expected_ha": a["expected_ha"],
            "expected_hm": a["expected_hm"],
            "expected_hp": a["expected_hp"],
            "area_reduction": a["area_reduction"],
            "unit": [self.unit] * n,
            "spacing_source": [self.spacing_source] * n,
            "needs_review": np.isnan(a["grade"]),
            "outside_genant_range": a["outside_genant_range"],
            "level_guessed": [self.morphometry.landmarks.provenance[lv].level_guessed
                              for lv in self.levels],
        }


def grade(
    morphometry: Any,
    *,
    reference: str = "radelement",
    normal_ratio: float = 0.80,
    max_gap: int = 3,
    borderline_margin: float = 0.02,
) -> Grades:
    """Genant semi-quantitative grade, morphological type and area reduction per vertebra.

    The height reduction of each of Ha, Hm, Hp against an expected height Ĥ is
    ``r = 1 - H/Ĥ``; the grade comes from the largest (``height_loss``) in half-open bands
    [0, .20) -> 0, [.20, .25) -> 1, [.25, .40) -> 2, [.40, inf) -> 3, and the type from
    which height lost most (a -> wedge, m -> biconcave, p -> crush; on a tie p, then m, wins: a uniformly
    collapsed body is a crush).

    Parameters
    ----------
    morphometry : Morphometry
        From :func:`vcfmeasure.measure`.
    reference : {"radelement", "buckens", "neighbour_mean", "adjacent_mean", "intravertebral"}
        How Ĥ is found (see :data:`REFERENCE_STRATEGIES`). Default ``"radelement"``:
        Ĥa = max(Ha of the nearest normal neighbour(s), own Hp), the same for m, and
        Ĥp = Hp of the nearest normal neighbour(s) or own Hp when there is none. With
        normal neighbours above and below, the expected height is interpolated between
        them by level distance (their mean when equally far).
    normal_ratio : float
        A neighbour is normal when its Ha/Hp and Hm/Hp are both >= this (0.80) and its
        Hp is not below this times the Hp of the spine around it, allowing for bodies
        growing cranial -> caudal (:func:`posterior_height_reduced`): a uniformly
        crushed body is no reference for its neighbour.
    max_gap : int
        Neighbours further than this many levels are not used (default 3).
    borderline_margin : float
        ``borderline`` is True when the reduction is within this of a band edge.

    Returns
    -------
    Grades
        Records: ``level, grade, deformity, height_loss, reference, reference_levels,
        borderline, reduction_a/m/p, expected_ha/hm/hp, area_reduction, unit,
        spacing_source, needs_review, outside_genant_range, level_guessed``. Vertebrae
        whose provenance says ``needs_review`` are not graded (grade ``None``, deformity
        ``"not graded"``); ``level_guessed`` is True where the level name is a detector's
        guess.

    References
    ----------
    Genant et al., JBMR 1993;8:1137-48; ACR/RSNA RadElement; Buckens et al. 2013;
    docs/reference.md section 2 (bands and default [D]).

    Warns
    -----
    DomainWarning
        When a level lies outside T4-L4 (column ``outside_genant_range``).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> wedge = np.array([[0, 0], [20, 3], [40, 5], [40, 25], [20, 28], [0, 30]], float)
    >>> lm = vm.Landmarks({"T12": box, "L1": wedge + [0, 36], "L2": box + [0, 72]})
    >>> [(r["level"], r["grade"], r["deformity"]) for r in vm.grade(vm.measure(lm)).to_records()]
    [('T12', 0, 'normal'), ('L1', 2, 'wedge'), ('L2', 0, 'normal')]
    """
    from ._checks import check_grade

    check_grade(morphometry, reference, REFERENCE_STRATEGIES, normal_ratio, max_gap,
                borderline_margin)
    gradable = ~morphometry.landmarks.needs_review
    arrays = grade_arrays(
        morphometry.ha,
        morphometry.hm,
        morphometry.hp,
        morphometry.area,
        morphometry.level_index,
        gradable=gradable,
        reference=reference,
        normal_ratio=normal_ratio,
        max_gap=max_gap,
        borderline_margin=borderline_margin,
    )
    outside = [lv for lv, o in zip(morphometry.levels, arrays["outside_genant_range"],
                                   strict=True) if o]
    if outside:
        warnings.warn(
            f"grade: {', '.join(outside)} outside T4-L4, the levels Genant's method was "
            "defined and validated on; their grades are flagged outside_genant_range and "
            "left out of the spinal deformity index",
            DomainWarning, stacklevel=2,
        )
    return Grades(morphometry, arrays, reference=reference, borderline_margin=borderline_margin)


_SDI_LEVELS = frozenset(GENANT_LEVELS)


def spinal_deformity_index(grades: Grades) -> int:
    """Spinal deformity index: the sum of the SQ grades of T4-L4.

    Levels outside T4-L4 and ungraded levels add nothing; a spine that shows only part
    of T4-L4 gives the sum over the levels present (see :func:`sdi_levels`).

    References
    ----------
    docs/reference.md section 2 (Genant 1993).

    Examples
    --------
    Two grade-2 wedges (a 30 % anterior loss) between normal bodies:

    >>> import numpy as np, vcfmeasure as vm
    >>> ha = np.array([30.0, 21.0, 30.0, 21.0, 30.0])
    >>> xy = np.zeros((5, 6, 2)); xy[:, :3, 0] = xy[:, 3:, 0][:, ::-1] = [0, 20, 40]
    >>> xy[:, 3, 1], xy[:, 4:, 1] = ha, 30.0  # ia at Ha; im, ip at 30; superior at 0
    >>> xy[..., 1] += 36 * np.arange(5)[:, None]
    >>> lm = vm.Landmarks.from_array(xy, ["T11", "T12", "L1", "L2", "L3"])
    >>> spinal_deformity_index(vm.grade(vm.measure(lm)))
    4
    """
    return int(sum(
        int(g) for lv, g in zip(grades.levels, grades.grade, strict=True)
        if lv in _SDI_LEVELS and not np.isnan(g)
    ))


def sdi_levels(grades: Grades) -> list[str]:
    """The levels that :func:`spinal_deformity_index` summed: graded and within T4-L4.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> lm = vm.Landmarks({"L4": box, "L5": box + [0, 36]})
    >>> import warnings; warnings.simplefilter("ignore", vm.DomainWarning)
    >>> sdi_levels(vm.grade(vm.measure(lm)))
    ['L4']
    """
    return [lv for lv, g in zip(grades.levels, grades.grade, strict=True)
            if lv in _SDI_LEVELS and not np.isnan(g)]
