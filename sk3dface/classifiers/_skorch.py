"""The skorch net the ResNet estimators train, and its divergence guard.

Imported only when a network is built, so that importing sk3dface does not import torch.
"""

from __future__ import annotations

import copy

import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping

from sk3dface.exceptions import TrainingDivergedError


class _Interruptible:
    """Ctrl-C stops the fit of a skorch net (mixed into its class).

    skorch's ``partial_fit`` (and so ``fit``) catches :class:`KeyboardInterrupt`, runs
    the ``on_train_end`` callbacks and returns the half-trained net as if training had
    finished: skorch's :class:`~skorch.callbacks.EarlyStopping` stops training by raising
    it. Here an interrupt that does not come from an early stop is recorded in
    ``fit_loop`` and raised again once skorch has cleaned up, so that an interrupted
    ``fit`` never looks like a finished one.
    """

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as interrupt:
            if not self._stopped_early():
                self._sk3dface_interrupt = interrupt
            raise

    def _stopped_early(self) -> bool:
        """An EarlyStopping callback ran out of patience: it raised the KeyboardInterrupt."""
        return any(
            isinstance(callback, EarlyStopping)
            and getattr(callback, "misses_", 0) >= callback.patience
            for _, callback in getattr(self, "callbacks_", [])
        )

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        self._sk3dface_interrupt = None
        super().partial_fit(X, y, classes, **fit_params)
        interrupt, self._sk3dface_interrupt = self._sk3dface_interrupt, None
        if interrupt is not None:
            raise interrupt
        return self

    def __getstate__(self) -> dict:
        """skorch's state without the learning-rate schedulers' live torch objects.

        An :class:`~skorch.callbacks.LRScheduler` keeps the scheduler it built for the last
        training (and through it the optimizer with tensor state) as ``lr_scheduler_``;
        skorch rebuilds it at the start of every training, so it is not saved. Without it
        the state holds no bare tensor, which is what ``skops.io`` needs.
        """
        state = super().__getstate__()
        for key in ("callbacks", "callbacks_"):
            if isinstance(state.get(key), list):
                state[key] = [_without_scheduler(item) for item in state[key]]
        return state


def _without_scheduler(item):
    """A callback (or a ``(name, callback)`` pair) with its ``lr_scheduler_`` left out."""
    if isinstance(item, tuple):
        return tuple(_without_scheduler(part) for part in item)
    if hasattr(item, "lr_scheduler_"):
        item = copy.copy(item)
        del item.lr_scheduler_
    return item


class _SampleWeighted:
    """Per-sample loss weights, skorch's way: ``X = {"X": rows, "sample_weight": w}``.

    skorch slices a dict input batch by batch like an array, so each batch carries its
    weights; the module sees ``X["X"]`` only. With weights the criterion runs with
    ``reduction="none"`` (for that call) and the batch loss is the weighted mean
    ``sum(w_i * loss_i) / sum(w_i * c_i)``, ``c_i`` the class weight of the sample's label
    (1 without class weights): torch's own weighted mean of ``CrossEntropyLoss`` with each
    class weight multiplied by the sample's weight.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, dict) and "sample_weight" in x:
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (isinstance(X, dict) and "sample_weight" in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        criterion, reduction = self.criterion_, self.criterion_.reduction
        criterion.reduction = "none"  # torch's losses read it at every call
        try:
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
        finally:
            criterion.reduction = reduction
        if loss.ndim > 1:  # regression: one squared error per output
            loss = loss.mean(dim=tuple(range(1, loss.ndim)))
        weight = torch.as_tensor(X["sample_weight"], device=loss.device, dtype=loss.dtype)
        total = weight
        class_weight = getattr(self.criterion_, "weight", None)
        if class_weight is not None:
            labels = torch.as_tensor(y_true, device=loss.device).long()
            total = weight * class_weight.to(loss)[labels]
        # a batch of zero-weight samples teaches nothing (loss 0), and must not divide by 0
        return (weight * loss).sum() / total.sum().clamp_min(torch.finfo(loss.dtype).tiny)


class InterruptibleNeuralNetClassifier(_SampleWeighted, _Interruptible, NeuralNetClassifier):
    """skorch's :class:`~skorch.NeuralNetClassifier`, except that Ctrl-C stops the fit and
    ``X`` may carry per-sample loss weights."""


class InterruptibleNeuralNetRegressor(_SampleWeighted, _Interruptible, NeuralNetRegressor):
    """skorch's :class:`~skorch.NeuralNetRegressor`, except that Ctrl-C stops the fit and
    ``X`` may carry per-sample loss weights."""


class StopOnDivergence(Callback):
    """Raise :class:`~sk3dface.exceptions.TrainingDivergedError` on a non-finite loss.

    Checks the loss of every training batch and, at the end of every epoch, the
    module's weights and BatchNorm statistics (which can overflow while the loss is
    still finite).

    Parameters
    ----------
    owner : str
        Name of the estimator, for the message.
    lr : float
        Its learning rate, for the message.
    default_lr : float
        Its default learning rate, suggested in the message.
    """

    def __init__(self, owner: str, lr: float, default_lr: float) -> None:
        self.owner = owner
        self.lr = lr
        self.default_lr = default_lr

    def _fail(self, net, what: str) -> None:
        epoch = len(net.history)
        raise TrainingDivergedError(
            f"{self.owner} training diverged: {what} in epoch {epoch} with lr={self.lr:g}. "
            "The learning rate is probably too large: try a smaller one (the default is "
            f"lr={self.default_lr:g}). The estimator was left unfitted."
        )

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        loss = kwargs.get("loss")
        if training and loss is not None and not bool(torch.isfinite(loss).all()):
            self._fail(net, f"the training loss became {float(loss.detach().float()):g}")

    def on_epoch_end(self, net, **kwargs) -> None:
        module = net.module_
        tensors = [*module.named_parameters(), *module.named_buffers()]
        for name, tensor in tensors:
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                self._fail(net, f"the network's {name} became NaN or infinite")
