"""dlib's ResNet face descriptor (128-d, from ``face-recognition-models``), thread-safe.

The network (``dlib_face_recognition_resnet_model_v1.dat``, 99.38 % on LFW as published by
dlib) maps an aligned 150×150 face chip to a 128-d vector in which the Euclidean distance of
two faces of one person is small (dlib uses 0.6 as its same-person threshold). The chip is
aligned from the 68 landmarks found by the landmark back end, so a face is detected once for
both landmarks and descriptor.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from sk3dface.landmarks._dlib import _MODEL_FILE_SECTIONS, _installed_model_file, _sha256
from sk3dface.utils._docstrings import Substitution

DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
N_EMBEDDING = 128
_load_lock = threading.Lock()
_compute_lock = threading.Lock()  # dlib's net keeps per-call buffers: one call at a time
_models: dict[tuple[str, int, int], Any] = {}


@Substitution(model_file_sections=_MODEL_FILE_SECTIONS)
def default_descriptor_path() -> Path:
    """Path of ``dlib_face_recognition_resnet_model_v1.dat`` from ``face-recognition-models``.

    %(model_file_sections)s

    Examples
    --------
    >>> from sk3dface.embeddings._dlib_descriptor import default_descriptor_path
    >>> default_descriptor_path().name
    'dlib_face_recognition_resnet_model_v1.dat'
    """
    return _installed_model_file(DESCRIPTOR_FILE, "face-descriptor model", "descriptor_path=.")


def _model(path: str, size: int, mtime_ns: int) -> Any:
    key = (path, size, mtime_ns)
    with _load_lock:
        if key not in _models:
            import dlib

            try:
                _models[key] = dlib.face_recognition_model_v1(path)
            except RuntimeError as exc:
                raise RuntimeError(
                    f"dlib could not load the face-descriptor model {path!r} ({exc}). Is it "
                    f"a dlib face-recognition model file (such as {DESCRIPTOR_FILE})?"
                ) from exc
        return _models[key]


class DlibFaceDescriptor(BaseEstimator):
    """128-d dlib face descriptor of a face given by its 68 landmarks.

    Parameters
    ----------
    descriptor_path : str, path-like or None, default=None
        The model file; None uses the one in ``face-recognition-models``.
    num_jitters : int, default=0
        dlib re-computes the descriptor on this many randomly jittered copies of the
        chip and averages them (0: the chip as aligned; dlib suggests 10-100 for a
        slightly better descriptor at that many times the cost).
    padding : float, default=0.25
        Margin around the aligned face in the chip, as a fraction of the face size.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib import cbook
    >>> from sk3dface import FaceLandmarker
    >>> from sk3dface.embeddings import DlibFaceDescriptor
    >>> from sk3dface.utils._images import load_image
    >>> photo = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    >>> points = FaceLandmarker().fit_transform([photo]).reshape(68, 2)
    >>> vector = DlibFaceDescriptor()(photo, points)
    >>> vector.shape, bool(np.isfinite(vector).all())
    ((128,), True)
    """

    def __init__(
        self,
        descriptor_path: str | os.PathLike | None = None,
        num_jitters: int = 0,
        padding: float = 0.25,
    ) -> None:
        self.descriptor_path = descriptor_path
        self.num_jitters = num_jitters
        self.padding = padding

    def _path(self) -> Path:
        if self.descriptor_path is None:
            return default_descriptor_path()
        path = Path(self.descriptor_path)
        if not path.is_file():
            raise FileNotFoundError(f"descriptor_path {str(path)!r} is not a file.")
        return path

    def load(self) -> DlibFaceDescriptor:
        """Load the model now (so that a missing or broken file fails early)."""
        path = self._path()
        stat = path.stat()
        _model(str(path), stat.st_size, stat.st_mtime_ns)
        return self

    def cache_key(self) -> str:
        """SHA-256 of the model file (part of FaceEmbedder's cache key)."""
        path = self._path()
        stat = path.stat()
        return _sha256(str(path), stat.st_size, stat.st_mtime_ns)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The descriptor of the face whose 68 landmarks are given.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), uint8
            RGB image.
        landmarks : ndarray of shape (68, 2)
            iBUG-68 points in pixels.

        Returns
        -------
        descriptor : ndarray of shape (128,), float64
        """
        import dlib

        path = self._path()
        stat = path.stat()
        model = _model(str(path), stat.st_size, stat.st_mtime_ns)
        points = np.asarray(landmarks, dtype=float)
        left, top = np.floor(points.min(axis=0)).astype(int)
        right, bottom = np.ceil(points.max(axis=0)).astype(int)
        shape = dlib.full_object_detection(
            dlib.rectangle(int(left), int(top), int(right), int(bottom)),
            [dlib.point(round(x), round(y)) for x, y in points],
        )
        rgb = np.ascontiguousarray(image, dtype=np.uint8)
        with _compute_lock:
            vector = model.compute_face_descriptor(
                rgb, shape, int(self.num_jitters), float(self.padding)
            )
        return np.asarray(vector, dtype=np.float64)
