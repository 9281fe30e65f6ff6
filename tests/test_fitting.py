"""The batched fitting core on plain arrays (sk3dface.fitting._core)."""

import warnings

import numpy as np
import pytest

from sk3dface.fitting import _core as _fitting
from sk3dface.fitting._core import contour_sides, fit_landmarks
from sk3dface.models._camera import project

L = 68


def face_like_model(n_alpha=8, n_beta=6, seed=0):
    """A random landmark model with a face's extent (mm) and few-mm modes."""
    rng = np.random.default_rng(seed)
    mean = np.c_[rng.uniform(-70, 70, L), rng.uniform(-100, 40, L), rng.uniform(-40, 30, L)]
    mean[:17, 0] = np.linspace(-67, 67, 17)  # a jaw contour from the right ear to the left
    identity = rng.normal(0, 2.0, (L, 3, n_alpha))
    expression = rng.normal(0, 1.5, (L, 3, n_beta))
    return mean, identity, expression


def render(mean, identity, expression, alpha, beta, angles, translation, scale, **camera):
    shape = (
        mean
        + np.einsum("ljk,...k->...lj", identity, alpha)
        + np.einsum("ljk,...k->...lj", expression, beta)
    )
    return project(
        shape, *np.moveaxis(angles, -1, 0), *np.moveaxis(translation, -1, 0), scale, **camera
    )


def random_truth(n, n_views, n_alpha, n_beta, seed=1, yaw=40.0):
    rng = np.random.default_rng(seed)
    return dict(
        alpha=rng.normal(size=(n, n_views, n_alpha)),
        beta=rng.normal(size=(n, n_views, n_beta)),
        angles=np.stack(
            [
                rng.uniform(-yaw, yaw, (n, n_views)),
                rng.uniform(-15, 15, (n, n_views)),
                rng.uniform(-15, 15, (n, n_views)),
            ],
            axis=-1,
        ),
        translation=rng.uniform(150, 350, (n, n_views, 2)),
        scale=rng.uniform(1.0, 2.0, (n, n_views)),
    )


def test_noise_free_landmarks_are_recovered_exactly():
    mean, identity, expression = face_like_model()
    truth = random_truth(50, 1, 8, 6)
    points = render(mean, identity, expression, **truth)
    options = dict(alpha_reg=1e-9, beta_reg=1e-9, n_iter=5)  # converged to ~1e-8
    fit = fit_landmarks(points, mean, identity, expression, **options)
    assert not fit.failed.any() and not fit.missing.any()
    np.testing.assert_allclose(fit.alpha, truth["alpha"], atol=1e-4)
    np.testing.assert_allclose(fit.beta, truth["beta"], atol=1e-4)
    np.testing.assert_allclose(fit.angles, truth["angles"], atol=1e-4)
    np.testing.assert_allclose(fit.translation, truth["translation"], atol=1e-3)
    np.testing.assert_allclose(fit.scale, truth["scale"], rtol=1e-6)
    assert fit.residual.max() < 1e-4


def test_perspective_camera_is_recovered_and_differs_from_orthographic():
    mean, identity, expression = face_like_model()
    truth = random_truth(30, 1, 8, 6, seed=2, yaw=30.0)
    focal = 500.0  # a strong perspective: the face spans ~40% of the camera distance
    points = render(mean, identity, expression, **truth, camera="perspective", focal_length=focal)
    options = dict(alpha_reg=1e-9, beta_reg=1e-9, n_iter=8)
    fit = fit_landmarks(points, mean, identity, expression, focal_length=focal, **options)
    np.testing.assert_allclose(fit.angles, truth["angles"], atol=0.05)
    np.testing.assert_allclose(fit.scale, truth["scale"], rtol=1e-3)
    np.testing.assert_allclose(fit.alpha, truth["alpha"], atol=0.02)
    assert fit.residual.max() < 0.05
    orthographic = fit_landmarks(points, mean, identity, expression, **options)
    assert orthographic.residual.mean() > 20 * fit.residual.mean()


