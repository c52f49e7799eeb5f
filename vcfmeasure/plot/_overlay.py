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

__all__ = ["plot_landmarks", "draw_vertebra"]

# Height segments in POINT_NAMES indices: (sa, ia), (sm, im), (sp, ip).
_HEIGHT_PAIRS = ((2, 3), (1, 4), (0, 5))


def draw_vertebra(
    ax: Any, level: str, xy: np.ndarray, *, color: str, label: str | None = None,
    heights: bool = True, marker_size: float = 5.0,
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
    (points,) = ax.plot(xy[:, 0], xy[:, 1], "o", ms=marker_size, mfc=color, mec="black",
                        mew=0.6, ls="none")
    points.set_gid(f"vcfmeasure:{level}:points")
    posterior = xy[[0, 5]].mean(axis=0)
    anterior = xy[[2, 3]].mean(axis=0)
    depth = anterior - posterior
    pos = anterior + 0.15 * depth
    text = ax.text(pos[0], pos[1], label or level, color=color, fontsize=9, fontweight="bold",
                   ha="left" if depth[0] >= 0 else "right", va="center",
                   bbox={"boxstyle": "round,pad=0.15", "fc": "black", "ec": "none",
                         "alpha": 0.55})
    text.set_gid(f"vcfmeasure:{level}:label")
    return {"points": points, "outline": outline, "heights": segments, "label": text}


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
) -> Any:
    """Draw a radiograph with every landmark at its exact position.

    Each vertebra gets a marker on each of its six points, its closed outline
    ``sp-sm-sa-ia-im-ip``, the three height segments Ha (sa-ia), Hm (sm-im), Hp (sp-ip)
    dashed, and its level name beside the anterior wall. Coordinates are the API's
    ``(x, y)`` pixels with pixel centres at integers, so a marker at ``(10, 20)`` sits on
    the centre of column 10, row 20.

    Parameters
    ----------
    radiograph : Radiograph or ndarray, shape (rows, cols)
        Shown in grey with its ``window`` (else the 0.5-99.5 percentiles); a 10 mm scale
        bar when its spacing is known. ``None`` draws the points on empty axes.
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
        Add a legend of the grade colours (only with ``grades``).
    scale_bar : bool
        Draw a 10 mm (50 mm on large films) bar when the spacing is known.
    title : str, optional
        Default: the image file name, if any.

    Returns
    -------
    matplotlib.axes.Axes
        Artists carry gids ``"vcfmeasure:<level>:points"`` (a Line2D whose data are the
        six points), ``:outline``, ``:height``, ``:label``, and ``"vcfmeasure:image"``.

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
    """
    from .._checks import check_landmarks, check_radiograph

    check_radiograph(radiograph, "plot_landmarks", none=True)
    check_landmarks(landmarks, "plot_landmarks")
    if not isinstance(landmarks, Landmarks):
        raise LandmarkError(
            f"plot_landmarks needs a vcfmeasure.Landmarks, got {type(landmarks).__name__}"
        )
    ax = new_axes(ax, figsize=(6.0, 7.5))
    if radiograph is not None:
        show_image(ax, radiograph, scale_bar=scale_bar)
    else:
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    graded = grades_by_level(grades)
    provenance = landmarks.provenance
    for level in landmarks.levels:
        g = graded.get(level)
        prov = provenance[level]
        name = f"{level}?" if prov.level_guessed else level
        if grades is None:
            color, label = GRADE_COLORS[0], name
        else:
            color = grade_color(g)
            label = f"{name} G{int(g)}" if g is not None and np.isfinite(g) else f"{name} n/g"
        if prov.needs_review:
            label += " (review)"
        art = draw_vertebra(ax, level, landmarks[level], color=color, label=label,
                            heights=heights)
        if prov.needs_review:
            art["outline"].set_linestyle(":")
    if grades is not None and legend:
        _grade_legend(ax, graded)
    path = getattr(radiograph, "path", None)
    if title is None and path:
        from pathlib import Path

        title = Path(path).name
    if title:
        ax.set_title(title)
    return ax


def _grade_legend(ax: Any, graded: dict[str, float]) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=c, marker="o", mec="black", label=GRADE_LABELS[g])
        for g, c in GRADE_COLORS.items()
    ]
    if any(not np.isfinite(g) for g in graded.values()):
        handles.append(Line2D([], [], color=NO_GRADE_COLOR, marker="o", mec="black",
                              label="not graded"))
    # outside the image, so that it never hides a landmark
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
              borderaxespad=0.0, title="Genant height loss", title_fontsize=7)
