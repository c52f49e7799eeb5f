"""Load radiographs (DICOM, PNG, TIFF, JPEG) with a pixel spacing that says where it came from.

Public: :func:`load_image`, :func:`calibrate_spacing`, :func:`read_metadata`.
See ``docs/loading.md`` for the spacing decision table, the safety limits and codecs.
"""

from __future__ import annotations

import numbers
import os
import warnings
from dataclasses import replace
from typing import Any

from .._errors import ImageError
from ..radiograph import Radiograph, resolve_spacing
from ._spacing import Note, fiducial_spacing

__all__ = ["MAX_PIXELS", "load_image", "calibrate_spacing", "read_metadata"]

_RASTER_SOURCE = "unknown: raster images carry no patient calibration"

#: Default largest frame accepted (rows x columns x samples), checked from the header before
#: decoding, for every format (DICOM, PNG, TIFF, JPEG). 100 million values: about 6x a
#: 35 x 43 cm detector at 0.1 mm (15 million pixels); a 12000 x 12000 "zlib bomb" is refused.
MAX_PIXELS = 100_000_000


def _sniff(path: str) -> str:
    """``"dicom"`` or ``"raster"`` from the file's first bytes (never its extension)."""
    from ._dicom import looks_like_dicom
    from ._raster import looks_like_raster

    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a directory, not an image file")
    if not os.path.isfile(path):  # a FIFO would block, a device never ends
        raise ImageError(f"{path}: is not a regular file (a FIFO, device or socket); give an "
                         "image file")
    size = os.path.getsize(path)
    if size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    with open(path, "rb") as fh:
        head = fh.read(132)
    if looks_like_dicom(head):
        return "dicom"
    if looks_like_raster(head):
        return "raster"
    ext = os.path.splitext(path)[1] or "no extension"
    raise ImageError(
        f"{path}: not a DICOM file (no 'DICM' marker at byte 128 and no DICOM element at "
        f"the start) nor a PNG, TIFF or JPEG image ({size} bytes, {ext}); "
        "the extension is not used to decide the format"
    )


def _emit(notes: list[Note], metadata: dict[str, Any]) -> None:
    """Warn once per note (pointing at the caller of the public function) and record it."""
    for category, message in notes:
        warnings.warn(message, category, stacklevel=3)
    if notes:
        metadata.setdefault("warnings", []).extend(message for _, message in notes)


