"""CoefficientSelector: keep alpha, beta, both or the pose of coefficient blocks."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk3dface._layout import CoefficientLayout
from sk3dface.fitting._blocks import LAYOUT_PARAMETER_CONSTRAINTS, _BlockLayoutMixin
from sk3dface.utils._sklearn_compat import (
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)


class CoefficientSelector(_BlockLayoutMixin, TransformerMixin, BaseEstimator):
    """Keep the identity (alpha), expression (beta) or pose columns of coefficient features.

    Works on the output of :class:`~sk3dface.MultiViewAggregator` (one block) and on the
    per-view output of :class:`~sk3dface.MorphableCoefficientExtractor` (every view's
    block). Identity tasks want ``"alpha"``, expression tasks ``"beta"``.

    Parameters
    ----------
    part : {"alpha", "beta", "both", "pose"}, default="both"
        ``"both"`` keeps alpha and beta; ``"pose"`` keeps yaw, pitch, roll, tx, ty, scale
        and residual.
    n_alpha, n_beta, n_views : int or None, default=None
        Layout of ``X`` when it has no column names from the extractor or the aggregator:
        with ``n_views`` unset, one of ``n_alpha``/``n_beta`` suffices for aggregated
        features (one block); otherwise two of the three.

    Attributes
    ----------
    columns_ : ndarray of int
        Indices of the kept columns.
    n_views_, n_alpha_, n_beta_ : int
        The layout of ``X``.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.

    See Also
    --------
    sk3dface.MultiViewAggregator : Produces the aggregated features.
    sklearn.compose.make_column_selector : With pandas output, ``pattern="^alpha_"`` selects
        the same columns inside a ColumnTransformer.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import CoefficientSelector
    >>> features = np.arange(2 * 12.0).reshape(2, 12)  # 3 alpha + 2 beta + 7 pose columns
    >>> CoefficientSelector("beta", n_alpha=3).fit_transform(features)
    array([[ 3.,  4.],
           [15., 16.]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "part": [StrOptions({"alpha", "beta", "both", "pose"})],
        **LAYOUT_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        part: str = "both",
        *,
        n_alpha: int | None = None,
        n_beta: int | None = None,
        n_views: int | None = None,
    ) -> None:
        self.part = part
        self.n_alpha = n_alpha
        self.n_beta = n_beta
        self.n_views = n_views

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> CoefficientSelector:
        """Find the columns to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Aggregated or per-view coefficient features.
        y : None
            Ignored.

        Returns
        -------
        self : CoefficientSelector
        """
        n_views = self.n_views
        if n_views is None and (self.n_alpha is None) != (self.n_beta is None):
            n_views = 1
        self._fit_layout(X, n_views)
        layout = self._layout
        keep = {
            "alpha": np.arange(layout.block_size)[layout.alpha],
            "beta": np.arange(layout.block_size)[layout.beta],
            "both": np.arange(layout.pose.start),
            "pose": np.arange(layout.pose.start, layout.block_size),
        }[self.part]
        self.columns_ = (np.arange(layout.n_views)[:, None] * layout.block_size + keep).ravel()
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Keep the selected columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features with the layout seen in :meth:`fit`.

        Returns
        -------
        selected : ndarray of shape (n_samples, n_selected)
        """
        return self._check_input(X)[:, self.columns_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the kept columns (``alpha_0``, ... or ``v0_alpha_0``, ...).

        The input's own names when it had the extractor's or the aggregator's names, else
        the block names (with ``v{view}_`` prefixes for several views).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = [str(n) for n in _check_feature_names_in(self, input_features)]
        if CoefficientLayout.from_names(names) is None:  # not the extractor's/aggregator's names
            layout = self._layout
            names = layout.feature_names() if layout.n_views > 1 else layout.block_names()
        return np.asarray(names, dtype=object)[self.columns_]
