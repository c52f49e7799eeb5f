"""Raster radiographs (PNG, TIFF, JPEG), format sniffing and the calibration helper."""

import numpy as np
import pytest
from dicom_factory import image, write
from PIL import Image

from vcfmeasure import ImageError, SpacingError, SpacingWarning, calibrate_spacing, load_image
from vcfmeasure.io.images import read_metadata

GREY8 = np.array([[0, 50, 100], [150, 200, 255]], np.uint8)
GREY16 = np.array([[0, 1000, 20000], [40000, 65000, 65535]], np.uint16)


def save(array, path, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_8_and_16_bit_grey_keep_their_values(tmp_path, suffix):
    for arr in (GREY8, GREY16):
        rg = load_image(save(arr, tmp_path / f"g{arr.itemsize}{suffix}"))
        assert rg.pixels.dtype == np.float32
        np.testing.assert_array_equal(rg.pixels, arr)
        assert (rg.spacing, rg.unit) == (None, "px")
        assert rg.spacing_source == "unknown: raster images carry no patient calibration"


def test_jpeg_grey(tmp_path):
    flat = np.full((16, 16), 120, np.uint8)
    rg = load_image(save(flat, tmp_path / "flat.jpg", quality=95))
    np.testing.assert_allclose(rg.pixels, 120, atol=1)
    assert rg.metadata["format"] == "jpeg"


def test_rgb_to_bt709_luminance(tmp_path):
    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (100, 100, 100)
    rg = load_image(save(rgb, tmp_path / "rgb.png"))
    np.testing.assert_allclose(rg.pixels, [[0.2125 * 255, 0.7154 * 255, 100]], rtol=1e-5)


def test_rgba_alpha_is_dropped(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 80
    rgba[..., 3] = [[0, 255], [10, 128]]
    rg = load_image(save(rgba, tmp_path / "rgba.png"))
    np.testing.assert_allclose(rg.pixels, 80, rtol=1e-5)


def test_grey_with_alpha_keeps_grey(tmp_path):
    la = np.stack([GREY8, np.full_like(GREY8, 7)], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_image(tmp_path / "la.png").pixels, GREY8)


def test_palette_image_uses_the_palette_colours(tmp_path):
    im = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    im.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    im.save(tmp_path / "pal.png")
    np.testing.assert_allclose(load_image(tmp_path / "pal.png").pixels,
                               [[0, 255], [255, 0]], atol=1e-3)


def test_user_spacing_on_raster(tmp_path):
    rg = load_image(save(GREY8, tmp_path / "a.png"), spacing=0.143)
    assert rg.spacing == (0.143, 0.143)
    assert rg.spacing_source.startswith("user")
    assert rg.metadata["file_spacing"] is None


def test_dpi_is_kept_but_never_a_spacing(tmp_path):
    path = save(GREY8, tmp_path / "dpi.png", dpi=(300, 300))
    info = read_metadata(path)
    assert info["dpi"] == pytest.approx([300, 300], abs=0.1)
    assert info["spacing"] is None
    assert info["shape"] == (2, 3) and info["format"] == "png"
    assert load_image(path).spacing is None


def test_multi_page_tiff_needs_frame(tmp_path):
    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(np.full((3, 3), v, np.uint8)) for v in (10, 20, 30)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with pytest.raises(ImageError, match=r"3 pages/frames; pass frame= \(0 to 2\)"):
        load_image(path)
    np.testing.assert_array_equal(load_image(path, frame=2).pixels, 30)


def test_format_comes_from_content_not_extension(tmp_path):
    png = save(GREY8, tmp_path / "really_a_png.dcm", format="PNG")
    np.testing.assert_array_equal(load_image(png).pixels, GREY8)
    dicom = write(image(GREY16), tmp_path / "really_dicom.png")
    rg = load_image(dicom)
    assert rg.metadata["format"] == "dicom"
    np.testing.assert_array_equal(rg.pixels, GREY16)


def test_pillow_decompression_bomb_guard_is_kept(tmp_path, monkeypatch):
    path = save(np.zeros((40, 40), np.uint8), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 px is > 2x the limit
    with pytest.raises(ImageError, match="decompression-bomb guard"):
        load_image(path)


def test_max_pixels_for_raster(tmp_path):
    path = save(GREY8, tmp_path / "six.png")
    with pytest.raises(ImageError, match=r"2 x 3 pixels exceed the limit of 5"):
        load_image(path, max_pixels=5)


def test_truncated_png(tmp_path):
    path = save(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8),
                tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ImageError, match=r"cut.png: could not decode"):
        load_image(path)


def test_calibrate_spacing_records_a_user_fiducial(tmp_path):
    rg = load_image(save(np.zeros((300, 200), np.uint8), tmp_path / "r.png"))
    cal = calibrate_spacing(rg, (20, 10), (20, 210), 30.0, label="ruler")
    assert cal.spacing == pytest.approx((0.15, 0.15))
    assert cal.spacing_source.startswith("user: ruler 30 mm between (20, 10) and (20, 210) px")
    assert "replaces unknown" in cal.spacing_source
    assert cal.metadata["calibration"]["length_mm"] == 30.0
    assert rg.spacing is None  # the original is unchanged
    assert cal.pixels is rg.pixels


def test_calibrate_spacing_keeps_a_known_pixel_aspect():
    rg = load_image(image(GREY16, PixelSpacing=[0.2, 0.1], PixelSpacingCalibrationType="GEOMETRY"))
    # 100 columns apart, 40 mm: col_mm = 0.4, row_mm = 2 * col_mm
    cal = calibrate_spacing(rg, (0, 0), (100, 0), 40.0)
    assert cal.spacing == pytest.approx((0.8, 0.4))
    assert "replaces calibrated" in cal.spacing_source
    assert cal.metadata["calibration"]["previous_spacing"] == (0.2, 0.1)


@pytest.mark.parametrize(
    "xy0, xy1, length",
    [((5, 5), (5, 5), 10.0), ((0, 0), (10, 0), 0.0), ((0, 0), (np.nan, 0), 5.0)],
    ids=["same-point", "zero-length", "nan"],
)
def test_calibrate_spacing_rejects_bad_input(xy0, xy1, length):
    rg = load_image(image(GREY16))
    with pytest.raises(SpacingError):
        calibrate_spacing(rg, xy0, xy1, length)


def test_frame_must_be_an_integer(tmp_path):
    path = save(GREY8, tmp_path / "f.png")
    with pytest.raises(ImageError, match="frame must be an integer"):
        load_image(path, frame="1")
    np.testing.assert_array_equal(load_image(path, frame=np.int64(0)).pixels, GREY8)


def test_warnings_point_at_the_caller():
    ds = image(GREY16, ImagerPixelSpacing=[0.1, 0.1])
    with pytest.warns(SpacingWarning) as record:
        load_image(ds)
    assert record[0].filename == __file__
