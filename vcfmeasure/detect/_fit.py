"""Fine stage: the four sides of one body located to sub-pixel precision, six points.

Each side of a vertebral body in a lateral projection is modelled as its corner-to-corner
chord plus a smooth symmetric bump (endplate concavity, wall waist):
``offset(t) = a0 + a1 t + c 16 t^2 (1 - t)^2`` for ``t`` in [0, 1] along the chord. The
corners are the intersections of adjacent chords and the middle points lie on the
perpendicular bisector of the endplate chord, at the endplate (docs/reference.md section 1:
corner and mid-endplate points of six-point morphometry).

Edge points come from the steepest brightness change across each side in a resampled
patch aligned with the body, searched near the coarse core boundary; the fit is an
iteratively reweighted least-squares (Tukey biweight), so ribs and posterior elements
crossing a side are outliers rather than pulls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._features import full_to_coarse

__all__ = ["BodyFit", "fit_body", "CORE_MM"]

#: The coarse core is the body eroded by about this much (mm; matches the training labels).
CORE_MM = 1.5
#: Edge search half-window around the expected edge, mm (outwards, inwards).
SEARCH_MM = (3.0, 2.5)
#: Farthest a fitted corner may lie outside the core's box (pushed out by CORE_MM), mm.
MAX_SHIFT_MM = 5.0
#: An edge is the outermost local peak at least this fraction of the strongest in its
#: search window (0: the strongest).
OUTER_FRACTION = 0.4
#: Smoothing across / along the edge direction before differentiation, mm.
SIGMA_ACROSS_MM, SIGMA_ALONG_MM = 0.5, 1.0


@dataclass
class BodyFit:
    """Six points (full-image pixels) and the quality of each side."""

    points: np.ndarray  # (6, 2) sp sm sa ia im ip
    resid_mm: np.ndarray  # (4,) robust residual scale: superior, anterior, inferior, posterior
    inliers: np.ndarray  # (4,) fraction of searched positions that are inliers
    step: np.ndarray  # (4,) median edge step (grey levels)
    n_edges: np.ndarray  # (4,)
    box: np.ndarray  # (6, 2) the core's box pushed out by CORE_MM, a fallback outline


def _bump(t):
    t = np.clip(t, 0.0, 1.0)
    return 16.0 * t * t * (1.0 - t) * (1.0 - t)


def _edges(deriv: np.ndarray, expected: np.ndarray, sign: float, h: float):
    """Sub-pixel position of the extreme of ``sign * deriv`` along axis 0 near ``expected``.

    ``deriv`` (L, K): derivative profiles in columns; ``expected`` (K,) row positions.
    Returns positions (rows, float; nan where none) and strengths.
    """
    L, K = deriv.shape
    lo_off, hi_off = SEARCH_MM[0] / h, SEARCH_MM[1] / h
    pos = np.full(K, np.nan)
    strength = np.zeros(K)
    rows = np.arange(L)[:, None]
    d = sign * deriv
    valid_cols = np.isfinite(expected)
    exp = np.where(valid_cols, expected, -1e9)
    if sign > 0:  # rising edge met going +row: the edge is before the core (rows < expected)
        lo, hi = exp - lo_off, exp + hi_off
    else:
        lo, hi = exp - hi_off, exp + lo_off
    win = (rows >= lo[None, :]) & (rows <= hi[None, :])
    masked = np.where(win, d, -np.inf)
    k = np.argmax(masked, axis=0)
    cols = np.arange(K)
    if OUTER_FRACTION:
        # the outermost strong peak: the body edge, not cement or a double contour's
        # inner line behind it
        peak = np.zeros_like(win)
        peak[1:-1] = (d[1:-1] >= d[:-2]) & (d[1:-1] >= d[2:])
        strong = peak & win & (masked >= OUTER_FRACTION * masked[k, cols][None, :])
        has = strong.any(axis=0)
        if sign > 0:  # outside is at lower rows
            outer = np.argmax(strong, axis=0)
        else:
            outer = L - 1 - np.argmax(strong[::-1], axis=0)
        k = np.where(has, outer, k)
    best = masked[k, cols]
    ok = valid_cols & np.isfinite(best) & (best > 0) & (k > 0) & (k < L - 1)
    kk = np.clip(k, 1, L - 2)
    y0, y1, y2 = d[kk - 1, cols], d[kk, cols], d[kk + 1, cols]
    den = y0 - 2 * y1 + y2
    off = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(den == 0, 1, den), 0.0)
    at_border = ~win[np.clip(kk - 1, 0, L - 1), cols] | ~win[np.clip(kk + 1, 0, L - 1), cols]
    ok &= ~at_border
    pos[ok] = kk[ok] + np.clip(off[ok], -0.5, 0.5)
    strength[ok] = best[ok]
    return pos, strength


def _robust_side(pts: np.ndarray, wts: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Fit ``offset = a0 + a1 t + c bump(t)`` to edge points against the chord ``a -> b``.

    Returns ``(a0, a1, c, scale, inlier_fraction, normal)`` (mm units of ``pts``).
    """
    d = b - a
    length = float(np.hypot(*d))
    if length < 1e-6 or len(pts) < 5:
        return 0.0, 0.0, 0.0, np.inf, 0.0, np.array([0.0, 0.0])
    d = d / length
    nrm = np.array([-d[1], d[0]])
    rel = pts - a
    t = rel @ d / length
    off = rel @ nrm
    use = (t > 0.03) & (t < 0.97)
    t, off, w0 = t[use], off[use], wts[use]
    if len(t) < 5:
        return 0.0, 0.0, 0.0, np.inf, 0.0, nrm
    A = np.stack([np.ones_like(t), t, _bump(t)], axis=1)
    w = w0.copy()
    coef = np.zeros(3)
    scale = 1.0
    for _ in range(6):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(A * sw[:, None], off * sw, rcond=None)
        r = off - A @ coef
        good = w > 0
        mad = np.median(np.abs(r[good])) if good.any() else 1.0
        scale = max(1.4826 * mad, 0.08)
        u = r / (4.685 * scale)
        w = w0 * np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
        if w.sum() < 1e-9:
            break
    inl = float((np.abs(r) < 2.5 * scale).mean())
    a0, a1, c = (float(v) for v in coef)
    if abs(c) > 0.4 * length:
        return 0.0, 0.0, 0.0, np.inf, inl, nrm  # implausible: keep the chord
    return a0, a1, c, float(scale), inl, nrm


