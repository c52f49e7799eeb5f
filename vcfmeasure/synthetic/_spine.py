"""``make_spine`` and ``make_pre_post``: synthetic lateral radiographs with exact landmarks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._errors import VcfMeasureError
from ..landmarks import Landmarks, Provenance
from ..levels import LEVELS, level_index, normalize_level
from ..radiograph import Radiograph
from ._anatomy import LEVEL_TABLE, BodyGeometry, build_spine
from ._cement import check_detail
from ._families import FamilyStyle, build_layers, export_film, sample_style
from ._render import Appearance, ImageGeometry, render

__all__ = ["SyntheticSpine", "make_spine", "make_pre_post", "DEFORMITY_TYPES", "expected_grade"]

#: Deformity types a vertebra can be given (Genant morphological types, docs/reference.md §2).
DEFORMITY_TYPES = ("wedge", "biconcave", "crush")

#: Genant bands on the height reduction [D] (docs/reference.md section 2).
_GRADE_CUTS = (0.20, 0.25, 0.40)

_SUPPORTED = tuple(LEVEL_TABLE)
_TOOL = "vcfmeasure.synthetic"


def expected_grade(reduction: float) -> int:
    """Genant grade of a height reduction with vcfmeasure's half-open bands.

    ``[0, .20) -> 0, [.20, .25) -> 1, [.25, .40) -> 2, [.40, 1) -> 3`` (docs/reference.md
    section 2, the [D] bands).

    Examples
    --------
    >>> [expected_grade(r) for r in (0.1, 0.22, 0.3, 0.45)]
    [0, 1, 2, 3]
    """
    return int(sum(reduction >= c for c in _GRADE_CUTS))


@dataclass(frozen=True, eq=False)
class SyntheticSpine:
    """A synthetic lateral radiograph and its exact ground truth.

    Attributes
    ----------
    radiograph : Radiograph
        Integer-valued grey levels (12-bit, bone bright), spacing in the patient plane as
        the DICOM loader reports it (Imager Pixel Spacing / magnification,
        ``spacing_source`` ``"magnification-corrected: ..."``).
    landmarks : Landmarks
        Exact six-point ground truth, ``(x, y)`` pixels, provenance ``manual`` with tool
        ``"vcfmeasure.synthetic"``.
    truth : dict
        Level -> ``{"deformity", "severity", "grade", "cement", "restoration",
        "severity_before", "double_contour_mm"}``: what was drawn. ``severity`` is the
        fractional height reduction of the affected height(s) against the expected normal
        height (RadElement reference, docs/reference.md §2); ``grade`` its Genant band.
    params : dict
        The settings that made the image (seed, facing, rotation, ``appearance``, ...).
        ``params["spacing_mm"]`` is always the true patient-plane spacing of the pixels,
        also where the radiograph reports none or an approximate one (``jpeg_export``).
    """

    radiograph: Radiograph
    landmarks: Landmarks
    truth: dict[str, dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels with ground truth, cranial -> caudal."""
        return self.landmarks.levels

    def write_png(self, path: str | Path) -> Path:
        """Write the image as a 16-bit greyscale PNG (no spacing is stored in PNG).

        The 12-bit grey values are shifted left by 4 bits (times 16) to fill the 16-bit
        range, so that ordinary image viewers show the film instead of a near-black
        picture; the values stay proportional to :attr:`radiograph` ``.pixels``.

        Returns
        -------
        Path
        """
        from PIL import Image

        path = Path(path)
        arr = self.radiograph.pixels.astype(np.uint16) << 4
        Image.fromarray(arr).save(path)
        return path

    def write_dicom(self, path: str | Path) -> Path:
        r"""Write a DX For Presentation DICOM file, MONOCHROME2, 16-bit (12 stored).

        Stores (0018,1164) Imager Pixel Spacing, (0018,1114) Estimated Radiographic
        Magnification Factor, (0018,1110) Distance Source to Detector and (0018,1111)
        Distance Source to Patient, so that a reader following docs/reference.md §7 recovers
        the patient-plane spacing of :attr:`radiograph`. (0020,0020) Patient Orientation
        says where anterior is (``A\F`` facing right, ``P\F`` facing left).

        Returns
        -------
        Path

        References
        ----------
        DICOM PS3.3 §10.7.1 (Basic Pixel Spacing Calibration), C.8.11.4 (DX Detector).
        """
        from ._dicom import synthetic_dataset

        if self.params.get("export"):
            raise VcfMeasureError(
                f"appearance {self.params['appearance']!r} is a JPEG export without a DICOM "
                "header; use write_png (and give the spacing yourself when loading it)"
            )
        path = Path(path)
        synthetic_dataset(self).save_as(path, enforce_file_format=True)
        return path