def test_fast_orthographic_step_matches_the_explicit_jacobian():
    """The orthographic Gauss-Newton step is assembled from moments and basis products; the
    perspective step builds the Jacobian explicitly. A very distant camera must agree."""
    mean, identity, expression = face_like_model()
    truth = random_truth(20, 2, 8, 6, seed=10)
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(4).normal(0, 2.0, points.shape)
    for joint in (False, True):
        fast = fit_landmarks(points, mean, identity, expression, joint=joint)
        explicit = fit_landmarks(points, mean, identity, expression, joint=joint,
                                 focal_length=1e12)  # fmt: skip
        np.testing.assert_allclose(explicit.blocks(), fast.blocks(), rtol=1e-6, atol=1e-6)


def test_residual_is_the_rms_reprojection_error_of_the_reported_fit():
    mean, identity, expression = face_like_model()
    truth = random_truth(20, 2, 8, 6, seed=3)
    rng = np.random.default_rng(0)
    points = render(mean, identity, expression, **truth) + rng.normal(0, 2.0, (20, 2, L, 2))
    fit = fit_landmarks(points, mean, identity, expression, contour=None)
    again = render(mean, identity, expression, fit.alpha, fit.beta, fit.angles,
                   fit.translation, fit.scale)  # fmt: skip
    rms = np.sqrt(((again - points) ** 2).sum(-1).mean(-1))
    np.testing.assert_allclose(fit.residual, rms, rtol=1e-9)
    assert 1.5 < fit.residual.mean() < 2.83  # below sqrt(2) * sigma: parameters absorb some


def test_gauss_newton_rounds_reach_the_optimum():
    mean, identity, expression = face_like_model()
    truth = random_truth(40, 1, 8, 6, seed=4)
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(1).normal(0, 1.5, points.shape)

    def objective(fit):
        return (
            L * fit.residual**2 + 4 * (fit.alpha**2).sum(-1) + 4 * (fit.beta**2).sum(-1)
        ).ravel()

    first = objective(fit_landmarks(points, mean, identity, expression, n_iter=1))
    default = objective(fit_landmarks(points, mean, identity, expression))
    many = objective(fit_landmarks(points, mean, identity, expression, n_iter=30))
    assert (default <= first + 1e-9).all() and np.mean(first - default) > 1.0
    np.testing.assert_allclose(default, many, rtol=1e-4)


def test_joint_fit_shares_alpha_and_skips_missing_views():
    mean, identity, expression = face_like_model()
    truth = random_truth(10, 3, 8, 6, seed=5)
    truth["alpha"][:] = truth["alpha"][:, :1]  # one identity per sample
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(2).normal(0, 1.0, points.shape)
    points[0, 1] = np.nan  # sample 0 lost its second view
    joint = fit_landmarks(points, mean, identity, expression, joint=True)
    assert joint.missing[0, 1] and np.isnan(joint.alpha[0, 1]).all()
    np.testing.assert_array_equal(joint.alpha[0, 0], joint.alpha[0, 2])
    np.testing.assert_array_equal(joint.alpha[1:, 0], joint.alpha[1:, 2])
    # a missing view changes nothing: same as fitting the two present views alone
    alone = fit_landmarks(points[:1, [0, 2]], mean, identity, expression, joint=True)
    np.testing.assert_allclose(alone.alpha[0, 0], joint.alpha[0, 0], atol=1e-10)
    np.testing.assert_allclose(alone.beta[0], joint.beta[0, [0, 2]], atol=1e-10)
    # with one view, joint and independent fits are the same problem
    single = points[:, :1]
    np.testing.assert_allclose(
        fit_landmarks(single, mean, identity, expression, joint=True).alpha,
        fit_landmarks(single, mean, identity, expression).alpha,
        atol=1e-10,
    )


