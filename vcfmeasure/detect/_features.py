"""Coarse image and brightness profiles for the thoracic/lumbar (and facing) classifiers.

:func:`facing_profile` samples a body's brightness profile along its long axis on the
image resampled to :data:`WORK_MM` mm per pixel and smoothed by 2 mm; two logistic
classifiers over that profile (``models/facing_lr.npz``, trained by
``benchmarks/train_detector.py``) say whether ``+e`` is anterior and whether the body is
thoracic (ribs, lung in front). ``detect_landmarks`` uses the thoracic one to guess level
names. :class:`RawFeatures` / :func:`coarse_features` make the coarse image the
classifiers were trained on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

__all__ = [
    "FACING_T_MM",
    "TEXTURE_MM",
    "WORK_MM",
    "RawFeatures",
    "block_reduce",
    "coarse_features",
    "facing_profile",
    "load_facing",
]

#: Resolution of the coarse stage, mm per pixel.
WORK_MM = 0.5
#: Resolution at which the trabecular texture is measured, mm per pixel.
TEXTURE_MM = 0.25

_FACING = Path(__file__).with_name("models") / "facing_lr.npz"

#: Positions (mm from the body centre along its long axis) of the facing profile.
FACING_T_MM = np.arange(-60.0, 60.01, 2.5)


def block_reduce(img: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks (the last partial row/column blocks dropped)."""
    if factor <= 1:
        return np.asarray(img, np.float32)
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    out = img[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return out.mean(axis=(1, 3), dtype=np.float32)


def _resample(img: np.ndarray, spacing_mm: float, target_mm: float) -> tuple[np.ndarray, float]:
    """Block-mean to about ``target_mm``, then zoom to exactly ``target_mm`` per pixel."""
    factor = max(1, int(np.floor(target_mm / spacing_mm)))
    red = block_reduce(img, factor)
    got = spacing_mm * factor
    zoom = got / target_mm
    if abs(zoom - 1.0) > 1e-3:
        red = ndimage.zoom(red, zoom, order=1, grid_mode=True, mode="nearest")
    return red.astype(np.float32, copy=False), float(factor)


class RawFeatures:
    """Filter responses on the coarse grid before normalisation.

    :meth:`normalised` divides the brightness-type responses by a robust scale of the
    high-pass image and maps the texture energies through ``log1p`` of their ratio to a
    robust texture scale, both scales taken over a region (default: the whole image).
    """

    def __init__(self, img: np.ndarray, spacing_mm: float):
        tex_img, _ = _resample(img, spacing_mm, TEXTURE_MM)
        g = lambda a, mm, ws: ndimage.gaussian_filter(a, mm / ws, mode="nearest")  # noqa: E731
        dog = g(tex_img, 0.4, TEXTURE_MM) - g(tex_img, 1.2, TEXTURE_MM)
        work, _ = _resample(img, spacing_mm, WORK_MM)
        shape = work.shape
        sq = dog * dog
        ws = WORK_MM
        base = g(work, 20.0, ws)
        self.hp = work - base
        lin = []
        for mm in (0.75, 1.5, 3.0, 6.0, 10.0):
            lin.append(g(work, mm, ws) - base)
        for mm in (1.0, 2.0, 4.0):
            gy = ndimage.gaussian_filter(work, mm / ws, order=(1, 0), mode="nearest")
            gx = ndimage.gaussian_filter(work, mm / ws, order=(0, 1), mode="nearest")
            lin.append(np.hypot(gx, gy) * (mm / ws))
        for mm in (1.5, 3.0):
            hyy = ndimage.gaussian_filter(work, mm / ws, order=(2, 0), mode="nearest")
            hxx = ndimage.gaussian_filter(work, mm / ws, order=(0, 2), mode="nearest")
            hxy = ndimage.gaussian_filter(work, mm / ws, order=(1, 1), mode="nearest")
            tr, det = hxx + hyy, hxx * hyy - hxy * hxy
            disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
            s2 = (mm / ws) ** 2
            lin.append((tr / 2 + disc) * s2)
            lin.append((tr / 2 - disc) * s2)
        self.linear = np.stack(lin, axis=-1).astype(np.float32)
        self.texture = np.stack(
            [_fit(np.sqrt(g(sq, mm, TEXTURE_MM)), shape) for mm in (1.5, 4.0)], axis=-1
        ).astype(np.float32)
        self.image = g(work, 2.0, ws)
        self.shape = shape

    def normalised(self, region: np.ndarray | None = None) -> np.ndarray:
        """Feature stack ``(rows, cols, F)``; scales from ``region`` (bool) if given."""
        sel = (lambda a: a) if region is None else (lambda a: a[region])  # noqa: E731
        scale = float(np.percentile(np.abs(sel(self.hp)), 95)) + 1e-6
        tex_scale = float(np.percentile(sel(self.texture[..., 0]), 90)) + 1e-6
        stack = np.concatenate(
            [self.linear / scale, np.log1p(self.texture / tex_scale * 4.0)], axis=-1
        )
        return np.clip(stack, -20, 20).astype(np.float32, copy=False)


def coarse_features(img: np.ndarray, spacing_mm: float, *, with_image: bool = False):
    """Feature stack ``(rows, cols, F)`` on the :data:`WORK_MM` grid (whole-image scales).

    Parameters
    ----------
    img : ndarray, shape (R, C)
        Grey levels, bone bright.
    spacing_mm : float
        Pixel spacing of ``img``, mm.
    with_image : bool
        Also return the image on the coarse grid (smoothed by 2 mm).

    Returns
    -------
    ndarray, shape (R', C', F), float32
        ``R' ~ R * spacing_mm / WORK_MM``. Pixel ``(i, j)`` of the coarse grid covers
        full-image pixel ``(i, j) * WORK_MM / spacing_mm`` (see :func:`full_to_coarse`).
    """
    raw = RawFeatures(img, spacing_mm)
    stack = raw.normalised()
    if with_image:
        return stack, raw.image
    return stack


def _fit(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample ``a`` (a finer grid over the same field) onto ``shape``."""
    z = (shape[0] / a.shape[0], shape[1] / a.shape[1])
    out = ndimage.zoom(a, z, order=1, grid_mode=True, mode="nearest")
    if out.shape != shape:
        fixed = np.zeros(shape, out.dtype)
        r, c = min(shape[0], out.shape[0]), min(shape[1], out.shape[1])
        fixed[:r, :c] = out[:r, :c]
        if r < shape[0]:
            fixed[r:, :c] = out[r - 1 : r, :c]
        if c < shape[1]:
            fixed[:, c:] = fixed[:, c - 1 : c]
        out = fixed
    return out


def full_to_coarse(xy: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Full-image pixel ``(x, y)`` to coarse-grid ``(x, y)``."""
    k = WORK_MM / spacing_mm
    return (np.asarray(xy, float) + 0.5) / k - 0.5


def facing_profile(image: np.ndarray, centre: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Normalised brightness profile through a body along ``e`` (coarse grid units).

    ``image`` is the coarse image, ``centre`` the body centre ``(x, y)`` on the coarse
    grid, ``e`` a unit ``(x, y)`` direction; the profile samples :data:`FACING_T_MM`,
    averaged over +-4 mm across, zero mean and unit variance.
    """
    t = FACING_T_MM / WORK_MM
    s = np.arange(-4.0, 4.01, 2.0) / WORK_MM
    n = np.array([-e[1], e[0]])
    T, S = np.meshgrid(t, s)
    x = centre[0] + T * e[0] + S * n[0]
    y = centre[1] + T * e[1] + S * n[1]
    prof = ndimage.map_coordinates(image, [y, x], order=1, mode="nearest").mean(axis=0)
    return (prof - prof.mean()) / (prof.std() + 1e-6)


@lru_cache(maxsize=2)
def load_facing(kind: str = "facing") -> tuple[np.ndarray, float]:
    """Load a profile classifier: weights over the profile and a bias.

    ``kind="facing"``: log-odds that ``+e`` is anterior. ``kind="thoracic"``: log-odds
    that the body is thoracic, for a profile with anterior towards ``+e``.
    """
    suffix = "" if kind == "facing" else "_thoracic"
    with np.load(_FACING) as z:
        return np.asarray(z["w" + suffix], float), float(z["b" + suffix])
