"""Matplotlib helpers: landmarks on a photo, a fitted 3-D shape, saved as PNG.

Matplotlib is imported inside the functions so that ``import sk3dface`` stays light; files
are written with the non-interactive Agg canvas, so these work on a machine without a screen.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from sk3dface._layout import N_LANDMARKS

__all__ = ["IBUG_CONTOURS", "plot_landmarks", "plot_shape", "save_landmark_overlay"]

# iBUG-68 outline as polylines: (first index, last index, closed)
IBUG_CONTOURS: tuple[tuple[int, int, bool], ...] = (
    (0, 16, False),  # jaw
    (17, 21, False),  # right brow
    (22, 26, False),  # left brow
    (27, 30, False),  # nose bridge
    (31, 35, False),  # nostrils
    (36, 41, True),  # right eye
    (42, 47, True),  # left eye
    (48, 59, True),  # outer lip
    (60, 67, True),  # inner lip
)


def _points(values: Any, n_dims: int, name: str) -> np.ndarray:
    points = np.asarray(values, dtype=float)
    if points.size != N_LANDMARKS * n_dims:
        raise ValueError(
            f"{name} must hold the 68 iBUG points with {n_dims} coordinates each, shape "
            f"({N_LANDMARKS}, {n_dims}) or ({N_LANDMARKS * n_dims},); got shape {points.shape}."
        )
    return points.reshape(N_LANDMARKS, n_dims)


def _polylines(points: np.ndarray) -> list[np.ndarray]:
    lines = []
    for first, last, closed in IBUG_CONTOURS:
        index = list(range(first, last + 1)) + ([first] if closed else [])
        lines.append(points[index])
    return lines


def plot_landmarks(
    image: Any, landmarks: np.ndarray, ax: Any = None, *, color: str = "lime"
) -> Any:
    """Draw 68 iBUG landmarks (pixels, see docs/conventions.md) over an image.

    Parameters
    ----------
    image : path, ndarray or PIL image, or None
        The photo; ``None`` draws the points alone (y axis pointing down).
    landmarks : array-like of shape (68, 2) or (136,)
        ``x, y`` pixel coordinates; NaN rows are skipped.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is made when omitted.
    color : str, default="lime"
        Colour of points and outlines.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.plotting import plot_landmarks
    >>> ax = plot_landmarks(None, np.random.default_rng(0).uniform(0, 100, (68, 2)))
    >>> len(ax.lines)
    9
    >>> plot_landmarks(None, np.zeros(10))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: landmarks must hold the 68 iBUG points with 2 coordinates each, ...(10,).
    """
    import matplotlib.pyplot as plt

    points = _points(landmarks, 2, "landmarks")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    if image is not None:
        from sk3dface.utils._images import load_image

        ax.imshow(load_image(image))
    else:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    for line in _polylines(points):
        ax.plot(line[:, 0], line[:, 1], "-", color=color, linewidth=1)
    ax.scatter(points[:, 0], points[:, 1], s=6, color=color)
    ax.set_axis_off()
    return ax


def plot_shape(points: np.ndarray, ax: Any = None, *, title: str | None = None) -> Any:
    """Draw a 68-landmark 3-D shape (model space: x left, y up, z towards the camera).

    Parameters
    ----------
    points : array-like of shape (68, 3)
        Landmark vertices, e.g. ``model.landmarks(alpha, beta)``.
    ax : matplotlib 3-D Axes, optional
        A new figure with a 3-D axes is made when omitted.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib 3-D Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.plotting import plot_shape
    >>> ax = plot_shape(np.random.default_rng(0).normal(size=(68, 3)))
    >>> ax.name
    '3d'
    """
    import matplotlib.pyplot as plt

    points = _points(points, 3, "points")
    if not np.isfinite(points).any():
        raise ValueError("points are all NaN: there is no shape to draw.")
    if ax is None:
        fig = plt.figure(figsize=(5, 5))
        ax = fig.add_subplot(projection="3d")
    # matplotlib's 3-D view has z up: show model y as the vertical axis
    for line in _polylines(points):
        ax.plot(line[:, 0], line[:, 2], line[:, 1], "-", color="tab:blue", linewidth=1)
    ax.scatter(points[:, 0], points[:, 2], points[:, 1], s=6, color="tab:red")
    ax.set_xlabel("x (left)")
    ax.set_ylabel("z (front)")
    ax.set_zlabel("y (up)")
    extent = np.nanmax(points, axis=0) - np.nanmin(points, axis=0)
    ax.set_box_aspect(np.maximum(extent[[0, 2, 1]], 1e-6 * extent.max()))  # true proportions
    ax.view_init(elev=10, azim=-60)
    if title:
        ax.set_title(title)
    return ax


def save_landmark_overlay(image: Any, landmarks: np.ndarray, path: str | PathLike) -> None:
    """Save :func:`plot_landmarks` of one image to a PNG file.

    Parameters
    ----------
    image : path, ndarray or PIL image
        The photo.
    landmarks : array-like of shape (68, 2) or (136,)
        Pixel coordinates.
    path : str or path-like
        Output PNG file.
    """
    import matplotlib.pyplot as plt

    ax = plot_landmarks(image, landmarks)
    ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
