"""The skorch training base shared by every ResNet estimator of sk3dface.

:class:`_BaseResNet` holds the training (network construction, schedules, ensembles,
interrupts, divergence); the task-specific parts — target encoding, validation split,
criterion, skorch net class, output nonlinearity, prediction — live in
:class:`_BaseResNetClassifier` (cross-entropy, softmax) and :class:`_BaseResNetRegressor`
(MSE on standardized targets, un-standardized at prediction).
"""

from __future__ import annotations

import inspect
import math
from numbers import Integral, Number, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from sk3dface.classifiers._networks import STAGES
from sk3dface.classifiers._torch import _torch_session
from sk3dface.utils._array_api import resolve_device
from sk3dface.utils._sklearn_compat import Interval, Options, StrOptions, _check_sample_weight
from sk3dface.utils._warnings import warn_at_caller

_OPTIMIZERS = ("adamw", "adam", "sgd")
# Below these sizes an internal validation split is too small to steer early stopping.
_MIN_VALIDATION_SAMPLES = 10
# parameters of the small-data recipe, for the estimators that have them (their absence
# means: one net, no label smoothing)
_RECIPE_CONSTRAINTS: dict = {
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
}
# skorch's prefixed parameters, routed to the skorch net(s) as given
_NET_PREFIXES = (
    "module__",
    "optimizer__",
    "criterion__",
    "iterator_train__",
    "iterator_valid__",
    "callbacks__",
)
# rows per forward pass at prediction (float64, no gradients)
_PREDICT_BATCH = 1024


