"""Landmarks layer: images or view sets -> 68 iBUG landmarks per view.

``_backend`` holds the back-end protocol and the box rules every back end shares, ``_dlib``
the default dlib back end, ``_tddfa`` the learned 3DDFA_V2 back end, ``_landmarker`` the
:class:`FaceLandmarker` transformer. A new
back end is one module here implementing :class:`LandmarkBackend`.
"""

from sk3dface.landmarks._backend import LandmarkBackend
from sk3dface.landmarks._dlib import DlibBackend
from sk3dface.landmarks._landmarker import FaceLandmarker
from sk3dface.landmarks._tddfa import TDDFABackend

__all__ = ["DlibBackend", "FaceLandmarker", "LandmarkBackend", "TDDFABackend"]
