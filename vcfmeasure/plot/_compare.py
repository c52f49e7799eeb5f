"""Pre/post comparison: two radiographs side by side, aligned per level, with the numbers."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._errors import PlausibilityWarning, VcfMeasureError
from ..landmarks import Landmarks
from ._overlay import anterior_side, fit_labels, layout, plot_landmarks
from ._style import OKABE_ITO, fmt_number, short_source

__all__ = ["plot_comparison", "aligned_window", "panel_aspect"]


def aligned_window(
    landmarks: Landmarks, levels: list[str], *, box_aspect: float, margin: float = 1.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits that put the first and last of ``levels`` at fixed heights of the axes.

    The window runs from the centroid of the first level minus ``margin`` mean body
    heights to the centroid of the last level plus the same, and is as wide as
    ``height / box_aspect`` around the mean centroid, so two images shown with the same box
    aspect have those levels at the same screen heights whatever their scale.

    Returns
    -------
    xlim, ylim : tuple of float
        ``ylim`` is (bottom, top) with y pointing down, as for an image.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> lm = vm.Landmarks({"L1": box, "L2": box + [0, 40]})
    >>> aligned_window(lm, ["L1", "L2"], box_aspect=2.0)
    ((-5.0, 45.0), (85.0, -15.0))
    """
    centroids = np.array([landmarks[lv].mean(axis=0) for lv in levels])
    body = np.mean([np.ptp(landmarks[lv][:, 1]) for lv in levels])
    top = centroids[0, 1] - margin * body
    bottom = centroids[-1, 1] + margin * body
    half_width = (bottom - top) / box_aspect / 2
    cx = centroids[:, 0].mean()
    return (float(cx - half_width), float(cx + half_width)), (float(bottom), float(top))


def panel_aspect(sets: list[Landmarks], levels: list[str], *, margin: float = 1.0,
                 lo: float = 1.3, hi: float = 2.6) -> float:
    """Height / width of both panels: tall enough for a long spine, wide enough for a short one.

    The ratio of the aligned window's height (``levels`` plus ``margin`` body heights above
    and below) to the spine's width (plus the same margin each side), the smaller over
    ``sets`` so that both spines fit, kept within ``[lo, hi]``. A long spine (T4-L4) then
    fills a narrow panel instead of a wide one that is mostly film edge.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> one = vm.Landmarks({"L1": box})
    >>> names = ["T11", "T12", "L1", "L2", "L3", "L4"]
    >>> many = vm.Landmarks({lv: box + [0, 36 * i] for i, lv in enumerate(names)})
    >>> panel_aspect([one], ["L1"]), panel_aspect([many], many.levels)  # (180 + 60) / (40 + 60)
    (1.3, 2.4)
    """
    ratios = []
    for lm in sets:
        xy = np.concatenate([lm[lv] for lv in levels])
        body = float(np.mean([np.ptp(lm[lv][:, 1]) for lv in levels]))
        centroids = np.array([lm[lv].mean(axis=0) for lv in levels])
        height = centroids[-1, 1] - centroids[0, 1] + 2 * margin * body
        width = float(np.ptp(xy[:, 0])) + 2 * margin * body
        ratios.append(abs(height) / max(width, 1e-9))
    return float(np.clip(min(ratios), lo, hi))


#: A pre-operative height loss below this is treated as none: no "% restored" is shown, and
#: the level is not annotated by default.
MIN_LOSS = 0.05
#: Levels are annotated by default when their largest pre-operative loss reaches this.
ANNOTATE_LOSS = 0.15


def _preop_loss(record: dict[str, Any]) -> float:
    losses = [record[f"preop_loss_{x}"] for x in ("a", "m", "p")]
    return max((v for v in losses if np.isfinite(v)), default=0.0)


def _restoration_text(record: dict[str, Any]) -> str:
    unit = record["unit"]
    lines = [record["level"]]
    for x in ("a", "m", "p"):
        frac = record[f"restored_{x}"]
        lost = record[f"preop_loss_{x}"]
        percent = fmt_number(100 * frac, ".0f") if np.isfinite(frac) else "-"
        # a fraction only where height was lost and some came back: an untreated level
        # reads "+0.0 mm", never "-0 % of loss restored"
        shown = np.isfinite(frac) and lost >= MIN_LOSS and percent not in ("0", "-")
        restored = f", {percent}% of loss restored" if shown else ""
        lines.append(f"H{x} {fmt_number(record[f'delta_h{x}'], '+.1f')} {unit}{restored}")
    for col, name in (("wedge_angle_correction", "wedge"),
                      ("local_kyphosis_correction", "kyphosis")):
        value = record[col]
        if np.isfinite(value):
            lines.append(f"{name} {fmt_number(value, '+.1f')} deg corrected")
    return "\n".join(lines)


