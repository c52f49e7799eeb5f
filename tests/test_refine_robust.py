"""refine_landmarks on harder films: soft edges, noise; and its soft-tissue guard."""

from __future__ import annotations

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.detect._refine import _edge_blur_px, _keep_edges
from vcfmeasure.synthetic import make_spine


def _clicks(spine, seed, sd_mm=1.5):
    rng = np.random.default_rng(seed)
    sd = sd_mm / spine.radiograph.spacing[0]
    return spine.landmarks.map_points(lambda xy: xy + rng.normal(0, sd, xy.shape),
                                      validate=False)


@pytest.mark.parametrize(("blur_mm", "noise"), [(0.8, 1.0), (1.0, 3.0)])
def test_soft_edges_are_found(blur_mm, noise):
    # a Gaussian blur of 0.8-1 mm SD makes 10-90 % edge widths of 2-2.6 mm
    spine = make_spine(["T12", "L1", "L2"], seed=611, blur_mm=blur_mm, noise=noise)
    px = spine.radiograph.spacing[0]
    before, after = [], []
    for seed in range(2):
        clicks = _clicks(spine, seed)
        refined = vm.refine_landmarks(spine.radiograph, clicks)
        before.append(np.hypot(*(clicks.array - spine.landmarks.array).reshape(-1, 2).T))
        after.append(np.hypot(*(refined.array - spine.landmarks.array).reshape(-1, 2).T))
    b, a = np.concatenate(before) * px, np.concatenate(after) * px
    assert np.median(a) < 0.35 and np.percentile(a, 90) < 1.0
    # every vertebra's mean error falls
    assert (a.reshape(-1, 6).mean(axis=1) < b.reshape(-1, 6).mean(axis=1)).all()


def test_edge_blur_is_measured():
    spine = make_spine(["L1", "L2"], seed=612, blur_mm=1.0, noise=0.5)
    px = spine.radiograph.spacing[0]
    img = np.asarray(spine.radiograph.pixels, np.float32)
    blur = _edge_blur_px(img, np.array(spine.landmarks.array), 5.0 / px, 1.0) * px
    assert blur == pytest.approx(1.0, rel=0.2)


def test_a_point_moved_off_the_edge_goes_back():
    img = np.zeros((120, 120), np.float32)
    img[20:81, 20:61] = 100.0  # a bright body, x 19.5-60.5, y 19.5-80.5
    box = np.array([[19.5, 19.5], [40, 19.5], [60.5, 19.5], [60.5, 80.5], [40, 80.5],
                    [19.5, 80.5]], float)
    xy0 = box[None] + 1.0  # clicks 1 px off
    xy = box[None].copy()  # refined onto the edges...
    xy[0, 2] = (100.0, 19.5)  # ...but sa far into the flat "soft tissue"
    xy[0, 3] = (60.5, 70.0)  # ia further along its wall: still on an edge
    conf = np.full((1, 6), 0.9)
    out, c = _keep_edges(img, xy0, xy, conf, 2.0)
    assert np.array_equal(out[0, 2], xy0[0, 2]) and c[0, 2] == 0.0
    assert np.array_equal(out[0, 3], xy[0, 3]) and c[0, 3] == 0.9
    assert np.array_equal(out[0, [0, 1, 4, 5]], xy[0, [0, 1, 4, 5]])


# ------------------------------------------------------------- scale without a spacing


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_scale_from_bodies_is_near_the_true_spacing_and_ignores_a_fracture(seed):
    from vcfmeasure.detect._refine_model import scale_from_bodies
    from vcfmeasure.synthetic import make_spine

    levels = ["T11", "T12", "L1", "L2"]
    plain = make_spine(levels, seed=seed)
    broken = make_spine(levels, seed=seed, deformities={"L1": ("wedge", 0.4)})
    true = plain.params["spacing_mm"]
    est = scale_from_bodies(plain.landmarks.array, levels)
    assert abs(est / true - 1) < 0.2
    assert scale_from_bodies(broken.landmarks.array, levels) == pytest.approx(est, rel=0.05)
    # a property of the outline: rotation, mirroring and translation leave it alone
    a = np.deg2rad(25)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = plain.landmarks.array @ rot.T * [-1, 1] + [300, -50]
    assert scale_from_bodies(moved, levels) == pytest.approx(est, rel=1e-9)
    assert scale_from_bodies(plain.landmarks.array * 2, levels) == pytest.approx(est / 2)


def test_scale_from_bodies_refuses_what_gives_no_scale():
    from vcfmeasure.detect._refine_model import scale_from_bodies

    assert scale_from_bodies(np.zeros((1, 6, 2)), ["L1"]) is None      # zero depth
    assert scale_from_bodies(np.full((1, 6, 2), np.nan), ["L1"]) is None
    assert scale_from_bodies(np.zeros((0, 6, 2)), []) is None
    box = np.array([[0, 0], [1, 0], [2, 0], [2, 1], [1, 1], [0, 1]], float)
    assert scale_from_bodies(box[None], ["L1"]) is None                 # 18 mm per px: absurd


@pytest.mark.parametrize("n", [2, 3])
def test_the_small_normal_equations_solve_as_numpy_does(n):
    from vcfmeasure.detect._fits import _solve2, _solve3

    solve = _solve2 if n == 2 else _solve3
    rng = np.random.default_rng(n)
    x = rng.normal(0, 50, (300, 20))
    design = np.stack([x**k for k in range(n - 1, -1, -1)], axis=-1)  # powers of px offsets
    w = rng.uniform(0, 1, (300, 20))
    a = np.einsum("bki,bkj->bij", design * w[..., None], design)
    b = np.einsum("bki,bk->bi", design * w[..., None], rng.normal(0, 5, (300, 20)))
    got, ok = solve(a, b)
    assert ok.all()
    assert np.allclose(got, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-7, atol=1e-12)
    bad = np.stack([np.zeros((n, n)), np.full((n, n), np.nan)])
    assert not solve(bad, np.ones((2, n)))[1].any()
