"""``detect_landmarks``: every vertebral body in a lateral radiograph, six points each.

Pipeline (details in ``docs/detection.md``):

1. View check: a DICOM View Position (0018,5101) other than lateral, or a blank image,
   is refused with an :class:`~vcfmeasure.ImageError`.
2. Learned stage (``_cnn``): the film is resampled to 1 mm per pixel and a small U-Net
   (``models/body_cnn.onnx``, trained by ``benchmarks/train_detector_cnn.py``, run with
   onnxruntime) returns a body-core map and one heatmap per landmark. Cores are the
   bodies; each body's six points are its nearest heatmap peaks, to a fraction of a
   model pixel. Without a pixel spacing the scale is searched and then estimated from
   the body sizes (with a warning).
3. Off-chain detections are dropped, bodies cut by the border are not reported, a
   whole body missing between two trusted ones is interpolated and flagged, the film's
   facing is read from the points (anterior corners against posterior ones).
4. Levels are named from ``levels=`` (any order, or one anchor), or guessed from body
   sizes and thoracic look (``level_guessed=True``). Each vertebra gets a confidence
   (the heatmap peaks and the core probability); below :data:`REVIEW_THRESHOLD` it is
   flagged ``needs_review`` and :func:`vcfmeasure.grade` leaves it ungraded.
5. ``refine=True`` snaps the points on the full-resolution image with
   :func:`vcfmeasure.refine_landmarks`, keeping a point where the two disagree.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .. import __version__
from .._errors import ImageError, LandmarkError, SpacingWarning, VcfMeasureError
from ..geometry import body_frame
from ..landmarks import Landmarks, Provenance, validate_bodies
from ..levels import LEVELS, level_index, normalize_level
from ..radiograph import Radiograph, working_pixels
from . import _cnn
from ._features import WORK_MM, _resample, facing_profile, load_facing

__all__ = ["detect_landmarks", "REVIEW_THRESHOLD"]

TOOL = "vcfmeasure.detect"
VERSION = __version__
#: Vertebrae whose confidence is below this are flagged ``needs_review``.
REVIEW_THRESHOLD = 0.5
#: Spacings tried (mm per pixel) when the radiograph has none; the best is then refined
#: from the body sizes.
SEARCH_SPACINGS_MM = (0.06, 0.09, 0.135, 0.2, 0.3, 0.45, 0.7)
#: A body with a point closer than this to the image border (mm) is cut: not reported.
BORDER_MM = 1.0
#: A body at either end of the chain with a point this close to the border (mm) is taken
#: as cut by it and not reported.
END_BORDER_MM = 2.5
#: A refined point farther than this from the detector's (mm) keeps the detector's.
AGREE_MM = 1.5
#: Bodies whose core is smaller than this fraction of the median core are not bodies.
MIN_AREA_FRACTION = 0.2
#: Mean evidence per body (heatmap difference between anterior and posterior corners,
#: summed over the two endplates) below which the film's facing is uncertain and every
#: vertebra is flagged.
FACING_MIN_EVIDENCE = 0.1
#: Summed log-odds of the facing profile classifier from which it decides the facing.
FACING_MIN_LOGODDS = 4.0
#: A body whose outline gradient is below this fraction of the film's median is edgeless.
EDGELESS_FRACTION = 0.3
#: A detection needs every landmark heatmap peak at least this high (else: not a body).
MIN_PEAK = 0.15
#: Centre-to-centre step between adjacent bodies per body depth (T4: (19 + 3.8) / 27,
#: L3: (27.5 + 6.3) / 40, L5: (27 + 6.5) / 42; heights and discs of the synthetic
#: generator's LEVEL_TABLE).
PITCH_PER_DEPTH = 0.83
#: Most bodies inferred in one gap of the chain.
MAX_GAP = 2
#: Confidence given to a body inferred from a gap between its neighbours.
GAP_CONFIDENCE = 0.05
#: DICOM View Position (0018,5101) values that are lateral views.
LATERAL_VIEWS = ("LL", "RL", "LAT", "LATERAL", "LEFT LATERAL", "RIGHT LATERAL")
#: Defined View Position terms that are not lateral (PS3.3 C.8.11.5.1.1 and common use).
NOT_LATERAL_VIEWS = ("AP", "PA", "RLD", "LLD", "RLO", "LLO", "OBL", "OBLIQUE", "AXIAL")

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


def _cut_by_border(points, shape, spacing_mm, border_mm: float = BORDER_MM) -> bool:
    """True when a point lies within ``border_mm`` of the image border or outside."""
    m = border_mm / spacing_mm
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


#: With more bodies than the names given, the run the names fit best is kept; when another
#: run fits within this much (negative log-likelihood of :func:`_naming_cost`), the names
#: are marked guessed (``level_guessed``): sizes alone cannot tell the runs apart.
NAMING_MARGIN = 2.0


def _naming_cost(bodies: list[_Body], names: list[str], spacing_mm: float,
                 scale_sd: float = 0.1) -> float:
    """How well ``names`` fit ``bodies`` (same length), from sizes and thoracic look.

    The squared log deviation of the body sizes from typical sizes (:data:`_SIZE_MM`, an
    overall scale removed; SD ~ 5 %; the scale itself has a log-SD of ``scale_sd``) plus
    the negative log-likelihood of the thoracic classifier (ribs, lung). Names outside
    T1-L5 cost nothing for size.
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
    cost += 0.5 * (scale / scale_sd) ** 2
    thor = np.array([names[k].startswith("T") for k in real])
    return cost + float(-np.log(np.where(thor, p_thor, 1 - p_thor)).sum())