def plot_comparison(
    pre_image: Any,
    pre_landmarks: Landmarks,
    post_image: Any,
    post_landmarks: Landmarks,
    *,
    restoration: Any = None,
    levels: list[str] | None = None,
    annotate: list[str] | None = None,
    pre_grades: Any = None,
    post_grades: Any = None,
    figsize: tuple[float, float] | None = None,
    cement: Any = None,
) -> Any:
    """Pre- and post-operative radiographs side by side, aligned per level, with restoration.

    Both images are cropped around the compared levels so that the first and last of them
    sit at the same height in the two panels (see :func:`aligned_window`); a dotted line
    in the gap between the panels joins each level's height on the left to its height on
    the right (the post panel's rows follow the pre panel's, so its y tick labels are
    left out). To the right of the post panel, with an
    arrow to the level: the height change of Ha, Hm, Hp (in the restoration's unit) with
    the fraction of the lost height regained, and the wedge and local kyphosis corrections
    (deg, + = kyphosis reduced).

    Parameters
    ----------
    pre_image, post_image : Radiograph or ndarray
    pre_landmarks, post_landmarks : Landmarks
    restoration : Restoration, optional
        From :func:`vcfmeasure.compare`. Default: computed here from both landmark sets,
        measured with each radiograph's spacing (plausibility warnings are kept in the
        figure's footer instead of being raised).
    levels : list of str, optional
        Levels to align on; default every level in both landmark sets.
    annotate : list of str, optional
        Levels to write the restoration numbers beside; default the levels of
        ``restoration`` that had lost at least 15 % of a height before the procedure
        (against the restoration's reference), or all of them when none had.
    pre_grades, post_grades : Grades, optional
        Colour each panel's vertebrae by grade.
    figsize : (float, float), optional
        Inches. Default 6.5 high and as wide as the two panels and the notes need: 11 for
        a few levels, about 8 for a long spine (T4-L4), whose panels are taller than wide.
    cement : CementReport, optional
        From :func:`vcfmeasure.cement.measure_cement` on the post image: its cement
        outlines and leaks are drawn on the post panel. A ``restoration`` made with
        ``follow_up`` also marks the new fractures at other levels there.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` pre, ``fig.axes[1]`` post; the per-level texts have gids
        ``"vcfmeasure:restoration:<level>"``.

    Raises
    ------
    VcfMeasureError
        When no level is in both landmark sets.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[10, 10], [30, 10], [50, 10], [50, 40], [30, 40], [10, 40]], float)
    >>> low = box.copy(); low[2:4, 1] = [18, 32]
    >>> pre = vm.Landmarks({"T12": box, "L1": low + [0, 36], "L2": box + [0, 72]})
    >>> post = vm.Landmarks({"T12": box, "L1": box + [0, 36], "L2": box + [0, 72]})
    >>> image = np.zeros((130, 70))
    >>> fig = vm.plot.plot_comparison(image, pre, image, post)
    >>> [t.get_text() for t in fig.axes[1].texts
    ...  if t.get_gid() == "vcfmeasure:restoration:L1"][0].splitlines()[:2]
    ['L1', 'Ha +16.0 px, 100% of loss restored']
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import ConnectionPatch

    notes: list[str] = []
    if restoration is None:
        from ..morphometry import measure
        from ..restoration import compare

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PlausibilityWarning)
            restoration = compare(measure(pre_landmarks, spacing=_spacing(pre_image)),
                                  measure(post_landmarks, spacing=_spacing(post_image)))
        notes = [str(w.message) for w in caught if issubclass(w.category, PlausibilityWarning)]
    else:
        notes = list(getattr(restoration, "warnings_", []))
    records = {r["level"]: r for r in restoration.to_records()}
    if levels is None:
        levels = list(pre_landmarks.levels)
    levels = [lv for lv in levels if lv in pre_landmarks and lv in post_landmarks]
    if annotate is None:
        annotate = [lv for lv, r in records.items() if _preop_loss(r) >= ANNOTATE_LOSS]
        annotate = annotate or list(records)
    if not levels:
        raise VcfMeasureError(
            "plot_comparison: no level is in both landmark sets "
            f"(pre: {', '.join(pre_landmarks.levels)}; post: {', '.join(post_landmarks.levels)})"
        )
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    from matplotlib.transforms import blended_transform_factory

    # wspace: room between the panels for the alignment lines
    box_aspect = panel_aspect([pre_landmarks, post_landmarks], levels)
    if figsize is None:
        # two panels about 5.4 in high, plus ticks, the gap and the notes (about 3.6 in)
        figsize = (float(np.clip(2 * 5.4 / box_aspect + 3.6, 7.0, 11.0)), 6.5)
    fig, (ax_pre, ax_post) = plt.subplots(1, 2, figsize=figsize,
                                          layout=ConstrainedLayoutEngine(wspace=0.1))
    # the panels hug the gap between them, so the alignment lines stay short
    ax_pre.set_anchor("E")
    ax_post.set_anchor("W")
    for ax, image, lm, grades, name in ((ax_pre, pre_image, pre_landmarks, pre_grades, "pre"),
                                        (ax_post, post_image, post_landmarks, post_grades,
                                         "post")):
        plot_landmarks(image, lm, ax=ax, grades=grades, legend=False, scale_bar=False,
                       title=f"{name}-operative")
        xlim, ylim = aligned_window(lm, levels, box_aspect=box_aspect)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_box_aspect(box_aspect)
        ax.set_facecolor("black")
        fit_labels(ax, [t for t in ax.texts if (t.get_gid() or "").endswith(":label")],
                   anterior_side(lm))
    # the post panel shares the pre panel's rows (aligned): its y tick labels would sit on
    # the alignment lines, which run only in the gap between the panels, over no text
    ax_post.tick_params(axis="y", labelleft=False)
    ax_post.set_ylabel("")
    placed: list[Any] = []
    edge = {ax: blended_transform_factory(ax.transAxes, ax.transData) for ax in (ax_pre, ax_post)}
    for lv in levels:
        a = pre_landmarks[lv].mean(axis=0)
        b = post_landmarks[lv].mean(axis=0)
        link = ConnectionPatch((1.0, a[1]), (0.0, b[1]), edge[ax_pre], edge[ax_post],
                               axesA=ax_pre, axesB=ax_post, color=OKABE_ITO["yellow"],
                               lw=0.8, ls=":")
        link.set_gid(f"vcfmeasure:align:{lv}")
        fig.add_artist(link)
        if lv in records and lv in annotate:
            target, shrink = _arrow_target(post_landmarks[lv], ax_post, lv)
            text = ax_post.annotate(
                _restoration_text(records[lv]), xy=target, xytext=(1.04, b[1]),
                textcoords=edge[ax_post],
                fontsize=7.5, va="center", ha="left", annotation_clip=False,
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": OKABE_ITO["orange"]},
                arrowprops={"arrowstyle": "->", "color": OKABE_ITO["orange"], "lw": 1.2,
                            "shrinkB": shrink},
            )
            text.set_gid(f"vcfmeasure:restoration:{lv}")
            placed.append(text)
    if cement is not None or getattr(restoration, "incident", None) is not None:
        from ._cement import draw_cement, draw_incident

        if cement is not None:
            draw_cement(ax_post, cement)
        if getattr(restoration, "incident", None) is not None:
            draw_incident(ax_post, post_landmarks, restoration.incident)
    fig.suptitle(f"Pre / post comparison, levels {levels[0]}-{levels[-1]} "
                 f"(heights in {restoration.unit}; spacing: "
                 f"{short_source(restoration.spacing_source)})",
                 fontsize=10)
    _stack_notes(ax_post, placed)
    if notes:
        fig.text(0.01, 0.005, "\n".join(f"warning: {n}" for n in notes), fontsize=6,
                 color=OKABE_ITO["vermillion"], va="bottom", wrap=True)
    return fig


def _stack_notes(ax: Any, notes: list[Any], *, gap_px: float = 4.0) -> None:
    """Move the restoration notes apart vertically so that no two boxes overlap.

    Each note starts level with its vertebra; after a layout pass the boxes are measured
    and, top to bottom, each is pushed below the one above it (``gap_px`` display pixels
    apart). The stack is then shifted up if it runs off the bottom of the figure, never
    above its top. The arrows still end at their vertebrae.
    """
    if not notes:
        return
    fig = ax.figure
    layout(fig)
    boxes = [n.get_bbox_patch().get_window_extent() for n in notes]
    order = sorted(range(len(notes)), key=lambda i: -boxes[i].y1)  # top first
    centres = {i: 0.5 * (boxes[i].y0 + boxes[i].y1) for i in order}
    floor = None
    for i in order:
        half = 0.5 * boxes[i].height
        if floor is not None and centres[i] + half > floor - gap_px:
            centres[i] = floor - gap_px - half
        floor = centres[i] - half
    low = min(centres[i] - 0.5 * boxes[i].height for i in order)
    top_room = fig.bbox.y1 - max(centres[i] + 0.5 * boxes[i].height for i in order)
    lift = min(max(0.0, fig.bbox.y0 + gap_px - low), max(0.0, top_room - gap_px))
    inverse = ax.transData.inverted()
    for i in order:
        y = centres[i] + lift
        if abs(y - 0.5 * (boxes[i].y0 + boxes[i].y1)) < 0.5:
            continue
        _, y_data = inverse.transform((0.0, y))
        notes[i].xyann = (notes[i].xyann[0], float(y_data))


def _arrow_target(xy: np.ndarray, ax: Any, level: str) -> tuple[np.ndarray, float]:
    """Where the arrow from the note (right of the panel) ends, and its shrink in points.

    At the right-hand wall, or, when the level's name sits there (a film facing right),
    at the name's right edge.
    """
    walls = xy[[[2, 3], [0, 5]]].mean(axis=1)
    right = int(np.argmax(walls[:, 0]))
    if right == 1:  # posterior wall on the right: the name is on the other side
        return walls[1], 2.0
    name = next((t for t in ax.texts if t.get_gid() == f"vcfmeasure:{level}:label"), None)
    if name is None:
        return walls[0], 2.0
    # end the arrow at the name's right edge: its width in points, estimated
    width_pt = (0.65 * len(name.get_text()) + 0.6) * name.get_fontsize()
    return np.asarray(name.get_position(), dtype=float), width_pt + 3.0


def _spacing(image: Any) -> Any:
    return image if getattr(image, "spacing_source", None) is not None else None
