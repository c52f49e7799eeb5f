"""Hand-computed examples for every formula (docs/reference.md sections 1 and 4)."""

import math

import numpy as np
import pytest
from spine_factory import level_range, spine, spine_xy

import vcfmeasure as vm
from vcfmeasure import Landmarks, SpacingError
from vcfmeasure.geometry import heights_perpendicular, two_line_angle

# Pixels; with spacing (row 0.2, col 0.1) mm this is, in mm:
# sp (0,0) sm (5,.4) sa (10,.8) ia (10,16.8) im (5,16.4) ip (0,20)
PX = np.array([[0, 0], [50, 2], [100, 4], [100, 84], [50, 82], [0, 100]], float)
MIRRORED = PX * [-1, 1] + [300, 0]
RECT = (25.0, 25.0, 25.0, 35.0)  # ha, hm, hp, depth: endplates parallel


@pytest.mark.parametrize("xy", [PX, MIRRORED], ids=["facing-right", "facing-left"])
def test_anisotropic_hand_computed(xy):
    r = vm.measure(Landmarks({"L1": xy}), spacing=(0.2, 0.1)).to_records()[0]
    assert r["unit"] == "mm" and r["spacing_source"] == "user"
    assert (r["spacing_row_mm"], r["spacing_col_mm"]) == (0.2, 0.1)
    assert r["ha"] == pytest.approx(16.0)
    assert r["hm"] == pytest.approx(16.0)
    assert r["hp"] == pytest.approx(20.0)
    assert r["wedge_ratio"] == pytest.approx(0.8)
    assert r["biconcavity_ratio"] == pytest.approx(0.8)
    # superior line falls 0.8 mm over 10 mm, inferior rises 3.2 mm: they converge anteriorly
    expected = math.degrees(math.atan(0.08) + math.atan(0.32))
    assert r["wedge_angle"] == pytest.approx(expected)  # 22.3187 deg
    assert r["area"] == pytest.approx(170.0)  # 180 trapezoid - 10 for the raised im
    assert math.isnan(r["crush_ratio"])


def test_pixels_when_no_spacing_and_anisotropy_matters():
    r = vm.measure(Landmarks({"L1": PX})).to_records()[0]
    assert r["unit"] == "px" and r["spacing_source"] == "unknown"
    assert (r["ha"], r["hp"]) == pytest.approx((80.0, 100.0))
    # in square pixels the same points make a different angle: anisotropy must be applied
    assert r["wedge_angle"] == pytest.approx(math.degrees(math.atan(0.04) + math.atan(0.16)))


def test_spacing_from_a_radiograph_keeps_its_source():
    rg = vm.Radiograph(np.zeros((10, 10)), spacing=(0.2, 0.1),
                       spacing_source="detector: (0018,1164) Imager Pixel Spacing",
                       metadata={"patient_position": "HFS"})
    m = vm.measure(Landmarks({"L1": PX}), spacing=rg)
    assert m.spacing_source.startswith("detector")
    assert m.metadata["patient_position"] == "HFS"
    assert m.ha[0] == pytest.approx(16.0)


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), "abc", (0.1, 0.2, 0.3)])
def test_bad_spacing(bad):
    with pytest.raises(SpacingError, match="spacing"):
        vm.measure(Landmarks({"L1": PX}), spacing=bad)


def test_perpendicular_height_variant_is_labelled():
    xy = np.array([[0, 0], [5, 0], [10, 0], [12, 8], [5, 7], [0, 10]], float)
    assert heights_perpendicular(xy[None])[0] == pytest.approx([8.0, 7.0, 10.0])
    m = vm.measure(Landmarks({"L1": xy}), height_method="perpendicular")
    assert m.ha[0] == pytest.approx(8.0)
    assert m.to_records()[0]["height_method"] == "perpendicular"
    # the default Euclidean height is longer by 1/cos of the tilt of the anterior wall
    assert vm.measure(Landmarks({"L1": xy})).ha[0] == pytest.approx(math.hypot(2, 8))


def test_crush_ratio_variants():
    sizes = [(26, 26, 26, 35), (20, 20, 20, 35), (30, 30, 30, 35)]
    lm = spine(["T12", "L1", "L2"], sizes=sizes)
    m = vm.measure(lm)
    assert m.crush_ratio[1] == pytest.approx(20 / 28)
    assert m.crush_ratio_above[1] == pytest.approx(20 / 26)
    assert m.crush_ratio_below[1] == pytest.approx(20 / 30)
    assert m.crush_ratio[0] == pytest.approx(26 / 20)  # only the level below exists
    assert vm.measure(lm, crush="above").crush_ratio[1] == pytest.approx(20 / 26)
    assert math.isnan(vm.measure(lm, crush="above").crush_ratio[0])


