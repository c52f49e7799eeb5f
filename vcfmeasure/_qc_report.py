"""A static HTML quality-control report of a batch of graded images.

:func:`qc_report` turns the rows of :func:`vcfmeasure.batch.grade_many` (or its CSV) into
one HTML file and a folder of overlay images: one card per image with a thumbnail (a link
to the full-size overlay), the level table with grades and heights in their unit, and the
reason for every flag. The page has no server, fetches nothing from the network (its CSS
and JavaScript are inline), and filters and sorts the cards in the browser. It is built
from a Jinja2 template shipped in ``vcfmeasure/data/`` (extra ``report``).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._errors import VcfMeasureError, require

__all__ = ["qc_report", "FLAG_KINDS", "GENANT_LEVELS"]

#: The flag kinds of the report: key (used by the filter) -> label.
FLAG_KINDS: dict[str, str] = {
    "needs-review": "needs review",
    "level-guessed": "level guessed",
    "spacing-unknown": "spacing unknown",
    "outside-genant": "outside Genant range",
    "borderline": "borderline grade",
    "plausibility": "plausibility warning",
    "warning": "other warning",
}
#: Levels where Genant's semi-quantitative method was defined (T4-L4).
GENANT_LEVELS = ("T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4")
_THUMB_WIDTH = 240
_FULL_HEIGHT_IN = 10.0


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def _fmt(value: Any, spec: str) -> str:
    x = _number(value)
    return "" if not math.isfinite(x) else format(x, spec)


def _split_warnings(text: str) -> list[str]:
    return [w.strip() for w in re.split(r"\s*\|\s*|\n", text) if w.strip()]


def _warning_kind(message: str) -> str:
    if message.startswith("PlausibilityWarning"):
        return "plausibility"
    # grade's warning for levels outside T4-L4 is the outside-Genant flag, not another warning
    return "outside-genant" if message.startswith("DomainWarning") else "warning"


def _level_reasons(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(flag key, reason) of one vertebra's row; columns a table lacks are skipped."""
    out: list[tuple[str, str]] = []
    level = _text(row.get("level"))
    if _truthy(row.get("needs_review")):
        conf = _number(row.get("confidence"))
        why = f" (confidence {conf:.2f})" if math.isfinite(conf) else ""
        out.append(("needs-review", f"needs review{why}"))
    prov = _text(row.get("provenance")).lower()
    if _truthy(row.get("level_guessed")) or "guess" in prov:
        out.append(("level-guessed", "level name guessed from body sizes"))
    if "outside_genant_range" in row:
        outside = _truthy(row.get("outside_genant_range"))
    else:
        outside = bool(level) and level not in GENANT_LEVELS
    if outside:
        out.append(("outside-genant", f"{level} is outside T4-L4, where Genant grading was defined"))
    if _truthy(row.get("borderline")):
        out.append(("borderline", "borderline: height loss within the margin of a grade cut"))
    return out


