"""The spacing decision table of docs/reference.md section 7, one case per branch."""

import pytest
from dicom_factory import header, write
from pydicom.dataset import Dataset

from vcfmeasure import SpacingWarning
from vcfmeasure.io._spacing import dicom_spacing, fiducial_spacing
from vcfmeasure.io.images import read_metadata


def kind(source):
    return source.split(":")[0]


def test_pixel_spacing_with_calibration_type_is_calibrated():
    ds = header(PixelSpacing=[0.14, 0.15], ImagerPixelSpacing=[0.2, 0.2],
                EstimatedRadiographicMagnificationFactor=1.2,
                PixelSpacingCalibrationType="FIDUCIAL",
                PixelSpacingCalibrationDescription="ball 25 mm")
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == (0.14, 0.15)
    assert kind(source) == "calibrated"
    assert "(0028,0A02)" in source and "FIDUCIAL" in source and "ball 25 mm" in source
    assert notes == []


def test_ermf_divides_imager_pixel_spacing():
    ds = header(ImagerPixelSpacing=[0.15, 0.18], EstimatedRadiographicMagnificationFactor=1.2)
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == pytest.approx((0.125, 0.15))
    assert kind(source) == "magnification-corrected"
    assert "(0018,1164) Imager Pixel Spacing" in source
    assert "(0018,1114) Estimated Radiographic Magnification Factor 1.2" in source
    assert notes == []


def test_sid_over_sod_when_no_ermf():
    ds = header(ImagerPixelSpacing=[0.2, 0.2], DistanceSourceToDetector=1000,
                DistanceSourceToPatient=800)
    spacing, source, _ = dicom_spacing(ds)
    assert spacing == pytest.approx((0.16, 0.16))  # 0.2 / (1000 / 800)
    assert kind(source) == "magnification-corrected"
    assert "(0018,1110)" in source and "(0018,1111)" in source


def test_ermf_wins_over_distances():
    ds = header(ImagerPixelSpacing=[0.2, 0.2], EstimatedRadiographicMagnificationFactor=1.25,
                DistanceSourceToDetector=1000, DistanceSourceToPatient=800)
    assert dicom_spacing(ds)[0] == pytest.approx((0.16, 0.16))


def test_implausible_magnification_falls_back_to_detector_with_warnings():
    ds = header(ImagerPixelSpacing=[0.2, 0.2], EstimatedRadiographicMagnificationFactor=0.5)
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == (0.2, 0.2)
    assert kind(source) == "detector"
    messages = [m for _, m in notes]
    assert any("(0018,1114)" in m and "0.5" in m for m in messages)
    assert any("not corrected for magnification" in m for m in messages)


def test_sod_larger_than_sid_is_ignored():
    ds = header(ImagerPixelSpacing=[0.2, 0.2], DistanceSourceToDetector=800,
                DistanceSourceToPatient=1000)
    assert kind(dicom_spacing(ds)[1]) == "detector"


def test_pixel_spacing_different_from_imager_is_calibrated_unknown_method():
    ds = header(PixelSpacing=[0.14, 0.14], ImagerPixelSpacing=[0.168, 0.168])
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == (0.14, 0.14)
    assert kind(source) == "calibrated"
    assert "method not recorded" in source
    assert notes == []


@pytest.mark.parametrize("ps", [None, [0.1, 0.1]], ids=["ips-only", "ps-equals-ips"])
def test_imager_pixel_spacing_alone_is_detector_and_warns(ps):
    ds = header(ImagerPixelSpacing=[0.1, 0.1])
    if ps is not None:
        ds.PixelSpacing = ps
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == (0.1, 0.1)
    assert kind(source) == "detector"
    assert [c for c, _ in notes] == [SpacingWarning]
    assert "magnification" in notes[0][1]


def test_nominal_scanned_spacing_is_film():
    ds = header(Modality="OT", NominalScannedPixelSpacing=[0.0847, 0.0847])
    spacing, source, _ = dicom_spacing(ds)
    assert spacing == (0.0847, 0.0847)
    assert kind(source) == "film"
    assert "(0018,2010)" in source


def test_pixel_spacing_alone_on_projection_image_is_not_used():
    ds = header(Modality="CR", PixelSpacing=[0.2, 0.2])
    spacing, source, notes = dicom_spacing(ds)
    assert spacing is None
    assert kind(source) == "unknown"
    assert "(0028,0030) Pixel Spacing 0.2\\0.2" in source
    assert "spacing=(0.2, 0.2)" in source  # says how to accept it
    assert [c for c, _ in notes] == [SpacingWarning]


