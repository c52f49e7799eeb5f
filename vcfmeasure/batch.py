"""Grade whole archives: input discovery, isolated workers, resumable atomic outputs, Dask.

:func:`grade_many` grades every image it is given (files, folders searched recursively,
glob patterns, CSV manifests) and returns one row per vertebra; :func:`compare_many`
compares the pre/post(/follow-up) images of each patient of a manifest. Both

- run each input in isolation: any failure becomes an *error row* for that input (its
  ``error`` column says what and where) and never stops the run;
- run serially, in a process pool (``jobs=N``, workers recycled and optionally limited in
  memory), or on a Dask cluster (``client=`` or ``scheduler=``);
- write their output atomically (a temporary file renamed over the target), keep a
  journal beside it while running so that an interrupted run resumes with
  ``resume=True``, and give identical rows when re-run;
- split the inputs into shards (``shard=(i, n)``) for job arrays.

The row schemas are :data:`GRADE_COLUMNS` and :data:`COMPARE_COLUMNS`; ``docs/batch.md``
describes every column, the manifest format and the command line.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import glob
import io
import json
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import FileFormatError, LandmarkError, VcfMeasureError, require
from ._table import atomic_write

__all__ = [
    "grade_many",
    "compare_many",
    "collect_inputs",
    "read_manifest",
    "shard_of",
    "parse_shard",
    "group_patients",
    "merge_outputs",
    "Task",
    "BatchSummary",
    "GRADE_COLUMNS",
    "COMPARE_COLUMNS",
    "IMAGE_SUFFIXES",
    "LANDMARK_SUFFIXES",
    "TIME_POINTS",
]

#: Files taken as images when a folder is searched (any case). Files without one of these
#: suffixes are taken when they start like a DICOM file ("DICM" at byte 128).
IMAGE_SUFFIXES = (".dcm", ".dicom", ".dic", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
#: Landmark files looked up by image stem, in this order of preference.
LANDMARK_SUFFIXES = (".json", ".mrk.json", ".csv", ".xml")
#: Manifest ``time_point`` values understood by :func:`compare_many` (and their aliases).
TIME_POINTS = {
    "pre": "pre", "preop": "pre", "pre-op": "pre", "baseline": "pre",
    "post": "post", "postop": "post", "post-op": "post",
    "follow_up": "follow_up", "follow-up": "follow_up", "followup": "follow_up",
    "fu": "follow_up",
}

# (name, kind): kind is str, float, int (nullable) or bool (nullable).
GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("image", "str"),
    ("landmarks", "str"),
    ("patient", "str"),
    ("time_point", "str"),
    ("study_instance_uid", "str"),
    ("series_instance_uid", "str"),
    ("sop_instance_uid", "str"),
    ("level", "str"),
    ("unit", "str"),
    ("ha", "float"),
    ("hm", "float"),
    ("hp", "float"),
    ("wedge_ratio", "float"),
    ("biconcavity_ratio", "float"),
    ("crush_ratio", "float"),
    ("wedge_angle", "float"),
    ("local_kyphosis_cobb", "float"),
    ("local_kyphosis_gardner", "float"),
    ("area", "float"),
    ("grade", "int"),
    ("deformity", "str"),
    ("height_loss", "float"),
    ("reduction_a", "float"),
    ("reduction_m", "float"),
    ("reduction_p", "float"),
    ("borderline", "bool"),
    ("reference", "str"),
    ("reference_levels", "str"),
    ("spacing_row_mm", "float"),
    ("spacing_col_mm", "float"),
    ("spacing_source", "str"),
    ("provenance", "str"),
    ("confidence", "float"),
    ("needs_review", "bool"),
    ("warnings", "str"),
    ("error", "str"),
)
_GRADE_KEY = ("image", "landmarks")

_H = ("a", "m", "p")
COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient", "str"),
    ("pre_image", "str"),
    ("post_image", "str"),
    ("follow_up_image", "str"),
    ("level", "str"),
    ("unit", "str"),
    ("treated", "bool"),
    *((f"h{x}_{t}", "float") for x in _H for t in ("pre", "post")),
    *((f"delta_h{x}", "float") for x in _H),
    *((f"reference_h{x}", "float") for x in _H),
    *((f"preop_loss_{x}", "float") for x in _H),
    *((f"restored_{x}", "float") for x in _H),
    ("reference_source", "str"),
    ("restored_note", "str"),
    ("wedge_angle_pre", "float"),
    ("wedge_angle_post", "float"),
    ("wedge_angle_correction", "float"),
    ("local_kyphosis_pre", "float"),
    ("local_kyphosis_post", "float"),
    ("local_kyphosis_correction", "float"),
    *((f"h{x}_fu", "float") for x in _H),
    *((f"loss_{x}", "float") for x in _H),
    ("wedge_angle_fu", "float"),
    ("angle_loss", "float"),
    ("local_kyphosis_fu", "float"),
    ("local_kyphosis_loss", "float"),
    ("recollapse", "bool"),
    ("grade_pre", "int"),
    ("grade_post", "int"),
    ("grade_fu", "int"),
    ("spacing_source", "str"),
    ("provenance", "str"),
    ("warnings", "str"),
    ("error", "str"),
)
_COMPARE_KEY = ("patient", "pre_image", "post_image", "follow_up_image")


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Task:
    """One unit of work: an image to grade, or (for compare) one patient's images.

    Attributes
    ----------
    image : str
        The image path (as found: relative paths stay relative).
    landmarks : str
        The landmark file matched to the image, ``""`` when there is none (detection, or
        nothing found: then ``note`` says where vcfmeasure looked).
    patient, time_point : str
        From the manifest ("" when not given).
    treated : str
        Manifest ``treated`` column (compare): levels separated by spaces, commas or ``;``.
    spacing : str
        Manifest ``spacing`` column: mm per pixel overriding the file ("" = from the file).
    note : str
        Why no landmark file was matched, or a problem found while collecting.
    members : tuple of Task
        For compare: the pre, post and optional follow-up tasks of one patient.
    """

    image: str
    landmarks: str = ""
    patient: str = ""
    time_point: str = ""
    treated: str = ""
    spacing: str = ""
    note: str = ""
    members: tuple[Task, ...] = field(default=())


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _has_dicom_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _looks_like_image(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(IMAGE_SUFFIXES):
        return True
    if name.endswith(LANDMARK_SUFFIXES) or name.endswith((".txt", ".md", ".parquet")):
        return False
    return _has_dicom_magic(path)


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if _looks_like_image(path):
                found.append(path)
    return found


def _stem(path: str | Path) -> str:
    name = Path(path).name
    lower = name.lower()
    for suffix in sorted(LANDMARK_SUFFIXES + IMAGE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_manifest(path: Path) -> bool:
    """Tell a manifest: a CSV with an ``image`` column and no ``point`` column."""
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError):
        return False
    names = {h.strip().lower() for h in header}
    return "image" in names and "point" not in names


def read_manifest(path: str | os.PathLike[str]) -> list[Task]:
    r"""Read a CSV manifest: one row per image.

    Columns (header names, any order; only ``image`` is required): ``image``,
    ``landmarks``, ``patient``, ``time_point`` (``pre``, ``post``, ``follow_up``),
    ``treated`` (levels), ``spacing`` (mm per pixel). Relative paths are relative to the
    manifest's folder.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of Task

    Raises
    ------
    FileFormatError
        Naming the file and line for a missing ``image`` column or an empty image cell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m.csv").write_text("image,landmarks,patient,time_point\na.dcm,a.json,P1,pre\n")
    >>> t = read_manifest(d / "m.csv")[0]
    >>> pathlib.Path(t.image).name, pathlib.Path(t.landmarks).name, t.patient, t.time_point
    ('a.dcm', 'a.json', 'P1', 'pre')
    """
    path = Path(path)
    base = path.parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path}: cannot read the manifest ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    if "image" not in fields:
        raise FileFormatError(
            f"{path}: a manifest needs an 'image' column (header: "
            f"{', '.join(reader.fieldnames or []) or 'empty'}); optional columns: landmarks, "
            "patient, time_point, treated, spacing"
        )

    def cell(row: Mapping[str, Any], name: str) -> str:
        key = fields.get(name)
        return (row.get(key) or "").strip() if key else ""

    def resolve(value: str) -> str:
        return "" if not value else str(value if Path(value).is_absolute() else base / value)

    tasks = []
    for line, row in enumerate(reader, start=2):
        image = cell(row, "image")
        if not image:
            raise FileFormatError(f"{path}: line {line}: the 'image' cell is empty")
        tasks.append(Task(
            image=resolve(image),
            landmarks=resolve(cell(row, "landmarks")),
            patient=cell(row, "patient"),
            time_point=cell(row, "time_point"),
            treated=cell(row, "treated"),
            spacing=cell(row, "spacing"),
        ))
    return tasks


class _LandmarkIndex:
    """Landmark files of a folder, by stem (searched recursively, once)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.by_stem: dict[str, list[Path]] = {}
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.lower().endswith(LANDMARK_SUFFIXES) and not name.startswith("."):
                    self.by_stem.setdefault(_stem(name), []).append(Path(root) / name)

    def match(self, image: Path, root: Path | None) -> tuple[str, str]:
        found = self.by_stem.get(_stem(image), [])
        if len(found) == 1:
            return str(found[0]), ""
        if not found:
            return "", f"no landmark file named {_stem(image)}.* in {self.folder}"
        if root is not None:
            with contextlib.suppress(ValueError):
                rel = image.parent.relative_to(root)
                same = [p for p in found if p.parent == self.folder / rel]
                if len(same) == 1:
                    return str(same[0]), ""
        return "", (
            f"{len(found)} landmark files named {_stem(image)}.* in {self.folder} "
            f"({', '.join(map(str, found[:3]))}); keep one, or use a manifest"
        )


