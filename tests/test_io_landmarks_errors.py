"""Broken landmark files raise FileFormatError naming the file and the line or field."""

import json
from pathlib import Path

import pytest

from vcfmeasure import FileFormatError, LandmarkError
from vcfmeasure.io.landmark_files import (
    IncompleteLandmarksWarning,
    read_landmarks,
    write_landmarks,
)

FIXTURES = Path(__file__).parent / "fixtures" / "landmarks"
HEADER = "image,level,point,x,y\n"
L1_ROWS = [
    "a,L1,sp,100,200",
    "a,L1,sm,130,198",
    "a,L1,sa,160,202",
    "a,L1,ia,158,240",
    "a,L1,im,129,236",
    "a,L1,ip,101,243",
]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_file(tmp_path, rows, header=HEADER):
    return write(tmp_path, "p.csv", header + "\n".join(rows) + "\n")


def test_broken_json_names_line_and_column(tmp_path):
    path = write(tmp_path, "p.json", '{\n  "format": "vcfmeasure-landmarks",\n  "levels": {,\n}')
    with pytest.raises(FileFormatError, match=r"p.json: line 3, column 14: broken JSON"):
        read_landmarks(path)


def test_truncated_xml_names_line(tmp_path):
    text = (FIXTURES / "cvat.xml").read_text()
    path = write(tmp_path, "cut.xml", text[: text.index("<skeleton")])
    with pytest.raises(FileFormatError, match=r"cut.xml: line \d+, column \d+: broken XML"):
        read_landmarks(path)


def test_csv_missing_column(tmp_path):
    path = csv_file(tmp_path, ["a,L1,sp,100"], header="image,level,point,x\n")
    with pytest.raises(FileFormatError, match=r"p.csv: line 1: missing column 'y'"):
        read_landmarks(path)


def test_csv_non_numeric_value_names_line_and_column(tmp_path):
    rows = [*L1_ROWS[:3], "a,L1,ia,abc,240", *L1_ROWS[4:]]
    with pytest.raises(FileFormatError, match=r"p.csv: line 5, column 'x': 'abc' is not a number"):
        read_landmarks(csv_file(tmp_path, rows))


def test_csv_non_finite_value(tmp_path):
    rows = [*L1_ROWS[:5], "a,L1,ip,101,nan"]
    with pytest.raises(FileFormatError, match=r"line 7, column 'y': 'nan' is not a finite"):
        read_landmarks(csv_file(tmp_path, rows))


def test_unknown_level(tmp_path):
    rows = [r.replace("L1", "L7") for r in L1_ROWS]
    with pytest.raises(FileFormatError, match=r"p.csv: line 2: unknown level 'L7'"):
        read_landmarks(csv_file(tmp_path, rows))


def test_unknown_point(tmp_path):
    rows = [*L1_ROWS, "a,L1,centre,1,2"]
    with pytest.raises(FileFormatError, match=r"line 8: unknown point 'centre'"):
        read_landmarks(csv_file(tmp_path, rows))


def test_duplicate_point_names_both_places(tmp_path):
    rows = [*L1_ROWS, "a,L1,sa,161,203"]
    with pytest.raises(
        FileFormatError, match=r"line 8: L1 point 'sa' given twice \(also at line 4\)"
    ):
        read_landmarks(csv_file(tmp_path, rows))


def test_incomplete_vertebra_error_then_warning(tmp_path):
    rows = [*L1_ROWS, "a,L2,sp,100,260", "a,L2,sa,160,262"]
    path = csv_file(tmp_path, rows)
    with pytest.raises(FileFormatError, match=r"incomplete vertebrae: L2 \(missing sm ia im ip\)"):
        read_landmarks(path)
    with pytest.warns(IncompleteLandmarksWarning, match="L2"):
        lm = read_landmarks(path, allow_incomplete=True)
    assert lm.levels == ("L1",)


def test_bad_body_names_file_and_level(tmp_path):
    rows = [
        r.replace(",sa,", ",XX,").replace(",sp,", ",sa,").replace(",XX,", ",sp,") for r in L1_ROWS
    ]
    with pytest.raises(LandmarkError, match=r"p.csv: L1:"):
        read_landmarks(csv_file(tmp_path, rows))


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda d: d["levels"]["L1"]["points"].__setitem__("sa", ["160", 202]),
            r"\$.levels.L1.points.sa\[0\]",
        ),
        (lambda d: d["levels"]["L1"]["points"].__setitem__("zz", [1, 2]), r"\$.levels.L1.points"),
        (
            lambda d: d["levels"]["L1"]["provenance"].__setitem__("confidence", 3),
            r"\$.levels.L1.provenance.confidence",
        ),
        (
            lambda d: d["levels"]["L1"]["provenance"].__setitem__("method", "guess"),
            r"\$.levels.L1.provenance.method",
        ),
        (lambda d: d["image"].__setitem__("shape", [600]), r"\$.image.shape"),
        (lambda d: d.pop("format"), r"\$: 'format' is a required property"),
    ],
)
def test_schema_errors_name_the_field(tmp_path, edit, field):
    doc = json.loads((FIXTURES / "native.json").read_text())
    edit(doc)
    path = write(tmp_path, "n.json", json.dumps(doc))
    with pytest.raises(FileFormatError, match=rf"n.json: field {field}"):
        read_landmarks(path, format="json")


