"""3-D edits of a CT before projection, each moving the truth with it.

Every edit works in one vertebra's box on the HU volume, is converted to attenuation
and added to the cached slab sums as a difference, so an edited film costs little
more than an unedited one.

* **Fractures** map the body in its local frame (``h`` anterior, ``v`` along the
  spine, from the six truth points) by ``v' = k(h) v`` about the body centre; ``k`` is
  solved so that the moved truth points have exactly the requested heights:
  wedge ``Ha = (1 - s) max(Ha0, Hp0)``; crush ``Hp = (1 - s) Hp0`` with
  ``Ha = (1 - 0.85 s) Ha0``; biconcave a central sink of both endplates with
  ``Hm = (1 - s) Hp0`` (the same definitions as :func:`~vcfmeasure.synthetic.make_spine`).
  The arch behind the posterior wall is left in place (blended over 8 mm); the space
  the body gave up becomes disc-like soft tissue.
* **Osteoporosis** scales the mineral above marrow (``HU - 30``) inside the vertebra.
* **Cement** is PMMA (2500 HU) filling an ellipsoid in the body, scaled so that its
  silhouette covers the requested fraction of the body's mid-sagittal outline; leaks
  are spheres just outside the body (disc above/below, canal side, in front). A leak is
  not voxelised: on a CT with 2.5 mm slices a sphere of 1-3 mm would come out as
  nothing or as one slice, depending on where its centre falls. Each leak keeps its
  centre, radius and the attenuation it adds over the tissue it displaces, and the
  renderer adds its exact chord lengths to the line integrals
  (:func:`~vcfmeasure.synthetic._ct_render.add_leaks`).
* **raise_collapsed** gives a fracture back that fraction of its lost height.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .._errors import VcfMeasureError
from ..levels import normalize_level
from ._ct_project import attenuation
from ._ct_volume import CTVolume
from ._spine import DEFORMITY_TYPES, check_deformity

__all__ = ["Edited", "apply_edits", "FRACTURE_TYPES", "CEMENT_HU", "LEAK_SITES",
           "heights", "body_frame"]

FRACTURE_TYPES = DEFORMITY_TYPES
LEAK_SITES = ("disc_superior", "disc_inferior", "posterior", "anterior")
CEMENT_HU = 2500.0
_DISC_HU = 70.0
_MARROW_HU = 30.0
_GRADE_CUTS = (0.20, 0.25, 0.40)


def heights(points: np.ndarray) -> np.ndarray:
    """``(Ha, Hm, Hp)`` of six points ``(6, d)`` (Euclidean, docs/reference.md section 1)."""
    p = np.asarray(points, float)
    return np.array([np.linalg.norm(p[2] - p[3]), np.linalg.norm(p[1] - p[4]),
                     np.linalg.norm(p[0] - p[5])])


def body_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin and unit ``e_h`` (anterior), ``e_v`` (superior) of a body, volume-frame mm."""
    p = np.asarray(points, float)
    o = p.mean(axis=0)
    eh = (p[2] + p[3]) / 2 - (p[0] + p[5]) / 2
    eh[0] = 0.0
    eh /= np.linalg.norm(eh)
    up = (p[0] + p[1] + p[2]) / 3 - (p[3] + p[4] + p[5]) / 3
    ev = up - (up @ eh) * eh
    ev[0] = 0.0
    ev /= np.linalg.norm(ev)
    return o, eh, ev


@dataclass
class _Map:
    """``v' = k(h) v`` in the body frame; ``k`` linear (wedge/crush) or a central sink."""

    o: np.ndarray
    eh: np.ndarray
    ev: np.ndarray
    hp: float
    ha: float
    kp: float = 1.0
    ka: float = 1.0
    sink: float = 0.0

    def k(self, h: np.ndarray) -> np.ndarray:
        t = (h - self.hp) / (self.ha - self.hp)
        k = self.kp + (self.ka - self.kp) * np.clip(t, 0.0, 1.0)
        if self.sink:
            k = k - self.sink * np.clip(1.0 - ((t - 0.5) / 0.5) ** 2, 0.0, None)
        # back to identity over 8 mm behind the posterior wall (the arch stays)
        w = np.clip((h - (self.hp - 8.0)) / 8.0, 0.0, 1.0)
        return 1.0 + w * (k - 1.0)

    def forward(self, p: np.ndarray) -> np.ndarray:
        d = p - self.o
        h, v = d @ self.eh, d @ self.ev
        return p + ((self.k(h) - 1.0) * v)[..., None] * self.ev

    def inverse(self, p: np.ndarray) -> np.ndarray:
        d = p - self.o
        h, v = d @ self.eh, d @ self.ev
        return p + ((1.0 / self.k(h) - 1.0) * v)[..., None] * self.ev


