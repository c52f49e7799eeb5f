"""One click per vertebra: six points for each body from one point inside it.

The reader clicks once anywhere inside the central half of each vertebral body and names
its level (as SpineAnalyzer-style tools do). For each click the body outline is found by
strip profiles, with no coarse search of the image (``docs/refinement.md``):

1. A local frame: the spine axis from the chain of clicks (vertical for a lone click).
   The facing is ``facing`` or guessed once the bodies are found: beyond the posterior
   wall the pedicles and posterior elements are brighter, against the body, than the
   soft tissue, bowel or lung beyond the anterior wall (votes summed over the bodies).
2. Superior and inferior endplates along a central strip (the median of parallel
   profiles, so a rib crossing part of the strip does not move the edge), then both walls
   across the middle of the body, then each endplate again near each wall and each wall
   again near each endplate, so tilt and wedging are followed.
3. An edge is the strongest outward fall of brightness whose outer side reaches the dark
   level just beyond it (a disc, soft tissue); an inner edge of cement or a far cortex of
   the next body is not one.
4. The sides give the corners (line intersections) and the middle points; the outline is
   then finished by :func:`vcfmeasure.refine_landmarks`. A body whose edges are not found
   gets a box of typical size around the click, confidence 0, flagged for review.

All windows are fixed multiples of a typical body size (bounded; the image is never
searched beyond them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import __version__
from .._errors import LandmarkError, SpacingWarning, VcfMeasureError
from ..landmarks import Landmarks, Provenance, validate_bodies
from ..levels import LEVELS, normalize_level
from ..radiograph import Radiograph

__all__ = ["landmarks_from_centres", "typical_height_mm"]

TOOL = "vcfmeasure.oneclick"
#: Spacing assumed when the radiograph has none and one click gives no scale (mm/px).
DEFAULT_SPACING_MM = 0.15
#: Posterior body height (mm) of typical adult levels, for the search windows. Cervical
#: and sacral values are rough; T4-L5 follow the synthetic generator's LEVEL_TABLE.
_HEIGHT_ANCHORS = {"C2": 14.0, "C7": 14.5, "T1": 17.5, "T4": 19.0, "T12": 24.5, "L1": 25.5,
                   "L3": 27.5, "L5": 27.0, "S1": 25.0}
#: Body depth per height (T4: 27 / 19, L3: 40 / 27.5).
_DEPTH_PER_HEIGHT = 1.45
#: Samples per strip profile at most (bounds the work whatever the scale).
_MAX_SAMPLES = 400
_PROFILES_PER_STRIP = 9


def typical_height_mm(level: str) -> float:
    """Typical posterior body height of a level (mm), interpolated between anchors.

    Examples
    --------
    >>> typical_height_mm("L3")
    27.5
    >>> round(typical_height_mm("T8"), 2)
    21.75
    """
    i = LEVELS.index(normalize_level(level))
    xs = [LEVELS.index(k) for k in _HEIGHT_ANCHORS]
    return float(np.interp(i, xs, list(_HEIGHT_ANCHORS.values())))


# --------------------------------------------------------------------------- edges
def _strip(img, origin, along, across, s_hi, half_width, step, sigma):
    """Median profile of a strip: ``origin + s * along + t * across``.

    ``s`` runs from 0 to ``s_hi`` (px, outward), ``t`` over ``+-half_width``; returns the
    sample positions and the profile, smoothed by ``sigma`` samples.
    """
    from scipy import ndimage

    step = max(step, s_hi / (_MAX_SAMPLES - 1))
    s = np.arange(0.0, s_hi + 0.5 * step, step)
    t = np.linspace(-half_width, half_width, _PROFILES_PER_STRIP)
    pts = (origin[None, None, :] + s[None, :, None] * along[None, None, :]
           + t[:, None, None] * across[None, None, :])
    prof = ndimage.map_coordinates(img, [pts[..., 1], pts[..., 0]], order=1, mode="nearest")
    prof = np.median(prof, axis=0)
    if sigma / step > 0.3:
        prof = ndimage.gaussian_filter1d(prof, sigma / step, mode="nearest")
    return s, prof


def _edge(s, prof, lo, hi, gap, max_bright=np.inf):
    """Outer body edge on a profile within ``[lo, hi]`` (px), or None.

    The strongest outward fall over ``+-gap`` whose outer side is within 40 % of the fall
    of the darkest level in the next ``4 gap`` and whose inner side is at most
    ``max_bright`` above that dark level (cement is far brighter than bone); the position
    is the steepest point (parabola through the gradient peak). Returns (position, fall).
    """
    if s.size < 5:
        return None
    step = s[1] - s[0]
    k = max(int(round(gap / step)), 1)
    m = max(int(round(4 * gap / step)), 2)
    n = s.size
    g = -np.gradient(prof, step)
    idx = np.arange(n)
    inner = prof[np.clip(idx - k, 0, n - 1)]
    outer = prof[np.clip(idx + k, 0, n - 1)]
    amp = inner - outer
    from scipy import ndimage

    # darkest level in [i + k, i + k + m)
    first = ndimage.minimum_filter1d(prof, m, origin=-(m // 2), mode="nearest")
    beyond = first[np.clip(idx + k, 0, n - 1)]
    peak = np.zeros(n, bool)
    peak[1:-1] = (g[1:-1] >= g[:-2]) & (g[1:-1] > g[2:]) & (g[1:-1] > 0)
    ok = (peak & (amp > 0) & (s >= lo) & (s <= hi) & (outer - beyond < 0.4 * amp)
          & (inner - beyond <= max_bright))
    if not ok.any():
        return None
    i = int(np.argmax(np.where(ok, amp, -np.inf)))
    i = min(max(i, 1), n - 2)
    g0, g1, g2 = g[i - 1], g[i], g[i + 1]
    den = g0 - 2 * g1 + g2
    frac = 0.5 * (g0 - g2) / den if den < 0 else 0.0
    return float(s[i] + np.clip(frac, -0.5, 0.5) * step), float(amp[i])


class _Frame:
    """Body frame at a click: ``e`` posterior -> anterior, ``n`` cranial -> caudal."""

    def __init__(self, centre, n, facing_sign):
        self.c = np.asarray(centre, float)
        n = np.asarray(n, float) / np.hypot(*n)
        e = np.array([n[1], -n[0]])
        if e[0] * facing_sign < 0 or (e[0] == 0 and e[1] * facing_sign < 0):
            e = -e
        self.n, self.e, self.sign = n, e, facing_sign

    def xy(self, u, w):
        return self.c + u * self.e + w * self.n


def _find_body(img, frame, h_px, gap, sigma, max_bright=np.inf):
    """Six points (px) of the body around a frame's centre, or None; plus edge strength."""
    step = 0.5 if h_px < 200 else h_px / 400
    e, n = frame.e, frame.n

    def edge(u0, w0, direction, along_n, lo, hi, half_width):
        along = direction * (n if along_n else e)
        across = e if along_n else n
        s, prof = _strip(img, frame.xy(u0, w0), along, across, hi + 4 * gap, half_width,
                         step, sigma)
        got = _edge(s, prof, lo, hi, gap, max_bright)
        if got is None:
            return None
        # the position in the frame (the strip starts at (u0, w0))
        return (w0 if along_n else u0) + got[0] * direction, got[1]

    # 1. endplates through the click (the click lies in the central half: the edges are
    # 0.25-0.75 of the height away; allow +-30 % on the typical height)
    sup = edge(0.0, 0.0, -1, True, 0.12 * h_px, 1.0 * h_px, 0.15 * h_px)
    inf = edge(0.0, 0.0, +1, True, 0.12 * h_px, 1.0 * h_px, 0.15 * h_px)
    if sup is None or inf is None:
        return None
    w_sup, w_inf = sup[0], inf[0]
    h = w_inf - w_sup
    w_mid = 0.5 * (w_sup + w_inf)
    # a fracture lowers the height, not the depth: the walls are searched for at the
    # depth of at least 0.8 of the typical height whatever the height found
    depth = _DEPTH_PER_HEIGHT * max(h, 0.8 * h_px)
    # 2. walls across the lower middle of the body (the pedicles join the upper half)
    w_wall = w_mid + 0.2 * h
    post = edge(0.0, w_wall, -1, False, 0.15 * depth, 1.0 * depth, 0.12 * h)
    ant = edge(0.0, w_wall, +1, False, 0.15 * depth, 1.0 * depth, 0.12 * h)
    if post is None or ant is None:
        return None
    u_post, u_ant = post[0], ant[0]
    d = u_ant - u_post
    if not (0.6 * h < d < 4.0 * h):
        return None
    u_mid = 0.5 * (u_post + u_ant)
    # 3. endplates near each wall and in the middle; walls near each endplate
    ends = {}
    for name, u0 in (("p", u_post + 0.22 * d), ("m", u_mid), ("a", u_ant - 0.22 * d)):
        for side, w0, direction in (("s", w_sup, -1), ("i", w_inf, +1)):
            start = w_mid
            got = edge(u0, start, direction, True, abs(w0 - start) - 0.35 * h,
                       abs(w0 - start) + 0.35 * h, 0.08 * d)
            ends[side + name] = w0 if got is None else got[0]
    walls = {}
    for side, u0, direction in (("p", u_post, -1), ("a", u_ant, +1)):
        for name, w0 in (("s", w_sup + 0.25 * h), ("i", w_inf - 0.25 * h)):
            got = edge(u_mid, w0, direction, False, abs(u0 - u_mid) - 0.12 * d,
                       abs(u0 - u_mid) + 0.12 * d, 0.08 * h)
            walls[side + name] = u0 if got is None else got[0]

    def corner(plate, wall):
        # endplate line through (u_p, w_p), (u_a, w_a); wall line through its two points
        up, ua = u_post + 0.22 * d, u_ant - 0.22 * d
        wp, wa = ends[plate + "p"], ends[plate + "a"]
        ws, wi = w_sup + 0.25 * h, w_inf - 0.25 * h
        us, ui = walls[wall + "s"], walls[wall + "i"]
        # w = wp + (u - up) * kp ; u = us + (w - ws) * kw
        kp = (wa - wp) / (ua - up)
        kw = (ui - us) / (wi - ws)
        u = (us + (wp - up * kp - ws) * kw) / (1 - kp * kw)
        return u, wp + (u - up) * kp

    pts_uw = [corner("s", "p"), (u_mid, ends["sm"]), corner("s", "a"),
              corner("i", "a"), (u_mid, ends["im"]), corner("i", "p")]
    pts = np.array([frame.xy(u, w) for u, w in pts_uw])
    strength = float(np.median([sup[1], inf[1], post[1], ant[1]]))
    return pts, strength


