"""Matplotlib helpers: landmarks and fits over a photo, 3-D shapes, evaluation plots.

- :func:`plot_landmarks`, :func:`plot_fit`, :func:`save_landmark_overlay`: 68 landmarks, or
  detected against fitted landmarks, over a photo, in image coordinates (y down);
- :func:`plot_shape`: a 3-D shape (landmarks of a model or any vertices) from a chosen view;
- :func:`plot_confusion_matrix`: scikit-learn's ``ConfusionMatrixDisplay`` of predictions;
- :func:`plot_roc`: a verification ROC (TAR against FAR on a log axis) with the EER marked.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes it drew into.
Matplotlib is imported inside the functions so that ``import sk3dface`` stays light; files
are written with the non-interactive Agg canvas, so these work on a machine without a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

import numpy as np

from sk3dface._layout import N_LANDMARKS

__all__ = [
    "IBUG_CONTOURS",
    "plot_confusion_matrix",
    "plot_fit",
    "plot_landmarks",
    "plot_roc",
    "plot_shape",
    "save_landmark_overlay",
]

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


def _is_empty(ax: Any) -> bool:
    return not (ax.images or ax.lines or ax.collections or ax.patches)


def plot_landmarks(
    image: Any,
    landmarks: np.ndarray,
    ax: Any = None,
    *,
    color: str = "lime",
    marker: str = "o",
    label: str | None = None,
) -> Any:
    """Draw 68 iBUG landmarks (pixels, see docs/conventions.md) over an image.

    The image is never flipped: points are drawn in image coordinates (origin top-left, y
    down), over the photo given here or over whatever the axes already holds (a photo drawn
    with ``imshow`` keeps its orientation). Only a bare point plot on an empty axes gets its
    y axis pointed down, once, so that the face is upright.

    Parameters
    ----------
    image : path, ndarray or PIL image, or None
        The photo; ``None`` draws the points alone (on an empty axes: y axis pointing down;
        on an axes that holds a photo or other points: over them, unchanged).
    landmarks : array-like of shape (68, 2) or (136,)
        ``x, y`` pixel coordinates; NaN rows are skipped.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is made when omitted.
    color : str, default="lime"
        Colour of points and outlines.
    marker : str, default="o"
        Matplotlib marker of the points.
    label : str, optional
        Legend label of the points.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    plot_fit : Detected and fitted landmarks together, with the fit's residual.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.plotting import plot_landmarks
    >>> photo = np.zeros((120, 100, 3), dtype=np.uint8)
    >>> points = np.random.default_rng(0).uniform(10, 90, (68, 2))
    >>> ax = plot_landmarks(photo, points)
    >>> ax.get_ylim()  # imshow's orientation: y grows downwards
    (np.float64(119.5), np.float64(-0.5))
    >>> len(ax.lines)  # the nine iBUG outlines
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
    elif _is_empty(ax):
        # bare image coordinates: y down. An axes with a photo (or with earlier points) is
        # already oriented; inverting it again would flip the photo.
        ax.invert_yaxis()
        ax.set_aspect("equal")
    for line in _polylines(points):
        ax.plot(line[:, 0], line[:, 1], "-", color=color, linewidth=1)
    ax.scatter(points[:, 0], points[:, 1], s=10, color=color, marker=marker, label=label)
    ax.set_axis_off()
    return ax


