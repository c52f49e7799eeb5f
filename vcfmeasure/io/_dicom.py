"""DICOM radiographs: guarded reading, one-frame decoding, the grey pipeline, metadata.

The order of work is chosen so that a bad file fails before anything large is
allocated: header, then the declared size against the limit and against the bytes
actually present, then the decoder, then one frame.

References
----------
DICOM PS3.3 C.7.6.3 (Image Pixel), C.11.1 (Modality LUT), C.11.2 (VOI LUT),
C.11.6 (Presentation LUT Shape); docs/reference.md section 7.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from typing import Any

import numpy as np

from .._errors import DicomError, ImageWarning, MissingDependencyError
from ._raster import luminance
from ._spacing import Note, _as_list

__all__ = ["looks_like_dicom", "read_dataset", "dicom_metadata", "decode_dicom",
           "check_image_header"]

#: Rows converted per block: temporaries stay small and in cache.
_BLOCK_ROWS = 64

#: Largest magnitude the float32 pixels can hold (a modality range beyond it is refused).
_FLOAT32_MAX = float(np.finfo(np.float32).max) / 2

#: pydicom decoding plugins, first tried first: for JPEG 2000 pylibjpeg-openjpeg is the
#: fastest and has a third of GDCM's peak memory (benchmarks/bench_load.py).
_PLUGIN_PREFERENCE = ("pylibjpeg", "pillow", "gdcm", "pyjpegls", "pydicom")

#: Transfer syntaxes whose decoders come from optional packages -> how to get one.
_CODEC_HELP = {
    "jpeg2000": "pip install 'vcfmeasure[dicom-codecs]' (pylibjpeg-openjpeg or python-gdcm), "
    "or a Pillow built with OpenJPEG",
    "jpeg": "pip install 'vcfmeasure[dicom-codecs]' (python-gdcm, BSD); or opt in to the GPL "
    "decoder with pip install 'vcfmeasure[dicom-codecs-gpl]' (pylibjpeg-libjpeg)",
}

_METADATA_KEYWORDS = {
    "modality": "Modality",
    "sop_class_uid": "SOPClassUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
    "study_date": "StudyDate",
    "series_date": "SeriesDate",
    "acquisition_date": "AcquisitionDate",
    "content_date": "ContentDate",
    "manufacturer": "Manufacturer",
    "manufacturer_model": "ManufacturerModelName",
    "view_position": "ViewPosition",
    "patient_position": "PatientPosition",
    "patient_orientation": "PatientOrientation",
    "body_part": "BodyPartExamined",
    "image_laterality": "ImageLaterality",
    "laterality": "Laterality",
    "image_type": "ImageType",
    "presentation_intent": "PresentationIntentType",
    "photometric_interpretation": "PhotometricInterpretation",
    "presentation_lut_shape": "PresentationLUTShape",
    "rows": "Rows",
    "columns": "Columns",
    "number_of_frames": "NumberOfFrames",
    "samples_per_pixel": "SamplesPerPixel",
    "bits_allocated": "BitsAllocated",
    "bits_stored": "BitsStored",
    "pixel_representation": "PixelRepresentation",
    "rescale_slope": "RescaleSlope",
    "rescale_intercept": "RescaleIntercept",
    "rescale_type": "RescaleType",
    "window_center": "WindowCenter",
    "window_width": "WindowWidth",
    "voi_lut_function": "VOILUTFunction",
    "pixel_spacing": "PixelSpacing",
    "imager_pixel_spacing": "ImagerPixelSpacing",
    "nominal_scanned_pixel_spacing": "NominalScannedPixelSpacing",
    "pixel_spacing_calibration_type": "PixelSpacingCalibrationType",
    "estimated_radiographic_magnification_factor": "EstimatedRadiographicMagnificationFactor",
    "distance_source_to_detector": "DistanceSourceToDetector",
    "distance_source_to_patient": "DistanceSourceToPatient",
}


def looks_like_dicom(head: bytes) -> bool:
    r"""Tell whether the first bytes of a file are DICOM, with or without the 128-byte preamble.

    A legacy file (no preamble, no file meta) starts directly with a group 0x0002 or
    0x0008 element in little endian.

    Examples
    --------
    >>> looks_like_dicom(bytes(128) + b"DICM")
    True
    >>> looks_like_dicom(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100")
    True
    >>> looks_like_dicom(b"\x89PNG\r\n\x1a\n")
    False
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) >= 8:
        group, element = struct.unpack("<HH", head[:4])
        return group in (0x0002, 0x0008) and element <= 0x3000
    return False


