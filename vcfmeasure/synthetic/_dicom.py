"""The DICOM writer of synthetic radiographs (pydicom, imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._render import MAX_VALUE

# DX Image Storage - For Presentation (PS3.4 B.5)
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
SOURCE_TO_DETECTOR_MM = 1150.0


def synthetic_dataset(spine: Any):
    """Build a pydicom ``FileDataset`` for a :class:`~vcfmeasure.synthetic.SyntheticSpine`."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    params = spine.params
    seed = params["seed"]
    prefix = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs
    entropy = [str(seed), str(params.get("acquisition", 0)), ",".join(spine.levels)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(DX_FOR_PRESENTATION)
    meta.MediaStorageSOPInstanceUID = generate_uid(prefix, entropy + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = UID(DX_FOR_PRESENTATION)
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(prefix, [str(seed), "study"])
    ds.SeriesInstanceUID = generate_uid(prefix, entropy + ["series"])
    ds.Modality = "DX"
    ds.PatientName = f"Synthetic^Spine{seed % 100000}"
    ds.PatientID = f"SYN{seed % 10**8:08d}"
    ds.BodyPartExamined = "SPINE"
    ds.ViewPosition = "LL"
    ds.PatientOrientation = ["A", "F"] if params["facing"] == "right" else ["P", "F"]
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageComments = f"vcfmeasure.synthetic seed={seed} levels={','.join(spine.levels)}"
    ips = params["imager_spacing_mm"]
    mag = params["magnification"]
    ds.ImagerPixelSpacing = [f"{ips:.6g}", f"{ips:.6g}"]
    ds.EstimatedRadiographicMagnificationFactor = f"{mag:.6g}"
    ds.DistanceSourceToDetector = f"{SOURCE_TO_DETECTOR_MM:.6g}"
    ds.DistanceSourceToPatient = f"{SOURCE_TO_DETECTOR_MM / mag:.6g}"
    pixels = np.clip(spine.radiograph.pixels, 0, MAX_VALUE).astype(np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    if spine.radiograph.window is not None:
        center, width = spine.radiograph.window
        ds.WindowCenter = f"{center:.6g}"
        ds.WindowWidth = f"{width:.6g}"
    ds.PixelData = pixels.tobytes()
    return ds
