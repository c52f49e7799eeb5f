"""Refinement-specific benchmark figures: vertebrae improved, and one-click placement.

Kept apart from ``_accuracy_lib`` (which scores any method) so that the two extend
independently: :func:`improvement` compares two :class:`~_accuracy_lib.Result` objects
vertebra by vertebra; :func:`oneclick_method` is a method for ``evaluate`` that clicks once
inside the central half of each body and calls ``detect_landmarks(centres=...)``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import vcfmeasure as vm


def central_half_clicks(truth: vm.Landmarks, rng: np.random.Generator) -> dict[str, Any]:
    """One click per body, uniform over the central half of its depth and height.

    The body frame is the true outline's: half a depth along posterior -> anterior (the
    mean of the endplate chords) and half a height along cranial -> caudal (the mean of
    the walls), around the mean of the four corners.
    """
    out = {}
    for lv in truth.levels:
        p = np.asarray(truth[lv])
        ap = 0.5 * (p[2] + p[3] - p[0] - p[5])
        cc = 0.5 * (p[5] + p[3] - p[0] - p[2])
        a, b = rng.uniform(-0.25, 0.25, 2)
        out[lv] = tuple(p[[0, 2, 3, 5]].mean(axis=0) + a * ap + b * cc)
    return out


def oneclick_method(seed: int = 11) -> Callable[[Any], vm.Landmarks]:
    """One click inside the central half of each body (seeded per case), then placement."""

    def method(case: Any) -> vm.Landmarks:
        rng = np.random.default_rng([zlib.crc32(case.name.encode()), seed])
        clicks = central_half_clicks(case.spine.landmarks, rng)
        return vm.detect_landmarks(case.spine.radiograph, centres=clicks)

    method.__name__ = "one click per body"
    return method


def improvement(
    before: Any, after: Any, conditions: Sequence[tuple[str, Callable[[dict], bool]]]
) -> list[dict[str, Any]]:
    """Share of vertebrae whose mean point error fell, per condition.

    ``before`` and ``after`` are ``evaluate`` results on the same cases (the clicks, and
    their refinement); a vertebra missing from either is not counted.
    """
    base = {(r["case"], r["level"]): r for r in before.rows if not r["missed"]}
    table = []
    for name, keep in conditions:
        better, n = 0, 0
        for r in after.rows:
            b = base.get((r["case"], r["level"]))
            if b is None or r["missed"] or not keep(r):
                continue
            n += 1
            better += float(np.mean(r["point_err_mm"])) < float(np.mean(b["point_err_mm"]))
        if n:
            table.append({"condition": name, "vertebrae": n, "improved": better / n})
    return table


def format_improvement(table: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`improvement` rows."""
    lines = ["| condition | n | improved |", "|---|---|---|"]
    lines += [f"| {r['condition']} | {r['vertebrae']} | {100 * r['improved']:.1f} % |"
              for r in table]
    return "\n".join(lines)