class _CappedReader(io.BufferedReader):
    """A binary file whose ``read(n)`` never asks for more than the bytes left.

    pydicom reads a value with ``fp.read(length)``; a corrupt length of 4 GB would
    otherwise allocate a 4 GB buffer before finding the file short.
    """

    def __init__(self, path: str) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._size = os.fstat(self.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(self._size - self.tell(), 0))
        return super().read(size)


def read_dataset(path: str, *, header_only: bool) -> Any:
    """Read a DICOM file (with or without preamble) into a pydicom Dataset.

    No read asks for more bytes than the file has left, whatever lengths it declares.

    Raises
    ------
    DicomError
        If pydicom cannot parse it, naming the file and pydicom's reason.
    """
    from ._dicom_guard import prescan

    try:
        scan = prescan(path)
    except OSError as exc:
        raise DicomError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    ds, caught = _dcmread(path, header_only)
    if len(ds) == 0:
        said = "; ".join(str(w.message) for w in caught)
        said = f" (pydicom: {said})" if said else ""
        header: Any = ds if header_only else _dcmread(path, True)[0]
        if "Rows" in header and "Columns" in header:
            raise DicomError(
                f"{path}: declares a {header.Rows} x {header.Columns} image but the file ends "
                f"inside its (7FE0,0010) Pixel Data; the file is truncated{said}"
            )
        raise DicomError(f"{path}: DICOM file holds no readable data elements{said}")
    for w in caught:  # pydicom's own remarks on a file that did load
        warnings.warn(w.message, w.category, stacklevel=2)
    transfer_syntax(ds, path)
    _convert_elements(ds, path)
    ds._vcfmeasure_pixel_data = scan.pixel_data
    return ds


#: Attributes vcfmeasure reads: one whose value cannot be read is an error, not a warning.
_NEEDED = frozenset(_METADATA_KEYWORDS.values()) | {
    "HighBit", "PlanarConfiguration", "ModalityLUTSequence", "VOILUTSequence",
    "PatientID", "NumberOfFrames", "ExtendedOffsetTable", "ExtendedOffsetTableLengths",
}


def _convert_elements(ds: Any, where: str) -> None:
    """Read every top-level value now, so that a lying one fails here, named.

    pydicom converts values on first access, raising ``NotImplementedError`` (unknown VR),
    ``BytesLengthException``, ``ValueError``, ``OverflowError`` ... wherever that happens.
    An unreadable attribute vcfmeasure uses is a :class:`DicomError`; any other is
    dropped with an :class:`ImageWarning`.
    """
    from pydicom.datadict import keyword_for_tag

    for tag in list(ds.keys()):
        if tag == 0x7FE00010:
            continue
        try:
            ds[tag]
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad values
            keyword = keyword_for_tag(tag) or "private or unknown"
            name = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}"
            if keyword in _NEEDED:
                raise DicomError(
                    f"{where}: {name} cannot be read ({type(exc).__name__}: {exc}); the "
                    "file is corrupt"
                ) from None
            del ds[tag]
            warnings.warn(f"{where}: {name} cannot be read ({type(exc).__name__}); ignored",
                          ImageWarning, stacklevel=3)


def _dcmread(path: str, header_only: bool) -> tuple[Any, list[warnings.WarningMessage]]:
    """Run pydicom on the capped file; return the dataset and pydicom's warnings."""
    import pydicom

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _CappedReader(path) as fh:
                ds = pydicom.dcmread(fh, force=True, stop_before_pixels=header_only)
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise DicomError(
            f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})"
        ) from exc
    return ds, caught


