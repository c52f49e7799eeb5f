"""Lateral projection of a CT: attenuation, slab ray sums, geometry and film appearance.

The attenuation volume (HU -> linear attenuation at an effective energy, table and
contrast removed) is summed once along the left-right axis in slabs (thin near the
spine, thick elsewhere) and cached on the :class:`~._ct_volume.CTVolume`. A film is
then formed by mapping each slab's plane through the requested geometry (parallel or
cone beam, out-of-plane rotation) onto an intermediate detector grid, which is exact
for points on the slab plane; the truth points use the same mapping. The film pixel
grid (spacing, facing, in-plane tilt, crop) is a last 2-D resampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Geometry", "attenuation", "slab_sums", "project_points", "project_slabs",
           "ENERGY_TABLE"]

#: Mass attenuation coefficients (cm^2/g), NIST XCOM / Hubbell & Seltzer (NISTIR 5632):
#: energy keV, water, cortical bone (ICRU-44, density 1.92 g/cm^3).
ENERGY_TABLE = np.array([
    [30.0, 0.3756, 1.331],
    [40.0, 0.2683, 0.6655],
    [50.0, 0.2269, 0.4242],
    [60.0, 0.2059, 0.3148],
    [80.0, 0.1837, 0.2229],
    [100.0, 0.1707, 0.1855],
])
_BONE_DENSITY = 1.92
#: Effective energy of the CT the HU were measured at, keV.
CT_ENERGY_KEV = 70.0


def _mu(energy_kev: float) -> tuple[float, float]:
    """Linear attenuation of water and cortical bone at ``energy_kev``, 1/mm."""
    e = ENERGY_TABLE[:, 0]
    w = np.exp(np.interp(np.log(energy_kev), np.log(e), np.log(ENERGY_TABLE[:, 1])))
    b = np.exp(np.interp(np.log(energy_kev), np.log(e), np.log(ENERGY_TABLE[:, 2])))
    return float(w) / 10.0, float(b) * _BONE_DENSITY / 10.0


def attenuation(hu: np.ndarray, energy_kev: float = 50.0) -> np.ndarray:
    """Linear attenuation (1/mm) at an effective energy from HU.

    Below 0 HU a voxel is water diluted with air, ``mu_w(E) (1 + HU/1000)``; above, a
    water / cortical-bone mixture whose bone fraction reproduces the HU at the CT's
    effective energy (:data:`CT_ENERGY_KEV`), so bone is weighted by its higher
    attenuation at a radiograph's lower effective energy.

    Examples
    --------
    >>> import numpy as np
    >>> mu = attenuation(np.array([-1000.0, 0.0, 1000.0]), energy_kev=50.0)
    >>> [round(float(m), 4) for m in mu]
    [0.0, 0.0227, 0.0596]

    References
    ----------
    J. H. Hubbell and S. M. Seltzer, Tables of X-Ray Mass Attenuation Coefficients,
    NISTIR 5632 (1995), water and cortical bone (ICRU-44).
    """
    w_ct, b_ct = _mu(CT_ENERGY_KEV)
    w, b = _mu(energy_kev)
    hu = np.asarray(hu, dtype=np.float32)
    hu_bone = 1000.0 * (b_ct / w_ct - 1.0)
    frac = np.clip(hu, 0.0, None) / np.float32(hu_bone)
    soft = np.float32(w) * np.clip(1.0 + np.minimum(hu, 0.0) / 1000.0, 0.0, None)
    return (soft * (1.0 - frac) + np.float32(b) * frac).astype(np.float32)


def slab_edges(nx: int, sx: float, centre_mm: float, near_mm: float = 30.0,
               thin: int = 2, thick: int = 8) -> list[tuple[int, int]]:
    """Voxel ranges along x: ``thin`` voxels within ``near_mm`` of ``centre_mm``, else ``thick``."""
    lo = max(int(np.floor((centre_mm - near_mm) / sx)), 0)
    hi = min(int(np.ceil((centre_mm + near_mm) / sx)), nx)
    edges = []
    i = lo
    while i > 0:
        edges.append((max(i - thick, 0), i))
        i -= thick
    edges.reverse()
    i = lo
    while i < hi:
        edges.append((i, min(i + thin, hi)))
        i += thin
    while i < nx:
        edges.append((i, min(i + thick, nx)))
        i += thick
    return edges


def slab_sums(mu: np.ndarray, sx: float, edges: list[tuple[int, int]]) -> np.ndarray:
    """Ray sums ``sum(mu) * sx`` over each slab, shape ``(n_slabs, ny, nz)``."""
    return np.stack([mu[a:b].sum(axis=0) * np.float32(sx) for a, b in edges]).astype(np.float32)


@dataclass(frozen=True)
class Geometry:
    """Projection geometry, mm, relative to the isocentre ``centre`` (volume frame).

    ``R`` rotates the patient (volume frame) into the beam frame, whose x axis is the
    beam (source on -x); ``sod``/``sid`` are ``None`` for a parallel beam. Iso-plane
    coordinates ``(u, v)`` are beam-frame ``(y, z)`` scaled to the isocentre plane.
    """

    centre: np.ndarray
    R: np.ndarray
    sod: float | None = None
    sid: float | None = None

    @property
    def magnification(self) -> float:
        """SID/SOD at the isocentre (1 for a parallel beam)."""
        return 1.0 if self.sod is None or self.sid is None else self.sid / self.sod


def rotation(out_of_plane_deg: float, axial_deg: float) -> np.ndarray:
    """Patient rotation: about the anterior axis (out of plane), then the long axis."""
    a, b = np.radians(out_of_plane_deg), np.radians(axial_deg)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ ry


def project_points(geom: Geometry, pts: np.ndarray) -> np.ndarray:
    """Volume-frame points ``(..., 3)`` mm -> iso-plane ``(u, v)`` mm."""
    w = (np.asarray(pts, float) - geom.centre) @ geom.R.T
    if geom.sod is None:
        return w[..., 1:3].copy()
    f = geom.sod / (geom.sod + w[..., 0])
    return w[..., 1:3] * f[..., None]


def _to_slab(geom: Geometry, xs: float, spacing_yz, warped: bool):
    """Function ``(u, v) -> (iy, iz)``: where the ray through a grid point meets slab ``xs``.

    With ``warped`` the grid coordinates are the cone beam's common projective warp
    ``(u', v') = (u, v) n_x SOD / (n . d)`` (see :func:`project_slabs`), in which the map of
    every slab is affine.
    """
    sy, sz = spacing_yz
    c, R = geom.centre, geom.R
    n, rt = R[:, 0], R.T
    xr = xs - c[0]

    def f(u, v):
        u, v = np.asarray(u, float), np.asarray(v, float)
        if geom.sod is None:
            t = (xr - n[1] * u - n[2] * v) / n[0]
            w = np.stack([t, u, v])
        else:
            sod = geom.sod
            k = (xr + n[0] * sod) / (n[0] * sod)
            if warped:  # s = n_x SOD / (n . d) is affine in (u', v')
                s_ = 1.0 - (n[1] * u + n[2] * v) / (n[0] * sod)
                w = np.stack([sod * (k * s_ - 1.0), k * u, k * v])
            else:
                t = k * n[0] * sod / (n[0] * sod + n[1] * u + n[2] * v)
                w = np.stack([sod * (t - 1.0), t * u, t * v])
        p = rt @ w
        return np.stack([(p[1] + c[1]) / sy, (p[2] + c[2]) / sz])

    return f


def _affine(f, u0: float, v0: float, g: float) -> tuple[np.ndarray, np.ndarray]:
    """Matrix and offset of an affine ``f`` as a map grid index ``(iv, iu)`` -> ``(iy, iz)``."""
    span = 100.0
    base = f(u0, v0)
    du = (f(u0 + span, v0) - base) / (span / g)
    dv = (f(u0, v0 + span) - base) / (span / g)
    return np.column_stack([dv, du]), base


def obliquity(geom: Geometry, u: np.ndarray, v: np.ndarray) -> np.ndarray | float:
    """Path-length factor ``1 / |n . d|`` of the rays through a slab (same for every slab)."""
    n = geom.R[:, 0]
    if geom.sod is None:
        return float(1.0 / abs(n[0]))
    uu, vv = np.meshgrid(u, v)
    sod = geom.sod
    nd = n[0] * sod + n[1] * uu + n[2] * vv
    return (np.sqrt(sod**2 + uu**2 + vv**2) / np.abs(nd)).astype(np.float32)


def project_slabs(
    geom: Geometry,
    sums: np.ndarray,
    slab_x: np.ndarray,
    spacing_yz: tuple[float, float],
    u: np.ndarray,
    v: np.ndarray,
    tol_mm: float = 0.02,
) -> np.ndarray:
    """Line integrals on the iso-plane grid ``u`` (cols) x ``v`` (rows) from slab sums.

    Each slab is a plane ``x = slab_x`` (volume frame, mm); the ray through each grid
    point meets it at one ``(y, z)``, where its ray sum is read (linear interpolation)
    and scaled by the path-length factor ``1 / |n . d|``. In a parallel beam, and in a
    cone beam without rotation, that map is affine. In a rotated cone beam the ray
    parameter is ``t = k_slab n_x SOD / (n . d(u, v))``: the non-linear part is the same
    for every slab, so the slabs are summed affinely on the warped grid
    ``(u', v') = (u, v) n_x SOD / (n . d)`` and the sum is warped once. Consecutive slabs
    whose maps differ by less than ``tol_mm`` anywhere on the grid are summed first and
    mapped once (all of them for a parallel beam without rotation).
    """
    g = float(u[1] - u[0]) if len(u) > 1 else 1.0
    n = geom.R[:, 0]
    warped = geom.sod is not None and not np.allclose(n, [1.0, 0.0, 0.0])
    if warped:
        assert geom.sod is not None
        uu, vv = np.meshgrid(u, v)
        sc = n[0] * geom.sod / (n[0] * geom.sod + n[1] * uu + n[2] * vv)
        wu, wv = uu * sc, vv * sc
        gu = np.arange(wu.min() - g, wu.max() + 2 * g, g)
        gv = np.arange(wv.min() - g, wv.max() + 2 * g, g)
    else:
        gu, gv = u, v
    shape = (len(gv), len(gu))
    extent = np.array([[0, 0], [shape[0] - 1, 0], [0, shape[1] - 1], [shape[0] - 1, shape[1] - 1]], float)
    maps = [_affine(_to_slab(geom, float(xs), spacing_yz, warped), gu[0], gv[0], g) for xs in slab_x]
    vox = np.array(spacing_yz)
    acc_out = np.zeros(shape, np.float32)

    def flush(first: int, last: int) -> None:
        acc = sums[first] if last == first + 1 else sums[first:last].sum(axis=0)
        m, o = maps[(first + last - 1) // 2]
        # read the slab as (z, y): without rotation the map is then diagonal (a fast zoom)
        m, o = m[::-1], o[::-1]
        diag = abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12
        acc_out[...] += ndimage.affine_transform(
            np.ascontiguousarray(acc.T), np.diag(m) if diag else m, offset=o, output_shape=shape,
            order=1, mode="constant", cval=0.0,
        )

    first = 0
    ref = extent @ maps[0][0].T + maps[0][1]
    for k in range(1, len(maps) + 1):
        if k < len(maps):
            pos = extent @ maps[k][0].T + maps[k][1]
            if np.abs((pos - ref) * vox).max() <= tol_mm:
                continue
        flush(first, k)
        if k < len(maps):
            first, ref = k, extent @ maps[k][0].T + maps[k][1]
    if warped:
        coords = np.stack([(wv - gv[0]) / g, (wu - gu[0]) / g])
        acc_out = ndimage.map_coordinates(acc_out, coords, order=1, mode="nearest")
    return acc_out * obliquity(geom, u, v)
