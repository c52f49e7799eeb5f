"""Real DICOM files from public test suites, each for what it exercises (PROVENANCE.md)."""

import numpy as np
import pydicom
import pytest
from dicom_factory import FIXTURES, SHARED
from pydicom.pixels import get_decoder

from vcfmeasure import DicomError, MissingDependencyError, SpacingWarning, load_image
from vcfmeasure._errors import ImageWarning
from vcfmeasure.io.images import read_metadata


def fixture(name):
    path = FIXTURES / name
    if not path.exists():
        path = SHARED / name
    if not path.exists():
        pytest.skip(f"{name} is > 1 MB and not committed; needs {SHARED}")
    return path


def needs_decoder(path):
    tsyntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if not get_decoder(tsyntax).is_available:
        pytest.skip(f"no decoder for {tsyntax.name}; install vcfmeasure[dicom-codecs]")


def raw_pixels(path, **kwargs):
    """pydicom's own decode, the reference for the pipeline."""
    return pydicom.pixels.pixel_array(path, **kwargs).astype(np.float64)


def test_cr_cervical_spine_lateral_rescale_and_monochrome1():
    path = fixture("CR1_6154_CSPINE_LAT.dcm")
    with pytest.warns(SpacingWarning, match=r"0\.1\\0\.1 mm is \(0018,1164\)"):
        rg = load_image(path)
    assert rg.spacing == (0.1, 0.1)
    assert rg.spacing_source.startswith("detector: (0018,1164) Imager Pixel Spacing 0.1\\0.1")
    raw = raw_pixels(path)
    lo, hi = 200.0, 4095 * 0.684 + 200  # 12 bits stored, slope 0.684, intercept 200
    np.testing.assert_allclose(rg.pixels, lo + hi - (raw * 0.684 + 200), rtol=1e-6)
    assert rg.window == pytest.approx((lo + hi - 1600, 2800))
    assert rg.metadata["view_position"] == "LL"
    assert rg.metadata["rescale_type"] == "OD"


def test_dx_monochrome1_with_inverse_and_non_square_spacing():
    path = fixture("dx_image.dcm")
    with pytest.warns(SpacingWarning, match="not corrected for magnification"):
        rg = load_image(path)
    assert rg.spacing == pytest.approx((1.2, 1.2012))  # (row, col), not swapped
    assert rg.spacing_source.startswith("detector")
    assert "(0028,0030) Pixel Spacing equals it" in rg.spacing_source
    np.testing.assert_array_equal(rg.pixels, 255 - raw_pixels(path))  # once, not twice
    assert rg.metadata["presentation_lut_shape"] == "INVERSE"
    assert rg.metadata["distance_source_to_detector"] == 1000.0


def test_jpeg2000_lossy_with_zero_pixel_spacing():
    path = fixture("RG1_J2KI.dcm")
    needs_decoder(path)
    with pytest.warns(SpacingWarning, match=r"\(0028,0030\) Pixel Spacing is 0\\0"):
        rg = load_image(path)
    assert rg.spacing is None and rg.unit == "px"
    assert rg.spacing_source.startswith("unknown")
    assert rg.shape == (1955, 1841)
    np.testing.assert_array_equal(rg.pixels, 32767 - raw_pixels(path))  # 15 bits stored


def test_jpeg2000_lossless_without_spacing_is_unknown_silently():
    path = fixture("RG3_J2KR.dcm")
    needs_decoder(path)
    rg = load_image(path)  # any vcfmeasure warning would fail the test
    assert (rg.spacing, rg.spacing_source) == (None, "unknown: no pixel spacing attribute")
    np.testing.assert_array_equal(rg.pixels, 1023 - raw_pixels(path))
    assert rg.window == (1023 - 550, 1024)


def test_jpeg_lossless_with_empty_lut_sequences():
    path = fixture("JPEGLosslessP14SV1_1s_1f_u_16_16.dcm")
    needs_decoder(path)
    with pytest.warns(ImageWarning, match=r"\(0028,3000\) Modality LUT Sequence has no valid"):
        rg = load_image(path)
    np.testing.assert_array_equal(rg.pixels, raw_pixels(path))
    assert rg.window is None
    assert rg.metadata["modality"] == "OT"


def test_jpeg_extended_12_bit():
    path = fixture("RG2_JPLY_fixed.dcm")
    tsyntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if "pylibjpeg" not in get_decoder(tsyntax).available_plugins:
        with pytest.raises(MissingDependencyError, match=r"vcfmeasure\[dicom-codecs-gpl\]"):
            load_image(path)
        return
    with pytest.warns(SpacingWarning, match="Pixel Spacing 0.2"):
        rg = load_image(path)
    assert rg.spacing is None and rg.spacing_source.startswith("unknown")
    np.testing.assert_array_equal(rg.pixels, raw_pixels(path))


def test_cr_modality_lut_sequence_10_bit():
    path = fixture("CR-ModalitySequenceLUT.dcm")
    needs_decoder(path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    table = np.frombuffer(ds.ModalityLUTSequence[0].LUTData, "<u2").astype(float)
    with pytest.warns(SpacingWarning, match="0.15"):
        rg = load_image(path)
    raw = raw_pixels(path).astype(int)
    expected = table.min() + table.max() - table[np.clip(raw, 0, 1023)]
    np.testing.assert_array_equal(rg.pixels, expected)
    assert rg.metadata["modality_lut"] == "sequence"
    assert rg.spacing == (0.15, 0.15)


def test_multi_frame_xa():
    path = fixture("HasFragmentSequence.dcm")
    needs_decoder(path)
    with pytest.raises(DicomError, match=r"96 frames.*frame= \(0 to 95\)"):
        load_image(path)
    rg = load_image(path, frame=5)
    np.testing.assert_array_equal(rg.pixels, raw_pixels(path, index=5))
    assert rg.metadata["frame"] == 5
    assert read_metadata(path)["frames"] == 96


@pytest.mark.parametrize(
    "name, shape, syntax",
    [
        ("CR1_6154_CSPINE_LAT.dcm", (16, 16), "Explicit VR Little Endian"),
        ("dx_image.dcm", (169, 211), "Explicit VR Little Endian"),
        ("RG1_J2KI.dcm", (1955, 1841), "JPEG 2000 Image Compression"),
        ("RG3_J2KR.dcm", (1760, 1760), "JPEG 2000 Image Compression (Lossless Only)"),
    ],
)
def test_read_metadata_of_real_files(name, shape, syntax, recwarn):
    info = read_metadata(fixture(name))
    assert info["shape"] == shape
    assert info["transfer_syntax_name"] == syntax
    assert info["modality"] in {"CR", "DX"}
    assert info["sop_instance_uid"]
    assert info["spacing_source"].split(":")[0] in {"detector", "unknown"}
