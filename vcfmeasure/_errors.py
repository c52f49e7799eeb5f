"""The exceptions and warnings vcfmeasure raises on purpose.

Every deliberate error is a :class:`VcfMeasureError` (a :class:`ValueError`) whose
message names the file, level, point or DICOM attribute at fault and what to do.
"""

from __future__ import annotations

__all__ = [
    "VcfMeasureError",
    "LandmarkError",
    "SpacingError",
    "ImageError",
    "DicomError",
    "FileFormatError",
    "MissingDependencyError",
    "VcfMeasureWarning",
    "SpacingWarning",
    "PlausibilityWarning",
    "ImageWarning",
    "DomainWarning",
    "require",
]


class VcfMeasureError(ValueError):
    """Base class of every error vcfmeasure raises deliberately."""


class LandmarkError(VcfMeasureError):
    """Landmarks that cannot be measured: wrong shape, non-finite, unknown level, bad body."""


class SpacingError(VcfMeasureError):
    """A pixel spacing that is missing where needed, or not a positive finite number."""


class ImageError(VcfMeasureError):
    """An image that cannot be loaded: unreadable, truncated, too large, not an image."""


class DicomError(ImageError):
    """A DICOM file or attribute that cannot be used; the message names the tag."""


class FileFormatError(VcfMeasureError):
    """A landmark or results file that does not follow its format; names file and line/field."""


class MissingDependencyError(VcfMeasureError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class VcfMeasureWarning(UserWarning):
    """Base class of vcfmeasure's warnings (recoverable data problems)."""


class SpacingWarning(VcfMeasureWarning):
    """A spacing attribute was ignored or cannot correct for magnification."""


class PlausibilityWarning(VcfMeasureWarning):
    """A result lies far outside published magnitudes, or inputs are not comparable."""


class ImageWarning(VcfMeasureWarning):
    """An image attribute (LUT, rescale, photometric) was ignored or repaired on loading."""


class DomainWarning(VcfMeasureWarning):
    """A method was applied outside the levels or conditions it was defined for."""


def require(module: str, *, extra: str, feature: str):
    """Import an optional module, or raise naming the extra that provides it.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"highdicom"``.
    extra : str
        The vcfmeasure extra that installs it, e.g. ``"sr"``.
    feature : str
        What the user asked for, used in the message.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        When the module cannot be imported.

    Examples
    --------
    >>> require("math", extra="none", feature="arithmetic").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional package {module!r}; "
            f"install it with: pip install 'vcfmeasure[{extra}]'"
        ) from exc
