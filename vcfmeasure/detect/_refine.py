"""Semi-automatic refinement: move approximate landmarks onto the body edges.

Method (per vertebra; by default two wide passes, then one narrow pass around the result;
``docs/refinement.md`` has the details and the benchmark):

0. Vertebrae that cannot be refined (an implausible or collapsed outline, off the image,
   larger than it) keep their points exactly, flagged; every window is capped.
1. The region of interest is smoothed (Gaussian, 0.1 mm) against noise. The film's edge
   blur is measured across the walls (the half-maximum width of the steepest fall); the
   scale of the edge tests below and the profile smoothing grow with it, so soft
   (2-3 mm) edges are found like crisp ones. Each of the four sides of the body (superior
   endplate, anterior wall, inferior endplate, posterior wall) is sampled by intensity
   profiles perpendicular to the side's chord, across a window of ``+-search`` around the
   current outline.
2. Edge candidates on a profile are local maxima of the outward fall of brightness whose
   outer side falls to the darkest level just beyond (a disc, soft tissue) and whose inner
   side stays bright (not the far cortex of the next body). Candidates far brighter than
   the body's wall edges (cement) are not outlines; of the rest at least half as strong as
   the strongest, the outermost one inside the neighbour's endplate is the edge, located to
   a fraction of a pixel by a parabola through the gradient peak (the steepest point of a
   symmetric blurred step is unbiased).
3. Double endplate contours (two falls of about half the wall's edge strength, at a
   consistent separation) are replaced by the line midway between them (docs/reference.md §1).
4. Each side is fitted, robustly, by local weighted quadratics of the outward offset
   against the position along the chord: corners are the intersections of an endplate
   fit and a wall fit (the body corner at the endplate cortex; an outward bulge next to the
   corner, an osteophyte, is left out; the posterior elements and anything beyond the
   wall lie outside the fitted range), middle points are where the endplate fit crosses
   the perpendicular bisector of the refined corners, so a depressed endplate lowers Hm.
   The fits of every side of every vertebra are solved together, as arrays
   (:mod:`vcfmeasure.detect._fits`).
5. A point whose fit rests on too few or too faint edges, or that would move further than
   the search radius, keeps its input position; its confidence is 0 and the vertebra is
   flagged ``needs_review``. So does a point that would move to where the image shows
   less than a quarter of its body's typical edge strength (soft tissue, not an edge).
"""

from __future__ import annotations

import math

import numpy as np

from .. import __version__
from .._errors import LandmarkError, VcfMeasureError
from ..landmarks import Landmarks, Provenance, valid_outlines
from ..radiograph import Radiograph
from ._fits import IA, IM, IP, SA, SM, SP, refine_points

__all__ = ["refine_landmarks"]

POINT_NAMES = ("sp", "sm", "sa", "ia", "im", "ip")
_TOOL = "vcfmeasure.refine"

#: Hard caps that bound the work and memory of one call whatever the input.
#: Largest ``search_mm`` accepted (mm).
MAX_SEARCH_MM = 20.0
#: Most refinement passes accepted.
MAX_PASSES = 6
#: Samples per intensity profile (a wider window is sampled more coarsely).
MAX_PROFILE_SAMPLES = 513
#: The search window (px) never exceeds this fraction of the median body size.
MAX_SEARCH_BODY_FRACTION = 0.6
#: Sides shorter than this (px) make a body that cannot be refined (kept as given).
MIN_SIDE_PX = 4.0


# --------------------------------------------------------------------------- profiles
def _shift(a, d):
    """``out[:, i] = a[:, i + d]``, edge values repeated beyond the ends."""
    if d == 0:
        return a
    n = a.shape[1]
    if abs(d) >= n:  # a window shorter than the shift: every value is the edge's
        return np.repeat(a[:, -1:] if d > 0 else a[:, :1], n, axis=1)
    if d > 0:
        return np.concatenate([a[:, d:], np.repeat(a[:, -1:], d, axis=1)], axis=1)
    return np.concatenate([np.repeat(a[:, :1], -d, axis=1), a[:, :d]], axis=1)


