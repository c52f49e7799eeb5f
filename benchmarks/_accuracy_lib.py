"""Accuracy harness: a fixed synthetic test set, methods to place landmarks, metrics.

Import it to evaluate another placement method (detection, a model, a human reader):

    from benchmarks._accuracy_lib import make_cases, evaluate, format_table
    cases = make_cases()
    result = evaluate(lambda case: my_method(case.spine.radiograph, case.levels), cases)
    print(format_table(result.table))

A method takes a :class:`Case` and returns :class:`vcfmeasure.Landmarks` for (some of)
its levels; levels it leaves out count as missed. The set's seeds (100000 + i) are
separate from the tests' (< 1000) and from training's (below 100000).

``make_cases(split="eval")`` draws the images in the held-out appearance families
(``vcfmeasure.synthetic.EVAL_FAMILIES``, one after another); every row and the summary
carry the family (see ``docs/synthetic.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import vcfmeasure as vm
from vcfmeasure.geometry import heights, scale_xy
from vcfmeasure.synthetic import (
    EVAL_FAMILIES,
    LEVEL_TABLE,
    TRAIN_FAMILIES,
    SyntheticSpine,
    make_spine,
)

SEED_BASE = 100_000
SUPPORTED = list(LEVEL_TABLE)  # T4-L5

# Severities kept 0.03 away from the Genant cuts (0.20, 0.25, 0.40) so that the expected
# grade is not decided by a hair.
_SEVERITY_BANDS = ((0.28, 0.37), (0.43, 0.55), (0.21, 0.22))


def _near_cut(severity: float, margin: float = 0.03) -> bool:
    return any(abs(severity - cut) < margin for cut in (0.20, 0.25, 0.40))


@dataclass
class Case:
    """One synthetic image of the set, with the conditions it was drawn under."""

    name: str
    spine: SyntheticSpine
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[str, ...]:
        return self.spine.levels

    def status(self, level: str) -> str:
        """``normal``, ``fractured`` or ``cemented``: what was drawn at a level."""
        truth = self.spine.truth[level]
        if truth["cement"]:
            return "cemented"
        return "fractured" if truth["drawn_deformity"] != "normal" else "normal"


def _families_for(split: str | None, families: Sequence[str] | None, seed_base: int, n: int):
    if split is not None and families is not None:
        raise ValueError("give split= or families=, not both")
    if split == "eval":
        if seed_base < SEED_BASE:
            raise ValueError(f"evaluation seeds start at {SEED_BASE}; seed_base={seed_base}")
        return list(EVAL_FAMILIES)
    if split == "train":
        if seed_base + n > SEED_BASE:
            raise ValueError(f"training seeds stay below {SEED_BASE}; seed_base={seed_base}")
        return list(TRAIN_FAMILIES)
    if split is not None:
        raise ValueError(f"split must be 'eval', 'train' or None, got {split!r}")
    return list(families) if families is not None else [None]


def make_cases(
    n: int = 30, *, seed_base: int = SEED_BASE, families: Sequence[str] | None = None,
    split: str | None = None,
) -> list[Case]:
    """The fixed benchmark set: ``n`` spines of 4-7 levels within T4-L5.

    ``split="eval"`` draws image ``i`` in ``EVAL_FAMILIES[i % 4]`` (seeds 100000 and up
    only), ``split="train"`` in the training families (seeds below 100000 only);
    ``families=`` names them directly. Without either, the classic look (the set as it
    always was). The family changes the look, not the settings below.

    Image ``i`` draws its settings from seed ``seed_base + i``: film facing (half left),
    in-plane rotation (+-10 deg), spacing (0.10-0.20 mm at the detector), magnification
    (1.05-1.35), blur and noise; one in three has osteoporotic contrast (0.45), about
    one in four double endplate contours (1-2.5 mm) on two vertebrae, about three in ten
    anterior osteophytes (2-4 mm) on two vertebrae (both drawn independently of the other
    settings); one or two deformities per
    spine (wedge, biconcave, crush; severity away from the grade cuts); one in three
    spines shows the deformed vertebra cemented (restoration 0.3-0.7).
    """
    fams = _families_for(split, families, seed_base, n)
    cases = []
    for i in range(n):
        seed = seed_base + i
        family = fams[i % len(fams)]
        rng = np.random.default_rng(seed)
        n_lv = int(rng.integers(4, 8))
        start = int(rng.integers(0, len(SUPPORTED) - n_lv + 1))
        levels = SUPPORTED[start : start + n_lv]
        inner = levels[1:-1]
        n_def = int(rng.integers(1, 3))
        picked = rng.choice(len(inner), size=min(n_def, len(inner)), replace=False)
        deformities = {}
        for j in sorted(picked):
            kind = ("wedge", "biconcave", "crush")[int(rng.integers(0, 3))]
            lo, hi = _SEVERITY_BANDS[int(rng.integers(0, 3))]
            deformities[inner[j]] = (kind, round(float(rng.uniform(lo, hi)), 3))
        cement = {}
        if i % 3 == 2:
            lv = next(iter(deformities))
            restored = round(float(rng.uniform(0.3, 0.7)), 2)
            # keep the severity after the procedure away from the grade cuts as well
            while _near_cut(deformities[lv][1] * (1 - restored)):
                restored = round(restored + 0.03, 2)
            cement[lv] = restored
        low = i % 3 == 1
        double = {}
        rng_double = np.random.default_rng([seed, 2])  # independent of facing and the rest
        if rng_double.random() < 0.25:
            for j in rng_double.choice(n_lv, size=2, replace=False):
                if levels[j] not in cement:
                    double[levels[j]] = round(float(rng_double.uniform(1.0, 2.5)), 2)
        spurs = {}
        rng_spurs = np.random.default_rng([seed, 1])  # independent of the other draws
        if rng_spurs.random() < 0.3:
            for j in rng_spurs.choice(n_lv, size=min(2, n_lv), replace=False):
                spurs[levels[j]] = round(float(rng_spurs.uniform(2.0, 4.0)), 1)
        kwargs = {
            "facing": "left" if i % 2 else "right",
            "rotation_deg": round(float(rng.uniform(-10, 10)), 1),
            "imager_spacing_mm": round(float(rng.uniform(0.10, 0.20)), 3),
            "magnification": round(float(rng.uniform(1.05, 1.35)), 3),
            "blur_mm": round(float(rng.uniform(0.12, 0.3)), 3),
            "noise": round(float(rng.uniform(0.5, 2.0)), 2),
            "contrast": 0.45 if low else 1.0,
        }
        spine = make_spine(
            levels, seed=seed, deformities=deformities, cement=cement or None,
            double_contour=double or None, osteophytes=spurs or None, appearance=family,
            **kwargs,
        )
        conditions = {
            "facing": kwargs["facing"],
            "contrast": "low" if low else "normal",
            "double_contour": sorted(double),
            "osteophytes": sorted(spurs),
            "family": family or "classic",
        }
        cases.append(Case(f"case{i:03d}", spine, conditions))
    return cases


def perturb(spine: SyntheticSpine, sd_mm: float, rng: np.random.Generator) -> vm.Landmarks:
    """The ground truth with Gaussian noise of ``sd_mm`` (SD per coordinate, mm)."""
    spacing = _true_spacing(spine)
    sd = np.array([sd_mm / spacing[1], sd_mm / spacing[0]])
    return spine.landmarks.map_points(lambda xy: xy + rng.normal(0.0, 1.0, xy.shape) * sd,
                                      validate=False)


def refinement_method(sd_mm: float = 1.5, **options: Any) -> Callable[[Case], vm.Landmarks]:
    """Refinement from the truth perturbed by ``sd_mm`` (seeded by the case name)."""

    def method(case: Case) -> vm.Landmarks:
        rng = np.random.default_rng([int(case.name[4:]), 7])
        start = perturb(case.spine, sd_mm, rng)
        return vm.refine_landmarks(case.spine.radiograph, start, **options)

    method.__name__ = f"refine(sd={sd_mm} mm)"
    return method


def perturbation_method(sd_mm: float = 1.5) -> Callable[[Case], vm.Landmarks]:
    """The perturbed points themselves: the baseline refinement has to beat."""

    def method(case: Case) -> vm.Landmarks:
        rng = np.random.default_rng([int(case.name[4:]), 7])
        return perturb(case.spine, sd_mm, rng)

    method.__name__ = f"clicks(sd={sd_mm} mm)"
    return method


def _true_spacing(spine: SyntheticSpine) -> tuple[float, float]:
    """The pixels' true spacing (mm), also where the radiograph reports none (exports)."""
    return (spine.params["spacing_mm"], spine.params["spacing_mm"])


