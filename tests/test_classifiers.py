"""ResNetClassifier / ImageResNetClassifier: sklearn contract, training, pickling, inputs."""

import pickle
import warnings

import numpy as np
import pytest
import skorch
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.multiclass import OutputCodeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import compute_class_weight
from sklearn.utils import estimator_checks as sk_checks
from sklearn.utils._param_validation import InvalidParameterError
from skorch.exceptions import DeviceWarning

from sk3dface import ImageResNetClassifier, ResNetClassifier
from sk3dface.classifiers._networks import STAGES, CoefficientResNet, ImageResNet
from sk3dface.exceptions import FailedSamplesWarning, ImageReadError, TrainingDivergedError


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # These nets are tiny: on a shared CPU, OpenMP threads spin-waiting for each
    # other make them many times slower than one thread.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _tiny(**params):
    """A ResNetClassifier small enough for the test budget (one net, cosine schedule)."""
    defaults = dict(
        depth=8,
        width=16,
        n_estimators=1,
        max_epochs=15,
        lr=1e-2,
        batch_size=32,
        lr_schedule="cosine",
        label_smoothing=0.0,
        dropout=0.0,
        random_state=0,
    )
    return ResNetClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def coefficients():
    """Coefficient-like data: 80 features, 4 classes, easy enough for a tiny net."""
    X, y = make_classification(
        n_samples=400,
        n_features=80,
        n_informative=12,
        n_redundant=0,
        n_classes=4,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    labels = np.array(["anger", "fear", "joy", "surprise"])[y]
    return X[:300], labels[:300], X[300:], labels[300:]


# ---- scikit-learn's estimator checks --------------------------------------------------


@pytest.mark.parametrize("estimator", [_tiny(), ImageResNetClassifier(depth=8, width=4)])
def test_parameter_validation(estimator):
    sk_checks.check_param_validation(type(estimator).__name__, estimator)


# ---- architectures -------------------------------------------------------------------


def _weight_layers(module):
    """Weight layers on the main path: all Linear/Conv2d except projection shortcuts."""
    return [
        name
        for name, m in module.named_modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and "shortcut" not in name
    ]


@pytest.mark.parametrize("depth", sorted(STAGES))
def test_depth_counts_weight_layers(depth):
    coefficient_net = CoefficientResNet(80, 7, depth=depth, width=4)
    image_net = ImageResNet(3, 7, depth=depth, width=4)
    assert len(_weight_layers(coefficient_net)) == depth
    assert len(_weight_layers(image_net)) == depth
    assert len(coefficient_net.blocks) == sum(STAGES[depth])


def test_resnet34_and_32_block_layout():
    assert STAGES[34] == (3, 4, 6, 3)
    assert STAGES[32] == (5, 5, 5)
    net = CoefficientResNet(80, 7, depth=34, width=64)
    widths = [block.layer2.out_features for block in net.blocks]
    assert widths == [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3
    image_net = ImageResNet(3, 7, depth=34, width=64)
    out = image_net.eval()(torch.zeros(2, 3, 112, 112, dtype=torch.uint8))
    assert out.shape == (2, 7)


def test_augmentation_only_in_training_mode():
    torch.manual_seed(0)
    x = torch.randn(16, 10)
    net = CoefficientResNet(10, 3, depth=8, width=8, noise_std=0.5, scale_jitter=0.3)
    plain = CoefficientResNet(10, 3, depth=8, width=8)
    plain.load_state_dict(net.state_dict())
    net.train(), plain.train()
    assert not torch.equal(net(x), net(x))  # fresh noise every pass
    assert torch.equal(plain(x), plain(x))
    net.eval()
    assert torch.equal(net(x), net(x))


# ---- training behaviour --------------------------------------------------------------


def test_learns_string_labels(coefficients):
    X, y, X_test, y_test = coefficients
    clf = _tiny().fit(X, y)
    assert clf.classes_.tolist() == ["anger", "fear", "joy", "surprise"]
    assert set(clf.predict(X_test)) <= set(clf.classes_)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba)
    assert clf.score(X_test, y_test) > 0.8  # chance is 0.25
    assert clf.n_features_in_ == 80


def test_bit_reproducible_and_leaves_global_rng_alone(coefficients):
    X, y, X_test, _ = coefficients
    state = torch.get_rng_state()
    first = _tiny(max_epochs=3).fit(X, y).predict_proba(X_test)
    assert torch.equal(torch.get_rng_state(), state)
    second = _tiny(max_epochs=3).fit(X, y).predict_proba(X_test)
    other = _tiny(max_epochs=3, random_state=1).fit(X, y).predict_proba(X_test)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_early_stopping_on_validation_split(coefficients):
    X, y, _, _ = coefficients
    clf = _tiny(max_epochs=200, early_stopping=True, n_iter_no_change=3).fit(X, y)
    assert clf.validation_size_ == 30  # ceil(0.1 * 300)
    assert clf.n_epochs_ < 200
    assert "valid_loss" in clf.net_.history[-1]
    assert clf.net_.train_split is None  # no validation data kept in the model


def test_early_stopping_falls_back_on_tiny_data():
    X = np.random.default_rng(0).normal(size=(12, 5))
    y = np.repeat([0, 1, 2], 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        default = _tiny(max_epochs=2).fit(X, y)  # early stopping is off by default
    assert default.validation_size_ == 0
    with pytest.warns(UserWarning, match="early_stopping=True needs a validation split"):
        forced = _tiny(max_epochs=2, early_stopping=True).fit(X, y)
    assert forced.validation_size_ == 0 and forced.n_epochs_ == 2


@pytest.mark.parametrize("schedule", ["cosine", "plateau", None])
def test_learning_rate_schedules(coefficients, schedule):
    X, y, _, _ = coefficients
    clf = _tiny(max_epochs=4, lr_schedule=schedule).fit(X, y)
    lrs = [group["lr"] for group in clf.net_.optimizer_.param_groups]
    if schedule == "cosine":
        assert lrs[0] == pytest.approx(0.0, abs=1e-12)  # annealed to 0 after max_epochs
        assert clf.net_.history[:, "event_lr"][0] == pytest.approx(1e-2)
    else:
        assert lrs[0] == pytest.approx(1e-2)  # constant, or no plateau in 4 epochs


def test_onecycle_schedule_steps_per_batch(coefficients):
    X, y, _, _ = coefficients  # 300 samples, batch 32: 10 batches per epoch
    clf = _tiny(max_epochs=3, lr_schedule="onecycle").fit(X, y)
    batch_lrs = clf.net_.history[:, "batches", :, "event_lr"]
    assert [len(epoch) for epoch in batch_lrs] == [10, 10, 10]
    flat = [lr for epoch in batch_lrs for lr in epoch]
    assert flat[0] < 1e-2 / 10  # warms up from lr / 25 ...
    assert max(flat) == pytest.approx(1e-2, rel=0.05)  # ... to the peak lr ...
    assert flat[-1] < 1e-3  # ... and anneals


def test_default_recipe_is_a_shallow_ensemble(coefficients):
    X, y, X_test, y_test = coefficients
    clf = ResNetClassifier(max_epochs=10, random_state=0).fit(X, y)
    assert len(clf.nets_) == 3 and clf.net_ is clf.nets_[0]
    assert len(clf.net_.module_.blocks) == 0  # depth=2: stem + head
    assert clf.net_.criterion_.label_smoothing == pytest.approx(0.1)
    assert clf.score(X_test, y_test) > 0.8
    # the ensemble averages the probabilities of independently seeded nets
    first = clf.nets_[0].module_.head.weight.detach()
    assert not torch.equal(first, clf.nets_[1].module_.head.weight.detach())
    single = ResNetClassifier(max_epochs=10, n_estimators=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(single.net_.module_.head.weight.detach().numpy(), first)
    again = ResNetClassifier(max_epochs=10, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X_test), clf.predict_proba(X_test))


def test_dropout_is_in_every_branch_and_before_the_head():
    net = CoefficientResNet(10, 3, depth=8, width=8, dropout=0.3)
    drops = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 3 + 1 and all(d.p == 0.3 for d in drops)
    assert not any(isinstance(m, torch.nn.Dropout) for m in CoefficientResNet(10, 3).modules())


def test_ensemble_partial_fit_updates_every_net(coefficients):
    X, y, X_test, _ = coefficients
    clf = _tiny(n_estimators=2)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.unique(y))
    assert [len(net.history) for net in clf.nets_] == [3, 3]
    assert clf.predict_proba(X_test).shape == (len(X_test), 4)


def test_plateau_schedule_halves_a_stalled_learning_rate(coefficients):
    X, y, _, _ = coefficients
    # a learning rate too small to lower the loss: the loss stalls, so "plateau" halves it
    # (patience n_iter_no_change // 2 = 1 epoch), while lr_schedule=None keeps it
    options = dict(max_epochs=6, lr=1e-6, n_iter_no_change=2, noise_std=0.0, scale_jitter=0.0)
    plateau = _tiny(lr_schedule="plateau", **options).fit(X, y)
    constant = _tiny(lr_schedule=None, **options).fit(X, y)
    assert plateau.net_.optimizer_.param_groups[0]["lr"] <= 0.5e-6
    assert constant.net_.optimizer_.param_groups[0]["lr"] == 1e-6


@pytest.mark.parametrize("optimizer", ["sgd", "adam", torch.optim.RMSprop])
def test_optimizers(coefficients, optimizer):
    X, y, _, _ = coefficients
    clf = _tiny(max_epochs=2, optimizer=optimizer).fit(X, y)
    expected = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}.get(optimizer, optimizer)
    assert type(clf.net_.optimizer_) is expected


