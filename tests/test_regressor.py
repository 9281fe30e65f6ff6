"""ResNetRegressor: the coefficient ResNet as a scikit-learn regressor."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skorch
import torch
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from sk3dface import ResNetRegressor
from sk3dface.exceptions import TrainingDivergedError


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def linear():
    """A noisy linear target: 400 samples, 20 features (10 informative)."""
    X, y = make_regression(
        n_samples=400, n_features=20, n_informative=10, noise=10.0, random_state=0
    )
    return train_test_split(X, y, random_state=0)


def _small(**params):
    defaults = dict(n_estimators=1, max_epochs=30, random_state=0)
    return ResNetRegressor(**{**defaults, **params})


def test_reaches_r2_on_a_noisy_linear_target(linear):
    X, X_test, y, y_test = linear
    reg = ResNetRegressor(random_state=0).fit(X, y)
    assert reg.score(X_test, y_test) >= 0.9
    assert len(reg.nets_) == 3 and isinstance(reg.net_, skorch.NeuralNetRegressor)
    assert reg.predict(X_test).shape == y_test.shape
    assert reg.n_outputs_ == 1
    np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    np.testing.assert_allclose(reg.y_scale_, [y.std()])


def test_multi_output(linear):
    X, X_test, y, y_test = linear
    Y, Y_test = np.c_[y, 1000 - 3 * y], np.c_[y_test, 1000 - 3 * y_test]
    reg = _small().fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.net_.module_.head.out_features == 2
    assert reg.predict(X_test).shape == (len(X_test), 2)
    assert reg.score(X_test, Y_test) >= 0.9  # un-standardized per output
    column = _small().fit(X, Y[:, :1])
    assert column.predict(X_test).shape == (len(X_test), 1)  # a 2-D y stays 2-D


def test_deterministic_given_random_state_and_pickles(linear):
    X, X_test, y, _ = linear
    first = _small(max_epochs=5).fit(X, y)
    second = _small(max_epochs=5).fit(X, y)
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict(X_test), first.predict(X_test))


def test_early_stopping_uses_a_random_split(linear):
    X, _, y, _ = linear
    reg = _small(max_epochs=5, early_stopping=True).fit(X, y)
    assert reg.validation_size_ == 30
    assert np.isfinite(reg.net_.history[:, "valid_loss"]).all()
    with pytest.warns(UserWarning, match="at least 10 samples"):
        tiny = _small(max_epochs=2, early_stopping=True).fit(X[:20], y[:20])
    assert tiny.validation_size_ == 0


class _InterruptAtEpoch(skorch.callbacks.Callback):
    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt


def test_interrupt_and_divergence_leave_it_unfitted(linear):
    X, _, y, _ = linear
    interrupted = _small(callbacks=[_InterruptAtEpoch()])
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    with pytest.raises(NotFittedError):
        interrupted.predict(X)
    diverging = _small(lr=1e6, optimizer="sgd", max_epochs=5)
    with pytest.raises(TrainingDivergedError, match=r"lr=1e\+06.*smaller one"):
        diverging.fit(X, y)
    assert not hasattr(diverging, "net_") and not hasattr(diverging, "y_mean_")


def test_non_finite_targets_are_rejected(linear):
    X, _, y, _ = linear
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"NaN|finite"):
        _small().fit(X, y)


def test_skorch_prefixed_parameters_and_history(linear):
    X, _, y, _ = linear
    reg = _small(max_epochs=3, iterator_train__drop_last=True, optimizer__eps=1e-6)
    assert reg.get_params()["optimizer__eps"] == 1e-6
    reg.fit(X, y)
    assert len(reg.history_) == 3
    assert reg.net_.optimizer_.param_groups[0]["eps"] == 1e-6