def test_crush_needs_anatomical_neighbours():
    lm = spine(["T12", "L2"])  # L1 missing: not adjacent
    assert np.isnan(vm.measure(lm).crush_ratio).all()


@pytest.mark.parametrize("facing", ["right", "left"])
def test_local_kyphosis_cobb_gardner_vertebral(facing):
    # rectangles tilted -5, 0, +7 deg (anterior end towards cranial for +)
    lm = spine(["T11", "T12", "L1"], sizes=[RECT] * 3, tilts_deg=[-5.0, 0.0, 7.0], facing=facing)
    m = vm.measure(lm)
    assert m.local_kyphosis_cobb[1] == pytest.approx(12.0)
    assert m.local_kyphosis_gardner[1] == pytest.approx(5.0)
    assert m.wedge_angle == pytest.approx([0, 0, 0], abs=1e-9)
    assert [r["local_kyphosis_vertebral"] for r in m.to_records()] == pytest.approx([0, 0, 0], abs=1e-9)
    assert np.isnan(m.local_kyphosis_cobb[[0, 2]]).all()


def test_two_line_angle_sign_rule():
    p0, p1 = np.array([[0.0, 0.0]]), np.array([[10.0, 0.0]])
    q0, q1 = np.array([[0.0, 20.0]]), np.array([[10.0, 15.0]])
    # facing right (handedness -1): the lines meet anteriorly -> kyphotic, +
    assert two_line_angle(p0, p1, q0, q1, -1)[0] == pytest.approx(math.degrees(math.atan(0.5)))
    # the same lines on a mirrored film (anterior to the left): they meet posteriorly
    assert two_line_angle(p0, p1, q0, q1, 1)[0] == pytest.approx(-math.degrees(math.atan(0.5)))


def test_regional_angles_labelled():
    thoracic = level_range("T4", "T12")
    tilts = np.linspace(-20, 20, len(thoracic))
    m = vm.measure(spine(thoracic, sizes=[RECT] * 9, tilts_deg=tilts))
    (tk,) = m.regional
    assert tk["name"] == "thoracic_kyphosis"
    assert tk["definition"] == "Cobb T4 superior - T12 inferior"
    assert tk["angle"] == pytest.approx(40.0)

    lumbar = level_range("L1", "S1")
    m = vm.measure(spine(lumbar, sizes=[RECT] * 6, tilts_deg=np.linspace(25, -30, 6)))
    (ll,) = m.regional
    assert ll["definition"] == "Cobb L1 superior - S1 superior"
    assert ll["angle"] == pytest.approx(55.0)  # reported + when lordotic
    m = vm.measure(spine(lumbar[:-1], sizes=[RECT] * 5, tilts_deg=np.linspace(25, -15, 5)))
    (ll,) = m.regional
    assert ll["definition"] == "Cobb L1 superior - L5 inferior"
    assert ll["angle"] == pytest.approx(40.0)


def test_records_dataframe_and_csv(tmp_path):
    m = vm.measure(spine(["L1", "L2", "L3"]), spacing=0.15)
    recs = m.to_records()
    assert [r["level"] for r in recs] == ["L1", "L2", "L3"]
    df = m.to_dataframe()
    assert list(df.columns) == list(recs[0])
    assert df["ha"].tolist() == pytest.approx([r["ha"] for r in recs])
    out = m.to_csv(tmp_path / "m.csv")
    import pandas as pd

    back = pd.read_csv(out)
    assert back["hp"].tolist() == pytest.approx(df["hp"].tolist())
    assert set(back["unit"]) == {"mm"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_not_landmarks():
    with pytest.raises(vm.LandmarkError, match="needs a vcfmeasure.Landmarks"):
        vm.measure({"L1": PX})


def test_spine_factory_sanity():
    xy = spine_xy(["L1"], sizes=[(20.0, 22.0, 24.0, 30.0)])
    m = vm.measure(Landmarks.from_array(xy, ["L1"]))
    assert (m.ha[0], m.hm[0], m.hp[0]) == pytest.approx((20.0, 22.0, 24.0))