def _solve(f, target: float, lo: float, hi: float) -> float:
    """Bisection of a monotonic ``f`` on ``[lo, hi]`` to ``target``."""
    flo = f(lo) - target
    for _ in range(60):
        mid = (lo + hi) / 2
        fm = f(mid) - target
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return (lo + hi) / 2


def fracture_map(points: np.ndarray, kind: str, severity: float) -> _Map:
    """The body map of a fracture whose moved ``points`` have the requested heights."""
    o, eh, ev = body_frame(points)
    h = (points - o) @ eh
    m = _Map(o, eh, ev, hp=float((h[0] + h[5]) / 2), ha=float((h[2] + h[3]) / 2))
    ha0, _, hp0 = heights(points)
    if kind == "wedge":
        target = (1.0 - severity) * max(ha0, hp0)

        def ha_of(ka):
            m.ka = ka
            return heights(m.forward(points))[0]

        m.ka = _solve(ha_of, target, 0.05, 1.5)
    elif kind == "crush":
        def hp_of(kp):
            m.kp = kp
            return heights(m.forward(points))[2]

        m.kp = _solve(hp_of, (1.0 - severity) * hp0, 0.05, 1.5)

        def ha_of2(ka):
            m.ka = ka
            return heights(m.forward(points))[0]

        m.ka = _solve(ha_of2, (1.0 - 0.85 * severity) * ha0, 0.05, 1.5)
    else:
        def hm_of(sink):
            m.sink = sink
            return heights(m.forward(points))[1]

        m.sink = _solve(hm_of, (1.0 - severity) * hp0, -0.5, 0.95)
    return m


def _grade(r: float) -> int:
    return int(sum(r >= c for c in _GRADE_CUTS))


@dataclass
class Edited:
    """Slab sums, truth points and outlines after the edits of one render."""

    sums: np.ndarray
    points: dict[str, np.ndarray]
    outlines: dict[str, np.ndarray]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    cement3d: dict[str, dict[str, Any]] = field(default_factory=dict)
    hu_boxes: dict[str, tuple[tuple[slice, ...], np.ndarray]] = field(default_factory=dict)
    masks: dict[str, tuple[tuple[slice, ...], np.ndarray]] = field(default_factory=dict)

    def truth_record(self, level: str) -> dict[str, Any]:
        """The ``truth[level]`` dict of the rendered film (before projection of cement)."""
        rec: dict[str, Any] = {
            "deformity": "normal", "drawn_deformity": "normal", "severity": 0.0, "grade": 0,
            "severity_before": 0.0, "restoration": None, "cement": None, "osteoporosis": 0.0,
            "edits": [], "source": "ct",
        }
        rec.update(self.records.get(level, {}))
        rec["points_3d"] = self.points[level].copy()
        return rec


