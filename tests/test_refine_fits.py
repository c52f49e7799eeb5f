"""The batched robust side fits of the refinement (``vcfmeasure.detect._fits``)."""

from __future__ import annotations

import numpy as np
import pytest

from vcfmeasure.detect._fits import fit_at, local_fit, refine_points, upper_median
from vcfmeasure.detect._refine import _sides


def _reference_fit(t, o, t0, h, deg):
    """One robust tricube fit, point by point, with least squares (not the normal equations)."""
    keep = np.isfinite(o)
    x, y = t[keep] - t0, o[keep]
    w = np.maximum(1 - np.abs(x / h) ** 3, 0.0) ** 3
    x, y, w = x[w > 0], y[w > 0], w[w > 0]
    if x.size < deg + 3:
        return None
    X = np.vander(x, deg + 1)
    robust = np.ones_like(w)
    for _ in range(3):
        sw = np.sqrt(w * robust)
        coef = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        res = y - X @ coef
        srt = np.sort(np.abs(res))
        scale = 1.4826 * srt[srt.size // 2] + 1e-3
        robust = np.maximum(1 - (res / (4.0 * scale)) ** 2, 0.0) ** 2
    inl = np.sort(np.abs(res[robust > 0]))
    spread = 1.4826 * inl[inl.size // 2]
    return np.concatenate([np.zeros(2 - deg), coef]), spread, (w * robust).sum() / w.max()


@pytest.mark.parametrize("deg", [1, 2])
def test_local_fit_matches_a_point_by_point_least_squares_fit(deg):
    rng = np.random.default_rng(deg)
    b, n = 200, 30
    t = np.sort(rng.uniform(0, 60, (b, n)), axis=1)
    o = 0.004 * (t - 30) ** 2 + 0.1 * t + rng.normal(0, 0.3, (b, n))
    outlier = rng.random((b, n)) < 0.15
    o = np.where(outlier, o + rng.choice([-6.0, 7.0], (b, n)), o)
    o[rng.random((b, n)) < 0.2] = np.nan
    t0 = rng.uniform(0, 60, b)
    h = rng.uniform(5, 40, b)
    coef, spread, n_eff, ok = local_fit(t, o, t0, h, deg)
    checked = 0
    for i in range(b):
        ref = _reference_fit(t[i], o[i], t0[i], h[i], deg)
        assert ok[i] == (ref is not None), i
        if ref is None:
            continue
        np.testing.assert_allclose(coef[i], ref[0], rtol=1e-6, atol=1e-8)
        assert spread[i] == pytest.approx(ref[1], rel=1e-6, abs=1e-9)
        assert n_eff[i] == pytest.approx(ref[2], rel=1e-6)
        checked += 1
    assert checked > 100  # most windows hold enough points


def test_upper_median_takes_the_upper_of_the_two_middle_values():
    a = np.array([[4.0, 1.0, 3.0, 2.0, 100.0]])
    assert upper_median(a, np.array([[1, 1, 1, 1, 0]], bool))[0] == 3.0
    assert upper_median(a, np.array([[1, 1, 1, 0, 0]], bool))[0] == 3.0


def test_fit_at_falls_back_to_a_wider_line_where_edges_are_sparse():
    t = np.linspace(0.0, 40.0, 21)[None]
    o = 0.5 + 0.05 * t
    o[0, 4:] = np.nan
    # four edges, at t = 0-6 px: too few for a quadratic over +-3 px or a line over +-6 px,
    # enough for the widest line (+-12 px)
    amp = np.ones_like(o)
    coef, spread, weight, ok = fit_at(t, o, amp, np.ones(1), np.array([40.0]), np.zeros(1),
                                      np.array([3.0]))
    assert ok[0]
    assert coef[0, 0] == 0.0  # a line, found by the wider fits
    assert coef[0, 1] == pytest.approx(0.05) and coef[0, 2] == pytest.approx(0.5)
    # penalised for the fallback: half the effective number of points
    x = t[0, :4] / 12.0
    assert weight[0] == pytest.approx(0.5 * ((1 - x**3) ** 3).sum())
    coef, _, _, ok = fit_at(t, np.full_like(o, np.nan), amp, np.ones(1), np.array([40.0]),
                            np.zeros(1), np.array([3.0]))
    assert not ok[0]


def _measured_box(xy, jitter=0.0, seed=0):
    """Sides of a body whose edges lie exactly on its outline (offsets 0 along every chord)."""
    rng = np.random.default_rng(seed)
    sides = _sides(xy)
    for side in sides.values():
        side.t = np.linspace(0.06, 0.94, 24) * side.length
        side.o = rng.normal(0.0, jitter, side.t.size) if jitter else np.zeros(side.t.size)
        side.amp = np.ones(side.t.size)
        side.ref = 1.0
    return sides


def test_refine_points_puts_corners_and_middles_on_an_exact_outline():
    box = np.array([[0, 0], [20, 0], [40, 0], [40, 28], [20, 28], [0, 28]], float) + 100
    turn = np.deg2rad(17.0)
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    bodies = [box, (box - 120) @ rot.T + 300]
    pts, conf = refine_points([_measured_box(b) for b in bodies], tol=1.5)
    np.testing.assert_allclose(pts, np.stack(bodies), atol=1e-6)
    assert (conf > 0.9).all()


def test_refine_points_scatter_lowers_confidence_and_a_bare_side_gives_no_corner():
    box = np.array([[0, 0], [20, 0], [40, 0], [40, 28], [20, 28], [0, 28]], float)
    crisp = refine_points([_measured_box(box)], tol=1.5)[1]
    noisy = refine_points([_measured_box(box, jitter=0.5, seed=3)], tol=1.5)[1]
    assert (noisy < crisp).all()
    bare = _measured_box(box)
    bare["ant"].o[:] = np.nan  # no anterior wall edge found anywhere
    pts, conf = refine_points([bare], tol=1.5)
    # sa and ia need the anterior wall; the middle points need both corners
    assert np.isnan(pts[0, [1, 2, 3, 4]]).all() and (conf[0, [1, 2, 3, 4]] == 0).all()
    np.testing.assert_allclose(pts[0, [0, 5]], box[[0, 5]], atol=1e-6)
