"""Cement after vertebroplasty or kyphoplasty: fill, extent, endplate contact, leaks, implants.

For each level of a post-procedure film, :func:`measure_cement` segments the cement (far
brighter than bone) inside and around the six-point body outline, measures it along the
body's own axes, and flags cement outside the outline as a leak, classified by the side
it leaves through. See ``docs/cement.md`` for the definitions and the benchmark.

Definitions
-----------
Body outline
    The hexagon ``sp sm sa ia im ip`` of the landmarks (its edges: superior endplate
    ``sp-sm-sa``, anterior wall ``sa-ia``, inferior endplate ``ia-im-ip``, posterior wall
    ``ip-sp``); a pixel is inside when its centre is.
Fill fraction
    Cement pixels inside the outline (implant wire excluded) / pixels inside the outline.
Leak size
    The greatest distance (mm) of a leaked cement pixel from the outline.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ._errors import LandmarkError, SpacingWarning, VcfMeasureError
from ._table import ResultTable
from .geometry import body_frame, polygon_distance
from .levels import LEVELS, normalize_level
from .radiograph import working_pixels

__all__ = ["measure_cement", "CementReport", "Leak", "LEAK_KINDS", "PROCEDURES"]

#: Leak classes, by the side of the outline the cement leaves through (tip's nearest edge).
LEAK_KINDS = ("superior_disc", "anterior", "inferior_disc", "posterior")

#: Procedure names with a meaning to vcfmeasure; any other text is kept as given.
PROCEDURES = ("vertebroplasty", "kyphoplasty", "implant")

# outline edge k (vertex k -> k + 1 of sp sm sa ia im ip) -> leak class
_EDGE_KIND = ("superior_disc", "superior_disc", "anterior", "inferior_disc", "inferior_disc",
              "posterior")

#: A lumbar body is about this deep (mm); scales the mm options on films without spacing.
NOMINAL_DEPTH_MM = 35.0


@dataclass(frozen=True)
class Leak:
    """Cement outside one body's outline.

    Attributes
    ----------
    level : str
    kind : {"superior_disc", "inferior_disc", "posterior", "anterior"}
        The side the cement leaves through: the outline edge nearest its farthest pixel.
    size : float
        Greatest distance beyond the outline, in ``unit``.
    area : float
        Projected area outside the outline, ``unit`` squared.
    unit : {"mm", "px"}
    confidence : float
        0-1: ``size / (size + uncertain_mm)`` times ``(1 + f) / 2``, f the fraction of
        its pixels clearly brighter than the threshold (a quarter of the cement-bone
        contrast above it).
    status : {"leak", "uncertain"}
        ``"uncertain"`` below ``uncertain_mm``: too small to judge, reported all the same.
    x, y : float
        Centroid, pixels.
    """

    level: str
    kind: str
    size: float
    area: float
    unit: str
    confidence: float
    status: str
    x: float
    y: float


class CementReport(ResultTable):
    """Cement per level of one film; made by :func:`measure_cement` (columns there).

    ``leaks`` lists every :class:`Leak`; ``masks`` maps level -> ``((row0, col0),
    bool array)``: the cement pixels (inside and leaked) in a crop of the image;
    ``thresholds`` level -> grey value used.
    """

    def __init__(self, columns: dict[str, Any], *, unit: str, spacing_source: str,
                 leaks: list[Leak], masks: dict[str, Any], thresholds: dict[str, float]) -> None:
        self.levels = tuple(columns["level"])
        self.unit = unit
        self.spacing_source = spacing_source
        self.leaks = tuple(leaks)
        self.masks = masks
        self.thresholds = thresholds
        self._columns = columns

    def leaks_to_records(self) -> list[dict[str, Any]]:
        """One dict per leak (see :class:`Leak`), cranial -> caudal."""
        return [asdict(leak) for leak in self.leaks]

    def __repr__(self) -> str:
        return f"<CementReport {len(self.levels)} levels, {len(self.leaks)} leaks, unit={self.unit}>"


def _procedures(landmarks: Any, procedures: Mapping[str, str] | None) -> dict[str, str]:
    out = {lv: p.procedure for lv, p in landmarks.provenance.items()
           if getattr(p, "procedure", None)}
    for lv, p in (procedures or {}).items():
        level = normalize_level(lv)
        if level not in landmarks.levels:
            raise LandmarkError(f"{level}: procedure given for a level without landmarks")
        out[level] = str(p)
    return out


#: Cement is brighter than nearly all of the ring around its body: the bright class's median
#: may lie at most this fraction of the cement-bone contrast below the ring's 95th percentile.
#: Chosen on CT development films (seeds 0-39; cemented bodies >= 0.06, others <= -0.36).
RING_MARGIN = -0.15

#: ... and, on that path, cement must be this many times as far above bone as bone is above
#: the soft tissue (uncemented synthetic bodies reach 1.6, cemented CT bodies 5 or more).
RING_CONTRAST = 3.0

#: ... and a plateau: cement-bone contrast at least this many robust SDs of the bright class
#: (cemented CT bodies 4.7-6.7 but one of 40; a bright ramp across an untreated synthetic
#: body, under a diaphragm or a neighbour's shadow, at most 4.4).
RING_PLATEAU = 4.5

#: ... relaxed to :data:`RING_PLATEAU_SMALL` when the bright class is at most
#: :data:`RING_SMALL_CLASS` of the body: a small fill's class takes in its blurred rim and
#: widens (cemented CT bodies with fills 0.2-0.4: 1.9-4.3), while the bright ramps of
#: untreated synthetic bodies that reach 2.5 take 0.65-0.81 of the body.
RING_PLATEAU_SMALL = 2.5
RING_SMALL_CLASS = 0.55

#: A small compact fill (about a fifth of the body) can leave the two-class split with a
#: bright class that takes in the cement's blurred rim and the brightest bone: too wide
#: for the plateau test, or too scattered for the compactness test. Then the brightest of
#: three classes (Otsu), when it is at most :data:`SMALL_FILL_CLASS` of the body, is put
#: to the ring test with a plateau of :data:`SMALL_FILL_PLATEAU` SDs, and that class
#: itself, opened with radius 1 mm, must keep :data:`SMALL_FILL_COMPACT` of its pixels in
#: its two largest pieces. Chosen on CT development films (seeds 0-59, 100-159 and
#: 200-299; 36 cemented bodies with fills under 0.3: the three-class test passes 32, the
#: earlier tests 29) and untreated levels (1177 on the CT twins, 400 synthetic, seeds
#: 50000-50099), none of which passes it; none passes even at a plateau of 3.5 and a
#: compactness of 0.7. The ring margin is what separates them: 318 untreated levels clear
#: it, 7 of those have a plateau above 4, 3 a compactness of 0.8.
SMALL_FILL_CLASS = 0.35
SMALL_FILL_PLATEAU = 4.0
SMALL_FILL_COMPACT = 0.8

#: ... and its bright pixels must be one or two compact masses: this fraction of them in
#: the two largest pieces left by an opening of radius 1 mm (cement injected from both
#: pedicles may project as two masses; cemented CT development bodies, seeds 0-59 and
#: 100-159: 0.84-1.0, the largest piece alone 0.80-1.0, which missed 5 of 117; the bright
#: half of an untreated body's texture is scattered).
RING_COMPACT = 0.85

#: Scales (mm, Gaussian sigma) of the blob search for leaks fainter than the threshold.
LEAK_BLOB_SCALES_MM = (0.5, 0.75, 1.1, 1.6, 2.4)

#: A blob outside the outline is a leak when its scale-normalised blobness (sigma^2 times
#: the smaller-magnitude Hessian eigenvalue, both negative) reaches this fraction of the
#: cement-bone contrast, times ``max(1, sigma / 1.1 mm)`` (larger blobs compete with ribs
#: and pedicles). Chosen on CT development films (seeds 0-59): the strongest non-leak blob
#: near an outline at sigma <= 1.1 mm was 0.085, drawn leaks of 3 mm or more 0.05-0.30.
LEAK_BLOB = 0.095

#: A blob's rim radius is this multiple of its best scale (sigma). Cement leaks are
#: lumps in 3-D, which project as a ball does (brightness along the chord, 2 sqrt(R^2 -
#: r^2)); the scale-normalised Laplacian at the centre of that profile peaks at sigma =
#: 0.60 R (a flat disc: 0.71 R, sqrt(2)). On CT development films (seeds 0-59, 100-159,
#: 200-399) the ball's 1.67 instead of the disc's sqrt(2) found one more of 134 leaks
#: >= 3 mm (6.7 mm, its rim 2.2 mm out by the disc's rule) and no new flag on 120
#: leak-free cemented bodies or 160 untreated twins.
LEAK_BLOB_RIM = 1.67

#: Blobs from this fraction of :data:`LEAK_BLOB` up to it are flagged ``"uncertain"``
#: rather than dropped (small leaks are to be flagged as uncertain). Chosen on CT
#: development films (seeds 0-59 and 100-129): at 0.8, drawn 1-3 mm leaks reached rose
#: from 9 % to 28 % for one clean cemented film of 30 with such a flag; at 0.75, 35 % for
#: 10 % of clean films.
LEAK_BLOB_UNCERTAIN = 0.8

#: Cement of a disc leak may reach into the next body's outline when that body has no
#: cement of its own: leaks are looked for up to this depth (mm) inside such an outline
#: (large disc leaks on CT development films had their centres 1.0-1.8 mm inside it, and
#: one of 6.2 mm 2.8 mm inside; at 3.5 mm, 2 more of 52 leaks >= 3 mm were found on seeds
#: 0-59 and 100-159, with no new flag on the 42 leak-free bodies or 60 untreated twins).
NEIGHBOUR_DEPTH_MM = 3.5

#: ... and when it does, the next body's own cement test may take that part of the leak
#: for cement. A body with a small mass (under :data:`BORROWED_FILL` of its outline and
#: under its cemented neighbour's) that lies mostly (:data:`BORROWED_SHARE` of it) within
#: this depth (mm, along the body's cranial axis) of the endplate facing that neighbour
#: has no cement of its own: the mass is the neighbour's disc leak (:func:`_borrowed`),
#: and the neighbour's leak search then looks into this body as into any untreated one.
#: On CT development films (seeds 300-399) two 7 mm inferior disc leaks reached 4.2 and
#: 4.6 mm into the body below (a fill of about 0.08), which was called cemented, and the
#: leak was lost. A vertebroplasty fill is larger (the benchmarks draw 0.2-0.8) and spread
#: through the body; a real small fill against the endplate next to a more filled level
#: would be lost to this rule.
BORROWED_DEPTH_MM = 6.0
BORROWED_SHARE = 0.6
BORROWED_FILL = 0.12

#: At thoracic levels the rib heads articulate with the bodies at the posterior ends of
#: the discs (costovertebral joints) and show as bright blobs there. A leak flag centred
#: within this distance (mm) of a body's posterior corner (``sp`` or ``ip``) is reported
#: ``"uncertain"`` at half confidence, not called a leak. On CT development films (seeds
#: 0-59 and 100-159) 8 of the 12 ``"leak"`` calls on no drawn leak sat 0.7-2.3 mm from a
#: posterior corner; no flag of a drawn leak came within 8 mm of any corner (the renderer
#: draws leaks mid-side, so this figure says nothing of real leaks at a corner: hence
#: demoted, never dropped).
RIB_HEAD_MM = 3.0


def _split(values: np.ndarray, k: float, background: float, contrast: float,
           ring_high: float = np.inf) -> tuple[float, float, bool, bool]:
    """Otsu split of a body's grey values: (bone, cement level, present, by the ring test).

    Present: the bright class is at least ``contrast`` times as far above bone as bone is
    above ``background``, and either ``k`` robust SDs of the dark class above it or
    brighter than the ring around the body (``ring_high``, its 95th percentile; see
    :data:`RING_MARGIN`). The second test finds cement on films where the body's own
    texture is coarse and its surroundings (ribs, pedicles) are brighter than bone, as on
    films rendered from CT.
    """
    from skimage.filters import threshold_otsu

    if values.size < 20 or np.ptp(values) == 0:
        med = float(np.median(values)) if values.size else 0.0
        return med, med, False, False
    return _classes(values, values >= threshold_otsu(values), k, background, contrast, ring_high)


def _top_class(values: np.ndarray, background: float, contrast: float, ring_high: float,
               ) -> tuple[float, float, float] | None:
    """The brightest of three Otsu classes, put to the ring test as a small fill.

    Returns (bone, cement level, class threshold), or None when the class is larger than
    :data:`SMALL_FILL_CLASS` of the body or fails the test.
    """
    from skimage.filters import threshold_multiotsu

    if values.size < 200 or np.unique(values).size < 3:
        return None
    t3 = float(threshold_multiotsu(values, 3)[1])
    top = values >= t3
    if top.sum() > SMALL_FILL_CLASS * values.size:
        return None
    bone, cement, present, _ = _classes(values, top, np.inf, background, contrast, ring_high,
                                        plateau_need=SMALL_FILL_PLATEAU)
    return (bone, cement, t3) if present else None


def _compact(mass: np.ndarray, disk: np.ndarray, share: float) -> bool:
    """Whether the two largest pieces of ``mass`` opened by ``disk`` hold ``share`` of it."""
    from scipy import ndimage

    pieces, n = ndimage.label(ndimage.binary_opening(mass, disk))
    sizes = np.sort(np.bincount(pieces.ravel())[1:]) if n else np.zeros(0, int)
    return bool(sizes[-2:].sum() >= share * mass.sum())


def _classes(values: np.ndarray, high: np.ndarray, k: float, background: float,
             contrast: float, ring_high: float, plateau_need: float | None = None,
             ) -> tuple[float, float, bool, bool]:
    """The presence tests of :func:`_split` on the split ``high`` (bright class) of ``values``."""
    lo, hi = values[~high], values[high]
    bone, cement = float(np.median(lo)), float(np.median(hi))
    spread = 1.4826 * float(np.median(np.abs(lo - bone))) + 1e-9
    plateau = 1.4826 * float(np.median(np.abs(hi - cement))) + 1e-9
    need = plateau_need if plateau_need is not None else (
        RING_PLATEAU_SMALL if hi.size <= RING_SMALL_CLASS * values.size else RING_PLATEAU)
    above_ring = (cement - ring_high > RING_MARGIN * (cement - bone)
                  and cement - bone > RING_CONTRAST * contrast * (bone - background)
                  and cement - bone > need * plateau)
    by_spread = cement - bone > k * spread
    present = (hi.size >= max(0.002 * values.size, 8) and (by_spread or above_ring)
               and cement - bone > contrast * (bone - background))
    return bone, cement, bool(present), bool(present and not by_spread)


def _blobs(crop: np.ndarray, row_mm: float, col_mm: float, unit_mm: float,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Bright-blob strength and its best scale index over :data:`LEAK_BLOB_SCALES_MM`.

    Strength is ``sigma^2`` times minus the smaller-magnitude eigenvalue of the Hessian
    (in length units), where both eigenvalues are negative: a disc of contrast ``A`` peaks
    near ``0.3 A`` at its own scale, a ridge or an edge (rib, cortex) stays near zero.
    """
    from scipy import ndimage

    best = np.zeros(crop.shape, np.float32)
    arg = np.zeros(crop.shape, np.int8)
    for k, s_mm in enumerate(LEAK_BLOB_SCALES_MM):
        s = s_mm * unit_mm
        sig = (s / row_mm, s / col_mm)
        hyy = ndimage.gaussian_filter(crop, sig, order=(2, 0)) / row_mm**2
        hxx = ndimage.gaussian_filter(crop, sig, order=(0, 2)) / col_mm**2
        hxy = ndimage.gaussian_filter(crop, sig, order=(1, 1)) / (row_mm * col_mm)
        half = 0.5 * (hxx + hyy)
        root = np.sqrt(0.25 * (hxx - hyy) ** 2 + hxy**2)
        val = -(s * s) * (half + root)  # the smaller-magnitude eigenvalue, negated
        val[half >= 0] = 0.0
        better = val > best
        best[better] = val[better]
        arg[better] = k
    return best, arg