def transfer_syntax(ds: Any, where: str = "<pydicom.Dataset>") -> Any:
    """Return the transfer syntax of ``ds``, guessed from its encoding for legacy files.

    Raises
    ------
    DicomError
        When (0002,0010) Transfer Syntax UID is unreadable or not a transfer syntax.
    """
    from pydicom.uid import (
        UID,
        AllTransferSyntaxes,
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    )

    meta = getattr(ds, "file_meta", None)
    try:
        uid = meta.get("TransferSyntaxUID") if meta is not None else None
    except Exception as exc:  # noqa: BLE001 - a lying meta element
        raise DicomError(f"{where}: (0002,0010) Transfer Syntax UID cannot be read "
                         f"({type(exc).__name__}: {exc})") from None
    if uid:
        if not isinstance(uid, str) or UID(uid) not in AllTransferSyntaxes:
            raise DicomError(
                f"{where}: (0002,0010) Transfer Syntax UID {str(uid)[:64]!r} is not a "
                "transfer syntax pydicom knows; the pixel data cannot be interpreted (the "
                "file is corrupt or uses a private encoding)"
            )
        return UID(str(uid))
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    if little is False:
        return ExplicitVRBigEndian
    return ExplicitVRLittleEndian


def _plain(value: Any) -> Any:
    """Convert a pydicom value to str, int, float or a list of them (JSON-friendly)."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import IS, DSfloat

    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, DSfloat):
        return float(value)
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, int | float):
        return value
    return str(value)


def dicom_metadata(ds: Any) -> dict[str, Any]:
    """Collect the header attributes vcfmeasure keeps, as a flat JSON-friendly dict.

    Keys are snake_case (``modality``, ``view_position``, ``study_instance_uid``, ...,
    ``pixel_spacing``, ``imager_pixel_spacing``), plus ``format``, ``transfer_syntax``,
    ``transfer_syntax_name``, ``sop_class_name`` and ``frames``. Absent attributes are
    left out.
    """
    meta: dict[str, Any] = {"format": "dicom"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # malformed values are kept as text
        for key, keyword in _METADATA_KEYWORDS.items():
            try:
                value = ds.get(keyword)
            except Exception:
                elem = ds.get_item(keyword)
                value = getattr(elem, "value", None)
                if isinstance(value, bytes):
                    value = value.decode("latin-1", "replace")
            if value is None or value == "":
                continue
            meta[key] = _plain(value)
    tsyntax = transfer_syntax(ds)
    meta["transfer_syntax"] = str(tsyntax)
    meta["transfer_syntax_name"] = tsyntax.name
    if isinstance(meta.get("sop_class_uid"), str):
        from pydicom.uid import UID

        meta["sop_class_name"] = UID(meta["sop_class_uid"]).name
    try:
        meta["frames"] = max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError, OverflowError):
        meta["frames"] = 1
    pixel = getattr(ds, "_vcfmeasure_pixel_data", None)
    if pixel is not None:
        meta["pixel_data"] = dict(pixel)
    elif "PixelData" in ds:
        meta["pixel_data"] = {"present": True}
    return meta


def _int_attr(ds: Any, keyword: str, tag: str, where: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        if value is None:
            raise DicomError(
                f"{where}: {tag} is missing; cannot interpret the pixel data"
            ) from None
        raise DicomError(f"{where}: {tag} is {value!r}, not an integer") from None


def _layout(ds: Any, where: str, frame: int | None, max_pixels: int) -> dict[str, int]:
    """Check the declared image geometry; return rows, cols, samples, bits, frames, index."""
    if "PixelData" not in ds:
        other = [k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds]
        sop = ds.get("SOPClassUID")
        what = f" (SOP Class {getattr(sop, 'name', sop)})" if sop else ""
        if other:
            raise DicomError(f"{where}: {other[0]} images are not supported{what}")
        if "Rows" in ds and "Columns" in ds:
            raise DicomError(
                f"{where}: declares a {ds.Rows} x {ds.Columns} image{what} but has no "
                "(7FE0,0010) Pixel Data; the file is truncated or header only"
            )
        raise DicomError(
            f"{where}: no (7FE0,0010) Pixel Data{what}; this DICOM object is not an image "
            "(e.g. a structured report or presentation state)"
        )
    rows = _int_attr(ds, "Rows", "(0028,0010) Rows", where)
    cols = _int_attr(ds, "Columns", "(0028,0011) Columns", where)
    samples = _int_attr(ds, "SamplesPerPixel", "(0028,0002) Samples per Pixel", where, 1)
    bits = _int_attr(ds, "BitsAllocated", "(0028,0100) Bits Allocated", where)
    frames = _int_attr(ds, "NumberOfFrames", "(0028,0008) Number of Frames", where, 1) or 1
    if rows <= 0 or cols <= 0:
        raise DicomError(f"{where}: (0028,0010) Rows x (0028,0011) Columns is {rows} x {cols}")
    if bits not in (1, 8, 16, 32) or samples not in (1, 3) or frames < 1:
        raise DicomError(
            f"{where}: unsupported pixel layout: (0028,0100) Bits Allocated {bits}, "
            f"(0028,0002) Samples per Pixel {samples}, (0028,0008) Number of Frames {frames}"
        )
    stored = _int_attr(ds, "BitsStored", "(0028,0101) Bits Stored", where, bits)
    if not 1 <= stored <= bits:
        raise DicomError(f"{where}: (0028,0101) Bits Stored {stored} is not between 1 and "
                         f"(0028,0100) Bits Allocated {bits}")
    representation = _int_attr(ds, "PixelRepresentation", "(0028,0103) Pixel Representation",
                               where, 0)
    if representation not in (0, 1):
        raise DicomError(f"{where}: (0028,0103) Pixel Representation {representation} is "
                         "neither 0 (unsigned) nor 1 (signed)")
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    allowed = ("MONOCHROME1", "MONOCHROME2") if samples == 1 else (
        "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
    if photometric and photometric not in allowed:
        raise DicomError(
            f"{where}: (0028,0004) Photometric Interpretation {photometric[:32]!r} with "
            f"(0028,0002) Samples per Pixel {samples} is not supported (expected "
            f"{' or '.join(allowed)})"
        )
    if rows * cols * samples > max_pixels:
        raise DicomError(
            f"{where}: declared frame of {rows} x {cols} x {samples} samples exceeds the "
            f"limit of {max_pixels} values (max_pixels=); raise it if the file is genuine"
        )
    if frame is None:
        if frames > 1:
            raise DicomError(
                f"{where}: multi-frame image with {frames} frames "
                f"((0028,0008) Number of Frames); pass frame= (0 to {frames - 1})"
            )
        index = 0
    else:
        index = int(frame)
        if not 0 <= index < frames:
            raise DicomError(
                f"{where}: frame={frame} out of range; the file has {frames} frame(s)"
            )
    return {"rows": rows, "cols": cols, "samples": samples, "bits": bits,
            "frames": frames, "index": index}


def _check_data(ds: Any, tsyntax: Any, lay: dict[str, int], where: str) -> None:
    """Compare the declared size with the bytes present, before any decoding."""
    raw = ds.get_item("PixelData")
    declared = getattr(raw, "length", None)  # a raw element keeps its declared length
    data = ds.PixelData
    if declared not in (None, 0xFFFFFFFF) and data is not None and len(data) < declared:
        raise DicomError(
            f"{where}: (7FE0,0010) Pixel Data declares {declared} bytes but the file holds "
            f"only {len(data)}; the file is truncated or corrupt"
        )
    if data is None or len(data) == 0:
        raise DicomError(f"{where}: (7FE0,0010) Pixel Data is empty (zero length)")
    if tsyntax.is_encapsulated:
        if bytes(data[:4]) != b"\xfe\xff\x00\xe0":
            raise DicomError(
                f"{where}: (7FE0,0010) Pixel Data is not encapsulated as {tsyntax.name} "
                "requires (no item tag at its start); the file is corrupt"
            )
        from ._dicom_guard import check_codestream

        check_codestream(tsyntax, data, lay, where)
        return
    needed = (lay["rows"] * lay["cols"] * lay["samples"] * lay["frames"] * lay["bits"] + 7) // 8
    if len(data) < needed:
        raise DicomError(
            f"{where}: (7FE0,0010) Pixel Data holds {len(data)} bytes but "
            f"{lay['rows']} Rows x {lay['cols']} Columns x {lay['samples']} samples x "
            f"{lay['frames']} frame(s) x {lay['bits']} bits need {needed}; the file is "
            "truncated or its header is wrong"
        )


def _available_plugins(tsyntax: Any) -> tuple[str, ...]:
    """Installed pydicom decoding plugins for ``tsyntax`` (native syntaxes need none)."""
    from pydicom.pixels import get_decoder

    decoder = get_decoder(tsyntax)
    if not tsyntax.is_encapsulated or tsyntax.is_deflated:
        return ("native",)
    return tuple(decoder.available_plugins)


def _decoder(tsyntax: Any, where: str, bits_stored: int) -> Any:
    """Pydicom's decoder for ``tsyntax``, or an error naming the extra to install."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGExtended12Bit

    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise DicomError(
            f"{where}: transfer syntax {tsyntax.name} ({tsyntax}) is not supported by pydicom"
        ) from None
    plugins = _available_plugins(tsyntax)
    if not plugins:
        family = "jpeg2000" if "2000" in tsyntax.name else "jpeg"
        raise MissingDependencyError(
            f"{where}: no decoder installed for transfer syntax {tsyntax.name} ({tsyntax}); "
            f"install one with: {_CODEC_HELP[family]}"
        )
    if tsyntax == JPEGExtended12Bit and bits_stored > 8 and "pylibjpeg" not in plugins:
        # pydicom's GDCM and Pillow plugins refuse 12-bit JPEG Extended (pydicom 3.0).
        raise MissingDependencyError(
            f"{where}: {tsyntax.name} with (0028,0101) Bits Stored {bits_stored} (12-bit "
            "JPEG) is decoded only by pylibjpeg-libjpeg (GPL-3.0); opt in with: "
            "pip install 'vcfmeasure[dicom-codecs-gpl]'"
        )
    return decoder