def _level_list(levels, first, last) -> list[str]:
    if levels is None:
        if first is None and last is None:
            first, last = "T11", "L3"
        first = normalize_level(first if first is not None else last)
        last = normalize_level(last if last is not None else first)
        i, j = sorted((level_index(first), level_index(last)))
        out = list(LEVELS[i : j + 1])
    else:
        if isinstance(levels, str):
            levels = [levels]
        out = [normalize_level(lv) for lv in levels]
        idx = [level_index(lv) for lv in out]
        if idx != list(range(idx[0], idx[0] + len(idx))):
            raise VcfMeasureError(
                f"levels {out} are not a contiguous cranial -> caudal run; give e.g. "
                "('T12', 'L1', 'L2') or first=/last="
            )
    bad = [lv for lv in out if lv not in LEVEL_TABLE]
    if bad:
        raise VcfMeasureError(
            f"{bad[0]}: the generator draws T4-L5 only; choose levels within T4-L5"
        )
    return out


def _per_level(value, levels, name, default):
    """Map level -> value from a dict, a scalar for all levels, or None."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = {normalize_level(k): v for k, v in value.items()}
        extra = [lv for lv in out if lv not in levels]
        if extra:
            raise VcfMeasureError(f"{extra[0]}: {name} given for a level not drawn ({levels})")
        return out
    return dict.fromkeys(levels, value if value is not True else default)


def _deformed_shape(
    kind: str, severity: float, body: BodyGeometry
) -> tuple[float, float, float, float]:
    """``(hp, ha, sup_concavity, inf_concavity)`` with ``severity`` height loss."""
    hp, ha, cs, ci = body.hp, body.ha, body.sup_concavity, body.inf_concavity
    if kind == "wedge":
        return hp, (1.0 - severity) * max(ha, hp), cs, ci
    if kind == "crush":
        # the posterior height leads, so that the type reads as crush (docs/reference.md §2)
        f, g = 1.0 - severity, 1.0 - 0.85 * severity
        return f * hp, g * ha, g * cs, g * ci
    # biconcave: both endplates sink centrally until Hm = (1 - s) * Hp
    target = (1.0 - severity) * hp

    def hm(extra: float) -> float:
        trial = replace(body, sup_concavity=cs + extra / 2, inf_concavity=ci + extra / 2)
        pts = trial.local_landmarks()
        return float(np.hypot(*(pts[1] - pts[4])))

    extra = 0.0
    for _ in range(3):  # Hm is affine in the extra depression up to a cosine: 3 secant steps
        h0, h1 = hm(extra), hm(extra + 1.0)
        extra += (h0 - target) / (h0 - h1)
    return hp, ha, cs + extra / 2, ci + extra / 2


def check_deformity(lv: str, spec: Any, noun: str = "deformity") -> tuple[str, float]:
    """``(type, severity)`` of one level's deformity (or CT fracture), checked."""
    try:
        kind, severity = spec
        severity = float(severity)
    except (TypeError, ValueError):
        raise VcfMeasureError(
            f"{lv}: a {noun} is (type, severity), e.g. ('wedge', 0.3); got {spec!r}"
        ) from None
    if kind not in DEFORMITY_TYPES:
        raise VcfMeasureError(f"{lv}: {noun} type {kind!r} is not one of {DEFORMITY_TYPES}")
    if not 0.0 <= severity <= 0.7:
        raise VcfMeasureError(f"{lv}: severity {severity} must be a height loss fraction in [0, 0.7]")
    return kind, severity


