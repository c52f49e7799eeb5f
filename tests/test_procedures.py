import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.procedures import adjacent_fractures, restoration_by_procedure
from vcfmeasure.synthetic import make_spine

LEVELS = ["T11", "T12", "L1", "L2", "L3"]
KW = {"seed": 21, "imager_spacing_mm": 0.25}


def morph(**kw):
    s = make_spine(LEVELS, **KW, **kw)
    return vm.measure(s.landmarks, spacing=s.radiograph)


@pytest.fixture(scope="module")
def films():
    pre = morph(deformities={"L1": ("wedge", 0.4)})
    post = morph(deformities={"L1": ("wedge", 0.4)}, cement={"L1": 0.6})
    # follow-up: a new fracture at L2 (adjacent), one at T11 (two levels away), L1 holds
    fu = morph(deformities={"L1": ("wedge", 0.4), "L2": ("wedge", 0.35), "T11": ("crush", 0.3)},
               cement={"L1": 0.6})
    return pre, post, fu


def test_new_fractures_adjacent_first_next_to_the_treated_level(films):
    pre, post, fu = films
    r = adjacent_fractures(post, fu, treated=["L1"])
    recs = r.to_records()
    assert [x["level"] for x in recs] == ["L1", "T12", "L2", "T11", "L3"]
    assert [x["distance"] for x in recs] == [0, 1, 1, 2, 2]
    new = {x["level"]: x["new_fracture"] for x in recs}
    assert new == {"L1": False, "T12": False, "L2": True, "T11": True, "L3": False}
    by = {x["level"]: x for x in recs}
    assert by["L2"]["sq_incident"] and by["L2"]["fit_incident"] == 1.0
    assert by["L2"]["max_fall"] > 4.0 and by["L2"]["unit"] == "mm"
    assert not by["L1"]["recollapse"]


def test_treated_level_recollapse_is_reported(films):
    pre, post, _ = films
    collapsed = morph(deformities={"L1": ("wedge", 0.4)}, cement={"L1": 0.0})
    r = {x["level"]: x for x in adjacent_fractures(post, collapsed, treated=["L1"]).to_records()}
    assert r["L1"]["recollapse"] and r["L1"]["treated"] and not r["L1"]["new_fracture"]


def test_compare_follow_up_highlights_adjacent_levels_and_procedures(films):
    pre, post, fu = films
    r = vm.compare(pre, post, follow_up=fu, procedures={"L1": "kyphoplasty"})
    rec = r.to_records()
    assert [x["level"] for x in rec] == ["L1"]
    assert rec[0]["procedure"] == "kyphoplasty"
    assert rec[0]["adjacent_new_fractures"] == "L2"
    assert r.incident is not None and r.incident.levels[0] == "L1"
    summary = r.by_procedure()
    assert summary[0]["procedure"] == "kyphoplasty" and summary[0]["levels"] == 1
    assert summary[0]["restored_a"] == pytest.approx(rec[0]["restored_a"])


def test_restoration_by_procedure_groups_levels():
    pre = morph(deformities={"L1": ("wedge", 0.4), "L3": ("wedge", 0.4)})
    post = morph(deformities={"L1": ("wedge", 0.4), "L3": ("wedge", 0.4)},
                 cement={"L1": 0.8, "L3": 0.2})
    r = vm.compare(pre, post, treated=["L1", "L3"],
                   procedures={"L1": "kyphoplasty", "L3": "vertebroplasty"})
    by = {x["procedure"]: x for x in restoration_by_procedure(r)}
    per_level = {x["level"]: x for x in r.to_records()}
    assert by["kyphoplasty"]["restored_a"] == pytest.approx(per_level["L1"]["restored_a"])
    assert by["vertebroplasty"]["restored_a"] == pytest.approx(per_level["L3"]["restored_a"])
    assert by["kyphoplasty"]["restored_a"] > by["vertebroplasty"]["restored_a"] + 0.3
    assert by["kyphoplasty"]["levels"] == by["vertebroplasty"]["levels"] == 1


def test_without_procedures_the_output_is_unchanged(films):
    pre, post, fu = films
    r = vm.compare(pre, post, treated=["L1"])
    assert "procedure" not in r.to_records()[0] and r.incident is None
    assert r.by_procedure()[0]["procedure"] == ""


def test_bad_procedure_and_missing_treated():
    with pytest.raises(vm.VcfMeasureError, match="L1: a procedure"):
        vm.compare(morph(), morph(), procedures={"L1": ""})
    with pytest.raises(vm.VcfMeasureError, match="treated"):
        adjacent_fractures(morph(), morph(), treated=[])
    assert np.isnan(restoration_by_procedure(vm.compare(morph(), morph(), treated=["L1"]))[0]["restored_a"])
