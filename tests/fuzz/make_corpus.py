"""Generate the hostile-input corpus: broken, lying and oversized files, by category.

Usage::

    python tests/fuzz/make_corpus.py OUT_DIR        # writes the files and OUT_DIR/cases.json

Everything is generated from a fixed seed in a few seconds (the large cases are bombs:
small files that *declare* or *inflate to* a lot), so nothing is committed but this
script. Each case names the file(s), the call to make on them (``op``), what a correct
outcome is (``expect``: ``"error"`` = a :class:`vcfmeasure.VcfMeasureError`; ``"result"``
= a result checked against ``check``; ``"either"`` = an error or a result that passes the
generic checks), and ``decoded_bytes``, the bytes the decoded image would take (float32
pixels, from what the file declares; ``None`` for non-images), which sets the memory
limit in :mod:`tests.fuzz.harness`.

Categories (see ``docs/loading.md``, "Hostile inputs"):

``dicom-truncated``, ``dicom-flipped``, ``dicom-lying``, ``codestream``, ``deflate``,
``sequence``, ``raster``, ``landmarks``, ``not-an-image``, ``filesystem``, ``outputs``.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # outputs.py, the scenarios of the outputs category
FIXTURES = HERE.parent / "fixtures" / "dicom"

CR = "1.2.840.10008.5.1.4.1.1.1"
POINTS = ("sp", "sm", "sa", "ia", "im", "ip")


# ------------------------------------------------------------------ DICOM building blocks


def _dataset(pixels: np.ndarray, **attrs: Any):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CR
    ds.SOPClassUID = CR
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7"
    ds.StudyInstanceUID = "1.2.3.4.5.6.8"
    ds.SeriesInstanceUID = "1.2.3.4.5.6.9"
    ds.Modality = "CR"
    ds.PatientID = "FUZZ"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.ImagerPixelSpacing = [0.2, 0.2]
    ds.PixelData = pixels.astype("<u2").tobytes()
    for key, value in attrs.items():
        _set(ds, key, value)
    return ds


def _set(ds: Any, keyword: str, value: Any) -> None:
    """Set an attribute, keeping values pydicom would refuse as raw bytes (lies included)."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement

    try:
        setattr(ds, keyword, value)
        return
    except (ValueError, TypeError, OverflowError):
        pass
    tag = tag_for_keyword(keyword)
    text = "\\".join(map(str, value)) if isinstance(value, list) else str(value)
    raw = text.encode("latin-1")
    raw += b" " * (len(raw) % 2)
    ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)


def _bytes(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _pixels(rows: int = 64, cols: int = 48) -> np.ndarray:
    return (np.arange(rows * cols, dtype=np.uint32).reshape(rows, cols) * 7 % 4096).astype(
        np.uint16
    )


def _element(group: int, elem: int, vr: bytes, value: bytes, length: int | None = None) -> bytes:
    """An explicit VR little endian element (``length`` may lie)."""
    n = len(value) if length is None else length
    if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, n) + value
    return struct.pack("<HH2sH", group, elem, vr, n) + value


def _with_ts(data: bytes, uid: str) -> bytes:
    """The file with its (0002,0010) Transfer Syntax UID replaced (meta length fixed)."""
    (meta_len,) = struct.unpack("<I", data[140:144])
    meta_end = 144 + meta_len
    at = data.index(b"\x02\x00\x10\x00UI", 132)
    (n,) = struct.unpack("<H", data[at + 6:at + 8])
    value = uid.encode() + b"\x00" * (len(uid) % 2)
    meta = data[:at] + _element(0x0002, 0x0010, b"UI", value) + data[at + 8 + n:meta_end]
    meta = meta[:140] + struct.pack("<I", len(meta) - 144) + meta[144:]
    return meta + data[meta_end:]


def _insert_before_pixels(data: bytes, raw: bytes) -> bytes:
    at = data.rindex(b"\xe0\x7f\x10\x00")
    return data[:at] + raw + data[at:]


def _replace_element(data: bytes, tag: tuple[int, int], raw: bytes) -> bytes:
    """Replace the first short-length element ``tag`` (explicit VR LE) by ``raw``."""
    key = struct.pack("<HH", *tag)
    at = data.index(key, 132)
    (length,) = struct.unpack("<H", data[at + 6:at + 8])
    return data[:at] + raw + data[at + 8 + length:]


# ------------------------------------------------------------------ writers


