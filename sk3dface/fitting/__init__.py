"""Fitting layer: landmarks -> pose + alpha + beta per view -> one vector per sample.

``_core`` is the batched Gauss-Newton fit (no estimator state), ``_extractor`` the
:class:`MorphableCoefficientExtractor` around it, ``_aggregator`` and ``_selector`` the
transformers of coefficient blocks (sharing ``_blocks``), ``_frontal`` the pose-normalised
shapes (:class:`FrontalShape`), ``_image_regressor`` the coefficients straight from images
with a learned back end (:class:`ImageCoefficientRegressor`).
"""

from sk3dface.fitting._aggregator import MultiViewAggregator
from sk3dface.fitting._extractor import MorphableCoefficientExtractor
from sk3dface.fitting._frontal import FrontalShape
from sk3dface.fitting._image_regressor import ImageCoefficientRegressor
from sk3dface.fitting._selector import CoefficientSelector

__all__ = [
    "CoefficientSelector",
    "FrontalShape",
    "ImageCoefficientRegressor",
    "MorphableCoefficientExtractor",
    "MultiViewAggregator",
]
