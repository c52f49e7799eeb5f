"""Appearance families of vcfmeasure.synthetic: split, determinism, exact truth, overlays."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage, optimize, special
from test_synthetic import _edge_offset, _unit

import vcfmeasure as vm
from vcfmeasure.geometry import body_frame, heights
from vcfmeasure.synthetic import (
    APPEARANCE_FAMILIES,
    EVAL_FAMILIES,
    TRAIN_FAMILIES,
    _families,
    _spine,
    make_pre_post,
    make_spine,
)

LEVELS3 = ["T12", "L1", "L2"]
FAMILIES = list(APPEARANCE_FAMILIES)

#: Largest |offset| (px) of the steepest edge gradient from the truth, overlays removed,
#: noise 0. Classic 0.15 px as in test_synthetic.py. A thin cortex or a low-contrast film
#: (extra blur) brings the inner edge of the rim close enough to pull the steepest point
#: by up to ~0.1 mm; the JPEG export is judged on its own 0.25-0.4 mm pixels (8-bit
#: quantisation and JPEG artefacts). soft_edges is measured differently (see below).
EDGE_TOL_PX = dict.fromkeys(FAMILIES, 0.3) | {
    "classic": 0.15, "thin_cortex": 0.8, "low_contrast": 0.9, "jpeg_export": 1.0,
}
#: soft_edges: the centre of an erf fitted across sm/im, mm.
SOFT_TOL_MM = 0.1


def _bare(name, seed, *, keep=(), texture=True):
    """The family draw with its overlays removed except those named in ``keep``."""
    style = _families.sample_style(name, seed)
    bare = replace(style.without_overlays(),
                   overlays={k: v for k, v in style.overlays.items() if k in keep})
    if not texture:
        bare = replace(bare, appearance={**bare.appearance, "texture": 0.0})
    return bare


@pytest.fixture
def no_overlays(monkeypatch):
    """Make make_spine draw families without anything added on top of the bodies."""

    def use(**kw):
        monkeypatch.setattr(_spine, "sample_style", lambda n, s: _bare(n, s, **kw))

    return use


def test_family_names_and_fixed_split():
    assert "classic" in APPEARANCE_FAMILIES and len(APPEARANCE_FAMILIES) >= 10
    assert all(isinstance(d, str) and d for d in APPEARANCE_FAMILIES.values())
    assert not set(TRAIN_FAMILIES) & set(EVAL_FAMILIES)
    assert set(TRAIN_FAMILIES) | set(EVAL_FAMILIES) == set(APPEARANCE_FAMILIES)
    assert "classic" in TRAIN_FAMILIES and 3 <= len(EVAL_FAMILIES) <= 4


def test_classic_is_the_default_look_bit_for_bit():
    a = make_spine(["L1", "L2"], seed=5)
    b = make_spine(["L1", "L2"], seed=5, appearance="classic")
    assert np.array_equal(a.radiograph.pixels, b.radiograph.pixels)
    assert a.landmarks == b.landmarks


@pytest.mark.parametrize("name", [f for f in FAMILIES if f != "classic"])
def test_family_is_deterministic_and_changes_the_look(name):
    a = make_spine(["L1", "L2"], seed=5, appearance=name)
    b = make_spine(["L1", "L2"], seed=5, appearance=name)
    assert np.array_equal(a.radiograph.pixels, b.radiograph.pixels) and a.landmarks == b.landmarks
    c = make_spine(["L1", "L2"], seed=5)
    assert a.radiograph.shape != c.radiograph.shape or not np.array_equal(
        a.radiograph.pixels, c.radiograph.pixels)
    assert a.params["appearance"] == name
    assert a.truth == c.truth  # a family changes the look, never what was drawn


def test_unknown_family_is_named():
    with pytest.raises(vm.VcfMeasureError, match="appearance='glossy'.*classic"):
        make_spine(["L1"], seed=1, appearance="glossy")


def _offsets(spine, corners=True):
    """|offset| (px) of the steepest edge from sm, im and (0.65 mm from each corner, where
    the walls and endplates still follow their chords) the corners' walls and endplates."""
    pix = spine.radiograph.pixels
    step = 0.65 / spine.params["spacing_mm"]  # 5 px at the default 0.13 mm
    out = []
    for level in spine.levels:
        pts = spine.landmarks[level]
        up = body_frame(pts[None])[1][0]
        out += [_edge_offset(pix, pts[1], up), _edge_offset(pix, pts[4], -up)]
        if corners:
            for c, wall_end, plate_end in ((0, 5, 2), (2, 3, 0), (3, 2, 5), (5, 0, 3)):
                along_wall, along_plate = _unit(pts[wall_end] - pts[c]), _unit(pts[plate_end] - pts[c])
                out.append(_edge_offset(pix, pts[c] + step * along_wall, -along_plate))
                out.append(_edge_offset(pix, pts[c] + step * along_plate, -along_wall))
    return np.abs(out)


