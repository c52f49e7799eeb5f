"""Long-form CSV: one row per point, columns ``image, level, point, x, y``.

What a spreadsheet or R user expects (``tidyr::pivot_wider`` makes it wide). Coordinates
are vcfmeasure's (pixel centres at integers): no shift. Extra columns are ignored; the
delimiter may be ``,``, ``;`` or a tab. Provenance is not kept (use the JSON format).
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any, TextIO

from .._errors import FileFormatError
from ..landmarks import Landmarks, Provenance
from ..levels import POINT_NAMES
from ._common import ImageEntry, PointRow, number

NAME = "csv"
PIXEL_SHIFT = 0.0
MULTI_IMAGE = True
COLUMNS = ("image", "level", "point", "x", "y")
_PROVENANCE = Provenance("imported", tool="csv")


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.__getitem__) if any(counts.values()) else ","


def read(path: Path, text: str | TextIO, **_: Any) -> list[ImageEntry]:
    """Read the rows of ``text`` (the file's text, or a text stream read row by row)."""
    stream = io.StringIO(text, newline="") if isinstance(text, str) else text
    first = stream.readline()
    if not first.strip():
        raise FileFormatError(f"{path}: line 1: empty file; expected a header {','.join(COLUMNS)}")
    reader = csv.reader(itertools.chain([first], stream), delimiter=_delimiter(first))
    try:
        return _rows(path, reader)
    except csv.Error as exc:
        raise FileFormatError(
            f"{path}: line {reader.line_num}: unreadable CSV ({exc}); cells hold at most "
            f"{csv.field_size_limit()} characters"
        ) from None


def _rows(path: Path, reader: Any) -> list[ImageEntry]:
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in COLUMNS[1:] if c not in header]
    if missing:
        raise FileFormatError(
            f"{path}: line 1: missing column{'s' * (len(missing) > 1)} "
            f"{', '.join(map(repr, missing))}; the header is {header} and needs "
            f"{', '.join(COLUMNS)} (image optional)"
        )
    dupes = sorted({h for h in header if header.count(h) > 1 and h in COLUMNS})
    if dupes:
        raise FileFormatError(f"{path}: line 1: column {dupes[0]!r} appears twice")
    col = {c: header.index(c) for c in COLUMNS if c in header}
    default_image = path.name.split(".")[0]
    entries: dict[str, ImageEntry] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = f"line {reader.line_num}"
        if len(row) < len(header):
            raise FileFormatError(f"{path}: {line}: {len(row)} values for {len(header)} columns")
        name = row[col["image"]].strip() if "image" in col else default_image
        x = number(row[col["x"]].strip(), path, f"{line}, column 'x'")
        y = number(row[col["y"]].strip(), path, f"{line}, column 'y'")
        entry = entries.get(name)
        if entry is None:
            entry = entries[name] = ImageEntry(name, image={"path": name},
                                               provenance=_PROVENANCE)
        entry.points.append(
            PointRow(row[col["level"]].strip(), row[col["point"]].strip(), x, y, line)
        )
    return list(entries.values())


def write(items: list[tuple[str, Landmarks]], path: Path, **_: Any) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for name, lm in items:
        for level in lm.levels:
            for point, (x, y) in zip(POINT_NAMES, lm[level], strict=True):
                writer.writerow((name, level, point, repr(float(x)), repr(float(y))))
    return out.getvalue()
