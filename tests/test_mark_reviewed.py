"""Landmarks.mark_reviewed: a reader accepts flagged vertebrae, grade then grades them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import vcfmeasure as vm

BOX = np.array([[0, 0], [20, 0], [40, 0], [40, 30], [20, 30], [0, 30]], float)
WEDGE = np.array([[0, 0], [20, 3], [40, 5], [40, 25], [20, 28], [0, 30]], float)


@pytest.fixture()
def flagged():
    prov = {
        "T12": vm.Provenance("detected", confidence=0.9),
        "L1": vm.Provenance("detected", confidence=0.3, needs_review=True, note="faint edge"),
        "L2": vm.Provenance("detected", confidence=0.9),
    }
    return vm.Landmarks({"T12": BOX, "L1": WEDGE + [0, 36], "L2": BOX + [0, 72]},
                        provenance=prov)


def _grades(lm):
    return {r["level"]: r["grade"] for r in vm.grade(vm.measure(lm)).to_records()}


def test_a_flagged_vertebra_is_graded_once_accepted(flagged):
    assert _grades(flagged)["L1"] is None
    ok = flagged.mark_reviewed(["L1"], reader="J. Doe", when="2026-12-03T09:30:00+00:00")
    assert _grades(ok)["L1"] == 2
    assert not ok.needs_review.any()
    prov = ok.provenance["L1"]
    assert (prov.reviewed_by, prov.reviewed_at) == ("J. Doe", "2026-12-03T09:30:00+00:00")
    # who placed the points, and the note, stay; the original record is unchanged
    assert prov.method == "detected" and prov.note == "faint edge"
    assert flagged.needs_review[1] and flagged.provenance["L1"].reviewed_by is None
    assert ok.provenance["T12"].reviewed_by is None
    assert np.array_equal(ok.array, flagged.array)


def test_review_round_trips_through_the_native_json_format(flagged, tmp_path):
    ok = flagged.mark_reviewed("l1", reader="AB", when=datetime(2026, 12, 3, 9, 5))
    path = tmp_path / "film.landmarks.json"
    vm.write_landmarks(ok, path)
    back = vm.read_landmarks(path)
    assert back.provenance["L1"] == ok.provenance["L1"]
    assert back.provenance["L1"].reviewed_at == "2026-12-03T09:05:00+00:00"  # naive = UTC
    assert not back.needs_review.any()


def test_default_time_is_now_in_utc(flagged):
    before = datetime.now(UTC) - timedelta(seconds=2)
    ok = flagged.mark_reviewed("all", reader="AB")
    stamp = datetime.fromisoformat(ok.provenance["L2"].reviewed_at)
    assert before <= stamp <= datetime.now(UTC)
    assert all(ok.provenance[lv].reviewed_by == "AB" for lv in ok.levels)


@pytest.mark.parametrize(
    ("levels", "kwargs", "match"),
    [
        (["L3"], {"reader": "AB"}, "L3: level not in these landmarks"),
        (["L1"], {"reader": "  "}, "reader must name"),
        (["L1"], {"reader": "AB", "when": "yesterday"}, "not an ISO 8601"),
        (["L1"], {"reader": "AB", "when": 5}, "datetime or ISO 8601"),
    ],
)
def test_bad_requests_are_refused_by_name(flagged, levels, kwargs, match):
    with pytest.raises(vm.LandmarkError, match=match):
        flagged.mark_reviewed(levels, **kwargs)


def test_an_implausible_outline_cannot_be_accepted():
    crossed = BOX[[0, 1, 2, 5, 4, 3]]  # inferior corners swapped: the outline crosses
    lm = vm.Landmarks({"L1": crossed}, provenance={"needs_review": True}, validate=False)
    with pytest.raises(vm.LandmarkError, match="L1: cannot accept"):
        lm.mark_reviewed("L1", reader="AB")