def _reframe(pts, sign):
    """A frame on a found body: centred on its corners, ``e`` along its endplates."""
    e = (pts[2] - pts[0]) + (pts[3] - pts[5])
    e = e / np.hypot(*e)
    n = np.array([-e[1], e[0]])
    if n @ ((pts[3] + pts[5]) - (pts[0] + pts[2])) < 0:
        n = -n
    return _Frame(pts[[0, 2, 3, 5]].mean(axis=0), n, sign)


def _locate(img, frame, h, gap, sigma, max_bright=np.inf):
    """Find the body at a click, then again in a frame aligned with what was found."""
    got = _find_body(img, frame, h, gap, sigma, max_bright)
    if got is None:
        return None
    again = _find_body(img, _reframe(got[0], frame.sign), h, gap, sigma, max_bright)
    return got if again is None else again


def _blur_px(img, clicks, axes, h_px, sigma):
    """Edge blur (Gaussian SD, px) of the film: the endplate falls through the clicks.

    On strips from each click along the spine axis, the full width at half maximum of the
    strongest fall of brightness (2.355 SD for a blurred step), median over the clicks,
    less the smoothing applied here.
    """
    widths = []
    for c, n, h in zip(clicks, axes, h_px, strict=True):
        frame = _Frame(c, n, +1.0)
        for direction in (-1.0, 1.0):
            s, prof = _strip(img, c, direction * frame.n, frame.e, 1.1 * h, 0.15 * h, 0.5,
                             sigma)
            g = -np.gradient(prof, s[1] - s[0])
            ok = (s > 0.12 * h) & (s < h)
            if not ok.any() or not (g[ok] > 0).any():
                continue
            k = int(np.flatnonzero(ok)[np.argmax(g[ok])])
            half = g >= 0.5 * g[k]
            lo, hi = k, k
            while lo > 0 and half[lo - 1]:
                lo -= 1
            while hi < s.size - 1 and half[hi + 1]:
                hi += 1
            if 0 < lo and hi < s.size - 1:
                widths.append((hi - lo + 1) * (s[1] - s[0]))
    if not widths:
        return 0.0
    sd = float(np.median(widths)) / 2.355
    return math.sqrt(max(sd * sd - sigma * sigma, 0.0))


