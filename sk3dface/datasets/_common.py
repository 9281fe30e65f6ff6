"""Helpers shared by the data-set loaders: file scanning, filters, damaged-image checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from sk3dface.utils._images import file_kind
from sk3dface.utils._warnings import warn_at_caller

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"})

# Reduced-size decode: JPEG is decoded directly at 1/8 scale (DCT scaling), so the check
# costs about as much as reading the file; other formats are decoded fully then shrunk.
_REDUCE = 8
# An image whose brightest reduced pixel is at most this is "all black".
BLACK_MAX = 10
# An image whose reduced grey values vary less than this (std, 0-255 scale) is "blank".
BLANK_STD = 2.0

Record = dict[str, Any]


def list_image_files(root: str | os.PathLike, dataset: str, expected: str) -> list[Path]:
    """All image files below ``root`` (recursively, sorted), skipping hidden/macOS metadata.

    Raises a clear error when ``root`` is not a path, is missing or is not a folder.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"{dataset} root must be a folder path (str or path-like) holding the {dataset} "
            f"images; got {type(root).__name__}."
        )
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"{dataset} root {str(root)!r} does not exist; pass the folder that holds the "
            f"{dataset} images ({expected})."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"{dataset} root {str(root)!r} is {file_kind(root)}, not a folder; pass the folder "
            f"that holds the {dataset} images ({expected})."
        )
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        # "__MACOSX" folders and "._NAME" AppleDouble files come with archives made on macOS.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__MACOSX")))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                files.append(Path(dirpath) / name)
    return sorted(files)


