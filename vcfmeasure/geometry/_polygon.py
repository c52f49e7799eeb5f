"""Distances from points to a closed polygon (the six-point body outline)."""

from __future__ import annotations

import numpy as np


def polygon_distance(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance of points to a closed polygon, and the nearest edge.

    Parameters
    ----------
    x, y : ndarray
        Point coordinates, any (broadcastable) shape, in the polygon's units.
    poly : ndarray, shape (K, 2)
        The vertices in order; edge ``k`` runs from vertex ``k`` to vertex ``k + 1``
        (the last edge closes the polygon).

    Returns
    -------
    distance : ndarray
        Euclidean distance to the nearest edge, negative inside (even-odd rule), in the
        units of ``x``, ``y``.
    edge : ndarray of int
        Index of the nearest edge.

    Examples
    --------
    >>> square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    >>> d, k = polygon_distance(np.array([5.0, 13.0]), np.array([2.0, 5.0]), square)
    >>> d.tolist(), k.tolist()
    ([-2.0, 3.0], [0, 1])
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    poly = np.asarray(poly, dtype=float)
    best = np.full(np.broadcast(x, y).shape, np.inf)
    edge = np.zeros(best.shape, dtype=np.int64)
    inside = np.zeros(best.shape, dtype=bool)
    for k in range(len(poly)):
        (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % len(poly)]
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-300), 0.0, 1.0)
        d = np.hypot(x - x0 - t * dx, y - y0 - t * dy)
        closer = d < best
        best = np.where(closer, d, best)
        edge = np.where(closer, k, edge)
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (y - y0) * dx / (y1 - y0)
        inside ^= crosses & (x < xc)
    return np.where(inside, -best, best), edge
