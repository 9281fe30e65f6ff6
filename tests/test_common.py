"""scikit-learn's estimator checks over every public estimator, then sk3dface's own checks.

One table (``INSTANCES``) says how each estimator is built for the checks and which checks
cannot apply to it, with the reason (in the style of imbalanced-learn's ``test_common.py``
and scikit-learn's ``instance_generator.py``). The contracts those checks would have tested
run in the second half on inputs of the right shape: clone, pickling, refitting, subset and
order invariance, and NaN rows in -> NaN rows out with one counting warning.
"""

from __future__ import annotations

import atexit
import pickle
import shutil
import tempfile
import warnings

import numpy as np
import pytest
from matplotlib import cbook
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk3dface import (
    CoefficientSelector,
    FaceEmbedder,
    FaceLandmarker,
    ImageCoefficientRegressor,
    ImageResNetClassifier,
    MorphableCoefficientExtractor,
    MultiViewAggregator,
    ResNetClassifier,
    ResNetRegressor,
    TDDFABackend,
)
from sk3dface.datasets import make_synthetic_faces
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.landmarks._tddfa import write_random_files

GRACE = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)

# checks that feed small random numeric X, listed per kind of input the estimator needs
_DATA_CHECKS = (
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
)
_IMAGES = (
    "feeds numeric feature arrays; FaceLandmarker reads images (paths, image arrays, PIL "
    "images or view sets of them) and refuses numeric 2-D X with a ValueError"
)
_LANDMARKS = "needs n_views*136 landmark columns; the check's X has 1-10"
_BLOCKS = "needs n_views*(n_alpha+n_beta+7) >= 7 columns; the check's X has 2-5"
_MINI_BATCHES = (
    "mini-batch training shuffles the samples it is given: weight 2 and two copies of a "
    "sample (or weight 0 and no sample) give other batches, so other nets (weights are "
    "tested in test_skorch_conventions.py)"
)
_WEIGHTED = {"check_sample_weight_equivalence_on_dense_data": _MINI_BATCHES}


def _landmarker_failures() -> dict[str, str]:
    reasons = dict.fromkeys(
        (*_DATA_CHECKS, "check_dtype_object", "check_fit2d_1sample", "check_fit2d_1feature"),
        _IMAGES,
    )
    reasons.pop("check_transformer_preserve_dtypes", None)
    reasons["check_complex_data"] = _IMAGES + " (not the expected 'Complex data' text)"
    reasons["check_estimators_empty_data_messages"] = _IMAGES + " (not the '0 feature(s)' text)"
    return reasons


def _extractor_failures() -> dict[str, str]:
    names = (
        *_DATA_CHECKS,
        "check_dtype_object",
        "check_fit2d_1sample",
        "check_transformer_preserve_dtypes",
    )
    return dict.fromkeys(names, _LANDMARKS)


def _block_failures() -> dict[str, str]:
    return dict.fromkeys((*_DATA_CHECKS, "check_transformer_preserve_dtypes"), _BLOCKS)


def _tiny_resnet(**params) -> ResNetClassifier:
    defaults = dict(depth=8, width=16, max_epochs=20, lr=1e-2, batch_size=32, random_state=0)
    return ResNetClassifier(**{**defaults, **params})


# a randomly initialised 3DDFA_V2 checkpoint (seed 0) and a stand-in BFM, written once per
# test session: parametrize_with_checks needs the instance at collection time
_TDDFA_DIR = tempfile.mkdtemp(prefix="sk3dface-tddfa-")
atexit.register(shutil.rmtree, _TDDFA_DIR, ignore_errors=True)
_TDDFA_FILES = write_random_files(_TDDFA_DIR)


def _tddfa_regressor() -> ImageCoefficientRegressor:
    return ImageCoefficientRegressor(TDDFABackend(**_TDDFA_FILES, n_threads=1))


#: estimator -> checks that cannot apply to it, and why (empty: every check passes)
INSTANCES: list[tuple[object, dict[str, str]]] = [
    (FaceLandmarker(), _landmarker_failures()),
    (FaceLandmarker(return_box=True), _landmarker_failures()),
    (FaceEmbedder(), _landmarker_failures()),
    (_tddfa_regressor(), _landmarker_failures()),
    (MorphableCoefficientExtractor(), _extractor_failures()),
    (MultiViewAggregator(n_views=1, n_beta=0), _block_failures()),
    (CoefficientSelector("alpha", n_beta=0), _block_failures()),
    (_tiny_resnet(), _WEIGHTED),
    (ResNetRegressor(depth=4, width=32, n_estimators=1, max_epochs=20, random_state=0), _WEIGHTED),
    # input_tags.two_d_array=False (a sequence of images): sklearn runs only its API checks
    (ImageResNetClassifier(depth=8, width=4, image_size=16, max_epochs=2), {}),
]
_EXPECTED = {id(estimator): failures for estimator, failures in INSTANCES}