def _sidecar(image: Path) -> tuple[str, str]:
    for suffix in LANDMARK_SUFFIXES:
        candidate = image.parent / f"{_stem(image)}{suffix}"
        if candidate.is_file():
            return str(candidate), ""
    return "", (
        f"no landmark file beside the image ({_stem(image)}.json, .mrk.json, .csv or .xml); "
        "pass landmarks=FOLDER or FILE, a manifest with a landmarks column, or detect=True"
    )


def collect_inputs(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    landmarks: str | os.PathLike[str] | None = None,
    detect: bool = False,
) -> list[Task]:
    """Expand inputs into tasks and match each image with its landmark file.

    Parameters
    ----------
    inputs : path, glob pattern, or an iterable of them
        Image files; folders (searched recursively, hidden entries skipped, images
        recognised by :data:`IMAGE_SUFFIXES` or the DICOM preamble); glob patterns
        (``**`` recursive); CSV manifests (see :func:`read_manifest`). A path that does
        not exist becomes a task that fails with an error row.
    landmarks : path, optional
        A folder of landmark files matched by image stem (``IMG1.dcm`` <-> ``IMG1.json``,
        anywhere below the folder; the same sub-folder wins a tie), or one file for every
        image (a multi-image CSV/COCO/CVAT file is searched by image name). Default:
        a file with the image's stem beside the image. A manifest's ``landmarks`` column
        takes precedence.
    detect : bool
        Landmarks are detected, not read: no matching is done.

    Returns
    -------
    list of Task
        In input order; within a folder or glob, sorted by path. Duplicates are dropped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "a.png", "a.json", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [(pathlib.Path(t.image).name, pathlib.Path(t.landmarks).name) for t in collect_inputs(d)]
    [('a.png', 'a.json'), ('b.png', '')]
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    lm_path = Path(landmarks) if landmarks is not None else None
    index = _LandmarkIndex(lm_path) if lm_path is not None and lm_path.is_dir() else None
    tasks: list[Task] = []
    seen: set[tuple[str, str]] = set()

    def add(task: Task, root: Path | None = None) -> None:
        if not detect and not task.landmarks and not task.note:
            image = Path(task.image)
            if index is not None:
                found, note = index.match(image, root)
            elif lm_path is not None:
                found, note = (str(lm_path), "") if lm_path.exists() else (
                    "", f"landmark file {lm_path} does not exist")
            else:
                found, note = _sidecar(image)
            task = replace(task, landmarks=found, note=note)
        if detect:
            task = replace(task, landmarks="")
        key = (task.image, task.landmarks)
        if key not in seen:
            seen.add(key)
            tasks.append(task)

    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            for image in _walk(path):
                add(Task(str(image)), root=path)
        elif _is_manifest(path):
            for task in read_manifest(path):
                add(task)
        elif path.is_file():
            add(Task(text))
        elif _is_glob(text):
            for match in sorted(glob.glob(text, recursive=True)):
                p = Path(match)
                if p.is_dir():
                    for image in _walk(p):
                        add(Task(str(image)), root=p)
                elif p.is_file() and _looks_like_image(p):
                    add(Task(match))
        else:
            add(Task(text, note=f"{text}: no such file, folder or matching pattern"))
    return tasks


def shard_of(tasks: Sequence[Task], shard: tuple[int, int] | str | None) -> list[Task]:
    """Keep the tasks of shard ``i`` of ``n`` (1-based, round robin over the input order).

    Parameters
    ----------
    tasks : sequence of Task
    shard : (i, n), "i/n" or None
        ``None`` keeps every task.

    Raises
    ------
    VcfMeasureError
        When ``i`` is not between 1 and ``n``.

    Examples
    --------
    >>> [t.image for t in shard_of([Task(str(k)) for k in range(5)], "2/2")]
    ['1', '3']
    """
    if shard is None:
        return list(tasks)
    i, n = parse_shard(shard)
    return [t for k, t in enumerate(tasks) if k % n == i - 1]


def parse_shard(shard: tuple[int, int] | str) -> tuple[int, int]:
    """``"i/n"`` or ``(i, n)`` -> ``(i, n)``, checked (1 <= i <= n).

    Examples
    --------
    >>> parse_shard("3/8")
    (3, 8)
    """
    try:
        i, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (TypeError, ValueError):
        raise VcfMeasureError(
            f"shard {shard!r} must be 'i/n' with whole numbers, e.g. '1/4'"
        ) from None
    if n < 1 or not 1 <= i <= n:
        raise VcfMeasureError(
            f"shard {i}/{n}: i must be between 1 and n (shards are numbered from 1; "
            "with SLURM use --array=1-N)"
        )
    return i, n


# ---------------------------------------------------------------------------- one input


@dataclass(frozen=True)
class _Options:
    spacing: Any = None
    reference: str = "radelement"
    detect: bool = False
    levels: tuple[str, ...] | None = None
    image_loader: Callable[..., Any] | None = None


@dataclass(frozen=True)
class _Header:
    """An image's spacing and metadata read without its pixels: all that measuring needs."""

    spacing: tuple[float, float] | None
    spacing_source: str
    metadata: dict[str, Any]


