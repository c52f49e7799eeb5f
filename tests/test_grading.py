"""Genant SQ grading, hand-computed (docs/reference.md section 2)."""

import math

import numpy as np
import pytest
from spine_factory import level_range, spine, spine_xy

import vcfmeasure as vm
from vcfmeasure import Landmarks, Provenance
from vcfmeasure.grading import REFERENCE_STRATEGIES, grade_arrays, spinal_deformity_index

# T12 normal 26, L1 anterior wedge (Ha 18, Hm 24, Hp 27), L2 normal 28
SIZES = [(26, 26, 26, 35), (18, 24, 27, 35), (28, 28, 28, 35)]


def graded(reference="radelement", sizes=SIZES, levels=("T12", "L1", "L2")):
    return vm.grade(vm.measure(spine(list(levels), sizes=sizes)), reference=reference)


def test_radelement_default_hand_computed():
    g = graded()
    recs = g.to_records()
    l1 = recs[1]
    # neighbours T12 and L2 both normal, both 1 level away: their mean (27) for a, m, p;
    # a and m take max(27, own Hp 27)
    assert l1["expected_ha"] == pytest.approx(27.0)
    assert l1["reduction_a"] == pytest.approx(1 - 18 / 27)
    assert l1["reduction_m"] == pytest.approx(1 - 24 / 27)
    assert l1["reduction_p"] == pytest.approx(0.0)
    assert (l1["grade"], l1["deformity"], l1["reference"]) == (2, "wedge", "radelement")
    assert l1["reference_levels"] == "T12+L2"
    # T12: L1 is not normal, the nearest normal is L2 (2 levels down): Ĥp = 28
    t12 = recs[0]
    assert t12["reference_levels"] == "L2"
    assert t12["expected_hp"] == pytest.approx(28.0)
    assert t12["reduction_p"] == pytest.approx(1 - 26 / 28)
    assert (t12["grade"], t12["deformity"]) == (0, "normal")
    assert t12["area_reduction"] == pytest.approx(1 - (26 * 35) / (28 * 35))


def test_radelement_own_hp_wins_when_larger():
    sizes = [(26, 26, 26, 35), (18, 27, 30, 35), (28, 28, 28, 35)]
    l1 = graded(sizes=sizes).to_records()[1]
    assert l1["expected_ha"] == pytest.approx(30.0)  # max(27, own Hp 30)
    assert l1["expected_hp"] == pytest.approx(27.0)
    assert l1["height_loss"] == pytest.approx(1 - 18 / 30)


def test_other_strategies_hand_computed():
    b = graded("buckens").to_records()[1]
    assert b["reference_levels"] == "T12"  # cranial preferred
    assert b["reduction_a"] == pytest.approx(1 - 18 / 26)
    assert b["expected_hp"] == pytest.approx(26.0)
    a = graded("adjacent_mean").to_records()[1]
    assert a["expected_ha"] == pytest.approx(27.0)
    assert a["expected_hm"] == pytest.approx(27.0)
    i = graded("intravertebral").to_records()[1]
    assert (i["expected_ha"], i["expected_hm"]) == pytest.approx((27.0, 27.0))  # own Hp
    assert i["expected_hp"] == pytest.approx(27.0)  # mean of neighbours' Hp
    with pytest.raises(vm.VcfMeasureError, match="unknown reference strategy 'genant'"):
        graded("genant")
    n = graded("neighbour_mean").to_records()[1]
    assert n["expected_ha"] == pytest.approx(27.0)  # mean of T12 and L2, not max with own Hp
    assert set(REFERENCE_STRATEGIES) == {"radelement", "buckens", "neighbour_mean",
                                         "adjacent_mean", "intravertebral"}


def test_single_vertebra_falls_back_to_own_hp():
    g = graded(sizes=[(20, 26, 25, 35)], levels=["L1"]).to_records()[0]
    assert g["reference_levels"] == "own hp"
    assert g["height_loss"] == pytest.approx(0.2)
    assert g["grade"] == 1
    assert math.isnan(g["area_reduction"])


@pytest.mark.parametrize(
    ("ha", "expected_grade"),
    [(80.01, 0), (80.0, 1), (75.01, 1), (75.0, 2), (60.01, 2), (60.0, 3), (10.0, 3)],
)
def test_half_open_bands(ha, expected_grade):
    g = grade_arrays([ha], [100.0], [100.0], [1.0], [18])
    assert g["grade"][0] == expected_grade


def test_borderline_flag_within_margin_of_a_cut():
    ha = np.array([81.0, 79.0, 85.0, 74.0, 70.0])
    g = grade_arrays(ha, np.full(5, 100.0), np.full(5, 100.0), np.ones(5), np.arange(5) * 30,
                     borderline_margin=0.02)
    # losses .19 .21 .15 .26 .30 -> near .20, near .20, no, near .25, no
    assert g["borderline"].tolist() == [True, True, False, True, False]


@pytest.mark.parametrize(
    ("size", "deformity"),
    [((18, 26, 27, 35), "wedge"), ((26, 18, 27, 35), "biconcave"), ((19, 19, 19, 35), "crush")],
)
def test_morphological_type(size, deformity):
    g = graded(sizes=[(27, 27, 27, 35), size, (27, 27, 27, 35)]).to_records()[1]
    assert g["deformity"] == deformity and g["grade"] >= 1


def test_needs_review_is_not_graded_and_never_a_reference():
    levels = ["T12", "L1", "L2"]
    xy = spine_xy(levels, sizes=SIZES)
    lm = Landmarks.from_array(xy, levels, provenance={
        "T12": Provenance("detected", needs_review=True), "L1": "detected", "L2": "detected"})
    g = vm.grade(vm.measure(lm))
    recs = g.to_records()
    assert recs[0]["grade"] is None and recs[0]["deformity"] == "not graded"
    assert recs[0]["needs_review"] is True
    assert recs[1]["reference_levels"] == "L2"


def test_spinal_deformity_index_counts_t4_to_l4_only():
    levels = level_range("L3", "S1")
    sizes = [(28, 28, 28, 35), (18, 28, 28, 35), (28, 28, 28, 35), (15, 28, 28, 35)]
    with pytest.warns(vm.DomainWarning, match="L5, S1 outside T4-L4"):
        g = graded(sizes=sizes, levels=levels)
    assert g.grade.tolist() == [0, 2, 0, 3]  # 1 - 18/28 = 0.357; 1 - 15/28 = 0.464
    assert spinal_deformity_index(g) == 2 == g.spinal_deformity_index  # S1 excluded
