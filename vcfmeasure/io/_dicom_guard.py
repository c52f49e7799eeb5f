"""Checks made on a DICOM file's bytes before pydicom or a native decoder sees them.

pydicom builds every element and sequence item it reads, inflates a deflated dataset in
one piece, and decoders allocate what a codestream header claims. A hostile file can so
ask for gigabytes or minutes. This module walks the element stream once, cheaply (a
seek per value), and refuses

- more than :data:`MAX_SEQUENCE_ITEMS` sequence items, sequences nested deeper than
  :data:`MAX_SEQUENCE_DEPTH`, more than :data:`MAX_ELEMENTS` elements;
- a Deflated Explicit VR Little Endian dataset inflating to more than its declared pixel
  data plus :data:`MAX_INFLATED_HEADER` bytes (inflated with a hard output cap, in
  chunks: nothing is kept);

and, before decoding, compares the codestream header of the first frame (JPEG 2000 SIZ,
JPEG and JPEG-LS SOF, RLE segment table) with Rows, Columns, Samples per Pixel and Bits
Allocated (:func:`check_codestream`).

References
----------
DICOM PS3.5 section 7 (data elements, sequences, item delimitation), A.4 (encapsulation),
A.5 (Deflated Explicit VR Little Endian), G.3 (RLE header); ITU-T T.800 A.5.1 (SIZ);
ITU-T T.81 B.2.2 (SOF); ITU-T T.87 C.2.2 (JPEG-LS SOF55).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .._errors import DicomError

__all__ = ["MAX_SEQUENCE_ITEMS", "MAX_SEQUENCE_DEPTH", "MAX_ELEMENTS", "MAX_INFLATED_HEADER",
           "Scan", "prescan", "check_codestream"]

#: Sequence items in one file (all sequences together). Radiograph headers hold tens.
MAX_SEQUENCE_ITEMS = 10_000
#: Nesting of sequences (a dose report nests about 6 deep).
MAX_SEQUENCE_DEPTH = 32
#: Data elements in one file, nested ones included.
MAX_ELEMENTS = 200_000
#: Bytes a deflated dataset may inflate to beyond its declared pixel data.
MAX_INFLATED_HEADER = 16 * 2**20

_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV",
             b"SV", b"UV"}
_VRS = _LONG_VRS | {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS",
                    b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                    b"US"}
_GEOMETRY = {0x00280002: "samples", 0x00280010: "rows", 0x00280011: "cols",
             0x00280100: "bits"}
_DEFLATED = "1.2.840.10008.1.2.1.99"
_IMPLICIT = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"


@dataclass
class Scan:
    """What the walk found: geometry, the pixel data element, the counts."""

    transfer_syntax: str = ""
    rows: int | None = None
    cols: int | None = None
    samples: int | None = None
    bits: int | None = None
    frames: int | None = None
    pixel_data: dict[str, Any] = field(default_factory=dict)
    elements: int = 0
    items: int = 0
    inflated: int | None = None


class _Stop(Exception):
    """The stream ends or stops making sense: leave the verdict to pydicom."""


class _Plain:
    def __init__(self, fh: BinaryIO, start: int) -> None:
        self.fh = fh
        self.size = os.fstat(fh.fileno()).st_size
        self.pos = start
        fh.seek(start)

    def read(self, n: int) -> bytes:
        data = self.fh.read(min(n, max(self.size - self.pos, 0)))
        self.pos += len(data)
        if len(data) < n:
            raise _Stop
        return data

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise _Stop
        self.pos += n
        self.fh.seek(self.pos)


class _Inflating:
    """Raw deflate stream read through a hard cap on the inflated bytes."""

    def __init__(self, fh: BinaryIO, start: int, where: str) -> None:
        fh.seek(start)
        self.fh = fh
        self.z = zlib.decompressobj(-zlib.MAX_WBITS)
        self.buf = b""
        self.pos = 0
        self.cap = MAX_INFLATED_HEADER
        self.where = where
        self.eof = False

    def _fill(self, n: int) -> None:
        while len(self.buf) < n and not self.eof:
            if self.pos + len(self.buf) > self.cap:
                raise DicomError(
                    f"{self.where}: the deflated dataset inflates to more than "
                    f"{self.cap} bytes, more than its header and declared pixel data need "
                    "(a deflate bomb); refused before inflating it"
                )
            chunk = self.z.unconsumed_tail or self.fh.read(1 << 16)
            if not chunk:
                self.eof = True
                break
            try:
                self.buf += self.z.decompress(chunk, 1 << 20)
            except zlib.error as exc:
                raise DicomError(f"{self.where}: the deflated dataset is corrupt ({exc})"
                                 ) from None

    def read(self, n: int) -> bytes:
        self._fill(n)
        data, self.buf = self.buf[:n], self.buf[n:]
        self.pos += len(data)
        if len(data) < n:
            raise _Stop
        return data

    def skip(self, n: int) -> None:
        while n > 0:
            self._fill(min(n, 1 << 20))
            if not self.buf:
                raise _Stop
            step = min(n, len(self.buf))
            self.buf = self.buf[step:]
            self.pos += step
            n -= step

    def drain(self) -> int:
        """Inflate what is left (capped); return the total inflated size."""
        while True:
            self._fill(1 << 20)
            if not self.buf:
                return self.pos
            self.pos += len(self.buf)
            self.buf = b""


class _Walker:
    def __init__(self, src: Any, implicit: bool, little: bool, where: str, scan: Scan) -> None:
        self.src = src
        self.implicit = implicit
        self.order = "<" if little else ">"
        self.where = where
        self.scan = scan

    def _count(self, items: int = 0) -> None:
        s = self.scan
        s.elements += 1 - bool(items)
        s.items += items
        if s.items > MAX_SEQUENCE_ITEMS:
            raise DicomError(
                f"{self.where}: more than {MAX_SEQUENCE_ITEMS} sequence items; refused "
                "before parsing (a radiograph header holds tens; the file is corrupt or "
                "hostile)"
            )
        if s.elements > MAX_ELEMENTS:
            raise DicomError(f"{self.where}: more than {MAX_ELEMENTS} data elements; refused "
                             "before parsing")

    def header(self) -> tuple[int, bytes | None, int]:
        raw = self.src.read(8)
        group, elem = struct.unpack(self.order + "HH", raw[:4])
        tag = group << 16 | elem
        if group == 0xFFFE or self.implicit:
            return tag, None, struct.unpack(self.order + "I", raw[4:])[0]
        vr = raw[4:6]  # an unknown VR has a 2-byte length, as pydicom reads it
        if vr in _LONG_VRS:
            return tag, vr, struct.unpack(self.order + "I", self.src.read(4))[0]
        return tag, vr, struct.unpack(self.order + "H", raw[6:])[0]

    def dataset(self, depth: int, end: int | None, top: bool) -> None:
        while end is None or self.src.pos < end:
            tag, vr, length = self.header()
            if tag in (_ITEM_END, _SEQ_END):
                return
            self._count()
            if top and tag == _PIXEL_DATA:
                self.pixel_data(length)
                return
            if vr == b"SQ" or length == _UNDEFINED or (self.implicit and _is_sq(tag)):
                if depth + 1 > MAX_SEQUENCE_DEPTH:
                    raise DicomError(
                        f"{self.where}: sequences nested deeper than {MAX_SEQUENCE_DEPTH} "
                        f"(at element ({tag >> 16:04X},{tag & 0xFFFF:04X})); refused before "
                        "parsing"
                    )
                self.items(depth + 1, length)
            elif top and (tag in _GEOMETRY or tag == 0x00280008) and length <= 64:
                self.geometry(tag, self.src.read(length))
            else:
                self.src.skip(length)

    def items(self, depth: int, length: int) -> None:
        end = None if length == _UNDEFINED else self.src.pos + length
        while end is None or self.src.pos < end:
            tag, _, item_length = self.header()
            if tag == _SEQ_END:
                return
            if tag != _ITEM:
                raise _Stop
            self._count(items=1)
            if item_length == _UNDEFINED:
                self.dataset(depth, None, top=False)
            else:
                self.dataset(depth, self.src.pos + item_length, top=False)

    def geometry(self, tag: int, value: bytes) -> None:
        try:
            if tag == 0x00280008:
                self.scan.frames = int(value.decode("ascii").strip("\x00 ").split("\\")[0])
            elif len(value) >= 2:
                setattr(self.scan, _GEOMETRY[tag], struct.unpack(self.order + "H", value[:2])[0])
        except (ValueError, UnicodeDecodeError, OverflowError):
            pass  # pydicom names the bad value

    def pixel_data(self, length: int) -> None:
        info: dict[str, Any] = {"present": True, "encapsulated": length == _UNDEFINED}
        if length != _UNDEFINED:
            info["declared"] = length
            if isinstance(self.src, _Plain):
                info["available"] = max(self.src.size - self.src.pos, 0)
            expected = _expected_bytes(self.scan)
            if isinstance(self.src, _Inflating) and expected is not None:
                self.src.cap = self.src.pos + max(length, 0) + MAX_INFLATED_HEADER
                if length > expected + MAX_INFLATED_HEADER:
                    raise DicomError(
                        f"{self.where}: (7FE0,0010) Pixel Data declares {length} bytes, far "
                        f"more than the {expected} its Rows, Columns and Bits Allocated "
                        "need; refused before inflating"
                    )
        self.scan.pixel_data = info


def _is_sq(tag: int) -> bool:
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


def _expected_bytes(scan: Scan) -> int | None:
    if None in (scan.rows, scan.cols, scan.bits):
        return None
    frames = scan.frames if scan.frames and scan.frames > 0 else 1
    return (int(scan.rows or 0) * int(scan.cols or 0) * int(scan.samples or 1) * frames
            * int(scan.bits or 0) + 7) // 8


def _meta(fh: BinaryIO, size: int) -> tuple[int, str]:
    """(offset of the dataset, transfer syntax UID) of a file with preamble, else (0, "")."""
    fh.seek(0)
    head = fh.read(132)
    if len(head) < 132 or head[128:132] != b"DICM":
        return 0, ""
    pos, uid = 132, ""
    while pos + 8 <= size:
        fh.seek(pos)
        raw = fh.read(12)
        if len(raw) < 8:
            break
        group, elem = struct.unpack("<HH", raw[:4])
        if group != 0x0002:
            break
        vr = raw[4:6]
        if vr in _LONG_VRS:
            if len(raw) < 12:
                break
            length, start = struct.unpack("<I", raw[8:12])[0], pos + 12
        else:
            length, start = struct.unpack("<H", raw[6:8])[0], pos + 8
        if elem == 0x0010 and length <= 128:
            fh.seek(start)
            uid = fh.read(length).decode("ascii", "replace").strip("\x00 ")
        pos = start + length
    return pos, uid


def prescan(path: str) -> Scan:
    """Walk a DICOM file's elements without building them; refuse bombs.

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    Scan
        The transfer syntax, Rows/Columns/Samples/Bits/Frames when found at the top
        level, the Pixel Data element's declared and available bytes, and the counts.
        A stream that stops making sense ends the walk quietly: pydicom then reads the
        file and names what is wrong.

    Raises
    ------
    DicomError
        Too many sequence items or elements, too deep a nesting, or a deflated dataset
        inflating past its cap.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.Rows, ds.Columns = 2, 3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dcm"
    >>> ds.save_as(path, implicit_vr=True, little_endian=True)
    >>> scan = prescan(str(path))
    >>> scan.rows, scan.cols, scan.pixel_data
    (2, 3, {})
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start, uid = _meta(fh, size)
        scan = Scan(transfer_syntax=uid)
        if uid == _DEFLATED:
            src: Any = _Inflating(fh, start, path)
            implicit, little = False, True
        else:
            if uid:
                implicit, little = uid == _IMPLICIT, uid != _BIG_ENDIAN
            else:  # no file meta: explicit VR if the first element carries a VR
                fh.seek(start)
                first = fh.read(8)
                implicit, little = first[4:6] not in _VRS, True
            src = _Plain(fh, start)
        walker = _Walker(src, implicit, little, path, scan)
        try:
            walker.dataset(0, None, top=True)
        except DicomError:
            raise
        except (_Stop, struct.error, ValueError):
            pass  # the stream stops making sense: pydicom names what is wrong
        if isinstance(src, _Inflating):
            expected = _expected_bytes(scan)
            if expected is not None:
                src.cap = max(src.cap, expected + MAX_INFLATED_HEADER)
            scan.inflated = src.drain()
    return scan


