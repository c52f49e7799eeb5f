"""vcfmeasure.synthetic: determinism, exact ground truth, geometry options, writers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import vcfmeasure as vm
from vcfmeasure.geometry import body_frame, heights
from vcfmeasure.synthetic import expected_grade, make_pre_post, make_spine

LEVELS3 = ["T12", "L1", "L2"]


@pytest.fixture(scope="module")
def clean():
    """A noise-free image: edges can be located to a fraction of a pixel."""
    return make_spine(LEVELS3, seed=11, noise=0.0, blur_mm=0.25)


def test_same_seed_same_image_and_truth():
    a = make_spine(["L1", "L2"], seed=5)
    b = make_spine(["L1", "L2"], seed=5)
    c = make_spine(["L1", "L2"], seed=6)
    assert np.array_equal(a.radiograph.pixels, b.radiograph.pixels)
    assert a.landmarks == b.landmarks
    assert not np.allclose(a.landmarks.array, c.landmarks.array)


def test_rng_argument_is_deterministic():
    a = make_spine(["L1"], rng=np.random.default_rng(3))
    b = make_spine(["L1"], rng=np.random.default_rng(3))
    assert a.landmarks == b.landmarks and a.params["seed"] == b.params["seed"]


def test_truth_record_and_spacing(clean):
    lm = clean.landmarks
    assert lm.levels == tuple(LEVELS3)
    prov = lm.provenance["L1"]
    assert prov.method == "manual" and prov.tool == "vcfmeasure.synthetic"
    rg = clean.radiograph
    assert rg.spacing == pytest.approx((0.15 / 1.15, 0.15 / 1.15))
    assert rg.spacing_source.startswith("magnification-corrected")
    assert np.array_equal(rg.pixels, np.rint(rg.pixels))  # integer grey levels
    rows, cols = rg.shape
    assert (lm.array[..., 0] > 0).all() and (lm.array[..., 0] < cols - 1).all()
    assert (lm.array[..., 1] > 0).all() and (lm.array[..., 1] < rows - 1).all()


def test_body_sizes_are_realistic_and_grow_caudally():
    spine = make_spine(first="T4", last="L5", seed=2, ribs=False, noise=0)
    mm = heights(spine.landmarks.array) * spine.radiograph.spacing[0]
    hp = mm[:, 2]
    assert 16 < hp[0] < 23 and 23 < hp[-1] < 32
    assert np.polyfit(np.arange(len(hp)), hp, 1)[0] > 0.3  # mm per level
    xy = spine.landmarks.array * spine.radiograph.spacing[0]
    depth = np.hypot(*(xy[:, 2] - xy[:, 0]).T)
    assert 22 < depth[0] < 32 and 34 < depth[-1] < 48


def _edge_offset(pixels, point, normal):
    """Signed distance (px) along ``normal`` from ``point`` to the steepest rise of
    brightness met walking against ``normal`` (from outside the body into it)."""
    s = np.linspace(-4.0, 4.0, 161)
    pts = point[None, :] + s[:, None] * normal[None, :]
    prof = ndimage.map_coordinates(pixels, [pts[:, 1], pts[:, 0]], order=3)
    grad = -np.gradient(prof, s)  # brightness grows inwards (against the outward normal)
    k = int(np.argmax(grad))
    return s[k]


@pytest.mark.parametrize("level", LEVELS3)
def test_middle_points_sit_on_the_rendered_endplates(clean, level):
    pts = clean.landmarks[level]
    up = body_frame(pts[None])[1][0]
    for i, outward in ((1, up), (4, -up)):  # sm above the body, im below it
        off = _edge_offset(clean.radiograph.pixels, pts[i], outward)
        assert abs(off) < 0.15, (level, i, off)


def _unit(v):
    return v / np.hypot(*v)


@pytest.mark.parametrize("level", LEVELS3)
def test_corners_sit_where_endplate_and_wall_edges_meet(level):
    sharp = make_spine(LEVELS3, seed=11, noise=0.0, blur_mm=0.15)
    pts, pix = sharp.landmarks[level], sharp.radiograph.pixels
    # corner, the other end of its wall, the other end of its endplate
    for c, wall_end, plate_end in ((0, 5, 2), (2, 3, 0), (3, 2, 5), (5, 0, 3)):
        along_wall = _unit(pts[wall_end] - pts[c])
        along_plate = _unit(pts[plate_end] - pts[c])
        # 5 px along the wall, the wall edge is met walking along the endplate
        off = _edge_offset(pix, pts[c] + 5 * along_wall, -along_plate)
        assert abs(off) < 0.15, (level, c, "wall", off)
        off = _edge_offset(pix, pts[c] + 5 * along_plate, -along_wall)
        assert abs(off) < 0.15, (level, c, "endplate", off)


def test_facing_left_mirrors_the_truth():
    r = make_spine(["L1", "L2"], seed=4, facing="right")
    left = make_spine(["L1", "L2"], seed=4, facing="left")
    xr, xl = r.landmarks.array[..., 0], left.landmarks.array[..., 0]
    assert np.ptp(xr + xl) < 1e-9
    assert np.allclose(r.landmarks.array[..., 1], left.landmarks.array[..., 1])
    assert (body_frame(r.landmarks.array)[2] == -1).all()
    assert (body_frame(left.landmarks.array)[2] == 1).all()


def test_rotation_turns_the_content_counter_clockwise():
    a = make_spine(["L1", "L2"], seed=4).landmarks.array
    b = make_spine(["L1", "L2"], seed=4, rotation_deg=20).landmarks.array
    va, vb = a[1, 5] - a[0, 0], b[1, 5] - b[0, 0]  # L1 sp -> L2 ip
    ang = np.degrees(np.arctan2(-vb[1], vb[0]) - np.arctan2(-va[1], va[0]))
    assert ang == pytest.approx(20.0, abs=1e-9)
    assert np.allclose(heights(a), heights(b))


def test_magnification_and_spacing_scale_the_image():
    a = make_spine(["L1"], seed=4, imager_spacing_mm=0.15, magnification=1.1)
    b = make_spine(["L1"], seed=4, imager_spacing_mm=0.15, magnification=1.3)
    ha, hb = heights(a.landmarks.array), heights(b.landmarks.array)
    assert np.allclose(hb / ha, 1.3 / 1.1)
    # in mm (patient plane) the body is the same
    assert np.allclose(ha * a.radiograph.spacing[0], hb * b.radiograph.spacing[0])


@pytest.mark.parametrize(
    ("kind", "severity", "column"),
    [("wedge", 0.3, 0), ("biconcave", 0.35, 1), ("crush", 0.25, 2)],
)
def test_deformity_severity_is_the_drawn_height_loss(kind, severity, column):
    normal = make_spine(LEVELS3, seed=8)
    frac = make_spine(LEVELS3, seed=8, deformities={"L1": (kind, severity)})
    h0 = heights(normal.landmarks.array)[1]
    h1 = heights(frac.landmarks.array)[1]
    if kind == "crush":
        assert h1[2] / h0[2] == pytest.approx(1 - severity)
    else:
        # anterior and middle heights are measured against the vertebra's own Hp
        ref = max(h0[0], h0[2]) if kind == "wedge" else h1[2]
        assert h1[column] / ref == pytest.approx(1 - severity, abs=1e-6)
    assert frac.truth["L1"]["deformity"] == kind
    assert frac.truth["L1"]["grade"] == expected_grade(severity) == (2 if severity < 0.4 else 3)
    assert frac.truth["T12"]["deformity"] == "normal" and frac.truth["T12"]["grade"] == 0
    # the other vertebrae keep their shape
    keep = [0, 2]
    assert np.allclose(heights(normal.landmarks.array)[keep], heights(frac.landmarks.array)[keep])


def test_pre_post_pair_restores_height_and_shows_cement():
    pre, post = make_pre_post(LEVELS3, deformities={"L1": ("wedge", 0.4)}, restoration=0.5, seed=9)
    normal = make_spine(LEVELS3, seed=9)
    ha_pre = heights(pre.landmarks.array)[1, 0]
    ha_post = heights(post.landmarks.array)[1, 0]
    h_exp = max(heights(normal.landmarks.array)[1, [0, 2]])
    assert (ha_post - ha_pre) / (h_exp - ha_pre) == pytest.approx(0.5, abs=1e-6)
    assert post.truth["L1"]["cement"] and not pre.truth["L1"]["cement"]
    assert post.truth["L1"]["severity_before"] == 0.4

    def body_max(spine):
        pts = spine.landmarks["L1"]
        c = pts.mean(axis=0).round().astype(int)
        return spine.radiograph.pixels[c[1] - 20 : c[1] + 20, c[0] - 20 : c[0] + 20].max()

    assert body_max(post) > body_max(pre) + 1000  # cement is far brighter than bone
    assert not np.array_equal(pre.radiograph.pixels.shape, ()) and pre.params["seed"] == 9


def test_low_contrast_bone_is_fainter():
    def body_minus_disc(contrast):
        s = make_spine(["L1", "L2"], seed=3, contrast=contrast, noise=0)
        p = s.radiograph.pixels
        l1, l2 = s.landmarks["L1"], s.landmarks["L2"]
        body = l1.mean(axis=0).round().astype(int)
        disc = (0.5 * (l1[4] + l2[1])).round().astype(int)
        return p[body[1], body[0]] - p[disc[1], disc[0]]

    assert body_minus_disc(0.45) < 0.6 * body_minus_disc(1.0)


def test_double_contour_truth_lies_midway(clean):
    sep_mm = 2.0
    s = make_spine(LEVELS3, seed=11, noise=0.0, blur_mm=0.15, double_contour={"L1": sep_mm})
    assert s.landmarks == clean.landmarks  # the truth does not move
    sep = sep_mm / s.radiograph.spacing[0]
    pts = s.landmarks["L1"]
    up = body_frame(pts[None])[1][0]
    t = np.linspace(-sep, sep, 241)
    line = pts[1][None, :] + t[:, None] * up[None, :]
    prof = ndimage.map_coordinates(s.radiograph.pixels, [line[:, 1], line[:, 0]], order=3)
    grad = -np.gradient(prof, t)
    g = grad[1:-1]
    peaks = t[1:-1][(g > grad[:-2]) & (g >= grad[2:]) & (g > 0.3 * grad.max())]
    assert len(peaks) == 2
    assert peaks.mean() == pytest.approx(0.0, abs=0.2)
    assert np.diff(peaks)[0] == pytest.approx(sep, abs=0.4)


def test_osteophytes_add_bone_beyond_the_corner_but_keep_the_truth():
    plain = make_spine(["L1", "L2"], seed=12, noise=0)
    spurs = make_spine(["L1", "L2"], seed=12, noise=0, osteophytes={"L1": 4.0})
    assert spurs.landmarks == plain.landmarks
    assert spurs.truth["L1"]["osteophyte_mm"] == 4.0 and spurs.truth["L2"]["osteophyte_mm"] == 0
    pts = plain.landmarks["L1"]
    anterior = body_frame(pts[None])[0][0]
    cranial = body_frame(pts[None])[1][0]
    # 0.7 mm anterior and 1.2 mm cranial of the anterior superior corner: inside the spur
    probe = pts[2] + (0.7 * anterior + 1.2 * cranial) / plain.radiograph.spacing[0]
    x, y = np.rint(probe).astype(int)
    assert spurs.radiograph.pixels[y, x] > plain.radiograph.pixels[y, x] + 150


def test_write_dicom_round_trip(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    s = make_spine(["L1"], seed=1, imager_spacing_mm=0.14, magnification=1.2)
    path = s.write_dicom(tmp_path / "spine.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "DX" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.14, 0.14]
    assert float(ds.EstimatedRadiographicMagnificationFactor) == pytest.approx(1.2)
    sid, sod = float(ds.DistanceSourceToDetector), float(ds.DistanceSourceToPatient)
    assert sid / sod == pytest.approx(1.2, rel=1e-5)
    assert np.array_equal(ds.pixel_array, s.radiograph.pixels.astype(np.uint16))
    assert list(ds.PatientOrientation) == ["A", "F"]


def test_load_image_reads_back_the_spacing_the_record_reports(tmp_path):
    s = make_spine(["L1"], seed=2, imager_spacing_mm=0.16, magnification=1.25, facing="left")
    rg = vm.load_image(s.write_dicom(tmp_path / "spine.dcm"))
    assert rg.spacing == pytest.approx(s.radiograph.spacing)
    assert rg.spacing_source == s.radiograph.spacing_source
    assert np.array_equal(rg.pixels, s.radiograph.pixels)


def test_write_png_round_trip(tmp_path):
    from PIL import Image

    s = make_spine(["L1"], seed=1)
    path = s.write_png(tmp_path / "spine.png")
    back = np.asarray(Image.open(path))
    assert np.array_equal(back, s.radiograph.pixels.astype(np.uint16))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"levels": ["T2", "T3"]}, "T4-L5"),
        ({"levels": ["T12", "L2"]}, "contiguous"),
        ({"levels": ["L1"], "deformities": {"L1": ("squash", 0.3)}}, "squash"),
        ({"levels": ["L1"], "deformities": {"L2": ("wedge", 0.3)}}, "L2"),
        ({"levels": ["L1"], "deformities": {"L1": ("wedge", 0.9)}}, "severity"),
        ({"levels": ["L1"], "facing": "up"}, "facing"),
        ({"levels": ["L1"], "double_contour": {"L1": (1.0, 2.0, 3.0)}}, "double_contour"),
        ({"levels": ["L1"], "osteophytes": 12.0}, "osteophyte"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(vm.VcfMeasureError, match=words):
        make_spine(seed=0, **kwargs)


def test_lazy_submodule():
    assert vm.synthetic.make_spine is make_spine
