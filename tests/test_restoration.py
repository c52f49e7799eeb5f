"""compare(): kyphoplasty restoration, hand-computed (docs/reference.md section 5)."""

import math

import numpy as np
import pytest
from spine_factory import spine, spine_xy

import vcfmeasure as vm
from vcfmeasure import Landmarks, PlausibilityWarning, Radiograph

LEVELS = ["T12", "L1", "L2"]


def morph(l1, *, t12=(26, 26, 26, 35), l2=(28, 28, 28, 35), tilts=None, spacing=1.0,
          position=None, source="user", levels=LEVELS):
    sizes = {"T12": t12, "L1": l1, "L2": l2}
    xy = spine_xy(levels, sizes=[sizes[lv] for lv in levels], tilts_deg=tilts)
    rg = Radiograph(np.zeros((2, 2)), spacing=spacing, spacing_source=source,
                    metadata={"patient_position": position} if position else {})
    return vm.measure(Landmarks.from_array(xy, levels), spacing=rg)


def test_hand_computed_restoration():
    pre = morph((18, 22, 27, 35))
    post = morph((24, 25, 27.5, 35))
    r = vm.compare(pre, post).to_records()
    assert [x["level"] for x in r] == LEVELS
    l1 = r[1]
    assert l1["unit"] == "mm"
    assert (l1["ha_pre"], l1["ha_post"], l1["delta_ha"]) == pytest.approx((18, 24, 6))
    # reference: mean of T12 (26) and L2 (28) = 27, both untreated and normal
    assert l1["reference_source"] == "mean of T12 and L2"
    assert l1["reference_ha"] == pytest.approx(27.0)
    assert l1["preop_loss_a"] == pytest.approx(9 / 27)
    assert l1["restored_a"] == pytest.approx(6 / 9)
    assert l1["restored_m"] == pytest.approx(3 / 5)
    # Hp 27 was not below the reference 27: nothing lost, no fraction
    assert math.isnan(l1["restored_p"])
    assert "hp: no height lost" in l1["restored_note"]


def test_wedge_angle_and_local_kyphosis_correction():
    rect = (27, 27, 27, 35)
    pre = morph(rect, t12=rect, l2=rect, tilts=[-4, 0, 6])
    post = morph(rect, t12=rect, l2=rect, tilts=[-2, 0, 3])
    l1 = vm.compare(pre, post).to_records()[1]
    assert l1["local_kyphosis_pre"] == pytest.approx(10.0)
    assert l1["local_kyphosis_post"] == pytest.approx(5.0)
    assert l1["local_kyphosis_correction"] == pytest.approx(5.0)
    wedge_pre = vm.measure(spine(["L1"], sizes=[(20, 25, 27, 30)]), spacing=1.0)
    wedge_post = vm.measure(spine(["L1"], sizes=[(25, 25, 27, 30)]), spacing=1.0)
    r = vm.compare(wedge_pre, wedge_post).to_records()[0]
    assert r["wedge_angle_correction"] == pytest.approx(
        math.degrees(math.atan(7 / 30) - math.atan(2 / 30)))


def test_reference_falls_back_to_one_neighbour_then_own_hp():
    pre = morph((18, 22, 27, 35), levels=["T12", "L1"])
    post = morph((24, 25, 27.5, 35), levels=["T12", "L1"])
    l1 = vm.compare(pre, post).to_records()[1]
    assert l1["reference_source"] == "T12"
    assert l1["reference_ha"] == pytest.approx(26.0)
    alone_pre = morph((18, 22, 27, 35), levels=["L1"])
    alone_post = morph((24, 25, 27.5, 35), levels=["L1"])
    r = vm.compare(alone_pre, alone_post).to_records()[0]
    assert r["reference_source"] == "own hp"
    assert r["restored_a"] == pytest.approx(6 / 9)


def test_treated_levels_excluded_from_reference_and_reported_alone():
    pre = morph((18, 22, 27, 35), l2=(26, 26, 27, 35))
    post = morph((24, 25, 27.5, 35), l2=(27, 27, 27, 35))
    r = vm.compare(pre, post, treated=["L1", "L2"]).to_records()
    assert [x["level"] for x in r] == ["L1", "L2"]
    assert r[0]["reference_source"] == "T12"
    with pytest.raises(vm.VcfMeasureError, match="L5: treated level"):
        vm.compare(pre, post, treated=["L5"])


def test_follow_up_recollapse():
    pre = morph((18, 22, 27, 35))
    post = morph((24, 25, 27.5, 35))
    held = morph((23, 25, 27.5, 35))
    fell = morph((19, 24, 27.5, 35))
    r_held = vm.compare(pre, post, follow_up=held).to_records()[1]
    assert r_held["loss_a"] == pytest.approx(1 / 24)
    assert not r_held["recollapse"]
    r_fell = vm.compare(pre, post, follow_up=fell).to_records()[1]
    assert r_fell["loss_a"] == pytest.approx(5 / 24)  # >= 15 %
    assert r_fell["recollapse"]
    assert r_fell["angle_loss"] > 0
    strict = vm.compare(pre, post, follow_up=held, recollapse_height=0.03).to_records()[1]
    assert strict["recollapse"]


def test_units_must_match():
    pre = morph((18, 22, 27, 35))
    post = vm.measure(spine(LEVELS))
    with pytest.raises(vm.VcfMeasureError, match="different units .*pre mm, post px"):
        vm.compare(pre, post)


def test_warns_when_sources_or_positions_differ():
    pre = morph((18, 22, 27, 35), source="detector: (0018,1164)", position="sitting")
    post = morph((24, 25, 27.5, 35), source="calibrated: fiducial", position="supine")
    with pytest.warns(PlausibilityWarning) as rec:
        res = vm.compare(pre, post)
    text = " | ".join(str(w.message) for w in rec)
    assert "spacing sources differ" in text and "patient positions differ" in text
    assert len(res.warnings_) == 2


def test_warns_far_outside_published_magnitudes():
    pre = morph((10, 22, 27, 35))
    post = morph((28, 25, 27.5, 35))
    with pytest.warns(PlausibilityWarning, match=r"L1: ha changed by \+18.0 mm"):
        vm.compare(pre, post)


def test_no_common_level():
    with pytest.raises(vm.VcfMeasureError, match="no level is present in every image"):
        vm.compare(morph((18, 22, 27, 35), levels=["T12"]), morph((18, 22, 27, 35), levels=["L2"]))


def test_dataframe_columns():
    df = vm.compare(morph((18, 22, 27, 35)), morph((24, 25, 27.5, 35))).to_dataframe()
    for col in ("level", "unit", "ha_pre", "ha_post", "delta_ha", "hm_pre", "delta_hp",
                "restored_a", "restored_m", "restored_p", "wedge_angle_pre",
                "wedge_angle_post", "wedge_angle_correction"):
        assert col in df.columns


def test_compare_csv_carries_the_pre_image_spacing(tmp_path):
    import pandas as pd

    from vcfmeasure.synthetic import make_spine

    pre = make_spine(first="T12", last="L2", seed=3, deformities={"L1": ("wedge", 0.3)})
    m_pre = vm.measure(pre.landmarks, spacing=0.14)
    r = vm.compare(m_pre, vm.measure(pre.landmarks, spacing=0.14), treated=["L1"])
    assert r.spacing == (0.14, 0.14)
    df = pd.read_csv(r.to_csv(tmp_path / "c.csv"))
    assert (df.spacing_row_mm == 0.14).all() and (df.spacing_col_mm == 0.14).all()
    assert (df.spacing_source == "user").all()
