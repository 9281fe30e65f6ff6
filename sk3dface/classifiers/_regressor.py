"""ResNetRegressor: the coefficient ResNet as a scikit-learn regressor (skorch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from sk3dface.classifiers._base import _RECIPE_CONSTRAINTS, _BaseResNetRegressor
from sk3dface.classifiers._coefficient import ResNetClassifier
from sk3dface.classifiers._torch import _check_finite_float32, check_numeric_input
from sk3dface.utils._sklearn_compat import _fit_context


class ResNetRegressor(_BaseResNetRegressor):
    """ResNet regressor for feature vectors (skorch, fully connected residual blocks).

    The network of :class:`ResNetClassifier` with a linear output per target,
    trained with the mean squared error on targets standardized per output
    (their mean and standard deviation are learned in ``fit`` and undone at
    prediction). Single- and multi-output ``y`` are supported. Training is the
    classifier's: ensembles of independently seeded nets (their predictions are
    averaged), AdamW with a one-cycle schedule, dropout and noise / scaling
    augmentation, optional early stopping on a random validation split, and the
    same handling of interrupts and diverging training. See ``docs/classifiers.md``.

    Parameters
    ----------
    depth : {2, 4, 8, 14, 20, 32, 44, 56, 10, 18, 34}, default=2
        Number of weight layers, as in :class:`ResNetClassifier`.
    width : int or None, default=None
        Units of the first stage; stage ``i`` has ``width * 2**i``. None: 256 for
        the shallow ``depth`` 2 and 4 (the small-data recipe), 64 for the deeper
        nets (the paper's ResNet-34/32 width), so that ``depth=34`` alone is the
        paper's network.
    n_estimators : int, default=3
        Number of independently seeded nets whose predictions are averaged.
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    lr : float, default=5e-3
        Learning rate (the peak of the one-cycle schedule).
    batch_size : int, default=64
        Mini-batch size.
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        As in :class:`ResNetClassifier`.
    weight_decay : float, default=1e-2
        L2 penalty (decoupled for AdamW).
    lr_schedule : {"onecycle", "cosine", "plateau"} or None, default="onecycle"
        As in :class:`ResNetClassifier`.
    dropout : float, default=0.1
        Dropout probability inside each residual branch and before the head.
    early_stopping : bool, default=False
        Hold out a random ``validation_fraction`` (at least 10 samples), stop when
        its loss has not improved for ``n_iter_no_change`` epochs, keep the best
        weights.
    validation_fraction : float, default=0.1
        Fraction of samples held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    noise_std : float, default=0.1
        Standard deviation of Gaussian noise added to the standardized features
        during training. Input noise shrinks the fitted function towards flat, so
        the regressor uses less than the classifier.
    scale_jitter : float, default=0.0
        Per-sample scaling augmentation of the standardized features.
    device : str, default="cpu"
        Torch device: "cpu", "cuda", "cuda:1"..., or "auto".
    random_state : int, RandomState instance or None, default=None
        Seeds everything; with an int, CPU training is bit-for-bit reproducible.
    n_threads : int or None, default=1
        Torch threads while fitting and predicting.
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
        Extra skorch callbacks.
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
    nets_ : list of skorch.NeuralNetRegressor
        The ``n_estimators`` trained nets.
    net_ : skorch.NeuralNetRegressor
        The first of ``nets_``.
    n_outputs_ : int
        Number of targets.
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Mean and standard deviation used to standardize the targets.
    history_ : skorch.History
        ``net_.history``: one row per epoch (``train_loss``, ``valid_loss`` with a
        validation split, ``dur``, ``event_lr``...).
    n_epochs_ : int
        Number of epochs trained.
    validation_size_ : int
        Samples held out for early stopping (0 if none).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit`` (only if ``X`` had string column names).

    See Also
    --------
    ResNetClassifier : The same network and training for class labels.
    sklearn.linear_model.Ridge : A linear baseline for the same pipeline.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sk3dface import ResNetRegressor
    >>> X, y = make_regression(n_samples=200, n_features=10, noise=5.0, random_state=0)
    >>> reg = ResNetRegressor(max_epochs=50, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseResNetRegressor._parameter_constraints,
        **_BaseResNetRegressor._skorch_constraints,
        "n_estimators": _RECIPE_CONSTRAINTS["n_estimators"],
        "dropout": _RECIPE_CONSTRAINTS["dropout"],
    }

    def __init__(
        self,
        depth: int = 2,
        width: int | None = None,
        *,
        n_estimators: int = 3,
        max_epochs: int = 100,
        lr: float = 5e-3,
        batch_size: int = 64,
        optimizer: str | type = "adamw",
        weight_decay: float = 1e-2,
        lr_schedule: str | None = "onecycle",
        dropout: float = 0.1,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        noise_std: float = 0.1,
        scale_jitter: float = 0.0,
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
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
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

    _module_class = ResNetClassifier._module_class
    _module_kwargs = ResNetClassifier._module_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _validate_X(self, X, y="no_validation", *, reset: bool):
        only_X = isinstance(y, str) and y == "no_validation"
        check_numeric_input(X, type(self).__name__)
        checked = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            reset=reset,
            **({} if only_X else {"multi_output": True, "y_numeric": True}),
        )
        X, y = (checked, None) if only_X else checked
        X = _check_finite_float32(X, type(self).__name__)
        if not only_X and y.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__} needs numeric targets y; got an array of dtype "
                f"{y.dtype} (for class labels use ResNetClassifier)."
            )
        if not only_X and not np.isfinite(y).all():
            raise ValueError(
                f"{type(self).__name__} got NaN or infinite values in y; expected finite "
                "targets. Drop or impute those samples first."
            )
        return X if only_X else (X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ResNetRegressor:
        """Train new networks on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature vectors; NaN and inf are rejected.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Numeric targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the training loss (the validation loss
            too, with early stopping or ``train_split``): the loss of a batch is the
            weighted mean of its samples' losses. None or equal weights: unweighted.

        Returns
        -------
        self : ResNetRegressor
            The fitted regressor.
        """
        warm = self.warm_start and hasattr(self, "nets_")
        X, y = self._validate_X(X, y, reset=not warm)
        return self._fit_rows(X, None, y, sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predict the targets (mean over the ensemble, un-standardized).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            Predictions, 1-D when ``y`` was 1-D in ``fit``.
        """
        check_is_fitted(self)
        return self._predict_rows(self._validate_X(X, reset=False))
