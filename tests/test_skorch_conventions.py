"""skorch users' parameters: train_split, warm_start, prefixed net parameters."""

import numpy as np
import pytest
from skorch.dataset import ValidSplit

from sk3dface import ResNetClassifier, ResNetRegressor


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    return X, (X[:, 0] > 0).astype(int), X @ rng.normal(size=6)


def test_train_split_records_validation_without_early_stopping(data):
    X, y, _ = data
    clf = ResNetClassifier(
        max_epochs=4,
        n_estimators=1,
        batch_size=32,
        train_split=ValidSplit(4, stratified=True),
        optimizer__betas=(0.8, 0.9),
        iterator_train__drop_last=True,
        random_state=0,
    ).fit(X, y)
    assert len(clf.history_) == 4  # all epochs: no early stopping
    assert all({"train_loss", "valid_loss", "valid_acc"} <= set(row) for row in clf.history_)
    assert clf.net_.optimizer_.defaults["betas"] == (0.8, 0.9)
    reg = ResNetRegressor(max_epochs=3, n_estimators=1, train_split=ValidSplit(4), random_state=0)
    assert all("valid_loss" in row for row in reg.fit(X, data[2]).history_)


def test_train_split_with_early_stopping_monitors_it(data):
    X, y, _ = data
    clf = ResNetClassifier(
        max_epochs=60,
        n_estimators=1,
        early_stopping=True,
        n_iter_no_change=2,
        lr_schedule=None,
        lr=0.05,
        train_split=ValidSplit(4, stratified=True),
        random_state=0,
    ).fit(X, y)
    assert len(clf.history_) < 60
    assert clf.validation_size_ == 0  # the split is skorch's, not validation_fraction


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_warm_start_continues_and_cold_start_restarts(data, kind):
    X, labels, targets = data
    if kind == "classifier":
        model, y = ResNetClassifier(max_epochs=3, n_estimators=2, random_state=0), labels
    else:
        model, y = ResNetRegressor(max_epochs=3, n_estimators=2, random_state=0), targets
    model.set_params(warm_start=True).fit(X, y)
    first_net = model.net_
    model.fit(X, y)
    assert model.net_ is first_net and len(model.history_) == 6
    assert all(len(net.history) == 6 for net in model.nets_)
    model.set_params(warm_start=False).fit(X, y)
    assert model.net_ is not first_net and len(model.history_) == 3


def test_warm_start_refuses_other_classes_and_features(data):
    X, y, _ = data
    clf = ResNetClassifier(max_epochs=2, n_estimators=1, warm_start=True, random_state=0)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="continues a fit on the classes"):
        clf.fit(X, y + 1)
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :4], y)


def test_warm_start_with_early_stopping_validates_again(data):
    X, y, _ = data
    clf = ResNetClassifier(
        max_epochs=3, n_estimators=1, early_stopping=True, warm_start=True, random_state=0
    )
    clf.fit(X, y).fit(X, y)
    assert len(clf.history_) > 3 and "valid_loss" in clf.history_[-1]