def load_image(
    source: Any,
    *,
    spacing: Any = None,
    frame: int | None = None,
    max_pixels: int | None = None,
) -> Radiograph:
    """Load a radiograph with bone-bright pixels and a spacing of known provenance.

    Parameters
    ----------
    source : str, os.PathLike, pydicom.Dataset or ndarray
        A DICOM file (with or without preamble and file meta), a PNG, TIFF or JPEG
        image (the format is read from the file's first bytes, not its extension), a
        dataset already in memory (it is not modified), or a 2-D array of grey values
        (as scikit-image users hold them), taken as given: bone must already be bright,
        and lengths are in mm only with ``spacing=``.
    spacing : float or (row_mm, col_mm), optional
        Overrides the file; recorded as ``"user"``. The file's own choice stays in
        ``metadata["file_spacing"]`` and ``metadata["file_spacing_source"]``.
    frame : int, optional
        Frame (or page) to load; required for multi-frame files.
    max_pixels : int, optional
        Largest accepted frame, rows x columns x samples, checked before decoding
        (default :data:`MAX_PIXELS`).

    Returns
    -------
    Radiograph
        ``pixels`` float32, shape (rows, cols): DICOM modality values (Modality LUT
        Sequence or rescale applied) with MONOCHROME1 / Presentation LUT Shape INVERSE
        undone once; raster grey values (RGB(A) and palette to BT.709 luminance).
        ``spacing`` ``(row_mm, col_mm)`` or None; ``spacing_source`` starts with
        ``calibrated``, ``magnification-corrected``, ``detector``, ``film``, ``user``
        or ``unknown`` and names the tags used (docs/reference.md section 7). ``window`` is
        the file's display window (center, width) in pixel units. ``metadata`` holds
        the header fields (see :func:`read_metadata`) plus ``frame``,
        ``modality_lut``, ``inverted`` and any ``warnings``.

    Raises
    ------
    ImageError
        Missing, empty, unrecognised, truncated, oversized or undecodable files;
        :class:`~vcfmeasure.DicomError` for DICOM problems (naming the tag), and
        :class:`~vcfmeasure.MissingDependencyError` naming the extra when no decoder
        for the transfer syntax is installed.

    Warns
    -----
    SpacingWarning
        A spacing attribute was ignored (zero, negative, non-numeric, outside
        0.01-5 mm), Pixel Spacing alone could not be trusted, or the spacing is at the
        detector (not corrected for magnification).
    ImageWarning
        A Modality LUT or rescale attribute was unusable and skipped.

    References
    ----------
    DICOM PS3.3 section 10.7.1, C.8.11.4, C.11.1, C.11.6; docs/reference.md section 7.

    Examples
    --------
    >>> import numpy as np, pydicom
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.Modality, ds.PhotometricInterpretation = "CR", "MONOCHROME1"
    >>> ds.Rows, ds.Columns, ds.SamplesPerPixel = 2, 2, 1
    >>> ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 12, 0
    >>> ds.PixelData = np.array([[0, 100], [4000, 4095]], "<u2").tobytes()
    >>> ds.PixelSpacing = ds.ImagerPixelSpacing = [0.1, 0.1]
    >>> ds.EstimatedRadiographicMagnificationFactor = 1.25
    >>> rg = load_image(ds)
    >>> rg.pixels
    array([[4095., 3995.],
           [  95.,    0.]], dtype=float32)
    >>> rg.spacing, rg.spacing_source.split(":")[0]
    ((0.08, 0.08), 'magnification-corrected')

    An array, as scikit-image holds images, with the spacing the user knows:

    >>> print(load_image(np.zeros((300, 200)), spacing=0.14).spacing_source)
    user: spacing= argument 0.14\\0.14 mm
    """
    from .._checks import check_load_image

    check_load_image(source, spacing, frame, max_pixels)
    from . import _dicom

    is_dataset = _is_dataset(source)
    if not is_dataset and _is_array(source):
        return _from_array(source, spacing, frame)
    if not isinstance(source, str | os.PathLike) and not is_dataset:
        raise ImageError(
            f"load_image needs a file path, a pydicom Dataset or a 2-D array, got "
            f"{type(source).__name__}"
        )
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, numbers.Integral)):
        raise ImageError(f"frame must be an integer index (0-based), got {frame!r}")
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    user = resolve_spacing(spacing)[0] if spacing is not None else None
    path: str | None
    if is_dataset:
        path = source.filename if isinstance(getattr(source, "filename", None), str) else None
        loaded = _load_dicom(source, path or "<pydicom.Dataset>", frame, limit, owned=False)
    else:
        path = os.fspath(source)
        if _sniff(path) == "dicom":
            dataset = _dicom.read_dataset(path, header_only=False)
            loaded = _load_dicom(dataset, path, frame, limit, owned=True)
        else:
            from ._raster import read_raster

            pixels, metadata = read_raster(path, frame=frame, max_pixels=limit)
            loaded = (pixels, None, metadata, None, _RASTER_SOURCE, [], [])
    pixels, window, metadata, file_spacing, file_source, spacing_notes, notes = loaded
    if user is not None:
        metadata["file_spacing"] = file_spacing
        metadata["file_spacing_source"] = file_source
        final, source_text = user, _user_source(user)
    else:
        notes = spacing_notes + notes
        final, source_text = file_spacing, file_source
    _emit(notes, metadata)
    return Radiograph(pixels, spacing=final, spacing_source=source_text,
                      metadata=metadata, path=path, window=window)