def _check_deformities(deformities, levels) -> dict[str, tuple[str, float]]:
    return {lv: check_deformity(lv, spec)
            for lv, spec in _per_level(deformities, levels, "deformities", None).items()}


def make_spine(
    levels: Sequence[str] | str | None = None,
    *,
    first: str | None = None,
    last: str | None = None,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    facing: str = "right",
    rotation_deg: float = 0.0,
    imager_spacing_mm: float = 0.15,
    magnification: float = 1.15,
    scale: float | None = None,
    deformities: Mapping[str, tuple[str, float]] | None = None,
    cement: Mapping[str, float] | None = None,
    cement_detail: Mapping[str, Mapping[str, Any]] | None = None,
    contrast: float = 1.0,
    noise: float = 1.0,
    blur_mm: float = 0.2,
    double_contour: float | Mapping[str, float | tuple[float, float]] | None = None,
    ribs: bool = True,
    posterior_elements: bool = True,
    osteophytes: float | Mapping[str, float] | None = None,
    acquisition: int = 0,
    appearance: str | None = None,
) -> SyntheticSpine:
    """Draw a lateral thoraco-lumbar radiograph with exact six-point ground truth.

    The spine is built in mm (level-appropriate body sizes, physiological wedging,
    endplate concavity, discs, thoracic kyphosis, lumbar lordosis; see
    ``vcfmeasure/synthetic/_anatomy.py``), then projected onto the detector and rendered
    with analytic anti-aliasing, so every landmark lies on its rendered edge to sub-pixel
    precision. One extra vertebra above and below is drawn where T4-L5 allows and cut by
    the image border, as on a real film.

    Parameters
    ----------
    levels : sequence of str or str, optional
        Contiguous levels within T4-L5, cranial -> caudal. Default T11-L3.
    first, last : str, optional
        Instead of ``levels``: the first and last level.
    seed, rng : int or numpy Generator, optional
        Everything is deterministic from the seed (an ``rng`` supplies one).
    facing : {"right", "left"}
        The side anterior is on in the image.
    rotation_deg : float
        In-plane rotation of the whole image content, degrees, counter-clockwise on
        screen.
    imager_spacing_mm : float
        (0018,1164) Imager Pixel Spacing at the detector, mm.
    magnification : float
        (0018,1114) Estimated Radiographic Magnification Factor (SID/SOD). The patient-
        plane spacing is ``imager_spacing_mm / magnification``.
    scale : float, optional
        Overall body size factor (default drawn around 1 with SD 0.05).
    deformities : dict, optional
        Level -> ``(type, severity)``, type ``"wedge"`` (anterior loss), ``"biconcave"``
        (central endplate depression) or ``"crush"`` (whole body), severity the
        fractional height loss (0-0.7) against the expected normal height: own Hp for
        the anterior and middle heights, the drawn normal Hp for crush (docs/reference.md §2).
    cement : dict, optional
        Level -> fraction of the lost height restored (0-1): the vertebra is shown after
        vertebroplasty/kyphoplasty, with a very bright irregular cement mass inside the
        cortical shell and its deformity reduced to ``severity * (1 - fraction)``.
        ``truth[level]["cement"]`` is then a dict of what was drawn (``fill``,
        ``area_mm2``, ``leaks``, ``implant``, ``mask``; see ``_cement.py``), else False.
    cement_detail : dict, optional
        Level -> cement design (``size``, ``offset``, ``leaks`` as ``(kind, size_mm)``
        with kind ``superior_disc``, ``inferior_disc``, ``posterior`` or ``anterior``,
        ``implant``, ``bowel``): cement of known fill, leaks beyond the outline, a
        radiopaque loop implant, bowel contrast in front. Implies cement at the level
        (restoration from ``cement``, else 0). Without it images are unchanged.
    contrast : float
        Bone density factor: 1 normal, ~0.45 osteoporotic (also thins the cortex).
    noise : float
        Noise level in multiples of 10 grey levels SD (0 for none).
    blur_mm : float
        Gaussian blur SD in mm (detector and focal-spot unsharpness).
    double_contour : float or dict, optional
        Endplates drawn as two contours separated by this many mm (a number for every
        level, or level -> mm, or level -> ``(superior_mm, inferior_mm)``). The ground
        truth lies midway between the two contours (docs/reference.md §1).
    ribs, posterior_elements : bool
        Draw ribs (thoracic levels) and pedicles, facets and spinous processes.
    osteophytes : float or dict, optional
        Anterior osteophytes: spurs of this length (mm) at both anterior corners,
        pointing anteriorly into the disc (a number for every level, or level -> mm). The
        ground-truth corners stay at the body corners (docs/reference.md §1: osteophytes
        excluded).
    acquisition : int
        Another exposure of the same spine (new noise), for repeated images.
    appearance : str, optional
        An appearance family (a key of :data:`APPEARANCE_FAMILIES`): how the film looks,
        drawn from the seed on top of the settings above (``contrast`` and ``noise`` are
        multiplied by the family's factors, its extra blur adds in quadrature). ``None``
        and ``"classic"`` draw the same pixels. The truth stays exact under every family;
        ``"jpeg_export"`` downscales the image (the landmarks move with it) and reports
        the spacing as unknown or approximate. See ``docs/synthetic.md``.

    Returns
    -------
    SyntheticSpine

    Raises
    ------
    VcfMeasureError
        For levels outside T4-L5 or not contiguous, an unknown deformity type or an
        out-of-range value.

    Examples
    --------
    >>> from vcfmeasure.synthetic import make_spine
    >>> spine = make_spine(["T12", "L1"], seed=1, deformities={"L1": ("wedge", 0.3)})
    >>> spine.levels, spine.truth["L1"]["grade"], spine.radiograph.unit
    (('T12', 'L1'), 2, 'mm')
    >>> spine.landmarks["L1"].shape
    (6, 2)
    """
    level_list = _level_list(levels, first, last)
    if facing not in ("right", "left"):
        raise VcfMeasureError(f"facing must be 'right' or 'left', got {facing!r}")
    for name, v, lo, hi in (
        ("imager_spacing_mm", imager_spacing_mm, 0.02, 1.0),
        ("magnification", magnification, 1.0, 2.0),
        ("contrast", contrast, 0.1, 3.0),
    ):
        if not lo <= float(v) <= hi:
            raise VcfMeasureError(f"{name}={v} is outside the supported range [{lo}, {hi}]")
    if seed is None:
        seed = int((rng or np.random.default_rng()).integers(2**63 - 1))
    defs = _check_deformities(deformities, level_list)
    restore = {k: float(v) for k, v in _per_level(cement, level_list, "cement", 0.0).items()}
    details = {lv: check_detail(lv, v)
               for lv, v in _per_level(cement_detail, level_list, "cement_detail", None).items()}
    for lv in details:
        restore.setdefault(lv, 0.0)
    for lv, r in restore.items():
        if not 0.0 <= r <= 1.0:
            raise VcfMeasureError(f"{lv}: cement restoration fraction {r} must be in [0, 1]")
    spurs = {
        lv: float(v)
        for lv, v in _per_level(osteophytes, level_list, "osteophytes", 3.0).items()
    }
    for lv, v in spurs.items():
        if not 0.0 <= v <= 8.0:
            raise VcfMeasureError(f"{lv}: osteophyte length {v} mm must be in [0, 8]")
    doubles = {}
    for lv, v in _per_level(double_contour, level_list, "double_contour", 1.5).items():
        try:
            sup, inf = np.broadcast_to(np.asarray(v, dtype=float), (2,))
        except ValueError:
            raise VcfMeasureError(
                f"{lv}: double_contour is a separation in mm or (superior_mm, inferior_mm); "
                f"got {v!r}"
            ) from None
        doubles[lv] = (float(sup), float(inf))

    style = sample_style(appearance, seed) if appearance is not None else None
    if style is not None and style.name == "classic":
        style = None
    return _draw(
        level_list, seed, style, facing=facing, rotation_deg=rotation_deg,
        imager_spacing_mm=imager_spacing_mm, magnification=magnification, scale=scale,
        defs=defs, restore=restore, spurs=spurs, doubles=doubles, contrast=contrast,
        noise=noise, blur_mm=blur_mm, ribs=ribs, posterior_elements=posterior_elements,
        acquisition=acquisition, appearance=appearance, details=details,
    )


