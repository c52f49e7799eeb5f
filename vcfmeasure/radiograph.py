"""The loaded image record and the one place a spacing argument is interpreted."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._errors import ImageError, SpacingError

__all__ = ["Radiograph", "resolve_spacing", "SPACING_SOURCES"]

#: The words a ``spacing_source`` starts with (docs/reference.md section 7), most trusted first.
SPACING_SOURCES: tuple[str, ...] = (
    "calibrated",
    "magnification-corrected",
    "detector",
    "film",
    "user",
    "unknown",
)


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A lateral radiograph as loaded by :func:`vcfmeasure.load_image`.

    Parameters
    ----------
    pixels : ndarray, shape (rows, cols)
        Floating-point grey values, bone bright (MONOCHROME1 / INVERSE undone, modality
        LUT applied).
    spacing : tuple of float or None
        ``(row_mm, col_mm)``: mm per pixel between rows (along y) and between columns
        (along x), or ``None`` when unknown.
    spacing_source : str
        Where the spacing came from; starts with one of :data:`SPACING_SOURCES`
        (``"calibrated"``, ``"magnification-corrected"``, ``"detector"``, ``"film"``,
        ``"user"``, ``"unknown"``), followed by details such as the DICOM tag. A
        spacing given without a source is the user's: ``"user"``.
    metadata : dict
        What was read from the file (modality, view position, photometric, UIDs, ...).
    path : str or None
        The file the image came from.
    window : tuple of float or None
        ``(center, width)`` for display, in the units of ``pixels``.

    Examples
    --------
    >>> import numpy as np
    >>> rg = Radiograph(np.zeros((4, 5)), spacing=(0.2, 0.1))
    >>> rg.shape, rg.unit, rg.spacing_source
    ((4, 5), 'mm', 'user')
    """

    pixels: np.ndarray
    spacing: tuple[float, float] | None = None
    spacing_source: str = "unknown"
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        from ._checks import check_pixels, check_spacing

        check_pixels(self.pixels)
        check_spacing(self.spacing, "Radiograph")
        pixels = np.asarray(self.pixels)
        where = f"{self.path}: " if self.path else ""
        if pixels.ndim != 2:
            raise ImageError(f"{where}pixels must be 2-D, got shape {pixels.shape}")
        if not np.issubdtype(pixels.dtype, np.floating):
            pixels = pixels.astype(np.float32)
        object.__setattr__(self, "pixels", pixels)
        if self.spacing is not None:
            try:
                spacing, _ = resolve_spacing(self.spacing)
            except SpacingError as exc:
                raise SpacingError(f"{where}Radiograph(spacing=...): {exc}") from None
            object.__setattr__(self, "spacing", spacing)
            if self.spacing_source.startswith("unknown"):
                # a number given with no source: the user's, and lengths will be in mm
                object.__setattr__(self, "spacing_source", "user")
        elif not self.spacing_source.startswith("unknown"):
            raise SpacingError(
                f"{where}spacing_source is {self.spacing_source!r} but spacing is None; "
                "use spacing_source='unknown'"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of :attr:`pixels`."""
        return self.pixels.shape  # type: ignore[return-value]

    @property
    def unit(self) -> str:
        """``"mm"`` when a spacing is known, else ``"px"``."""
        return "px" if self.spacing is None else "mm"

    def with_spacing(self, spacing: float | tuple[float, float], *, source: str = "user"):
        """A copy with a spacing given by the user (or a fiducial), recorded as such.

        Examples
        --------
        >>> import numpy as np
        >>> Radiograph(np.zeros((2, 2))).with_spacing(0.15).spacing_source
        'user'
        """
        value, _ = resolve_spacing(spacing)
        return replace(self, spacing=value, spacing_source=source)

    def __repr__(self) -> str:
        sp = "None" if self.spacing is None else f"({self.spacing[0]:.4g}, {self.spacing[1]:.4g}) mm"
        name = f" {self.path!r}" if self.path else ""
        return (
            f"<Radiograph{name} {self.shape[0]}x{self.shape[1]} spacing={sp} "
            f"source={self.spacing_source!r}>"
        )


def resolve_spacing(spacing: Any) -> tuple[tuple[float, float] | None, str]:
    """Interpret a ``spacing=`` argument.

    Parameters
    ----------
    spacing : None, float, (row_mm, col_mm), or an object with ``spacing`` and
        ``spacing_source`` attributes (a :class:`Radiograph`).

    Returns
    -------
    spacing : tuple of float or None
        ``(row_mm, col_mm)``, or ``None`` for pixel units.
    source : str
        ``"user"`` for numbers, the radiograph's source for a radiograph, and
        ``"unknown"`` for ``None``.

    Raises
    ------
    SpacingError
        If a value is not a positive finite number, or a sequence does not hold exactly
        two (a one-element ``(0.1,)`` is refused: it may be half of a pair).

    Examples
    --------
    >>> resolve_spacing(0.2)
    ((0.2, 0.2), 'user')
    >>> resolve_spacing((0.2, 0.15))
    ((0.2, 0.15), 'user')
    >>> resolve_spacing(None)
    (None, 'unknown')
    """
    if spacing is None:
        return None, "unknown"
    if type(spacing) is float and math.isfinite(spacing) and spacing > 0:  # the common case
        return (spacing, spacing), "user"
    if hasattr(spacing, "spacing") and hasattr(spacing, "spacing_source"):
        if spacing.spacing is None:
            return None, str(spacing.spacing_source)
        return resolve_spacing(spacing.spacing)[0], str(spacing.spacing_source)
    if isinstance(spacing, (str, bytes)):
        raise SpacingError(f"spacing {spacing!r} is not numeric; give mm per pixel")
    values = np.asarray(spacing, dtype=object)
    if values.ndim == 0:
        values = np.repeat(values.reshape(1), 2)
    elif values.shape != (2,):
        raise SpacingError(
            f"spacing must be a number or a pair (row_mm, col_mm), got {spacing!r}"
        )
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise SpacingError(f"spacing {spacing!r} is not numeric; give mm per pixel") from None
        if not math.isfinite(f) or f <= 0:
            raise SpacingError(
                f"spacing {spacing!r} must be positive and finite (mm per pixel)"
            )
        out.append(f)
    return (out[0], out[1]), "user"


#: Finite grey values beyond this magnitude are scaled down (by a power of two) before
#: the image methods (cement, detection), whose squares would overflow float32; their
#: tests are relative (percentiles, robust SDs, contrast ratios), so the scale changes
#: no decision.
MAX_GREY = 2.0**60


def working_pixels(pixels: np.ndarray) -> np.ndarray:
    """The film as float32, scaled by a power of two if its grey values are absurdly large.

    Examples
    --------
    >>> bool(working_pixels(np.array([[1e300, 2.0]])).max() < 2.0**31)
    True
    >>> working_pixels(np.array([[3, 4]], np.uint16)).tolist()
    [[3.0, 4.0]]
    """
    arr = np.asarray(pixels)
    with np.errstate(invalid="ignore", over="ignore"):
        top = float(np.max(np.abs(arr), where=np.isfinite(arr), initial=0.0))
    if top > MAX_GREY:
        arr = arr.astype(np.float64) * 2.0 ** -(math.frexp(top)[1] - 30)
    return np.asarray(arr, dtype=np.float32)
