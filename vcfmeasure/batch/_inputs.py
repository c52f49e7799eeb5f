"""Finding the work: input discovery, manifests, landmark matching, shards, patients."""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._errors import FileFormatError, VcfMeasureError

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
    procedure : str
        Manifest ``procedure`` column (compare): ``kyphoplasty`` for every treated level,
        or ``L1=kyphoplasty; L2=vertebroplasty`` (:func:`vcfmeasure.procedures.parse_procedures`).
    note : str
        Why no landmark file was matched, or a problem found while collecting.
    members : tuple of Task
        For compare: the pre, post and optional follow-up tasks of one patient.
    aliases : tuple of str
        Other paths (symlinks, ``a/../a``) by which the same image file was given; it is
        graded once and its rows' ``warnings`` list them.
    """

    image: str
    landmarks: str = ""
    patient: str = ""
    time_point: str = ""
    treated: str = ""
    spacing: str = ""
    procedure: str = ""
    note: str = ""
    members: tuple[Task, ...] = field(default=())
    aliases: tuple[str, ...] = field(default=())


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _has_dicom_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _file_kind(path: Path) -> str:
    """``"file"``, ``"dir"``, ``"missing"`` or what else the path is (never opens it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(path: Path, kind: str) -> str:
    return f"{path}: is {kind}, not an image file; skipped (it would block or never end)"


def _looks_like_image(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(IMAGE_SUFFIXES):
        return True
    if name.endswith(LANDMARK_SUFFIXES) or name.endswith((".txt", ".md", ".parquet")):
        return False
    return _file_kind(path) == "file" and _has_dicom_magic(path)


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """Images below ``folder`` (symlinked folders not followed), each with a note.

    The note is empty, or says that the entry is not a regular file (a FIFO, device or
    socket: never opened).
    """
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            kind = _file_kind(path)
            if kind not in ("file", "missing"):
                found.append((path, _not_regular(path, kind)))
            elif kind == "file" and _looks_like_image(path):
                found.append((path, ""))
    return found


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression for a glob pattern relative to its root (``**`` = any folders)."""
    parts = []
    for seg in pattern.split("/"):
        if seg == "**":
            parts.append("(?:[^/]+/)*")
            continue
        out, i = "", 0
        while i < len(seg):
            ch = seg[i]
            if ch == "*":
                out += "[^/]*"
            elif ch == "?":
                out += "[^/]"
            elif ch == "[" and "]" in seg[i + 2:]:
                end = seg.index("]", i + 2)
                body = seg[i + 1:end].replace("\\", "\\\\")
                out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
                i = end
            else:
                out += re.escape(ch)
            i += 1
        parts.append(out + "/")
    return re.compile("".join(parts).removesuffix("/") + r"\Z", re.S)


def _safe_glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)``, but each folder is visited once.

    Symlinked folders are followed, a folder already visited (a symlink loop, or two
    links to one folder) is not entered again: the standard ``glob`` would loop through
    ``a/up/a/up/...`` until the paths grow too long. Hidden entries match only patterns
    that name them, as in ``glob``.
    """
    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    segs = pattern.split("/")
    k = next(i for i, seg in enumerate(segs) if _is_glob(seg))
    root = "/".join(segs[:k]) or ("/" if pattern.startswith("/") else ".")
    regex = _glob_regex("/".join(segs[k:]))
    matches, seen = [], set()
    for top, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(top)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_top = os.path.relpath(top, root)
        for name in [*dirs, *files]:
            if name.startswith("."):
                continue
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if regex.match(rel):
                matches.append(rel if root == "." else os.path.join(top, name))
    return sorted(matches)


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
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    names = {h.strip().lower() for h in header}
    return "image" in names and "point" not in names


def read_manifest(path: str | os.PathLike[str]) -> list[Task]:
    r"""Read a CSV manifest: one row per image.

    Columns (header names, any order; only ``image`` is required): ``image``,
    ``landmarks``, ``patient``, ``time_point`` (``pre``, ``post``, ``follow_up``),
    ``treated`` (levels), ``spacing`` (mm per pixel), ``procedure`` (e.g. ``kyphoplasty``
    or ``L1=kyphoplasty; L2=implant``). Relative paths are relative to the
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
    if path.exists() and not path.is_file():
        raise FileFormatError(f"{path}: is not a regular file; a manifest is a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path}: cannot read the manifest ({exc})") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileFormatError(f"{path}: line {line}: a NUL byte; a manifest is a text CSV "
                              "(is this a binary file named .csv?)")
    try:
        return _manifest_tasks(path, base, text)
    except csv.Error as exc:  # a cell over csv.field_size_limit(), a NUL byte
        raise FileFormatError(
            f"{path}: unreadable CSV ({exc}); a manifest cell holds a path, a patient or "
            "a level list, never this much"
        ) from None


def _manifest_tasks(path: Path, base: Path, text: str) -> list[Task]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    if "image" not in fields:
        raise FileFormatError(
            f"{path}: a manifest needs an 'image' column (header: "
            f"{', '.join(reader.fieldnames or []) or 'empty'}); optional columns: landmarks, "
            "patient, time_point, treated, spacing, procedure"
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
            procedure=cell(row, "procedure"),
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
        In input order; within a folder or glob, sorted by path. One file reached by several
        paths (symlinks) is kept once, the other paths in its ``aliases``; entries that are
        not regular files (FIFOs, devices) become tasks whose ``note`` says so.

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
    seen: dict[tuple[str, str], int] = {}

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
        # one file reached by several paths (symlinks, a/../a) is graded once
        key = (os.path.realpath(task.image), os.path.realpath(task.landmarks)
               if task.landmarks else "")
        if key in seen:
            first = seen[key]
            if task.image != tasks[first].image and task.image not in tasks[first].aliases:
                tasks[first] = replace(tasks[first],
                                       aliases=(*tasks[first].aliases, task.image))
            return
        seen[key] = len(tasks)
        tasks.append(task)

    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        kind = _file_kind(path)
        if kind == "dir":
            for image, note in _walk(path):
                add(Task(str(image), note=note), root=path)
        elif kind == "file" and _is_manifest(path):
            for task in read_manifest(path):
                add(task)
        elif kind == "file":
            add(Task(text))
        elif kind != "missing":
            add(Task(text, note=_not_regular(path, kind)))
        elif _is_glob(text):
            for match in _safe_glob(text):
                p = Path(match)
                kind = _file_kind(p)
                if kind == "dir":
                    for image, note in _walk(p):
                        add(Task(str(image), note=note), root=p)
                elif kind == "file" and _looks_like_image(p):
                    add(Task(match))
                elif kind not in ("file", "missing") and _looks_like_image(p):
                    add(Task(match, note=_not_regular(p, kind)))
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
        procedure = next((m.procedure for m in normalised if m.procedure), "")
        note = f"patient {patient or '(empty)'}: " + "; ".join(notes) if notes else ""
        out.append(Task(image="", patient=patient, treated=treated, note=note,
                        members=tuple(normalised), procedure=procedure))
    return out
