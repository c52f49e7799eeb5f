"""Which vertebrae may serve as the normal reference: adjacent crushes, level size, domain."""

import numpy as np
import pytest
from spine_factory import level_range, spine

import vcfmeasure as vm
from vcfmeasure import synthetic
from vcfmeasure.grading import GENANT_LEVELS, posterior_height_reduced

CRUSH = ("crush", 0.42)  # truth: grade 3


def graded_synthetic(deformities, reference="radelement", seed=8):
    s = synthetic.make_spine(first="T10", last="L3", seed=seed, deformities=deformities)
    g = vm.grade(vm.measure(s.landmarks, spacing=s.radiograph), reference=reference)
    return s, {r["level"]: r for r in g.to_records()}


def test_two_adjacent_crushes_are_both_severe():
    s, recs = graded_synthetic({"T12": CRUSH, "L1": CRUSH})
    assert s.truth["T12"]["grade"] == s.truth["L1"]["grade"] == 3
    # neither crushed body is the other's reference: both are measured against T11 and L2
    assert recs["T12"]["reference_levels"] == recs["L1"]["reference_levels"] == "T11+L2"
    assert (recs["T12"]["grade"], recs["L1"]["grade"]) == (3, 3)
    assert {recs[lv]["grade"] for lv in ("T10", "T11", "L2", "L3")} == {0}


def test_two_adjacent_crushes_buckens_takes_the_nearest_normal_cranial_body():
    _, recs = graded_synthetic({"T12": CRUSH, "L1": CRUSH}, reference="buckens")
    assert recs["L1"]["reference_levels"] == "T11"  # not the crushed T12
    assert recs["T12"]["grade"] == 3 and recs["L1"]["grade"] >= 2


def test_three_adjacent_crushes_are_all_severe():
    _, recs = graded_synthetic({"T12": CRUSH, "L1": CRUSH, "L2": CRUSH})
    assert [recs[lv]["grade"] for lv in ("T12", "L1", "L2")] == [3, 3, 3]
    assert all(recs[lv]["reference_levels"] == "T11+L3" for lv in ("T12", "L1", "L2"))
    assert recs["L3"]["grade"] == 0


def test_single_crush_keeps_its_adjacent_neighbours_as_reference():
    _, recs = graded_synthetic({"L1": CRUSH})
    assert recs["L1"]["reference_levels"] == "T12+L2"
    assert recs["L1"]["grade"] == 3
    assert all(recs[lv]["grade"] == 0 for lv in recs if lv != "L1")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_spine_natural_progression_is_all_grade_0(seed):
    s = synthetic.make_spine(first="T4", last="L4", seed=seed, ribs=False)
    m = vm.measure(s.landmarks, spacing=s.radiograph)
    assert not posterior_height_reduced(m.hp, m.level_index).any()
    assert vm.grade(m).grade.tolist() == [0] * len(m.levels)


def test_posterior_height_rule_hand_computed():
    # Hp growing 10 % per level (faster than LEVEL_GROWTH) is natural, not reduced
    hp = np.array([20.0, 22.0, 24.2, 26.6])
    li = np.arange(4) + 10
    assert not posterior_height_reduced(hp, li).any()
    # 21.5 < 0.8 x 28 / 1.04 = 21.54 (the caudal body, scaled down one level) although it
    # is not below 0.8 x 22 (the cranial one); 22 > 0.8 x 28 / 1.04**2 = 20.7
    hp = np.array([22.0, 21.5, 28.0])
    assert posterior_height_reduced(hp, li[:3]).tolist() == [False, True, False]
    # the only neighbour is too far (max_gap): nothing to compare with, not reduced
    assert posterior_height_reduced(np.array([30.0, 10.0]), np.array([10, 14])).tolist() == [
        False, False]
    # a body flagged unusable is no size reference
    assert posterior_height_reduced(hp, li[:3], usable=np.array([True, True, False])
                                    ).tolist() == [False, False, False]


