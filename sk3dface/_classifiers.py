"""ResNet classifiers as scikit-learn estimators, trained with skorch.

:class:`ResNetClassifier` classifies coefficient vectors (any 2-D float array);
:class:`ImageResNetClassifier` is the paper's raw-image baseline on face crops.
Both are plain scikit-learn estimators whose ``fit`` builds and trains a
:class:`skorch.NeuralNetClassifier` (kept as ``net_``): parameters stay flat
(``depth``, ``lr``, ...) for ``GridSearchCV``, labels may be any type, and
skorch's own pickling moves GPU weights to the CPU when no GPU is present.
See ``docs/classifiers.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from sk3dface._resnet import STAGES

_OPTIMIZERS = ("adamw", "adam", "sgd")
# Below these sizes an internal validation split is too small to steer early stopping.
_MIN_VALIDATION_SAMPLES = 10
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@contextmanager
def _torch_session(seed: int | None, n_threads: int | None):
    """Seed torch and set its thread count for the block, then restore the caller's state.

    Even prediction draws from torch's global RNG (each DataLoader iterator takes a
    base seed), so every torch call of the estimators runs inside this block.
    """
    import torch

    previous_threads = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        with torch.random.fork_rng():
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(previous_threads)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:index]'."
        ) from exc
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' (CUDA when present, else CPU) or device='cpu'."
        )
    return device


class _BaseResNetClassifier(ClassifierMixin, BaseEstimator):
    """Training logic shared by the coefficient and the image classifier.

    Subclasses turn their input into one array row per training example (a vector
    or a crop) and call ``_fit_rows``; they name their torch module and its
    arguments in ``_module_class`` / ``_module_kwargs``.
    """

    _parameter_constraints: ClassVar[dict] = {
        "depth": [Options(Integral, set(STAGES))],
        "width": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "plateau"}), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "scale_jitter": [Interval(Real, 0, 1, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    # ---- hooks -----------------------------------------------------------------
    def _module_class(self) -> type:
        raise NotImplementedError

    def _module_kwargs(self, rows: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    # ---- fitting ---------------------------------------------------------------
    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but y contains "
                f"only one class: {self.classes_.tolist()[0]!r}."
            )
        return y_encoded.astype(np.int64)

    def _validation_split(
        self, y_encoded: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Sample indices for training and for early-stopping validation (None: no split)."""
        n_samples = y_encoded.size
        all_samples = np.arange(n_samples)
        if not self.early_stopping:
            return all_samples, None
        n_classes = self.classes_.size
        n_valid = math.ceil(self.validation_fraction * n_samples)
        min_count = np.bincount(y_encoded, minlength=n_classes).min()
        large_enough = (
            min_count >= 2
            and n_valid >= max(n_classes, _MIN_VALIDATION_SAMPLES)
            and n_samples - n_valid >= n_classes
        )
        if not large_enough:
            warnings.warn(
                f"early_stopping=True needs a validation split of at least "
                f"max(n_classes, {_MIN_VALIDATION_SAMPLES}) samples and 2 samples per "
                f"class; got {n_valid} validation samples (validation_fraction="
                f"{self.validation_fraction} of {n_samples}) and a smallest class of "
                f"{min_count}. Training on all samples for max_epochs={self.max_epochs} "
                "epochs without early stopping.",
                UserWarning,
                stacklevel=3,
            )
            return all_samples, None
        from sklearn.model_selection import StratifiedShuffleSplit

        splitter = StratifiedShuffleSplit(1, test_size=n_valid, random_state=seed)
        train, valid = next(splitter.split(np.zeros((n_samples, 1)), y_encoded))
        return np.sort(train), np.sort(valid)

    def _class_weight_tensor(self, y_encoded: np.ndarray):
        import torch

        if self.class_weight is None:
            return None
        weight = compute_class_weight(
            self.class_weight, classes=self.classes_, y=self.classes_[y_encoded]
        )
        return torch.as_tensor(weight, dtype=torch.float32)

    def _optimizer_and_kwargs(self) -> tuple[type, dict[str, Any]]:
        import torch

        kwargs: dict[str, Any] = {"weight_decay": self.weight_decay}
        if callable(self.optimizer):
            return self.optimizer, kwargs
        if self.optimizer == "sgd":
            kwargs.update(momentum=0.9, nesterov=True)
        classes = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
        return classes[self.optimizer], kwargs

    def _callbacks(self, with_validation: bool, with_schedule: bool) -> list:
        import torch
        from skorch.callbacks import EarlyStopping, LRScheduler

        callbacks: list = []
        if with_validation:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss", patience=self.n_iter_no_change, load_best=True
                    ),
                )
            )
        if with_schedule and self.lr_schedule == "cosine":
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self.max_epochs
            )
            callbacks.append(("lr_scheduler", scheduler))
        elif with_schedule and self.lr_schedule == "plateau":
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                monitor="valid_loss" if with_validation else "train_loss",
                patience=max(1, self.n_iter_no_change // 2),
                factor=0.5,
            )
            callbacks.append(("lr_scheduler", scheduler))
        return callbacks + list(self.callbacks or [])

    def _make_net(
        self,
        rows: np.ndarray,
        n_classes: int,
        device: str,
        class_weight,
        valid: tuple[np.ndarray, np.ndarray] | None,
        with_schedule: bool,
    ):
        from skorch import NeuralNetClassifier
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split
        from torch import nn

        optimizer, optimizer_kwargs = self._optimizer_and_kwargs()
        module_kwargs = {"n_classes": n_classes, **self._module_kwargs(rows)}
        params: dict[str, Any] = {f"module__{k}": v for k, v in module_kwargs.items()}
        params.update({f"optimizer__{k}": v for k, v in optimizer_kwargs.items()})
        if class_weight is not None:
            params["criterion__weight"] = class_weight
        return NeuralNetClassifier(
            self._module_class(),
            criterion=nn.CrossEntropyLoss,
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None if valid is None else predefined_split(Dataset(*valid)),
            callbacks=self._callbacks(valid is not None, with_schedule),
            classes=list(range(n_classes)),
            device=device,
            verbose=int(self.verbose),
            iterator_train__shuffle=True,
            **params,
        )

    def _train(self, rows: np.ndarray, y_rows: np.ndarray, seed: int, partial: bool) -> None:
        """Run skorch's fit (or one epoch of partial_fit) on ``self.net_`` reproducibly."""
        net = self.net_
        # BatchNorm cannot train on a final batch of one example: drop it (it is a
        # different example every epoch, since batches are shuffled).
        net.iterator_train__drop_last = rows.shape[0] % self.batch_size == 1
        with _torch_session(seed, self.n_threads):
            if partial:
                net.partial_fit(rows, y_rows, epochs=1)
            else:
                net.fit(rows, y_rows)
        net.train_split = None  # keep no reference to the validation data
        self.n_epochs_ = len(net.history)

    def _fit_rows(
        self, rows: np.ndarray, row_sample: np.ndarray | None, y: np.ndarray
    ) -> _BaseResNetClassifier:
        """Fit on per-example ``rows``; ``row_sample[i]`` is the sample of row i."""
        y_encoded = self._encode_targets(y)
        device = _resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train, valid = self._validation_split(y_encoded, seed)
        if row_sample is None:
            row_sample = np.arange(y_encoded.size)
        train_rows = np.flatnonzero(np.isin(row_sample, train))
        valid_data = None
        if valid is not None:
            valid_rows = np.flatnonzero(np.isin(row_sample, valid))
            valid_data = (rows[valid_rows], y_encoded[row_sample[valid_rows]])
        self.validation_size_ = 0 if valid is None else int(valid.size)
        self._class_counts = np.bincount(y_encoded, minlength=self.classes_.size)
        self.class_prior_ = self._class_counts / y_encoded.size
        self.net_ = self._make_net(
            rows[train_rows],
            self.classes_.size,
            device,
            self._class_weight_tensor(y_encoded[train]),
            valid_data,
            with_schedule=True,
        )
        self._train(rows[train_rows], y_encoded[row_sample[train_rows]], seed, partial=False)
        return self

    def _partial_fit_rows(self, rows: np.ndarray, y: np.ndarray, classes) -> _BaseResNetClassifier:
        first_call = not hasattr(self, "net_")
        if first_call:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: all labels "
                    "that will ever occur, e.g. np.unique(y_all)."
                )
            all_classes = unique_labels(classes)
            if all_classes.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes; got classes="
                    f"{all_classes.tolist()}."
                )
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(all_classes, unique_labels(classes)):
                raise ValueError(
                    f"classes={list(classes)!r} differs from classes_="
                    f"{all_classes.tolist()!r} of the fitted classifier."
                )
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit (the class "
                "frequencies of the whole data are unknown); pass a dict of weights, "
                "computed with sklearn.utils.compute_class_weight on all labels."
            )
        check_classification_targets(y)
        unknown = ~np.isin(y, all_classes)
        if unknown.any():
            raise ValueError(
                f"y contains labels {np.unique(y[unknown]).tolist()} that are not among "
                f"the classes {all_classes.tolist()} given on the first call to partial_fit."
            )
        if rows.shape[0] < 2:
            raise ValueError(
                f"partial_fit needs at least 2 samples per call (batch normalization "
                f"statistics); got {rows.shape[0]}."
            )
        y_encoded = np.searchsorted(all_classes, y).astype(np.int64)
        base_seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if first_call:
            self.classes_ = all_classes
            self.validation_size_ = 0
            self._class_counts = np.zeros(all_classes.size, dtype=np.int64)
            class_weight = None
            if self.class_weight is not None:
                class_weight = self._class_weight_tensor(np.arange(all_classes.size))
            with _torch_session(base_seed, self.n_threads):
                self.net_ = self._make_net(
                    rows,
                    all_classes.size,
                    _resolve_device(self.device),
                    class_weight,
                    None,
                    with_schedule=False,
                ).initialize()
        else:
            # continue at a constant learning rate, without validation or schedule
            net = self.net_
            net.train_split = None
            net.callbacks = list(self.callbacks or [])
            net.initialize_callbacks()
            for group in net.optimizer_.param_groups:
                group["lr"] = self.lr
        self._class_counts = self._class_counts + np.bincount(y_encoded, minlength=all_classes.size)
        self.class_prior_ = self._class_counts / self._class_counts.sum()
        seed = (base_seed + len(self.net_.history)) % np.iinfo(np.int32).max
        self._train(rows, y_encoded, seed, partial=True)
        return self

    # ---- prediction ------------------------------------------------------------
    def _proba_rows(self, rows: np.ndarray) -> np.ndarray:
        with _torch_session(None, self.n_threads):
            proba = self.net_.predict_proba(rows).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Predict the class of each sample.

        Parameters
        ----------
        X : array-like
            Samples, as for :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The most probable class of each sample (one of ``classes_``).
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like
            Samples, as for :meth:`fit`.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


