from __future__ import annotations

import numpy as np

from ._frame import handedness as _handedness
from ._heights import IA, IP, SA, SP

_ENDPLATES = {"superior": (SP, SA), "inferior": (IP, IA)}


def two_line_angle(
    p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray, handedness: np.ndarray
) -> np.ndarray:
    """Signed angle in degrees between a cranial line and a caudal line.

    Both lines are directed posterior -> anterior: the cranial one from ``p0`` to ``p1``,
    the caudal one from ``q0`` to ``q1``. The angle is positive (kyphotic) when the
    lines meet on the anterior side and negative (lordotic) when they meet posteriorly
    (docs/reference.md section 4, "Two-line angle sign [D]"). Anterior is where the ``a``
    points are, given by ``handedness`` (see :func:`body_frame`), never image left or
    right, so the result is invariant to rotation, translation, mirroring and scale.

    Parameters
    ----------
    p0, p1, q0, q1 : ndarray, shape (N, 2)
    handedness : ndarray, shape (N,) or scalar
        -1 for a film facing right with y down, +1 when mirrored.

    Returns
    -------
    ndarray, shape (N,)
        Degrees in (-180, 180].

    Examples
    --------
    Film facing right, the lines 4 px closer at the anterior end 10 px away:

    >>> p0, p1 = np.array([[0.0, 0.0]]), np.array([[10.0, 2.0]])
    >>> q0, q1 = np.array([[0.0, 20.0]]), np.array([[10.0, 18.0]])
    >>> np.round(two_line_angle(p0, p1, q0, q1, -1), 3)
    array([22.62])
    """
    d1 = np.asarray(p1, float) - np.asarray(p0, float)
    d2 = np.asarray(q1, float) - np.asarray(q0, float)
    return direction_angle(d1, d2, handedness)


def direction_angle(d1: np.ndarray, d2: np.ndarray, handedness: np.ndarray) -> np.ndarray:
    """:func:`two_line_angle` from the direction vectors ``d1`` (cranial line) and ``d2``.

    Examples
    --------
    >>> direction_angle(np.array([[10.0, 0.0]]), np.array([[10.0, -10.0]]), -1)
    array([45.])
    """
    # the sign of the handedness folds into the cross product: atan2(-y, x) = -atan2(y, x)
    cross = (d2[..., 1] * d1[..., 0] - d2[..., 0] * d1[..., 1]) * handedness
    dot = d1[..., 0] * d2[..., 0] + d1[..., 1] * d2[..., 1]
    out = np.arctan2(cross, dot)
    out *= 180.0 / np.pi
    return out


def endplate_line_angle(
    upper: np.ndarray,
    lower: np.ndarray,
    *,
    upper_endplate: str = "superior",
    lower_endplate: str = "inferior",
    handedness: np.ndarray | None = None,
) -> np.ndarray:
    """Signed angle between an endplate of the cranial vertebra and one of the caudal.

    Parameters
    ----------
    upper, lower : ndarray, shape (N, 6, 2)
        The cranial and the caudal vertebra of each pair (may be the same vertebra).
    upper_endplate, lower_endplate : {"superior", "inferior"}
        Which endplate line of each: superior ``sp -> sa``, inferior ``ip -> ia``.
    handedness : ndarray, optional
        Defaults to the cranial vertebra's own (:func:`body_frame`).

    Returns
    -------
    ndarray, shape (N,)
        Degrees, + kyphotic (lines meet anteriorly).

    References
    ----------
    docs/reference.md section 4: local kyphotic angle (Cobb, Gardner), thoracic kyphosis and
    lumbar lordosis.

    Examples
    --------
    >>> v = np.array([[[0, 0], [5, 0], [10, 2], [10, 18], [5, 20], [0, 20]]], float)
    >>> np.round(endplate_line_angle(v, v), 2)
    array([22.62])
    """
    upper = np.asarray(upper, float)
    lower = np.asarray(lower, float)
    a0, a1 = _ENDPLATES[upper_endplate]
    b0, b1 = _ENDPLATES[lower_endplate]
    if handedness is None:
        handedness = _handedness(upper)
    return two_line_angle(upper[:, a0], upper[:, a1], lower[:, b0], lower[:, b1], handedness)


def wedge_angle(xy: np.ndarray) -> np.ndarray:
    """Vertebral wedge angle: superior (sp->sa) vs inferior (ip->ia) endplate line.

    Positive when the endplates converge anteriorly (Ha < Hp); ≈ atan((Hp - Ha)/depth).

    Parameters
    ----------
    xy : ndarray, shape (N, 6, 2)
        In mm (or px with isotropic spacing); scale anisotropic pixels first.

    Returns
    -------
    ndarray, shape (N,)
        Degrees.

    References
    ----------
    docs/reference.md section 4, "Vertebral wedge angle" [S].

    Examples
    --------
    >>> v = np.array([[[0, 0], [5, 0], [10, 0], [10, 10], [5, 10], [0, 10]]], float)
    >>> wedge_angle(v)
    array([0.])
    """
    xy = np.asarray(xy, dtype=float)
    return two_line_angle(xy[:, SP], xy[:, SA], xy[:, IP], xy[:, IA], _handedness(xy))
