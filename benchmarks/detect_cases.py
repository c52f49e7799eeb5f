"""Random synthetic scenes for training and evaluating the detector.

One sampler, so that the training set (``train_detector.py``) and the held-out benchmark
(``accuracy_detect.py``) vary the same things; they differ only in their seeds
(training: 1000+, benchmark: 500000+, tests: below 1000).
"""

from __future__ import annotations

import numpy as np

from vcfmeasure.levels import LEVELS, level_index
from vcfmeasure.synthetic import DEFORMITY_TYPES

SUPPORTED = LEVELS[level_index("T4") : level_index("L5") + 1]


def random_case(rng: np.random.Generator, *, n_levels=(3, 7), hard: bool = True) -> dict:
    """Keyword arguments for :func:`vcfmeasure.synthetic.make_spine`, drawn from ``rng``.

    Varies: levels in view (T4-L5), facing, tilt +-15 deg, patient-plane spacing
    0.1-0.3 mm, osteoporotic contrast, noise, blur, wedge/biconcave/crush deformities up
    to severity 0.6 (grade 3), cement, double endplate contours, ribs.
    """
    n = int(rng.integers(n_levels[0], n_levels[1] + 1))
    first = int(rng.integers(0, len(SUPPORTED) - n + 1))
    levels = list(SUPPORTED[first : first + n])
    mag = float(rng.uniform(1.05, 1.25))
    spacing = float(rng.uniform(0.1, 0.3))
    kw = {
        "levels": levels,
        "seed": int(rng.integers(2**31)),
        "facing": "left" if rng.random() < 0.5 else "right",
        "rotation_deg": float(rng.uniform(-15, 15)),
        "imager_spacing_mm": spacing * mag,
        "magnification": mag,
        "contrast": float(rng.uniform(0.4, 1.2)) if hard else 1.0,
        "noise": float(rng.uniform(0.0, 3.0)) if hard else 1.0,
        "blur_mm": float(rng.uniform(0.1, 0.4)),
        "ribs": bool(rng.random() < 0.9),
    }
    defs, cement, double, spurs = {}, {}, {}, {}
    for lv in levels:
        u = rng.random()
        if hard and u < 0.25:
            kind = DEFORMITY_TYPES[int(rng.integers(3))]
            defs[lv] = (kind, float(rng.uniform(0.1, 0.6)))
            if rng.random() < 0.25:
                cement[lv] = float(rng.uniform(0.0, 0.8))
        if hard and rng.random() < 0.1:
            double[lv] = float(rng.uniform(0.5, 2.5))
        if hard and rng.random() < 0.1:
            spurs[lv] = float(rng.uniform(1.0, 4.0))
    if defs:
        kw["deformities"] = defs
    if cement:
        kw["cement"] = cement
    if double:
        kw["double_contour"] = double
    if spurs:
        kw["osteophytes"] = spurs
    return kw


def body_outline(pts: np.ndarray, n: int = 8) -> np.ndarray:
    """A polygon through the six points, the endplates bent through sm / im."""
    sp, sm, sa, ia, im, ip = pts
    out = []
    for a, m, b in ((sp, sm, sa), (ia, im, ip)):
        t = np.linspace(0, 1, 2 * n + 1)[:, None]
        chord = a + t * (b - a)
        out.append(chord + 16 * t**2 * (1 - t) ** 2 * (m - 0.5 * (a + b)))
    return np.concatenate(out)