class _BaseResNet(BaseEstimator):
    """Training logic shared by every ResNet estimator.

    Estimators turn their input into one array row per training example (a vector
    or a crop) and call ``_fit_rows``; they name their torch module and its
    arguments in ``_module_class`` / ``_module_kwargs``. The task mixins below
    provide ``_encode_targets``, ``_validation_split``, ``_criterion_params``,
    ``_n_outputs``, ``_net_class`` and ``_output_transform``.
    """

    _parameter_constraints: ClassVar[dict] = {
        "depth": [Options(Integral, set(STAGES))],
        "width": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        # BatchNorm cannot train on a batch of one example
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"onecycle", "cosine", "plateau"}), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "scale_jitter": [Interval(Real, 0, 1, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }
    #: skorch-style training parameters of the coefficient ResNets (not the image one)
    _skorch_constraints: ClassVar[dict] = {
        "train_split": [callable, None],
        "warm_start": ["boolean"],
    }

    # ---- hooks -----------------------------------------------------------------
    def _module_class(self) -> type:
        raise NotImplementedError

    def _module_kwargs(self, rows: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    # ---- skorch's prefixed parameters ------------------------------------------
    def _set_net_kwargs(self, kwargs: dict[str, Any]) -> None:
        """Store ``module__*``, ``optimizer__*``... as attributes, as skorch does."""
        for name, value in kwargs.items():
            setattr(self, name, value)

    def _net_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.startswith(_NET_PREFIXES)}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {**super().get_params(deep=deep), **self._net_kwargs()}

    def set_params(self, **params: Any) -> _BaseResNet:
        own = set(self._get_param_names())
        # skorch's prefixed names, and any other name given to __init__ (stored like
        # them, it is reported by fit): set as attributes, as skorch does
        routed = [
            name
            for name in params
            if name.startswith(_NET_PREFIXES) or (name not in own and name in vars(self))
        ]
        for name in routed:
            setattr(self, name, params.pop(name))
        return super().set_params(**params) if params else self

    def _check_net_kwargs(self) -> None:
        known = set(self._get_param_names())
        unknown = [
            k
            for k in vars(self)
            if k not in known
            and not k.startswith(_NET_PREFIXES)
            and not k.startswith("_")
            and not k.endswith("_")
        ]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameters {sorted(unknown)}; "
                f"expected its own parameters or skorch's prefixed ones "
                f"({', '.join(p + '*' for p in _NET_PREFIXES)}). Check the spelling."
            )

    @property
    def history_(self):
        """skorch's history of the (first) net: one row per epoch (losses, times, lr)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "net_")
        return self.net_.history

    # ---- task hooks ------------------------------------------------------------
    _net_class_name = ""  # a class of sk3dface.classifiers._skorch

    def _criterion_class(self) -> type:
        raise NotImplementedError

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _validation_split(self, y_encoded, seed):
        raise NotImplementedError

    def _criterion_params(self, y_train: np.ndarray) -> dict[str, Any]:
        return {}

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _record_targets(self, y_encoded: np.ndarray) -> None:
        """Fitted attributes describing the training targets."""

    def _output_transform(self, outputs):
        return outputs

    def _net_extra_kwargs(self) -> dict[str, Any]:
        return {}

    # ---- fitting ---------------------------------------------------------------
    def _optimizer_and_kwargs(self) -> tuple[type, dict[str, Any]]:
        import torch

        kwargs: dict[str, Any] = {"weight_decay": self.weight_decay}
        if callable(self.optimizer):
            return self.optimizer, kwargs
        if self.optimizer == "sgd":
            kwargs.update(momentum=0.9, nesterov=True)
        classes = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
        return classes[self.optimizer], kwargs

    def _callbacks(
        self,
        with_validation: bool,
        with_schedule: bool,
        n_rows: int = 0,
        early_stop: bool | None = None,
    ) -> list:
        import torch
        from skorch.callbacks import EarlyStopping, LRScheduler

        callbacks: list = []
        if with_validation if early_stop is None else early_stop:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss", patience=self.n_iter_no_change, load_best=True
                    ),
                )
            )
        if with_schedule and self.lr_schedule == "onecycle":
            # stepped per training batch; one spare step for a rounding-free schedule
            steps_per_epoch = max(1, math.ceil(n_rows / self.batch_size))
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.OneCycleLR,
                max_lr=self.lr,
                total_steps=self.max_epochs * steps_per_epoch + 1,
                step_every="batch",
                last_epoch=-1,  # a new cycle for each training (warm_start), not a resumed one
            )
            callbacks.append(("lr_scheduler", scheduler))
        elif with_schedule and self.lr_schedule == "cosine":
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                T_max=self.max_epochs,
                last_epoch=-1,
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
        return callbacks + self._guarded_callbacks()

    def _guarded_callbacks(self) -> list:
        """The user's callbacks, after the divergence check (which runs first)."""
        from sk3dface.classifiers._skorch import StopOnDivergence

        default_lr = inspect.signature(type(self)).parameters["lr"].default
        guard = StopOnDivergence(type(self).__name__, self.lr, default_lr)
        user = list(self.callbacks or [])
        for item in user:
            callback = item[1] if isinstance(item, tuple) and len(item) == 2 else item
            named = not isinstance(item, tuple) or isinstance(item[0], str)
            if not (named and _is_skorch_callback(callback)):
                raise ValueError(
                    f"callbacks of {type(self).__name__} must be skorch callbacks (instances or "
                    f"classes of skorch.callbacks.Callback) or (name, callback) pairs; got "
                    f"{item!r}."
                )
        return [("sk3dface_stop_on_divergence", guard), *user]

    def _make_net(
        self,
        rows: np.ndarray,
        n_outputs: int,
        device: str,
        criterion_params: dict[str, Any],
        valid: tuple[np.ndarray, np.ndarray] | None,
        with_schedule: bool,
    ):
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        from sk3dface.classifiers import _skorch

        user_split = getattr(self, "train_split", None)
        if user_split is not None:
            split, early_stop = user_split, self.early_stopping
        else:
            split = None if valid is None else predefined_split(Dataset(*valid))
            early_stop = valid is not None
        optimizer, optimizer_kwargs = self._optimizer_and_kwargs()
        module_kwargs = {"n_classes": n_outputs, **self._module_kwargs(rows)}
        params: dict[str, Any] = {f"module__{k}": v for k, v in module_kwargs.items()}
        params.update({f"optimizer__{k}": v for k, v in optimizer_kwargs.items()})
        params.update({f"criterion__{k}": v for k, v in criterion_params.items()})
        params.update(self._net_kwargs())  # the user's skorch parameters win
        return getattr(_skorch, self._net_class_name)(
            self._module_class(),
            criterion=self._criterion_class(),
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=split,
            callbacks=self._callbacks(
                split is not None, with_schedule, rows.shape[0], early_stop=early_stop
            ),
            device=device,
            verbose=int(self.verbose),
            iterator_train__shuffle=True,
            **self._net_extra_kwargs(),
            **params,
        )

    def _n_nets(self) -> int:
        return int(getattr(self, "n_estimators", 1))

    @staticmethod
    def _member_seed(seed: int, member: int) -> int:
        """Seed of the ensemble's ``member``-th net (member 0 uses ``seed`` itself)."""
        return (seed + 7919 * member) % np.iinfo(np.int32).max

    def _train(
        self,
        rows: np.ndarray,
        y_rows: np.ndarray,
        seed: int,
        partial: bool,
        net=None,
        epochs: int = 1,
        weight: np.ndarray | None = None,
    ) -> None:
        """Run skorch's fit (or ``epochs`` epochs of partial_fit) on ``net`` reproducibly.

        ``weight``: per-row loss weights, passed to skorch inside ``X`` (see
        :class:`~sk3dface.classifiers._skorch._SampleWeighted`).

        A KeyboardInterrupt stops training and propagates (skorch alone would swallow it
        and return a half-trained net); an interrupted ``fit`` leaves the estimator
        unfitted, an interrupted ``partial_fit`` keeps what the net has learned so far.
        A diverged training raises :class:`~sk3dface.exceptions.TrainingDivergedError`
        and leaves the estimator unfitted, so that it can never predict NaN probabilities.
        """
        from sk3dface.exceptions import TrainingDivergedError

        net = self.net_ if net is None else net
        # BatchNorm cannot train on a final batch of one example: drop it (it is a
        # different example every epoch, since batches are shuffled). Validation runs
        # in eval mode, where a batch of one is fine.
        net.iterator_train__drop_last = bool(
            self._net_kwargs().get("iterator_train__drop_last", False)
        ) or (rows.shape[0] % self.batch_size == 1)
        X = _with_weight(rows, weight)
        try:
            with _torch_session(seed, self.n_threads):
                if partial:
                    net.partial_fit(X, y_rows, epochs=epochs)
                else:
                    net.fit(X, y_rows)
        except TrainingDivergedError:
            self._forget_fit()
            raise
        except KeyboardInterrupt:
            if not partial:
                self._forget_fit()
            raise
        finally:
            if getattr(self, "train_split", None) is None:
                net.train_split = None  # keep no reference to the validation data
        self.n_epochs_ = len(net.history)

    def _continue_fit(
        self,
        rows: np.ndarray,
        row_sample: np.ndarray | None,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ):
        """``warm_start``: train the fitted nets for ``max_epochs`` more epochs."""
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        y_encoded = self._encode_continued(y)  # one row per sample: coefficient estimators
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train, valid = self._validation_split(y_encoded, seed)
        for member, net in enumerate(self.nets_):
            if valid is not None:  # early stopping on a new split of this fit's samples
                net.train_split = predefined_split(
                    Dataset(
                        _with_weight(rows[valid], _take(sample_weight, valid)), y_encoded[valid]
                    )
                )
            self._train(
                rows[train],
                y_encoded[train],
                self._member_seed(seed + len(net.history), member),
                partial=True,
                net=net,
                epochs=self.max_epochs,
                weight=_take(sample_weight, train),
            )
        self.n_epochs_ = len(self.net_.history)
        return self

    def _encode_continued(self, y: np.ndarray) -> np.ndarray:
        """Targets of a warm-started fit, encoded as in the first fit."""
        raise NotImplementedError

    def _forget_fit(self) -> None:
        """Remove every fitted attribute: the estimator is unfitted again."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name == "_class_counts":
                delattr(self, name)

    def _fit_rows(
        self,
        rows: np.ndarray,
        row_sample: np.ndarray | None,
        y: np.ndarray,
        sample_weight: Any = None,
    ):
        """Fit on per-example ``rows``; ``row_sample[i]`` is the sample of row i.

        ``sample_weight`` (one per sample) weighs each sample's loss; uniform weights are
        no weights (the same computation, so the same nets).
        """
        self._check_net_kwargs()
        sample_weight = self._sample_weight(sample_weight, y)
        if getattr(self, "warm_start", False) and hasattr(self, "nets_"):
            return self._continue_fit(rows, row_sample, y, sample_weight)
        y_encoded = self._encode_targets(y)
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train, valid = self._validation_split(y_encoded, seed)
        if row_sample is None:
            row_sample = np.arange(len(y_encoded))
        row_weight = _take(sample_weight, row_sample)
        train_rows = np.flatnonzero(np.isin(row_sample, train))
        valid_data = None
        if valid is not None:
            valid_rows = np.flatnonzero(np.isin(row_sample, valid))
            valid_data = (
                _with_weight(rows[valid_rows], _take(row_weight, valid_rows)),
                y_encoded[row_sample[valid_rows]],
            )
        self.validation_size_ = 0 if valid is None else int(valid.size)
        self._record_targets(y_encoded)
        criterion_params = self._criterion_params(y_encoded[train])
        nets = []
        for member in range(self._n_nets()):
            net = self._make_net(
                rows[train_rows],
                self._n_outputs(),
                device,
                criterion_params,
                valid_data,
                with_schedule=True,
            )
            nets.append(net)
            self._train(
                rows[train_rows],
                y_encoded[row_sample[train_rows]],
                self._member_seed(seed, member),
                partial=False,
                net=net,
                weight=_take(row_weight, train_rows),
            )
        self.nets_ = nets
        self.net_ = nets[0]
        return self

    def _sample_weight(self, sample_weight: Any, y: np.ndarray) -> np.ndarray | None:
        """Checked weights (non-negative, finite, one per sample, not all 0); None if uniform."""
        if sample_weight is None:
            return None
        weight = _check_sample_weight(
            sample_weight, np.empty((len(y), 0)), dtype=np.float64, ensure_non_negative=True
        )
        if not weight.any():
            raise ValueError(
                f"{type(self).__name__}: every sample_weight is 0; at least one sample must "
                "count in the loss."
            )
        if np.all(weight == weight[0]):
            return None  # the weighted mean of the loss is the plain mean
        return weight.astype(np.float32)

    def _ensemble(self) -> list:
        """The fitted nets (``nets_``; estimators pickled before ensembles had only ``net_``)."""
        return list(getattr(self, "nets_", None) or [self.net_])

    # ---- prediction ------------------------------------------------------------
    def _outputs_rows(self, rows: np.ndarray, n_columns: int) -> np.ndarray:
        """Mean over the ensemble of the transformed outputs, computed in float64.

        In float32 the result of a row depends in the last bits on the batch it is in
        (BLAS picks kernels by matrix size, and CPUs differ), so predictions would change
        with the number of samples predicted at once; float64 keeps those differences
        ~1e-15. The trained float32 weights are copied, not changed.
        """
        import copy

        import torch

        nets = self._ensemble()
        out = np.zeros((rows.shape[0], n_columns))
        for net in nets:  # an ensemble averages the outputs of its nets
            device = net.device
            module = copy.deepcopy(net.module_).to(torch.float64).eval()
            chunks = []
            with _torch_session(None, self.n_threads), torch.no_grad():
                for start in range(0, rows.shape[0], _PREDICT_BATCH):
                    x = torch.as_tensor(rows[start : start + _PREDICT_BATCH], device=device)
                    if x.dtype != torch.uint8:
                        x = x.to(torch.float64)
                    chunks.append(self._output_transform(module(x)).cpu().numpy())
            if chunks:
                out += np.concatenate(chunks)
        out /= len(nets)
        return out


class _BaseResNetClassifier(ClassifierMixin, _BaseResNet):
    """The classification parts: label encoding, stratified split, class weights,
    cross-entropy (with label smoothing), softmax probabilities and ``partial_fit``."""

    _parameter_constraints: ClassVar[dict] = {
        **_BaseResNet._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _net_class_name = "InterruptibleNeuralNetClassifier"

    def _criterion_class(self):
        from torch import nn

        return nn.CrossEntropyLoss

    def _n_outputs(self) -> int:
        return self.classes_.size

    def _net_extra_kwargs(self) -> dict[str, Any]:
        return {"classes": list(range(self.classes_.size))}

    def _record_targets(self, y_encoded: np.ndarray) -> None:
        self._class_counts = np.bincount(y_encoded, minlength=self.classes_.size)
        self.class_prior_ = self._class_counts / y_encoded.size

    def _criterion_params(self, y_train: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {}
        weight = self._class_weight_tensor(y_train)
        if weight is not None:
            params["weight"] = weight
        label_smoothing = getattr(self, "label_smoothing", 0.0)
        if label_smoothing:
            params["label_smoothing"] = float(label_smoothing)
        return params

    def _output_transform(self, outputs):
        import torch

        return torch.softmax(outputs, dim=1)

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        _check_labels(y, type(self).__name__)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but y contains "
                f"only one class: {self.classes_.tolist()[0]!r}."
            )
        return y_encoded.astype(np.int64)

    def _encode_continued(self, y: np.ndarray) -> np.ndarray:
        _check_labels(y, type(self).__name__)
        if not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(
                f"warm_start=True continues a fit on the classes {self.classes_.tolist()}; "
                f"y has {np.unique(y).tolist()}. Set warm_start=False to train new nets."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _validation_split(
        self, y_encoded: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Sample indices for training and for early-stopping validation (None: no split)."""
        n_samples = y_encoded.size
        all_samples = np.arange(n_samples)
        if not self.early_stopping or getattr(self, "train_split", None) is not None:
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
            warn_at_caller(
                f"early_stopping=True needs a validation split of at least "
                f"max(n_classes, {_MIN_VALIDATION_SAMPLES}) samples and 2 samples per "
                f"class; got {n_valid} validation samples (validation_fraction="
                f"{self.validation_fraction} of {n_samples}) and a smallest class of "
                f"{min_count}. Training on all samples for max_epochs={self.max_epochs} "
                "epochs without early stopping.",
                UserWarning,
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
        if isinstance(self.class_weight, dict):
            weight = _dict_class_weight(self.class_weight, self.classes_, type(self).__name__)
        else:
            weight = compute_class_weight(
                self.class_weight, classes=self.classes_, y=self.classes_[y_encoded]
            )
        return torch.as_tensor(weight, dtype=torch.float32)

    def _partial_fit_rows(self, rows: np.ndarray, y: np.ndarray, classes):
        first_call = not hasattr(self, "net_")
        if first_call:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: all labels "
                    "that will ever occur, e.g. np.unique(y_all)."
                )
            if not isinstance(classes, np.ndarray):  # np.asarray would turn [1, "a"] to str
                classes = np.array(list(classes), dtype=object)
            _check_mixed_labels(classes, type(self).__name__, "classes")
            # all numbers or all strings now: a plain array (sklearn refuses object labels)
            classes = np.asarray(classes.tolist())
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
        _check_labels(y, type(self).__name__)
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
            criterion_params = self._criterion_params(np.arange(all_classes.size))
            nets = []
            for member in range(self._n_nets()):
                with _torch_session(self._member_seed(base_seed, member), self.n_threads):
                    nets.append(
                        self._make_net(
                            rows,
                            all_classes.size,
                            resolve_device(self.device),
                            criterion_params,
                            None,
                            with_schedule=False,
                        ).initialize()
                    )
            self.nets_ = nets
            self.net_ = nets[0]
        else:
            # continue at a constant learning rate, without validation or schedule
            for net in self._ensemble():
                net.train_split = None
                net.callbacks = self._guarded_callbacks()
                net.initialize_callbacks()
                for group in net.optimizer_.param_groups:
                    group["lr"] = self.lr
        self._class_counts = self._class_counts + np.bincount(y_encoded, minlength=all_classes.size)
        self.class_prior_ = self._class_counts / self._class_counts.sum()
        seed = (base_seed + len(self.net_.history)) % np.iinfo(np.int32).max
        for member, net in enumerate(self._ensemble()):
            self._train(rows, y_encoded, self._member_seed(seed, member), partial=True, net=net)
        return self

    def _proba_rows(self, rows: np.ndarray) -> np.ndarray:
        """Softmax of the net's outputs (mean over the ensemble), in float64."""
        proba = self._outputs_rows(rows, self.classes_.size)
        bad = ~np.isfinite(proba).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{type(self).__name__} computed non-finite class probabilities for "
                f"{int(bad.sum())} of {proba.shape[0]} samples: their features are far "
                "outside the range seen in training, or the network's weights are not "
                "finite. Rescale the features (e.g. sklearn.preprocessing.StandardScaler) "
                "or refit with a smaller lr."
            )
        return proba

    def predict(self, X: Any) -> np.ndarray:
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

    def predict_log_proba(self, X: Any) -> np.ndarray:
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