def _guess_levels(bodies: list[_Body], spacing_mm: float, scale_sd: float = 0.1) -> list[str]:
    """Name a run of bodies: the T1-L5 run with the lowest :func:`_naming_cost`."""
    names = list(_SIZE_MM)
    n = len(bodies)
    if n > len(names):
        raise ImageError(f"{n} bodies found, more than T1-L5: give levels= to name them")
    runs = [names[s : s + n] for s in range(len(names) - n + 1)]
    costs = [_naming_cost(bodies, run, spacing_mm, scale_sd) for run in runs]
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
    # any order (a caudal -> cranial list, as read off a film from the bottom, is common)
    if len(set(names)) != len(names):
        raise VcfMeasureError(f"levels {names}: a level is named twice")
    names = sorted(names, key=level_index)
    idx = [level_index(lv) for lv in names]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise VcfMeasureError(
            f"levels {names} are not a contiguous run (a level is missing between them); "
            "give the levels in view, e.g. ['T12', 'L1', 'L2'], or one anchor level"
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
        order = np.argsort(cost, kind="stable")
        start = int(order[0])
        # a runner-up within NAMING_MARGIN (log-likelihood) makes the choice a guess
        close = len(cost) > 1 and cost[int(order[1])] - cost[start] < NAMING_MARGIN
        return names, bool(close), bodies[start : start + k]
    # fewer bodies than named levels: place them by size within the given run
    guess = _guess_levels(bodies, spacing_mm)
    gi = level_index(guess[0])
    start = int(np.clip(gi, idx[0], idx[-1] - n + 1))
    return list(LEVELS[start : start + n]), True, bodies


def _check_view(radiograph: Radiograph, where: str) -> None:
    """Refuse a DICOM that says it is not a lateral view, and a blank image."""
    view = str(radiograph.metadata.get("view_position") or "").strip().upper()
    if view in NOT_LATERAL_VIEWS:
        raise ImageError(
            f"{where}: DICOM View Position (0018,5101) is {view!r}, not a lateral view; "
            "detect_landmarks reads lateral spine radiographs only (use the lateral film, "
            "or place the landmarks by hand)"
        )
    px = np.asarray(radiograph.pixels)
    if px.ndim != 2 or min(px.shape) < 16:
        raise ImageError(f"{where}: a {px.shape} image is not a lateral spine radiograph")
    step = max(1, int(max(px.shape) // 512))
    sub = np.asarray(px[::step, ::step], np.float64)
    bad = int(sub.size - np.count_nonzero(np.isfinite(sub)))
    if bad:
        raise ImageError(
            f"{where}: {bad} of {sub.size} sampled pixels are not finite (NaN or inf); "
            "fill or mask them before detection"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = np.percentile(sub, [1.0, 99.0])
    if not np.isfinite(hi - lo) or hi - lo <= 1e-6 * max(abs(hi), 1.0):
        raise ImageError(
            f"{where}: the image is blank (grey levels {lo:g}-{hi:g}): no spine in view; "
            "check the file and its window / photometric interpretation"
        )


def _run(pixels: np.ndarray, spacing_mm: float) -> tuple[list[_cnn.Candidate], float]:
    """Network candidates (full-image pixels, corner pairs in the film's facing).

    Also returns the summed evidence for the facing (> 0: anterior towards +x).
    """
    prob, step = _cnn.predict(pixels, spacing_mm)
    cands = _cnn.decode(prob)
    evidence = float(sum(c.anterior_right for c in cands if c.peaks.min() >= MIN_PEAK))
    facing = 1.0 if evidence >= 0 else -1.0
    for c in cands:
        c.points = _cnn.to_full(c.points, step)
        _orient(c, facing)
    return cands, evidence


def _score(cands: list[_cnn.Candidate]) -> float:
    """How much a set of candidates looks like a spine (for the scale search).

    The summed confidence of the plausible candidates confident enough not to be flagged
    (at a wrong scale the network finds many weak blobs, or a few faint bodies).
    """
    conf = [_confidence(c)[0] for c in cands if _plausible(c.points) is None]
    return float(sum(c for c in conf if c >= REVIEW_THRESHOLD))


def _search_scale(pixels: np.ndarray, where: str) -> float:
    """A spacing (mm per pixel) for a film without one, from the body sizes.

    The network is run at each of :data:`SEARCH_SPACINGS_MM`; at the spacing whose
    detections look most like bodies, their depths (``sa``-``sp``, ``ia``-``ip``) and
    posterior heights are compared with the typical sizes of the levels they fit best
    (:func:`_guess_levels`), and the ratio's median sets the spacing.
    """
    best, best_score, best_sp = [], -1.0, SEARCH_SPACINGS_MM[0]
    for sp in SEARCH_SPACINGS_MM:
        if max(pixels.shape) * sp < 60.0 or min(pixels.shape) * sp > 1200.0:
            continue  # a field under 6 cm or a side over 1.2 m: no spine at this scale
        cands, _ = _run(pixels, sp)
        score = _score(cands)
        if score > best_score:
            best, best_score, best_sp = cands, score, sp
    bodies = [
        _Body(c.points, 1.0, (1.0,) * 6) for c in best
        if _plausible(c.points) is None and _confidence(c)[0] >= REVIEW_THRESHOLD
    ]
    if not bodies:
        raise ImageError(
            f"{where}: no pixel spacing and no vertebral body found at any scale: is this a "
            "lateral spine radiograph with bone bright? Give the spacing if it is"
        )
    bodies.sort(key=lambda b: float(b.points[:, 1].mean()))
    bodies = bodies[: len(_SIZE_MM)]
    bright = ndimage.gaussian_filter(_resample(pixels, best_sp, WORK_MM)[0], 2.0 / WORK_MM)
    for b in bodies:
        b.thoracic = _thoracic(bright, b, best_sp)
    # the grid step is a factor 1.5: a weak prior on the overall scale
    names = _guess_levels(bodies, best_sp, scale_sd=0.3)
    ratio = [
        np.array(_SIZE_MM[n]) / np.array(_heights_mm(b.points, 1.0))
        for n, b in zip(names, bodies, strict=False)
    ]
    spacing = float(np.median(np.array(ratio)[:, 1]))  # depth: robust to fractures
    warnings.warn(
        f"{where}: no pixel spacing; detection estimated {spacing:.3f} mm per pixel from "
        f"the sizes of {len(ratio)} bodies against typical sizes (within about 25 %). The "
        "landmarks are in pixels and measure() reports pixels: give the spacing "
        "(load_image(..., spacing=...) or --spacing) for results in mm",
        SpacingWarning,
        stacklevel=3,
    )
    return spacing


def _on_chain(bodies: list[_Body], spacing_mm: float) -> list[_Body]:
    """Drop detections off the chain of body centres (ribs, posterior elements, pelvis).

    First bodies much smaller than the median (area below :data:`MIN_AREA_FRACTION`),
    then, with three or more left, those off a robust line / quadratic through the
    centres (x as a function of y) by more than 0.6 body depths.
    """
    if len(bodies) < 3:
        return bodies
    c = np.array([b.points.mean(axis=0) for b in bodies])
    depth = np.array([_heights_mm(b.points, spacing_mm)[1] for b in bodies])
    keep = np.ones(len(bodies), bool)
    for _ in range(3):
        deg = 2 if keep.sum() >= 5 else 1
        coef = np.polyfit(c[keep, 1], c[keep, 0], deg)
        off_mm = np.abs(c[:, 0] - np.polyval(coef, c[:, 1])) * spacing_mm
        new_keep = off_mm < 0.6 * np.median(depth[keep]) + 3.0
        if new_keep.sum() < 2 or (new_keep == keep).all():
            break
        keep = new_keep
    return [b for b, k in zip(bodies, keep, strict=True) if k]


def _facing(cands: list[_cnn.Candidate], evidence: float, bright: np.ndarray,
            spacing_mm: float) -> tuple[float, bool]:
    """The film's facing (+1: anterior towards +x) and whether it is sure.

    Two cues: the network's corner evidence (``evidence``, from :func:`_run`) and the
    profile classifier (``models/facing_lr.npz``: log-odds that +x is anterior from the
    brightness profile along each body, summed over the bodies with a heatmap peak of
    at least :data:`MIN_PEAK`). The profile decides when its summed log-odds reach
    :data:`FACING_MIN_LOGODDS`; the network's evidence otherwise. The facing is unsure
    when the deciding cue is weak, or when both cues are strong and disagree.
    """
    logits = (_profile_logit(bright, c.points, spacing_mm, "facing", towards_plus_x=True)
              for c in cands if c.peaks.min() >= MIN_PEAK)
    z = [v for v in logits if v is not None]
    logodds, n = float(sum(z)), len(z)
    net_strong = abs(evidence) >= FACING_MIN_EVIDENCE * max(n, 1)
    if abs(logodds) >= FACING_MIN_LOGODDS:
        facing = 1.0 if logodds > 0 else -1.0
        sure = not (net_strong and np.sign(evidence) != facing)
        return facing, sure
    return (1.0 if evidence >= 0 else -1.0), net_strong


def _edge_strength(grad: np.ndarray, points: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Median gradient magnitude of ``grad`` (work grid) along each outline ``(N, 6, 2)``."""
    t = np.linspace(0.0, 1.0, 8, endpoint=False)[:, None]
    nxt = np.roll(points, -1, axis=1)
    samples = points[:, :, None, :] + t * (nxt - points)[:, :, None, :]  # (N, 6, 8, 2)
    xy = (samples.reshape(len(points), -1, 2) + 0.5) * spacing_mm / WORK_MM - 0.5
    vals = ndimage.map_coordinates(grad, [xy[..., 1].ravel(), xy[..., 0].ravel()], order=1,
                                   mode="nearest")
    return np.median(vals.reshape(len(points), -1), axis=1)


def _flag_edgeless(bodies: list[_Body], bright: np.ndarray, spacing_mm: float) -> None:
    """Flag bodies whose outline shows no edge: placed from context, not from the film.

    The network can put a plausible body where the film shows none (a blanked or
    unreadable body between readable ones). A body whose median gradient along its
    outline is below :data:`EDGELESS_FRACTION` of the median over the film's bodies gets
    a confidence of at most 0.25 and says why.
    """
    if len(bodies) < 2:
        return
    grad = ndimage.gaussian_gradient_magnitude(bright, 1.0)
    strength = _edge_strength(grad, np.stack([b.points for b in bodies]), spacing_mm)
    ref = float(np.median(strength))
    for b, g in zip(bodies, strength, strict=True):
        if g < EDGELESS_FRACTION * ref:
            b.confidence = min(b.confidence, 0.25)
            b.point_confidence = tuple(min(c, 0.25) for c in b.point_confidence)
            b.note = "no edges seen along this body's outline: placed from its neighbours"


def _trim_ends(bodies: list[_Body], shape, spacing_mm: float) -> list[_Body]:
    """Drop bodies near the border at the ends of the chain (cut bodies).

    The network places corners on what it sees of a body the border cuts, so a cut body
    can look whole; at the chain's ends it would shift every name given by an anchor.
    An end body with a point within :data:`END_BORDER_MM` of the border is dropped
    (repeatedly, from both ends).
    """
    out = list(bodies)
    while out and _cut_by_border(out[0].points, shape, spacing_mm, END_BORDER_MM):
        out.pop(0)
    while out and _cut_by_border(out[-1].points, shape, spacing_mm, END_BORDER_MM):
        out.pop()
    return out


def _orient(c: _cnn.Candidate, facing: float) -> None:
    """Put each corner pair of ``c`` in the film's facing (anterior towards ``facing`` x)."""
    for post, ant in ((0, 2), (5, 3)):
        if (c.points[ant, 0] - c.points[post, 0]) * facing < 0:
            c.points[[post, ant]] = c.points[[ant, post]]
            c.peaks[[post, ant]] = c.peaks[[ant, post]]


def _profile_logit(bright: np.ndarray, points: np.ndarray, spacing_mm: float, kind: str,
                   towards_plus_x: bool = False) -> float | None:
    """Log-odds of a profile classifier (:func:`load_facing`) for one body.

    The profile runs along the body's long axis (posterior -> anterior corners as given,
    or towards +x with ``towards_plus_x``); None for a degenerate body.
    """
    w, b = load_facing(kind)
    e = 0.5 * ((points[2] - points[0]) + (points[3] - points[5]))
    norm = float(np.hypot(*e))
    if norm < 1e-9:
        return None
    e = e / norm
    if towards_plus_x and e[0] < 0:
        e = -e
    centre = (points.mean(axis=0) + 0.5) * spacing_mm / WORK_MM - 0.5
    return float(facing_profile(bright, centre, e) @ w + b)


def _thoracic(bright: np.ndarray, body: _Body, spacing_mm: float) -> float:
    """Probability that ``body`` is thoracic, from the profile through it (ribs, lung)."""
    z = _profile_logit(bright, body.points, spacing_mm, "thoracic")
    return 0.5 if z is None else 1.0 / (1.0 + np.exp(-z))


def _confidence(c: _cnn.Candidate) -> tuple[float, tuple[float, ...]]:
    """Vertebra confidence and per-point confidence from the heatmap peaks and the core.

    A point's confidence is its heatmap peak (1 on a training target's centre); the
    vertebra's is the geometric mean of the six peaks and the weakest one (one doubtful
    point makes a doubtful vertebra), times the core's mean probability rescaled from
    0.5-0.9 to 0.5-1.
    """
    pk = np.clip(c.peaks, 1e-6, 1.0)
    core_q = float(np.clip((c.core_prob - 0.5) / 0.4, 0.0, 1.0))
    conf = float(np.sqrt(np.exp(np.log(pk).mean()) * pk.min()) * (0.5 + 0.5 * core_q))
    return conf, tuple(float(v) for v in pk)


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
        Bone bright. Its spacing sets the physical scale the detector works at. Without
        one (an array, a JPEG/PNG export) the scale is found from the body sizes, with a
        :class:`~vcfmeasure.SpacingWarning`; the points are in pixels either way.
    levels : sequence of str or str, optional
        The levels in view, in any order (as many as there are whole bodies), or a
        single anchor level naming the ``anchor`` end of the detected run. Without it the
        levels are guessed from body sizes and the provenance says ``level_guessed``.
    anchor : {"caudal", "cranial"}
        Which end of the detected run a single anchor level names (default: the lowest
        whole body in the image).
    review_threshold : float
        Vertebrae with a confidence below this are flagged ``needs_review`` (not graded
        by :func:`vcfmeasure.grade`).
    refine : bool
        Finish with :func:`vcfmeasure.refine_landmarks` on the full-resolution image
        (edge snapping with the midway rule for double contours); a point it cannot
        improve, or moves by more than :data:`AGREE_MM`, keeps the network's position.
    centres : mapping level -> (x, y), optional
        One click (pixels) inside the central half of each body: one-click placement.

    Returns
    -------
    Landmarks
        ``(x, y)`` pixels, cranial -> caudal; provenance per level: method
        ``"detected"``, tool ``"vcfmeasure.detect"``, ``confidence`` (0-1),
        ``point_confidence`` (6), ``level_guessed``, ``needs_review``, ``note`` (why a
        vertebra is flagged). Partial bodies cut by the image border are not reported. A
        body missing between two found ones (unreadable) is reported with interpolated
        points and flagged. ``image`` records the shape, spacing, ``facing`` and, without
        a spacing, ``estimated_spacing_mm``.

    Raises
    ------
    ImageError
        When the DICOM View Position is not lateral (AP, PA, oblique, decubitus), the
        image is blank, or no vertebral body is found (not a lateral spine radiograph).
    VcfMeasureError
        For levels that are not contiguous or an anchor that does not fit.
    MissingDependencyError
        When onnxruntime (the ``detect`` extra) is not installed.

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
    from .._checks import check_detect

    check_detect(radiograph, levels, anchor, review_threshold, refine)
    if centres is not None:
        from ._oneclick import landmarks_from_centres

        return landmarks_from_centres(radiograph, centres, refine=refine)
    if anchor not in ("caudal", "cranial"):
        raise VcfMeasureError(f"anchor must be 'caudal' or 'cranial', got {anchor!r}")
    if not isinstance(radiograph, Radiograph):
        radiograph = Radiograph(np.asarray(radiograph, dtype=np.float32))
    where = radiograph.path or "radiograph"
    _check_view(radiograph, where)
    pixels = working_pixels(radiograph.pixels)
    estimated = None
    if radiograph.spacing is None:
        spacing_mm = estimated = _search_scale(pixels, where)
    else:
        row, col = radiograph.spacing
        spacing_mm = float(np.sqrt(row * col))
    cands, evidence = _run(pixels, spacing_mm)
    bright = ndimage.gaussian_filter(_resample(pixels, spacing_mm, WORK_MM)[0], 2.0 / WORK_MM)
    facing, facing_sure = _facing(cands, evidence, bright, spacing_mm)
    for c in cands:
        _orient(c, facing)
    bodies: list[_Body] = []
    for c in cands:
        if c.peaks.min() < MIN_PEAK or _cut_by_border(c.points, pixels.shape, spacing_mm):
            continue  # not a body, or a body cut by the image border: not reported
        conf, pconf = _confidence(c)
        bodies.append(_Body(c.points, conf, pconf))
    if bodies:
        area = np.array([_area_mm2(b.points, spacing_mm) for b in bodies])
        bodies = [b for b, a in zip(bodies, area, strict=True)
                  if a >= MIN_AREA_FRACTION * np.median(area)]
    bodies = [b for b in bodies if _plausible(b.points) is None]
    bodies.sort(key=lambda b: float(b.points[:, 1].mean()))
    bodies = _on_chain(bodies, spacing_mm)
    bodies = _trim_ends(bodies, pixels.shape, spacing_mm)
    if not bodies:
        raise ImageError(
            f"{where}: no vertebral body found: not a lateral spine radiograph (AP/PA, "
            "oblique, skull or chest without the spine in view?), or bone is not bright; "
            "check the view, the photometric interpretation and the pixel spacing"
        )
    _flag_edgeless(bodies, bright, spacing_mm)
    if not facing_sure:
        for b in bodies:
            b.confidence = min(b.confidence, 0.25)
            b.note = "film facing uncertain: anterior and posterior may be swapped"
    for b in bodies:
        b.thoracic = _thoracic(bright, b, spacing_mm)
    bodies = _fill_gaps(bodies, spacing_mm)
    names, guessed, bodies = _name_levels(bodies, levels, anchor, spacing_mm)
    if guessed and levels is not None and not isinstance(levels, str) and len(levels) > 1:
        why = ("level names guessed: the levels given fit more than one run of the bodies "
               "found; give one anchor level (levels='L1') to name them")
        for b in bodies:
            b.note = f"{b.note}; {why}" if b.note else why
    prov = {}
    for name, b in zip(names, bodies, strict=True):
        prov[name] = Provenance(
            "detected", tool=TOOL, version=VERSION, confidence=round(b.confidence, 4),
            point_confidence=tuple(round(p, 4) for p in b.point_confidence),
            level_guessed=guessed, needs_review=b.confidence < review_threshold,
            note=b.note if b.note else (
                f"confidence {b.confidence:.2f} below {review_threshold}"
                if b.confidence < review_threshold else None),
        )
    pts = {name: b.points for name, b in zip(names, bodies, strict=True)}
    if refine:
        pts, prov = _refined(radiograph, pts, prov, spacing_mm, review_threshold)
    image: dict = {
        "shape": tuple(radiograph.shape),
        "spacing": radiograph.spacing,
        "spacing_source": radiograph.spacing_source,
        "facing": "right" if facing > 0 else "left",
    }
    if estimated is not None:
        image["estimated_spacing_mm"] = round(estimated, 4)
    if radiograph.path:
        image["path"] = radiograph.path
    try:
        return Landmarks(pts, provenance=prov, image=image)
    except LandmarkError:
        # inconsistent between levels (e.g. one body's sides swapped): keep them, the odd
        # ones flagged (all of them when no single culprit is found)
        odd = _odd_bodies(pts)
        prov = {k: _flag(v, "inconsistent with its neighbours") if odd[k] else v
                for k, v in prov.items()}
        return Landmarks(pts, provenance=prov, image=image, validate=False)


def _odd_bodies(pts: dict[str, np.ndarray]) -> dict[str, bool]:
    """Which bodies disagree with the majority's facing or cranial direction."""
    names = list(pts)
    xy = np.stack([pts[k] for k in names])
    _, cranial, hand = body_frame(xy)
    c = xy.mean(axis=1)
    up = c[0] - c[-1]
    up = up / max(float(np.hypot(*up)), 1e-9)
    major = 1.0 if (hand > 0).sum() > (hand < 0).sum() else -1.0
    odd = (hand != major) | (cranial @ up <= 0)
    if not odd.any() or odd.all():
        odd[:] = True
    return dict(zip(names, odd.tolist(), strict=True))


def _area_mm2(points: np.ndarray, spacing_mm: float) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * abs(x @ np.roll(y, -1) - y @ np.roll(x, -1))) * spacing_mm**2


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
        ref = refine_landmarks(radiograph, Landmarks(todo, validate=False), model=False)
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


