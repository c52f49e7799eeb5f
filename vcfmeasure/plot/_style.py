"""Colours and the shared pieces of every vcfmeasure figure (image display, grades)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._errors import VcfMeasureError
from ..levels import normalize_level

__all__ = [
    "OKABE_ITO",
    "GRADE_COLORS",
    "GRADE_LABELS",
    "HEIGHT_COLORS",
    "NO_GRADE_COLOR",
    "fmt_number",
    "grade_color",
    "grades_by_level",
    "new_axes",
    "short_source",
    "show_image",
    "add_scale_bar",
    "nice_length",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Genant grade -> colour: an ordinal run blue, yellow, orange, vermillion (Okabe-Ito).
GRADE_COLORS: dict[int, str] = {
    0: OKABE_ITO["sky_blue"],
    1: OKABE_ITO["yellow"],
    2: OKABE_ITO["orange"],
    3: OKABE_ITO["vermillion"],
}
#: Colour of vertebrae without a grade (not graded, or no grades given).
NO_GRADE_COLOR: str = OKABE_ITO["reddish_purple"]
#: Legend text per grade (docs/reference.md section 2 bands).
GRADE_LABELS: dict[int, str] = {
    0: "grade 0 (< 20 %)",
    1: "grade 1 (20-25 %)",
    2: "grade 2 (25-40 %)",
    3: "grade 3 (>= 40 %)",
}
#: Bar colours of the anterior, middle and posterior heights.
HEIGHT_COLORS: tuple[str, str, str] = (
    OKABE_ITO["blue"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
)


def grade_color(grade: float | None) -> str:
    """Colour of a Genant grade; :data:`NO_GRADE_COLOR` for ``None``/NaN.

    Examples
    --------
    >>> grade_color(2), grade_color(None) == NO_GRADE_COLOR
    ('#E69F00', True)
    """
    if grade is None or not np.isfinite(grade):
        return NO_GRADE_COLOR
    return GRADE_COLORS[int(grade)]


def grades_by_level(grades: Any) -> dict[str, float]:
    """Level -> grade (float, NaN = not graded) from a :class:`~vcfmeasure.Grades` or mapping.

    Examples
    --------
    >>> grades_by_level({"l1": 2, "L2": None})
    {'L1': 2.0, 'L2': nan}
    """
    if grades is None:
        return {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(grades, Mapping):
        items = grades.items()
    elif hasattr(grades, "levels") and hasattr(grades, "grade"):
        items = zip(grades.levels, np.asarray(grades.grade, dtype=float), strict=True)
    else:
        raise VcfMeasureError(
            f"grades must be a vcfmeasure.Grades (from vm.grade) or a mapping level -> grade, "
            f"got {type(grades).__name__}"
        )
    return {
        normalize_level(lv): float("nan") if g is None else float(g) for lv, g in items
    }


def fmt_number(value: Any, spec: str) -> str:
    """Format a number for a figure: ``"-"`` for None/NaN, and no negative zero.

    Examples
    --------
    >>> fmt_number(-0.004, ".1f"), fmt_number(-0.004, "+.1f"), fmt_number(None, ".1f")
    ('0.0', '+0.0', '-')
    """
    if value is None or not np.isfinite(value):
        return "-"
    text = format(value, spec)
    if text.startswith("-") and float(text) == 0:
        text = ("+" if "+" in spec else "") + text[1:]
    return text


def short_source(spacing_source: str) -> str:
    """The kind of a spacing source without its details, for titles.

    Examples
    --------
    >>> short_source("magnification-corrected: (0018,1164) Imager Pixel Spacing 0.15")
    'magnification-corrected'
    """
    return str(spacing_source).split(":", 1)[0].strip()


def new_axes(ax: Any = None, *, figsize: tuple[float, float] = (6.4, 4.8)) -> Any:
    """``ax`` itself, or the Axes of a new pyplot figure (shown inline in notebooks)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _display_range(radiograph: Any, pixels: np.ndarray) -> tuple[float, float]:
    window = getattr(radiograph, "window", None)
    if window is not None:
        center, width = (float(v) for v in window)
        return center - width / 2, center + width / 2
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [0.5, 99.5])
    return (float(lo), float(hi)) if hi > lo else (float(lo), float(lo) + 1.0)


