"""One input in a worker: load, find landmarks, measure, grade or compare, rows as text.

Every function here runs inside a worker (or the main process with ``jobs=1``) and turns
any failure into an error row: nothing raises out of :func:`_run_one`.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import (
    FileFormatError,
    ImageError,
    LandmarkError,
    SpacingError,
    VcfMeasureError,
    VcfMeasureWarning,
)
from ..procedures import CEMENT_COLUMNS, parse_procedures
from ._columns import COMPARE_COLUMNS, GRADE_COLUMNS, _key_fields
from ._csv import _render
from ._inputs import Task, _file_kind, _not_regular, _stem


@dataclass(frozen=True)
class _Options:
    spacing: Any = None
    reference: str = "radelement"
    detect: bool = False
    levels: tuple[str, ...] | None = None
    image_loader: Callable[..., Any] | None = None
    require_spacing: bool = False


@dataclass(frozen=True)
class _Header:
    """An image's spacing and metadata read without its pixels: all that measuring needs."""

    spacing: tuple[float, float] | None
    spacing_source: str
    metadata: dict[str, Any]


#: Set by the serial executor (``_pool._run_serial``): decodes pixels in a child process.
_DECODER: Callable[..., Any] | None = None


def _decode(loader: Callable[..., Any] | None, path: str, spacing: Any) -> Any:
    """Decode one image's pixels (in the decoder process; module level, so picklable)."""
    if loader is not None:
        return loader(path, spacing=spacing)
    from ..io.images import load_image

    return load_image(path, spacing=spacing)


def _load_image(path: str, spacing: Any, opts: _Options, *, pixels: bool = True) -> Any:
    if _DECODER is not None and (pixels or opts.image_loader is not None):
        # decoders are native code (a user's loader may be too): a crash is one error row
        return _DECODER(opts.image_loader, path, spacing)
    if opts.image_loader is not None:
        return opts.image_loader(path, spacing=spacing)
    if pixels:
        from ..io.images import load_image

        return load_image(path, spacing=spacing)
    from ..io._dicom import check_image_header
    from ..io.images import read_metadata
    from ..radiograph import resolve_spacing

    meta = read_metadata(path)
    check_image_header(meta, path)  # a PDF or a truncated file lends no spacing
    if spacing is not None:
        return _Header(resolve_spacing(spacing)[0], "user", meta)
    value = meta.get("spacing")
    return _Header(None if value is None else resolve_spacing(value)[0],
                   str(meta.get("spacing_source", "unknown")), meta)


@functools.lru_cache(maxsize=8)
def _landmark_file(path: str, mtime: float) -> dict[str, Any]:
    """All images of a landmark file (cached: a COCO file for 10,000 images is read once)."""
    from ..io.landmark_files import read_landmarks_all

    return read_landmarks_all(path)


def _landmarks_for(task: Task) -> Any:
    path = task.landmarks
    try:
        entries = _landmark_file(path, os.path.getmtime(path))
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such landmark file") from None
    if len(entries) == 1:
        return next(iter(entries.values()))
    image = Path(task.image)
    for key in (task.image, image.name, _stem(image)):
        for name, lm in entries.items():
            if key in (name, Path(name).name, _stem(name)):
                return lm
    raise FileFormatError(
        f"{path}: holds landmarks of {len(entries)} images, none named {image.name!r}"
    )


def _detect(radiograph: Any, opts: _Options) -> Any:
    try:
        from ..detect import detect_landmarks
    except ImportError:
        raise VcfMeasureError(
            "landmark detection is not available in this installation of vcfmeasure "
            "(vcfmeasure.detect is missing); give landmark files instead of --detect"
        ) from None
    return detect_landmarks(radiograph, levels=list(opts.levels) if opts.levels else None)


def _spacing_arg(task: Task, opts: _Options) -> Any:
    if task.spacing:
        try:
            return float(task.spacing)
        except ValueError:
            raise VcfMeasureError(
                f"{task.image}: manifest spacing {task.spacing!r} is not a number (mm per pixel)"
            ) from None
    return opts.spacing


