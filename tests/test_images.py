"""load_image: every accepted input gives the same uint8 RGB pixels; every bad one a clear error."""

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image

from sk3dface.exceptions import ImageReadError
from sk3dface.utils._images import load_image

GRACE = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


@pytest.fixture(scope="module")
def grace():
    return load_image(GRACE)


def test_path_gives_contiguous_uint8_rgb(grace):
    assert grace.shape == (600, 512, 3)
    assert grace.dtype == np.uint8
    assert grace.flags.c_contiguous
    with Image.open(GRACE) as pil:
        np.testing.assert_array_equal(grace, np.asarray(pil.convert("RGB")))
    # str and Path give the same pixels
    np.testing.assert_array_equal(load_image(Path(GRACE)), grace)


def test_uint8_rgb_array_is_returned_without_copy(grace):
    assert load_image(grace) is grace


def test_array_dtypes_and_layouts_are_equivalent(grace):
    gray = grace[:, :, 1]
    gray_rgb = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(load_image(gray), gray_rgb)
    np.testing.assert_array_equal(load_image(gray[:, :, None]), gray_rgb)
    rgba = np.dstack([grace, np.full(grace.shape[:2], 7, np.uint8)])
    np.testing.assert_array_equal(load_image(rgba), grace)
    np.testing.assert_array_equal(load_image(grace.astype(np.uint16) * 257), grace)
    np.testing.assert_array_equal(load_image(grace / 255.0), grace)
    np.testing.assert_array_equal(load_image((grace / 255.0).astype(np.float32)), grace)
    # Fortran-ordered or strided views come back C-contiguous
    flipped = load_image(grace[:, ::-1])
    assert flipped.flags.c_contiguous
    np.testing.assert_array_equal(flipped, grace[:, ::-1])


def test_big_endian_and_other_byte_orders(grace):
    # FITS, some TIFF readers and network buffers give non-native byte order
    np.testing.assert_array_equal(load_image((grace.astype(np.uint16) * 257).astype(">u2")), grace)
    np.testing.assert_array_equal(load_image((grace / 255.0).astype(">f4")), grace)


def test_uint16_is_rounded_not_truncated():
    values = np.array([[0, 128, 257 * 100 + 128, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(load_image(values)[0, :, 0], [0, 0, 100, 255])


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "1"])
def test_pil_modes(grace, mode):
    pil = Image.fromarray(grace).convert(mode)
    out = load_image(pil)
    assert out.shape == grace.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(pil.convert("RGB")))


def test_pil_16_bit_and_float_modes(grace):
    gray16 = grace[:, :, 0].astype(np.uint16) * 257
    expected = np.repeat(grace[:, :, :1], 3, axis=2)
    np.testing.assert_array_equal(load_image(Image.fromarray(gray16)), expected)
    as_float = Image.fromarray((grace[:, :, 0] / 255.0).astype(np.float32), mode="F")
    np.testing.assert_array_equal(load_image(as_float), expected)


def test_16_bit_png_file(tmp_path, grace):
    path = tmp_path / "gray16.png"
    Image.fromarray(grace[:, :, 2].astype(np.uint16) * 257).save(path)
    np.testing.assert_array_equal(load_image(path), np.repeat(grace[:, :, 2:], 3, axis=2))


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    shown = load_image(path)
    assert shown.shape == (40, 20, 3)
    assert shown[:10].mean() > 200 and shown[-10:].mean() < 50  # the band is now on top


def test_broken_pil_images_are_read_errors(tmp_path, grace):
    """A PIL image is decoded lazily: a truncated file, a closed image or a mode Pillow cannot
    convert must fail like a bad path (ImageReadError naming it), not with OSError/ValueError."""
    path = tmp_path / "half.jpg"
    data = open(GRACE, "rb").read()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"PIL image from '.*half\.jpg'.*truncated"):
        load_image(Image.open(path))
    closed = Image.open(GRACE)
    closed.close()
    with pytest.raises(ImageReadError, match=r"grace_hopper\.jpg"):
        load_image(closed)
    with pytest.raises(ImageReadError, match="corrupt"):
        load_image(Image.fromarray(grace).convert("RGBA").convert("La"))


def test_errors_carry_the_reason_without_the_name(tmp_path):
    with pytest.raises(ImageReadError) as caught:
        load_image(tmp_path / "nope.jpg")
    assert caught.value.reason == "no such file."
    assert str(caught.value) == f"Cannot read image {str(tmp_path / 'nope.jpg')!r}: no such file."


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match=r"nope\.jpg'.*no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="it is a folder, not an image file"):
        load_image(tmp_path)
    with pytest.raises(ImageReadError, match="it is a character device, not an image file"):
        load_image("/dev/null")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(ImageReadError, match=r"empty\.jpg'.*empty \(0 bytes\)"):
        load_image(path)


def test_random_bytes_named_jpg(tmp_path):
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ImageReadError, match=r"corrupt\.jpg'.*not a recognised image format"):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "truncated.jpg"
    data = open(GRACE, "rb").read()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"truncated\.jpg'.*corrupt or truncated"):
        load_image(path)


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    with pytest.raises(ImageReadError, match=r"grace_hopper\.jpg'.*307,200 pixels.*max_pixels"):
        load_image(GRACE, max_pixels=100_000)
    with pytest.raises(ImageReadError, match="more than max_pixels=10"):
        load_image(np.zeros((4, 4), np.uint8), max_pixels=10)
    assert load_image(np.zeros((4, 4), np.uint8), max_pixels=None).shape == (4, 4, 3)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 5, 2), np.uint8), r"expected shape .*got \(4, 5, 2\)"),
        (np.zeros((2, 4, 5, 3), np.uint8), r"got \(2, 4, 5, 3\).*list of arrays"),
        (np.zeros(7, np.uint8), r"got \(7,\)"),
        (np.zeros((0, 5), np.uint8), "no pixels"),
        (np.zeros((4, 4), np.int64), "unsupported dtype int64"),
        (np.zeros((4, 4), bool), "unsupported dtype bool"),
        (np.full((4, 4), 2.0), r"float pixels must lie in \[0, 1\].*\[2, 2\]"),
        (np.full((4, 4), -np.inf), r"float pixels must lie in \[0, 1\]"),
        (np.array([[0.5, np.nan]]), "NaN"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageReadError, match=message):
        load_image(array)


def test_unsupported_type():
    with pytest.raises(ImageReadError, match=r"type bytes.*file path"):
        load_image(b"\xff\xd8")
    with pytest.raises(ImageReadError, match="type BytesIO"):
        load_image(io.BytesIO(b""))
