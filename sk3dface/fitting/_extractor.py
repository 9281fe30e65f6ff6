"""Landmarks -> pose + identity (alpha) + expression (beta) coefficients, per view."""

from __future__ import annotations

import logging
import os
import time
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from sk3dface._layout import (
    BOX_NAMES,
    LANDMARK_BLOCK,
    N_LANDMARKS,
    CoefficientLayout,
    landmark_layout,
    landmarks_to_views,
)
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.fitting._blocks import _NaNFloat64TagsMixin
from sk3dface.fitting._core import MAX_COORDINATE, contour_sides, fit_landmarks
from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io import load_model
from sk3dface.utils._array_api import resolve_device
from sk3dface.utils._parallel import N_JOBS_CONSTRAINT
from sk3dface.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from sk3dface.utils._warnings import warn_at_caller

_logger = logging.getLogger(__name__)


class MorphableCoefficientExtractor(_NaNFloat64TagsMixin, TransformerMixin, BaseEstimator):
    """Fit a 3-D morphable model to 68-point landmarks: pose, alpha and beta per view.

    Each view's landmarks are explained as the projection of
    ``mean + identity_basis @ alpha + expression_basis @ beta`` by a camera with head pose
    ``(yaw, pitch, roll)``, image translation ``(tx, ty)`` and ``scale``; the fit is the
    maximum a posteriori estimate under Gaussian landmark noise of ``landmark_noise`` pixels
    and the model's N(0, 1) prior on the coefficients. It starts from a closed-form pose
    (affine camera projected onto the nearest scaled rotation) and a linear ridge solve for
    the coefficients, then refines pose and coefficients together with damped Gauss-Newton
    steps. All samples and views are solved at once with batched numpy linear algebra.
    The algorithm, with its equations, is in ``docs/fitting.md``.

    Convention: landmarks in pixels, origin top-left, ``y`` down, iBUG-68 order; angles in
    degrees, ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (see ``docs/conventions.md``).

    Parameters
    ----------
    model : MorphableModel, str or path-like, default="default"
        The model: an object, a file :func:`~sk3dface.load_model` reads, or ``"default"``
        for the built-in sparse model. Only its 68 landmark vertices are used.
    n_alpha, n_beta : int or None, default=None
        Keep the first ``n_alpha`` identity / ``n_beta`` expression components
        (None keeps all).
    camera : {"orthographic", "perspective"}, default="orthographic"
        Scaled orthographic (weak perspective) camera, or a pinhole camera with
        ``focal_length`` looking at the model origin, fitted by POSIT-style depth
        correction (see ``docs/fitting.md``).
    focal_length : float or None, default=None
        Focal length in pixels; required for ``camera="perspective"``.
    landmark_noise : float, default=2.0
        Standard deviation ``sigma`` of the landmark noise, in pixels. With it the
        regularisation is in the same units as the residuals: the data term is
        ``sum |residual|^2 / sigma^2``, so a larger ``sigma`` (or a smaller face) pulls
        coefficients more strongly towards the mean face.
    alpha_reg, beta_reg : float, default=1.0
        Weight of the N(0, 1) prior on alpha / beta (1: the model's prior; 0: no prior,
        plain least squares).
    n_iter : int, default=3
        Rounds: the first is the closed-form pose + linear coefficients; each further round
        is one Gauss-Newton step on pose and coefficients together (3 is converged to the
        optimum in our tests).
    multiview : {"independent", "joint"}, default="independent"
        ``"independent"`` fits each view alone; ``"joint"`` shares one alpha across the
        views of a sample (per-view pose and beta), as in Liu et al. (2018), Eq. 7, and
        repeats it in every view's block. Missing views are skipped.
    contour : {"downweight", "fixed"}, default="downweight"
        Handling of the jaw-contour landmarks 0-16, which on a turned face follow the
        silhouette rather than fixed model points: ``"downweight"`` gives the far-side jaw
        points the weight ``1 / (1 + (yaw / 15°)^2)`` (yaw re-estimated every round);
        ``"fixed"`` treats them as ordinary model vertices.
    on_error : {"warn", "raise"}, default="warn"
        What to do with views that have landmarks but cannot be fitted (fewer than 6
        finite points, all points equal or collinear) and with samples without any
        usable view: ``"warn"`` returns NaN blocks and emits one
        :class:`~sk3dface.exceptions.FailedSamplesWarning`; ``"raise"`` raises
        ``ValueError``. All-NaN views are missing views (NaN blocks, no warning while the
        sample has another usable view); landmarks that are NaN inside a view are ignored.
    n_jobs : int or None, default=None
        Threads working on chunks of samples (joblib semantics: None is 1 unless inside
        ``joblib.parallel_config``, -1 all cores). The fit is batched numpy either way; BLAS
        runs single-threaded inside it because its matrices are small.
    device : str or None, default=None
        None fits with numpy. A torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, or
        ``"auto"``: CUDA when present, else the CPU) runs the same algorithm in float64
        torch, written once against the Python array API (``array-api-compat``): results
        equal numpy's to 1e-6 (tested). On a GPU, batches of millions of landmark sets
        fit in large chunks; on the CPU torch is about as fast as numpy. Input and output
        stay numpy arrays.

    Attributes
    ----------
    model_ : MorphableModel
        The truncated model restricted to its 68 landmark vertices.
    n_views_ : int
        Number of views (``n_features_in_ / 136``).
    layout_ : CoefficientLayout
        Where alpha, beta, pose and residual sit in the output (``layout_.alpha`` etc.,
        ``layout_.column("v0_yaw")``).
    n_features_in_ : int
        Number of landmark columns seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Column names of ``X`` in :meth:`fit`, when it had string column names.

    See Also
    --------
    sk3dface.FaceLandmarker : Produces the landmarks this transformer expects.
    sk3dface.MultiViewAggregator : Combines the per-view blocks into one vector.
    sk3dface.MorphableModel : The model container.

    References
    ----------
    F. Liu, Q. Zhao, X. Liu, D. Zeng, "Joint Face Alignment and 3D Face Reconstruction with
    Application to Face Recognition", IEEE TPAMI 2018.

    Examples
    --------
    >>> from sk3dface import MorphableCoefficientExtractor
    >>> from sk3dface.datasets import make_synthetic_faces
    >>> faces = make_synthetic_faces(n_subjects=4, n_views=2, random_state=0)
    >>> extractor = MorphableCoefficientExtractor(multiview="joint").fit(faces.X)
    >>> coefficients = extractor.transform(faces.X)
    >>> coefficients.shape  # 2 views x (16 alpha + 15 beta + 7 pose/residual)
    (4, 76)
    >>> extractor.get_feature_names_out()[[0, 16, 31, 37]].tolist()
    ['v0_alpha_0', 'v0_beta_0', 'v0_yaw', 'v0_residual']
    """

    _parameter_constraints: ClassVar[dict] = {
        "model": [MorphableModel, str, os.PathLike],
        "n_alpha": [Interval(Integral, 0, None, closed="left"), None],
        "n_beta": [Interval(Integral, 0, None, closed="left"), None],
        "camera": [StrOptions({"orthographic", "perspective"})],
        "focal_length": [Interval(Real, 0, None, closed="neither"), None],
        "landmark_noise": [Interval(Real, 0, None, closed="neither")],
        "alpha_reg": [Interval(Real, 0, None, closed="left")],
        "beta_reg": [Interval(Real, 0, None, closed="left")],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "multiview": [StrOptions({"independent", "joint"})],
        "contour": [StrOptions({"downweight", "fixed"})],
        "on_error": [StrOptions({"warn", "raise"})],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": [str, None],
    }

    def __init__(
        self,
        model: MorphableModel | str | os.PathLike = "default",
        *,
        n_alpha: int | None = None,
        n_beta: int | None = None,
        camera: str = "orthographic",
        focal_length: float | None = None,
        landmark_noise: float = 2.0,
        alpha_reg: float = 1.0,
        beta_reg: float = 1.0,
        n_iter: int = 3,
        multiview: str = "independent",
        contour: str = "downweight",
        on_error: str = "warn",
        n_jobs: int | None = None,
        device: str | None = None,
    ) -> None:
        self.model = model
        self.n_alpha = n_alpha
        self.n_beta = n_beta
        self.camera = camera
        self.focal_length = focal_length
        self.landmark_noise = landmark_noise
        self.alpha_reg = alpha_reg
        self.beta_reg = beta_reg
        self.n_iter = n_iter
        self.multiview = multiview
        self.contour = contour
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> MorphableCoefficientExtractor:
        """Load and truncate the model and check the landmark layout of ``X``.

        Fitting is unsupervised and per sample, so nothing is learned from ``X`` beyond
        its column count: :meth:`transform` does the fitting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * 136)
            Landmarks as produced by :class:`~sk3dface.FaceLandmarker` (pixels). The
            output of ``FaceLandmarker(return_box=True)`` (``n_views * 141`` columns: the
            landmarks, then 5 box columns per view) is accepted too; its box columns are
            ignored.
        y : None
            Ignored.

        Returns
        -------
        self : MorphableCoefficientExtractor
        """
        names = getattr(X, "columns", None)
        X = self._validate_landmarks(X, reset=True)
        if self.device is not None:
            resolve_device(self.device)  # a clear error now, not at the first transform
        if self.camera == "perspective" and self.focal_length is None:
            raise ValueError(
                "camera='perspective' needs focal_length (in pixels, e.g. the image width "
                "for a normal lens); got focal_length=None."
            )
        layout = landmark_layout(X.shape[1], None if names is None else list(names))
        _check_layout(X.shape[1], layout)
        self.model_ = load_model(self.model).truncate(self.n_alpha, self.n_beta).landmark_model()
        self.n_views_ = layout[0]
        self.layout_ = CoefficientLayout(self.n_views_, self.model_.n_alpha, self.model_.n_beta)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Fit pose and coefficients to every view of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * 136)
            Landmarks in pixels; NaN for missing views or points.

        Returns
        -------
        coefficients : ndarray of shape (n_samples, n_views * (n_alpha + n_beta + 7))
            Per view ``[alpha, beta, yaw, pitch, roll, tx, ty, scale, residual]``
            (``residual``: RMS reprojection error in pixels); NaN for missing or failed
            views. Names from :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        X = self._validate_landmarks(X, reset=False)
        model = self.model_
        L = N_LANDMARKS
        started = time.perf_counter()
        fit = fit_landmarks(
            landmarks_to_views(X[:, : self.n_views_ * LANDMARK_BLOCK]),
            model.mean,
            model.identity_basis.reshape(L, 3, -1),
            model.expression_basis.reshape(L, 3, -1),
            focal_length=self.focal_length if self.camera == "perspective" else None,
            landmark_noise=self.landmark_noise,
            alpha_reg=self.alpha_reg,
            beta_reg=self.beta_reg,
            n_iter=self.n_iter,
            joint=self.multiview == "joint",
            contour=contour_sides(model.mean) if self.contour == "downweight" else None,
            n_jobs=self.n_jobs,
            device=self.device,
        )
        _logger.info(
            "fitted %d sample(s) (%s) in %.2f s",
            len(X),
            self.multiview,
            time.perf_counter() - started,
        )
        self._report_failures(fit.failed, fit.missing | fit.failed)
        return fit.blocks().reshape(len(X), -1)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """The fitted landmarks: each view's coefficients and pose projected back to pixels.

        The projection is :meth:`MorphableModel.project_landmarks` of ``model_`` with this
        extractor's camera, i.e. the points whose RMS distance to the detected landmarks is
        the ``residual`` column. Use it to draw a fit over its photo
        (:func:`sk3dface.plotting.plot_fit`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_views * (n_alpha + n_beta + 7))
            Coefficients as :meth:`transform` returns them (the ``residual`` column is not
            used); NaN blocks for missing or failed views.

        Returns
        -------
        landmarks : ndarray of shape (n_samples, n_views * 136)
            Pixel coordinates in :class:`~sk3dface.FaceLandmarker`'s layout; NaN for views
            whose block has a NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from sk3dface import MorphableCoefficientExtractor
        >>> from sk3dface.datasets import make_synthetic_faces
        >>> faces = make_synthetic_faces(n_subjects=2, n_views=1, noise=0.0, random_state=0)
        >>> extractor = MorphableCoefficientExtractor().fit(faces.X)
        >>> coefficients = extractor.transform(faces.X)
        >>> fitted = extractor.inverse_transform(coefficients)
        >>> fitted.shape
        (2, 136)
        >>> distance = np.linalg.norm((fitted - faces.X).reshape(2, 68, 2), axis=-1)
        >>> residual = coefficients[:, extractor.layout_.offset("residual")]
        >>> np.allclose(np.sqrt((distance**2).mean(axis=1)), residual)  # the RMS distance
        True
        """
        check_is_fitted(self)
        layout = self.layout_
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != layout.n_columns:
            raise ValueError(
                f"X must be coefficients as transform returns them, shape (n_samples, "
                f"{layout.n_columns}) = (n_samples, {layout.n_views} view(s) x "
                f"{layout.block_size}); got shape {X.shape}."
            )
        blocks = layout.split(X)
        yaw, pitch, roll, tx, ty, scale = np.moveaxis(blocks[..., layout.pose], -1, 0)
        perspective = self.camera == "perspective"
        uv = self.model_.project_landmarks(
            blocks[..., layout.alpha],
            blocks[..., layout.beta],
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            tx=tx,
            ty=ty,
            scale=scale,
            camera=self.camera,
            focal_length=self.focal_length if perspective else None,
        )  # (n_samples, n_views, 68, 2); NaN coefficients give NaN points
        return uv.reshape(len(X), -1)

    def _validate_landmarks(self, X: Any, *, reset: bool) -> np.ndarray:
        """validate_data, with a message that points at FaceLandmarker when X is images."""
        try:
            return validate_data(
                self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=reset
            )
        except (TypeError, ValueError) as exc:
            got = _describe_non_landmarks(X)
            if got is None:
                raise
            raise ValueError(
                f"{type(self).__name__} expects landmarks as FaceLandmarker produces them: "
                f"a numeric array of shape (n_samples, n_views*{LANDMARK_BLOCK}), 68 points "
                f"x (x, y) pixels per view; got {got}. To start from images, detect their "
                "landmarks first, e.g. make_pipeline(FaceLandmarker(), "
                "MorphableCoefficientExtractor())."
            ) from exc

    def _report_failures(self, failed: np.ndarray, unusable: np.ndarray) -> None:
        n_failed = int(failed.sum())
        empty = np.flatnonzero(unusable.all(axis=1))
        problems = []
        if n_failed:
            problems.append(
                f"{n_failed} of {failed.size} views had landmarks that could not be fitted "
                "(fewer than 6 finite points, all points equal or collinear, coordinates "
                f"beyond {MAX_COORDINATE:g} px, or no finite or plausible solution: a residual "
                "larger than the spread of the points)"
            )
        if empty.size:
            problems.append(
                f"{empty.size} of {len(failed)} samples have no usable view "
                f"(first: {empty[:5].tolist()})"
            )
        if not problems:
            return
        message = " and ".join(problems) + "; their coefficients are NaN."
        if self.on_error == "raise":
            raise ValueError(message + " Pass on_error='warn' to get NaN rows instead.")
        warn_at_caller(message, FailedSamplesWarning)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``v{view}_alpha_{i}``, ``v{view}_beta_{i}``, ``v{view}_yaw``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored except for a consistency check with ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        return np.asarray(self.layout_.feature_names(), dtype=object)


