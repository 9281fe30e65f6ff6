"""Fitting layer: landmarks -> pose + alpha + beta per view -> one vector per sample.

``_core`` is the batched Gauss-Newton fit (no estimator state), ``_extractor`` the
:class:`MorphableCoefficientExtractor` around it, ``_aggregator`` and ``_selector`` the
transformers of coefficient blocks (sharing ``_blocks``).
"""

from sk3dface.fitting._aggregator import MultiViewAggregator
from sk3dface.fitting._extractor import MorphableCoefficientExtractor
from sk3dface.fitting._selector import CoefficientSelector

__all__ = ["CoefficientSelector", "MorphableCoefficientExtractor", "MultiViewAggregator"]
