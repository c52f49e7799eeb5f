"""Argument checks at the public boundary: a misused call fails at once, named.

Every check raises a :class:`~vcfmeasure.VcfMeasureError` (or the subclass that fits)
whose message names the function and argument, says what was given and what to pass
instead, e.g. ``grade(): morphometry must be the result of vm.measure(); got Landmarks
(3 levels) — call vm.measure(landmarks, spacing=...) first``. The per-function checks
(``check_grade`` ...) are called on the first line of each public function, so that the
numerical code below them never sees a wrong type.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._errors import (
    FileFormatError,
    ImageError,
    LandmarkError,
    SpacingError,
    VcfMeasureError,
)

__all__ = ["describe", "arg_error", "check_number", "check_choice", "check_path",
           "check_spacing", "check_morphometry", "check_landmarks"]


def describe(value: Any) -> str:
    """A short description of what was given: type and a clipped value.

    Examples
    --------
    >>> describe(None), describe("abc"), describe(np.zeros((2, 3)))
    ('None', "str 'abc'", 'ndarray of shape (2, 3), dtype float64')
    """
    if value is None:
        return "None"
    name = type(value).__name__
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape}, dtype {value.dtype}"
    if hasattr(value, "levels") and hasattr(value, "unit") and not isinstance(value, type):
        return f"{name} ({len(value.levels)} levels)"
    if hasattr(value, "levels") and isinstance(value, Mapping):
        return f"{name} ({len(value)} levels)"
    if name in ("DataFrame", "Series"):
        return f"pandas {name} of shape {getattr(value, 'shape', '?')}"
    text = repr(value)
    return f"{name} {text[:60] + '...' if len(text) > 60 else text}"


def arg_error(func: str, arg: str, value: Any, expected: str, hint: str = "",
              kind: type[VcfMeasureError] = VcfMeasureError) -> VcfMeasureError:
    """The error for ``func(arg=value)`` when ``expected`` was wanted.

    Examples
    --------
    >>> str(arg_error("grade", "max_gap", -1, "a whole number >= 0"))
    'grade(): max_gap must be a whole number >= 0; got int -1'
    """
    more = f" — {hint}" if hint else ""
    return kind(f"{func}(): {arg} must be {expected}; got {describe(value)}{more}")


def check_number(value: Any, func: str, arg: str, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False, integer: bool = False,
                 none: bool = False, kind: type[VcfMeasureError] = VcfMeasureError) -> None:
    """A real number (not bool, finite) within ``[low, high]`` (``(low, high]``)."""
    if value is None and none:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if ok and integer:
        ok = isinstance(value, numbers.Integral)
    if ok:
        f = float(value)
        ok = math.isfinite(f) and (low is None or (f > low if low_open else f >= low)) and (
            high is None or f <= high)
    if not ok:
        what = "a whole number" if integer else "a finite number"
        if low is not None:
            what += f" {'>' if low_open else '>='} {low:g}"
        if high is not None:
            what += f"{' and' if low is not None else ''} <= {high:g}"
        raise arg_error(func, arg, value, what + (" or None" if none else ""), kind=kind)


def check_choice(value: Any, choices: Iterable[str], func: str, arg: str) -> None:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise arg_error(func, arg, value, "one of " + ", ".join(map(repr, choices)))


def check_path(value: Any, func: str, arg: str,
               kind: type[VcfMeasureError] = FileFormatError) -> None:
    if not isinstance(value, str | os.PathLike) or (isinstance(value, str) and not value):
        raise arg_error(func, arg, value, "a file path (str or pathlib.Path)", kind=kind)


#: Largest spacing accepted as an argument, in mm per pixel (radiographs: 0.05 to 1).
MAX_SPACING_MM = 1000.0


def check_spacing(value: Any, func: str, arg: str = "spacing", *,
                  radiograph: bool = False) -> None:
    """None, a positive mm per pixel, or a pair ``(row_mm, col_mm)`` (or a Radiograph)."""
    if value is None:
        return
    if radiograph and hasattr(value, "spacing") and hasattr(value, "spacing_source"):
        return  # a Radiograph (or a header with its spacing)
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        values = [value]
    elif (isinstance(value, tuple | list | np.ndarray) and len(value) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)
                  for v in value)):
        values = list(value)
    else:
        values = []
    if not values or not all(math.isfinite(float(v)) and 0 < float(v) <= MAX_SPACING_MM
                             for v in values):
        extra = " or a Radiograph" if radiograph else ""
        raise arg_error(func, arg, value, f"mm per pixel: a number in (0, {MAX_SPACING_MM:g}] "
                        f"or a pair (row_mm, col_mm){extra}, or None", kind=SpacingError)


def _is_morphometry(value: Any) -> bool:
    return type(value).__name__ == "Morphometry" and hasattr(value, "landmarks")


def check_morphometry(value: Any, func: str, arg: str) -> None:
    """The result of :func:`vcfmeasure.measure`."""
    if _is_morphometry(value):
        return
    hint = ""
    if isinstance(value, Mapping) and type(value).__name__ == "Landmarks":
        hint = "call vm.measure(landmarks, spacing=...) first"
    elif type(value).__name__ == "Radiograph":
        hint = "measure its landmarks: vm.measure(landmarks, spacing=radiograph)"
    raise arg_error(func, arg, value, "the result of vm.measure() (a Morphometry)", hint)


def check_landmarks(value: Any, func: str, arg: str = "landmarks") -> None:
    if type(value).__name__ == "Landmarks" and isinstance(value, Mapping):
        return
    hint = "build one with Landmarks({...}) or read_landmarks(path)"
    if _is_morphometry(value):
        hint = f"pass its .landmarks ({func}(morphometry.landmarks, ...))"
    raise LandmarkError(f"{func}() needs a vcfmeasure.Landmarks as {arg}, got "
                        f"{describe(value)}; {hint}")


# ------------------------------------------------------------------ per function


def check_measure(landmarks: Any, spacing: Any, crush: Any, height_method: Any) -> None:
    check_landmarks(landmarks, "measure")
    check_spacing(spacing, "measure", radiograph=True)
    check_choice(crush, ("mean", "above", "below"), "measure", "crush")
    check_choice(height_method, ("euclidean", "perpendicular"), "measure", "height_method")


def check_grade(morphometry: Any, reference: Any, strategies: Iterable[str],
                normal_ratio: Any, max_gap: Any, borderline_margin: Any) -> None:
    check_morphometry(morphometry, "grade", "morphometry")
    if not isinstance(reference, str):  # an unknown name: grade() lists the strategies
        check_choice(reference, strategies, "grade", "reference")
    check_number(normal_ratio, "grade", "normal_ratio", low=0, high=1, low_open=True)
    check_number(max_gap, "grade", "max_gap", low=0, integer=True)
    check_number(borderline_margin, "grade", "borderline_margin", low=0, high=1)


def check_compare(pre: Any, post: Any, follow_up: Any, treated: Any, numbers_: dict[str, Any],
                  max_gap: Any) -> None:
    check_morphometry(pre, "compare", "pre")
    check_morphometry(post, "compare", "post")
    if follow_up is not None:
        check_morphometry(follow_up, "compare", "follow_up")
    if treated is not None and (
            isinstance(treated, Mapping | np.ndarray) or not isinstance(treated, Iterable)
            or not all(isinstance(t, str) for t in treated)):
        raise arg_error("compare", "treated", treated,
                        "level names such as ['L1', 'L2'] (or a string 'L1 L2'), or None")
    for name, value in numbers_.items():
        check_number(value, "compare", name, low=0)
    check_number(max_gap, "compare", "max_gap", low=0, integer=True)


def check_image_source(source: Any, func: str) -> None:
    if isinstance(source, str | os.PathLike) and os.fspath(source):
        return
    if type(source).__name__ in ("Dataset", "FileDataset"):
        return
    hint = ""
    expected = "a file path or a pydicom Dataset"
    if func == "load_image":  # load_image also takes a 2-D array of pixels
        expected = "a file path, a pydicom Dataset or a 2-D array"
    elif isinstance(source, np.ndarray):
        hint = "wrap pixels as vm.Radiograph(pixels, spacing=...) instead of loading them"
    raise arg_error(func, "source", source, expected, hint, kind=ImageError)


def check_load_image(source: Any, spacing: Any, frame: Any, max_pixels: Any) -> None:
    if not isinstance(source, np.ndarray):
        check_image_source(source, "load_image")
    check_spacing(spacing, "load_image")
    if isinstance(frame, numbers.Integral) and not isinstance(frame, bool) and frame < 0:
        raise arg_error("load_image", "frame", frame, "an integer index >= 0 (0-based)",
                        kind=ImageError)
    check_number(max_pixels, "load_image", "max_pixels", low=1, integer=True, none=True,
                 kind=ImageError)


def check_radiograph(value: Any, func: str, arg: str = "radiograph", *,
                     none: bool = False) -> None:
    if value is None and none:
        return
    if none and isinstance(value, np.ndarray) and value.ndim == 2:
        return
    if type(value).__name__ != "Radiograph":
        raise arg_error(func, arg, value, "a vm.Radiograph (from vm.load_image)",
                        kind=ImageError)


def check_point(value: Any, func: str, arg: str) -> None:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = np.array([])
    if isinstance(value, str) or arr.shape != (2,) or not np.isfinite(arr).all():
        raise arg_error(func, arg, value, "a point (x, y) of two finite numbers in pixels",
                        kind=SpacingError)


def check_pixels(pixels: Any, func: str = "Radiograph") -> None:
    arr = pixels if isinstance(pixels, np.ndarray) else None
    ok = arr is not None and arr.ndim == 2 and arr.shape[0] > 0 and arr.shape[1] > 0 and (
        arr.dtype.kind in "uifb")
    if not ok:
        raise arg_error(func, "pixels", pixels,
                        "a 2-D NumPy array of real grey values, at least 1 x 1 (rows, cols)",
                        kind=ImageError)


def check_calibrate(radiograph: Any, xy0: Any, xy1: Any, length_mm: Any, aspect: Any) -> None:
    check_radiograph(radiograph, "calibrate_spacing")
    check_point(xy0, "calibrate_spacing", "xy0")
    check_point(xy1, "calibrate_spacing", "xy1")
    check_number(length_mm, "calibrate_spacing", "length_mm", low=0, low_open=True,
                 kind=SpacingError)
    check_number(aspect, "calibrate_spacing", "aspect", low=0, low_open=True, none=True,
                 kind=SpacingError)


def check_points(points: Any) -> None:
    """The ``points`` of :class:`vcfmeasure.Landmarks`: level name -> six (x, y) points."""
    if isinstance(points, Mapping):
        items = list(points.items())
    elif isinstance(points, list | tuple):
        items = list(points)
        if not all(isinstance(it, tuple | list) and len(it) == 2 for it in items):
            raise arg_error("Landmarks", "points", points,
                            "a mapping level -> six (x, y) points, or (level, points) pairs",
                            kind=LandmarkError)
    elif isinstance(points, Iterable) and not isinstance(points, str | bytes | np.ndarray):
        return  # a generator of (level, points): checked as it is read
    else:
        hint = "pass morphometry.landmarks" if _is_morphometry(points) else ""
        raise arg_error("Landmarks", "points", points,
                        "a mapping level -> six (x, y) points, e.g. {'L1': array of shape "
                        "(6, 2)}", hint, kind=LandmarkError)
    for name, value in items:
        if not isinstance(name, str):
            raise arg_error("Landmarks", "points", name,
                            "keyed by level names such as 'L1' (a level key)",
                            kind=LandmarkError)
        if value is None or (not isinstance(value, str)
                             and np.asarray(value).dtype.kind in "cO"):
            raise LandmarkError(f"{name}: points must be real numbers, a (6, 2) array of "
                                f"(x, y) in pixels; got {describe(value)}")


def check_results_obj(obj: Any) -> None:
    """What :func:`vcfmeasure.write_results` writes."""
    if type(obj).__name__ == "DataFrame" or (
            hasattr(obj, "to_dataframe") and hasattr(obj, "to_records")):
        return
    if isinstance(obj, list | tuple) and all(isinstance(r, Mapping) for r in obj):
        return
    hint = ("measure them first: vm.write_results(vm.measure(landmarks), path)"
            if type(obj).__name__ == "Landmarks" else "")
    raise arg_error("write_results", "obj", obj, "a Morphometry, Grades, Restoration, "
                    "pandas DataFrame or list of records", hint, kind=FileFormatError)


def check_many(inputs: Any, spacing: Any, levels: Any, func: str, arg: str) -> None:
    """The common arguments of :func:`grade_many` and :func:`compare_many`."""
    ok = isinstance(inputs, str | os.PathLike) or (
        isinstance(inputs, list | tuple)
        and all(isinstance(i, str | os.PathLike) or type(i).__name__ == "Task" for i in inputs))
    if not ok:
        raise arg_error(func, arg, inputs, "a path, glob pattern or manifest, or a list of "
                        "them (or of batch.Task)")
    check_spacing(spacing, func)
    if levels is not None:
        from .levels import normalize_level

        if isinstance(levels, str) or not isinstance(levels, Iterable):
            raise arg_error(func, "levels", levels, "a list of level names such as "
                            "['T12', 'L1']")
        for lv in levels:
            try:
                normalize_level(lv)
            except (LandmarkError, TypeError, AttributeError):
                raise arg_error(func, "levels", levels, "a list of level names such as "
                                "['T12', 'L1']") from None


# ------------------------------------------------------------------ the image half


def check_levels_arg(value: Any, func: str, arg: str = "levels", *, single: bool = True,
                     none: bool = True) -> None:
    """Level names: one (``"L1"``, when ``single``) or a sequence of them (any order)."""
    from .levels import normalize_level

    if value is None and none:
        return
    names: list[Any]
    if isinstance(value, str):  # one name, a range "T12-L2" or "T12, L1" (checked there)
        names = [n for n in value.replace(",", " ").replace("-", " ").split()] if single \
            else value.replace(",", " ").split()
    elif isinstance(value, Mapping | np.ndarray) or not isinstance(value, Iterable):
        names = []
    else:
        names = list(value)
    ok = bool(names) and all(isinstance(n, str) for n in names)
    if ok:
        try:
            for n in names:
                normalize_level(n)
        except LandmarkError:
            ok = False
    if not ok:
        expected = ("a level name such as 'L1' or a list of them such as ['T12', 'L1']"
                    if single else "a list of level names such as ['T12', 'L1']")
        raise arg_error(func, arg, value, expected + (", or None" if none else ""),
                        kind=LandmarkError)


def check_bool(value: Any, func: str, arg: str) -> None:
    if not isinstance(value, bool | np.bool_):
        raise arg_error(func, arg, value, "True or False")


def _image_arg(value: Any, func: str, *, arrays: bool) -> None:
    if type(value).__name__ == "Radiograph":
        return
    if arrays and isinstance(value, np.ndarray) and value.ndim == 2:
        return
    hint = ""
    if type(value).__name__ == "Landmarks":
        hint = f"the image comes first: {func}(radiograph, landmarks, ...)"
    expected = "a vm.Radiograph (from vm.load_image)" + (" or a 2-D array" if arrays else "")
    raise arg_error(func, "radiograph", value, expected, hint, kind=ImageError)


def check_detect(radiograph: Any, levels: Any, anchor: Any, review_threshold: Any,
                 refine: Any) -> None:
    """:func:`vcfmeasure.detect_landmarks` (``centres`` is checked where it is read)."""
    _image_arg(radiograph, "detect_landmarks", arrays=True)
    check_levels_arg(levels, "detect_landmarks")
    check_choice(anchor, ("caudal", "cranial"), "detect_landmarks", "anchor")
    check_number(review_threshold, "detect_landmarks", "review_threshold", low=0, high=1)
    check_bool(refine, "detect_landmarks", "refine")


def check_refine(radiograph: Any, landmarks: Any, passes: Any, double_contours: Any,
                 model: Any = None) -> None:
    """:func:`vcfmeasure.refine_landmarks` (the ranges of the numbers: ``_check_options``)."""
    _image_arg(radiograph, "refine_landmarks", arrays=False)
    check_landmarks(landmarks, "refine_landmarks")
    check_number(passes, "refine_landmarks", "passes", low=1, integer=True)
    check_bool(double_contours, "refine_landmarks", "double_contours")
    if model is not None:
        check_bool(model, "refine_landmarks", "model")


def check_place(levels: Any, landmarks: Any, snap: Any) -> None:
    """:func:`vcfmeasure.place_landmarks` (image, ``mode``, ``facing``: checked there)."""
    check_levels_arg(levels, "place_landmarks", none=False)
    if landmarks is not None:
        check_landmarks(landmarks, "place_landmarks")
    if not (isinstance(snap, bool | np.bool_) or callable(snap)):
        raise arg_error("place_landmarks", "snap", snap,
                        "True, False or a function (radiograph, landmarks) -> Landmarks")


def _result_arg(value: Any, kind: str, func: str, arg: str, made_by: str,
                none: bool = False) -> None:
    if value is None and none:
        return
    if type(value).__name__ != kind:
        raise arg_error(func, arg, value, f"the result of {made_by} (a {kind})"
                        + (", or None" if none else ""))


def check_write_sr(morphometry: Any, grades: Any, path: Any, series_number: Any,
                   instance_number: Any, manufacturer: Any) -> None:
    """:func:`vcfmeasure.write_sr` (``source`` is checked where it is read)."""
    check_morphometry(morphometry, "write_sr", "morphometry")
    _result_arg(grades, "Grades", "write_sr", "grades", "vm.grade()", none=True)
    check_path(path, "write_sr", "path")
    for name, value in (("series_number", series_number), ("instance_number", instance_number)):
        check_number(value, "write_sr", name, low=1, high=2**31 - 1, integer=True)
    if not isinstance(manufacturer, str) or not manufacturer or len(manufacturer) > 64:
        raise arg_error("write_sr", "manufacturer", manufacturer,
                        "a non-empty text of at most 64 characters (DICOM LO)")


def check_results_table(morphometry: Any, grades: Any, restoration: Any) -> None:
    """:func:`vcfmeasure.results_table`."""
    check_morphometry(morphometry, "results_table", "morphometry")
    _result_arg(grades, "Grades", "results_table", "grades", "vm.grade()", none=True)
    _result_arg(restoration, "Restoration", "results_table", "restoration",
                "vm.compare()", none=True)


def check_measure_cement(radiograph: Any, landmarks: Any, levels: Any, procedures: Any,
                         numbers_: dict[str, Any]) -> None:
    """:func:`vcfmeasure.measure_cement`."""
    _image_arg(radiograph, "measure_cement", arrays=False)
    check_landmarks(landmarks, "measure_cement")
    check_levels_arg(levels, "measure_cement")
    if procedures is not None and not (
            isinstance(procedures, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in procedures.items())):
        raise arg_error("measure_cement", "procedures", procedures,
                        "a mapping level -> procedure, e.g. {'L1': 'kyphoplasty'}, or None")
    for name, value in numbers_.items():
        check_number(value, "measure_cement", name, low=0, low_open=True)


def _real_point(value: Any) -> bool:
    """Whether ``value`` is one (x, y) pair of real numbers."""
    if isinstance(value, str | bytes | Mapping) or value is None:
        return False
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):  # ragged
        return False
    return arr.shape == (2,) and arr.dtype.kind in "iuf"


def check_from_dict(data: Any) -> None:
    """The ``data`` of :meth:`vcfmeasure.Landmarks.from_dict`: level -> point name -> (x, y)."""
    func = "Landmarks.from_dict"
    example = "e.g. {'L1': {'sp': (x, y), 'sm': ..., 'ip': (x, y)}}"
    if not isinstance(data, Mapping) or _is_morphometry(data):
        hint = "a Landmarks already holds its points" if hasattr(data, "levels") else ""
        raise arg_error(func, "data", data, f"a mapping level -> named points, {example}",
                        hint, kind=LandmarkError)
    for level, named in data.items():
        if not isinstance(level, str):
            raise arg_error(func, "data", level, "keyed by level names such as 'L1' (a level "
                            "key)", kind=LandmarkError)
        if not isinstance(named, Mapping):
            raise arg_error(func, f"data[{level!r}]", named, "a mapping point name -> (x, y), "
                            f"{example}", "for a (6, 2) array use Landmarks({level: array})",
                            kind=LandmarkError)
        for point, xy in named.items():
            if not _real_point(xy):
                raise arg_error(func, f"data[{level!r}][{point!r}]", xy,
                                "an (x, y) pair of real numbers in pixels", kind=LandmarkError)


def check_from_array(xy: Any, levels: Any) -> None:
    """The arguments of :meth:`vcfmeasure.Landmarks.from_array`."""
    func = "Landmarks.from_array"
    try:
        arr = None if xy is None or isinstance(xy, str | bytes | Mapping) else np.asarray(xy)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf" or arr.ndim != 3 or arr.shape[1:] != (6, 2):
        raise arg_error(func, "xy", xy, "a real (N, 6, 2) array of (x, y) in pixels, points "
                        "in the order sp sm sa ia im ip", kind=LandmarkError)
    if isinstance(levels, str) or not isinstance(levels, Iterable) or isinstance(
            levels, Mapping | np.ndarray) or type(levels).__name__ in ("DataFrame", "Series"):
        raise arg_error(func, "levels", levels, f"a list of {arr.shape[0]} level names such "
                        "as ['L1', 'L2']", kind=LandmarkError)