def _lut(item: Any, signed: bool) -> tuple[int, np.ndarray]:
    """(first mapped value, table) of a LUT item; ValueError saying what is wrong."""
    descriptor = item.get("LUTDescriptor")
    element = item.get("LUTData")
    if descriptor is None or len(descriptor) != 3:
        raise ValueError("has no valid (0028,3002) LUT Descriptor")
    if element is None or (hasattr(element, "__len__") and len(element) == 0):
        raise ValueError("has no (0028,3006) LUT Data")
    n, first, bits = (int(v) for v in descriptor)
    n = n or 65536
    if signed and first >= 0x8000:  # descriptor is US or SS; pydicom reads it as US
        first -= 0x10000
    if isinstance(element, bytes):
        table = np.frombuffer(element, np.uint8 if bits <= 8 and len(element) == n else "<u2")
    else:
        table = np.asarray(element if isinstance(element, list | tuple) else [element],
                           dtype=np.int64)
    if table.size != n:
        raise ValueError(
            f"has {table.size} entries but its (0028,3002) LUT Descriptor says {n}"
        )
    return first, table.astype(np.float32)


def _apply_table(raw: np.ndarray, first: int, table: np.ndarray) -> np.ndarray:
    """``table[clip(raw - first)]`` as float32, in row blocks to bound temporaries."""
    out = np.empty(raw.shape, np.float32)
    index = np.empty((min(_BLOCK_ROWS, raw.shape[0]), raw.shape[1]), np.intp)
    for r in range(0, raw.shape[0], _BLOCK_ROWS):
        block = index[:len(raw[r:r + _BLOCK_ROWS])]
        block[...] = raw[r:r + _BLOCK_ROWS]
        if first:
            block -= first
        np.take(table, block, out=out[r:r + _BLOCK_ROWS], mode="clip")
    return out


