"""Read any supported image into one layout: a C-contiguous ``uint8`` RGB array.

Paths are decoded with Pillow (which reads the size from the header first, so an
over-large image is refused before its pixels are decoded); EXIF orientation is
applied so that pixel coordinates refer to the image as a viewer shows it.
Every failure is an :class:`~sk3dface.exceptions.ImageReadError` that names the
file (or the array) and what was wrong with it.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sk3dface.exceptions import ImageReadError

#: Default pixel limit (width * height); 50 megapixels is above any camera in common use
#: and below Pillow's own decompression-bomb threshold.
DEFAULT_MAX_PIXELS = 50_000_000

# how much a float image may stray outside [0, 1] (rounding in resampling) before it is refused
_FLOAT_TOLERANCE = 1e-6
_EXIF_ORIENTATION = 0x0112

ImageLike = str | os.PathLike | np.ndarray | Any  # Any: a PIL.Image.Image


def describe_image(image: Any) -> str:
    """A short human name for an image input, used in error and warning messages.

    Examples
    --------
    >>> import numpy as np
    >>> describe_image("photos/a.jpg")
    "'photos/a.jpg'"
    >>> describe_image(np.zeros((4, 5), dtype=np.uint8))
    'array of shape (4, 5) and dtype uint8'
    """
    if isinstance(image, (str, os.PathLike)):
        return repr(os.fspath(image))
    if isinstance(image, np.ndarray):
        return f"array of shape {image.shape} and dtype {image.dtype}"
    filename = getattr(image, "filename", "")
    if filename:
        return f"PIL image from {filename!r}"
    return type(image).__name__


def _error(name: str, reason: str) -> ImageReadError:
    """``ImageReadError`` naming the image; ``reason`` is kept on the error for reports."""
    error = ImageReadError(f"Cannot read image {name}: {reason}")
    error.reason = reason
    return error


def load_image(image: ImageLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image as a ``uint8`` RGB array of shape ``(height, width, 3)``.

    Parameters
    ----------
    image : str, path-like, ndarray or PIL image
        - a path to any file Pillow can decode (JPEG, PNG, TIFF, BMP, WebP, ...);
          EXIF orientation is applied;
        - an array of shape ``(H, W)`` (gray), ``(H, W, 1)``, ``(H, W, 3)`` (RGB) or
          ``(H, W, 4)`` (RGBA, the alpha channel is dropped), of dtype ``uint8``,
          ``uint16`` (scaled by 255/65535) or float with values in ``[0, 1]``;
        - a ``PIL.Image.Image`` of any mode (16-bit modes are scaled as above).
    max_pixels : int or None, default=50_000_000
        Largest accepted ``width * height``; ``None`` for no limit. Files are
        checked from their header, before decoding.

    Returns
    -------
    rgb : ndarray of shape (height, width, 3), dtype uint8
        C-contiguous. An input that is already a C-contiguous ``uint8`` RGB array
        is returned as is (not copied).

    Raises
    ------
    ImageReadError
        The file is missing, empty, not a decodable image, or has more than
        ``max_pixels`` pixels; or the array has the wrong shape or dtype, NaN
        values, or float values outside ``[0, 1]``. The message names the file.

    See Also
    --------
    sk3dface.FaceLandmarker : reads images with this function.

    Notes
    -----
    Pixel coordinates follow ``docs/conventions.md``: origin at the centre of the
    top-left pixel, ``x`` to the right, ``y`` down; channels are RGB, not BGR.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.utils._images import load_image
    >>> gray = np.linspace(0, 1, 12).reshape(3, 4)
    >>> rgb = load_image(gray)
    >>> rgb.shape, rgb.dtype, rgb[2, 3].tolist()
    ((3, 4, 3), dtype('uint8'), [255, 255, 255])
    >>> load_image("no/such/photo.jpg")
    Traceback (most recent call last):
    ...
    sk3dface.exceptions.ImageReadError: Cannot read image 'no/such/photo.jpg': no such file.
    """
    if isinstance(image, (str, os.PathLike)):
        return _load_path(image, max_pixels)
    if isinstance(image, np.ndarray):
        return _from_array(image, describe_image(image), max_pixels)
    if _is_pil_image(image):
        name = describe_image(image)
        with _decoding(name):
            return _from_pil(image, name, max_pixels)
    raise ImageReadError(
        f"Cannot read image of type {type(image).__name__}: expected a file path, a numpy "
        "array (H×W gray, H×W×3 RGB or H×W×4 RGBA) or a PIL image."
    )