def _grades(landmarks: vm.Landmarks, radiograph: vm.Radiograph) -> dict[str, int]:
    """Genant grade per level; -1 where the grade module declines (flagged for review)."""
    morph = vm.measure(landmarks, spacing=radiograph)
    return {
        r["level"]: -1 if r["grade"] is None else int(r["grade"])
        for r in vm.grade(morph).to_records()
    }


@dataclass
class Result:
    """Per-vertebra rows and the per-condition summary table."""

    rows: list[dict[str, Any]]
    table: list[dict[str, Any]]
    seconds_per_image: float
    errors: list[str] = field(default_factory=list)  # "case: ErrorType: message" per image that raised


def evaluate(method: Callable[[Case], vm.Landmarks], cases: Sequence[Case]) -> Result:
    """Run ``method`` on every case and score it against the exact ground truth.

    Per vertebra: the six point errors (mm, patient plane), Ha/Hp and Hm/Hp ratio errors
    (absolute difference), the Genant grade of the method's points vs the grade of the
    true points (both through :func:`vcfmeasure.measure` and :func:`vcfmeasure.grade`,
    RadElement reference; a vertebra flagged for review is not graded and counts as a
    disagreement, category -1 in kappa), whether it was flagged, and whether it was missed.
    A method that raises misses every level of that image; the error is kept in
    :attr:`Result.errors`.
    """
    rows = []
    errors = []
    elapsed = 0.0
    for case in cases:
        spine = case.spine
        t0 = time.perf_counter()
        try:
            pred = method(case)
        except Exception as err:  # noqa: BLE001 - a crash is a result here
            errors.append(f"{case.name}: {type(err).__name__}: {str(err)[:120]}")
            pred = None
        elapsed += time.perf_counter() - t0
        spacing = _true_spacing(spine)
        true_grades = _grades(spine.landmarks, spine.radiograph)
        found = [lv for lv in spine.levels if pred is not None and lv in pred.levels]
        pred_grades = _grades(pred.subset(found), spine.radiograph) if found else {}
        for lv in spine.levels:
            truth_xy = spine.landmarks[lv]
            row = {
                "case": case.name,
                "level": lv,
                "status": case.status(lv),
                "facing": case.conditions["facing"],
                "contrast": case.conditions["contrast"],
                "double": lv in case.conditions["double_contour"],
                "osteophytes": lv in case.conditions["osteophytes"],
                "family": case.conditions.get("family", "classic"),
                "source": case.conditions.get("source", "synthetic"),
                "tilt_deg": float(case.conditions.get("tilt_deg", spine.params.get("rotation_deg", 0.0))),
                "out_of_plane_deg": float(case.conditions.get("out_of_plane_deg", 0.0)),
                "spacing_mm": float(spacing[0]),
                "true_grade": true_grades[lv],
                "drawn_grade": spine.truth[lv]["grade"],
                "missed": lv not in found,
            }
            if lv in found:
                xy = np.asarray(pred[lv])
                err = np.hypot(*(scale_xy(xy - truth_xy, spacing)).T)
                h_true = heights(scale_xy(truth_xy[None], spacing))[0]
                h_pred = heights(scale_xy(xy[None], spacing))[0]
                row.update(
                    point_err_mm=err,
                    wedge_err=abs(h_pred[0] / h_pred[2] - h_true[0] / h_true[2]),
                    biconcavity_err=abs(h_pred[1] / h_pred[2] - h_true[1] / h_true[2]),
                    grade=pred_grades[lv],
                    flagged=bool(pred.provenance[lv].needs_review),
                )
            rows.append(row)
    table = summarize(rows)
    return Result(rows, table, elapsed / max(len(cases), 1), errors)


