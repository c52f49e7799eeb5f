"""load_image against pydicom's own pixel_array: time and peak memory per file.

Run: /work/venv/bin/python benchmarks/bench_load.py [--repeat N]

Files: a synthetic 2500 x 3000 16-bit CR written natively and as JPEG 2000 lossless
(generated into a temporary folder), and the real JPEG Lossless CR from the shared data
set (or the small JPEG Lossless fixture). Targets (issue 3): time overhead <= 1.3x,
peak traced memory <= 3x the decoded array. Peak memory is what tracemalloc sees
(Python and NumPy allocations; buffers inside C decoders are not traced).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dicom_factory import FIXTURES, SHARED, image, write  # noqa: E402

from vcfmeasure import load_image  # noqa: E402


def synthetic(rows=3000, cols=2500):
    """A smooth 12-bit radiograph-like image with noise (compresses like a real one)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    body = 2000 + 1200 * np.sin(x / 300) * np.cos(y / 400)
    noise = rng.normal(0, 20, (rows, cols)).astype(np.float32)
    return np.clip(body + noise, 0, 4095).astype(np.uint16)


def make_files(folder: Path) -> dict[str, Path]:
    from pydicom.uid import JPEG2000Lossless

    arr = synthetic()
    ds = image(arr, bits_stored=12, photometric="MONOCHROME1", RescaleSlope=1.0,
               RescaleIntercept=0.0, ImagerPixelSpacing=[0.14, 0.14],
               EstimatedRadiographicMagnificationFactor=1.15)
    files = {"native 2500x3000 16-bit": write(ds, folder / "native.dcm")}
    try:
        ds.compress(JPEG2000Lossless)
        files["JPEG 2000 lossless 2500x3000"] = write(ds, folder / "j2k.dcm")
    except Exception as exc:  # encoder plugin missing
        print(f"(skipping JPEG 2000: {exc})")
    real = SHARED / "CR-ModalitySequenceLUT.dcm"
    if not real.exists():
        real = FIXTURES / "JPEGLosslessP14SV1_1s_1f_u_16_16.dcm"
    files[f"JPEG Lossless {real.name}"] = real
    return files


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def peak_memory(fn):
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def compare(ref, ours, repeat):
    """Median times of ``ref`` and ``ours``, run alternately (fair on a busy machine)."""
    ref(), ours()  # warm the page cache and imports
    t_ref, t_ours = [], []
    for _ in range(repeat):
        t_ref.append(timed(ref))
        t_ours.append(timed(ours))
    return statistics.median(t_ref), statistics.median(t_ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp))
        header = (f"{'file':44s} {'pydicom s':>9s} {'load s':>8s} {'time x':>6s} "
                  f"{'decoded MB':>10s} {'pyd peak x':>10s} {'load peak x':>11s} "
                  f"{'out MB':>7s}")
        print(header)
        print("-" * len(header))
        for name, path in files.items():
            ref = partial(lambda p: pydicom.dcmread(p).pixel_array, path)
            ours = partial(load_image, path)
            t_ref, t_load = compare(ref, ours, args.repeat)
            peak_ref, arr = peak_memory(ref)
            peak_load, rg = peak_memory(ours)
            decoded = arr.nbytes
            print(f"{name[:44]:44s} {t_ref:9.3f} {t_load:8.3f} {t_load / t_ref:6.2f} "
                  f"{decoded / 1e6:10.1f} {peak_ref / decoded:10.2f} "
                  f"{peak_load / decoded:11.2f} {rg.pixels.nbytes / 1e6:7.1f}")
    print("time x = load_image / pydicom pixel_array (median); peak x = peak traced "
          "memory / decoded array (pydicom's pixel_array nbytes); out = float32 pixels.")


if __name__ == "__main__":
    main()
