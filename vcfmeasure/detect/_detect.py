"""``detect_landmarks``: every vertebral body in a lateral radiograph, six points each.

Pipeline (details in ``docs/detection.md``):

1. Coarse stage (``_features``, ``_bodies``): the image is resampled to 0.5 mm per
   pixel, a bank of multi-scale filters is scored by a tiny network (trained on the
   synthetic generator by ``benchmarks/train_detector.py``) for "inside a body core", and
   the thresholded map is split into connected cores. Cores touching the image border are
   cut bodies and are not reported.
2. The cores are chained cranial -> caudal; gaps of a whole body (an unreadable vertebra)
   are filled by interpolation and flagged for review; the side of the posterior
   elements gives the film's facing.
3. Fine stage (``_fit``): each body's four sides are located to sub-pixel precision and
   the six points (docs/reference.md section 1) are read from the fitted sides.
4. Levels are named from ``levels=`` (all of them, or one anchor), or guessed from body
   sizes (``level_guessed=True``). Each vertebra gets a confidence; below
   :data:`REVIEW_THRESHOLD` it is flagged ``needs_review`` and :func:`vcfmeasure.grade`
   leaves it ungraded.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from .._errors import ImageError, LandmarkError, SpacingWarning, VcfMeasureError
from ..landmarks import Landmarks, Provenance, validate_bodies
from ..levels import LEVELS, level_index, normalize_level
from ..radiograph import Radiograph
from ._bodies import find_candidates
from ._features import WORK_MM, coarse_to_full, facing_profile, full_to_coarse, load_facing
from ._fit import fit_body

__all__ = ["detect_landmarks", "REVIEW_THRESHOLD", "DEFAULT_SPACING_MM"]

TOOL = "vcfmeasure.detect"
VERSION = __version__
#: Vertebrae whose confidence is below this are flagged ``needs_review``.
REVIEW_THRESHOLD = 0.5
#: Spacing assumed when the radiograph has none (mm per pixel; a typical CR/DR detector
#: at the patient plane). Detection needs a physical scale; a warning says so.
DEFAULT_SPACING_MM = 0.15
#: A body with a point closer than this to the image border (mm) is cut: not reported.
BORDER_MM = 1.0
#: Summed log-odds of the facing classifier below which every vertebra is flagged.
FACING_MIN_LOG_ODDS = 3.0
#: A refined point farther than this from the detector's (mm) keeps the detector's.
AGREE_MM = 1.5
#: Cores smaller than this fraction of the largest core are not bodies.
MIN_AREA_FRACTION = 0.15
#: Centre-to-centre step between adjacent bodies per body depth (T4: (19 + 3.8) / 27,
#: L3: (27.5 + 6.3) / 40, L5: (27 + 6.5) / 42; heights and discs of the synthetic
#: generator's LEVEL_TABLE).
PITCH_PER_DEPTH = 0.83
#: Most bodies inferred in one gap of the chain.
MAX_GAP = 2
#: Confidence given to a body inferred from a gap between its neighbours.
GAP_CONFIDENCE = 0.05

# Typical posterior height and depth (mm) per level, T1-L5 (T4-L5 as in the synthetic
# generator's LEVEL_TABLE, T1-T3 extrapolated), for guessing level names from sizes.
_SIZE_MM = {
    "T1": (17.5, 25.5), "T2": (18.0, 26.0), "T3": (18.5, 26.5),
    "T4": (19.0, 27.0), "T5": (19.5, 27.5), "T6": (20.0, 28.0), "T7": (20.5, 29.0),
    "T8": (21.2, 30.0), "T9": (22.0, 31.0), "T10": (22.8, 32.0), "T11": (23.6, 33.0),
    "T12": (24.5, 34.0), "L1": (25.5, 36.0), "L2": (26.5, 38.0), "L3": (27.5, 40.0),
    "L4": (27.5, 41.0), "L5": (27.0, 42.0),
}


@dataclass
class _Body:
    points: np.ndarray  # (6, 2) full-image pixels
    confidence: float
    point_confidence: tuple[float, ...]
    note: str | None = None
    inferred: bool = False
    thoracic: float = 0.5  # probability that the body is thoracic (ribs, lung anterior)


def _spacing_of(radiograph: Radiograph) -> float:
    if radiograph.spacing is None:
        warnings.warn(
            f"{radiograph.path or 'radiograph'}: no pixel spacing; detection assumes "
            f"{DEFAULT_SPACING_MM} mm per pixel. Give the spacing (load_image(..., "
            "spacing=...)) for reliable detection",
            SpacingWarning,
            stacklevel=3,
        )
        return DEFAULT_SPACING_MM
    row, col = radiograph.spacing
    return float(np.sqrt(row * col))


def _frames(cands, facing_sign):
    """Per candidate: unit (e, n) with e posterior->anterior, n cranial->caudal."""
    out = []
    for c in cands:
        e = c.axis_ap.copy()
        if e[0] * facing_sign < 0:
            e = -e
        n = np.array([-e[1], e[0]])
        if n[1] < 0:
            n = -n
        out.append((e, n))
    return out


def _facing(image, cands, spacing_mm):
    """+1 when anterior is to the right (+x), -1 when to the left.

    A logistic classifier (``models/facing_lr.npz``) reads the brightness profile
    through each body along its long axis (posterior elements and paraspinal muscle on
    one side, soft tissue or lung on the other); the log-odds are summed over bodies.
    """
    w, b = load_facing()
    score = 0.0
    for c in cands:
        e = c.axis_ap if c.axis_ap[0] >= 0 else -c.axis_ap
        prof = facing_profile(image, full_to_coarse(c.centre, spacing_mm), e)
        score += float(prof @ w + b)  # > 0: +e (pointing right) is anterior
    return (1.0 if score >= 0 else -1.0), score


def _confidence(fit, prob, step_ref):
    """Vertebra confidence and per-point confidence from the side fits."""
    res_q = np.exp(-((np.minimum(fit.resid_mm, 10.0) / 0.6) ** 2))
    inl_q = np.clip(fit.inliers, 0.0, 1.0)
    step_q = np.clip(fit.step / max(0.5 * step_ref, 1e-6), 0.0, 1.0)
    side_q = (res_q * inl_q * step_q) ** (1 / 3)
    prob_q = float(np.clip((prob - 0.5) / 0.3, 0.0, 1.0))
    conf = float((np.prod(side_q) ** 0.25) * (0.5 + 0.5 * prob_q))
    s, a, i, p = side_q  # superior, anterior, inferior, posterior
    point = (
        np.sqrt(s * p), s, np.sqrt(s * a), np.sqrt(i * a), i, np.sqrt(i * p),
    )
    return conf, tuple(float(v) for v in point)


def _plausible(points) -> str | None:
    """The validation message for an implausible single-body outline, else None."""
    try:
        validate_bodies(("L1",), points[None])
    except LandmarkError as err:
        return str(err)
    return None


def _heights_mm(points, spacing_mm):
    sp, sm, sa, ia, im, ip = points
    hp = np.hypot(*(ip - sp)) * spacing_mm
    depth = 0.5 * (np.hypot(*(sa - sp)) + np.hypot(*(ia - ip))) * spacing_mm
    return hp, depth


def _cut_by_border(points, shape, spacing_mm) -> bool:
    """True when a point lies within :data:`BORDER_MM` of the image border or outside."""
    m = BORDER_MM / spacing_mm
    rows, cols = shape
    x, y = points[:, 0], points[:, 1]
    return bool(((x < m) | (y < m) | (x > cols - 1 - m) | (y > rows - 1 - m)).any())


def _fill_gaps(bodies: list[_Body], spacing_mm: float) -> list[_Body]:
    """Insert interpolated, flagged bodies where a whole body is missing in the chain.

    The expected centre-to-centre step between neighbours is :data:`PITCH_PER_DEPTH`
    times their mean depth (body plus disc; depth, unlike height, survives fractures).
    A step of at least ``1.7`` expected steps holds a missing body (``2.7``: two).
    """
    if len(bodies) < 2:
        return bodies
    cent = np.array([b.points.mean(axis=0) for b in bodies])
    depth = np.array([_heights_mm(b.points, spacing_mm)[1] for b in bodies]) / spacing_mm
    d = np.hypot(*(np.diff(cent, axis=0)).T)
    expected = PITCH_PER_DEPTH * 0.5 * (depth[:-1] + depth[1:])
    gaps = np.clip(np.floor(d / expected + 0.3).astype(int) - 1, 0, MAX_GAP)
    out = [bodies[0]]
    for k in range(1, len(bodies)):
        missing = int(gaps[k - 1])
        a, b = bodies[k - 1], bodies[k]
        if min(a.confidence, b.confidence) < REVIEW_THRESHOLD:
            missing = 0  # only between two trusted bodies
        for m in range(1, missing + 1):
            f = m / (missing + 1)
            shape = 0.5 * ((a.points - a.points.mean(0)) + (b.points - b.points.mean(0)))
            centre = (1 - f) * a.points.mean(0) + f * b.points.mean(0)
            out.append(
                _Body(
                    centre + shape, GAP_CONFIDENCE, (GAP_CONFIDENCE,) * 6,
                    note="no body found here: interpolated between its neighbours",
                    inferred=True,
                )
            )
        out.append(b)
    return out


def _naming_cost(bodies: list[_Body], names: list[str], spacing_mm: float) -> float:
    """How well ``names`` fit ``bodies`` (same length), from sizes and thoracic look.

    The squared log deviation of the body sizes from typical sizes (:data:`_SIZE_MM`, an
    overall scale removed; SD ~ 5 %) plus the negative log-likelihood of the thoracic
    classifier (ribs, lung). Names outside T1-L5 cost nothing for size.
    """
    real = [k for k, b in enumerate(bodies) if not b.inferred and names[k] in _SIZE_MM]
    if not real:
        return 0.0
    sizes = np.array([_heights_mm(bodies[k].points, spacing_mm) for k in real])
    ref = np.log(np.array([_SIZE_MM[names[k]] for k in real]))
    p_thor = np.clip([bodies[k].thoracic for k in real], 0.02, 0.98)
    # depth is robust to fractures; posterior height less so: weight depth more
    wts = np.array([0.35, 1.0])
    diff = np.log(sizes) - ref
    scale = np.median(diff, axis=0).mean()
    cost = float((((diff - scale) ** 2) * wts).sum()) / (2 * 0.05**2)
    cost += 0.5 * (scale / 0.1) ** 2
    thor = np.array([names[k].startswith("T") for k in real])
    return cost + float(-np.log(np.where(thor, p_thor, 1 - p_thor)).sum())


def _guess_levels(bodies: list[_Body], spacing_mm: float) -> list[str]:
    """Name a run of bodies: the T1-L5 run with the lowest :func:`_naming_cost`."""
    names = list(_SIZE_MM)
    n = len(bodies)
    if n > len(names):
        raise ImageError(f"{n} bodies found, more than T1-L5: give levels= to name them")
    runs = [names[s : s + n] for s in range(len(names) - n + 1)]
    costs = [_naming_cost(bodies, run, spacing_mm) for run in runs]
    return runs[int(np.argmin(costs))]


def _name_levels(bodies, levels, anchor, spacing_mm):
    """Level names for ``bodies`` (cranial -> caudal) and whether they are guessed."""
    n = len(bodies)
    if levels is None:
        return _guess_levels(bodies, spacing_mm), True, bodies
    if isinstance(levels, str):
        levels = [levels]
    names = [normalize_level(lv) for lv in levels]
    if len(names) == 1:
        i = level_index(names[0])
        start = i - (n - 1) if anchor == "caudal" else i
        if start < 0 or start + n > len(LEVELS):
            raise VcfMeasureError(
                f"anchor {names[0]} as the {anchor} body leaves {n} bodies outside C2-S1; "
                "check the anchor or give anchor='cranial'/'caudal'"
            )
        return list(LEVELS[start : start + n]), False, bodies
    idx = [level_index(lv) for lv in names]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise VcfMeasureError(
            f"levels {names} are not a contiguous cranial -> caudal run; give the levels "
            "in view, e.g. ['T12', 'L1', 'L2'], or one anchor level"
        )
    if len(names) == n:
        return names, False, bodies
    if len(names) < n:
        # more bodies than named levels: keep the contiguous run of trusted bodies that
        # the names fit best (sizes, thoracic look)
        k = len(names)
        cost = [
            _naming_cost(bodies[s : s + k], names, spacing_mm)
            + 10.0 * sum(b.confidence < REVIEW_THRESHOLD for b in bodies[s : s + k])
            for s in range(n - k + 1)
        ]
        start = int(np.argmin(cost))
        return names, False, bodies[start : start + k]
    # fewer bodies than named levels: place them by size within the given run
    guess = _guess_levels(bodies, spacing_mm)
    gi = level_index(guess[0])
    start = int(np.clip(gi, idx[0], idx[-1] - n + 1))
    return list(LEVELS[start : start + n]), True, bodies


def detect_landmarks(
    radiograph: Radiograph | np.ndarray,
    *,
    levels: Sequence[str] | str | None = None,
    anchor: str = "caudal",
    review_threshold: float = REVIEW_THRESHOLD,
    refine: bool = True,
    centres: Mapping[str, Any] | None = None,
) -> Landmarks:
    """Find every whole vertebral body in a lateral radiograph and place six points on each.

    With ``centres`` (one click per vertebra, ``{"L1": (x, y), ...}``) there is no search:
    six points are placed on each clicked body by
    :func:`vcfmeasure.detect.landmarks_from_centres` (``levels`` and ``anchor`` unused).

    Parameters
    ----------
    radiograph : Radiograph or ndarray (R, C)
        Bone bright. Its spacing sets the physical scale the detector works at (an array
        or a radiograph without spacing is taken as 0.15 mm per pixel, with a
        :class:`~vcfmeasure.SpacingWarning`).
    levels : sequence of str or str, optional
        The levels in view, cranial -> caudal (as many as there are whole bodies), or a
        single anchor level naming the ``anchor`` end of the detected run. Without it the
        levels are guessed from body sizes and the provenance says ``level_guessed``.
    anchor : {"caudal", "cranial"}
        Which end of the detected run a single anchor level names (default: the lowest
        whole body in the image).
    review_threshold : float
        Vertebrae with a confidence below this are flagged ``needs_review`` (not graded
        by :func:`vcfmeasure.grade`).
    refine : bool
        Finish with :func:`vcfmeasure.refine_landmarks` (edge snapping with the midway
        rule for double contours); a point it cannot improve keeps the detector's
        position.
    centres : mapping level -> (x, y), optional
        One click (pixels) inside the central half of each body: one-click placement.

    Returns
    -------
    Landmarks
        ``(x, y)`` pixels, cranial -> caudal; provenance per level: method
        ``"detected"``, tool ``"vcfmeasure.detect"``, ``confidence`` (0-1),
        ``point_confidence`` (6), ``level_guessed``, ``needs_review``. Partial bodies cut
        by the image border are not reported. A body missing between two found ones
        (unreadable) is reported with interpolated points and flagged.

    Raises
    ------
    ImageError
        When no vertebral body is found.
    VcfMeasureError
        For levels that are not contiguous or an anchor that does not fit.

    Examples
    --------
    >>> from vcfmeasure.synthetic import make_spine
    >>> spine = make_spine(["T12", "L1", "L2"], seed=7, imager_spacing_mm=0.3)
    >>> lm = detect_landmarks(spine.radiograph, levels="L2")
    >>> lm.levels
    ('T12', 'L1', 'L2')
    >>> lm.provenance["L1"].method, lm.provenance["L1"].needs_review
    ('detected', False)
    """
    if centres is not None:
        from ._oneclick import landmarks_from_centres

        return landmarks_from_centres(radiograph, centres, refine=refine)
    if anchor not in ("caudal", "cranial"):
        raise VcfMeasureError(f"anchor must be 'caudal' or 'cranial', got {anchor!r}")
    if not isinstance(radiograph, Radiograph):
        radiograph = Radiograph(np.asarray(radiograph, dtype=np.float32))
    spacing_mm = _spacing_of(radiograph)
    pixels = np.asarray(radiograph.pixels, np.float32)
    where = radiograph.path or "radiograph"
    cands, labels, prob, bright = find_candidates(pixels, spacing_mm)
    whole = [c for c in cands if not c.partial]
    whole = _on_spine(whole, spacing_mm)
    if not whole:
        raise ImageError(
            f"{where}: no whole vertebral body found; is this a lateral spine radiograph "
            "with bone bright, and is the pixel spacing right?"
        )
    facing, facing_score = _facing(bright, whole, spacing_mm)
    frames = _frames(whole, facing)
    fits = []
    for c, (e, n) in zip(whole, frames, strict=True):
        core = labels == c.label
        yy, xx = np.nonzero(core)
        full = coarse_to_full(np.stack([xx, yy], 1), spacing_mm)
        rel = (full - c.centre) * spacing_mm
        uu, ww = rel @ e, rel @ n
        ext = (uu.min() - 0.5 * WORK_MM, uu.max() + 0.5 * WORK_MM,
               ww.min() - 0.5 * WORK_MM, ww.max() + 0.5 * WORK_MM)
        fits.append(fit_body(pixels, spacing_mm, c.centre, e, n, core, ext))
    step_ref = float(np.median([np.median(f.step) for f in fits]))
    e_of = {c.label: e for c, (e, _) in zip(whole, frames, strict=True)}
    w_thor, b_thor = load_facing("thoracic")
    bodies = []
    for c, f in zip(whole, fits, strict=True):
        conf, pconf = _confidence(f, c.prob, step_ref)
        problem = _plausible(f.points)
        note, pts = None, f.points
        if problem:
            pts = f.box
            conf, note = min(conf, 0.1), "sides not found; outline is the coarse box"
            pconf = (min(conf, 0.1),) * 6
        if _cut_by_border(pts, pixels.shape, spacing_mm):
            continue  # a body cut by the image border is not reported
        prof = facing_profile(bright, full_to_coarse(c.centre, spacing_mm), e_of[c.label])
        p_thor = 1.0 / (1.0 + np.exp(-float(prof @ w_thor + b_thor)))
        bodies.append(_Body(pts, conf, pconf, note, thoracic=p_thor))
    bodies = _fill_gaps(bodies, spacing_mm)
    bodies = [b for b in bodies if _plausible(b.points) is None]
    if not bodies:
        raise ImageError(f"{where}: no plausible vertebral body outline found")
    names, guessed, bodies = _name_levels(bodies, levels, anchor, spacing_mm)
    prov = {}
    unsure = abs(facing_score) < FACING_MIN_LOG_ODDS
    for name, b in zip(names, bodies, strict=True):
        if unsure:
            b.confidence = min(b.confidence, 0.25)
            b.note = (b.note + "; " if b.note else "") + (
                "film facing uncertain: anterior and posterior may be swapped"
            )
        prov[name] = Provenance(
            "detected", tool=TOOL, version=VERSION, confidence=round(b.confidence, 4),
            point_confidence=tuple(round(p, 4) for p in b.point_confidence),
            level_guessed=guessed, needs_review=b.confidence < review_threshold,
            note=b.note,
        )
    pts = {name: b.points for name, b in zip(names, bodies, strict=True)}
    if refine:
        pts, prov = _refined(radiograph, pts, prov, spacing_mm, review_threshold)
    image = {
        "shape": tuple(radiograph.shape),
        "spacing": radiograph.spacing,
        "spacing_source": radiograph.spacing_source,
        "facing": "right" if facing > 0 else "left",
        "facing_log_odds": round(abs(facing_score), 2),
    }
    if radiograph.path:
        image["path"] = radiograph.path
    try:
        return Landmarks(pts, provenance=prov, image=image)
    except LandmarkError:
        # inconsistent between levels (e.g. one body's sides swapped): keep them, flagged
        prov = {k: _flag(v, "inconsistent with its neighbours") for k, v in prov.items()}
        return Landmarks(pts, provenance=prov, image=image, validate=False)


def _refined(radiograph, pts, prov, spacing_mm, review_threshold):
    """Snap the detected points with ``refine_landmarks``.

    A point moves to the refined position where ``refine_landmarks`` is confident and
    agrees with the detector within :data:`AGREE_MM`; otherwise it keeps the detector's
    position. The two locate edges differently (column-wise steepest change in an
    aligned patch versus polarity-tested profiles), so a larger disagreement marks an
    ambiguous edge: the vertebra's confidence falls with it (halved near 2.1 mm).
    Returns the points and the updated provenance.
    """
    from dataclasses import replace

    from ._refine import refine_landmarks

    todo = {k: v for k, v in pts.items() if not prov[k].needs_review}
    if not todo:
        return pts, prov
    try:
        ref = refine_landmarks(radiograph, Landmarks(todo, validate=False))
    except VcfMeasureError:
        return pts, prov
    out, new_prov = dict(pts), dict(prov)
    for lv in ref.levels:
        pc = np.asarray(ref.provenance[lv].point_confidence or (0.0,) * 6)
        moved = np.hypot(*(ref[lv] - pts[lv]).T) * spacing_mm
        finite = np.isfinite(ref[lv]).all(axis=1) & np.isfinite(moved)
        take = finite & (pc > 0) & (moved < AGREE_MM)
        new = np.where(take[:, None], ref[lv], pts[lv])
        if _plausible(new) is None:
            out[lv] = new
        dis = float(np.max(np.where(finite & (pc > 0), moved, 0.0)))
        factor = float(np.exp(-0.5 * (max(dis - AGREE_MM, 0.0) / 0.5) ** 2))
        if factor < 1.0:
            p = prov[lv]
            conf = p.confidence * factor
            pcs = tuple(
                round(c * (1.0 if m < AGREE_MM or not f else factor), 4)
                for c, m, f in zip(p.point_confidence, moved, finite, strict=True)
            )
            note = f"edge ambiguous: two edge locators differ by {dis:.1f} mm"
            new_prov[lv] = replace(
                p, confidence=round(conf, 4), point_confidence=pcs,
                needs_review=p.needs_review or conf < review_threshold,
                note=(p.note + "; " if p.note else "") + note,
            )
    return out, new_prov


def _flag(p: Provenance, why: str) -> Provenance:
    from dataclasses import replace

    return replace(p, needs_review=True, note=(p.note + "; " if p.note else "") + why)


def _on_spine(cands, spacing_mm):
    """Drop candidates far off the chain of body centres (ribs, posterior elements).

    First cores much smaller than the largest one (less than :data:`MIN_AREA_FRACTION`;
    a grade-3 crushed T4 core keeps about a fifth of an L-level core), then, with three or
    more left, cores off a robust line/quadratic through the centres.
    """
    if not cands:
        return cands
    area = np.array([k.area_mm2 for k in cands])
    cands = [k for k, a in zip(cands, area, strict=True) if a >= MIN_AREA_FRACTION * area.max()]
    if len(cands) < 3:
        return cands
    c = np.array([k.centre for k in cands])
    area = np.array([k.area_mm2 for k in cands])
    keep = np.ones(len(cands), bool)
    for _ in range(3):
        deg = 2 if keep.sum() >= 5 else 1
        coef = np.polyfit(c[keep, 1], c[keep, 0], deg)
        off_mm = np.abs(c[:, 0] - np.polyval(coef, c[:, 1])) * spacing_mm
        width = np.sqrt(np.median(area[keep]))  # mm, about a core's height
        new_keep = off_mm < 0.6 * width + 3.0
        if new_keep.sum() < 2 or (new_keep == keep).all():
            break
        keep = new_keep
    return [k for k, f in zip(cands, keep, strict=True) if f]
