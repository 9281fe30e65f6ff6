"""FaceLandmarker: images or view sets -> 68 iBUG landmarks per view, as a 2-D float array."""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk3dface._backends import DlibBackend
from sk3dface._images import DEFAULT_MAX_PIXELS, _is_pil_image, describe_image, load_image
from sk3dface._parallel import parallel_map
from sk3dface._validation import LANDMARK_BLOCK, N_LANDMARKS
from sk3dface.exceptions import FaceNotFoundError, FailedSamplesWarning, ImageReadError

# failures that cost one view (NaN + warning); anything else is a bug or a set-up error and raises
_VIEW_ERRORS = (ImageReadError, FaceNotFoundError)
_MAX_LISTED_FAILURES = 5


class ViewFailure(NamedTuple):
    """One view that gave no landmarks: where it is in ``X`` and why.

    Attributes
    ----------
    sample : int
        Row of ``X`` (0-based).
    view : int
        Position in the sample's view set (0-based).
    image : str
        Short description of the input (file name, or array shape).
    error : ImageReadError or FaceNotFoundError
        The error, whose message says what went wrong.
    """

    sample: int
    view: int
    image: str
    error: Exception

    def __str__(self) -> str:
        return f"sample {self.sample}, view {self.view}: {self.error}"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas missing-value markers


def _is_image(value: Any) -> bool:
    if isinstance(value, (str, os.PathLike)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object and value.ndim in (2, 3)
    return _is_pil_image(value)


def _as_view_sets(X: Any) -> list[list[Any]]:
    """Parse ``X`` into one list of views (images or None) per sample."""
    if isinstance(X, (str, os.PathLike)) or (_is_image(X) and not isinstance(X, np.ndarray)):
        raise TypeError(
            f"X must be a sequence of samples (images or view sets); got a single "
            f"{describe_image(X)}. Pass [image] to transform one image."
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # pandas DataFrame: one view per column
        X = X.to_numpy(dtype=object)
    elif hasattr(X, "iloc"):  # pandas Series
        X = X.to_list()
    if hasattr(X, "tocoo") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}); FaceLandmarker reads images (paths, "
            "image arrays or PIL images), not sparse feature data."
        )
    if isinstance(X, np.ndarray):
        if X.dtype == object and X.ndim in (1, 2):
            rows = list(X)
        elif X.dtype != object and X.ndim == 4:
            rows = list(X)  # a stack of same-sized images (n, H, W, C)
        elif X.dtype != object and X.ndim == 3:
            raise ValueError(
                f"X is a numeric array of shape {X.shape}, which is ambiguous: one RGB image "
                "or a stack of gray images? Pass a list of images (e.g. [image] for one)."
            )
        else:
            raise ValueError(
                f"X must be a sequence of images or view sets (paths, image arrays or PIL "
                f"images); got an array of shape {X.shape} and dtype {X.dtype}. "
                "FaceLandmarker reads images, not feature vectors; pass a list of images."
            )
    else:
        try:
            rows = list(X)
        except TypeError:
            raise TypeError(
                f"X must be a sequence of samples (images or view sets); got {type(X).__name__}."
            ) from None
    view_sets = []
    for index, sample in enumerate(rows):
        if isinstance(sample, (list, tuple)) or (
            isinstance(sample, np.ndarray) and sample.dtype == object
        ):
            views = list(sample)
        else:
            views = [sample]
        for position, view in enumerate(views):
            if _is_missing(view):
                views[position] = None
            elif not _is_image(view):
                if isinstance(view, np.ndarray):
                    got = f"an array of shape {view.shape} and dtype {view.dtype}"
                else:
                    got = f"{type(view).__name__} {view!r:.60}"
                raise TypeError(
                    f"Sample {index}, view {position}: expected an image (a path, an H×W, "
                    f"H×W×3 or H×W×4 array, or a PIL image) or None for a missing view; "
                    f"got {got}."
                )
        view_sets.append(views)
    return view_sets


def _check_boxes(face_boxes: Any, n_samples: int, n_views: int) -> np.ndarray | None:
    if face_boxes is None:
        return None
    boxes = np.asarray(face_boxes, dtype=float)
    if boxes.ndim == 2 and n_views == 1:
        boxes = boxes[:, np.newaxis, :]
    if boxes.shape != (n_samples, n_views, 4):
        raise ValueError(
            f"face_boxes must have shape (n_samples, n_views, 4) = ({n_samples}, {n_views}, 4)"
            + (f" or ({n_samples}, 4)" if n_views == 1 else "")
            + f" as [left, top, right, bottom] per view; got shape {boxes.shape}."
        )
    if np.isinf(boxes).any():
        raise ValueError("face_boxes contains infinite values; use NaN to request detection.")
    incomplete = np.isnan(boxes).any(axis=2) & ~np.isnan(boxes).all(axis=2)
    if incomplete.any():
        sample, view = np.argwhere(incomplete)[0]
        raise ValueError(
            f"face_boxes[{sample}, {view}] mixes numbers and NaN: give all four of "
            "[left, top, right, bottom], or all NaN to detect the face."
        )
    given = ~np.isnan(boxes).any(axis=2)
    degenerate = given & ((boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1]))
    if degenerate.any():
        sample, view = np.argwhere(degenerate)[0]
        raise ValueError(
            f"face_boxes[{sample}, {view}] = {boxes[sample, view].tolist()} is empty: "
            "expected [left, top, right, bottom] with right > left and bottom > top."
        )
    return boxes


