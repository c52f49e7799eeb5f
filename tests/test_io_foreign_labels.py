"""labelme files labelled another way (polygons, generic labels), convert, Slicer spacing."""

import json

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.cli import main
from vcfmeasure.io.landmark_files import read_landmarks

# Three bodies as 4-point polygons labelled "c" (as in public cephalogram annotations),
# vertices sp, sa, ia, ip; listed bottom body first to check they are sorted top-down.
TOPS = [200.0, 100.0, 150.0]


def polygon(top, n=4):
    sp, sa, ia, ip = [10, top], [50, top + 2], [50, top + 38], [10, top + 40]
    pts = [sp, sa, ia, ip] if n == 4 else [sp, sa, [50, top + 20], ia, ip]
    return {"label": "c", "points": [[x + 0.5, y + 0.5] for x, y in pts],
            "shape_type": "polygon", "group_id": None, "flags": {}}


def write(tmp_path, shapes, name="ceph.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"version": "5.4.1", "shapes": shapes, "imagePath": "ceph.png",
                                "imageHeight": 400, "imageWidth": 300}))
    return path


def test_generic_polygons_without_a_map_are_an_error_naming_the_labels(tmp_path):
    path = write(tmp_path, [polygon(t) for t in TOPS])
    with pytest.raises(vm.FileFormatError, match=r"no vertebra found.*3 x 'c' \(polygon\)"):
        read_landmarks(path)


def test_label_map_and_point_order_import_polygons(tmp_path):
    path = write(tmp_path, [polygon(t) for t in TOPS])
    lm = read_landmarks(path, label_map={"c": ["C2", "C3", "C4"]},
                        point_order=["sp", "sa", "ia", "ip"])
    assert lm.levels == ("C2", "C3", "C4")
    np.testing.assert_allclose(lm["C2"][0], [10, 100])  # the top polygon, half-pixel shifted
    np.testing.assert_allclose(lm["C4"][5], [10, 240])
    # sm and im at the middle of the corner chords, and the provenance says so
    np.testing.assert_allclose(lm["C3"][1], [30, 151])
    np.testing.assert_allclose(lm["C3"][4], [30, 189])
    assert "chord" in lm.provenance["C3"].note
    assert lm.provenance["C3"].method == "imported"


def test_point_order_with_skipped_vertex(tmp_path):
    path = write(tmp_path, [polygon(100.0, n=5)])
    lm = read_landmarks(path, label_map={"c": "C3"}, point_order=["sp", "sa", "-", "ia", "ip"])
    np.testing.assert_allclose(lm["C3"][3], [50, 138])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"label_map": {"c": ["C2", "C3"]}, "point_order": ["sp", "sa", "ia", "ip"]},
      "3 polygons but label_map gives 2"),
     ({"label_map": {"c": ["C2", "C3", "C4"]}}, "no point_order"),
     ({"label_map": {"c": ["C2", "C3", "C4"]}, "point_order": ["sp", "sa", "ia"]},
      "at least the four corners"),
     ({"label_map": {"c": ["C2", "C3", "X9"]}, "point_order": ["sp", "sa", "ia", "ip"]},
      r"label_map\['c'\]"),
     ({"label_map": {"c": ["C2", "C3", "C4"]}, "point_order": ["sp", "sa", "-", "ia", "ip"]},
      "4 vertices, point_order names 5")],
)
def test_bad_maps_say_what_is_wrong(tmp_path, kwargs, match):
    path = write(tmp_path, [polygon(t) for t in TOPS])
    with pytest.raises(vm.FileFormatError, match=match):
        read_landmarks(path, **kwargs)


def test_label_map_renames_point_shapes(tmp_path):
    box = [(0, 0), (5, 0), (10, 0), (10, 9), (5, 9), (0, 10)]
    shapes = [{"label": f"p{i}", "points": [[x + 0.5, y + 0.5]], "shape_type": "point"}
              for i, (x, y) in enumerate(box)]
    shapes.append({"label": "nasion", "points": [[1.0, 1.0]], "shape_type": "point"})
    path = write(tmp_path, shapes)
    names = ["sp", "sm", "sa", "ia", "im", "ip"]
    lm = read_landmarks(path, label_map={f"p{i}": f"L1-{p}" for i, p in enumerate(names)})
    np.testing.assert_allclose(lm["L1"], np.array(box, float))


def test_label_map_is_refused_for_other_formats(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("image,level,point,x,y\n")
    with pytest.raises(vm.FileFormatError, match="apply to labelme files"):
        read_landmarks(path, label_map={"c": "C3"})


def test_cli_convert_with_map(tmp_path, capsys):
    src = write(tmp_path, [polygon(t) for t in TOPS])
    dest = tmp_path / "out.json"
    code = main(["convert", str(src), str(dest), "--map", "c=C2,C3,C4",
                 "--point-order", "sp,sa,ia,ip"])
    assert code == 0
    assert read_landmarks(dest).levels == ("C2", "C3", "C4")


def test_cli_convert_without_map_fails_and_writes_nothing(tmp_path, capsys):
    src = write(tmp_path, [polygon(t) for t in TOPS])
    dest = tmp_path / "out.csv"
    assert main(["convert", str(src), str(dest)]) == 1
    assert "'c' (polygon)" in capsys.readouterr().err
    assert not dest.exists()


def test_cli_convert_exits_1_when_the_source_holds_no_vertebra(tmp_path, capsys):
    src = tmp_path / "empty.csv"
    src.write_text("image,level,point,x,y\n")
    dest = tmp_path / "out.json"
    assert main(["convert", str(src), str(dest)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert not dest.exists()


def test_cli_point_order_needs_map(tmp_path, capsys):
    src = write(tmp_path, [polygon(t) for t in TOPS])
    assert main(["convert", str(src), str(tmp_path / "o.json"), "--point-order", "sp"]) == 2
    assert "--point-order goes with --map" in capsys.readouterr().err


def test_slicer_export_without_spacing_warns_and_records_it(tmp_path):
    box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10.5]])
    out = tmp_path / "spine.mrk.json"
    with pytest.warns(vm.SpacingWarning, match="no pixel spacing known"):
        vm.write_landmarks(vm.Landmarks({"L1": box}), out)
    desc = json.loads(out.read_text())["markups"][0]["controlPoints"][0]["description"]
    assert "vcfmeasure-spacing-source=unknown" in desc
    np.testing.assert_allclose(read_landmarks(out)["L1"], box)  # still reads back exactly
    vm.write_landmarks(vm.Landmarks({"L1": box}), out, spacing=0.2)  # no warning
    assert "unknown" not in out.read_text()