def _facing_vote(img, pts, h_px, sigma):
    """> 0 when the found body's ``-e`` wall (points 0, 5) is the posterior one.

    Beyond the posterior wall lie the pedicles and posterior elements, brighter (against
    the body's own brightness) than the soft tissue, bowel or lung beyond the anterior.
    """
    frame = _reframe(pts, +1.0)
    vals = []
    for wall, direction in (((0, 5), -1.0), ((2, 3), +1.0)):
        mid = pts[list(wall)].mean(axis=0)
        s, out = _strip(img, mid, direction * frame.e, frame.n, 0.7 * h_px, 0.3 * h_px,
                        max(1.0, h_px / 100), sigma)
        s_in, inside = _strip(img, mid, -direction * frame.e, frame.n, 0.3 * h_px,
                              0.3 * h_px, max(1.0, h_px / 100), sigma)
        vals.append(np.median(out[s > 0.1 * h_px]) - np.median(inside[s_in > 0.05 * h_px]))
    return float(vals[0] - vals[1])


def _axes(xy, levels):
    """Per click, the local cranial -> caudal direction of the chain of clicks.

    The tangent of a quadratic through the clicks (against the level index) where there
    are three or more, the chord to the neighbour for two, vertical for one.
    """
    k = len(xy)
    if k == 1:
        return np.array([[0.0, 1.0]])
    idx = np.array([LEVELS.index(lv) for lv in levels], float)
    deg = 2 if k >= 3 else 1
    out = np.empty_like(xy)
    for j in range(2):
        coef = np.polyfit(idx - idx.mean(), xy[:, j], deg)
        out[:, j] = np.polyval(np.polyder(coef), idx - idx.mean())
    norm = np.hypot(*out.T)[:, None]
    return np.where(norm > 0, out / np.where(norm > 0, norm, 1.0), [0.0, 1.0])