def test_missing_points_are_ignored_and_too_few_points_fail():
    mean, identity, expression = face_like_model()
    truth = random_truth(3, 1, 8, 6, seed=6)
    points = render(mean, identity, expression, **truth)
    points[0, 0, 17:40] = np.nan  # 45 points left: still a good fit
    points[1, 0, 6:] = np.nan  # 6 points left: the minimum
    points[2, 0, 5:] = np.nan  # 5 points: failed
    fit = fit_landmarks(points, mean, identity, expression, alpha_reg=1e-9, beta_reg=1e-9)
    np.testing.assert_allclose(fit.angles[0], truth["angles"][0], atol=1e-3)
    assert fit.residual[0, 0] < 1e-3
    assert fit.failed.tolist() == [[False], [False], [True]]
    assert np.isnan(fit.blocks()[2]).all() and np.isfinite(fit.blocks()[:2]).all()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: np.full_like(p, 123.0), id="all-points-equal"),
        pytest.param(lambda p: np.c_[p[:, 0], 2 * p[:, 0] + 1], id="collinear"),
        pytest.param(lambda p: p * 1e300, id="overflow"),
        pytest.param(lambda p: p * 1e200, id="overflow-in-squares"),
        pytest.param(lambda p: np.where(np.arange(L)[:, None] == 3, 1e7, p), id="one-far-point"),
    ],
)
def test_degenerate_views_fail_without_disturbing_the_batch(damage):
    mean, identity, expression = face_like_model()
    truth = random_truth(3, 1, 8, 6, seed=7)
    points = render(mean, identity, expression, **truth)
    clean = fit_landmarks(points, mean, identity, expression)
    points[1, 0] = damage(points[1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no internal numpy warnings leak
        fit = fit_landmarks(points, mean, identity, expression)
    assert fit.failed.tolist() == [[False], [True], [False]]
    assert np.isnan(fit.blocks()[1]).all()
    np.testing.assert_allclose(fit.blocks()[[0, 2]], clean.blocks()[[0, 2]])


def test_empty_input_and_missing_views_give_the_right_shapes():
    mean, identity, expression = face_like_model()
    fit = fit_landmarks(np.empty((0, 2, L, 2)), mean, identity, expression)
    assert fit.blocks().shape == (0, 2, 8 + 6 + 7)
    fit = fit_landmarks(np.full((2, 1, L, 2), np.nan), mean, identity, expression)
    assert fit.missing.all() and not fit.failed.any() and np.isnan(fit.blocks()).all()


def test_chunks_and_threads_do_not_change_the_result(monkeypatch):
    mean, identity, expression = face_like_model()
    truth = random_truth(25, 2, 8, 6, seed=8)
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(3).normal(0, 1.0, points.shape)
    whole = fit_landmarks(points, mean, identity, expression, joint=True).blocks()
    monkeypatch.setattr(_fitting, "_CHUNK_FLOATS", 1)  # one sample per chunk
    chunked = fit_landmarks(points, mean, identity, expression, joint=True, n_jobs=2).blocks()
    np.testing.assert_allclose(chunked, whole, atol=1e-9)


def test_contour_sides_follow_the_model_x_axis():
    mean, *_ = face_like_model()
    sides = contour_sides(mean)
    assert sides[:8].tolist() == [-1] * 8 and sides[9:17].tolist() == [1] * 8
    assert sides[8] == 0 and not sides[17:].any()


def test_downweighting_the_far_jaw_resists_silhouette_landmarks():
    """On a turned face the far-side jaw landmarks sit on the silhouette, not on the model's
    jaw vertices: shifting them outwards (as a detector does) hurts a fit that trusts them."""
    mean, identity, expression = face_like_model()
    truth = random_truth(40, 1, 8, 6, seed=9)
    truth["angles"][..., 0] = np.where(truth["angles"][..., 0] < 0, -35.0, 35.0)
    points = render(mean, identity, expression, **truth)
    yaw_sign = np.sign(truth["angles"][:, 0, 0])
    far = contour_sides(mean)[None, :] * yaw_sign[:, None] > 0  # (n, L)
    points[:, 0, :, 0] += np.where(far, 8.0 * yaw_sign[:, None], 0.0)  # outwards by 8 px
    errors = {}
    for name, contour in (("fixed", None), ("downweight", contour_sides(mean))):
        fit = fit_landmarks(points, mean, identity, expression, contour=contour)
        errors[name] = np.sqrt(np.mean((fit.alpha - truth["alpha"]) ** 2))
    assert errors["downweight"] < 0.8 * errors["fixed"]


def test_an_overflowing_view_does_not_wipe_the_joint_fit_of_its_sample():
    mean, identity, expression = face_like_model()
    truth = random_truth(3, 3, 8, 6, seed=9)
    truth["alpha"][:] = truth["alpha"][:, :1]
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(4).normal(0, 1.0, points.shape)
    reference = points.copy()
    reference[0, 1] = np.nan  # the same sample with that view missing
    points[0, 1] *= 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit = fit_landmarks(points, mean, identity, expression, joint=True)
    expected = fit_landmarks(reference, mean, identity, expression, joint=True)
    assert fit.failed.tolist() == [[False, True, False], [False] * 3, [False] * 3]
    assert not fit.missing.any()
    assert np.isnan(fit.blocks()[0, 1]).all()
    # the good views are fitted as if the broken one were missing
    np.testing.assert_allclose(fit.blocks()[0, [0, 2]], expected.blocks()[0, [0, 2]], atol=1e-8)
    np.testing.assert_allclose(fit.blocks()[1:], expected.blocks()[1:], atol=1e-8)


def test_an_absurd_fit_is_failed_not_returned():
    """A residual larger than the spread of the points: worse than a single point."""
    mean, identity, expression = face_like_model()
    truth = random_truth(4, 1, 8, 6, seed=10)
    points = render(mean, identity, expression, **truth)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit = fit_landmarks(points, mean, identity, expression, focal_length=1e-6)
    assert fit.failed.all() and np.isnan(fit.blocks()).all()
    fit = fit_landmarks(points, mean, identity, expression, focal_length=1e5)
    assert not fit.failed.any() and (fit.residual < 5).all()


def _torch_devices():
    torch = pytest.importorskip("torch")
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _torch_devices())
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(joint=True),
        dict(focal_length=800.0),
        dict(contour="sides"),
        dict(joint=True, contour="sides", focal_length=900.0, n_iter=5),
    ],
    ids=["orthographic", "joint", "perspective", "contour", "joint-perspective-contour"],
)
def test_torch_fitter_gives_the_numpy_results(device, options):
    """One algorithm, two array namespaces: the same numbers to 1e-6, the same failures."""
    mean, identity, expression = face_like_model()
    truth = random_truth(60, 3, 8, 6, seed=11)
    points = render(mean, identity, expression, **truth)
    points += np.random.default_rng(5).normal(0, 1.5, points.shape)
    points[0, 1] = np.nan  # a missing view
    points[1, 0, :30] = np.nan  # missing points: the per-landmark normal equations
    points[2, 2] = 5.0  # a degenerate view: failed
    points[3, 0, :3] *= 1e200  # an overflowing view: failed
    if options.get("contour") == "sides":
        options = {**options, "contour": contour_sides(mean)}
    expected = fit_landmarks(points, mean, identity, expression, **options)
    fit = fit_landmarks(points, mean, identity, expression, device=device, **options)
    np.testing.assert_array_equal(fit.missing, expected.missing)
    np.testing.assert_array_equal(fit.failed, expected.failed)
    assert expected.failed.sum() == 2 and expected.missing.sum() == 1
    np.testing.assert_allclose(fit.blocks(), expected.blocks(), rtol=1e-6, atol=1e-6)
    assert isinstance(fit.alpha, np.ndarray)


def test_torch_fitter_threads_give_the_serial_result(monkeypatch):
    mean, identity, expression = face_like_model()
    truth = random_truth(25, 2, 8, 6, seed=8)
    points = render(mean, identity, expression, **truth)
    serial = fit_landmarks(points, mean, identity, expression, joint=True, device="cpu")
    monkeypatch.setattr(_fitting, "_CHUNK_FLOATS", 1)
    threaded = fit_landmarks(points, mean, identity, expression, joint=True, device="cpu",
                             n_jobs=2)  # fmt: skip
    np.testing.assert_allclose(threaded.blocks(), serial.blocks(), atol=1e-9)


def test_an_unknown_device_is_a_clear_error():
    mean, identity, expression = face_like_model()
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        fit_landmarks(np.zeros((1, 1, L, 2)), mean, identity, expression, device="gpu")
