"""``vcfmeasure demo``: the whole pipeline on generated examples, with no network.

Three lateral radiographs are drawn by :mod:`vcfmeasure.synthetic` and written as DICOM
files: a T10-L3 spine with a wedge and a biconcave fracture, and a pre/post kyphoplasty
pair of an L1 wedge fracture. Each file is then loaded like any user file, its landmarks
found (automatic detection when this installation has it; else the generator's ground
truth moved by about 1.5 mm and pulled back onto the edges by
:func:`vcfmeasure.refine_landmarks`; else the ground truth itself: the
``landmark_source`` column and the printed notes say which), measured, graded and, for
the pair, compared.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_demo", "DEMO_CASES"]

#: name -> (kind, make_spine / make_pre_post keyword arguments).
# Severities lie well inside the Genant bands (docs/reference.md section 2), so that the
# grades read from the images can be compared with the drawn ones.
DEMO_CASES: dict[str, dict[str, Any]] = {
    "spine": {"first": "T10", "last": "L3",
              "deformities": {"T12": ("wedge", 0.32), "L2": ("biconcave", 0.45)}},
    "kyphoplasty": {"levels": ["T11", "T12", "L1", "L2", "L3"],
                    "deformities": {"L1": ("wedge", 0.46)}, "restoration": 0.4},
}

_SHOW = ("image", "level", "ha", "hm", "hp", "unit", "wedge_ratio", "biconcavity_ratio",
         "grade", "deformity", "height_loss", "landmark_source")


def _placement(radiograph: Any, truth: Any, rng: np.random.Generator) -> tuple[Any, str, str]:
    """Landmarks for one image, a label and a sentence saying honestly where they came from."""
    import vcfmeasure as vm

    why = "automatic detection is not installed"
    try:
        detected = vm.detect_landmarks(radiograph, levels=list(truth.levels))
        return detected, "detected", "detected automatically (vcfmeasure.detect_landmarks)"
    except (ImportError, AttributeError):
        pass
    except vm.VcfMeasureError as exc:
        why = f"automatic detection failed: {exc}"
    moved = truth.map_points(lambda xy: xy + rng.normal(0.0, 1.0, xy.shape) * _px(radiograph))
    try:
        refined = vm.refine_landmarks(radiograph, moved)
        return refined, "refined", ("ground truth moved by ~1.5 mm, then refined onto the "
                                    f"edges (vcfmeasure.refine_landmarks; {why})")
    except (ImportError, AttributeError, vm.VcfMeasureError):
        return truth, "ground truth", ("the generator's exact ground truth (neither "
                                       "detection nor refinement is available or worked)")


def _px(radiograph: Any) -> float:
    """1.06 mm in pixels (so that the 2-D displacement is ~1.5 mm), at least 1 px."""
    if radiograph.spacing is None:
        return 1.0
    return max(1.06 / float(np.mean(radiograph.spacing)), 1.0)


def _overlay(radiograph: Any, landmarks: Any, grades: Any, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plot import plot_landmarks

    fig, ax = plt.subplots(figsize=(6, 8), dpi=100)
    try:
        plot_landmarks(radiograph, landmarks, ax=ax, grades=grades)
        ax.set_title(title)
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)


def run_demo(out: Path, *, seed: int = 7, stream: Any = None) -> int:
    """Generate the examples, run the pipeline, print the tables, write CSVs and PNGs.

    Parameters
    ----------
    out : Path
        Folder for ``demo_grades.csv``, ``demo_compare.csv``, ``demo_*.png`` and the
        example images (``demo_images/*.dcm``).
    seed : int
        Seed of the generator (the same seed gives the same files).
    stream : file, optional
        Where the tables are printed (default standard output).

    Returns
    -------
    int
        0 (the exit code of ``vcfmeasure demo``).
    """
    import pandas as pd

    import vcfmeasure as vm
    from vcfmeasure.synthetic import make_pre_post, make_spine

    stream = stream or sys.stdout
    out = Path(out)
    images = out / "demo_images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    spine_case = DEMO_CASES["spine"]
    pair_case = dict(DEMO_CASES["kyphoplasty"])
    spine = make_spine(seed=seed, **spine_case)
    pre, post = make_pre_post(pair_case.pop("levels"), seed=seed + 1, **pair_case)
    cases = {"spine": spine, "pre": pre, "post": post}

    rows = []
    morphs = {}
    notes = {}
    written = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, synth in cases.items():
            path = synth.write_dicom(images / f"{name}.dcm")
            radiograph = vm.load_image(path)
            landmarks, source, note = _placement(radiograph, synth.landmarks, rng)
            notes[name] = note
            morph = vm.measure(landmarks, spacing=radiograph)
            grades = vm.grade(morph)
            morphs[name] = morph
            frame = vm.results_table(morph, grades)
            frame.insert(0, "image", path.relative_to(out).as_posix())
            frame["landmark_source"] = source
            truth = [synth.truth.get(lv, {}) for lv in frame.level]
            frame["truth_height_loss"] = [t.get("severity") for t in truth]
            frame["truth_grade"] = [t.get("grade") for t in truth]
            rows.append(frame)
            png = out / f"demo_{name}.png"
            _overlay(radiograph, landmarks, grades, png, f"{name}: {notes[name].split(' (')[0]}")
            written.append(png)
        restoration = vm.compare(morphs["pre"], morphs["post"], treated=["L1"])
    table = pd.concat(rows, ignore_index=True)
    grades_csv = out / "demo_grades.csv"
    compare_csv = out / "demo_compare.csv"
    from ._table import atomic_write

    with atomic_write(grades_csv) as tmp:
        table.to_csv(tmp, index=False)
    restoration.to_csv(compare_csv)

    print("vcfmeasure demo: synthetic lateral radiographs (DICOM, written to "
          f"{images}), measured and graded (Genant, RadElement reference)\n", file=stream)
    for name, note in notes.items():
        print(f"  {name}: landmarks {note}", file=stream)
    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.float_format", "{:.3g}".format):
        print("\nGrades (truth_grade: the grade of the deformity the generator drew)",
              file=stream)
        print(table[[*_SHOW, "truth_height_loss", "truth_grade"]].to_string(index=False),
              file=stream)
        cmp = restoration.to_dataframe()
        print("\nKyphoplasty of L1, pre -> post", file=stream)
        print(cmp[["level", "unit", "ha_pre", "ha_post", "delta_ha", "restored_a",
                   "wedge_angle_pre", "wedge_angle_post", "wedge_angle_correction"]]
              .to_string(index=False), file=stream)
    kinds = sorted({w.category.__name__ for w in caught})
    if kinds:
        print(f"\n(notes raised while running: {', '.join(kinds)})", file=stream)
    print(f"\nwrote {grades_csv}, {compare_csv}, "
          + ", ".join(str(p) for p in written), file=stream)
    return 0
