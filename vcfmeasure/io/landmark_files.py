"""Read and write landmark files: native JSON, CSV, 3D Slicer, labelme, COCO, CVAT.

Every format is converted at this boundary to vcfmeasure's pixel convention: ``(x, y)`` =
(column, row), y down, pixel centres at integers (API.md). Formats that count from pixel
corners (labelme, CVAT) are shifted by half a pixel; see ``docs/landmark-files.md``.

The per-format code lives in the private modules ``_fmt_*.py``; each exposes ``NAME``,
``PIXEL_SHIFT`` (added to file coordinates to get vcfmeasure pixels), ``MULTI_IMAGE``,
``read(path, text, **options) -> list[ImageEntry]`` and
``write(items, path, **options) -> str``. The checks every format shares (unknown levels,
duplicate points, incomplete vertebrae, image selection) are made here, once.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._checks import check_path
from .._errors import FileFormatError, LandmarkError, VcfMeasureWarning
from ..landmarks import Landmarks
from ..levels import POINT_NAMES, normalize_level, sort_levels
from ._common import ImageEntry, atomic_write, load_json

__all__ = [
    "FORMATS",
    "MAX_FILE_BYTES",
    "IncompleteLandmarksWarning",
    "guess_format",
    "read_landmarks",
    "read_landmarks_all",
    "write_landmarks",
]

#: The ``format=`` names, each with its private module.
FORMATS: dict[str, str] = {
    "json": "_fmt_json",
    "csv": "_fmt_csv",
    "slicer": "_fmt_slicer",
    "labelme": "_fmt_labelme",
    "coco": "_fmt_coco",
    "cvat": "_fmt_cvat",
}


#: Largest landmark file read, in bytes: 16 MiB, about 3,000 images of 17 vertebrae in one
#: CSV or COCO file (reading costs about 13x the file size in memory). Set
#: ``vcfmeasure.io.landmark_files.MAX_FILE_BYTES`` to read larger files.
MAX_FILE_BYTES = 16 * 2**20


class IncompleteLandmarksWarning(VcfMeasureWarning):
    """Vertebrae with fewer than six points were left out (``allow_incomplete=True``)."""


def _module(fmt: str) -> Any:
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise FileFormatError(
            f"unknown landmark format {fmt!r} (format=); use one of {', '.join(map(repr, FORMATS))}"
        )
    return importlib.import_module(f"{__package__}.{FORMATS[fmt]}")


def guess_format(path: str | Path, text: str | None = None) -> str:
    """Guess the format of a landmark file from its name and (when given) its content.

    ``.mrk.json`` is 3D Slicer, ``.csv``/``.tsv`` CSV, ``.xml`` CVAT; other ``.json`` files
    are told apart by their keys (``markups``: Slicer, ``shapes``: labelme, ``images`` +
    ``annotations``: COCO, ``levels``: native).

    Parameters
    ----------
    path : str or Path
    text : str, optional
        The file's content; without it only the name is used (as when writing).

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    FileFormatError
        When neither name nor content tells.

    Examples
    --------
    >>> guess_format("spine.mrk.json"), guess_format("points.csv"), guess_format("a.xml")
    ('slicer', 'csv', 'cvat')
    >>> guess_format("x.json", '{"shapes": [], "imagePath": "x.png"}')
    'labelme'
    """
    name = Path(path).name.lower()
    if name.endswith(".mrk.json"):
        return "slicer"
    suffix = Path(name).suffix
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".xml":
        return "cvat"
    if text is None:
        if suffix == ".json":
            return "json"
        raise FileFormatError(
            f"{path}: cannot tell the landmark format from the name; pass format= "
            f"(one of {', '.join(FORMATS)})"
        )
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "<":
        return "cvat"
    if head in ("{", "["):
        doc = load_json(path, text)
        if isinstance(doc, dict):
            if "markups" in doc:
                return "slicer"
            if "shapes" in doc:
                return "labelme"
            if "annotations" in doc or "categories" in doc:
                return "coco"
            if "levels" in doc or doc.get("format") == "vcfmeasure-landmarks":
                return "json"
        raise FileFormatError(
            f"{path}: a JSON file of no known landmark layout (no 'levels', 'markups', "
            "'shapes' or 'annotations' key); pass format="
        )
    first = text.splitlines()[0].lower() if text.strip() else ""
    if "level" in first and "point" in first:
        return "csv"
    raise FileFormatError(
        f"{path}: cannot tell the landmark format; pass format= (one of {', '.join(FORMATS)})"
    )


def _open_checked(path: Path) -> Any:
    """Open a landmark file for reading as text, after checking what it is and its size.

    Only regular files are read (a FIFO would block, a device never ends), up to
    :data:`MAX_FILE_BYTES`.
    """
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such landmark file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the landmark file ({exc.strerror})"
                              ) from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise FileFormatError(f"{path}: is {kind}, not a landmark file; give a regular "
                              "JSON, CSV or XML file")
    if st.st_size > MAX_FILE_BYTES:
        raise FileFormatError(
            f"{path}: {st.st_size} bytes, more than the {MAX_FILE_BYTES} bytes a landmark "
            "file may have (vcfmeasure.io.landmark_files.MAX_FILE_BYTES); raise it if the "
            "file is genuine, or split it"
        )
    try:
        return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the landmark file ({exc.strerror})"
                              ) from None


def _labelme_only(path: Path, fmt: str, options: dict[str, Any]) -> None:
    """Refuse ``label_map=`` / ``point_order=`` for formats other than labelme."""
    if fmt != "labelme" and any(options.get(k) is not None for k in ("label_map", "point_order")):
        raise FileFormatError(
            f"{path}: label_map= and point_order= apply to labelme files; this is {fmt!r}"
        )


def _read_entries(path: str | Path, fmt: str | None, options: dict[str, Any]) -> list[ImageEntry]:
    path = Path(path)
    try:
        with _open_checked(path) as fh:
            if (fmt or _name_format(path)) == "csv":  # streamed, row by row
                _labelme_only(path, "csv", options)
                return _module("csv").read(path, fh, **options)
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8); landmark files are "
            "JSON, CSV or XML text"
        ) from None
    fmt = fmt or guess_format(path, text)
    _labelme_only(path, fmt, options)
    return _module(fmt).read(path, text, **options)


def _name_format(path: Path) -> str | None:
    try:
        return guess_format(path)
    except FileFormatError:
        return None


def _select(entries: list[ImageEntry], image: Any, path: str | Path) -> ImageEntry:
    names = ", ".join(repr(e.name) for e in entries[:20]) + (" ..." if len(entries) > 20 else "")
    if image is None:
        if len(entries) == 1:
            return entries[0]
        if not entries:
            raise FileFormatError(f"{path}: the file holds no image with landmarks")
        raise FileFormatError(
            f"{path}: the file holds landmarks of {len(entries)} images ({names}); choose one "
            "with image=NAME or read them all with read_landmarks_all"
        )
    key = str(image)
    for entry in entries:
        if key in (entry.name, Path(entry.name).name, *entry.aliases):
            return entry
    raise FileFormatError(f"{path}: no image {key!r} in the file; it holds {names}")


def _assemble(entry: ImageEntry, path: str | Path, allow_incomplete: bool) -> Landmarks:
    points: dict[str, dict[str, tuple[float, float]]] = {}
    found_at: dict[tuple[str, str], str] = {}
    for row in entry.points:
        try:
            level = normalize_level(row.level)
        except LandmarkError:
            raise FileFormatError(
                f"{path}: {row.where}: unknown level {row.level!r}; levels are C2-C7, "
                "T1-T12, L1-L5, S1"
            ) from None
        point = row.point.strip().lower()
        if point not in POINT_NAMES:
            raise FileFormatError(
                f"{path}: {row.where}: unknown point {row.point!r}; points are "
                f"{' '.join(POINT_NAMES)}"
            )
        if (level, point) in found_at:
            raise FileFormatError(
                f"{path}: {row.where}: {level} point {point!r} given twice (also at "
                f"{found_at[level, point]}); keep one"
            )
        found_at[level, point] = row.where
        points.setdefault(level, {})[point] = (row.x, row.y)
    incomplete = {
        lv: [p for p in POINT_NAMES if p not in points[lv]]
        for lv in sort_levels(points)
        if len(points[lv]) < len(POINT_NAMES)
    }
    if incomplete:
        listing = "; ".join(f"{lv} (missing {' '.join(miss)})" for lv, miss in incomplete.items())
        if not allow_incomplete:
            raise FileFormatError(
                f"{path}: incomplete vertebrae: {listing}; add the missing points, or pass "
                "allow_incomplete=True to read the complete vertebrae only"
            )
        warnings.warn(
            f"{path}: left out incomplete vertebrae: {listing}",
            IncompleteLandmarksWarning,
            stacklevel=3,  # _assemble <- read_landmarks(_all) <- caller
        )
    complete = {lv: named for lv, named in points.items() if lv not in incomplete}
    provenance = entry.provenance
    if isinstance(provenance, Mapping) and not _is_single_provenance(provenance):
        provenance = {normalize_level(lv): p for lv, p in provenance.items()}
        provenance = {lv: p for lv, p in provenance.items() if lv in complete}
    try:
        return Landmarks.from_dict(complete, provenance=provenance, image=entry.image or None)
    except LandmarkError as exc:
        raise LandmarkError(f"{path}: {exc}") from None


def _is_single_provenance(value: Mapping[str, Any]) -> bool:
    return "method" in value and not isinstance(value["method"], Mapping)


def read_landmarks(
    path: str | Path,
    *,
    format: str | None = None,  # noqa: A002 - the public name in API.md
    allow_incomplete: bool = False,
    image: str | int | None = None,
    spacing: float | tuple[float, float] | None = None,
    label_map: Mapping[str, Any] | None = None,
    point_order: Any = None,
) -> Landmarks:
    r"""Read the landmarks of one image from a file.

    Parameters
    ----------
    path : str or Path
    format : {"json", "csv", "slicer", "labelme", "coco", "cvat"}, optional
        Guessed from the name and content when ``None`` (see :func:`guess_format`).
    allow_incomplete : bool
        Vertebrae with fewer than six points are an error listing them; with ``True`` the
        complete ones are returned and an :class:`IncompleteLandmarksWarning` lists the rest.
    image : str or int, optional
        For files holding several images (CSV, COCO, CVAT): the image's file name (with or
        without folders) or id.
    spacing : float or (row_mm, col_mm), optional
        3D Slicer only: mm per pixel of the pixel <-> LPS mapping. Default: the spacing
        recorded in the file by vcfmeasure, else 1 mm per pixel (Slicer's own choice for
        PNG/TIFF images).
    label_map : mapping, optional
        labelme only, for files not labelled ``<level>-<point>``: file label ->
        ``"<level>-<point>"`` (point shapes), a level (one polygon per body), or a list of
        levels (polygons sharing one label, given from the top of the image down).
    point_order : sequence of str, optional
        labelme polygons: the point name of each vertex in file order (``"-"`` skips
        one), e.g. ``("sp", "sa", "ia", "ip")``; missing ``sm``/``im`` are put at the
        middle of the corner chords, and the provenance says so.

    Returns
    -------
    Landmarks
        ``(x, y)`` pixels with centres at integers, with provenance (``"imported"`` and the
        tool for foreign formats) and the image reference the file gives.

    Raises
    ------
    FileFormatError
        For a broken file, naming the file and the line or field: broken JSON or XML,
        missing columns, unknown levels or points, duplicate points, non-numeric values,
        incomplete vertebrae, several images and none chosen.
    LandmarkError
        When a vertebra's six points do not outline a body (names file and level).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rows = ["image,level,point,x,y"] + [
    ...     f"a.png,L1,{p},{x},{y}" for p, (x, y) in zip(
    ...         ["sp", "sm", "sa", "ia", "im", "ip"],
    ...         [(0, 0), (5, 0), (10, 0), (10, 9), (5, 9), (0, 10)])]
    >>> _ = (folder / "a.csv").write_text("\n".join(rows))
    >>> lm = read_landmarks(folder / "a.csv")
    >>> lm.levels, lm["L1"][3].tolist()
    (('L1',), [10.0, 9.0])
    """
    check_path(path, "read_landmarks", "path")
    if format is not None:
        _module(format)
    options = {"spacing": spacing, "label_map": label_map, "point_order": point_order}
    entries = _read_entries(path, format, options)
    return _assemble(_select(entries, image, path), path, allow_incomplete)


def read_landmarks_all(
    path: str | Path,
    *,
    format: str | None = None,  # noqa: A002
    allow_incomplete: bool = False,
    spacing: float | tuple[float, float] | None = None,
    label_map: Mapping[str, Any] | None = None,
    point_order: Any = None,
) -> dict[str, Landmarks]:
    r"""Read the landmarks of every image in a file: ``{image name: Landmarks}``.

    Parameters and errors as in :func:`read_landmarks`; the keys are the image names the
    file uses (COCO ``file_name``, CVAT ``name``, the CSV ``image`` column).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pts = [(0, 0), (5, 0), (10, 0), (10, 9), (5, 9), (0, 10)]
    >>> rows = ["image,level,point,x,y"] + [
    ...     f"{im},L1,{p},{x},{y}" for im in ("a.png", "b.png")
    ...     for p, (x, y) in zip(["sp", "sm", "sa", "ia", "im", "ip"], pts)]
    >>> _ = (folder / "two.csv").write_text("\n".join(rows))
    >>> sorted(read_landmarks_all(folder / "two.csv"))
    ['a.png', 'b.png']
    """
    check_path(path, "read_landmarks_all", "path")
    if format is not None:
        _module(format)
    options = {"spacing": spacing, "label_map": label_map, "point_order": point_order}
    entries = _read_entries(path, format, options)
    out = {}
    for entry in entries:  # a loop, not a comprehension: the warning's stacklevel stays 3
        out[entry.name] = _assemble(entry, path, allow_incomplete)
    return out


def write_landmarks(
    landmarks: Landmarks | Mapping[str, Landmarks],
    path: str | Path,
    *,
    format: str | None = None,  # noqa: A002
    image: str | None = None,
    spacing: float | tuple[float, float] | None = None,
) -> None:
    """Write landmarks to a file, atomically (a temporary file, then a rename).

    Parameters
    ----------
    landmarks : Landmarks or mapping of image name -> Landmarks
        A mapping writes several images into one file (CSV, COCO, CVAT only).
    path : str or Path
    format : {"json", "csv", "slicer", "labelme", "coco", "cvat"}, optional
        From the name when ``None``: ``.mrk.json`` Slicer, ``.json`` native, ``.csv`` CSV,
        ``.xml`` CVAT (labelme and COCO are ``.json`` too: name them).
    image : str, optional
        The image name written into the file; default: ``landmarks.image["path"]``, else the
        landmark file's stem.
    spacing : float or (row_mm, col_mm), optional
        3D Slicer only: mm per pixel of the pixel -> LPS mapping; default: the spacing in
        ``landmarks.image``, else 1 with a :class:`~vcfmeasure.SpacingWarning` (the file's
        mm are then pixels). It is recorded in the file for reading back.

    Raises
    ------
    FileFormatError
        Unknown format, or several images for a single-image format.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10.5]])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "spine.mrk.json"
    >>> write_landmarks(Landmarks({"L1": box}), out, spacing=0.2)  # Slicer positions in mm
    >>> read_landmarks(out)["L1"][5].tolist()
    [0.0, 10.5]
    """
    check_path(path, "write_landmarks", "path")
    path = Path(path)
    fmt = format or guess_format(path)
    module = _module(fmt)
    items: list[tuple[str, Landmarks]] = []
    if isinstance(landmarks, Landmarks):
        items.append((image or _default_name(landmarks, path), landmarks))
    elif isinstance(landmarks, Mapping):
        for key, value in landmarks.items():
            if not isinstance(value, Landmarks):
                raise FileFormatError(f"{path}: image {key!r}: expected Landmarks to write")
            items.append((str(key), value))
    else:
        raise FileFormatError(
            f"{path}: write_landmarks needs Landmarks or a mapping of image name -> Landmarks, "
            f"got {type(landmarks).__name__}"
        )
    if len(items) != 1 and not module.MULTI_IMAGE:
        raise FileFormatError(
            f"{path}: the {fmt!r} format holds one image, got {len(items)}; write one file "
            "per image, or use 'csv', 'coco' or 'cvat'"
        )
    atomic_write(path, module.write(items, path, spacing=spacing))


def _default_name(landmarks: Landmarks, path: Path) -> str:
    ref = landmarks.image or {}
    return str(ref.get("path") or path.name.split(".")[0])