def _image_notes(rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Image-wide (flag key, label) pairs and the warning texts of one image."""
    flags: list[tuple[str, str]] = []
    first = rows[0]
    unit = _text(first.get("unit"))
    source = _text(first.get("spacing_source"))
    if unit == "px" or source.lower().startswith("unknown"):
        flags.append(("spacing-unknown", "spacing unknown: lengths in px"))
    notes: list[str] = []
    for r in rows:
        for w in _split_warnings(_text(r.get("warnings"))):
            if w not in notes:
                notes.append(w)
    for w in notes:
        key = _warning_kind(w)
        if (key, FLAG_KINDS[key]) not in flags:
            flags.append((key, FLAG_KINDS[key]))
    return flags, notes


def _records(grades: Any) -> tuple[list[dict[str, Any]], Path | None]:
    import pandas as pd

    if isinstance(grades, (str, os.PathLike)):
        path = Path(grades)
        if not path.exists():
            raise VcfMeasureError(f"{path}: no such grade table; run `vcfmeasure grade` first")
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"level": str})
        base: Path | None = path.parent
    elif isinstance(grades, pd.DataFrame):
        df, base = grades, None
    else:
        raise VcfMeasureError(
            f"qc_report: grades must be a DataFrame or the path of a grade CSV, got {type(grades).__name__}"
        )
    if "image" not in df.columns:
        raise VcfMeasureError(
            "qc_report: the grade table has no 'image' column (is it a `vcfmeasure grade` CSV?)"
        )
    return df.to_dict("records"), base


def _resolve(path_text: str, base: Path | None) -> Path | None:
    if not path_text:
        return None
    p = Path(path_text)
    if p.exists():
        return p
    if base is not None and not p.is_absolute() and (base / p).exists():
        return base / p
    return None


def _overlay(image: Path, rows: list[dict[str, Any]], landmark_file: Path | None, detect: bool,
             full_path: Path, thumb_path: Path) -> tuple[tuple[int, int], str]:
    """Draw the overlay PNG and its thumbnail; returns the thumbnail size and a note."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from PIL import Image

    from .detect import detect_landmarks
    from .io.images import load_image
    from .io.landmark_files import read_landmarks
    from .plot import plot_landmarks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # already recorded in the batch rows
        radiograph = load_image(image)
        if landmark_file is not None:
            landmarks = read_landmarks(landmark_file)
            how = "landmarks from " + landmark_file.name
        elif detect:
            levels = [_text(r.get("level")) for r in rows if _text(r.get("level"))]
            guessed = any("guess" in _text(r.get("provenance")).lower() or _truthy(r.get("level_guessed"))
                          for r in rows)
            landmarks = detect_landmarks(radiograph, levels=None if guessed else levels or None)
            how = "landmarks detected again for this overlay"
        else:
            landmarks = None
            how = "no landmark file: image only"
        grades = {_text(r.get("level")): _number(r.get("grade")) for r in rows if _text(r.get("level"))}
        rows_px, cols_px = radiograph.pixels.shape
        height = _FULL_HEIGHT_IN
        fig = plt.figure(figsize=(height * cols_px / rows_px, height), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        if landmarks is not None:
            plot_landmarks(radiograph, landmarks, ax=ax, grades=grades, legend=True)
        else:
            ax.imshow(radiograph.pixels, cmap="gray")
        ax.set_axis_off()
        fig.savefig(full_path, dpi=100)
        plt.close(fig)
    with Image.open(full_path) as im:
        w = _THUMB_WIDTH
        h = max(1, round(im.height * w / im.width))
        im.convert("RGB").resize((w, h), Image.Resampling.LANCZOS).save(thumb_path)
    return (w, h), how


def _safe_name(index: int, name: str) -> str:
    return f"{index:04d}_" + (re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "image")


def _display_name(image: str) -> str:
    from .agreement import _image_key

    return _image_key(image) if image else "(no image)"


def _group(records: Iterable[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(_text(r.get("image")), []).append(r)
    return list(groups.items())


def qc_report(
    grades: Any,
    out: str | os.PathLike[str],
    *,
    title: str | None = None,
    thumbnails: bool = True,
    detect: bool = True,
) -> Path:
    """Write a static HTML QC report of a batch: one card per image, filters, counts.

    Parameters
    ----------
    grades : pandas.DataFrame or path
        Rows of :func:`vcfmeasure.batch.grade_many` or its CSV/Parquet output: one row per
        vertebra, error rows for failed inputs. Columns the table lacks are handled: a
        missing ``outside_genant_range`` is derived from the level (T4-L4), a missing
        ``level_guessed`` from ``provenance``, missing ``warnings`` as none.
    out : path
        Folder to write ``index.html`` and ``images/`` (overlays and thumbnails) into;
        created when missing.
    title : str, optional
        Page title (default names the table).
    thumbnails : bool
        Draw the overlays (matplotlib; about a second per image). ``False`` writes the page
        alone.
    detect : bool
        For rows whose landmarks were detected (no landmark file), detect them again to
        draw the overlay (the same call the batch made); ``False`` shows the image only.

    Returns
    -------
    Path
        The ``index.html`` written.

    Raises
    ------
    VcfMeasureError
        A table without an ``image`` column, or a missing file.
    MissingDependencyError
        Without Jinja2 (``pip install 'vcfmeasure[report]'``).

    Notes
    -----
    Flags and their reasons, per vertebra: *needs review* (with the detector's
    confidence), *level guessed*, *outside Genant range* (outside T4-L4), *borderline*
    grade; per image: *spacing unknown* (lengths in px) and each recorded warning
    (*plausibility* for :class:`~vcfmeasure.PlausibilityWarning`). An image is flagged when
    any of these applies. Failed inputs (error rows) are listed with their message above
    the cards.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> rows = pd.DataFrame({"image": ["a.dcm", "a.dcm", "b.dcm"], "level": ["L1", "L2", ""],
    ...                      "unit": ["mm", "mm", ""], "ha": [20.1, 25.0, None],
    ...                      "hm": [22.0, 24.8, None], "hp": [26.0, 25.5, None],
    ...                      "grade": [2, 0, None], "error": ["", "", "ImageError: b.dcm: truncated"]})
    >>> page = qc_report(rows, tempfile.mkdtemp(), thumbnails=False)
    >>> text = page.read_text()
    >>> text.count('<article class="card'), "truncated" in text
    (1, True)
    """
    jinja2 = require("jinja2", extra="report", feature="the HTML QC report")
    from . import __version__
    from .plot._style import GRADE_COLORS, NO_GRADE_COLOR

    records, base = _records(grades)
    out_dir = Path(out)
    img_dir = out_dir / "images"
    img_dir.mkdir(parents=True, exist_ok=True)

    cards: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    grade_counts = dict.fromkeys(GRADE_COLORS, 0)
    flag_counts = dict.fromkeys(FLAG_KINDS, 0)
    vertebrae = 0
    for image, rows in _group(records):
        name = _display_name(image)
        errors = [_text(r.get("error")) for r in rows if _text(r.get("error"))]
        if errors:
            failed.append({"name": name, "image": image, "error": errors[0],
                           "warnings": _text(rows[0].get("warnings"))})
            continue
        rows = [r for r in rows if _text(r.get("level"))]
        if not rows:
            failed.append({"name": name, "image": image, "error": "no vertebra in the table",
                           "warnings": ""})
            continue
        unit = _text(rows[0].get("unit")) or "px"
        image_flags, warning_texts = _image_notes(rows)
        flag_keys = [k for k, _ in image_flags]
        notes = [why for k, why in image_flags if k not in ("plausibility", "warning")] + warning_texts
        levels = []
        grades_here: list[str] = []
        for r in rows:
            g = _number(r.get("grade"))
            reasons = _level_reasons(r)
            for k, _ in reasons:
                if k not in flag_keys:
                    flag_keys.append(k)
            levels.append({
                "level": _text(r.get("level")),
                "grade": int(g) if math.isfinite(g) else None,
                "deformity": _text(r.get("deformity")),
                "height_loss": _fmt(_number(r.get("height_loss")) * 100, ".0f"),
                **{h: _fmt(r.get(h), ".1f") for h in ("ha", "hm", "hp")},
                "wedge_ratio": _fmt(r.get("wedge_ratio"), ".2f"),
                "biconcavity_ratio": _fmt(r.get("biconcavity_ratio"), ".2f"),
                "reasons": [why for _, why in reasons],
            })
            if math.isfinite(g) and int(g) in grade_counts:
                grade_counts[int(g)] += 1
            grades_here.append(str(int(g)) if math.isfinite(g) else "na")
            vertebrae += 1
        for k in flag_keys:
            flag_counts[k] += 1
        index = len(cards)
        finite = [int(x) for x in grades_here if x != "na"]
        card = {
            "index": index, "name": name, "image": image, "unit": unit, "levels": levels,
            "notes": notes, "flag_keys": flag_keys,
            "flag_labels": [FLAG_KINDS[k] for k in flag_keys],
            "flagged": bool(flag_keys), "grades": sorted(set(grades_here)),
            "max_grade": max(finite) if finite else -1,
            "caption": f"{len(levels)} vertebrae; heights in {unit}"
                       + (f" (spacing: {_text(rows[0].get('spacing_source'))})"
                          if _text(rows[0].get("spacing_source")) else ""),
            "thumb": None, "full": None, "thumb_size": (0, 0),
            "thumb_note": "overlays not drawn (thumbnails=False)",
            "alt": "",
        }
        if thumbnails:
            _add_overlay(card, rows, image, base, detect, img_dir, index)
        cards.append(card)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "data")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    page = env.get_template("qc_report.html.j2").render(
        title=title or f"vcfmeasure QC report - {len(cards)} images",
        version=__version__,
        cards=cards, failed=failed,
        counts={"images": len(cards) + len(failed), "vertebrae": vertebrae,
                "grades": grade_counts, "flags": flag_counts,
                "flagged": sum(c["flagged"] for c in cards), "failed": len(failed)},
        grade_labels=list(GRADE_COLORS), grade_colors=GRADE_COLORS, no_grade_color=NO_GRADE_COLOR,
        flag_kinds=list(FLAG_KINDS.items()),
    )
    from ._table import write_atomic

    index_html = out_dir / "index.html"
    write_atomic(index_html, page)
    return index_html


def _add_overlay(card: dict[str, Any], rows: list[dict[str, Any]], image: str, base: Path | None,
                 detect: bool, img_dir: Path, index: int) -> None:
    path = _resolve(image, base)
    if path is None:
        card["thumb_note"] = f"no overlay: {image} not found"
        return
    lm_path = _resolve(_text(rows[0].get("landmarks")), base)
    detected = any(_text(r.get("provenance")) == "detected" for r in rows)
    stem = _safe_name(index, card["name"])
    full, thumb = img_dir / f"{stem}.png", img_dir / f"{stem}_thumb.png"
    try:
        size, how = _overlay(path, rows, lm_path, detect and detected and lm_path is None, full, thumb)
    except Exception as exc:  # noqa: BLE001 - one unreadable image never stops the report
        card["thumb_note"] = f"no overlay: {type(exc).__name__}: {exc}"
        return
    levels = ", ".join(f"{lv['level']} grade {lv['grade'] if lv['grade'] is not None else 'none'}"
                       for lv in card["levels"])
    card.update(thumb=f"images/{thumb.name}", full=f"images/{full.name}", thumb_size=size,
                alt=f"Lateral radiograph {card['name']} with landmarks coloured by Genant grade: "
                    f"{levels} ({how})")
