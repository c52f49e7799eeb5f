"""One click per vertebra: landmarks_from_centres and detect_landmarks(centres=...)."""

from __future__ import annotations

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.detect import landmarks_from_centres
from vcfmeasure.synthetic import make_spine

LEVELS = ["T12", "L1", "L2", "L3"]


def _central_half_clicks(truth, rng):
    """One click per body, uniformly inside the central half (in the body's own frame)."""
    out = {}
    for lv in truth.levels:
        p = truth[lv]
        ap = 0.5 * (p[2] + p[3] - p[0] - p[5])  # posterior -> anterior, one body depth
        cc = 0.5 * (p[5] + p[3] - p[0] - p[2])  # cranial -> caudal, one body height
        a, b = rng.uniform(-0.25, 0.25, 2)
        out[lv] = p[[0, 2, 3, 5]].mean(axis=0) + a * ap + b * cc
    return out


def _err_mm(lm, truth, spine):
    return np.hypot(*(lm.array - truth.array).reshape(-1, 2).T) * spine.radiograph.spacing[0]


@pytest.fixture(scope="module", params=[("right", 4.0, 1.0), ("left", -7.0, 0.45)],
                ids=["right", "left-low-contrast"])
def spine(request):
    facing, rot, contrast = request.param
    return make_spine(LEVELS, seed=900 + int(rot), facing=facing, rotation_deg=rot,
                      contrast=contrast, deformities={"L1": ("wedge", 0.3)})


def test_one_click_inside_each_body_places_six_points(spine):
    rng = np.random.default_rng(11)
    errors, review = [], 0
    for _ in range(3):
        lm = landmarks_from_centres(spine.radiograph, _central_half_clicks(spine.landmarks, rng))
        errors.append(_err_mm(lm, spine.landmarks, spine))
        review += int(lm.needs_review.sum())
        assert lm.levels == spine.landmarks.levels
    err = np.concatenate(errors)
    assert np.median(err) < 0.3 and np.percentile(err, 90) < 1.0
    assert review <= 1


def test_facing_is_guessed_from_the_image(spine):
    clicks = {lv: spine.landmarks[lv].mean(axis=0) for lv in spine.landmarks.levels}
    lm = landmarks_from_centres(spine.radiograph, clicks)
    assert lm.image["facing"] == spine.params["facing"]
    # the anterior points lie on the facing side of the posterior ones
    side = np.sign(lm.array[:, 2, 0] - lm.array[:, 0, 0])
    assert (side == (1 if spine.params["facing"] == "right" else -1)).all()


def test_detect_landmarks_dispatches_on_centres(spine):
    clicks = {lv: spine.landmarks[lv].mean(axis=0) for lv in spine.landmarks.levels}
    a = vm.detect_landmarks(spine.radiograph, centres=clicks)
    b = landmarks_from_centres(spine.radiograph, clicks)
    assert a == b
    prov = a.provenance["L1"]
    assert prov.method == "detected" and prov.tool == "vcfmeasure.oneclick"
    assert len(prov.point_confidence) == 6


def test_without_spacing_adjacent_clicks_give_the_scale():
    spine = make_spine(LEVELS, seed=905)
    bare = vm.Radiograph(spine.radiograph.pixels)
    clicks = {lv: spine.landmarks[lv].mean(axis=0) for lv in spine.landmarks.levels}
    lm = landmarks_from_centres(bare, clicks, facing="right")
    assert np.median(_err_mm(lm, spine.landmarks, spine)) < 0.3


def test_without_spacing_adjacent_clicks_let_the_network_place_the_points(monkeypatch):
    pytest.importorskip("onnxruntime")
    from vcfmeasure.detect import _refine_model

    spine = make_spine(LEVELS, seed=907, contrast=0.5, blur_mm=0.8)
    bare = vm.Radiograph(spine.radiograph.pixels)
    clicks = {lv: spine.landmarks[lv].mean(axis=0) for lv in spine.landmarks.levels}
    calls = []
    real = _refine_model.bodies_at_clicks
    monkeypatch.setattr(_refine_model, "bodies_at_clicks",
                        lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    lm = landmarks_from_centres(bare, clicks)
    assert calls and abs(calls[0] / spine.params["spacing_mm"] - 1) < 0.25
    assert np.median(_err_mm(lm, spine.landmarks, spine)) < 0.5
    assert lm.image["facing"] == "right"


def test_a_lone_click_without_spacing_warns():
    spine = make_spine(["L2"], seed=906)
    bare = vm.Radiograph(spine.radiograph.pixels)
    with pytest.warns(vm.SpacingWarning, match="0.15 mm per pixel"):
        landmarks_from_centres(bare, {"L2": spine.landmarks["L2"].mean(axis=0)},
                               facing="right")


def test_nothing_to_find_gives_a_flagged_box_around_the_click():
    flat = vm.Radiograph(np.full((800, 800), 100.0), spacing=(0.15, 0.15),
                         spacing_source="user")
    lm = landmarks_from_centres(flat, {"L1": (400, 400)}, facing="right")
    prov = lm.provenance["L1"]
    assert prov.needs_review and prov.confidence == 0 and "not found" in prov.note
    assert np.allclose(lm["L1"].mean(axis=0), (400, 400))


@pytest.mark.parametrize(
    ("centres", "match"),
    [
        ({}, "centres must map"),
        ({"L1": (1e6, 10)}, "L1: the click .* outside the image"),
        ({"L1": (np.nan, 10)}, "not finite"),
        ({"L1": (1, 2, 3)}, "one \\(x, y\\) pair"),
        ({"Q9": (10, 10)}, "Q9"),
    ],
)
def test_bad_clicks_are_refused_by_name(centres, match):
    img = np.zeros((100, 100))
    with pytest.raises(vm.LandmarkError, match=match):
        landmarks_from_centres(img, centres)


def test_bad_facing_is_refused():
    with pytest.raises(vm.VcfMeasureError, match="facing"):
        landmarks_from_centres(np.zeros((50, 50)), {"L1": (10, 10)}, facing="up")
