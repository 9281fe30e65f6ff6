"""MultiViewAggregator and CoefficientSelector."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk3dface import CoefficientSelector, MorphableCoefficientExtractor, MultiViewAggregator
from sk3dface.datasets import make_synthetic_faces
from sk3dface.exceptions import FailedSamplesWarning

POSE = ("yaw", "pitch", "roll", "tx", "ty", "scale", "residual")


def blocks(values, n_alpha=2, n_beta=1):
    """Per-view blocks from ``values[sample][view] = (coefficients, yaw, residual)``."""
    rows = []
    for sample in values:
        row = []
        for view in sample:
            if view is None:
                row += [np.nan] * (n_alpha + n_beta + 7)
            else:
                coef, yaw, residual = view
                row += [*coef, yaw, 0.0, 0.0, 100.0, 120.0, 1.5, residual]
        rows.append(row)
    return np.array(rows, dtype=float)


def test_mean_median_and_confidence_skip_missing_views():
    X = blocks(
        [
            [([1, 2, 3], 0.0, 1.0), ([3, 4, 5], 60.0, 1.0), ([8, 9, 10], 0.0, 3.0)],
            [None, ([1, 1, 1], 30.0, 2.0), None],
        ]
    )
    mean = MultiViewAggregator("mean", n_alpha=2, n_beta=1).fit_transform(X)
    np.testing.assert_allclose(mean[0, :3], [4, 5, 6])
    np.testing.assert_allclose(mean[1], [1, 1, 1, 30, 0, 0, 100, 120, 1.5, 2.0])
    median = MultiViewAggregator("median", n_alpha=2, n_beta=1).fit_transform(X)
    np.testing.assert_allclose(median[0, :4], [3, 4, 5, 0])
    confidence = MultiViewAggregator("confidence", n_alpha=2, n_beta=1).fit_transform(X)
    # weights cos(yaw)^2 / (residual^2 + 1): 1/2, (1/4)/2, 1/10
    w = np.array([0.5, 0.125, 0.1])
    expected = w @ np.array([[1, 2, 3], [3, 4, 5], [8, 9, 10]]) / w.sum()
    np.testing.assert_allclose(confidence[0, :3], expected)
    np.testing.assert_allclose(confidence[0, 3:], mean[0, 3:])  # pose: plain mean
    np.testing.assert_allclose(confidence[1], mean[1])


def test_sample_without_views_is_nan_with_warning_or_error():
    X = blocks([[([1, 2, 3], 0.0, 1.0), None], [None, None]])
    aggregator = MultiViewAggregator(n_alpha=2, n_beta=1).fit(X)
    for method in ("mean", "median", "confidence"):
        with pytest.warns(FailedSamplesWarning, match=r"1 of 2 samples .* \(first: \[1\]\)"):
            out = aggregator.set_params(method=method).transform(X)
        assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()
    with pytest.raises(ValueError, match="no view with finite coefficients"):
        aggregator.set_params(on_error="raise").transform(X)


def noisy_views(n=600, seed=0):
    """True coefficients seen by a frontal view (small noise) and two turned views (large
    noise for the first half of the dimensions, small for the rest)."""
    rng = np.random.default_rng(seed)
    n_alpha, n_beta = 4, 2
    truth = rng.normal(size=(n, n_alpha + n_beta))
    yaw = np.stack([np.zeros(n), rng.uniform(40, 60, n), -rng.uniform(40, 60, n)], axis=1)
    noise_sd = np.where(np.abs(yaw)[..., None] > 20, [1.5, 1.5, 1.5, 0.1, 0.1, 0.1], 0.3)
    coef = truth[:, None] + noise_sd * rng.normal(size=(n, 3, n_alpha + n_beta))
    pose = np.zeros((n, 3, 7))
    pose[..., 0] = yaw
    pose[..., 5] = 1.5
    pose[..., 6] = 1.0 + 0.1 * rng.uniform(size=(n, 3))
    X = np.concatenate([coef, pose], axis=-1).reshape(n, -1)
    X[rng.uniform(size=n) < 0.1, :13] = np.nan  # some frontal views missing
    return X, truth


def test_learned_weights_find_the_reliable_views_per_dimension():
    X, truth = noisy_views()
    mean = MultiViewAggregator("mean", n_alpha=4, n_beta=2).fit_transform(X)
    learned = MultiViewAggregator("learned", n_alpha=4, n_beta=2, random_state=0).fit(X)
    out = learned.transform(X)
    error_mean = np.sqrt(((mean[:, :6] - truth) ** 2).mean(0))
    error_learned = np.sqrt(((out[:, :6] - truth) ** 2).mean(0))
    assert (error_learned[:3] < 0.7 * error_mean[:3]).all()  # turned views down-weighted
    assert (error_learned[3:] < 1.05 * error_mean[3:]).all()
    theta = learned.weights_
    assert theta.shape == (6, 3)
    assert (theta[:3, 0] < -1).all() and (theta[3:, 0] > theta[:3, 0] + 1).all()
    np.testing.assert_array_equal(
        MultiViewAggregator("learned", n_alpha=4, n_beta=2, random_state=0).fit(X).weights_,
        theta,
    )  # deterministic given random_state


def test_learned_needs_multi_view_samples():
    X = blocks([[([1, 2, 3], 0.0, 1.0), None], [None, ([1, 1, 1], 30.0, 2.0)]])
    with pytest.raises(ValueError, match="at least two available views"):
        MultiViewAggregator("learned", n_alpha=2, n_beta=1).fit(X)


@pytest.fixture(scope="module")
def fitted_faces():
    faces = make_synthetic_faces(n_subjects=12, n_views=3, n_expressions=3, random_state=0)
    extractor = MorphableCoefficientExtractor(n_alpha=6, n_beta=5).fit(faces.X)
    return faces, extractor


def test_layout_from_extractor_names(fitted_faces):
    faces, extractor = fitted_faces
    frame = clone(extractor).set_output(transform="pandas").fit_transform(faces.X)
    aggregator = MultiViewAggregator().fit(frame)  # no layout parameters needed
    assert (aggregator.n_views_, aggregator.n_alpha_, aggregator.n_beta_) == (3, 6, 5)
    names = aggregator.get_feature_names_out().tolist()
    expected = [f"alpha_{i}" for i in range(6)] + [f"beta_{i}" for i in range(5)] + list(POSE)
    assert names == expected
    np.testing.assert_allclose(
        aggregator.transform(frame),
        MultiViewAggregator(n_alpha=6, n_beta=5).fit_transform(frame.to_numpy()),
    )
    with pytest.raises(ValueError, match="n_beta=4 contradicts the column names"):
        MultiViewAggregator(n_beta=4).fit(frame)


def test_layout_from_parameters_and_errors(fitted_faces):
    faces, extractor = fitted_faces
    X = extractor.transform(faces.X)
    for params in ({"n_alpha": 6, "n_beta": 5}, {"n_views": 3, "n_alpha": 6},
                   {"n_views": 3, "n_beta": 5}):  # fmt: skip
        aggregator = MultiViewAggregator(**params).fit(X)
        assert (aggregator.n_views_, aggregator.n_alpha_, aggregator.n_beta_) == (3, 6, 5)
    with pytest.raises(ValueError, match=r"cannot tell the per-view layout .* set_output"):
        MultiViewAggregator().fit(X)
    with pytest.raises(ValueError, match=r"X has 54 feature\(s\) \(columns\), which does not fit"):
        MultiViewAggregator(n_alpha=6, n_beta=6).fit(X)
    aggregator = MultiViewAggregator(n_alpha=6, n_beta=5).fit(X)
    with pytest.raises(ValueError, match="X has 18 features"):
        aggregator.transform(X[:, :18])


def test_selector_parts_names_and_per_view_input(fitted_faces):
    faces, extractor = fitted_faces
    frame = clone(extractor).set_output(transform="pandas").fit_transform(faces.X)
    aggregated = MultiViewAggregator().set_output(transform="pandas").fit_transform(frame)
    for part, first, count in (("alpha", "alpha_0", 6), ("beta", "beta_0", 5),
                               ("both", "alpha_0", 11), ("pose", "yaw", 7)):  # fmt: skip
        selector = CoefficientSelector(part).fit(aggregated)
        out = selector.transform(aggregated)
        names = selector.get_feature_names_out()
        assert out.shape == (len(frame), count) and names[0] == first and len(names) == count
        np.testing.assert_array_equal(out, aggregated[names].to_numpy())
    # plain arrays: one of n_alpha / n_beta is enough for aggregated features
    plain = aggregated.to_numpy()
    np.testing.assert_array_equal(
        CoefficientSelector("beta", n_beta=5).fit_transform(plain), aggregated.iloc[:, 6:11]
    )
    # per-view blocks straight from the extractor
    selector = CoefficientSelector("beta").fit(frame)
    assert selector.get_feature_names_out()[[0, 5]].tolist() == ["v0_beta_0", "v1_beta_0"]
    np.testing.assert_array_equal(selector.transform(frame), frame.filter(like="_beta_"))
    with pytest.raises(ValueError, match="cannot tell the per-view layout"):
        CoefficientSelector().fit(plain)


def test_selector_keeps_the_names_of_single_view_blocks():
    """One view straight from the extractor: the output keeps the v0_ names it was given."""
    faces = make_synthetic_faces(n_subjects=3, n_views=1, random_state=0)
    blocks = MorphableCoefficientExtractor(n_alpha=4, n_beta=3).set_output(transform="pandas")
    frame = blocks.fit_transform(faces.X)
    selected = CoefficientSelector("beta").set_output(transform="pandas").fit_transform(frame)
    assert list(selected.columns) == ["v0_beta_0", "v0_beta_1", "v0_beta_2"]
    np.testing.assert_array_equal(selected, frame[selected.columns])
    plain = CoefficientSelector("beta", n_alpha=4, n_beta=3).fit(frame.to_numpy())
    assert plain.get_feature_names_out().tolist() == ["beta_0", "beta_1", "beta_2"]


def test_pipeline_classifies_synthetic_identities_and_expressions():
    faces = make_synthetic_faces(
        n_subjects=10, n_views=3, n_expressions=4, n_repeats=2, random_state=3
    )
    groups = np.arange(len(faces.X)) % 2  # the two repeats of every (subject, expression)

    def pipeline(part, method):
        return make_pipeline(
            MorphableCoefficientExtractor(multiview="joint"),
            MultiViewAggregator(method, n_alpha=16, n_beta=15, random_state=0),
            CoefficientSelector(part, n_alpha=16),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )

    for method in ("mean", "learned"):
        identity = cross_val_score(
            pipeline("alpha", method), faces.X, faces.subject, groups=groups, cv=GroupKFold(2)
        )
        expression = cross_val_score(
            pipeline("beta", method), faces.X, faces.expression, groups=groups, cv=GroupKFold(2)
        )
        assert identity.mean() > 0.9 and expression.mean() > 0.9


def test_pandas_pipeline_needs_no_layout_parameters(fitted_faces):
    faces, _ = fitted_faces
    pipeline = make_pipeline(
        MorphableCoefficientExtractor(n_alpha=6, n_beta=5),
        MultiViewAggregator("median"),
        CoefficientSelector("alpha"),
    ).set_output(transform="pandas")
    out = pipeline.fit_transform(faces.X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == [f"alpha_{i}" for i in range(6)]


def test_clone_pickle_and_stateless_transform(fitted_faces):
    faces, extractor = fitted_faces
    X = extractor.transform(faces.X)
    for estimator in (
        MultiViewAggregator("learned", n_alpha=6, n_beta=5, random_state=0),
        CoefficientSelector("beta", n_alpha=6, n_beta=5),
    ):
        assert clone(estimator).get_params() == estimator.get_params()
        fitted = estimator.fit(X)
        out = fitted.transform(X)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X), out)
        np.testing.assert_allclose(fitted.transform(X[::-1]), out[::-1])
        np.testing.assert_allclose(fitted.transform(X[2:5]), out[2:5])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(clone(estimator).fit(X).transform(X), out)


@pytest.mark.parametrize(
    "estimator",
    [MultiViewAggregator("confidence", n_alpha=6, n_beta=5), CoefficientSelector(n_alpha=6)],
    ids=["aggregator", "selector"],
)
def test_contracts_of_the_generic_checks_on_block_input(estimator, fitted_faces):
    """What the expected-failed generic checks test, on input of the right width."""
    from sklearn.exceptions import NotFittedError

    faces, extractor = fitted_faces
    X = extractor.transform(faces.X)
    if isinstance(estimator, CoefficientSelector):
        X = MultiViewAggregator(n_alpha=6, n_beta=5).fit_transform(X)
    with pytest.raises(NotFittedError):
        estimator.transform(X)
    assert estimator.fit(X) is estimator and estimator.n_features_in_ == X.shape[1]
    state = joblib.hash(estimator)
    readonly = X.copy()
    readonly.flags.writeable = False
    out = estimator.transform(readonly)
    assert joblib.hash(estimator) == state  # transform changes nothing
    assert out.dtype == np.float64 and len(out) == len(X)
    np.testing.assert_array_equal(estimator.transform(X[:1]), out[:1])
    np.testing.assert_array_equal(estimator.transform(np.asfortranarray(X)), out)
    np.testing.assert_array_equal(estimator.fit(X).transform(X), out)  # idempotent fit
    with pytest.raises(ValueError, match="features"):
        estimator.transform(X[:, :-1])