class _BaseResNetRegressor(RegressorMixin, _BaseResNet):
    """The regression parts: targets standardized per output for training (MSE loss)
    and un-standardized at prediction; a random (unstratified) validation split."""

    _net_class_name = "InterruptibleNeuralNetRegressor"

    def _criterion_class(self):
        from torch import nn

        return nn.MSELoss

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = y2.shape[1]
        self.y_mean_ = y2.mean(axis=0)
        scale = y2.std(axis=0)
        scale[scale < 1e-12] = 1.0  # a constant target is predicted exactly
        self.y_scale_ = scale
        return ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _encode_continued(self, y: np.ndarray) -> np.ndarray:
        y2 = np.asarray(y, dtype=np.float64)
        y2 = y2.reshape(-1, 1) if y2.ndim == 1 else y2
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(
                f"warm_start=True continues a fit on {self.n_outputs_} target(s); y has "
                f"{y2.shape[1]}. Set warm_start=False to train new nets."
            )
        return ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _validation_split(self, y_encoded: np.ndarray, seed: int):
        n_samples = y_encoded.shape[0]
        all_samples = np.arange(n_samples)
        if not self.early_stopping or getattr(self, "train_split", None) is not None:
            return all_samples, None
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if n_valid < _MIN_VALIDATION_SAMPLES or n_samples - n_valid < 2:
            warn_at_caller(
                f"early_stopping=True needs a validation split of at least "
                f"{_MIN_VALIDATION_SAMPLES} samples; got {n_valid} (validation_fraction="
                f"{self.validation_fraction} of {n_samples}). Training on all samples for "
                f"max_epochs={self.max_epochs} epochs without early stopping.",
                UserWarning,
            )
            return all_samples, None
        order = np.random.RandomState(seed).permutation(n_samples)
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _predict_rows(self, rows: np.ndarray) -> np.ndarray:
        out = self._outputs_rows(rows, self.n_outputs_) * self.y_scale_ + self.y_mean_
        if not np.isfinite(out).all():
            raise ValueError(
                f"{type(self).__name__} computed non-finite predictions: the features are "
                "far outside the range seen in training, or the network's weights are not "
                "finite. Rescale the features (e.g. sklearn.preprocessing.StandardScaler) "
                "or refit with a smaller lr."
            )
        return out.ravel() if self._y_ndim == 1 else out