def _load_image(path: str, spacing: Any, opts: _Options, *, pixels: bool = True) -> Any:
    if opts.image_loader is not None:
        return opts.image_loader(path, spacing=spacing)
    if pixels:
        from .io.images import load_image

        return load_image(path, spacing=spacing)
    from .io.images import read_metadata
    from .radiograph import resolve_spacing

    meta = read_metadata(path)
    if spacing is not None:
        return _Header(resolve_spacing(spacing)[0], "user", meta)
    value = meta.get("spacing")
    return _Header(None if value is None else resolve_spacing(value)[0],
                   str(meta.get("spacing_source", "unknown")), meta)


@functools.lru_cache(maxsize=8)
def _landmark_file(path: str, mtime: float) -> dict[str, Any]:
    """All images of a landmark file (cached: a COCO file for 10,000 images is read once)."""
    from .io.landmark_files import read_landmarks_all

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
        from .detect import detect_landmarks
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
    from .morphometry import measure

    if not Path(task.image).exists():
        raise VcfMeasureError(task.note or f"{task.image}: no such file")
    if not opts.detect and not task.landmarks:
        raise LandmarkError(f"{task.image}: {task.note or 'no landmark file'}")
    # with landmarks given, the pixels are never decoded: the header holds the spacing
    radiograph = _load_image(task.image, _spacing_arg(task, opts), opts, pixels=opts.detect)
    landmarks = _detect(radiograph, opts) if opts.detect else _landmarks_for(task)
    ids = _dicom_ids(getattr(radiograph, "metadata", {}) or {})
    return measure(landmarks, spacing=radiograph), radiograph, ids


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    seen: dict[str, None] = {}
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return " | ".join(seen)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _grade_rows(task: Task, opts: _Options) -> list[dict[str, Any]]:
    """Rows of one image; never raises an Exception (a failure is one error row)."""
    from .grading import grade

    base = {"image": task.image, "landmarks": task.landmarks, "patient": task.patient,
            "time_point": task.time_point}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            morph, _, ids = _measure_task(task, opts)
            grades = grade(morph, reference=opts.reference)
        except Exception as exc:  # noqa: BLE001 - isolation: every failure becomes a row
            return [{**base, "warnings": _warning_text(caught), "error": _error_text(exc)}]
    if not base["patient"]:
        base["patient"] = ids["patient"]
    ids.pop("patient")
    base.update(ids)
    text = _warning_text(caught)
    rows = []
    for m, g in zip(morph.to_records(), grades.to_records(), strict=True):
        rows.append({**base, **m, **{k: v for k, v in g.items() if k not in m},
                     "warnings": text, "error": ""})
    return rows