def _check_centres(centres, shape):
    if not isinstance(centres, Mapping) or not centres:
        raise LandmarkError(
            "centres must map level names to one (x, y) click each, e.g. {'L1': (412, 630)}"
        )
    rows, cols = shape
    out = {}
    for name, value in centres.items():
        level = normalize_level(name)
        try:
            xy = np.asarray(value, dtype=float).reshape(2)
        except (TypeError, ValueError):
            raise LandmarkError(f"{level}: the click must be one (x, y) pair, got {value!r}"
                                ) from None
        if not np.isfinite(xy).all():
            raise LandmarkError(f"{level}: the click {tuple(xy)} is not finite")
        if not (0 <= xy[0] <= cols - 1 and 0 <= xy[1] <= rows - 1):
            raise LandmarkError(
                f"{level}: the click ({xy[0]:.1f}, {xy[1]:.1f}) lies outside the image "
                f"({cols} x {rows} px); click inside the body"
            )
        if level in out:
            raise LandmarkError(f"{level}: level given twice")
        out[level] = xy
    return {lv: out[lv] for lv in LEVELS if lv in out}


def landmarks_from_centres(
    radiograph: Radiograph | np.ndarray,
    centres: Mapping[str, Any],
    *,
    facing: str | None = None,
    refine: bool = True,
) -> Landmarks:
    """Six points for each vertebral body from one click inside it.

    Parameters
    ----------
    radiograph : Radiograph or ndarray (R, C)
        Bone bright. Its spacing sets the search windows (typical body heights in mm);
        without one, adjacent clicks give the scale, and a lone click assumes 0.15 mm per
        pixel (with a :class:`~vcfmeasure.SpacingWarning`).
    centres : mapping level -> (x, y)
        One click (pixels) per vertebra, anywhere inside the central half of its body.
    facing : {"right", "left"}, optional
        The side the anterior of the bodies faces; guessed from the image when not given.
    refine : bool
        Finish each outline with :func:`vcfmeasure.refine_landmarks` (default).

    Returns
    -------
    Landmarks
        Provenance per level: method ``"detected"``, tool ``"vcfmeasure.oneclick"``,
        ``confidence`` and ``point_confidence`` from the refinement; ``needs_review``
        where the outline or a point could not be found (such a body gets a typical box
        around the click, confidence 0). ``image["facing"]`` records the facing used.

    Raises
    ------
    LandmarkError
        For an empty mapping, a click that is not a finite pair or lies off the image,
        or an unknown level name.
    VcfMeasureError
        For a ``facing`` that is not ``"right"`` or ``"left"``.

    Examples
    --------
    >>> import numpy as np
    >>> from vcfmeasure.synthetic import make_spine
    >>> spine = make_spine(["L1", "L2", "L3"], seed=2)
    >>> clicks = {lv: spine.landmarks[lv].mean(axis=0) for lv in spine.landmarks.levels}
    >>> lm = landmarks_from_centres(spine.radiograph, clicks, facing="right")
    >>> err = np.hypot(*(lm.array - spine.landmarks.array).reshape(-1, 2).T)
    >>> bool(np.median(err) * spine.radiograph.spacing[0] < 0.5)
    True
    """
    if facing not in (None, "right", "left"):
        raise VcfMeasureError(f"facing must be 'right', 'left' or None, got {facing!r}")
    if not isinstance(radiograph, Radiograph):
        radiograph = Radiograph(np.asarray(radiograph, dtype=np.float32))
    clicks = _check_centres(centres, radiograph.shape)
    levels = list(clicks)
    xy = np.array([clicks[lv] for lv in levels])
    heights_mm = np.array([typical_height_mm(lv) for lv in levels])
    if radiograph.spacing is not None:
        px_mm, scaled = math.sqrt(radiograph.spacing[0] * radiograph.spacing[1]), True
    else:
        px_mm, scaled = _scale_from_clicks(levels, xy, heights_mm)
    # the network needs a scale: the spacing, or adjacent clicks (not the default guess)
    model_bodies = _model_bodies(radiograph, xy, px_mm, facing) if scaled else None
    h_px = np.clip(heights_mm / px_mm, 8.0, max(radiograph.shape))
    gap = max(0.5 / px_mm, 1.5)
    sigma = max(0.15 / px_mm, 0.8)
    img, corner = _finite_crop(radiograph.pixels, xy, 2.5 * _DEPTH_PER_HEIGHT * h_px.max())
    local = xy - corner
    axes = _axes(local, levels)
    with np.errstate(all="ignore"):
        # soft (2-3 mm) edges need a wider step than crisp ones
        gap = max(gap, 1.2 * _blur_px(img, local, axes, h_px, sigma))
        # bodies are found in frames facing right; a left-facing film relabels them
        frames = [_Frame(c, n, +1.0) for c, n in zip(local, axes, strict=True)]
        first = [_locate(img, f, float(h), gap, sigma) for f, h in zip(frames, h_px, strict=True)]
        if facing is None:
            votes = [_facing_vote(img, g[0], float(h), sigma)
                     for g, h in zip(first, h_px, strict=True) if g is not None]
            sign = -1.0 if sum(v for v in votes if np.isfinite(v)) < 0 else 1.0
        else:
            sign = 1.0 if facing == "right" else -1.0
        # bone edges are much alike along one spine; an edge far brighter inside than
        # that (cement) is not the outline: locate again without such edges
        amps = [g[1] for g in first if g is not None]
        ref = float(np.median(amps)) if amps else np.inf
        limit = 2.0 * ref
        found: dict[str, np.ndarray] = {}
        failed: list[str] = []
        order = [2, 1, 0, 5, 4, 3] if sign < 0 else list(range(6))
        if model_bodies is not None and facing is None:
            sign = model_bodies[2]
            order = [2, 1, 0, 5, 4, 3] if sign < 0 else list(range(6))
        for k, (lv, f, h, g) in enumerate(zip(levels, frames, h_px, first, strict=True)):
            if model_bodies is not None and model_bodies[0][k] is not None:
                found[lv] = model_bodies[0][k]  # the network's body under the click
                continue
            again = len(amps) >= 2 and (g is None or g[1] > 1.3 * ref)
            got = _locate(img, f, float(h), gap, sigma, limit) if again else g
            pts = None if got is None else got[0][order] + corner
            if pts is not None and _valid(lv, pts):
                found[lv] = pts
            else:
                failed.append(lv)
                found[lv] = _typical_box(f, float(h))[order] + corner
    prov = {}
    if refine:
        ok = [lv for lv in levels if lv not in failed]
        if ok:
            from ._refine import refine_landmarks

            refined = refine_landmarks(radiograph, Landmarks({lv: found[lv] for lv in ok},
                                                             validate=False))
            for lv in ok:
                p = refined.provenance[lv]
                pc = np.array(p.point_confidence or (0.0,) * 6)
                found[lv] = np.array(refined[lv])
                prov[lv] = _provenance(float(pc.min()), pc, p.needs_review,
                                       "from one click; points refined" if not p.needs_review
                                       else "from one click; some points not confirmed by "
                                       "the edges (check them)")
    for lv in levels:
        if lv in failed:
            prov[lv] = _provenance(0.0, np.zeros(6), True,
                                   "from one click; body edges not found: a typical box "
                                   "around the click (place its points)")
        elif lv not in prov:
            prov[lv] = _provenance(0.5, np.full(6, 0.5), False, "from one click; not refined")
    image = {"shape": tuple(radiograph.shape), "spacing": radiograph.spacing,
             "spacing_source": radiograph.spacing_source,
             "facing": "right" if sign > 0 else "left"}
    if radiograph.path:
        image["path"] = radiograph.path
    try:
        return Landmarks(found, provenance=prov, image=image)
    except LandmarkError:
        return Landmarks(found, provenance=prov, image=image, validate=False)


