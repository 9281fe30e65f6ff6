"""The default landmark back end: dlib's HOG face detector + 68-point shape predictor.

:class:`DlibBackend` uses dlib's HOG frontal face detector and its
68-point shape predictor, whose file ships in the PyPI package
``face-recognition-models``. dlib objects are loaded lazily, cached once per
process and never pickled: a pickled backend keeps the predictor path and its
SHA-256 and reloads (and checks) the file after unpickling, so joblib workers each
build their own.

dlib's objects are not thread-safe (the HOG detector keeps its image pyramid in the
object), so threads never use one at the same time: detectors are lent from a pool, one
thread at a time, and grow to one per concurrent thread (they are small and cheap to
build); the 100 MB shape predictor is loaded once per file and process, and each call
holds one lock (about 1 ms, against ~50 ms of detection).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from sk3dface.landmarks._backend import check_box
from sk3dface.utils._docstrings import Substitution
from sk3dface.utils._images import load_image

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
DETECTORS = ("hog", "cnn")
_LICENCE_NOTE = (
    "dlib's 68-point predictor was trained on iBUG 300-W, whose licence excludes commercial use."
)


def _model_file(name: str) -> Path | None:
    """A file of the ``face-recognition-models`` package, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models" / name
        if candidate.is_file():
            return candidate
    return None


#: the Returns and Raises sections of a ``default_*_path`` function
_MODEL_FILE_SECTIONS = """
    Returns
    -------
    path : Path

    Raises
    ------
    FileNotFoundError
        If the package or the file is not installed.
"""


def _installed_model_file(name: str, what: str, alternative: str) -> Path:
    """``_model_file(name)``, or a FileNotFoundError saying how to install it or what to pass."""
    found = _model_file(name)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"dlib's {what} ({name}) was not found: install it with "
        f"`pip install face-recognition-models`, or pass {alternative}"
    )