@parametrize_with_checks(
    [estimator for estimator, _ in INSTANCES],
    expected_failed_checks=lambda estimator: _EXPECTED[id(estimator)],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_expected_failure_has_a_reason():
    for estimator, failures in INSTANCES:
        for check, reason in failures.items():
            assert check.startswith("check_") and len(reason) > 20, (estimator, check)


# ---- sk3dface's own checks, on inputs of the right shape ------------------------------


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(n_subjects=6, n_views=2, n_expressions=2, random_state=0)


def _right_width_cases(faces):
    """(estimator, X, y) for the checks that scikit-learn's random X cannot exercise."""
    coefficients = MorphableCoefficientExtractor().fit_transform(faces.X)
    aggregated = MultiViewAggregator(n_alpha=16, n_beta=15).fit_transform(coefficients)
    boxes = np.random.default_rng(0).uniform(0, 100, (len(faces.X), 2 * 5))  # 2 views
    return [
        (MorphableCoefficientExtractor(), faces.X, None),
        (MorphableCoefficientExtractor(), np.hstack([faces.X, boxes]), None),
        (MultiViewAggregator(n_alpha=16, n_beta=15), coefficients, None),
        (CoefficientSelector("beta", n_alpha=16, n_beta=15), aggregated, None),
        (_tiny_resnet(max_epochs=5), np.nan_to_num(aggregated), faces.subject),
    ]


def _output(estimator, X):
    if hasattr(estimator, "transform"):
        return estimator.transform(X)
    return estimator.predict_proba(X)


@pytest.mark.parametrize(
    "index",
    range(5),
    ids=["extractor", "extractor-boxes", "aggregator", "selector", "resnet"],
)
def test_right_width_contracts(faces, index):
    estimator, X, y = _right_width_cases(faces)[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)
        fitted = clone(estimator).fit(X, y)
        out = _output(fitted, X)
        # pickling keeps the results
        np.testing.assert_allclose(_output(pickle.loads(pickle.dumps(fitted)), X), out)
        # refitting gives the same results (deterministic, no state carried over)
        np.testing.assert_allclose(_output(clone(estimator).fit(X, y), X), out)
        # a subset and a permutation of the samples give those samples' results
        order = np.random.default_rng(0).permutation(len(X))[: len(X) // 2]
        np.testing.assert_allclose(_output(fitted, X[order]), out[order], rtol=1e-7, atol=1e-9)
    assert fitted.n_features_in_ == X.shape[1]
    if hasattr(fitted, "get_feature_names_out"):
        assert len(fitted.get_feature_names_out()) == out.shape[1]


def test_nan_rows_in_nan_rows_out_with_one_warning(faces):
    X = faces.X[:6].copy()
    X[2] = np.nan  # a sample whose views all failed upstream
    extractor = MorphableCoefficientExtractor().fit(faces.X)
    aggregator = MultiViewAggregator(n_alpha=16, n_beta=15)
    for step in (extractor, aggregator):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = step.fit_transform(X) if step is aggregator else step.transform(X)
        counted = [w for w in caught if issubclass(w.category, FailedSamplesWarning)]
        assert len(counted) == 1 and "1 of 6 samples" in str(counted[0].message)
        assert np.isnan(out[2]).all() and np.isfinite(out[[0, 1, 3, 4, 5]]).all()
        X = out


def test_view_set_input_is_parsed_the_same_by_every_image_estimator():
    """Every estimator that reads images shares one parser: same errors, same views."""
    for estimator in (
        FaceLandmarker(),
        FaceEmbedder(),
        _tddfa_regressor(),
        ImageResNetClassifier(depth=8, width=4),
    ):
        with pytest.raises(TypeError, match="sequence of samples"):
            estimator.fit(GRACE, [0])
        with pytest.raises(TypeError, match=r"Sample 0, view 1: expected an image"):
            estimator.fit([[GRACE, 3.5]], [0])