def _model_bodies(radiograph, xy, px_mm, facing):
    """The detection network's bodies under the clicks, when it can run.

    Returns ``(bodies, peaks, sign)`` (see ``_refine_model.bodies_at_clicks``; ``sign``
    +1 when anterior is towards +x) or None without onnxruntime.
    """
    from ._refine_model import bodies_at_clicks, network_available

    if not network_available():
        return None

    with np.errstate(all="ignore"):
        bodies, peaks = bodies_at_clicks(radiograph.pixels, xy, px_mm, facing)
    got = [b for b in bodies if b is not None]
    if not got:
        return None
    right = sum(float(b[2, 0] - b[0, 0]) for b in got) >= 0
    return bodies, peaks, 1.0 if right else -1.0


def _provenance(conf, pc, review, note):
    return Provenance("detected", tool=TOOL, version=__version__, confidence=round(conf, 4),
                      point_confidence=tuple(round(float(c), 4) for c in pc),
                      needs_review=bool(review), note=note)


def _valid(level, pts):
    if not np.isfinite(pts).all():
        return False
    try:
        validate_bodies((level,), pts[None])
    except LandmarkError:
        return False
    return True


def _typical_box(frame, h):
    d = _DEPTH_PER_HEIGHT * h
    uw = [(-d / 2, -h / 2), (0, -h / 2), (d / 2, -h / 2), (d / 2, h / 2), (0, h / 2),
          (-d / 2, h / 2)]
    return np.array([frame.xy(u, w) for u, w in uw])


