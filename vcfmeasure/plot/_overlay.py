"""The landmark overlay: image, six points, outline, three heights and level names."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import LandmarkError
from ..landmarks import Landmarks
from ._style import (
    GRADE_COLORS,
    GRADE_LABELS,
    NO_GRADE_COLOR,
    grade_color,
    grades_by_level,
    new_axes,
    show_image,
)

__all__ = [
    "SET_MARKERS", "anterior_side", "draw_vertebra", "fit_labels", "label_extent", "layout",
    "marker_style",
    "plot_landmarks",
]

_LABEL_FONTSIZE = 9.0

# Height segments in POINT_NAMES indices: (sa, ia), (sm, im), (sp, ip).
_HEIGHT_PAIRS = ((2, 3), (1, 4), (0, 5))


#: Markers of the landmark sets drawn on one axes, in call order: a filled circle, then a
#: cross, a plus and an open triangle, so that each set shows over the ones before it.
SET_MARKERS: tuple[str, ...] = ("o", "x", "+", "^")


def marker_style(marker: str, color: str, size: float = 5.0) -> dict[str, Any]:
    """Line2D keywords of a landmark marker: filled with a black edge, or drawn in ``color``.

    Examples
    --------
    >>> marker_style("o", "C0")["mec"], marker_style("x", "C1")["mec"]
    ('black', 'C1')
    """
    if marker == "o":
        return {"marker": "o", "ms": size, "mfc": color, "mec": "black", "mew": 0.6}
    filled = "none" if marker in ("^", "s", "D", "v") else color
    return {"marker": marker, "ms": size * 1.5, "mfc": filled, "mec": color, "mew": 1.6}


def draw_vertebra(
    ax: Any, level: str, xy: np.ndarray, *, color: str, label: str | None = None,
    heights: bool = True, marker_size: float = 5.0, marker: str = "o",
) -> dict[str, Any]:
    """Draw one vertebra's six points, closed outline, heights and name on ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    level : str
    xy : ndarray, shape (6, 2)
        ``(x, y)`` pixels in ``POINT_NAMES`` order; the markers sit exactly there.
    color : str
    label : str, optional
        Text next to the anterior wall; default the level name.
    heights : bool
        Draw the Ha, Hm, Hp segments (dashed).
    marker_size : float
        Points.
    marker : str
        A matplotlib marker: ``"o"`` (filled, black edge) or one of :data:`SET_MARKERS`
        (a cross or an open shape drawn in ``color``, so that a set underneath shows).

    Returns
    -------
    dict
        ``points``, ``outline``, ``heights`` (list) and ``label`` artists, each with the gid
        ``"vcfmeasure:<level>:<part>"``.
    """
    xy = np.asarray(xy, dtype=float)
    closed = np.vstack([xy, xy[:1]])
    (outline,) = ax.plot(closed[:, 0], closed[:, 1], "-", color=color, lw=1.2, alpha=0.9)
    outline.set_gid(f"vcfmeasure:{level}:outline")
    segments = []
    if heights:
        for i, j in _HEIGHT_PAIRS:
            (seg,) = ax.plot(xy[[i, j], 0], xy[[i, j], 1], "--", color=color, lw=1.0)
            seg.set_gid(f"vcfmeasure:{level}:height")
            segments.append(seg)
    (points,) = ax.plot(xy[:, 0], xy[:, 1], ls="none", **marker_style(marker, color,
                                                                      marker_size))
    points.set_gid(f"vcfmeasure:{level}:points")
    posterior = xy[[0, 5]].mean(axis=0)
    anterior = xy[[2, 3]].mean(axis=0)
    depth = anterior - posterior
    pos = anterior + 0.15 * depth
    text = ax.text(pos[0], pos[1], label or level, color=color, fontsize=_LABEL_FONTSIZE,
                   fontweight="bold",
                   ha="left" if depth[0] >= 0 else "right", va="center",
                   bbox={"boxstyle": "round,pad=0.15", "fc": "black", "ec": "none",
                         "alpha": 0.55})
    text.set_gid(f"vcfmeasure:{level}:label")
    return {"points": points, "outline": outline, "heights": segments, "label": text}


def anterior_side(landmarks: Landmarks) -> str:
    """``"left"`` or ``"right"``: the side of the image the vertebrae face (their ``a`` points).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[40, 0], [20, 0], [0, 0], [0, 30], [20, 30], [40, 30]], float)
    >>> anterior_side(vm.Landmarks({"L1": box}))
    'left'
    """
    xy = landmarks.array
    if xy.size == 0:
        return "right"
    depth = xy[:, [2, 3], 0].mean() - xy[:, [0, 5], 0].mean()
    return "left" if depth < 0 else "right"


def layout(fig: Any) -> None:
    """Lay ``fig`` out (constrained layout, aspect, text sizes) to measure its artists.

    The images are hidden meanwhile: they take no part in the layout, and resampling a
    large film is most of a draw's cost.
    """
    images = [im for ax in fig.axes for im in ax.images if im.get_visible()]
    for im in images:
        im.set_visible(False)
    try:
        fig.draw_without_rendering()
    finally:
        for im in images:
            im.set_visible(True)


def label_extent(text: Any) -> Any:
    """Display-pixel bounding box of a text with its background box (after a draw)."""
    from matplotlib.transforms import Bbox

    box = text.get_window_extent()
    patch = text.get_bbox_patch()
    return Bbox.union([box, patch.get_window_extent()]) if patch is not None else box


def fit_labels(ax: Any, texts: list[Any], side: str, *, pad_px: float = 4.0) -> None:
    """Widen the view on ``side`` so that the level labels lie inside the axes.

    A label outside the axes would run into the tick labels (films facing left) or the
    legend (facing right). The labels are measured, not estimated: the figure is laid out
    (``Figure.draw_without_rendering``, constrained layout and equal aspect included), the
    overshoot of the widest label past the axes edge is converted to data units and the
    view widened by it, repeated until every label is ``pad_px`` display pixels inside
    (widening a view changes its scale, so one step is not always enough).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_xlim(0, 10)
    >>> t = ax.text(9.5, 0.5, "a long level label", ha="left")
    >>> fit_labels(ax, [t], "right")
    >>> bool(t.get_window_extent().x1 <= ax.get_window_extent().x1)
    True
    >>> plt.close(fig)
    """
    if not texts:
        return
    fig = ax.figure
    for _ in range(6):
        layout(fig)
        ax.apply_aspect()
        box = ax.get_window_extent()
        boxes = [label_extent(t) for t in texts]
        if side == "left":
            over = box.x0 + pad_px - min(b.x0 for b in boxes)
        else:
            over = max(b.x1 for b in boxes) - (box.x1 - pad_px)
        if over <= 0.5:
            return
        x0, x1 = ax.get_xlim()  # screen left, screen right (inverted axes too)
        step = over * (x1 - x0) / max(box.width, 1.0) * 1.05
        ax.set_xlim(x0 - step, x1) if side == "left" else ax.set_xlim(x0, x1 + step)


def plot_landmarks(
    radiograph: Any,
    landmarks: Landmarks,
    *,
    ax: Any = None,
    grades: Any = None,
    heights: bool = True,
    legend: bool = True,
    scale_bar: bool = True,
    title: str | None = None,
    color: str | None = None,
    label: str | None = None,
) -> Any:
    """Draw a radiograph with every landmark at its exact position.

    Each vertebra gets a marker on each of its six points, its closed outline
    ``sp-sm-sa-ia-im-ip``, the three height segments Ha (sa-ia), Hm (sm-im), Hp (sp-ip)
    dashed, and its level name beside the anterior wall. Coordinates are the API's
    ``(x, y)`` pixels with pixel centres at integers, so a marker at ``(10, 20)`` sits on
    the centre of column 10, row 20. The view is widened where needed so that every level
    name lies inside the axes, and the scale bar sits in the lower corner on the posterior
    side, away from the names, whichever way the film faces.

    Parameters
    ----------
    radiograph : Radiograph or ndarray, shape (rows, cols)
        Shown in grey with its ``window`` (else the 0.5-99.5 percentiles); a scale bar
        when its spacing is known. ``None`` draws the points on empty axes, or over what
        ``ax`` already shows (to overlay a second landmark set).
    landmarks : Landmarks
    ax : matplotlib.axes.Axes, optional
        Draw here; default a new figure.
    grades : Grades or mapping level -> grade, optional
        Colour each vertebra by its Genant grade (colour-blind-safe Okabe-Ito run:
        sky blue 0, yellow 1, orange 2, vermillion 3, purple not graded) and write the
        grade after the level name.

        Provenance shows too: a level name that is a detector's guess gets a ``?``
        (``"T12?"``), and a vertebra flagged for review a dotted outline and
        ``"(review)"`` after its label.
    heights : bool
        Draw the three height segments.
    legend : bool
        Add a legend of the grade colours (with ``grades``) and of the landmark sets (with
        ``label``).
    scale_bar : bool
        Draw a scale bar (the longest of 1-100 mm that fits a quarter of the view) when
        the spacing is known.
    title : str, optional
        Default: the image file name, if any.
    color : str, optional
        One colour for every vertebra of this set (instead of the grade colours): to
        compare two sets, e.g. two readers, or clicks and their refinement.
    label : str, optional
        The legend entry of this set. Call again with ``radiograph=None``, ``ax=ax`` and
        another ``color``/``label`` to overlay a second set; level names are written
        once per level. Each overlaid set gets its own marker (:data:`SET_MARKERS`: filled
        circles, then crosses, plus signs, open triangles), so that where two readers agree
        both sets still show, one inside the other.

    Returns
    -------
    matplotlib.axes.Axes
        Artists carry gids ``"vcfmeasure:<level>:points"`` (a Line2D whose data are the
        six points), ``:outline``, ``:height``, ``:label``, ``"vcfmeasure:image"`` and
        ``"vcfmeasure:scale_bar"``.

    Raises
    ------
    LandmarkError
        When ``landmarks`` is not a :class:`~vcfmeasure.Landmarks`.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[10, 10], [30, 10], [50, 10], [50, 40], [30, 40], [10, 40]], float)
    >>> image = vm.Radiograph(np.zeros((60, 70)))
    >>> ax = vm.plot_landmarks(image, vm.Landmarks({"L1": box}), grades={"L1": 2})
    >>> [a for a in ax.lines if a.get_gid() == "vcfmeasure:L1:points"][0].get_xydata()[2]
    array([50., 10.])
    >>> ax.texts[-1].get_text()
    'L1 G2'

    Two readers on one image, with a legend:

    >>> ax = vm.plot_landmarks(image, vm.Landmarks({"L1": box}), color="C0", label="reader A")
    >>> ax = vm.plot_landmarks(None, vm.Landmarks({"L1": box + 1}), ax=ax, color="C1",
    ...                        label="reader B")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['reader A', 'reader B']
    """
    from .._checks import check_landmarks, check_radiograph

    check_radiograph(radiograph, "plot_landmarks", none=True)
    check_landmarks(landmarks, "plot_landmarks")
    if not isinstance(landmarks, Landmarks):
        raise LandmarkError(
            f"plot_landmarks needs a vcfmeasure.Landmarks, got {type(landmarks).__name__}"
        )
    overlay = ax is not None and radiograph is None and bool(_state(ax)["drawn"])
    ax = new_axes(ax, figsize=(6.0, 7.5))
    side = anterior_side(landmarks)
    if radiograph is not None:
        show_image(ax, radiograph, scale_bar=scale_bar,
                   bar_side="right" if side == "left" else "left")
        ax.set_facecolor("black")  # a view widened for the names reads as film edge
    elif not overlay:
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    state = _state(ax)
    index = state.get("count", 0) if overlay else 0
    marker = SET_MARKERS[index % len(SET_MARKERS)]
    state["count"] = index + 1
    graded = grades_by_level(grades)
    provenance = landmarks.provenance
    named = {t.get_gid() for t in ax.texts}
    texts = []
    for level in landmarks.levels:
        g = graded.get(level)
        prov = provenance[level]
        name = f"{level}?" if prov.level_guessed else level
        if grades is None:
            shade, text = color or GRADE_COLORS[0], name
        else:
            shade = color or grade_color(g)
            text = f"{name} G{int(g)}" if g is not None and np.isfinite(g) else f"{name} n/g"
        if prov.needs_review:
            text += " (review)"
        art = draw_vertebra(ax, level, landmarks[level], color=shade, label=text,
                            heights=heights, marker=marker)
        if prov.needs_review:
            art["outline"].set_linestyle(":")
        if color is not None:  # the name belongs to no set: white reads on any colour
            art["label"].set_color("white")
        if f"vcfmeasure:{level}:label" in named:
            art["label"].remove()  # an overlaid set: the name is already written
        else:
            texts.append(art["label"])
    state["drawn"] = True
    if radiograph is not None or not overlay:
        state["side"] = side
    fit_labels(ax, texts, state.get("side", side))
    if label is not None:
        from matplotlib.lines import Line2D

        state["sets"].append(Line2D([], [], color=color or GRADE_COLORS[0], label=label,
                                    **marker_style(marker, color or GRADE_COLORS[0])))
    if grades is not None and legend and color is None:
        state["grades"] = _grade_handles(graded)
    if legend and (state["sets"] or state["grades"]):
        _legend(ax, state)
    path = getattr(radiograph, "path", None)
    if title is None and path:
        from pathlib import Path

        title = Path(path).name
    if title:
        ax.set_title(title)
    return ax


def _state(ax: Any) -> dict[str, Any]:
    """What earlier calls drew on ``ax``: landmark sets and grade legend handles."""
    if ax is None:
        return {"drawn": False}
    if not hasattr(ax, "_vcfmeasure_overlay"):
        ax._vcfmeasure_overlay = {"drawn": False, "sets": [], "grades": []}
    return ax._vcfmeasure_overlay


def _grade_handles(graded: dict[str, float]) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=c, marker="o", mec="black", label=GRADE_LABELS[g])
        for g, c in GRADE_COLORS.items()
    ]
    if any(not np.isfinite(g) for g in graded.values()):
        handles.append(Line2D([], [], color=NO_GRADE_COLOR, marker="o", mec="black",
                              label="not graded"))
    return handles


def _legend(ax: Any, state: dict[str, Any]) -> None:
    title = "Genant height loss" if state["grades"] and not state["sets"] else None
    # outside the image, so that it never hides a landmark
    ax.legend(handles=state["grades"] + state["sets"], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=7, borderaxespad=0.0, title=title,
              title_fontsize=7)
