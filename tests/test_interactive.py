import importlib.util

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import KeyEvent, MouseEvent, NavigationToolbar2  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from tests.fixtures.toy_spine import toy_image, toy_landmarks  # noqa: E402
from vcfmeasure.interactive import LandmarkEditor, PlacementModel, expand_levels  # noqa: E402

# these tests drive the editor from code on Agg, which warns that clicks need a backend
pytestmark = pytest.mark.filterwarnings("ignore::vcfmeasure.interactive.InteractiveBackendWarning")

TRUTH = toy_landmarks(("T12", "L1", "L2"), scale=2.0)
IMAGE = toy_image(TRUTH)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def _no_rendering(monkeypatch):
    """Agg renders on every draw_idle; the tests read artists, so skip the pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    monkeypatch.setattr(FigureCanvasAgg, "draw_idle", lambda self, *a, **k: None)


# -- synthesized matplotlib events ------------------------------------------------------
def _display(editor, xy):
    return editor.ax.transData.transform(xy)


def mouse(editor, name, xy, button=1):
    x, y = _display(editor, xy)
    event = MouseEvent(name, editor.figure.canvas, x, y, button=button)
    editor.figure.canvas.callbacks.process(name, event)


def click(editor, xy, button=1):
    mouse(editor, "button_press_event", xy, button)
    mouse(editor, "button_release_event", xy, button)


def drag(editor, start, end, steps=4):
    mouse(editor, "button_press_event", start)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        mouse(editor, "motion_notify_event", np.add(start, t * np.subtract(end, start)))
    mouse(editor, "button_release_event", end)


def key(editor, name, xy=(5, 5)):
    x, y = _display(editor, xy)
    event = KeyEvent("key_press_event", editor.figure.canvas, name, x, y)
    editor.figure.canvas.callbacks.process("key_press_event", event)


def scroll(editor, xy, direction):
    x, y = _display(editor, xy)
    event = MouseEvent("scroll_event", editor.figure.canvas, x, y, button=direction, step=1)
    editor.figure.canvas.callbacks.process("scroll_event", event)


def shown_points(editor, level):
    (line,) = [a for a in editor.ax.lines if a.get_gid() == f"vcfmeasure:{level}:points"]
    return line.get_xydata()


def place_level(editor, level):
    for xy in TRUTH[level]:
        click(editor, xy)


# -- tests -----------------------------------------------------------------------------
def test_title_guides_through_points_and_levels_in_the_order_given():
    editor = vm.place_landmarks(IMAGE, ["L1", "T12"])
    assert editor.ax.get_title().startswith(
        "Click L1 sp (superior endplate, posterior corner) - point 1/6, level 1/2"
    )
    for xy in TRUTH["L1"][:3]:
        click(editor, xy)
    assert editor.ax.get_title().startswith("Click L1 ia (inferior endplate, anterior corner)"
                                            " - point 4/6")
    for xy in TRUTH["L1"][3:]:
        click(editor, xy)
    assert editor.ax.get_title().startswith("Click T12 sp")
    place_level(editor, "T12")
    assert editor.ax.get_title().startswith("All 2 levels placed")
    editor.figure.canvas.draw()  # the real drawing works too


def test_click_puts_a_marker_exactly_where_clicked():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)
    np.testing.assert_allclose(shown_points(editor, "L1"), TRUTH["L1"], atol=1e-9)
    lm = editor.landmarks
    assert lm.levels == ("L1",) and lm.provenance["L1"].method == "manual"


def test_landmarks_hold_complete_levels_only():
    editor = vm.place_landmarks(IMAGE, ["T12", "L1"])
    place_level(editor, "T12")
    for xy in TRUTH["L1"][:4]:
        click(editor, xy)
    assert editor.landmarks.levels == ("T12",)
    assert len(shown_points(editor, "L1")) == 4


def test_press_move_release_in_empty_space_places_nothing():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    drag(editor, (20, 20), (60, 60))
    assert editor.model.next_point() == ("L1", 0)
    assert len(shown_points(editor, "L1")) == 0


def test_right_click_places_nothing():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    click(editor, (30, 30), button=3)
    assert editor.model.next_point() == ("L1", 0)


def test_drag_moves_a_point_and_one_undo_restores_it():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    sa = TRUTH["L1"][2]
    drag(editor, sa, sa + (6.0, -4.0))
    moved = editor.model.points("L1")
    np.testing.assert_allclose(moved[2], sa + (6.0, -4.0), atol=1e-9)
    np.testing.assert_allclose(np.delete(moved, 2, axis=0), np.delete(TRUTH["L1"], 2, axis=0))
    np.testing.assert_allclose(shown_points(editor, "L1")[2], sa + (6.0, -4.0), atol=1e-9)
    key(editor, "u")
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)
    np.testing.assert_allclose(shown_points(editor, "L1"), TRUTH["L1"], atol=1e-9)


def test_a_drag_blits_only_the_moving_level():
    editor = vm.place_landmarks(IMAGE, ["T12", "L1"])
    place_level(editor, "T12")
    place_level(editor, "L1")
    (points,) = [a for a in editor.ax.lines if a.get_gid() == "vcfmeasure:L1:points"]
    (other,) = [a for a in editor.ax.lines if a.get_gid() == "vcfmeasure:T12:points"]
    start = TRUTH["L1"][3]
    mouse(editor, "button_press_event", start)
    mouse(editor, "motion_notify_event", start + (5.0, 5.0))
    assert points.get_animated() and not other.get_animated()
    assert editor._background is not None
    np.testing.assert_allclose(points.get_xydata()[3], start + (5.0, 5.0), atol=1e-9)
    mouse(editor, "button_release_event", start + (6.0, 6.0))
    assert not points.get_animated() and editor._background is None
    np.testing.assert_allclose(editor.model.points("L1")[3], start + (6.0, 6.0), atol=1e-9)


def test_a_click_on_a_placed_point_is_a_click_not_a_drag():
    editor = vm.place_landmarks(IMAGE, ["T12", "L1"])
    place_level(editor, "T12")
    # L1 sp lies one disc below T12 ip; a click right on T12 ip still places L1 sp
    click(editor, TRUTH["T12"][5])
    np.testing.assert_allclose(editor.model.points("L1")[0], TRUTH["T12"][5], atol=1e-9)
    np.testing.assert_allclose(editor.model.points("T12"), TRUTH["T12"], atol=1e-9)
    editor.undo()
    assert editor.model.next_point() == ("L1", 0)


def test_press_and_release_apart_without_motion_events_moves_the_point():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    mouse(editor, "button_press_event", TRUTH["L1"][4])
    mouse(editor, "button_release_event", TRUTH["L1"][4] + (0.0, 8.0))
    np.testing.assert_allclose(editor.model.points("L1")[4], TRUTH["L1"][4] + (0.0, 8.0))
    editor.undo()
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)


def test_a_wobble_within_the_click_tolerance_is_still_a_click():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    x, y = _display(editor, TRUTH["L1"][0])
    canvas = editor.figure.canvas
    for name, dx in (("button_press_event", 0), ("motion_notify_event", 2),
                     ("button_release_event", 3)):
        canvas.callbacks.process(name, MouseEvent(name, canvas, x + dx, y, button=1))
    assert editor.model.next_point() == ("L1", 1)


def test_a_click_when_all_is_placed_changes_nothing_and_explains():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    click(editor, (3, 3))
    click(editor, TRUTH["L1"][0])
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)
    assert "every point is placed" in editor.ax.get_title()


@pytest.mark.parametrize("undo_key", ["u", "ctrl+z"])
def test_undo_key_removes_the_last_point(undo_key):
    editor = vm.place_landmarks(IMAGE, ["L1"])
    for xy in TRUTH["L1"][:3]:
        click(editor, xy)
    key(editor, undo_key)
    assert editor.model.next_point() == ("L1", 2)
    assert len(shown_points(editor, "L1")) == 2
    assert editor.ax.get_title().startswith("Click L1 sa")


def test_undo_method_with_empty_history_says_so():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    assert editor.undo() is False
    assert "nothing to undo" in editor.ax.get_title()


def test_delete_key_removes_the_level_under_the_cursor_and_it_is_placed_again():
    editor = vm.place_landmarks(IMAGE, ["T12", "L1", "L2"])
    for level in ("T12", "L1", "L2"):
        place_level(editor, level)
    key(editor, "d", xy=TRUTH["L1"].mean(axis=0))
    assert editor.landmarks.levels == ("T12", "L2")
    assert editor.ax.get_title().startswith("Click L1 sp")
    click(editor, TRUTH["L1"][0] + 1.0)
    np.testing.assert_allclose(editor.model.points("L1")[0], TRUTH["L1"][0] + 1.0, atol=1e-9)
    editor.undo()
    editor.undo()
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)


def test_move_method_is_one_undo_step():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    editor.move("L1", 4, 1.0, 2.0)
    np.testing.assert_allclose(shown_points(editor, "L1")[4], (1.0, 2.0))
    editor.undo()
    np.testing.assert_allclose(shown_points(editor, "L1"), TRUTH["L1"], atol=1e-9)


def test_delete_level_method():
    editor = vm.place_landmarks(IMAGE, ["T12", "L1"])
    place_level(editor, "T12")
    editor.delete_level("t12")
    assert editor.model.next_point() == ("T12", 0)
    assert "T12 deleted" in editor.ax.get_title()


@pytest.mark.parametrize("mode", ["pan", "zoom"])
def test_clicks_are_ignored_while_the_toolbar_pans_or_zooms(mode):
    editor = vm.place_landmarks(IMAGE, ["L1"])
    toolbar = NavigationToolbar2(editor.figure.canvas)
    getattr(toolbar, mode)()
    click(editor, TRUTH["L1"][0])
    assert editor.model.next_point() == ("L1", 0)
    getattr(toolbar, mode)()  # toggled off
    click(editor, TRUTH["L1"][0])
    assert editor.model.next_point() == ("L1", 1)


def test_toolbar_pan_does_not_drag_points():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    place_level(editor, "L1")
    NavigationToolbar2(editor.figure.canvas).pan()
    drag(editor, TRUTH["L1"][0], TRUTH["L1"][0] + 10)
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)


def test_scroll_zooms_around_the_cursor_without_placing():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    x0, x1 = editor.ax.get_xlim()
    centre = (40.0, 60.0)
    scroll(editor, centre, "up")
    z0, z1 = editor.ax.get_xlim()
    assert (z1 - z0) == pytest.approx((x1 - x0) / 1.25)
    assert (centre[0] - z0) / (z1 - z0) == pytest.approx((centre[0] - x0) / (x1 - x0))
    assert editor.model.next_point() == ("L1", 0)
    scroll(editor, centre, "down")
    assert editor.ax.get_xlim() == pytest.approx((x0, x1))


def test_snapping_replaces_a_completed_level_and_undo_restores_the_clicks():
    calls = []

    def refine(radiograph, landmarks):
        calls.append(landmarks.levels)
        return landmarks.map_points(lambda xy: xy + 1.5).replace(
            {lv: landmarks[lv] + 1.5 for lv in landmarks.levels}, provenance="refined")

    editor = vm.place_landmarks(IMAGE, ["L1"], snap=refine)
    for xy in TRUTH["L1"][:5]:
        click(editor, xy)
    assert calls == []
    click(editor, TRUTH["L1"][5])
    assert calls == [("L1",)]
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"] + 1.5, atol=1e-9)
    assert editor.landmarks.provenance["L1"].method == "refined"
    editor.undo()
    np.testing.assert_allclose(editor.model.points("L1"), TRUTH["L1"], atol=1e-9)
    key(editor, "e", xy=TRUTH["L1"].mean(axis=0))
    assert calls == [("L1",), ("L1",)]


@pytest.mark.skipif(importlib.util.find_spec("vcfmeasure.detect") is None,
                    reason="vcfmeasure.detect (refine_landmarks) not on this branch")
def test_snap_true_moves_sloppy_clicks_onto_the_edges():
    from vcfmeasure.synthetic import make_spine

    spine = make_spine(["T12", "L1", "L2"], seed=5, ribs=False, posterior_elements=False)
    editor = vm.place_landmarks(spine.radiograph, ["L1"], snap=True)
    truth = spine.landmarks["L1"]
    clicks = truth + np.random.default_rng(1).normal(0, 3.0, (6, 2))
    for xy in clicks:
        editor.place(*xy)
    snapped = editor.landmarks
    assert snapped.provenance["L1"].method == "refined"
    before = np.hypot(*(clicks - truth).T).mean()
    after = np.hypot(*(snapped["L1"] - truth).T).mean()
    assert after < 0.5 * before
    editor.undo()
    np.testing.assert_allclose(editor.model.points("L1"), clicks)


def test_starting_from_landmarks_resumes_at_the_first_missing_level():
    detected = TRUTH.replace({"T12": TRUTH["T12"]}, provenance="detected").subset(["T12"])
    editor = vm.place_landmarks(IMAGE, "T12-L2", landmarks=detected)
    assert editor.model.next_point() == ("L1", 0)
    np.testing.assert_allclose(shown_points(editor, "T12"), TRUTH["T12"])
    assert editor.landmarks.provenance["T12"].method == "detected"
    drag(editor, TRUTH["T12"][1], TRUTH["T12"][1] + (0.0, 6.0))
    np.testing.assert_allclose(editor.model.points("T12")[1], TRUTH["T12"][1] + (0.0, 6.0))
    assert editor.landmarks.provenance["T12"].method == "manual"


def test_preloaded_provenance_is_kept_until_edited():
    detected = TRUTH.replace({"T12": TRUTH["T12"]}, provenance="detected")
    editor = vm.place_landmarks(IMAGE, ["T12", "L1", "L2"], landmarks=detected)
    assert editor.landmarks.provenance["T12"].method == "detected"
    assert editor.landmarks.provenance["L1"].method == "manual"
    assert editor.ax.get_title().startswith("All 3 levels placed")


def test_an_implausible_level_is_reported_in_the_title():
    editor = vm.place_landmarks(IMAGE, ["L1"])
    swapped = TRUTH["L1"][[2, 1, 0, 5, 4, 3]]  # anterior and posterior swapped: still valid
    crossing = TRUTH["L1"][[0, 1, 2, 4, 3, 5]]  # im placed before ia: not a body outline
    for xy in crossing:
        click(editor, xy)
    assert "problem: L1:" in editor.ax.get_title()
    (outline,) = [a for a in editor.ax.lines if a.get_gid() == "vcfmeasure:L1:outline"]
    assert matplotlib.colors.to_hex(outline.get_color()) == vm.plot.OKABE_ITO["vermillion"].lower()
    assert editor.model.level_problem("L1").startswith("L1: ")
    assert editor.model.level_problem("L1") in editor.ax.get_title()
    with pytest.raises(vm.LandmarkError, match="L1"):
        _ = editor.landmarks
    assert PlacementModel(["L1"], landmarks=vm.Landmarks({"L1": swapped})).problem() is None


def test_model_refuses_a_seventh_point_and_unknown_levels():
    model = PlacementModel(["L1"])
    for xy in TRUTH["L1"]:
        model.place(*xy)
    with pytest.raises(vm.VcfMeasureError, match="every point is placed"):
        model.place(1, 1)
    with pytest.raises(vm.LandmarkError, match="L4: level is not being placed"):
        model.delete_level("L4")
    with pytest.raises(vm.VcfMeasureError, match="'sm' is not placed yet"):
        PlacementModel(["L2"]).set_point("L2", 1, 0, 0)


def test_expand_levels():
    assert expand_levels("L4-S1") == ("L4", "L5", "S1")
    with pytest.raises(vm.LandmarkError, match="caudal to cranial"):
        expand_levels("L2-T12")
    with pytest.raises(vm.LandmarkError, match="L1: level given twice"):
        expand_levels(["L1", "l1"])
    with pytest.raises(vm.LandmarkError, match="unknown level"):
        expand_levels(["L9"])


def test_editor_is_a_plain_figure_with_the_image_in_its_first_axes():
    editor = LandmarkEditor(IMAGE, ["L1"])
    assert editor.figure.axes[0] is editor.ax
    assert editor.ax.images[0].get_array().shape == IMAGE.shape
    editor.disconnect()
    click(editor, TRUTH["L1"][0])
    assert editor.model.next_point() == ("L1", 0)


@pytest.mark.skipif(importlib.util.find_spec("vcfmeasure.io.landmark_files") is None,
                    reason="landmark files (read_landmarks/write_landmarks) not on this branch")
def test_save_and_load_round_trip(tmp_path):
    editor = vm.place_landmarks(IMAGE, ["T12", "L1"])
    place_level(editor, "T12")
    place_level(editor, "L1")
    path = tmp_path / "points.json"
    editor.save(path)
    other = vm.place_landmarks(IMAGE, ["T12", "L1"])
    other.load(path)
    np.testing.assert_allclose(other.landmarks.array, editor.landmarks.array)
    other.undo()
    assert other.model.next_point() == ("T12", 0)


@pytest.mark.skipif(importlib.util.find_spec("vcfmeasure.io.landmark_files") is None,
                    reason="landmark files (read_landmarks/write_landmarks) not on this branch")
def test_saved_file_names_the_image_it_belongs_to(tmp_path):
    from vcfmeasure.synthetic import make_spine

    spine = make_spine(["L1"], seed=2, ribs=False, posterior_elements=False)
    image = vm.load_image(spine.write_dicom(tmp_path / "film.dcm"))
    editor = vm.place_landmarks(image, ["L1"])
    for xy in spine.landmarks["L1"]:
        editor.place(*xy)
    editor.save(tmp_path / "film.json")
    ref = vm.read_landmarks(tmp_path / "film.json").image
    assert ref["path"] == str(tmp_path / "film.dcm")
    assert ref["sop_instance_uid"] == image.metadata["sop_instance_uid"]
    assert tuple(ref["shape"]) == image.shape
    assert tuple(ref["spacing"]) == pytest.approx(image.spacing)


@pytest.mark.filterwarnings("error::vcfmeasure.interactive.InteractiveBackendWarning")
def test_a_static_backend_warns_how_to_enable_clicking():
    from vcfmeasure.interactive import InteractiveBackendWarning, _static_backend

    with pytest.warns(InteractiveBackendWarning, match=r"vcfmeasure\[notebook\].*%matplotlib widget"):
        editor = vm.place_landmarks(IMAGE, ["L1"])
    assert "static figure" in editor.message
    assert _static_backend("module://matplotlib_inline.backend_inline")
    assert not _static_backend("module://ipympl.backend_nbagg")
    assert not _static_backend("QtAgg") and not _static_backend("widget")