def _treated_levels(text: str) -> list[str] | None:
    parts = [p for p in text.replace(";", " ").replace(",", " ").split() if p]
    return parts or None


def _compare_rows(task: Task, opts: _Options) -> list[dict[str, Any]]:
    """Rows of one patient's pre/post(/follow-up) comparison; never raises an Exception."""
    from .grading import grade
    from .restoration import compare

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
            treated = _treated_levels(task.treated)
            result = compare(morphs["pre"], morphs["post"], follow_up=morphs.get("follow_up"),
                             treated=treated)
            grades = {tp: dict(zip(m.levels, grade(m, reference=opts.reference).grade,
                                   strict=True)) for tp, m in morphs.items()}
        except Exception as exc:  # noqa: BLE001 - isolation
            return [{**base, "warnings": _warning_text(caught), "error": _error_text(exc)}]
    text = _warning_text(caught)
    provenance = {tp: m.landmarks.provenance for tp, m in morphs.items()}
    rows = []
    for rec in result.to_records():
        level = rec["level"]
        row = {**base, **rec}
        row["treated"] = None if treated is None else level in {t.upper() for t in treated}
        for tp, col in (("pre", "grade_pre"), ("post", "grade_post"), ("follow_up", "grade_fu")):
            g = grades.get(tp, {}).get(level, math.nan)
            row[col] = None if g is None or (isinstance(g, float) and math.isnan(g)) else int(g)
        row["spacing_source"] = result.spacing_source
        row["provenance"] = "/".join(provenance[tp][level].method for tp in by_time)
        row["warnings"] = text
        row["error"] = ""
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------- rows as text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return "" if math.isnan(f) else repr(f)
    return str(value).replace("\r", " ").replace("\n", " ")


def _render(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as CSV lines (one line per row, fixed formatting: identical on every run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name, _ in columns])
    return buf.getvalue()


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


def _key_fields(kind: str, task: Task) -> dict[str, str]:
    if kind == "grade":
        return {"image": task.image, "landmarks": task.landmarks, "patient": task.patient,
                "time_point": task.time_point}
    by_time = {t.time_point: t.image for t in task.members}
    return {"patient": task.patient, "pre_image": by_time.get("pre", ""),
            "post_image": by_time.get("post", ""), "follow_up_image": by_time.get("follow_up", "")}


def _task_key(kind: str, task: Task) -> tuple[str, ...]:
    fields = _key_fields(kind, task)
    return tuple(fields[k] for k in (_GRADE_KEY if kind == "grade" else _COMPARE_KEY))


def _frame(text: str, columns: Sequence[tuple[str, str]]):
    """Typed DataFrame from rendered CSV text (header included)."""
    import pandas as pd

    dtypes = {"str": str, "float": "float64", "int": "Int64", "bool": "boolean"}
    return pd.read_csv(
        io.StringIO(text),
        dtype={name: dtypes[kind] for name, kind in columns},
        keep_default_na=False,
        na_values={name: [""] for name, kind in columns if kind != "str"},
        # rows must read back bit for bit; pandas >= 3 parses exactly by default
        **({} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}),
    )


# ---------------------------------------------------------------------------- output files


