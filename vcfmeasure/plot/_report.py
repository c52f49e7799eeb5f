"""A one-page patient report: overlay, table of measurements and grades, ratio chart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import VcfMeasureError
from ._charts import plot_ratios
from ._overlay import plot_landmarks
from ._style import fmt_number, grade_color

__all__ = ["patient_report", "report_table", "sdi_text", "spine_window"]

_A4_PORTRAIT = (8.27, 11.69)


def report_table(morphometry: Any, grades: Any) -> tuple[list[str], list[list[str]]]:
    """Column labels and text rows of the report table, one row per vertebra.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> m = vm.measure(vm.Landmarks({"L1": box}), spacing=0.5)
    >>> labels, rows = report_table(m, vm.grade(m))
    >>> labels[1], rows[0][:4], rows[0][-2:]
    ('Ha (mm)', ['L1', '15.0', '15.0', '15.0'], ['0', 'normal'])
    """
    unit = morphometry.unit
    labels = ["Level", f"Ha ({unit})", f"Hm ({unit})", f"Hp ({unit})", "Ha/Hp", "Hm/Hp",
              "Hp/Hp adj", "Wedge (deg)", "Loss (%)", "Grade", "Type"]
    g = grades.to_records()
    rows = []
    for i, lv in enumerate(morphometry.levels):
        rows.append([
            lv,
            fmt_number(float(morphometry.ha[i]), ".1f"),
            fmt_number(float(morphometry.hm[i]), ".1f"),
            fmt_number(float(morphometry.hp[i]), ".1f"),
            fmt_number(float(morphometry.wedge_ratio[i]), ".2f"),
            fmt_number(float(morphometry.biconcavity_ratio[i]), ".2f"),
            fmt_number(float(morphometry.crush_ratio[i]), ".2f"),
            fmt_number(float(morphometry.wedge_angle[i]), ".1f"),
            fmt_number(100 * g[i]["height_loss"], ".0f"),
            "n/g" if g[i]["grade"] is None else str(g[i]["grade"]),
            g[i]["deformity"],
        ])
    return labels, rows


def patient_report(
    radiograph: Any,
    landmarks: Any,
    *,
    morphometry: Any = None,
    grades: Any = None,
    patient: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 150,
    cement: Any = None,
    incident: Any = None,
) -> Any:
    """One A4 page: the overlay coloured by grade, a table per vertebra, the ratio chart.

    Parameters
    ----------
    radiograph : Radiograph or ndarray
    landmarks : Landmarks
    morphometry : Morphometry, optional
        Default ``vm.measure(landmarks, spacing=radiograph)`` (mm when the radiograph's
        spacing is known).
    grades : Grades, optional
        Default ``vm.grade(morphometry)`` (RadElement reference).
    patient : str, optional
        A line for the header (identifier, date, view). Nothing is read from the image
        metadata, so nothing identifying appears unless given here.
    path : str or path-like, optional
        Save the page there; ``.png`` (at ``dpi``), ``.pdf`` or ``.svg`` (vector) by
        suffix.
    dpi : int
    cement : CementReport, optional
        Cement outlines and leaks drawn on the overlay (:func:`vcfmeasure.cement.measure_cement`).
    incident : IncidentFractures, optional
        New fractures at other levels and re-collapse marked on the overlay
        (``Restoration.incident`` of a comparison with a follow-up).

    Returns
    -------
    matplotlib.figure.Figure
        Axes: ``[0]`` overlay, ``[1]`` table, ``[2]`` ratio chart, ``[3]`` footer text.

    Raises
    ------
    VcfMeasureError
        When ``path`` ends in none of ``.png``, ``.pdf``, ``.svg``.

    Notes
    -----
    The overlay is cropped to the measured vertebrae (with a margin of about one body
    height), not the whole film. The footer gives the spinal deformity index over the
    levels of T4-L4 that were graded, names them, and names levels outside T4-L4.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, vcfmeasure as vm
    >>> box = np.array([[10, 10], [30, 10], [50, 10], [50, 40], [30, 40], [10, 40]], float)
    >>> image = vm.Radiograph(np.zeros((60, 80)), spacing=0.5, spacing_source="user")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.pdf"
    >>> fig = vm.plot.patient_report(image, vm.Landmarks({"L1": box}), path=out)
    >>> out.read_bytes()[:4]
    b'%PDF'
    """
    import matplotlib.pyplot as plt

    from .. import __version__
    from ..grading import grade
    from ..morphometry import measure

    suffix = Path(path).suffix.lower() if path is not None else None
    if suffix not in (None, ".png", ".pdf", ".svg"):
        raise VcfMeasureError(
            f"{path}: patient_report saves PNG, PDF or SVG; end the file name in .png, .pdf "
            "or .svg"
        )
    if morphometry is None:
        spacing = radiograph if hasattr(radiograph, "spacing_source") else None
        morphometry = measure(landmarks, spacing=spacing)
    if grades is None:
        grades = grade(morphometry)
    fig = plt.figure(figsize=_A4_PORTRAIT, layout="constrained")
    grid = fig.add_gridspec(4, 1, height_ratios=[5.2, 2.2, 2.4, 0.5])
    ax_img = fig.add_subplot(grid[0])
    ax_tab = fig.add_subplot(grid[1])
    ax_bar = fig.add_subplot(grid[2])
    ax_foot = fig.add_subplot(grid[3])
    plot_landmarks(radiograph, landmarks, ax=ax_img, grades=grades)
    if cement is not None or incident is not None:
        from ._cement import draw_cement, draw_incident

        if cement is not None:
            draw_cement(ax_img, cement)
        if incident is not None:
            draw_incident(ax_img, landmarks, incident)
    if len(landmarks.levels):
        _crop_to_spine(ax_img, landmarks)
    _draw_table(ax_tab, morphometry, grades)
    plot_ratios(morphometry, grades=grades, ax=ax_bar)
    header = "Vertebral morphometry report"
    fig.suptitle(header + (f" - {patient}" if patient else ""), fontsize=12, fontweight="bold")
    ax_foot.axis("off")
    ax_foot.text(0.0, 1.0, _footer(morphometry, grades, __version__), fontsize=6.5,
                 va="top", ha="left", transform=ax_foot.transAxes, wrap=True)
    if path is not None and suffix is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format=suffix.lstrip("."))
    return fig


def spine_window(landmarks: Any, *, margin: float = 1.0
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits around the landmarks: their bounding box plus ``margin`` body heights.

    Returns
    -------
    xlim, ylim : tuple of float
        ``ylim`` is (bottom, top), y pointing down as in an image.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> spine_window(vm.Landmarks({"L1": box + 100}), margin=0.5)
    ((85.0, 155.0), (145.0, 85.0))
    """
    xy = landmarks.array.reshape(-1, 2)
    body = float(np.mean([np.ptp(landmarks[lv][:, 1]) for lv in landmarks.levels]))
    (x0, y0), (x1, y1) = xy.min(axis=0) - margin * body, xy.max(axis=0) + margin * body
    return (float(x0), float(x1)), (float(y1), float(y0))


