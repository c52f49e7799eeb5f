"""Guessed level names are visible everywhere and never compared silently (issue 12)."""

import numpy as np
import pytest
from spine_factory import spine_xy

import vcfmeasure as vm
from vcfmeasure import Landmarks, PlausibilityWarning, Provenance
from vcfmeasure.synthetic import make_spine

LEVELS = ["T12", "L1", "L2"]
SIZES = [(26, 26, 26, 35), (18, 22, 27, 35), (28, 28, 28, 35)]


def _lm(guessed, sizes=SIZES):
    xy = spine_xy(LEVELS, sizes=sizes)
    prov = {lv: Provenance("detected", level_guessed=lv in guessed) for lv in LEVELS}
    return Landmarks.from_array(xy, LEVELS, provenance=prov)


def test_level_guessed_column_in_measure_and_grade_tables():
    m = vm.measure(_lm({"L1"}))
    assert [r["level_guessed"] for r in m.to_records()] == [False, True, False]
    g = vm.grade(m)
    assert [r["level_guessed"] for r in g.to_records()] == [False, True, False]
    df = g.to_dataframe()
    assert list(df["level_guessed"]) == [False, True, False]


def test_compare_warns_and_marks_guessed_levels():
    pre = vm.measure(_lm({"L1", "L2"}))
    post = vm.measure(_lm(set(), sizes=[SIZES[0], (24, 25, 27.5, 35), SIZES[2]]))
    with pytest.warns(PlausibilityWarning, match="level name guessed by the detector") as rec:
        r = vm.compare(pre, post)
    assert any(str(w.message).startswith("compare: L1: level name guessed") for w in rec)
    assert [x["level_guessed"] for x in r.to_records()] == [False, True, True]
    assert sum("guessed" in w for w in r.warnings_) == 2


def test_compare_is_quiet_when_no_level_is_guessed():
    import warnings

    post = vm.measure(_lm(set(), sizes=[SIZES[0], (24, 25, 27.5, 35), SIZES[2]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = vm.compare(vm.measure(_lm(set())), post)
    assert not any(x["level_guessed"] for x in r.to_records())


@pytest.mark.parametrize("seed", [901, 902, 903])
def test_names_that_fit_two_runs_of_bodies_are_marked_guessed(seed):
    pytest.importorskip("onnxruntime")
    # seven similar mid-thoracic bodies and six names: sizes cannot tell which six (on
    # seeds 901 and 902 the chosen run is one body off) -- the names must say so
    spine = make_spine(["T5", "T6", "T7", "T8", "T9", "T10", "T11"], seed=seed)
    lm = vm.detect_landmarks(spine.radiograph, levels=["T6", "T7", "T8", "T9", "T10", "T11"])
    assert len(lm.levels) == 6
    assert all(lm.provenance[lv].level_guessed for lv in lm.levels)
    assert "give one anchor level" in lm.provenance["T6"].note
    assert vm.measure(lm, spacing=spine.radiograph).to_dataframe()["level_guessed"].all()


@pytest.mark.parametrize("seed", [901, 902])
def test_names_that_fit_one_run_only_are_not_guessed(seed):
    pytest.importorskip("onnxruntime")
    # lumbar names with thoracic bodies above them: the thoracic look settles the run
    spine = make_spine(["T11", "T12", "L1", "L2", "L3"], seed=seed)
    lm = vm.detect_landmarks(spine.radiograph, levels=["L1", "L2", "L3"])
    assert lm.levels == ("L1", "L2", "L3")
    assert not any(lm.provenance[lv].level_guessed for lv in lm.levels)
    for lv in lm.levels:
        assert np.hypot(*(lm[lv].mean(0) - spine.landmarks[lv].mean(0))) < 20
