"""Forming the image: an additive attenuation map, anti-aliased analytically.

Each vertebral body is an implicit shape with an approximate signed distance (mm,
positive outside) evaluated at pixel centres; its coverage is the linear ramp
``clip(0.5 - d / pixel, 0, 1)``, whose 50 % level lies exactly on the outline, so edges
sit where the ground truth says at sub-pixel precision without supersampling. Smooth
structures (soft tissue, lungs, ribs) are drawn on a coarse grid and interpolated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, special

from ._anatomy import BodyGeometry, bump, plate_bump, plate_bump_slope
from ._cement import default_cement_truth, draw_detailed_cement

__all__ = ["Appearance", "ImageGeometry", "render"]


@dataclass
class Appearance:
    """Attenuation levels (arbitrary units; soft tissue ~1) and image formation settings."""

    contrast: float = 1.0  # bone density factor; 0.4-0.5 looks osteoporotic
    trabecular: float = 0.42
    cortex: float = 0.5
    cortex_wall_mm: float = 0.8
    cortex_endplate_mm: float = 1.0
    texture: float = 0.18  # relative amplitude of the trabecular pattern
    posterior: float = 0.35
    rib: float = 0.12
    cement: float = 1.6
    lung: float = 0.35
    noise: float = 1.0  # multiples of NOISE_SD counts
    blur_mm: float = 0.2
    ribs: bool = True
    posterior_elements: bool = True
    # appearance families (``_families.py``); the defaults draw the classic look
    edge_mm: float = 0.0  # 10-90 % width of a soft (erf) body edge, mm (0: a one-pixel ramp)
    texture_grain_mm: float = 0.35  # grain of the trabecular pattern, mm
    texture_stretch: float = 1.0  # grains this many times longer along image rows
    gain: float = 1.0  # factor on GAIN (a narrow dynamic range looks low in contrast)
    rib_extra: tuple[tuple[float, float], ...] = ()  # further rib pairs, (du, dw) mm offsets


#: ``f(pix_x, pix_y, world_x, world_y) -> attenuation`` added on the coarse background grid.
CoarseLayer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: ``f(array, geom)`` changing the full-resolution array in place.
ImageLayer = Callable[[np.ndarray, "ImageGeometry"], None]


@dataclass
class Layers:
    """Family layers, by the stage of image formation they join.

    On the coarse background, on the attenuation map before blur, on the detector signal
    after blur and before noise, and burned in after noise.
    """

    coarse: Sequence[CoarseLayer] = ()
    attenuation: Sequence[ImageLayer] = ()
    detector: Sequence[ImageLayer] = ()
    burned_in: Sequence[ImageLayer] = field(default_factory=tuple)


#: Output grey levels: ``OFFSET + GAIN * attenuation``, 12-bit.
OFFSET, GAIN, NOISE_SD, MAX_VALUE = 200.0, 1400.0, 10.0, 4095


@dataclass
class ImageGeometry:
    """World mm -> pixel map ``pix = A @ world + b`` and the image shape (rows, cols)."""

    A: np.ndarray
    b: np.ndarray
    shape: tuple[int, int]
    spacing_mm: float  # in the patient plane

    def to_pixels(self, world: np.ndarray) -> np.ndarray:
        """World points ``(..., 2)`` to pixel ``(x, y)``."""
        return np.asarray(world) @ self.A.T + self.b

    def to_world(self, px: np.ndarray) -> np.ndarray:
        """Pixel ``(..., 2)`` to world points."""
        return (np.asarray(px) - self.b) @ np.linalg.inv(self.A).T


def _ramp(d_px: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - d_px, 0.0, 1.0)


#: 10-90 % width of an erf edge in units of its Gaussian SD.
_ERF_10_90 = 2.5631


def _coverage(d_mm: np.ndarray, px_mm: float, edge_mm: float) -> np.ndarray:
    """Coverage of a pixel at signed distance ``d_mm`` (+ outside) from an outline.

    A one-pixel linear ramp, or for ``edge_mm > 0`` an erf profile of that 10-90 % width;
    both are 0.5 on the outline and steepest there.
    """
    if edge_mm <= 0:
        return _ramp(d_mm / px_mm)
    return (0.5 * special.erfc(d_mm * (_ERF_10_90 / (np.sqrt(2.0) * edge_mm)))).astype(np.float32)


def body_distances(
    body: BodyGeometry, u: np.ndarray, w: np.ndarray, sup_shift: float = 0.0,
    inf_shift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Signed distances (mm, + outside) to the superior, inferior, posterior, anterior sides.

    ``sup_shift``/``inf_shift`` move an endplate into the body (mm), for double contours.
    """
    depth = body.depth
    t = u / depth
    c = body.sup_concavity
    d_sup = (c * plate_bump(t) + sup_shift - w) / np.sqrt(
        1.0 + (c * plate_bump_slope(t) / depth) ** 2
    )
    e_i, n_i, length = body.inferior_frame()
    ru, rw = u, w - body.hp
    ti = (ru * e_i[0] + rw * e_i[1]) / length
    si = ru * n_i[0] + rw * n_i[1]
    ci = body.inf_concavity
    d_inf = (si + ci * plate_bump(ti) + inf_shift) / np.sqrt(
        1.0 + (ci * plate_bump_slope(ti) / length) ** 2
    )
    d_post = body.post_waist * bump(w / body.hp) - u
    d_ant = u - depth + body.ant_waist * bump(w / body.ha)
    return d_sup, d_inf, d_post, d_ant