def test_class_weight(coefficients):
    X, y, _, _ = coefficients
    keep = (y != "joy") | (np.arange(len(y)) % 5 == 0)  # make "joy" rare
    clf = _tiny(max_epochs=2, class_weight="balanced").fit(X[keep], y[keep])
    expected = compute_class_weight("balanced", classes=clf.classes_, y=y[keep])
    # weights are computed on the training part (after the validation split)
    np.testing.assert_allclose(clf.net_.criterion_.weight.numpy(), expected, rtol=0.15)
    assert clf.net_.criterion_.weight[2] > 2 * clf.net_.criterion_.weight[0]
    clf = _tiny(max_epochs=2, class_weight={"joy": 5.0}).fit(X, y)
    assert clf.net_.criterion_.weight.tolist() == [1.0, 1.0, 5.0, 1.0]
    with pytest.raises(ValueError, match=r"class_weight for \['calm'\], which is not a class"):
        _tiny(max_epochs=2, class_weight={"calm": 2.0}).fit(X, y)


def test_partial_fit(coefficients):
    X, y, X_test, y_test = coefficients
    clf = _tiny()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:50], y[:50])
    assert not hasattr(clf, "net_")
    for start in range(0, 300, 100):
        clf.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.unique(y))
    assert clf.n_epochs_ == 3
    assert clf.classes_.tolist() == ["anger", "fear", "joy", "surprise"]
    with pytest.raises(ValueError, match=r"labels \['calm'\] that are not among"):
        clf.partial_fit(X[:2], np.array(["calm", "joy"]))
    fitted = _tiny(max_epochs=3).fit(X, y)
    fitted.partial_fit(X[:100], y[:100])  # continues training the fitted net
    assert fitted.n_epochs_ == 4
    assert fitted.score(X_test, y_test) > 0.5