def _check_finite_float32(X: np.ndarray, name: str) -> np.ndarray:
    """Reject NaN/inf with an actionable message; return X as float32."""
    nan_rows = np.isnan(X).any(axis=1)
    if nan_rows.any():
        raise ValueError(
            f"{name} got input X that contains NaN in {int(nan_rows.sum())} of "
            f"{X.shape[0]} samples. In sk3dface, NaN marks a view that was missing or in "
            "which no face was found. Aggregate views first (sk3dface.MultiViewAggregator), "
            "impute them with sklearn.impute.SimpleImputer in the pipeline, or drop those "
            "samples."
        )
    too_large = ~(np.abs(X) <= _FLOAT32_MAX)
    if too_large.any():
        raise ValueError(
            f"{name} got input X that contains infinity or values too large for float32 "
            f"(|x| > {_FLOAT32_MAX:.3g}) in {int(too_large.any(axis=1).sum())} samples; "
            "rescale the features (e.g. sklearn.preprocessing.StandardScaler) or drop them."
        )
    # torch warns about read-only arrays (pandas' copy-on-write frames, memmaps): copy those
    return np.require(X, dtype=np.float32, requirements=["C", "W"])


class ResNetClassifier(_BaseResNetClassifier):
    """ResNet classifier for coefficient vectors (skorch, fully connected residual blocks).

    The network is a ResNet whose weight layers are fully connected: a stem
    ``Linear(n_features, width)``, stages of basic blocks (two ``Linear`` +
    ``BatchNorm1d`` layers with a shortcut) whose width doubles at each stage, and
    a linear head. ``depth=34`` has 3-4-6-3 blocks in four stages (ResNet-34),
    ``depth=32`` three stages of five blocks (CIFAR ResNet-32). Features are
    standardized inside the network with statistics learned in ``fit``. Training
    uses AdamW with a cosine learning-rate schedule and Gaussian-noise / scaling
    augmentation; early stopping on a stratified validation split is optional.
    See ``docs/classifiers.md``.

    Parameters
    ----------
    depth : {8, 14, 20, 32, 44, 56, 10, 18, 34}, default=34
        Number of weight layers: 8-56 are CIFAR-style (three stages of
        ``(depth - 2) / 6`` blocks), 10/18/34 ImageNet-style (four stages:
        1-1-1-1, 2-2-2-2, 3-4-6-3). Use 8 or 10 for quick runs.
    width : int, default=64
        Units of the first stage; stage ``i`` has ``width * 2**i``.
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    lr : float, default=3e-3
        Initial learning rate.
    batch_size : int, default=128
        Mini-batch size.
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        "sgd" uses Nesterov momentum 0.9. A class is called as
        ``optimizer(params, lr=lr, weight_decay=weight_decay)``.
    weight_decay : float, default=1e-4
        L2 penalty (decoupled for AdamW).
    lr_schedule : {"cosine", "plateau"} or None, default="cosine"
        "cosine" anneals ``lr`` to 0 over ``max_epochs``; "plateau" halves it when
        the validation loss (training loss without validation) stops improving for
        ``n_iter_no_change // 2`` epochs; None keeps it constant.
    early_stopping : bool, default=False
        If True, hold out a stratified ``validation_fraction`` of the samples, stop
        when the validation loss has not improved for ``n_iter_no_change`` epochs
        and restore the best weights. The split needs at least ``max(n_classes, 10)``
        validation samples and 2 samples per class; below that a warning says the
        net trains on all samples without early stopping. Off by default: with the
        cosine schedule, training the full ``max_epochs`` was more accurate in our
        benchmarks (see ``docs/classifiers.md``).
    validation_fraction : float, default=0.1
        Fraction of samples held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the cross-entropy loss; "balanced" weights them
        inversely to their frequency, a dict maps labels to weights (others get 1).
    noise_std : float, default=0.5
        Standard deviation of Gaussian noise added to the standardized features
        during training (0 disables it). The strongest regularizer here: worth a
        place in a grid search.
    scale_jitter : float, default=0.1
        During training each standardized vector is multiplied by a factor drawn
        uniformly from ``[1 - scale_jitter, 1 + scale_jitter]`` (0 disables it).
    device : str, default="cpu"
        Torch device: "cpu", "cuda", "cuda:1"..., or "auto" (CUDA if available).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, the validation split, batch shuffling and
        augmentation; with an int, training on CPU is bit-for-bit reproducible
        (for a given number of torch threads).
        The caller's global torch random state is left untouched.
    n_threads : int or None, default=1
        Torch threads while fitting and predicting (restored afterwards). The fully
        connected blocks are small, so one thread is fastest: more threads mostly wait
        for each other, and parallelism is better spent on ``n_jobs`` of cross-validation
        or grid search. None leaves torch's own setting.
    verbose : int, default=0
        If positive, skorch prints a table of losses per epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``skorch.callbacks.ProgressBar()``), added to
        the early stopping and scheduler callbacks.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    net_ : skorch.NeuralNetClassifier
        The trained net (``net_.history`` holds the losses per epoch).
    n_epochs_ : int
        Number of epochs trained (fewer than ``max_epochs`` after early stopping).
    validation_size_ : int
        Samples held out for early stopping (0 if none).
    class_prior_ : ndarray of shape (n_classes,)
        Frequencies of the classes in the training data.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit`` (only if ``X`` had string column names).

    See Also
    --------
    ImageResNetClassifier : The same training on face crops (raw-image baseline).
    sklearn.svm.SVC : A kernel machine that drops into the same pipeline.

    Notes
    -----
    ``partial_fit`` trains one epoch per call on the given batch at the constant
    learning rate ``lr``, without validation split or schedule; the standardization
    statistics come from its first call.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sk3dface import ResNetClassifier
    >>> X, y = make_classification(n_samples=120, n_features=20, n_informative=8,
    ...                            n_classes=3, random_state=0)
    >>> clf = ResNetClassifier(depth=8, width=16, max_epochs=5, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.classes_
    array([0, 1, 2])
    """

    _parameter_constraints: ClassVar[dict] = {**_BaseResNetClassifier._parameter_constraints}

    def __init__(
        self,
        depth: int = 34,
        width: int = 64,
        *,
        max_epochs: int = 100,
        lr: float = 3e-3,
        batch_size: int = 128,
        optimizer: str | type = "adamw",
        weight_decay: float = 1e-4,
        lr_schedule: str | None = "cosine",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        class_weight: str | dict | None = None,
        noise_std: float = 0.5,
        scale_jitter: float = 0.1,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        n_threads: int | None = 1,
        verbose: int = 0,
        callbacks: list | None = None,
    ) -> None:
        self.depth = depth
        self.width = width
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
        self.device = device
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callbacks = callbacks

    def _module_class(self) -> type:
        from sk3dface._resnet import CoefficientResNet

        return CoefficientResNet

    def _module_kwargs(self, rows: np.ndarray) -> dict[str, Any]:
        mean = rows.mean(axis=0, dtype=np.float64)
        scale = rows.std(axis=0, dtype=np.float64)
        scale[scale < 1e-12] = 1.0  # constant features stay constant (zero after centring)
        return {
            "n_features": rows.shape[1],
            "depth": self.depth,
            "width": self.width,
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "noise_std": self.noise_std,
            "scale_jitter": self.scale_jitter,
        }

    def _validate_X(self, X, y="no_validation", *, reset: bool):
        only_X = isinstance(y, str) and y == "no_validation"
        checked = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False, reset=reset
        )
        X, y = (checked, None) if only_X else checked
        X = _check_finite_float32(X, type(self).__name__)
        return X if only_X else (X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y) -> ResNetClassifier:
        """Train a new network on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Coefficient (or any numeric feature) vectors; NaN and inf are rejected.
        y : array-like of shape (n_samples,)
            Class labels of any type (strings are fine).

        Returns
        -------
        self : ResNetClassifier
            The fitted classifier.
        """
        X, y = self._validate_X(X, y, reset=True)
        return self._fit_rows(X, None, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None) -> ResNetClassifier:
        """Train one more epoch on a batch (creating the network on the first call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of at least 2 samples.
        y : array-like of shape (n_samples,)
            Their labels, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever occur; required on the first call unless
            the classifier was fitted with :meth:`fit` before.

        Returns
        -------
        self : ResNetClassifier
            The updated classifier.
        """
        X, y = self._validate_X(X, y, reset=not hasattr(self, "net_"))
        return self._partial_fit_rows(X, y, classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the network's outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._proba_rows(self._validate_X(X, reset=False))


# ---- the raw-image baseline ----------------------------------------------------------


def _views_of(sample) -> list[tuple[int, Any]]:
    """(index, view) pairs of one sample: a list/tuple is a view set, else one image."""
    views = list(sample) if isinstance(sample, (list, tuple)) else [sample]
    return [(index, view) for index, view in enumerate(views) if view is not None]


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


def _preprocess_samples(samples: Sequence, settings: dict) -> tuple[list, list, int, int]:
    """Load, crop and resize every view of ``samples`` (runs in joblib workers).

    Returns per-sample lists of ``(channels, size, size)`` uint8 crops, per-sample
    lists of view indices that failed to load, and the counts of views read and of
    views in which no face was found.
    """
    import cv2

    from sk3dface._images import load_image
    from sk3dface.exceptions import ImageReadError

    detector = None
    if settings["crop"] == "face":
        from sk3dface._backends import DlibBackend

        detector = DlibBackend()
    size = settings["image_size"]
    crops, failures, n_read, n_no_face = [], [], 0, 0
    for index, sample in zip(settings["indices"], samples, strict=True):
        sample_crops, sample_failures = [], []
        for view_index, view in _views_of(sample):
            try:
                image = load_image(view)
            except ImageReadError as exc:
                if settings["on_error"] == "raise":
                    raise ImageReadError(f"sample {index}, view {view_index}: {exc}") from exc
                sample_failures.append(view_index)
                continue
            n_read += 1
            h, w = image.shape[:2]
            if settings["crop"] is None:
                crop = image
            else:
                boxes = np.zeros((0, 4)) if detector is None else detector.detect(image)
                boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
                if len(boxes):
                    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                    left, top, right, bottom = boxes[np.argmax(areas)]
                    side = max(right - left, bottom - top) * (1 + 2 * settings["margin"])
                    crop = _square_crop(image, (left + right) / 2, (top + bottom) / 2, side)
                else:
                    n_no_face += detector is not None
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
        failures.append(sample_failures)
    return crops, failures, n_read, n_no_face


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
    views : {"first", "stack"}, default="first"
        For view sets: "first" uses the first readable view of each sample;
        "stack" trains on every view as a separate example with the sample's
        label and averages the views' probabilities at prediction.
    on_error : {"warn", "raise"}, default="warn"
        What to do with an image that cannot be read: "warn" skips it (a sample
        without any readable view is left out of training, and is predicted with
        the class frequencies ``class_prior_``), counting them in a warning;
        "raise" raises :class:`~sk3dface.exceptions.ImageReadError`.
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
        "image_size": [Interval(Integral, 16, None, closed="left")],
        "color": [StrOptions({"rgb", "gray"})],
        "crop": [StrOptions({"face", "center"}), None],
        "margin": [Interval(Real, 0, None, closed="left")],
        "views": [StrOptions({"first", "stack"})],
        "on_error": [StrOptions({"warn", "raise"})],
        "n_jobs": [Integral, None],
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
        from sk3dface._resnet import ImageResNet

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

    def _samples(self, X) -> list:
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(
                f"{type(self).__name__} expects a sequence of samples (each an image "
                f"path, array or PIL image, or a list/tuple of views); got "
                f"{type(X).__name__}. Wrap a single image in a list."
            )
        if len(X) == 0:
            raise ValueError(f"{type(self).__name__} got an empty sequence of samples.")
        return list(X)

    def _crops(self, X) -> tuple[np.ndarray, np.ndarray, int]:
        """Crops of all used views, the sample of each crop, and the number of samples."""
        from joblib import Parallel, delayed, effective_n_jobs

        samples = self._samples(X)
        n_samples = len(samples)
        settings = {
            "crop": self.crop,
            "image_size": self.image_size,
            "margin": self.margin,
            "color": self.color,
            "views": self.views,
            "on_error": self.on_error,
        }
        n_workers = effective_n_jobs(self.n_jobs)
        n_chunks = 1 if n_workers == 1 else min(n_samples, 4 * n_workers)
        chunks = np.array_split(np.arange(n_samples), n_chunks)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_preprocess_samples)(
                [samples[i] for i in chunk], {**settings, "indices": chunk.tolist()}
            )
            for chunk in chunks
        )
        crops = [c for result in results for c in result[0]]
        failures = [f for result in results for f in result[1]]
        n_read = sum(result[2] for result in results)
        n_no_face = sum(result[3] for result in results)
        n_failed_views = sum(len(f) for f in failures)
        if n_failed_views:
            warnings.warn(
                f"{n_failed_views} view(s) could not be read and were skipped "
                f"(on_error='warn'); use on_error='raise' to see why.",
                UserWarning,
                stacklevel=3,
            )
        if n_no_face:
            warnings.warn(
                f"No face was found in {n_no_face} of {n_read} image(s); used a centre "
                "crop for them.",
                UserWarning,
                stacklevel=3,
            )
        row_sample = np.array([i for i, c in enumerate(crops) for _ in c], dtype=np.intp)
        channels = 1 if self.color == "gray" else 3
        rows = np.zeros((row_sample.size, channels, self.image_size, self.image_size), np.uint8)
        if row_sample.size:
            rows[:] = np.stack([crop for c in crops for crop in c])
        return rows, row_sample, n_samples

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Sequence, y) -> ImageResNetClassifier:
        """Crop the faces of ``X`` and train a new network on them.

        Parameters
        ----------
        X : sequence of samples
            Each sample is an image (path, numpy gray/RGB/RGBA array or PIL image)
            or a list/tuple of views of one subject (``None`` marks a missing view).
        y : array-like of shape (n_samples,)
            Class labels of any type.

        Returns
        -------
        self : ImageResNetClassifier
            The fitted classifier.
        """
        n_samples = len(self._samples(X))
        y = column_or_1d(np.asarray(y), warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]} labels.")
        check_classification_targets(y)
        rows, row_sample, _ = self._crops(X)
        used = np.unique(row_sample)
        if used.size < n_samples:
            if used.size == 0:
                raise ValueError("None of the images of X could be read; nothing to train on.")
            warnings.warn(
                f"{n_samples - used.size} of {n_samples} sample(s) have no readable view "
                "and were left out of training.",
                UserWarning,
                stacklevel=2,
            )
        # renumber samples 0..n_used-1 so that labels and rows stay aligned
        return self._fit_rows(rows, np.searchsorted(used, row_sample), y[used])

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
        rows, row_sample, n_samples = self._crops(X)
        proba = np.tile(self.class_prior_, (n_samples, 1))
        if row_sample.size:
            row_proba = self._proba_rows(rows)
            counts = np.bincount(row_sample, minlength=n_samples)
            sums = np.zeros_like(proba)
            np.add.at(sums, row_sample, row_proba)
            seen = counts > 0
            proba[seen] = sums[seen] / counts[seen, None]
        n_unseen = n_samples - np.unique(row_sample).size
        if n_unseen:
            warnings.warn(
                f"{n_unseen} of {n_samples} sample(s) have no readable view; they are "
                "predicted with the training class frequencies (class_prior_).",
                UserWarning,
                stacklevel=2,
            )
        return proba
