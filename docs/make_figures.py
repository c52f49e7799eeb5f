"""Draw the figures the README and docs show, from the synthetic generator (no data needed).

Run from the repository root::

    python docs/make_figures.py            # writes docs/images/overlay.png

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
from vcfmeasure.synthetic import make_spine  # noqa: E402


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


def main() -> None:
    """Write every figure into ``--out`` (default ``docs/images``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = [overlay_figure(args.out / "overlay.png")]
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
