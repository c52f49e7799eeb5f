"""Pixel spacing with provenance: the decision table of docs/reference.md section 7.

Every spacing leaves this module together with a ``spacing_source`` string that starts
with one of :data:`vcfmeasure.radiograph.SPACING_SOURCES` and names the DICOM tags it
came from. Values that are zero, negative, non-numeric or outside
:data:`PLAUSIBLE_MM` are treated as absent, with a warning naming the tag.

References
----------
DICOM PS3.3 section 10.7.1 (Basic Pixel Spacing Calibration Macro) and C.8.11.4
(DX Detector): Pixel Spacing (0028,0030) lies in the patient, Imager Pixel Spacing
(0018,1164) at the detector front plane.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._errors import SpacingError, SpacingWarning

__all__ = ["PLAUSIBLE_MM", "dicom_spacing", "fiducial_spacing"]

#: Accepted mm per pixel; anything outside is treated as a missing attribute.
PLAUSIBLE_MM: tuple[float, float] = (0.01, 5.0)
#: Accepted radiographic magnification (SID/SOD); 1.05-1.40 is usual for spine and chest.
PLAUSIBLE_MAGNIFICATION: tuple[float, float] = (1.0, 3.0)

#: Modalities whose Pixel Spacing lies in the patient by definition (cross-sectional).
_CROSS_SECTIONAL = frozenset({"CT", "MR", "PT", "NM"})

_TAGS = {
    "PixelSpacing": "(0028,0030) Pixel Spacing",
    "ImagerPixelSpacing": "(0018,1164) Imager Pixel Spacing",
    "NominalScannedPixelSpacing": "(0018,2010) Nominal Scanned Pixel Spacing",
    "EstimatedRadiographicMagnificationFactor":
        "(0018,1114) Estimated Radiographic Magnification Factor",
    "DistanceSourceToDetector": "(0018,1110) Distance Source to Detector",
    "DistanceSourceToPatient": "(0018,1111) Distance Source to Patient",
    "PixelSpacingCalibrationType": "(0028,0A02) Pixel Spacing Calibration Type",
}

Note = tuple[type[Warning], str]


def _raw(ds: Any, keyword: str) -> Any:
    """Return ``keyword`` of ``ds`` (or its shared functional groups), else None."""
    with warnings.catch_warnings():
        # pydicom warns about malformed DS strings; we report those ourselves.
        warnings.simplefilter("ignore")
        try:
            value = ds.get(keyword)
        except Exception:  # a value pydicom cannot even convert
            elem = ds.get_item(keyword) if hasattr(ds, "get_item") else None
            value = getattr(elem, "value", None)
        if value is None and keyword == "PixelSpacing":
            value = _functional_group_spacing(ds)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None
    return value


def _functional_group_spacing(ds: Any) -> Any:
    """Pixel Spacing of an enhanced multi-frame object (Pixel Measures, shared groups)."""
    try:
        return ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].get("PixelSpacing")
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def _as_list(raw: Any) -> list[Any]:
    r"""Return the values of a multi-valued element (a raw ``a\b`` string is split)."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if isinstance(raw, str):
        return raw.split("\\")
    try:
        return list(raw)
    except TypeError:
        return [raw]


def _fmt(values: tuple[float, ...]) -> str:
    return "\\".join(f"{v:g}" for v in values)


def _spacing_attr(ds: Any, keyword: str, notes: list[Note]) -> tuple[float, float] | None:
    """Return a validated ``(row_mm, col_mm)`` from an attribute, or None with a note."""
    raw = _raw(ds, keyword)
    if raw is None:
        return None
    tag = _TAGS[keyword]
    try:
        values = tuple(float(v) for v in _as_list(raw))
    except (TypeError, ValueError):
        notes.append((SpacingWarning, f"{tag} is {raw!r}, not numeric; ignored"))
        return None
    if len(values) == 1:
        notes.append(
            (SpacingWarning, f"{tag} has one value {_fmt(values)}; taken as square pixels")
        )
        values = values * 2
    if len(values) != 2:
        notes.append((SpacingWarning, f"{tag} has {len(values)} values, needs 2; ignored"))
        return None
    lo, hi = PLAUSIBLE_MM
    if not all(math.isfinite(v) and lo <= v <= hi for v in values):
        notes.append(
            (SpacingWarning,
             f"{tag} is {_fmt(values)}, outside {lo:g}-{hi:g} mm per pixel; ignored")
        )
        return None
    return values[0], values[1]


