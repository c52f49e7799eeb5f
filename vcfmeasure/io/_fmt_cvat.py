"""CVAT for images 1.1 XML: ``<points>`` labelled ``<level>-<point>``, or skeletons.

Read: ``<points label="L1-sa" points="x,y"/>``; ``<points label="L1" points="x,y;...">``
with the six points in ``POINT_NAMES`` order; and ``<skeleton>`` elements whose child
``<points>`` are labelled with point names, the level in an ``<attribute name="level">`` or
the skeleton label. Points with ``outside="1"`` are missing. Written: one ``<points>`` per
landmark, labelled ``L1-sa``, and the labels in ``<meta>``.

CVAT's coordinates are continuous with the top-left *corner* of the image at ``(0, 0)``:
vcfmeasure = CVAT - 0.5.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .._errors import FileFormatError
from ..landmarks import Landmarks, Provenance
from ..levels import LEVELS, POINT_NAMES
from ._common import ImageEntry, PointRow, image_shape, label_for, number, parse_label

NAME = "cvat"
PIXEL_SHIFT = -0.5
MULTI_IMAGE = True


def _xy_list(text: str | None, path: Path, where: str) -> list[tuple[float, float]]:
    out = []
    for k, pair in enumerate((text or "").split(";")):
        parts = pair.split(",")
        if len(parts) != 2:
            raise FileFormatError(f"{path}: {where}: point {k} {pair!r} is not 'x,y'")
        out.append((number(parts[0].strip(), path, where), number(parts[1].strip(), path, where)))
    return out


def _attribute(elem: ET.Element, name: str) -> str | None:
    for attr in elem.findall("attribute"):
        if attr.get("name", "").lower() == name:
            return (attr.text or "").strip()
    return None


def _image_rows(im: ET.Element, path: Path, where_im: str) -> list[PointRow]:
    rows = []
    for i, el in enumerate(im.findall("points")):
        where = f"{where_im} <points> #{i} label {el.get('label')!r}"
        if el.get("outside") == "1":
            continue
        coords = [
            (x + PIXEL_SHIFT, y + PIXEL_SHIFT) for x, y in _xy_list(el.get("points"), path, where)
        ]
        label = el.get("label", "")
        if len(coords) == 1:
            level, point = parse_label(label, path, where)
            rows.append(PointRow(level, point, *coords[0], where))
        elif len(coords) == len(POINT_NAMES):
            level = _attribute(el, "level") or label
            rows += [
                PointRow(level, p, x, y, where)
                for p, (x, y) in zip(POINT_NAMES, coords, strict=True)
            ]
        else:
            raise FileFormatError(
                f"{path}: {where}: {len(coords)} points; expected 1 (label 'L1-sa') or 6 "
                f"(label 'L1', in the order {' '.join(POINT_NAMES)})"
            )
    for i, sk in enumerate(im.findall("skeleton")):
        level = _attribute(sk, "level") or sk.get("label") or ""
        for j, el in enumerate(sk.findall("points")):
            where = f"{where_im} <skeleton> #{i} <points> #{j} label {el.get('label')!r}"
            if el.get("outside") == "1":
                continue
            coords = _xy_list(el.get("points"), path, where)
            if len(coords) != 1:
                raise FileFormatError(f"{path}: {where}: a skeleton point needs one 'x,y'")
            x, y = coords[0]
            rows.append(
                PointRow(level, el.get("label", ""), x + PIXEL_SHIFT, y + PIXEL_SHIFT, where)
            )
    return rows


def read(path: Path, text: str, **_: Any) -> list[ImageEntry]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, col = exc.position
        raise FileFormatError(f"{path}: line {line}, column {col}: broken XML ({exc})") from None
    if root.tag != "annotations":
        raise FileFormatError(
            f"{path}: root element <{root.tag}>, expected <annotations> (CVAT for images 1.1)"
        )
    version = (root.findtext("version") or "").strip() or None
    tool = Provenance("imported", tool="CVAT", version=version)
    entries = []
    for k, im in enumerate(root.findall("image")):
        name = im.get("name") or im.get("id") or str(k)
        ref: dict[str, Any] = {"path": name}
        if im.get("height") and im.get("width"):
            where = f"<image> name {name!r}"
            ref["shape"] = (
                int(number(im.get("height"), path, f"{where} height")),
                int(number(im.get("width"), path, f"{where} width")),
            )
        rows = _image_rows(im, path, f"<image> name {name!r}")
        entries.append(
            ImageEntry(name, rows, aliases=(str(im.get("id")),), image=ref, provenance=tool)
        )
    return entries


def write(items: list[tuple[str, Landmarks]], path: Path, **_: Any) -> str:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    labels = ET.SubElement(ET.SubElement(ET.SubElement(root, "meta"), "task"), "labels")
    used = sorted({lv for _, lm in items for lv in lm.levels}, key=LEVELS.index)
    for level in used:
        for point in POINT_NAMES:
            label = ET.SubElement(labels, "label")
            ET.SubElement(label, "name").text = label_for(level, point)
            ET.SubElement(label, "type").text = "points"
    for image_id, (name, lm) in enumerate(items):
        shape = image_shape(lm)
        attrs = {"id": str(image_id), "name": name}
        if shape:
            attrs.update(height=str(shape[0]), width=str(shape[1]))
        im = ET.SubElement(root, "image", attrs)
        for level in lm.levels:
            for point, (x, y) in zip(POINT_NAMES, lm[level], strict=True):
                xy = f"{float(x) - PIXEL_SHIFT!r},{float(y) - PIXEL_SHIFT!r}"
                ET.SubElement(
                    im,
                    "points",
                    {
                        "label": label_for(level, point),
                        "source": "manual",
                        "occluded": "0",
                        "points": xy,
                        "z_order": "0",
                    },
                )
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )
