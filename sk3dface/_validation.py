"""Array layout shared by every step of the pipeline.

Between pipeline steps data are plain 2-D float arrays; these helpers check
them and reshape them to per-view blocks for code that needs the structure.
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 68
LANDMARK_BLOCK = N_LANDMARKS * 2  # x, y per landmark


def split_views(X: np.ndarray, view_size: int, *, name: str = "X") -> np.ndarray:
    """Reshape ``(n_samples, n_views * view_size)`` to ``(n_samples, n_views, view_size)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_views * view_size)
        Per-view blocks laid side by side, view 0 first.
    view_size : int
        Number of columns of one view's block.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    views : ndarray of shape (n_samples, n_views, view_size)
        A view of ``X`` (no copy when ``X`` is C-contiguous float).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or its column count is not a multiple of ``view_size``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import split_views
    >>> split_views(np.zeros((4, 6)), 3).shape
    (4, 2, 3)
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, n_views*{view_size}); "
            f"got an array with shape {X.shape}."
        )
    n_samples, n_columns = X.shape
    if n_columns == 0 or n_columns % view_size:
        raise ValueError(
            f"{name} has {n_columns} columns, which is not a positive multiple of "
            f"{view_size} (the columns of one view): expected shape "
            f"(n_samples, n_views*{view_size})."
        )
    return X.reshape(n_samples, n_columns // view_size, view_size)


def landmarks_to_views(X: np.ndarray) -> np.ndarray:
    """Reshape FaceLandmarker output to ``(n_samples, n_views, 68, 2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_views * 136)
        Landmarks as produced by :class:`~sk3dface.FaceLandmarker`: for each
        view the 68 iBUG points as ``x0, y0, x1, y1, ...`` in pixels.

    Returns
    -------
    landmarks : ndarray of shape (n_samples, n_views, 68, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import landmarks_to_views
    >>> landmarks_to_views(np.zeros((5, 3 * 136))).shape
    (5, 3, 68, 2)
    """
    views = split_views(X, LANDMARK_BLOCK)
    return views.reshape(views.shape[0], views.shape[1], N_LANDMARKS, 2)
