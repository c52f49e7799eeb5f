"""labelme JSON: ``point`` shapes labelled ``<level>-<point>`` (``L1-sa``, ``L1_sa``...).

labelme stores continuous image coordinates with the top-left *corner* of the image at
``(0, 0)``, so the centre of pixel (0, 0) is ``(0.5, 0.5)``: vcfmeasure = labelme - 0.5.

Files labelled another way (generic labels, one polygon per body) are read with
``label_map`` (file label -> ``"<level>-<point>"`` for a point shape, a level for a polygon,
or a list of levels for polygons sharing a label, given to them from the top of the image
down) and ``point_order`` (the point names of a polygon's vertices in file order, ``"-"``
for a vertex to skip). A polygon without ``sm``/``im`` gets them at the middle of its
corner chords, and the provenance says so: the six-point method wants them on the
endplate contour (docs/reference.md section 1). Unmapped polygons and other shapes are
ignored; a file that yields no vertebra is an error listing the labels it holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import FileFormatError
from ..landmarks import Landmarks, Provenance
from ..levels import POINT_NAMES, normalize_level
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


def read(path: Path, text: str, *, label_map: Mapping[str, Any] | None = None,
         point_order: Sequence[str] | None = None, **_: Any) -> list[ImageEntry]:
    doc = need(load_json(path, text), dict, path, "top level")
    shapes = need(doc.get("shapes"), list, path, "field $.shapes")
    mapping = dict(label_map or {})
    order = _check_order(point_order, path)
    rows: list[PointRow] = []
    seen: Counter[str] = Counter()
    polygons: dict[str, list[tuple[str, list[Any]]]] = {}
    for i, shape in enumerate(shapes):
        where = f"field $.shapes[{i}]"
        need(shape, dict, path, where)
        kind = str(shape.get("shape_type") or "polygon")
        label = str(shape.get("label", ""))
        seen[f"{label!r} ({kind})"] += 1
        target = mapping.get(label)
        pts = need(shape.get("points"), list, path, f"{where}.points")
        if kind == "point":
            name = target if isinstance(target, str) else label
            try:
                level, point = parse_label(name, path, f"{where}.label")
            except FileFormatError:
                if mapping and target is None:
                    continue  # with a label map, points it does not name are not vertebrae
                raise
            if len(pts) != 1 or not isinstance(pts[0], list) or len(pts[0]) != 2:
                raise FileFormatError(
                    f"{path}: {where}.points: a point shape needs [[x, y]], got {pts}"
                )
            x, y = _xy(pts[0], path, f"{where}.points[0]")
            rows.append(PointRow(level, point, x, y, where))
        elif kind == "polygon" and target is not None:
            polygons.setdefault(label, []).append((where, pts))
    notes: dict[str, str] = {}
    for label, found in polygons.items():
        rows.extend(_polygon_rows(label, mapping[label], found, order, path, notes))
    if not rows:
        listing = ", ".join(f"{n} x {k}" for k, n in seen.items()) or "no shapes"
        raise FileFormatError(
            f"{path}: no vertebra found: labelme shapes must be points labelled "
            f"<level>-<point> (e.g. 'L1-sa'), or be mapped; the file holds {listing}. "
            "Pass label_map= (and point_order= for polygons), or --map / --point-order "
            "on the command line; see docs/landmark-files.md"
        )
    image: dict[str, Any] = {}
    if doc.get("imagePath"):
        image["path"] = str(doc["imagePath"])
    if isinstance(doc.get("imageHeight"), int) and isinstance(doc.get("imageWidth"), int):
        image["shape"] = (doc["imageHeight"], doc["imageWidth"])
    version = str(doc.get("version") or "") or None
    tool: Any = Provenance("imported", tool="labelme", version=version)
    if notes:
        tool = {lv: Provenance("imported", tool="labelme", version=version,
                               note=notes.get(lv)) for lv in {r.level for r in rows}}
    return [
        ImageEntry(image.get("path", path.name.split(".")[0]), rows, image=image, provenance=tool)
    ]


def _xy(pair: Any, path: Path, where: str) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise FileFormatError(f"{path}: {where}: a vertex needs [x, y], got {pair!r}")
    x, y = (number(v, path, f"{where}[{k}]") for k, v in enumerate(pair))
    return x + PIXEL_SHIFT, y + PIXEL_SHIFT


def _check_order(point_order: Sequence[str] | None, path: Path) -> tuple[str, ...] | None:
    if point_order is None:
        return None
    order = tuple(str(p).strip().lower() for p in point_order)
    named = [p for p in order if p != "-"]
    bad = [p for p in named if p not in POINT_NAMES]
    corners = {"sp", "sa", "ia", "ip"}
    if bad or len(set(named)) != len(named) or not corners <= set(named):
        raise FileFormatError(
            f"{path}: point_order {list(point_order)!r} must name each polygon vertex with "
            f"one of {' '.join(POINT_NAMES)} (or '-' to skip it), at least the four "
            "corners sp sa ia ip, each once"
        )
    return order


def _polygon_rows(label: str, target: Any, found: list[tuple[str, list[Any]]],
                  order: tuple[str, ...] | None, path: Path, notes: dict[str, str]
                  ) -> list[PointRow]:
    """Six points per mapped polygon; levels from the map, cranial (top) first."""
    if order is None:
        raise FileFormatError(
            f"{path}: label {label!r} maps polygons to vertebrae but no point_order says "
            "which vertex is which (e.g. point_order=('sp', 'sa', 'ia', 'ip'))"
        )
    levels = [target] if isinstance(target, str) else list(target)
    try:
        levels = [normalize_level(lv) for lv in levels]
    except Exception as exc:
        raise FileFormatError(f"{path}: label_map[{label!r}]: {exc}") from None
    if len(levels) != len(found):
        raise FileFormatError(
            f"{path}: label {label!r}: {len(found)} polygons but label_map gives "
            f"{len(levels)} level(s) ({', '.join(levels)}); give one level per polygon"
        )
    outlines = []
    for where, pts in found:
        if len(pts) != len(order):
            raise FileFormatError(
                f"{path}: {where}.points: {len(pts)} vertices, point_order names "
                f"{len(order)}; a polygon of another shape needs its own point_order"
            )
        xy = [_xy(v, path, f"{where}.points[{k}]") for k, v in enumerate(pts)]
        outlines.append((sum(p[1] for p in xy) / len(xy), where, xy))
    outlines.sort(key=lambda o: o[0])  # top of the image first: the cranial level
    rows: list[PointRow] = []
    for level, (_, where, xy) in zip(levels, outlines, strict=True):
        named = {name: p for name, p in zip(order, xy, strict=True) if name != "-"}
        missing = [m for m in ("sm", "im") if m not in named]
        for m, (a, b) in (("sm", ("sp", "sa")), ("im", ("ip", "ia"))):
            if m in missing:
                named[m] = ((named[a][0] + named[b][0]) / 2, (named[a][1] + named[b][1]) / 2)
        if missing:
            notes[level] = (f"{' and '.join(missing)} at the middle of the corner chord (the "
                            f"polygon gave no endplate middle point)")
        rows.extend(PointRow(level, name, *named[name], where) for name in POINT_NAMES)
    return rows


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
