"""Reader-agreement figures: Bland-Altman per height, grade confusion, per-level point error."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import VcfMeasureError
from ..levels import LEVELS, POINT_NAMES
from ._style import OKABE_ITO, new_axes

__all__ = ["plot_bland_altman", "plot_grade_confusion", "plot_point_errors"]

_LABELS = {"ha": "Ha", "hm": "Hm", "hp": "Hp", "wedge_ratio": "Ha/Hp",
           "biconcavity_ratio": "Hm/Hp", "crush_ratio": "crush ratio"}


def _need_agreement(result: Any, func: str) -> None:
    if not (hasattr(result, "readers") and hasattr(result, "wide")):
        raise VcfMeasureError(
            f"{func} needs a ReaderAgreement from vcfmeasure.agreement.compare_readers, "
            f"got {type(result).__name__}"
        )


def _two(result: Any, readers: tuple[str, str] | None) -> tuple[str, str]:
    a, b = readers or result.readers[:2]
    for r in (a, b):
        if r not in result.readers:
            raise VcfMeasureError(f"reader {r!r} is not one of {', '.join(result.readers)}")
    return a, b


def plot_bland_altman(result: Any, measure: str = "ha", *, readers: tuple[str, str] | None = None,
                      ax: Any = None) -> Any:
    """Bland-Altman plot of one height or ratio between two readers.

    Each vertebra is a point at (mean of the two readers, first - second); a solid line
    marks the bias and dashed lines the 95 % limits of agreement, with their values.

    Parameters
    ----------
    result : ReaderAgreement
        From :func:`vcfmeasure.agreement.compare_readers`.
    measure : str
        ``"ha"``, ``"hm"``, ``"hp"`` (in the table's unit, mm or px) or a ratio
        (``"wedge_ratio"``, ``"biconcavity_ratio"``, ``"crush_ratio"``).
    readers : (str, str), optional
        Default: the first two readers.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The bias line has gid ``"vcfmeasure:ba:bias"``, the limits ``"vcfmeasure:ba:loa"``.

    References
    ----------
    Bland JM, Altman DG. Lancet 1986;1:307-10.

    Examples
    --------
    >>> from vcfmeasure import synthetic
    >>> from vcfmeasure.agreement import compare_readers
    >>> t = synthetic.make_spine(["T12", "L1", "L2", "L3"], seed=0).landmarks
    >>> r = compare_readers({"a": t, "b": t.map_points(lambda xy: xy * 1.01)}, spacing=0.1)
    >>> plot_bland_altman(r, "hp").get_xlabel()
    'mean of a and b, Hp (mm)'
    """
    _need_agreement(result, "plot_bland_altman")
    if measure not in _LABELS:
        raise VcfMeasureError(f"measure {measure!r}: choose one of {', '.join(_LABELS)}")
    a, b = _two(result, readers)
    x, y = result.pair_values(measure, a, b, None)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    unit = ""
    if measure in ("ha", "hm", "hp"):
        units = result.wide("unit")[a]
        unit = "mm" if "mm" in set(units) else "px"
    ba = result.bland_altman(measure, a, b)
    ax = new_axes(ax)
    label = _LABELS[measure] + (f" ({unit})" if unit else "")
    ax.scatter((x + y) / 2, x - y, s=18, color=OKABE_ITO["blue"], alpha=0.8, label="vertebra")
    ax.axhline(ba.bias, color=OKABE_ITO["black"], lw=1.4, gid="vcfmeasure:ba:bias",
               label=f"bias {ba.bias:+.3g}")
    for value, name in ((ba.loa_low, "lower"), (ba.loa_high, "upper")):
        ax.axhline(value, color=OKABE_ITO["vermillion"], lw=1.2, ls="--", gid="vcfmeasure:ba:loa",
                   label=f"95 % limits {ba.loa_low:+.3g} / {ba.loa_high:+.3g}" if name == "lower" else None)
    ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(f"mean of {a} and {b}, {label}")
    ax.set_ylabel(f"{a} \N{MINUS SIGN} {b}, {label}")
    ax.set_title(f"Bland-Altman: {_LABELS[measure]}, n = {ba.n}", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_grade_confusion(result: Any, *, readers: tuple[str, str] | None = None, ax: Any = None) -> Any:
    """Confusion matrix of two readers' Genant grades, counts written in each cell.

    Parameters
    ----------
    result : ReaderAgreement
    readers : (str, str), optional
        Rows are the first reader, columns the second (default: the first two readers).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The title gives Cohen's kappa, unweighted and linearly weighted.

    Examples
    --------
    >>> from vcfmeasure import synthetic
    >>> from vcfmeasure.agreement import compare_readers
    >>> t = synthetic.make_spine(["T12", "L1", "L2"], seed=0, deformities={"L1": ("wedge", .3)}).landmarks
    >>> ax = plot_grade_confusion(compare_readers([t, t]))
    >>> [t.get_text() for t in ax.texts][:2]
    ['2', '0']
    """
    _need_agreement(result, "plot_grade_confusion")
    a, b = _two(result, readers)
    table = result.confusion(a, b).to_numpy()
    ax = new_axes(ax, figsize=(4.6, 4.0))
    ax.imshow(table, cmap="Blues", vmin=0, vmax=max(1, int(table.max())))
    n = table.shape[0]
    for i in range(n):
        for j in range(n):
            dark = table[i, j] > table.max() / 2
            ax.text(j, i, str(int(table[i, j])), ha="center", va="center",
                    color="white" if dark else "black", fontsize=10)
    ax.set_xticks(range(n), [str(g) for g in range(n)])
    ax.set_yticks(range(n), [str(g) for g in range(n)])
    ax.set_xlabel(f"{b}: Genant grade")
    ax.set_ylabel(f"{a}: Genant grade")
    st = result.statistics
    pair = f"{a} vs {b}"

    def value(name: str) -> str:
        row = st[(st["statistic"] == name) & (st["readers"] == pair)]
        return "n/a" if row.empty or not np.isfinite(row["value"].iloc[0]) else f"{row['value'].iloc[0]:.2f}"

    ax.set_title(f"grades, {pair}: \N{GREEK SMALL LETTER KAPPA} {value('kappa')}, "
                 f"linear \N{GREEK SMALL LETTER KAPPA} {value('kappa_linear')}", fontsize=9)
    return ax


def plot_point_errors(result: Any, *, readers: tuple[str, str] | None = None, ax: Any = None) -> Any:
    """Mean distance between two readers' landmarks, per level and point (grouped bars).

    Parameters
    ----------
    result : ReaderAgreement
        With landmarks for both readers (its ``points`` table not empty).
    readers : (str, str), optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Six bars per level (``POINT_NAMES`` order) with the SD over images as error bars;
        the y axis in mm (or px without a spacing).

    Examples
    --------
    >>> from vcfmeasure import synthetic
    >>> from vcfmeasure.agreement import compare_readers
    >>> t = synthetic.make_spine(["L1", "L2", "L3"], seed=0).landmarks
    >>> r = compare_readers([t, t.map_points(lambda xy: xy + 2.0)], spacing=0.1)
    >>> plot_point_errors(r).get_ylabel()
    'distance A vs B (mm)'
    """
    _need_agreement(result, "plot_point_errors")
    a, b = _two(result, readers)
    pts = result.points
    pts = pts[pts["readers"] == f"{a} vs {b}"] if len(pts) else pts
    if not len(pts):
        raise VcfMeasureError(
            f"readers {a!r} and {b!r} have no landmarks to compare (grade tables carry heights only)"
        )
    unit = "mm" if (pts["unit"] == "mm").all() else "px"
    levels = sorted(set(pts["level"]), key=lambda lv: LEVELS.index(lv) if lv in LEVELS else 99)
    ax = new_axes(ax, figsize=(max(5.0, 0.9 * len(levels) + 2), 3.6))
    width = 0.8 / len(POINT_NAMES)
    colours = list(OKABE_ITO.values())[1:]
    x = np.arange(len(levels))
    grouped = pts.groupby(["level", "point"])["distance"]
    mean, sd = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    for j, p in enumerate(POINT_NAMES):
        m = [mean.get((lv, p), np.nan) for lv in levels]
        s = [sd.get((lv, p), 0.0) for lv in levels]
        ax.bar(x + (j - 2.5) * width, m, width, yerr=s, capsize=1.5, color=colours[j % len(colours)],
               label=p, error_kw={"lw": 0.7})
    ax.set_xticks(x, levels)
    ax.set_xlabel("level (cranial \N{RIGHTWARDS ARROW} caudal)")
    ax.set_ylabel(f"distance {a} vs {b} ({unit})")
    n_images = pts["image"].nunique()
    ax.set_title(f"landmark distance per level, mean \N{PLUS-MINUS SIGN} SD over {n_images} images",
                 fontsize=9)
    ax.legend(ncols=6, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.18), frameon=False)
    return ax