# ------------------------------------------------------------------ codestream headers


def _first_fragment(data: bytes) -> bytes:
    """The first fragment of encapsulated Pixel Data (after the Basic Offset Table)."""
    pos = 0
    for _ in range(2):
        if len(data) < pos + 8 or data[pos:pos + 4] != b"\xfe\xff\x00\xe0":
            return b""
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        if _ == 0:
            pos += 8 + length
        else:
            return bytes(data[pos + 8:pos + 8 + min(length, 1 << 16)])
    return b""


def _find_sof(frag: bytes, markers: set[int]) -> tuple[int, int, int, int, int] | None:
    """(marker, precision, lines, samples per line, components) of a JPEG SOF segment."""
    pos = 2 if frag[:2] == b"\xff\xd8" else -1
    if pos < 0:
        return None
    while pos + 4 <= len(frag):
        if frag[pos] != 0xFF:
            return None
        marker = frag[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack(">H", frag[pos + 2:pos + 4])
        if marker in markers and pos + 10 <= len(frag):
            p, y, x, nf = struct.unpack(">BHHB", frag[pos + 4:pos + 10])
            return marker, p, y, x, nf
        if marker == 0xDA:  # start of scan before any SOF
            return None
        pos += 2 + length
    return None


def check_codestream(tsyntax: Any, data: bytes, lay: dict[str, int], where: str) -> None:
    """Compare frame 0's codestream header with the DICOM pixel description; raise on a lie.

    Parameters
    ----------
    tsyntax : pydicom UID
        The transfer syntax.
    data : bytes
        The encapsulated (7FE0,0010) Pixel Data.
    lay : dict
        ``rows``, ``cols``, ``samples``, ``bits`` from the header.
    where : str
        The file, for messages.

    Raises
    ------
    DicomError
        Naming the codestream field and the DICOM attribute that disagree.

    Examples
    --------
    >>> import struct
    >>> from pydicom.uid import RLELossless
    >>> seg = struct.pack("<16I", 1, 64, *([0] * 14))
    >>> frag = b"\\xfe\\xff\\x00\\xe0" + struct.pack("<I", 0)
    >>> frag += b"\\xfe\\xff\\x00\\xe0" + struct.pack("<I", 64) + seg
    >>> lay = {"rows": 2, "cols": 2, "samples": 1, "bits": 16}
    >>> try:
    ...     check_codestream(RLELossless, frag, lay, "x.dcm")
    ... except DicomError as exc:
    ...     print(str(exc)[:47])
    x.dcm: RLE header of frame 0 holds 1 segment(s)
    """
    frag = _first_fragment(data)
    if not frag:
        return
    uid = str(tsyntax)
    rows, cols, samples, bits = lay["rows"], lay["cols"], lay["samples"], lay["bits"]

    def mismatch(what: str, said: Any, attr: str, value: Any) -> DicomError:
        return DicomError(
            f"{where}: {what} of frame 0 says {said} but {attr} is {value}; the codestream "
            "and the DICOM header disagree (refused before decoding)"
        )

    if uid.startswith("1.2.840.10008.1.2.4.9") or uid.startswith("1.2.840.10008.1.2.4.20"):
        at = frag.find(b"\xff\x4f\xff\x51")
        if at < 0:
            raise DicomError(f"{where}: frame 0 of {tsyntax.name} has no JPEG 2000 SIZ "
                             "marker at its start; the file is corrupt")
        siz = frag[at + 4:]
        if len(siz) < 40:
            raise DicomError(f"{where}: frame 0's JPEG 2000 SIZ segment is cut short")
        xsiz, ysiz, x0, y0 = struct.unpack(">IIII", siz[4:20])
        (csiz,) = struct.unpack(">H", siz[36:38])
        width, height = xsiz - x0, ysiz - y0
        if (height, width) != (rows, cols):
            raise mismatch("JPEG 2000 SIZ (image size)", f"{height} x {width}",
                           "(0028,0010) Rows x (0028,0011) Columns", f"{rows} x {cols}")
        if csiz != samples:
            raise mismatch("JPEG 2000 SIZ Csiz (components)", csiz,
                           "(0028,0002) Samples per Pixel", samples)
        if len(siz) >= 39:
            precision = (siz[38] & 0x7F) + 1
            if precision > bits:
                raise mismatch("JPEG 2000 SIZ Ssiz (bit depth)", precision,
                               "(0028,0100) Bits Allocated", bits)
        return
    if uid in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"):
        sof = _find_sof(frag, {0xF7})
        name = "JPEG-LS SOF55"
    elif uid.startswith("1.2.840.10008.1.2.4.") and uid.split(".")[-1] in {
            "50", "51", "57", "70"}:
        sof = _find_sof(frag, {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                               0xCD, 0xCE, 0xCF})
        name = "JPEG SOF"
    elif uid == "1.2.840.10008.1.2.5":
        if len(frag) < 64:
            raise DicomError(f"{where}: RLE header of frame 0 is cut short ({len(frag)} bytes, "
                             "needs 64)")
        count, *offsets = struct.unpack("<16I", frag[:64])
        need = samples * ((bits + 7) // 8)
        if count != need:
            raise DicomError(
                f"{where}: RLE header of frame 0 holds {count} segment(s) but (0028,0002) "
                f"Samples per Pixel {samples} x (0028,0100) Bits Allocated {bits} need "
                f"{need}; the file is corrupt"
            )
        used = offsets[:count]
        if used[0] != 64 or any(b <= a for a, b in zip(used, used[1:], strict=False)):
            raise DicomError(f"{where}: RLE segment offsets of frame 0 {used} are not "
                             "increasing from 64; the file is corrupt")
        return
    else:
        return
    if sof is None:
        raise DicomError(f"{where}: frame 0 of {tsyntax.name} has no {name} segment before "
                         "its scan; the file is corrupt")
    _, precision, y, x, nf = sof
    if (y, x) != (rows, cols):
        raise mismatch(f"{name} (image size)", f"{y} x {x}",
                       "(0028,0010) Rows x (0028,0011) Columns", f"{rows} x {cols}")
    if nf != samples:
        raise mismatch(f"{name} components", nf, "(0028,0002) Samples per Pixel", samples)
    if precision > bits:
        raise mismatch(f"{name} precision", precision, "(0028,0100) Bits Allocated", bits)
