"""Misused calls to the public API end in a VcfMeasureError naming the argument.

One parametrized test per public function: each wrong value of each argument (None,
numbers, text, lists, dicts, arrays of the wrong shape or dtype, pandas objects, a
record of the wrong kind) must raise a :class:`vcfmeasure.VcfMeasureError` whose message
names the argument and what was given, never a foreign ``TypeError``/``AttributeError``,
and never be accepted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import vcfmeasure as vm
from tests.fixtures.batch_data import spine

LM = spine()
MORPH = vm.measure(LM, spacing=0.2)
PTS = {"sp": (0, 0), "sm": (5, 0), "sa": (10, 0), "ia": (10, 9), "im": (5, 9), "ip": (0, 10)}
RG = vm.Radiograph(np.zeros((160, 120), np.float32), spacing=(0.2, 0.2))

#: Values no argument of the API accepts in place of a record.
JUNK = {
    "None": None,
    "int": 5,
    "float": 1.5,
    "str": "abc",
    "list": [1, 2],
    "dict": {"a": 1},
    "array": np.zeros((3, 3)),
    "series": pd.Series([1.0, 2.0]),
    "frame": pd.DataFrame({"a": [1]}),
}


def _junk(*skip: str, **extra):
    return {**{k: v for k, v in JUNK.items() if k not in skip}, **extra}


def _misuse(func, arg: str, bad: dict, call):
    return [pytest.param(func, arg, value, call, id=f"{arg}={name}")
            for name, value in bad.items()]


CASES = {
    "measure": [
        *_misuse("measure", "landmarks", _junk(landmarks_morph=MORPH, radiograph=RG),
                 lambda v: vm.measure(v)),
        *_misuse("measure", "spacing", {"str": "abc", "list3": [0.1, 0.2, 0.3],
                                        "one": (0.1,), "neg": -0.2, "zero": 0.0,
                                        "nan": math.nan, "dict": {"a": 1},
                                        "landmarks": LM, "complex": 1j},
                 lambda v: vm.measure(LM, spacing=v)),
        *_misuse("measure", "crush", {"None": None, "int": 5, "other": "median"},
                 lambda v: vm.measure(LM, crush=v)),
        *_misuse("measure", "height_method", {"None": None, "int": 5, "other": "max"},
                 lambda v: vm.measure(LM, height_method=v)),
    ],
    "grade": [
        *_misuse("grade", "morphometry", _junk(landmarks=LM, radiograph=RG),
                 lambda v: vm.grade(v)),
        *_misuse("grade", "reference", {"None": None, "int": 5, "other": "genant"},
                 lambda v: vm.grade(MORPH, reference=v)),
        *_misuse("grade", "max_gap", {"neg": -1, "float": 1.5, "str": "3", "None": None,
                                      "bool": True},
                 lambda v: vm.grade(MORPH, max_gap=v)),
        *_misuse("grade", "normal_ratio", {"nan": math.nan, "neg": -0.5, "big": 2.0,
                                           "str": "0.8", "None": None},
                 lambda v: vm.grade(MORPH, normal_ratio=v)),
        *_misuse("grade", "borderline_margin", {"nan": math.nan, "neg": -0.1, "str": "x"},
                 lambda v: vm.grade(MORPH, borderline_margin=v)),
    ],
    "compare": [
        *_misuse("compare", "pre", _junk(landmarks=LM), lambda v: vm.compare(v, MORPH)),
        *_misuse("compare", "post", _junk(landmarks=LM), lambda v: vm.compare(MORPH, v)),
        *_misuse("compare", "follow_up", _junk("None", landmarks=LM),
                 lambda v: vm.compare(MORPH, MORPH, follow_up=v)),
        *_misuse("compare", "treated", {"int": 5, "dict_num": {1: 2}, "list_num": [1, 2],
                                        "array": np.zeros(2)},
                 lambda v: vm.compare(MORPH, MORPH, treated=v)),
        *_misuse("compare", "min_loss", {"nan": math.nan, "neg": -1.0, "str": "x",
                                         "None": None},
                 lambda v: vm.compare(MORPH, MORPH, min_loss=v)),
        *_misuse("compare", "recollapse_height", {"nan": math.nan, "neg": -1.0, "str": "x"},
                 lambda v: vm.compare(MORPH, MORPH, recollapse_height=v)),
        *_misuse("compare", "recollapse_angle", {"nan": math.nan, "neg": -1.0, "str": "x"},
                 lambda v: vm.compare(MORPH, MORPH, recollapse_angle=v)),
        *_misuse("compare", "max_gap", {"neg": -1, "float": 1.5, "str": "3"},
                 lambda v: vm.compare(MORPH, MORPH, max_gap=v)),
    ],
    "load_image": [
        *_misuse("load_image", "source", _junk("str", "array", landmarks=LM, bytes=b"x"),
                 lambda v: vm.load_image(v)),
        *_misuse("load_image", "frame", {"float": 1.5, "str": "0", "neg": -1},
                 lambda v: vm.load_image("missing.dcm", frame=v)),
        *_misuse("load_image", "max_pixels", {"zero": 0, "neg": -5, "str": "x",
                                              "float": 1.5},
                 lambda v: vm.load_image("missing.dcm", max_pixels=v)),
        *_misuse("load_image", "spacing", {"str": "abc", "neg": -1.0, "list3": [1, 2, 3]},
                 lambda v: vm.load_image("missing.dcm", spacing=v)),
    ],
    "read_metadata": _misuse("read_metadata", "source", _junk("str", landmarks=LM),
                             lambda v: vm.read_metadata(v)),
    "calibrate_spacing": [
        *_misuse("calibrate_spacing", "radiograph", _junk(landmarks=LM),
                 lambda v: vm.calibrate_spacing(v, (0, 0), (0, 10), 5.0)),
        *_misuse("calibrate_spacing", "xy0", {"None": None, "int": 5, "three": (1, 2, 3),
                                              "str": "ab", "nan": (math.nan, 0)},
                 lambda v: vm.calibrate_spacing(RG, v, (0, 10), 5.0)),
        *_misuse("calibrate_spacing", "length_mm", {"None": None, "neg": -5.0, "zero": 0,
                                                    "nan": math.nan, "str": "5"},
                 lambda v: vm.calibrate_spacing(RG, (0, 0), (0, 10), v)),
        *_misuse("calibrate_spacing", "aspect", {"neg": -1.0, "zero": 0.0, "str": "1"},
                 lambda v: vm.calibrate_spacing(RG, (0, 0), (0, 10), 5.0, aspect=v)),
    ],
    "read_landmarks": [
        *_misuse("read_landmarks", "path", _junk("str", landmarks=LM),
                 lambda v: vm.read_landmarks(v)),
        *_misuse("read_landmarks", "format", {"int": 5, "other": "dicom"},
                 lambda v: vm.read_landmarks("x.json", format=v)),
    ],
    "read_landmarks_all": _misuse("read_landmarks_all", "path", _junk("str", landmarks=LM),
                                  lambda v: vm.read_landmarks_all(v)),
    "write_landmarks": [
        *_misuse("write_landmarks", "landmarks", _junk("dict", morph=MORPH),
                 lambda v: vm.write_landmarks(v, "/tmp/never-written.json")),
        *_misuse("write_landmarks", "path", _junk("str", landmarks=LM),
                 lambda v: vm.write_landmarks(LM, v)),
    ],
    "write_results": [
        *_misuse("write_results", "obj", {"None": None, "int": 5, "str": "abc",
                                          "landmarks": LM, "array": np.zeros(3)},
                 lambda v: vm.write_results(v, "/tmp/never-written.csv")),
        *_misuse("write_results", "path", _junk("str"), lambda v: vm.write_results(MORPH, v)),
    ],
    "Landmarks": [
        *_misuse("Landmarks", "points", {"None": None, "int": 5, "str": "abc",
                                         "float_value": {"L1": 5},
                                         "none_value": {"L1": None},
                                         "str_value": {"L1": "abc"},
                                         "complex": {"L1": np.ones((6, 2), complex)},
                                         "object": {"L1": np.array([[None] * 2] * 6)},
                                         "shape": {"L1": np.zeros((5, 2))},
                                         "level_int": {5: np.zeros((6, 2))},
                                         "morph": MORPH},
                 lambda v: vm.Landmarks(v)),
    ],
    "Landmarks.from_dict": [
        *_misuse("Landmarks.from_dict", "data", _junk("dict", landmarks=LM, morph=MORPH,
                                                       level_int={5: dict(PTS)}),
                 lambda v: vm.Landmarks.from_dict(v)),
        *_misuse("Landmarks.from_dict", "data", _junk("dict", "list"),
                 lambda v: vm.Landmarks.from_dict({"L1": v})),
        *_misuse("Landmarks.from_dict", "data", _junk("list", "series", complex=(1j, 0.0),
                                                       three=(1, 2, 3), ragged=[1, [2]]),
                 lambda v: vm.Landmarks.from_dict({"L1": {**PTS, "sp": v}})),
    ],
    "Landmarks.from_array": [
        *_misuse("Landmarks.from_array", "xy", _junk(landmarks=LM, shape=np.zeros((1, 5, 2)),
                                                     complex=np.zeros((1, 6, 2), complex)),
                 lambda v: vm.Landmarks.from_array(v, ["L1"])),
        *_misuse("Landmarks.from_array", "levels", {"None": None, "int": 5, "float": 1.5,
                                                    "series": JUNK["series"]},
                 lambda v: vm.Landmarks.from_array(np.zeros((1, 6, 2)), v)),
    ],
    "Radiograph": [
        *_misuse("Radiograph", "pixels", {"None": None, "int": 5, "str": "abc",
                                          "empty": np.zeros((0, 0)),
                                          "rows0": np.zeros((0, 10)),
                                          "1d": np.zeros(10),
                                          "complex": np.zeros((4, 4), complex),
                                          "object": np.array([[None, 1]]),
                                          "list": [[1, 2]], "frame": pd.DataFrame({"a": [1]})},
                 lambda v: vm.Radiograph(v)),
        *_misuse("Radiograph", "spacing", {"str": "abc", "one": (0.1,), "neg": -0.1,
                                           "nan": math.nan, "three": (1, 2, 3)},
                 lambda v: vm.Radiograph(np.zeros((4, 4)), spacing=v)),
    ],
    "plot_landmarks": [
        *_misuse("plot_landmarks", "radiograph", {"int": 5, "str": "abc",
                                                  "landmarks": LM, "1d": np.zeros(4)},
                 lambda v: vm.plot_landmarks(v, LM)),
        *_misuse("plot_landmarks", "landmarks", _junk(morph=MORPH),
                 lambda v: vm.plot_landmarks(RG, v)),
    ],
    "grade_many": [
        *_misuse("grade_many", "spacing", {"str": "abc", "neg": -1.0, "list3": [1, 2, 3],
                                           "nan": math.nan},
                 lambda v: vm.batch.grade_many([], spacing=v)),
        *_misuse("grade_many", "inputs", {"None": None, "int": 5, "dict": {"a": 1},
                                          "array": np.zeros(3)},
                 lambda v: vm.batch.grade_many(v)),
        *_misuse("grade_many", "jobs", {"zero": 0, "str": "2", "float": 1.5},
                 lambda v: vm.batch.grade_many([], jobs=v)),
        *_misuse("grade_many", "levels", {"int": 5, "bad": ["X9"]},
                 lambda v: vm.batch.grade_many([], levels=v, detect=True)),
        *_misuse("grade_many", "reference", {"None": None, "other": "genant"},
                 lambda v: vm.batch.grade_many([], reference=v)),
    ],
    "compare_many": [
        *_misuse("compare_many", "spacing", {"str": "abc", "neg": -1.0},
                 lambda v: vm.batch.compare_many([], spacing=v)),
        *_misuse("compare_many", "manifest", {"None": None, "int": 5, "dict": {"a": 1}},
                 lambda v: vm.batch.compare_many(v)),
    ],
    "detect_landmarks": [
        *_misuse("detect_landmarks", "radiograph", _junk("array", landmarks=LM, empty=np.zeros(3)),
                 lambda v: vm.detect_landmarks(v)),
        *_misuse("detect_landmarks", "levels", {"int": 5, "numbers": [1, 2], "dict": {"L1": 1},
                                                "unknown": "X9", "empty": [],
                                                "array": np.zeros(2)},
                 lambda v: vm.detect_landmarks(RG, levels=v)),
        *_misuse("detect_landmarks", "anchor", {"None": None, "other": "middle", "int": 1},
                 lambda v: vm.detect_landmarks(RG, anchor=v)),
        *_misuse("detect_landmarks", "review_threshold", {"str": "a", "nan": math.nan,
                                                          "neg": -0.1, "big": 2.0, "None": None},
                 lambda v: vm.detect_landmarks(RG, review_threshold=v)),
        *_misuse("detect_landmarks", "refine", {"str": "yes", "None": None, "int": 1},
                 lambda v: vm.detect_landmarks(RG, refine=v)),
    ],
    "refine_landmarks": [
        *_misuse("refine_landmarks", "radiograph", _junk(landmarks=LM),
                 lambda v: vm.refine_landmarks(v, LM)),
        *_misuse("refine_landmarks", "landmarks", _junk(morph=MORPH, radiograph=RG),
                 lambda v: vm.refine_landmarks(RG, v)),
        *_misuse("refine_landmarks", "passes", {"float": 1.5, "zero": 0, "str": "2",
                                                "None": None},
                 lambda v: vm.refine_landmarks(RG, LM, passes=v)),
        *_misuse("refine_landmarks", "double_contours", {"str": "no", "None": None},
                 lambda v: vm.refine_landmarks(RG, LM, double_contours=v)),
        *_misuse("refine_landmarks", "search_mm", {"neg": -1.0, "huge": 1e9, "str": "a"},
                 lambda v: vm.refine_landmarks(RG, LM, search_mm=v)),
        *_misuse("refine_landmarks", "model", {"str": "yes", "int": 1, "list": [True]},
                 lambda v: vm.refine_landmarks(RG, LM, model=v)),
    ],
    "place_landmarks": [
        *_misuse("place_landmarks", "levels", {"None": None, "int": 5, "unknown": "X9",
                                               "numbers": [1, 2], "dict": {"L1": 1}},
                 lambda v: vm.place_landmarks(RG, v)),
        *_misuse("place_landmarks", "landmarks", {"morph": MORPH, "dict": {"L1": 1},
                                                  "int": 5},
                 lambda v: vm.place_landmarks(RG, "L1", landmarks=v)),
        *_misuse("place_landmarks", "snap", {"int": 3, "str": "yes", "None": None},
                 lambda v: vm.place_landmarks(RG, "L1", snap=v)),
        *_misuse("place_landmarks", "mode", {"other": "corners", "None": None},
                 lambda v: vm.place_landmarks(RG, "L1", mode=v)),
    ],
    "write_sr": [
        *_misuse("write_sr", "morphometry", _junk(landmarks=LM),
                 lambda v: vm.write_sr(v, None, RG, "x.dcm")),
        *_misuse("write_sr", "grades", {"morph": MORPH, "str": "x", "int": 5},
                 lambda v: vm.write_sr(MORPH, v, RG, "x.dcm")),
        *_misuse("write_sr", "path", {"None": None, "int": 5, "empty": ""},
                 lambda v: vm.write_sr(MORPH, None, RG, v)),
        *_misuse("write_sr", "series_number", {"neg": -1, "float": 1.5, "str": "9"},
                 lambda v: vm.write_sr(MORPH, None, RG, "x.dcm", series_number=v)),
        *_misuse("write_sr", "manufacturer", {"int": 5, "empty": "", "long": "m" * 65},
                 lambda v: vm.write_sr(MORPH, None, RG, "x.dcm", manufacturer=v)),
    ],
    "results_table": [
        *_misuse("results_table", "morphometry", _junk(landmarks=LM),
                 lambda v: vm.results_table(v)),
        *_misuse("results_table", "grades", {"morph": MORPH, "str": "x", "frame": JUNK["frame"]},
                 lambda v: vm.results_table(MORPH, v)),
        *_misuse("results_table", "restoration", {"grades": vm.grade(MORPH), "str": "x"},
                 lambda v: vm.results_table(MORPH, restoration=v)),
    ],
    "measure_cement": [
        *_misuse("measure_cement", "radiograph", _junk(landmarks=LM),
                 lambda v: vm.measure_cement(v, LM)),
        *_misuse("measure_cement", "landmarks", _junk(morph=MORPH),
                 lambda v: vm.measure_cement(RG, v)),
        *_misuse("measure_cement", "levels", {"int": 5, "unknown": ["X9"]},
                 lambda v: vm.measure_cement(RG, LM, levels=v)),
        *_misuse("measure_cement", "procedures", {"list": [1], "str": "kyphoplasty",
                                                  "values": {"L1": 5}},
                 lambda v: vm.measure_cement(RG, LM, procedures=v)),
        *_misuse("measure_cement", "margin_mm", {"neg": -1.0, "nan": math.nan, "str": "1"},
                 lambda v: vm.measure_cement(RG, LM, margin_mm=v)),
        *_misuse("measure_cement", "contrast", {"zero": 0.0, "None": None},
                 lambda v: vm.measure_cement(RG, LM, contrast=v)),
    ],
}


def _check(func, arg, value, call):
    import matplotlib

    matplotlib.use("Agg")
    with pytest.raises(vm.VcfMeasureError) as info:
        call(value)
    message = str(info.value)
    assert arg in message, f"{func}: the message does not name {arg!r}: {message}"


for _name, _cases in CASES.items():
    _name = _name.replace(".", "_")

    def _test(func, arg, value, call):
        _check(func, arg, value, call)

    globals()[f"test_{_name}_refuses_misuse"] = pytest.mark.parametrize(
        ("func", "arg", "value", "call"), _cases)(_test)


def test_the_table_is_large():
    assert sum(len(c) for c in CASES.values()) >= 300