def _per_level(value: Any, name: str, levels: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise VcfMeasureError(f"{name} must map level -> setting, e.g. {{'L1': ...}}; got {value!r}")
    out = {normalize_level(k): v for k, v in value.items()}
    bad = [lv for lv in out if lv not in levels]
    if bad:
        raise VcfMeasureError(f"{bad[0]}: {name} needs a whole vertebra with truth ({', '.join(levels)})")
    return out


def _sample(a: np.ndarray, idx: Any, cval: float) -> np.ndarray:
    return ndimage.map_coordinates(a, idx, order=1, mode="constant", cval=cval)


def apply_edits(
    vol: CTVolume,
    prep: dict[str, Any],
    *,
    fractures: Mapping[str, tuple[str, float]] | None = None,
    osteoporosis: float | Mapping[str, float] = 0.0,
    cement: Mapping[str, Mapping[str, Any]] | None = None,
    raise_collapsed: Mapping[str, float] | None = None,
    energy_kev: float = 50.0,
) -> Edited:
    """Apply the requested edits; unedited renders share the cached slab sums."""
    levels = vol.levels
    points = {lv: vol.level_truth(lv).points.copy() for lv in levels}
    outlines = {lv: vol.level_truth(lv).outline.copy() for lv in levels}
    ed = Edited(prep["sums"], points, outlines)
    fr = _per_level(fractures, "fractures", levels)
    rz = {k: float(v) for k, v in _per_level(raise_collapsed, "raise_collapsed", levels).items()}
    cm = _per_level(cement, "cement", levels)
    if isinstance(osteoporosis, Mapping):
        op = {lv: float(v) for lv, v in _per_level(osteoporosis, "osteoporosis", levels).items()}
    else:
        op = dict.fromkeys(levels, float(osteoporosis)) if float(osteoporosis) else {}
    for lv, f in op.items():
        if not 0.0 <= f <= 0.8:
            raise VcfMeasureError(f"{lv}: osteoporosis {f} must be a mineral loss in [0, 0.8]")
    for lv in rz:
        if lv not in fr:
            raise VcfMeasureError(f"{lv}: raise_collapsed needs a fracture at {lv} (fractures=)")
        if not 0.0 <= rz[lv] <= 1.0:
            raise VcfMeasureError(f"{lv}: raise_collapsed {rz[lv]} must be a fraction in [0, 1]")
    todo = sorted(set(fr) | set(cm) | set(op))
    if not todo:
        return ed
    sums = prep["sums"].copy()
    sx, sy, sz = vol.spacing
    for lv in todo:
        lt = vol.level_truth(lv)
        box = tuple(slice(max(s.start - 2, 0), min(s.stop + 2, n))
                    for s, n in zip(lt.box, vol.shape, strict=True))
        grid = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) * sp for s, sp in
                                      zip(box, vol.spacing, strict=True)], indexing="ij"), axis=-1)
        hu_old = vol.hu[box]
        hu = hu_old.copy()
        rec: dict[str, Any] = {"edits": []}
        inside_old = ndimage.map_coordinates(
            lt.sdf, [(grid[..., d] / vol.spacing[d] - lt.box[d].start) for d in range(3)],
            order=1, mode="constant", cval=10.0) < 0
        if lv in op and op[lv] > 0:
            f = op[lv]
            bone = inside_old & (hu > _MARROW_HU)
            hu[bone] = _MARROW_HU + (1.0 - f) * (hu[bone] - _MARROW_HU)
            rec["osteoporosis"] = f
            rec["edits"].append(("osteoporosis", f))
        if lv in fr:
            kind, sev = _check_fracture(lv, fr[lv])
            restored = rz.get(lv)
            s_eff = sev * (1.0 - restored) if restored is not None else sev
            m = fracture_map(points[lv], kind, s_eff)
            src = m.inverse(grid)
            idx = [src[..., d] / vol.spacing[d] - box[d].start for d in range(3)]
            idx_sdf = [src[..., d] / vol.spacing[d] - lt.box[d].start for d in range(3)]
            inside_new = _sample(lt.sdf, idx_sdf, 10.0) < 0
            moved = _sample(hu, idx, -1000.0)
            hu = np.where(inside_new, moved, np.where(inside_old, np.float32(_DISC_HU), hu))
            points[lv] = m.forward(points[lv])
            outlines[lv] = m.forward(outlines[lv])
            rec.update({
                "deformity": kind if _grade(s_eff) > 0 else "normal", "drawn_deformity": kind,
                "severity": s_eff, "grade": _grade(s_eff), "severity_before": sev,
                "restoration": restored,
            })
            rec["edits"].append(("fracture", kind, sev))
            if restored is not None:
                rec["edits"].append(("raise_collapsed", restored))
            inside_old = inside_new
        if lv in cm:
            spec = cm[lv]
            c3 = _cement(lv, spec, points[lv], outlines[lv], grid, inside_old, vol)
            hu = np.where(c3["voxels"], np.float32(CEMENT_HU), hu)
            for leak in c3["leaks"]:
                leak["delta_mu"] = _leak_contrast(leak["centre_3d"], hu, box, vol, energy_kev)
            ed.cement3d[lv] = c3
            rec["edits"].append(("cement", c3["fill"], len(c3["leaks"])))
        ed.hu_boxes[lv] = (box, hu)
        ed.masks[lv] = (box, inside_old)
        dmu = attenuation(hu, energy_kev) - attenuation(hu_old, energy_kev)
        if "body" in vol.cache and prep.get("remove_table"):
            dmu *= vol.cache["body"][box]
        for k, (a, b) in enumerate(prep["edges"]):
            lo, hi = max(a, box[0].start), min(b, box[0].stop)
            if lo >= hi:
                continue
            part = dmu[lo - box[0].start: hi - box[0].start].sum(axis=0) * np.float32(sx)
            sums[k, box[1], box[2]] += part
        ed.records[lv] = rec
    ed.sums = sums
    return ed


