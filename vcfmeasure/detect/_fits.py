"""Robust local fits of body sides, batched over every side of every vertebra.

Step 4 of the refinement (``_refine.py``): each side's measured edge offsets ``o(t)``
(outward, px, against the position ``t`` along the side's chord) are fitted around a
corner or a middle point by a tricube-weighted polynomial, made robust by three
iterations of biweight reweighting. Corners are where an endplate fit meets a wall fit,
middle points where an endplate fit crosses the perpendicular bisector of the corners.

All functions work on stacks of rows (one fit per row) so that one refinement pass
costs a handful of array operations instead of some 700 small fits. Rows are padded
with NaN offsets (a NaN offset is a profile that found no edge; it weighs nothing).
"""

from __future__ import annotations

import numpy as np

SP, SM, SA, IA, IM, IP = range(6)

#: (degree, bandwidth factor, weight penalty) tried in turn: a quadratic over the given
#: bandwidth, then straighter and wider fits where edges are sparse.
FIT_CHAIN = ((2, 1.0, 1.0), (1, 2.0, 0.7), (1, 4.0, 0.5))
#: Iterations of the alternating projections that intersect two fits.
PROJECTIONS = 8


def upper_median(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the upper median of ``a`` where ``mask`` holds (NaN where none does).

    Examples
    --------
    >>> a = np.array([[3.0, 1.0, 2.0, 9.0], [5.0, 4.0, 0.0, 0.0]])
    >>> upper_median(a, np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)).tolist()
    [2.0, 5.0]
    >>> bool(np.isnan(upper_median(a, np.zeros((2, 4), bool))[0]))
    True
    """
    count = mask.sum(axis=1)
    srt = np.sort(np.where(mask, a, np.inf), axis=1)
    k = np.minimum(count // 2, a.shape[1] - 1)
    out = srt[np.arange(len(a)), k]
    return np.where(count > 0, out, np.nan)


def polyval3(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rows of quadratic coefficients ``(B, 3)`` (highest power first) at ``x`` ``(B, ...)``."""
    c = coef.reshape(coef.shape[:1] + (1,) * (np.ndim(x) - 1) + (3,))
    return (c[..., 0] * x + c[..., 1]) * x + c[..., 2]


