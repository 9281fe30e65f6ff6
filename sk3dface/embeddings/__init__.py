"""2-D features layer: pretrained face descriptors, the partner of the 3-D coefficients.

``_dlib_descriptor`` wraps dlib's ResNet face descriptor (thread-safe, loaded lazily),
``_embedder`` the :class:`FaceEmbedder` transformer built on FaceLandmarker's detection.
"""

from sk3dface.embeddings._dlib_descriptor import DlibFaceDescriptor
from sk3dface.embeddings._embedder import FaceEmbedder

__all__ = ["DlibFaceDescriptor", "FaceEmbedder"]
