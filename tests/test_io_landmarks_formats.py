"""Hand-written minimal files of each format read to the same pixels (pins each shift)."""

from pathlib import Path

import numpy as np
import pytest

from vcfmeasure import POINT_NAMES, FileFormatError, Landmarks
from vcfmeasure.io.landmark_files import (
    IncompleteLandmarksWarning,
    guess_format,
    read_landmarks,
    read_landmarks_all,
    write_landmarks,
)

FIXTURES = Path(__file__).parent / "fixtures" / "landmarks"

# the L1 vertebra every fixture describes, in vcfmeasure pixels (fixtures/landmarks/README.md)
L1 = np.array([[100, 200], [130, 198], [160.25, 202], [158, 240.5], [129, 236], [101, 243]])
L2 = np.array([[100, 260], [130, 258], [160, 262], [158, 300], [129, 296], [101, 303]])


@pytest.mark.parametrize(
    ("name", "fmt", "tool"),
    [
        ("native.json", "json", "vcfmeasure.refine"),
        ("points.csv", "csv", "csv"),
        ("labelme.json", "labelme", "labelme"),
        ("cvat.xml", "cvat", "CVAT"),
        ("slicer_ras.mrk.json", "slicer", "3D Slicer"),
    ],
)
def test_fixture_reads_to_the_same_pixels(name, fmt, tool):
    path = FIXTURES / name
    assert guess_format(path, path.read_text()) == fmt
    lm = read_landmarks(path, spacing=0.5 if fmt == "slicer" else None)
    np.testing.assert_allclose(lm["L1"], L1, atol=1e-9)
    assert lm.provenance["L1"].tool == tool


def test_cvat_skeleton_with_level_attribute():
    lm = read_landmarks(FIXTURES / "cvat.xml")
    assert lm.levels == ("L1", "L2")
    np.testing.assert_allclose(lm["L2"], L2, atol=1e-9)
    assert lm.image == {"path": "spine_lat.png", "shape": (600, 400)}


def test_coco_keypoint_order_from_category_and_visibility():
    with pytest.warns(IncompleteLandmarksWarning, match=r"L2 \(missing ip\)"):
        lm = read_landmarks(FIXTURES / "coco.json", image="case01/spine_lat.png", allow_incomplete=True)
    assert lm.levels == ("L1",)
    np.testing.assert_allclose(lm["L1"], L1)


def test_coco_incomplete_vertebra_is_an_error_listing_it():
    with pytest.raises(FileFormatError, match=r"coco.json: incomplete vertebrae: L2 \(missing ip\)"):
        read_landmarks(FIXTURES / "coco.json", image=7)


def test_coco_two_images_need_a_choice():
    with pytest.raises(FileFormatError, match=r"2 images.*case01/spine_lat.png.*image="):
        read_landmarks(FIXTURES / "coco.json")
    t12 = read_landmarks(FIXTURES / "coco.json", image=8)
    assert t12.levels == ("T12",) and t12.image["path"] == "case02/spine_lat.png"
    with pytest.raises(FileFormatError, match="no image 'nope'"):
        read_landmarks(FIXTURES / "coco.json", image="nope")


def test_read_all_images_of_a_coco_file():
    with pytest.warns(IncompleteLandmarksWarning):
        every = read_landmarks_all(FIXTURES / "coco.json", allow_incomplete=True)
    assert list(every) == ["case01/spine_lat.png", "case02/spine_lat.png"]
    assert every["case02/spine_lat.png"].levels == ("T12",)


def test_native_json_keeps_provenance_and_image():
    lm = read_landmarks(FIXTURES / "native.json")
    prov = lm.provenance["L1"]
    assert (prov.method, prov.confidence, prov.point_confidence[3]) == ("refined", 0.92, 0.85)
    assert lm.image["spacing"] == (0.14, 0.14)
    assert lm.image["sop_instance_uid"] == "1.2.826.0.1.3680043.8.498.1"
    assert read_landmarks(FIXTURES / "native.json", image="1.2.826.0.1.3680043.8.498.1") == lm


def test_labelme_ignores_other_shape_types_and_keeps_image_size():
    lm = read_landmarks(FIXTURES / "labelme.json")
    assert lm.levels == ("L1",)
    assert lm.image == {"path": "spine_lat.png", "shape": (600, 400)}


def test_slicer_without_spacing_tag_uses_one_mm_per_pixel():
    lm = read_landmarks(FIXTURES / "slicer_ras.mrk.json")
    np.testing.assert_allclose(lm["L1"], L1 * 0.5)


# -- the half-pixel shift of each format, pinned on the centre of the top-left pixel -----
BOX = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10]], float)