def _solve3(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cramer's rule on stacked 3 x 3 systems; returns (x, solvable)."""
    (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = (
        (a[:, i, 0], a[:, i, 1], a[:, i, 2]) for i in range(3))
    u, v, z = b[:, 0], b[:, 1], b[:, 2]
    m0 = b1 * c2 - b2 * c1
    m1 = b0 * c2 - b2 * c0
    m2 = b0 * c1 - b1 * c0
    det = a0 * m0 - a1 * m1 + a2 * m2
    ok = np.isfinite(det) & (det != 0.0)
    d = np.where(ok, det, 1.0)
    x0 = (u * m0 - a1 * (v * c2 - b2 * z) + a2 * (v * c1 - b1 * z)) / d
    x1 = (a0 * (v * c2 - b2 * z) - u * m1 + a2 * (b0 * z - v * c0)) / d
    x2 = (a0 * (b1 * z - v * c1) - a1 * (b0 * z - v * c0) + u * m2) / d
    return np.stack([x0, x1, x2], axis=1), ok


def _solve2(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cramer's rule on stacked 2 x 2 systems; returns (x, solvable)."""
    p, q, r, t = a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1]
    u, v = b[:, 0], b[:, 1]
    det = p * t - q * r
    ok = np.isfinite(det) & (det != 0.0)
    d = np.where(ok, det, 1.0)
    return np.stack([(u * t - q * v) / d, (p * v - u * r) / d], axis=1), ok


def local_fit(t: np.ndarray, o: np.ndarray, t0: np.ndarray, h: np.ndarray, deg: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Robust weighted polynomial fits of ``o(t)`` around ``t0`` (tricube, bandwidth ``h``).

    Parameters
    ----------
    t, o : ndarray (B, n)
        Positions along the chord and outward offsets (px); NaN offsets are left out.
    t0, h : ndarray (B,)
        Centre and bandwidth of each fit (px).
    deg : int
        1 or 2.

    Returns
    -------
    coef : ndarray (B, 3)
        Coefficients in ``t - t0``, highest power first (a line has a leading 0).
    spread : ndarray (B,)
        Robust SD (px) of the inliers' residuals (inf where no inlier).
    n_eff : ndarray (B,)
        Effective number of points (sum of the final weights over the largest).
    ok : ndarray (B,) bool
        False where there were fewer than ``deg + 3`` points in the window or a system
        was singular.

    Examples
    --------
    A quadratic with one gross outlier is recovered exactly:

    >>> t = np.linspace(0.0, 20.0, 21)[None]
    >>> o = 0.01 * (t - 10.0) ** 2 + 2.0
    >>> o[0, 12] += 5.0
    >>> coef, spread, n_eff, ok = local_fit(t, o, np.array([10.0]), np.array([12.0]), 2)
    >>> np.round(coef, 6).tolist(), bool(ok[0])
    ([[0.01, 0.0, 2.0]], True)
    """
    b = len(t)
    x = t - t0[:, None]
    finite = np.isfinite(o)
    w = np.where(finite, np.maximum(1 - np.abs(x / h[:, None]) ** 3, 0.0) ** 3, 0.0)
    use = w > 0
    ok = use.sum(axis=1) >= deg + 3
    x = np.where(use, x, 0.0)
    o = np.where(use, o, 0.0)
    X = np.stack([x**k for k in range(deg, -1, -1)], axis=-1)  # (B, n, deg + 1)
    robust = use.astype(float)
    coef = np.zeros((b, deg + 1))
    res = np.zeros_like(o)
    solve = _solve3 if deg == 2 else _solve2
    for _ in range(3):
        Xw = X * (w * robust)[..., None]
        a = np.einsum("bni,bnj->bij", Xw, X)
        rhs = np.einsum("bni,bn->bi", Xw, o)
        coef, solvable = solve(a, rhs)
        ok &= solvable
        res = o - np.einsum("bni,bi->bn", X, coef)
        scale = 1.4826 * upper_median(np.abs(res), use) + 1e-3
        robust = np.where(use, np.maximum(1 - (res / (4.0 * scale[:, None])) ** 2, 0.0) ** 2,
                          0.0)
    wr = w * robust
    inl = use & (robust > 0)
    spread = np.where(inl.any(axis=1), 1.4826 * upper_median(np.abs(res), inl), np.inf)
    n_eff = wr.sum(axis=1) / np.maximum(w.max(axis=1), 1e-9)
    coef = np.where(ok[:, None], coef, 0.0)
    if deg == 1:
        coef = np.concatenate([np.zeros((b, 1)), coef], axis=1)
    return coef, spread, n_eff, ok


def without_spur(t, o, length, t0, h, tol):
    """Offsets with the outward bulge next to a corner (an osteophyte) removed.

    A quadratic fit that leaves out the last 10 % of the side next to the corner (at
    ``t0``) is extrapolated to it; edges there lying outside it by more than ``tol`` px
    (or twice the fit's spread) are dropped. Rows as in :func:`local_fit`; ``length``
    ``(B,)`` is each side's chord length.
    """
    near = np.abs(t - t0[:, None]) < 0.1 * length[:, None]
    has = (near & np.isfinite(o)).any(axis=1)
    coef, spread, _, ok = local_fit(t, np.where(near, np.nan, o), t0, h, 2)
    bulge = o - polyval3(coef, t - t0[:, None])
    drop = (has & ok)[:, None] & near & (bulge > np.maximum(tol, 2.0 * spread)[:, None])
    return np.where(drop, np.nan, o)


def fit_at(t, o, amp, ref, length, t0, h, corner_tol=None):
    """Fit each row's offsets around ``t0``, wider and straighter where edges are sparse.

    With ``corner_tol`` (px), an outward bulge next to the corner is left out first
    (:func:`without_spur`). The first of :data:`FIT_CHAIN` that succeeds is taken; its
    weight is the effective number of points times the chain's penalty, lowered where
    the edges are much fainter than the body's own (``ref``, per row: ribs, noise).

    Returns
    -------
    coef : ndarray (B, 3), spread : (B,), weight : (B,), ok : (B,) bool
    """
    if corner_tol is not None:
        o = without_spur(t, o, length, t0, h, corner_tol)
    b = len(t)
    coef = np.zeros((b, 3))
    spread = np.full(b, np.inf)
    weight = np.zeros(b)
    done = np.zeros(b, bool)
    for deg, scale, penalty in FIT_CHAIN:
        todo = np.flatnonzero(~done)
        if todo.size == 0:
            break
        hh = h[todo] * scale
        c, s, n_eff, ok = local_fit(t[todo], o[todo], t0[todo], hh, deg)
        near = np.isfinite(o[todo]) & (np.abs(t[todo] - t0[todo, None]) < hh[:, None])
        strength = np.where(near.any(axis=1), upper_median(amp[todo], near) / ref[todo], 0.0)
        rows = todo[ok]
        coef[rows], spread[rows] = c[ok], s[ok]
        weight[rows] = (n_eff * penalty * np.minimum(1.0, 1.6 * strength))[ok]
        done[rows] = True
    return coef, spread, weight, done


def gauss(x, tol):
    """``exp(-(x / tol) ** 2)``, 0 where ``x`` is not finite or beyond 30 ``tol``."""
    r = np.asarray(x, float) / tol
    fine = np.isfinite(r) & (np.abs(r) <= 30.0)
    return np.where(fine, np.exp(-np.where(fine, r, 0.0) ** 2), 0.0)


class _Stack:
    """One side (``sup``, ``ant``, ``inf`` or ``post``) of every vertebra, as arrays."""

    def __init__(self, sides, name):
        rows = [s[name] for s in sides]
        self.t = np.stack([r.t for r in rows])
        self.o = np.stack([r.o for r in rows])
        self.amp = np.stack([r.amp for r in rows])
        self.length = np.array([r.length for r in rows])
        self.ref = np.array([r.ref for r in rows], float)
        self.p0 = np.stack([r.p0 for r in rows])
        self.a = np.stack([r.a for r in rows])
        self.out = np.stack([r.out for r in rows])

    @classmethod
    def concat(cls, stacks):
        """One stack of the rows of ``stacks``, one after the other."""
        new = object.__new__(cls)
        for key in vars(stacks[0]):
            setattr(new, key, np.concatenate([getattr(st, key) for st in stacks]))
        return new

    def point(self, t, o):
        return self.p0 + t[:, None] * self.a + o[:, None] * self.out

    def along(self, q):
        return np.einsum("bi,bi->b", q - self.p0, self.a)

    def fit(self, t0, h, corner_tol=None):
        return fit_at(self.t, self.o, self.amp, self.ref, self.length, t0, h, corner_tol)


#: Corners: (point, endplate, wall, endplate end (0 or 1 of its chord), wall end).
_CORNERS = ((SP, "sup", "post", 0.0, 0.0), (SA, "sup", "ant", 1.0, 0.0),
            (IA, "inf", "ant", 1.0, 1.0), (IP, "inf", "post", 0.0, 1.0))
#: Middle points: (point, endplate, its posterior corner, its anterior corner).
_MIDDLES = ((SM, "sup", SP, SA), (IM, "inf", IP, IA))
#: Bandwidths as fractions of the fitted side: corner fits, middle fits.
CORNER_BANDWIDTH, MIDDLE_BANDWIDTH = 0.45, 0.25


def refine_points(sides: list[dict], tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Six refined points and their confidences for every vertebra's measured sides.

    ``sides``: per vertebra, the four ``_Side`` objects of ``_refine._measure`` (offsets
    measured). ``tol`` (px): the edge scatter at which a point's confidence falls to 1/e.
    Returns points ``(V, 6, 2)`` (NaN where no fit) and confidences ``(V, 6)``.
    """
    v = len(sides)
    out = np.full((v, 6, 2), np.nan)
    conf = np.zeros((v, 6))
    if v == 0:
        return out, conf
    stacks = {name: _Stack(sides, name) for name in ("sup", "ant", "inf", "post")}
    plate = _Stack.concat([stacks[c[1]] for c in _CORNERS])
    wall = _Stack.concat([stacks[c[2]] for c in _CORNERS])
    t_plate = np.repeat([c[3] for c in _CORNERS], v) * plate.length
    t_wall = np.repeat([c[4] for c in _CORNERS], v) * wall.length
    cp, rp, wp, okp = plate.fit(t_plate, CORNER_BANDWIDTH * plate.length, 0.25 * tol)
    cw, rw, ww, okw = wall.fit(t_wall, CORNER_BANDWIDTH * wall.length, 0.25 * tol)
    ok = okp & okw
    # the corner: alternate projections onto the two fits until the point stays put
    q = plate.point(t_plate, cp[:, 2])
    active = ok.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # two steep fits may diverge
        for _ in range(PROJECTIONS):
            if not active.any():
                break
            tw = wall.along(q)
            qw = wall.point(tw, polyval3(cw, tw - t_wall))
            tp = plate.along(qw)
            q_new = plate.point(tp, polyval3(cp, tp - t_plate))
            moved = np.abs(q_new - qw).sum(axis=1)
            q = np.where(active[:, None], q_new, q)
            active &= moved >= 1e-6
    ok &= np.isfinite(q).all(axis=1)
    c = np.clip(np.minimum(wp, ww) / 6.0, 0.0, 1.0) * gauss(np.maximum(rp, rw), tol)
    for g, (idx, *_rest) in enumerate(_CORNERS):
        rows = slice(g * v, (g + 1) * v)
        out[:, idx] = np.where(ok[rows, None], q[rows], np.nan)
        conf[:, idx] = np.where(ok[rows], c[rows], 0.0)
    # the middle points: where the endplate fit crosses the corners' perpendicular bisector
    mids = _Stack.concat([stacks[m[1]] for m in _MIDDLES])
    c0 = np.concatenate([out[:, m[2]] for m in _MIDDLES])
    c1 = np.concatenate([out[:, m[3]] for m in _MIDDLES])
    have = np.isfinite(c0).all(axis=1) & np.isfinite(c1).all(axis=1)
    mid = 0.5 * (c0 + c1)
    chord = c1 - c0
    span = np.hypot(*chord.T)
    have &= span > 0
    nrm = np.stack([-chord[:, 1], chord[:, 0]], axis=1) / np.where(have, span, 1.0)[:, None]
    tm = mids.along(np.where(have[:, None], mid, mids.p0))
    coef, spread, weight, fitted = mids.fit(tm, MIDDLE_BANDWIDTH * mids.length)
    ok = have & fitted
    q = mid.copy()
    active = ok.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(PROJECTIONS):
            if not active.any():
                break
            tq = mids.along(q)
            on = mids.point(tq, polyval3(coef, tq - tm))
            q_new = mid + np.einsum("bi,bi->b", on - mid, nrm)[:, None] * nrm
            moved = np.abs(q_new - q).sum(axis=1)
            q = np.where(active[:, None], q_new, q)
            active &= moved >= 1e-6
    ok &= np.isfinite(q).all(axis=1)
    c = np.clip(weight / 6.0, 0.0, 1.0) * gauss(spread, tol)
    for g, (idx, _, i0, i1) in enumerate(_MIDDLES):
        rows = slice(g * v, (g + 1) * v)
        good = ok[rows]
        out[good, idx] = q[rows][good]
        cm = c[rows]
        conf[:, idx] = np.where(good, np.where(cm > 0, np.minimum(cm, np.minimum(
            conf[:, i0], conf[:, i1])), 0.0), 0.0)
    return out, conf
