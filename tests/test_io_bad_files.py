"""A corpus of broken inputs: each fails fast with a VcfMeasureError naming file and problem."""

import struct
import tracemalloc

import numpy as np
import pytest
from dicom_factory import FIXTURES, image, structured_report, write
from pydicom.uid import RLELossless

from vcfmeasure import DicomError, ImageError, VcfMeasureError, load_image
from vcfmeasure.io.images import read_metadata

RAW = np.arange(64 * 48, dtype=np.uint16).reshape(64, 48)


def good_file(tmp_path, name="good.dcm"):
    return write(image(RAW, bits_stored=12), tmp_path / name)


def pixel_data_offset(data: bytes) -> int:
    """Offset of the (7FE0,0010) element tag in an explicit VR little endian file."""
    return data.rindex(b"\xe0\x7f\x10\x00OW")


def load_fails(path, match, kind=ImageError):
    with pytest.raises(kind, match=match) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, VcfMeasureError)
    return info.value


def test_truncated_pixel_data(tmp_path):
    path = good_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-1000])
    load_fails(path, r"Pixel Data declares 6144 bytes but the file holds only 5144; the file "
                     "is truncated", DicomError)


def test_header_only(tmp_path):
    path = good_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:pixel_data_offset(data)])
    load_fails(path, r"declares a 64 x 48 image .* no \(7FE0,0010\) Pixel Data; the file is "
                     "truncated or header only", DicomError)


def test_cut_inside_the_header(tmp_path):
    path = good_file(tmp_path)
    path.write_bytes(path.read_bytes()[:300])
    load_fails(path, path.name)


def test_lying_rows_and_columns(tmp_path):
    ds = image(RAW)
    ds.Rows, ds.Columns = 4000, 3000  # the data holds 64 x 48
    path = write(ds, tmp_path / "lying.dcm")
    load_fails(path, r"holds 6144 bytes but 4000 Rows x 3000 Columns .* need 24000000", DicomError)


