"""What every landmark format shares: point rows, label parsing, atomic writes.

A reader turns a file into :class:`ImageEntry` objects (one per image, points already in
vcfmeasure's pixel convention); :func:`vcfmeasure.io.landmark_files.read_landmarks`
assembles them into :class:`~vcfmeasure.landmarks.Landmarks`, so the checks for unknown
levels, duplicate points and incomplete vertebrae are written once.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import FileFormatError
from .._table import write_atomic
from ..levels import POINT_NAMES

_ITEM = r'(?:-?[0-9][0-9.eE+-]*|"[A-Za-z0-9_]*"|null|true|false)'
_SHORT_ARRAY = re.compile(rf"\[\s*({_ITEM}(?:,\s*{_ITEM})*)\s*\]")

__all__ = ["ImageEntry", "PointRow", "atomic_write", "label_for", "number", "parse_label"]

_LABEL = re.compile(r"^\s*(?P<level>[A-Za-z]\d{1,2})\s*[-_:./ ]?\s*(?P<point>[A-Za-z]{2})\s*$")


@dataclass(frozen=True, slots=True)
class PointRow:
    """One point read from a file, in vcfmeasure pixels (centres at integers).

    ``where`` says where it was found ("line 7", "shapes[3]") for error messages.
    """

    level: str
    point: str
    x: float
    y: float
    where: str


@dataclass
class ImageEntry:
    """The points of one image in a file, with what the file says about the image."""

    name: str
    points: list[PointRow] = field(default_factory=list)
    aliases: tuple[str, ...] = ()
    image: dict[str, Any] = field(default_factory=dict)
    provenance: Any = None


def parse_label(label: str, path: Path | str, where: str) -> tuple[str, str]:
    """Split a label such as ``"L1-sa"``, ``"l1_sa"`` or ``"L1 sa"`` into level and point.

    Raises
    ------
    FileFormatError
        Naming the file and field when the label is not of that form.

    Examples
    --------
    >>> parse_label("T12_im", "a.json", "shapes[0]")
    ('T12', 'im')
    """
    m = _LABEL.match(str(label))
    if m is None or m["point"].lower() not in POINT_NAMES:
        raise FileFormatError(
            f"{path}: {where}: label {label!r} is not <level>-<point> (e.g. 'L1-sa'; points "
            f"are {' '.join(POINT_NAMES)}); rename or remove it"
        )
    return m["level"], m["point"].lower()


def label_for(level: str, point: str) -> str:
    """Return the label vcfmeasure writes for a point in foreign formats (``"L1-sa"``).

    Examples
    --------
    >>> label_for("L1", "sa")
    'L1-sa'
    """
    return f"{level}-{point}"


def number(value: Any, path: Path | str, where: str) -> float:
    """Convert a file value to a finite float, or raise naming file and field.

    Examples
    --------
    >>> number("12.5", "a.csv", "line 2, column x")
    12.5
    """
    if isinstance(value, bool):
        value = None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise FileFormatError(f"{path}: {where}: {value!r} is not a number") from None
    if not math.isfinite(out):
        raise FileFormatError(f"{path}: {where}: {value!r} is not a finite number")
    return out


def atomic_write(path: Path | str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) beside ``path`` and rename it into place.

    Missing parent folders are created; a crash or a full disk never leaves a
    half-written file under the final name (see :func:`vcfmeasure._table.write_atomic`).
    """
    write_atomic(path, data)


def load_json(path: Path | str, text: str) -> Any:
    """Parse JSON text, or raise naming the file, line and column of the fault.

    Examples
    --------
    >>> load_json("a.json", '{"a": 1}')
    {'a': 1}
    """
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{path}: line {exc.lineno}, column {exc.colno}: broken JSON ({exc.msg})"
        ) from None
    except RecursionError:
        raise FileFormatError(
            f"{path}: field $ (top level): JSON nested deeper than the parser allows (about "
            f"{sys.getrecursionlimit()} levels); a landmark file nests 4 or 5 deep"
        ) from None


def dump_json(doc: Any) -> str:
    r"""Format ``doc`` as indented JSON; floats keep all their digits (``repr``).

    Reading it back gives the same numbers; short arrays stay on one line.

    Examples
    --------
    >>> dump_json({"x": 0.1})
    '{\n  "x": 0.1\n}\n'
    """
    import json

    text = json.dumps(doc, indent=2, allow_nan=False, default=_plain)
    # one line per short array of numbers or plain names: [x, y] pairs stay readable
    return _SHORT_ARRAY.sub(lambda m: "[" + re.sub(r",\s*", ", ", m[1]) + "]", text) + "\n"


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value.tolist() if isinstance(value, np.ndarray) else value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to JSON")


def require_type(value: Any, kind: type | tuple[type, ...], path: Path | str, where: str) -> Any:
    """Return ``value`` if it is of ``kind``, else raise naming the file and field."""
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        names = names.replace("dict", "object").replace("list", "array").replace("str", "string")
        raise FileFormatError(f"{path}: {where}: expected {names}, got {value!r:.60}")
    return value


def image_shape(landmarks: Any) -> tuple[int, int] | None:
    """``(rows, cols)`` of the image of ``landmarks`` when recorded."""
    ref = getattr(landmarks, "image", None) or {}
    shape = ref.get("shape")
    return (int(shape[0]), int(shape[1])) if shape is not None else None
