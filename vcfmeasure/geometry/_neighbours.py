from __future__ import annotations

import numpy as np


def _check(level_index, spine_id):
    level_index = np.asarray(level_index, dtype=np.int64)
    if spine_id is None:
        spine_id = np.zeros_like(level_index)
    return level_index, np.asarray(spine_id)


def adjacent_indices(
    level_index: np.ndarray, spine_id: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row of the anatomically adjacent vertebra above and below, or -1.

    Rows must be sorted by spine, then cranial -> caudal. A neighbour counts only when
    it is the very next level (L1's neighbours are T12 and L2, not T11 when T12 is
    missing).

    Parameters
    ----------
    level_index : ndarray of int, shape (N,)
        Positions in :data:`vcfmeasure.LEVELS`.
    spine_id : ndarray, shape (N,), optional
        Which spine (image) each row belongs to; one spine when omitted.

    Returns
    -------
    above, below : ndarray of int, shape (N,)

    Examples
    --------
    >>> adjacent_indices(np.array([10, 11, 13, 14]))
    (array([-1,  0, -1,  2]), array([ 1, -1,  3, -1]))
    """
    li, sid = _check(level_index, spine_id)
    n = li.size
    above = np.full(n, -1, dtype=np.int64)
    below = np.full(n, -1, dtype=np.int64)
    if n > 1:
        ok = (li[1:] - li[:-1] == 1) & (sid[1:] == sid[:-1])
        idx = np.arange(n - 1)
        above[1:][ok] = idx[ok]
        below[:-1][ok] = idx[ok] + 1
    return above, below


def nearest_indices(
    level_index: np.ndarray,
    eligible: np.ndarray,
    spine_id: np.ndarray | None = None,
    *,
    max_gap: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Row of the nearest eligible vertebra above and below each row, or -1.

    Parameters
    ----------
    level_index : ndarray of int, shape (N,)
        Sorted within each spine, cranial -> caudal.
    eligible : ndarray of bool, shape (N,)
        Which rows may serve (e.g. normal, untreated vertebrae).
    spine_id : ndarray, shape (N,), optional
    max_gap : int
        Largest level distance allowed (1 = adjacent only).

    Returns
    -------
    above, below : ndarray of int, shape (N,)

    Examples
    --------
    >>> li = np.array([10, 11, 12, 13, 14])
    >>> nearest_indices(li, np.array([True, False, False, True, True]), max_gap=2)
    (array([-1,  0,  0, -1,  3]), array([-1,  3,  3,  4, -1]))
    """
    li, sid = _check(level_index, spine_id)
    eligible = np.asarray(eligible, dtype=bool)
    n = li.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    above = np.empty(n, dtype=np.int64)
    above[0] = -1
    np.maximum.accumulate(np.where(eligible, idx, -1)[:-1], out=above[1:])
    below = np.empty(n, dtype=np.int64)
    below[-1] = -1
    nxt = np.minimum.accumulate(np.where(eligible, idx, n)[:0:-1])[::-1]
    below[:-1] = np.where(nxt < n, nxt, -1)
    # index -1 reads the appended sentinel level, too far away to count
    li_ext = np.append(li, 10**6)
    above = np.where((sid[above] == sid) & (li - li_ext[above] <= max_gap) & (above >= 0),
                     above, -1)
    below = np.where((sid[below] == sid) & (li_ext[below] - li <= max_gap), below, -1)
    return above, below
