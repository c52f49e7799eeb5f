"""Appearance families: named distributions over how a synthetic film looks.

A family changes what real films vary in and the classic drawing does not (body and
endplate shape, cortex, trabecular texture, overlapping anatomy, burned-in annotations,
collimation, grids, exports), never the geometry of the truth: bodies are drawn where the
six points say. Every family is sampled from the image seed, so ``make_spine(seed=s,
appearance=name)`` is deterministic.

Three kinds of change:

- **style**: spreads of the body shapes (:class:`ShapeVariation`), cortex, edge profile,
  texture, contrast, noise, blur and margins around the field;
- **overlays**: structures added on top of the bodies (ribs, heart, diaphragm, bowel gas,
  iliac crests, body-like facet columns, lead markers, rulers, text, collimation, grid
  lines). :meth:`FamilyStyle.without_overlays` drops them (the tests use it to check that
  the bodies themselves stay on the truth);
- **export**: the film downscaled, windowed to 8 bits and saved as JPEG, with the spacing
  then unknown or approximate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage, special

from .._errors import VcfMeasureError
from ._anatomy import BodyGeometry, ShapeVariation
from ._render import (
    GAIN,
    MAX_VALUE,
    ImageGeometry,
    Layers,
    _box,
    _convex_sdf,
    _local,
    _ramp,
    _texture,
)

__all__ = [
    "APPEARANCE_FAMILIES",
    "EVAL_FAMILIES",
    "TRAIN_FAMILIES",
    "Export",
    "FamilyStyle",
    "build_layers",
    "export_film",
    "sample_style",
]

#: Family name -> what it varies. ``"classic"`` is the look of ``appearance=None``.
APPEARANCE_FAMILIES: dict[str, str] = {
    "classic": "the original look: the same pixels as appearance=None",
    "shape_variety": "wide spread of body sizes, wedging, endplate concavity and wall waists",
    "thin_cortex": "thin, faint cortical rim and sparse trabecular bone",
    "coarse_trabecular": "strong, coarse, vertically elongated trabecular texture",
    "low_contrast": "faint bone, narrow grey range and heavy noise",
    "bowel_gas": "dark, mottled bowel gas over and in front of the lumbar bodies",
    "iliac_crests": "two iliac crests (bright arcs of bone) across the lowest bodies",
    "annotated": "burned-in lead markers and text and a radiopaque ruler beside the spine",
    "collimated_grid": "collimation edges in the margins and anti-scatter grid lines",
    "soft_edges": "soft 1.5-3 mm body edges and extra blur",
    "busy_thorax": "bright doubled ribs, deep lungs, heart shadow and diaphragm domes",
    "facet_mimics": "body-like facet columns with cortical rims behind the bodies",
    "jpeg_export": "downscaled 8-bit JPEG export (0.25-0.4 mm/px), spacing unknown or approximate",
}

#: Families for training and tuning (any seed below 100000).
TRAIN_FAMILIES: tuple[str, ...] = (
    "classic", "shape_variety", "thin_cortex", "coarse_trabecular", "low_contrast",
    "bowel_gas", "iliac_crests", "annotated", "collimated_grid",
)
#: Families held out for evaluation only (with seeds of 100000 and above).
EVAL_FAMILIES: tuple[str, ...] = ("soft_edges", "busy_thorax", "facet_mimics", "jpeg_export")

_INDEX = {name: i for i, name in enumerate(APPEARANCE_FAMILIES)}


@dataclass(frozen=True)
class Export:
    """A downscaled 8-bit JPEG export of the film.

    ``spacing_mm``: patient-plane spacing after downscaling (mm); ``quality``: JPEG
    quality; ``report``: ``"unknown"`` or ``"approximate"`` spacing in the record;
    ``report_factor``: reported / true spacing when approximate; ``gamma`` and
    ``window_pct``: the display curve burned into the 8 bits.
    """

    spacing_mm: float
    quality: int
    report: str
    report_factor: float
    gamma: float
    window_pct: tuple[float, float]


@dataclass(frozen=True)
class FamilyStyle:
    """One draw of an appearance family: what :func:`make_spine` changes for it."""

    name: str
    seed: int
    shape: ShapeVariation | None = None
    appearance: dict[str, Any] = field(default_factory=dict)
    overlay_appearance: dict[str, Any] = field(default_factory=dict)
    contrast_factor: float = 1.0
    noise_factor: float = 1.0
    blur_extra_mm: float = 0.0
    margins_mm: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # l, r, top, bottom
    overlays: dict[str, dict[str, Any]] = field(default_factory=dict)
    export: Export | None = None

    def without_overlays(self) -> FamilyStyle:
        """The same draw with nothing added on top of the bodies."""
        return replace(self, overlays={}, overlay_appearance={})


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _varied(name: str, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """The common spread of every family but classic: shapes, cortex, texture, margins."""
    shape = ShapeVariation(
        size_sd=0.04, depth_sd=0.04, wedge_sd_deg=1.3, disc_sd=0.15,
        concavity=(0.4, 1.8), waist=(0.3, 1.8),
    )
    appearance = {
        "cortex_wall_mm": _u(rng, 0.6, 1.1),
        "cortex_endplate_mm": _u(rng, 0.7, 1.3),
        "cortex": _u(rng, 0.42, 0.58),
        "trabecular": _u(rng, 0.36, 0.46),
        "texture": _u(rng, 0.14, 0.26),
        "texture_grain_mm": _u(rng, 0.3, 0.5),
        "texture_stretch": _u(rng, 1.0, 1.6),
        "posterior": _u(rng, 0.28, 0.42),
    }
    margins = tuple(float(m) for m in rng.uniform(0.0, 12.0, 4))
    return {
        "name": name, "seed": seed, "shape": shape, "appearance": appearance,
        "blur_extra_mm": _u(rng, 0.0, 0.15), "noise_factor": _u(rng, 0.8, 1.5),
        "margins_mm": margins,
    }


def sample_style(name: str, seed: int) -> FamilyStyle:
    """Draw the settings of family ``name`` for image seed ``seed``.

    Parameters
    ----------
    name : str
        A key of :data:`APPEARANCE_FAMILIES`.
    seed : int
        The image seed (the draw uses its own stream, so the spine itself is unchanged).

    Returns
    -------
    FamilyStyle

    Raises
    ------
    VcfMeasureError
        For a name that is not a family.

    Examples
    --------
    >>> style = sample_style("soft_edges", 3)
    >>> style.name, 1.5 <= style.appearance["edge_mm"] <= 3.0
    ('soft_edges', True)
    """
    if name not in APPEARANCE_FAMILIES:
        raise VcfMeasureError(
            f"appearance={name!r} is not a family; choose one of {sorted(APPEARANCE_FAMILIES)} "
            "or None"
        )
    if name == "classic":
        return FamilyStyle("classic", seed)
    rng = np.random.default_rng([seed, 41, _INDEX[name]])
    kw = _varied(name, seed, rng)
    app: dict[str, Any] = kw["appearance"]
    if name == "shape_variety":
        kw["shape"] = ShapeVariation(
            size_sd=0.07, depth_sd=0.07, wedge_sd_deg=2.0, disc_sd=0.25,
            concavity=(0.1, 2.6), waist=(0.0, 2.6),
        )
    elif name == "thin_cortex":
        app.update(cortex_wall_mm=_u(rng, 0.3, 0.5), cortex_endplate_mm=_u(rng, 0.3, 0.6),
                   cortex=_u(rng, 0.32, 0.42), trabecular=_u(rng, 0.24, 0.34),
                   texture=_u(rng, 0.22, 0.35))
    elif name == "coarse_trabecular":
        app.update(texture=_u(rng, 0.26, 0.4), texture_grain_mm=_u(rng, 0.5, 0.8),
                   texture_stretch=_u(rng, 1.3, 2.2))
    elif name == "low_contrast":
        kw.update(contrast_factor=_u(rng, 0.45, 0.7), noise_factor=_u(rng, 2.5, 5.0),
                  blur_extra_mm=_u(rng, 0.1, 0.3))
        app["gain"] = _u(rng, 0.35, 0.6)
    elif name == "soft_edges":
        # a faint rim: a bright cortex inside a soft edge would pull the edge inwards
        app.update(edge_mm=_u(rng, 1.5, 3.0), cortex=app["trabecular"] * _u(rng, 1.0, 1.08))
        kw["blur_extra_mm"] = _u(rng, 0.2, 0.5)
    elif name == "busy_thorax":
        kw["overlay_appearance"] = {
            "rib": _u(rng, 0.2, 0.32), "lung": _u(rng, 0.45, 0.7),
            "rib_extra": tuple((_u(rng, -6.0, 6.0), _u(rng, 6.0, 14.0) * s)
                               for s in rng.choice([-1.0, 1.0], int(rng.integers(1, 3)))),
        }
        kw["overlays"] = {
            "heart": {"strength": _u(rng, 0.15, 0.3), "reach": _u(rng, 15.0, 45.0),
                      "size": (_u(rng, 45.0, 70.0), _u(rng, 50.0, 75.0)),
                      "along": _u(rng, 0.0, 1.0)},
            "domes": {"shift_mm": (_u(rng, -25.0, 15.0), _u(rng, 4.0, 14.0)),
                      "apex_mm": _u(rng, 10.0, 60.0), "curve": _u(rng, 0.004, 0.012),
                      "liver": _u(rng, 0.08, 0.18)},
        }
    elif name == "bowel_gas":
        kw["overlays"] = {"gas": {"n": int(rng.integers(4, 15)), "seed": int(rng.integers(2**31))}}
    elif name == "iliac_crests":
        kw["overlays"] = {"crests": {
            "radius": _u(rng, 110.0, 200.0), "at": (_u(rng, -0.4, 0.6), _u(rng, 0.1, 0.9)),
            "offset": (_u(rng, -8.0, 8.0), _u(rng, 3.0, 12.0)), "bone": _u(rng, 0.08, 0.18),
            "rim": _u(rng, 0.15, 0.3),
        }}
    elif name == "facet_mimics":
        app["posterior"] = _u(rng, 0.45, 0.65)
        kw["overlays"] = {"mimics": {
            "width": _u(rng, 0.5, 0.8), "gap": _u(rng, 4.0, 8.0), "stagger": _u(rng, 0.2, 0.6),
            "inner": _u(rng, 0.3, 0.45), "rim": _u(rng, 0.45, 0.65),
            "seed": int(rng.integers(2**31)),
        }}
    elif name == "annotated":
        kw["margins_mm"] = tuple(float(m) for m in rng.uniform(18.0, 35.0, 4))
        kw["overlays"] = {
            "markers": {"n": int(rng.integers(1, 3)), "seed": int(rng.integers(2**31))},
            "text": {"n": int(rng.integers(2, 5)), "seed": int(rng.integers(2**31))},
        }
        if rng.random() < 0.8:
            kw["overlays"]["ruler"] = {"seed": int(rng.integers(2**31))}
    elif name == "collimated_grid":
        kw["margins_mm"] = tuple(float(m) for m in rng.uniform(10.0, 30.0, 4))
        kw["overlays"] = {
            "collimation": {"sides": [bool(b) for b in rng.random(4) < 0.75],
                            "at": tuple(float(a) for a in rng.uniform(0.2, 0.8, 4)),
                            "tilt_deg": _u(rng, -1.5, 1.5), "level": _u(rng, 0.8, 1.6)},
            "grid": {"period_px": _u(rng, 2.1, 6.0), "vertical": bool(rng.random() < 0.5),
                     "tilt_deg": _u(rng, -0.5, 0.5), "amplitude": _u(rng, 0.006, 0.015),
                     "phase": _u(rng, 0.0, 2 * np.pi)},
        }
    elif name == "jpeg_export":
        report = "unknown" if rng.random() < 0.4 else "approximate"
        kw["export"] = Export(
            spacing_mm=_u(rng, 0.25, 0.4), quality=int(rng.integers(35, 86)), report=report,
            report_factor=_u(rng, 0.9, 1.1), gamma=_u(rng, 0.8, 1.25),
            window_pct=(_u(rng, 0.0, 2.0), _u(rng, 98.0, 100.0)),
        )
    return FamilyStyle(**kw)


# --------------------------------------------------------------------------- layers


def _keep_out(geom: ImageGeometry, bodies: list[BodyGeometry], pad_mm: float, factor: int):
    """Coarse boolean mask (1 cell = ``factor`` px) of the bodies grown by ``pad_mm``."""
    from skimage.draw import polygon

    rows, cols = geom.shape
    mask = np.zeros((-(-rows // factor), -(-cols // factor)), bool)
    for b in bodies:
        quad = np.array([[-pad_mm, -pad_mm], [b.depth + pad_mm, -pad_mm],
                         [b.depth + pad_mm, b.ha + pad_mm], [-pad_mm, b.hp + pad_mm]])
        px = (geom.to_pixels(b.to_world(quad)) + 0.5) / factor
        rr, cc = polygon(px[:, 1], px[:, 0], mask.shape)
        mask[rr, cc] = True
    # one more cell all round, so that the rasterised outline errs on the safe side
    return ndimage.binary_dilation(mask)


def _place(rng, mask, factor, shape, h, w, tries=80):
    """Top-left ``(row, col)`` of an ``h`` x ``w`` px box clear of ``mask``, or None.

    ``shape`` is the image's; ``mask`` is coarse, one cell per ``factor`` px.
    """
    rows, cols = shape
    if h >= rows or w >= cols:
        return None
    for _ in range(tries):
        r, c = int(rng.integers(0, rows - h)), int(rng.integers(0, cols - w))
        if not mask[r // factor : (r + h) // factor + 1, c // factor : (c + w) // factor + 1].any():
            return r, c
    return None


def _free_strip(rng, mask, factor, shape, width):
    """``(row, col, length)`` of a random vertical ``width``-px strip clear of ``mask``.

    Among the columns whose longest clear run is at least 40 % of the image height (and
    the strip fits), one is drawn; the strip covers that run. None when there is none.
    """
    wc = -(-width // factor) + 1
    cols_c = min(mask.shape[1], shape[1] // factor) - wc
    if cols_c <= 0:
        return None
    blocked = ndimage.maximum_filter1d(mask.astype(np.uint8), wc, axis=1, origin=-(wc // 2))
    runs = []
    for c in range(cols_c):
        free = np.concatenate([[0], (blocked[:, c] == 0).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(free))
        if edges.size:
            k = int(np.argmax(edges[1::2] - edges[::2]))
            runs.append((edges[2 * k + 1] - edges[2 * k], edges[2 * k], c))
    good = [r for r in runs if r[0] * factor >= 0.4 * shape[0]]
    if not good:
        return None
    n, r0, c = good[int(rng.integers(len(good)))]
    length = min(n * factor - 2 * factor, shape[0] - (r0 + 1) * factor)
    return (r0 + 1) * factor, c * factor + 1, length


def _glyphs(text: str, height_px: int) -> np.ndarray:
    """``text`` rasterised as a float32 coverage image (0-1) about ``height_px`` tall."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=max(height_px, 6))
    except TypeError:  # Pillow < 10.1: the bitmap font only
        font = ImageFont.load_default()
    x0, y0, x1, y1 = font.getbbox(text)
    canvas = Image.new("L", (int(x1 - x0) + 2, int(y1 - y0) + 2))
    ImageDraw.Draw(canvas).text((1 - x0, 1 - y0), text, fill=255, font=font)
    return np.asarray(canvas, np.float32) / 255.0