@pytest.mark.parametrize("name", [f for f in FAMILIES if f != "soft_edges"])
@pytest.mark.parametrize("seed", [11, 14])
def test_truth_sits_on_the_rendered_edges_under_each_family(no_overlays, name, seed):
    no_overlays()
    spine = make_spine(LEVELS3, seed=seed, noise=0.0, blur_mm=0.25, appearance=name)
    off = _offsets(spine)
    assert off.max() <= EDGE_TOL_PX[name], (name, seed, off.max())


def _erf_centre(pix, point, normal, half_px):
    """Centre (px along ``normal``) of an erf step plus a linear background fitted across."""
    s = np.linspace(-half_px, half_px, 121)
    q = point[None] + s[:, None] * normal[None]
    prof = ndimage.map_coordinates(pix, [q[:, 1], q[:, 0]], order=1)

    def model(s, a, b, c, s0, w):
        return a + b * s + c * special.erf((s - s0) / w)

    p, _ = optimize.curve_fit(model, s, prof, p0=[prof.mean(), 0, (prof[0] - prof[-1]) / 2, 0,
                                                  half_px / 3])
    return p[3]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_soft_edges_are_centred_on_the_truth(no_overlays, seed):
    """A 1.5-3 mm edge is flat-topped in its gradient, so its centre is fitted (an erf);
    the trabecular texture and the ribs, which would move a 2 mm edge's apparent centre
    without moving the outline, are left out."""
    no_overlays(texture=False)
    spine = make_spine(LEVELS3, seed=seed, noise=0.0, blur_mm=0.25, appearance="soft_edges",
                       ribs=False)
    mm = spine.params["spacing_mm"]
    pix = spine.radiograph.pixels
    off = []
    for level in spine.levels:
        pts = spine.landmarks[level]
        up = body_frame(pts[None])[1][0]
        off += [_erf_centre(pix, pts[1], up, 2.5 / mm), _erf_centre(pix, pts[4], -up, 2.5 / mm)]
    assert np.abs(off).max() * mm <= SOFT_TOL_MM


def test_soft_edges_are_softer_than_classic():
    def steepest(spine):
        pts = spine.landmarks["L1"]
        up = body_frame(pts[None])[1][0]
        s = np.linspace(-20, 20, 401)
        q = pts[1][None] + s[:, None] * up[None]
        prof = ndimage.map_coordinates(spine.radiograph.pixels, [q[:, 1], q[:, 0]], order=1)
        return np.max(-np.gradient(prof, s)) / (prof.max() - prof.min())

    classic = make_spine(LEVELS3, seed=3, noise=0.0)
    soft = make_spine(LEVELS3, seed=3, noise=0.0, appearance="soft_edges")
    assert steepest(soft) < 0.35 * steepest(classic)


def test_export_moves_the_truth_with_the_pixels():
    """Downscaling alone (no JPEG loss, no display curve) keeps the truth on the edges."""
    spine = make_spine(LEVELS3, seed=11, noise=0.0, blur_mm=0.25)
    exp = _families.Export(spacing_mm=0.3, quality=100, report="unknown", report_factor=1.0,
                           gamma=1.0, window_pct=(0.0, 100.0))
    pix, f = _families.export_film(spine.radiograph.pixels, spine.params["spacing_mm"], exp)
    assert f == pytest.approx(0.3 / spine.params["spacing_mm"])
    moved = spine.landmarks.map_points(lambda xy: (xy + 0.5) / f - 0.5)
    small = replace(spine, radiograph=vm.Radiograph(pix), landmarks=moved,
                    params={**spine.params, "spacing_mm": spine.params["spacing_mm"] * f})
    assert _offsets(small).max() <= 0.2


def test_jpeg_export_is_an_8bit_film_with_unknown_or_approximate_spacing(monkeypatch):
    seen = set()
    sample = _families.sample_style
    for seed in range(6):
        spine = make_spine(LEVELS3, seed=seed, appearance="jpeg_export")
        rg, true = spine.radiograph, spine.params["spacing_mm"]
        assert 0.25 <= true <= 0.4 and np.array_equal(rg.pixels, np.rint(rg.pixels))
        assert 0 <= rg.pixels.min() and rg.pixels.max() <= 255
        if rg.spacing is None:
            seen.add("unknown")
            assert rg.spacing_source.startswith("unknown")
        else:
            seen.add("approximate")
            assert rg.spacing_source.startswith("user: approximate")
            assert abs(rg.spacing[0] / true - 1) <= 0.11
        # the same spine in mm as the film before its export
        with monkeypatch.context() as m:
            m.setattr(_spine, "sample_style", lambda n, s: replace(sample(n, s), export=None))
            full = make_spine(LEVELS3, seed=seed, appearance="jpeg_export")
        mm_full = heights(full.landmarks.array) * full.params["spacing_mm"]
        assert np.allclose(heights(spine.landmarks.array) * true, mm_full, rtol=1e-9)
    assert seen == {"unknown", "approximate"}
    with pytest.raises(vm.VcfMeasureError, match="write_png"):
        spine.write_dicom("never.dcm")


