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