def plot_fit(
    image: Any,
    detected: np.ndarray,
    fitted: np.ndarray,
    ax: Any = None,
    *,
    margin: float | None = 0.3,
    title: str | None = None,
) -> Any:
    """Detected landmarks against the fitted model's landmarks, over the photo.

    The main diagnostic of a fit: where the model's projected landmarks land against the
    landmarks they were fitted to. Get the fitted landmarks from a fitted
    :class:`~sk3dface.MorphableCoefficientExtractor` with its ``inverse_transform`` (the
    model's :meth:`~sk3dface.MorphableModel.project_landmarks` with the fitted pose), as in
    the example.

    Parameters
    ----------
    image : path, ndarray or PIL image, or None
        The photo the landmarks were detected on; ``None`` draws the points alone.
    detected : array-like of shape (68, 2) or (136,)
        The landmarks the model was fitted to (pixels).
    fitted : array-like of shape (68, 2) or (136,)
        The fitted model's landmarks projected into the image (pixels).
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is made when omitted.
    margin : float or None, default=0.3
        Zoom onto the face, leaving this fraction of the face's size around it; None shows
        the whole photo.
    title : str, optional
        Put before the residual in the axes title.

    Returns
    -------
    ax : matplotlib Axes
        Titled with the residual: the RMS distance in pixels between detected and fitted
        points (over points finite in both), which is the extractor's ``residual`` column.

    See Also
    --------
    plot_landmarks : One set of landmarks over a photo.

    Examples
    --------
    >>> from sk3dface import MorphableCoefficientExtractor
    >>> from sk3dface.datasets import make_synthetic_faces
    >>> from sk3dface.plotting import plot_fit
    >>> faces = make_synthetic_faces(n_subjects=1, n_views=1, noise=2.0, random_state=0)
    >>> extractor = MorphableCoefficientExtractor().fit(faces.X)
    >>> coefficients = extractor.transform(faces.X)
    >>> fitted = extractor.inverse_transform(coefficients)
    >>> ax = plot_fit(None, faces.X[0], fitted[0], title="synthetic face")
    >>> ax.get_title()
    'synthetic face: residual 2.54 px (RMS over 68 points)'
    >>> round(float(coefficients[0, extractor.layout_.offset("residual")]), 2)
    2.54
    """
    detected_points = _points(detected, 2, "detected")
    fitted_points = _points(fitted, 2, "fitted")
    ax = plot_landmarks(image, detected_points, ax, color="lime", label="detected")
    plot_landmarks(None, fitted_points, ax, color="red", marker="x", label="fitted (model)")
    both = np.isfinite(detected_points).all(1) & np.isfinite(fitted_points).all(1)
    if both.any():
        squared = ((detected_points[both] - fitted_points[both]) ** 2).sum(1)
        summary = f"residual {np.sqrt(squared.mean()):.2f} px (RMS over {both.sum()} points)"
    else:
        summary = "no point both detected and fitted (a failed fit is NaN)"
    ax.set_title(f"{title}: {summary}" if title else summary)
    ax.legend(loc="lower right", fontsize="small")
    finite = np.concatenate([detected_points, fitted_points])
    finite = finite[np.isfinite(finite).all(1)]
    if margin is not None and len(finite):
        low, high = finite.min(0), finite.max(0)
        pad = margin * (high - low).max()
        # set_*bound keeps the axis direction, so the photo stays upright
        ax.set_xbound(low[0] - pad, high[0] + pad)
        ax.set_ybound(low[1] - pad, high[1] + pad)
    return ax


def plot_shape(
    shape: Any,
    ax: Any = None,
    *,
    alpha: Any = None,
    beta: Any = None,
    elev: float = 10.0,
    azim: float = -60.0,
    units: str | None = None,
    title: str | None = None,
) -> Any:
    """Draw a 3-D face shape in model space (x subject's left, y up, z towards the camera).

    The model's ``y`` is the vertical axis of the plot and its ``z`` the depth axis, pointing
    at the viewer of the default view, so the face is seen as in a photo (not mirrored);
    ``elev=0, azim=-90`` is the frontal view, ``azim=0`` the subject's left profile. The box
    has the shape's true proportions (``set_box_aspect``), the axes are labelled in model
    units.

    Parameters
    ----------
    shape : MorphableModel or array-like of shape (n_points, 3)
        A model, whose 68 landmarks for ``alpha`` and ``beta`` are drawn
        (:meth:`~sk3dface.MorphableModel.landmarks`), or vertices in model space, e.g.
        ``model.landmarks(alpha, beta)`` or ``model.shape(alpha, beta)``. 68 points get the
        iBUG outlines; other point sets are drawn as points.
    ax : matplotlib 3-D Axes, optional
        A new figure with a 3-D axes is made when omitted.
    alpha, beta : array-like of shape (n_alpha,) / (n_beta,), optional
        Coefficients of the shape when ``shape`` is a model (None: the mean).
    elev, azim : float, default=10, -60
        View angles in degrees, as in matplotlib's ``Axes3D.view_init``.
    units : str, optional
        Unit of the axis labels; default: the model's ``units`` (``"mm"`` for the built-in
        model), none for bare vertices.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib 3-D Axes

    Examples
    --------
    >>> from sk3dface import make_default_model
    >>> from sk3dface.plotting import plot_shape
    >>> ax = plot_shape(make_default_model(), elev=0, azim=-90)  # the mean face, frontal
    >>> ax.name, ax.elev, ax.azim
    ('3d', 0, -90)
    >>> ax.get_zlabel()
    'y: up [mm]'
    """
    import matplotlib.pyplot as plt

    from sk3dface.models._morphable_model import MorphableModel

    if isinstance(shape, MorphableModel):
        points = shape.landmarks(alpha, beta)
        units = shape.units if units is None else units
    else:
        if alpha is not None or beta is not None:
            raise ValueError(
                "alpha and beta need a MorphableModel as shape; got vertices. Pass the model, "
                "or the vertices model.landmarks(alpha, beta) without alpha and beta."
            )
        points = np.asarray(shape, dtype=float)
    if points.ndim == 1 and points.size == 3 * N_LANDMARKS:
        points = points.reshape(N_LANDMARKS, 3)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(
            f"shape must be a MorphableModel or vertices of shape (n_points, 3), e.g. "
            f"({N_LANDMARKS}, 3) landmarks; got shape {points.shape}."
        )
    if not np.isfinite(points).any():
        raise ValueError("points are all NaN: there is no shape to draw.")
    if ax is None:
        fig = plt.figure(figsize=(5, 5))
        ax = fig.add_subplot(projection="3d")
    # plot axes (x, depth, vertical) = model (x, -z, y): a rotation, so the face is not
    # mirrored; the depth axis is inverted back so that its ticks read model z
    x, depth, up = points[:, 0], points[:, 2], points[:, 1]
    if len(points) == N_LANDMARKS:
        for line in _polylines(points):
            ax.plot(line[:, 0], line[:, 2], line[:, 1], "-", color="tab:blue", linewidth=1)
    ax.scatter(x, depth, up, s=6 if len(points) <= 1000 else 1, color="tab:red")
    suffix = f" [{units}]" if units else ""
    ax.set_xlabel(f"x: subject's left{suffix}")
    ax.set_ylabel(f"z: towards camera{suffix}")
    ax.set_zlabel(f"y: up{suffix}")
    low, high = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(high[2], low[2])  # z towards the viewer of azim=-90
    ax.set_zlim(low[1], high[1])
    extent = high - low
    ax.set_box_aspect(np.maximum(extent[[0, 2, 1]], 1e-6 * extent.max()))  # true proportions
    ax.view_init(elev=elev, azim=azim)
    if title:
        ax.set_title(title)
    return ax


