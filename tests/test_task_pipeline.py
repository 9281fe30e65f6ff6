"""make_task_pipeline and FrontalShape: recipes that run, detect once, and beat raw landmarks."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score

from sk3dface import DlibBackend, FrontalShape, MorphableCoefficientExtractor
from sk3dface.datasets import make_synthetic_face_images, make_synthetic_faces
from sk3dface.fitting._frontal import frontal_shapes
from sk3dface.models import project
from sk3dface.protocols import make_task_pipeline

CACHE = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(
        n_subjects=8, n_views=1, n_expressions=4, n_repeats=2, noise=0.5, random_state=0
    )


def test_observed_shape_reprojects_onto_the_landmarks(faces):
    extractor = MorphableCoefficientExtractor().fit(faces.X)
    coefficients = extractor.transform(faces.X)
    shapes = frontal_shapes(faces.X, coefficients, extractor.model_, extractor.layout_)
    blocks = extractor.layout_.split(coefficients)[:, 0]
    yaw, pitch, roll, tx, ty, scale = blocks[:, extractor.layout_.pose].T
    uv = project(shapes["observed"][:, 0], yaw, pitch, roll, tx, ty, scale)
    np.testing.assert_allclose(uv.reshape(len(uv), -1), faces.X, atol=1e-6)
    # identity shape = observed minus the fitted expression: the same for every expression
    np.testing.assert_allclose(
        shapes["identity"] + (shapes["observed"] - shapes["identity"]), shapes["observed"]
    )


def test_frontal_shape_removes_pose_and_separates_identity_from_expression(faces):
    identity = FrontalShape("identity").fit_transform(faces.X)
    expression = FrontalShape("expression").fit_transform(faces.X)
    subject, expr = faces.subject, faces.expression

    def spread(values, labels):  # within-label over total variance
        within = sum(
            ((values[labels == c] - values[labels == c].mean(0)) ** 2).sum()
            for c in np.unique(labels)
        )
        return within / ((values - values.mean(0)) ** 2).sum()

    assert spread(identity, subject) < 0.5 < spread(identity, expr)
    assert spread(expression, expr) < spread(expression, subject)


def test_frontal_shape_params_views_and_names(faces):
    multi = make_synthetic_faces(n_subjects=3, n_views=3, missing_rate=0.3, random_state=1)
    per_view = FrontalShape("observed", combine_views="none").fit(multi.X)
    out = per_view.transform(multi.X)
    assert out.shape == (len(multi.X), 3 * 136)
    assert per_view.get_feature_names_out()[136] == "v1_observed_x0"
    missing = np.isnan(multi.X.reshape(len(multi.X), 3, -1)).all(-1)
    assert (np.isnan(out.reshape(len(out), 3, -1)).all(-1) == missing).all()
    mean = FrontalShape("residual").fit_transform(multi.X)
    assert mean.shape == (len(multi.X), 136) and np.isfinite(mean).all()
    shape = FrontalShape(extractor=MorphableCoefficientExtractor(alpha_reg=3.0))
    assert clone(shape).get_params()["extractor__alpha_reg"] == 3.0
    with pytest.raises(ValueError, match="orthographic"):
        FrontalShape(
            extractor=MorphableCoefficientExtractor(camera="perspective", focal_length=1000.0)
        ).fit(faces.X)


class CountingBackend(BaseEstimator):
    """dlib's back end counting detections in ``log`` (kept through clone as a parameter)."""

    def __init__(self, log=None):
        self.log = log

    def detect(self, image):
        self.log.append(1)
        return DlibBackend().detect(image)

    def predict(self, image, box):
        return DlibBackend().predict(image, box)


@pytest.mark.parametrize("features", ["3d", "2d", "fused", "late"])
def test_recipes_fit_predict_pickle_from_images(features):
    images = make_synthetic_face_images(n_subjects=2, n_expressions=2, n_views=3, random_state=0)
    y = images.subject
    pipe = make_task_pipeline("identity", features=features).fit(list(images.images), y)
    assert (pipe.predict(list(images.images)) == y).mean() >= 0.9
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(
        restored.predict(list(images.images)), pipe.predict(list(images.images))
    )