def _paste(arr, patch, r, c, value):
    h, w = patch.shape
    arr[r : r + h, c : c + w] += value * patch


def _burn(arr, patch, r, c, value):
    h, w = patch.shape
    view = arr[r : r + h, c : c + w]
    np.maximum(view, value * patch, out=view)


_TEXT = ("L LAT", "R", "STANDING", "90 kV  40 mAs", "2026-03-14 08:41", "ID 0042817",
         "SID 115 cm", "ERECT", "W 2000 L 1300", "PORTABLE")


def _marker_layer(opts, keep, factor, spacing):
    def layer(att, geom):
        rng = np.random.default_rng(opts["seed"])
        for _ in range(opts["n"]):
            side = int(round(_u(rng, 9.0, 15.0) / spacing))
            letter = _glyphs(str(rng.choice(["L", "R"])), int(0.7 * side))
            patch = np.zeros((side, side), np.float32)
            frame = max(int(1.0 / spacing), 1)
            patch[:frame], patch[-frame:], patch[:, :frame], patch[:, -frame:] = 1, 1, 1, 1
            oy, ox = max((side - letter.shape[0]) // 2, 0), max((side - letter.shape[1]) // 2, 0)
            lh, lw = min(letter.shape[0], side - oy), min(letter.shape[1], side - ox)
            patch[oy : oy + lh, ox : ox + lw] = np.maximum(
                patch[oy : oy + lh, ox : ox + lw], letter[:lh, :lw])
            at = _place(rng, keep, factor, att.shape, side, side)
            if at is not None:
                _paste(att, patch, *at, _u(rng, 1.5, 3.0))
    return layer


def _text_layer(opts, keep, factor, spacing):
    def layer(img, geom):
        rng = np.random.default_rng(opts["seed"])
        height = int(round(_u(rng, 2.5, 5.0) / spacing))
        for _ in range(opts["n"]):
            patch = _glyphs(str(rng.choice(_TEXT)), height)
            at = _place(rng, keep, factor, img.shape, *patch.shape)
            if at is not None:
                _burn(img, patch, *at, MAX_VALUE * _u(rng, 0.85, 1.0))
    return layer


def _ruler_layer(opts, keep, factor, spacing):
    def layer(att, geom):
        rng = np.random.default_rng(opts["seed"])
        width = int(round(10.0 / spacing))
        mm = spacing / _u(rng, 0.95, 1.1)  # the ruler is not in the patient plane
        at = _free_strip(rng, keep, factor, att.shape, width)
        if at is None:
            return
        r0, c0, length = at
        strip = np.full((length, width), 0.08, np.float32)
        tick = max(int(round(0.3 / spacing)), 1)
        for k, p in enumerate(np.arange(0.0, length * mm, 1.0)):  # 1 mm ticks
            i = int(round(p / mm))
            reach = width if k % 10 == 0 else (width * 2) // 3 if k % 5 == 0 else width // 3
            strip[i : i + tick, :reach] = 1.0
        if rng.random() < 0.5:
            strip = strip[:, ::-1]
        _paste(att, strip, r0, c0, 1.0)
    return layer


def _collimation_layer(opts, geom, margins_mm):
    rows, cols = geom.shape
    sp = geom.spacing_mm
    tilt = np.tan(np.radians(opts["tilt_deg"]))
    pen = 0.6 / sp

    def layer(px, py, wx, wy):
        out = np.zeros(px.shape)
        left, right, top, bottom = (m / sp for m in margins_mm)
        # each side's edge sits inside its margin, tilt included
        for on, at, m, dist in (
            (opts["sides"][0], opts["at"][0], left, lambda a, s: a - px + s * (py - rows / 2)),
            (opts["sides"][1], opts["at"][1], right,
             lambda a, s: px - (cols - 1 - a) + s * (py - rows / 2)),
            (opts["sides"][2], opts["at"][2], top, lambda a, s: a - py + s * (px - cols / 2)),
            (opts["sides"][3], opts["at"][3], bottom,
             lambda a, s: py - (rows - 1 - a) + s * (px - cols / 2)),
        ):
            extent = abs(tilt) * max(rows, cols) / 2
            if not on or m < 2 * extent + 4:
                continue
            a = extent + at * (m - 2 * extent)
            out = np.maximum(out, special.expit(dist(a, tilt) / pen))
        return opts["level"] * out

    return layer


def _grid_layer(opts, gain):
    def layer(img, geom):
        rows, cols = img.shape
        ang = np.radians(opts["tilt_deg"])
        c, s = np.cos(ang), np.sin(ang)
        if not opts["vertical"]:
            c, s = -s, c
        k = 2 * np.pi / opts["period_px"]
        ax = k * c * np.arange(cols, dtype=np.float32)[None, :] + opts["phase"]
        ay = k * s * np.arange(rows, dtype=np.float32)[:, None]
        amp = np.float32(GAIN * gain * opts["amplitude"])
        img += amp * (np.sin(ax) * np.cos(ay) + np.cos(ax) * np.sin(ay))
    return layer


def _heart_layer(opts, bodies):
    thoracic = [b for b in bodies if b.level.startswith("T")]
    if not thoracic:
        return None
    ref = thoracic[min(int(opts["along"] * len(thoracic)), len(thoracic) - 1)]
    centre = ref.to_world(np.array([ref.depth + opts["reach"], 0.5 * ref.hp]))
    a, b = opts["size"]

    def layer(px, py, wx, wy):
        du, dw = wx - centre[0], wy - centre[1]
        u, w = du * ref.e[0] + dw * ref.e[1], du * ref.n[0] + dw * ref.n[1]
        r = np.sqrt((u / a) ** 2 + (w / b) ** 2)
        return opts["strength"] * special.expit((1.0 - r) / 0.08)
    return layer


def _dome_layer(opts, bodies, diaphragm_y):
    if diaphragm_y is None:
        return None
    x_post = min(float(b.to_world(np.array([0.0, 0.0]))[0]) for b in bodies)
    curve = opts["curve"]

    def layer(px, py, wx, wy):
        out = np.zeros(wx.shape)
        for dy in (opts["shift_mm"][0], opts["shift_mm"][0] + opts["shift_mm"][1]):
            y = diaphragm_y + dy + curve * (wx - x_post - opts["apex_mm"]) ** 2
            out += 0.5 * opts["liver"] * special.expit((wy - y) / 1.5)
        return out
    return layer


def _gas_layer(opts, bodies, spacing):
    lumbar = [b for b in bodies if b.level.startswith("L")] or bodies[-2:]
    rng = np.random.default_rng(opts["seed"])
    blobs = []
    for _ in range(opts["n"]):
        b = lumbar[int(rng.integers(len(lumbar)))]
        c = b.to_world(np.array([_u(rng, 0.2, 1.8) * b.depth, _u(rng, -0.2, 1.2) * b.hp]))
        blobs.append((c, _u(rng, 4.0, 18.0), _u(rng, 3.0, 12.0), _u(rng, 0, np.pi),
                      _u(rng, 0.1, 0.35)))
    mottle_seed = int(rng.integers(2**31))

    def layer(px, py, wx, wy):
        cell = 4.0 * spacing  # coarse-grid cell, mm
        mottle = ndimage.gaussian_filter(
            np.random.default_rng(mottle_seed).standard_normal(wx.shape), 1.2 / cell)
        mottle = 1.0 + 0.35 * mottle / (mottle.std() + 1e-9)
        out = np.zeros(wx.shape)
        for c, a, b, th, depth in blobs:
            du, dw = wx - c[0], wy - c[1]
            u, w = du * np.cos(th) + dw * np.sin(th), -du * np.sin(th) + dw * np.cos(th)
            r = np.sqrt((u / a) ** 2 + (w / b) ** 2)
            out = np.maximum(out, depth * special.expit((1.0 - r) * min(a, b) / 0.7))
        return -out * mottle
    return layer


def _crest_layer(opts, bodies):
    ref = next((b for b in bodies if b.level == "L4"), bodies[-1])
    apex = ref.to_world(np.array([opts["at"][0] * ref.depth, opts["at"][1] * ref.hp]))
    radius = opts["radius"]

    def layer(px, py, wx, wy):
        out = np.zeros(wx.shape)
        for k, (dx, dy) in enumerate(((0.0, 0.0), opts["offset"])):
            cx, cy = apex[0] + dx, apex[1] + dy + radius  # the crest is convex cranially
            d = np.hypot(wx - cx, wy - cy) - radius
            span = special.expit((70.0 - np.abs(wx - cx)) / 8.0)
            f = 1.0 if k == 0 else 0.7
            out += f * span * (opts["bone"] * special.expit(-d / 1.0)
                               + opts["rim"] * np.exp(-((d + 1.0) / 1.2) ** 2))
        return out
    return layer


def _mimic_layer(opts, bodies, contrast):
    def layer(att, geom):
        rng = np.random.default_rng(opts["seed"])
        px_mm = geom.spacing_mm
        for body in bodies:
            d = body.depth
            u1 = -opts["gap"]
            u0 = u1 - opts["width"] * d
            w0 = opts["stagger"] * body.hp
            poly = np.array([[u0, w0], [u1, w0 + 1.0], [u1, w0 + 0.85 * body.hp],
                             [u0, w0 + 0.9 * body.hp]])
            box = _box(geom, body, (u0 - 2, u1 + 2), (w0 - 2, w0 + body.hp + 2))
            if box is None:
                continue
            u, w = _local(geom, body, box)
            sdf = _convex_sdf(u, w, poly)
            cover = _ramp(sdf / px_mm)
            inner = _ramp((sdf + 1.0) / px_mm)
            tex = _texture(inner, rng, 0.4 / px_mm, 0.25)
            att[box] += contrast * (opts["inner"] * inner * (1 + tex)
                                    + opts["rim"] * (cover - inner))
    return layer


def build_layers(
    style: FamilyStyle,
    geom: ImageGeometry,
    bodies: list[BodyGeometry],
    *,
    contrast: float,
    gain: float,
    diaphragm_y: float | None,
) -> Layers:
    """The overlay layers of ``style`` for one image (see :class:`~._render.Layers`).

    Markers, text and rulers are placed only where they stay clear of every body grown
    by 6 mm; collimation edges lie inside the margins the family adds around the field.
    """
    coarse, attenuation, detector, burned = [], [], [], []
    ov = style.overlays
    factor = 4
    needs_room = {"markers", "text", "ruler"} & set(ov)
    keep = _keep_out(geom, bodies, 6.0, factor) if needs_room else None
    sp = geom.spacing_mm
    if "heart" in ov and (layer := _heart_layer(ov["heart"], bodies)) is not None:
        coarse.append(layer)
    if "domes" in ov and (layer := _dome_layer(ov["domes"], bodies, diaphragm_y)) is not None:
        coarse.append(layer)
    if "gas" in ov:
        coarse.append(_gas_layer(ov["gas"], bodies, sp))
    if "crests" in ov:
        coarse.append(_crest_layer(ov["crests"], bodies))
    if "collimation" in ov:
        coarse.append(_collimation_layer(ov["collimation"], geom, style.margins_mm))
    if "mimics" in ov:
        attenuation.append(_mimic_layer(ov["mimics"], bodies, contrast))
    if "markers" in ov:
        attenuation.append(_marker_layer(ov["markers"], keep, factor, sp))
    if "ruler" in ov:
        attenuation.append(_ruler_layer(ov["ruler"], keep, factor, sp))
    if "grid" in ov:
        detector.append(_grid_layer(ov["grid"], gain))
    if "text" in ov:
        burned.append(_text_layer(ov["text"], keep, factor, sp))
    return Layers(coarse=coarse, attenuation=attenuation, detector=detector, burned_in=burned)


def export_film(
    pixels: np.ndarray, spacing_mm: float, export: Export
) -> tuple[np.ndarray, float]:
    """Downscale to ``export.spacing_mm``, window to 8 bits and round-trip through JPEG.

    Pixel ``i`` of the export covers the source pixels around ``(i + 0.5) f - 0.5``, with
    ``f`` the downscale factor (>= 1), so a source point ``x`` moves to
    ``(x + 0.5) / f - 0.5``.

    Returns
    -------
    pixels : ndarray of float32
        Grey levels 0-255 as decoded from the JPEG.
    factor : float
        ``f``: the export's spacing is ``f * spacing_mm``.
    """
    from PIL import Image

    f = max(export.spacing_mm / spacing_mm, 1.0)
    src = pixels.astype(np.float32)
    if f > 1.0:
        src = ndimage.gaussian_filter(src, 0.45 * f)
        rows, cols = int(pixels.shape[0] / f), int(pixels.shape[1] / f)
        y = (np.arange(rows, dtype=np.float32) + 0.5) * f - 0.5
        x = (np.arange(cols, dtype=np.float32) + 0.5) * f - 0.5
        src = ndimage.map_coordinates(src, np.meshgrid(y, x, indexing="ij"), order=1,
                                      mode="nearest")
    lo, hi = np.percentile(src, export.window_pct)
    v = np.clip((src - lo) / max(hi - lo, 1.0), 0.0, 1.0) ** export.gamma
    buf = io.BytesIO()
    Image.fromarray(np.rint(255 * v).astype(np.uint8)).save(buf, "JPEG", quality=export.quality)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("L"), np.float32)
    return np.ascontiguousarray(out), f
