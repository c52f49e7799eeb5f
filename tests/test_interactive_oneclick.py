"""The editor's one-click mode and honest snapping, driven by synthesized events."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_interactive import _close_figures, _no_rendering, click, drag  # noqa: E402, F401

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.synthetic import make_spine  # noqa: E402

# the editor warns that Agg is static; these tests drive it with synthesized events
pytestmark = pytest.mark.filterwarnings("ignore::vcfmeasure.interactive.InteractiveBackendWarning")

LEVELS = ["T12", "L1", "L2"]


@pytest.fixture(scope="module")
def spine():
    return make_spine(LEVELS, seed=21, facing="left", rotation_deg=5.0)


def _centre(spine, level, a=0.1, b=-0.1):
    p = spine.landmarks[level]
    return (p[[0, 2, 3, 5]].mean(axis=0) + a * 0.5 * (p[2] + p[3] - p[0] - p[5])
            + b * 0.5 * (p[5] + p[3] - p[0] - p[2]))


def test_one_click_per_level_places_each_body_then_drag_corrects(spine):
    editor = vm.place_landmarks(spine.radiograph, LEVELS, mode="centres")
    assert editor.ax.get_title().startswith("Click once inside the T12 body")
    for k, lv in enumerate(LEVELS):
        click(editor, _centre(spine, lv, a=0.15 * (k - 1)))
        assert editor.model.is_complete(lv)
        assert "six points from one click" in editor.message
    assert editor.facing == "left"
    px = spine.radiograph.spacing[0]
    err = np.hypot(*(editor.landmarks.array - spine.landmarks.array).reshape(-1, 2).T) * px
    assert np.median(err) < 0.3
    assert editor.landmarks.provenance["L1"].tool == "vcfmeasure.oneclick"
    assert editor.ax.get_title().startswith("All 3 levels placed")
    # drag L1 sa to a new place: it moves there, the level becomes manual; undo restores
    before = editor.model.points("L1")
    target = before[2] + [6.0, 4.0]
    drag(editor, before[2], target)
    np.testing.assert_allclose(editor.model.points("L1")[2], target, atol=1e-6)
    assert editor.landmarks.provenance["L1"].method == "manual"
    editor.undo()
    np.testing.assert_allclose(editor.model.points("L1"), before)
    # undo once more removes the L2 click's six points
    editor.undo()
    assert not editor.model.is_complete("L2") and editor.model.is_complete("L1")


def test_a_click_off_the_bodies_says_what_happened():
    blank = vm.Radiograph(np.full((600, 600), 10.0), spacing=(0.15, 0.15),
                          spacing_source="user")
    editor = vm.place_landmarks(blank, ["L1"], mode="centres", facing="right")
    click(editor, (300, 300))
    assert editor.model.is_complete("L1")
    assert "edges not found" in editor.message
    assert editor.landmarks.provenance["L1"].needs_review


def test_bad_mode_is_refused():
    with pytest.raises(vm.VcfMeasureError, match="mode"):
        vm.place_landmarks(np.zeros((50, 50)), ["L1"], mode="magic")


def _fake_refiner(shift_px, confidence):
    """A refiner that moves each point by ``shift_px`` with the given confidences."""
    def refine(radiograph, landmarks):
        lv = landmarks.levels[0]
        prov = vm.Provenance("refined", point_confidence=confidence,
                             confidence=min(confidence))
        return landmarks.replace({lv: landmarks[lv] + np.asarray(shift_px)}, provenance=prov,
                                 validate=False)
    return refine


def _placed(spine, refine):
    editor = vm.place_landmarks(spine.radiograph, ["L1"], snap=refine)
    clicks = np.array(spine.landmarks["L1"])
    for xy in clicks:
        editor.place(*xy)
    return editor, clicks


def test_snapping_moves_only_points_with_clear_evidence(spine):
    shift = np.zeros((6, 2))
    shift[:, 0] = 3.0
    editor, clicks = _placed(spine, _fake_refiner(shift, (0.9, 0.9, 0.1, 0.9, 0.9, 0.9)))
    pts = editor.model.points("L1")
    np.testing.assert_allclose(pts[2], clicks[2])  # low confidence: kept
    np.testing.assert_allclose(pts[[0, 1, 3, 4, 5]], clicks[[0, 1, 3, 4, 5]] + [3.0, 0])
    assert "5 of 6 points snapped" in editor.message and "sa kept" in editor.message
    assert "sa" in editor.landmarks.provenance["L1"].note


def test_snapping_never_jumps_a_confident_point_far(spine):
    # a confident 4.7 mm move (a wrong edge in soft tissue) is not taken
    far = 4.7 / spine.radiograph.spacing[0]
    shift = np.zeros((6, 2))
    shift[2, 0] = far
    editor, clicks = _placed(spine, _fake_refiner(shift, (0.9,) * 6))
    np.testing.assert_allclose(editor.model.points("L1")[2], clicks[2])
    assert "sa kept where clicked" in editor.message


def test_nothing_confident_means_nothing_snapped_and_the_title_says_so(spine):
    editor, clicks = _placed(spine, _fake_refiner(np.full((6, 2), 2.0), (0.0,) * 6))
    np.testing.assert_allclose(editor.model.points("L1"), clicks)
    assert "nothing snapped" in editor.message
    assert "nothing snapped" in editor.ax.get_title()
    assert editor.landmarks.provenance["L1"].method == "manual"