def _stored_range(ds: Any, bits: int) -> tuple[int, int]:
    stored = int(ds.get("BitsStored") or bits)
    if int(ds.get("PixelRepresentation") or 0):
        return -(1 << (stored - 1)), (1 << (stored - 1)) - 1
    return 0, (1 << stored) - 1


def _modality(raw: np.ndarray, ds: Any, bits: int, notes: list[Note],
              info: dict[str, Any], invert: bool, spare: int = 0
              ) -> tuple[np.ndarray, float, float]:
    """Apply the Modality LUT (sequence, else rescale), then the inversion if asked.

    ``raw`` may still hold ``spare`` unused high bits (a zero-copy view of native
    data); they are cleared block by block. Returns the float32 pixels and the
    modality output range ``(lo, hi)``; inverted values are ``lo + hi - value``,
    computed in the same pass.
    """
    signed = bool(int(ds.get("PixelRepresentation") or 0))
    lo_in, hi_in = _stored_range(ds, bits)
    seq = ds.get("ModalityLUTSequence")
    if seq:
        try:
            first, table = _lut(seq[0], signed)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            notes.append((ImageWarning, f"(0028,3000) Modality LUT Sequence {exc}; ignored"))
        else:
            info["modality_lut"] = "sequence"
            lo, hi = float(table.min()), float(table.max())
            if invert:
                table = np.float32(lo + hi) - table
            return _apply_table(_clean(raw, spare, signed), first, table), lo, hi
    slope, intercept = 1.0, 0.0
    try:
        raw_slope, raw_intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
        slope = 1.0 if raw_slope in (None, "") else float(raw_slope)
        intercept = 0.0 if raw_intercept in (None, "") else float(raw_intercept)
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
        notes.append((ImageWarning, "(0028,1053) Rescale Slope / (0028,1052) Rescale "
                      "Intercept not numeric; ignored"))
    if not (np.isfinite(slope) and np.isfinite(intercept) and slope != 0):
        notes.append((ImageWarning, f"(0028,1053) Rescale Slope {slope} / (0028,1052) "
                      f"Rescale Intercept {intercept} unusable; ignored"))
        slope, intercept = 1.0, 0.0
    lo, hi = sorted((lo_in * slope + intercept, hi_in * slope + intercept))
    if not (np.isfinite(lo) and np.isfinite(hi) and max(abs(lo), abs(hi)) < _FLOAT32_MAX):
        notes.append((ImageWarning, f"(0028,1053) Rescale Slope {slope} / (0028,1052) "
                      f"Rescale Intercept {intercept} map the stored values beyond the "
                      "float32 range; ignored"))
        slope, intercept = 1.0, 0.0
        lo, hi = float(lo_in), float(hi_in)
    info["modality_lut"] = "rescale" if (slope, intercept) != (1.0, 0.0) else "identity"
    if invert:  # lo + hi - (slope * x + intercept)
        return _affine(raw, -slope, lo + hi - intercept, spare, signed), lo, hi
    return _affine(raw, slope, intercept, spare, signed), lo, hi


