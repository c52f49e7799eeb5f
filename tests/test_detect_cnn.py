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