def test_absurd_declared_size_is_refused_before_any_allocation(tmp_path):
    ds = image(RAW)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 1000
    path = write(ds, tmp_path / "bomb.dcm")
    tracemalloc.start()
    try:
        load_fails(path, r"65535 x 65535 x 1 samples exceeds the limit", DicomError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_pixel_data_length_beyond_end_of_file(tmp_path):
    path = good_file(tmp_path)
    data = bytearray(path.read_bytes())
    at = pixel_data_offset(data) + 8  # tag (4), VR (2), reserved (2), then the length
    data[at:at + 4] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        load_fails(path, r"declares 4294967280 bytes but the file holds only 6144", DicomError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # never the 4 GB the length declares


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    load_fails(path, "not a DICOM file .* nor a PNG, TIFF or JPEG image")


def test_random_bytes_behind_a_dicom_preamble(tmp_path):
    path = tmp_path / "noise_dicm.dcm"
    path.write_bytes(bytes(128) + b"DICM" + np.random.default_rng(2).bytes(3000))
    load_fails(path, path.name)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    load_fails(path, r"empty file \(0 bytes\)")


def test_wrong_extension_text_file(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("patient positioned for lateral lumbar spine\n" * 10)
    load_fails(path, r"not a DICOM file .*\.dcm\); the extension is not used")


def test_structured_report_is_not_an_image(tmp_path):
    path = write(structured_report(), tmp_path / "report.dcm")
    error = load_fails(path, r"no \(7FE0,0010\) Pixel Data .*Basic Text SR.*not an image",
                       DicomError)
    assert "structured report" in str(error)


def test_zero_length_pixel_data(tmp_path):
    ds = image(RAW)
    ds.PixelData = b""
    path = write(ds, tmp_path / "zero.dcm")
    load_fails(path, r"\(7FE0,0010\) Pixel Data is empty \(zero length\)", DicomError)


def test_missing_rows(tmp_path):
    ds = image(RAW)
    del ds.Rows
    load_fails(write(ds, tmp_path / "norows.dcm"), r"\(0028,0010\) Rows is missing", DicomError)


def test_unsupported_bits_allocated(tmp_path):
    ds = image(RAW)
    ds.BitsAllocated = 12
    load_fails(write(ds, tmp_path / "bits.dcm"), r"\(0028,0100\) Bits Allocated 12", DicomError)


def test_corrupt_compressed_frame(tmp_path):
    ds = image(RAW, bits_stored=12)
    ds.compress(RLELossless)
    data = bytearray(ds.PixelData)
    data[-200:] = bytes(200)
    data[30:60] = b"\xff" * 30  # scramble the RLE header and segments
    ds.PixelData = bytes(data)
    load_fails(write(ds, tmp_path / "rle_bad.dcm"), r"could not decode frame 0 of 1 \(RLE",
               DicomError)


def test_encapsulated_data_without_item_tag():
    ds = image(RAW, bits_stored=12)
    ds.compress(RLELossless)
    ds.PixelData = b"\x00" * 64  # pydicom refuses to write this, so load it from memory
    with pytest.raises(DicomError, match=r"<pydicom.Dataset>: .*not encapsulated .*no item tag"):
        load_image(ds)


def test_truncated_jpeg2000_file(tmp_path):
    source = FIXTURES / "RG3_J2KR.dcm"
    path = tmp_path / "RG3_cut.dcm"
    path.write_bytes(source.read_bytes()[:400_000])
    with pytest.raises(DicomError, match=r"declares a 1760 x 1760 image but the file ends "
                       r"inside its \(7FE0,0010\) Pixel Data; the file is truncated"):
        load_image(path)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "absent.dcm")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_read_metadata_of_random_bytes(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(3).bytes(1000))
    with pytest.raises(ImageError, match="not a DICOM file"):
        read_metadata(path)


# ------------------------------------------------------------------ hostile files (issue 17)
# Built with the fuzz corpus's generators (tests/fuzz/make_corpus.py); each refusal must be
# fast, name the file and the field, and come before anything large is allocated.


def _corpus(tmp_path, make):
    import sys
    import warnings
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
    import make_corpus

    corpus = make_corpus.Corpus(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(make_corpus, make)(corpus)
    return {c["id"].split("/", 1)[1]: c["path"] for c in corpus.cases}


@pytest.mark.parametrize(("name", "match"), [
    ("j2k-siz-20000", r"JPEG 2000 SIZ \(image size\) of frame 0 says 20000 x 20000 but "
                      r"\(0028,0010\) Rows x \(0028,0011\) Columns is 64 x 48"),
    ("j2k-siz-swapped", r"says 48 x 64 but .* is 64 x 48"),
    ("jpeg-sof-60000", r"JPEG SOF \(image size\) of frame 0 says 60000 x 60000"),
    ("rle-segments-15", r"RLE header of frame 0 holds 15 segment\(s\) but \(0028,0002\) "
                        r"Samples per Pixel 1 x \(0028,0100\) Bits Allocated 16 need 2"),
    ("rle-offset-past-end", r"RLE segment offsets of frame 0 .* are not increasing from 64"),
])
def test_codestream_header_disagreeing_with_the_dicom_header(tmp_path, name, match):
    path = _corpus(tmp_path, "codestream")[name]
    tracemalloc.start()
    try:
        with pytest.raises(DicomError, match=match) as info:
            load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path in str(info.value) and peak < 20 * 2**20


def test_deflate_bomb_is_refused_with_a_capped_inflate(tmp_path):
    path = _corpus(tmp_path, "deflate")["bomb-256M-read_metadata"]
    tracemalloc.start()
    try:
        with pytest.raises(DicomError, match="the deflated dataset inflates to more than "
                                             "16777216 bytes"):
            read_metadata(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


@pytest.mark.parametrize(("name", "match"), [
    ("million-items-read_metadata", "more than 10000 sequence items; refused before parsing"),
    ("nested-400-read_metadata", r"sequences nested deeper than 32 \(at element \(0009,1020\)\)"),
])
def test_sequence_bombs(tmp_path, name, match):
    with pytest.raises(DicomError, match=match):
        read_metadata(_corpus(tmp_path, "sequence")[name])


@pytest.mark.parametrize(("name", "match"), [
    ("ts-not-a-uid", r"\(0002,0010\) Transfer Syntax UID '1.2.3.4.5.6.7.8.9' is not a "
                     "transfer syntax"),
    ("us-length-3", r"\(0028,0010\) Rows cannot be read \(BytesLengthException"),
    ("frames-400-digits", r"\(0028,0008\) Number of Frames is inf, not an integer"),
    ("bits-stored-40", r"\(0028,0101\) Bits Stored 40 is not between 1 and \(0028,0100\)"),
    ("pixel-representation-5", r"\(0028,0103\) Pixel Representation 5 is neither 0"),
    ("photometric-garbage", r"Photometric Interpretation 'PALETTE COLOR' with"),
])
def test_lying_attributes_are_named(tmp_path, name, match):
    with pytest.raises(DicomError, match=match):
        load_image(_corpus(tmp_path, "dicom_lying")[name])


def _load_recording(path):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rg = load_image(path)
    return rg, [f"{w.category.__name__}: {w.message}" for w in caught]


def test_rescale_beyond_float32_is_ignored_with_a_warning(tmp_path):
    rg, said = _load_recording(_corpus(tmp_path, "dicom_lying")["slope-huge"])
    assert any(s.startswith("ImageWarning") and "beyond the float32 range; ignored" in s
               for s in said)
    assert np.isfinite(rg.pixels).all() and rg.metadata["modality_lut"] == "identity"


def test_unknown_vr_in_an_unused_element_is_dropped_with_a_warning(tmp_path):
    _, said = _load_recording(_corpus(tmp_path, "dicom_lying")["unknown-vr"])
    assert any(s.startswith("ImageWarning") and "(0009,0010) private or unknown cannot be "
               "read (NotImplementedError); ignored" in s for s in said), said


@pytest.mark.parametrize("name", ["png-bomb-12000", "tiff-bomb-12000", "jpeg-bomb-12000"])
def test_raster_bombs_are_refused_from_the_header(tmp_path, name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak
        with pytest.raises(ImageError, match="12000 x 12000 pixels exceed the limit of "
                                             "100000000"):
            load_image(_corpus(tmp_path, "raster")[name])


@pytest.mark.parametrize(("name", "match"), [
    ("deep-5000", r"field \$ \(top level\): JSON nested deeper than the parser allows"),
    ("coco-image-id-list", r"field \$.annotations\[0\].image_id: an id must be a number or a "
                           "string, got list"),
    ("coco-images-id-list", r"field \$.images\[0\].id: an id must be a number"),
    ("csv-cell-200k", r"line 8: unreadable CSV \(field larger than field limit"),
    ("csv-100MB", r"bytes, more than the 16777216 bytes a landmark file may have"),
    ("fifo", r"is a FIFO \(named pipe\), not a landmark file"),
    ("device-zero", r"is a device, not a landmark file"),
])
def test_hostile_landmark_files(tmp_path, name, match):
    from vcfmeasure import FileFormatError
    from vcfmeasure.io.landmark_files import read_landmarks_all

    path = _corpus(tmp_path, "landmarks")[name]
    with pytest.raises(FileFormatError, match=match) as info:
        read_landmarks_all(path)
    assert str(path) in str(info.value)