def show_image(ax: Any, radiograph: Any, *, scale_bar: bool = True, bar_side: str = "left"
               ) -> Any:
    """Draw a radiograph (or a 2-D array) in grey, pixel centres at integer coordinates.

    The display window is the radiograph's ``window`` when set, else the 0.5-99.5
    percentiles. Axes are labelled in pixels; with a known spacing a scale bar is drawn in
    the lower ``bar_side`` corner of the view (see :func:`add_scale_bar`).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    pixels = np.asarray(getattr(radiograph, "pixels", radiograph), dtype=float)
    if pixels.ndim != 2:
        raise VcfMeasureError(
            f"expected a Radiograph or a 2-D array, got an array of shape {pixels.shape}"
        )
    vmin, vmax = _display_range(radiograph, pixels)
    image = ax.imshow(pixels, cmap="gray", vmin=vmin, vmax=vmax, interpolation="antialiased")
    image.set_gid("vcfmeasure:image")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    spacing = getattr(radiograph, "spacing", None)
    if scale_bar and spacing is not None:
        add_scale_bar(ax, spacing, side=bar_side)
    return image


def nice_length(limit: float) -> float:
    """The longest 1, 2 or 5 x 10^k not above ``limit`` (> 0).

    Examples
    --------
    >>> nice_length(37.0), nice_length(9.99), nice_length(0.3)
    (20.0, 5.0, 0.2)
    """
    k = 10.0 ** np.floor(np.log10(limit))
    return float(next(m * k for m in (5.0, 2.0, 1.0) if m * k <= limit * (1 + 1e-9)))


def add_scale_bar(ax: Any, spacing: tuple[float, float], *, side: str = "left") -> Any:
    """A scale bar in the lower ``side`` corner of the current view, kept inside it.

    Its length is the longest 1, 2 or 5 x 10^k mm that fits in a quarter of the view
    width (10 or 20 mm on a typical spine view); it follows pans, zooms and crops
    (``xlim_changed``/``ylim_changed``), so it is never clipped and never outside the view.

    Returns
    -------
    matplotlib.lines.Line2D
        gid ``"vcfmeasure:scale_bar"``; its x data are in pixels, from which its length in
        mm is ``(x1 - x0) * col_mm``.
    """
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    (bar,) = ax.plot([0, 1], [0.04, 0.04], color="white", lw=3, solid_capstyle="butt",
                     transform=trans, zorder=5)
    bar.set_gid("vcfmeasure:scale_bar")
    # the text starts where the bar starts (ends where it ends, on the right), so that it
    # stays inside the view however narrow: centred on a short bar it could overhang
    text = ax.text(0, 0.055, "", color="white", ha="left" if side == "left" else "right",
                   va="bottom", fontsize=8, transform=trans, zorder=5)
    # a dark rim: white on a bright part of the film would vanish
    from matplotlib import patheffects

    rim = [patheffects.withStroke(linewidth=2.5, foreground="black")]
    text.set_path_effects(rim)
    bar.set_path_effects([patheffects.withStroke(linewidth=5, foreground="black")])
    text.set_gid("vcfmeasure:scale_bar_label")

    def place(_: Any = None) -> None:
        x0, x1 = sorted(ax.get_xlim())
        width_mm = (x1 - x0) * spacing[1]
        length_mm = nice_length(0.25 * width_mm)
        length = length_mm / spacing[1]
        start = x0 + 0.04 * (x1 - x0) if side == "left" else x1 - 0.04 * (x1 - x0) - length
        bar.set_xdata([start, start + length])
        text.set_x(start if side == "left" else start + length)
        text.set_text(f"{length_mm:g} mm")

    place()
    ax.callbacks.connect("xlim_changed", place)
    return bar
