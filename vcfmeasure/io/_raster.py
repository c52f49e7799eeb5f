"""PNG, TIFF and JPEG radiographs through imageio's Pillow plugin.

Raster files carry no patient calibration (docs/reference.md section 7): their pixels come
with spacing "unknown" unless the caller gives one. The header is checked against
``max_pixels`` (vcfmeasure's one limit for every format) before anything is decoded;
Pillow's own decompression-bomb guard stays active behind it, but its
``DecompressionBombWarning`` is not passed on (the size was checked already).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._errors import ImageError

__all__ = ["RASTER_MAGIC", "luminance", "looks_like_raster", "raster_header", "read_raster"]

#: Leading bytes of the raster formats read here.
RASTER_MAGIC: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"II+\x00": "TIFF",
    b"MM\x00+": "TIFF",
}

_LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)  # ITU-R BT.709, as scikit-image


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luminance (scikit-image's weights) of ``rgb``, shape (rows, cols, 3 or 4).

    Alpha is ignored; the result is float32 in the input's scale, computed in row
    blocks so no float copy of the whole colour array is made.

    Examples
    --------
    >>> luminance(np.array([[[255, 255, 255], [255, 0, 0]]], np.uint8)).round(2)
    array([[255.  ,  54.19]], dtype=float32)
    """
    out = np.empty(rgb.shape[:2], np.float32)
    for r in range(0, rgb.shape[0], 256):
        out[r:r + 256] = rgb[r:r + 256, :, :3].astype(np.float32) @ _LUMA
    return out


def looks_like_raster(head: bytes) -> str | None:
    r"""Return the raster format whose signature starts ``head``, else None.

    Examples
    --------
    >>> looks_like_raster(b"\x89PNG\r\n\x1a\n....")
    'PNG'
    >>> looks_like_raster(b"DICM") is None
    True
    """
    for magic, name in RASTER_MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def raster_header(path: str, max_pixels: int) -> dict[str, Any]:
    """Format, mode, size and page count from the header only (nothing decoded)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            meta: dict[str, Any] = {
                "format": im.format.lower() if im.format else "raster",
                "mode": im.mode,
                "rows": im.height,
                "columns": im.width,
                "frames": int(getattr(im, "n_frames", 1)),
            }
            dpi = im.info.get("dpi")
            if dpi:
                meta["dpi"] = [float(v) for v in dpi]
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: refused by Pillow's decompression-bomb guard: {exc}") from exc
    except Exception as exc:  # Pillow raises many types on corrupt headers
        raise ImageError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc
    if meta["rows"] * meta["columns"] > max_pixels:
        raise ImageError(
            f"{path}: {meta['rows']} x {meta['columns']} pixels exceed the limit of "
            f"{max_pixels} (max_pixels=); raise it if the file is genuine"
        )
    return meta


def read_raster(path: str, *, frame: int | None, max_pixels: int
                ) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode one page of a raster image to grey float32.

    Returns
    -------
    pixels : ndarray, shape (rows, cols), float32
        Grey values in the file's own scale (0-255, 0-65535, ...); RGB(A) and palette
        images become BT.709 luminance, alpha is dropped.
    metadata : dict
        ``format``, ``mode``, ``rows``, ``columns``, ``frames``, ``frame``, and ``dpi``
        when the file records one (kept, never used as a spacing).
    """
    import imageio.v3 as iio

    meta = raster_header(path, max_pixels)
    if frame is None:
        if meta["frames"] > 1:
            raise ImageError(
                f"{path}: {meta['frames']} pages/frames; pass frame= (0 to {meta['frames'] - 1})"
            )
        index = 0
    else:
        index = int(frame)
        if not 0 <= index < meta["frames"]:
            raise ImageError(f"{path}: frame={frame} out of range; the file has "
                             f"{meta['frames']} page(s)")
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            arr = iio.imread(path, plugin="pillow", index=index)
    except Exception as exc:  # truncated or corrupt data after a valid header
        raise ImageError(f"{path}: could not decode the image ({type(exc).__name__}: {exc})"
                         ) from exc
    meta["frame"] = index
    if arr.ndim == 3:
        channels = arr.shape[2]
        if channels in (3, 4):
            return luminance(arr), meta
        arr = arr[:, :, 0]  # grey + alpha
    if arr.ndim != 2:
        raise ImageError(f"{path}: decoded to shape {arr.shape}, not a 2-D image")
    return arr.astype(np.float32), meta