def _load_dicom(ds: Any, where: str, frame: int | None, limit: int, *, owned: bool
                ) -> tuple[Any, ...]:
    """Header, spacing and one decoded frame of a DICOM dataset."""
    from . import _dicom
    from ._spacing import dicom_spacing

    metadata = _dicom.dicom_metadata(ds)
    file_spacing, file_source, spacing_notes = dicom_spacing(ds)
    pixels, window, info, pixel_notes = _dicom.decode_dicom(
        ds, where=where, frame=frame, max_pixels=limit, owned=owned
    )
    metadata.update(info)
    return pixels, window, metadata, file_spacing, file_source, spacing_notes, pixel_notes


def _is_array(source: Any) -> bool:
    """An array of pixels (NumPy or anything with ``__array__``), not a path or dataset."""
    return hasattr(source, "__array__") and not isinstance(source, str | bytes | os.PathLike)


def _from_array(source: Any, spacing: Any, frame: int | None) -> Radiograph:
    import numpy as np

    pixels = np.asarray(source)
    if frame is not None:
        raise ImageError("load_image(array, frame=...): an array is one frame; index it first")
    if pixels.ndim != 2:
        raise ImageError(
            f"load_image(array): pixels must be 2-D (rows, cols), got shape {pixels.shape}; "
            "convert colour images to grey first"
        )
    if not (np.issubdtype(pixels.dtype, np.number) and not np.iscomplexobj(pixels)):
        raise ImageError(f"load_image(array): pixels must be real numbers, got {pixels.dtype}")
    pixels = pixels.astype(np.float32)
    if not np.isfinite(pixels).all():
        raise ImageError("load_image(array): pixels contain NaN or infinite values")
    meta: dict[str, Any] = {"source": "array", "inverted": False}
    if spacing is None:
        return Radiograph(pixels, spacing_source="unknown: array given without spacing=",
                          metadata=meta)
    user = resolve_spacing(spacing)[0]
    return Radiograph(pixels, spacing=user, metadata=meta, spacing_source=_user_source(user))


def _user_source(user: Any) -> str:
    """``spacing_source`` of a spacing given to :func:`load_image`."""
    return f"user: spacing= argument {user[0]:g}\\{user[1]:g} mm"


def _is_dataset(source: Any) -> bool:
    """Whether ``source`` is a pydicom Dataset (without importing pydicom for paths)."""
    if isinstance(source, str | bytes | os.PathLike):
        return False
    from pydicom.dataset import Dataset

    return isinstance(source, Dataset)


def read_metadata(source: Any) -> dict[str, Any]:
    """Header fields, shape and spacing of an image without decoding any pixels.

    For batch scans: a DICOM file is read up to its Pixel Data only, a raster file's
    header only.

    Parameters
    ----------
    source : str, os.PathLike or pydicom.Dataset

    Returns
    -------
    dict
        ``path``, ``format`` (``"dicom"``, ``"png"``, ``"tiff"``, ``"jpeg"``), ``shape``
        ``(rows, cols)``, ``frames``, ``spacing`` (``[row_mm, col_mm]`` or None),
        ``spacing_source``, and for DICOM ``transfer_syntax``, ``transfer_syntax_name``,
        ``modality``, ``view_position``, ``photometric_interpretation``,
        ``study_instance_uid``, ``series_instance_uid``, ``sop_instance_uid``,
        dates, ``manufacturer``, the raw spacing attributes, and any ``warnings``.
        Absent attributes are left out.

    Warns
    -----
    SpacingWarning
        As :func:`load_image`.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.Modality, ds.Rows, ds.Columns = "DX", 3000, 2500
    >>> ds.PixelSpacing = [0.14, 0.14]
    >>> ds.PixelSpacingCalibrationType = "GEOMETRY"
    >>> info = read_metadata(ds)
    >>> info["shape"], info["spacing"], info["spacing_source"].split(":")[0]
    ((3000, 2500), (0.14, 0.14), 'calibrated')
    """
    from .._checks import check_image_source

    check_image_source(source, "read_metadata")
    from ._spacing import dicom_spacing

    if _is_dataset(source):
        ds = source
        path = str(source.filename) if isinstance(getattr(source, "filename", None), str) else None
    else:
        path = os.fspath(source)
        if _sniff(path) == "raster":
            from ._raster import raster_header

            meta = raster_header(path, max_pixels=2**63 - 1)
            meta.update(path=path, shape=(meta["rows"], meta["columns"]), spacing=None,
                        spacing_source=_RASTER_SOURCE)
            return meta
        from ._dicom import read_dataset

        ds = read_dataset(path, header_only=True)
    from ._dicom import dicom_metadata

    meta = dicom_metadata(ds)
    spacing, source_text, notes = dicom_spacing(ds)
    meta.update(path=path, spacing=spacing, spacing_source=source_text)
    if "rows" in meta and "columns" in meta:
        meta["shape"] = (meta["rows"], meta["columns"])
    _emit(notes, meta)
    return meta