class _Profiles:
    """Intensity profiles ``origins + s * dirs`` and the edge candidates on them.

    A candidate is a local maximum of the outward fall of brightness ``g`` whose outer
    side reaches the darkest level within ``reach`` beyond it (so the inner edge of a
    double contour, of cement or of the neighbour's cortex is not one), and whose
    inner side stays bright for ``reach`` (so the far cortex of the neighbouring body,
    seen across the disc, is not one either). All lengths in pixels.
    """

    def __init__(self, img, origins, dirs, half, step, sigma, gap, reach, extend=False):
        from scipy import ndimage

        # on a soft film (``extend``) the profiles run beyond the search window by the
        # reach of the edge tests, so that an edge near the window's end is tested like
        # any other; candidates lie within the window only
        outer = half + (gap + reach if extend else 0.0)
        self.s = np.arange(-outer, outer + 0.5 * step, step)
        if self.s.size < 3:  # a window under one step (a body of a few pixels): 3 samples
            step = max(outer, 1e-3)
            self.s = np.array([-step, 0.0, step])
        self.step = step
        pts = origins[:, None, :] + self.s[None, :, None] * dirs[:, None, :]
        prof = ndimage.map_coordinates(img, [pts[..., 1], pts[..., 0]], order=1, mode="nearest")
        prof = ndimage.gaussian_filter1d(prof, sigma / step, axis=1, mode="nearest")
        self.g = g = -np.gradient(prof, step, axis=1)
        k = max(int(round(gap / step)), 1)
        m = max(int(round(reach / step)), 2)
        self.outside = _shift(prof, k)
        self.amp = _shift(prof, -k) - self.outside
        first = ndimage.minimum_filter1d(prof, m, axis=1, origin=-(m // 2), mode="nearest")
        self.beyond = beyond = _shift(first, k)  # darkest level in [i + k, i + k + m)
        within = _shift(first, -(k + m - 1))  # darkest level in [i - k - m + 1, i - k]
        self.window = np.abs(self.s) <= half
        win = prof[:, self.window]
        self.dark = win.min(axis=1, keepdims=True)
        self.span = win.max(axis=1) - self.dark[:, 0]
        peak = np.zeros_like(g, dtype=bool)
        peak[:, 1:-1] = (g[:, 1:-1] >= g[:, :-2]) & (g[:, 1:-1] > g[:, 2:]) & (g[:, 1:-1] > 0)
        self.peak = peak
        amp = self.amp
        self.cand = (
            peak
            & self.window[None, :]
            & (amp > 0)
            & (self.outside - beyond < 0.4 * amp)
            & (within - self.outside > 0.15 * amp)
        )

    def outermost(self, mask):
        """Index of the outermost sample where ``mask`` holds, -1 where none."""
        idx = np.arange(self.s.size)[None, :]
        return np.where(mask, idx, -1).max(axis=1)

    def reference(self):
        """Per-profile amplitude of the body edge (nan where none).

        The outermost candidate of at least half the strength of the strongest: the body
        edge even where cement shows inside it.
        """
        amp = np.where(self.cand, self.amp, -np.inf)
        top = amp.max(axis=1, keepdims=True)
        best = self.outermost(self.cand & (amp >= 0.5 * top))
        rows = np.arange(best.size)
        return np.where(best >= 0, self.amp[rows, np.maximum(best, 0)], np.nan)

    def edges(self, ref):
        """Outer body edge per profile, given each profile's bone edge amplitude ``ref``.

        Returns
        -------
        edge : (P,) sub-sample position along the profile (nan where none)
        amp : (P,) brightness step across it
        partner : (P,) distance (px) to a second fall inside it of at least half its
            gradient, nan if none (a double contour candidate)
        """
        ref = ref[:, None]
        g, s, step = self.g, self.s, self.step
        idx = np.arange(s.size)[None, :]
        # cement (or anything far brighter than bone) is not the body outline
        # levels are taken against the darkest level just beyond each edge (the disc):
        # the window's own minimum may lie in a lung, far darker than any disc
        bright = self.outside + self.amp - self.beyond
        bone = self.cand & (self.amp >= 0.3 * ref) & (bright <= 2.0 * ref)
        top = np.where(bone, self.amp, -np.inf).max(axis=1, keepdims=True)
        strong = bone & (self.amp >= 0.5 * top)
        strongest = np.argmax(np.where(strong, self.amp, -np.inf), axis=1)[:, None]
        # the neighbour's endplate: a steep rise out of a dark (disc) level, outside the
        # strongest fall; nothing beyond it belongs to this body
        rise = np.zeros_like(self.peak)
        rise[:, 1:-1] = (g[:, 1:-1] <= g[:, :-2]) & (g[:, 1:-1] < g[:, 2:])
        rise &= (-self.amp >= 0.4 * ref) & (self.outside + self.amp <= self.dark + 0.3 * ref)
        block = np.where(rise & (idx > strongest), idx, s.size).min(axis=1)[:, None]
        ok = strong & (idx < block)
        best = self.outermost(ok)
        found = best >= 0
        rows = np.arange(best.size)
        b = np.clip(best, 1, s.size - 2)
        g0, g1, g2 = g[rows, b - 1], g[rows, b], g[rows, b + 1]
        den = g0 - 2 * g1 + g2
        frac = np.where(den < 0, 0.5 * (g0 - g2) / np.where(den < 0, den, -1.0), 0.0)
        edge = np.where(found, s[b] + np.clip(frac, -0.5, 0.5) * step, np.nan)
        amp = np.where(found, self.amp[rows, b], np.nan)
        second = (self.peak & (g >= 0.5 * g1[:, None]) & (idx < b[:, None] - 1)
                  & self.window[None, :])
        inner = np.where(second, idx, -1).max(axis=1)
        partner = np.where(found & (inner >= 0), s[b] - s[np.maximum(inner, 0)], np.nan)
        return edge, amp, partner


# --------------------------------------------------------------------------- fitting
def _despike(o, segments, tol):
    """Drop (set nan) offsets further than ``tol`` px from their running median.

    The median is over five neighbours on the same side; ``segments`` gives the side of
    each profile.
    """
    n = o.size
    idx = np.arange(n)[:, None] + np.arange(-2, 3)[None, :]
    inside = (idx >= 0) & (idx < n)
    idx = np.clip(idx, 0, n - 1)
    same = inside & (segments[idx] == segments[:, None])
    win = np.where(same, o[idx], np.nan)
    win = np.sort(win, axis=1)  # nan last
    count = np.isfinite(win).sum(axis=1)
    lo = np.clip((count - 1) // 2, 0, 4)
    hi = np.clip(count // 2, 0, 4)
    rows = np.arange(n)
    med = 0.5 * (win[rows, lo] + win[rows, hi])
    return np.where(np.abs(o - med) <= tol, o, np.nan)


class _Side:
    """One side of a body: a chord frame and the edge offsets measured along it."""

    def __init__(self, p0, p1, inward_hint):
        self.p0 = np.asarray(p0, float)
        d = np.asarray(p1, float) - self.p0
        self.length = max(float(np.hypot(*d)), 1e-6)
        self.a = d / self.length
        nrm = np.array([-self.a[1], self.a[0]])
        if nrm @ (np.asarray(inward_hint, float) - self.p0) > 0:
            nrm = -nrm
        self.out = nrm  # unit, pointing away from the body
        self.t = np.zeros(0)
        self.o = np.zeros(0)
        self.amp = np.zeros(0)
        self.partner = np.zeros(0)
        self.ref = np.inf

    def point(self, t, o):
        return self.p0 + np.multiply.outer(t, self.a) + np.multiply.outer(o, self.out)

    def coords(self, p):
        r = np.asarray(p, float) - self.p0
        return r @ self.a, r @ self.out


# --------------------------------------------------------------------------- per vertebra
def _sides(pts):
    centre = pts.mean(axis=0)
    return {
        "sup": _Side(pts[SP], pts[SA], centre),
        "ant": _Side(pts[SA], pts[IA], centre),
        "inf": _Side(pts[IP], pts[IA], centre),
        "post": _Side(pts[SP], pts[IP], centre),
    }


def _prior_offsets(side, t, mid):
    """Return prior outward offsets of the profile centres.

    A parabola through the chord ends and the given middle point for endplates, zero for
    walls.
    """
    if mid is None:
        return np.zeros_like(t)
    tm, om = side.coords(mid)
    u = np.clip(tm / side.length, 0.05, 0.95)
    # o(t) = c * t (L - t), through o(L u) = om
    c = om / (side.length**2 * u * (1 - u))
    # a middle point far off its chord (a collapsed body, a stray click) cannot open the
    # window beyond a third of the side
    return np.clip(c * t * (side.length - t), -side.length / 3, side.length / 3)


def _sample_plan(all_pts, n_end, n_wall, deepen=0.0):
    """Profile origins and directions for every side of every vertebra.

    ``deepen`` (px) extends the endplate windows inwards, towards a central depression.
    """
    plan = []
    for pts in all_pts:
        sides = _sides(pts)
        for name, side in sides.items():
            n = n_end if name in ("sup", "inf") else n_wall
            frac = np.linspace(0.06, 0.94, n)
            t = frac * side.length
            mid = pts[SM] if name == "sup" else pts[IM] if name == "inf" else None
            # centre each profile between the chord and the curve through the given
            # middle point, so that a misplaced middle point cannot hide the edge
            o = 0.5 * _prior_offsets(side, t, mid)
            if mid is not None and deepen:
                o = o - 0.5 * deepen * np.sin(np.pi * t / side.length) ** 2
            plan.append((side, t, side.point(t, o), o, name))
    return plan


def _measure(img, all_pts, half, sigma, gap, n_end, n_wall, step=0.5, deepen=0.0,
             soft=False):
    plan = _sample_plan(all_pts, n_end, n_wall, deepen)
    half = half + max(float(np.abs(p[3]).max()) for p in plan)
    # hard cap on the samples per profile (window plus the edge tests' reach)
    step = max(step, 2.0 * (half + 5 * gap) / (MAX_PROFILE_SAMPLES - 1))
    origins = np.concatenate([p[2] for p in plan])
    dirs = np.concatenate([np.repeat(p[0].out[None], len(p[1]), axis=0) for p in plan])
    prof = _Profiles(img, origins, dirs, half, step, sigma, gap, 4 * gap, extend=soft)
    # each vertebra's bone edge strength: a low percentile over its profiles of the
    # strongest edge (cement, where it shows, is stronger; noise, where no edge is in
    # the window, weaker and rarer)
    per_vertebra = np.array([len(p[1]) for p in plan]).reshape(-1, 4).sum(axis=1)
    owner = np.repeat(np.arange(per_vertebra.size), per_vertebra)
    # walls only: endplates may show half-strength double contours
    wall = np.concatenate([np.full(len(p[1]), p[4] in ("ant", "post")) for p in plan])
    first = prof.reference()
    ref = np.full(per_vertebra.size, np.inf)
    for v in range(per_vertebra.size):
        mine = first[(owner == v) & wall]
        if not np.isfinite(mine).any():
            mine = first[owner == v]
        if np.isfinite(mine).any():
            ref[v] = np.nanpercentile(mine, 50)
    # bone density is much the same along one spine: a cemented body, whose walls may
    # show mostly cement, takes its neighbours' bone edge strength
    finite = ref[np.isfinite(ref)]
    if finite.size >= 2:
        ref = np.minimum(ref, 1.3 * np.percentile(finite, 25))
    edge, amp, partner = prof.edges(ref[owner])
    segment = np.repeat(np.arange(len(plan)), [len(p[1]) for p in plan])
    offsets = _despike(np.concatenate([p[3] for p in plan]) + edge, segment, max(3.0, 0.6 * gap))
    i = 0
    out = []
    for side, t, _, _, _ in plan:
        n = len(t)
        side.t, side.o = t, offsets[i : i + n]
        side.amp, side.partner = amp[i : i + n], partner[i : i + n]
        side.ref = ref[len(out) // 4]
        out.append(side)
        i += n
    return [dict(zip(("sup", "ant", "inf", "post"), out[j : j + 4], strict=True))
            for j in range(0, len(out), 4)]


def _midway(sides, px_mm):
    """Apply the midway rule to endplates that show a double contour; return ``sides``."""
    walls = np.concatenate([sides["ant"].amp, sides["post"].amp])
    walls = walls[np.isfinite(walls)]
    if walls.size < 4:
        return sides
    ref = float(np.median(walls))
    for name in ("sup", "inf"):
        side = sides[name]
        ok = np.isfinite(side.o)
        if ok.sum() < 6:
            continue
        seps = side.partner[ok]
        have = np.isfinite(seps) & (seps > 0.4 / px_mm) & (seps < 4.0 / px_mm)
        if have.mean() < 0.5:
            continue
        sep = np.median(seps[have])
        mad = np.median(np.abs(seps[have] - sep))
        strength = float(np.median(side.amp[ok]))
        if mad < 0.35 / px_mm and strength < 0.75 * ref:
            side.o = side.o - 0.5 * sep
    return sides


def _refine_points(measured, px_mm, blur_px=0.0):
    """Six refined points ``(V, 6, 2)`` and their confidences from measured sides."""
    # edge scatter (px) at which confidence falls to 1/e (soft edges scatter more)
    tol = max(0.3 / px_mm, 1.5, 0.5 * blur_px)
    return refine_points(measured, tol)


def _body_height_px(xy):
    """Median anterior and posterior height of the given bodies, pixels."""
    hp = np.hypot(*(xy[:, SP] - xy[:, IP]).T)
    ha = np.hypot(*(xy[:, SA] - xy[:, IA]).T)
    return float(np.median(np.concatenate([hp, ha])))


def refine_landmarks(
    radiograph: Radiograph,
    landmarks: Landmarks,
    *,
    search_mm: float = 5.0,
    passes: int = 3,
    min_confidence: float = 0.25,
    double_contours: bool = True,
    model: bool | None = None,
) -> Landmarks:
    """Move approximate six-point landmarks onto the body edges they belong to.

    Corners go to the body corner at the endplate cortex (the intersection of the
    endplate edge and the wall edge, so osteophytes and posterior elements beyond the
    walls do not pull them); middle points go onto the (possibly depressed) endplate
    contour on the perpendicular bisector of the corners; double endplate contours are
    split midway (docs/reference.md section 1). Positions are sub-pixel. See the module
    docstring of ``vcfmeasure.detect._refine`` for the method.

    Parameters
    ----------
    radiograph : Radiograph
        Bone bright, as loaded by :func:`vcfmeasure.load_image`.
    landmarks : Landmarks
        Approximate points (clicks within ~3 mm, another tool's output).
    search_mm : float
        How far (mm, in the patient plane) an edge is looked for on each side of the
        given outline. Without a spacing the radiograph's scale is taken from the
        bodies themselves: the median anterior/posterior height in pixels is taken as
        25 mm, so the search radius in px is ``search_mm / 25 * median height``.
        Middle points may move further, by up to 0.15 of the median body height more,
        to reach a depressed (biconcave) endplate.
    passes : int
        Refinement passes: all but the last are wide (the first searches the full
        radius, each later one half the previous window, from the previous result, so a
        corner far off is found in two steps); the last searches within 2 mm of the
        previous result with denser profiles.
    min_confidence : float
        A point with a lower confidence (0-1) keeps its input position.
    double_contours : bool
        Apply the midway rule where an endplate shows two contours.
    model : bool, optional
        Also read the detection network's landmark heatmaps near each point
        (``vcfmeasure.detect._refine_model``): a point whose edges are not found, or
        whose edge fit disagrees with the network by more than 1.5 mm, takes the
        heatmap peak when it is clear (>= 0.3), with that value as its confidence.
        ``None`` (default): when onnxruntime (the ``detect`` extra) is installed;
        ``True`` requires it (``MissingDependencyError`` naming the extra); ``False``:
        edges only. Without a pixel spacing the network runs at the scale estimated
        from the bodies' depths and their levels' typical depths.

    Returns
    -------
    Landmarks
        The refined points, provenance ``method="refined"``, ``tool="vcfmeasure.refine"``,
        ``point_confidence`` per point (0 where the point kept its input position),
        ``confidence`` the smallest of them, and ``needs_review=True`` for a vertebra
        with a point that could not be improved.

    Raises
    ------
    LandmarkError
        If ``landmarks`` is empty.
    VcfMeasureError
        For an option out of range (``search_mm`` outside (0, 20] mm, ``passes``
        outside 1-6, ``min_confidence`` outside [0, 1]).

    Notes
    -----
    The work is bounded whatever the points: a vertebra whose outline is implausible
    (crossing, a side under 4 px), larger than the image or off it keeps its points
    exactly, with confidence 0 and a note saying why; the search window never exceeds
    0.6 of the median body size and each profile has at most 513 samples, so memory
    stays a small multiple of the image.

    References
    ----------
    docs/reference.md section 1 (placement rules: corners at the endplate cortex excluding
    osteophytes and posterior elements; middle points on the contour; midway rule) and
    section 6 (the precision the refinement aims at).

    Examples
    --------
    >>> import numpy as np
    >>> from vcfmeasure.synthetic import make_spine
    >>> spine = make_spine(["L1", "L2"], seed=0)
    >>> rng = np.random.default_rng(1)
    >>> clicks = spine.landmarks.map_points(lambda xy: xy + rng.normal(0, 8, xy.shape))
    >>> refined = refine_landmarks(spine.radiograph, clicks)
    >>> err = np.hypot(*(refined.array - spine.landmarks.array).reshape(-1, 2).T)
    >>> bool(np.median(err) * spine.radiograph.spacing[0] < 0.3)
    True
    >>> refined.provenance["L1"].method
    'refined'
    """
    from .._checks import check_refine

    check_refine(radiograph, landmarks, passes, double_contours, model)
    if len(landmarks) == 0:
        raise LandmarkError("refine_landmarks: no levels to refine")
    search_mm, passes, min_confidence = _check_options(search_mm, passes, min_confidence)
    xy_in = np.array(landmarks.array, dtype=float)
    n = len(xy_in)
    conf = np.zeros((n, 6))
    out = xy_in.copy()
    notes: list[str | None] = [None] * n
    ok, why = _workable(xy_in, radiograph.shape, landmarks.levels)
    for i in np.flatnonzero(~ok):
        notes[i] = why[i]
    if ok.any():
        with np.errstate(all="ignore"):
            pts, c, more = _refine_core(radiograph, xy_in[ok], search_mm, passes,
                                        min_confidence, double_contours)
        out[ok], conf[ok] = pts, c
        for j, i in enumerate(np.flatnonzero(ok)):
            notes[i] = more[j]
        if _use_model(model):
            _with_model(radiograph, xy_in, out, conf, notes, ok, search_mm, landmarks.levels)
    return _record(landmarks, xy_in, out, conf, notes)


def _use_model(model):
    """Whether to read the network's heatmaps (``model`` as documented)."""
    if model is False:
        return False
    if model is None:
        from ._refine_model import network_available

        return network_available()
    from ._cnn import _session

    _session()  # model=True: raises MissingDependencyError naming the extra when missing
    return True


def _with_model(radiograph, xy_in, out, conf, notes, ok, search_mm, levels):
    """Combine the edge fit with the network's heatmap peaks, in place.

    Without a spacing the network runs at the scale the bodies' depths give
    (:func:`~vcfmeasure.detect._refine_model.scale_from_bodies`); without a usable
    estimate the edge fit stands.
    """
    from ._refine_model import combine, model_points, scale_from_bodies

    idx = np.flatnonzero(ok)
    if radiograph.spacing is not None:
        px_mm = math.sqrt(radiograph.spacing[0] * radiograph.spacing[1])
        estimated = False
    else:
        px_mm = scale_from_bodies(xy_in[idx], [levels[i] for i in idx])
        estimated = True
        if px_mm is None:
            return
    with np.errstate(all="ignore"):
        mp, peak = model_points(radiograph.pixels, xy_in[idx], px_mm, search_mm)
        pts, c, took = combine(xy_in[idx], out[idx], conf[idx], mp, peak, px_mm)
    for j, i in enumerate(idx):
        if not took[j].any():
            continue
        if not _plausible_body(pts[j]):  # the mixed outline is no body: edges only
            continue
        out[i], conf[i] = pts[j], c[j]
        if (c[j] > 0).all() and notes[i] == _KEPT:  # the network found what edges did not
            notes[i] = None
        names = ", ".join(n for n, t in zip(POINT_NAMES, took[j], strict=True) if t)
        extra = f"{levels[i]}: {names} from the network's heatmaps (edges unclear)"
        if estimated:
            extra += f" at an estimated {px_mm:.3f} mm/px (no spacing; from body depths)"
        notes[i] = extra if notes[i] is None else f"{notes[i]}; {extra}"


def _check_options(search_mm, passes, min_confidence):
    """Validated options (a hard cap on each, so no option can blow up the work)."""
    try:
        search = float(search_mm)
        conf = float(min_confidence)
        npass = int(passes)
    except (TypeError, ValueError, OverflowError):
        raise VcfMeasureError(
            "refine_landmarks: search_mm and min_confidence must be numbers and passes an "
            f"integer, got {search_mm!r}, {min_confidence!r}, {passes!r}"
        ) from None
    if not 0.0 < search <= MAX_SEARCH_MM:
        raise VcfMeasureError(
            f"refine_landmarks: search_mm={search_mm!r} must lie in (0, {MAX_SEARCH_MM}] mm; "
            "clicks further off than that need placing again"
        )
    if not 1 <= npass <= MAX_PASSES:
        raise VcfMeasureError(f"refine_landmarks: passes={passes!r} must be 1-{MAX_PASSES}")
    if not 0.0 <= conf <= 1.0:
        raise VcfMeasureError(
            f"refine_landmarks: min_confidence={min_confidence!r} must lie in [0, 1]"
        )
    return search, npass, conf


def _side_lengths(xy):
    """``(N, 4)`` lengths (px) of the superior, anterior, inferior and posterior sides."""
    pairs = ((SP, SA), (SA, IA), (IP, IA), (SP, IP))
    return np.stack([np.hypot(*(xy[:, a] - xy[:, b]).T) for a, b in pairs], axis=1)


def _workable(xy, shape, levels):
    """Which vertebrae can be refined at all, and why not for the others.

    A body is refined only if its outline is a plausible body (no crossing sides), every
    side is at least :data:`MIN_SIDE_PX` long, it is no larger than the image and it lies
    on the image (within a quarter of its size). The rest keep their points.
    """
    rows, cols = shape
    size = np.median(_side_lengths(xy), axis=1)
    valid = valid_outlines(xy)
    ok = np.ones(len(xy), bool)
    why: list[str | None] = [None] * len(xy)
    for i, level in enumerate(levels):
        lo, hi = xy[i].min(axis=0), xy[i].max(axis=0)
        margin = 0.25 * size[i]
        if _side_lengths(xy[i : i + 1]).min() < MIN_SIDE_PX:
            why[i] = f"{level}: body too small to refine (a side under {MIN_SIDE_PX:g} px)"
        elif size[i] > max(rows, cols):
            why[i] = f"{level}: body larger than the image; points kept as given"
        elif (lo < -margin).any() or hi[0] > cols - 1 + margin or hi[1] > rows - 1 + margin:
            why[i] = f"{level}: points off the image; kept as given"
        elif not valid[i]:
            try:
                Landmarks({level: xy[i]})
            except LandmarkError as exc:  # the message says what is wrong
                why[i] = f"{level}: not refined, outline implausible ({exc})"
        ok[i] = why[i] is None
    return ok, why


def _plausible(xy):
    """Per body of ``xy`` ``(n, 6, 2)``: whether its points make an outline worth refining from."""
    ok = valid_outlines(xy)
    if ok.any():
        ok[ok] = _side_lengths(np.asarray(xy, float)[ok]).min(axis=1) >= MIN_SIDE_PX
    return ok


def _plausible_body(pts):
    """Whether one body's six points make an outline worth refining from."""
    return bool(_plausible(pts[None])[0])


def _refine_core(radiograph, xy_in, search_mm, passes, min_confidence, double_contours):
    """Refine plausible bodies: points, confidences and notes (arrays for ``xy_in``)."""
    size_px = float(np.median(_side_lengths(xy_in)))
    if radiograph.spacing is not None:
        px_mm = math.sqrt(radiograph.spacing[0] * radiograph.spacing[1])
    else:
        # no spacing: take the body size as the ruler (a body is ~25 mm tall)
        px_mm = 25.0 / _body_height_px(xy_in)
    search_px = min(search_mm / px_mm, MAX_SEARCH_BODY_FRACTION * size_px)
    if search_px < 1.0:
        note = (f"search radius {search_px:.2f} px (under one pixel at this spacing or body "
                "size): nothing to search; kept as given")
        return xy_in.copy(), np.zeros(xy_in.shape[:2]), [note] * len(xy_in)
    sigma = max(0.08 / px_mm, 0.8)
    # a fractured endplate may sink well below the chord of its corners: the first pass
    # looks deeper on that side (0.15 of the median body height, ~4 mm)
    deepen = 0.15 * _body_height_px(xy_in)
    # room for a point moved by the search radius plus a full profile window beyond it
    crop = _smoothed_crop(radiograph.pixels, xy_in, 3 * search_px + 1.5 * deepen + 20,
                          max(0.1 / px_mm, 1.0))
    if crop is None:
        note = "image has no finite pixels near the points; kept as given"
        return xy_in.copy(), np.zeros(xy_in.shape[:2]), [note] * len(xy_in)
    img, corner = crop
    xy0 = xy_in - corner
    limit = np.full(6, search_px)
    limit[[SM, IM]] += deepen
    # the edge width of this film sets the scale of the edge tests: a soft (2-3 mm) edge
    # needs a wider step and reach than a crisp one
    blur = _edge_blur_px(img, xy0, search_px, sigma)
    gap = max(0.5 / px_mm, 2.0, 1.2 * blur)
    soft = gap > max(0.5 / px_mm, 2.0)
    # smoothing a soft edge further moves it no more than a crisp one, and quiets noise
    sigma = max(sigma, 0.5 * blur)
    xy = xy0.copy()

    def one_pass(xy, k, which):
        """Refine the vertebrae ``which`` from ``xy``: raw points and confidences."""
        fine = passes > 1 and k == passes - 1
        # each wide pass starts closer: the window halves
        half = min(search_px, 2.0 / px_mm) if fine else search_px / (k + 1)
        n_end, n_wall = (48, 28) if fine else (24, 16)
        measured = _measure(
            img, xy[which], half, sigma, gap, n_end, n_wall, step=0.5 if fine else 1.0,
            deepen=deepen if k == 0 else 0.0, soft=soft,
        )
        if double_contours:
            measured = [_midway(sides, px_mm) for sides in measured]
        return _refine_points(measured, px_mm, blur)

    def accept(raw, c, which, fallback, final):
        bad = ~np.isfinite(raw).all(axis=2) | (np.hypot(*np.moveaxis(raw - xy0[which], -1, 0))
                                                > limit)
        if final:
            bad |= c < min_confidence
        pts = np.where(bad[..., None], fallback[which], raw)
        # a body whose refined outline collapsed or crossed itself takes the fallback
        odd = ~_plausible(pts)
        pts[odd], bad[odd] = fallback[which][odd], True
        return pts, np.where(bad, 0.0, c), bad

    every = np.arange(len(xy))
    conf = np.zeros(xy.shape[:2])
    for k in range(passes):
        final = k == passes - 1
        raw, c = one_pass(xy, k, every)
        xy, conf, bad = accept(raw, c, every, xy0 if final else xy, final)
    # a vertebra with a failed point gets one more narrow pass from its raw estimate,
    # whose frames now sit closer to the body (only the failed points may change); a raw
    # estimate beyond the search radius is no start (it keeps the window bounded)
    retry = np.flatnonzero(bad.any(axis=1)) if passes > 1 else np.zeros(0, int)
    if retry.size:
        near = np.isfinite(raw[retry]).all(axis=2) & (
            np.hypot(*np.moveaxis(raw[retry] - xy0[retry], -1, 0)) <= limit)
        start = np.where(near[..., None], raw[retry], xy[retry])
        trial = xy.copy()
        usable = _plausible(start)
        trial[retry[usable]] = start[usable]
        raw2, c2 = one_pass(trial, passes - 1, retry)
        pts2, conf2, bad2 = accept(raw2, c2, retry, xy0, True)
        fix = bad[retry] & ~bad2
        merged = np.where(fix[..., None], pts2, xy[retry])
        usable = _plausible(merged)
        xy[retry[usable]] = merged[usable]
        conf[retry[usable]] = np.where(fix[usable], conf2[usable], conf[retry[usable]])
    # never trade an edge for soft tissue: a point moved to where the image shows much
    # less edge than where it was keeps its input position
    xy, conf = _keep_edges(img, xy0, xy, conf, max(blur, 1.0 / px_mm))
    notes = [None if (conf[i] > 0).all() else _KEPT for i in range(len(xy))]
    return xy + corner, conf, notes


_KEPT = "points kept where confidence is 0"

#: A refined point must show at least this fraction of its body's typical edge strength
#: (the median over its six refined points), or it keeps its input position.
KEEP_EDGE_FRACTION = 0.25


def _keep_edges(img, xy0, xy, conf, scale):
    """Revert refined points that moved off the edges (a wrong edge, soft tissue).

    The edge strength at a point is the gradient magnitude of the image smoothed at
    ``scale`` px (wide enough that a point midway on a double contour still sits on an
    edge). A moved point whose strength is below :data:`KEEP_EDGE_FRACTION` of the median
    over its body's six refined points (the edges the others found) keeps its input
    position with confidence 0.
    """
    from scipy import ndimage

    # a wide smoothing needs no full resolution: work on every f-th pixel (cheap)
    f = max(int(scale // 2), 1)
    small = img[::f, ::f]  # already smoothed at 0.1 mm; the wide filter follows
    gy = ndimage.gaussian_filter(small, scale / f, order=(1, 0), mode="nearest")
    gx = ndimage.gaussian_filter(small, scale / f, order=(0, 1), mode="nearest")
    mag = np.hypot(gx, gy)

    def at(p):
        flat = p.reshape(-1, 2) / f
        v = ndimage.map_coordinates(mag, [flat[:, 1], flat[:, 0]], order=1, mode="nearest")
        return v.reshape(p.shape[:-1])

    after = at(xy)
    body = np.median(after, axis=1, keepdims=True)
    moved = (xy != xy0).any(axis=2)
    weak = moved & (after < KEEP_EDGE_FRACTION * body)
    xy = np.where(weak[..., None], xy0, xy)
    conf = np.where(weak, 0.0, conf)
    for v in np.flatnonzero(weak.any(axis=1)):
        if not _plausible_body(xy[v]):
            xy[v], conf[v] = xy0[v], 0.0
    return xy, conf


def _edge_blur_px(img, xy, half, sigma):
    """Typical edge blur (Gaussian SD, px) of the body walls around the given points.

    Profiles across the anterior and posterior walls; on each, the full width at half
    maximum of the strongest fall of brightness is 2.355 SD for a blurred step. The
    median over the clearest half of the profiles, less the smoothing applied here.
    """
    from scipy import ndimage

    sides = [s for pts in xy for s in (_sides(pts)["ant"], _sides(pts)["post"])]
    t = np.linspace(0.2, 0.8, 5)
    origins = np.concatenate([sd.point(t * sd.length, np.zeros_like(t)) for sd in sides])
    dirs = np.concatenate([np.repeat(sd.out[None], t.size, axis=0) for sd in sides])
    step = max(0.5, 2 * half / (MAX_PROFILE_SAMPLES - 1))
    s = np.arange(-half, half + 0.5 * step, step)
    if s.size < 5:
        return 0.0
    pts = origins[:, None, :] + s[None, :, None] * dirs[:, None, :]
    prof = ndimage.map_coordinates(img, [pts[..., 1], pts[..., 0]], order=1, mode="nearest")
    prof = ndimage.gaussian_filter1d(prof, sigma / step, axis=1, mode="nearest")
    g = -np.gradient(prof, step, axis=1)
    k = np.argmax(g, axis=1)
    top = g[np.arange(len(g)), k]
    above = g >= 0.5 * top[:, None]
    idx = np.arange(s.size)[None, :]
    # the contiguous run above half maximum around the peak
    below = ~above
    left = np.where(below & (idx < k[:, None]), idx, -1).max(axis=1) + 1
    right = np.where(below & (idx > k[:, None]), idx, s.size).min(axis=1) - 1
    width = (right - left + 1) * step
    inside = (left > 0) & (right < s.size - 1) & (top > 0)
    if inside.sum() < 4:
        return 0.0
    clear = inside & (top >= np.median(top[inside]))
    sd = float(np.median(width[clear])) / 2.355
    return max(math.sqrt(max(sd * sd - sigma * sigma, 0.0)), 0.0)


def _smoothed_crop(pixels, xy, margin, sigma):
    """The image around the landmarks, Gaussian-smoothed (noise), and its (x, y) offset.

    A symmetric blur moves no straight edge; it only lowers the noise that the steepest-
    gradient search would otherwise chase. The crop never exceeds the image; non-finite
    pixels take the median of the finite ones. None when no pixel near the points is
    finite.
    """
    from scipy import ndimage

    rows, cols = pixels.shape
    pts = xy.reshape(-1, 2)
    lo = np.clip(np.floor(pts.min(axis=0) - margin), 0, [cols - 1, rows - 1]).astype(int)
    hi = np.clip(np.ceil(pts.max(axis=0) + margin) + 1, 1, [cols, rows]).astype(int)
    x0, y0 = int(lo[0]), int(lo[1])
    x1, y1 = max(int(hi[0]), x0 + 1), max(int(hi[1]), y0 + 1)
    crop = np.asarray(pixels[y0:y1, x0:x1], dtype=np.float32)
    finite = np.isfinite(crop)
    if not finite.all():
        if not finite.any():
            return None
        crop = np.where(finite, crop, np.float32(np.median(crop[finite])))
    return ndimage.gaussian_filter(crop, sigma, mode="nearest"), np.array([x0, y0], float)


def _record(landmarks, xy0, xy, conf, notes):
    provenance = {}
    points = {}
    valid = valid_outlines(xy)
    for i, level in enumerate(landmarks.levels):
        pts = xy[i]
        review = bool((conf[i] == 0).any())
        note = notes[i]
        if not valid[i]:
            if not np.array_equal(pts, xy0[i]):
                pts, review = xy0[i], True
                conf[i] = 0.0
                note = "refined outline implausible; points kept as given"
        points[level] = pts
        provenance[level] = Provenance(
            "refined",
            tool=_TOOL,
            version=__version__,
            confidence=float(conf[i].min()),
            point_confidence=tuple(float(c) for c in conf[i]),
            needs_review=review,
            note=note,
        )
    try:
        return Landmarks(points, provenance=provenance, image=landmarks.image)
    except LandmarkError:
        return Landmarks(points, provenance=provenance, image=landmarks.image, validate=False)
