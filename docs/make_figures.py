"""Draw the figures the README and docs show, from the synthetic generator (no data needed).

Run from the repository root::

    python docs/make_figures.py    # writes docs/images/overlay.png, comparison.png, report.png

The output is deterministic (fixed seed); re-run it after a change to the plots.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's vcfmeasure, installed or not

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.synthetic import make_pre_post, make_spine  # noqa: E402


def overlay_figure(path: Path) -> Path:
    """A graded T10-L3 synthetic film: six points, outline and heights per vertebra."""
    spine = make_spine(
        first="T10", last="L3", seed=7,
        deformities={"T12": ("biconcave", 0.22), "L1": ("wedge", 0.35)},
    )
    grades = vm.grade(vm.measure(spine.landmarks, spacing=spine.radiograph))
    fig, ax = plt.subplots(figsize=(6.4, 6.4), layout="constrained")
    vm.plot_landmarks(spine.radiograph, spine.landmarks, ax=ax, grades=grades,
                      title="Synthetic lateral radiograph, graded by vcfmeasure")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def comparison_figure(path: Path) -> Path:
    """A synthetic kyphoplasty pair (T12 and L1 crushed, half the loss restored), facing left.

    Two adjacent treated levels: their notes are stacked, not drawn over each other.
    """
    pre, post = make_pre_post(
        first="T10", last="L3", seed=11, restoration=0.5,
        deformities={"T12": ("wedge", 0.35), "L1": ("crush", 0.35)},
    )
    pre_img, pre_lm = _facing_left(pre)
    post_img, post_lm = _facing_left(post)
    restoration = vm.compare(vm.measure(pre_lm, spacing=pre_img),
                             vm.measure(post_lm, spacing=post_img), reference="radelement")
    fig = vm.plot.plot_comparison(pre_img, pre_lm, post_img, post_lm, restoration=restoration)
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path


def report_figure(path: Path) -> Path:
    """The one-page report of a long synthetic spine (T4-L4), cropped to the spine."""
    spine = make_spine(
        first="T4", last="L4", seed=5,
        deformities={"T8": ("wedge", 0.3), "T12": ("crush", 0.42), "L1": ("biconcave", 0.3)},
    )
    fig = vm.plot.patient_report(spine.radiograph, spine.landmarks, patient="synthetic case 5")
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def _facing_left(spine):  # noqa: ANN001, ANN202 - a local helper
    """The film mirrored left-right, landmarks with it (anterior walls on the left)."""
    image = spine.radiograph
    xy = spine.landmarks.array.copy()
    xy[..., 0] = image.shape[1] - 1 - xy[..., 0]
    mirrored = vm.Radiograph(image.pixels[:, ::-1].copy(), spacing=image.spacing,
                             spacing_source=image.spacing_source)
    return mirrored, vm.Landmarks.from_array(xy, spine.landmarks.levels)


def main() -> None:
    """Write every figure into ``--out`` (default ``docs/images``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = [overlay_figure(args.out / "overlay.png"),
               comparison_figure(args.out / "comparison.png"),
               report_figure(args.out / "report.png")]
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