class Corpus:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.cases: list[dict[str, Any]] = []
        out.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return path

    def add(self, category: str, name: str, op: str, target: str | Path, *,
            expect: str = "error", decoded_bytes: int | None = None, **extra: Any) -> None:
        self.cases.append({
            "id": f"{category}/{name}",
            "category": category,
            "op": op,
            "path": str(target),
            "expect": expect,
            "decoded_bytes": decoded_bytes,
            **extra,
        })


def _image_bytes(rows: int, cols: int) -> int:
    return int(rows) * int(cols) * 4


# ------------------------------------------------------------------ categories


def dicom_truncated(c: Corpus) -> None:
    good = _bytes(_dataset(_pixels()))
    c.add("dicom-truncated", "intact", "load_image", c.file("trunc/intact.dcm", good),
          expect="result", decoded_bytes=_image_bytes(64, 48),
          check={"shape": [64, 48], "spacing_source": "detector"})
    for cut in (0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 0.97, 0.999):
        n = int(len(good) * cut)
        for op in ("load_image", "read_metadata"):
            c.add("dicom-truncated", f"cut{n}-{op}", op,
                  c.file(f"trunc/cut{n}.dcm", good[:n]), decoded_bytes=_image_bytes(64, 48),
                  expect="error" if op == "load_image" else "either")
    j2k = (FIXTURES / "RG3_J2KR.dcm").read_bytes()
    for cut in (0.3, 0.7, 0.99):
        n = int(len(j2k) * cut)
        c.add("dicom-truncated", f"j2k-cut{n}", "load_image",
              c.file(f"trunc/j2k{n}.dcm", j2k[:n]), decoded_bytes=_image_bytes(1760, 1760))


def dicom_flipped(c: Corpus, n: int = 40) -> None:
    good = _bytes(_dataset(_pixels()))
    rng = random.Random(17)
    header_end = good.rindex(b"\xe0\x7f\x10\x00") + 12
    for k in range(n):
        data = bytearray(good)
        for _ in range(rng.choice((1, 2, 4, 8))):
            at = rng.randrange(128, header_end)  # the header: flips in pixels are valid images
            data[at] ^= 1 << rng.randrange(8)
        c.add("dicom-flipped", f"flip{k:02d}", rng.choice(("load_image", "read_metadata")),
              c.file(f"flip/flip{k:02d}.dcm", bytes(data)), expect="either",
              decoded_bytes=_image_bytes(64, 48))


