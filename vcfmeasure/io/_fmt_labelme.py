"""labelme JSON: ``point`` shapes labelled ``<level>-<point>`` (``L1-sa``, ``L1_sa``...).

labelme stores continuous image coordinates with the top-left *corner* of the image at
``(0, 0)``, so the centre of pixel (0, 0) is ``(0.5, 0.5)``: vcfmeasure = labelme - 0.5.
Shapes of other types (polygons, rectangles) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._errors import FileFormatError
from ..landmarks import Landmarks, Provenance
from ..levels import POINT_NAMES
from ._common import (
    ImageEntry,
    PointRow,
    dump_json,
    image_shape,
    label_for,
    load_json,
    number,
    parse_label,
)
from ._common import require_type as need

NAME = "labelme"
PIXEL_SHIFT = -0.5
MULTI_IMAGE = False
VERSION = "5.4.1"


def read(path: Path, text: str, **_: Any) -> list[ImageEntry]:
    doc = need(load_json(path, text), dict, path, "top level")
    shapes = need(doc.get("shapes"), list, path, "field $.shapes")
    rows = []
    for i, shape in enumerate(shapes):
        where = f"field $.shapes[{i}]"
        need(shape, dict, path, where)
        if shape.get("shape_type", "polygon") != "point":
            continue
        level, point = parse_label(shape.get("label", ""), path, f"{where}.label")
        pts = need(shape.get("points"), list, path, f"{where}.points")
        if len(pts) != 1 or not isinstance(pts[0], list) or len(pts[0]) != 2:
            raise FileFormatError(
                f"{path}: {where}.points: a point shape needs [[x, y]], got {pts}"
            )
        x, y = (number(v, path, f"{where}.points[0][{k}]") for k, v in enumerate(pts[0]))
        rows.append(PointRow(level, point, x + PIXEL_SHIFT, y + PIXEL_SHIFT, where))
    image: dict[str, Any] = {}
    if doc.get("imagePath"):
        image["path"] = str(doc["imagePath"])
    if isinstance(doc.get("imageHeight"), int) and isinstance(doc.get("imageWidth"), int):
        image["shape"] = (doc["imageHeight"], doc["imageWidth"])
    tool = Provenance("imported", tool="labelme", version=str(doc.get("version") or "") or None)
    return [
        ImageEntry(image.get("path", path.name.split(".")[0]), rows, image=image, provenance=tool)
    ]


def write(items: list[tuple[str, Landmarks]], path: Path, **_: Any) -> str:
    name, lm = items[0]
    shape = image_shape(lm)
    shapes: list[dict[str, Any]] = [
        {
            "label": label_for(level, point),
            "points": [[float(x) - PIXEL_SHIFT, float(y) - PIXEL_SHIFT]],
            "group_id": None,
            "description": "",
            "shape_type": "point",
            "flags": {},
        }
        for level in lm.levels
        for point, (x, y) in zip(POINT_NAMES, lm[level], strict=True)
    ]
    doc: dict[str, Any] = {
        "version": VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": name,
        "imageData": None,
        "imageHeight": shape[0] if shape else None,
        "imageWidth": shape[1] if shape else None,
    }
    return dump_json(doc)
