from __future__ import annotations

import numpy as np

from ._heights import IA, IP, SA, SP


def signed_area(xy: np.ndarray) -> np.ndarray:
    """Shoelace signed area of each polygon, in image coordinates (y down).

    Positive when the outline ``sp -> sm -> sa -> ia -> im -> ip`` turns clockwise on
    screen (anterior to the right of posterior, superior up).

    Parameters
    ----------
    xy : ndarray, shape (N, K, 2)

    Returns
    -------
    ndarray, shape (N,)

    Examples
    --------
    >>> signed_area(np.array([[[0, 0], [1, 0], [1, 1], [0, 1]]], float))
    array([1.])
    """
    xy = np.asarray(xy, dtype=float)
    x, y = xy[..., 0], xy[..., 1]
    inner = (x[:, :-1] * y[:, 1:] - x[:, 1:] * y[:, :-1]).sum(axis=-1)
    return 0.5 * (inner + x[:, -1] * y[:, 0] - x[:, 0] * y[:, -1])


def hexagon_area(xy: np.ndarray) -> np.ndarray:
    """Projected body area: shoelace area of the hexagon sp-sm-sa-ia-im-ip.

    In the squared units of ``xy`` (scale to mm first for mm²).

    References
    ----------
    docs/reference.md section 1, "Projected area [D]".

    Examples
    --------
    >>> hexagon_area(np.array([[[0, 0], [5, 0], [10, 0], [10, 8], [5, 8], [0, 8]]], float))
    array([80.])
    """
    return np.abs(signed_area(xy))


def body_frame(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each vertebra's own axes, taken from its landmarks alone.

    Returns
    -------
    anterior : ndarray, shape (N, 2)
        Unit vector from the posterior wall midpoint (sp, ip) to the anterior wall
        midpoint (sa, ia).
    cranial : ndarray, shape (N, 2)
        Unit vector from the inferior endplate midpoint (ip, ia) to the superior one
        (sp, sa).
    handedness : ndarray, shape (N,)
        ``sign(cross(anterior, cranial))`` in image coordinates: -1 for a film facing
        right (anterior to +x, cranial to -y), +1 for a mirrored film; 0 if degenerate.

    Examples
    --------
    >>> box = np.array([[[0, 0], [5, 0], [10, 0], [10, 8], [5, 8], [0, 8]]], float)
    >>> a, c, h = body_frame(box)
    >>> a, c, h
    (array([[1., 0.]]), array([[ 0., -1.]]), array([-1.]))
    """
    xy = np.asarray(xy, dtype=float)
    ant = 0.5 * (xy[:, SA] + xy[:, IA] - xy[:, SP] - xy[:, IP])
    cra = 0.5 * (xy[:, SP] + xy[:, SA] - xy[:, IP] - xy[:, IA])
    with np.errstate(invalid="ignore", divide="ignore"):
        ant_u = ant / np.sqrt((ant**2).sum(-1))[:, None]
        cra_u = cra / np.sqrt((cra**2).sum(-1))[:, None]
    cross = ant[:, 0] * cra[:, 1] - ant[:, 1] * cra[:, 0]
    return ant_u, cra_u, np.sign(cross)


def handedness(xy: np.ndarray) -> np.ndarray:
    """The third output of :func:`body_frame` alone (cheaper): -1, +1 or 0 per vertebra.

    Examples
    --------
    >>> box = np.array([[[0, 0], [5, 0], [10, 0], [10, 8], [5, 8], [0, 8]]], float)
    >>> handedness(box), handedness(box * [-1, 1])
    (array([-1.]), array([1.]))
    """
    xy = np.asarray(xy, dtype=float)
    ant = xy[:, SA] + xy[:, IA] - xy[:, SP] - xy[:, IP]
    cra = xy[:, SP] + xy[:, SA] - xy[:, IP] - xy[:, IA]
    return np.sign(ant[:, 0] * cra[:, 1] - ant[:, 1] * cra[:, 0])


def _orient(p, q, r):
    return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (
        r[..., 0] - p[..., 0]
    )


def polygon_self_intersects(xy: np.ndarray) -> np.ndarray:
    """Whether any two non-adjacent edges of each closed polygon properly cross.

    Parameters
    ----------
    xy : ndarray, shape (N, K, 2)

    Returns
    -------
    ndarray of bool, shape (N,)

    Examples
    --------
    >>> bowtie = np.array([[[0, 0], [1, 1], [1, 0], [0, 1]]], float)
    >>> square = np.array([[[0, 0], [1, 0], [1, 1], [0, 1]]], float)
    >>> polygon_self_intersects(np.concatenate([bowtie, square])).tolist()
    [True, False]
    """
    xy = np.asarray(xy, dtype=float)
    k = xy.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 2, k) if not (i == 0 and j == k - 1)]
    i, j = np.array(pairs).T
    a0, a1 = xy[:, i], xy[:, (i + 1) % k]
    b0, b1 = xy[:, j], xy[:, (j + 1) % k]
    d1, d2 = _orient(b0, b1, a0), _orient(b0, b1, a1)
    d3, d4 = _orient(a0, a1, b0), _orient(a0, a1, b1)
    cross = (d1 * d2 < 0) & (d3 * d4 < 0)
    return cross.any(axis=1)