def _largest_face(
    backend: Any, image: np.ndarray, detection_width: int | None, name: str
) -> np.ndarray:
    height, width = image.shape[:2]
    small = image
    if detection_width is not None and width > detection_width:
        import cv2

        small_height = max(1, round(height * detection_width / width))
        small = cv2.resize(image, (detection_width, small_height), interpolation=cv2.INTER_AREA)
    boxes = np.asarray(backend.detect(small), dtype=float)
    if boxes.size == 0:  # also accept [] for "no face"
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise TypeError(
            f"{type(backend).__name__}.detect must return a finite float array of shape "
            f"(n_faces, 4); got shape {boxes.shape}."
        )
    if len(boxes) == 0:
        searched = (
            f"{width}×{height} image"
            if small is image
            else f"{width}×{height} image downscaled to {small.shape[1]}×{small.shape[0]}"
        )
        raise FaceNotFoundError(
            f"No face found in {name} ({type(backend).__name__} searched the {searched}). "
            "The default dlib detector finds upright, roughly frontal faces of at least "
            "~80 pixels: for smaller faces raise upsample or detection_width, or pass "
            "face_boxes."
        )
    # areas before rescaling: dlib's box sizes are quantized, so equal sizes are common and
    # must stay exactly equal for the tie to go to the first box (dlib: the best score)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    largest = boxes[int(np.argmax(areas))]
    return largest * np.array([width / small.shape[1], height / small.shape[0]] * 2)


def _landmarks_of_view(
    task: tuple[int, int, Any, np.ndarray | None],
    *,
    backend: Any,
    max_pixels: int | None,
    detection_width: int | None,
) -> np.ndarray | ViewFailure:
    sample, view, image, box = task
    name = describe_image(image)
    try:
        rgb = load_image(image, max_pixels=max_pixels)
        if box is None:
            box = _largest_face(backend, rgb, detection_width, name)
        landmarks = np.asarray(backend.predict(rgb, box), dtype=float)
    except _VIEW_ERRORS as error:
        return ViewFailure(sample, view, name, error)
    if landmarks.shape != (N_LANDMARKS, 2):
        raise TypeError(
            f"{type(backend).__name__}.predict must return an array of shape (68, 2); got "
            f"shape {landmarks.shape}."
        )
    return landmarks


