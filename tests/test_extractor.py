"""MorphableCoefficientExtractor: recovery, layout, failures, real models, sklearn contracts."""

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sk3dface import (
    MorphableCoefficientExtractor,
    MorphableModel,
    load_model,
    make_default_model,
)
from sk3dface.datasets import make_synthetic_faces
from sk3dface.exceptions import FailedSamplesWarning

BFM_DIR = Path("/work/shared/models/3ddfa_bfm")
N_ALPHA, N_BETA = 16, 15  # the default model
BLOCK = N_ALPHA + N_BETA + 7


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(n_subjects=6, n_views=3, n_expressions=2, random_state=0)


def split(blocks, n_alpha=N_ALPHA, n_beta=N_BETA):
    blocks = blocks.reshape(len(blocks), -1, n_alpha + n_beta + 7)
    return blocks[..., :n_alpha], blocks[..., n_alpha : n_alpha + n_beta], blocks[..., -7:]


def test_recovers_expression_and_pose_from_frontal_landmarks():
    """Default model, 1 px noise, faces 200 px wide, frontal views."""
    faces = make_synthetic_faces(
        n_subjects=400, n_views=1, noise=1.0, face_width=200.0, yaw_range=(-5, 5),
        pitch_range=(-5, 5), roll_range=(-5, 5), random_state=1,
    )  # fmt: skip
    fitted = MorphableCoefficientExtractor(landmark_noise=1.0).fit_transform(faces.X)
    alpha, beta, pose = split(fitted)
    assert np.corrcoef(beta.ravel(), faces.beta.ravel())[0, 1] >= 0.9
    assert np.corrcoef(alpha.ravel(), faces.alpha.ravel())[0, 1] >= 0.7
    angle_error = np.abs(pose[..., :3] - faces.pose[..., :3]).reshape(-1, 3)
    # pitch trades off against nose and face-height modes in a frontal view
    assert (angle_error.mean(0) < [0.5, 1.0, 0.2]).all() and angle_error.max() < 4.0
    np.testing.assert_allclose(pose[..., 5], faces.pose[..., 5], rtol=0.03)
    assert 0.9 < np.mean(pose[..., 6]) < 1.42  # RMS of 1 px noise per coordinate


def test_joint_fit_recovers_identity_better_than_single_views():
    faces = make_synthetic_faces(n_subjects=150, n_views=3, random_state=2)
    errors = {}
    for multiview in ("independent", "joint"):
        extractor = MorphableCoefficientExtractor(multiview=multiview, landmark_noise=1.0)
        alpha, _, _ = split(extractor.fit_transform(faces.X))
        errors[multiview] = np.sqrt(np.mean((alpha - faces.alpha[:, None]) ** 2))
    assert errors["joint"] < 0.85 * errors["independent"]
    # the joint fit repeats one alpha in every view's block
    alpha, _, _ = split(MorphableCoefficientExtractor(multiview="joint").fit_transform(faces.X))
    np.testing.assert_array_equal(alpha[:, 0], alpha[:, 2])


def test_output_layout_and_feature_names(faces):
    extractor = MorphableCoefficientExtractor(n_alpha=5, n_beta=3).fit(faces.X)
    out = extractor.transform(faces.X)
    assert out.shape == (len(faces.X), 3 * (5 + 3 + 7))
    assert extractor.n_views_ == 3 and extractor.model_.n_vertices == 68
    names = extractor.get_feature_names_out()
    assert names[:9].tolist() == [f"v0_alpha_{i}" for i in range(5)] + [
        f"v0_beta_{i}" for i in range(3)
    ] + ["v0_yaw"]
    assert names[-7:].tolist() == [
        f"v2_{n}" for n in ("yaw", "pitch", "roll", "tx", "ty", "scale", "residual")
    ]
    frame = extractor.set_output(transform="pandas").transform(faces.X)
    assert list(frame.columns) == names.tolist()


def test_missing_views_are_nan_without_warning(faces):
    X = faces.X.copy()
    X[0, 136:272] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = MorphableCoefficientExtractor().fit(X).transform(X)
    assert np.isnan(out[0, BLOCK : 2 * BLOCK]).all()
    assert np.isfinite(np.delete(out, np.s_[BLOCK : 2 * BLOCK], axis=1)).all()