def _preview(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def scan_records(
    root: str | os.PathLike,
    parse: Callable[[Any], Record | None],
    dataset: str,
    expected: str,
    *,
    by_path: bool = False,
) -> pd.DataFrame:
    """One row per image file under ``root`` whose name ``parse`` understands.

    ``parse`` maps a file name (the whole ``Path`` with ``by_path=True``) to its labels,
    or None. The table has an ``image`` column
    (the path) and the labels. Raises when ``root`` holds no such file; warns, once, about
    image files whose names do not follow the data set's scheme.
    """
    files = list_image_files(root, dataset, expected)
    records, unparseable = [], []
    for path in files:
        record = parse(path if by_path else path.name)
        if record is None:
            unparseable.append(path.name)
        else:
            records.append({"image": str(path), **record})
    if not records:
        found = f"{len(files)} image file(s), none of them" if files else "no image files,"
        raise ValueError(
            f"No {dataset} images found under {str(root)!r}: found {found} named like "
            f"{expected}. Check that root points at the extracted {dataset} folder."
        )
    if unparseable:
        warn_at_caller(
            f"Ignored {len(unparseable)} image file(s) whose names do not follow the {dataset} "
            f"scheme ({expected}): {_preview(unparseable)}.",
            UserWarning,
        )
    return pd.DataFrame.from_records(records)


def drop_duplicates(frame: pd.DataFrame, key: list[str], dataset: str) -> pd.DataFrame:
    """Keep the first file (in path order) of each label combination, warning about the rest."""
    duplicated = frame.duplicated(subset=key, keep="first")
    if duplicated.any():
        dropped = frame.loc[duplicated, "image"].tolist()
        warn_at_caller(
            f"Found {len(dropped)} {dataset} file(s) repeating an image already seen elsewhere "
            f"under root (same {', '.join(key)}); kept the first copy in path order and ignored "
            f"{_preview(dropped)}. Point root at a single copy of the data set.",
            UserWarning,
        )
    return frame.loc[~duplicated].reset_index(drop=True)


def normalize_choice(
    values: Any, aliases: Mapping[str, Any], name: str, valid_text: str
) -> list[Any] | None:
    """Map user filter values (codes or names, any case) to canonical labels.

    ``aliases`` maps lower-case spellings to the canonical value. ``None`` means no filter.
    """
    if values is None:
        return None
    if isinstance(values, (str, int, np.integer)):
        values = [values]
    result, unknown = [], []
    for value in values:
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        if key in aliases:
            if aliases[key] not in result:
                result.append(aliases[key])
        else:
            unknown.append(repr(value))
    if unknown:
        raise ValueError(f"Unknown {name} {', '.join(unknown)}; valid {name} are {valid_text}.")
    if not result:
        raise ValueError(f"{name} must not be empty; valid {name} are {valid_text} (or None).")
    return result


def apply_filters(
    frame: pd.DataFrame, filters: Mapping[str, list[Any] | None], dataset: str
) -> pd.DataFrame:
    """Keep the rows whose column values are in each (non-None) filter list."""
    mask = np.ones(len(frame), dtype=bool)
    for column, allowed in filters.items():
        if allowed is not None:
            mask &= frame[column].isin(allowed).to_numpy()
    if not mask.any():
        active = {c: v for c, v in filters.items() if v is not None}
        available = {c: sorted(frame[c].unique().tolist()) for c in active}
        raise ValueError(
            f"No {dataset} image matches the filters {active}; the data found under root have "
            f"{available}."
        )
    return frame.loc[mask].reset_index(drop=True)


def _reduced_gray(path: str) -> np.ndarray:
    """Decode ``path`` as a small grey image (JPEG: decoded at 1/8 size by libjpeg)."""
    from PIL import Image

    # (no warnings.catch_warnings here: it is not thread-safe, and this runs in threads)
    with Image.open(path) as image:
        image.draft("L", (max(1, image.width // _REDUCE), max(1, image.height // _REDUCE)))
        gray = image.convert("L")
    step = max(1, min(gray.size) // 64)  # formats without draft mode: subsample instead
    return np.asarray(gray)[::step, ::step]


def damage_reason(path: str) -> str | None:
    """Why the image at ``path`` is unusable (empty, unreadable, truncated, black), or None.

    The check decodes at reduced size with Pillow's JPEG "draft" mode (libjpeg DCT
    scaling, about as fast as OpenCV's ``IMREAD_REDUCED_GRAYSCALE_8``), because Pillow
    raises on a truncated JPEG where OpenCV silently returns a grey-filled image and
    prints to stderr. When that fast decode fails, the library's own reader
    (:func:`sk3dface.utils._images.load_image`) gives the verdict and the message.
    """
    kind = file_kind(path)
    if kind != "a file":  # never open a pipe or a device: reading one can block or never end
        return f"{kind}, not an image file"
    try:
        gray = _reduced_gray(path)
    except Exception:  # any failure: the authoritative reader says why
        return _damage_reason_via_load_image(path)
    return _blank_reason(gray)


def _damage_reason_via_load_image(path: str) -> str | None:
    from sk3dface.exceptions import ImageReadError
    from sk3dface.utils._images import load_image

    try:
        image = load_image(path)
    except ImageReadError as error:
        return error.reason.rstrip(".")
    return _blank_reason(image.mean(axis=2)[::_REDUCE, ::_REDUCE])


def _blank_reason(gray: np.ndarray) -> str | None:
    if gray.size == 0:
        return "empty image (0 pixels)"
    if gray.max() <= BLACK_MAX:
        return "all black"
    std = float(gray.std())
    if std < BLANK_STD:
        return f"blank (nearly constant grey level, std {std:.1f})"
    return None


def find_damaged(paths: list[str], n_jobs: int | None = None) -> list[tuple[str, str]]:
    """``(path, reason)`` for every damaged image among ``paths``, in the given order."""
    if n_jobs is None or n_jobs == 1 or len(paths) < 64:
        reasons = [damage_reason(p) for p in paths]
    else:
        from joblib import Parallel, delayed

        # libjpeg releases the GIL while decoding, so threads scale without process start-up.
        reasons = Parallel(n_jobs=n_jobs, prefer="threads", batch_size=32)(
            delayed(damage_reason)(p) for p in paths
        )
    return [(p, r) for p, r in zip(paths, reasons, strict=True) if r is not None]


def handle_damaged(
    frame: pd.DataFrame, *, check_images: bool, keep_damaged: bool, n_jobs: int | None, dataset: str
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Check the images of ``frame``; warn about damaged ones and drop them unless kept."""
    if not check_images:
        return frame, []
    damaged = find_damaged(frame["image"].tolist(), n_jobs=n_jobs)
    if damaged:
        action = "kept (keep_damaged=True)" if keep_damaged else "excluded"
        listed = [f"{Path(p).name} ({reason})" for p, reason in damaged]
        warn_at_caller(
            f"{len(damaged)} damaged {dataset} image(s) {action}: {_preview(listed, 10)}. "
            f"The full list is in the returned bunch's 'damaged'.",
            UserWarning,
        )
        if not keep_damaged:
            bad = {p for p, _ in damaged}
            frame = frame.loc[~frame["image"].isin(bad)].reset_index(drop=True)
            if frame.empty:
                raise ValueError(
                    f"Every selected {dataset} image is damaged ({_preview(listed)}); "
                    "nothing is left to load."
                )
    return frame, damaged


def make_bunch(
    frame: pd.DataFrame, columns: list[str], damaged: list[tuple[str, str]], descr: str
) -> Bunch:
    """The loaders' return value: one array per column plus the frame and description."""
    frame = frame[["image", *columns]].reset_index(drop=True)
    arrays = {"images": frame["image"].to_numpy(dtype=object)}
    for column in columns:
        values = frame[column].to_numpy()
        arrays[column] = values if values.dtype.kind in "iu" else values.astype(object)
    return Bunch(**arrays, frame=frame, damaged=damaged, DESCR=descr)