def dicom_lying(c: Corpus) -> None:
    px = _pixels()
    small = _image_bytes(64, 48)

    def case(name: str, data: bytes, *, op: str = "load_image", expect: str = "error",
             decoded: int | None = small, **extra: Any) -> None:
        c.add("dicom-lying", name, op, c.file(f"lying/{name}.dcm", data), expect=expect,
              decoded_bytes=decoded, **extra)

    for name, attrs in {
        "rows-huge": {"Rows": 65535, "Columns": 65535},
        "rows-zero": {"Rows": 0},
        "bits-12": {"BitsAllocated": 12},
        "bits-0": {"BitsAllocated": 0},
        "bits-64": {"BitsAllocated": 64},
        "bits-stored-40": {"BitsStored": 40},
        "bits-stored-0": {"BitsStored": 0},
        "samples-0": {"SamplesPerPixel": 0},
        "samples-3": {"SamplesPerPixel": 3},
        "frames-text": {"NumberOfFrames": "abc"},
        "frames-negative": {"NumberOfFrames": "-1"},
        "frames-billion": {"NumberOfFrames": "1000000000"},
        "pixel-representation-5": {"PixelRepresentation": 5},
        "photometric-garbage": {"PhotometricInterpretation": "PALETTE COLOR"},
    }.items():
        ds = _dataset(px)
        for key, value in attrs.items():
            _set(ds, key, value)
        case(name, _bytes(ds))
    # attributes that are wrong but leave a usable image: a result (with a warning) or an error
    for name, attrs in {
        "slope-huge": {"RescaleSlope": "1e308", "RescaleIntercept": "1e308"},
        "slope-nan": {"RescaleSlope": "nan"},
        "slope-inf": {"RescaleSlope": "inf", "RescaleIntercept": "-inf"},
        "window-huge": {"WindowCenter": "1e308", "WindowWidth": "1e308"},
        "spacing-overflow": {"ImagerPixelSpacing": ["1e400", "1e400"]},
        "spacing-negative": {"ImagerPixelSpacing": ["-0.1", "0.1"]},
        "spacing-text": {"PixelSpacing": ["abc", "def"]},
        "magnification-zero": {"EstimatedRadiographicMagnificationFactor": "0"},
        "magnification-huge": {"EstimatedRadiographicMagnificationFactor": "1e308"},
        "sdd-huge": {"DistanceSourceToDetector": "1e308", "DistanceSourceToPatient": "1e-308"},
    }.items():
        ds = _dataset(px)
        for key, value in attrs.items():
            _set(ds, key, value)
        case(name, _bytes(ds), expect="either")
        case(f"{name}-meta", _bytes(ds), op="read_metadata", expect="either", decoded=None)
    good = _bytes(_dataset(px))
    # an integer too large for a float in an IS attribute
    case("frames-400-digits", _replace_element(_bytes(_dataset(px, NumberOfFrames="1")),
                                               (0x0028, 0x0008), _element(0x0028, 0x0008, b"IS",
                                                                          b"9" * 400)))
    case("spacing-400-digits", _insert_before_pixels(good, _element(
        0x0028, 0x0030, b"DS", b"9" * 300 + b"\\" + b"9" * 300)), expect="either")
    long_spacing = b"\\".join([b"0.2"] * 16000)  # a 64 KB Imager Pixel Spacing
    case("spacing-64k", _replace_element(good, (0x0018, 0x1164),
                                         _element(0x0018, 0x1164, b"UN", long_spacing)),
         expect="either")
    case("spacing-64k-meta", _replace_element(good, (0x0018, 0x1164),
                                              _element(0x0018, 0x1164, b"UN", long_spacing)),
         op="read_metadata", expect="either", decoded=None)
    case("unknown-vr", _insert_before_pixels(good, b"\x09\x00\x10\x00ZZ\x04\x00abcd"),
         expect="either")  # an unknown VR in a private element the image does not need
    case("unknown-vr-meta", _insert_before_pixels(good, b"\x09\x00\x10\x00ZZ\x04\x00abcd"),
         op="read_metadata", decoded=None, expect="either")
    case("length-lies", _insert_before_pixels(good, _element(0x0009, 0x1010, b"OB", b"x" * 8,
                                                             length=0xFFFFFFF0)))
    case("us-length-3", _replace_element(good, (0x0028, 0x0010),
                                         _element(0x0028, 0x0010, b"US", b"\x40\x00\x00")))
    case("us-length-3-meta", _replace_element(good, (0x0028, 0x0010),
                                              _element(0x0028, 0x0010, b"US", b"\x40\x00\x00")),
         op="read_metadata", decoded=None, expect="either")
    ts_bad = _with_ts(good, "1.2.3.4.5.6.7.8.9")
    case("ts-not-a-uid", ts_bad)
    case("ts-not-a-uid-meta", ts_bad, op="read_metadata", decoded=None, expect="either")
    case("ts-j2k-native-data", _with_ts(good, "1.2.840.10008.1.2.4.90"))  # native data
    # LUTs that lie
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    for name, desc, data in (
        ("lut-descriptor-huge", [65535, 0, 16], [1, 2, 3]),
        ("lut-descriptor-short", [3, 0], [1, 2, 3]),
        ("lut-first-negative", [4, 40000, 16], [1, 2, 3, 4]),
    ):
        ds = _dataset(px)
        item = Dataset()
        item.LUTDescriptor = desc
        item.LUTData = np.asarray(data, "<u2").tobytes()
        item.ModalityLUTType = "OD"
        ds.ModalityLUTSequence = Sequence([item])
        case(name, _bytes(ds), expect="either")
    ds = _dataset(px)
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 1
    ds.RescaleSlope = "1e30"
    ds.PixelData = (np.full((64, 48), 2**31 - 1, np.int64)).astype("<i4").tobytes()
    case("int32-extreme-rescale", _bytes(ds), expect="either")


def _patch_marker(data: bytes, marker: bytes, patch) -> bytes:
    at = data.index(marker)
    return data[:at] + patch(data[at:]) + b""


