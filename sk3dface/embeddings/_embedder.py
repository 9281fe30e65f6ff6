"""FaceEmbedder: images or view sets -> 128-d dlib face descriptors per view (2-D features)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from sk3dface._layout import LANDMARK_BLOCK, landmark_names, view_prefixed
from sk3dface.embeddings._dlib_descriptor import N_EMBEDDING, DlibFaceDescriptor
from sk3dface.landmarks import FaceLandmarker
from sk3dface.utils._images import DEFAULT_MAX_PIXELS
from sk3dface.utils._sklearn_compat import Interval, StrOptions, _fit_context

EMBEDDING_NAMES = [f"emb_{i}" for i in range(N_EMBEDDING)]


class FaceEmbedder(FaceLandmarker):
    """dlib's 128-d face descriptor of each image or view, optionally with its landmarks.

    Each view's face is detected and its 68 landmarks predicted exactly as by
    :class:`~sk3dface.FaceLandmarker` (same back ends, largest-face rule, failure policy,
    ``memory`` cache, ``n_jobs``); the face is then aligned from those landmarks and
    described by dlib's ResNet (``dlib_face_recognition_resnet_model_v1.dat`` from
    ``face-recognition-models``, 99.38 % on LFW as published by dlib). With
    ``include_landmarks=True`` the landmarks come out too, from the *same* detection, so a
    2-D + 3-D pipeline detects each face once: the 3-D branch reads the ``v{k}_x{i}`` /
    ``v{k}_y{i}`` columns, the 2-D branch the ``emb_{i}`` columns
    (see :func:`sk3dface.protocols.make_task_pipeline`).

    Parameters
    ----------
    backend, upsample, detector, detection_width, max_pixels, n_views, on_error, memory, n_jobs
        As in :class:`~sk3dface.FaceLandmarker`.
    verbose : int or bool, default=0
        Show a progress bar while transforming.
    num_jitters : int, default=0
        dlib averages the descriptor over this many jittered copies of the face (slower).
    padding : float, default=0.25
        Margin of the aligned face chip, as a fraction of the face size.
    combine_views : {"mean", "none"}, default="mean"
        ``"mean"``: one descriptor per sample, the mean over its available views
        (``emb_0`` ... ``emb_127``); ``"none"``: one per view (``v0_emb_0`` ...).
    include_landmarks : bool, default=False
        Put the landmarks (``v{k}_x{i}, v{k}_y{i}``, as FaceLandmarker outputs them) before
        the descriptors.
    descriptor_path : str, path-like or None, default=None
        The descriptor model file; None: the one in ``face-recognition-models``.

    Attributes
    ----------
    n_views_ : int
        Views per sample.
    backend_ : LandmarkBackend
        The landmark back end in use.
    descriptor_ : DlibFaceDescriptor
        The descriptor in use.

    See Also
    --------
    sk3dface.FaceLandmarker : The landmarks alone.
    sk3dface.metrics : Verification with these descriptors.

    Examples
    --------
    >>> from matplotlib import cbook
    >>> from sk3dface import FaceEmbedder
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> embedder = FaceEmbedder().fit([photo])
    >>> embedder.transform([photo]).shape
    (1, 128)
    >>> list(embedder.get_feature_names_out()[:2])
    ['emb_0', 'emb_1']
    >>> FaceEmbedder(include_landmarks=True).fit_transform([photo]).shape
    (1, 264)
    """

    _parameter_constraints: ClassVar[dict] = {
        **{
            name: constraint
            for name, constraint in FaceLandmarker._parameter_constraints.items()
            if name != "return_box"
        },
        "num_jitters": [Interval(Integral, 0, None, closed="left")],
        "padding": [Interval(Real, 0, None, closed="left")],
        "combine_views": [StrOptions({"mean", "none"})],
        "include_landmarks": ["boolean"],
        "descriptor_path": [str, os.PathLike, None],
    }

    def __init__(
        self,
        backend: Any = None,
        *,
        upsample: int = 0,
        detector: str = "hog",
        detection_width: int | None = 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        n_views: int | None = None,
        on_error: str = "warn",
        memory: Any = None,
        n_jobs: int | None = None,
        verbose: int | bool = 0,
        num_jitters: int = 0,
        padding: float = 0.25,
        combine_views: str = "mean",
        include_landmarks: bool = False,
        descriptor_path: Any = None,
    ):
        # not super().__init__: it would set return_box, which is no parameter here
        self.backend = backend
        self.upsample = upsample
        self.detector = detector
        self.detection_width = detection_width
        self.max_pixels = max_pixels
        self.n_views = n_views
        self.on_error = on_error
        self.memory = memory
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.num_jitters = num_jitters
        self.padding = padding
        self.combine_views = combine_views
        self.include_landmarks = include_landmarks
        self.descriptor_path = descriptor_path

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Sequence[Any], y: Any = None) -> FaceEmbedder:
        """Fix the number of views and load the back end and the descriptor; no image is read.

        Parameters
        ----------
        X : sequence of images or view sets
            As for :meth:`FaceLandmarker.fit`.
        y : None
            Ignored.

        Returns
        -------
        self : FaceEmbedder
        """
        super().fit.__wrapped__(self, X, y)
        self.descriptor_ = DlibFaceDescriptor(
            self.descriptor_path, num_jitters=self.num_jitters, padding=self.padding
        ).load()
        return self

    def _describer(self) -> Any:
        return self.descriptor_

    def _returns_box(self) -> bool:
        return False  # descriptors and landmarks only

    def _view_width(self) -> int:
        return LANDMARK_BLOCK + N_EMBEDDING

    def transform(self, X: Sequence[Any], face_boxes: Any = None) -> np.ndarray:
        """Descriptors (and landmarks) of every view.

        Parameters
        ----------
        X : sequence of images or view sets
            As in :meth:`fit`.
        face_boxes : array-like of shape (n_samples, n_views_, 4), optional
            Known face boxes, as for :meth:`FaceLandmarker.transform`.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features)
            ``[landmarks (n_views_ * 136) if include_landmarks] + [128 descriptor values,
            per view or their mean over views]``; NaN for missing or failed views (a sample
            with no usable view has NaN descriptors).
        """
        rows = super().transform(X, face_boxes=face_boxes)
        views = rows.reshape(len(rows), self.n_views_, LANDMARK_BLOCK + N_EMBEDDING)
        landmarks = views[..., :LANDMARK_BLOCK].reshape(len(rows), -1)
        embeddings = views[..., LANDMARK_BLOCK:]
        if self.combine_views == "mean":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all views failed: NaN row
                embeddings = np.nanmean(embeddings, axis=1)
        else:
            embeddings = embeddings.reshape(len(rows), -1)
        parts = [landmarks, embeddings] if self.include_landmarks else [embeddings]
        return np.concatenate(parts, axis=1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``[v{k}_x{i}, v{k}_y{i}, ...] + emb_0 ... emb_127`` (``v{k}_emb_{i}`` per view).

        Parameters
        ----------
        input_features : ignored
            The input is images.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = landmark_names(self.n_views_) if self.include_landmarks else []
        if self.combine_views == "mean":
            names += EMBEDDING_NAMES
        else:
            names += view_prefixed(EMBEDDING_NAMES, self.n_views_)
        return np.asarray(names, dtype=object)
