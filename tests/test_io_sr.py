"""DICOM SR export: values, SCOORDs and codes read back with highdicom; strict pydicom."""

import math

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure import DicomError, SpacingError

hd = pytest.importorskip("highdicom", reason="the sr extra (highdicom) is not installed")
pydicom = pytest.importorskip("pydicom")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

from vcfmeasure.io.sr import PRIVATE_SCHEME, SCOORD_SHIFT, write_sr  # noqa: E402

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
BODY = np.array([[0, 0], [15, 1], [30, 0], [30, 26], [15, 25], [0, 27]], float)


def dx_image():
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientID = "VCF-001"
    ds.PatientName = "Test^Spine"
    ds.PatientBirthDate = "19500101"
    ds.PatientSex = "F"
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "A1"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Rows, ds.Columns = 160, 120
    ds.PixelSpacing = [0.5, 0.5]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.zeros((160, 120), np.uint16).tobytes()
    return ds


def spine_measurements(image, squash=0.6):
    lm = vm.Landmarks(
        {"T12": BODY + [10.25, 5.5], "L1": BODY * [1, squash] + [11, 40], "L2": BODY + [12.5, 70]},
        image={"sop_instance_uid": image.SOPInstanceUID},
    )
    morph = vm.measure(lm, spacing=(0.5, 0.5))
    return morph, vm.grade(morph)


@pytest.fixture
def written(tmp_path):
    image = dx_image()
    morph, grades = spine_measurements(image)
    path = write_sr(morph, grades, image, tmp_path / "report.dcm")
    return image, morph, grades, hd.sr.srread(path), path


def _measurements(group):
    return {m.name.meaning: m for m in group.get_measurements()}


def test_values_read_back_with_highdicom(written):
    _, morph, grades, sr, _ = written
    groups = sr.content.get_image_measurement_groups()
    assert [g.finding_sites[0].value.meaning for g in groups] == [
        "T12 vertebra",
        "L1 vertebra",
        "L2 vertebra",
    ]
    for group, rec, grade in zip(groups, morph.to_records(), grades.to_records(), strict=True):
        got = _measurements(group)
        for key, name in (("ha", "Anterior"), ("hm", "Middle"), ("hp", "Posterior")):
            m = got[f"{name} vertebral body height"]
            assert m.unit.value == "mm"
            assert m.value == pytest.approx(rec[key], rel=1e-9)
        assert got["Wedge ratio Ha/Hp"].value == pytest.approx(rec["wedge_ratio"], rel=1e-9)
        assert got["Biconcavity ratio Hm/Hp"].value == pytest.approx(
            rec["biconcavity_ratio"], rel=1e-9
        )
        assert got["Vertebral wedge angle"].unit.value == "deg"
        assert got["Vertebral wedge angle"].value == pytest.approx(rec["wedge_angle"], rel=1e-9)
        if math.isnan(rec["crush_ratio"]):
            assert "Crush ratio Hp/adjacent Hp" not in got
        else:
            assert got["Crush ratio Hp/adjacent Hp"].value == pytest.approx(
                rec["crush_ratio"], rel=1e-9
            )
        evaluations = {q.name.meaning: q.value for q in group.get_qualitative_evaluations()}
        assert (
            evaluations["Genant semiquantitative grade"].value == f"VCFM-GENANT-{grade['grade']}"
        )
        assert evaluations["Vertebral deformity type"].scheme_designator == PRIVATE_SCHEME


def test_the_squashed_vertebra_is_graded_as_a_fracture(written):
    _, _, grades, sr, _ = written
    l1 = sr.content.get_image_measurement_groups()[1]
    evaluations = {q.name.meaning: q.value.meaning for q in l1.get_qualitative_evaluations()}
    assert grades.to_records()[1]["grade"] >= 2
    assert evaluations["Genant semiquantitative grade"].startswith(
        f"Genant grade {grades.to_records()[1]['grade']}"
    )


def test_height_segments_are_scoord_polylines_on_the_source(written):
    image, morph, _, sr, _ = written
    for group, xy in zip(
        sr.content.get_image_measurement_groups(), morph.landmarks.array, strict=True
    ):
        got = _measurements(group)
        for name, (i, j) in (("Anterior", (2, 3)), ("Middle", (1, 4)), ("Posterior", (0, 5))):
            (coords,) = got[f"{name} vertebral body height"].referenced_coordinates
            assert coords.value_type.value == "SCOORD" and coords.graphic_type.value == "POLYLINE"
            # DICOM image coordinates: pixel centres at +0.5; Graphic Data is FL (float32)
            np.testing.assert_allclose(coords.value, xy[[i, j]] + SCOORD_SHIFT, atol=1e-4)
            assert (
                coords.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
                == image.SOPInstanceUID
            )


def test_patient_study_and_private_scheme(written):
    image, _, _, sr, _ = written
    assert sr.StudyInstanceUID == image.StudyInstanceUID and sr.PatientID == "VCF-001"
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == PRIVATE_SCHEME
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert (
        evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        == image.SOPInstanceUID
    )


def test_pydicom_strict_validation_passes(written, monkeypatch):
    from pydicom import config

    path = written[-1]
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.RAISE)
    monkeypatch.setattr(config.settings, "writing_validation_mode", config.RAISE)
    ds = pydicom.dcmread(path)
    seen = []
    ds.walk(lambda _, elem: seen.append(elem.value))  # values are validated on access
    assert len(seen) > 200
    ds.save_as(path.with_suffix(".again.dcm"), enforce_file_format=True)


def test_source_as_path_and_as_radiograph(tmp_path):
    image = dx_image()
    image.save_as(tmp_path / "dx.dcm", enforce_file_format=True)
    morph, grades = spine_measurements(image)
    from_path = hd.sr.srread(write_sr(morph, grades, tmp_path / "dx.dcm", tmp_path / "a.dcm"))
    meta = {
        "study_instance_uid": image.StudyInstanceUID,
        "series_instance_uid": image.SeriesInstanceUID,
        "sop_instance_uid": image.SOPInstanceUID,
        "sop_class_uid": DX_STORAGE,
        "patient_id": "VCF-001",
    }
    radiograph = vm.Radiograph(
        np.zeros((160, 120)), spacing=(0.5, 0.5), spacing_source="calibrated", metadata=meta
    )
    from_rg = hd.sr.srread(write_sr(morph, None, radiograph, tmp_path / "b.dcm"))
    assert from_path.StudyInstanceUID == from_rg.StudyInstanceUID == image.StudyInstanceUID
    assert from_rg.PatientID == "VCF-001"
    assert not from_rg.content.get_image_measurement_groups()[0].get_qualitative_evaluations()


def test_refuses_pixels_non_dicom_and_the_wrong_image(tmp_path):
    image = dx_image()
    morph, grades = spine_measurements(image)
    in_px = vm.measure(morph.landmarks)
    with pytest.raises(SpacingError, match="in pixels"):
        write_sr(in_px, vm.grade(in_px), image, tmp_path / "x.dcm")
    png = vm.Radiograph(np.zeros((4, 4)), path="spine.png")
    with pytest.raises(DicomError, match=r"spine.png: no StudyInstanceUID \(study_instance_uid\)"):
        write_sr(morph, grades, png, tmp_path / "x.dcm")
    with pytest.raises(DicomError, match=r"landmarks belong to SOP Instance UID"):
        write_sr(morph, grades, dx_image(), tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()