def _draw(
    level_list: list[str], seed: int, style: FamilyStyle | None, *, facing: str,
    rotation_deg: float, imager_spacing_mm: float, magnification: float,
    scale: float | None, defs: dict[str, tuple[str, float]], restore: dict[str, float],
    spurs: dict[str, float], doubles: dict[str, tuple[float, float]], contrast: float,
    noise: float, blur_mm: float, ribs: bool, posterior_elements: bool, acquisition: int,
    appearance: str | None, details: dict[str, dict[str, Any]],
) -> SyntheticSpine:
    """Build, frame and render one spine (``style``: a family's draw, None for classic)."""
    variation = style.shape if style is not None else None
    seq = np.random.SeedSequence(seed)
    # six children for stable streams; textures, cement and noise seed from (seed, kind,
    # level) instead, so that a pre/post pair shares them level by level
    s_geom, s_bg, _, _, _, s_misc = seq.spawn(6)
    misc = np.random.default_rng(s_misc)
    if scale is None:
        scale = float(np.clip(misc.normal(1.0, 0.05), 0.85, 1.15))

    lo = max(level_index(level_list[0]) - 1, level_index(_SUPPORTED[0]))
    hi = min(level_index(level_list[-1]) + 1, level_index(_SUPPORTED[-1]))
    chain = list(LEVELS[lo : hi + 1])
    # the normal shape first (same draws), then the deformed one
    normal_bodies, _ = build_spine(
        chain, np.random.default_rng(s_geom), scale=scale, variation=variation
    )
    shapes = {}
    truth: dict[str, dict[str, Any]] = {}
    for body in normal_bodies:
        lv = body.level
        if lv not in level_list:
            continue
        kind, sev_before = defs.get(lv, ("normal", 0.0))
        fraction = restore.get(lv)
        sev = sev_before * (1.0 - fraction) if fraction is not None else sev_before
        if kind != "normal" and sev > 0:
            shapes[lv] = _deformed_shape(kind, sev, body)
        truth[lv] = {
            "deformity": kind if expected_grade(sev) > 0 else "normal",
            "drawn_deformity": kind,
            "severity": sev,
            "grade": expected_grade(sev),
            "severity_before": sev_before,
            "cement": fraction is not None,
            "restoration": fraction,
            "double_contour_mm": doubles.get(lv, (0.0, 0.0)),
            "osteophyte_mm": 0.0,
        }
    bodies, _ = build_spine(
        chain, np.random.default_rng(s_geom), scale=scale, heights=shapes, variation=variation
    )
    for lv, v in spurs.items():
        truth[lv]["osteophyte_mm"] = v

    spacing = imager_spacing_mm / magnification
    margins = style.margins_mm if style is not None else None
    geom = _image_geometry(
        bodies, level_list, facing, rotation_deg, spacing, posterior_elements, margins
    )
    tex_seeds = [np.random.SeedSequence([seed, 17, level_index(b.level)]) for b in bodies]
    cement_rngs = {
        lv: np.random.default_rng([seed, 29, level_index(lv)]) for lv in restore
    }
    app = Appearance(
        contrast=float(contrast), noise=float(noise), blur_mm=float(blur_mm), ribs=ribs,
        posterior_elements=posterior_elements,
    )
    cement_truth: dict[str, dict[str, Any]] = {}
    layers = None
    if style is not None:
        app = _styled(app, style)
        layers = build_layers(
            style, geom, bodies, contrast=app.contrast, gain=app.gain,
            diaphragm_y=_diaphragm_y(bodies),
        )
    ribs_at = [(b, second) for b in bodies if b.level.startswith("T") for second in (False, True)]
    pixels = render(
        geom,
        bodies,
        app,
        background_rng=np.random.default_rng(s_bg),
        texture_rngs=[np.random.default_rng(s) for s in tex_seeds],
        noise_rng=np.random.default_rng([seed, 31, acquisition]),
        double=doubles,
        cement=cement_rngs,
        diaphragm_y=_diaphragm_y(bodies),
        rib_levels=ribs_at,
        osteophytes=spurs,
        cement_detail=details,
        cement_truth=cement_truth,
        layers=layers,
    )
    for lv, drawn in cement_truth.items():
        if lv in truth:
            truth[lv]["cement"] = drawn
    xy = np.stack([geom.to_pixels(b.landmarks_world()) for b in bodies if b.level in level_list])
    export = style.export if style is not None else None
    window = (float(np.median(pixels)) + 300.0 * app.gain, 2000.0 * app.gain)
    if export is not None:
        pixels, factor = export_film(pixels, spacing, export)
        xy = (xy + 0.5) / factor - 0.5
        spacing *= factor
        window = (127.5, 255.0)
    prov = Provenance(
        "manual", tool=_TOOL, version=__version__, note=f"exact ground truth, seed {seed}"
    )
    landmarks = Landmarks.from_array(
        xy, level_list, provenance=prov, image={"source": _TOOL, "seed": seed}
    )
    # worded as vcfmeasure.load_image reports the DICOM file written by write_dicom
    ips = f"{imager_spacing_mm:.6g}"
    source = (
        f"magnification-corrected: (0018,1164) Imager Pixel Spacing {ips}\\{ips} "
        f"/ (0018,1114) Estimated Radiographic Magnification Factor {magnification:.6g}"
    )
    params: dict[str, Any] = {
        "seed": seed,
        "levels": tuple(level_list),
        "facing": facing,
        "rotation_deg": float(rotation_deg),
        "imager_spacing_mm": float(imager_spacing_mm),
        "magnification": float(magnification),
        "spacing_mm": spacing,
        "scale": scale,
        "contrast": float(contrast),
        "noise": float(noise),
        "blur_mm": float(blur_mm),
        "acquisition": int(acquisition),
        "appearance": appearance,
    }
    if export is not None:
        params["export"] = {"factor": factor, "quality": export.quality,
                            "reported_spacing": export.report}
    metadata = {
        "modality": "DX",
        "view_position": "LL",
        "photometric": "MONOCHROME2",
        "patient_orientation": "A\\F" if facing == "right" else "P\\F",
        "imager_pixel_spacing": (imager_spacing_mm, imager_spacing_mm),
        "magnification": magnification,
        "synthetic": params,
    }
    reported: tuple[float, float] | None = (spacing, spacing)
    if export is not None:
        metadata = {"synthetic": params, "format": "JPEG"}
        if export.report == "unknown":
            reported, source = None, "unknown: a downscaled JPEG export without calibration"
        else:
            approx = round(spacing * export.report_factor, 2)
            reported = (approx, approx)
            source = (f"user: approximate spacing {approx:g} mm stated for a downscaled JPEG "
                      "export (not calibrated)")
    radiograph = Radiograph(
        pixels,
        spacing=reported,
        spacing_source=source,
        metadata=metadata,
        window=window,
    )
    return SyntheticSpine(radiograph, landmarks, truth, params)


