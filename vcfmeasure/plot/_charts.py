"""Per-vertebra charts: heights, ratios against the Genant bands, and the angle profile."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .._errors import VcfMeasureError
from ..grading import GRADE_CUTS
from ..levels import LEVELS
from ._style import (
    GRADE_COLORS,
    HEIGHT_COLORS,
    OKABE_ITO,
    grade_color,
    new_axes,
    short_source,
)

__all__ = ["plot_heights", "plot_ratios", "plot_profile", "GENANT_RATIO_BANDS"]

#: Ratio bands equivalent to the Genant height-reduction cuts of 20, 25 and 40 %:
#: grade -> (low, high) of H / expected H (docs/reference.md section 2).
GENANT_RATIO_BANDS: dict[int, tuple[float, float]] = {
    1: (1 - GRADE_CUTS[1], 1 - GRADE_CUTS[0]),
    2: (1 - GRADE_CUTS[2], 1 - GRADE_CUTS[1]),
    3: (0.0, 1 - GRADE_CUTS[2]),
}


#: Hatch and opacity of each grade band: distinct in greyscale as well as in colour.
BAND_HATCHES: dict[int, str] = {1: "", 2: "///", 3: "xxx"}
BAND_ALPHA: dict[int, float] = {1: 0.35, 2: 0.45, 3: 0.55}


def _need_morphometry(morphometry: Any, func: str) -> None:
    if not (hasattr(morphometry, "ha") and hasattr(morphometry, "levels")):
        raise VcfMeasureError(
            f"{func} needs a Morphometry from vcfmeasure.measure, got "
            f"{type(morphometry).__name__}"
        )


def _grade_array(morphometry: Any, grades: Any) -> np.ndarray | None:
    if grades is None:
        return None
    if tuple(grades.levels) != tuple(morphometry.levels):
        raise VcfMeasureError(
            "grades and morphometry cover different levels "
            f"({', '.join(grades.levels)} vs {', '.join(morphometry.levels)}); "
            "grade this morphometry with vm.grade(morphometry)"
        )
    return np.asarray(grades.grade, dtype=float)


def _level_axis(ax: Any, levels: tuple[str, ...]) -> np.ndarray:
    x = np.arange(len(levels))
    ax.set_xticks(x, levels)
    ax.set_xlabel("level (cranial \N{RIGHTWARDS ARROW} caudal)")
    ax.set_xlim(-0.6, len(levels) - 0.4)
    return x


def _grade_tags(ax: Any, x: np.ndarray, g: np.ndarray, y: float = 0.98) -> None:
    """Write 'G<n>' at the top of the axes over each level, on the grade colour."""
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for xi, gi in zip(x, g, strict=True):
        text = "n/g" if not np.isfinite(gi) else f"G{int(gi)}"
        ax.text(xi, y, text, transform=trans, ha="center", va="top", fontsize=8,
                fontweight="bold", color="black",
                bbox={"boxstyle": "round,pad=0.2", "fc": grade_color(gi), "ec": "none"})


def _outside_legend(ax: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, framealpha=0.9,
              borderaxespad=0.0)


def plot_heights(morphometry: Any, *, grades: Any = None, ax: Any = None) -> Any:
    """Draw grouped bars of the anterior, middle and posterior heights of each vertebra.

    Parameters
    ----------
    morphometry : Morphometry
        From :func:`vcfmeasure.measure`; heights in its ``unit`` (mm or px), which labels
        the y axis together with the spacing source.
    grades : Grades, optional
        From :func:`vcfmeasure.grade` on the same morphometry: adds the expected heights
        Ĥa, Ĥm, Ĥp the grade was measured against (black ticks) and a grade tag per level.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Bar containers labelled ``"Ha"``, ``"Hm"``, ``"Hp"``.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> m = vm.measure(vm.Landmarks({"L1": box, "L2": box + [0, 36]}), spacing=0.5)
    >>> ax = vm.plot.plot_heights(m)
    >>> [round(float(b.get_height()), 1) for b in ax.containers[0]], ax.get_ylabel()
    ([15.0, 15.0], 'height (mm)')
    """
    _need_morphometry(morphometry, "plot_heights")
    ax = new_axes(ax, figsize=(max(4.0, 0.9 * len(morphometry.levels) + 2), 3.8))
    g = _grade_array(morphometry, grades)
    x = _level_axis(ax, morphometry.levels)
    width = 0.27
    for k, (name, color) in enumerate(zip(("Ha", "Hm", "Hp"), HEIGHT_COLORS, strict=True)):
        values = getattr(morphometry, name.lower())
        ax.bar(x + (k - 1) * width, values, width, color=color, label=name, edgecolor="black",
               linewidth=0.4)
        if grades is not None:
            expected = getattr(grades, f"expected_{name.lower()}")
            ax.plot(x + (k - 1) * width, expected, "_", color="black", ms=11, mew=2,
                    label="expected (reference)" if k == 0 else None)
    unit = morphometry.unit
    ax.set_ylabel(f"height ({unit})")
    ax.set_title(f"Vertebral heights ({unit}; spacing: "
                 f"{short_source(morphometry.spacing_source)})", fontsize=9)
    shown = [morphometry.ha, morphometry.hm, morphometry.hp, [1.0]]
    if grades is not None:
        shown += [grades.expected_ha, grades.expected_hm, grades.expected_hp]
    ax.set_ylim(0, 1.25 * np.nanmax(np.concatenate([np.asarray(v, float) for v in shown])))
    if g is not None:
        _grade_tags(ax, x, g)
    _outside_legend(ax)
    return ax


def plot_ratios(morphometry: Any, *, grades: Any = None, ax: Any = None) -> Any:
    """Bars of the wedge, biconcavity and crush ratios on the Genant 20/25/40 % bands.

    The bands are drawn as ratio = 1 - reduction: 0.80-0.75 (grade 1), 0.75-0.60
    (grade 2) and below 0.60 (grade 3), shaded in the grade colours. The ratios are
    intravertebral (Ha/Hp, Hm/Hp) or against neighbours (Hp/Hp adjacent), which is what the
    quantitative criteria read; with ``grades`` a black diamond shows
    ``1 - height_loss``, the lowest H/Ĥ against the grading reference — the number the
    grade itself came from.

    Parameters
    ----------
    morphometry : Morphometry
    grades : Grades, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Bar containers labelled ``"Ha/Hp (wedge)"``, ``"Hm/Hp (biconcavity)"``,
        ``"Hp/Hp adjacent (crush)"``; the bands are patches with gids
        ``"vcfmeasure:band:<grade>"``.

    References
    ----------
    docs/reference.md sections 1 (ratios) and 2 (bands); Genant et al., JBMR 1993;8:1137-48.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 24], [20, 30], [0, 30]], float)
    >>> ax = vm.plot.plot_ratios(vm.measure(vm.Landmarks({"L1": box})))
    >>> round(float(ax.containers[0][0].get_height()), 2)
    0.8
    >>> band = [p for p in ax.patches if p.get_gid() == "vcfmeasure:band:2"][0]
    >>> round(band.get_y(), 2), round(band.get_y() + band.get_height(), 2)
    (0.6, 0.75)
    """
    _need_morphometry(morphometry, "plot_ratios")
    ax = new_axes(ax, figsize=(max(4.0, 0.9 * len(morphometry.levels) + 2), 3.8))
    g = _grade_array(morphometry, grades)
    x = _level_axis(ax, morphometry.levels)
    band_names = {1: "20-25 %", 2: "25-40 %", 3: ">= 40 %"}
    for grade, (lo, hi) in GENANT_RATIO_BANDS.items():
        # hatched and of falling lightness, so that the bands differ in greyscale prints too
        band = ax.axhspan(lo, hi, facecolor=GRADE_COLORS[grade], alpha=BAND_ALPHA[grade],
                          hatch=BAND_HATCHES[grade], edgecolor="#555555", lw=0, zorder=0,
                          label=f"grade {grade} band ({band_names[grade]} loss)")
        band.set_gid(f"vcfmeasure:band:{grade}")
    for cut in GRADE_CUTS:
        ax.axhline(1 - cut, color="black", lw=0.6, ls=":", zorder=0.5)
    series = (
        ("wedge_ratio", "Ha/Hp (wedge)"),
        ("biconcavity_ratio", "Hm/Hp (biconcavity)"),
        ("crush_ratio", "Hp/Hp adjacent (crush)"),
    )
    width = 0.27
    for k, ((col, label), color) in enumerate(zip(series, HEIGHT_COLORS, strict=True)):
        ax.bar(x + (k - 1) * width, getattr(morphometry, col), width, color=color, label=label,
               edgecolor="black", linewidth=0.4)
    if g is not None:
        ax.plot(x, 1 - np.asarray(grades.height_loss, dtype=float), "D", color="black", ms=5,
                label=f"1 - height loss ({grades.reference})")
        _grade_tags(ax, x, g)
    ratios = [getattr(morphometry, c) for c, _ in series]
    top = np.nanmax(np.concatenate([np.atleast_1d(r) for r in ratios] + [np.array([1.0])]))
    ax.set_ylim(0, max(1.25, 1.15 * top))
    ax.set_ylabel("ratio (dimensionless)")
    ax.set_title("Height ratios on the Genant bands", fontsize=9)
    _outside_legend(ax)
    return ax


_LEVEL_RE = re.compile(r"\b([CTL]\d{1,2}|S1)\b")


def plot_profile(morphometry: Any, *, ax: Any = None) -> Any:
    """Draw the angle profile: wedge angle and local kyphosis per level, regional angles.

    Levels run down the y axis (cranial at the top). Horizontal bars are the wedge angle of
    each body (deg, + when the endplates converge anteriorly); the black line with circles
    is the local kyphosis (Cobb from the superior endplate of the level above to the
    inferior endplate of the level below; NaN at the ends). Thoracic kyphosis and lumbar
    lordosis, when their levels were measured, are drawn as brackets beside the levels
    they span, with their definition and value.

    Parameters
    ----------
    morphometry : Morphometry
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Bars labelled ``"wedge angle"``, the line ``"local kyphosis (Cobb)"``; regional
        brackets carry gids ``"vcfmeasure:regional:<name>"``.

    References
    ----------
    docs/reference.md section 4 (angles).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> ax = vm.plot.plot_profile(vm.measure(vm.Landmarks({"L1": box, "L2": box + [0, 36]})))
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_xlabel()
    (['L1', 'L2'], 'angle (deg); + = kyphotic')
    """
    _need_morphometry(morphometry, "plot_profile")
    levels = tuple(morphometry.levels)
    ax = new_axes(ax, figsize=(5.0, max(3.0, 0.35 * len(levels) + 1.5)))
    y = np.arange(len(levels))
    ax.barh(y, morphometry.wedge_angle, height=0.6, color=OKABE_ITO["blue"],
            edgecolor="black", linewidth=0.4, label="wedge angle")
    ax.plot(morphometry.local_kyphosis_cobb, y, "o-", color="black", ms=4, lw=1,
            label="local kyphosis (Cobb)")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(y, levels)
    ax.set_ylim(len(levels) - 0.4, -0.6)
    ax.set_ylabel("level")
    ax.set_xlabel("angle (deg); + = kyphotic")
    values = np.concatenate([np.atleast_1d(morphometry.wedge_angle),
                             np.atleast_1d(morphometry.local_kyphosis_cobb), [0.0, 5.0]])
    lo, hi = np.nanmin(values), np.nanmax(values)
    span = hi - lo
    room = 0.1 + 0.45 * len(morphometry.regional)
    ax.set_xlim(lo - 0.1 * span, hi + room * span)
    pos = {lv: i for i, lv in enumerate(levels)}
    for k, region in enumerate(morphometry.regional):
        named = [lv for lv in _LEVEL_RE.findall(region["definition"]) if lv in LEVELS]
        if len(named) < 2 or named[0] not in pos or named[-1] not in pos:
            continue
        y0, y1 = pos[named[0]] - 0.3, pos[named[-1]] + 0.3
        xb = hi + (0.15 + 0.35 * k) * span
        (bracket,) = ax.plot([xb - 0.04 * span, xb, xb, xb - 0.04 * span], [y0, y0, y1, y1],
                             color=OKABE_ITO["vermillion"], lw=1.5)
        bracket.set_gid(f"vcfmeasure:regional:{region['name']}")
        name = region["name"].replace("_", " ")
        ax.text(xb + 0.03 * span, (y0 + y1) / 2,
                f"{name}\n{region['angle']:.1f} deg\n({region['definition']})",
                rotation=90, va="center", ha="left", fontsize=7,
                color=OKABE_ITO["vermillion"])
    ax.set_title("Angle profile", fontsize=9)
    _outside_legend(ax)
    return ax
