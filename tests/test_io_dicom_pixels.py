"""Every branch of the DICOM grey pipeline, on DICOM files generated here."""

import numpy as np
import pytest
from dicom_factory import image, write
from pydicom.dataset import Dataset

from vcfmeasure import DicomError, MissingDependencyError, SpacingWarning, load_image
from vcfmeasure._errors import ImageWarning
from vcfmeasure.io import _dicom
from vcfmeasure.io.images import read_metadata

RAW12 = np.array([[0, 1, 100], [2000, 4094, 4095]], np.uint16)


def lut_item(first, table, *, bits=16, as_bytes=False):
    item = Dataset()
    item.LUTDescriptor = [len(table) % 65536, first, bits]
    item.ModalityLUTType = "US"
    if as_bytes:
        item.add_new(0x00283006, "OW", np.asarray(table, "<u2").tobytes())
    else:
        item.add_new(0x00283006, "US", [int(v) for v in table])
    return item


def load(tmp_path, ds, **kwargs):
    return load_image(write(ds, tmp_path / "img.dcm"), **kwargs)


def test_monochrome2_passes_stored_values_through(tmp_path):
    rg = load(tmp_path, image(RAW12, bits_stored=12))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_array_equal(rg.pixels, RAW12)
    assert rg.metadata["inverted"] is False
    assert rg.metadata["modality_lut"] == "identity"


def test_monochrome1_is_inverted_over_the_stored_range(tmp_path):
    rg = load(tmp_path, image(RAW12, bits_stored=12, photometric="MONOCHROME1",
                              WindowCenter=1000, WindowWidth=500))
    np.testing.assert_array_equal(rg.pixels, 4095 - RAW12.astype(float))
    assert rg.metadata["inverted"] is True
    assert rg.window == (3095.0, 500.0)  # the window moves with the grey values


def test_rescale_then_inversion(tmp_path):
    ds = image(RAW12, bits_stored=12, photometric="MONOCHROME1", RescaleSlope=0.5,
               RescaleIntercept=-100)
    rg = load(tmp_path, ds)
    lo, hi = -100.0, 4095 * 0.5 - 100  # rescaled stored range
    np.testing.assert_allclose(rg.pixels, lo + hi - (RAW12 * 0.5 - 100))
    assert rg.metadata["modality_lut"] == "rescale"


def test_presentation_lut_inverse_inverts_monochrome2(tmp_path):
    rg = load(tmp_path, image(RAW12, bits_stored=12, PresentationLUTShape="INVERSE"))
    np.testing.assert_array_equal(rg.pixels, 4095 - RAW12.astype(float))


def test_monochrome1_with_inverse_is_inverted_exactly_once(tmp_path):
    ds = image(RAW12, bits_stored=12, photometric="MONOCHROME1",
               PresentationLUTShape="INVERSE")
    np.testing.assert_array_equal(load(tmp_path, ds).pixels, 4095 - RAW12.astype(float))


def test_presentation_lut_identity_leaves_monochrome2(tmp_path):
    ds = image(RAW12, bits_stored=12, PresentationLUTShape="IDENTITY")
    np.testing.assert_array_equal(load(tmp_path, ds).pixels, RAW12)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["US", "OW"])
