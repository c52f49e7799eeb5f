import numpy as np
import pytest
from spine_factory import spine_xy

import vcfmeasure as vm
from vcfmeasure import LandmarkError, Landmarks, Provenance

BOX = np.array([[0, 0], [10, 0], [20, 0], [20, 18], [10, 18], [0, 20]], float)


def two_levels():
    return spine_xy(["L1", "L2"])


def test_levels_sorted_cranial_to_caudal_whatever_the_input_order():
    lm = Landmarks({"L3": BOX + [0, 60], "t12": BOX, "L1": BOX + [0, 30]})
    assert lm.levels == ("T12", "L1", "L3")
    assert list(lm) == ["T12", "L1", "L3"]
    assert np.array_equal(lm.array[1], BOX + [0, 30])


def test_from_dict_round_trip_and_names():
    lm = Landmarks({"L1": BOX})
    again = Landmarks.from_dict(lm.to_dict())
    assert again == lm
    assert again.to_dict()["L1"]["sa"] == (20.0, 0.0)


def test_from_dict_missing_point_names_level_and_point():
    pts = {"sp": (0, 0), "sm": (5, 0), "sa": (10, 0), "ia": (10, 9), "im": (5, 9)}
    with pytest.raises(LandmarkError, match=r"L4: point 'ip' is missing"):
        Landmarks.from_dict({"L4": pts})


def test_from_dict_unknown_point():
    pts = dict(zip(vm.POINT_NAMES, BOX.tolist(), strict=True)) | {"xx": (1, 1)}
    with pytest.raises(LandmarkError, match=r"L4: unknown point 'xx'"):
        Landmarks.from_dict({"L4": pts})


def test_provenance_default_and_per_level():
    xy = two_levels()
    lm = Landmarks({"L1": xy[0], "L2": xy[1]}, provenance={"L2": Provenance("refined", confidence=0.7)})
    assert lm.provenance["L1"].method == "manual"
    assert lm.provenance["L2"].confidence == 0.7
    one = Landmarks({"L1": xy[0]}, provenance={"method": "detected", "confidence": 0.5})
    assert one.provenance["L1"] == Provenance("detected", confidence=0.5)
    with pytest.raises(LandmarkError, match="provenance method"):
        Provenance("guessed")


def test_points_are_read_only():
    lm = Landmarks({"L1": BOX})
    with pytest.raises(ValueError):
        lm["L1"][0, 0] = 5.0


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ({"L1": np.zeros((5, 2))}, r"L1: expected 6 points"),
        ({"L1": [["a", 1]] * 6}, r"L1: points must be numbers"),
        ({"L1": np.where(np.arange(12).reshape(6, 2) == 5, np.nan, BOX)}, r"L1: point 'sa' is not finite"),
        ({"L1": np.where(np.arange(12).reshape(6, 2) == 8, np.inf, BOX)}, r"L1: point 'im' is not finite"),
        ({"X9": BOX}, r"unknown level 'X9'"),
        ({"L1": BOX[[0, 0, 2, 3, 4, 5]]}, r"L1: points 'sp' and 'sm' coincide"),
        ({"L1": BOX * [1, 0.001]}, r"L1: .*degenerate"),
        ({"L1": BOX[[2, 1, 0, 3, 4, 5]]}, r"L1: the outline .* crosses itself"),
        ({"L1": np.array([[0, 0], [25, 0], [20, 0], [20, 18], [10, 18], [0, 20]], float)},
         r"L1: point 'sm' is not between"),
    ],
    ids=["shape", "non-numeric", "nan", "inf", "unknown-level", "coincide", "flat", "crossing",
         "middle-outside"],
)
def test_bad_landmarks_raise_naming_the_level(points, message):
    with pytest.raises(LandmarkError, match=message):
        Landmarks(points)


def test_duplicate_level_after_normalisation():
    with pytest.raises(LandmarkError, match=r"L1: duplicate level"):
        Landmarks([("L1", BOX), ("l1", BOX)])


def test_superior_inferior_swapped_in_one_level():
    xy = spine_xy(["T12", "L1", "L2"])
    xy[1] = xy[1][[5, 4, 3, 2, 1, 0]]  # ip im ia sa sm sp: superior <-> inferior
    with pytest.raises(LandmarkError, match=r"^L1: superior and inferior .* swapped"):
        Landmarks.from_array(xy, ["T12", "L1", "L2"])


def test_swapped_everywhere_or_levels_reversed():
    xy = spine_xy(["T12", "L1", "L2"])
    with pytest.raises(LandmarkError, match=r"T12, L1, L2: .*wrong direction"):
        Landmarks.from_array(xy, ["L2", "L1", "T12"])


def test_anterior_side_inconsistent_between_levels():
    xy = spine_xy(["T12", "L1", "L2"])
    centre = xy[1].mean(axis=0)
    xy[1][:, 0] = 2 * centre[0] - xy[1][:, 0]  # this level alone faces the other way
    with pytest.raises(LandmarkError, match=r"^L1: the anterior side is opposite to that of T12, L2"):
        Landmarks.from_array(xy, ["T12", "L1", "L2"])


@pytest.mark.parametrize("facing", ["right", "left"])
def test_both_film_orientations_are_valid(facing):
    lm = Landmarks.from_array(spine_xy(["T11", "T12", "L1"], facing=facing), ["T11", "T12", "L1"])
    assert len(lm) == 3


def test_replace_subset_and_map_points():
    xy = two_levels()
    lm = Landmarks.from_array(xy, ["L1", "L2"])
    moved = lm.replace({"L2": xy[1] + 0.5}, provenance="refined")
    assert moved.provenance["L2"].method == "refined" and moved.provenance["L1"].method == "manual"
    assert np.allclose(moved["L2"], xy[1] + 0.5)
    assert lm.subset(["L2"]).levels == ("L2",)
    assert lm.replace(drop=["L1"]).levels == ("L2",)
    shifted = lm.map_points(lambda a: a + [3, 4])
    assert np.allclose(shifted.array, xy + [3, 4])
    with pytest.raises(LandmarkError, match="L5: level not in"):
        lm.subset(["L5"])


def test_empty_landmarks_allowed():
    lm = Landmarks({})
    assert len(lm) == 0 and lm.array.shape == (0, 6, 2)


def test_valid_outlines_agrees_with_the_constructor_on_random_bodies():
    # the vectorised one-body check that refinement uses for trial outlines
    from vcfmeasure.landmarks import valid_outlines

    rng = np.random.default_rng(5)
    bodies = BOX + rng.normal(0, 1, (4000, 6, 2)) * rng.choice([0.5, 3, 8, 15], (4000, 1, 1))
    bodies[::50, 1] = bodies[::50, 0]  # coinciding points
    bodies[::97, 3, 1] = np.nan
    bodies[::131, 2, 0] = 1e12

    def accepted(pts):
        try:
            Landmarks({"L1": pts})
        except LandmarkError:
            return False
        return True

    expected = np.array([accepted(b) for b in bodies])
    assert 0.2 < expected.mean() < 0.8  # both kinds are tested
    assert np.array_equal(valid_outlines(bodies), expected)
