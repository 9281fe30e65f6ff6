"""skorch users' parameters: train_split, warm_start, prefixed net parameters, sample_weight."""

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


def _quick(estimator=ResNetClassifier, **params):
    return estimator(**{"max_epochs": 6, "n_estimators": 1, "random_state": 0, **params})


def test_equal_sample_weights_train_the_same_nets(data):
    X, y, target = data
    plain = _quick().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(_quick().fit(X, y, sample_weight=np.full(120, 3.0))
                                  .predict_proba(X), plain)  # fmt: skip
    plain = _quick(ResNetRegressor).fit(X, target).predict(X)
    weighted = _quick(ResNetRegressor).fit(X, target, sample_weight=np.ones(120)).predict(X)
    np.testing.assert_array_equal(weighted, plain)


def test_sample_weights_move_the_decision(data):
    X, y, _ = data
    flipped = y.copy()
    flipped[:40] = 1 - flipped[:40]  # a third of the labels are wrong...
    weight = np.where(np.arange(120) < 40, 0.0, 1.0)  # ...and weigh nothing
    noisy = _quick(max_epochs=30).fit(X, flipped).score(X, y)
    cleaned = _quick(max_epochs=30).fit(X, flipped, sample_weight=weight).score(X, y)
    assert cleaned > noisy + 0.1 and cleaned > 0.9
    heavy = np.where(y == 1, 20.0, 1.0)  # one class weighs much more: predicted more often
    share = (_quick().fit(X, y, sample_weight=heavy).predict(X) == 1).mean()
    assert share > (_quick().fit(X, y).predict(X) == 1).mean() + 0.1


def test_sample_weights_with_validation_warm_start_class_weight_and_pipelines(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, target = data
    weight = np.linspace(0.5, 2.0, 120)
    clf = _quick(train_split=ValidSplit(4, stratified=True), class_weight="balanced")
    assert all("valid_loss" in row for row in clf.fit(X, y, sample_weight=weight).history_)
    stopped = _quick(early_stopping=True, max_epochs=30).fit(X, y, sample_weight=weight)
    assert np.isfinite(stopped.history_[:, "valid_loss"]).all()
    warm = _quick(warm_start=True).fit(X, y, sample_weight=weight)
    assert len(warm.fit(X, y, sample_weight=weight).history_) == 12
    reg = _quick(ResNetRegressor).fit(X, np.c_[target, -target], sample_weight=weight)
    assert reg.predict(X).shape == (120, 2)
    pipe = make_pipeline(StandardScaler(), _quick())
    pipe.fit(X, y, resnetclassifier__sample_weight=weight)
    assert pipe.score(X, y) > 0.8


@pytest.mark.parametrize(
    "weight, message",
    [
        (-np.ones(120), "Negative values in data passed to `sample_weight`"),
        (np.zeros(120), "at least one non-zero"),
        (np.ones(7), r"sample_weight.shape == \(7,\), expected \(120,\)"),
        (np.full(120, np.nan), "Input sample_weight contains NaN"),
    ],
)
def test_bad_sample_weights_are_clear_errors(data, weight, message):
    X, y, _ = data
    with pytest.raises(ValueError, match=message):
        _quick().fit(X, y, sample_weight=weight)