def cohen_kappa(
    a: Sequence[int], b: Sequence[int], categories: Sequence[int] = (-1, 0, 1, 2, 3)
):
    """Cohen's (unweighted) kappa of two raters; nan when agreement by chance is 1.

    Also nan when the reference rater (``b``) used a single category: kappa is then 0
    or undefined whatever the agreement, which says nothing.

    >>> round(cohen_kappa([0, 0, 1, 2], [0, 0, 1, 1]), 3)
    0.6
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.size == 0 or np.unique(b).size < 2:
        return float("nan")
    cats = list(categories)
    m = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b, strict=True):
        m[cats.index(x), cats.index(y)] += 1
    m /= m.sum()
    po = np.trace(m)
    pe = float(m.sum(axis=1) @ m.sum(axis=0))
    return float("nan") if pe >= 1 else float((po - pe) / (1 - pe))


CONDITIONS: tuple[tuple[str, Callable[[dict], bool]], ...] = (
    ("all", lambda r: True),
    ("normal", lambda r: r["status"] == "normal"),
    ("fractured", lambda r: r["status"] == "fractured"),
    ("cemented", lambda r: r["status"] == "cemented"),
    ("facing right", lambda r: r["facing"] == "right"),
    ("facing left", lambda r: r["facing"] == "left"),
    ("normal contrast", lambda r: r["contrast"] == "normal"),
    ("low contrast", lambda r: r["contrast"] == "low"),
    ("double contour", lambda r: r["double"]),
    ("osteophytes", lambda r: r["osteophytes"]),
    ("tilt >= 5 deg", lambda r: abs(r.get("tilt_deg", 0.0)) >= 5.0),
    ("out of plane", lambda r: r.get("out_of_plane_deg", 0.0) != 0.0),
    ("spacing < 0.17 mm", lambda r: r.get("spacing_mm", 0.0) < 0.17),
    ("spacing 0.17-0.24 mm", lambda r: 0.17 <= r.get("spacing_mm", 0.0) < 0.24),
    ("spacing >= 0.24 mm", lambda r: r.get("spacing_mm", 0.0) >= 0.24),
)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per condition of :data:`CONDITIONS`, then one per appearance family
    when the rows hold more than the classic look."""
    table = []
    conditions = list(CONDITIONS)
    present = sorted({r.get("family", "classic") for r in rows})
    if present != ["classic"]:
        conditions += [(f"family {f}", lambda r, f=f: r.get("family", "classic") == f)
                       for f in present]
    for name, keep in conditions:
        sel = [r for r in rows if keep(r)]
        got = [r for r in sel if not r["missed"]]
        if not sel:
            continue
        pts = np.concatenate([r["point_err_mm"] for r in got]) if got else np.array([np.nan])
        g_pred = [r["grade"] for r in got]
        g_true = [r["true_grade"] for r in got]
        table.append({
            "condition": name,
            "vertebrae": len(sel),
            "missed": len(sel) - len(got),
            "median_mm": float(np.median(pts)),
            "p90_mm": float(np.percentile(pts, 90)),
            "wedge_ratio_err": float(np.median([r["wedge_err"] for r in got])) if got else np.nan,
            "biconcavity_ratio_err": (
                float(np.median([r["biconcavity_err"] for r in got])) if got else np.nan
            ),
            "grade_agreement": float(np.mean(np.equal(g_pred, g_true))) if got else np.nan,
            "kappa": cohen_kappa(g_pred, g_true),
            "flagged": float(np.mean([r["flagged"] for r in got])) if got else np.nan,
        })
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`summarize` rows."""
    head = ("| condition | n | missed | median mm | p90 mm | Ha/Hp err | Hm/Hp err | "
            "grade agree | kappa | flagged |")
    lines = [head, "|" + "---|" * 10]
    for r in table:
        lines.append(
            f"| {r['condition']} | {r['vertebrae']} | {r['missed']} | {r['median_mm']:.3f} | "
            f"{r['p90_mm']:.3f} | {r['wedge_ratio_err']:.4f} | {r['biconcavity_ratio_err']:.4f} | "
            f"{100 * r['grade_agreement']:.1f} % | {r['kappa']:.3f} | "
            f"{100 * r['flagged']:.1f} % |"
        )
    return "\n".join(lines)


def spine_timing(repeat: int = 3, seed: int = SEED_BASE + 999) -> float:
    """Seconds (best of ``repeat``) to refine a 13-vertebra T4-L4 spine from 1.5 mm clicks."""
    spine = make_spine(first="T4", last="L4", seed=seed)
    rng = np.random.default_rng(seed)
    start = perturb(spine, 1.5, rng)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        vm.refine_landmarks(spine.radiograph, start)
        best = min(best, time.perf_counter() - t0)
    return best


__all__ = [
    "CONDITIONS",
    "Case",
    "Result",
    "cohen_kappa",
    "evaluate",
    "format_table",
    "make_cases",
    "perturb",
    "perturbation_method",
    "refinement_method",
    "spine_timing",
    "summarize",
]
