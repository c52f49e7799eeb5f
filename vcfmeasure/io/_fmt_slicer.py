"""3D Slicer Markups JSON (``.mrk.json``): one point list, labels ``<level>-<point>``.

Pixel <-> LPS mapping (ITK's for a 2-D image with origin 0 and identity direction, which
is what Slicer uses for a PNG/TIFF, or a projection DICOM without Image Position /
Orientation): a pixel centre ``(x, y)`` sits at ``L = x * col_mm``, ``P = y * row_mm``,
``S = 0``. Pixel centres are at integer IJK in Slicer as in vcfmeasure, so there is no
half-pixel shift. Files in RAS (``"coordinateSystem": "RAS"``, Slicer < 4.11) have
``R = -L``, ``A = -P``. The spacing used on writing is recorded in each control point's
``description`` (``vcfmeasure-spacing=ROW,COL``) so that reading back is exact. Without
a known spacing, 1 mm per pixel is written (Slicer's own choice for PNG/TIFF), with a
:class:`~vcfmeasure.SpacingWarning` and ``vcfmeasure-spacing-source=unknown`` in the
``description``: the file's mm are then pixels.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from .._errors import FileFormatError, SpacingWarning
from ..landmarks import Landmarks, Provenance
from ..levels import POINT_NAMES
from ..radiograph import resolve_spacing
from ._common import ImageEntry, PointRow, dump_json, label_for, load_json, number, parse_label
from ._common import require_type as need

NAME = "slicer"
PIXEL_SHIFT = 0.0
MULTI_IMAGE = False
SCHEMA_URL = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
_SPACING_TAG = re.compile(r"vcfmeasure-spacing=([0-9.eE+-]+),([0-9.eE+-]+)")


def _spacing(value: Any) -> tuple[float, float]:
    resolved, _ = resolve_spacing(value)
    return resolved if resolved is not None else (1.0, 1.0)


def read(path: Path, text: str, *, spacing: Any = None, **_: Any) -> list[ImageEntry]:
    doc = need(load_json(path, text), dict, path, "top level")
    markups = need(doc.get("markups"), list, path, "field $.markups")
    rows: list[PointRow] = []
    for m, markup in enumerate(markups):
        where_m = f"field $.markups[{m}]"
        need(markup, dict, path, where_m)
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise FileFormatError(
                f"{path}: {where_m}.coordinateSystem: {system!r} is neither LPS nor RAS"
            )
        units = markup.get("coordinateUnits", "mm")
        if units != "mm":
            raise FileFormatError(f"{path}: {where_m}.coordinateUnits: {units!r}, expected 'mm'")
        sign = -1.0 if system == "RAS" else 1.0
        points = need(markup.get("controlPoints", []), list, path, f"{where_m}.controlPoints")
        for i, cp in enumerate(points):
            where = f"{where_m}.controlPoints[{i}]"
            need(cp, dict, path, where)
            if cp.get("positionStatus", "defined") != "defined":
                continue  # preview / undefined: a point not placed yet
            level, point = parse_label(cp.get("label", ""), path, f"{where}.label")
            pos = need(cp.get("position"), list, path, f"{where}.position")
            if len(pos) != 3:
                raise FileFormatError(f"{path}: {where}.position: expected [x, y, z], got {pos}")
            lps = [sign * number(v, path, f"{where}.position[{k}]") for k, v in enumerate(pos[:2])]
            row_mm, col_mm = _point_spacing(spacing, cp, path, where)
            rows.append(PointRow(level, point, lps[0] / col_mm, lps[1] / row_mm, where))
    tool = Provenance("imported", tool="3D Slicer")
    return [ImageEntry(path.name.split(".")[0], rows, provenance=tool)]


def _point_spacing(
    spacing: Any, cp: dict[str, Any], path: Path, where: str
) -> tuple[float, float]:
    if spacing is not None:
        return _spacing(spacing)
    found = _SPACING_TAG.search(str(cp.get("description", "")))
    if found is None:
        return (1.0, 1.0)
    return _spacing(
        [number(v, path, f"{where}.description (vcfmeasure-spacing)") for v in found.groups()]
    )


def write(items: list[tuple[str, Landmarks]], path: Path, *, spacing: Any = None, **_: Any) -> str:
    name, lm = items[0]
    if spacing is None:
        spacing = (lm.image or {}).get("spacing")
    row_mm, col_mm = _spacing(spacing)
    tag = f"vcfmeasure-spacing={row_mm!r},{col_mm!r}"
    if spacing is None:
        warnings.warn(
            f"{path}: no pixel spacing known for {name!r}: the Slicer file uses 1 mm per "
            "pixel, so its positions are in pixels, not mm (recorded in each point's "
            "description); pass spacing= to write_landmarks for true mm",
            SpacingWarning, stacklevel=4,
        )
        tag += "; vcfmeasure-spacing-source=unknown (1 mm per pixel assumed)"
    control_points: list[dict[str, Any]] = []
    for level in lm.levels:
        for point, (x, y) in zip(POINT_NAMES, lm[level], strict=True):
            control_points.append(
                {
                    "id": str(len(control_points) + 1),
                    "label": label_for(level, point),
                    "description": tag,
                    "associatedNodeID": "",
                    "position": [float(x) * col_mm, float(y) * row_mm, 0.0],
                    "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
                    "selected": True,
                    "locked": False,
                    "visibility": True,
                    "positionStatus": "defined",
                }
            )
    doc = {
        "@schema": SCHEMA_URL,
        "markups": [
            {
                "type": "Fiducial",
                "coordinateSystem": "LPS",
                "coordinateUnits": "mm",
                "locked": False,
                "fixedNumberOfControlPoints": False,
                "labelFormat": "%N-%d",
                "lastUsedControlPointNumber": len(control_points),
                "controlPoints": control_points,
                "measurements": [],
            }
        ],
    }
    return dump_json(doc)