def test_fused_pipeline_detects_each_image_once():
    images = make_synthetic_face_images(n_subjects=2, n_expressions=1, n_views=3, random_state=0)
    pipe = make_task_pipeline("gender", features="fused")
    pipe.set_params(faces__backend=CountingBackend([]))
    pipe.fit(list(images.images), images.subject)
    assert len(pipe.named_steps["faces"].backend_.log) == len(images.images)


@pytest.mark.parametrize("features", ["fused", "late"])
def test_fusion_weights_chosen_on_grouped_inner_folds(features):
    images = make_synthetic_face_images(n_subjects=2, n_expressions=2, n_views=3, random_state=0)
    X, y, groups = list(images.images), images.subject, images.expression
    pipe = make_task_pipeline("identity", features=features, fusion_weights="cv", fusion_cv=2)
    pipe.fit(X, y, fusion__groups=groups)
    search = pipe.named_steps["fusion"]
    assert len(search.cv_results_["params"]) == 4
    assert (pipe.predict(X) == y).mean() >= 0.9
    with pytest.raises(ValueError, match="groups"):
        clone(pipe).fit(X, y)


def test_fixed_fusion_weights_reach_the_blocks():
    fused = make_task_pipeline("gender", features="fused", fusion_weights={"3d": 1, "2d": 0.5})
    assert fused.get_params()["features__transformer_weights"] == {"3d": 1, "2d": 0.5}
    late = make_task_pipeline("gender", features="late", fusion_weights={"3d": 1, "2d": 0.5})
    assert late.get_params()["classifier__weights"] == [1, 0.5]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="task must be one of"):
        make_task_pipeline("age")
    with pytest.raises(ValueError, match="features must be one of"):
        make_task_pipeline("identity", features="4d")
    with pytest.raises(ValueError, match="classifier must be None, one of"):
        make_task_pipeline("identity", classifier="forest")
    with pytest.raises(ValueError, match="fusion_weights applies to"):
        make_task_pipeline("identity", fusion_weights="cv")
    with pytest.raises(ValueError, match="fusion_weights must be None"):
        make_task_pipeline("identity", features="fused", fusion_weights="auto")
    with pytest.raises(ValueError, match="a weight for each block"):
        make_task_pipeline("identity", features="fused", fusion_weights={"3d": 1})


@pytest.mark.skipif(not (CACHE / "iim").is_dir(), reason="../shared/datasets is absent")
def test_real_identity_beats_raw_landmarks_by_5_points():
    """Small real fixture: the first IIM people, identity across the 7 expressions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from sk3dface import FaceLandmarker
    from sk3dface.datasets import load_image_folder

    data = load_image_folder(
        CACHE / "iim" / "IIM_GScale_Imgs",
        r"DST_(?P<subject>0[0-2]\d)_[FM]_(?P<expression>[A-Z]+)\.jpg",
        check_images=False,
    )
    X = FaceLandmarker(n_jobs=2).fit_transform(list(data.images))
    ok = np.isfinite(X).all(axis=1)
    X, y, groups = X[ok], np.asarray(data.subject)[ok], np.asarray(data.expression)[ok]

    def centred(L):
        P = L.reshape(len(L), 68, 2) - L.reshape(len(L), 68, 2).mean(1, keepdims=True)
        return (P / np.linalg.norm(P, axis=(1, 2), keepdims=True)).reshape(len(L), -1)

    raw = make_pipeline(FunctionTransformer(centred), StandardScaler(), LogisticRegression())
    cv = LeaveOneGroupOut()
    baseline = cross_val_score(raw, X, y, groups=groups, cv=cv).mean()
    ours = cross_val_score(make_task_pipeline("identity")[1:], X, y, groups=groups, cv=cv).mean()
    assert ours >= baseline + 0.05, (ours, baseline)


@pytest.mark.parametrize("features", ["3d", "2d", "fused", "late"])
def test_the_back_end_goes_to_the_step_that_reads_the_images(features):
    backend = DlibBackend(detector="cnn")
    pipe = make_task_pipeline("expression", features=features, backend=backend)
    assert pipe.steps[0][1].backend is backend
    assert clone(pipe).steps[0][1].backend.detector == "cnn"
