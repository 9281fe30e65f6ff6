"""Per-view coefficient blocks -> one vector per sample, and picking parts of it.

The layout of a block is ``[alpha (n_alpha), beta (n_beta), yaw, pitch, roll, tx, ty,
scale, residual]`` (see ``docs/conventions.md``); it is read from the column names when
``X`` is a DataFrame with the extractor's names, else from ``n_alpha``/``n_beta``/``n_views``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from sk3dface._layout import POSE_NAMES, RESIDUAL_NAME, CoefficientLayout
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.fitting._blocks import LAYOUT_PARAMETER_CONSTRAINTS, _BlockLayoutMixin
from sk3dface.utils._sklearn_compat import (
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from sk3dface.utils._warnings import warn_at_caller

# offsets inside the part of a block after the coefficients: pose, then residual
_YAW, _PITCH, _RESIDUAL = (
    [*POSE_NAMES, RESIDUAL_NAME].index(name) for name in ("yaw", "pitch", RESIDUAL_NAME)
)
# "confidence": weight cos(yaw)^2 / (residual^2 + _RESIDUAL_FLOOR^2), residual in pixels
_RESIDUAL_FLOOR = 1.0
# "learned": L2 penalty on the weight parameters, pairs of view subsets per sample, cap
_PENALTY = 1e-3
_SPLITS_PER_SAMPLE = 8
_MAX_PAIRS = 50_000
_MAX_LOG_WEIGHT = 30.0


class MultiViewAggregator(_BlockLayoutMixin, TransformerMixin, BaseEstimator):
    """Combine the per-view coefficient blocks of each sample into one vector.

    Input is the output of :class:`~sk3dface.MorphableCoefficientExtractor`: per view
    ``[alpha, beta, yaw, pitch, roll, tx, ty, scale, residual]``, NaN for missing views.
    Missing views are skipped; a sample without any view gives a NaN row.

    Parameters
    ----------
    method : {"mean", "median", "confidence", "learned"}, default="mean"
        How the coefficients (alpha, beta) of the views are combined:

        - ``"mean"``, ``"median"``: per dimension over the available views;
        - ``"confidence"``: weighted mean with view weight
          ``cos(yaw)^2 / (residual^2 + 1 px^2)``: frontal, well-fitted views count more;
        - ``"learned"``: weighted mean with per-dimension weights
          ``exp(theta_d . phi_v)`` of the view features ``phi_v = (|yaw|/45°,
          |pitch|/45°, log(residual / median residual))``, learned in :meth:`fit` without
          labels (C-Net style): ``theta_d`` minimises, over random splits of each sample's
          views into two disjoint halves, the disagreement of the two halves' aggregates
          relative to the spread of aggregates across samples (see ``docs/fitting.md``).

        The pose and residual columns are always the plain mean (median for
        ``"median"``) over the available views: they describe the view set.
    n_alpha, n_beta, n_views : int or None, default=None
        Layout of ``X`` when it has no column names from the extractor: two of the three
        suffice. Ignored (checked) when the column names give the layout.
    on_error : {"warn", "raise"}, default="warn"
        What to do with samples without any available view: NaN row and one
        :class:`~sk3dface.exceptions.FailedSamplesWarning`, or ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed for the random view splits of ``method="learned"``.

    Attributes
    ----------
    n_views_, n_alpha_, n_beta_ : int
        The layout of ``X``.
    weights_ : ndarray of shape (n_alpha + n_beta, 3)
        ``theta`` of ``method="learned"`` (rows: coefficients; columns: the view
        features |yaw|, |pitch|, log residual); None for the other methods.
    residual_scale_ : float
        Median view residual in :meth:`fit` (the reference of the log-residual feature).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.

    See Also
    --------
    sk3dface.MorphableCoefficientExtractor : Produces the per-view blocks.
    sk3dface.CoefficientSelector : Keeps alpha, beta or pose columns afterwards.

    Examples
    --------
    >>> from sk3dface import MorphableCoefficientExtractor, MultiViewAggregator
    >>> from sk3dface.datasets import make_synthetic_faces
    >>> faces = make_synthetic_faces(n_subjects=3, n_views=3, random_state=0)
    >>> blocks = MorphableCoefficientExtractor().fit_transform(faces.X)
    >>> aggregator = MultiViewAggregator(method="confidence", n_alpha=16, n_beta=15)
    >>> aggregator.fit_transform(blocks).shape
    (3, 38)
    >>> aggregator.get_feature_names_out()[[0, 16, 31]].tolist()
    ['alpha_0', 'beta_0', 'yaw']
    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [StrOptions({"mean", "median", "confidence", "learned"})],
        **LAYOUT_PARAMETER_CONSTRAINTS,
        "on_error": [StrOptions({"warn", "raise"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method: str = "mean",
        *,
        n_alpha: int | None = None,
        n_beta: int | None = None,
        n_views: int | None = None,
        on_error: str = "warn",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.method = method
        self.n_alpha = n_alpha
        self.n_beta = n_beta
        self.n_views = n_views
        self.on_error = on_error
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> MultiViewAggregator:
        """Read the layout of ``X``; with ``method="learned"`` learn the view weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * (n_alpha + n_beta + 7))
            Per-view coefficient blocks.
        y : None
            Ignored: the learned weights need no labels.

        Returns
        -------
        self : MultiViewAggregator
        """
        X = self._fit_layout(X, self.n_views)
        coef, pose = self._split(X)
        residual = pose[..., _RESIDUAL]
        finite = residual[np.isfinite(residual)]
        self.residual_scale_ = float(np.median(finite)) if finite.size else 1.0
        self.weights_ = None
        if self.method == "learned":
            self.weights_ = self._learn(coef, pose, check_random_state(self.random_state))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Aggregate the views of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * (n_alpha + n_beta + 7))
            Per-view coefficient blocks, NaN for missing views.

        Returns
        -------
        features : ndarray of shape (n_samples, n_alpha + n_beta + 7)
            ``alpha_*, beta_*, yaw, pitch, roll, tx, ty, scale, residual``.
        """
        X = self._check_input(X)
        coef, pose = self._split(X)
        available = np.isfinite(coef).all(-1) & np.isfinite(pose).all(-1)
        empty = np.flatnonzero(~available.any(axis=1))
        if empty.size:
            message = (
                f"{empty.size} of {len(X)} samples have no view with finite coefficients "
                f"(first: {empty[:5].tolist()}); their aggregated features are NaN."
            )
            if self.on_error == "raise":
                raise ValueError(message + " Pass on_error='warn' to get NaN rows instead.")
            warn_at_caller(message, FailedSamplesWarning)
        coef = np.where(available[..., None], coef, np.nan)
        pose = np.where(available[..., None], pose, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples, warned above
            if self.method == "median":
                return np.concatenate([np.nanmedian(coef, 1), np.nanmedian(pose, 1)], axis=1)
            pose_mean = np.nanmean(pose, axis=1)
        if self.method == "mean":
            weights = np.ones(coef.shape)
        elif self.method == "confidence":
            weights = np.cos(np.deg2rad(pose[..., _YAW])) ** 2 / (
                pose[..., _RESIDUAL] ** 2 + _RESIDUAL_FLOOR**2
            )
            weights = np.broadcast_to(weights[..., None], coef.shape)
        else:
            weights = self._learned_weights(pose)
        return np.concatenate([_weighted_mean(coef, weights, available), pose_mean], axis=1)

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        layout = self._layout
        blocks = layout.split(X)
        n_coef = layout.pose.start
        return blocks[..., :n_coef], blocks[..., n_coef:]

    def _view_features(self, pose: np.ndarray) -> np.ndarray:
        residual = np.maximum(pose[..., _RESIDUAL], 1e-3 * self.residual_scale_)
        return np.stack(
            [
                np.abs(pose[..., _YAW]) / 45.0,
                np.abs(pose[..., _PITCH]) / 45.0,
                np.log(residual / self.residual_scale_),
            ],
            axis=-1,
        )

    def _learned_weights(self, pose: np.ndarray) -> np.ndarray:
        phi = np.nan_to_num(self._view_features(pose))
        log_w = np.clip(phi @ self.weights_.T, -_MAX_LOG_WEIGHT, _MAX_LOG_WEIGHT)
        return np.exp(log_w)  # (n, V, n_coef)

    def _learn(self, coef, pose, rng) -> np.ndarray:
        available = np.isfinite(coef).all(-1) & np.isfinite(pose).all(-1)
        rows = np.flatnonzero(available.sum(1) >= 2)
        if rows.size < 2:
            raise ValueError(
                "method='learned' learns from samples with at least two available views; X "
                f"has {rows.size} such samples (at least 2 needed). Use method='confidence' "
                "for single-view data."
            )
        rows = np.repeat(rows, _SPLITS_PER_SAMPLE)
        if rows.size > _MAX_PAIRS:
            rows = np.sort(rng.choice(rows, _MAX_PAIRS, replace=False))
        first, second = _random_halves(available[rows], rng)
        c = np.nan_to_num(coef[rows])
        phi = np.nan_to_num(self._view_features(pose[rows]))
        n_coef, n_feat = coef.shape[-1], phi.shape[-1]
        if n_coef == 0:
            return np.zeros((0, n_feat))

        def loss(theta_flat):
            theta = theta_flat.reshape(n_coef, n_feat)
            value, grad = _split_disagreement(theta, c, phi, first, second)
            value += _PENALTY * (theta**2).sum()
            grad += 2 * _PENALTY * theta
            return value, grad.ravel()

        result = minimize(loss, np.zeros(n_coef * n_feat), jac=True, method="L-BFGS-B")
        return result.x.reshape(n_coef, n_feat)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``alpha_{i}``, ``beta_{i}``, ``yaw``, ``pitch``, ``roll``, ``tx``, ``ty``,
        ``scale``, ``residual``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        block = CoefficientLayout(1, self.n_alpha_, self.n_beta_)
        return np.asarray(block.block_names(), dtype=object)


def _weighted_mean(values, weights, available):
    weights = np.where(available[..., None], weights, 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights * np.nan_to_num(values)).sum(axis=1) / total


def _random_halves(available: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Split each row's available views into two non-empty disjoint random halves."""
    keys = np.where(available, rng.uniform(size=available.shape), np.inf)
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)  # random order of available views
    count = available.sum(1, keepdims=True)
    cut = 1 + np.floor(rng.uniform(size=count.shape) * (count - 1))  # 1 .. count-1 first
    first = available & (rank < cut)
    return first, available & ~first


def _split_disagreement(theta, c, phi, first, second):
    """sum_d mean_p (a1 - a2)^2 / var_p((a1 + a2) / 2) and its gradient in theta.

    a_k[p, d] is the weighted mean of c[p, v, d] over the views v of half k, with weights
    exp(theta_d . phi[p, v]).
    """
    log_w = np.clip(np.einsum("pvf,df->pvd", phi, theta), -_MAX_LOG_WEIGHT, _MAX_LOG_WEIGHT)
    w = np.exp(log_w)
    halves = []
    for mask in (first, second):
        wm = w * mask[..., None]
        total = wm.sum(1)  # (P, D)
        a = (wm * c).sum(1) / total
        # d a / d theta = sum_v wm (c - a) phi / total
        da = np.einsum("pvd,pvf->pdf", wm * (c - a[:, None]), phi) / total[..., None]
        halves.append((a, da))
    (a1, da1), (a2, da2) = halves
    diff = a1 - a2
    disagreement = (diff**2).mean(0)
    d_disagreement = (2 * diff[..., None] * (da1 - da2)).mean(0)
    centre = (a1 + a2) / 2
    centred = centre - centre.mean(0)
    spread = np.maximum((centred**2).mean(0), 1e-12)
    d_spread = (2 * centred[..., None] * (da1 + da2) / 2).mean(0)
    value = (disagreement / spread).sum()
    grad = (d_disagreement * spread[:, None] - disagreement[:, None] * d_spread) / spread[
        :, None
    ] ** 2
    return value, grad
