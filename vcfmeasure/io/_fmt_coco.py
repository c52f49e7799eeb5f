"""COCO keypoints: one annotation per vertebra, keypoints in ``POINT_NAMES`` order.

The level is the category name (vcfmeasure writes one category per level, supercategory
``"vertebra"``) or, for a single ``vertebra`` category, ``annotation["attributes"]["level"]``
(as CVAT exports it) or ``annotation["level"]``. Keypoints are ``[x, y, v, ...]`` with
visibility ``v`` 0 (not labelled: the point is missing), 1 (labelled, not visible) or 2
(visible); their order comes from the category's ``keypoints`` names.

COCO keypoints are pixel indices (the centre of the top-left pixel is ``(0, 0)``; Detectron2
adds 0.5 to reach its corner convention), the same as vcfmeasure's: no shift. The ``bbox``
written is in COCO's corner coordinates, enclosing the six points' pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._errors import FileFormatError, LandmarkError
from ..landmarks import Landmarks, Provenance
from ..levels import LEVELS, POINT_NAMES, normalize_level
from ._common import ImageEntry, PointRow, dump_json, image_shape, load_json, number
from ._common import require_type as need

NAME = "coco"
PIXEL_SHIFT = 0.0
MULTI_IMAGE = True
SKELETON = [[1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 1]]


def _is_level(name: Any) -> bool:
    try:
        normalize_level(name)
    except LandmarkError:
        return False
    return True


def _need_id(value: Any, path: Path, where: str) -> None:
    """COCO ids are numbers or strings (absent is allowed where the format allows it)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
        raise FileFormatError(
            f"{path}: {where}: an id must be a number or a string, got "
            f"{type(value).__name__} {value!r:.60}"
        )


def read(path: Path, text: str, **_: Any) -> list[ImageEntry]:
    doc = need(load_json(path, text), dict, path, "top level")
    images = need(doc.get("images", []), list, path, "field $.images")
    categories = need(doc.get("categories", []), list, path, "field $.categories")
    annotations = need(doc.get("annotations"), list, path, "field $.annotations")
    tool = Provenance("imported", tool="COCO")
    entries: dict[Any, ImageEntry] = {}
    for i, im in enumerate(images):
        need(im, dict, path, f"field $.images[{i}]")
        _need_id(im.get("id"), path, f"field $.images[{i}].id")
        name = str(im.get("file_name") or im.get("id"))
        ref: dict[str, Any] = {"path": name}
        if isinstance(im.get("height"), int) and isinstance(im.get("width"), int):
            ref["shape"] = (im["height"], im["width"])
        entries[im.get("id")] = ImageEntry(
            name, aliases=(str(im.get("id")),), image=ref, provenance=tool
        )
    cats: dict[Any, tuple[str, list[str]]] = {}
    for i, cat in enumerate(categories):
        need(cat, dict, path, f"field $.categories[{i}]")
        _need_id(cat.get("id"), path, f"field $.categories[{i}].id")
        names = [str(n).strip().lower() for n in cat.get("keypoints") or POINT_NAMES]
        unknown = [n for n in names if n not in POINT_NAMES]
        if unknown:
            raise FileFormatError(
                f"{path}: field $.categories[{i}].keypoints: unknown keypoint {unknown[0]!r}; "
                f"vcfmeasure reads {' '.join(POINT_NAMES)}"
            )
        cats[cat.get("id")] = (str(cat.get("name", "")), names)
    for i, ann in enumerate(annotations):
        where = f"field $.annotations[{i}]"
        need(ann, dict, path, where)
        _need_id(ann.get("image_id"), path, f"{where}.image_id")
        _need_id(ann.get("category_id"), path, f"{where}.category_id")
        if ann.get("image_id") not in entries:
            raise FileFormatError(
                f"{path}: {where}.image_id: no image with id {ann.get('image_id')!r}"
            )
        cat_name, names = cats.get(ann.get("category_id"), ("", list(POINT_NAMES)))
        level = (ann.get("attributes") or {}).get("level") or ann.get("level")
        if level is None:
            if not _is_level(cat_name):
                raise FileFormatError(
                    f"{path}: {where}: no level: give it as the category name, as "
                    "attributes.level or as level"
                )
            level = cat_name
        kp = need(ann.get("keypoints"), list, path, f"{where}.keypoints")
        if len(kp) != 3 * len(names):
            raise FileFormatError(
                f"{path}: {where}.keypoints: {len(kp)} numbers for {len(names)} keypoints "
                "(x, y, v each)"
            )
        for k, point in enumerate(names):
            x, y, v = (
                number(val, path, f"{where}.keypoints[{3 * k + j}]")
                for j, val in enumerate(kp[3 * k : 3 * k + 3])
            )
            if v > 0:
                rows = entries[ann["image_id"]].points
                rows.append(
                    PointRow(
                        str(level),
                        point,
                        x + PIXEL_SHIFT,
                        y + PIXEL_SHIFT,
                        f"{where}.keypoints[{3 * k}]",
                    )
                )
    return list(entries.values())


def write(items: list[tuple[str, Landmarks]], path: Path, **_: Any) -> str:
    from .. import __version__

    used = sorted({lv for _, lm in items for lv in lm.levels}, key=LEVELS.index)
    cat_id = {lv: LEVELS.index(lv) + 1 for lv in used}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, (name, lm) in enumerate(items, start=1):
        shape = image_shape(lm)
        images.append(
            {
                "id": image_id,
                "file_name": name,
                "height": shape[0] if shape else None,
                "width": shape[1] if shape else None,
            }
        )
        for level in lm.levels:
            xy = lm[level] - PIXEL_SHIFT
            keypoints = [v for x, y in xy for v in (float(x), float(y), 2)]
            x0, y0 = xy.min(axis=0) - 0.5
            w, h = xy.max(axis=0) + 0.5 - (x0, y0)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[level],
                    "keypoints": keypoints,
                    "num_keypoints": len(POINT_NAMES),
                    "bbox": [float(x0), float(y0), float(w), float(h)],
                    "area": float(w * h),
                    "iscrowd": 0,
                    "attributes": {"level": level},
                }
            )
    doc = {
        "info": {
            "description": "vertebral landmarks",
            "version": "1",
            "contributor": f"vcfmeasure {__version__}",
        },
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": cat_id[lv],
                "name": lv,
                "supercategory": "vertebra",
                "keypoints": list(POINT_NAMES),
                "skeleton": SKELETON,
            }
            for lv in used
        ],
    }
    return dump_json(doc)