def _is_pil_image(image: Any) -> bool:
    # avoid importing PIL for callers that never pass PIL images
    return type(image).__module__.startswith("PIL.") and hasattr(image, "getbands")


def _check_pixels(width: int, height: int, max_pixels: int | None, name: str) -> None:
    if width <= 0 or height <= 0:
        raise _error(name, f"it has no pixels ({width}×{height}).")
    if max_pixels is not None and width * height > max_pixels:
        raise _error(
            name,
            f"{width}×{height} = {width * height:,} pixels is more than "
            f"max_pixels={max_pixels:,}. Resize the image or raise max_pixels.",
        )


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn Pillow's decoding errors (corrupt, truncated, closed, odd mode) into ImageReadError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # we apply our own max_pixels limit, before decoding
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise _error(name, f"it has too many pixels ({exc}). Resize the image.") from exc
    except UnidentifiedImageError as exc:
        raise _error(
            name, "not a recognised image format (corrupt file, or not an image)."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise _error(name, f"the file is corrupt or truncated ({exc}).") from exc


def file_kind(path: str | os.PathLike) -> str:
    """What ``path`` is, for messages: "a folder", "a file", "a named pipe (FIFO)", ..."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "missing or unreadable"
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _load_path(path: str | os.PathLike, max_pixels: int | None) -> np.ndarray:
    from PIL import Image

    name = describe_image(path)
    path = Path(path)
    if not path.exists():
        raise _error(name, "no such file.")
    if not path.is_file():
        raise _error(name, f"it is {file_kind(path)}, not an image file.")
    if path.stat().st_size == 0:
        raise _error(name, "the file is empty (0 bytes).")
    with _decoding(name), Image.open(path) as pil:
        _check_pixels(pil.width, pil.height, max_pixels, name)
        pil.load()
        return _from_pil(pil, name, max_pixels)


def _from_pil(pil: Any, name: str, max_pixels: int | None) -> np.ndarray:
    from PIL import ImageOps

    _check_pixels(pil.width, pil.height, max_pixels, name)
    if pil.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        pil = ImageOps.exif_transpose(pil)
    if pil.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        array = np.asarray(pil)
        if array.dtype.kind == "i":  # mode "I": 32-bit signed, read as 16-bit data
            if array.size and (array.min() < 0 or array.max() > 65535):
                raise _error(
                    name,
                    "32-bit integer pixels outside the 16-bit range [0, 65535]; convert it "
                    "to 8 or 16 bits.",
                )
            array = array.astype(np.uint16)
        return _from_array(array, name, max_pixels)
    if pil.mode == "F":
        return _from_array(np.asarray(pil), name, max_pixels)
    if pil.mode != "RGB":
        pil = pil.convert("RGB")
    return np.ascontiguousarray(np.asarray(pil, dtype=np.uint8))


def _from_array(array: np.ndarray, name: str, max_pixels: int | None) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise _error(
            name,
            f"expected shape (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA; got {array.shape}. "
            "A batch of images must be passed as a list of arrays, one per image.",
        )
    _check_pixels(array.shape[1], array.shape[0], max_pixels, name)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    array = _to_uint8(array, name)
    if array.ndim == 2:
        array = np.repeat(array[:, :, np.newaxis], 3, axis=2)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "u" and array.dtype.itemsize == 2:  # uint16, either byte order
        # round(v * 255 / 65535) in integers; exact for v = 257 * k
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if np.isnan(array).any():
            raise _error(name, "it contains NaN values.")
        low, high = float(array.min()), float(array.max())
        if low < -_FLOAT_TOLERANCE or high > 1 + _FLOAT_TOLERANCE:
            raise _error(
                name,
                f"float pixels must lie in [0, 1]; got values in [{low:g}, {high:g}]. "
                "Divide by 255 (8-bit data) or pass a uint8 array.",
            )
        return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise _error(
        name,
        f"unsupported dtype {array.dtype}; expected uint8, uint16 or float with values in [0, 1].",
    )
