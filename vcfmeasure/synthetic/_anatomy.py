"""Sagittal geometry of a synthetic spine, in mm, before any image is formed.

World frame: ``x`` anterior, ``y`` caudal, mm, in the mid-sagittal plane. Every body is a
trapezoid in its own frame (``e`` along the superior endplate chord, posterior to
anterior; ``n`` perpendicular to it, caudal): posterior corner of the superior endplate at
the origin, both walls along ``n``, the inferior endplate chord from ``(0, hp)`` to
``(depth, ha)``. Endplates and walls are curved by smooth bumps measured from their chords,
so the six landmarks are known in closed form: corners at the chord ends, middle points on
the perpendicular bisector of the corner chord (docs/reference.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..levels import level_index

__all__ = [
    "LEVEL_TABLE",
    "BodyGeometry",
    "ShapeVariation",
    "bump",
    "bump_slope",
    "build_spine",
    "nominal_level",
    "plate_bump",
    "plate_bump_slope",
]

# Level -> (posterior height mm, depth mm, wedge angle deg, disc below: posterior height
# mm, disc wedge deg (+ lordotic)). Heights and depths grow caudally (T4 ~ 19 x 27 mm,
# L3 ~ 28 x 40 mm); wedge angles T9-L5 from docs/reference.md section 3 (Eur Spine J 2010,
# women), 4 deg for T4-T8. Disc angles chosen so that T4-T12 kyphosis is ~45 deg and
# L1-L5 lordosis ~50 deg (docs/reference.md section 4, elderly ranges).
LEVEL_TABLE: dict[str, tuple[float, float, float, float, float]] = {
    "T4": (19.0, 27.0, 4.0, 3.8, -1.0),
    "T5": (19.5, 27.5, 4.0, 3.8, -1.0),
    "T6": (20.0, 28.0, 4.0, 3.9, -1.0),
    "T7": (20.5, 29.0, 4.0, 4.0, -1.0),
    "T8": (21.2, 30.0, 4.0, 4.1, -1.0),
    "T9": (22.0, 31.0, 2.8, 4.2, -0.5),
    "T10": (22.8, 32.0, 2.6, 4.4, 0.0),
    "T11": (23.6, 33.0, 4.6, 4.7, 0.5),
    "T12": (24.5, 34.0, 3.5, 5.0, 2.0),
    "L1": (25.5, 36.0, 2.6, 5.5, 6.0),
    "L2": (26.5, 38.0, 0.7, 6.0, 8.0),
    "L3": (27.5, 40.0, -1.1, 6.3, 10.0),
    "L4": (27.5, 41.0, -3.1, 6.5, 12.0),
    "L5": (27.0, 42.0, -7.8, 6.5, 12.0),
}

#: Endplate concavity (mm, each endplate, normal bone) and wall concavities.
ENDPLATE_CONCAVITY_MM = 1.0
ANTERIOR_WAIST_MM = 0.8
POSTERIOR_WAIST_MM = 0.4


def bump(t: np.ndarray) -> np.ndarray:
    """Smooth bump on [0, 1]: 16 t^2 (1 - t)^2, 1 at t = 0.5, flat at both ends, 0 outside."""
    t = np.clip(t, 0.0, 1.0)
    return 16.0 * t * t * (1.0 - t) * (1.0 - t)


def bump_slope(t: np.ndarray) -> np.ndarray:
    """Return the derivative of :func:`bump` with respect to ``t`` (0 outside [0, 1])."""
    inside = (t > 0) & (t < 1)
    return np.where(inside, 32.0 * t * (1.0 - t) * (1.0 - 2.0 * t), 0.0)


#: Width of the flat rim (ring apophysis) at each end of an endplate, fraction of depth.
RIM = 0.1


def plate_bump(t: np.ndarray) -> np.ndarray:
    """Return the endplate depression profile: :func:`bump` inside a flat rim of :data:`RIM`."""
    return bump((np.asarray(t) - RIM) / (1.0 - 2.0 * RIM))


def plate_bump_slope(t: np.ndarray) -> np.ndarray:
    """Return the derivative of :func:`plate_bump` with respect to ``t``."""
    return bump_slope((np.asarray(t) - RIM) / (1.0 - 2.0 * RIM)) / (1.0 - 2.0 * RIM)


def nominal_level(level: str) -> tuple[float, float, float, float, float]:
    """Return the :data:`LEVEL_TABLE` row of a level (T4-L5)."""
    return LEVEL_TABLE[level]


@dataclass
class BodyGeometry:
    """One vertebral body in world mm (see the module docstring for the frame)."""

    level: str
    origin: np.ndarray  # (2,) sp in world mm
    e: np.ndarray  # (2,) unit, posterior -> anterior along the superior chord
    n: np.ndarray  # (2,) unit, caudal, perpendicular to e
    depth: float
    hp: float
    ha: float
    sup_concavity: float  # mm, depression of the superior endplate at its middle
    inf_concavity: float  # mm, depression of the inferior endplate at its middle
    ant_waist: float
    post_waist: float

    def local_corners(self) -> np.ndarray:
        """``sp, sa, ia, ip`` in the body frame ``(u, w)``, shape (4, 2)."""
        return np.array([[0.0, 0.0], [self.depth, 0.0], [self.depth, self.ha], [0.0, self.hp]])

    def inferior_frame(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Return the unit chord ``ip -> ia``, its caudal normal (body frame), its length."""
        chord = np.array([self.depth, self.ha - self.hp])
        length = float(np.hypot(*chord))
        e_i = chord / length
        return e_i, np.array([-e_i[1], e_i[0]]), length

    def local_landmarks(self) -> np.ndarray:
        """Six points ``sp sm sa ia im ip`` in the body frame, shape (6, 2)."""
        sp, sa, ia, ip = self.local_corners()
        sm = np.array([0.5 * self.depth, self.sup_concavity])
        e_i, n_i, _ = self.inferior_frame()
        im = 0.5 * (ip + ia) - self.inf_concavity * n_i
        return np.array([sp, sm, sa, ia, im, ip])

    def to_world(self, uw: np.ndarray) -> np.ndarray:
        """Body-frame ``(..., 2)`` points to world mm."""
        uw = np.asarray(uw, float)
        return self.origin + uw[..., :1] * self.e + uw[..., 1:2] * self.n

    def landmarks_world(self) -> np.ndarray:
        """Six landmarks in world mm, shape (6, 2)."""
        return self.to_world(self.local_landmarks())