def _scale_from_clicks(levels, xy, heights_mm):
    """Scale (mm per pixel) without a spacing: adjacent clicks are a body and a disc apart.

    Returns the scale and whether clicks gave it (``False``: the default, with a warning).
    """
    idx = np.array([LEVELS.index(lv) for lv in levels])
    adjacent = np.flatnonzero(np.diff(idx) == 1)
    if adjacent.size:
        px = np.hypot(*(xy[adjacent + 1] - xy[adjacent]).T)
        mm = 1.2 * 0.5 * (heights_mm[adjacent] + heights_mm[adjacent + 1])  # body + disc
        good = px > 0
        if good.any():
            return float(np.median(mm[good] / px[good])), True
    warnings.warn(
        f"no pixel spacing and no adjacent clicks to give the scale: one-click placement "
        f"assumes {DEFAULT_SPACING_MM} mm per pixel; give the spacing "
        "(load_image(..., spacing=...)) or click adjacent levels",
        SpacingWarning, stacklevel=3,
    )
    return DEFAULT_SPACING_MM, False


def _finite_crop(pixels, xy, margin):
    """Float32 crop around the clicks (never beyond the image), non-finite pixels filled."""
    rows, cols = pixels.shape
    lo = np.clip(np.floor(xy.min(axis=0) - margin), 0, [cols - 1, rows - 1]).astype(int)
    hi = np.clip(np.ceil(xy.max(axis=0) + margin) + 1, 1, [cols, rows]).astype(int)
    crop = np.asarray(pixels[lo[1]:hi[1], lo[0]:hi[0]], dtype=np.float32)
    finite = np.isfinite(crop)
    if not finite.all():
        fill = np.float32(np.median(crop[finite])) if finite.any() else np.float32(0)
        crop = np.where(finite, crop, fill)
    return crop, lo.astype(float)