def _number_attr(ds: Any, keyword: str, notes: list[Note]) -> float | None:
    raw = _raw(ds, keyword)
    if raw is None:
        return None
    try:
        value = float(_as_list(raw)[0])
    except (TypeError, ValueError, IndexError):
        notes.append((SpacingWarning, f"{_TAGS[keyword]} is {raw!r}, not numeric; ignored"))
        return None
    if not (math.isfinite(value) and value > 0):
        notes.append((SpacingWarning, f"{_TAGS[keyword]} is {value:g}, not positive; ignored"))
        return None
    return value


def _magnification(ds: Any, notes: list[Note]) -> tuple[float, str] | None:
    """SID/SOD from ERMF, else from the two distances; with the tags it came from."""
    lo, hi = PLAUSIBLE_MAGNIFICATION
    ermf = _number_attr(ds, "EstimatedRadiographicMagnificationFactor", notes)
    if ermf is not None:
        if lo <= ermf <= hi:
            tag = _TAGS["EstimatedRadiographicMagnificationFactor"]
            return ermf, f"{tag} {ermf:g}"
        notes.append(
            (SpacingWarning,
             f"{_TAGS['EstimatedRadiographicMagnificationFactor']} is {ermf:g}, "
             f"outside {lo:g}-{hi:g}; ignored")
        )
    sid = _number_attr(ds, "DistanceSourceToDetector", notes)
    sod = _number_attr(ds, "DistanceSourceToPatient", notes)
    if sid is not None and sod is not None:
        if lo <= sid / sod <= hi:
            return sid / sod, (
                f"({_TAGS['DistanceSourceToDetector']} {sid:g} / "
                f"{_TAGS['DistanceSourceToPatient']} {sod:g} = {sid / sod:.4g})"
            )
        notes.append(
            (SpacingWarning,
             f"{_TAGS['DistanceSourceToDetector']} {sid:g} / "
             f"{_TAGS['DistanceSourceToPatient']} {sod:g} = {sid / sod:.4g} is outside "
             f"{lo:g}-{hi:g}; ignored")
        )
    return None


