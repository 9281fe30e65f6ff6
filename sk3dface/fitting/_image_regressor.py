"""ImageCoefficientRegressor: images -> per-view coefficient blocks from a learned regressor.

A learned back end (:class:`~sk3dface.TDDFABackend`) regresses pose and 3DMM coefficients
directly from the image. This transformer writes them in exactly the layout of
:class:`~sk3dface.MorphableCoefficientExtractor` (:class:`~sk3dface._layout.CoefficientLayout`),
so :class:`~sk3dface.MultiViewAggregator` and :class:`~sk3dface.CoefficientSelector` take its
output unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from sk3dface._layout import CoefficientLayout
from sk3dface.exceptions import FaceNotFoundError, ImageReadError
from sk3dface.landmarks._views import VIEW_PARAMETER_CONSTRAINTS, PerViewImageMixin, locate_face
from sk3dface.utils._failures import ViewFailure
from sk3dface.utils._images import DEFAULT_MAX_PIXELS, describe_image
from sk3dface.utils._parallel import parallel_map
from sk3dface.utils._sklearn_compat import HasMethods, Interval, _fit_context

_VIEW_ERRORS = (ImageReadError, FaceNotFoundError)
_POSE = ("yaw", "pitch", "roll", "tx", "ty", "scale")


def _block_of_view(
    task: tuple[int, int, Any, np.ndarray | None],
    *,
    backend: Any,
    max_pixels: int | None,
    detection_width: int | None,
    layout: CoefficientLayout,
) -> np.ndarray | ViewFailure:
    sample, view, image, box = task
    name = describe_image(image)
    try:
        rgb, box = locate_face(backend, image, box, max_pixels, detection_width, name)
        result = backend.predict_3dmm(rgb, np.asarray(box, float)[None])
    except _VIEW_ERRORS as error:
        return ViewFailure(sample, view, name, error)
    block = np.full(layout.block_size, np.nan)
    alpha = np.asarray(result["alpha"], float)[0]
    beta = np.asarray(result["beta"], float)[0]
    if alpha.size < layout.n_alpha or beta.size < layout.n_beta:
        raise ValueError(
            f"{type(backend).__name__} gives {alpha.size} identity and {beta.size} expression "
            f"coefficients; n_alpha={layout.n_alpha} and n_beta={layout.n_beta} ask for more."
        )
    block[layout.alpha] = alpha[: layout.n_alpha]
    block[layout.beta] = beta[: layout.n_beta]
    block[layout.pose] = [float(np.asarray(result[key]).reshape(-1)[0]) for key in _POSE]
    if "head_rms" in result:
        block[layout.offset("residual")] = float(np.asarray(result["head_rms"]).reshape(-1)[0])
    return block


class ImageCoefficientRegressor(PerViewImageMixin, TransformerMixin, BaseEstimator):
    """Pose + alpha + beta per view straight from images, with a learned 3DMM regressor.

    The output has the column layout of :class:`~sk3dface.MorphableCoefficientExtractor`:
    per view ``alpha_0.., beta_0.., yaw, pitch, roll, tx, ty, scale, residual`` (prefixed
    ``v{k}_``), in the same conventions (``docs/conventions.md``), so
    :class:`~sk3dface.MultiViewAggregator` and :class:`~sk3dface.CoefficientSelector` take it
    unchanged. ``residual`` is the RMS distance, in pixels, between the network's landmark
    head (``fc_lm``) and the projection of the regressed 3DMM keypoints: a consistency check
    of the two outputs of the network, not a fit residual (NaN for a back end without a
    landmark head). Coefficients are in the scaling of the back end's morphable model
    (:func:`~sk3dface.load_3ddfa`: the BFM's N(0, 1) prior); a regressor shrinks them towards
    0 compared with a landmark fit.

    Parameters
    ----------
    backend : object with ``detect``, ``predict_3dmm``
        E.g. :class:`~sk3dface.TDDFABackend`. ``fit`` works on a clone of it.
    n_alpha, n_beta : int or None, default=None
        Keep the first ``n_alpha`` identity / ``n_beta`` expression coefficients (None: all
        the back end gives; 40 and 10 for 3DDFA_V2).
    detection_width : int or None, default=1024
        Images wider than this are downscaled for face *detection* only.
    max_pixels : int or None, default=50_000_000
        Images with more pixels are refused (an ``ImageReadError`` for that view).
    n_views : int or None, default=None
        Views per sample; None: the longest view set seen in ``fit``.
    on_error : {"warn", "raise"}, default="warn"
        As in :class:`~sk3dface.FaceLandmarker`: a view that cannot be read or has no face
        gives a NaN block and one counted :class:`~sk3dface.exceptions.FailedSamplesWarning`
        per call, or (``"raise"``) raises the first failure.
    n_jobs : int or None, default=None
        joblib workers over views (``-1``: all cores). Give the back end ``n_threads=1``
        when ``n_jobs > 1``.
    verbose : int or bool, default=0
        Show a progress bar while transforming.

    Attributes
    ----------
    backend_ : object
        The loaded clone of ``backend``.
    n_views_ : int
    layout_ : CoefficientLayout
        Where alpha, beta, pose and residual sit in the output.

    See Also
    --------
    sk3dface.MorphableCoefficientExtractor : the same blocks from landmarks, by fitting.
    sk3dface.TDDFABackend : the learned back end.

    Examples
    --------
    A randomly initialised checkpoint and a stand-in model (real ones are 3DDFA_V2's files):

    >>> import tempfile
    >>> from matplotlib import cbook
    >>> from sk3dface import ImageCoefficientRegressor, TDDFABackend
    >>> from sk3dface.landmarks._tddfa import write_random_files
    >>> backend = TDDFABackend(**write_random_files(tempfile.mkdtemp()))
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> regressor = ImageCoefficientRegressor(backend, n_alpha=8, n_beta=4).fit([photo])
    >>> regressor.transform([photo]).shape
    (1, 19)
    >>> regressor.get_feature_names_out()[[0, 8, 12]].tolist()
    ['v0_alpha_0', 'v0_beta_0', 'v0_yaw']
    """

    _parameter_constraints: ClassVar[dict] = {
        "backend": [HasMethods(["detect", "predict_3dmm"])],
        "n_alpha": [Interval(Integral, 0, None, closed="left"), None],
        "n_beta": [Interval(Integral, 0, None, closed="left"), None],
        **VIEW_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        backend: Any = None,
        *,
        n_alpha: int | None = None,
        n_beta: int | None = None,
        detection_width: int | None = 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        n_views: int | None = None,
        on_error: str = "warn",
        n_jobs: int | None = None,
        verbose: int | bool = 0,
    ):
        self.backend = backend
        self.n_alpha = n_alpha
        self.n_beta = n_beta
        self.detection_width = detection_width
        self.max_pixels = max_pixels
        self.n_views = n_views
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Sequence[Any], y: Any = None) -> ImageCoefficientRegressor:
        """Fix the number of views and load the back end; no image is read.

        Parameters
        ----------
        X : sequence of images or view sets
            As for :class:`~sk3dface.FaceLandmarker`.
        y : None
            Ignored.

        Returns
        -------
        self : ImageCoefficientRegressor
        """
        n_views = self._fit_n_views(X, type(self).__name__)
        backend = clone(self.backend, safe=False)
        if callable(getattr(backend, "load", None)):
            backend.load()
        n_alpha = getattr(backend, "n_alpha", 40) if self.n_alpha is None else self.n_alpha
        n_beta = getattr(backend, "n_beta", 10) if self.n_beta is None else self.n_beta
        self.backend_ = backend
        self.n_views_ = n_views
        self.layout_ = CoefficientLayout(n_views, n_alpha, n_beta)
        return self

    def transform(self, X: Sequence[Any], face_boxes: Any = None) -> np.ndarray:
        """Detect the face in every view and regress its pose and coefficients.

        Parameters
        ----------
        X : sequence of images or view sets
            As in :meth:`fit`; no view set may be longer than ``n_views_``.
        face_boxes : array-like of shape (n_samples, n_views_, 4), optional
            Known face boxes (as for :meth:`FaceLandmarker.transform`); NaN rows detect.

        Returns
        -------
        coefficients : ndarray of shape (n_samples, n_views_ * (n_alpha + n_beta + 7))
            NaN blocks for missing views and views that failed.
        """
        n_samples, tasks = self._view_tasks(X, face_boxes, type(self).__name__)
        results = parallel_map(
            _block_of_view,
            tasks,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            desc=type(self).__name__,
            backend=self.backend_,
            max_pixels=self.max_pixels,
            detection_width=self.detection_width,
            layout=self.layout_,
        )
        outcome = "gave no coefficients and are NaN"
        return self._assemble(n_samples, tasks, results, self.layout_.block_size, outcome)

    def fit_transform(self, X: Sequence[Any], y: Any = None, face_boxes: Any = None) -> np.ndarray:
        """Fit, then transform ``X`` (see :meth:`transform`)."""
        return self.fit(X, y).transform(X, face_boxes=face_boxes)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``v{view}_alpha_{i}``, ``v{view}_beta_{i}``, ``v{view}_yaw``, ...

        Parameters
        ----------
        input_features : ignored
            The input is images.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray(self.layout_.feature_names(), dtype=object)