def _dicom_ids(metadata: Mapping[str, Any]) -> dict[str, str]:
    def pick(*names: str) -> str:
        for name in names:
            value = metadata.get(name)
            if value:
                return str(value)
        return ""

    return {
        "patient": pick("patient_id", "PatientID"),
        "study_instance_uid": pick("study_instance_uid", "StudyInstanceUID"),
        "series_instance_uid": pick("series_instance_uid", "SeriesInstanceUID"),
        "sop_instance_uid": pick("sop_instance_uid", "SOPInstanceUID"),
    }


def _measure_task(task: Task, opts: _Options) -> tuple[Any, Any, dict[str, str]]:
    """Load, find landmarks, measure: (Morphometry, Radiograph, ids) of one image."""
    from ..morphometry import measure

    kind = _file_kind(Path(task.image))
    if kind != "file":
        raise ImageError(task.note or (f"{task.image}: no such file" if kind == "missing"
                                       else _not_regular(Path(task.image), kind)))
    if not opts.detect and not task.landmarks:
        raise LandmarkError(f"{task.image}: {task.note or 'no landmark file'}")
    # with landmarks given, the pixels are never decoded: the header holds the spacing
    radiograph = _load_image(task.image, _spacing_arg(task, opts), opts, pixels=opts.detect)
    landmarks = _detect(radiograph, opts) if opts.detect else _landmarks_for(task)
    ids = _dicom_ids(getattr(radiograph, "metadata", {}) or {})
    return measure(landmarks, spacing=radiograph), radiograph, ids


#: What the ``warnings`` cell of a row measured in pixels starts with.
PX_WARNING = "lengths in px: the image has no usable pixel spacing"


def _px_note(morph: Any) -> str:
    return (f"{PX_WARNING} (spacing_source {morph.spacing_source!r}); give --spacing / "
            "spacing= or a calibrated image for mm")


def _check_unit(task: Task, morph: Any, opts: _Options) -> None:
    if opts.require_spacing and morph.unit != "mm":
        raise SpacingError(f"{task.image}: {_px_note(morph)}; --require-spacing refuses "
                           "rows in px")


def _warning_text(caught: list[warnings.WarningMessage], task: Task | None = None,
                  *morphs: Any) -> str:
    seen: dict[str, None] = {}
    for m in morphs:
        if m is not None and m.unit == "px":
            seen.setdefault(_px_note(m), None)
    if task is not None and task.aliases:
        seen.setdefault(f"the same file was also given as {', '.join(task.aliases)}; "
                        "graded once", None)
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return " | ".join(seen)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _grade_rows(task: Task, opts: _Options) -> list[dict[str, Any]]:
    """Rows of one image; never raises an Exception (a failure is one error row)."""
    from ..grading import grade

    base = {"image": task.image, "landmarks": task.landmarks, "patient": task.patient,
            "time_point": task.time_point}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            morph, _, ids = _measure_task(task, opts)
            _check_unit(task, morph, opts)
            grades = grade(morph, reference=opts.reference)
        except Exception as exc:  # noqa: BLE001 - isolation: every failure becomes a row
            return [{**base, "warnings": _warning_text(caught, task), "error": _error_text(exc)}]
    if not base["patient"]:
        base["patient"] = ids["patient"]
    ids.pop("patient")
    base.update(ids)
    text = _warning_text(caught, task, morph)
    rows = []
    for m, g in zip(morph.to_records(), grades.to_records(), strict=True):
        rows.append({**base, **m, **{k: v for k, v in g.items() if k not in m},
                     "warnings": text, "error": ""})
    return rows


def _treated_levels(text: str) -> list[str] | None:
    parts = [p for p in text.replace(";", " ").replace(",", " ").split() if p]
    return parts or None