def _check_labels(y: np.ndarray, owner: str, name: str = "y") -> None:
    """Classification targets: all numbers or all strings, with a message that says so."""
    _check_mixed_labels(y, owner, name)
    check_classification_targets(y)


def _is_skorch_callback(callback: Any) -> bool:
    from skorch.callbacks import Callback

    if isinstance(callback, type):
        return issubclass(callback, Callback)
    return isinstance(callback, Callback)


def _check_mixed_labels(y: np.ndarray, owner: str, name: str) -> None:
    if y.dtype == object and y.size:
        kinds = {
            "str" if isinstance(v, str) else "number" if isinstance(v, Number) else "other"
            for v in y.ravel()
        }
        if len(kinds) > 1:
            examples = {}
            for v in y.ravel():
                examples.setdefault(type(v).__name__, v)
            shown = ", ".join(f"{v!r} ({kind})" for kind, v in list(examples.items())[:3])
            raise ValueError(
                f"{owner} got {name} with labels of mixed types, e.g. {shown}; labels must "
                "be all numbers or all strings. Convert them first, e.g. "
                f"np.asarray({name}).astype(str)."
            )


def _dict_class_weight(class_weight: dict, classes: np.ndarray, owner: str) -> np.ndarray:
    """Weights of ``classes`` from a ``{label: weight}`` dict (missing labels weigh 1)."""
    known = set(classes.tolist())
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        raise ValueError(
            f"{owner} got class_weight for {unknown!r}, which "
            f"{'is not a class' if len(unknown) == 1 else 'are not classes'} of y; the "
            f"classes are {classes.tolist()!r}. Use these labels as the keys of "
            "class_weight (classes left out get weight 1)."
        )
    weight = np.array([class_weight.get(label, 1.0) for label in classes.tolist()], float)
    if not (np.isfinite(weight) & (weight >= 0)).all():
        raise ValueError(
            f"{owner} got class_weight={class_weight!r}; weights must be finite numbers >= 0."
        )
    return weight


def _take(weight: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if weight is None else weight[index]


def _with_weight(rows: np.ndarray, weight: np.ndarray | None) -> Any:
    """``rows``, or skorch's dict input ``{"X": rows, "sample_weight": weight}``."""
    return rows if weight is None else {"X": rows, "sample_weight": weight}
