"""ImageResNetClassifier: the paper's raw-image baseline, a ResNet on face crops."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sk3dface.classifiers._base import _BaseResNetClassifier, _check_labels
from sk3dface.exceptions import ImageReadError
from sk3dface.landmarks._dlib import DlibBackend
from sk3dface.utils._failures import ViewFailure, report_failures
from sk3dface.utils._input import as_view_sets
from sk3dface.utils._parallel import N_JOBS_CONSTRAINT
from sk3dface.utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
)


def _square_crop(image: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """Square of ``side`` pixels centred on (cx, cy); outside the image is black."""
    import cv2

    side_px = max(1, round(side))
    x0, y0 = round(cx - side_px / 2), round(cy - side_px / 2)
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side_px - w, y0 + side_px - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        x0, y0 = x0 + pad, y0 + pad
    return image[y0 : y0 + side_px, x0 : x0 + side_px]


def _preprocess_samples(view_sets: Sequence, settings: dict) -> tuple[list, list]:
    """Load, crop and resize every view of ``view_sets`` (runs in joblib workers).

    Returns per-sample lists of ``(channels, size, size)`` uint8 crops and the
    :class:`~sk3dface.utils._failures.ViewFailure` of every view that could not be read
    (skipped) or showed no face (centre-cropped instead).
    """
    import cv2

    from sk3dface.exceptions import FaceNotFoundError
    from sk3dface.landmarks._backend import largest_face
    from sk3dface.utils._images import describe_image, load_image

    backend = settings["backend"]
    size = settings["image_size"]
    crops, failures = [], []
    for index, views in zip(settings["indices"], view_sets, strict=True):
        sample_crops = []
        for view_index, view in enumerate(views):
            if view is None:
                continue
            name = describe_image(view)
            try:
                image = load_image(view)
            except ImageReadError as exc:
                failures.append(ViewFailure(index, view_index, name, exc))
                continue
            h, w = image.shape[:2]
            if settings["crop"] is None:
                crop = image
            elif settings["crop"] == "center":
                crop = _square_crop(image, w / 2, h / 2, min(h, w))
            else:
                try:
                    left, top, right, bottom = largest_face(backend, image, None, name)
                    side = max(right - left, bottom - top) * (1 + 2 * settings["margin"])
                    crop = _square_crop(image, (left + right) / 2, (top + bottom) / 2, side)
                except FaceNotFoundError as exc:
                    failures.append(ViewFailure(index, view_index, name, exc))
                    crop = _square_crop(image, w / 2, h / 2, min(h, w))
            interpolation = cv2.INTER_AREA if min(crop.shape[:2]) > size else cv2.INTER_LINEAR
            crop = cv2.resize(crop, (size, size), interpolation=interpolation)
            if settings["color"] == "gray":
                crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[None]
            else:
                crop = np.ascontiguousarray(crop.transpose(2, 0, 1))
            sample_crops.append(crop)
            if settings["views"] == "first":
                break
        crops.append(sample_crops)
    return crops, failures


class ImageResNetClassifier(_BaseResNetClassifier):
    """Convolutional ResNet on face crops: the paper's raw-image baseline (skorch).

    Every image is loaded, cropped to the face (dlib's detector; the largest face
    wins), resized to ``image_size`` and converted to gray or RGB once per call to
    ``fit`` or ``predict``; the network then trains on those crops with the same
    schedule, early stopping and augmentation options as :class:`ResNetClassifier`,
    plus random horizontal flips. The architecture is ResNet-34 (``depth=34``:
    7x7 stride-2 stem, max pooling, 3-4-6-3 basic blocks of 3x3 convolutions)
    written in torch without torchvision. See ``docs/classifiers.md``.

    Parameters
    ----------
    depth : {8, 14, 20, 32, 44, 56, 10, 18, 34}, default=34
        As in :class:`ResNetClassifier`; every depth uses the ImageNet stem.
    width : int, default=64
        Channels of the first stage; stage ``i`` has ``width * 2**i``.
    image_size : int, default=112
        Side of the square crops, in pixels (at least 16).
    color : {"rgb", "gray"}, default="rgb"
        Train on RGB or grayscale crops.
    crop : {"face", "center"} or None, default="face"
        "face": a square around the largest detected face, enlarged by ``margin``
        on each side (images without a face get a centre crop, counted in a
        warning); "center": the largest centred square; None: the whole image
        resized (aspect ratio not kept; for images that are already face crops).
    margin : float, default=0.2
        Margin around the face box, as a fraction of its side.
    backend : LandmarkBackend or None, default=None
        The face detector for ``crop="face"``: any object with ``detect(image)`` (see
        :class:`~sk3dface.LandmarkBackend`), the same back ends :class:`FaceLandmarker`
        takes; ``None`` uses :class:`~sk3dface.DlibBackend`. The largest face wins.
    views : {"first", "stack"}, default="first"
        For view sets: "first" uses the first readable view of each sample;
        "stack" trains on every view as a separate example with the sample's
        label and averages the views' probabilities at prediction.
    on_error : {"warn", "raise"}, default="warn"
        What to do with an image that cannot be read: "warn" skips it (a sample
        without any readable view is left out of training, and is predicted with
        the class frequencies ``class_prior_``); one
        :class:`~sk3dface.exceptions.FailedSamplesWarning` per call counts and names
        unreadable and faceless views (its ``failures`` lists them). "raise" raises
        :class:`~sk3dface.exceptions.ImageReadError` for the first unreadable view.
    n_jobs : int or None, default=None
        Processes for loading and cropping the images (joblib).
    max_epochs : int, default=50
    lr : float, default=1e-3
    batch_size : int, default=64
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
    weight_decay : float, default=1e-4
    lr_schedule : {"cosine", "plateau"} or None, default="cosine"
    early_stopping : bool, default=False
        Samples (not views) are split, so the views of a sample never straddle
        the training and validation parts.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    class_weight : "balanced", dict or None, default=None
        These training parameters mean the same as in :class:`ResNetClassifier`.
    noise_std : float, default=0.05
        Gaussian pixel noise (standardized units) during training.
    scale_jitter : float, default=0.1
        Random contrast: each standardized crop is multiplied by a factor from
        ``[1 - scale_jitter, 1 + scale_jitter]`` during training.
    flip : bool, default=True
        Random horizontal flips during training.
    device : str, default="cpu"
        "cpu", "cuda", "cuda:1"..., or "auto" (CUDA if available).
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, split, shuffling and augmentation.
    n_threads : int or None, default=None
        Torch threads while fitting and predicting (restored afterwards); None leaves
        torch's own setting, which suits the convolutions of the image model.
    verbose : int, default=0
        If positive, skorch prints a table of losses per epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    net_ : skorch.NeuralNetClassifier
        The trained net.
    n_epochs_ : int
        Number of epochs trained.
    validation_size_ : int
        Samples held out for early stopping (0 if none).
    class_prior_ : ndarray of shape (n_classes,)
        Frequencies of the classes among the training samples.

    See Also
    --------
    ResNetClassifier : The same training on coefficient vectors.
    FaceLandmarker : Takes the same image and view-set inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import ImageResNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> dark = [rng.integers(0, 100, (40, 40, 3), dtype=np.uint8) for _ in range(8)]
    >>> bright = [rng.integers(150, 256, (40, 40, 3), dtype=np.uint8) for _ in range(8)]
    >>> clf = ImageResNetClassifier(depth=8, width=4, image_size=16, crop="center",
    ...                             max_epochs=2, random_state=0)
    >>> clf.fit(dark + bright, ["dark"] * 8 + ["bright"] * 8).predict_proba(dark[:2]).shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseResNetClassifier._parameter_constraints,
        "width": [Interval(Integral, 1, None, closed="left")],
        "image_size": [Interval(Integral, 16, None, closed="left")],
        "color": [StrOptions({"rgb", "gray"})],
        "crop": [StrOptions({"face", "center"}), None],
        "margin": [Interval(Real, 0, None, closed="left")],
        "backend": [HasMethods(["detect"]), None],
        "views": [StrOptions({"first", "stack"})],
        "on_error": [StrOptions({"warn", "raise"})],
        "n_jobs": N_JOBS_CONSTRAINT,
        "flip": ["boolean"],
    }

    def __init__(
        self,
        depth: int = 34,
        width: int = 64,
        *,
        image_size: int = 112,
        color: str = "rgb",
        crop: str | None = "face",
        margin: float = 0.2,
        backend: Any = None,
        views: str = "first",
        on_error: str = "warn",
        n_jobs: int | None = None,
        max_epochs: int = 50,
        lr: float = 1e-3,
        batch_size: int = 64,
        optimizer: str | type = "adamw",
        weight_decay: float = 1e-4,
        lr_schedule: str | None = "cosine",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        class_weight: str | dict | None = None,
        noise_std: float = 0.05,
        scale_jitter: float = 0.1,
        flip: bool = True,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        n_threads: int | None = None,
        verbose: int = 0,
        callbacks: list | None = None,
    ) -> None:
        self.depth = depth
        self.width = width
        self.image_size = image_size
        self.color = color
        self.crop = crop
        self.margin = margin
        self.backend = backend
        self.views = views
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.noise_std = noise_std
        self.scale_jitter = scale_jitter
        self.flip = flip
        self.device = device
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callbacks = callbacks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # input is a sequence of images or view sets, not a 2-D numeric array
        tags.input_tags.two_d_array = False
        return tags

    def _module_class(self) -> type:
        from sk3dface.classifiers._networks import ImageResNet

        return ImageResNet

    def _module_kwargs(self, rows: np.ndarray) -> dict[str, Any]:
        # channel statistics from at most ~256 crops: enough, and bounded memory
        sample = rows[:: max(1, rows.shape[0] // 256)].astype(np.float64) / 255
        mean = sample.mean(axis=(0, 2, 3))
        scale = sample.std(axis=(0, 2, 3))
        scale[scale < 1e-6] = 1.0
        return {
            "in_channels": rows.shape[1],
            "depth": self.depth,
            "width": self.width,
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "noise_std": self.noise_std,
            "scale_jitter": self.scale_jitter,
            "flip": self.flip,
        }

    def _view_sets(self, X) -> list[list]:
        view_sets = as_view_sets(X, type(self).__name__)
        if not view_sets:
            raise ValueError(f"{type(self).__name__} got an empty sequence of samples.")
        return view_sets

    def _crops(
        self, X, skipped: str = "{n} of {total} sample(s) have no readable view"
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Crops of all used views, the sample of each crop, and the number of samples.

        Failed views are reported in one warning; ``skipped`` says what happens to the
        samples left without any readable view (``{n}`` of ``{total}`` samples).
        """
        from joblib import Parallel, delayed, effective_n_jobs

        view_sets = self._view_sets(X)
        n_samples = len(view_sets)
        backend = None
        if self.crop == "face":
            backend = DlibBackend() if self.backend is None else clone(self.backend, safe=False)
        settings = {
            "backend": backend,
            "crop": self.crop,
            "image_size": self.image_size,
            "margin": self.margin,
            "color": self.color,
            "views": self.views,
        }
        n_workers = effective_n_jobs(self.n_jobs)
        n_chunks = 1 if n_workers == 1 else min(n_samples, 4 * n_workers)
        chunks = np.array_split(np.arange(n_samples), n_chunks)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_preprocess_samples)(
                [view_sets[i] for i in chunk], {**settings, "indices": chunk.tolist()}
            )
            for chunk in chunks
        )
        crops = [c for result in results for c in result[0]]
        failures = [f for result in results for f in result[1]]
        unreadable = [f for f in failures if isinstance(f.error, ImageReadError)]
        if unreadable and self.on_error == "raise":
            report_failures(type(self).__name__, unreadable, 0, "raise", "")
        n_views = sum(view is not None for views in view_sets for view in views)
        row_sample = np.array([i for i, c in enumerate(crops) for _ in c], dtype=np.intp)
        n_unseen = n_samples - np.unique(row_sample).size
        report_failures(
            type(self).__name__,
            failures,
            n_views,
            "warn",
            "gave no face crop (unreadable views are skipped, views without a face centre-cropped"
            + (f"; {skipped.format(n=n_unseen, total=n_samples)}" if n_unseen else "")
            + ")",
        )
        channels = 1 if self.color == "gray" else 3
        rows = np.zeros((row_sample.size, channels, self.image_size, self.image_size), np.uint8)
        if row_sample.size:
            rows[:] = np.stack([crop for c in crops for crop in c])
        return rows, row_sample, n_samples

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Sequence, y: Any, sample_weight: Any = None) -> ImageResNetClassifier:
        """Crop the faces of ``X`` and train a new network on them.

        Parameters
        ----------
        X : sequence of samples
            Each sample is an image (path, numpy gray/RGB/RGBA array or PIL image)
            or a list/tuple of views of one subject (``None`` marks a missing view).
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the training loss (every crop of a sample
            carries the sample's weight). None or equal weights: unweighted.

        Returns
        -------
        self : ImageResNetClassifier
            The fitted classifier.
        """
        n_samples = len(self._view_sets(X))
        y = column_or_1d(np.asarray(y), warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]} labels.")
        _check_labels(y, type(self).__name__)
        rows, row_sample, _ = self._crops(
            X,
            skipped="{n} of {total} sample(s) have no readable view and were left out of training",
        )
        used = np.unique(row_sample)
        if used.size == 0:
            raise ValueError("None of the images of X could be read; nothing to train on.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, np.empty((n_samples, 0)))[used]
        # renumber samples 0..n_used-1 so that labels and rows stay aligned
        return self._fit_rows(rows, np.searchsorted(used, row_sample), y[used], sample_weight)

    def predict_proba(self, X: Sequence) -> np.ndarray:
        """Class probabilities, averaged over the views of a sample with ``views="stack"``.

        Parameters
        ----------
        X : sequence of samples
            Images or view sets, as for :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; samples without any readable
            view get ``class_prior_`` (with a warning).
        """
        check_is_fitted(self)
        rows, row_sample, n_samples = self._crops(
            X,
            skipped="{n} of {total} sample(s) have no readable view and are predicted with the "
            "training class frequencies, class_prior_",
        )
        proba = np.tile(self.class_prior_, (n_samples, 1))
        if row_sample.size:
            row_proba = self._proba_rows(rows)
            counts = np.bincount(row_sample, minlength=n_samples)
            sums = np.zeros_like(proba)
            np.add.at(sums, row_sample, row_proba)
            seen = counts > 0
            proba[seen] = sums[seen] / counts[seen, None]
        return proba