def codestream(c: Corpus) -> None:
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

    px = _pixels()
    small = _image_bytes(64, 48)

    def compressed(uid: str, **attrs: Any) -> bytes:
        ds = _dataset(px, **attrs)
        ds.compress(uid)
        return _bytes(ds)

    j2k = compressed(JPEG2000Lossless)
    c.add("codestream", "j2k-intact", "load_image", c.file("code/j2k-intact.dcm", j2k),
          expect="result", decoded_bytes=small, check={"shape": [64, 48]})

    def siz(data: bytes, x: int, y: int, tile: bool = True) -> bytes:
        at = data.index(b"\xff\x4f\xff\x51") + 2  # SOC then SIZ
        head = bytearray(data)
        struct.pack_into(">II", head, at + 6, x, y)
        if tile:
            struct.pack_into(">II", head, at + 22, x, y)
        return bytes(head)

    for name, (x, y) in {"siz-20000": (20000, 20000), "siz-2e31": (2**31 - 1, 2**31 - 1),
                         "siz-wide": (48 * 1000, 64), "siz-swapped": (64, 48)}.items():
        c.add("codestream", f"j2k-{name}", "load_image",
              c.file(f"code/j2k-{name}.dcm", siz(j2k, x, y)), decoded_bytes=small)
    c.add("codestream", "j2k-siz-20000-untiled", "load_image",
          c.file("code/j2k-siz-untiled.dcm", siz(j2k, 20000, 20000, tile=False)),
          decoded_bytes=small)
    real = (FIXTURES / "RG3_J2KR.dcm").read_bytes()
    c.add("codestream", "j2k-real-siz-20000", "load_image",
          c.file("code/j2k-real-siz.dcm", siz(real, 20000, 20000)),
          decoded_bytes=_image_bytes(1760, 1760))
    # a J2K whose header says 3 samples per pixel (native decoders have aborted on it)
    sp3 = compressed(JPEG2000Lossless)
    sp3 = _replace_element(sp3, (0x0028, 0x0002), _element(0x0028, 0x0002, b"US", b"\x03\x00"))
    c.add("codestream", "j2k-samples-3", "load_image", c.file("code/j2k-spp3.dcm", sp3),
          decoded_bytes=small * 3)
    bits8 = _replace_element(j2k, (0x0028, 0x0100), _element(0x0028, 0x0100, b"US", b"\x08\x00"))
    c.add("codestream", "j2k-bits-8", "load_image", c.file("code/j2k-bits8.dcm", bits8),
          decoded_bytes=small)

    jpeg = (FIXTURES / "JPEGLosslessP14SV1_1s_1f_u_16_16.dcm").read_bytes()

    def sof(data: bytes, marker: bytes, y: int, x: int) -> bytes:
        at = data.index(marker, data.rindex(b"\xe0\x7f\x10\x00"))
        head = bytearray(data)
        struct.pack_into(">HH", head, at + 5, y, x)
        return bytes(head)

    for name, (y, x) in {"sof-60000": (60000, 60000), "sof-zero": (0, 800),
                         "sof-swapped": (800, 535)}.items():
        c.add("codestream", f"jpeg-{name}", "load_image",
              c.file(f"code/jpeg-{name}.dcm", sof(jpeg, b"\xff\xc3", y, x)),
              decoded_bytes=_image_bytes(535, 800))
    try:
        jls = compressed(JPEGLSLossless)
    except Exception:  # noqa: BLE001 - no JPEG-LS encoder installed: skip these cases
        jls = b""
    if jls:
        c.add("codestream", "jpegls-intact", "load_image", c.file("code/jls-intact.dcm", jls),
              expect="result", decoded_bytes=small, check={"shape": [64, 48]})
        for name, (y, x) in {"sof-60000": (60000, 60000), "sof-swapped": (48, 64)}.items():
            c.add("codestream", f"jpegls-{name}", "load_image",
                  c.file(f"code/jls-{name}.dcm", sof(jls, b"\xff\xf7", y, x)),
                  decoded_bytes=small)
    rle = compressed(RLELossless)
    c.add("codestream", "rle-intact", "load_image", c.file("code/rle-intact.dcm", rle),
          expect="result", decoded_bytes=small, check={"shape": [64, 48]})
    at = rle.index(b"\xfe\xff\x00\xe0", rle.rindex(b"\xe0\x7f\x10\x00") + 12 + 8) + 8
    for name, count in {"segments-15": 15, "segments-0": 0, "segments-1": 1,
                        "segments-huge": 0xFFFFFFFF}.items():
        data = bytearray(rle)
        struct.pack_into("<I", data, at, count)
        c.add("codestream", f"rle-{name}", "load_image",
              c.file(f"code/rle-{name}.dcm", bytes(data)), decoded_bytes=small)
    data = bytearray(rle)
    struct.pack_into("<I", data, at + 4, 0x7FFFFFFF)  # first segment offset far past the end
    c.add("codestream", "rle-offset-past-end", "load_image",
          c.file("code/rle-offset.dcm", bytes(data)), decoded_bytes=small)


