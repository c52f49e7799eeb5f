"""Build small DICOM radiographs with pydicom for the loader tests (no files shipped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

#: Real files shipped in tests/fixtures/dicom (each < 1 MB, licences in PROVENANCE.md).
FIXTURES = Path(__file__).parent / "fixtures" / "dicom"
#: The shared data set (CI checks it out beside the repository) for the files > 1 MB.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dicom"


def header(**attrs) -> Dataset:
    """A header-only dataset with ``attrs`` (for the spacing rules)."""
    ds = Dataset()
    ds.Modality = "CR"
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def image(pixels, *, bits_stored=None, photometric="MONOCHROME2", signed=None,
          sop_class=CR_STORAGE, **attrs) -> Dataset:
    """A complete single- or multi-frame dataset holding ``pixels`` natively.

    ``pixels``: (rows, cols), (frames, rows, cols) or (rows, cols, 3) integer array.
    """
    arr = np.asarray(pixels)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CR"
    ds.StudyDate = "20240102"
    ds.Manufacturer = "vcfmeasure tests"
    colour = arr.ndim == 3 and arr.shape[-1] == 3 and photometric == "RGB"
    frames = arr.shape[0] if arr.ndim == 3 and not colour else 1
    ds.Rows, ds.Columns = (arr.shape[:2] if colour else arr.shape[-2:])
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(arr.dtype, np.signedinteger) if signed is None
                                 else signed)
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def write(ds: Dataset, path, *, legacy: bool = False) -> Path:
    """Save ``ds``: a standard Part 10 file, or ``legacy`` (no preamble, no file meta,
    implicit VR little endian)."""
    path = Path(path)
    if legacy:
        ds = ds.copy()
        if hasattr(ds, "file_meta"):
            del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    else:
        ds.save_as(path, enforce_file_format=True)
    return path


def structured_report() -> Dataset:
    """A Basic Text SR with no pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    return ds


def secondary_capture(pixels, **attrs) -> Dataset:
    return image(pixels, sop_class=SecondaryCaptureImageStorage, **attrs)