def _check_fracture(lv: str, spec: Any) -> tuple[str, float]:
    return check_deformity(lv, spec, "fracture")


def _inside_polygon(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    return MplPath(poly).contains_points(pts)


def _leak_contrast(centre: np.ndarray, hu: np.ndarray, box: tuple[slice, ...], vol: CTVolume,
                   energy_kev: float) -> float:
    """Attenuation (1/mm) a leak adds over the tissue at its centre (edited HU where boxed)."""
    ijk = np.clip(np.rint(np.asarray(centre) / np.asarray(vol.spacing)).astype(int), 0,
                  np.asarray(vol.shape) - 1)
    local = ijk - np.array([s.start for s in box])
    if np.all(local >= 0) and np.all(local < np.array(hu.shape)):
        bg = float(hu[tuple(local)])
    else:
        bg = float(vol.hu[tuple(ijk)])
    mu = attenuation(np.array([CEMENT_HU, bg], np.float32), energy_kev)
    return float(max(mu[0] - mu[1], 0.0))


def _cement(lv, spec, pts, outline, grid, inside, vol) -> dict[str, Any]:
    """Cement voxels (an ellipsoid in the body, scaled to the fill) and the leak spheres."""
    try:
        fill = float(spec["fill"])
    except (TypeError, KeyError, ValueError):
        raise VcfMeasureError(f"{lv}: cement is {{'fill': fraction, 'leaks': [...]}}; got {spec!r}") from None
    if not 0.05 <= fill <= 0.9:
        raise VcfMeasureError(f"{lv}: cement fill {fill} must be within [0.05, 0.9]")
    o, eh, ev = body_frame(pts)
    ha, _, hp = heights(pts)
    depth = float(np.linalg.norm((pts[2] + pts[3]) / 2 - (pts[0] + pts[5]) / 2))
    ol2 = np.column_stack([(outline - o) @ eh, (outline - o) @ ev])
    step = 0.25
    hh, vv = np.meshgrid(np.arange(ol2[:, 0].min(), ol2[:, 0].max(), step),
                         np.arange(ol2[:, 1].min(), ol2[:, 1].max(), step))
    q = np.column_stack([hh.ravel(), vv.ravel()])
    body = _inside_polygon(ol2, q)
    a0, b0 = depth / 2, (ha + hp) / 4

    def fill_of(scale):
        e = (q[:, 0] / (a0 * scale)) ** 2 + (q[:, 1] / (b0 * scale)) ** 2 < 1
        return (e & body).sum() / body.sum()

    scale = _solve(fill_of, fill, 0.05, 3.0)
    e2 = (q[:, 0] / (a0 * scale)) ** 2 + (q[:, 1] / (b0 * scale)) ** 2 < 1
    achieved = float((e2 & body).sum() / body.sum())
    width = float(min(a0 * scale, 14.0))  # left-right half-width of the cement, mm
    d = grid - o
    x_c = float(pts[0, 0])
    r = (((d @ eh) / (a0 * scale)) ** 2 + ((d @ ev) / (b0 * scale)) ** 2
         + ((grid[..., 0] - x_c) / width) ** 2)
    voxels = (r < 1) & inside
    leaks = []
    for leak in spec.get("leaks", []) or []:
        where, size = leak.get("where"), float(leak.get("size_mm", 4.0))
        if where not in LEAK_SITES:
            raise VcfMeasureError(f"{lv}: cement leak 'where' {where!r} is not one of {LEAK_SITES}")
        if not 1.0 <= size <= 15.0:
            raise VcfMeasureError(f"{lv}: cement leak size_mm {size} must be within [1, 15] mm")
        rad = size / 2
        if where == "disc_superior":
            c = pts[1] + ev * (rad + 0.5)
        elif where == "disc_inferior":
            c = pts[4] - ev * (rad + 0.5)
        elif where == "posterior":
            c = (pts[0] + pts[5]) / 2 - eh * (rad + 0.5)
        else:
            c = (pts[2] + pts[3]) / 2 + eh * (rad + 0.5)
        leaks.append({"where": where, "size_mm": size, "centre_3d": c})
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ell = o + np.outer(a0 * scale * np.cos(t), eh) + np.outer(b0 * scale * np.sin(t), ev)
    return {"fill": achieved, "requested_fill": fill, "leaks": leaks, "voxels": voxels,
            "ellipse_3d": ell, "outline_3d": outline}
