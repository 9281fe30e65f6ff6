"""Models layer: the MorphableModel container, camera math, the built-in model, file formats.

``_morphable_model`` is the container, ``_camera`` the rotation/projection math,
``_default_model`` the built-in anthropometric model, and ``io/`` one module per file format
plus the registry :func:`load_model` uses.
"""

from sk3dface.models._camera import project, rotation_angles, rotation_matrix
from sk3dface.models._default_model import make_default_model
from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io import load_3ddfa, load_bfm2009, load_bfm_front, load_flame, load_model

__all__ = [
    "MorphableModel",
    "load_3ddfa",
    "load_bfm2009",
    "load_bfm_front",
    "load_flame",
    "load_model",
    "make_default_model",
    "project",
    "rotation_angles",
    "rotation_matrix",
]