def _local(geom: ImageGeometry, body: BodyGeometry, box: tuple[slice, slice]):
    """Body-frame coordinates ``(u, w)`` (mm, float32) of the pixel centres in ``box``."""
    rows, cols = box
    inv = np.linalg.inv(geom.A)
    # world = inv @ (pix - b); u = (world - origin) . e, w = (world - origin) . n
    eu = inv.T @ body.e
    en = inv.T @ body.n
    base = -(inv @ geom.b) - body.origin
    x = np.arange(cols.start, cols.stop, dtype=np.float32)[None, :]
    y = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
    u = np.float32(eu[0]) * x + np.float32(eu[1]) * y + np.float32(base @ body.e)
    w = np.float32(en[0]) * x + np.float32(en[1]) * y + np.float32(base @ body.n)
    return u, w


def _box(geom: ImageGeometry, body: BodyGeometry, u_range, w_range, pad_px: int = 4):
    corners = np.array([[u, w] for u in u_range for w in w_range])
    px = geom.to_pixels(body.to_world(corners))
    lo = np.floor(px.min(axis=0)).astype(int) - pad_px
    hi = np.ceil(px.max(axis=0)).astype(int) + pad_px + 1
    rows, cols = geom.shape
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], cols), min(hi[1], rows)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def _convex_sdf(u: np.ndarray, w: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Max of edge half-plane distances for a convex polygon given counter-clockwise or not."""
    nxt = np.roll(poly, -1, axis=0)
    area = 0.5 * np.sum(poly[:, 0] * nxt[:, 1] - nxt[:, 0] * poly[:, 1])
    sign = 1.0 if area > 0 else -1.0
    sides = []
    for p, q in zip(poly, nxt, strict=True):
        edge = q - p
        nx, ny = (sign * np.array([edge[1], -edge[0]]) / np.hypot(*edge)).astype(np.float32)
        sides.append((u - np.float32(p[0])) * nx + (w - np.float32(p[1])) * ny)
    return np.maximum.reduce(sides)


def _posterior_polygons(body: BodyGeometry, thoracic: bool) -> list[np.ndarray]:
    s = body.depth / 35.0
    hp = body.hp
    pedicle = np.array(
        [[1.0, 0.18 * hp], [-16 * s, 0.12 * hp], [-16 * s, 0.6 * hp], [1.0, 0.58 * hp]]
    )
    facets = np.array(
        [[-15 * s, -0.28 * hp], [-24 * s, -0.2 * hp], [-26 * s, 1.05 * hp], [-17 * s, 1.1 * hp]]
    )
    if thoracic:
        spinous = np.array(
            [[-22 * s, 0.2 * hp], [-24 * s, 0.75 * hp], [-48 * s, 1.6 * hp], [-47 * s, 1.2 * hp]]
        )
    else:
        spinous = np.array(
            [[-22 * s, 0.15 * hp], [-22 * s, 0.85 * hp], [-50 * s, 0.95 * hp], [-50 * s, 0.2 * hp]]
        )
    return [pedicle, facets, spinous]


def render_bodies(
    att: np.ndarray,
    geom: ImageGeometry,
    bodies: list[BodyGeometry],
    app: Appearance,
    *,
    texture_rngs: list[np.random.Generator],
    double: dict[str, tuple[float, float]],
    cement: dict[str, np.random.Generator],
    osteophytes: dict[str, float] | None = None,
    cement_detail: dict[str, dict] | None = None,
    cement_truth: dict[str, dict] | None = None,
) -> None:
    """Add bodies (cortex, trabecular texture), posterior elements and cement to ``att``.

    ``cement_detail`` (level -> checked spec) draws cement with chosen size, leaks and
    implant (``_cement.py``); ``cement_truth``, when a dict, receives what was drawn.
    """
    osteophytes = osteophytes or {}
    cement_detail = cement_detail or {}
    px_mm = geom.spacing_mm
    k = app.contrast
    t_wall = app.cortex_wall_mm * (0.6 + 0.4 * min(k, 1.0))
    t_end = app.cortex_endplate_mm * (0.6 + 0.4 * min(k, 1.0))
    for body, trng in zip(bodies, texture_rngs, strict=True):
        if app.posterior_elements:
            _posterior_elements(att, geom, body, k * app.posterior)
        sup_sep, inf_sep = double.get(body.level, (0.0, 0.0))
        spur = osteophytes.get(body.level, 0.0)
        side = 2.0 + 1.2 * app.edge_mm
        reach = side + 0.5 * max(sup_sep, inf_sep) + spur
        box = _box(geom, body, (-side, body.depth + side + spur),
                   (-reach, max(body.hp, body.ha) + reach))
        if box is None:
            continue
        u, w = _local(geom, body, box)
        shifts = [(-0.5 * sup_sep, -0.5 * inf_sep), (0.5 * sup_sep, 0.5 * inf_sep)]
        if sup_sep == 0 and inf_sep == 0:
            shifts = [(0.0, 0.0)]
        cover = np.zeros(u.shape, np.float32)
        inner = np.zeros(u.shape, np.float32)
        for s_sup, s_inf in shifts:
            d = body_distances(body, u, w, s_sup, s_inf)
            outer = np.maximum.reduce(d)
            core = np.maximum.reduce(
                [d[0] + t_end, d[1] + t_end, d[2] + t_wall, d[3] + t_wall]
            )
            cover += _coverage(outer, px_mm, app.edge_mm) / len(shifts)
            inner += _coverage(core, px_mm, app.edge_mm) / len(shifts)
        for poly in _spurs(body, spur):
            cover = np.maximum(cover, _ramp(_convex_sdf(u, w, poly) / px_mm))
        # trabecular pattern: band-pass noise, ~0.4-1.5 mm grains
        grain = app.texture_grain_mm / px_mm
        tex = _texture(inner, trng, grain if app.texture_stretch == 1.0 else
                       (grain * app.texture_stretch, grain), app.texture)
        patch = k * (app.trabecular * inner * (1.0 + tex) + app.cortex * (cover - inner))
        if body.level in cement_detail:
            drawn = draw_detailed_cement(att, geom, body, app, cement[body.level],
                                         cement_detail[body.level])
            if cement_truth is not None and drawn is not None:
                cement_truth[body.level] = drawn
        elif body.level in cement:
            mass = _cement(body, u, w, inner, cement[body.level], px_mm)
            patch += mass * app.cement
            if cement_truth is not None:
                cement_truth[body.level] = default_cement_truth(mass, u, w, body, box, px_mm)
        att[box] += patch


def _spurs(body: BodyGeometry, length: float) -> list[np.ndarray]:
    """Anterior osteophytes (claw spurs) of ``length`` mm at the two anterior corners.

    Each is a triangle whose base runs 0.6 ``length`` along the endplate and down the wall
    from the corner and whose tip points anteriorly and into the disc. The corner of the
    body (the ground truth) does not move.
    """
    if length <= 0:
        return []
    d, ha = body.depth, body.ha
    e_i, n_i, _ = body.inferior_frame()
    sa, ia = np.array([d, 0.0]), np.array([d, ha])
    up = [sa - [0.6 * length, 0.0], sa + [0.5 * length, -0.85 * length], sa + [0.0, 0.6 * length]]
    tip = ia + 0.5 * length * np.array([1.0, 0.0]) + 0.85 * length * n_i
    down = [ia - 0.6 * length * e_i, ia - [0.0, 0.6 * length], tip]
    return [np.array(up), np.array(down)]


def _posterior_elements(att, geom, body, level):
    """Add pedicle, facets and spinous process, each a convex polygon with a soft rim."""
    for poly in _posterior_polygons(body, body.level.startswith("T")):
        lo, hi = poly.min(axis=0) - 1.0, poly.max(axis=0) + 1.0
        box = _box(geom, body, (lo[0], hi[0]), (lo[1], hi[1]))
        if box is None:
            continue
        u, w = _local(geom, body, box)
        d = _convex_sdf(u, w, poly)
        att[box] += level * (0.7 * _ramp(d / geom.spacing_mm) + 0.3 * _ramp(d / 1.5))


def _texture(
    inner: np.ndarray, rng: np.random.Generator, sigma_px: float | tuple[float, float],
    amplitude: float,
):
    """Band-pass noise (grains of ~0.4-1.5 mm) over the bounding box of ``inner > 0``.

    ``sigma_px`` is one grain size or ``(rows, cols)`` sizes (elongated grains).
    """
    tex = np.zeros(inner.shape, np.float32)
    rows = np.flatnonzero(inner.any(axis=1))
    cols = np.flatnonzero(inner.any(axis=0))
    if rows.size == 0:
        return tex
    pad = int(3 * max(np.atleast_1d(sigma_px))) + 1
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, inner.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, inner.shape[1])
    white = rng.standard_normal((r1 - r0, c1 - c0), dtype=np.float32)
    fine = ndimage.gaussian_filter(white, sigma_px)
    wide = 3 * sigma_px if isinstance(sigma_px, float) else tuple(3 * np.asarray(sigma_px))
    band = fine - ndimage.gaussian_filter(fine, wide)
    tex[r0:r1, c0:c1] = band * (amplitude / (band.std() + 1e-9))
    return tex


def _cement(body, u, w, inner, rng, px_mm):
    """Draw an irregular, very bright cement mass inside the cortical shell (0-1.3)."""
    cu, cw = 0.5 * body.depth, 0.5 * (body.hp + body.ha) * 0.5 + rng.normal(0, 0.5)
    au = body.depth * rng.uniform(0.28, 0.4)
    aw = 0.5 * min(body.hp, body.ha) * rng.uniform(0.7, 1.0)
    ell = np.sqrt(((u - cu) / au) ** 2 + ((w - cw) / aw) ** 2) - 1.0
    white = rng.standard_normal(u.shape).astype(np.float32)
    lumpy = ndimage.gaussian_filter(white, 1.5 / px_mm)
    lumpy /= lumpy.std() + 1e-9
    mass = _ramp((ell + 0.25 * lumpy) * min(au, aw) / px_mm)
    grain = ndimage.gaussian_filter(rng.standard_normal(u.shape).astype(np.float32), 0.6 / px_mm)
    grain = 1.0 + 0.08 * grain / (grain.std() + 1e-9)
    return mass * inner * grain


def render_background(
    geom: ImageGeometry,
    bodies: list[BodyGeometry],
    app: Appearance,
    rng: np.random.Generator,
    *,
    diaphragm_y: float | None,
    rib_levels: list[tuple[BodyGeometry, bool]],
    factor: int = 4,
    layers: Sequence[CoarseLayer] = (),
) -> np.ndarray:
    """Soft tissue, lungs and ribs (and family layers) on a coarse grid, interpolated."""
    rows, cols = geom.shape
    lr, lc = -(-rows // factor), -(-cols // factor)
    yy, xx = np.mgrid[0:lr, 0:lc].astype(float)
    pix = np.stack([xx * factor + (factor - 1) / 2, yy * factor + (factor - 1) / 2], axis=-1)
    world = geom.to_world(pix)
    wx, wy = world[..., 0], world[..., 1]
    sm = ndimage.gaussian_filter(rng.standard_normal((lr, lc)), 25.0 / (geom.spacing_mm * factor))
    att = 1.0 + 0.12 * sm / (sm.std() + 1e-9)
    x_post = min(float(b.to_world(np.array([0.0, 0.0]))[0]) for b in bodies)
    # paraspinal muscles make the posterior region denser
    att += 0.15 * special.expit((x_post - 5.0 - wx) / 6.0)
    if diaphragm_y is not None:
        y_d = diaphragm_y - 0.5 * (wx - x_post)
        att -= app.lung * special.expit((y_d - wy) / 5.0)
    if app.ribs:
        _draw_ribs(att, world, geom, app, rib_levels, factor, (0.0, 0.0))
        for offset in app.rib_extra:
            _draw_ribs(att, world, geom, app, rib_levels, factor, offset)
    for layer in layers:
        att += layer(pix[..., 0], pix[..., 1], wx, wy)
    full = ndimage.zoom(att.astype(np.float32), factor, order=1, grid_mode=True, mode="nearest")
    return np.ascontiguousarray(full[:rows, :cols])


def _draw_ribs(att, world, geom, app, rib_levels, factor, offset):
    """Add the rib pairs of ``rib_levels`` to the coarse grid, shifted by ``offset`` (mm)."""
    du, dw = offset
    for body, second in rib_levels:
        box = _rib_box(geom, body, second, factor, att.shape, offset)
        if box is None:
            continue
        rel = world[box] - body.origin
        u, w = rel @ body.e, rel @ body.n
        if second:
            u, w = u - 3.0, w - 4.0
        if du or dw:
            u, w = u - du, w - dw
        curv = _RIB_CURVE * (1.1 if second else 1.0)
        centre = _rib_centre(u, curv)
        dist = np.abs(w - centre) / np.sqrt(1.0 + (_RIB_SLOPE + 2 * curv * (u + 5.0)) ** 2)
        half = 4.5
        band = special.expit((half - dist) / 0.4)
        rim = np.exp(-(((dist - half + 0.8) / 0.7) ** 2))
        fade = special.expit((u + 5.0) / 3.0)  # starts at the costovertebral joint
        att[box] += app.contrast * app.rib * fade * (band + 0.8 * rim)


_RIB_SLOPE, _RIB_CURVE = 0.35, 0.003


def _rib_centre(u, curv):
    """Rib centre line in the body frame: ``w`` (mm) at ``u`` (mm)."""
    return -2.0 + _RIB_SLOPE * (u + 5.0) + curv * (u + 5.0) ** 2


def _rib_box(geom, body, second, factor, shape, offset=(0.0, 0.0)):
    """The coarse-grid slice a rib can touch (it runs from u = -20 mm to 150 mm)."""
    u = np.linspace(-20.0, 150.0, 18)
    curv = _RIB_CURVE * (1.1 if second else 1.0)
    c = _rib_centre(u, curv) + (4.0 if second else 0.0) + offset[1]
    pts = np.concatenate([np.stack([u + (3.0 if second else 0.0) + offset[0], c + dw], axis=1)
                          for dw in (-9.0, 9.0)])
    px = geom.to_pixels(body.to_world(pts)) / factor
    lo = np.maximum(np.floor(px.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(px.max(axis=0)).astype(int) + 2, [shape[1], shape[0]])
    if (hi <= lo).any():
        return None
    return slice(lo[1], hi[1]), slice(lo[0], hi[0])


def render(
    geom: ImageGeometry,
    bodies: list[BodyGeometry],
    app: Appearance,
    *,
    background_rng: np.random.Generator,
    texture_rngs: list[np.random.Generator],
    noise_rng: np.random.Generator,
    double: dict[str, tuple[float, float]],
    cement: dict[str, np.random.Generator],
    diaphragm_y: float | None,
    rib_levels: list[tuple[BodyGeometry, bool]],
    osteophytes: dict[str, float] | None = None,
    cement_detail: dict[str, dict] | None = None,
    cement_truth: dict[str, dict] | None = None,
    layers: Layers | None = None,
) -> np.ndarray:
    """Form the full image: integer-valued grey levels (float32), bone bright."""
    layers = layers or Layers()
    att = render_background(
        geom, bodies, app, background_rng, diaphragm_y=diaphragm_y, rib_levels=rib_levels,
        layers=layers.coarse,
    )
    render_bodies(
        att, geom, bodies, app, texture_rngs=texture_rngs, double=double, cement=cement,
        osteophytes=osteophytes, cement_detail=cement_detail, cement_truth=cement_truth,
    )
    for layer in layers.attenuation:
        layer(att, geom)
    img = OFFSET + GAIN * att if app.gain == 1.0 else OFFSET + (GAIN * app.gain) * att
    if app.blur_mm > 0:
        img = ndimage.gaussian_filter(img, app.blur_mm / geom.spacing_mm)
    for layer in layers.detector:
        layer(img, geom)
    if app.noise > 0:
        img += noise_rng.standard_normal(img.shape, dtype=np.float32) * (app.noise * NOISE_SD)
    img = np.clip(np.rint(img), 0, MAX_VALUE).astype(np.float32)
    for layer in layers.burned_in:
        layer(img, geom)
    return img
