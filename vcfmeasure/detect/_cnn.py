"""The learned stage of ``detect_landmarks``: a small U-Net run with onnxruntime.

The network (trained by ``benchmarks/train_detector_cnn.py``, shipped as
``models/body_cnn.onnx`` with its manifest ``models/body_cnn.json``) reads the film
resampled to :data:`MODEL_MM` per pixel in two channels (:func:`prepare`) and returns seven
maps of the same size (logits): the vertebral-body core (the body eroded by
:data:`CORE_MM`, so that discs separate neighbours) and one heatmap per landmark
``sp sm sa ia im ip``. :func:`decode` splits the core map into bodies and reads each
body's six points, to a fraction of a model pixel, from the heatmap peaks nearest to
its core. Everything here except :func:`run_model` is plain NumPy/SciPy, so that the
training script prepares its inputs with exactly the same code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from .._errors import MissingDependencyError

__all__ = ["MODEL_MM", "CORE_MM", "HEAT_SIGMA_MM", "prepare", "to_full", "run_model", "predict", "decode"]

#: Model grid spacing (mm per pixel).
MODEL_MM = 1.0
#: The core label is the body eroded by this much (mm).
CORE_MM = 1.5
#: Standard deviation of the landmark heatmaps (mm).
HEAT_SIGMA_MM = 1.5
#: The network downsamples four times: inputs are padded to a multiple of this.
MULTIPLE = 16
#: Average the maps of the film and of its mirror image (mirrored back). On development
#: films (CT TRAIN seeds 300000+, 16 films; synthetic training families, seed 3000, 30
#: films) it lowered the median point error from 0.83 to 0.73 mm on CT films and left the
#: synthetic median at 0.16 mm, for twice the network time. (Averaging in maps at 0.85
#: and 1.15 mm per model pixel as well, tried on the same films, found fewer bodies on CT
#: (65 against 67 of 70) for a worse median (0.76 mm): not used.)
MIRROR_AVERAGE = True
#: A heatmap peak farther than this from its body's core (mm) belongs to no body (every
#: landmark lies on the body outline, 1.5 mm outside the core by construction).
OWNER_MM = 5.0
#: Cores smaller than this (mm^2) are not bodies (a grade-3 T4 core is about 100 mm^2).
MIN_CORE_MM2 = 40.0
#: Two bodies across a thin disc can share one core component at 0.5; it is split where
#: it separates at one of these higher probabilities ...
SPLIT_PROBS = (0.7, 0.85, 0.95)
#: ... or after an erosion by one of these radii (mm), ...
SPLIT_ERODE_MM = (1.0, 2.0, 3.0)
#: ... into pieces of at least this area (mm^2) each, every part then >= MIN_CORE_MM2.
SPLIT_SEED_MM2 = 15.0

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_PATH = MODEL_DIR / "body_cnn.onnx"
MANIFEST_PATH = MODEL_DIR / "body_cnn.json"


def _block_mean(img: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return img
    r, c = (img.shape[0] // k) * k, (img.shape[1] // k) * k
    # rows, then columns: two contiguous reductions (4x faster than one over both axes)
    rows = img[:r, :c].reshape(r // k, k, c).sum(axis=1, dtype=np.float32)
    return rows.reshape(r // k, c // k, k).sum(axis=2, dtype=np.float32) / np.float32(k * k)


def prepare(pixels: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, float]:
    """The network input: the film at :data:`MODEL_MM` per pixel, two channels.

    Parameters
    ----------
    pixels : ndarray (R, C)
        The film, bone bright, any numeric type.
    spacing_mm : float
        Its pixel spacing (mm per pixel).

    Returns
    -------
    x : ndarray (2, H, W) float32
        Channel 0: grey levels scaled so that the 1st and 99th percentiles map to 0 and 1;
        channel 1: local contrast (the image minus its 8 mm Gaussian background, over the
        16 mm local mean absolute deviation), clipped to +-4.
    step : float
        Full-image pixels per model pixel (``MODEL_MM / spacing_mm``).

    Examples
    --------
    >>> x, step = prepare(np.zeros((300, 200)), 0.5)
    >>> x.shape, step
    ((2, 150, 100), 2.0)
    """
    img = np.asarray(pixels, dtype=np.float32)
    step = MODEL_MM / float(spacing_mm)
    k = max(int(np.floor(step)), 1)
    small = _block_mean(img, k)
    rows = max(int(round(img.shape[0] / step)), 1)
    cols = max(int(round(img.shape[1] / step)), 1)
    # model pixel u has its centre at full-image coordinate (u + 0.5) * step - 0.5, which is
    # block coordinate (x + 0.5) / k - 0.5
    r = ((np.arange(rows) + 0.5) * step) / k - 0.5
    c = ((np.arange(cols) + 0.5) * step) / k - 0.5
    if step / k > 1.0 + 1e-6:
        small = ndimage.gaussian_filter(small, 0.5 * np.sqrt((step / k) ** 2 - 1), mode="nearest")
    g = ndimage.map_coordinates(small, np.meshgrid(r, c, indexing="ij"), order=1, mode="nearest")
    g = g.astype(np.float32)
    lo, hi = np.percentile(g, [1.0, 99.0])
    base = (g - lo) / max(float(hi - lo), 1e-6)
    hp = base - ndimage.gaussian_filter(base, 8.0 / MODEL_MM, mode="nearest")
    dev = ndimage.gaussian_filter(np.abs(hp), 16.0 / MODEL_MM, mode="nearest")
    local = np.clip(hp / (dev + 1e-3), -4.0, 4.0)
    return np.stack([np.clip(base, -1.0, 2.0), local]).astype(np.float32), step


def to_full(xy: np.ndarray, step: float) -> np.ndarray:
    """Model-grid ``(x, y)`` coordinates to full-image pixels (any shape ``(..., 2)``).

    Examples
    --------
    >>> to_full(np.array([0.0, 1.0]), 2.0)
    array([0.5, 2.5])
    """
    return (np.asarray(xy, float) + 0.5) * step - 0.5


@lru_cache(maxsize=1)
def _session():
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise MissingDependencyError(
            "detect_landmarks needs onnxruntime to run its network: "
            "pip install 'vcfmeasure[detect]'"
        ) from err
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(MODEL_PATH), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def model_sha256() -> str:
    """SHA-256 of the shipped ONNX file (hex).

    Examples
    --------
    >>> len(model_sha256())
    64
    """
    return hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()


def manifest() -> dict:
    """The training manifest written next to the model (seed, data, hash, timings)."""
    return json.loads(MANIFEST_PATH.read_text())


def run_model(x: np.ndarray, *, mirror: bool | None = None) -> np.ndarray:
    """Run the network on a prepared input ``(2, H, W)``; returns ``(7, H, W)`` probabilities.

    The input is zero-padded to a multiple of :data:`MULTIPLE` and the output cropped back.
    With ``mirror`` (``None``: :data:`MIRROR_AVERAGE`) the network also runs on the input
    mirrored left-right and the two maps are averaged, the second mirrored back: the maps
    name anatomy (anterior, posterior), so mirroring the output back puts every map on
    the same body parts, and the average halves the part of the error that is not
    symmetric (see docs/detection.md, *Mirror averaging*).

    Raises
    ------
    MissingDependencyError
        When onnxruntime is not installed (the ``detect`` extra).
    """
    prob = _run_once(x)
    if MIRROR_AVERAGE if mirror is None else mirror:
        prob = 0.5 * (prob + _run_once(np.ascontiguousarray(x[:, :, ::-1]))[:, :, ::-1])
    return np.ascontiguousarray(prob, dtype=np.float32)


def _run_once(x: np.ndarray) -> np.ndarray:
    sess = _session()
    _, h, w = x.shape
    ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
    xp = np.pad(x, ((0, 0), (0, ph), (0, pw)))[None]
    (out,) = sess.run(None, {sess.get_inputs()[0].name: xp})
    logits = np.asarray(out[0, :, :h, :w], np.float32)
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


def predict(pixels: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, float]:
    """The network's maps ``(7, H, W)`` for a film, and its step.

    :func:`prepare`, then :func:`run_model` (mirror-averaged).
    """
    x, step = prepare(pixels, spacing_mm)
    return run_model(x), step


@dataclass
class Candidate:
    """One body read from the maps: six points in model-grid pixels and their evidence."""

    points: np.ndarray  # (6, 2) model pixels, sp sm sa ia im ip
    peaks: np.ndarray  # (6,) heatmap peak values (0-1)
    core_prob: float  # mean core probability over the component
    area_mm2: float
    anterior_right: float  # evidence (heatmap difference) that anterior is towards +x


def _subpixel(heat: np.ndarray, r: int, c: int) -> np.ndarray:
    """``(x, y)`` of the peak at integer ``(r, c)``, refined by a log-parabola per axis."""
    h, w = heat.shape
    r, c = int(np.clip(r, 1, h - 2)), int(np.clip(c, 1, w - 2))
    off = []
    for dr, dc in ((1, 0), (0, 1)):
        a, b, d = (float(np.log(max(heat[r + k * dr, c + k * dc], 1e-6))) for k in (-1, 0, 1))
        den = a - 2 * b + d
        off.append(float(np.clip(0.5 * (a - d) / den, -0.5, 0.5)) if den < -1e-9 else 0.0)
    return np.array([c + off[1], r + off[0]])


def _peaks(heat: np.ndarray, mask: np.ndarray, k: int, sep: float) -> list[tuple[int, int]]:
    """Up to ``k`` highest points of ``heat`` inside ``mask``, at least ``sep`` px apart."""
    h = np.where(mask, heat, -1.0)
    out: list[tuple[int, int]] = []
    rr, cc = np.mgrid[0 : h.shape[0], 0 : h.shape[1]]
    for _ in range(k):
        i = int(np.argmax(h))
        r, c = divmod(i, h.shape[1])
        if h[r, c] < 0:
            break
        out.append((r, c))
        h = np.where((rr - r) ** 2 + (cc - c) ** 2 < sep**2, -1.0, h)
    return out


def _seeds(p: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, int]:
    """The finest valid split of one core component (see :func:`split_cores`)."""
    best, best_n = comp.astype(np.int32), 1
    tries = [comp & (p > t) for t in SPLIT_PROBS]
    for r_mm in SPLIT_ERODE_MM:
        r = max(int(round(r_mm / MODEL_MM)), 1)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        tries.append(ndimage.binary_erosion(comp, yy**2 + xx**2 <= r * r))
    for mask in tries:
        lab, n = ndimage.label(mask)
        if n < 2:
            continue
        area = ndimage.sum_labels(mask, lab, np.arange(1, n + 1)) * MODEL_MM**2
        big = np.flatnonzero(area >= SPLIT_SEED_MM2) + 1
        if len(big) <= best_n:
            continue
        rank = np.zeros(n + 1, np.int32)
        rank[big] = np.arange(1, len(big) + 1)  # the kept pieces, numbered 1..len(big)
        seeds = rank[lab]
        _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
        parts = np.where(comp, seeds[iy, ix], 0)
        sizes = np.bincount(parts.ravel(), minlength=len(big) + 1)[1:] * MODEL_MM**2
        if (sizes >= MIN_CORE_MM2).all():
            best, best_n = parts, len(big)
    return best, best_n


def split_cores(core_prob: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the body cores (probability > 0.5), splitting components that hold several.

    Neighbours across a thin disc may touch at 0.5. A component is split along its
    narrow waist where it falls apart into several pieces of at least
    :data:`SPLIT_SEED_MM2` at a higher probability (:data:`SPLIT_PROBS`) or after an
    erosion (:data:`SPLIT_ERODE_MM`), each piece then growing back over the pixels
    nearest to it; the split with the most pieces whose parts all reach
    :data:`MIN_CORE_MM2` is kept.

    Examples
    --------
    >>> p = np.zeros((40, 30)); p[4:18, 5:25] = 0.9; p[22:36, 5:25] = 0.9
    >>> p[18:22, 8:22] = 0.6  # a bridge across the disc
    >>> split_cores(p)[1]
    2
    """
    lab0, n0 = ndimage.label(core_prob > 0.5)
    out = np.zeros(lab0.shape, np.int32)
    n = 0
    for k, box in enumerate(ndimage.find_objects(lab0)):
        if box is None:
            continue
        comp = lab0[box] == k + 1
        parts, m = _seeds(core_prob[box], comp)
        view = out[box]
        view[comp] = parts[comp] + n
        n += m
    return out, n