def test_unfittable_views_and_empty_samples_warn_or_raise(faces):
    X = faces.X[:4].copy()
    X[0, :] = np.nan  # a sample without any view
    X[1, 10:136] = np.nan  # 5 points left in view 0
    X[2, 136:272] = 50.0  # view 1: all points equal
    extractor = MorphableCoefficientExtractor().fit(faces.X)
    with pytest.warns(FailedSamplesWarning, match="2 of 12 views .* and 1 of 4 samples"):
        out = extractor.transform(X)
    views = out.reshape(4, 3, BLOCK)
    assert np.isnan(views[0]).all() and np.isnan(views[1, 0]).all() and np.isnan(views[2, 1]).all()
    assert np.isfinite(views[3]).all() and np.isfinite(views[1, 1:]).all()
    with pytest.raises(ValueError, match=r"could not be fitted .* on_error='warn'"):
        extractor.set_params(on_error="raise").transform(X)
    # only what went wrong is reported: no "0 of 6 views could not be fitted"
    with pytest.warns(FailedSamplesWarning) as record:
        extractor.set_params(on_error="warn").transform(X[[0, 3]])
    assert str(record[0].message).startswith("1 of 2 samples have no usable view (first: [0])")


def test_bad_input_gives_clear_errors(faces):
    extractor = MorphableCoefficientExtractor()
    with pytest.raises(ValueError, match=r"X has 100 feature\(s\) \(columns\).*n_views\*136"):
        extractor.fit(np.zeros((3, 100)))
    X = faces.X.copy()
    X[0, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        extractor.fit(faces.X).transform(X)
    with pytest.raises(ValueError, match=r"X has 136 features, but .* is expecting 408"):
        extractor.transform(faces.X[:, :136])
    with pytest.raises(ValueError, match="n_alpha must be in \\[0, 16\\]"):
        MorphableCoefficientExtractor(n_alpha=40).fit(faces.X)
    with pytest.raises(ValueError, match="needs focal_length"):
        MorphableCoefficientExtractor(camera="perspective").fit(faces.X)
    with pytest.raises(ValueError, match="'multiview' parameter"):
        MorphableCoefficientExtractor(multiview="both").fit(faces.X)
    with pytest.raises(FileNotFoundError):
        MorphableCoefficientExtractor(model="/nonexistent/model.npz").fit(faces.X)
    with pytest.raises(ValueError, match="'focal_length' parameter"):
        MorphableCoefficientExtractor(camera="perspective", focal_length=0.0).fit(faces.X)


@pytest.mark.parametrize(
    ("X", "got"),
    [
        pytest.param(["a.jpg", "b.jpg"], r"image paths .*'a\.jpg'", id="paths"),
        pytest.param([["a.jpg", None]], r"image paths .*'a\.jpg'", id="view-sets"),
        pytest.param("a.jpg", "a single path", id="one-path"),
        pytest.param([np.zeros((40, 40, 3), np.uint8)] * 2, "got images", id="arrays"),
        pytest.param(np.zeros((2, 40, 40, 3), np.uint8), "looks like images", id="stack"),
        pytest.param(np.zeros((2, 68, 2)), r"points as \(68, 2\).*reshape", id="points"),
    ],
)
def test_images_instead_of_landmarks_are_explained(X, got):
    with pytest.raises(ValueError, match=rf"expects landmarks as FaceLandmarker.*{got}.*"):
        MorphableCoefficientExtractor().fit(X)


def test_landmark_table_with_an_image_column_is_explained(faces):
    import pandas as pd

    frame = pd.DataFrame(faces.X[:2], columns=[f"c{i}" for i in range(408)])
    frame.insert(0, "image", ["a.jpg", "b.jpg"])
    with pytest.raises(ValueError, match=r"non-numeric column\(s\) \['image'\]"):
        MorphableCoefficientExtractor().fit(frame)
    extractor = MorphableCoefficientExtractor().fit(faces.X[:2])
    with pytest.raises(ValueError, match="expects landmarks"):
        extractor.transform(["a.jpg", "b.jpg"])


def test_absurd_and_overflowing_views_are_counted_failures(faces):
    """focal_length=1e-6 px fits residuals of 1e10 px; 1e200 px landmarks overflow."""
    X = faces.X[:4]
    extractor = MorphableCoefficientExtractor(camera="perspective", focal_length=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(FailedSamplesWarning, match="12 of 12 views .* and 4 of 4 samples"):
            out = extractor.fit_transform(X)
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match="could not be fitted"):
        extractor.set_params(on_error="raise").transform(X)
    broken = X.copy()
    broken[0, 136:272] *= 1e200
    for multiview in ("independent", "joint"):
        extractor = MorphableCoefficientExtractor(multiview=multiview).fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.warns(FailedSamplesWarning, match="^1 of 12 views"):
                out = extractor.transform(broken)
        views = out.reshape(4, 3, BLOCK)
        assert np.isnan(views[0, 1]).all()
        assert np.isfinite(views[0, [0, 2]]).all() and np.isfinite(views[1:]).all()


def test_perspective_camera_fits_perspective_landmarks():
    faces = make_synthetic_faces(
        n_subjects=20, n_views=1, camera="perspective", focal_length=600.0, noise=0.0,
        random_state=3,
    )  # fmt: skip
    options = dict(n_iter=5, landmark_noise=0.1, contour="fixed")
    perspective = MorphableCoefficientExtractor(
        camera="perspective", focal_length=600.0, **options
    ).fit_transform(faces.X)
    orthographic = MorphableCoefficientExtractor(**options).fit_transform(faces.X)
    assert split(perspective)[2][..., 6].max() < 0.05
    assert split(orthographic)[2][..., 6].mean() > 1.0
    np.testing.assert_allclose(split(perspective)[2][..., :3], faces.pose[..., :3], atol=0.2)


def test_stateless_per_sample_and_deterministic(faces):
    extractor = MorphableCoefficientExtractor(multiview="joint").fit(faces.X)
    full = extractor.transform(faces.X)
    order = np.arange(len(faces.X))[::-1]
    np.testing.assert_allclose(extractor.transform(faces.X[order]), full[order], atol=1e-10)
    np.testing.assert_allclose(extractor.transform(faces.X[3:5]), full[3:5], atol=1e-10)
    np.testing.assert_array_equal(extractor.transform(faces.X), full)
    np.testing.assert_allclose(
        extractor.transform(faces.X.astype(np.float32)), full, atol=1e-3
    )  # float32 input is accepted; output stays float64
    assert extractor.transform(faces.X.astype(np.float32)).dtype == np.float64


def test_model_as_object_path_or_default(tmp_path, faces):
    model = make_default_model().truncate(4, 2)
    path = tmp_path / "model.npz"
    model.save(path)
    outs = [
        MorphableCoefficientExtractor(model=m).fit_transform(faces.X)
        for m in (model, path, str(path))
    ]
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    np.testing.assert_array_equal(
        outs[0], MorphableCoefficientExtractor(n_alpha=4, n_beta=2).fit_transform(faces.X)
    )


def test_dense_model_fits_through_its_landmark_vertices(faces):
    """A BFM-like dense model (many vertices, landmarks among them) gives the same fit as its
    landmark-restricted version; only the restriction is stored."""
    rng = np.random.default_rng(0)
    small = make_default_model()
    n_vertices = 5000
    index = rng.choice(n_vertices, 68, replace=False)
    mean = rng.normal(size=(n_vertices, 3)) * 50
    mean[index] = small.mean
    rows = (3 * index[:, None] + np.arange(3)).ravel()
    identity = rng.normal(size=(3 * n_vertices, N_ALPHA))
    identity[rows] = small.identity_basis
    expression = rng.normal(size=(3 * n_vertices, N_BETA))
    expression[rows] = small.expression_basis
    dense = MorphableModel(mean, identity, expression, index, name="dense", units="mm")
    extractor = MorphableCoefficientExtractor(model=dense).fit(faces.X)
    assert extractor.model_.n_vertices == 68
    np.testing.assert_allclose(
        extractor.transform(faces.X),
        MorphableCoefficientExtractor().fit_transform(faces.X),
        atol=1e-8,
    )


@pytest.mark.skipif(not BFM_DIR.exists(), reason="real 3DDFA BFM files not available")
def test_real_basel_face_model_recovers_its_own_faces():
    model = load_model(BFM_DIR)
    faces = make_synthetic_faces(
        n_subjects=100, n_views=1, model=model, noise=1.0, yaw_range=(-30, 30), random_state=4
    )
    out = MorphableCoefficientExtractor(model=model, landmark_noise=1.0).fit_transform(faces.X)
    _, beta, pose = split(out, model.n_alpha, model.n_beta)
    assert np.corrcoef(beta.ravel(), faces.beta.ravel())[0, 1] > 0.8
    np.testing.assert_allclose(pose[..., 0], faces.pose[..., 0], atol=3.0)
    assert np.mean(pose[..., 6]) < 1.42


def test_real_photo_landmarks_are_fitted():
    from matplotlib import cbook

    from sk3dface import FaceLandmarker

    photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    landmarks = FaceLandmarker().fit_transform([photo])
    out = MorphableCoefficientExtractor().fit_transform(landmarks)
    alpha, beta, pose = split(out)
    face_width = np.ptp(landmarks[0, 0:34:2])
    yaw, _, roll, *_, residual = pose[0, 0]
    assert residual < 0.03 * face_width  # a few pixels on a ~230 px face
    assert abs(yaw) < 20 and abs(roll) < 15
    assert np.all(np.abs(alpha) < 4) and np.all(np.abs(beta) < 4)


def test_clone_params_pickle_and_pipeline(faces):
    extractor = MorphableCoefficientExtractor(n_alpha=6, multiview="joint")
    assert clone(extractor).get_params() == extractor.get_params()
    extractor.set_params(n_beta=4)
    assert extractor.get_params()["n_beta"] == 4
    fitted = extractor.fit(faces.X)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(faces.X), fitted.transform(faces.X))
    pipeline = make_pipeline(MorphableCoefficientExtractor(n_alpha=6, n_beta=4))
    assert pipeline.fit_transform(faces.X).shape == (len(faces.X), 3 * 17)
    assert pipeline.get_feature_names_out()[0] == "v0_alpha_0"


