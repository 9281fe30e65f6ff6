"""skops.io round-trips fitted ResNet pipelines with identical predictions."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk3dface import ResNetClassifier, ResNetRegressor

sio = pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 8))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int), X @ rng.normal(size=(8, 2))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_skops_round_trip_of_a_fitted_pipeline(data, kind):
    X, labels, targets = data
    if kind == "classifier":
        model, y, method = ResNetClassifier(max_epochs=3, random_state=0), labels, "predict_proba"
    else:
        model, y, method = ResNetRegressor(max_epochs=3, random_state=0), targets, "predict"
    pipe = make_pipeline(StandardScaler(), model).fit(X, y)
    blob = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=blob)
    assert any(name.endswith(type(model).__name__) for name in untrusted)
    with pytest.raises(Exception, match=r"[Uu]ntrusted"):
        sio.loads(blob)  # nothing outside skops' defaults is trusted without being named
    restored = sio.loads(blob, trusted=untrusted)
    np.testing.assert_array_equal(getattr(restored, method)(X), getattr(pipe, method)(X))
    assert len(restored[-1].history_) == 3


def test_pickled_net_keeps_training(data):
    """The learning-rate scheduler left out of the state is rebuilt by the next training."""
    import pickle

    X, y, _ = data
    clf = ResNetClassifier(max_epochs=2, n_estimators=1, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    restored.partial_fit(X, y)
    assert len(restored.history_) == 3
