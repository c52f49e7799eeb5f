"""vcfmeasure: vertebral height loss on lateral spine radiographs.

Load a radiograph, place or detect six landmarks per vertebra, measure heights, ratios
and angles, grade (Genant SQ, quantitative morphometry) and compare pre/post kyphoplasty.

>>> import vcfmeasure as vm
>>> vm.POINT_NAMES
('sp', 'sm', 'sa', 'ia', 'im', 'ip')

Heavy dependencies (pydicom, matplotlib, pandas, dask, highdicom) are imported only when
a function that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import (
    DicomError,
    DomainWarning,
    FileFormatError,
    ImageError,
    ImageWarning,
    LandmarkError,
    MissingDependencyError,
    PlausibilityWarning,
    SpacingError,
    SpacingWarning,
    VcfMeasureError,
    VcfMeasureWarning,
)
from .landmarks import Landmarks, Provenance
from .levels import LEVELS, POINT_NAMES
from .radiograph import Radiograph

__version__ = "0.1.0"

# public name -> module that defines it; imported on first access (PEP 562).
_LAZY = {
    "measure": "vcfmeasure.morphometry",
    "Morphometry": "vcfmeasure.morphometry",
    "grade": "vcfmeasure.grading",
    "Grades": "vcfmeasure.grading",
    "compare": "vcfmeasure.restoration",
    "Restoration": "vcfmeasure.restoration",
    "load_image": "vcfmeasure.io.images",
    "calibrate_spacing": "vcfmeasure.io.images",
    "read_metadata": "vcfmeasure.io.images",
    "read_landmarks": "vcfmeasure.io.landmark_files",
    "write_landmarks": "vcfmeasure.io.landmark_files",
    "read_landmarks_all": "vcfmeasure.io.landmark_files",
    "results_table": "vcfmeasure.tables",
    "write_results": "vcfmeasure.io.results",
    "write_sr": "vcfmeasure.io.sr",
    "detect_landmarks": "vcfmeasure.detect",
    "refine_landmarks": "vcfmeasure.detect",
    "plot_landmarks": "vcfmeasure.plot",
    "place_landmarks": "vcfmeasure.interactive",
    "measure_cement": "vcfmeasure.cement",
}
_SUBMODULES = {"geometry", "io", "synthetic", "plot", "batch", "cohort", "criteria", "cli",
               "tables", "cement"}

__all__ = [
    "LEVELS",
    "POINT_NAMES",
    "DicomError",
    "DomainWarning",
    "FileFormatError",
    "ImageError",
    "ImageWarning",
    "LandmarkError",
    "Landmarks",
    "MissingDependencyError",
    "PlausibilityWarning",
    "Provenance",
    "Radiograph",
    "SpacingError",
    "SpacingWarning",
    "VcfMeasureError",
    "VcfMeasureWarning",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"vcfmeasure.{name}")
    raise AttributeError(f"module 'vcfmeasure' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names only: not the helpers this module imports (Any, importlib, ...)
    return sorted(set(__all__) | _SUBMODULES | {"__version__"})
