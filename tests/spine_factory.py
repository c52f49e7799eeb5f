"""Hand-controllable vertebra and spine point sets for the core tests."""

from __future__ import annotations

import numpy as np

from vcfmeasure import LEVELS, Landmarks


def vertebra(ha=25.0, hm=24.0, hp=26.0, depth=35.0):
    """(6, 2) points in a local frame: x anterior, y cranial (math axes, not image)."""
    return np.array([
        [-depth / 2, hp / 2],            # sp
        [0.0, -hp / 2 + hm],             # sm (inferior endplate flat, im at y=-hp/2)
        [depth / 2, -hp / 2 + ha],       # sa
        [depth / 2, -hp / 2],            # ia
        [0.0, -hp / 2],                  # im
        [-depth / 2, -hp / 2],           # ip
    ])


def spine_xy(levels, *, sizes=None, tilts_deg=None, disc=8.0, facing="right",
             origin=(400.0, 100.0)):
    """Stack vertebrae caudally in image coordinates (x right, y down).

    sizes: per level (ha, hm, hp, depth); tilts_deg: per level rotation of the body.
    """
    n = len(levels)
    sizes = sizes or [(25.0, 24.0, 26.0, 35.0)] * n
    tilts = np.radians(tilts_deg if tilts_deg is not None else np.zeros(n))
    out = []
    y = origin[1]
    for (ha, hm, hp, depth), t in zip(sizes, tilts, strict=True):
        local = vertebra(ha, hm, hp, depth)
        c, s = np.cos(t), np.sin(t)
        rot = local @ np.array([[c, s], [-s, c]])
        img = np.column_stack([rot[:, 0], -rot[:, 1]])  # cranial up = -y
        if facing == "left":
            img[:, 0] *= -1
        y += max(ha, hp) / 2
        out.append(img + [origin[0], y])
        y += max(ha, hp) / 2 + disc
    return np.array(out)


def spine(levels, **kw):
    return Landmarks.from_array(spine_xy(levels, **kw), levels)


def level_range(first, last):
    return list(LEVELS[LEVELS.index(first) : LEVELS.index(last) + 1])


def transform(xy, *, angle_deg=0.0, shift=(0.0, 0.0), mirror=False, scale=1.0):
    xy = np.array(xy, dtype=float)
    if mirror:
        xy[..., 0] *= -1
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return scale * xy @ rot.T + np.asarray(shift)