def test_modality_lut_sequence_10_bit_table(tmp_path, as_bytes):
    # pydicom 3.0.2's apply_modality_lut fails on such tables (issue #2317).
    table = (np.arange(1024) * 3 + 7) % 1024
    ds = image(RAW12 // 4, bits_stored=10, photometric="MONOCHROME1",
               ModalityLUTSequence=[lut_item(10, table, bits=10, as_bytes=as_bytes)],
               RescaleSlope=5, RescaleIntercept=0)
    rg = load(tmp_path, ds)
    idx = np.clip(RAW12.astype(int) // 4 - 10, 0, 1023)  # first mapped value 10, clipped
    expected = table.min() + table.max() - table[idx]
    np.testing.assert_array_equal(rg.pixels, expected)
    assert rg.metadata["modality_lut"] == "sequence"  # wins over the rescale values


def test_modality_lut_on_signed_pixels_with_negative_first_value(tmp_path):
    raw = np.array([[-3, -2, 0], [1, 2, 5]], np.int16)
    table = np.array([100, 200, 300, 400, 500])
    item = lut_item(-2, table)  # written with VR SS because the pixels are signed
    rg = load(tmp_path, image(raw, bits_stored=12, ModalityLUTSequence=[item]))
    np.testing.assert_array_equal(rg.pixels, [[100, 100, 300], [400, 500, 500]])


def test_malformed_modality_lut_falls_back_to_rescale_with_warning(tmp_path):
    item = lut_item(0, np.arange(10))
    item.LUTDescriptor = [20, 0, 16]  # says 20 entries, holds 10
    ds = image(RAW12, bits_stored=12, ModalityLUTSequence=[item], RescaleSlope=2,
               RescaleIntercept=1)
    with pytest.warns(ImageWarning, match=r"\(0028,3000\) Modality LUT Sequence has 10 entries"):
        rg = load(tmp_path, ds)
    np.testing.assert_array_equal(rg.pixels, RAW12 * 2.0 + 1)
    assert rg.metadata["warnings"]


def test_zero_rescale_slope_is_ignored_with_warning(tmp_path):
    with pytest.warns(ImageWarning, match="Rescale Slope"):
        rg = load(tmp_path, image(RAW12, bits_stored=12, RescaleSlope=0, RescaleIntercept=5))
    np.testing.assert_array_equal(rg.pixels, RAW12)


def test_signed_16_bit_pixels(tmp_path):
    raw = np.array([[-2048, -1, 0], [1, 1000, 2047]], np.int16)
    rg = load(tmp_path, image(raw, bits_stored=12, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(rg.pixels, -1.0 - raw)  # range -2048..2047


def test_8_bit_monochrome1(tmp_path):
    raw = np.array([[0, 10], [200, 255]], np.uint8)
    rg = load(tmp_path, image(raw, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(rg.pixels, 255.0 - raw)


def test_voi_lut_sequence_gives_a_display_window(tmp_path):
    voi = lut_item(500, np.linspace(0, 255, 1001).astype(int), bits=8)
    rg = load(tmp_path, image(RAW12, bits_stored=12, VOILUTSequence=[voi]))
    assert rg.window == (1000.0, 1001.0)
    np.testing.assert_array_equal(rg.pixels, RAW12)  # VOI is for display only


def test_multi_valued_window_takes_the_first(tmp_path):
    rg = load(tmp_path, image(RAW12, bits_stored=12, WindowCenter=[100, 200],
                              WindowWidth=[50, 60]))
    assert rg.window == (100.0, 50.0)
    assert rg.metadata["window_center"] == [100.0, 200.0]


def test_rgb_becomes_luminance(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (255, 255, 255)
    rgb[1, 1] = (0, 255, 0)
    rg = load(tmp_path, image(rgb, photometric="RGB"))
    np.testing.assert_allclose(rg.pixels, [[255, 0], [0, 255 * 0.7154]], rtol=1e-5)


def test_multi_frame_needs_frame_and_selects_it(tmp_path):
    frames = np.stack([np.full((3, 4), 10 * k, np.uint16) for k in range(5)])
    path = write(image(frames), tmp_path / "multi.dcm")
    with pytest.raises(DicomError, match=r"5 frames.*frame= \(0 to 4\)"):
        load_image(path)
    np.testing.assert_array_equal(load_image(path, frame=3).pixels, 30)
    with pytest.raises(DicomError, match="frame=5 out of range"):
        load_image(path, frame=5)


def test_legacy_file_without_preamble_or_meta(tmp_path):
    ds = image(RAW12, bits_stored=12, ImagerPixelSpacing=[0.1, 0.1],
               EstimatedRadiographicMagnificationFactor=1.25)
    path = write(ds, tmp_path / "legacy", legacy=True)
    assert path.read_bytes()[128:132] != b"DICM"
    rg = load_image(path)
    np.testing.assert_array_equal(rg.pixels, RAW12)
    assert rg.spacing == pytest.approx((0.08, 0.08))
    assert rg.metadata["transfer_syntax"] == "1.2.840.10008.1.2"


def test_rle_compressed_equals_native(tmp_path):
    from pydicom.uid import RLELossless

    ds = image(RAW12, bits_stored=12)
    ds.compress(RLELossless)
    rg = load(tmp_path, ds)
    np.testing.assert_array_equal(rg.pixels, RAW12)
    assert rg.metadata["transfer_syntax_name"] == "RLE Lossless"


def test_missing_decoder_names_transfer_syntax_and_extra(tmp_path, monkeypatch):
    from pydicom.uid import RLELossless

    ds = image(RAW12, bits_stored=12)
    ds.compress(RLELossless)
    path = write(ds, tmp_path / "rle.dcm")
    monkeypatch.setattr(_dicom, "_available_plugins", lambda tsyntax: ())
    with pytest.raises(MissingDependencyError, match=r"RLE Lossless.*vcfmeasure\[dicom-codecs\]"):
        load_image(path)


def test_for_processing_image_loads_and_says_so(tmp_path):
    ds = image(RAW12, bits_stored=12, PresentationIntentType="FOR PROCESSING")
    ds.Modality = "DX"
    rg = load(tmp_path, ds)
    assert rg.metadata["presentation_intent"] == "FOR PROCESSING"
    np.testing.assert_array_equal(rg.pixels, RAW12)


def test_dataset_source_is_not_modified():
    ds = image(RAW12, bits_stored=12, photometric="MONOCHROME1")
    before = bytes(ds.PixelData)
    rg = load_image(ds)
    assert ds.PixelData == before and "file_meta" in dir(ds)
    assert rg.path is None
    np.testing.assert_array_equal(rg.pixels, 4095 - RAW12.astype(float))


def test_dataset_without_file_meta_is_read_as_little_endian():
    ds = image(RAW12, bits_stored=12)
    del ds.file_meta
    np.testing.assert_array_equal(load_image(ds).pixels, RAW12)


def test_user_spacing_overrides_and_keeps_the_file_choice(tmp_path):
    ds = image(RAW12, bits_stored=12, ImagerPixelSpacing=[0.1, 0.1])
    rg = load(tmp_path, ds, spacing=(0.2, 0.25))  # no detector warning: user decided
    assert rg.spacing == (0.2, 0.25)
    assert rg.spacing_source.startswith("user")
    assert rg.metadata["file_spacing"] == (0.1, 0.1)
    assert rg.metadata["file_spacing_source"].startswith("detector")


def test_detector_spacing_warns_on_load(tmp_path):
    with pytest.warns(SpacingWarning, match="not corrected for magnification"):
        rg = load(tmp_path, image(RAW12, ImagerPixelSpacing=[0.1, 0.1]))
    assert rg.spacing_source.startswith("detector")
    assert rg.unit == "mm"


def test_metadata_fields_are_kept(tmp_path):
    ds = image(RAW12, bits_stored=12, ViewPosition="LL", BodyPartExamined="LSPINE",
               PatientPosition="", ImageLaterality="L", Manufacturer="ACME")
    rg = load(tmp_path, ds)
    meta = rg.metadata
    assert meta["view_position"] == "LL" and meta["body_part"] == "LSPINE"
    assert meta["image_laterality"] == "L" and meta["manufacturer"] == "ACME"
    assert meta["sop_instance_uid"] == ds.SOPInstanceUID
    assert meta["study_date"] == "20240102"
    assert meta["photometric_interpretation"] == "MONOCHROME2"
    assert "patient_position" not in meta  # empty values are left out


def test_read_metadata_does_not_decode(tmp_path):
    frames = np.zeros((4, 6, 5), np.uint16)
    path = write(image(frames, PixelSpacing=[0.1, 0.1], PixelSpacingCalibrationType="GEOMETRY"),
                 tmp_path / "m.dcm")
    data = path.read_bytes()
    path.write_bytes(data[:-100])  # pixels truncated: a decode would fail
    info = read_metadata(path)
    assert info["shape"] == (6, 5) and info["frames"] == 4
    assert info["spacing"] == (0.1, 0.1) and info["spacing_source"].startswith("calibrated")
    assert info["transfer_syntax_name"] == "Explicit VR Little Endian"
    with pytest.raises(DicomError, match="truncated"):
        load_image(path, frame=0)


def test_max_pixels_is_checked_before_decoding(tmp_path):
    path = write(image(RAW12), tmp_path / "small.dcm")
    with pytest.raises(DicomError, match=r"2 x 3 x 1 samples exceeds the limit of 5"):
        load_image(path, max_pixels=5)


def test_unused_high_bits_are_cleared(tmp_path):
    # bits 12-15 hold garbage (an old overlay): only the 12 stored bits count
    raw = np.array([[0xF005, 0x1FFF], [0x8000, 0x0ABC]], np.uint16)
    rg = load(tmp_path, image(raw, bits_stored=12))
    np.testing.assert_array_equal(rg.pixels, [[5, 4095], [0, 0xABC]])


def test_unused_high_bits_of_signed_pixels_are_sign_extended(tmp_path):
    raw = np.array([[0x0FFF, 0x0800], [0xF005, 0x07FF]], np.uint16).view(np.int16)
    rg = load(tmp_path, image(raw, bits_stored=12, signed=1))
    np.testing.assert_array_equal(rg.pixels, [[-1, -2048], [5, 2047]])


def test_unused_high_bits_before_a_modality_lut(tmp_path):
    raw = np.array([[0xF000, 0x0001], [0x4002, 0x0003]], np.uint16)
    item = lut_item(0, np.array([10, 20, 30, 40]))
    rg = load(tmp_path, image(raw, bits_stored=2, ModalityLUTSequence=[item]))
    np.testing.assert_array_equal(rg.pixels, [[10, 20], [30, 40]])


@pytest.mark.parametrize("syntax", ["JPEGLSLossless", "JPEG2000Lossless"])
def test_generated_lossless_codecs_round_trip(tmp_path, syntax):
    import pydicom.uid
    from pydicom.pixels import get_decoder, get_encoder

    uid = getattr(pydicom.uid, syntax)
    if not (get_encoder(uid).is_available and get_decoder(uid).is_available):
        pytest.skip(f"no {uid.name} encoder/decoder; install vcfmeasure[dicom-codecs]")
    raw = (np.arange(128 * 96, dtype=np.uint16).reshape(128, 96) * 3) % 4096
    ds = image(raw, bits_stored=12, photometric="MONOCHROME1")
    ds.compress(uid)
    rg = load(tmp_path, ds)
    np.testing.assert_array_equal(rg.pixels, 4095 - raw.astype(float))
    assert rg.metadata["transfer_syntax"] == uid


def test_file_meta_without_preamble(tmp_path):
    path = write(image(RAW12, bits_stored=12), tmp_path / "full.dcm")
    stripped = tmp_path / "nopreamble.dcm"
    stripped.write_bytes(path.read_bytes()[132:])  # starts at (0002,0000)
    np.testing.assert_array_equal(load_image(stripped).pixels, RAW12)


def test_deflated_transfer_syntax(tmp_path):
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = image(RAW12, bits_stored=12, photometric="MONOCHROME1")
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    rg = load(tmp_path, ds)
    np.testing.assert_array_equal(rg.pixels, 4095 - RAW12.astype(float))


def test_big_endian_goes_through_pydicom(tmp_path):
    from pydicom.uid import ExplicitVRBigEndian

    ds = image(RAW12, bits_stored=12)
    ds.PixelData = RAW12.astype(">u2").tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    path = tmp_path / "be.dcm"
    ds.save_as(path, implicit_vr=False, little_endian=False, enforce_file_format=True)
    np.testing.assert_array_equal(load_image(path).pixels, RAW12)