def test_uniform_crush_hand_computed_against_interpolated_neighbours():
    # T11 24, T12 and L1 uniformly crushed to 14 (normal ratios), L2 27
    sizes = [(24, 24, 24, 35), (14, 14, 14, 35), (14, 14, 14, 35), (27, 27, 27, 35)]
    g = vm.grade(vm.measure(spine(level_range("T11", "L2"), sizes=sizes))).to_records()
    t12, l1 = g[1], g[2]
    # T12: 1 level below T11, 2 above L2 -> 24 + (27 - 24) / 3 = 25
    assert t12["expected_hp"] == pytest.approx(25.0)
    assert l1["expected_hp"] == pytest.approx(26.0)
    assert t12["height_loss"] == pytest.approx(1 - 14 / 25)
    assert (t12["grade"], l1["grade"]) == (3, 3)
    assert (t12["deformity"], l1["deformity"]) == ("crush", "crush")


def test_compare_radelement_preop_loss_equals_grade_height_loss():
    pre, post = synthetic.make_pre_post(["T11", "T12", "L1", "L2", "L3"], seed=7,
                                        deformities={"L1": ("wedge", 0.35)}, restoration=0.6)
    m_pre = vm.measure(pre.landmarks, spacing=pre.radiograph)
    m_post = vm.measure(post.landmarks, spacing=post.radiograph)
    g = vm.grade(m_pre).to_records()
    r = vm.compare(m_pre, m_post, reference="radelement").to_records()
    for gr, rr in zip(g, r, strict=True):
        assert rr["reference"] == "radelement"
        assert rr["reference_levels"] == gr["reference_levels"]
        for x in "amp":
            assert rr[f"preop_loss_{x}"] == pytest.approx(gr[f"reduction_{x}"], abs=1e-12)
        loss = max(rr["preop_loss_a"], rr["preop_loss_m"], rr["preop_loss_p"], 0.0)
        assert loss == pytest.approx(gr["height_loss"], abs=1e-12)
    # the default stays the literature's mean of neighbours, and says so
    default = vm.compare(m_pre, m_post).to_records()[2]
    assert (default["reference"], default["reference_levels"]) == ("neighbour_mean", "T12+L2")
    assert default["preop_loss_a"] < r[2]["preop_loss_a"]


def test_compare_rejects_an_unknown_strategy():
    m = vm.measure(spine(["L1"]))
    with pytest.raises(vm.VcfMeasureError, match="unknown reference strategy 'genant'"):
        vm.compare(m, m, reference="genant")


@pytest.mark.parametrize("levels", [["C5", "C6", "C7"], ["T2", "T3", "T4"], ["L4", "L5"]])
def test_outside_genant_range_warns_and_is_flagged(levels):
    m = vm.measure(spine(levels))
    outside = [lv for lv in levels if lv not in GENANT_LEVELS]
    with pytest.warns(vm.DomainWarning, match=", ".join(outside) + " outside T4-L4"):
        g = vm.grade(m)
    flags = {r["level"]: r["outside_genant_range"] for r in g.to_records()}
    assert flags == {lv: lv not in GENANT_LEVELS for lv in levels}
    assert list(g.to_dataframe()["outside_genant_range"]) == list(flags.values())
    r = vm.compare(m, m).to_records()
    assert [x["outside_genant_range"] for x in r] == list(flags.values())


def test_inside_genant_range_does_not_warn():
    g = vm.grade(vm.measure(spine(["T4", "T5"])))  # warnings are errors in the tests
    assert not any(r["outside_genant_range"] for r in g.to_records())


def test_batch_grade_rows_flag_levels_outside_genant_range(tmp_path):
    from tests.fixtures.batch_data import BOX, write_dicom
    from vcfmeasure import batch

    image = write_dicom(tmp_path / "a.dcm")
    vm.write_landmarks(vm.Landmarks({"L4": BOX + 10, "L5": BOX + [10, 46]}), tmp_path / "a.json")
    df = batch.grade_many([image], jobs=1)
    assert df["outside_genant_range"].tolist() == [False, True]
    assert "DomainWarning" in df["warnings"].iloc[0] and "L5 outside T4-L4" in df["warnings"].iloc[0]