def deflate(c: Corpus) -> None:
    """Deflated Explicit VR Little Endian files that inflate to far more than they hold."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    plain = _with_ts(_bytes(_dataset(_pixels())), DeflatedExplicitVRLittleEndian)
    (meta_len,) = struct.unpack("<I", plain[140:144])
    meta, body = plain[:144 + meta_len], plain[144 + meta_len:]

    def deflated(prefix: bytes, zeros: int, suffix: bytes) -> bytes:
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        out = [z.compress(prefix)]
        chunk = bytes(1 << 20)
        for _ in range(zeros >> 20):
            out.append(z.compress(chunk))
        out.append(z.compress(suffix))
        out.append(z.flush())
        return b"".join(out)

    good = meta + deflated(body, 0, b"")
    c.add("deflate", "intact", "load_image", c.file("deflate/intact.dcm", good),
          expect="result", decoded_bytes=_image_bytes(64, 48), check={"shape": [64, 48]})
    for mb in (256, 1024):
        n = mb << 20
        bomb_head = struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, n)
        split = body.index(b"\x28\x00\x02\x00US")  # a private element before group 0x0028
        data = meta + deflated(body[:split] + bomb_head, n, body[split:])
        for op in ("load_image", "read_metadata"):
            c.add("deflate", f"bomb-{mb}M-{op}", op, c.file(f"deflate/bomb{mb}.dcm", data),
                  decoded_bytes=_image_bytes(64, 48) if op == "load_image" else None)
    c.add("deflate", "garbage-stream", "read_metadata",
          c.file("deflate/garbage.dcm", meta + bytes(range(256)) * 8))


def sequence(c: Corpus) -> None:
    good = _bytes(_dataset(_pixels()))
    split = good.index(b"\x28\x00\x02\x00US")  # at the element (0028,0002)
    empty_item = b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
    seq_head = struct.pack("<HH2sHI", 0x0009, 0x1020, b"SQ", 0, 0xFFFFFFFF)
    seq_end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    many = seq_head + empty_item * 1_000_000 + seq_end
    data = good[:split] + many + good[split:]
    for op in ("load_image", "read_metadata"):
        c.add("sequence", f"million-items-{op}", op, c.file("seq/million.dcm", data),
              decoded_bytes=_image_bytes(64, 48) if op == "load_image" else None)
    item_start = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    item_end = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    depth = 400
    nested = (seq_head + item_start) * depth + (item_end + seq_end) * depth
    for op in ("load_image", "read_metadata"):
        c.add("sequence", f"nested-{depth}-{op}", op,
              c.file("seq/nested.dcm", good[:split] + nested + good[split:]),
              decoded_bytes=_image_bytes(64, 48) if op == "load_image" else None)


def _png(width: int, height: int, rows: bytes | None = None, *, zeros: bool = True) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    z = zlib.compressobj(9)
    if rows is None:
        line = bytes(width + 1)
        idat = b"".join(z.compress(line) for _ in range(height)) + z.flush()
    else:
        idat = z.compress(rows) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _tiff_deflate(width: int, height: int) -> bytes:
    z = zlib.compressobj(9)
    line = bytes(width)
    strip = b"".join(z.compress(line) for _ in range(height)) + z.flush()
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8),
               (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, len(strip))]
    ifd_at = 8
    data_at = ifd_at + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        if tag == 273:
            value = data_at
        out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0) + strip
    return bytes(out)


def raster(c: Corpus) -> None:
    from PIL import Image

    img = Image.fromarray((_pixels() >> 4).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = buf.getvalue()
    c.add("raster", "png-intact", "load_image", c.file("raster/intact.png", png),
          expect="result", decoded_bytes=_image_bytes(64, 48), check={"shape": [64, 48]})
    big = 12000
    for name, data in {"png-bomb-12000": _png(big, big), "tiff-bomb-12000": _tiff_deflate(big, big)
                       }.items():
        ext = name.split("-")[0]
        path = c.file(f"raster/{name}.{ext}", data)
        c.add("raster", name, "load_image", path, decoded_bytes=_image_bytes(big, big) // 20)
        c.add("raster", f"{name}-meta", "read_metadata", path, expect="either")
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    jpg = bytearray(buf.getvalue())
    at = jpg.index(b"\xff\xc0")
    struct.pack_into(">HH", jpg, at + 5, big, big)
    c.add("raster", "jpeg-bomb-12000", "load_image", c.file("raster/jpeg-bomb.jpg", bytes(jpg)),
          decoded_bytes=_image_bytes(big, big) // 20)
    struct.pack_into(">HH", jpg, at + 5, 65500, 65500)
    c.add("raster", "jpeg-bomb-65500", "load_image", c.file("raster/jpeg-bomb2.jpg", bytes(jpg)),
          decoded_bytes=_image_bytes(big, big) // 20)
    for cut in (0.3, 0.6, 0.9):
        c.add("raster", f"png-cut{cut}", "load_image",
              c.file(f"raster/cut{cut}.png", png[:int(len(png) * cut)]),
              decoded_bytes=_image_bytes(64, 48), expect="error" if cut < 0.9 else "either")
    rng = random.Random(3)
    for k in range(8):
        data = bytearray(png)
        for _ in range(3):
            data[rng.randrange(8, len(data))] ^= 1 << rng.randrange(8)
        c.add("raster", f"png-flip{k}", "load_image", c.file(f"raster/flip{k}.png", bytes(data)),
              expect="either", decoded_bytes=_image_bytes(64, 48))
    c.add("raster", "png-zero-width", "load_image", c.file("raster/zero.png", _png(0, 10, b"")),
          decoded_bytes=_image_bytes(64, 48))


def _vertebra(level: str, dy: float) -> dict[str, list[float]]:
    box = [(10, 10), (20, 10), (30, 10), (30, 30), (20, 30), (10, 30)]
    return {p: [float(x), float(y + dy)] for p, (x, y) in zip(POINTS, box, strict=True)}


def _native(levels=("L1", "L2")) -> dict[str, Any]:
    return {"format": "vcfmeasure-landmarks", "version": 1,
            "levels": {lv: {"points": _vertebra(lv, 40 * k)} for k, lv in enumerate(levels)}}


def landmarks(c: Corpus) -> None:
    def case(name: str, data: bytes | str, suffix: str = ".json", **kw: Any) -> None:
        c.add("landmarks", name, "read_landmarks", c.file(f"lm/{name}{suffix}", data), **kw)

    case("native-intact", json.dumps(_native()), expect="result", check={"levels": ["L1", "L2"]})
    case("deep-5000", "[" * 5000 + "]" * 5000)
    case("deep-object-5000", '{"levels": ' + '{"a": ' * 5000 + "1" + "}" * 5001)
    case("deep-100000", "[" * 100000)
    for name, doc in {
        "levels-list": {"levels": [1, 2]},
        "points-string": {"levels": {"L1": {"points": "abc"}}},
        "point-null": {"levels": {"L1": {"points": {**_vertebra("L1", 0), "sp": None}}}},
        "point-three": {"levels": {"L1": {"points": {**_vertebra("L1", 0), "sp": [1, 2, 3]}}}},
        "point-bool": {"levels": {"L1": {"points": {**_vertebra("L1", 0), "sp": [True, 1]}}}},
        "point-huge": {"levels": {"L1": {"points": {**_vertebra("L1", 0), "sp": [1e308, 1e308]}}}},
        "point-bigint": {"levels": {"L1": {"points": {**_vertebra("L1", 0), "sp": [10**400, 1]}}}},
        "top-list": [1, 2, 3],
        "top-string": "levels",
        "image-list": {**_native(), "image": [1, 2]},
        "provenance-number": {"levels": {"L1": {"points": _vertebra("L1", 0), "provenance": 5}}},
        "labelme-shapes-dict": {"shapes": {"a": 1}, "imagePath": "x.png"},
        "labelme-points-number": {"shapes": [{"label": "L1-sp", "points": 5,
                                              "shape_type": "point"}], "imagePath": "x.png"},
        "slicer-markups-string": {"markups": "abc"},
        "slicer-controlpoints-none": {"markups": [{"controlPoints": None}]},
    }.items():
        case(name, json.dumps(doc))
    case("point-nan", '{"levels": {"L1": {"points": {"sp": [NaN, 1]}}}}')
    coco = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "L1", "keypoints": list(POINTS)}],
        "annotations": [{"id": 1, "image_id": [1], "category_id": 1,
                         "keypoints": [v for p in POINTS for v in (*_vertebra("L1", 0)[p], 2)]}],
    }
    case("coco-image-id-list", json.dumps(coco))
    coco2 = json.loads(json.dumps(coco))
    coco2["images"][0]["id"] = [1]
    coco2["annotations"][0]["image_id"] = 1
    case("coco-images-id-list", json.dumps(coco2))
    coco3 = json.loads(json.dumps(coco))
    coco3["annotations"][0]["image_id"] = 1
    coco3["annotations"][0]["category_id"] = {"a": 1}
    case("coco-category-id-dict", json.dumps(coco3))
    coco4 = json.loads(json.dumps(coco))
    coco4["annotations"][0]["image_id"] = 1
    coco4["categories"][0]["id"] = [1]
    case("coco-categories-id-list", json.dumps(coco4))
    coco5 = json.loads(json.dumps(coco))
    coco5["annotations"][0]["image_id"] = 1
    c.add("landmarks", "coco-intact", "read_landmarks", c.file("lm/coco.json", json.dumps(coco5)),
          expect="result", check={"levels": ["L1"]})
    header = "image,level,point,x,y\n"
    rows = "".join(f"a.png,L1,{p},{x},{y}\n" for p, (x, y) in _vertebra("L1", 0).items())
    case("csv-intact", header + rows, ".csv", expect="result", check={"levels": ["L1"]})
    case("csv-cell-200k", header + rows + "a.png,L2,sp,1," + "9" * 200_000 + "\n", ".csv")
    case("csv-quote-200k", header + rows + 'a.png,L2,"' + "x" * 200_000 + '",1,2\n', ".csv")
    case("csv-nul", header + rows.replace("L1", "L\x001", 1), ".csv")
    case("csv-100-columns", "image,level,point,x,y," + ",".join(f"c{k}" for k in range(100))
         + "\n" + rows, ".csv", expect="either")
    case("xml-billion-laughs", '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
         + "".join(f'<!ENTITY {chr(98 + k)} "' + f"&{chr(97 + k)};" * 10 + '">' for k in range(8))
         + ']><annotations><image name="a" id="0"><points label="&i;" points="1,1"/></image>'
           "</annotations>", ".xml")
    case("xml-deep", "<annotations>" + "<a>" * 5000 + "</a>" * 5000 + "</annotations>", ".xml",
         expect="either")
    case("binary", bytes(range(256)) * 4)
    case("utf16", json.dumps(_native()).encode("utf-16"))
    big = c.out / "lm" / "big.csv"
    with open(big, "w") as fh:  # 100 MB of plausible rows: more than the default size cap
        fh.write(header)
        line = "a.png,L1,sp,1.0,2.0\n" * 10_000
        for _ in range(100 * 2**20 // len(line)):
            fh.write(line)
    c.add("landmarks", "csv-100MB", "read_landmarks", big)
    if sys.platform != "win32":
        for dev in ("/dev/zero", "/dev/urandom"):
            if os.path.exists(dev):
                c.add("landmarks", f"device-{Path(dev).name}", "read_landmarks", dev)
        fifo = c.out / "lm" / "fifo.json"
        os.mkfifo(fifo)
        c.add("landmarks", "fifo", "read_landmarks", fifo)


def not_an_image(c: Corpus) -> None:
    """DICOM objects that are no projection image, graded with a landmark file given.

    Before: batch took their spacing and reported mm. Correct: an error row.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    lm = c.file("notimg/spine.json", json.dumps(_native(("L1", "L2", "L3"))))
    px = _pixels()
    good = _bytes(_dataset(px))

    def case(name: str, data: bytes) -> None:
        c.add("not-an-image", name, "grade_many", c.file(f"notimg/{name}.dcm", data),
              landmarks=str(lm), expect="error-rows")

    case("truncated-pixels", good[:-1000])
    case("header-only", good[:good.rindex(b"\xe0\x7f\x10\x00")])
    case("ts-not-a-uid", _with_ts(good, "1.2.3.4.5.6.7.8.9"))

    def other(sop: str, **attrs: Any) -> bytes:
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = sop
        ds.SOPClassUID = sop
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.99"
        ds.Modality = attrs.pop("Modality", "OT")
        ds.PixelSpacing = [0.2, 0.2]
        ds.ImagerPixelSpacing = [0.2, 0.2]
        for key, value in attrs.items():
            setattr(ds, key, value)
        return _bytes(ds)

    case("encapsulated-pdf", other("1.2.840.10008.5.1.4.1.1.104.1", Modality="DOC",
                                   MIMETypeOfEncapsulatedDocument="application/pdf",
                                   EncapsulatedDocument=b"%PDF-1.4\n%%EOF\n"))
    case("presentation-state", other("1.2.840.10008.5.1.4.1.1.11.1", Modality="PR",
                                     ContentLabel="FUZZ"))
    record = Dataset()
    record.DirectoryRecordType = "IMAGE"
    case("dicomdir", other("1.2.840.10008.1.3.10", DirectoryRecordSequence=Sequence([record])))
    # a good image with the same landmarks: graded (the control)
    c.add("not-an-image", "control-image", "grade_many", c.file("notimg/good.dcm", good),
          landmarks=str(lm), expect="rows", check={"levels": ["L1", "L2", "L3"]})


