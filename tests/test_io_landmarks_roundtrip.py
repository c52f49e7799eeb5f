"""Every format returns the points it was given (<= 1e-6 px) for several spines."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcfmeasure import FileFormatError, Landmarks, Provenance
from vcfmeasure.io.landmark_files import (
    FORMATS,
    read_landmarks,
    read_landmarks_all,
    write_landmarks,
)
from vcfmeasure.levels import LEVELS

SUFFIX = {
    "json": ".json",
    "csv": ".csv",
    "slicer": ".mrk.json",
    "labelme": ".json",
    "coco": ".json",
    "cvat": ".xml",
}


def spine(first, count, *, facing="right", seed=0, scale=1.0):
    """A column of plausible bodies, cranial at the top; anterior to the right or left."""
    rng = np.random.default_rng(seed)
    start = LEVELS.index(first)
    body = np.array([[0, 0], [15, 1], [30, 0], [30, 26], [15, 25], [0, 27]], float)
    out = {}
    for k in range(count):
        xy = (body + [3 * k, 34 * k] + rng.uniform(-1.5, 1.5, (6, 2))) * scale + [200, 100]
        if facing == "left":
            xy[:, 0] = 800 - xy[:, 0]
        out[LEVELS[start + k]] = xy
    return Landmarks(out, image={"path": f"{first}.dcm", "shape": (1200, 900)})


SPINES = {
    "T4-L4 facing right": spine("T4", 13, seed=1),
    "T11-L3 facing left": spine("T11", 5, facing="left", seed=2),
    "L1 only, sub-pixel": spine("L1", 1, seed=3, scale=0.37),
    "C3-C7 facing left": spine("C3", 5, facing="left", seed=4, scale=0.6),
}


@pytest.mark.filterwarnings("ignore:.*no pixel spacing known:vcfmeasure.SpacingWarning")
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(SPINES))
def test_round_trip(tmp_path, fmt, name):
    lm = SPINES[name]
    path = tmp_path / f"spine{SUFFIX[fmt]}"
    write_landmarks(lm, path, format=fmt)
    back = read_landmarks(path, format=fmt)
    assert back.levels == lm.levels
    assert np.abs(back.array - lm.array).max() <= 1e-6


@pytest.mark.filterwarnings("ignore:.*no pixel spacing known:vcfmeasure.SpacingWarning")
@pytest.mark.parametrize("fmt", ["json", "csv", "slicer", "cvat"])
def test_format_guessed_from_name_when_writing_and_reading(tmp_path, fmt):
    path = tmp_path / f"spine{SUFFIX[fmt]}"
    write_landmarks(SPINES["T11-L3 facing left"], path)
    assert np.abs(read_landmarks(path).array - SPINES["T11-L3 facing left"].array).max() <= 1e-6


def test_native_json_round_trips_provenance_and_image(tmp_path):
    prov = {
        "T11": Provenance(
            "detected",
            tool="vcfmeasure.detect",
            version="0.1",
            confidence=0.4,
            point_confidence=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
            level_guessed=True,
            needs_review=True,
            note="low contrast",
        ),
        "L1": "refined",
    }
    lm = Landmarks(
        SPINES["T11-L3 facing left"],
        provenance=prov,
        image={
            "path": "a.dcm",
            "sop_instance_uid": "1.2.3",
            "shape": (1200, 900),
            "spacing": (0.139, 0.14),
            "spacing_source": "calibrated",
        },
    )
    write_landmarks(lm, tmp_path / "a.json")
    back = read_landmarks(tmp_path / "a.json")
    assert back.provenance == lm.provenance
    assert back.image == lm.image
    assert np.array_equal(back.array, lm.array)  # JSON keeps every digit


@pytest.mark.parametrize("fmt", ["csv", "coco", "cvat"])
def test_several_images_in_one_file(tmp_path, fmt):
    images = {"a.png": SPINES["T4-L4 facing right"], "b/c.png": SPINES["T11-L3 facing left"]}
    path = tmp_path / f"many{SUFFIX[fmt]}"
    write_landmarks(images, path, format=fmt)
    every = read_landmarks_all(path, format=fmt)
    assert list(every) == ["a.png", "b/c.png"]
    for key, lm in images.items():
        assert np.abs(every[key].array - lm.array).max() <= 1e-6
    assert read_landmarks(path, format=fmt, image="c.png").levels == images["b/c.png"].levels


@pytest.mark.parametrize("fmt", ["json", "slicer", "labelme"])
def test_single_image_formats_refuse_several(tmp_path, fmt):
    images = {"a.png": SPINES["L1 only, sub-pixel"], "b.png": SPINES["L1 only, sub-pixel"]}
    with pytest.raises(FileFormatError, match=f"the '{fmt}' format holds one image, got 2"):
        write_landmarks(images, tmp_path / f"x{SUFFIX[fmt]}", format=fmt)


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "spine.json"
    path.write_text("old")
    write_landmarks(SPINES["L1 only, sub-pixel"], path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spine.json"]
    assert read_landmarks(path).levels == ("L1",)


@pytest.mark.filterwarnings("ignore:.*no pixel spacing known:vcfmeasure.SpacingWarning")
@settings(max_examples=25, deadline=None)
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    offset=st.tuples(st.floats(-500, 5000), st.floats(-500, 5000)),
    scale=st.floats(0.05, 20),
    facing=st.sampled_from(["left", "right"]),
)
def test_round_trip_property(tmp_path_factory, fmt, offset, scale, facing):
    base = spine("T12", 3, facing=facing, scale=scale)
    lm = base.map_points(lambda xy: xy + offset)
    path = tmp_path_factory.mktemp("rt") / f"p{SUFFIX[fmt]}"
    write_landmarks(lm, path, format=fmt)
    assert np.abs(read_landmarks(path, format=fmt).array - lm.array).max() <= 1e-6


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    import os

    path = tmp_path / "spine.json"
    write_landmarks(SPINES["L1 only, sub-pixel"], path)
    before = path.read_text()

    def refuse(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_landmarks(SPINES["T4-L4 facing right"], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["spine.json"]


def test_written_file_is_readable_by_others_and_folders_are_made(tmp_path):
    path = tmp_path / "new" / "spine.csv"
    write_landmarks(SPINES["L1 only, sub-pixel"], path)
    assert path.stat().st_mode & 0o777 == 0o644