# ---- scikit-learn contracts ----------------------------------------------------------


def test_clone_get_set_params():
    clf = _tiny(depth=32)
    params = clf.get_params()
    assert params["depth"] == 32 and params["width"] == 16
    twin = clone(clf)
    assert twin.get_params() == params and twin is not clf
    clf.set_params(depth=10, lr=0.1)
    assert (clf.depth, clf.lr) == (10, 0.1)
    with pytest.raises(InvalidParameterError, match="'depth' parameter"):
        _tiny(depth=33).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_pandas_and_read_only_float32_input(coefficients):
    import pandas as pd

    X, y, X_test, _ = coefficients
    columns = [f"alpha_{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X.astype(np.float32), columns=columns)
    read_only = X_test.astype(np.float32)
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "The given NumPy array is not writable"
        clf = _tiny(max_epochs=2).fit(frame, pd.Series(y))
        proba = clf.predict_proba(pd.DataFrame(read_only, columns=columns))
        writable = pd.DataFrame(X_test.astype(np.float32), columns=columns)
        np.testing.assert_array_equal(clf.predict_proba(writable), proba)
    assert clf.feature_names_in_.tolist() == columns
    # torch warns only once per process, so check what reaches it directly as well
    read_only_frame = pd.DataFrame(read_only, columns=columns)
    assert not read_only_frame.to_numpy().flags.writeable  # pandas' copy-on-write
    assert clf._validate_X(read_only_frame, reset=False).flags.writeable


def test_pipeline_grid_search_and_cross_val(coefficients):
    X, y, X_test, y_test = coefficients
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _tiny(max_epochs=5))])
    search = GridSearchCV(
        pipe,
        param_grid={"clf__depth": [8, 10], "clf__lr": [1e-2], "clf__max_epochs": [3, 5]},
        cv=2,
    )
    search.fit(X[:120], y[:120])
    assert search.best_params_["clf__depth"] in (8, 10)
    assert search.score(X_test, y_test) > 0.4
    scores = cross_val_score(_tiny(max_epochs=5), X[:120], y[:120], cv=2, n_jobs=2)
    assert scores.shape == (2,) and np.all(scores > 0.4)


