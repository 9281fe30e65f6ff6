"""FaceLandmarker: images or view sets -> 68 iBUG landmarks per view, as a 2-D float array."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, check_memory

from sk3dface._layout import BOX_NAMES, LANDMARK_BLOCK, N_LANDMARKS, box_names, landmark_names
from sk3dface.exceptions import FaceNotFoundError, ImageReadError
from sk3dface.landmarks._backend import (
    backend_identity,
)
from sk3dface.landmarks._dlib import DlibBackend
from sk3dface.landmarks._views import (
    VIEW_PARAMETER_CONSTRAINTS,
    PerViewImageMixin,
    locate_face_with_score,
)
from sk3dface.utils._failures import ViewFailure
from sk3dface.utils._images import DEFAULT_MAX_PIXELS, describe_image
from sk3dface.utils._parallel import parallel_map
from sk3dface.utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context

# failures that cost one view (NaN + warning); anything else is a bug or a set-up error and raises
_VIEW_ERRORS = (ImageReadError, FaceNotFoundError)
# parameters that do not change a view's landmarks, left out of the cache key (n_views only
# pads the output; the backend enters through backend_identity)
_NOT_IN_CACHE_KEY = ("backend", "memory", "n_jobs", "n_views", "on_error", "verbose")
_CACHE_FORMAT = 1  # bump when a change of this module changes the cached results
_EXIF_ORIENTATION = 0x0112


def _image_digest(image: Any) -> str | None:
    """SHA-256 of an image's content, or None when there is none to read (a missing file).

    Files are hashed byte for byte (so an edit in place changes the digest), arrays with
    their shape and dtype, PIL images with their mode, size, palette and EXIF orientation.
    """
    digest = hashlib.sha256()
    if isinstance(image, (str, os.PathLike)):
        digest.update(b"file\0")
        try:
            with open(image, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:  # missing, a directory, unreadable: load_image says which, uncached
            return None
    elif isinstance(image, np.ndarray):
        digest.update(f"array\0{image.shape}\0{image.dtype.str}\0".encode())
        digest.update(np.ascontiguousarray(image).data)
    else:  # a PIL image
        try:
            data = image.tobytes()  # decodes a lazily loaded file
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        except (OSError, SyntaxError, ValueError):  # broken: load_image reports it, uncached
            return None
        header = f"pil\0{image.mode}\0{image.size}\0{orientation}\0{image.getpalette()}\0"
        digest.update(header.encode())
        digest.update(data)
    return digest.hexdigest()


def _view_result(
    image: Any,
    box: np.ndarray | None,
    backend: Any,
    max_pixels: int | None,
    detection_width: int | None,
    name: str,
    describe: Any = None,
    with_box: bool = False,
) -> np.ndarray | Exception:
    """The view's (68, 2) landmarks, or the ImageReadError / FaceNotFoundError it failed with.

    With ``with_box`` or ``describe`` (a :class:`~sk3dface.embeddings.DlibFaceDescriptor`-like
    object), a flat row: the 136 landmark coordinates, then the face box and its detector
    score (5 values, with ``with_box``), then ``describe(rgb, landmarks)``, all from the same
    detection.
    """
    try:
        rgb, box, score = locate_face_with_score(
            backend, image, box, max_pixels, detection_width, name
        )
        landmarks = np.asarray(backend.predict(rgb, box), dtype=float)
    except _VIEW_ERRORS as error:
        return error
    if landmarks.shape != (N_LANDMARKS, 2):
        raise TypeError(
            f"{type(backend).__name__}.predict must return an array of shape (68, 2); got "
            f"shape {landmarks.shape}."
        )
    parts = [landmarks.ravel()]
    if with_box:
        parts.append(np.append(np.asarray(box, dtype=float), score))
    if describe is not None:
        parts.append(describe(rgb, landmarks))
    return parts[0].reshape(N_LANDMARKS, 2) if len(parts) == 1 else np.concatenate(parts)


def _cached_view_result(
    content: str,
    settings: str,
    box: np.ndarray | None,
    image: Any = None,
    backend: Any = None,
    max_pixels: int | None = None,
    detection_width: int | None = None,
    name: str = "",
    describe: Any = None,
    with_box: bool = False,
) -> tuple[np.ndarray | Exception, str]:
    # joblib.Memory hashes content, settings and box only (see FaceLandmarker._view_cache);
    # the name is returned so that a cached failure can be re-worded for a copy of the file
    result = _view_result(
        image, box, backend, max_pixels, detection_width, name, describe, with_box
    )
    return result, name


def _renamed(error: Exception, old: str, new: str) -> Exception:
    """``error`` with the image name in its message replaced (a cache hit from another file)."""
    renamed = type(error)(str(error).replace(old, new))
    renamed.__dict__.update(error.__dict__)
    return renamed


def _landmarks_of_view(
    task: tuple[int, int, Any, np.ndarray | None],
    *,
    backend: Any,
    max_pixels: int | None,
    detection_width: int | None,
    cache: tuple[Any, str] | None = None,
    describe: Any = None,
    with_box: bool = False,
) -> np.ndarray | ViewFailure:
    sample, view, image, box = task
    name = describe_image(image)
    content = None if cache is None else _image_digest(image)
    if content is None:
        result = _view_result(
            image, box, backend, max_pixels, detection_width, name, describe, with_box
        )
    else:
        cached, settings = cache
        result, computed_for = cached(
            content,
            settings,
            box,
            image=image,
            backend=backend,
            max_pixels=max_pixels,
            detection_width=detection_width,
            name=name,
            describe=describe,
            with_box=with_box,
        )
        if isinstance(result, Exception) and computed_for != name:
            result = _renamed(result, computed_for, name)
    if isinstance(result, Exception):
        return ViewFailure(sample, view, name, result)
    return result


_logger = logging.getLogger(__name__)


class FaceLandmarker(PerViewImageMixin, TransformerMixin, BaseEstimator):
    """Find the 68 iBUG landmarks of the face in each image or view of a view set.

    Each sample is one image or a *view set* (a list or tuple of images of one
    subject). The output has one block of 136 columns per view, ``x0, y0, ...,
    x67, y67`` in pixels of that view's image (conventions: ``docs/conventions.md``),
    and with ``return_box=True`` then 5 columns per view for the face box and its
    detector score.
    A missing view, an unreadable image or an image without a face gives a block of
    NaN; when several faces are found the largest box wins (on a tie, the back end's
    first box: for dlib, the most confident).

    Parameters
    ----------
    backend : LandmarkBackend or None, default=None
        Face detector + landmark predictor: any object with ``detect(image)`` and
        ``predict(image, box)`` (see :class:`~sk3dface.LandmarkBackend`). ``None``
        uses :class:`~sk3dface.DlibBackend` (dlib HOG + 68-point predictor from
        ``face-recognition-models``; trained on iBUG 300-W, non-commercial licence).
        ``fit`` works on a clone of it.
    upsample : int, default=0
        For the default back end: how many times dlib's detector doubles the image.
        1 finds faces down to ~40 pixels at ~3× the time. Must stay 0 with a custom
        ``backend`` (set it there, e.g. ``DlibBackend(upsample=1)``).
    detector : {"hog", "cnn"}, default="hog"
        For the default back end: dlib's HOG detector, or its CNN (MMOD) detector,
        which finds more turned and small faces at ~10-50× the time on a CPU. Must
        stay "hog" with a custom ``backend`` (``DlibBackend(detector="cnn")``).
    detection_width : int or None, default=1024
        Images wider than this are downscaled to this width for face *detection*
        only; landmarks are always predicted on the full-resolution image. ``None``
        detects at full resolution.
    max_pixels : int or None, default=50_000_000
        Images with more pixels are refused (an ``ImageReadError`` for that view).
    return_box : bool, default=False
        Append, after all landmark columns, ``v{k}_box_left, v{k}_box_top,
        v{k}_box_right, v{k}_box_bottom, v{k}_box_score`` for each view ``k``: the face
        box the landmarks were predicted in (pixels of the full image, right/bottom
        exclusive) and the detector's score of it (dlib HOG: SVM score; CNN: MMOD
        confidence; NaN for a box given in ``face_boxes`` or a back end without
        ``detect_with_scores``). NaN for missing and failed views.
        :class:`~sk3dface.MorphableCoefficientExtractor` and
        :class:`~sk3dface.FrontalShape` read the landmark columns and ignore the box
        columns.
    n_views : int or None, default=None
        Number of views per sample. ``None``: the longest view set seen in ``fit``.
    on_error : {"warn", "raise"}, default="warn"
        What a view that cannot be read or has no face does. ``"warn"``: its block
        is NaN and one :class:`~sk3dface.exceptions.FailedSamplesWarning` per call
        counts the failures, names the first few, and carries all of them as a list
        of :class:`ViewFailure` in its ``failures`` attribute. ``"raise"``: the first
        failure (in sample order) is raised as ``ImageReadError`` or
        ``FaceNotFoundError``.
    memory : str, joblib.Memory or None, default=None
        Cache each view's landmarks on disk (a directory path, or a
        :class:`joblib.Memory`), keyed by the image's *content* (the file's bytes,
        the array's bytes, shape and dtype, or the PIL image's pixels), the box
        given for it, the parameters that change a view's landmarks (all but
        ``n_views``, ``on_error``, ``n_jobs``, ``verbose`` and ``memory``) and the
        back end's identity (its class and parameters, and for ``DlibBackend`` the
        predictor file's SHA-256).
        An image edited in place is recomputed; adding images to a list computes
        only the new ones. Failures are cached too and still reported. ``None``: no
        cache. Unlike ``Pipeline(memory=...)``, which keys on the paths, this sees
        what the files hold (``docs/landmarks.md``).
    n_jobs : int or None, default=None
        Number of joblib workers over images (``-1``: all cores). Each worker loads
        its own dlib models once.
    verbose : int or bool, default=0
        Show a tqdm progress bar while transforming.

    Attributes
    ----------
    n_views_ : int
        Number of views per sample (blocks of 136 columns in the output).
    backend_ : LandmarkBackend
        The back end in use (a clone of ``backend``, or a ``DlibBackend``).

    See Also
    --------
    sk3dface.DlibBackend : the default back end.
    sk3dface.landmarks_to_views : reshape the output to ``(n_samples, n_views, 68, 2)``.
    sk3dface.MorphableCoefficientExtractor : fits a face model to these landmarks.

    Notes
    -----
    ``fit`` reads no image: it validates the parameters, fixes ``n_views_`` and
    loads the back end's model files. Images are read by ``transform`` (with
    :func:`sk3dface.utils._images.load_image`), so ``X`` may be paths that only
    ``transform`` touches. ``transform`` keeps no state: failures are reported by
    the warning (and NaN), never stored on the estimator.

    Examples
    --------
    >>> from matplotlib import cbook
    >>> from sk3dface import FaceLandmarker
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> landmarks = FaceLandmarker().fit_transform([photo])
    >>> landmarks.shape
    (1, 136)
    >>> x, y = landmarks[0, 0::2], landmarks[0, 1::2]
    >>> bool(x[36] < x[45])  # the subject's right eye is on the image left
    True

    View sets of different lengths are padded with NaN:

    >>> import numpy as np
    >>> Xt = FaceLandmarker().fit_transform([[photo, photo], [photo]])
    >>> Xt.shape, bool(np.isnan(Xt[1, 136:]).all())
    ((2, 272), True)

    With the face box and the detector's score:

    >>> landmarker = FaceLandmarker(return_box=True).fit([photo])
    >>> landmarker.transform([photo]).shape
    (1, 141)
    >>> landmarker.get_feature_names_out()[-5:].tolist()
    ['v0_box_left', 'v0_box_top', 'v0_box_right', 'v0_box_bottom', 'v0_box_score']
    """

    _parameter_constraints: ClassVar[dict] = {
        "backend": [HasMethods(["detect", "predict"]), None],
        "upsample": [Interval(Integral, 0, None, closed="left")],
        "detector": [StrOptions({"hog", "cnn"})],
        "memory": [None, str, HasMethods(["cache"])],
        "return_box": ["boolean"],
        **VIEW_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        backend: Any = None,
        *,
        upsample: int = 0,
        detector: str = "hog",
        detection_width: int | None = 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        return_box: bool = False,
        n_views: int | None = None,
        on_error: str = "warn",
        memory: Any = None,
        n_jobs: int | None = None,
        verbose: int | bool = 0,
    ):
        self.backend = backend
        self.upsample = upsample
        self.detector = detector
        self.detection_width = detection_width
        self.max_pixels = max_pixels
        self.return_box = return_box
        self.n_views = n_views
        self.on_error = on_error
        self.memory = memory
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Sequence[Any], y: Any = None) -> FaceLandmarker:
        """Fix the number of views and load the back end; no image is read.

        Parameters
        ----------
        X : sequence of images or view sets
            Images are paths, arrays (H×W, H×W×3, H×W×4; uint8, uint16 or float in
            [0, 1]) or PIL images; a view set is a list or tuple of them (None for
            a missing view). A 1-D object array, a pandas Series, or a DataFrame
            (one view per column) works too.
        y : None
            Ignored.

        Returns
        -------
        self : FaceLandmarker
        """
        n_views = self._fit_n_views(X, "FaceLandmarker")
        if self.backend is None:
            backend = DlibBackend(upsample=self.upsample, detector=self.detector)
        elif self.upsample != 0 or self.detector != "hog":
            raise ValueError(
                f"upsample={self.upsample} and detector={self.detector!r} only apply to the "
                "default back end (backend=None); set them on the back end instead, e.g. "
                f"backend=DlibBackend(upsample={self.upsample}, detector={self.detector!r})."
            )
        else:
            backend = clone(self.backend, safe=False)
        if callable(getattr(backend, "load", None)):
            backend.load()
        self.n_views_ = n_views
        self.backend_ = backend
        _logger.info("landmark back end: %s", type(backend).__name__)
        return self

    def transform(self, X: Sequence[Any], face_boxes: Any = None) -> np.ndarray:
        """Detect the face in every view and predict its 68 landmarks.

        Parameters
        ----------
        X : sequence of images or view sets
            As in :meth:`fit`; no view set may be longer than ``n_views_``.
        face_boxes : array-like of shape (n_samples, n_views_, 4), optional
            Known face boxes ``[left, top, right, bottom]`` in pixels (as returned
            by ``backend.detect``), which skip detection; a row of NaN detects that
            view's face. Shape ``(n_samples, 4)`` is accepted when ``n_views_ == 1``.
            A box may reach outside its image, but one that covers less than 8×8
            pixels of it (off the image, or tiny) fails that view like an image
            without a face.

        Returns
        -------
        landmarks : ndarray of shape (n_samples, n_views_ * 136) or (n_samples, n_views_ * 141)
            ``x, y`` pixel coordinates per landmark and view; NaN for missing views,
            unreadable images and images without a face. With ``return_box=True``,
            followed by ``left, top, right, bottom, score`` per view.

        Warns
        -----
        FailedSamplesWarning
            With ``on_error="warn"``, once per call if any view failed; its
            ``failures`` attribute lists every :class:`ViewFailure`.

        Raises
        ------
        ImageReadError, FaceNotFoundError
            With ``on_error="raise"``, for the first failing view.
        """
        n_samples, tasks = self._view_tasks(X, face_boxes, "FaceLandmarker")
        results = parallel_map(
            _landmarks_of_view,
            tasks,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            desc="FaceLandmarker",
            backend=self.backend_,
            max_pixels=self.max_pixels,
            detection_width=self.detection_width,
            cache=self._view_cache(),
            describe=self._describer(),
            with_box=self._returns_box(),
        )
        outcome = "gave no landmarks and are NaN"
        rows = self._assemble(n_samples, tasks, results, self._view_width(), outcome)
        if not self._returns_box():
            return rows
        # per view [landmarks, box] -> all views' landmarks, then all views' boxes
        views = rows.reshape(n_samples, self.n_views_, LANDMARK_BLOCK + len(BOX_NAMES))
        landmarks = views[..., :LANDMARK_BLOCK].reshape(n_samples, -1)
        return np.concatenate([landmarks, views[..., LANDMARK_BLOCK:].reshape(n_samples, -1)], 1)

    # hooks for estimators that compute more per view from the same detection (FaceEmbedder)
    def _describer(self) -> Any:
        """Called as ``describer(rgb, landmarks) -> 1-D array`` per view; None: landmarks only."""
        return None

    def _returns_box(self) -> bool:
        return self.return_box

    def _view_width(self) -> int:
        return LANDMARK_BLOCK + (len(BOX_NAMES) if self._returns_box() else 0)

    def _view_cache(self) -> tuple[Any, str] | None:
        """The cached per-view function and the key of the settings, or None without memory."""
        if self.memory is None:
            return None
        import joblib

        memory = check_memory(self.memory)
        params = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name not in _NOT_IN_CACHE_KEY
        }
        try:
            identity = (backend_identity(self.backend_), backend_identity(self._describer()))
            settings = joblib.hash((_CACHE_FORMAT, params, identity), hash_name="sha1")
        except (TypeError, AttributeError, pickle.PicklingError) as exc:  # unpicklable
            raise TypeError(
                f"memory={self.memory!r} keys its cache on the back end's parameters, but "
                f"those of {type(self.backend_).__name__} cannot be hashed ({exc}). Give it "
                "picklable parameters (or a cache_key() method), or use memory=None."
            ) from exc
        cached = memory.cache(
            _cached_view_result,
            ignore=[
                "image",
                "backend",
                "max_pixels",
                "detection_width",
                "name",
                "describe",
                "with_box",
            ],
        )
        return cached, settings

    def fit_transform(self, X: Sequence[Any], y: Any = None, face_boxes: Any = None) -> np.ndarray:
        """Fit, then transform ``X``.

        Parameters
        ----------
        X : sequence of images or view sets
            See :meth:`fit`.
        y : None
            Ignored.
        face_boxes : array-like of shape (n_samples, n_views_, 4), optional
            See :meth:`transform`.

        Returns
        -------
        landmarks : ndarray of shape (n_samples, n_views_ * 136)
        """
        return self.fit(X, y).transform(X, face_boxes=face_boxes)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names ``v0_x0, v0_y0, v0_x1, ..., v{n_views_-1}_y67`` (then the box's).

        Parameters
        ----------
        input_features : ignored
            The input is images, not features; accepted for Pipeline and
            ColumnTransformer compatibility.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = landmark_names(self.n_views_)
        if self._returns_box():
            names += box_names(self.n_views_)
        return np.asarray(names, dtype=object)