@Substitution(model_file_sections=_MODEL_FILE_SECTIONS)
def default_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` from ``face-recognition-models``.

    The package is located without being imported (its ``__init__`` needs
    ``pkg_resources``, which recent setuptools no longer provide).

    %(model_file_sections)s

    Examples
    --------
    >>> from sk3dface.landmarks._dlib import default_predictor_path
    >>> default_predictor_path().name
    'shape_predictor_68_face_landmarks.dat'
    """
    return _installed_model_file(
        PREDICTOR_FILE,
        "68-point shape predictor",
        "DlibBackend(predictor_path='/path/to/shape_predictor_68_face_landmarks.dat'). "
        + _LICENCE_NOTE,
    )


@functools.lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # keyed on (size, mtime) so the 100 MB file is hashed once per process, not per call
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


_MAX_PREDICTORS = 4  # predictor files kept loaded per process (each ~100 MB)
_load_lock = threading.Lock()  # guards the two caches below; held while loading a file
_predict_lock = threading.Lock()  # held by every shape-predictor call
_predictors: dict[tuple[str, int, int], Any] = {}
_free_detectors: list[Any] = []


def _reset_locks_after_fork() -> None:
    # a fork taken while another thread held a lock would leave it locked in the child
    global _load_lock, _predict_lock
    _load_lock, _predict_lock = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


def _shape_predictor(path: str, size: int, mtime_ns: int) -> Any:
    """The process's predictor for this file version; call it holding ``_predict_lock``."""
    key = (path, size, mtime_ns)
    with _load_lock:
        predictor = _predictors.get(key)
        if predictor is None:
            import dlib

            try:
                predictor = dlib.shape_predictor(path)
            except RuntimeError as exc:
                raise RuntimeError(
                    f"dlib could not load the shape predictor {path!r} ({exc}). Is it a dlib "
                    f"shape-predictor file (such as {PREDICTOR_FILE})?"
                ) from exc
            for stale in [k for k in _predictors if k[0] == path]:  # older file versions
                del _predictors[stale]
            while len(_predictors) >= _MAX_PREDICTORS:
                del _predictors[next(iter(_predictors))]  # the oldest loaded
            _predictors[key] = predictor
    return predictor


@contextlib.contextmanager
def _frontal_face_detector() -> Iterator[Any]:
    """Lend a HOG detector that no other thread uses until the block ends."""
    with _load_lock:
        detector = _free_detectors.pop() if _free_detectors else None
    if detector is None:
        import dlib

        detector = dlib.get_frontal_face_detector()
    try:
        yield detector
    finally:
        with _load_lock:
            _free_detectors.append(detector)


_cnn_lock = threading.Lock()  # held by every CNN-detector call (one net per process)
_cnn_detectors: dict[str, Any] = {}


def _cnn_detector() -> Any:
    """The process's dlib CNN (MMOD) face detector; call it holding ``_cnn_lock``."""
    path = _model_file(CNN_DETECTOR_FILE)
    if path is None:
        raise FileNotFoundError(
            f"dlib's CNN face detector ({CNN_DETECTOR_FILE}) was not found: install it with "
            "`pip install face-recognition-models`, or use detector='hog'."
        )
    with _load_lock:
        if str(path) not in _cnn_detectors:
            import dlib

            _cnn_detectors[str(path)] = dlib.cnn_face_detection_model_v1(str(path))
        return _cnn_detectors[str(path)]


# MMOD boxes are ~10 % larger than HOG's and centred ~6 % of the side higher (medians over
# 13 real frontal photos where both found the face); the shape predictor was trained on
# HOG boxes, so CNN boxes are mapped onto HOG's size and centre
_CNN_TO_HOG_SCALE = 0.91
_CNN_TO_HOG_SHIFT = 0.064  # of the side, downwards (image y)


def _hog_sized(rect: Any) -> tuple[float, float, float, float]:
    left, top, right, bottom = rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1
    side = max(right - left, bottom - top) * _CNN_TO_HOG_SCALE
    cx, cy = (left + right) / 2, (top + bottom) / 2 + _CNN_TO_HOG_SHIFT * side
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(load_image(image, max_pixels=None), cv2.COLOR_RGB2GRAY)


class DlibBackend(BaseEstimator):
    """dlib's face detector (HOG or CNN) and 68-point shape predictor.

    The default back end of :class:`~sk3dface.FaceLandmarker`. The HOG detector
    finds upright, roughly frontal faces (up to about ±40° of yaw and ±20° of roll);
    it misses faces smaller than about 80×80 pixels unless ``upsample`` > 0. The CNN
    (MMOD) detector finds more turned and small faces at a much higher cost on a CPU
    (see ``benchmarks/landmarks.py``).

    Parameters
    ----------
    predictor_path : str, path-like or None, default=None
        A dlib 68-point shape-predictor file. ``None`` uses
        ``shape_predictor_68_face_landmarks.dat`` from the ``face-recognition-models``
        package. dlib's predictor was trained on iBUG 300-W, whose licence excludes
        commercial use.
    upsample : int, default=0
        How many times the detector doubles the image before searching (dlib's
        ``upsample_num_times``): each step finds faces half as small and costs
        about 3-4× the time.
    detector : {"hog", "cnn"}, default="hog"
        ``"hog"``: dlib's HOG + linear SVM frontal face detector. ``"cnn"``: dlib's
        MMOD CNN face detector (``mmod_human_face_detector.dat`` from
        ``face-recognition-models``), better on turned and small faces, ~10-50×
        slower on a CPU. Its boxes are larger and higher than HOG's; the shape predictor
        was trained on HOG boxes, so CNN boxes are mapped onto HOG's size and centre.

    See Also
    --------
    sk3dface.FaceLandmarker : runs a back end over images and view sets.
    LandmarkBackend : the protocol this class implements.

    Notes
    -----
    Images are converted to gray (``cv2.COLOR_RGB2GRAY``) before detection and
    prediction, as dlib's HOG features and shape predictor use intensity only.
    The dlib objects are built on first use and shared by all backends of the
    process; no two threads use one at the same time, so a backend (and a fitted
    ``FaceLandmarker``) may be shared between threads. Pickling keeps
    ``predictor_path`` and, once the predictor was loaded, its SHA-256; the
    unpickled backend refuses a predictor file whose content changed meanwhile.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib import cbook
    >>> from sk3dface import DlibBackend
    >>> from sk3dface.utils._images import load_image
    >>> image = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    >>> backend = DlibBackend()
    >>> boxes = backend.detect(image)
    >>> boxes.shape
    (1, 4)
    >>> backend.predict(image, boxes[0]).shape
    (68, 2)
    """

    def __init__(
        self,
        predictor_path: str | os.PathLike | None = None,
        upsample: int = 0,
        detector: str = "hog",
    ):
        self.predictor_path = predictor_path
        self.upsample = upsample
        self.detector = detector

    def _resolved_path(self) -> Path:
        if self.predictor_path is None:
            return default_predictor_path()
        path = Path(self.predictor_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"The shape-predictor file {os.fspath(self.predictor_path)!r} does not exist. "
                "Pass the path of a dlib 68-point predictor, or predictor_path=None to use "
                f"the one from the face-recognition-models package. {_LICENCE_NOTE}"
            )
        return path

    def load(self) -> DlibBackend:
        """Load (or fetch from the process cache) the detector and predictor now.

        Returns
        -------
        self : DlibBackend

        Raises
        ------
        FileNotFoundError
            The predictor file does not exist.
        RuntimeError
            dlib cannot read the file, or (for an unpickled backend) the file's
            content differs from the one this backend was built with.
        """
        self._predictor()
        self._check_detector()
        if self.detector == "cnn":
            _cnn_detector()
        else:
            with _frontal_face_detector():
                pass
        return self

    def _check_detector(self) -> str:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}; got {self.detector!r}.")
        return self.detector

    def cache_key(self) -> str:
        """SHA-256 of the predictor file, which the landmarks depend on besides the parameters.

        ``FaceLandmarker(memory=...)`` keys its cache on it, so landmarks cached with one
        predictor file are not returned for another. The file is hashed once per process
        (and again when its size or modification time changes).

        Returns
        -------
        sha256 : str
            64 hexadecimal digits.

        Raises
        ------
        FileNotFoundError
            The predictor file does not exist.
        RuntimeError
            The file's content differs from the one this backend was built with.
        """
        return self._checked_file()[1]

    def _checked_file(self) -> tuple[tuple[str, int, int], str]:
        path = self._resolved_path()
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        checksum = _sha256(*key)
        fingerprint = getattr(self, "_fingerprint", None)
        if fingerprint is not None and fingerprint[0] == self.predictor_path:
            if fingerprint[1] != checksum:
                raise RuntimeError(
                    f"The shape-predictor file {str(path)!r} changed since this DlibBackend "
                    f"was built (SHA-256 {checksum[:12]}… instead of {fingerprint[1][:12]}…), "
                    "so its landmarks would not match those of the fitted pipeline. Restore "
                    "the original file, or re-fit with a new DlibBackend to accept this one."
                )
        return key, checksum

    def _predictor(self) -> Any:
        loaded = getattr(self, "_loaded", None)
        if loaded is not None and loaded[0] == self.predictor_path:
            return loaded[1]
        key, checksum = self._checked_file()
        predictor = _shape_predictor(*key)
        self._fingerprint = (self.predictor_path, checksum)
        self._loaded = (self.predictor_path, predictor)
        return predictor

    def _check_upsample(self) -> int:
        upsample = self.upsample
        if isinstance(upsample, bool) or not isinstance(upsample, (int, np.integer)):
            raise TypeError(f"upsample must be an int >= 0; got {upsample!r}.")
        if upsample < 0:
            raise ValueError(f"upsample must be an int >= 0; got {upsample}.")
        return int(upsample)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Find faces with dlib's HOG or CNN detector.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image (anything :func:`~sk3dface.utils._images.load_image` accepts).

        Returns
        -------
        boxes : ndarray of shape (n_faces, 4), float
            ``[left, top, right, bottom]``, right/bottom exclusive, in dlib's order
            (best detection first); may reach outside the image.
        """
        return self.detect_with_scores(image)[0]

    def detect_with_scores(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`detect` and each box's detector score.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image.

        Returns
        -------
        boxes : ndarray of shape (n_faces, 4), float
            As from :meth:`detect`.
        scores : ndarray of shape (n_faces,), float
            HOG: the linear SVM's score (dlib's ``run(image, upsample, 0)``; a face is
            reported above 0, typically 0-3). CNN: the MMOD detection confidence (reported
            above 0, typically 0-2). Larger is more confident; the two scales differ.
        """
        upsample = self._check_upsample()
        if self._check_detector() == "cnn":
            rgb = np.ascontiguousarray(load_image(image, max_pixels=None))
            with _cnn_lock:
                found = _cnn_detector()(rgb, upsample)
            found = sorted(found, key=lambda d: -d.confidence)
            boxes = [_hog_sized(d.rect) for d in found]
            scores = [d.confidence for d in found]
        else:
            gray = _gray(image)
            with _frontal_face_detector() as detector:
                rectangles, scores, _ = detector.run(gray, upsample, 0.0)
            boxes = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rectangles]
        return np.array(boxes, dtype=float).reshape(-1, 4), np.array(scores, dtype=float)

    def predict(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Predict the 68 iBUG landmarks inside ``box`` with dlib's shape predictor.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image (anything :func:`~sk3dface.utils._images.load_image` accepts).
        box : array-like of shape (4,)
            ``[left, top, right, bottom]``, right/bottom exclusive.

        Returns
        -------
        landmarks : ndarray of shape (68, 2), float
            ``(x, y)`` pixel coordinates (dlib rounds them to whole pixels).
        """
        import dlib

        predictor = self._predictor()
        box = check_box(box)
        left, top, right, bottom = (round(v) for v in box)
        rectangle = dlib.rectangle(left, top, max(right - 1, left), max(bottom - 1, top))
        gray = _gray(image)
        with _predict_lock:
            shape = predictor(gray, rectangle)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=float)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_loaded", None)  # the dlib object: rebuilt lazily after unpickling
        return state
