"""make_synthetic_faces: layout, truth, noise, labels, missing views, cameras."""

import numpy as np
import pytest

from sk3dface import landmarks_to_views, make_default_model
from sk3dface.datasets import make_synthetic_faces


def test_layout_labels_and_truth():
    faces = make_synthetic_faces(
        n_subjects=4, n_views=2, n_expressions=3, n_repeats=2, noise=0.0, random_state=0
    )
    n = 4 * 3 * 2
    assert faces.X.shape == (n, 2 * 136) and faces.pose.shape == (n, 2, 6)
    assert faces.alpha.shape == (n, 16) and faces.beta.shape == (n, 15)
    assert faces.subject.tolist() == np.repeat(np.arange(4), 6).tolist()
    assert faces.expression[:6].tolist() == [0, 0, 1, 1, 2, 2]
    assert faces.feature_names[:3].tolist() == ["v0_x0", "v0_y0", "v0_x1"]
    assert faces.feature_names[136] == "v1_x0"
    # one identity per subject, different subjects differ
    for s in range(4):
        assert (faces.alpha[faces.subject == s] == faces.alpha[faces.subject == s][0]).all()
    assert len({tuple(a) for a in faces.alpha}) == 4
    # without noise, X is exactly the model's projection of the truth
    model = make_default_model()
    yaw, pitch, roll, tx, ty, scale = np.moveaxis(faces.pose, -1, 0)
    expected = model.project_landmarks(
        faces.alpha[:, None], faces.beta[:, None],
        yaw=yaw, pitch=pitch, roll=roll, tx=tx, ty=ty, scale=scale,
    )  # fmt: skip
    np.testing.assert_allclose(landmarks_to_views(faces.X), expected)


def test_expression_classes_are_prototypes_plus_jitter():
    faces = make_synthetic_faces(
        n_subjects=30, n_views=1, n_expressions=4, expression_jitter=0.2, random_state=1
    )
    assert np.allclose(faces.expression_prototypes[0], 0.0)  # class 0 is neutral
    deviation = faces.beta - faces.expression_prototypes[faces.expression]
    assert abs(deviation.std() - 0.2) < 0.02
    prototypes = faces.expression_prototypes
    gaps = np.linalg.norm(prototypes[:, None] - prototypes[None], axis=-1)
    assert gaps[np.triu_indices(4, 1)].min() > 5 * 0.2 * np.sqrt(15) / 2  # well separated
    continuous = make_synthetic_faces(n_subjects=3, n_views=1, random_state=1)
    assert (continuous.expression == -1).all() and len({tuple(b) for b in continuous.beta}) == 3


def test_noise_scale_and_view_angles():
    clean = make_synthetic_faces(n_subjects=50, n_views=3, noise=0.0, random_state=2)
    noisy = make_synthetic_faces(n_subjects=50, n_views=3, noise=1.5, random_state=2)
    assert abs((noisy.X - clean.X).std() - 1.5) < 0.05
    jaw = landmarks_to_views(clean.X)[:, :, :17, 0]
    frontal = np.abs(clean.pose[..., 0]) < 12
    assert abs(np.ptp(jaw, axis=-1)[frontal].mean() - 200) < 15  # face_width in pixels
    yaw = clean.pose[..., 0]  # view k in the k-th third of (-30, 30)
    assert (yaw[:, 0] < -10).all() and (np.abs(yaw[:, 1]) <= 10).all() and (yaw[:, 2] > 10).all()
    assert (np.abs(clean.pose[..., 1:3]) <= 10).all()


def test_missing_views_keep_one_view_per_sample():
    faces = make_synthetic_faces(n_subjects=200, n_views=3, missing_rate=0.6, random_state=3)
    views = landmarks_to_views(faces.X)
    assert (np.isnan(views).all(axis=(2, 3)) == faces.missing).all()
    assert not faces.missing.all(axis=1).any()
    assert 0.5 < faces.missing.mean() < 0.6
    assert np.isfinite(views[~faces.missing]).all()


def test_deterministic_and_seed_dependent():
    a = make_synthetic_faces(n_subjects=3, random_state=7)
    b = make_synthetic_faces(n_subjects=3, random_state=7)
    c = make_synthetic_faces(n_subjects=3, random_state=8)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.X, c.X)


def test_perspective_camera_and_other_models():
    faces = make_synthetic_faces(n_subjects=3, n_views=1, camera="perspective", random_state=4)
    ortho = make_synthetic_faces(n_subjects=3, n_views=1, random_state=4)
    assert 0.1 < np.abs(faces.X - ortho.X).max() < 30  # f = 4 x face width: mild
    small = make_default_model().truncate(3, 2)
    faces = make_synthetic_faces(n_subjects=2, model=small, random_state=0)
    assert faces.alpha.shape == (2, 3) and faces.beta.shape == (2, 2) and faces.model is small


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"yaw_range": (10, -10)}, "low <= high"),
        ({"yaw_range": (-100, 0)}, r"within \[-90, 90\]"),
        ({"pitch_range": (1, 2, 3)}, "pair"),
        ({"pitch_range": 5}, "must be an array-like"),
        ({"n_subjects": 0}, "'n_subjects' parameter"),
        ({"missing_rate": 1.0}, "'missing_rate' parameter"),
        ({"camera": "fisheye"}, "'camera' parameter"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_faces(**kwargs)