def _clean(raw: np.ndarray, spare: int, signed: bool) -> np.ndarray:
    """Clear (unsigned) or sign-extend (signed) the ``spare`` unused high bits."""
    if not spare:
        return raw
    if signed:
        return (raw << spare) >> spare
    return raw & raw.dtype.type((1 << (raw.dtype.itemsize * 8 - spare)) - 1)


def _affine(raw: np.ndarray, scale: float, offset: float, spare: int = 0,
            signed: bool = False) -> np.ndarray:
    """``scale * raw + offset`` as float32, in cache-sized row blocks (one pass)."""
    out = np.empty(raw.shape, np.float32)
    a, b = np.float32(scale), np.float32(offset)
    for r in range(0, raw.shape[0], _BLOCK_ROWS):
        block = out[r:r + _BLOCK_ROWS]
        block[...] = _clean(raw[r:r + _BLOCK_ROWS], spare, signed)
        if a != 1:
            block *= a
        if b != 0:
            block += b
    return out


def _window(ds: Any, notes: list[Note]) -> tuple[float, float] | None:
    """(center, width) from Window Center/Width, else the input span of a VOI LUT."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is not None and width is not None:
        try:
            c, w = float(_as_list(center)[0]), float(_as_list(width)[0])
        except (TypeError, ValueError, IndexError):
            c, w = np.nan, np.nan
        if np.isfinite(c) and np.isfinite(w) and w > 0:
            return c, w
    seq = ds.get("VOILUTSequence")
    if seq:
        try:
            first, table = _lut(seq[0], bool(int(ds.get("PixelRepresentation") or 0)))
        except (ValueError, TypeError, IndexError, OverflowError):
            return None  # display only: fall back to the pixel range
        return first + (table.size - 1) / 2.0, float(table.size)
    return None


def _native_view(ds: Any, tsyntax: Any, lay: dict[str, int], signed: bool
                 ) -> np.ndarray | None:
    """Zero-copy view of one native little-endian grey frame, else None (use pydicom).

    Unused high bits are left in place; :func:`_clean` clears them block by block.
    """
    if (tsyntax.is_encapsulated or not tsyntax.is_little_endian or lay["samples"] != 1
            or lay["bits"] not in (8, 16, 32)):
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{lay['bits'] // 8}")
    count = lay["rows"] * lay["cols"]
    view = np.frombuffer(ds.PixelData, dtype, count=count,
                         offset=lay["index"] * count * dtype.itemsize)
    return view.reshape(lay["rows"], lay["cols"])


def _decode_frame(ds: Any, tsyntax: Any, lay: dict[str, int], where: str,
                  bits_stored: int, owned: bool) -> np.ndarray:
    """Decode one frame with pydicom's decoder plugins (compressed or unusual layouts)."""
    decoder = _decoder(tsyntax, where, bits_stored)
    dec = _decode_source(ds, tsyntax)
    if owned:
        del ds["PixelData"]  # the decoder's dataset holds the only reference now
    plugins = _available_plugins(tsyntax)
    preferred = next((name for name in _PLUGIN_PREFERENCE if name in plugins), "")
    try:
        try:
            raw, _ = decoder.as_array(dec, index=lay["index"], decoding_plugin=preferred)
        except Exception:
            if not preferred:
                raise
            raw, _ = decoder.as_array(dec, index=lay["index"])  # every plugin in turn
    except Exception as exc:  # every decoder plugin has its own error types
        raise DicomError(
            f"{where}: could not decode frame {lay['index']} of {lay['frames']} "
            f"({tsyntax.name}): {exc}"
        ) from exc
    return raw