def _caller_stacklevel() -> int:
    """``stacklevel`` pointing at the first frame outside sk3dface and scikit-learn.

    The depth varies (``transform``, ``fit_transform``, ``set_output`` wrappers, a
    Pipeline), and the warning should name the user's line.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "sk3dface",
        "sklearn",
    ):
        frame, level = frame.f_back, level + 1
    return level


class FaceLandmarker(TransformerMixin, BaseEstimator):
    """Find the 68 iBUG landmarks of the face in each image or view of a view set.

    Each sample is one image or a *view set* (a list or tuple of images of one
    subject). The output has one block of 136 columns per view, ``x0, y0, ...,
    x67, y67`` in pixels of that view's image (conventions: ``docs/conventions.md``).
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
    detection_width : int or None, default=1024
        Images wider than this are downscaled to this width for face *detection*
        only; landmarks are always predicted on the full-resolution image. ``None``
        detects at full resolution.
    max_pixels : int or None, default=50_000_000
        Images with more pixels are refused (an ``ImageReadError`` for that view).
    n_views : int or None, default=None
        Number of views per sample. ``None``: the longest view set seen in ``fit``.
    on_error : {"warn", "raise"}, default="warn"
        What a view that cannot be read or has no face does. ``"warn"``: its block
        is NaN and one :class:`~sk3dface.exceptions.FailedSamplesWarning` per call
        counts the failures, names the first few, and carries all of them as a list
        of :class:`ViewFailure` in its ``failures`` attribute. ``"raise"``: the first
        failure (in sample order) is raised as ``ImageReadError`` or
        ``FaceNotFoundError``.
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
    :func:`sk3dface._images.load_image`), so ``X`` may be paths that only
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
    """

    _parameter_constraints: ClassVar[dict] = {
        "backend": [HasMethods(["detect", "predict"]), None],
        "upsample": [Interval(Integral, 0, None, closed="left")],
        "detection_width": [Interval(Integral, 32, None, closed="left"), None],
        "max_pixels": [Interval(Integral, 1, None, closed="left"), None],
        "n_views": [Interval(Integral, 1, None, closed="left"), None],
        "on_error": [StrOptions({"warn", "raise"})],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backend: Any = None,
        *,
        upsample: int = 0,
        detection_width: int | None = 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        n_views: int | None = None,
        on_error: str = "warn",
        n_jobs: int | None = None,
        verbose: int | bool = 0,
    ):
        self.backend = backend
        self.upsample = upsample
        self.detection_width = detection_width
        self.max_pixels = max_pixels
        self.n_views = n_views
        self.on_error = on_error
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
        view_sets = _as_view_sets(X)
        if not view_sets:
            raise ValueError("X has 0 samples; FaceLandmarker needs at least one image.")
        longest = max(len(views) for views in view_sets)
        if self.n_views is not None and longest > self.n_views:
            raise ValueError(
                f"A view set in X has {longest} views but n_views={self.n_views}; raise "
                "n_views or shorten the view sets."
            )
        n_views = self.n_views if self.n_views is not None else longest
        if n_views == 0:
            raise ValueError("Every sample of X is an empty view set; there is nothing to fit.")
        if self.backend is None:
            backend = DlibBackend(upsample=self.upsample)
        elif self.upsample != 0:
            raise ValueError(
                f"upsample={self.upsample} only applies to the default back end "
                "(backend=None); set it on the back end instead, e.g. "
                f"backend=DlibBackend(upsample={self.upsample})."
            )
        else:
            backend = clone(self.backend, safe=False)
        if callable(getattr(backend, "load", None)):
            backend.load()
        self.n_views_ = n_views
        self.backend_ = backend
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

        Returns
        -------
        landmarks : ndarray of shape (n_samples, n_views_ * 136)
            ``x, y`` pixel coordinates per landmark and view; NaN for missing views,
            unreadable images and images without a face.

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
        check_is_fitted(self)
        view_sets = _as_view_sets(X)
        longest = max((len(views) for views in view_sets), default=0)
        if longest > self.n_views_:
            raise ValueError(
                f"A view set in X has {longest} views but this FaceLandmarker was fitted "
                f"with n_views_={self.n_views_}. Fit on data with the longest view sets, or "
                "set n_views."
            )
        boxes = _check_boxes(face_boxes, len(view_sets), self.n_views_)
        tasks = []  # (sample, view, image, box or None to detect), missing views left out
        for sample, views in enumerate(view_sets):
            for view, image in enumerate(views):
                if image is not None:
                    box = None if boxes is None else boxes[sample, view]
                    tasks.append(
                        (sample, view, image, None if box is None or np.isnan(box[0]) else box)
                    )
        results = parallel_map(
            _landmarks_of_view,
            tasks,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            desc="FaceLandmarker",
            backend=self.backend_,
            max_pixels=self.max_pixels,
            detection_width=self.detection_width,
        )
        out = np.full((len(view_sets), self.n_views_, N_LANDMARKS, 2), np.nan)
        failures = []
        for (sample, view, _, _), result in zip(tasks, results, strict=True):
            if isinstance(result, ViewFailure):
                failures.append(result)
            else:
                out[sample, view] = result
        if failures:
            self._report(failures, len(tasks))
        return out.reshape(len(view_sets), self.n_views_ * LANDMARK_BLOCK)

    def _report(self, failures: list[ViewFailure], n_views: int) -> None:
        if self.on_error == "raise":
            first = failures[0]
            raise type(first.error)(
                f"Sample {first.sample}, view {first.view}: {first.error}"
            ) from first.error
        unreadable = sum(isinstance(f.error, ImageReadError) for f in failures)
        listed = "; ".join(str(f).rstrip(".") for f in failures[:_MAX_LISTED_FAILURES])
        more = len(failures) - _MAX_LISTED_FAILURES
        warning = FailedSamplesWarning(
            f"FaceLandmarker: {len(failures)} of {n_views} views gave no landmarks and are "
            f"NaN ({unreadable} unreadable, {len(failures) - unreadable} without a face). "
            f"{listed}" + (f"; and {more} more" if more > 0 else "") + ". The warning's "
            "`failures` attribute lists them all; on_error='raise' raises instead."
        )
        warning.failures = failures
        warnings.warn(warning, stacklevel=_caller_stacklevel())

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
        """Column names ``v0_x0, v0_y0, v0_x1, ..., v{n_views_-1}_y67``.

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
        return np.asarray(
            [
                f"v{view}_{axis}{index}"
                for view in range(self.n_views_)
                for index in range(N_LANDMARKS)
                for axis in ("x", "y")
            ],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # file paths
        tags.input_tags.allow_nan = True  # NaN / None cells are missing views
        tags.transformer_tags.preserves_dtype = []  # always float64 pixel coordinates
        return tags