def _values_in_file(tmp_path, fmt, suffix):
    out = tmp_path / f"one{suffix}"
    write_landmarks(Landmarks({"L1": BOX}), out, format=fmt)
    return out.read_text()


@pytest.mark.filterwarnings("ignore:.*no pixel spacing known:vcfmeasure.SpacingWarning")
@pytest.mark.parametrize(
    ("fmt", "suffix", "written"),
    [
        ("json", ".json", '"sp": [0.0, 0.0]'),
        ("csv", ".csv", "L1,sp,0.0,0.0"),
        ("labelme", ".json", "[0.5, 0.5]"),
        ("cvat", ".xml", 'points="0.5,0.5"'),
        ("coco", ".json", '"keypoints": [0.0, 0.0, 2'),
        ("slicer", ".mrk.json", '"position": [0.0, 0.0, 0.0]'),
    ],
)
def test_pixel_convention_shift(tmp_path, fmt, suffix, written):
    assert written in _values_in_file(tmp_path, fmt, suffix)


def test_slicer_lps_mapping_scales_by_spacing(tmp_path):
    lm = Landmarks({"L1": BOX + [3, 4]}, image={"spacing": (0.2, 0.1)})
    write_landmarks(lm, tmp_path / "s.mrk.json")
    text = (tmp_path / "s.mrk.json").read_text()
    # ia = (13, 13) px -> L = 13 * 0.1 (column mm), P = 13 * 0.2 (row mm)
    assert '"label": "L1-ia"' in text and "[1.3, 2.6, 0.0]" in text
    np.testing.assert_allclose(read_landmarks(tmp_path / "s.mrk.json")["L1"], BOX + [3, 4])
    np.testing.assert_allclose(
        read_landmarks(tmp_path / "s.mrk.json", spacing=(0.4, 0.2))["L1"], (BOX + [3, 4]) / 2
    )


def test_landmark_io_imports_no_heavy_dependency():
    import subprocess
    import sys

    code = (
        "import sys, vcfmeasure as vm; vm.read_landmarks; "
        "import vcfmeasure.io.results, vcfmeasure.io.sr; "
        "print(sorted({'pandas', 'pydicom', 'highdicom', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    assert out.stdout.strip() == "[]"


def test_shipped_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    from vcfmeasure.io._fmt_json import schema

    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["properties"]["point_names"]["const"] == list(POINT_NAMES)


def test_cvat_six_points_in_one_element_and_outside_points(tmp_path):
    pts = ";".join(f"{x + 0.5},{y + 0.5}" for x, y in L1)
    text = (
        '<annotations><version>1.1</version><image id="3" name="a.png">'
        f'<points label="vertebra" points="{pts}"><attribute name="level">L1</attribute></points>'
        '<skeleton label="L2">'
        + "".join(
            f'<points label="{p}" outside="{int(p == "im")}" points="{x + 0.5},{y + 0.5}"/>'
            for p, (x, y) in zip(POINT_NAMES, L2, strict=True)
        )
        + "</skeleton></image></annotations>"
    )
    path = tmp_path / "six.xml"
    path.write_text(text)
    with pytest.warns(IncompleteLandmarksWarning, match=r"L2 \(missing im\)"):
        lm = read_landmarks(path, image=3, allow_incomplete=True)
    np.testing.assert_allclose(lm["L1"], L1)


def test_csv_with_semicolons_and_without_image_column(tmp_path):
    rows = ["Level;Point;X;Y"] + [f"L1;{p};{x};{y}" for p, (x, y) in zip(POINT_NAMES, L1, strict=True)]
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(rows))
    lm = read_landmarks(path)
    np.testing.assert_allclose(lm["L1"], L1)
    assert lm.image == {"path": "semi"}


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(FileFormatError, match="x.json: not a text file"):
        read_landmarks(path)


def test_coco_level_from_category_name_alone(tmp_path):
    import json

    path = tmp_path / "c.json"
    write_landmarks(Landmarks({"T12": BOX, "L1": BOX + [1, 30]}), path, format="coco")
    doc = json.loads(path.read_text())
    for ann in doc["annotations"]:
        del ann["attributes"]
    assert [c["name"] for c in doc["categories"]] == ["T12", "L1"]
    path.write_text(json.dumps(doc))
    lm = read_landmarks(path)
    assert lm.levels == ("T12", "L1")
    np.testing.assert_allclose(lm["L1"], BOX + [1, 30])
    doc["categories"][0]["name"] = "vertebra"
    path.write_text(json.dumps(doc))
    with pytest.raises(FileFormatError, match=r"\$.annotations\[0\]: no level"):
        read_landmarks(path)
