"""The native landmark format: versioned JSON, validated by a shipped JSON Schema.

Coordinates are vcfmeasure's own (pixel centres at integers), so no shift. The schema is
``vcfmeasure/data/landmarks.schema.json``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._errors import FileFormatError
from ..landmarks import Landmarks, Provenance
from ..levels import POINT_NAMES
from ._common import ImageEntry, PointRow, dump_json, load_json

NAME = "json"
PIXEL_SHIFT = 0.0
MULTI_IMAGE = False
FORMAT_ID = "vcfmeasure-landmarks"
VERSION = 1
COORDINATES = "(x, y) = (column, row) pixels, y down, pixel centres at integers"


@functools.cache
def schema() -> dict[str, Any]:
    """Return the JSON Schema of the native format (parsed once)."""
    import json
    from importlib.resources import files

    text = files("vcfmeasure").joinpath("data", "landmarks.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def _field(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate(doc: Any, path: Path | str) -> None:
    """Check ``doc`` against the schema; raise naming the file and the bad field's path."""
    if isinstance(doc, dict) and isinstance(doc.get("version"), int) and doc["version"] > VERSION:
        raise FileFormatError(
            f"{path}: field $.version: version {doc['version']} was written by a newer "
            f"vcfmeasure; this one reads version {VERSION} — upgrade vcfmeasure"
        )
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise FileFormatError(f"{path}: field {_field(err.absolute_path)}: {err.message}{more}")


def read(path: Path, text: str, **_: Any) -> list[ImageEntry]:
    doc = load_json(path, text)
    validate(doc, path)
    image = dict(doc.get("image") or {})
    for key in ("shape", "spacing"):
        if image.get(key) is not None:
            image[key] = tuple(image[key])
    rows: list[PointRow] = []
    provenance: dict[str, Provenance] = {}
    for level, entry in doc["levels"].items():
        for point, (x, y) in entry["points"].items():
            where = f"field $.levels.{level}.points.{point}"
            rows.append(PointRow(level, point, float(x), float(y), where))
        if "provenance" in entry:
            provenance[level] = Provenance(**entry["provenance"])
    name = str(image.get("path") or path.name.split(".")[0])
    uid = image.get("sop_instance_uid")
    return [
        ImageEntry(name, rows, aliases=(uid,) if uid else (), image=image, provenance=provenance)
    ]


def write(items: list[tuple[str, Landmarks]], path: Path, **_: Any) -> str:
    from .. import __version__

    name, lm = items[0]
    doc: dict[str, Any] = {
        "format": FORMAT_ID,
        "version": VERSION,
        "coordinates": COORDINATES,
        "point_names": list(POINT_NAMES),
        "created_by": f"vcfmeasure {__version__}",
    }
    doc["image"] = {**(lm.image or {}), "path": name}
    provenance = lm.provenance
    doc["levels"] = {
        level: {
            "points": {
                p: [float(x), float(y)] for p, (x, y) in zip(POINT_NAMES, lm[level], strict=True)
            },
            "provenance": provenance[level].to_dict(),
        }
        for level in lm.levels
    }
    return dump_json(doc)
