"""sk3dface: scikit-learn compatible face classification from 3DMM coefficients.

The public API is re-exported here lazily (PEP 562), so ``import sk3dface`` stays
fast and never imports torch, dlib or OpenCV until an estimator is used.
See ``docs/api.md`` for the inventory and ``docs/conventions.md`` for the
coordinate, landmark and coefficient conventions shared by every module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sk3dface.utils._lazy import lazy_exports

__version__ = "0.2.0.dev0"

# a library logs, the application decides where to (the CLI attaches a handler)
logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    # landmarks
    "FaceLandmarker": "sk3dface.landmarks",
    "LandmarkBackend": "sk3dface.landmarks",
    "DlibBackend": "sk3dface.landmarks",
    "TDDFABackend": "sk3dface.landmarks",
    # 2-D face descriptors
    "FaceEmbedder": "sk3dface.embeddings",
    # morphable models
    "MorphableModel": "sk3dface.models",
    "load_model": "sk3dface.models",
    "load_bfm_front": "sk3dface.models",
    "load_bfm2009": "sk3dface.models",
    "load_3ddfa": "sk3dface.models",
    "load_flame": "sk3dface.models",
    "make_default_model": "sk3dface.models",
    # fitting and aggregation
    "MorphableCoefficientExtractor": "sk3dface.fitting",
    "MultiViewAggregator": "sk3dface.fitting",
    "CoefficientSelector": "sk3dface.fitting",
    "FrontalShape": "sk3dface.fitting",
    "ImageCoefficientRegressor": "sk3dface.fitting",
    # classifiers
    "ResNetClassifier": "sk3dface.classifiers",
    "ResNetRegressor": "sk3dface.classifiers",
    "ImageResNetClassifier": "sk3dface.classifiers",
    # array layout helpers
    "landmarks_to_views": "sk3dface._layout",
    "split_views": "sk3dface._layout",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


__getattr__, __dir__ = lazy_exports("sk3dface", _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover - for static type checkers only
    from sk3dface._layout import landmarks_to_views as landmarks_to_views
    from sk3dface._layout import split_views as split_views
    from sk3dface.classifiers import ImageResNetClassifier as ImageResNetClassifier
    from sk3dface.classifiers import ResNetClassifier as ResNetClassifier
    from sk3dface.classifiers import ResNetRegressor as ResNetRegressor
    from sk3dface.embeddings import FaceEmbedder as FaceEmbedder
    from sk3dface.fitting import CoefficientSelector as CoefficientSelector
    from sk3dface.fitting import FrontalShape as FrontalShape
    from sk3dface.fitting import ImageCoefficientRegressor as ImageCoefficientRegressor
    from sk3dface.fitting import MorphableCoefficientExtractor as MorphableCoefficientExtractor
    from sk3dface.fitting import MultiViewAggregator as MultiViewAggregator
    from sk3dface.landmarks import DlibBackend as DlibBackend
    from sk3dface.landmarks import FaceLandmarker as FaceLandmarker
    from sk3dface.landmarks import LandmarkBackend as LandmarkBackend
    from sk3dface.landmarks import TDDFABackend as TDDFABackend
    from sk3dface.models import MorphableModel as MorphableModel
    from sk3dface.models import load_3ddfa as load_3ddfa
    from sk3dface.models import load_bfm2009 as load_bfm2009
    from sk3dface.models import load_bfm_front as load_bfm_front
    from sk3dface.models import load_flame as load_flame
    from sk3dface.models import load_model as load_model
    from sk3dface.models import make_default_model as make_default_model