def _check_layout(n_columns: int, layout: tuple[int, bool] | None) -> None:
    if layout is None:
        raise ValueError(
            f"X has {n_columns} feature(s) (columns); MorphableCoefficientExtractor expects "
            "landmarks as FaceLandmarker produces them, shape "
            f"(n_samples, n_views*{LANDMARK_BLOCK}): 68 points x (x, y) pixels per view "
            f"(or n_views*{LANDMARK_BLOCK + len(BOX_NAMES)} with return_box=True). "
            "Check that X holds landmarks, not images or coefficients."
        )


def _describe_non_landmarks(X: Any) -> str | None:
    """What ``X`` is when it holds images, paths or point arrays instead of landmark rows."""
    from sk3dface.utils._input import is_image, is_missing

    if isinstance(X, (str, os.PathLike)):
        return f"a single path {os.fspath(X)!r:.80}"
    if hasattr(X, "tocoo"):  # scipy sparse: scikit-learn's own message says it all
        return None
    if isinstance(X, np.ndarray) and X.dtype.kind in "US":
        return f"an array of text ({X.dtype}, e.g. {str(X.flat[0])!r:.40}) in X"
    if isinstance(X, (list, tuple)) and X and all(isinstance(row, (list, tuple)) for row in X):
        lengths = sorted({len(row) for row in X})
        if len(lengths) > 1:
            return f"rows of X of different lengths {lengths[:5]}"
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # pandas DataFrame
        text = [c for c, kind in X.dtypes.items() if getattr(kind, "kind", "O") in "OSU"]
        if text:
            return (
                f"a DataFrame with non-numeric column(s) {[str(c) for c in text[:3]]} "
                "(drop image names and other text columns)"
            )
        return None
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim >= 3 and X.shape[-2:] == (N_LANDMARKS, 2):
            return (
                f"an array of shape {X.shape} (points as (68, 2)); reshape it to "
                f"(n_samples, -1) so that each row holds n_views*{LANDMARK_BLOCK} columns"
            )
        if X.ndim >= 3:
            return f"an array of shape {X.shape}, which looks like images"
        return None
    try:
        first = next(iter(X))
        if isinstance(first, (list, tuple)) or (
            isinstance(first, np.ndarray) and first.dtype == object
        ):
            first = next((v for v in first if not is_missing(v)), None)
    except Exception:  # only a hint: anything that cannot be looked into is not described
        return None
    if first is None or isinstance(first, (int, float, np.number)):
        return None
    if isinstance(first, np.ndarray) and first.ndim < 2:
        return None
    if isinstance(first, (str, os.PathLike)):
        return f"image paths or other text (first: {os.fspath(first)!r:.80})"
    if is_image(first):
        return "images"
    return None
