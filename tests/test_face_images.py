"""Synthetic face images: a real photo warped by model-driven landmark displacements."""

import numpy as np
import pytest

from sk3dface import FaceLandmarker
from sk3dface.datasets import make_synthetic_face_images
from sk3dface.datasets._face_images import warp_image


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_face_images(3, 3, 2, random_state=0)


def test_labels_and_truth_line_up(faces):
    n = 3 * 3 * 2
    assert len(faces.images) == n
    assert faces.alpha.shape == (n, faces.model.n_alpha)
    assert faces.landmarks.shape == (n, 68, 2)
    assert sorted(set(faces.expression.tolist())) == ["happy", "neutral", "surprised"]
    # identity coefficients are per subject, expression coefficients per class
    for subject in np.unique(faces.subject):
        assert np.unique(faces.alpha[faces.subject == subject], axis=0).shape[0] == 1
    assert np.all(faces.beta[faces.expression == "neutral"] == 0)
    assert faces.images[0].dtype == np.uint8 and faces.images[0].ndim == 3


def test_landmarker_finds_the_warped_landmarks(faces):
    found = FaceLandmarker().fit_transform(faces.images).reshape(-1, 68, 2)
    error = np.sqrt(((found - faces.landmarks) ** 2).sum(-1)).mean(-1)  # px per image
    assert np.median(error) < 6.0  # faces are ~180 px wide
    # the warped faces really differ: targets move by much more than that error
    spread = np.sqrt(((faces.landmarks - faces.landmarks.mean(0)) ** 2).sum(-1)).mean()
    assert spread > 2 * np.median(error)


def test_deterministic_given_random_state():
    first = make_synthetic_face_images(1, 1, 2, random_state=3)
    second = make_synthetic_face_images(1, 1, 2, random_state=3)
    np.testing.assert_array_equal(first.images[1], second.images[1])
    np.testing.assert_array_equal(first.landmarks, second.landmarks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_expressions": 6}, "'n_expressions' parameter .* in the range \\[1, 5\\]"),
        ({"n_views": 0}, "'n_views' parameter"),
        ({"n_subjects": 1.5}, "'n_subjects' parameter"),
        ({"yaw_range": 60.0}, "'yaw_range' parameter"),
        ({"width": 10}, "'width' parameter"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_face_images(**{"n_subjects": 1, **kwargs})


@pytest.mark.parametrize(
    ("image", "source", "target", "message"),
    [
        (np.zeros((5,), np.uint8), [[1.0, 1.0]], [[2.0, 2.0]], "H×W or H×W×C"),
        (np.zeros((9, 9, 3), np.uint8), [[1.0, 1.0]], [[2.0, 2.0], [3, 3]], "got \\(1, 2\\)"),
        (np.zeros((9, 9, 3), np.uint8), [1.0, 1.0], [2.0, 2.0], "shape \\(n_points, 2\\)"),
    ],
)
def test_warp_refuses_bad_shapes(image, source, target, message):
    with pytest.raises(ValueError, match=message):
        warp_image(image, source, target)


def test_a_photo_without_a_face_is_refused():
    from sk3dface.exceptions import FaceNotFoundError

    with pytest.raises(FaceNotFoundError):
        make_synthetic_face_images(1, 1, 1, photo=np.full((300, 300, 3), 128, np.uint8))


def test_warp_moves_points_and_keeps_the_border():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    source = np.array([[60.0, 50.0], [100.0, 50.0], [80.0, 80.0]])
    target = source + np.array([6.0, 0.0])
    warped = warp_image(image, source, target)
    x, y = target[2].astype(int)
    sx, sy = source[2].astype(int)
    np.testing.assert_allclose(warped[y, x], image[sy, sx], atol=1)
    np.testing.assert_array_equal(warped[0], image[0])  # the image border stays put


def test_photo_without_a_face_names_the_photo_argument():
    from sk3dface.exceptions import FaceNotFoundError

    with pytest.raises(FaceNotFoundError, match=r"^photo: no face was found"):
        make_synthetic_face_images(1, 1, 1, photo=np.full((120, 160, 3), 128, np.uint8))


def test_unreadable_photo_names_the_photo_argument(tmp_path):
    from sk3dface.exceptions import ImageReadError

    (tmp_path / "face.jpg").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"^photo: .*face\.jpg"):
        make_synthetic_face_images(1, 1, 1, photo=tmp_path / "face.jpg")