@dataclass(frozen=True)
class ShapeVariation:
    """Spread of the per-level draws of :func:`build_spine` (defaults: the classic look).

    ``size_sd``/``depth_sd``: relative SD of height and depth; ``wedge_sd_deg``: SD of the
    wedge angle; ``disc_sd``: relative SD of the disc height; ``concavity``: range of the
    endplate depression in units of :data:`ENDPLATE_CONCAVITY_MM`; ``waist``: range of
    the wall concavities in units of :data:`ANTERIOR_WAIST_MM` / :data:`POSTERIOR_WAIST_MM`.
    """

    size_sd: float = 0.03
    depth_sd: float = 0.03
    wedge_sd_deg: float = 1.0
    disc_sd: float = 0.1
    concavity: tuple[float, float] = (0.6, 1.4)
    waist: tuple[float, float] = (0.5, 1.5)


def _rotate(v: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def build_spine(
    levels: list[str],
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    heights: dict[str, tuple[float, float, float, float]] | None = None,
    variation: ShapeVariation | None = None,
) -> tuple[list[BodyGeometry], np.ndarray]:
    """Chain the bodies and discs of ``levels`` into a curved spine, in world mm.

    Parameters
    ----------
    levels : list of str
        Contiguous, cranial -> caudal, within T4-L5.
    rng : numpy Generator
        Draws the per-level variation (sizes +-3 %, wedge +-1 deg, disc +-10 %).
    scale : float
        Overall size factor of this spine.
    heights : dict, optional
        Level -> ``(hp, ha, sup_concavity, inf_concavity)`` in mm replacing the drawn
        normal shape (deformities, restoration).
    variation : ShapeVariation, optional
        How widely sizes and shapes vary (default: the classic spreads above; the same
        draws from ``rng`` either way).

    Returns
    -------
    bodies : list of BodyGeometry
    normal : ndarray, shape (N, 4)
        The drawn normal ``(hp, ha, sup_concavity, inf_concavity)`` of each level before
        ``heights`` was applied, mm (what a deformity is measured against).
    """
    heights = heights or {}
    var = variation or ShapeVariation()
    n_lv = len(levels)
    jit_size = rng.normal(1.0, var.size_sd, n_lv)
    jit_depth = rng.normal(1.0, var.depth_sd, n_lv)
    jit_wedge = rng.normal(0.0, var.wedge_sd_deg, n_lv)
    jit_disc = rng.normal(1.0, var.disc_sd, n_lv)
    jit_disc_angle = rng.normal(0.0, 1.0, n_lv)
    concav = rng.uniform(*var.concavity, (n_lv, 2)) * ENDPLATE_CONCAVITY_MM
    waist = rng.uniform(*var.waist, (n_lv, 2))

    e = np.array([1.0, 0.0])
    origin = np.zeros(2)
    bodies: list[BodyGeometry] = []
    normal = np.zeros((n_lv, 4))
    for k, level in enumerate(levels):
        hp0, depth0, wedge_deg, disc_hp, disc_deg = nominal_level(level)
        hp = hp0 * scale * jit_size[k]
        depth = depth0 * scale * jit_depth[k]
        ha = hp - depth * np.tan(np.radians(wedge_deg + jit_wedge[k]))
        c_sup, c_inf = concav[k] * scale
        normal[k] = (hp, ha, c_sup, c_inf)
        if level in heights:
            hp, ha, c_sup, c_inf = heights[level]
        n = np.array([-e[1], e[0]])
        body = BodyGeometry(
            level=level,
            origin=origin.copy(),
            e=e.copy(),
            n=n,
            depth=depth,
            hp=hp,
            ha=ha,
            sup_concavity=c_sup,
            inf_concavity=c_inf,
            ant_waist=ANTERIOR_WAIST_MM * waist[k, 0] * scale,
            post_waist=POSTERIOR_WAIST_MM * waist[k, 1] * scale,
        )
        bodies.append(body)
        e_i, n_i, _ = body.inferior_frame()
        e_w = e_i[0] * e + e_i[1] * n
        n_w = n_i[0] * e + n_i[1] * n
        ip = body.to_world(np.array([0.0, hp]))
        origin = ip + disc_hp * scale * jit_disc[k] * n_w
        # a lordotic disc (+) is taller anteriorly: the next chord turns towards caudal
        e = _rotate(e_w, disc_deg + jit_disc_angle[k])
    return bodies, normal


def level_range(first: str, last: str) -> list[str]:
    """Contiguous level names from ``first`` to ``last`` (both included), cranial -> caudal."""
    from ..levels import LEVELS

    i, j = level_index(first), level_index(last)
    if i > j:
        i, j = j, i
    return list(LEVELS[i : j + 1])
