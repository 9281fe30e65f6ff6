"""Every private scikit-learn name sk3dface uses, imported in this one place.

scikit-learn's parameter validation (``_fit_context``, ``Interval``...),
``_check_feature_names_in`` and ``_check_sample_weight`` are private API that
imbalanced-learn and others also rely on; if a release moves them, this module is the only
one to change.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_feature_names_in, _check_sample_weight

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_check_feature_names_in",
    "_check_sample_weight",
    "_fit_context",
    "validate_params",
]