@pytest.mark.parametrize(
    "backend",
    [SVC(), OutputCodeClassifier(SVC(), code_size=2, random_state=0)],
    ids=["SVC", "OutputCodeClassifier(SVC)"],
)
def test_svm_back_ends_drop_in(coefficients, backend):
    X, y, X_test, y_test = coefficients
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _tiny(max_epochs=3))])
    pipe.set_params(clf=backend).fit(X, y)
    assert pipe.score(X_test, y_test) > 0.8
    assert pipe.classes_.tolist() == ["anger", "fear", "joy", "surprise"]


def test_pickle_round_trip_and_device(coefficients):
    X, y, X_test, _ = coefficients
    clf = _tiny(max_epochs=3, device="auto").fit(X, y)
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.net_.device == expected_device
    restored = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
    assert restored.get_params() == clf.get_params()


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_cuda_model_unpickles_on_cpu(coefficients):
    X, y, X_test, _ = coefficients
    clf = _tiny(max_epochs=2).fit(X, y)
    expected = clf.predict_proba(X_test)
    clf.net_.device = "cuda"  # as if trained on a GPU: skorch maps it back on load
    with pytest.warns(DeviceWarning) as record:
        restored = pickle.loads(pickle.dumps(clf))
    assert any("not available" in str(w.message) for w in record)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    with pytest.raises(ValueError, match="CUDA is not available"):
        _tiny(device="cuda").fit(X, y)


# ---- bad input -----------------------------------------------------------------------


