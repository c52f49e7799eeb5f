"""Time of the figures and of the editor's event handling, per item.

Run: python benchmarks/bench_plot.py
Wall-clock seconds, best of three, Agg backend, on a synthetic T4-L5 film (17 levels).
What matters for use: an overlay or report per image in a batch, and an editor that answers
a click quickly and follows a drag smoothly. A click redraws the whole figure (image
included); a drag step redraws only the moving vertebra over a saved background (blitting).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.synthetic import make_spine  # noqa: E402


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        plt.close("all")
    return min(times)


def main() -> None:
    spine = make_spine(first="T4", last="L5", seed=1, deformities={"L1": ("wedge", 0.3)})
    image, lm = spine.radiograph, spine.landmarks
    morph = vm.measure(lm, spacing=image)
    grades = vm.grade(morph)
    out = Path(tempfile.mkdtemp())
    print(f"image {image.shape[0]}x{image.shape[1]} px, {len(lm)} levels")

    def overlay_png():
        ax = vm.plot_landmarks(image, lm, grades=grades)
        ax.figure.savefig(out / "overlay.png", dpi=100)

    rows = [
        ("plot_landmarks (draw only)", lambda: vm.plot_landmarks(image, lm, grades=grades)),
        ("plot_landmarks + save PNG", overlay_png),
        ("plot_ratios + plot_heights + plot_profile",
         lambda: (vm.plot.plot_ratios(morph, grades=grades),
                  vm.plot.plot_heights(morph, grades=grades), vm.plot.plot_profile(morph))),
        ("patient_report -> PNG 150 dpi",
         lambda: vm.plot.patient_report(image, lm, morphometry=morph, grades=grades,
                                        path=out / "r.png")),
        ("patient_report -> PDF",
         lambda: vm.plot.patient_report(image, lm, morphometry=morph, grades=grades,
                                        path=out / "r.pdf")),
    ]
    for name, fn in rows:
        print(f"{name:45s} {best_of(fn) * 1000:8.1f} ms per figure")

    editor = vm.place_landmarks(image, lm.levels)
    canvas = editor.figure.canvas
    canvas.draw()
    points = [tuple(p) for level in lm.levels for p in lm[level]]

    def send(name, xy):
        x, y = editor.ax.transData.transform(xy)
        canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, button=1))

    t0 = time.perf_counter()
    for xy in points:
        send("button_press_event", xy)
        send("button_release_event", xy)
    per_click = (time.perf_counter() - t0) / len(points)
    t0 = time.perf_counter()
    send("button_press_event", points[2])
    steps = 20
    for k in range(steps):
        send("motion_notify_event", (points[2][0] + k, points[2][1]))
    send("button_release_event", (points[2][0] + steps - 1, points[2][1]))
    per_motion = (time.perf_counter() - t0) / steps
    print(f"{'editor: one click (model + full Agg redraw)':45s} {per_click * 1000:8.1f} ms "
          f"({len(points)} clicks)")
    print(f"{'editor: one drag step (model + blit)':45s} {per_motion * 1000:8.1f} ms")
    assert editor.landmarks.levels == lm.levels


if __name__ == "__main__":
    main()
