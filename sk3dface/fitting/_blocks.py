"""Input handling shared by the transformers of per-view coefficient blocks."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from sk3dface._layout import CoefficientLayout
from sk3dface.utils._sklearn_compat import Interval

#: the constraints of the layout parameters that :meth:`_BlockLayoutMixin._fit_layout` reads
LAYOUT_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "n_alpha": [Interval(Integral, 0, None, closed="left"), None],
    "n_beta": [Interval(Integral, 0, None, closed="left"), None],
    "n_views": [Interval(Integral, 1, None, closed="left"), None],
}


class _NaNFloat64TagsMixin:
    """Tags of a transformer that takes NaN (missing or failed views) and returns float64."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


class _BlockLayoutMixin(_NaNFloat64TagsMixin):
    """Input handling shared by the transformers of per-view coefficient blocks."""

    def _fit_layout(self, X: Any, n_views: int | None) -> np.ndarray:
        """Validate ``X`` in fit and set ``n_views_``, ``n_alpha_``, ``n_beta_``."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        layout = CoefficientLayout.from_params(
            X.shape[1],
            n_views=n_views,
            n_alpha=self.n_alpha,
            n_beta=self.n_beta,
            names=getattr(self, "feature_names_in_", None),
            owner=type(self).__name__,
        )
        self.n_views_, self.n_alpha_, self.n_beta_ = layout.n_views, layout.n_alpha, layout.n_beta
        return X

    @property
    def _layout(self) -> CoefficientLayout:
        return CoefficientLayout(self.n_views_, self.n_alpha_, self.n_beta_)

    def _check_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