def _near_landmarks(spine, radius_mm):
    rows, cols = spine.radiograph.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    near = np.zeros((rows, cols), bool)
    r = radius_mm / spine.params["spacing_mm"]
    for x, y in spine.landmarks.array.reshape(-1, 2):
        near |= (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    return near


@pytest.mark.parametrize(("name", "layers"), [
    ("annotated", ("markers", "text", "ruler")),
    ("collimated_grid", ("collimation",)),
])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_markers_text_rulers_and_collimation_keep_off_the_landmarks(monkeypatch, name, layers,
                                                                    seed):
    def draw(keep):
        monkeypatch.setattr(_spine, "sample_style", lambda n, s: _bare(n, s, keep=keep))
        return make_spine(LEVELS3, seed=seed, noise=0.0, appearance=name)

    bare, dressed = draw(()), draw(layers)
    diff = np.abs(dressed.radiograph.pixels - bare.radiograph.pixels)
    assert diff.max() > 200  # they are drawn, and bright
    assert diff[_near_landmarks(bare, 4.0)].max() <= 1.0


@pytest.mark.parametrize(("name", "layer"), [
    ("bowel_gas", "gas"), ("busy_thorax", "domes"), ("iliac_crests", "crests"),
    ("collimated_grid", "grid"),
])
def test_anatomical_overlays_do_cross_the_bodies(monkeypatch, name, layer):
    """Gas, diaphragm, iliac crests and grid lines are meant to lie over the landmarks."""
    levels = ["L3", "L4", "L5"] if name in ("bowel_gas", "iliac_crests") else LEVELS3
    monkeypatch.setattr(_spine, "sample_style", lambda n, s: _bare(n, s))
    bare = make_spine(levels, seed=2, noise=0.0, appearance=name)
    monkeypatch.setattr(_spine, "sample_style", lambda n, s: _bare(n, s, keep=(layer,)))
    dressed = make_spine(levels, seed=2, noise=0.0, appearance=name)
    diff = np.abs(dressed.radiograph.pixels - bare.radiograph.pixels)
    assert diff[_near_landmarks(bare, 3.0)].max() > 5.0


def test_shape_variety_spreads_the_shapes_wider_than_classic():
    def spread(appearance):
        ratios = [heights(make_spine(["L1", "L2"], seed=s, noise=0.0, ribs=False,
                                     posterior_elements=False, appearance=appearance)
                          .landmarks.array) for s in range(8)]
        h = np.concatenate(ratios)
        return np.std(h[:, 1] / h[:, 2]), np.std(h[:, 0] / h[:, 2])

    classic, varied = spread(None), spread("shape_variety")
    assert varied[0] > 1.5 * classic[0] and varied[1] > 1.3 * classic[1]


def test_low_contrast_is_fainter_and_noisier():
    def contrast_and_noise(appearance):
        spine = make_spine(["L1", "L2"], seed=4, appearance=appearance)
        pix, pts = spine.radiograph.pixels, spine.landmarks.array
        inside = pts[0].mean(axis=0).astype(int)
        disc = ((pts[0, 4] + pts[1, 1]) / 2).astype(int)
        body = pix[inside[1] - 8 : inside[1] + 8, inside[0] - 8 : inside[0] + 8]
        gap = pix[disc[1] - 2 : disc[1] + 3, disc[0] - 8 : disc[0] + 8]
        again = make_spine(["L1", "L2"], seed=4, appearance=appearance, acquisition=1)
        noise_sd = np.std(again.radiograph.pixels - pix) / np.sqrt(2)  # only the noise differs
        return body.mean() - gap.mean(), noise_sd

    (c0, n0), (c1, n1) = contrast_and_noise(None), contrast_and_noise("low_contrast")
    assert c1 < 0.5 * c0 and n1 > 2.0 * n0


def test_sample_style_is_seeded_and_named():
    a, b = _families.sample_style("busy_thorax", 9), _families.sample_style("busy_thorax", 9)
    assert a == b and a != _families.sample_style("busy_thorax", 10)
    assert _families.sample_style("classic", 9).overlays == {}


def test_pre_post_pair_shares_the_family_draw():
    pre, post = make_pre_post(LEVELS3, deformities={"L1": ("wedge", 0.4)}, restoration=0.5,
                              seed=6, appearance="annotated")
    # the untreated levels keep the shapes drawn with the family's spreads
    h_pre, h_post = heights(pre.landmarks.array), heights(post.landmarks.array)
    assert np.allclose(h_pre[[0, 2]], h_post[[0, 2]])
    plain = make_spine(LEVELS3, deformities={"L1": ("wedge", 0.4)}, seed=6)
    assert not np.allclose(heights(plain.landmarks.array)[0], h_pre[0])
    assert post.truth["L1"]["cement"] and post.truth["L1"]["severity"] == pytest.approx(0.2)