def test_pixel_spacing_alone_on_ct_is_in_the_patient():
    spacing, source, notes = dicom_spacing(header(Modality="CT", PixelSpacing=[0.7, 0.7]))
    assert spacing == (0.7, 0.7)
    assert kind(source) == "calibrated"
    assert notes == []


def test_nothing_is_unknown_without_warning():
    spacing, source, notes = dicom_spacing(header())
    assert (spacing, source, notes) == (None, "unknown: no pixel spacing attribute", [])


@pytest.mark.parametrize(
    "value, words",
    [
        ([0, 0], "0\\0"),
        ([-0.1, 0.1], "-0.1\\0.1"),
        ([10.0, 10.0], "10\\10"),
        ([0.001, 0.001], "0.001\\0.001"),
        ([0.1, 0.1, 0.1], "3 values"),
    ],
    ids=["zero", "negative", "absurdly-large", "absurdly-small", "three-values"],
)
def test_invalid_imager_spacing_is_ignored_naming_the_tag(value, words):
    ds = header(ImagerPixelSpacing=value)
    spacing, source, notes = dicom_spacing(ds)
    assert spacing is None
    assert kind(source) == "unknown"
    assert len(notes) == 1
    assert notes[0][0] is SpacingWarning
    assert "(0018,1164) Imager Pixel Spacing" in notes[0][1] and words in notes[0][1]


def test_non_numeric_spacing_in_a_file_is_ignored(tmp_path):
    ds = header(Modality="DX", PixelSpacing=["0.10", "0.10"],
                PixelSpacingCalibrationType="GEOMETRY")
    path = write(ds, tmp_path / "nonnumeric.dcm", legacy=True)
    data = path.read_bytes()
    assert data.count(b"0.10\\0.10") == 1
    path.write_bytes(data.replace(b"0.10\\0.10", b"abcd\\efgh"))
    with pytest.warns(SpacingWarning, match=r"\(0028,0030\) Pixel Spacing .*not numeric"):
        info = read_metadata(path)
    assert info["spacing"] is None
    assert info["spacing_source"].startswith("unknown")


def test_invalid_pixel_spacing_falls_through_to_valid_imager_spacing():
    ds = header(PixelSpacing=[0, 0], ImagerPixelSpacing=[0.15, 0.15],
                PixelSpacingCalibrationType="GEOMETRY")
    spacing, source, notes = dicom_spacing(ds)
    assert spacing == (0.15, 0.15)
    assert kind(source) == "detector"
    assert any("(0028,0030) Pixel Spacing is 0\\0" in m for _, m in notes)


def test_single_value_is_taken_as_square_with_warning():
    ds = header(ImagerPixelSpacing=0.2, EstimatedRadiographicMagnificationFactor=1.25)
    spacing, _, notes = dicom_spacing(ds)
    assert spacing == pytest.approx((0.16, 0.16))
    assert "one value" in notes[0][1]


def test_non_square_order_is_row_then_column():
    ds = header(PixelSpacing=[0.1, 0.3], PixelSpacingCalibrationType="GEOMETRY")
    assert dicom_spacing(ds)[0] == (0.1, 0.3)


def test_enhanced_multiframe_shared_pixel_measures():
    measures = Dataset()
    measures.PixelSpacing = [0.25, 0.25]
    group = Dataset()
    group.PixelMeasuresSequence = [measures]
    ds = header(Modality="CT", SharedFunctionalGroupsSequence=[group])
    assert dicom_spacing(ds)[0] == (0.25, 0.25)


def test_read_metadata_warns_and_records_ignored_attributes():
    ds = header(PixelSpacing=[0, 0], Rows=10, Columns=20)
    with pytest.warns(SpacingWarning, match=r"\(0028,0030\) Pixel Spacing is 0\\0"):
        info = read_metadata(ds)
    assert info["spacing"] is None
    assert info["shape"] == (10, 20)
    assert info["warnings"] and "0.01-5 mm" in info["warnings"][0]


@pytest.mark.parametrize(
    "xy0, xy1, length, aspect, expected",
    [
        ((0, 0), (100, 0), 20.0, 1.0, (0.2, 0.2)),
        ((0, 0), (30, 40), 10.0, 1.0, (0.2, 0.2)),  # 3-4-5 triangle: 50 px
        ((0, 0), (0, 100), 20.0, 2.0, (0.2, 0.1)),  # rows twice as tall as columns
        ((0, 0), (100, 0), 20.0, 2.0, (0.4, 0.2)),
    ],
)
def test_fiducial_spacing_hand_computed(xy0, xy1, length, aspect, expected):
    assert fiducial_spacing(xy0, xy1, length, aspect=aspect) == pytest.approx(expected)