def filesystem(c: Corpus) -> None:
    """Folders with FIFOs, symlink loops and one file reached by several paths."""
    good = _bytes(_dataset(_pixels()))
    lm = json.dumps(_native(("L1", "L2")))
    root = c.out / "fs"
    # a FIFO among the images
    d = root / "fifo"
    c.file("fs/fifo/a.dcm", good)
    c.file("fs/fifo/a.json", lm)
    c.file("fs/fifo/b.json", lm)
    os.mkfifo(d / "b.dcm")
    c.add("filesystem", "fifo-image", "grade_many", d, expect="rows",
          check={"images": {"a.dcm": "ok", "b.dcm": "error"}})
    # a FIFO as the landmark file
    d = root / "fifolm"
    c.file("fs/fifolm/a.dcm", good)
    os.mkfifo(d / "a.json")
    c.add("filesystem", "fifo-landmarks", "grade_many", d, expect="rows",
          check={"images": {"a.dcm": "error"}})
    # a symlink loop below a folder searched with **
    d = root / "loop"
    c.file("fs/loop/sub/a.dcm", good)
    c.file("fs/loop/sub/a.json", lm)
    os.symlink("..", d / "sub" / "up")
    c.add("filesystem", "symlink-loop-glob", "grade_many", str(d / "**" / "*.dcm"),
          expect="rows", check={"images": {"a.dcm": "ok"}, "n_images": 1})
    c.add("filesystem", "symlink-loop-folder", "grade_many", d, expect="rows",
          check={"images": {"a.dcm": "ok"}, "n_images": 1})
    # one file reached through several symlinks
    d = root / "dups"
    c.file("fs/dups/a.dcm", good)
    c.file("fs/dups/a.json", lm)
    for k in range(3):
        os.symlink("a.dcm", d / f"link{k}.dcm")
        os.symlink("a.json", d / f"link{k}.json")
    c.add("filesystem", "one-file-many-links", "grade_many", d, expect="rows",
          check={"n_images": 1})


