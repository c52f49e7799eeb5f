"""Guessed level names are visible everywhere and never compared silently (issue 12)."""

import pytest
from spine_factory import spine_xy

import vcfmeasure as vm
from vcfmeasure import Landmarks, PlausibilityWarning, Provenance

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
