"""Image and view-set input: one parser for every estimator that takes images.

A sample is one image or a view set (a list or tuple of images of one person, ``None`` or
NaN for a missing view). Images are paths, arrays or PIL images (see
:func:`~sk3dface.utils._images.load_image`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np

from sk3dface.utils._images import _is_pil_image, describe_image


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas missing-value markers


def is_image(value: Any) -> bool:
    if isinstance(value, (str, os.PathLike)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object and value.ndim in (2, 3)
    return _is_pil_image(value)


def as_view_sets(X: Any, owner: str) -> list[list[Any]]:
    """Parse ``X`` into one list of views (images or None) per sample."""
    if isinstance(X, (str, os.PathLike)) or (is_image(X) and not isinstance(X, np.ndarray)):
        raise TypeError(
            f"X must be a sequence of samples (images or view sets); got a single "
            f"{describe_image(X)}. Pass [image] to transform one image."
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # pandas DataFrame: one view per column
        X = X.to_numpy(dtype=object)
    elif hasattr(X, "iloc"):  # pandas Series
        X = X.to_list()
    is_sparse = hasattr(X, "tocoo") or type(X).__module__.startswith("scipy.sparse")
    if isinstance(X, (Mapping, set, frozenset)) and not is_sparse:
        kind = "a mapping" if isinstance(X, Mapping) else "a set"
        raise TypeError(
            f"X must be a sequence of samples (images or view sets) in a fixed order; got "
            f"{kind} ({type(X).__name__}), whose "
            + ("keys would be read as the images" if isinstance(X, Mapping) else "order is")
            + (" and values ignored." if isinstance(X, Mapping) else " arbitrary.")
            + " Pass a list, e.g. list(d.values()) or sorted(paths)."
        )
    if is_sparse:
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}); {owner} reads images (paths, "
            "image arrays or PIL images), not sparse feature data."
        )
    if isinstance(X, np.ndarray):
        if X.dtype == object and X.ndim in (1, 2):
            rows = list(X)
        elif X.dtype != object and X.ndim == 4:
            rows = list(X)  # a stack of same-sized images (n, H, W, C)
        elif X.dtype != object and X.ndim == 3:
            raise ValueError(
                f"X is a numeric array of shape {X.shape}, which is ambiguous: one RGB image "
                "or a stack of gray images? Pass a list of images (e.g. [image] for one)."
            )
        else:
            raise ValueError(
                f"X must be a sequence of images or view sets (paths, image arrays or PIL "
                f"images); got an array of shape {X.shape} and dtype {X.dtype}. "
                f"{owner} reads images, not feature vectors; pass a list of images."
            )
    else:
        try:
            rows = list(X)
        except TypeError:
            raise TypeError(
                f"X must be a sequence of samples (images or view sets); got {type(X).__name__}."
            ) from None
    view_sets = []
    for index, sample in enumerate(rows):
        if isinstance(sample, (list, tuple)) or (
            isinstance(sample, np.ndarray) and sample.dtype == object
        ):
            views = list(sample)
        else:
            views = [sample]
        for position, view in enumerate(views):
            if is_missing(view):
                views[position] = None
            elif not is_image(view):
                if isinstance(view, np.ndarray):
                    got = f"an array of shape {view.shape} and dtype {view.dtype}"
                else:
                    got = f"{type(view).__name__} {view!r:.60}"
                numbers = isinstance(view, Number) or (
                    isinstance(view, np.ndarray) and view.ndim <= 1 and view.dtype.kind in "biuf"
                )
                hint = (
                    f" X looks like a feature matrix (rows of numbers); {owner} reads "
                    "images, not feature vectors: pass a list of images or image paths."
                    if numbers
                    else ""
                )
                raise TypeError(
                    f"Sample {index}, view {position}: expected an image (a path, an H×W, "
                    f"H×W×3 or H×W×4 array, or a PIL image) or None for a missing view; "
                    f"got {got}.{hint}"
                )
        view_sets.append(views)
    return view_sets
