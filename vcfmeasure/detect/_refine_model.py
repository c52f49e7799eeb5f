"""The learned half of ``refine_landmarks``: the detector's landmark heatmaps near each point.

Edge profiles (``_refine.py``) locate a crisp body edge to a few hundredths of a
millimetre, but on films whose edges are soft, doubled or buried under ribs, lungs and
soft tissue (radiographs rendered from a CT, real films) they often find no edge they can
trust, and then keep the point where it was. The detection network
(:mod:`vcfmeasure.detect._cnn`, trained on such films) predicts one heatmap per landmark;
near a given point, its peak is where the network would put that point.

:func:`model_points` runs the network once on a crop around all the vertebrae (at
:data:`~vcfmeasure.detect._cnn.MODEL_MM` per pixel) and reads, for every point, the
highest value of its heatmap within the search radius, to a fraction of a model pixel.
:func:`combine` then chooses per point between the edge fit, the heatmap peak and the
input (``docs/refinement.md``). Everything is bounded: the crop is capped at
:data:`MAX_MODEL_PIXELS` model pixels, and the windows at the search radius.
"""

from __future__ import annotations

import numpy as np

from ._cnn import MODEL_MM, _subpixel, predict, to_full

__all__ = ["model_points", "combine", "network_available", "scale_from_bodies", "PEAK_MIN",
           "AGREE_MM"]

#: Heatmap peaks below this are no evidence (a training target's centre is 1).
PEAK_MIN = 0.3
#: A confident edge fit and a heatmap peak closer than this (mm) agree: the edge is kept.
AGREE_MM = 1.5
#: Context around the vertebrae given to the network (mm).
MARGIN_MM = 24.0
#: Largest model input (pixels at MODEL_MM): larger crops are not run.
MAX_MODEL_PIXELS = 2_500_000

# heatmap channel(s) read for each point sp sm sa ia im ip: a corner is read from the
# larger of its endplate's two corner maps (the network may be unsure of the facing,
# the input points are not)
_CHANNELS = ((1, 3), (2,), (1, 3), (4, 6), (5,), (4, 6))


def network_available() -> bool:
    """Whether the network can run here: onnxruntime installed.

    The network works in mm; without a pixel spacing the callers give it a scale
    estimated from the bodies (:func:`scale_from_bodies`) or from adjacent clicks.
    """
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


#: Estimated scales outside this range (mm per pixel) are not used.
SCALE_RANGE_MM = (0.02, 2.0)


def scale_from_bodies(xy: np.ndarray, levels) -> float | None:
    """Scale (mm per pixel) of a film without a spacing, from its bodies' depths.

    A body's depth (the endplates' corner-to-corner lengths, ``sp-sa`` and ``ip-ia``) is
    not lowered by a compression fracture; each level's typical depth (its typical
    height, :func:`~vcfmeasure.detect._oneclick.typical_height_mm`, times 1.45) over its
    depth in pixels is one estimate, and the median over the bodies is returned. Adult
    bodies vary by about 15 % around the typical size, within the network's training
    range of scales (+-25 %). ``None`` when no body gives a usable estimate.

    Examples
    --------
    >>> import numpy as np
    >>> box = np.array([[0, 0], [20, 0], [40, 0], [40, 27.5], [20, 27.5], [0, 27.5]])
    >>> round(scale_from_bodies(box[None] * 10.0, ["L3"]), 3)   # 400 px deep, L3 ~ 40 mm
    0.1
    """
    from ._oneclick import _DEPTH_PER_HEIGHT, typical_height_mm

    xy = np.asarray(xy, float)
    if xy.ndim != 3 or len(xy) == 0 or len(levels) != len(xy):
        return None
    with np.errstate(all="ignore"):
        depth = 0.5 * (np.hypot(*(xy[:, 2] - xy[:, 0]).T) + np.hypot(*(xy[:, 3] - xy[:, 5]).T))
        typical = np.array([_DEPTH_PER_HEIGHT * typical_height_mm(lv) for lv in levels])
        est = typical / depth
    est = est[np.isfinite(est) & (est > 0)]
    if est.size == 0:
        return None
    scale = float(np.median(est))
    return scale if SCALE_RANGE_MM[0] <= scale <= SCALE_RANGE_MM[1] else None