def _decode_source(ds: Any, tsyntax: Any) -> Any:
    """Build a minimal dataset with only what the decoder needs (Pixel Data shared)."""
    from pydicom.dataset import Dataset, FileMetaDataset

    dec = Dataset()
    dec.file_meta = FileMetaDataset()
    dec.file_meta.TransferSyntaxUID = tsyntax
    for keyword in ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored",
                    "HighBit", "PixelRepresentation", "PhotometricInterpretation",
                    "NumberOfFrames", "PlanarConfiguration", "ExtendedOffsetTable",
                    "ExtendedOffsetTableLengths"):
        if keyword in ds:
            dec[keyword] = ds[keyword]
    if "BitsStored" not in dec:
        dec.BitsStored = dec.BitsAllocated
    if "PixelRepresentation" not in dec:
        dec.PixelRepresentation = 0
    dec["PixelData"] = ds["PixelData"]
    return dec


def decode_dicom(ds: Any, *, where: str, frame: int | None, max_pixels: int, owned: bool
                 ) -> tuple[np.ndarray, tuple[float, float] | None, dict[str, Any], list[Note]]:
    """Check, decode one frame and run the grey pipeline.

    Parameters
    ----------
    ds : pydicom.Dataset
        The full dataset, pixel data included.
    where : str
        The file name (or a description) for messages.
    frame : int or None
        Frame index; required when the file has more than one frame.
    max_pixels : int
        Largest accepted Rows x Columns x Samples per Pixel of one frame.
    owned : bool
        True when ``ds`` was read here: its Pixel Data is released as soon as the
        frame is decoded, to keep the peak memory low. A caller's dataset is never
        modified.

    Returns
    -------
    pixels : ndarray, shape (rows, cols), float32
        Modality values, bone bright: MONOCHROME1 or Presentation LUT Shape INVERSE
        undone exactly once, as ``lo + hi - value`` over the modality output range.
    window : (center, width) or None
        Display window in the units of ``pixels`` (moved with the inversion).
    info : dict
        ``frame``, ``modality_lut`` (sequence / rescale / identity), ``inverted``.
    notes : list of (warning class, message)
        Repaired or ignored attributes.

    References
    ----------
    DICOM PS3.3 C.11.1 (Modality LUT), C.11.2 (VOI LUT), C.11.6 (Presentation LUT).
    """
    notes: list[Note] = []
    lay = _layout(ds, where, frame, max_pixels)
    tsyntax = transfer_syntax(ds, where)
    _check_data(ds, tsyntax, lay, where)
    bits_stored = _int_attr(ds, "BitsStored", "(0028,0101) Bits Stored", where, lay["bits"])
    signed = bool(int(ds.get("PixelRepresentation") or 0))
    raw = _native_view(ds, tsyntax, lay, signed)
    spare = lay["bits"] - min(max(bits_stored, 1), lay["bits"]) if raw is not None else 0
    if raw is None:
        raw = _decode_frame(ds, tsyntax, lay, where, bits_stored, owned)
    expected = (lay["rows"], lay["cols"]) + ((3,) if lay["samples"] == 3 else ())
    if raw.shape != expected:
        raise DicomError(
            f"{where}: decoded frame has shape {raw.shape}, the header declares {expected}"
        )
    info: dict[str, Any] = {"frame": lay["index"], "inverted": False}
    if raw.ndim == 3:
        raw = _clean(raw, spare, signed)
        info["modality_lut"] = "none (colour converted to luminance)"
        return luminance(raw), None, info, notes
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    invert = photometric == "MONOCHROME1" or shape == "INVERSE"
    pixels, lo, hi = _modality(raw, ds, lay["bits"], notes, info, invert, spare)
    del raw
    window = _window(ds, notes)
    if invert:
        if window is not None:
            window = (lo + hi - window[0], window[1])
        info["inverted"] = True
    return pixels, window, info, notes


