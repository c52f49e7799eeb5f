"""Coarse stage: vertebral-body candidates from the scorer's probability map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._features import WORK_MM, RawFeatures, coarse_to_full, load_scorer

__all__ = ["Candidate", "find_candidates"]

#: Core probability threshold.
P_CORE = 0.5
#: Feature scales are taken within this distance of the first pass's body cores, mm.
REGION_MM = 40.0
#: Smallest core area kept, mm^2 (a grade-3 crushed T4 core is ~ 27 x 4 mm).
MIN_AREA_MM2 = 40.0
#: A core closer than this to the image border belongs to a cut (partial) body, mm.
BORDER_MM = 1.0


@dataclass
class Candidate:
    """One body core found on the coarse grid (full-image pixel units unless noted)."""

    label: int
    centre: np.ndarray  # (x, y) full-image pixels
    axis_ap: np.ndarray  # unit (x, y), the core's long axis (sign arbitrary)
    area_mm2: float
    prob: float  # mean core probability
    partial: bool


def find_candidates(pixels: np.ndarray, spacing_mm: float):
    """Score the image and split the core mask into body candidates.

    Returns
    -------
    candidates : list of Candidate
        Sorted cranial -> caudal (top -> bottom of the image).
    labels : ndarray of int
        The coarse label image (0 background), for the fine stage.
    prob : ndarray
        Core probability on the coarse grid.
    bright : ndarray
        The image on the coarse grid, smoothed by 2 mm.
    """
    raw = RawFeatures(pixels, spacing_mm)
    bright = raw.image
    scorer = load_scorer()
    prob = scorer(raw.normalised())
    first = prob > P_CORE
    if first.any():
        # second pass: normalise over the neighbourhood of the spine only, so that wide
        # fields of soft tissue or air do not change the feature scales
        near = ndimage.distance_transform_edt(~first) * WORK_MM < REGION_MM
        if near.mean() < 0.8:
            prob = scorer(raw.normalised(near))
    mask = prob > P_CORE
    mask = ndimage.binary_opening(mask, structure=np.ones((3, 3), bool))
    labels, n = ndimage.label(mask)
    if n == 0:
        return [], labels, prob, bright
    idx = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones_like(prob), labels, idx) * WORK_MM**2
    mean_p = ndimage.mean(prob, labels, idx)
    border = max(1, int(round(BORDER_MM / WORK_MM)))
    edge = np.zeros_like(mask)
    edge[:border], edge[-border:], edge[:, :border], edge[:, -border:] = True, True, True, True
    touching = set(np.unique(labels[edge & (labels > 0)]).tolist())
    out = []
    objs = ndimage.find_objects(labels)
    for lab, a, p, sl in zip(idx, area, mean_p, objs, strict=True):
        if a < MIN_AREA_MM2:
            labels[sl][labels[sl] == lab] = 0
            continue
        yy, xx = np.nonzero(labels[sl] == lab)
        yy = yy + sl[0].start
        xx = xx + sl[1].start
        c = np.array([xx.mean(), yy.mean()])
        cov = np.cov(np.stack([xx - c[0], yy - c[1]]))
        evals, evecs = np.linalg.eigh(cov)
        major = evecs[:, 1]
        out.append(
            Candidate(
                label=int(lab),
                centre=coarse_to_full(c, spacing_mm),
                axis_ap=major / np.hypot(*major),
                area_mm2=float(a),
                prob=float(p),
                partial=int(lab) in touching,
            )
        )
    out.sort(key=lambda c: c.centre[1])
    return out, labels, prob, bright