def calibrate_spacing(
    radiograph: Radiograph,
    xy0: Any,
    xy1: Any,
    length_mm: float,
    *,
    aspect: float | None = None,
    label: str = "fiducial",
) -> Radiograph:
    """Calibrate a copy of ``radiograph`` from two points a known distance apart.

    Use a ruler, a calibration sphere or another object of known size imaged at the
    depth of the spine (an object nearer the detector is magnified less).

    Parameters
    ----------
    radiograph : Radiograph
    xy0, xy1 : array_like, shape (2,)
        The two ends, ``(x, y)`` in pixels of ``radiograph``.
    length_mm : float
        Their true distance in mm.
    aspect : float, optional
        ``row_mm / col_mm``; default: that of the radiograph's current spacing, else 1
        (square pixels). Two points fix one scale, so the pixel aspect must be known.
    label : str
        What was measured, kept in ``spacing_source`` (e.g. ``"ruler"``).

    Returns
    -------
    Radiograph
        Same pixels; ``spacing`` from the fiducial, ``spacing_source``
        ``"user: <label> ..."`` naming the points, the length and the spacing it
        replaces; ``metadata["calibration"]`` records the points.

    References
    ----------
    docs/reference.md section 7 (a fiducial: an object of known size); DICOM PS3.3
    section 10.7.1.3 (Pixel Spacing Calibration Type FIDUCIAL).

    Examples
    --------
    >>> import numpy as np
    >>> rg = Radiograph(np.zeros((400, 300)))
    >>> cal = calibrate_spacing(rg, (100, 50), (100, 250), 50.0, label="ruler")
    >>> cal.spacing
    (0.25, 0.25)
    >>> cal.spacing_source
    'user: ruler 50 mm between (100, 50) and (100, 250) px, aspect 1 (replaces unknown)'
    """
    from .._checks import check_calibrate

    check_calibrate(radiograph, xy0, xy1, length_mm, aspect)
    if aspect is None:
        current = radiograph.spacing
        aspect = 1.0 if current is None else current[0] / current[1]
    new = fiducial_spacing(xy0, xy1, length_mm, aspect=aspect)
    p0 = tuple(float(v) for v in xy0)
    p1 = tuple(float(v) for v in xy1)
    replaced = radiograph.spacing_source.split(":")[0]
    source = (
        f"user: {label} {float(length_mm):g} mm between ({p0[0]:g}, {p0[1]:g}) and "
        f"({p1[0]:g}, {p1[1]:g}) px, aspect {aspect:g} (replaces {replaced})"
    )
    metadata = dict(radiograph.metadata)
    metadata["calibration"] = {
        "label": label, "xy0": p0, "xy1": p1, "length_mm": float(length_mm),
        "aspect": float(aspect), "previous_spacing": radiograph.spacing,
        "previous_spacing_source": radiograph.spacing_source,
    }
    return replace(radiograph, spacing=new, spacing_source=source, metadata=metadata)