def _intersect(p1, d1, p2, d2):
    m = np.array([d1, -d2]).T
    if abs(np.linalg.det(m)) < 1e-9:
        return 0.5 * (p1 + p2)
    s = np.linalg.solve(m, p2 - p1)
    return p1 + s[0] * d1


def fit_body(pixels, spacing_mm, centre, e, n, core_mask_coarse, ext):
    """Locate the four sides of one body and return a :class:`BodyFit`.

    Parameters
    ----------
    pixels : ndarray (R, C)
    spacing_mm : float
    centre : (2,) full-image pixel (x, y) of the body core.
    e, n : (2,) unit vectors (x, y): posterior -> anterior and cranial -> caudal.
    core_mask_coarse : ndarray of bool, the body's core on the coarse grid.
    ext : (u_min, u_max, w_min, w_max) of the core along ``e`` / ``n``, mm.
    """
    h = float(spacing_mm)
    margin = CORE_MM + SEARCH_MM[0] + 3.0 * SIGMA_ALONG_MM + 1.0
    u = np.arange(ext[0] - margin, ext[1] + margin + h, h)
    w = np.arange(ext[2] - margin, ext[3] + margin + h, h)
    U, W = np.meshgrid(u, w)  # rows along w (caudal), columns along u (anterior)
    X = centre[0] + (U * e[0] + W * n[0]) / h
    Y = centre[1] + (U * e[1] + W * n[1]) / h
    patch = ndimage.map_coordinates(pixels, [Y, X], order=1, mode="nearest")
    cxy = full_to_coarse(np.stack([X, Y], axis=-1), spacing_mm)
    core = ndimage.map_coordinates(
        core_mask_coarse.astype(np.float32), [cxy[..., 1], cxy[..., 0]], order=0, mode="constant"
    ) > 0.5
    sa_, sl_ = SIGMA_ACROSS_MM / h, SIGMA_ALONG_MM / h
    d_w = ndimage.gaussian_filter(patch, (sa_, sl_), order=(1, 0), mode="nearest")
    d_u = ndimage.gaussian_filter(patch, (sl_, sa_), order=(0, 1), mode="nearest")
    # expected edges: the core boundary pushed out by CORE_MM
    any_col, any_row = core.any(axis=0), core.any(axis=1)
    top = np.where(any_col, np.argmax(core, axis=0), np.nan)
    bot = np.where(any_col, core.shape[0] - 1 - np.argmax(core[::-1], axis=0), np.nan)
    left = np.where(any_row, np.argmax(core, axis=1), np.nan)
    right = np.where(any_row, core.shape[1] - 1 - np.argmax(core[:, ::-1], axis=1), np.nan)
    k = CORE_MM / h
    p_top, s_top = _edges(d_w, top - k, +1.0, h)
    p_bot, s_bot = _edges(d_w, bot + k, -1.0, h)
    p_left, s_left = _edges(d_u.T, left - k, +1.0, h)
    p_right, s_right = _edges(d_u.T, right + k, -1.0, h)
    to_mm_u = lambda idx: u[0] + idx * h  # noqa: E731
    to_mm_w = lambda idx: w[0] + idx * h  # noqa: E731
    cols, rows = np.arange(len(u)), np.arange(len(w))

    def pts_of(p, s, along_u):
        ok = np.isfinite(p)
        if along_u:
            return np.stack([to_mm_u(cols[ok]), to_mm_w(p[ok])], 1), s[ok]
        return np.stack([to_mm_u(p[ok]), to_mm_w(rows[ok])], 1), s[ok]

    sides = [
        pts_of(p_top, s_top, True),  # superior
        pts_of(p_right, s_right, False),  # anterior
        pts_of(p_bot, s_bot, True),  # inferior
        pts_of(p_left, s_left, False),  # posterior
    ]
    # initial corners from the core's bounding box pushed out by CORE_MM
    u0, u1 = ext[0] - CORE_MM, ext[1] + CORE_MM
    w0, w1 = ext[2] - CORE_MM, ext[3] + CORE_MM
    corners = np.array([[u0, w0], [u1, w0], [u1, w1], [u0, w1]])  # sp sa ia ip
    box = corners.copy()
    chords = [(0, 1), (1, 2), (3, 2), (0, 3)]  # sup sp->sa, ant sa->ia, inf ip->ia, post sp->ip
    res = np.full(4, np.inf)
    inl = np.zeros(4)
    bumps = np.zeros(4)
    normals = np.zeros((4, 2))
    for _ in range(4):
        lines = []
        for k_side, (i, j) in enumerate(chords):
            pts, st = sides[k_side]
            a, b = corners[i], corners[j]
            a0, a1, c, sc, fr, nrm = _robust_side(pts, st, a, b)
            if not np.isfinite(sc):
                lines.append((a, b - a))
                res[k_side], inl[k_side] = sc, fr
                continue
            a2, b2 = a + a0 * nrm, b + (a0 + a1) * nrm
            lines.append((a2, b2 - a2))
            res[k_side], inl[k_side], bumps[k_side], normals[k_side] = sc, fr, c, nrm
        sup, ant, inf, post = lines
        new = np.array([
            _intersect(*sup, *post), _intersect(*sup, *ant),
            _intersect(*inf, *ant), _intersect(*inf, *post),
        ])
        lo, hi = box.min(axis=0) - MAX_SHIFT_MM, box.max(axis=0) + MAX_SHIFT_MM
        if not ((new > lo) & (new < hi)).all():
            res[:] = np.inf  # the fit ran away: keep the previous corners, flagged by res
            break
        corners = new
    sp, sa, ia, ip = corners
    sm = 0.5 * (sp + sa) + bumps[0] * _unit_normal(sa - sp, normals[0])
    im = 0.5 * (ip + ia) + bumps[2] * _unit_normal(ia - ip, normals[2])
    local = np.array([sp, sm, sa, ia, im, ip])
    full = centre + (local[:, :1] * e + local[:, 1:] * n) / h
    b6 = np.array([box[0], 0.5 * (box[0] + box[1]), box[1], box[2], 0.5 * (box[2] + box[3]),
                   box[3]])
    box_full = centre + (b6[:, :1] * e + b6[:, 1:] * n) / h
    step = np.array([
        np.median(s) * SIGMA_ACROSS_MM * np.sqrt(2 * np.pi) / h if len(s) else 0.0
        for _, s in sides
    ])
    # derivative of a Gaussian-smoothed unit step peaks at 1 / (sigma sqrt(2 pi)) per pixel
    counts = np.array([len(s) for _, s in sides])
    return BodyFit(full, res, inl, step, counts, box_full)


def _unit_normal(chord, ref):
    d = chord / max(np.hypot(*chord), 1e-12)
    nrm = np.array([-d[1], d[0]])
    return nrm if nrm @ ref >= 0 else -nrm
