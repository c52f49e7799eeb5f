"""The learned detector: shipped model, missing extra, view checks, scale search (issue 12).

Synthetic films use seeds below 1000 (training: 2000+, benchmark: 500000+).
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.detect import _cnn, detect_landmarks
from vcfmeasure.radiograph import Radiograph
from vcfmeasure.synthetic import make_spine


@pytest.fixture(scope="module")
def spine():
    return make_spine(["T12", "L1", "L2", "L3"], seed=31, imager_spacing_mm=0.3)


def _err_mm(lm, spine):
    assert lm.levels == spine.landmarks.levels
    d = (lm.array - spine.landmarks.array).reshape(-1, 2)
    return np.hypot(*d.T) * spine.radiograph.spacing[0]


def test_shipped_onnx_is_the_training_scripts_export():
    info = _cnn.manifest()
    data = _cnn.MODEL_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == info["sha256"] == _cnn.model_sha256()
    assert len(data) == info["bytes"] <= 2 * 2**20
    assert info["seed"] == 2000 and info["model_mm"] == _cnn.MODEL_MM


def test_without_onnxruntime_detection_names_the_extra(spine, monkeypatch):
    _cnn._session.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    try:
        with pytest.raises(vm.MissingDependencyError, match=r"vcfmeasure\[detect\]"):
            detect_landmarks(spine.radiograph, levels="L3")
    finally:
        _cnn._session.cache_clear()


def test_reversed_levels_list_names_cranial_to_caudal(spine):
    lm = detect_landmarks(spine.radiograph, levels=["L3", "L2", "L1", "T12"])
    assert lm.levels == ("T12", "L1", "L2", "L3")
    assert not any(p.level_guessed for p in lm.provenance.values())
    assert np.median(_err_mm(lm, spine)) < 0.5
    with pytest.raises(vm.VcfMeasureError, match="named twice"):
        detect_landmarks(spine.radiograph, levels=["L3", "L2", "L2", "T12"])


@pytest.mark.parametrize("view", ["AP", "PA", "LLO"])
def test_dicom_view_position_not_lateral_is_refused(spine, view):
    rg = spine.radiograph
    ap = Radiograph(rg.pixels, spacing=rg.spacing, spacing_source=rg.spacing_source,
                    metadata={"view_position": view})
    with pytest.raises(vm.ImageError, match=rf"View Position \(0018,5101\) is '{view}'"):
        detect_landmarks(ap)


def test_lateral_view_position_is_accepted(spine):
    rg = spine.radiograph
    lat = Radiograph(rg.pixels, spacing=rg.spacing, spacing_source=rg.spacing_source,
                     metadata={"view_position": "LL"})
    assert detect_landmarks(lat, levels="L3").levels == spine.levels


def test_blank_image_is_refused():
    flat = Radiograph(np.full((400, 300), 1000.0), spacing=0.25, spacing_source="user")
    with pytest.raises(vm.ImageError, match="blank"):
        detect_landmarks(flat)


def test_image_without_a_spine_is_refused():
    # soft blobs and noise (a field with no vertebrae): no confident vertebra may come back
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:1200, 0:1000] * 0.25
    img = 1000 + 30 * rng.standard_normal(yy.shape)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, 300), rng.uniform(0, 250), rng.uniform(20, 80)
        img += rng.uniform(-300, 300) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    rg = Radiograph(img, spacing=0.25, spacing_source="user")
    try:
        lm = detect_landmarks(rg)
    except vm.ImageError as err:
        assert "not a lateral spine radiograph" in str(err)
    else:
        assert lm.needs_review.all(), [p.confidence for p in lm.provenance.values()]


def test_unknown_spacing_is_estimated_from_body_sizes(spine):
    with pytest.warns(vm.SpacingWarning, match="estimated"):
        lm = detect_landmarks(spine.radiograph.pixels, levels="L3")
    assert lm.image["spacing"] is None
    est = lm.image["estimated_spacing_mm"]
    assert est == pytest.approx(spine.radiograph.spacing[0], rel=0.25)
    assert np.median(_err_mm(lm, spine)) < 0.5


def test_model_grid_maps_back_to_full_pixels():
    # on a ramp whose grey level is the column, model pixel u must hold the grey level of
    # full-image column to_full(u): (u + 0.5) * step - 0.5 (pixel centres at integers)
    img = np.tile(np.arange(300.0), (200, 1))
    x, step = _cnn.prepare(img, 0.2)
    assert step == pytest.approx(5.0) and x.shape == (2, 40, 60)
    g = _cnn.to_full(np.arange(60.0), step)
    lo, hi = np.percentile(np.tile(g, (40, 1)), [1.0, 99.0])
    assert np.allclose(x[0], (g - lo) / (hi - lo), atol=1e-5)


def _core_map(boxes, bridge=None, shape=(60, 40)):
    p = np.zeros(shape)
    for r0, r1, c0, c1 in boxes:
        p[r0:r1, c0:c1] = 0.95
    if bridge is not None:
        r0, r1, c0, c1, v = bridge
        p[r0:r1, c0:c1] = v
    return p


@pytest.mark.parametrize("bridge", [(18, 21, 8, 24, 0.6), (18, 21, 13, 18, 0.97)])
def test_two_cores_touching_across_a_thin_disc_are_split(bridge):
    # two 14 x 22 mm cores joined across a 3 mm disc: by a wide, weaker bridge (splits at
    # probability 0.7) or a 5 mm neck as strong as the bodies (splits by erosion)
    p = _core_map([(4, 18, 5, 27), (21, 35, 5, 27)], bridge)
    lab, n = _cnn.split_cores(p)
    assert n == 2
    top, bottom = lab[10, 15], lab[28, 15]
    assert top != bottom and top > 0 and bottom > 0
    assert (lab[4:18, 5:27] == top).all() and (lab[21:35, 5:27] == bottom).all()


def test_one_core_with_a_dip_or_a_waist_stays_one_body():
    # a biconcave-like waist (10 mm high at its narrowest) and a weak patch inside
    p = _core_map([(4, 30, 5, 35)])
    p[4:12, 15:25] = 0.0  # superior concavity
    p[22:30, 15:25] = 0.0  # inferior concavity
    p[14:20, 8:14] = 0.65
    lab, n = _cnn.split_cores(p)
    assert n == 1
    assert ((lab > 0) == (p > 0.5)).all()


def test_small_pieces_are_not_split_off():
    # a bridge to a blob under the 40 mm^2 minimum core: no split that leaves it alone
    p = _core_map([(4, 20, 5, 27), (23, 28, 10, 16)], (20, 23, 10, 16, 0.6))
    assert _cnn.split_cores(p)[1] == 1


def test_a_core_without_corner_evidence_is_no_body():
    # flat (zero) heatmaps put sm and im on one pixel: no cranial/caudal side to read the
    # corners from (an IndexError before); such a core is not a body
    maps = np.zeros((7, 40, 40))
    maps[0, 10:30, 12:32] = 0.9
    assert _cnn.decode(maps) == []


def test_split_labels_are_numbered_without_gaps():
    # at 0.7 the first component falls apart into body, a 3 px blob in the bridge (too
    # small to be a seed, numbered between the two bodies) and body: the kept pieces
    # are renumbered, so labels run 1..n over all components, none shared
    p = _core_map([(4, 18, 5, 27), (21, 35, 5, 27), (45, 58, 5, 27)], (18, 21, 8, 24, 0.6))
    p[19, 12:15] = 0.9
    lab, n = _cnn.split_cores(p)
    assert n == 3
    assert sorted(np.unique(lab[lab > 0]).tolist()) == [1, 2, 3]
    assert len({lab[10, 15], lab[28, 15], lab[50, 15]}) == 3


def test_non_finite_pixels_are_refused_by_name_and_absurd_grey_values_warn_nothing():
    import warnings

    rng = np.random.default_rng(0)
    pix = np.where(rng.random((200, 200)) < 0.5, np.inf, -np.inf)
    film = vm.Radiograph(pix, spacing=(0.2, 0.2), spacing_source="user")
    with pytest.raises(vm.ImageError, match="not finite"):
        vm.detect_landmarks(film)
    checker = (np.indices((300, 150)).sum(axis=0) % 2) * 1e30
    film = vm.Radiograph(checker, spacing=(0.46, 0.46), spacing_source="user")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            vm.detect_landmarks(film)
        except vm.VcfMeasureError:
            pass  # refused is fine; a NumPy overflow warning is not