def _confusion_figsize(n_classes: int) -> tuple[float, float]:
    """Figure size (inches) that keeps the cells of an ``n_classes`` matrix readable."""
    size = min(max(4.0, 0.55 * n_classes + 2.5), 16.0)
    return size + 1.0, size


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    normalize: str | None = None,
    ax: Any = None,
    cmap: str = "Blues",
    colorbar: bool = True,
    xticks_rotation: float | str = 45,
    values_format: str | None = None,
) -> Any:
    """Confusion matrix of predictions, as scikit-learn's ``ConfusionMatrixDisplay`` draws it.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, e.g. a protocol's out-of-fold predictions
        (:meth:`~sk3dface.protocols.ProtocolReport.plot_confusion_matrix` calls this).
    labels : sequence, optional
        Classes in the order of the rows and columns; default: the sorted classes found in
        ``y_true`` and ``y_pred``.
    normalize : {"true", "pred", "all"} or None, default=None
        Rows sum to 1 (recall per class), columns (precision), everything, or counts.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure sized for the number of classes when omitted.
    cmap : str, default="Blues"
        Colour map.
    colorbar : bool, default=True
        Draw a colour bar.
    xticks_rotation : float or {"vertical", "horizontal"}, default=45
        Rotation of the predicted-label ticks.
    values_format : str, optional
        Format of the cell values; default counts as integers, rates with two decimals.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    sk3dface.metrics.per_class_report : Precision, recall, F1 and support per class.
    sklearn.metrics.ConfusionMatrixDisplay : What draws the matrix.

    Examples
    --------
    >>> from sk3dface.plotting import plot_confusion_matrix
    >>> ax = plot_confusion_matrix(["a", "a", "b", "b"], ["a", "b", "b", "b"], normalize="true")
    >>> [t.get_text() for t in ax.get_xticklabels()], ax.get_xlabel()
    (['a', 'b'], 'Predicted label')
    >>> ax.images[0].get_array().tolist()  # row "a": half right
    [[0.5, 0.5], [0.0, 1.0]]
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay
    from sklearn.utils.multiclass import unique_labels

    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None; got {normalize!r}.")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length; got shapes {y_true.shape} and "
            f"{y_pred.shape}."
        )
    if ax is None:
        n_classes = len(unique_labels(y_true, y_pred) if labels is None else labels)
        _, ax = plt.subplots(figsize=_confusion_figsize(n_classes))
    if values_format is None:
        values_format = "d" if normalize is None else ".2f"
    display = ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize=normalize,
        ax=ax,
        cmap=cmap,
        colorbar=colorbar,
        xticks_rotation=xticks_rotation,
        values_format=values_format,
    )
    return display.ax_


def plot_roc(
    y_true: Any,
    scores: Any,
    ax: Any = None,
    *,
    label: str | None = None,
    far_levels: Sequence[float] = (1e-3, 1e-2, 1e-1),
    annotate: bool = True,
) -> Any:
    """Verification ROC: true acceptance rate against false acceptance rate, FAR on a log axis.

    The curve is :func:`sklearn.metrics.roc_curve` of the pair scores; the equal error rate
    (:func:`sk3dface.metrics.equal_error_rate`) is marked at ``(EER, 1 - EER)`` and
    ``TAR@FAR`` (:func:`sk3dface.metrics.tar_at_far`) at each of ``far_levels`` that the
    impostor pairs can measure (at least ``1 / n_impostors``). Call it again on the same
    axes to compare feature sets; the chance line is drawn once.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for genuine pairs, 0 for impostor pairs, as from
        :func:`~sk3dface.metrics.make_verification_pairs`.
    scores : array-like of shape (n_pairs,)
        Similarity of each pair, higher for "same person"
        (:func:`~sk3dface.metrics.pair_scores`); must be finite.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is made when omitted.
    label : str, optional
        Legend label of the curve; the EER is appended.
    far_levels : sequence of float, default=(1e-3, 1e-2, 1e-1)
        FARs at which to mark and write TAR@FAR.
    annotate : bool, default=True
        Write the EER and TAR@FAR values next to their markers.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    sk3dface.metrics.equal_error_rate, sk3dface.metrics.tar_at_far

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.plotting import plot_roc
    >>> rng = np.random.default_rng(0)
    >>> y_true = np.r_[np.ones(200), np.zeros(2000)]
    >>> scores = rng.normal(2.0 * y_true, 1.0)  # genuine pairs score higher
    >>> ax = plot_roc(y_true, scores, label="2-D + 3-D")
    >>> ax.get_xscale(), ax.get_legend().get_texts()[-1].get_text()
    ('log', '2-D + 3-D (EER 16.0%)')
    """
    import matplotlib.pyplot as plt

    from sk3dface.metrics import _roc, equal_error_rate, tar_at_far

    far, tar = _roc(y_true, scores)  # checks the inputs, says what is wrong
    eer = equal_error_rate(y_true, scores)
    n_impostors = int(np.sum(np.asarray(y_true) != 1))
    floor = 1.0 / n_impostors
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    first_curve = not ax.lines
    shown = far > 0  # FAR = 0 has no place on a log axis
    name = f"EER {eer:.1%}" if label is None else f"{label} (EER {eer:.1%})"
    if first_curve:
        grid = np.geomspace(floor, 1.0, 50)
        ax.plot(grid, grid, ":", color="gray", linewidth=1, label="chance")
    (curve,) = ax.plot(far[shown], tar[shown], "-", linewidth=1.5, label=name)
    color = curve.get_color()
    if eer > 0:
        ax.plot([eer], [1 - eer], "o", color=color, markersize=6)
        if annotate:
            ax.annotate(
                f"EER {eer:.1%}",
                (eer, 1 - eer),
                xytext=(-6, 6),  # above the curve; the TAR@FAR notes go below it
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=color,
            )
    for level in far_levels:
        if not floor <= level <= 1:
            continue  # too few impostor pairs to measure this FAR
        rate = tar_at_far(y_true, scores, far=level)
        ax.plot([level], [rate], "s", color=color, markersize=4)
        if annotate:
            ax.annotate(
                f"TAR {rate:.2f} @ FAR {level:g}",
                (level, rate),
                xytext=(5, -10),
                textcoords="offset points",
                fontsize=7,
                color=color,
            )
    ax.set_xscale("log")
    left = min(floor, ax.get_xlim()[0]) if not first_curve else floor
    ax.set_xlim(left, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("false acceptance rate (FAR)")
    ax.set_ylabel("true acceptance rate (TAR)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
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

    Examples
    --------
    >>> import os, tempfile
    >>> from matplotlib import cbook
    >>> from sk3dface import FaceLandmarker
    >>> from sk3dface.plotting import save_landmark_overlay
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> landmarks = FaceLandmarker().fit_transform([photo])[0]
    >>> path = os.path.join(tempfile.mkdtemp(), "overlay.png")
    >>> save_landmark_overlay(photo, landmarks, path)
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib.pyplot as plt

    ax = plot_landmarks(image, landmarks)
    ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