def _rib_head(leak: Leak, heads: np.ndarray, scale: np.ndarray, radius: float) -> Leak:
    """``leak`` reported uncertain at half confidence when it lies at a posterior corner.

    ``heads`` are the posterior corners in length units, ``scale`` (column, row) turns the
    leak's pixel position into them; see :data:`RIB_HEAD_MM`.
    """
    at = np.array([leak.x, leak.y]) * scale
    if heads.size == 0 or float(np.min(np.hypot(*(heads - at).T))) > radius:
        return leak
    return replace(leak, status="uncertain", confidence=round(0.5 * leak.confidence, 3))


def _owner_window(owner: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """``owner[rows, cols]`` with slices that may run one pixel past the border (zeros)."""
    out = np.zeros((rows.stop - rows.start, cols.stop - cols.start), owner.dtype)
    r0, c0 = max(rows.start, 0), max(cols.start, 0)
    r1, c1 = min(rows.stop, owner.shape[0]), min(cols.stop, owner.shape[1])
    out[r0 - rows.start : r1 - rows.start, c0 - cols.start : c1 - cols.start] = owner[r0:r1, c0:c1]
    return out


def _ellipse(rx: float, ry: float) -> np.ndarray:
    ax, ay = max(int(rx), 0), max(int(ry), 0)
    y, x = np.mgrid[-ay : ay + 1, -ax : ax + 1]
    return (x / max(rx, 0.5)) ** 2 + (y / max(ry, 0.5)) ** 2 <= 1.0


def _borrowed(order: list[str], cemented: dict, poly_u: np.ndarray, cranial: np.ndarray,
              index: dict, mm: np.ndarray, scale: np.ndarray) -> set[str]:
    """Levels whose cement mass is an adjacent level's disc leak (:data:`BORROWED_DEPTH_MM`).

    ``order``: the levels cranial to caudal; ``cemented``: pass 1 of
    :func:`measure_cement` per level (origin at 0-1, outline mask at 5, cement mass at 7,
    present at 9).
    """
    out: set[str] = set()
    for up, down in zip(order, order[1:], strict=False):
        for src, dst, facing in ((up, down, (0, 1, 2)), (down, up, (3, 4, 5))):
            a, b = cemented[src], cemented[dst]
            if not (a[9] and b[9]) or src in out or dst in out:
                continue
            inner_a, inner_b = a[7], b[7]
            n_b = int(inner_b.sum())
            if not 0 < n_b < min(int(inner_a.sum()), BORROWED_FILL * int(b[5].sum())):
                continue
            j = index[dst]
            yy, xx = np.nonzero(inner_b)
            pts = np.stack([(xx + b[1]) * scale[0], (yy + b[0]) * scale[1]], axis=1)
            plate = float(np.mean(poly_u[j][list(facing)] @ cranial[j]))
            # depth below the facing endplate: the superior one lies cranially
            depth = (plate - pts @ cranial[j]) if facing[0] == 0 else (pts @ cranial[j] - plate)
            shallow = depth <= BORROWED_DEPTH_MM * mm[j]
            if shallow.mean() >= BORROWED_SHARE:
                out.add(dst)
    return out


def _blob_candidates(crop: np.ndarray, dist: np.ndarray, allowed: np.ndarray,
                     spacing: tuple[float, float], unit_mm: float, contrast: float,
                     reach_mm: float) -> tuple[np.ndarray, ...]:
    """Blob strength, its threshold, rim radius and the candidate peaks, before any threshold.

    Candidates are local maxima of :func:`_blobs` strength over 2 mm, in ``allowed``, whose
    estimated rim (radius :data:`LEAK_BLOB_RIM` sigma) comes within ``reach_mm`` of the
    outline; the
    threshold is ``LEAK_BLOB * max(1, sigma / 1.1 mm)`` of ``contrast``.
    """
    from scipy import ndimage

    row_mm, col_mm = spacing
    strength, scale = _blobs(crop, row_mm, col_mm, unit_mm)
    sigma = np.asarray(LEAK_BLOB_SCALES_MM)[scale] * unit_mm
    need = LEAK_BLOB * contrast * np.maximum(1.0, sigma / (1.1 * unit_mm))
    win = (2 * max(int(round(unit_mm / row_mm)), 1) + 1, 2 * max(int(round(unit_mm / col_mm)), 1) + 1)
    radius = LEAK_BLOB_RIM * sigma
    peak = ((strength == ndimage.maximum_filter(strength, size=win)) & allowed
            & (dist - radius <= reach_mm * unit_mm))
    return strength, need, radius, peak


def _blob_leaks(lv: str, crop: np.ndarray, dist: np.ndarray, edge: np.ndarray,
                allowed: np.ndarray, spacing: tuple[float, float], unit_mm: float,
                contrast: float, reach_mm: float, uncertain_mm: float, unit: str,
                origin: tuple[int, int]) -> list[Leak]:
    """Leaks too faint for the cement threshold: bright blobs just outside the outline.

    A blob counts where its strength (:func:`_blobs`) is a local maximum over 2 mm,
    reaches ``LEAK_BLOB * max(1, sigma / 1.1 mm)`` of the cement-bone ``contrast`` (from
    :data:`LEAK_BLOB_UNCERTAIN` of that up to 1.25 times it: ``"uncertain"``), lies in
    ``allowed`` (outside every outline, below the cement threshold, nearest this body's
    outline),
    and its estimated rim (radius :data:`LEAK_BLOB_RIM` sigma) comes within ``reach_mm`` of the
    outline. Its size is the centre's distance from the outline plus that radius.
    """
    row_mm, col_mm = spacing
    if not allowed.any() or contrast <= 0:
        return []
    strength, need, radius, peak = _blob_candidates(crop, dist, allowed, spacing, unit_mm,
                                                    contrast, reach_mm)
    peak &= strength >= LEAK_BLOB_UNCERTAIN * need
    out: list[Leak] = []
    taken: list[tuple[float, float, float]] = []
    ys, xs = np.nonzero(peak)
    for k in np.argsort(-strength[ys, xs], kind="stable"):
        y, x = int(ys[k]), int(xs[k])
        r = float(radius[y, x])
        if any(np.hypot((x - tx) * col_mm, (y - ty) * row_mm) < r + tr for tx, ty, tr in taken):
            continue
        taken.append((x, y, r))
        size = float(dist[y, x]) + r
        ratio = float(strength[y, x] / need[y, x])
        conf = size / (size + uncertain_mm * unit_mm) * min(0.5 * ratio, 1.0)
        status = "uncertain" if size < uncertain_mm * unit_mm or ratio < 1.25 else "leak"
        out.append(Leak(lv, _EDGE_KIND[int(edge[y, x])], size, float(np.pi * r * r), unit,
                        round(float(conf), 3), status, float(x + origin[1]), float(y + origin[0])))
    return out


def measure_cement(
    radiograph: Any,
    landmarks: Any,
    *,
    levels: Any = None,
    procedures: Mapping[str, str] | None = None,
    margin_mm: float = 14.0,
    reach_mm: float = 2.0,
    tolerance_mm: float = 0.3,
    uncertain_mm: float = 1.0,
    contact_mm: float = 2.0,
    implant_mm: float = 6.0,
    separation: float = 5.0,
    contrast: float = 1.0,
) -> CementReport:
    """Cement, leaks and implants of each level on a post-procedure lateral film.

    Inside each body outline, grey values are split in two (Otsu); the level has cement
    when the bright class is ``separation`` robust SDs of bone texture brighter than the
    bone class and at least ``contrast`` times as far above bone as bone is above the
    soft tissue around the body (median of a ring 2-6 mm outside the outline), and the
    threshold is midway between the two class medians (the half-way
    level of the cement edge, so the area is not biased by blur). Thin bright structures
    inside the outline that an opening of radius 1 mm removes and that are longer than
    ``implant_mm`` are implant wire (a loop, a cage), not cement. Bright components outside
    the outline that come within ``reach_mm`` of it (and nearer to it than to another
    cemented body) are leaks; farther bright objects (bowel contrast, another body's
    cement) are ignored. Leaks too faint for the threshold (small blobs, thin along the
    beam) are found as bright blobs just outside the outline (:data:`LEAK_BLOB`); where the
    ring around the body is as bright as the threshold (ribs, pedicles), only that blob
    search flags leaks.

    Parameters
    ----------
    radiograph : Radiograph
        Bone bright; its spacing makes every length mm (else px, see Warns).
    landmarks : Landmarks
        Six points per level; ``provenance[level].procedure`` is read when set.
    levels : iterable of str, optional
        Levels to analyse (default: every level of ``landmarks``).
    procedures : dict, optional
        Level -> procedure (``"vertebroplasty"``, ``"kyphoplasty"``, ``"implant"`` or
        free text); overrides the landmarks' provenance.
    margin_mm, reach_mm, tolerance_mm, uncertain_mm, contact_mm, implant_mm : float
        Search margin around the outline; largest gap between a leak and the outline;
        smaller excursions are outline imprecision (``spill_area``), not leaks; leaks
        below ``uncertain_mm`` are ``"uncertain"``; cement within ``contact_mm`` of an
        endplate touches it; shortest implant wire. All mm.
    separation, contrast : float
        Cement-bone contrast needed, in robust SDs of the bone class and in multiples of
        the bone-soft tissue contrast.

    Returns
    -------
    CementReport
        Per level: ``level, unit, spacing_source, procedure, cement`` (found),
        ``cement_area`` (inside the outline, unit²), ``cement_fill`` (fraction of the
        outline), ``cement_extent_cc`` and ``cement_extent_ap`` (along the body's cranial
        and anterior axes, unit), ``contact_superior, contact_inferior`` (bool),
        ``implant`` (bool), ``implant_area``, ``leaks`` (count, uncertain included),
        ``leaks_uncertain``, ``leak_kinds`` (";"-joined), ``leak_max_size`` (unit),
        ``leak_area`` (unit²), ``spill_area`` (unit²), ``outline_area`` (unit²).

    Warns
    -----
    SpacingWarning
        Without a spacing: lengths are px and the mm options are converted with each
        body's depth taken as 35 mm.

    References
    ----------
    Leak classes as in Yeom et al. 2003 (basivertebral, segmental, cortical: disc,
    posterior, anterior paravertebral) and the procedures' known risks (cement leakage,
    adjacent-level fracture; Lindsay et al. 2001: ~5x risk after a first fracture).

    Examples
    --------
    >>> from vcfmeasure.synthetic import make_spine
    >>> s = make_spine(["T12", "L1", "L2"], seed=2, cement_detail={"L1": {"size": 0.7,
    ...                "leaks": [("posterior", 4.0)]}})
    >>> r = measure_cement(s.radiograph, s.landmarks)
    >>> r.to_records()[1]["cement"], [(k.kind, k.status) for k in r.leaks]
    (True, [('posterior', 'leak')])
    >>> bool(abs(r.cement_fill[1] - s.truth["L1"]["cement"]["fill"]) < 0.05)
    True
    """
    from ._checks import check_measure_cement

    check_measure_cement(radiograph, landmarks, levels, procedures, {
        "margin_mm": margin_mm, "reach_mm": reach_mm, "tolerance_mm": tolerance_mm,
        "uncertain_mm": uncertain_mm, "contact_mm": contact_mm, "implant_mm": implant_mm,
        "separation": separation, "contrast": contrast})
    from scipy import ndimage

    pixels = working_pixels(radiograph.pixels)
    spacing = radiograph.spacing
    unit = "mm" if spacing is not None else "px"
    todo = landmarks.levels if levels is None else tuple(normalize_level(lv) for lv in levels)
    missing = [lv for lv in todo if lv not in landmarks.levels]
    if missing:
        raise LandmarkError(f"{missing[0]}: measure_cement needs landmarks for this level")
    procs = _procedures(landmarks, procedures)
    xy = np.asarray(landmarks.array, dtype=float)
    row_mm, col_mm = spacing if spacing is not None else (1.0, 1.0)
    scale = np.array([col_mm, row_mm])
    poly_u = xy * scale  # outlines in length units (mm, or px without spacing)
    anterior, cranial, _ = body_frame(poly_u)
    heads = poly_u[:, [0, 5]].reshape(-1, 2)  # every posterior corner (sp, ip)
    depth = np.linalg.norm(0.5 * (poly_u[:, 2] + poly_u[:, 3]) - 0.5 * (poly_u[:, 0] + poly_u[:, 5]),
                           axis=1)
    if spacing is None:
        warnings.warn(
            "measure_cement: the radiograph has no spacing; lengths are in px and the mm "
            f"options are scaled with each body's depth taken as {NOMINAL_DEPTH_MM:g} mm",
            SpacingWarning, stacklevel=2,
        )
        mm = depth / NOMINAL_DEPTH_MM  # length units per mm, per level
    else:
        mm = np.ones(len(xy))
    index = {lv: i for i, lv in enumerate(landmarks.levels)}
    rows_out: list[dict[str, Any]] = []
    leaks: list[Leak] = []
    masks: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    cemented: dict[str, tuple] = {}
    # pass 1: threshold and cement at every level (the others bound this level's leaks)
    for lv in landmarks.levels:
        i = index[lv]
        pad = margin_mm * mm[i]
        lo = np.floor((poly_u[i].min(axis=0) - pad) / scale).astype(int)
        hi = np.ceil((poly_u[i].max(axis=0) + pad) / scale).astype(int) + 1
        c0, r0 = max(lo[0], 0), max(lo[1], 0)
        c1, r1 = min(hi[0], pixels.shape[1]), min(hi[1], pixels.shape[0])
        if c1 <= c0 or r1 <= r0:
            raise LandmarkError(f"{lv}: the outline lies outside the image {pixels.shape}")
        crop = pixels[r0:r1, c0:c1]
        bad = int(np.size(crop) - np.count_nonzero(np.isfinite(crop)))
        if bad:
            raise VcfMeasureError(
                f"{lv}: {bad} pixels within {margin_mm:g} mm of the outline are not finite "
                "(NaN or inf); measure_cement needs finite pixels there: fill or mask them "
                "before measuring")
        gx = (np.arange(c0, c1) * col_mm)[None, :]
        gy = (np.arange(r0, r1) * row_mm)[:, None]
        dist, edge = polygon_distance(gx, gy, poly_u[i])
        inside = dist <= 0
        ring = (dist > 2.0 * mm[i]) & (dist < 6.0 * mm[i])
        near = [lv2 for lv2 in landmarks.levels if lv2 != lv and abs(index[lv2] - i) <= 2]
        for lv2 in near:
            ring &= polygon_distance(gx, gy, poly_u[index[lv2]])[0] > 0
        background = float(np.median(crop[ring])) if ring.any() else -np.inf
        ring_high = float(np.percentile(crop[ring], 95)) if ring.any() else np.inf
        values = crop[inside]
        bone, level_c, present, by_ring = _split(values, separation, background, contrast,
                                                 ring_high)
        disk = _ellipse(mm[i] / col_mm, mm[i] / row_mm)  # radius 1 mm
        if by_ring:  # one or two compact masses, not scattered texture
            present = _compact((crop >= 0.5 * (bone + level_c)) & inside, disk, RING_COMPACT)
        if not present:  # a small compact fill: the brightest of three classes
            small = _top_class(values, background, contrast, ring_high)
            if small is not None and _compact((crop >= small[2]) & inside, disk,
                                              SMALL_FILL_COMPACT):
                bone, level_c, present, by_ring = small[0], small[1], True, True
        thr = 0.5 * (bone + level_c)
        if present:  # the cement inside, opened with radius 1 mm: wire is what it removes
            mass = (crop >= thr) & inside
            opened = ndimage.binary_opening(mass, disk)
        bright = (crop >= thr) if present else np.zeros(crop.shape, bool)
        implant = np.zeros(crop.shape, bool)
        if present:
            thin, n = ndimage.label(mass & ~opened, structure=np.ones((3, 3)))
            for k, sl in enumerate(ndimage.find_objects(thin), start=1):
                part = thin[sl] == k
                yy, xx = np.nonzero(part)
                ext = np.hypot(np.ptp(xx) * col_mm, np.ptp(yy) * row_mm) if yy.size else 0.0
                if ext >= implant_mm * mm[i]:
                    implant[sl] |= part
        inner = bright & inside & ~implant
        if lv in todo:
            thresholds[lv] = float(thr) if present else float("nan")
        busy = bool(present and ring_high >= thr)  # surroundings as bright as the threshold
        if busy:  # ribs and pedicles reach the threshold: outside, only the blob search
            bright &= inside
        cemented[lv] = (r0, c0, crop, dist, edge, inside, bright, inner, implant, present, thr,
                        bone, level_c, gx, gy, busy)
    # a body whose whole "cement" is a neighbour's disc leak reaching into it has none
    order = sorted(landmarks.levels, key=LEVELS.index)
    for lv in _borrowed(order, cemented, poly_u, cranial, index, mm, scale):
        fields = list(cemented[lv])
        none = np.zeros(fields[2].shape, bool)
        fields[6] = fields[7] = fields[8] = none  # bright, inner, implant
        fields[9], fields[15] = False, False  # present, busy
        cemented[lv] = tuple(fields)
        if lv in thresholds:
            thresholds[lv] = float("nan")
    # pass 2: measurements and leaks. A leak belongs to the level whose cement inside the
    # outline it touches most; one touching none goes to the nearest cemented outline.
    owner = np.zeros(pixels.shape, np.int16)
    for lv, entry in cemented.items():
        r0, c0, inner = entry[0], entry[1], entry[7]
        view = owner[r0 : r0 + inner.shape[0], c0 : c0 + inner.shape[1]]
        view[inner] = index[lv] + 1
    px_area = row_mm * col_mm
    for lv in todo:
        i = index[lv]
        (r0, c0, crop, dist, edge, inside, bright, inner, implant, present, thr, bone, level_c,
         gx, gy, busy) = cemented[lv]
        n_in = max(int(inside.sum()), 1)
        rec: dict[str, Any] = {
            "level": lv, "unit": unit, "spacing_source": radiograph.spacing_source,
            "procedure": procs.get(lv, ""), "cement": present,
        }
        yy, xx = np.nonzero(inner)
        if yy.size:
            pts = np.stack([(xx + c0) * col_mm, (yy + r0) * row_mm], axis=1)
            pa, pc = pts @ anterior[i], pts @ cranial[i]
            step = float(np.hypot(col_mm, row_mm) / np.sqrt(2.0))
            ext_cc, ext_ap = float(np.ptp(pc)) + step, float(np.ptp(pa)) + step
            near = inner & (dist >= -contact_mm * mm[i])
            sup = bool((near & (edge <= 1)).any())
            inf = bool((near & ((edge == 3) | (edge == 4))).any())
        else:
            ext_cc = ext_ap = 0.0
            sup = inf = False
        level_leaks: list[Leak] = []
        spill = 0.0
        leaked = np.zeros(inside.shape, bool)
        if present:
            others = [lv2 for lv2 in landmarks.levels if lv2 != lv]
            # outside this outline and every cemented one; up to NEIGHBOUR_DEPTH_MM into
            # an outline without cement (a disc leak reaching into the next body)
            free = ~inside
            other_d = []
            for lv2 in others:
                j = index[lv2]
                d2, _ = polygon_distance(gx, gy, poly_u[j])
                if cemented[lv2][9]:
                    free &= d2 > 0
                    other_d.append(d2)
                else:
                    free &= d2 > -NEIGHBOUR_DEPTH_MM * mm[i]
            cand = bright & free
            lab, _ = ndimage.label(cand, structure=np.ones((3, 3)))
            clear = thr + 0.25 * (level_c - bone)
            for k, sl in enumerate(ndimage.find_objects(lab), start=1):
                part = lab[sl] == k
                d = dist[sl][part]
                if d.min() > reach_mm * mm[i]:
                    continue
                grown = ndimage.binary_dilation(np.pad(part, 1), structure=np.ones((3, 3)))
                rr = slice(sl[0].start + r0 - 1, sl[0].stop + r0 + 1)
                cc = slice(sl[1].start + c0 - 1, sl[1].stop + c0 + 1)
                touch = _owner_window(owner, rr, cc)[grown]
                counts = np.bincount(touch, minlength=len(xy) + 1)[1:]
                if counts.any():
                    if int(np.argmax(counts)) != i:
                        continue
                elif any(d2[sl][part].min() < d.min() for d2 in other_d):
                    continue
                size = float(d.max())
                area = float(part.sum() * px_area)
                if size < tolerance_mm * mm[i]:
                    spill += area
                    continue
                leaked[sl] |= part
                tip = int(np.argmax(d))
                kind = _EDGE_KIND[int(edge[sl][part][tip])]
                strong = float(np.mean(crop[sl][part] >= clear))
                conf = size / (size + uncertain_mm * mm[i]) * (0.5 + 0.5 * strong)
                ys, xs = np.nonzero(part)
                status = "uncertain" if size < uncertain_mm * mm[i] or busy else "leak"
                if busy:
                    conf *= 0.5
                level_leaks.append(Leak(lv, kind, size, area, unit, round(float(conf), 3), status,
                                        float(xs.mean() + sl[1].start + c0),
                                        float(ys.mean() + sl[0].start + r0)))
            nearer = np.zeros(free.shape, bool)  # nearer to another cemented outline
            for d2 in other_d:
                nearer |= d2 < dist
            level_leaks += _blob_leaks(
                lv, crop, dist, edge, free & ~cand & ~nearer, (row_mm, col_mm), mm[i],
                level_c - bone, reach_mm, uncertain_mm, unit, (r0, c0))
            if lv.startswith("T"):
                level_leaks = [_rib_head(k, heads, scale, RIB_HEAD_MM * mm[i])
                               for k in level_leaks]
        leaks.extend(level_leaks)
        rec.update({
            "cement_area": float(inner.sum() * px_area),
            "cement_fill": float(inner.sum() / n_in),
            "cement_extent_cc": ext_cc,
            "cement_extent_ap": ext_ap,
            "contact_superior": sup,
            "contact_inferior": inf,
            "implant": bool(implant.any()),
            "implant_area": float(implant.sum() * px_area),
            "leaks": len(level_leaks),
            "leaks_uncertain": sum(lk.status == "uncertain" for lk in level_leaks),
            "leak_kinds": ";".join(sorted({lk.kind for lk in level_leaks})),
            "leak_max_size": max((lk.size for lk in level_leaks), default=0.0),
            "leak_area": float(sum(lk.area for lk in level_leaks)),
            "spill_area": spill,
            "outline_area": float(n_in * px_area),
        })
        rows_out.append(rec)
        masks[lv] = ((r0, c0), inner | leaked)
    if not rows_out:
        raise VcfMeasureError("measure_cement: no level to analyse (levels= is empty)")
    columns = {k: [r[k] for r in rows_out] for k in rows_out[0]}
    return CementReport(columns, unit=unit, spacing_source=radiograph.spacing_source,
                        leaks=leaks, masks=masks, thresholds=thresholds)