def test_newer_native_version_asks_for_upgrade(tmp_path):
    doc = json.loads((FIXTURES / "native.json").read_text())
    doc["version"] = 2
    with pytest.raises(FileFormatError, match="newer vcfmeasure"):
        read_landmarks(write(tmp_path, "n.json", json.dumps(doc)))


def test_unknown_level_in_native_json(tmp_path):
    doc = json.loads((FIXTURES / "native.json").read_text())
    doc["levels"]["L9"] = doc["levels"].pop("L1")
    with pytest.raises(FileFormatError, match=r"field \$.levels.L9.points.sp: unknown level 'L9'"):
        read_landmarks(write(tmp_path, "n.json", json.dumps(doc)))


def test_labelme_bad_label_and_non_numeric(tmp_path):
    doc = json.loads((FIXTURES / "labelme.json").read_text())
    doc["shapes"][2]["label"] = "L1-corner"
    with pytest.raises(FileFormatError, match=r"field \$.shapes\[2\].label: label 'L1-corner'"):
        read_landmarks(write(tmp_path, "l.json", json.dumps(doc)))
    doc = json.loads((FIXTURES / "labelme.json").read_text())
    doc["shapes"][1]["points"] = [[None, 3]]
    with pytest.raises(
        FileFormatError, match=r"\$.shapes\[1\].points\[0\]\[0\]: None is not a number"
    ):
        read_landmarks(write(tmp_path, "l.json", json.dumps(doc)))


def test_coco_wrong_keypoint_count(tmp_path):
    doc = json.loads((FIXTURES / "coco.json").read_text())
    doc["annotations"][0]["keypoints"] = doc["annotations"][0]["keypoints"][:-3]
    with pytest.raises(FileFormatError, match=r"\$.annotations\[0\].keypoints: 15 numbers for 6"):
        read_landmarks(write(tmp_path, "c.json", json.dumps(doc)), image=7)


def test_cvat_bad_coordinates(tmp_path):
    text = (FIXTURES / "cvat.xml").read_text().replace('points="130.50,198.50"', 'points="130.50"')
    with pytest.raises(
        FileFormatError, match=r"c.xml: <image> name 'spine_lat.png' <points> #1 label 'L1-sm'"
    ):
        read_landmarks(write(tmp_path, "c.xml", text))


def test_slicer_duplicate_label(tmp_path):
    doc = json.loads((FIXTURES / "slicer_ras.mrk.json").read_text())
    doc["markups"][0]["controlPoints"][1]["label"] = "L1-sp"
    with pytest.raises(FileFormatError, match=r"controlPoints\[1\]: L1 point 'sp' given twice"):
        read_landmarks(write(tmp_path, "s.mrk.json", json.dumps(doc)))


def test_unrecognised_files(tmp_path):
    with pytest.raises(FileFormatError, match="no known landmark layout"):
        read_landmarks(write(tmp_path, "x.json", '{"points": []}'))
    with pytest.raises(FileFormatError, match="cannot tell the landmark format"):
        read_landmarks(write(tmp_path, "x.txt", "hello"))
    with pytest.raises(FileFormatError, match="no such landmark file"):
        read_landmarks(tmp_path / "missing.json")
    with pytest.raises(FileFormatError, match="unknown landmark format 'vgg'"):
        read_landmarks(FIXTURES / "native.json", format="vgg")
    with pytest.raises(FileFormatError, match="pass format="):
        write_landmarks(read_landmarks(FIXTURES / "native.json"), tmp_path / "x.txt")


def test_incomplete_warning_points_at_the_caller(tmp_path):
    from vcfmeasure.io.landmark_files import read_landmarks_all

    path = csv_file(tmp_path, [*L1_ROWS, "a,L2,sp,100,260"])
    for reader in (read_landmarks, read_landmarks_all):
        with pytest.warns(IncompleteLandmarksWarning) as record:
            reader(path, allow_incomplete=True)
        assert record[0].filename == __file__
