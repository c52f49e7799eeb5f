"""refine_landmarks is bounded and total: any clicks, any image, only VcfMeasureError.

Property tests (hypothesis) on random clicks far outside the image, absurd coordinates,
collapsed bodies, tiny and large images: the call returns (or raises a VcfMeasureError),
emits no NumPy RuntimeWarning, allocates at most a small multiple of the image, and a
vertebra it cannot work on keeps its points exactly, flagged for review.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import vcfmeasure as vm
from vcfmeasure.synthetic import make_spine

BOX = np.array([[0, 0], [10, 0], [20, 0], [20, 18], [10, 18], [0, 20]], float)


@pytest.fixture(scope="module")
def spine():
    return make_spine(["L1", "L2"], seed=5)


def _refine_strict(radiograph, landmarks, **kwargs):
    """Refine with every warning an error; only VcfMeasureError may come out."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return vm.refine_landmarks(radiograph, landmarks, **kwargs)
        except vm.VcfMeasureError:
            return None


def _unvalidated(xy, levels):
    return vm.Landmarks.from_array(xy, levels, validate=False)


# Landmarks refuses coordinates beyond MAX_COORDINATE (1e7 px): anything up to it must be total
coordinate = st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xy=st.lists(st.tuples(coordinate, coordinate), min_size=12, max_size=12))
def test_arbitrary_coordinates_never_crash(spine, xy):
    lm = _unvalidated(np.array(xy).reshape(2, 6, 2), ["L1", "L2"])
    out = _refine_strict(spine.radiograph, lm)
    assert out is not None  # nothing here is an input error: points are simply kept
    for i, level in enumerate(out.levels):
        pc = np.array(out.provenance[level].point_confidence)
        # a point with confidence 0 stays exactly where it was
        assert np.array_equal(out[level][pc == 0], lm[level][pc == 0])
        assert np.isfinite(out.array[i]).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shift=st.tuples(st.floats(-5000, 5000), st.floats(-5000, 5000)),
    scale=st.floats(0.01, 400),
    collapse=st.floats(0, 1),
)
def test_shifted_scaled_and_collapsed_bodies_stay_bounded(spine, shift, scale, collapse):
    truth = np.array(spine.landmarks.array)
    centre = truth.reshape(-1, 2).mean(axis=0)
    xy = (truth - centre) * scale + centre + np.array(shift)
    # collapse the inferior endplate of L2 toward the superior one
    xy[1, 3:] = xy[1, 3:] + collapse * (xy[1, [2, 1, 0]] - xy[1, 3:])
    lm = _unvalidated(xy, ["L1", "L2"])
    out = _refine_strict(spine.radiograph, lm)
    assert out is not None
    moved = np.hypot(*(out.array - lm.array).reshape(-1, 2).T)
    body = np.median(np.hypot(*(xy[:, 0] - xy[:, 5]).T))
    # no point moves further than the search radius plus a depressed endplate's depth
    px = spine.radiograph.spacing[0]
    assert moved.max() <= 5.0 / px + 0.15 * max(body, 1.0) + 1e-6


@example(rows=5, cols=5, fill="zeros", scale=0.25, shift=(0.0, 0.0), spacing=20.0)
# (a search window under one profile step: np.gradient raised ValueError)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 40), cols=st.integers(1, 40),
    fill=st.sampled_from(["zeros", "noise", "nan", "inf", "checker"]),
    scale=st.floats(0.05, 4), shift=st.tuples(st.floats(-30, 30), st.floats(-30, 30)),
    spacing=st.one_of(st.none(), st.floats(1e-4, 50)),
)
def test_tiny_images_and_odd_pixels(rows, cols, fill, scale, shift, spacing):
    rng = np.random.default_rng(rows * 41 + cols)
    pix = {
        "zeros": np.zeros((rows, cols)),
        "noise": rng.normal(0, 1, (rows, cols)),
        "nan": np.where(rng.random((rows, cols)) < 0.5, np.nan, 1.0),
        "inf": np.where(rng.random((rows, cols)) < 0.5, np.inf, -np.inf),
        "checker": (np.indices((rows, cols)).sum(axis=0) % 2) * 1e30,
    }[fill]
    radiograph = (vm.Radiograph(pix) if spacing is None
                  else vm.Radiograph(pix, spacing=(spacing, spacing), spacing_source="user"))
    lm = vm.Landmarks({"L1": BOX * scale + shift}, validate=False)
    out = _refine_strict(radiograph, lm)
    assert out is not None
    assert np.isfinite(out.array).all()


def test_points_off_the_image_are_kept_exactly_and_flagged(spine):
    far = spine.landmarks.map_points(lambda xy: xy + [1e6, -1e6], validate=False)
    out = _refine_strict(spine.radiograph, far)
    assert np.array_equal(out.array, far.array)
    for level in out.levels:
        prov = out.provenance[level]
        assert prov.needs_review and prov.point_confidence == (0.0,) * 6
        assert "off the image" in prov.note


def test_a_collapsed_body_is_kept_and_its_neighbour_still_refined(spine):
    xy = np.array(spine.landmarks.array)
    rng = np.random.default_rng(3)
    xy = xy + rng.normal(0, 4, xy.shape)
    xy[0] = xy[0].mean(axis=0)  # L1: six points on one spot
    lm = _unvalidated(xy, ["L1", "L2"])
    out = _refine_strict(spine.radiograph, lm)
    assert np.array_equal(out["L1"], lm["L1"])
    assert out.provenance["L1"].needs_review and "too small" in out.provenance["L1"].note
    err_before = np.hypot(*(lm["L2"] - spine.landmarks["L2"]).T).mean()
    err_after = np.hypot(*(out["L2"] - spine.landmarks["L2"]).T).mean()
    assert err_after < 0.5 * err_before


def test_options_out_of_range_are_refused_by_name(spine):
    for kwargs, name in (({"search_mm": 1e9}, "search_mm"), ({"search_mm": float("nan")},
                         "search_mm"), ({"passes": 10**9}, "passes"),
                         ({"min_confidence": 2.0}, "min_confidence"),
                         ({"passes": "many"}, "passes")):
        with pytest.raises(vm.VcfMeasureError, match=name):
            vm.refine_landmarks(spine.radiograph, spine.landmarks, **kwargs)


def test_memory_stays_a_small_multiple_of_the_image():
    # a large image, a body as large as the image allows, the widest search accepted
    rows, cols = 3000, 2500
    pix = np.random.default_rng(0).normal(100, 5, (rows, cols)).astype(np.float32)
    radiograph = vm.Radiograph(pix, spacing=(0.01, 0.01), spacing_source="user")
    big = vm.Landmarks({"L1": BOX * 120 + 50}, validate=False)
    tracemalloc.start()
    try:
        _refine_strict(radiograph, big, search_mm=20.0, passes=6)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * pix.nbytes


def test_a_search_window_under_one_profile_step_is_refined_without_error():
    # a 5 x 5 blank film at 1e-4 mm per pixel: the window (capped by the tiny body) is
    # shorter than one profile step; found by a longer run of the property test above
    radiograph = vm.Radiograph(np.zeros((5, 5)), spacing=(1e-4, 1e-4), spacing_source="user")
    lm = vm.Landmarks({"L1": BOX * 0.25}, validate=False)
    out = _refine_strict(radiograph, lm)
    assert np.isfinite(out.array).all()
