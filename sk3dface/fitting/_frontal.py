"""FrontalShape: the observed landmarks with pose (and identity or expression) taken out.

The 3DMM fit separates pose, identity and expression. Its coefficients alone carry less of
a task than the landmarks they are fitted to (a sparse model cannot express every face), but
the fit can *normalise* the observed points: undo the fitted camera (translation, scale and
rotation, lifting each point with the model's depth) and subtract the part of the shape the
task does not care about. On real photos this beats the raw landmarks for identity by 3-24
points (``docs/real_data.md``).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from sk3dface._layout import (
    LANDMARK_BLOCK,
    N_LANDMARKS,
    landmark_names,
    landmarks_to_views,
    view_prefixed,
)
from sk3dface.fitting._blocks import _NaNFloat64TagsMixin
from sk3dface.fitting._extractor import MorphableCoefficientExtractor
from sk3dface.models._camera import rotation_matrix
from sk3dface.utils._sklearn_compat import (
    HasMethods,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)

PARTS = ("identity", "expression", "observed", "residual")


def frontal_shapes(
    landmarks: np.ndarray, coefficients: np.ndarray, model: Any, layout: Any
) -> dict[str, np.ndarray]:
    """Decompose observed landmarks with a fitted pose: ``(n, n_views, 68, 3)`` arrays.

    With ``R`` the fitted rotation, ``s`` the scale, ``t`` the translation and ``q`` the
    landmarks in lifted image coordinates (``y`` up), ``observed = R^T [(q - t) / s, z]``
    where ``z`` is the fitted model's depth in the camera frame: the image points in the
    frontal model frame, in model units. ``identity = observed - B_exp beta`` (the fitted
    expression removed), ``expression = observed - (mean + B_id alpha)`` (the fitted identity
    removed: the expression deformation *and* what the model could not express), and
    ``residual = observed - fitted shape``.
    """
    points = landmarks_to_views(landmarks) * np.array([1.0, -1.0])  # y up
    blocks = layout.split(coefficients)
    alpha, beta = blocks[..., layout.alpha], blocks[..., layout.beta]
    pose = blocks[..., layout.pose]
    yaw, pitch, roll, tx, ty, scale = np.moveaxis(pose, -1, 0)
    finite = np.isfinite(pose).all(axis=-1)
    R = np.full((*yaw.shape, 3, 3), np.nan)
    R[finite] = rotation_matrix(yaw[finite], pitch[finite], roll[finite])
    n_points = len(model.mean)
    id_basis = model.identity_basis.reshape(n_points, 3, -1)
    ex_basis = model.expression_basis.reshape(n_points, 3, -1)
    identity_part = model.mean + np.einsum("lkj,nvj->nvlk", id_basis, alpha)
    expression_part = np.einsum("lkj,nvj->nvlk", ex_basis, beta)
    fitted = identity_part + expression_part
    depth = np.einsum("nvij,nvlj->nvli", R, fitted)[..., 2:]
    shift = np.stack([tx, -ty], axis=-1)[..., None, :]
    camera = np.concatenate([(points - shift) / scale[..., None, None], depth], axis=-1)
    observed = np.einsum("nvji,nvlj->nvli", R, camera)  # R^T per point
    return {
        "observed": observed,
        "identity": observed - expression_part,
        "expression": observed - identity_part,
        "residual": observed - fitted,
    }


class FrontalShape(_NaNFloat64TagsMixin, TransformerMixin, BaseEstimator):
    """Pose-normalised landmarks with the fitted expression or identity removed.

    A :class:`MorphableCoefficientExtractor` fits pose, alpha and beta to each view; the
    *observed* 68 points are then de-rotated and de-scaled with the fitted camera (lifted
    with the model's depth) and, by ``part``:

    - ``"identity"``: the fitted expression deformation subtracted — what stays the same
      for a person across expressions and poses (identity, gender);
    - ``"expression"``: the fitted identity subtracted — the expression deformation,
      including the part the sparse model cannot express (expression);
    - ``"observed"``: nothing subtracted (frontalised landmarks);
    - ``"residual"``: the fitted shape subtracted — what the model could not explain.

    The output is the ``x, y`` of the 68 points in model units, centred per sample
    (``z`` is the model's own depth and carries little), averaged over the available views
    of a sample (``combine_views="mean"``).

    Parameters
    ----------
    part : {"identity", "expression", "observed", "residual"}, default="identity"
        What to keep (see above).
    extractor : MorphableCoefficientExtractor or None, default=None
        The fit to use (cloned in ``fit``); None:
        ``MorphableCoefficientExtractor(alpha_reg=10.0)``, the prior measured best for
        identity on real photos. Its parameters are reachable for grid search as
        ``extractor__alpha_reg`` etc. Only the orthographic camera is supported.
    combine_views : {"mean", "none"}, default="mean"
        One shape per sample (mean over views, NaN views skipped), or one per view.

    Attributes
    ----------
    extractor_ : MorphableCoefficientExtractor
        The fitted extractor.
    n_views_ : int
        Views per sample.
    n_features_in_ : int
        Landmark columns seen in ``fit``.

    See Also
    --------
    MorphableCoefficientExtractor : The fit; its coefficients are another feature choice.

    Examples
    --------
    >>> from sk3dface import FrontalShape
    >>> from sk3dface.datasets import make_synthetic_faces
    >>> faces = make_synthetic_faces(n_subjects=3, n_views=2, random_state=0)
    >>> shapes = FrontalShape("identity").fit_transform(faces.X)
    >>> shapes.shape
    (3, 136)
    >>> list(FrontalShape("identity").fit(faces.X).get_feature_names_out()[:2])
    ['identity_x0', 'identity_y0']
    """

    _parameter_constraints: ClassVar[dict] = {
        "part": [StrOptions(set(PARTS))],
        "extractor": [HasMethods(["fit", "transform"]), None],
        "combine_views": [StrOptions({"mean", "none"})],
    }

    def __init__(
        self, part: str = "identity", *, extractor: Any = None, combine_views: str = "mean"
    ) -> None:
        self.part = part
        self.extractor = extractor
        self.combine_views = combine_views

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any = None) -> FrontalShape:
        """Fit the extractor (it reads the model; no labels are used).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * 136)
            Landmarks from :class:`~sk3dface.FaceLandmarker`.
        y : None
            Ignored.

        Returns
        -------
        self : FrontalShape
        """
        extractor = (
            MorphableCoefficientExtractor(alpha_reg=10.0)
            if self.extractor is None
            else clone(self.extractor)
        )
        if getattr(extractor, "camera", "orthographic") != "orthographic":
            raise ValueError(
                "FrontalShape undoes a scaled orthographic camera; its extractor has "
                f"camera={extractor.camera!r}. Use camera='orthographic'."
            )
        self.extractor_ = extractor.fit(X)
        self.n_features_in_ = self.extractor_.n_features_in_
        if hasattr(self.extractor_, "feature_names_in_"):
            self.feature_names_in_ = self.extractor_.feature_names_in_
        self.n_views_ = self.extractor_.n_views_
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The selected shape of every sample (or view).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * 136)
            Landmarks.

        Returns
        -------
        shapes : ndarray of shape (n_samples, 136) or (n_samples, n_views * 136)
            ``x, y`` per point, centred; NaN for samples (views) that could not be fitted.
        """
        check_is_fitted(self)
        coefficients = self.extractor_.transform(X)
        landmarks = np.asarray(
            X.to_numpy(dtype=float) if hasattr(X, "to_numpy") else X, dtype=float
        )[:, : self.n_views_ * LANDMARK_BLOCK]  # without FaceLandmarker's box columns
        with np.errstate(invalid="ignore"):
            shapes = frontal_shapes(
                landmarks, coefficients, self.extractor_.model_, self.extractor_.layout_
            )[self.part][..., :2]
        shapes = shapes - shapes.mean(axis=2, keepdims=True)
        if self.combine_views == "none":
            return shapes.reshape(len(shapes), -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # samples without any view
            combined = np.nanmean(shapes, axis=1)
        # samples without a usable view are NaN rows, counted by the extractor's warning
        return combined.reshape(len(combined), N_LANDMARKS * 2)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``{part}_x0, {part}_y0, ...`` (``v{k}_`` prefixed with ``combine_views="none"``).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` / ``n_features_in_`` only: the output
            names do not depend on the input names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        names = [name.replace("v0_", f"{self.part}_") for name in landmark_names(1)]
        if self.combine_views == "none":
            names = view_prefixed(names, self.n_views_)
        return np.asarray(names, dtype=object)