def model_points(pixels: np.ndarray, xy: np.ndarray, px_mm: float, search_mm: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap peaks near each point.

    Parameters
    ----------
    pixels : ndarray (R, C)
        The film, bone bright.
    xy : ndarray (N, 6, 2)
        Points (x, y) in full-image pixels.
    px_mm : float
        mm per pixel.
    search_mm : float
        Search radius around each point (mm).

    Returns
    -------
    points : ndarray (N, 6, 2)
        The peak positions in full-image pixels (NaN where the window was off the crop).
    peaks : ndarray (N, 6)
        The heatmap values there (0-1; 0 where there is no window).

    Raises
    ------
    MissingDependencyError
        When onnxruntime (the ``detect`` extra) is not installed.
    """
    xy = np.asarray(xy, float)
    out = np.full(xy.shape, np.nan)
    peaks = np.zeros(xy.shape[:2])
    rows, cols = pixels.shape
    margin = MARGIN_MM / px_mm
    lo = np.floor(np.nanmin(xy.reshape(-1, 2), axis=0) - margin).astype(int)
    hi = np.ceil(np.nanmax(xy.reshape(-1, 2), axis=0) + margin).astype(int) + 1
    c0, r0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    c1, r1 = min(int(hi[0]), cols), min(int(hi[1]), rows)
    step = MODEL_MM / px_mm
    if c1 - c0 < 2 * step or r1 - r0 < 2 * step:
        return out, peaks
    if (c1 - c0) * (r1 - r0) / step**2 > MAX_MODEL_PIXELS:
        return out, peaks
    crop = np.asarray(pixels[r0:r1, c0:c1], np.float32)
    if not np.isfinite(crop).all() or np.ptp(crop) == 0:
        return out, peaks
    prob, step = predict(crop, px_mm)
    h, w = prob.shape[1:]
    radius = max(search_mm / MODEL_MM, 1.0)
    rad = int(np.ceil(radius))
    dr, dc = np.mgrid[-rad : rad + 1, -rad : rad + 1]
    disk = np.asarray(dr**2 + dc**2 <= radius**2)
    maps = [np.max(prob[list(ch)], axis=0) for ch in _CHANNELS]
    # model-grid position of each point (the inverse of to_full), then every point's
    # disk window at once: (N, 6, window pixels)
    u = (xy - (c0, r0) + 0.5) / step - 0.5
    finite = np.asarray(np.isfinite(u).all(axis=-1))
    centre = np.where(finite[..., None], np.round(u), -10 * (rad + 1)).astype(int)
    rr = centre[..., 1, None] + dr[disk]
    cc = centre[..., 0, None] + dc[disk]
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    stack = np.stack(maps)  # (6, h, w)
    k = np.broadcast_to(np.arange(6)[:, None], rr.shape[1:])
    vals = np.where(inside, stack[k, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)], -1.0)
    j = np.argmax(vals, axis=-1)
    best = np.take_along_axis(vals, j[..., None], axis=-1)[..., 0]
    r_at = np.take_along_axis(rr, j[..., None], axis=-1)[..., 0]
    c_at = np.take_along_axis(cc, j[..., None], axis=-1)[..., 0]
    for i, kk in zip(*np.nonzero(best >= 0), strict=True):  # sub-pixel fit per found peak
        peaks[i, kk] = best[i, kk]
        out[i, kk] = to_full(_subpixel(maps[kk], int(r_at[i, kk]), int(c_at[i, kk])), step) + (c0, r0)
    return out, peaks


def combine(xy_in: np.ndarray, edge: np.ndarray, edge_conf: np.ndarray, model: np.ndarray,
            peak: np.ndarray, px_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: the edge fit, the heatmap peak or the input.

    * A confident edge fit (confidence > 0) that agrees with a heatmap peak within
      :data:`AGREE_MM`, or that has no peak to compare with, is kept (edges are the more
      precise of the two).
    * Otherwise a peak of at least :data:`PEAK_MIN` is taken: where no edge was found,
      or where edge and peak disagree (the edge profile then took a rib, a disc's far
      side or a double contour); its confidence is the peak value.
    * Otherwise the point keeps its input position, confidence 0.

    Returns
    -------
    points : ndarray (N, 6, 2)
    confidence : ndarray (N, 6)
    from_model : ndarray (N, 6) bool
        Where the heatmap peak was taken.
    """
    has_peak = np.isfinite(model).all(axis=-1) & (peak >= PEAK_MIN)
    has_edge = np.isfinite(edge).all(axis=-1) & (edge_conf > 0)
    gap = np.hypot(*np.moveaxis(np.where(has_peak[..., None], model, edge) - edge, -1, 0)) * px_mm
    keep_edge = has_edge & (~has_peak | (gap < AGREE_MM))
    take_model = has_peak & ~keep_edge
    pts = np.where(keep_edge[..., None], edge, np.where(take_model[..., None], model, xy_in))
    conf = np.where(keep_edge, edge_conf, np.where(take_model, peak, 0.0))
    return pts, conf, take_model


def bodies_at_clicks(pixels: np.ndarray, clicks: np.ndarray, px_mm: float,
                     facing: str | None = None) -> tuple[list[np.ndarray | None], np.ndarray]:
    """The network's body under each click (one click per vertebra).

    The network runs once on a crop around the clicks; its maps are split into bodies
    (:func:`~vcfmeasure.detect._cnn.decode`), and each click takes the body whose centre is
    nearest to it, if within half that body's size. The facing (``"right"``: anterior
    towards +x) is ``facing`` or the network's evidence summed over the clicked bodies;
    every body is ordered by it.

    Returns
    -------
    bodies : list of ndarray (6, 2) or None
        Per click, six points in full-image pixels, or None (no body there).
    peaks : ndarray (N, 6)
        Heatmap values at the points (0 where no body).
    """
    from ._cnn import decode, flip_facing

    clicks = np.asarray(clicks, float)
    n = len(clicks)
    none: list[np.ndarray | None] = [None] * n
    peaks = np.zeros((n, 6))
    rows, cols = pixels.shape
    margin = 2 * MARGIN_MM / px_mm
    c0, r0 = (max(int(v), 0) for v in np.floor(clicks.min(axis=0) - margin))
    c1 = min(int(np.ceil(clicks[:, 0].max() + margin)) + 1, cols)
    r1 = min(int(np.ceil(clicks[:, 1].max() + margin)) + 1, rows)
    step = MODEL_MM / px_mm
    if c1 - c0 < 8 * step or r1 - r0 < 8 * step or (c1 - c0) * (r1 - r0) / step**2 > MAX_MODEL_PIXELS:
        return none, peaks
    crop = np.asarray(pixels[r0:r1, c0:c1], np.float32)
    if not np.isfinite(crop).all() or np.ptp(crop) == 0:
        return none, peaks
    prob, step = predict(crop, px_mm)
    cands = decode(prob)
    if not cands:
        return none, peaks
    centres = np.array([to_full(c.points.mean(axis=0), step) + (c0, r0) for c in cands])
    sizes = np.array([np.sqrt(c.area_mm2) / px_mm for c in cands])
    picked: list = []
    for k in range(n):
        d = np.hypot(*(centres - clicks[k]).T)
        j = int(np.argmin(d))
        picked.append(cands[j] if d[j] <= 0.5 * sizes[j] + 3.0 / px_mm else None)
    evidence = sum(c.anterior_right for c in picked if c is not None)
    right = (facing == "right") if facing is not None else evidence >= 0
    bodies = list(none)
    for k, c in enumerate(picked):
        if c is None:
            continue
        if (c.points[2, 0] - c.points[0, 0] > 0) != right:
            c = flip_facing(c)
        bodies[k] = to_full(c.points, step) + (c0, r0)
        peaks[k] = c.peaks
    return bodies, peaks