_APPEARANCE_FIELDS = {f.name for f in fields(Appearance)}


def _styled(app: Appearance, style: FamilyStyle) -> Appearance:
    """``app`` with a family's overrides and factors applied."""
    changes = {**style.appearance, **style.overlay_appearance}
    unknown = set(changes) - _APPEARANCE_FIELDS
    if unknown:  # a programming error in a family definition
        raise VcfMeasureError(f"family {style.name!r} sets unknown settings {sorted(unknown)}")
    return replace(
        app, **changes,
        contrast=app.contrast * style.contrast_factor,
        noise=app.noise * style.noise_factor,
        blur_mm=float(np.hypot(app.blur_mm, style.blur_extra_mm)),
    )


def _image_geometry(
    bodies, level_list, facing, rotation_deg, spacing, posterior, margins_mm=None
) -> ImageGeometry:
    """Straighten the spine's mean axis to image-down, mirror, rotate, frame the levels.

    ``margins_mm``: extra film (left, right, top, bottom) around the framed levels.
    """
    cent = np.array([b.landmarks_world().mean(axis=0) for b in bodies])
    axis = cent[-1] - cent[0] if len(bodies) > 1 else bodies[0].n
    theta = np.arctan2(axis[0], axis[1])  # rotate the axis onto +y
    c, s = np.cos(theta), np.sin(theta)
    straighten = np.array([[c, -s], [s, c]])
    flip = np.diag([1.0 if facing == "right" else -1.0, 1.0])
    a = np.radians(rotation_deg)
    user = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    A = user @ flip @ straighten / spacing
    keep = [b for b in bodies if b.level in level_list]
    pts = []
    for b in keep:
        u_post = -52.0 * b.depth / 35.0 if posterior else -8.0
        pts.append(b.to_world(np.array([[u_post, 0.3 * b.hp], [u_post, 0.7 * b.hp]])))
        pts.append(b.to_world(np.array([[b.depth + 22.0, 0.0], [b.depth + 22.0, b.ha]])))
        pts.append(b.to_world(np.array([[0.0, -6.0], [b.depth, -6.0]])))
        pts.append(b.to_world(np.array([[0.0, b.hp + 6.0], [b.depth, b.ha + 6.0]])))
    px = np.concatenate(pts) @ A.T
    lo, hi = px.min(axis=0), px.max(axis=0)
    if margins_mm is not None:
        left, right, top, bottom = (m / spacing for m in margins_mm)
        lo, hi = lo - [left, top], hi + [right, bottom]
    shape = (int(np.ceil(hi[1] - lo[1])) + 1, int(np.ceil(hi[0] - lo[0])) + 1)
    return ImageGeometry(A=A, b=-lo, shape=shape, spacing_mm=spacing)