def check_image_header(meta: dict[str, Any], where: str) -> None:
    """Refuse a DICOM header that is not a readable projection image, pixels undecoded.

    For callers that need only the header (spacing, UIDs) of an image whose landmarks are
    known: a PDF, presentation state, DICOMDIR, structured report, header-only or
    truncated file must not lend its spacing to measurements.

    Parameters
    ----------
    meta : dict
        :func:`dicom_metadata` of a dataset read by :func:`read_dataset`.
    where : str
        The file, for messages.

    Raises
    ------
    DicomError
        Naming what is missing or cut short.

    Examples
    --------
    >>> meta = {"format": "dicom", "sop_class_name": "Encapsulated PDF Storage"}
    >>> try:
    ...     check_image_header(meta, "doc.dcm")
    ... except DicomError as exc:
    ...     print(str(exc)[:74])
    doc.dcm: no (7FE0,0010) Pixel Data (SOP Class Encapsulated PDF Storage): n
    """
    if meta.get("format") != "dicom":
        return
    pixel = meta.get("pixel_data") or {}
    what = f" (SOP Class {meta['sop_class_name']})" if meta.get("sop_class_name") else ""
    if not pixel.get("present"):
        raise DicomError(f"{where}: no (7FE0,0010) Pixel Data{what}: not an image; its spacing "
                         "is not used for measurements")
    rows, cols = meta.get("rows"), meta.get("columns")
    if not isinstance(rows, int) or not isinstance(cols, int) or rows <= 0 or cols <= 0:
        raise DicomError(f"{where}: (0028,0010) Rows x (0028,0011) Columns is {rows} x {cols}"
                         f"{what}; not a readable image")
    declared, available = pixel.get("declared"), pixel.get("available")
    if declared is not None and available is not None and available < declared:
        raise DicomError(
            f"{where}: (7FE0,0010) Pixel Data declares {declared} bytes but the file holds "
            f"only {available}; the file is truncated (its spacing is not used)"
        )
