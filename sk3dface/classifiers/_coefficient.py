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

from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from sk3dface.classifiers._base import _RECIPE_CONSTRAINTS, _BaseResNetClassifier
from sk3dface.classifiers._torch import _check_finite_float32, check_numeric_input
from sk3dface.utils._sklearn_compat import _fit_context


def _effective_width(width: int | None, depth: int) -> int:
    """``width``, or by default 256 for the shallow nets and 64 for the deep ones."""
    if width is not None:
        return int(width)
    return 256 if depth <= 4 else 64


class ResNetClassifier(_BaseResNetClassifier):
    """ResNet classifier for coefficient vectors (skorch, fully connected residual blocks).

    The network is a ResNet whose weight layers are fully connected: a stem
    ``Linear(n_features, width)``, stages of basic blocks (two ``Linear`` +
    ``BatchNorm1d`` layers with a shortcut) whose width doubles at each stage, and
    a linear head. ``depth=34`` has 3-4-6-3 blocks in four stages (the paper's
    ResNet-34), ``depth=32`` three stages of five blocks (CIFAR ResNet-32).
    Features are standardized inside the network with statistics learned in
    ``fit``. The defaults are a recipe measured on small real data sets (~1000
    samples): an ensemble of 3 shallow nets (``depth=2``: stem + head, one hidden
    layer of 256 units) trained 40 epochs with AdamW, a one-cycle learning-rate
    schedule, dropout, label smoothing and Gaussian-noise / scaling augmentation.
    Early stopping on a stratified validation split is optional.
    See ``docs/classifiers.md`` for the measurements and the paper's depths.

    Parameters
    ----------
    depth : {2, 4, 8, 14, 20, 32, 44, 56, 10, 18, 34}, default=2
        Number of weight layers: 2 is stem + head (no residual block), 4 one
        block, 8-56 are CIFAR-style (three stages of ``(depth - 2) / 6`` blocks),
        10/18/34 ImageNet-style (four stages: 1-1-1-1, 2-2-2-2, 3-4-6-3). The
        paper's networks are ``depth=34`` and ``depth=32``.
    width : int or None, default=None
        Units of the first stage; stage ``i`` has ``width * 2**i``. None: 256 for
        the shallow ``depth`` 2 and 4 (the small-data recipe), 64 for the deeper
        nets (the paper's ResNet-34/32 width), so that ``depth=34`` alone is the
        paper's network.
    n_estimators : int, default=3
        Number of independently seeded nets (seeds derived from ``random_state``)
        whose class probabilities are averaged. 1 trains a single net.
    max_epochs : int, default=40
        Maximum number of passes over the training data.
    lr : float, default=5e-3
        Learning rate (the peak of the one-cycle schedule).
    batch_size : int, default=256
        Mini-batch size.
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        "sgd" uses Nesterov momentum 0.9. A class is called as
        ``optimizer(params, lr=lr, weight_decay=weight_decay)``.
    weight_decay : float, default=1e-2
        L2 penalty (decoupled for AdamW).
    lr_schedule : {"onecycle", "cosine", "plateau"} or None, default="onecycle"
        "onecycle" is torch's ``OneCycleLR`` with peak ``lr``, stepped per batch
        over ``max_epochs``; "cosine" anneals ``lr`` to 0 over ``max_epochs``;
        "plateau" halves it when
        the validation loss (training loss without validation) stops improving for
        ``n_iter_no_change // 2`` epochs; None keeps it constant.
    early_stopping : bool, default=False
        If True, hold out a stratified ``validation_fraction`` of the samples, stop
        when the validation loss has not improved for ``n_iter_no_change`` epochs
        and restore the best weights. The split needs at least ``max(n_classes, 10)``
        validation samples and 2 samples per class; below that a warning says the
        net trains on all samples without early stopping. Off by default: with the
        one-cycle schedule, training the full ``max_epochs`` was more accurate in
        our benchmarks (see ``docs/classifiers.md``).
    label_smoothing : float, default=0.1
        Label smoothing of the cross-entropy loss (``torch.nn.CrossEntropyLoss``).
    dropout : float, default=0.3
        Dropout probability inside each residual branch and before the head.
    validation_fraction : float, default=0.1
        Fraction of samples held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the cross-entropy loss; "balanced" weights them
        inversely to their frequency, a dict maps labels to weights (others get 1).
    noise_std : float, default=0.3
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
    train_split : callable or None, default=None
        skorch's validation split, e.g. ``skorch.dataset.ValidSplit(5, stratified=True)``:
        the validation loss (and, for classifiers, accuracy) of every epoch is recorded in
        ``history_`` as ``valid_loss`` / ``valid_acc``, without early stopping unless
        ``early_stopping=True`` (which then monitors this split instead of holding out
        ``validation_fraction``).
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` trains the existing nets for another
        ``max_epochs`` epochs (``history_`` grows) instead of new ones; the features and
        classes must be those of the first fit.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``skorch.callbacks.ProgressBar()``), added to
        the early stopping and scheduler callbacks.
    **kwargs
        skorch's prefixed parameters, passed to the skorch net as given (after
        sk3dface's own, so they win): ``module__*`` (the torch module),
        ``optimizer__*`` (e.g. ``optimizer__betas=(0.8, 0.9)``), ``criterion__*``,
        ``iterator_train__*`` / ``iterator_valid__*`` (the DataLoaders, e.g.
        ``iterator_train__drop_last=True``) and ``callbacks__*`` (parameters of named
        callbacks). They are stored as attributes like skorch does, so ``get_params``,
        ``set_params``, ``clone`` and grid searches handle them; other names are a
        ``TypeError`` at ``fit``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    nets_ : list of skorch.NeuralNetClassifier
        The ``n_estimators`` trained nets.
    net_ : skorch.NeuralNetClassifier
        The first of ``nets_`` (``net_.history`` holds the losses per epoch).
    history_ : skorch.History
        ``net_.history``: one row per epoch (``train_loss``, ``valid_loss`` with a
        validation split, ``dur``, ``event_lr``...).
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
    >>> clf = ResNetClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.classes_
    array([0, 1, 2])
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseResNetClassifier._parameter_constraints,
        **_BaseResNetClassifier._skorch_constraints,
        **_RECIPE_CONSTRAINTS,
    }

    def __init__(
        self,
        depth: int = 2,
        width: int | None = None,
        *,
        n_estimators: int = 3,
        max_epochs: int = 40,
        lr: float = 5e-3,
        batch_size: int = 256,
        optimizer: str | type = "adamw",
        weight_decay: float = 1e-2,
        lr_schedule: str | None = "onecycle",
        label_smoothing: float = 0.1,
        dropout: float = 0.3,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        class_weight: str | dict | None = None,
        noise_std: float = 0.3,
        scale_jitter: float = 0.1,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        n_threads: int | None = 1,
        verbose: int = 0,
        callbacks: list | None = None,
        train_split: Any = None,
        warm_start: bool = False,
        **kwargs: Any,
    ) -> None:
        self.depth = depth
        self.width = width
        self.n_estimators = n_estimators
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing
        self.dropout = dropout
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
        self.train_split = train_split
        self.warm_start = warm_start
        self._set_net_kwargs(kwargs)

    def _module_class(self) -> type:
        from sk3dface.classifiers._networks import CoefficientResNet

        return CoefficientResNet

    def _module_kwargs(self, rows: np.ndarray) -> dict[str, Any]:
        mean = rows.mean(axis=0, dtype=np.float64)
        scale = rows.std(axis=0, dtype=np.float64)
        scale[scale < 1e-12] = 1.0  # constant features stay constant (zero after centring)
        return {
            "n_features": rows.shape[1],
            "depth": self.depth,
            "width": _effective_width(self.width, self.depth),
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "noise_std": self.noise_std,
            "scale_jitter": self.scale_jitter,
            "dropout": self.dropout,
        }

    def _validate_X(self, X, y="no_validation", *, reset: bool):
        only_X = isinstance(y, str) and y == "no_validation"
        check_numeric_input(X, type(self).__name__)
        checked = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False, reset=reset
        )
        X, y = (checked, None) if only_X else checked
        X = _check_finite_float32(X, type(self).__name__)
        return X if only_X else (X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ResNetClassifier:
        """Train a new network on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Coefficient (or any numeric feature) vectors; NaN and inf are rejected.
        y : array-like of shape (n_samples,)
            Class labels of any type (strings are fine).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the training loss (the validation loss
            too, with early stopping or ``train_split``): the loss of a batch is the
            weighted mean of its samples' losses. None or equal weights: unweighted.

        Returns
        -------
        self : ResNetClassifier
            The fitted classifier.
        """
        warm = self.warm_start and hasattr(self, "nets_")
        X, y = self._validate_X(X, y, reset=not warm)
        return self._fit_rows(X, None, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> ResNetClassifier:
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

    def predict_proba(self, X: Any) -> np.ndarray:
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
