"""Quantitative morphometry criteria, normative tables and incident fractures.

docs/reference.md section 3. The 20 % rule needs nothing; Eastell, Melton and McCloskey-Kanis
need a normative table (mean and SD per level, ratio and sex) that the user supplies:
vcfmeasure ships the file format, never a table of norms (they differ by sex, centre and
ethnicity). See ``docs/norms.md``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import FileFormatError, VcfMeasureError
from ._table import ResultTable
from .levels import normalize_level

__all__ = [
    "Norms",
    "NORM_RATIOS",
    "CriteriaResult",
    "twenty_percent_rule",
    "eastell",
    "melton",
    "mccloskey_kanis",
    "incident_fractures",
]

#: Ratio names a normative table may hold. ``wedge`` Ha/Hp, ``biconcavity`` Hm/Hp,
#: ``crush`` Hp/Hp of the adjacent levels; ``ha_pred``, ``hm_pred``, ``hp_pred``: Ha, Hm,
#: Hp over the predicted posterior height (McCloskey-Kanis).
NORM_RATIOS = ("wedge", "biconcavity", "crush", "ha_pred", "hm_pred", "hp_pred")
_COLUMNS = ("level", "sex", "ratio", "mean", "sd")
_SEXES = ("female", "male")


@dataclass(frozen=True)
class Norms:
    """A normative table: mean and SD of each ratio per level and sex.

    Read it with :meth:`read_csv`. The CSV has the columns ``level, sex, ratio, mean,
    sd`` (``sex`` is ``female`` or ``male``; ``ratio`` one of :data:`NORM_RATIOS`) and
    may start with ``#`` comment lines, which are kept as :attr:`provenance` (say where
    the numbers come from: study, population, method).

    Examples
    --------
    >>> import io
    >>> text = "# source: example\\nlevel,sex,ratio,mean,sd\\nL1,female,wedge,0.9,0.05\\n"
    >>> n = Norms.read_csv(io.StringIO(text))
    >>> n.get("L1", "female", "wedge"), n.provenance
    ((0.9, 0.05), 'source: example')
    """

    table: dict[tuple[str, str, str], tuple[float, float]]
    provenance: str = ""
    path: str | None = None

    @classmethod
    def read_csv(cls, source: Any) -> Norms:
        """Read a normative table; errors name the file, line and field."""
        name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "<norms>")
        if isinstance(source, (str, Path)):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise FileFormatError(f"{name}: cannot read the norms file ({exc})") from None
        else:
            text = source.read()
        comments, rows = [], []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith("#"):
                comments.append(line.lstrip()[1:].strip())
            elif line.strip():
                rows.append((lineno, line))
        if not rows:
            raise FileFormatError(f"{name}: no header line; expected columns {', '.join(_COLUMNS)}")
        reader = csv.reader([r[1] for r in rows])
        header = [h.strip().lower() for h in next(reader)]
        missing = [c for c in _COLUMNS if c not in header]
        if missing:
            raise FileFormatError(
                f"{name}, line {rows[0][0]}: missing column {missing[0]!r}; "
                f"expected {', '.join(_COLUMNS)}"
            )
        col = {c: header.index(c) for c in _COLUMNS}
        table: dict[tuple[str, str, str], tuple[float, float]] = {}
        for (lineno, _), fields in zip(rows[1:], reader, strict=True):
            where = f"{name}, line {lineno}"
            try:
                get = {c: fields[i].strip() for c, i in col.items()}
            except IndexError:
                raise FileFormatError(f"{where}: too few fields") from None
            try:
                level = normalize_level(get["level"])
            except VcfMeasureError as exc:
                raise FileFormatError(f"{where}, field 'level': {exc}") from None
            sex = get["sex"].lower()
            if sex not in _SEXES:
                raise FileFormatError(f"{where}, field 'sex': {get['sex']!r} is not female/male")
            ratio = get["ratio"].lower()
            if ratio not in NORM_RATIOS:
                raise FileFormatError(
                    f"{where}, field 'ratio': {get['ratio']!r} is not one of {NORM_RATIOS}"
                )
            values = []
            for c in ("mean", "sd"):
                try:
                    v = float(get[c])
                except ValueError:
                    raise FileFormatError(f"{where}, field {c!r}: {get[c]!r} is not a number") from None
                if not math.isfinite(v) or v <= 0:
                    raise FileFormatError(f"{where}, field {c!r}: must be positive, got {v}")
                values.append(v)
            key = (level, sex, ratio)
            if key in table:
                raise FileFormatError(f"{where}: duplicate entry for {level} {sex} {ratio}")
            table[key] = (values[0], values[1])
        return cls(table, provenance="\n".join(comments), path=name)

    def get(self, level: str, sex: str, ratio: str) -> tuple[float, float]:
        """``(mean, sd)`` of a ratio at a level, or ``(nan, nan)`` when not in the table."""
        return self.table.get((level, sex, ratio), (math.nan, math.nan))

    def arrays(self, levels: Any, sex: str, ratio: str) -> tuple[np.ndarray, np.ndarray]:
        """Means and SDs for many levels (NaN where missing)."""
        if sex not in _SEXES:
            raise VcfMeasureError(f"sex must be 'female' or 'male', got {sex!r}")
        pairs = np.array([self.get(lv, sex, ratio) for lv in levels], dtype=float).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]


class CriteriaResult(ResultTable):
    """Per-vertebra result of a quantitative criterion (see each function)."""

    def __init__(self, levels: Any, columns: dict[str, Any], *, criterion: str) -> None:
        self.levels = tuple(levels)
        self.criterion = criterion
        self._columns = {"level": list(self.levels), "criterion": [criterion] * len(self.levels),
                         **columns}


_RATIO_ATTR = {"wedge": "wedge_ratio", "biconcavity": "biconcavity_ratio", "crush": "crush_ratio"}


def _failing(names: tuple[str, ...], masks: list[np.ndarray]) -> list[str]:
    n = len(masks[0]) if masks else 0
    return [",".join(nm for nm, m in zip(names, masks, strict=True) if m[i]) for i in range(n)]


def twenty_percent_rule(morphometry: Any, *, threshold: float = 0.80) -> CriteriaResult:
    """The 20 % rule: a fracture when any of Ha/Hp, Hm/Hp, Hp/Hp(adjacent) < 0.80.

    A missing crush ratio (no measured neighbour) does not count as failing.

    References
    ----------
    Siminoski et al. 2006; ISCD wording. docs/reference.md section 3.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> v = np.array([[0, 0], [20, 0], [40, 5], [40, 25], [20, 30], [0, 30]], float)
    >>> twenty_percent_rule(vm.measure(vm.Landmarks({"L1": v}))).to_records()[0]["fracture"]
    True
    """
    names = ("wedge", "biconcavity", "crush")
    masks = [np.nan_to_num(getattr(morphometry, _RATIO_ATTR[r]), nan=1.0) < threshold for r in names]
    return CriteriaResult(
        morphometry.levels,
        {
            **{f"{r}_ratio": getattr(morphometry, _RATIO_ATTR[r]) for r in names},
            "fracture": np.logical_or.reduce(masks),
            "failing": _failing(names, masks),
        },
        criterion=f"20% rule (ratio < {threshold})",
    )


def _z(morphometry: Any, norms: Norms, sex: str, ratio: str, values: np.ndarray | None = None):
    mean, sd = norms.arrays(morphometry.levels, sex, ratio)
    v = getattr(morphometry, _RATIO_ATTR[ratio]) if values is None else values
    return (v - mean) / sd, mean


def eastell(morphometry: Any, norms: Norms, *, sex: str) -> CriteriaResult:
    """Eastell criterion: a ratio 3-4 SD below the level mean -> grade 1, > 4 SD -> grade 2.

    Each of the wedge, biconcavity and crush ratios is compared with the normative mean
    and SD of its level; the vertebra's grade is the worst. Levels or ratios missing from
    the table give NaN z-scores and do not count.

    References
    ----------
    Eastell et al., JBMR 1991;6:207-15. docs/reference.md section 3.
    """
    names = ("wedge", "biconcavity", "crush")
    zs = {r: _z(morphometry, norms, sex, r)[0] for r in names}
    zmin = np.fmin.reduce([zs[r] for r in names])
    grade = np.where(zmin < -4, 2, np.where(zmin < -3, 1, 0))
    grade = np.where(np.isnan(zmin), np.nan, grade)
    return CriteriaResult(
        morphometry.levels,
        {**{f"{r}_z": zs[r] for r in names}, "grade": grade,
         "failing": _failing(names, [np.nan_to_num(zs[r]) < -3 for r in names])},
        criterion="Eastell 1991",
    )


def melton(morphometry: Any, norms: Norms, *, sex: str, factor: float = 0.85) -> CriteriaResult:
    """Melton criterion: a fracture when a ratio is below 0.85 x the level's normal mean.

    References
    ----------
    Melton et al. 1989 [C]. docs/reference.md section 3.
    """
    names = ("wedge", "biconcavity", "crush")
    masks = []
    for r in names:
        mean, _ = norms.arrays(morphometry.levels, sex, r)
        masks.append(getattr(morphometry, _RATIO_ATTR[r]) < factor * mean)
    return CriteriaResult(
        morphometry.levels,
        {"fracture": np.logical_or.reduce(masks), "failing": _failing(names, masks)},
        criterion=f"Melton 1989 (ratio < {factor} x normal mean)",
    )


def mccloskey_kanis(morphometry: Any, norms: Norms, *, sex: str, sd: float = 3.0) -> CriteriaResult:
    """McCloskey-Kanis: a ratio > 3 SD below normal AND the height vs predicted Hp > 3 SD below.

    Pairs: Ha/Hp with Ha/Hp_pred (wedge), Hm/Hp with Hm/Hp_pred (biconcave), Hp/Hp_adj
    with Hp/Hp_pred (crush). The predicted posterior height Hp_pred is the mean Hp of the
    adjacent measured levels (a simplification of McCloskey's regression on the
    neighbours; NaN without neighbours, and then the criterion cannot fire).

    References
    ----------
    McCloskey et al. 1993 [C]. docs/reference.md section 3.
    """
    hp_pred = morphometry.hp / morphometry.crush_ratio
    pairs = (("wedge", "ha_pred", morphometry.ha), ("biconcavity", "hm_pred", morphometry.hm),
             ("crush", "hp_pred", morphometry.hp))
    masks, cols = [], {}
    for r, rp, h in pairs:
        z1 = _z(morphometry, norms, sex, r)[0]
        mean, sdv = norms.arrays(morphometry.levels, sex, rp)
        z2 = (h / hp_pred - mean) / sdv
        cols[f"{r}_z"], cols[f"{rp}_z"] = z1, z2
        masks.append((np.nan_to_num(z1) < -sd) & (np.nan_to_num(z2) < -sd))
    names = tuple(p[0] for p in pairs)
    return CriteriaResult(
        morphometry.levels,
        {**cols, "fracture": np.logical_or.reduce(masks), "failing": _failing(names, masks)},
        criterion="McCloskey-Kanis 1993",
    )


def incident_fractures(
    baseline: Any,
    follow_up: Any,
    *,
    fit_fraction: float = 0.20,
    fit_mm: float = 4.0,
    reference: str = "radelement",
) -> CriteriaResult:
    """Incident fractures between two time points of the same patient.

    Two rules per level present at both times: ``sq_incident`` — the Genant grade rose
    by at least 1 (Genant 1993); ``fit_incident`` — a height (a, m or p) fell by at least
    20 % AND at least 4 mm from baseline (FIT, Black 1996; needs mm, else NaN).

    Parameters
    ----------
    baseline, follow_up : Morphometry

    References
    ----------
    docs/reference.md sections 2 and 3.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [50, 0], [100, 0], [100, 150], [50, 150], [0, 150]], float)
    >>> low = box.copy(); low[3, 1] = 100.0
    >>> t0 = vm.measure(vm.Landmarks({"L1": box}), spacing=0.2)
    >>> t1 = vm.measure(vm.Landmarks({"L1": low}), spacing=0.2)
    >>> r = incident_fractures(t0, t1).to_records()[0]
    >>> r["fit_incident"], r["sq_incident"], round(r["fall_a_mm"], 1)
    (True, True, 10.0)
    """
    from .grading import grade

    if baseline.unit != follow_up.unit:
        raise VcfMeasureError(
            f"incident_fractures: baseline is in {baseline.unit}, follow-up in {follow_up.unit}"
        )
    common = [lv for lv in baseline.levels if lv in set(follow_up.levels)]
    if not common:
        raise VcfMeasureError("incident_fractures: no level is present at both time points")
    i0 = np.array([baseline.levels.index(lv) for lv in common])
    i1 = np.array([follow_up.levels.index(lv) for lv in common])
    g0 = grade(baseline, reference=reference).grade[i0]
    g1 = grade(follow_up, reference=reference).grade[i1]
    cols: dict[str, Any] = {"grade_baseline": g0, "grade_follow_up": g1,
                            "sq_incident": (g1 - g0) >= 1}
    fit = np.zeros(len(common), dtype=bool)
    for x in "amp":
        h0, h1 = getattr(baseline, f"h{x}")[i0], getattr(follow_up, f"h{x}")[i1]
        fall = h0 - h1
        cols[f"fall_{x}_{baseline.unit}"] = fall
        cols[f"fall_{x}_fraction"] = fall / h0
        fit |= (fall / h0 >= fit_fraction) & (fall >= fit_mm)
    cols["fit_incident"] = fit if baseline.unit == "mm" else np.full(len(common), np.nan)
    return CriteriaResult(common, cols, criterion="incident: SQ +1 grade; FIT >=20% and >=4 mm")
