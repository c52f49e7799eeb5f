"""DICOM Structured Report export: a TID 1500 Measurement Report of vertebral morphometry.

One measurement group (TID 1501) per vertebra, its finding site the vertebra (SNOMED CT),
holding Ha, Hm, Hp (mm) each with a SCOORD POLYLINE of its two landmarks on the source
image, the wedge, biconcavity and crush ratios, the wedge angle (deg), and the Genant grade
and deformity type as qualitative evaluations. Where no standard code exists the concepts
come from the private coding scheme ``99VCFM`` (:data:`PRIVATE_CODES`), declared in the
report's Coding Scheme Identification Sequence (0008,0110) and listed in
``docs/landmark-files.md``.

SCOORD graphic data are (column, row) with the top-left corner of the top-left pixel at
``(0, 0)`` and its centre at ``(0.5, 0.5)`` (DICOM PS3.3 C.18.6.1.2), so they are
vcfmeasure pixels + 0.5.

References
----------
DICOM PS3.16 TID 1500 Measurement Report, TID 1501 Measurement and Qualitative Evaluation
Group, TID 300 Measurement; PS3.3 C.18.6 Spatial Coordinates Macro.
Genant HK et al., J Bone Miner Res 1993;8:1137-48 (grades; docs/reference.md section 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .._errors import DicomError, SpacingError, require

__all__ = ["PRIVATE_SCHEME", "PRIVATE_CODES", "SCOORD_SHIFT", "write_sr"]

#: Coding Scheme Designator of vcfmeasure's private codes.
PRIVATE_SCHEME = "99VCFM"

#: key -> (code value, code meaning) in :data:`PRIVATE_SCHEME`.
PRIVATE_CODES: dict[str, tuple[str, str]] = {
    "ha": ("VCFM-HA", "Anterior vertebral body height"),
    "hm": ("VCFM-HM", "Middle vertebral body height"),
    "hp": ("VCFM-HP", "Posterior vertebral body height"),
    "wedge_ratio": ("VCFM-WEDGE-R", "Wedge ratio Ha/Hp"),
    "biconcavity_ratio": ("VCFM-BICONC-R", "Biconcavity ratio Hm/Hp"),
    "crush_ratio": ("VCFM-CRUSH-R", "Crush ratio Hp/adjacent Hp"),
    "wedge_angle": ("VCFM-WEDGE-ANG", "Vertebral wedge angle"),
    "height_loss": ("VCFM-HLOSS", "Vertebral height loss fraction"),
    "grade": ("VCFM-GENANT", "Genant semiquantitative grade"),
    "grade_0": ("VCFM-GENANT-0", "Genant grade 0 normal"),
    "grade_1": ("VCFM-GENANT-1", "Genant grade 1 mild"),
    "grade_2": ("VCFM-GENANT-2", "Genant grade 2 moderate"),
    "grade_3": ("VCFM-GENANT-3", "Genant grade 3 severe"),
    "deformity": ("VCFM-DEFORMITY", "Vertebral deformity type"),
    "deformity_normal": ("VCFM-DEF-NORMAL", "Normal vertebral shape"),
    "deformity_wedge": ("VCFM-DEF-WEDGE", "Wedge deformity"),
    "deformity_biconcave": ("VCFM-DEF-BICONC", "Biconcave deformity"),
    "deformity_crush": ("VCFM-DEF-CRUSH", "Crush deformity"),
    "S1": ("VCFM-S1", "First sacral vertebra"),
}

#: Added to vcfmeasure pixels to get SCOORD image coordinates.
SCOORD_SHIFT = 0.5

_HEIGHT_POINTS = {"ha": (2, 3), "hm": (1, 4), "hp": (0, 5)}  # sa-ia, sm-im, sp-ip
_RATIOS = ("wedge_ratio", "biconcavity_ratio", "crush_ratio")
_UIDS = {
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
}
_PATIENT = {
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "study_id": "StudyID",
    "accession_number": "AccessionNumber",
    "referring_physician_name": "ReferringPhysicianName",
}


def private_code(key: str) -> Any:
    """Return the pydicom :class:`~pydicom.sr.coding.Code` of a :data:`PRIVATE_CODES` entry."""
    from pydicom.sr.coding import Code

    value, meaning = PRIVATE_CODES[key]
    return Code(value, PRIVATE_SCHEME, meaning)


def vertebra_code(level: str) -> Any:
    """Return the SNOMED CT code of a vertebra (private code for S1: none in pydicom)."""
    from pydicom.sr.codedict import codes

    if level == "S1":
        return private_code("S1")
    return getattr(codes.SCT, f"{level}Vertebra")


def _source_dataset(source: Any) -> Any:
    """Return the evidence dataset from a pydicom Dataset, a DICOM path or a Radiograph.

    A new dataset with the four UIDs and the patient / study attributes (empty when the
    source has none: they are type 2 in the SR), so the caller's dataset is not changed.
    """
    import pydicom

    if isinstance(source, (str, Path)):
        try:
            source = pydicom.dcmread(source, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise DicomError(
                f"{source}: not a readable DICOM file for SR export ({exc})"
            ) from None
    if isinstance(source, pydicom.Dataset):
        values = {kw: source.get(kw) for kw in (*_UIDS.values(), *_PATIENT.values())}
        where = f"{getattr(source, 'filename', None) or 'the source image'}"
    elif hasattr(source, "metadata"):
        meta = source.metadata or {}
        values = {kw: meta.get(key) for key, kw in (*_UIDS.items(), *_PATIENT.items())}
        where = f"{getattr(source, 'path', None) or 'the radiograph'}"
    else:
        raise DicomError(
            f"SR export needs the source image as a pydicom Dataset, a DICOM path or a "
            f"Radiograph, got {type(source).__name__}"
        )
    missing = [f"{kw} ({key})" for key, kw in _UIDS.items() if not values[kw]]
    if missing:
        raise DicomError(
            f"{where}: no {', '.join(missing)}: SR export references a DICOM source image "
            "(load it with vcfmeasure.load_image from a DICOM file)"
        )
    ds = pydicom.Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, "" if value is None else value)
    return ds


def _check(morphometry: Any, grades: Any, source: Any) -> None:
    if morphometry.unit != "mm":
        raise SpacingError(
            "DICOM SR export reports heights in mm, but the measurements are in pixels "
            "(spacing unknown); measure with spacing= (a Radiograph, or mm per pixel)"
        )
    if grades is not None and tuple(grades.levels) != tuple(morphometry.levels):
        raise DicomError(
            f"grades cover {', '.join(grades.levels)} but the measurements "
            f"{', '.join(morphometry.levels)}; grade this Morphometry"
        )
    uid = (morphometry.landmarks.image or {}).get("sop_instance_uid")
    if uid and uid != source.SOPInstanceUID:
        raise DicomError(
            f"the landmarks belong to SOP Instance UID {uid}, the source image is "
            f"(0008,0018) {source.SOPInstanceUID}; pass the image the points were placed on"
        )


def write_sr(
    morphometry: Any,
    grades: Any,
    source: Any,
    path: str | Path,
    *,
    series_number: int = 900,
    instance_number: int = 1,
    manufacturer: str = "vcfmeasure",
) -> Path:
    """Write a DICOM SR (TID 1500 Measurement Report) of the measurements and grades.

    Parameters
    ----------
    morphometry : Morphometry
        From :func:`vcfmeasure.measure` with a spacing (heights in mm).
    grades : Grades or None
        From :func:`vcfmeasure.grade` of the same ``morphometry``; ``None`` leaves grades
        out.
    source : pydicom.Dataset, str, Path or Radiograph
        The DICOM image the landmarks were placed on: a dataset, its file, or a Radiograph
        whose ``metadata`` holds ``study_instance_uid``, ``series_instance_uid``,
        ``sop_instance_uid`` and ``sop_class_uid``. Patient and study attributes are copied
        from it.
    path : str or Path
        The SR file to write (atomically).
    series_number, instance_number : int
    manufacturer : str

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MissingDependencyError
        Without highdicom (``pip install 'vcfmeasure[sr]'``).
    SpacingError
        When the measurements are in pixels.
    DicomError
        When the source is not DICOM, lacks a UID, or is not the landmarks' image.

    Notes
    -----
    Measurements that are not a number (a crush ratio without measured neighbours) are
    left out. The spacing source, height method and grading reference are recorded as
    parameters of the algorithm identification of every group.

    References
    ----------
    DICOM PS3.16 TID 1500, 1501, 300; PS3.3 C.18.6.1.2 (SCOORD pixel origin).

    Examples
    --------
    >>> from vcfmeasure.io.sr import PRIVATE_SCHEME, SCOORD_SHIFT
    >>> PRIVATE_SCHEME, SCOORD_SHIFT
    ('99VCFM', 0.5)
    """
    from .._checks import check_write_sr

    check_write_sr(morphometry, grades, path, series_number, instance_number, manufacturer)
    hd = require("highdicom", extra="sr", feature="DICOM SR export")
    import io

    import numpy as np
    import pydicom
    from pydicom.sr.codedict import codes

    from .. import __version__
    from ._common import atomic_write

    ds = _source_dataset(source)
    _check(morphometry, grades, ds)
    records = morphometry.to_records()
    grade_rows = grades.to_records() if grades is not None else [None] * len(records)
    image_ref = hd.sr.SourceImageForRegion(ds.SOPClassUID, ds.SOPInstanceUID)
    parameters = [
        f"spacing_source={morphometry.spacing_source}",
        f"spacing_mm={tuple(morphometry.spacing)}",
        f"height_method={getattr(morphometry, 'height_method', 'euclidean')}",
    ]
    if grades is not None:
        parameters.append(f"grading_reference={grades.reference}")
    algorithm = hd.sr.AlgorithmIdentification("vcfmeasure", __version__, parameters=parameters)
    groups = []
    for level, xy, row, graded in zip(
        morphometry.levels, morphometry.landmarks.array, records, grade_rows, strict=True
    ):
        site = [hd.sr.FindingSite(vertebra_code(level))]
        measurements = []
        for key, (i, j) in _HEIGHT_POINTS.items():
            segment = hd.sr.CoordinatesForMeasurement(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=np.asarray(xy[[i, j]], dtype=float) + SCOORD_SHIFT,
                source_image=image_ref,
            )
            measurements.append(
                hd.sr.Measurement(
                    name=private_code(key),
                    value=float(row[key]),
                    unit=codes.UCUM.Millimeter,
                    referenced_coordinates=[segment],
                )
            )
        scalars = [(key, row[key], codes.UCUM.NoUnits) for key in _RATIOS]
        scalars.append(("wedge_angle", row["wedge_angle"], codes.UCUM.Degree))
        if graded is not None:
            scalars.append(("height_loss", graded["height_loss"], codes.UCUM.NoUnits))
        measurements += [
            hd.sr.Measurement(name=private_code(key), value=float(value), unit=unit)
            for key, value, unit in scalars
            if math.isfinite(value)
        ]
        evaluations = []
        if graded is not None:
            evaluations = [
                hd.sr.QualitativeEvaluation(
                    private_code("grade"), private_code(f"grade_{int(graded['grade'])}")
                ),
                hd.sr.QualitativeEvaluation(
                    private_code("deformity"), private_code(f"deformity_{graded['deformity']}")
                ),
            ]
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=hd.UID(), identifier=f"vertebra {level}"
                ),
                finding_sites=site,
                algorithm_id=algorithm,
                measurements=measurements,
                qualitative_evaluations=evaluations or None,
                source_images=[
                    hd.sr.SourceImageForMeasurementGroup(ds.SOPClassUID, ds.SOPInstanceUID)
                ],
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="vcfmeasure", manufacturer_name=manufacturer, model_name=__version__
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.PlainRadiography,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[ds],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer=manufacturer,
        is_complete=True,
    )
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "vcfmeasure private codes"
    scheme.CodingSchemeResponsibleOrganization = "vcfmeasure project"
    sr.CodingSchemeIdentificationSequence = [scheme]
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    path = Path(path)
    atomic_write(path, buffer.getvalue())
    return path