class _Output:
    """The output of one run: existing rows (resume), a journal, an atomic final write."""

    def __init__(self, path: Path | None, kind: str, *, resume: bool, parquet: bool | None,
                 journal: bool = True):
        self.path = path
        self.kind = kind
        self.columns = GRADE_COLUMNS if kind == "grade" else COMPARE_COLUMNS
        self.key_idx = [i for i, (name, _) in enumerate(self.columns)
                        if name in (_GRADE_KEY if kind == "grade" else _COMPARE_KEY)]
        self.error_idx = [name for name, _ in self.columns].index("error")
        self.blocks: dict[tuple[str, ...], str] = {}
        self.previous: dict[tuple[str, ...], str] = {}
        self.journal_fh: Any = None
        if path is None:
            return
        self.parquet_path, self.csv_path = self._paths(path, parquet)
        self.journal = path.with_name(f".{path.name}.journal")
        if not journal:
            return
        if resume:
            self.previous = self._read_existing()
            for key, block in self._read_journal():
                self.previous[key] = block
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.journal_fh = open(self.journal, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115

    @staticmethod
    def _paths(path: Path, parquet: bool | None) -> tuple[Path | None, Path | None]:
        has_arrow = True
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            has_arrow = False
        if path.suffix.lower() == ".parquet":
            require("pyarrow", extra="parquet", feature=f"writing {path.name}")
            return path, None
        want = has_arrow if parquet is None else parquet
        if want and not has_arrow:
            require("pyarrow", extra="parquet", feature="Parquet output")
        return (path.with_suffix(".parquet") if want else None), path

    def _blocks_from_lines(self, lines: Iterable[list[str]]) -> dict[tuple[str, ...], str]:
        out: dict[tuple[str, ...], list[list[str]]] = {}
        for row in lines:
            if len(row) != len(self.columns):
                continue
            out.setdefault(tuple(row[i] for i in self.key_idx), []).append(row)
        blocks = {}
        for key, rows in out.items():
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            blocks[key] = buf.getvalue()
        return blocks

    def read_csv(self) -> dict[tuple[str, ...], str]:
        """The rows of the CSV output, per input, in file order."""
        with open(self.csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            if next(reader, None) != [name for name, _ in self.columns]:
                raise FileFormatError(
                    f"{self.csv_path}: cannot resume: its columns are not those of a "
                    f"vcfmeasure {self.kind} output; write to a new file"
                )
            return self._blocks_from_lines(reader)

    def _read_existing(self) -> dict[tuple[str, ...], str]:
        names = [name for name, _ in self.columns]
        if self.csv_path is not None and self.csv_path.is_file():
            return self.read_csv()
        if self.parquet_path is not None and self.parquet_path.is_file():
            import pandas as pd

            df = pd.read_parquet(self.parquet_path)
            if list(df.columns) != names:
                raise FileFormatError(
                    f"{self.parquet_path}: cannot resume: its columns are not those of a "
                    f"vcfmeasure {self.kind} output; write to a new file"
                )
            rows = ([_cell(None if _missing(v) else v) for v in rec]
                    for rec in df.itertuples(index=False, name=None))
            return self._blocks_from_lines(rows)
        return {}

    def _read_journal(self) -> Iterator[tuple[tuple[str, ...], str]]:
        if not self.journal.is_file():
            return
        with open(self.journal, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    yield tuple(entry["key"]), entry["rows"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: that input is simply redone

    def _failed(self, block: str) -> bool:
        return any(row[self.error_idx] for row in csv.reader(io.StringIO(block)))

    def is_done(self, key: tuple[str, ...]) -> bool:
        block = self.previous.get(key)
        return block is not None and not self._failed(block)

    def drop_failed(self, keys: Iterable[tuple[str, ...]]) -> None:
        """Forget earlier error rows of the inputs (image / patient) about to be redone.

        The first key field identifies the input; the others (the landmark file, the
        images of a patient) may have changed since the failure.
        """
        redo = {k[0] for k in keys}
        for key in [k for k, b in self.previous.items() if k[0] in redo and self._failed(b)]:
            del self.previous[key]

    def add(self, key: tuple[str, ...], block: str) -> None:
        self.blocks[key] = block
        if self.journal_fh is not None:
            self.journal_fh.write(json.dumps({"key": list(key), "rows": block}) + "\n")
            self.journal_fh.flush()

    def text(self, order: Sequence[tuple[str, ...]]) -> str:
        merged = {**self.previous, **self.blocks}
        listed = [k for k in order if k in merged]
        rest = [k for k in merged if k not in set(listed)]
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow([name for name, _ in self.columns])
        return header.getvalue() + "".join(merged[k] for k in listed + rest)

    def finish(self, order: Sequence[tuple[str, ...]]) -> str:
        text = self.text(order)
        if self.path is None:
            return text
        if self.csv_path is not None:
            with atomic_write(self.csv_path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        if self.parquet_path is not None:
            frame = _frame(text, self.columns)
            with atomic_write(self.parquet_path) as tmp:
                frame.to_parquet(tmp, index=False)
        self.close(remove_journal=True)
        return text

    def close(self, *, remove_journal: bool = False) -> None:
        if self.journal_fh is not None:
            self.journal_fh.close()
            self.journal_fh = None
            if remove_journal:
                self.journal.unlink(missing_ok=True)


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------- executors


#: Imported by every worker process as it starts (all workers at once, not one by one
#: inside their first input).
_WORKER_MODULES = ("vcfmeasure.io.images", "vcfmeasure.io.landmark_files",
                   "vcfmeasure.morphometry", "vcfmeasure.grading", "vcfmeasure.restoration",
                   "pydicom", "jsonschema")


def _init_worker(memory_limit: int | None) -> None:
    """Set up a pool worker: Ctrl-C left to the parent, address space capped, imports done."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in _WORKER_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


_DIED = (
    "the worker process died while processing this input (killed for memory, or a crash "
    "in native code); retry it alone, or lower the image size / raise --max-memory"
)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Workers are processes: keep BLAS/OpenMP inside each one to a single thread."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, "1")
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _run_serial(kind, tasks, opts, done):
    for idx, task in tasks:
        done(idx, _run_one(kind, task, opts))


def _run_chunk(kind: str, tasks: list[Task], opts: _Options) -> list[str]:
    """Several inputs in one submission: amortises the inter-process round trip."""
    return [_run_one(kind, task, opts) for task in tasks]


def _chunk_size(n: int, jobs: int) -> int:
    """Up to 16 inputs per submission, small enough to keep every worker busy to the end."""
    return max(1, min(16, n // (8 * jobs)))


def _run_pool(kind, tasks, opts, done, *, jobs, memory_limit, max_tasks_per_child):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    size = _chunk_size(len(tasks), jobs)
    queue = [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]
    queue.reverse()
    suspects: list[tuple[int, Task]] = []

    def new_pool():
        return ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(memory_limit,),
            max_tasks_per_child=max_tasks_per_child,
        )

    def submit(items: list[tuple[int, Task]], alone: bool) -> None:
        fut = pool.submit(_run_chunk, kind, [t for _, t in items], opts)
        pending[fut] = (items, alone)

    with _single_threaded_children():
        pool = new_pool()
        pending: dict[Any, tuple[list[tuple[int, Task]], bool]] = {}
        try:
            while queue or suspects or pending:
                # after a crash, the inputs that were in flight are retried one at a time,
                # so the one that kills its worker is found and recorded, and no other
                if suspects:
                    if not pending:
                        submit([suspects.pop()], True)
                else:
                    while queue and len(pending) < 2 * jobs:
                        submit(queue.pop(), False)
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for fut in finished:
                    items, alone = pending.pop(fut)
                    try:
                        blocks = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if alone:
                            done(items[0][0], _error_block(kind, items[0][1], _DIED))
                        else:
                            suspects.extend(items)
                        continue
                    for (idx, _), block in zip(items, blocks, strict=True):
                        done(idx, block)
                if broken:
                    for fut, (items, _) in pending.items():
                        fut.cancel()
                        suspects.extend(items)
                    pending.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = new_pool()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _run_dask(kind, tasks, opts, done, *, client, window):
    from distributed import as_completed

    queue = list(tasks)
    queue.reverse()
    pending: dict[Any, tuple[int, Task]] = {}

    def submit():
        idx, task = queue.pop()
        fut = client.submit(_run_one, kind, task, opts, pure=False)
        pending[fut] = (idx, task)
        return fut

    first = [submit() for _ in range(min(window, len(queue)))]
    ac = as_completed(first)
    try:
        for fut in ac:
            idx, task = pending.pop(fut)
            try:
                block = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker is this input's error
                block = _error_block(kind, task, f"dask: {_error_text(exc)}")
            fut.release()
            done(idx, block)
            if queue:
                ac.add(submit())
    except BaseException:
        client.cancel(list(pending))
        raise


# ---------------------------------------------------------------------------- the driver


@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes
    ----------
    output : str or None
        The CSV text of every row (header included) in output order.
    n_tasks : int
        Inputs of this run (after sharding).
    n_skipped : int
        Already in the output (``resume``) and not redone.
    failed : list of tuple
        Keys of the inputs whose rows carry an error.
    interrupted : bool
        The run was stopped (Ctrl-C / SIGTERM); outputs hold what was finished.
    paths : list of Path
        Files written.
    """

    output: str = ""
    n_tasks: int = 0
    n_skipped: int = 0
    failed: list[tuple[str, ...]] = field(default_factory=list)
    interrupted: bool = False
    paths: list[Path] = field(default_factory=list)


def _client_for(client: Any, scheduler: str | None):
    if client is not None:
        return client, False
    if scheduler:
        distributed = require("distributed", extra="dask", feature="the Dask backend")
        return distributed.Client(scheduler), True
    return None, False


def _run_batch(
    kind: str,
    tasks: list[Task],
    opts: _Options,
    *,
    out: str | os.PathLike[str] | None,
    jobs: int,
    resume: bool,
    shard: tuple[int, int] | str | None,
    client: Any,
    scheduler: str | None,
    progress: bool | None,
    parquet: bool | None,
    memory_limit: int | None,
    max_tasks_per_child: int | None,
) -> BatchSummary:
    tasks = shard_of(tasks, shard)
    if jobs < 1:
        raise VcfMeasureError(f"jobs must be 1 or more, got {jobs}")
    output = _Output(Path(out) if out is not None else None, kind, resume=resume,
                     parquet=parquet)
    keys = [_task_key(kind, t) for t in tasks]
    todo = [(i, t) for i, t in enumerate(tasks) if not output.is_done(keys[i])]
    output.drop_failed(keys[i] for i, _ in todo)
    summary = BatchSummary(n_tasks=len(tasks), n_skipped=len(tasks) - len(todo))
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), disable=not progress, unit="input", file=sys.stderr,
               desc=f"vcfmeasure {kind}")

    def done(idx: int, block: str) -> None:
        output.add(keys[idx], block)
        bar.update(1)

    dask_client, own_client = _client_for(client, scheduler)
    try:
        if dask_client is not None:
            _run_dask(kind, todo, opts, done, client=dask_client, window=max(64, 4 * jobs))
        elif jobs == 1:
            _run_serial(kind, todo, opts, done)
        else:
            _run_pool(kind, todo, opts, done, jobs=jobs, memory_limit=memory_limit,
                      max_tasks_per_child=max_tasks_per_child)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
        if own_client:
            dask_client.close()
    summary.output = output.finish(keys)
    if out is not None:
        summary.paths = [p for p in (output.csv_path, output.parquet_path) if p is not None]
    error_idx = output.error_idx
    rows = csv.reader(io.StringIO(summary.output))
    next(rows, None)
    failed: dict[tuple[str, ...], None] = {}
    wanted = set(keys)
    for row in rows:
        key = tuple(row[i] for i in output.key_idx)
        if row[error_idx] and key in wanted:
            failed.setdefault(key, None)
    summary.failed = list(failed)
    return summary


def _common_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    defaults = {"out": None, "jobs": 1, "resume": False, "shard": None, "client": None,
                "scheduler": None, "progress": False, "parquet": None, "memory_limit": None,
                "max_tasks_per_child": 100}
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    return {**defaults, **kwargs}


def grade_many(
    inputs: Any,
    *,
    landmarks: str | os.PathLike[str] | None = None,
    detect: bool = False,
    levels: Sequence[str] | None = None,
    spacing: float | tuple[float, float] | None = None,
    reference: str = "radelement",
    image_loader: Callable[..., Any] | None = None,
    **run: Any,
):
    """Grade every image given: one row per vertebra, failures as error rows.

    Parameters
    ----------
    inputs : path, glob, manifest, or an iterable of them; or a list of :class:`Task`
        See :func:`collect_inputs`.
    landmarks : path, optional
        Folder of landmark files matched by stem, or one landmark file (see
        :func:`collect_inputs`); default: the file beside each image with its stem.
    detect : bool
        Detect landmarks with :func:`vcfmeasure.detect_landmarks` instead of reading
        them; where detection is unavailable, every row says so in ``error``.
    levels : sequence of str, optional
        With ``detect``: the levels in view (or one anchor level).
    spacing : float or (row_mm, col_mm), optional
        Overrides every file's spacing (a manifest ``spacing`` cell overrides this).
    reference : str
        Expected-height strategy of :func:`vcfmeasure.grade`.
    image_loader : callable, optional
        ``image_loader(path, spacing=...) -> Radiograph`` replacing
        :func:`vcfmeasure.load_image` (for formats vcfmeasure does not read); it must be
        importable by the workers (a module-level function) when ``jobs > 1`` or on Dask.
    **run
        ``out`` (CSV or Parquet path; a ``.csv`` gets a ``.parquet`` twin when pyarrow is
        installed, unless ``parquet=False``), ``jobs`` (worker processes, default 1),
        ``resume`` (skip inputs already in ``out`` without error), ``shard`` (``(i, n)``
        or ``"i/n"``, 1-based), ``client`` (a ``dask.distributed.Client``) or
        ``scheduler`` (its address), ``progress`` (tqdm bar), ``memory_limit`` (bytes of
        address space per worker process), ``max_tasks_per_child`` (workers are replaced
        after this many submissions of up to 16 inputs each, default 100).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GRADE_COLUMNS`, one row per vertebra (one row with ``error`` set
        for an input that failed), in input order, cranial -> caudal; with ``out``, every
        row of the output file (earlier rows included when resuming). An interrupted run
        (Ctrl-C) writes what was finished and then raises ``KeyboardInterrupt``.

    Notes
    -----
    Spacing, grades and references follow REFERENCE.md sections 2 and 7 through
    :func:`vcfmeasure.load_image`, :func:`vcfmeasure.measure` and :func:`vcfmeasure.grade`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> missing = pathlib.Path(tempfile.mkdtemp()) / "nothing.dcm"
    >>> df = grade_many([missing])
    >>> len(df), df.loc[0, "error"].endswith("no such file, folder or matching pattern")
    (1, True)
    """
    return _many("grade", inputs, landmarks=landmarks, detect=detect, levels=levels,
                 spacing=spacing, reference=reference, image_loader=image_loader, run=run)


def _many(kind: str, inputs: Any, *, landmarks: Any, detect: bool, levels: Any, spacing: Any,
          reference: str, image_loader: Any, run: dict[str, Any]):
    from .grading import REFERENCE_STRATEGIES

    settings = _common_kwargs(run)
    if reference not in REFERENCE_STRATEGIES:  # a usage error: fail before any input
        raise VcfMeasureError(
            f"reference {reference!r} is not one of {', '.join(REFERENCE_STRATEGIES)}"
        )
    tasks = _as_tasks(inputs, landmarks=landmarks, detect=detect)
    if kind == "compare" and tasks and not any(t.members for t in tasks):
        tasks = group_patients(tasks)
    opts = _Options(spacing=spacing, reference=reference, detect=detect,
                    levels=tuple(levels) if levels else None, image_loader=image_loader)
    summary = _run_batch(kind, tasks, opts, **settings)
    frame = _frame(summary.output, GRADE_COLUMNS if kind == "grade" else COMPARE_COLUMNS)
    if summary.interrupted:
        raise KeyboardInterrupt
    return frame


def _as_tasks(inputs: Any, *, landmarks: Any, detect: bool) -> list[Task]:
    if isinstance(inputs, list | tuple) and inputs and all(isinstance(t, Task) for t in inputs):
        return list(inputs)
    return collect_inputs(inputs, landmarks=landmarks, detect=detect)


def group_patients(tasks: Sequence[Task]) -> list[Task]:
    """Group manifest rows into one compare task per patient (pre, post, follow-up).

    A patient with a missing or repeated time point, or an unknown ``time_point``, gets a
    task whose ``note`` says so (it becomes an error row).

    Examples
    --------
    >>> rows = [Task("a.dcm", patient="P1", time_point="pre"),
    ...         Task("b.dcm", patient="P1", time_point="Post-op")]
    >>> [(t.patient, [m.time_point for m in t.members], t.note) for t in group_patients(rows)]
    [('P1', ['pre', 'post'], '')]
    """
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        groups.setdefault(t.patient, []).append(t)
    out = []
    for patient, members in groups.items():
        notes = []
        normalised = []
        for m in members:
            tp = TIME_POINTS.get(m.time_point.strip().lower().replace(" ", "_"))
            if tp is None:
                notes.append(f"{m.image}: time_point {m.time_point!r} is not pre, post or "
                             "follow_up")
                continue
            normalised.append(replace(m, time_point=tp))
        counts = {tp: sum(m.time_point == tp for m in normalised) for tp in ("pre", "post")}
        for tp, n in counts.items():
            if n != 1:
                notes.append(f"{n} '{tp}' images (need exactly one)")
        if sum(m.time_point == "follow_up" for m in normalised) > 1:
            notes.append("more than one 'follow_up' image (give one per row set)")
        if not patient:
            notes.append("rows without a patient")
        order = {"pre": 0, "post": 1, "follow_up": 2}
        normalised.sort(key=lambda m: order[m.time_point])
        treated = next((m.treated for m in normalised if m.treated), "")
        note = f"patient {patient or '(empty)'}: " + "; ".join(notes) if notes else ""
        out.append(Task(image="", patient=patient, treated=treated, note=note,
                        members=tuple(normalised)))
    return out


def compare_many(
    manifest: Any,
    *,
    landmarks: str | os.PathLike[str] | None = None,
    detect: bool = False,
    levels: Sequence[str] | None = None,
    spacing: float | tuple[float, float] | None = None,
    reference: str = "radelement",
    image_loader: Callable[..., Any] | None = None,
    **run: Any,
):
    """Compare pre/post(/follow-up) images of every patient of a manifest.

    Parameters
    ----------
    manifest : path or list of Task
        A CSV manifest (:func:`read_manifest`) with ``image``, ``patient`` and
        ``time_point`` (``pre``, ``post``, optional ``follow_up``), optionally
        ``landmarks`` and ``treated`` (levels, e.g. ``"L1 L2"``).
    landmarks, detect, levels, spacing, reference, image_loader, **run
        As in :func:`grade_many`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`: per patient and level present in every image,
        the :func:`vcfmeasure.compare` records plus each image's grade; one error row
        for a patient that failed.

    References
    ----------
    REFERENCE.md section 5 (restoration, kyphosis correction, re-collapse).

    Examples
    --------
    >>> compare_many([]).shape[1] == len(COMPARE_COLUMNS)
    True
    """
    return _many("compare", manifest, landmarks=landmarks, detect=detect, levels=levels,
                 spacing=spacing, reference=reference, image_loader=image_loader, run=run)


def merge_outputs(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    r"""Merge the CSV outputs of shards ``1/n ... n/n`` into one file, atomically.

    Shards take the inputs round robin (:func:`shard_of`), so taking one input's rows from
    each shard in turn, in the order given, restores the order of an unsharded run: the
    merged file is the file one run over all inputs would have written.

    Parameters
    ----------
    paths : sequence of path
        The shard outputs (``grade`` or ``compare`` CSV files), shard 1 first.
    out : path
        The merged CSV file.

    Raises
    ------
    FileFormatError
        When a file is not a vcfmeasure batch output or the files' columns differ.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> head = ",".join(name for name, _ in GRADE_COLUMNS) + "\n"
    >>> def rows(*images):
    ...     return "".join(f"{im},,,,,,,L{k}" + "," * 28 + "\n" for im in images for k in (1, 2))
    >>> _ = (d / "s1.csv").write_text(head + rows("a", "c"))
    >>> _ = (d / "s2.csv").write_text(head + rows("b"))
    >>> text = merge_outputs([d / "s1.csv", d / "s2.csv"], d / "all.csv").read_text()
    >>> [line.split(",")[0] + line.split(",")[7] for line in text.splitlines()[1:]]
    ['aL1', 'aL2', 'bL1', 'bL2', 'cL1', 'cL2']
    """
    queues = []
    header = None
    for p in paths:
        with open(p, newline="", encoding="utf-8") as fh:
            first = fh.readline()
        names = next(csv.reader([first]), [])
        kind = {tuple(n for n, _ in GRADE_COLUMNS): "grade",
                tuple(n for n, _ in COMPARE_COLUMNS): "compare"}.get(tuple(names))
        if kind is None:
            raise FileFormatError(f"{p}: not a vcfmeasure grade or compare output; cannot merge")
        if header is not None and first != header:
            raise FileFormatError(f"{p}: columns differ from {paths[0]}; cannot merge")
        header = first
        shard = _Output(Path(p), kind, resume=False, parquet=False, journal=False)
        queues.append(list(shard.read_csv().values()))
    blocks = []
    for turn in range(max((len(q) for q in queues), default=0)):
        blocks += [q[turn] for q in queues if turn < len(q)]
    out = Path(out)
    with atomic_write(out) as tmp:
        tmp.write_text((header or "") + "".join(blocks), encoding="utf-8")
    return out