def dicom_spacing(ds: Any) -> tuple[tuple[float, float] | None, str, list[Note]]:
    """Choose the pixel spacing of a DICOM dataset and say where it came from.

    Parameters
    ----------
    ds : pydicom.Dataset
        Header of the image (pixel data not needed).

    Returns
    -------
    spacing : tuple of float or None
        ``(row_mm, col_mm)`` in the patient where known, else the detector or film
        spacing, else None.
    source : str
        Starts with ``"calibrated"``, ``"magnification-corrected"``, ``"detector"``,
        ``"film"`` or ``"unknown"``, then the tags and values used.
    notes : list of (warning class, message)
        Ignored attributes and the uncorrected-magnification caveat, for the caller to
        warn with and record.

    Notes
    -----
    Decision order (docs/reference.md section 7, as in cornerstone3D): Pixel Spacing with a
    calibration type; Imager Pixel Spacing divided by the magnification (ERMF, else
    SID/SOD); Pixel Spacing differing from Imager Pixel Spacing; Imager Pixel Spacing
    (detector plane, warned); Nominal Scanned Pixel Spacing (film); Pixel Spacing alone
    is trusted only on cross-sectional modalities, otherwise its meaning is unknown and
    it is not used (its value stays in the metadata).

    References
    ----------
    DICOM PS3.3 section 10.7.1 and C.8.11.4; docs/reference.md section 7.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.Modality = "DX"
    >>> ds.ImagerPixelSpacing = [0.15, 0.15]
    >>> ds.EstimatedRadiographicMagnificationFactor = 1.2
    >>> spacing, source, notes = dicom_spacing(ds)
    >>> [round(v, 4) for v in spacing], source.split(":")[0], notes
    ([0.125, 0.125], 'magnification-corrected', [])
    """
    notes: list[Note] = []
    ps = _spacing_attr(ds, "PixelSpacing", notes)
    ips = _spacing_attr(ds, "ImagerPixelSpacing", notes)
    nsps = _spacing_attr(ds, "NominalScannedPixelSpacing", notes)
    cal_type = str(_raw(ds, "PixelSpacingCalibrationType") or "").strip()
    modality = str(ds.get("Modality", "") or "").strip().upper()
    ps_tag, ips_tag = _TAGS["PixelSpacing"], _TAGS["ImagerPixelSpacing"]

    if ps is not None and cal_type:
        desc = str(ds.get("PixelSpacingCalibrationDescription", "") or "").strip()
        more = f" ({desc})" if desc else ""
        return ps, (
            f"calibrated: {ps_tag} {_fmt(ps)}, "
            f"{_TAGS['PixelSpacingCalibrationType']} {cal_type}{more}"
        ), notes
    if ips is not None:
        mag = _magnification(ds, notes)
        if mag is not None:
            factor, how = mag
            spacing = (ips[0] / factor, ips[1] / factor)
            return spacing, f"magnification-corrected: {ips_tag} {_fmt(ips)} / {how}", notes
        if ps is not None and not np.allclose(ps, ips, rtol=1e-4, atol=0):
            return ps, (
                f"calibrated: {ps_tag} {_fmt(ps)} differs from {ips_tag} {_fmt(ips)}; "
                "calibration method not recorded"
            ), notes
        same = f" ({ps_tag} equals it)" if ps is not None else ""
        notes.append(
            (SpacingWarning,
             f"spacing {_fmt(ips)} mm is {ips_tag} at the detector{same}: not corrected "
             "for magnification (typically 1.05-1.40 for spine), so mm overstate true "
             "size; pass spacing= or calibrate_spacing() with a known length")
        )
        return ips, (
            f"detector: {ips_tag} {_fmt(ips)}{same}, not corrected for magnification"
        ), notes
    if nsps is not None:
        return nsps, (
            f"film: {_TAGS['NominalScannedPixelSpacing']} {_fmt(nsps)} of the digitised film"
        ), notes
    if ps is not None:
        if modality in _CROSS_SECTIONAL:
            return ps, f"calibrated: {ps_tag} {_fmt(ps)} ({modality}: in the patient)", notes
        what = f"a {modality} image" if modality else "an image without (0008,0060) Modality"
        message = (
            f"{ps_tag} {_fmt(ps)} on {what} comes without {ips_tag} or a calibration "
            "type, so whether it is at the detector or in the patient is unknown; not "
            f"used - pass spacing=({ps[0]:g}, {ps[1]:g}) to accept it"
        )
        notes.append((SpacingWarning, message))
        return None, f"unknown: {message}", notes
    if notes:
        return None, "unknown: " + "; ".join(msg for _, msg in notes), notes
    return None, "unknown: no pixel spacing attribute", notes


def fiducial_spacing(
    xy0: Any, xy1: Any, length_mm: float, *, aspect: float = 1.0
) -> tuple[float, float]:
    """Spacing from two points a known distance apart (a ruler or fiducial).

    Parameters
    ----------
    xy0, xy1 : array_like, shape (2,)
        The two points, ``(x, y)`` in pixels.
    length_mm : float
        Their true distance in mm.
    aspect : float
        ``row_mm / col_mm`` of the pixels (1 for square pixels).

    Returns
    -------
    tuple of float
        ``(row_mm, col_mm)`` such that the distance of the two points is ``length_mm``:
        ``col_mm = L / sqrt(dx**2 + (aspect * dy)**2)``, ``row_mm = aspect * col_mm``.

    Examples
    --------
    >>> fiducial_spacing((10, 10), (10, 210), 50.0)
    (0.25, 0.25)
    """
    p0 = np.asarray(xy0, dtype=float).reshape(-1)
    p1 = np.asarray(xy1, dtype=float).reshape(-1)
    if p0.shape != (2,) or p1.shape != (2,) or not np.isfinite([p0, p1]).all():
        raise SpacingError(
            f"fiducial points must be two finite (x, y) pairs, got {xy0!r}, {xy1!r}"
        )
    length = float(length_mm)
    if not (math.isfinite(length) and length > 0):
        raise SpacingError(f"fiducial length_mm must be positive and finite, got {length_mm!r}")
    if not (math.isfinite(aspect) and aspect > 0):
        raise SpacingError(f"aspect (row_mm / col_mm) must be positive, got {aspect!r}")
    dx, dy = p1 - p0
    px = math.hypot(dx, aspect * dy)
    if px < 1.0:
        raise SpacingError(
            f"fiducial points {tuple(p0)} and {tuple(p1)} are less than one pixel apart"
        )
    col = length / px
    return aspect * col, col
