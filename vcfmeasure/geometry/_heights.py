from __future__ import annotations

import numpy as np

# Indices into POINT_NAMES = ("sp", "sm", "sa", "ia", "im", "ip").
SP, SM, SA, IA, IM, IP = range(6)


def scale_xy(xy: np.ndarray, spacing: tuple[float, float] | None) -> np.ndarray:
    """Points in mm: x times the column spacing, y times the row spacing.

    Parameters
    ----------
    xy : ndarray, shape (..., 2)
        Points in pixels, x first.
    spacing : (row_mm, col_mm) or None
        ``None`` returns the points unchanged (pixel units).

    Returns
    -------
    ndarray, shape (..., 2)

    Examples
    --------
    >>> scale_xy(np.array([[10.0, 10.0]]), (0.2, 0.1))
    array([[1., 2.]])
    """
    xy = np.asarray(xy, dtype=float)
    if spacing is None:
        return xy
    row_mm, col_mm = spacing
    if row_mm == col_mm:
        return xy * row_mm
    return xy * np.array([col_mm, row_mm])


def heights(xy: np.ndarray) -> np.ndarray:
    """Anterior, middle and posterior heights, Euclidean (SOF style).

    ``Ha = |sa - ia|``, ``Hm = |sm - im|``, ``Hp = |sp - ip|`` in the units of ``xy``
    (scale with :func:`scale_xy` first for mm).

    Parameters
    ----------
    xy : ndarray, shape (N, 6, 2)

    Returns
    -------
    ndarray, shape (N, 3)
        Columns ``ha, hm, hp``.

    References
    ----------
    docs/reference.md section 1, "Heights [D]".

    Examples
    --------
    >>> box = np.array([[[0, 0], [5, 1], [10, 0], [10, 8], [5, 7], [0, 10]]], float)
    >>> heights(box)
    array([[ 8.,  6., 10.]])
    """
    xy = np.asarray(xy, dtype=float)
    d = xy[:, SA::-1] - xy[:, IA:]  # (sa, sm, sp) - (ia, im, ip), views without copies
    return np.hypot(d[..., 0], d[..., 1])


def heights_perpendicular(xy: np.ndarray) -> np.ndarray:
    """Heights as perpendicular distances of ``ia, im, ip`` from the superior endplate line.

    The labelled variant of docs/reference.md section 1: it differs from :func:`heights` by
    the cosine of the endplate tilt. The superior endplate line runs through ``sp`` and
    ``sa``.

    Returns
    -------
    ndarray, shape (N, 3)
        Columns ``ha, hm, hp``.

    Examples
    --------
    >>> box = np.array([[[0, 0], [5, 0], [10, 0], [12, 8], [5, 7], [0, 10]]], float)
    >>> heights_perpendicular(box)
    array([[ 8.,  7., 10.]])
    """
    xy = np.asarray(xy, dtype=float)
    p0 = xy[:, SP]
    d = xy[:, SA] - p0
    norm = np.sqrt((d**2).sum(axis=-1))[:, None]
    rel = xy[:, [IA, IM, IP]] - p0[:, None, :]
    cross = d[:, None, 0] * rel[..., 1] - d[:, None, 1] * rel[..., 0]
    return np.abs(cross) / norm
