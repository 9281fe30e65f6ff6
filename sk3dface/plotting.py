"""Matplotlib helpers: landmarks on a photo, a fitted 3-D shape, saved as PNG.

Matplotlib is imported inside the functions so that ``import sk3dface`` stays light; files
are written with the non-interactive Agg canvas, so these work on a machine without a screen.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

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


def _polylines(points: np.ndarray) -> list[np.ndarray]:
    lines = []
    for first, last, closed in IBUG_CONTOURS:
        index = list(range(first, last + 1)) + ([first] if closed else [])
        lines.append(points[index])
    return lines


def plot_landmarks(image: Any, landmarks: np.ndarray, ax: Any = None, *, color: str = "lime"):
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
    """
    import matplotlib.pyplot as plt

    points = np.asarray(landmarks, dtype=float).reshape(68, 2)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    if image is not None:
        from sk3dface._images import load_image

        ax.imshow(load_image(image))
    else:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    for line in _polylines(points):
        ax.plot(line[:, 0], line[:, 1], "-", color=color, linewidth=1)
    ax.scatter(points[:, 0], points[:, 1], s=6, color=color)
    ax.set_axis_off()
    return ax


def plot_shape(points: np.ndarray, ax: Any = None, *, title: str | None = None):
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

    points = np.asarray(points, dtype=float).reshape(68, 3)
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
    ax.set_box_aspect(np.ptp(points[:, [0, 2, 1]], axis=0))  # true proportions
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