def outputs(c: Corpus) -> None:
    """What a batch run writes and where: concurrent runs on one output, an output that is
    a symlink, FIFO, device or folder, formulas in names and manifest cells, cells longer
    than a CSV reader takes (in a manifest, on resume, in merge_outputs).

    The scenarios themselves are in ``outputs.py``; each gets a folder of its own.
    """
    import outputs as scenarios

    good = _bytes(_dataset(_pixels()))
    lm = json.dumps(_native(("L1", "L2", "L3")))
    errors = {"out-fifo", "out-device-link", "out-folder", "write-results-fifo",
              "resume-old-long-cell", "merge-old-long-cell", "manifest-long-cell",
              "manifest-nul"}
    for name in scenarios.SCENARIOS:
        base = f"outputs/{name}"
        for stem in ("a", "b"):
            c.file(f"{base}/in/{stem}.dcm", good)
            c.file(f"{base}/in/{stem}.json", lm)
        c.file(f"{base}/other/c.dcm", good)
        c.file(f"{base}/other/c.json", lm)
        manifest = None
        if name == "formulas":
            lines = ['image,landmarks,patient', '=1+1.dcm,=1+1.json,"=HYPERLINK(""http://x"")"',
                     "@a.dcm,@a.json,+1", "+a.dcm,+a.json,@x", "-a.dcm,-a.json,P4"]
            for row in lines[1:]:
                image, landmark = row.split(",")[:2]
                c.file(f"{base}/{image}", good)
                c.file(f"{base}/{landmark}", lm)
            manifest = "\n".join(lines) + "\n"
        elif name in ("long-cells", "manifest-long-cell"):
            width = 100_000 if name == "long-cells" else 200_000
            manifest = f"image,landmarks,patient\nin/a.dcm,in/a.json,{'P' * width}\n"
        elif name == "manifest-nul":
            manifest = "image,landmarks,patient\nin/a.dcm,in/a.json,P\x001\n"
        if manifest is not None:
            c.file(f"{base}/m.csv", manifest)
        c.add("outputs", name, "outputs", c.out / base, scenario=name,
              expect="error" if name in errors else "result")


CATEGORIES = (dicom_truncated, dicom_flipped, dicom_lying, codestream, deflate, sequence,
              raster, landmarks, not_an_image, filesystem, outputs)


def make(out: Path) -> list[dict[str, Any]]:
    """Write the corpus below ``out``; return the cases (also in ``out/cases.json``)."""
    import warnings

    corpus = Corpus(Path(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's remarks on the lies written on purpose
        for make_category in CATEGORIES:
            make_category(corpus)
    (corpus.out / "cases.json").write_text(json.dumps(corpus.cases, indent=1))
    return corpus.cases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cases = make(Path(sys.argv[1]))
    counts: dict[str, int] = {}
    for case in cases:
        counts[case["category"]] = counts.get(case["category"], 0) + 1
    print(json.dumps(counts, indent=1), f"\n{len(cases)} cases")
