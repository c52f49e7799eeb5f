"""Draw the reader-agreement figure and the QC report screenshot shown in the docs.

Run from the repository root::

    python docs/make_agreement_figures.py     # writes docs/images/agreement.png, qc_report.png

``agreement.png``: two simulated readers of synthetic films (B with a systematic 0.5 mm
bias) and the detector: Bland-Altman of Ha (A vs B), the grade confusion matrix (A vs
detector) and the per-level landmark distance of the detector from the generator's truth.
``qc_report.png``: the QC report of the test batch (``tests/fixtures/qc_batch.py``) in
headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), 1366 x 768.
Deterministic seeds; synthetic data only.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.agreement import compare_readers  # noqa: E402
from vcfmeasure.plot import plot_bland_altman, plot_grade_confusion, plot_point_errors  # noqa: E402
from vcfmeasure.synthetic import make_spine  # noqa: E402

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _reader(films, sd_mm, seed, superior_shift_mm=0.0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, s in films.items():
        px = s.radiograph.spacing[0]
        shift = np.zeros((6, 2))
        shift[:3, 1] = superior_shift_mm / px
        out[name] = s.landmarks.map_points(
            lambda xy, px=px, shift=shift: xy + rng.normal(0, sd_mm / px, xy.shape) + shift)
    return out


def agreement_figure(path: Path) -> Path:
    """Bland-Altman, confusion matrix and point errors of simulated readers and the detector."""
    rng = np.random.default_rng(2026)
    films = {}
    for i in range(8):
        deformities = {lv: (str(rng.choice(["wedge", "biconcave", "crush"])), float(rng.uniform(0.15, 0.45)))
                       for lv in ("T12", "L1", "L2") if rng.random() < 0.35}
        films[f"film{i}"] = make_spine(first="T11", last="L3", seed=300 + i, deformities=deformities)
    spacing = {k: s.radiograph.spacing for k, s in films.items()}
    truth = {k: s.landmarks for k, s in films.items()}
    a = _reader(films, 0.4, seed=1)
    b = _reader(films, 0.6, seed=2, superior_shift_mm=0.5)
    det = {k: vm.detect_landmarks(s.radiograph, levels=list(s.levels)) for k, s in films.items()}
    readers = compare_readers({"reader A": a, "reader B": b, "detector": det}, spacing=spacing,
                              missing="drop")
    vs_truth = compare_readers({"truth": truth, "detector": det}, spacing=spacing, missing="drop")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained",
                             gridspec_kw={"width_ratios": [1.1, 0.8, 1.4]})
    plot_bland_altman(readers, "ha", readers=("reader A", "reader B"), ax=axes[0])
    plot_grade_confusion(readers, readers=("reader A", "detector"), ax=axes[1])
    plot_point_errors(vs_truth, ax=axes[2])
    fig.suptitle("Synthetic films: two simulated readers (B biased 0.5 mm) and the detector", fontsize=11)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def qc_report_screenshot(path: Path) -> Path:
    """The QC report of the test batch, as headless Chromium shows it on a laptop screen."""
    from fixtures.qc_batch import make_qc_batch
    from playwright.sync_api import sync_playwright

    from vcfmeasure.batch import qc_report

    work = Path(tempfile.mkdtemp(prefix="vcfmeasure-qc-"))
    profile = Path(tempfile.mkdtemp(prefix="vcfmeasure-chromium-"))
    try:
        make_qc_batch(work / "films")
        page = qc_report(work / "films" / "grades.csv", work / "report", title="QC report: test batch")
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(profile), executable_path="/usr/bin/chromium", headless=True,
                args=CHROMIUM_FLAGS, viewport={"width": 1366, "height": 768})
            tab = ctx.new_page()
            tab.goto(page.as_uri())
            tab.wait_for_load_state("load")
            tab.get_by_label("Flagged only", exact=True).check()
            tab.screenshot(path=str(path))
            ctx.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)
    return path


FIGURES = {"agreement.png": agreement_figure, "qc_report.png": qc_report_screenshot}


def main(argv=None) -> None:
    """Write the figures named (default all) into ``--out`` (default ``docs/images``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*FIGURES, []], default=list(FIGURES))
    parser.add_argument("--out", type=Path, default=HERE / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or FIGURES:
        done = FIGURES[name](args.out / name)
        print(f"{done} ({done.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