def decode(prob: np.ndarray) -> list[Candidate]:
    """Bodies from the network's maps ``(7, H, W)`` (probabilities), in model pixels.

    Cores (probability > 0.5, at least :data:`MIN_CORE_MM2`) are the bodies; every pixel
    within :data:`OWNER_MM` of a core belongs to its nearest core. The middle points are
    the highest ``sm`` / ``im`` heatmap values a body owns. Corners are read in pairs,
    so that a network unsure of which side is anterior cannot put both on one side: the
    two highest peaks (half a core size apart) of the superior corner maps
    ``max(sp, sa)`` are the superior corners, and of ``max(ia, ip)`` the inferior ones;
    which of each pair is anterior is decided by the ``sa - sp`` (``ia - ip``) heatmap
    difference at the two, and recorded in ``anterior_right`` for the film's facing.
    Every position is refined by a log-parabola through its neighbours.

    Examples
    --------
    >>> maps = np.zeros((7, 40, 40)); maps[0, 10:30, 12:32] = 0.9
    >>> yy, xx = np.mgrid[:40, :40]
    >>> for k, (x, y) in enumerate([(10, 8), (22, 8), (34, 8), (34, 32), (22, 32), (10, 32)]):
    ...     maps[k + 1] = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 4.5)
    >>> c = decode(maps)[0]
    >>> c.points.round(2).tolist()[:3], c.anterior_right > 0
    ([[10.0, 8.0], [22.0, 8.0], [34.0, 8.0]], True)
    """
    core = prob[0] > 0.5
    lab, n = split_cores(prob[0])
    if n == 0:
        return []
    idx = np.arange(1, n + 1)
    area = ndimage.sum_labels(core, lab, idx) * MODEL_MM**2
    mean_p = ndimage.mean(prob[0], lab, idx)
    dist, (iy, ix) = ndimage.distance_transform_edt(lab == 0, return_indices=True)
    owner = lab[iy, ix]
    owner[dist * MODEL_MM > OWNER_MM] = 0
    boxes = ndimage.find_objects(owner, max_label=n)
    out = []
    for k in range(n):
        if area[k] < MIN_CORE_MM2 or boxes[k] is None:
            continue
        box = boxes[k]
        mask = owner[box] == k + 1
        maps = prob[(slice(None), *box)]
        r0, c0 = box[0].start, box[1].start
        pts = np.zeros((6, 2))
        peaks = np.zeros(6)
        for ch in (1, 4):  # sm, im
            heat = maps[ch + 1]
            (r, c), = _peaks(heat, mask, 1, 0)
            pts[ch] = _subpixel(heat, r, c)
            peaks[ch] = heat[r, c]
        sep = 0.5 * np.sqrt(area[k]) / MODEL_MM
        # superior corners lie cranial of the core's centre along sm -> im, inferior ones
        # caudal of it (a neighbour's corner inside the owned margin is not taken)
        axis = pts[4] - pts[1]
        axis = axis / max(float(np.hypot(*axis)), 1e-6)
        rr, cc = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
        cy, cx = ndimage.center_of_mass(lab[box] == k + 1)
        along = (cc - cx) * axis[0] + (rr - cy) * axis[1]
        evidence = 0.0
        sides = [along < 0, along > 0]
        if not all((mask & side).any() for side in sides):
            continue  # no owned pixel on one side of the centre: no pair of corners there
        for post, ant in ((0, 2), (5, 3)):
            hp, ha = maps[post + 1], maps[ant + 1]
            both = np.maximum(hp, ha)
            side = sides[0] if post == 0 else sides[1]
            pair = _peaks(both, mask & side, 2, sep)
            if len(pair) < 2:
                pair = pair * 2
            score = [float(ha[r, c] - hp[r, c]) for r, c in pair]
            first_ant = score[0] >= score[1]
            (ra, ca), (rp, cp) = pair if first_ant else pair[::-1]
            pts[ant] = _subpixel(both, ra, ca)
            pts[post] = _subpixel(both, rp, cp)
            peaks[ant], peaks[post] = both[ra, ca], both[rp, cp]
            evidence += abs(score[0] - score[1]) * np.sign(pts[ant, 0] - pts[post, 0])
        pts += (c0, r0)
        out.append(Candidate(pts, peaks, float(mean_p[k]), float(area[k]), float(evidence)))
    return out


def flip_facing(c: Candidate) -> Candidate:
    """The same body with anterior and posterior corners swapped (``sp<->sa, ip<->ia``)."""
    pts = c.points[[2, 1, 0, 5, 4, 3]]
    return Candidate(pts, c.peaks[[2, 1, 0, 5, 4, 3]], c.core_prob, c.area_mm2,
                     -c.anterior_right)
