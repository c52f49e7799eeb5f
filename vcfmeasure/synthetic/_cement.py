"""Cement with known fill, leaks and an implant for the 2-D generator (``cement_detail=``).

The mass is an irregular ellipse inside the cortical shell (as the default cement of
``_render._cement``) whose size and position are chosen; each leak is a capsule (a
segment with round ends) running from the mass centre out through one side of the body
to a chosen distance beyond the six-point outline; the implant is an elliptical loop of
radiopaque wire inside the body; a bowel-contrast blob in front of the spine is an
optional distractor that is not cement. What was drawn is measured back from the drawn
coverage with the same outline definition that :mod:`vcfmeasure.cement` uses, so the
truth is exact for that definition: fill = cement pixels inside the outline / pixels
inside the outline; leak size = greatest distance (mm) of leaked cement beyond the
outline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from .._errors import VcfMeasureError
from ..geometry import polygon_distance

__all__ = ["LEAK_KINDS", "check_detail", "draw_detailed_cement", "default_cement_truth"]

#: Where a leak goes (superior / inferior disc, beyond the posterior wall, in front).
LEAK_KINDS = ("superior_disc", "inferior_disc", "posterior", "anterior")

#: Attenuation of the implant wire and of bowel contrast (soft tissue ~1).
IMPLANT_ATT, BOWEL_ATT = 2.5, 0.9

_KEYS = {"size", "offset", "leaks", "implant", "bowel"}


def check_detail(level: str, spec: Any) -> dict[str, Any]:
    """Validate one level's ``cement_detail`` entry and fill in defaults.

    Parameters
    ----------
    level : str
    spec : dict
        ``size`` (0.15-1, the mass's semi-axes as a fraction of half the body depth and
        height; default 0.7), ``offset`` ((du, dw), -0.25-0.25 of depth and height),
        ``leaks`` (list of ``(kind, size_mm)`` or dicts with ``kind``, ``size_mm`` and
        optional ``position`` 0-1 along the side and ``width_mm``), ``implant`` (bool),
        ``bowel`` (bool: a bowel-contrast blob in front of the spine).

    Returns
    -------
    dict

    Examples
    --------
    >>> check_detail("L1", {"leaks": [("posterior", 2.0)]})["leaks"][0]["kind"]
    'posterior'
    """
    if not isinstance(spec, Mapping):
        raise VcfMeasureError(f"{level}: cement_detail is a dict (size, offset, leaks, implant)")
    extra = set(spec) - _KEYS
    if extra:
        raise VcfMeasureError(f"{level}: unknown cement_detail key {sorted(extra)[0]!r}; use {sorted(_KEYS)}")
    size = float(spec.get("size", 0.7))
    if not 0.15 <= size <= 1.0:
        raise VcfMeasureError(f"{level}: cement size {size} must be in [0.15, 1]")
    du, dw = (float(v) for v in spec.get("offset", (0.0, 0.0)))
    if max(abs(du), abs(dw)) > 0.25:
        raise VcfMeasureError(f"{level}: cement offset {(du, dw)} must lie within +-0.25")
    leaks = []
    for leak in spec.get("leaks", ()):
        item = dict(leak) if isinstance(leak, Mapping) else {"kind": leak[0], "size_mm": leak[1]}
        if item.get("kind") not in LEAK_KINDS:
            raise VcfMeasureError(f"{level}: leak kind {item.get('kind')!r} is not one of {LEAK_KINDS}")
        if not 0.3 <= float(item["size_mm"]) <= 12.0:
            raise VcfMeasureError(f"{level}: leak size {item['size_mm']} mm must be in [0.3, 12]")
        leaks.append(item)
    return {"size": size, "offset": (du, dw), "leaks": leaks,
            "implant": bool(spec.get("implant", False)), "bowel": bool(spec.get("bowel", False))}


def _capsule(u, w, p, q, r):
    """Distance (mm, + outside) to the capsule of radius ``r`` around segment p-q."""
    d = np.subtract(q, p)
    t = np.clip(((u - p[0]) * d[0] + (w - p[1]) * d[1]) / float(d @ d), 0.0, 1.0)
    return np.hypot(u - p[0] - t * d[0], w - p[1] - t * d[1]) - r


def _leak_segment(kind, size, pos, poly, centre, rng):
    """Start (mass centre) and end (so the round tip reaches ``size`` beyond the side)."""
    sp, sm, sa, ia, im, ip = poly
    if kind in ("superior_disc", "inferior_disc"):
        a, m, b = (sp, sm, sa) if kind == "superior_disc" else (ip, im, ia)
        u0 = a[0] + pos * (b[0] - a[0])
        w_side = np.interp(u0, [a[0], m[0], b[0]], [a[1], m[1], b[1]])
        out = np.array([0.0, -1.0 if kind == "superior_disc" else 1.0])
        base = np.array([u0, w_side])
    else:
        a, b = (sp, ip) if kind == "posterior" else (sa, ia)
        w0 = a[1] + pos * (b[1] - a[1])
        u_side = np.interp(w0, [a[1], b[1]], [a[0], b[0]])
        tilt = np.radians(rng.uniform(-20.0, 20.0))
        sign = -1.0 if kind == "posterior" else 1.0
        out = np.array([sign * np.cos(tilt), np.sin(tilt)])
        base = np.array([u_side, w0])
    return centre, base + size * out, out


def draw_detailed_cement(att, geom, body, app, rng, spec):
    """Add the cement, leaks, implant and bowel blob of ``spec`` to ``att``; return truth.

    Returns
    -------
    dict
        ``fill``, ``area_mm2`` (inside the outline), ``leak_area_mm2``, ``leaks`` (list
        of ``kind, size_mm, drawn_mm, area_mm2, centroid_xy``), ``implant``,
        ``bowel``, ``mask`` / ``mask_origin`` (cement coverage > 0.5, cropped, and its
        (row, col) offset), ``implant_mask``.
    """
    from ._render import _box, _local, _ramp, body_distances

    px = geom.spacing_mm
    depth, hmax = body.depth, max(body.hp, body.ha)
    reach = {k: 0.0 for k in LEAK_KINDS}
    for leak in spec["leaks"]:
        reach[leak["kind"]] = max(reach[leak["kind"]], float(leak["size_mm"]) + 3.0)
    front = max(reach["anterior"], 45.0 if spec["bowel"] else 0.0)
    box = _box(geom, body, (-3.0 - reach["posterior"], depth + 3.0 + front),
               (-3.0 - reach["superior_disc"], hmax + 3.0 + reach["inferior_disc"]))
    if box is None:
        return None
    u, w = _local(geom, body, box)
    d = body_distances(body, u, w)
    t_wall = app.cortex_wall_mm * (0.6 + 0.4 * min(app.contrast, 1.0))
    t_end = app.cortex_endplate_mm * (0.6 + 0.4 * min(app.contrast, 1.0))
    inner = _ramp(np.maximum.reduce([d[0] + t_end, d[1] + t_end, d[2] + t_wall, d[3] + t_wall]) / px)

    size, (du, dw) = spec["size"], spec["offset"]
    h_mid = 0.5 * (body.hp + body.ha)
    cu, cw = depth * (0.5 + du), h_mid * (0.5 + dw)
    au, aw = 0.5 * depth * size, 0.5 * min(body.hp, body.ha) * size
    ell = np.sqrt(((u - cu) / au) ** 2 + ((w - cw) / aw) ** 2) - 1.0
    lumpy = ndimage.gaussian_filter(rng.standard_normal(u.shape).astype(np.float32), 1.5 / px)
    lumpy /= lumpy.std() + 1e-9
    cover = _ramp((ell + 0.2 * lumpy) * min(au, aw) / px) * inner
    poly = body.local_landmarks()
    leak_cov = []
    drawn = []
    for leak in spec["leaks"]:
        sz = float(leak["size_mm"])
        pos = float(leak.get("position", rng.uniform(0.3, 0.7)))
        r = float(leak.get("width_mm", np.clip(0.6 * sz, 1.2, 3.0))) / 2.0
        p, q, out = _leak_segment(leak["kind"], sz, pos, poly, np.array([cu, cw]), rng)
        c = _ramp(_capsule(u, w, p, q - r * out, r) / px)
        leak_cov.append(c)
        drawn.append(sz)
        cover = np.maximum(cover, c)
    grain = ndimage.gaussian_filter(rng.standard_normal(u.shape).astype(np.float32), 0.6 / px)
    grain = 1.0 + 0.08 * grain / (grain.std() + 1e-9)
    patch = cover * grain * app.cement
    implant = np.zeros(u.shape, np.float32)
    if spec["implant"]:
        a_i, b_i = 0.3 * depth, 0.3 * min(body.hp, body.ha)
        ring = np.abs(np.sqrt(((u - cu) / a_i) ** 2 + ((w - cw) / b_i) ** 2) - 1.0) * min(a_i, b_i)
        implant = _ramp((ring - 0.6) / px) * inner
        patch += implant * IMPLANT_ATT
    bowel = None
    if spec["bowel"]:
        bu, bw, br = depth + rng.uniform(18.0, 30.0), h_mid * rng.uniform(0.2, 0.8), rng.uniform(4.0, 7.0)
        blob = _ramp((np.hypot(u - bu, w - bw) - br + 1.5 * lumpy) / px)
        patch += blob * BOWEL_ATT
        bowel = {"centre_xy": geom.to_pixels(body.to_world(np.array([bu, bw]))).tolist(),
                 "radius_mm": float(br)}
    att[box] += patch
    return _truth(u, w, poly, cover, leak_cov, drawn, spec, implant, box, px, bowel)


def _truth(u, w, poly, cover, leak_cov, drawn, spec, implant, box, px, bowel):
    dist, _ = polygon_distance(u, w, poly)
    inside = dist <= 0
    n_in = max(int(inside.sum()), 1)
    leaks = []
    for leak, c, sz in zip(spec["leaks"], leak_cov, drawn, strict=True):
        out = (c > 0.5) & ~inside
        rows, cols = np.nonzero(out)
        leaks.append({
            "kind": leak["kind"],
            "size_mm": float(dist[out].max()) if out.any() else 0.0,
            "drawn_mm": sz,
            "area_mm2": float(c[~inside].sum() * px * px),
            "centroid_xy": ([float(cols.mean() + box[1].start), float(rows.mean() + box[0].start)]
                            if out.any() else None),
        })
    return {
        "fill": float(cover[inside].sum() / n_in),
        "area_mm2": float(cover[inside].sum() * px * px),
        "leak_area_mm2": float(cover[~inside].sum() * px * px),
        "leaks": leaks,
        "implant": bool(spec["implant"]),
        "bowel": bowel,
        "mask": cover > 0.5,
        "implant_mask": implant > 0.5,
        "mask_origin": (box[0].start, box[1].start),
    }


def default_cement_truth(cover, u, w, body, box, px):
    """Truth for the default cement of ``_render._cement`` (no leaks, no implant)."""
    spec = {"leaks": [], "implant": False}
    return _truth(u, w, body.local_landmarks(), np.minimum(cover, 1.0), [], [], spec,
                  np.zeros(u.shape, np.float32), box, px, None)