def test_contracts_of_the_generic_checks_on_landmark_input(faces):
    """What the expected-failed generic checks test, on input of the right width."""
    import pandas as pd
    from sklearn.exceptions import NotFittedError

    extractor = MorphableCoefficientExtractor()
    with pytest.raises(NotFittedError):
        extractor.transform(faces.X)
    assert extractor.fit(faces.X) is extractor and extractor.n_features_in_ == 408
    state = joblib.hash(extractor)
    readonly = faces.X.copy()
    readonly.flags.writeable = False
    out = extractor.transform(readonly)
    assert joblib.hash(extractor) == state  # transform changes nothing, model_ included
    np.testing.assert_array_equal(clone(extractor).fit(faces.X).transform(faces.X), out)
    np.testing.assert_allclose(extractor.transform(faces.X[:1]), out[:1], atol=1e-10)
    np.testing.assert_array_equal(extractor.transform(np.asfortranarray(faces.X)), out)
    frame = pd.DataFrame(faces.X, columns=faces.feature_names)
    extractor.fit(frame)
    assert extractor.feature_names_in_.tolist() == faces.feature_names.tolist()
    with pytest.warns(UserWarning, match="fitted with feature names"):
        extractor.transform(faces.X)


def test_landmark_layout_reads_box_columns_by_name_or_count():
    from sk3dface._layout import box_names, landmark_layout, landmark_names

    assert landmark_layout(136) == (1, False)
    assert landmark_layout(141 * 3) == (3, True)
    assert landmark_layout(140) is None
    # 136 x 141 columns: the count says 141 plain views, the names say 136 views with boxes
    assert landmark_layout(136 * 141) == (141, False)
    names = landmark_names(136) + box_names(136)
    assert landmark_layout(136 * 141, names) == (136, True)
    assert landmark_layout(282, [f"c{i}" for i in range(282)]) == (2, True)


def test_extractor_message_names_the_box_layout():
    import re as _re

    with pytest.raises(ValueError, match=_re.escape("or n_views*141 with return_box=True")):
        MorphableCoefficientExtractor().fit(np.zeros((2, 140)))


def test_torch_device_gives_the_numpy_coefficients_and_pickles(faces):
    pytest.importorskip("torch")
    numpy_fit = MorphableCoefficientExtractor(multiview="joint").fit_transform(faces.X)
    extractor = MorphableCoefficientExtractor(multiview="joint", device="cpu").fit(faces.X)
    np.testing.assert_allclose(extractor.transform(faces.X), numpy_fit, rtol=1e-6, atol=1e-6)
    again = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_allclose(again.transform(faces.X), numpy_fit, rtol=1e-6, atol=1e-6)


def test_an_unavailable_device_fails_at_fit(faces):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="device='tpu' is not a torch device"):
        MorphableCoefficientExtractor(device="tpu").fit(faces.X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            MorphableCoefficientExtractor(device="cuda").fit(faces.X)
