"""Synthetic landmark data: model faces with known identity, expression and pose.

Faces are drawn from a morphable model and projected to 68 landmarks in pixels, in the
layout :class:`~sk3dface.FaceLandmarker` produces, so that every later step (fitting,
aggregation, classification) can be tested against the truth.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

from sk3dface._layout import POSE_NAMES, landmark_names
from sk3dface.models import MorphableModel
from sk3dface.models.io import load_model
from sk3dface.utils._sklearn_compat import Interval, StrOptions, validate_params


def _check_range(value: Any, name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) in degrees; got {value!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{name} must be finite with low <= high; got {value!r}.")
    if max(abs(low), abs(high)) > 90:
        raise ValueError(f"{name} must lie within [-90, 90] degrees; got {value!r}.")
    return low, high


@validate_params(
    {
        "n_subjects": [Interval(Integral, 1, None, closed="left")],
        "n_views": [Interval(Integral, 1, None, closed="left")],
        "n_expressions": [Interval(Integral, 0, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "model": [MorphableModel, str, os.PathLike],
        "noise": [Interval(Real, 0, None, closed="left")],
        "face_width": [Interval(Real, 0, None, closed="neither")],
        "yaw_range": ["array-like"],
        "pitch_range": ["array-like"],
        "roll_range": ["array-like"],
        "missing_rate": [Interval(Real, 0, 1, closed="left")],
        "identity_scale": [Interval(Real, 0, None, closed="left")],
        "expression_scale": [Interval(Real, 0, None, closed="left")],
        "expression_jitter": [Interval(Real, 0, None, closed="left")],
        "camera": [StrOptions({"orthographic", "perspective"})],
        "focal_length": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_synthetic_faces(
    n_subjects: int = 10,
    n_views: int = 3,
    *,
    n_expressions: int = 0,
    n_repeats: int = 1,
    model: MorphableModel | str | os.PathLike = "default",
    noise: float = 1.0,
    face_width: float = 200.0,
    yaw_range: tuple[float, float] = (-30.0, 30.0),
    pitch_range: tuple[float, float] = (-10.0, 10.0),
    roll_range: tuple[float, float] = (-10.0, 10.0),
    missing_rate: float = 0.0,
    identity_scale: float = 1.0,
    expression_scale: float = 1.0,
    expression_jitter: float = 0.25,
    camera: str = "orthographic",
    focal_length: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    """Landmarks of morphable-model faces with known alpha, beta and pose.

    Every subject gets one identity ``alpha ~ N(0, identity_scale^2)``. With
    ``n_expressions > 0`` every subject is shown with every expression class: class 0 is
    neutral (``beta = 0``), each other class has a prototype ``beta ~ N(0,
    expression_scale^2)`` and each sample adds ``N(0, expression_jitter^2)`` to it, so
    identities and expressions are separable classes. With ``n_expressions = 0`` each sample
    draws its own ``beta ~ N(0, expression_scale^2)`` and ``expression`` is -1. A sample is
    a view set: ``n_views`` views of the same face (same alpha and beta) under different
    poses; view ``k``'s yaw is drawn uniformly from the ``k``-th of ``n_views`` equal parts
    of ``yaw_range`` (so views differ, like a multi-camera rig), pitch and roll uniformly
    from their ranges. Each view is projected (see ``docs/conventions.md``) with the scale
    that makes the mean face's jaw contour (points 0-16) ``face_width`` pixels wide, placed
    near the centre of a square image of ``2.5 * face_width`` pixels; Gaussian noise of
    ``noise`` pixels is added to every coordinate.

    Parameters
    ----------
    n_subjects : int, default=10
        Number of identities.
    n_views : int, default=3
        Views per sample.
    n_expressions : int, default=0
        Number of expression classes (0: continuous random expressions, no classes).
    n_repeats : int, default=1
        Samples per subject and expression class. ``n_samples = n_subjects *
        max(n_expressions, 1) * n_repeats``, ordered by subject, then expression, then repeat.
    model : MorphableModel, str or path-like, default="default"
        The model to draw from (anything :func:`~sk3dface.load_model` accepts).
    noise : float, default=1.0
        Standard deviation of the landmark noise, pixels.
    face_width : float, default=200.0
        Width of the mean face in the image, pixels.
    yaw_range, pitch_range, roll_range : (float, float)
        Ranges of the angles in degrees (within [-90, 90]).
    missing_rate : float, default=0.0
        Probability that a view is missing (NaN block); every sample keeps at least one view.
    identity_scale, expression_scale : float, default=1.0
        Standard deviation of the identity coefficients / expression prototypes.
    expression_jitter : float, default=0.25
        Standard deviation of a sample's expression around its class prototype.
    camera : {"orthographic", "perspective"}, default="orthographic"
        Camera model (see ``docs/conventions.md``), as in
        :meth:`~sk3dface.MorphableModel.project_landmarks`.
    focal_length : float or None, default=None
        Focal length in pixels for ``camera="perspective"`` (default ``4 * face_width``).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    data : Bunch
        - ``X``: ndarray (n_samples, n_views * 136), landmarks ``x0, y0, x1, ...`` per view,
          NaN for missing views;
        - ``alpha``: (n_samples, n_alpha) and ``beta``: (n_samples, n_beta), the truth;
        - ``pose``: (n_samples, n_views, 6), columns ``pose_names`` = yaw, pitch, roll
          (degrees), tx, ty (pixels), scale (pixels per model unit);
        - ``subject``: (n_samples,) int; ``expression``: (n_samples,) int (-1 without
          classes); ``missing``: (n_samples, n_views) bool;
        - ``expression_prototypes``: (max(n_expressions, 1), n_beta);
        - ``feature_names``: ``v{k}_x{i}``, ``v{k}_y{i}``; ``model``: the model used;
          ``DESCR``.

    See Also
    --------
    sk3dface.MorphableCoefficientExtractor : Recovers alpha, beta and pose from ``X``.

    Examples
    --------
    >>> from sk3dface.datasets import make_synthetic_faces
    >>> faces = make_synthetic_faces(n_subjects=5, n_views=3, n_expressions=4, random_state=0)
    >>> faces.X.shape, faces.alpha.shape, faces.beta.shape
    ((20, 408), (20, 16), (20, 15))
    >>> faces.subject[:6].tolist(), faces.expression[:6].tolist()
    ([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 0, 1])
    """
    ranges = {
        name: _check_range(value, name)
        for name, value in (
            ("yaw_range", yaw_range),
            ("pitch_range", pitch_range),
            ("roll_range", roll_range),
        )
    }
    if camera == "perspective" and focal_length is None:
        focal_length = 4.0 * face_width
    rng = check_random_state(random_state)
    model = load_model(model)

    n_classes = max(n_expressions, 1)
    subject = np.repeat(np.arange(n_subjects), n_classes * n_repeats)
    expression = np.tile(np.repeat(np.arange(n_classes), n_repeats), n_subjects)
    n_samples = len(subject)

    subject_alpha = identity_scale * rng.standard_normal((n_subjects, model.n_alpha))
    alpha = subject_alpha[subject]
    if n_expressions:
        prototypes = expression_scale * rng.standard_normal((n_classes, model.n_beta))
        prototypes[0] = 0.0  # class 0 is neutral
        beta = prototypes[expression] + expression_jitter * rng.standard_normal(
            (n_samples, model.n_beta)
        )
    else:
        prototypes = np.zeros((1, model.n_beta))
        beta = expression_scale * rng.standard_normal((n_samples, model.n_beta))
        expression = np.full(n_samples, -1)

    low, high = ranges["yaw_range"]
    edges = np.linspace(low, high, n_views + 1)
    yaw = rng.uniform(edges[:-1], edges[1:], size=(n_samples, n_views))
    pitch = rng.uniform(*ranges["pitch_range"], size=(n_samples, n_views))
    roll = rng.uniform(*ranges["roll_range"], size=(n_samples, n_views))
    mean_landmarks = model.landmarks()
    scale = np.full((n_samples, n_views), face_width / np.ptp(mean_landmarks[:17, 0]))
    centre = 1.25 * face_width
    tx, ty = rng.uniform(
        centre - 0.1 * face_width, centre + 0.1 * face_width, size=(2, n_samples, n_views)
    )

    uv = model.project_landmarks(
        alpha[:, None],
        beta[:, None],
        yaw=yaw, pitch=pitch, roll=roll, tx=tx, ty=ty, scale=scale,
        camera=camera, focal_length=focal_length,
    )  # fmt: skip
    uv = uv + noise * rng.standard_normal(uv.shape)

    missing = rng.uniform(size=(n_samples, n_views)) < missing_rate
    all_missing = missing.all(axis=1)
    missing[all_missing, rng.randint(n_views, size=int(all_missing.sum()))] = False
    uv[missing] = np.nan

    feature_names = np.asarray(
        landmark_names(n_views),
        dtype=object,
    )
    return Bunch(
        X=uv.reshape(n_samples, -1),
        alpha=alpha,
        beta=beta,
        pose=np.stack([yaw, pitch, roll, tx, ty, scale], axis=-1),
        pose_names=list(POSE_NAMES),
        subject=subject,
        expression=expression,
        missing=missing,
        expression_prototypes=prototypes,
        feature_names=feature_names,
        model=model,
        DESCR=(
            f"Synthetic landmarks of {n_subjects} subjects x {n_classes} expression "
            f"{'classes' if n_expressions else '(random)'} x {n_repeats} repeats, {n_views} "
            f"views each, drawn from {model.name or 'a morphable model'}; noise {noise} px, "
            f"face width {face_width} px, {camera} camera, {int(missing.sum())} missing views."
        ),
    )
