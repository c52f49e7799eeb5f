"""Vertebral level names, their cranial-to-caudal order, and the six point names."""

from __future__ import annotations

from collections.abc import Iterable

from ._errors import LandmarkError

__all__ = ["LEVELS", "POINT_NAMES", "level_index", "normalize_level", "sort_levels"]

#: Canonical point order: superior/inferior endplate x posterior/middle/anterior. It walks
#: the body outline (docs/reference.md section 1).
POINT_NAMES: tuple[str, ...] = ("sp", "sm", "sa", "ia", "im", "ip")

#: Every level vcfmeasure knows, cranial to caudal.
LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(2, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)

_INDEX = {name: i for i, name in enumerate(LEVELS)}


def normalize_level(name: object) -> str:
    """Return the canonical spelling of a level name (``"l1"`` -> ``"L1"``).

    Raises
    ------
    LandmarkError
        If the name is not one of :data:`LEVELS`.

    Examples
    --------
    >>> normalize_level(" t12 ")
    'T12'
    """
    key = str(name).strip().upper()
    if key not in _INDEX:
        raise LandmarkError(
            f"unknown level {name!r}: use one of C2-C7, T1-T12, L1-L5, S1"
        )
    return key


def level_index(name: str) -> int:
    """Position of a level in :data:`LEVELS` (0 for C2, 23 for S1).

    Examples
    --------
    >>> level_index("L1") - level_index("T12")
    1
    """
    return _INDEX[normalize_level(name)]


def sort_levels(names: Iterable[str]) -> list[str]:
    """Canonical names sorted cranial to caudal.

    Examples
    --------
    >>> sort_levels(["L2", "t12", "L1"])
    ['T12', 'L1', 'L2']
    """
    return sorted((normalize_level(n) for n in names), key=_INDEX.__getitem__)
