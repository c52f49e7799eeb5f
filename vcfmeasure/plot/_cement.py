"""Cement outlines, leak markers and follow-up fractures drawn on an image Axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._style import OKABE_ITO

_KIND_TEXT = {"superior_disc": "sup. disc", "inferior_disc": "inf. disc",
              "posterior": "posterior", "anterior": "anterior"}


def draw_cement(ax: Any, report: Any) -> list[Any]:
    """Draw each level's cement outline and its leaks on an image Axes.

    Parameters
    ----------
    ax : matplotlib Axes
        Showing the radiograph the report was measured on (pixel coordinates).
    report : CementReport
        From :func:`vcfmeasure.cement.measure_cement`.

    Returns
    -------
    list
        The artists drawn: a contour per cemented level (gid
        ``"vcfmeasure:cement:<level>"``), and per leak a ring and a label (gid
        ``"vcfmeasure:leak:<level>:<k>"``): solid vermillion for a leak, dashed orange for
        an uncertain one, with its class and size.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from vcfmeasure.synthetic import make_spine
    >>> from vcfmeasure.cement import measure_cement
    >>> s = make_spine(["T12", "L1", "L2"], seed=2, imager_spacing_mm=0.25,
    ...                cement_detail={"L1": {"leaks": [("anterior", 4.0)]}})
    >>> fig, ax = plt.subplots()
    >>> _ = ax.imshow(s.radiograph.pixels, cmap="gray")
    >>> drawn = draw_cement(ax, measure_cement(s.radiograph, s.landmarks))
    >>> sorted({a.get_gid().rsplit(":", 1)[0] for a in drawn})
    ['vcfmeasure:cement', 'vcfmeasure:leak:L1']
    """
    artists: list[Any] = []
    cemented = dict(zip(report.levels, np.asarray(report.cement, dtype=bool), strict=True))
    for level, ((r0, c0), mask) in report.masks.items():
        if not cemented.get(level) or not mask.any():
            continue
        rows, cols = np.arange(mask.shape[0]) + r0, np.arange(mask.shape[1]) + c0
        cs = ax.contour(cols, rows, mask.astype(float), levels=[0.5],
                        colors=[OKABE_ITO["bluish_green"]], linewidths=1.0)
        cs.set_gid(f"vcfmeasure:cement:{level}")
        artists.append(cs)
    per_level: dict[str, int] = {}
    for leak in report.leaks:
        k = per_level.get(leak.level, 0)
        per_level[leak.level] = k + 1
        sure = leak.status == "leak"
        color = OKABE_ITO["vermillion"] if sure else OKABE_ITO["orange"]
        ring = ax.scatter([leak.x], [leak.y], s=160, facecolors="none",
                          edgecolors=color, linewidths=1.5, linestyles="-" if sure else "--")
        ring.set_gid(f"vcfmeasure:leak:{leak.level}:{k}")
        label = f"{_KIND_TEXT.get(leak.kind, leak.kind)} leak {leak.size:.1f} {leak.unit}"
        if not sure:
            label += " (uncertain)"
        text = ax.annotate(label, (leak.x, leak.y), xytext=(8, -8), textcoords="offset points",
                           fontsize=6.5, color=color, va="top",
                           bbox={"boxstyle": "round,pad=0.2", "fc": "black", "ec": "none",
                                 "alpha": 0.6})
        text.set_gid(f"vcfmeasure:leak:{leak.level}:{k}")
        artists += [ring, text]
    return artists


def _grade(g: Any) -> str:
    return "?" if g is None or not np.isfinite(g) else str(int(g))


def draw_incident(ax: Any, landmarks: Any, incident: Any) -> list[Any]:
    """Mark the levels with a new or worsened fracture (and treated re-collapse).

    Parameters
    ----------
    ax : matplotlib Axes
    landmarks : Landmarks
        Of the image shown on ``ax``.
    incident : IncidentFractures
        From :func:`vcfmeasure.procedures.adjacent_fractures` (or
        ``Restoration.incident``).

    Returns
    -------
    list
        A label per marked level, gid ``"vcfmeasure:incident:<level>"``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, numpy as np, vcfmeasure as vm
    >>> from vcfmeasure.procedures import adjacent_fractures
    >>> box = np.array([[0, 0], [50, 0], [100, 0], [100, 150], [50, 150], [0, 150]], float)
    >>> low = box.copy(); low[3, 1] = 90.0
    >>> lm1 = vm.Landmarks({"L1": box, "L2": box + [0, 200]})
    >>> lm2 = vm.Landmarks({"L1": low, "L2": box + [0, 200]})
    >>> inc = adjacent_fractures(vm.measure(lm1, spacing=0.2), vm.measure(lm2, spacing=0.2),
    ...                          treated=["L2"])
    >>> fig, ax = plt.subplots()
    >>> [a.get_gid() for a in draw_incident(ax, lm2, inc)]
    ['vcfmeasure:incident:L1']
    """
    artists = []
    for rec in incident.to_records():
        level = rec["level"]
        if level not in landmarks or not (rec["new_fracture"] or rec["recollapse"]):
            continue
        pts = landmarks[level]
        where = "adjacent" if rec["distance"] == 1 else f"{rec['distance']} levels away"
        text = ("follow-up: re-collapse" if rec["recollapse"] else
                f"follow-up: new fracture ({where}), SQ {_grade(rec['grade_post'])}->"
                f"{_grade(rec['grade_fu'])}")
        anchor = pts[[0, 5]].mean(axis=0)
        label = ax.annotate(text, anchor, xytext=(-10, 0), textcoords="offset points", ha="right",
                            va="center", fontsize=7, color="white",
                            bbox={"boxstyle": "round,pad=0.25", "fc": OKABE_ITO["vermillion"],
                                  "ec": "none"},
                            arrowprops={"arrowstyle": "-", "color": OKABE_ITO["vermillion"]})
        label.set_gid(f"vcfmeasure:incident:{level}")
        artists.append(label)
    return artists
