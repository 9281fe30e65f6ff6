"""Classifiers layer: skorch ResNets on coefficient vectors and the raw-image baseline.

``_torch`` holds torch session/device handling, ``_base`` the skorch training base,
``_networks`` the torch modules, ``_coefficient`` and ``_image`` the estimators.
"""

from sk3dface.classifiers._coefficient import ResNetClassifier
from sk3dface.classifiers._image import ImageResNetClassifier
from sk3dface.classifiers._regressor import ResNetRegressor

__all__ = ["ImageResNetClassifier", "ResNetClassifier", "ResNetRegressor"]