def _crop_to_spine(ax: Any, landmarks: Any) -> None:
    """Show the measured spine, not the whole film; level names stay inside the view."""
    from ._overlay import anterior_side, fit_labels

    (x0, x1), (y1, y0) = spine_window(landmarks)
    if ax.images:  # not beyond the film
        left, right, bottom, top = ax.images[0].get_extent()
        x0, x1 = max(x0, min(left, right)), min(x1, max(left, right))
        y0, y1 = max(y0, min(top, bottom)), min(y1, max(top, bottom))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_facecolor("black")
    fit_labels(ax, [t for t in ax.texts if (t.get_gid() or "").endswith(":label")],
               anterior_side(landmarks))


def _draw_table(ax: Any, morphometry: Any, grades: Any) -> None:
    labels, rows = report_table(morphometry, grades)
    ax.axis("off")
    if not rows:
        ax.text(0.5, 0.5, "no vertebrae", ha="center", va="center")
        return
    table = ax.table(cellText=rows, colLabels=labels, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(list(range(len(labels))))
    table.scale(1.0, 1.1)
    table.set_gid("vcfmeasure:table")
    grade_col = labels.index("Grade")
    for i, g in enumerate(np.asarray(grades.grade, dtype=float)):
        table[i + 1, grade_col].set_facecolor(grade_color(g))


def _footer(morphometry: Any, grades: Any, version: str) -> str:
    regional = "; ".join(
        f"{r['name'].replace('_', ' ')} {r['angle']:.1f} deg ({r['definition']})"
        for r in morphometry.regional
    ) or "regional angles: levels not in view"
    sp = morphometry.spacing
    spacing = "pixels (no spacing)" if sp is None else f"{sp[0]:.4g} x {sp[1]:.4g} mm/px"
    return (
        f"Heights in {morphometry.unit}; spacing {spacing}, source: "
        f"{morphometry.spacing_source}. Grades: Genant SQ on the largest height reduction, "
        f"reference '{grades.reference}'; {sdi_text(grades)}.\n{regional}.\n"
        f"vcfmeasure {version}. Research tool: check every landmark before relying on a grade."
    )


def sdi_text(grades: Any) -> str:
    """The spinal deformity index with the levels it sums, for a report.

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
    >>> lm = vm.Landmarks({lv: box + [0, 36 * i] for i, lv in enumerate(["L3", "L4", "L5"])})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", vm.DomainWarning)
    ...     g = vm.grade(vm.measure(lm))
    >>> sdi_text(g)
    'spinal deformity index 0 over L3-L4 (2 of the 13 levels T4-L4; L5 outside T4-L4, not counted)'
    """
    from ..grading import GENANT_LEVELS, sdi_levels

    used = sdi_levels(grades)
    outside = [lv for lv in grades.levels if lv not in GENANT_LEVELS]
    tail = f"; {', '.join(outside)} outside T4-L4, not counted" if outside else ""
    if not used:
        return f"no spinal deformity index: no graded level in T4-L4{tail}"
    span = used[0] if len(used) == 1 else f"{used[0]}-{used[-1]}"
    if len(used) > 1 and GENANT_LEVELS.index(used[-1]) - GENANT_LEVELS.index(used[0]) + 1 != len(used):
        span = ", ".join(used)
    return (f"spinal deformity index {grades.spinal_deformity_index} over {span} "
            f"({len(used)} of the {len(GENANT_LEVELS)} levels T4-L4{tail})")