def _diaphragm_y(bodies: list[BodyGeometry]) -> float | None:
    """World y of the posterior diaphragm (T12/L1 disc), extrapolated when out of range."""
    idx = np.array([level_index(b.level) for b in bodies], float)
    ys = np.array([b.to_world(np.array([0.0, b.hp]))[1] for b in bodies])
    target = level_index("T12")
    if len(bodies) == 1:
        return float(ys[0] + (target - idx[0]) * 30.0)
    slope, icpt = np.polyfit(idx, ys, 1)
    return float(slope * target + icpt)


def make_pre_post(
    levels: Sequence[str] | str | None = None,
    *,
    deformities: Mapping[str, tuple[str, float]],
    restoration: Mapping[str, float] | float = 0.5,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    **kwargs: Any,
) -> tuple[SyntheticSpine, SyntheticSpine]:
    """Draw a pre-procedure image and a post-cement image of the same spine.

    Parameters
    ----------
    levels, seed, rng, **kwargs
        As :func:`make_spine` (the same seed draws the same spine twice).
    deformities : dict
        Level -> ``(type, severity)`` before the procedure.
    restoration : float or dict
        Fraction of the lost height regained at the cemented levels (a number applies to
        every deformed level).

    Returns
    -------
    pre, post : SyntheticSpine
        ``post.truth[level]["restoration"]`` is the fraction drawn; heights follow
        ``H_post = H_pre + fraction * (H_expected - H_pre)`` (docs/reference.md §5).

    Examples
    --------
    >>> from vcfmeasure.synthetic import make_pre_post
    >>> pre, post = make_pre_post(["T12", "L1", "L2"], deformities={"L1": ("wedge", 0.4)},
    ...                           restoration=0.5, seed=3)
    >>> pre.truth["L1"]["grade"], bool(post.truth["L1"]["cement"]), post.truth["L1"]["severity"]
    (3, True, 0.2)
    """
    if seed is None:
        seed = int((rng or np.random.default_rng()).integers(2**63 - 1))
    if not isinstance(restoration, Mapping):
        restoration = dict.fromkeys(deformities, float(restoration))
    pre = make_spine(levels, seed=seed, deformities=deformities, **kwargs)
    kwargs = {**kwargs, "acquisition": int(kwargs.get("acquisition", 0)) + 1}
    post = make_spine(levels, seed=seed, deformities=deformities, cement=restoration, **kwargs)
    return pre, post