def test_nan_and_inf_are_rejected_with_advice(coefficients):
    X, y, _, _ = coefficients
    X = X.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 1 of 300 samples.*SimpleImputer"):
        _tiny().fit(X, y)
    X[3, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _tiny().fit(X, y)
    X[3, 5] = 1e300  # finite, but not in float32
    with pytest.raises(ValueError, match="too large for float32"):
        _tiny().fit(X, y)
    X[3, 5] = 0.0
    clf = _tiny(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((1, 80), np.nan))


def test_one_class_and_unseen_labels(coefficients):
    X, y, X_test, y_test = coefficients
    with pytest.raises(ValueError, match="only one class: 'joy'"):
        _tiny().fit(X[:20], np.full(20, "joy"))
    clf = _tiny(max_epochs=3).fit(X[y != "joy"], y[y != "joy"])
    assert "joy" not in clf.predict(X_test)
    score = clf.score(X_test, y_test)  # "joy" in y_test is simply always wrong
    assert 0 < score < 1


# ---- the raw-image baseline ----------------------------------------------------------


@pytest.fixture(scope="module")
def faces():
    from matplotlib import cbook
    from skimage import data

    from sk3dface.utils._images import load_image

    hopper = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    astronaut = data.astronaut()
    return hopper, astronaut


def _tiny_image(**params):
    defaults = dict(depth=8, width=4, image_size=32, max_epochs=3, random_state=0)
    return ImageResNetClassifier(**{**defaults, **params})


def test_image_classifier_face_crops_and_views(faces):
    hopper, astronaut = faces
    X = [hopper, astronaut, [None, hopper[:, ::-1]], (astronaut, hopper)]
    y = ["hopper", "astronaut", "hopper", "astronaut"]
    clf = _tiny_image(views="stack").fit(X, y)
    rows, row_sample, _ = clf._crops(X)
    assert rows.shape == (5, 3, 32, 32) and row_sample.tolist() == [0, 1, 2, 3, 3]
    proba = clf.predict_proba(X)
    per_view = clf.predict_proba([astronaut, hopper])
    np.testing.assert_allclose(proba[3], per_view.mean(axis=0))  # views are averaged
    first = _tiny_image(views="first", color="gray").fit(X, y)
    rows, row_sample, _ = first._crops(X)
    assert rows.shape == (4, 1, 32, 32) and row_sample.tolist() == [0, 1, 2, 3]
    assert first.net_.module_.stem[0].in_channels == 1
    face_crop = _tiny_image(crop="face")._crops([hopper])[0][0]
    centre_crop = _tiny_image(crop="center")._crops([hopper])[0][0]
    assert not np.array_equal(face_crop, centre_crop)
    parallel = _tiny_image(views="first", color="gray", n_jobs=2)
    parallel_rows, parallel_samples, _ = parallel._crops(X)
    np.testing.assert_array_equal(parallel_rows, rows)
    np.testing.assert_array_equal(parallel_samples, row_sample)


def test_image_classifier_failures(faces, tmp_path):
    hopper, astronaut = faces
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    X = [hopper, astronaut, [None, str(broken), hopper], str(broken)]
    y = ["hopper", "astronaut", "hopper", "astronaut"]
    with pytest.warns(FailedSamplesWarning) as record:
        clf = _tiny_image().fit(X, y)
    messages = " ".join(str(w.message) for w in record)
    assert "2 of 5 views gave no face crop" in messages
    assert "(2 unreadable, 0 without a face)" in messages
    assert "broken.jpg" in messages  # the failing file is named
    assert [f.sample for f in record[0].message.failures] == [2, 3]
    assert "1 of 4 sample(s) have no readable view and were left out of training" in messages
    assert len(record) == 1  # one counting warning per call
    with pytest.warns(FailedSamplesWarning) as record:
        proba = clf.predict_proba([str(broken), hopper])
    assert "predicted with the training class frequencies" in str(record[-1].message)
    np.testing.assert_allclose(proba[0], clf.class_prior_)
    with pytest.raises(ImageReadError, match=r"Sample 2, view 1: .*broken\.jpg"):
        _tiny_image(on_error="raise").fit(X, y)
    with pytest.warns(FailedSamplesWarning, match=r"1 of 3 views .*\(0 unreadable, 1 without"):
        _tiny_image().fit([hopper, astronaut, np.zeros((60, 50), np.uint8)], [0, 1, 1])
    with pytest.raises(TypeError, match="sequence of samples"):
        _tiny_image().fit(str(broken), ["a"])
    with pytest.raises(ValueError, match="X has 2 samples but y has 3"):
        _tiny_image().fit([hopper, astronaut], [0, 1, 1])


def test_image_classifier_pickle_and_pipeline(faces):
    hopper, astronaut = faces
    X = [hopper, astronaut, hopper[:, ::-1].copy(), astronaut[:, ::-1].copy()]
    y = [0, 1, 0, 1]
    pipe = Pipeline([("clf", _tiny_image(crop="center"))]).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    assert clone(pipe).get_params()["clf__image_size"] == 32


def test_n_threads_is_used_while_fitting_and_restored():
    seen = []

    class RecordThreads(skorch.callbacks.Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    X, y = make_classification(n_samples=60, n_features=8, random_state=0)
    torch.set_num_threads(2)
    try:
        _tiny(n_threads=1, max_epochs=2, callbacks=[RecordThreads()]).fit(X, y)
        assert seen == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


# ---- reliability: interrupts, batch sizes, divergence, messages ---------------------------


class InterruptAtEpoch(skorch.callbacks.Callback):
    """Simulates Ctrl-C at the start of epoch ``epoch`` (1-based)."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_stops_training(coefficients, faces):
    # skorch's own fit catches KeyboardInterrupt and returns the half-trained net
    X, y, _, _ = coefficients
    interrupted = _tiny(callbacks=[InterruptAtEpoch(2)])
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    with pytest.raises(NotFittedError):
        interrupted.predict(X)  # no half-trained net that looks fitted
    with pytest.raises(KeyboardInterrupt):
        _tiny(early_stopping=True, callbacks=[InterruptAtEpoch(2)]).fit(X, y)
    clf = _tiny(callbacks=[InterruptAtEpoch(1)])
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y, classes=np.unique(y))
    fitted = _tiny(max_epochs=1).fit(X, y)
    fitted.set_params(callbacks=[InterruptAtEpoch(2)])
    with pytest.raises(KeyboardInterrupt):
        fitted.partial_fit(X, y)  # continuing a fitted net: its callbacks are replaced
    assert fitted.predict(X[:2]).shape == (2,)  # partial_fit keeps what was learned
    hopper, astronaut = faces
    with pytest.raises(KeyboardInterrupt):
        _tiny_image(crop="center", callbacks=[InterruptAtEpoch(2)]).fit(
            [hopper, astronaut, hopper, astronaut], [0, 1, 0, 1]
        )
    # skorch's EarlyStopping stops by raising KeyboardInterrupt: still a normal stop
    clf = _tiny(max_epochs=50, callbacks=[skorch.callbacks.EarlyStopping("train_loss", 1, 10)])
    assert clf.fit(X, y).n_epochs_ < 50
    # without an interrupt nothing changed: all epochs run
    assert _tiny(max_epochs=3, callbacks=[InterruptAtEpoch(5)]).fit(X, y).n_epochs_ == 3


def test_batch_size_one_is_refused_and_odd_sizes_train(coefficients):
    X, y, _, _ = coefficients
    with pytest.raises(InvalidParameterError, match=r"'batch_size' parameter .* range \[2, inf\)"):
        _tiny(batch_size=1).fit(X[:20], y[:20])
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        ImageResNetClassifier(batch_size=1).fit([np.zeros((20, 20), np.uint8)] * 2, [0, 1])
    # a last training batch of one sample (BatchNorm cannot train on it): it is dropped
    assert _tiny(max_epochs=2).fit(X[:33], y[:33]).n_epochs_ == 2
    assert _tiny(max_epochs=2, batch_size=2).fit(X[:7], y[:7]).n_epochs_ == 2
    # early stopping: 99 training rows in batches of 49, and 12 validation rows
    clf = _tiny(max_epochs=2, batch_size=49, early_stopping=True).fit(X[:111], y[:111])
    assert clf.validation_size_ == 12 and clf.n_epochs_ == 2
    # a validation batch of one (11 validation rows in batches of 10) runs in eval mode
    clf = _tiny(max_epochs=2, batch_size=10, early_stopping=True).fit(X[:101], y[:101])
    assert clf.validation_size_ == 11 and np.isfinite(clf.net_.history[:, "valid_loss"]).all()
    clf = _tiny(batch_size=2)
    clf.partial_fit(X[:3], y[:3], classes=np.unique(y))
    with pytest.raises(ValueError, match=r"at least 2 samples per call.*got 1"):
        clf.partial_fit(X[:1], y[:1])


def test_image_classifier_odd_number_of_crops():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(5)]
    clf = _tiny_image(crop="center", image_size=16, batch_size=4, max_epochs=2)
    assert clf.fit(images, [0, 1, 0, 1, 0]).n_epochs_ == 2  # 5 crops: last batch of 1
    stacked = [[images[0], images[1]], [images[2], images[3]], [images[4]]]
    clf = _tiny_image(crop="center", image_size=16, batch_size=2, views="stack", max_epochs=2)
    assert clf.fit(stacked, [0, 1, 0]).n_epochs_ == 2


def test_image_classifier_sample_weights_reach_every_crop_of_a_sample():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(8)]
    views = [[images[i], images[i + 1]] for i in range(0, 8, 2)]  # 4 samples of 2 views
    y = [0, 1, 0, 1]
    clf = _tiny_image(crop="center", image_size=16, batch_size=4, max_epochs=2)
    plain = clf.fit(views, y).predict_proba(views)
    np.testing.assert_array_equal(clf.fit(views, y, sample_weight=[2.0] * 4)
                                  .predict_proba(views), plain)  # fmt: skip
    weighted = clf.fit(views, y, sample_weight=[1.0, 0.0, 1.0, 5.0]).predict_proba(views)
    assert not np.allclose(weighted, plain)
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(views, y, sample_weight=[1.0, 2.0])


def test_divergence_raises_instead_of_predicting_nan(coefficients):
    X, y, _, _ = coefficients
    clf = _tiny(lr=1e6, max_epochs=5)
    with pytest.raises(TrainingDivergedError, match=r"diverged.*lr=1e\+06.*smaller one") as info:
        clf.fit(X, y)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FloatingPointError)
    with pytest.raises(NotFittedError):
        clf.predict(X)  # left unfitted, never NaN probabilities
    clf = _tiny(lr=1e6, optimizer="sgd")
    with pytest.raises(TrainingDivergedError, match="lr=1e\\+06"):
        for _ in range(3):
            clf.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(clf, "net_") and not hasattr(clf, "classes_")
    fitted = _tiny(max_epochs=1).fit(X, y)  # continuing a fitted net keeps the check
    fitted.set_params(lr=1e6, optimizer="sgd")
    with pytest.raises(TrainingDivergedError):
        for _ in range(3):
            fitted.partial_fit(X, y)
    fitted = _tiny(max_epochs=1).fit(X, y)
    with torch.no_grad():
        next(fitted.net_.module_.parameters()).fill_(np.nan)
    with pytest.raises(ValueError, match="non-finite class probabilities"):
        fitted.predict_proba(X[:3])


def test_clear_messages_for_labels_and_class_weight(coefficients, faces):
    X, y, _, _ = coefficients
    mixed = np.array([1, "two", 3] * 100, dtype=object)
    message = r"mixed types, e\.g\. 1 \(int\), 'two' \(str\).*all numbers or all strings"
    with pytest.raises(ValueError, match=message):
        _tiny().fit(X, mixed)
    with pytest.raises(ValueError, match=message):
        _tiny().partial_fit(X, mixed, classes=[1, "two", 3])
    hopper, astronaut = faces
    with pytest.raises(ValueError, match="all numbers or all strings"):
        _tiny_image(crop="center").fit([hopper, astronaut], np.array([0, "a"], dtype=object))
    with pytest.raises(
        ValueError,
        match=r"class_weight for \['dog'\], which is not a class of y; the classes are \['anger'",
    ):
        _tiny(class_weight={"dog": 2}).fit(X, y)
    with pytest.raises(ValueError, match=r"\['dog', 7\], which are not classes"):
        _tiny(class_weight={"joy": 2, "dog": 2, 7: 1}).fit(X, y)
    numeric = _tiny(max_epochs=1, class_weight={2: 3.0}).fit(X, np.searchsorted(np.unique(y), y))
    assert numeric.net_.criterion_.weight.tolist() == [1.0, 1.0, 3.0, 1.0]


def test_image_classifier_explains_a_feature_matrix(coefficients):
    X, y, _, _ = coefficients
    for features in (X, X.tolist(), list(X)):
        with pytest.raises((TypeError, ValueError), match="not feature vectors"):
            _tiny_image().fit(features, y)


# ---- skorch's conventions: prefixed parameters, history_ ------------------------------


def test_skorch_prefixed_parameters_reach_the_net(coefficients):
    from sklearn.base import clone

    X, y, _, _ = coefficients
    clf = ResNetClassifier(
        n_estimators=2,
        max_epochs=3,
        random_state=0,
        optimizer__betas=(0.8, 0.9),
        iterator_train__drop_last=True,
    )
    params = clf.get_params()
    assert params["optimizer__betas"] == (0.8, 0.9) and params["iterator_train__drop_last"]
    copy = clone(clf)
    assert copy.get_params()["optimizer__betas"] == (0.8, 0.9)
    copy.set_params(optimizer__betas=(0.7, 0.95), max_epochs=4)
    assert (copy.optimizer__betas, copy.max_epochs) == ((0.7, 0.95), 4)
    clf.fit(X, y)
    assert len(clf.history_) == 3  # one row per epoch
    assert clf.history_ is clf.net_.history
    for net in clf.nets_:
        # the one-cycle schedule cycles beta1 itself (torch's cycle_momentum)
        assert net.optimizer_.param_groups[0]["betas"][1] == 0.9
        assert net.iterator_train__drop_last is True
        # 300 samples, batch 256, last batch dropped: one training batch per epoch
        assert [len(b) for b in net.history[:, "batches"]] == [1, 1, 1]
    assert "optimizer__betas=(0.8, 0.9)" in repr(clf)


def test_unknown_parameters_fail_at_fit_with_a_hint(coefficients):
    X, y, _, _ = coefficients
    with pytest.raises(TypeError, match=r"unexpected parameters \['dpth'\].*optimizer__\*"):
        ResNetClassifier(dpth=3).fit(X, y)
    with pytest.raises(NotFittedError):
        _ = ResNetClassifier().history_
    cosine = _tiny(max_epochs=2, optimizer__betas=(0.8, 0.9)).fit(X, y)
    assert cosine.net_.optimizer_.param_groups[0]["betas"] == (0.8, 0.9)


def test_default_width_is_the_recipe_for_shallow_and_the_papers_for_deep_nets():
    rows = np.zeros((4, 3))
    assert ResNetClassifier()._module_kwargs(rows)["width"] == 256
    assert ResNetClassifier(depth=34)._module_kwargs(rows)["width"] == 64  # ResNet-34
    assert ResNetClassifier(depth=32, width=16)._module_kwargs(rows)["width"] == 16
