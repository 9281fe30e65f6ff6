"""MorphableModel: validation, batched shapes, projection conventions, derived models, files."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from sk3dface import MorphableModel, make_default_model
from sk3dface.exceptions import ModelFormatError
from sk3dface.models._camera import project, rotation_angles, rotation_matrix


def _dense_model(seed=0, n_extra=50, units="mm"):
    """A face-shaped model: the default landmarks scattered among extra vertices."""
    rng = np.random.default_rng(seed)
    lm = make_default_model().landmarks()
    n = lm.shape[0] + n_extra
    order = rng.permutation(n)
    mean = np.empty((n, 3))
    mean[order[:68]] = lm
    mean[order[68:]] = rng.normal(scale=40.0, size=(n_extra, 3))
    tri = rng.integers(0, n, size=(30, 3))
    return MorphableModel(
        mean,
        rng.normal(size=(3 * n, 6)),
        rng.normal(size=(3 * n, 4)),
        order[:68],
        triangles=tri,
        texture_mean=rng.uniform(0, 255, size=(n, 3)),
        texture_basis=rng.normal(size=(3 * n, 2)),
        identity_names=[f"id{i}" for i in range(6)],
        name="dense test model",
        units=units,
        license="test only",
    )


@pytest.fixture(scope="module")
def dense():
    return _dense_model()


# ----------------------------------------------------------------------------- shapes
def test_sizes_and_read_only(dense):
    assert (dense.n_vertices, dense.n_alpha, dense.n_beta) == (118, 6, 4)
    assert dense.expression_names == ("beta_0", "beta_1", "beta_2", "beta_3")
    assert dense.identity_names[0] == "id0"
    for array in (dense.mean, dense.identity_basis, dense.landmark_indices, dense.triangles):
        assert not array.flags.writeable
    assert dense.mean.dtype == np.float64 and dense.landmark_indices.dtype == np.intp
    assert "n_alpha=6" in repr(dense)


def test_constructor_does_not_lock_callers_arrays():
    lm = make_default_model().landmarks()
    model = MorphableModel(lm, np.zeros((204, 1)), np.zeros((204, 1)), np.arange(68))
    assert lm.flags.writeable and not model.mean.flags.writeable


def test_shape_is_linear_in_flattened_xyz_rows(dense):
    rng = np.random.default_rng(1)
    alpha, beta = rng.normal(size=6), rng.normal(size=4)
    expected = (
        dense.mean.ravel() + dense.identity_basis @ alpha + dense.expression_basis @ beta
    ).reshape(-1, 3)
    np.testing.assert_allclose(dense.shape(alpha, beta), expected)
    np.testing.assert_array_equal(dense.shape(), dense.mean)
    assert dense.shape().flags.writeable


def test_landmarks_are_the_landmark_vertices_of_the_shape(dense):
    rng = np.random.default_rng(2)
    alpha, beta = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(
        dense.landmarks(alpha, beta), dense.shape(alpha, beta)[:, dense.landmark_indices]
    )


def test_batch_dimensions_broadcast(dense):
    alpha = np.zeros((3, 1, 6))
    beta = np.zeros((4, 4))
    assert dense.shape(alpha, beta).shape == (3, 4, 118, 3)
    assert dense.landmarks(alpha).shape == (3, 1, 68, 3)
    assert dense.landmarks(beta=beta).shape == (4, 68, 3)
    assert dense.landmarks().shape == (68, 3)


def test_coefficient_length_is_checked(dense):
    with pytest.raises(ValueError, match=r"alpha must have shape \(\.\.\., 6\)"):
        dense.shape(np.zeros(5))
    with pytest.raises(ValueError, match="beta"):
        dense.landmarks(beta=np.zeros((2, 3)))


# ----------------------------------------------------------------------------- rotation
def test_rotation_matrices_are_rotations_and_batched():
    rng = np.random.default_rng(3)
    R = rotation_matrix(rng.uniform(-80, 80, 50), rng.uniform(-80, 80, 50), 0.0)
    assert R.shape == (50, 3, 3)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    assert rotation_matrix().shape == (3, 3)


def test_rotation_is_rz_ry_rx():
    def rx(a):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

    def ry(a):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])

    def rz(a):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

    np.testing.assert_allclose(rotation_matrix(25, -15, 40), rz(40) @ ry(25) @ rx(-15))


def test_rotation_angles_round_trip():
    rng = np.random.default_rng(4)
    angles = np.stack(
        [rng.uniform(-85, 85, 100), rng.uniform(-170, 170, 100), rng.uniform(-170, 170, 100)]
    )
    recovered = np.stack(rotation_angles(rotation_matrix(*angles)))
    np.testing.assert_allclose(recovered, angles, atol=1e-8)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        rotation_angles(np.eye(2))


# ----------------------------------------------------------------------------- projection
@pytest.fixture(scope="module")
def face():
    return make_default_model()


def _uv(face, **pose):
    return face.project_landmarks(tx=320.0, ty=240.0, scale=3.0, **pose)


def test_frontal_projection_puts_subject_right_eye_on_image_left(face):
    uv = _uv(face)
    assert uv[36, 0] < uv[45, 0]  # outer eye corners
    assert uv[8, 1] > uv[27, 1]  # chin below the nose bridge (image y down)
    np.testing.assert_allclose(uv[:, 0], 320.0 + 3.0 * face.landmarks()[:, 0])
    np.testing.assert_allclose(uv[:, 1], 240.0 - 3.0 * face.landmarks()[:, 1])


def test_positive_yaw_moves_the_nose_to_image_right(face):
    assert _uv(face, yaw=20.0)[30, 0] > _uv(face)[30, 0] + 5
    assert _uv(face, yaw=-20.0)[30, 0] < _uv(face)[30, 0] - 5


def test_positive_pitch_moves_the_nose_down(face):
    assert _uv(face, pitch=15.0)[30, 1] > _uv(face)[30, 1] + 5


def test_positive_roll_is_counter_clockwise_on_screen(face):
    # counter-clockwise in model space and on screen: the subject's left eye (x > 0) rises
    assert _uv(face, roll=10.0)[45, 1] < _uv(face)[45, 1] - 5
    assert _uv(face, roll=10.0)[36, 1] > _uv(face)[36, 1] + 5


def test_perspective_tends_to_orthographic_and_magnifies_near_points(face):
    ortho = _uv(face, yaw=10.0)
    far = _uv(face, yaw=10.0, camera="perspective", focal_length=1e7)
    np.testing.assert_allclose(far, ortho, atol=1e-2)
    near = _uv(face, camera="perspective", focal_length=1500.0)
    nose_z = face.landmarks()[30, 2]
    assert nose_z > 0
    # the nose tip, in front of the origin, is farther from the principal point than orthographic
    assert abs(near[30, 1] - 240.0) > abs(_uv(face)[30, 1] - 240.0)


def test_perspective_points_behind_the_camera_are_nan():
    uv = project([[0.0, 1.0, 5.0], [0.0, 1.0, 0.0]], scale=1.0, camera="perspective",
                 focal_length=2.0)  # fmt: skip
    assert np.isnan(uv[0]).all() and np.isfinite(uv[1]).all()


def test_project_broadcasts_pose_over_batches():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(5, 68, 3))
    assert project(points, yaw=rng.normal(size=5), scale=np.ones(5)).shape == (5, 68, 2)
    assert project(points[0], yaw=np.zeros(4)).shape == (4, 68, 2)
    one = project(points[2], yaw=7.0, tx=3.0, scale=2.0)
    np.testing.assert_allclose(project(points, yaw=7.0, tx=3.0, scale=2.0)[2], one)


def test_project_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_points, 3"):
        project(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="camera"):
        project(np.zeros((4, 3)), camera="fisheye")
    with pytest.raises(ValueError, match="focal_length"):
        project(np.zeros((4, 3)), camera="perspective")


# ----------------------------------------------------------------------------- derived models
def test_truncate_keeps_leading_components(dense):
    small = dense.truncate(2, 0)
    assert (small.n_alpha, small.n_beta) == (2, 0)
    assert small.identity_names == ("id0", "id1")
    rng = np.random.default_rng(6)
    alpha = rng.normal(size=2)
    np.testing.assert_allclose(small.shape(alpha), dense.shape(np.r_[alpha, np.zeros(4)]))
    assert dense.truncate().n_alpha == 6
    with pytest.raises(ValueError, match=r"n_alpha must be in \[0, 6\]"):
        dense.truncate(7)
    with pytest.raises(TypeError, match="n_beta"):
        dense.truncate(n_beta=1.5)


def test_landmark_model_matches_full_model(dense):
    small = dense.landmark_model()
    assert small.n_vertices == 68 and small.triangles is None
    np.testing.assert_array_equal(small.landmark_indices, np.arange(68))
    rng = np.random.default_rng(7)
    alpha, beta = rng.normal(size=(3, 6)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(small.landmarks(alpha, beta), dense.landmarks(alpha, beta))
    np.testing.assert_array_equal(small.texture_mean, dense.texture_mean[dense.landmark_indices])
    assert small.units == dense.units and small.license == dense.license


def test_copy_and_pickle_round_trip(dense):
    twin = dense.copy()
    twin.name = "renamed"
    assert dense.name == "dense test model"
    assert twin.mean is dense.mean  # arrays are shared read-only
    for clone in (pickle.loads(pickle.dumps(dense)), copy.deepcopy(dense)):
        np.testing.assert_array_equal(clone.identity_basis, dense.identity_basis)
        assert not clone.identity_basis.flags.writeable
        assert clone.identity_names == dense.identity_names
    default = make_default_model()
    array_bytes = default.mean.nbytes + default.identity_basis.nbytes
    array_bytes += default.expression_basis.nbytes + default.landmark_indices.nbytes
    assert len(pickle.dumps(default)) < array_bytes + 5_000  # no hidden caches pickled


def test_save_load_round_trip(dense, tmp_path):
    path = tmp_path / "model.npz"
    dense.save(path)
    loaded = MorphableModel.load(path)
    for key in ("mean", "identity_basis", "expression_basis", "landmark_indices", "triangles",
                "texture_mean", "texture_basis"):  # fmt: skip
        np.testing.assert_array_equal(getattr(loaded, key), getattr(dense, key))
    assert (loaded.identity_names, loaded.expression_names) == (
        dense.identity_names,
        dense.expression_names,
    )
    assert (loaded.name, loaded.units, loaded.license) == (dense.name, "mm", "test only")
    dense.truncate(0, 0).landmark_model().save(tmp_path / "tiny.npz", compressed=True)
    tiny = MorphableModel.load(tmp_path / "tiny.npz")
    assert (tiny.n_alpha, tiny.n_beta, tiny.triangles) == (0, 0, None)


def test_load_refuses_foreign_archives(tmp_path):
    np.savez(tmp_path / "other.npz", mean=np.zeros((68, 3)))
    with pytest.raises(ModelFormatError, match=r"not a file written by MorphableModel\.save"):
        MorphableModel.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelFormatError, match=r"junk\.npz"):
        MorphableModel.load(tmp_path / "junk.npz")
    with open(tmp_path / "pickled.npz", "wb") as f:
        pickle.dump({"mean": 1}, f)
    with pytest.raises(ModelFormatError):
        MorphableModel.load(tmp_path / "pickled.npz")


# ----------------------------------------------------------------------------- validation
def _args(n=70, a=3, b=2):
    rng = np.random.default_rng(8)
    return [rng.normal(size=(n, 3)), rng.normal(size=(3 * n, a)), rng.normal(size=(3 * n, b)),
            np.arange(68)]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.__setitem__(0, np.zeros((70, 2))), r"mean must have shape \(\*, 3\)"),
        (lambda a: a.__setitem__(1, np.zeros((209, 3))), r"identity_basis must have shape \(210"),
        (lambda a: a.__setitem__(2, np.zeros(210)), "expression_basis must have shape"),
        (lambda a: a.__setitem__(3, np.arange(67)), r"landmark_indices must have shape \(68,\)"),
        (lambda a: a.__setitem__(3, np.arange(1, 69) + 2), r"in \[0, 70\).*1-based"),
        (lambda a: a.__setitem__(3, -np.arange(68)), r"got values in \[-67, 0\]"),
        (lambda a: a.__setitem__(3, np.arange(68) + 0.5), "integer"),
        (lambda a: a.__setitem__(3, np.array(["a"] * 68)), "integer"),
        (lambda a: a[1].__setitem__((5, 1), np.nan), "identity_basis contains 1 NaN"),
        (lambda a: a[0].__setitem__((0, 0), np.inf), "mean contains 1 NaN or infinite"),
        (lambda a: a.__setitem__(0, np.zeros((0, 3))), "no vertices"),
        (lambda a: a.__setitem__(0, "abc"), "numeric"),
    ],
)
def test_constructor_errors_name_the_problem(change, message):
    args = _args()
    change(args)
    with pytest.raises(ModelFormatError, match=message):
        MorphableModel(*args, name="my.mat")


def test_optional_array_errors():
    args = _args()
    with pytest.raises(ModelFormatError, match=r"triangles must be 0-based vertex indices in \["):
        MorphableModel(*args, triangles=[[0, 1, 70]])
    with pytest.raises(ModelFormatError, match="texture_basis was given without texture_mean"):
        MorphableModel(*args, texture_basis=np.zeros((210, 1)))
    with pytest.raises(ModelFormatError, match="identity_names has 2 names for 3"):
        MorphableModel(*args, identity_names=["a", "b"])
    with pytest.raises(ModelFormatError, match=r"^file\.pkl: texture_mean"):
        MorphableModel(*args, texture_mean=np.zeros((69, 3)), name="file.pkl")
    assert issubclass(ModelFormatError, ValueError)