def _cement_columns(task: Task, morph: Any, levels: Any, opts: _Options) -> dict[str, dict]:
    """Cement and leak columns of the post image's reported levels (pixels loaded here)."""
    from ..cement import measure_cement

    radiograph = _load_image(task.image, _spacing_arg(task, opts), opts, pixels=True)
    report = measure_cement(radiograph, morph.landmarks, levels=levels)
    names = [n for n, _ in CEMENT_COLUMNS]
    return {rec["level"]: {n: rec[n] for n in names} for rec in report.to_records()}


def _compare_rows(task: Task, opts: _Options) -> list[dict[str, Any]]:
    """Rows of one patient's pre/post(/follow-up) comparison; never raises an Exception."""
    from ..grading import grade
    from ..restoration import compare

    by_time = {t.time_point: t for t in task.members}
    base = {
        "patient": task.patient,
        "pre_image": by_time["pre"].image if "pre" in by_time else "",
        "post_image": by_time["post"].image if "post" in by_time else "",
        "follow_up_image": by_time["follow_up"].image if "follow_up" in by_time else "",
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if task.note:
                raise VcfMeasureError(task.note)
            morphs = {tp: _measure_task(t, opts)[0] for tp, t in by_time.items()}
            for tp, m in morphs.items():
                _check_unit(by_time[tp], m, opts)
            treated = _treated_levels(task.treated)
            procs = parse_procedures(task.procedure, treated)
            result = compare(morphs["pre"], morphs["post"], follow_up=morphs.get("follow_up"),
                             treated=treated, procedures=procs)
            try:
                cement = _cement_columns(by_time["post"], morphs["post"], result.levels, opts)
            except VcfMeasureError as exc:
                cement = {}
                warnings.warn(f"{by_time['post'].image}: cement not measured ({exc})",
                              VcfMeasureWarning, stacklevel=1)
            grades = {tp: dict(zip(m.levels, grade(m, reference=opts.reference).grade,
                                   strict=True)) for tp, m in morphs.items()}
        except Exception as exc:  # noqa: BLE001 - isolation
            return [{**base, "warnings": _warning_text(caught), "error": _error_text(exc)}]
    text = _warning_text(caught, None, morphs["pre"])
    spacing = morphs["pre"].spacing or (None, None)
    provenance = {tp: m.landmarks.provenance for tp, m in morphs.items()}
    rows = []
    for rec in result.to_records():
        level = rec["level"]
        row = {**base, **rec, **cement.get(level, {})}
        if treated is None and procs:
            treated = list(procs)
        row["treated"] = None if treated is None else level in {t.upper() for t in treated}
        for tp, col in (("pre", "grade_pre"), ("post", "grade_post"), ("follow_up", "grade_fu")):
            g = grades.get(tp, {}).get(level, math.nan)
            row[col] = None if g is None or (isinstance(g, float) and math.isnan(g)) else int(g)
        row["spacing_row_mm"], row["spacing_col_mm"] = spacing
        row["spacing_source"] = result.spacing_source
        row["provenance"] = "/".join(provenance[tp][level].method for tp in by_time)
        row["warnings"] = text
        row["error"] = ""
        rows.append(row)
    return rows


# Warnings are recorded per input with warnings.catch_warnings, which changes process-wide
# state: threads of one process (Dask workers with nthreads > 1) take turns, so that every
# input's warnings land in its own rows.
_ONE_AT_A_TIME = threading.Lock()


def _run_one(kind: str, task: Task, opts: _Options) -> str:
    """Worker entry point: the rendered rows of one task (picklable, never raises)."""
    with _ONE_AT_A_TIME:
        if kind == "grade":
            return _render(_grade_rows(task, opts), GRADE_COLUMNS)
        return _render(_compare_rows(task, opts), COMPARE_COLUMNS)


def _error_block(kind: str, task: Task, message: str) -> str:
    columns = GRADE_COLUMNS if kind == "grade" else COMPARE_COLUMNS
    return _render([{**_key_fields(kind, task), "error": message}], columns)
