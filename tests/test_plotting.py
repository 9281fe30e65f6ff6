"""sk3dface.plotting: photos are never flipped, fits land on their landmarks, views and
evaluation plots show what they claim (Agg backend, no screen)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from mpl_toolkits.mplot3d import proj3d
from sklearn.metrics import confusion_matrix, roc_curve

from sk3dface import MorphableCoefficientExtractor, make_default_model
from sk3dface.datasets import make_synthetic_faces
from sk3dface.metrics import equal_error_rate, per_class_report, tar_at_far
from sk3dface.plotting import (
    plot_confusion_matrix,
    plot_fit,
    plot_landmarks,
    plot_roc,
    plot_shape,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _photo(height=120, width=100):
    """A photo whose top rows are white and the rest black: upside down shows at once."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:10] = 255
    return image


def _points(low=20.0, high=80.0):
    return np.random.default_rng(0).uniform(low, high, (68, 2))


def _rendered(ax):
    """The figure rendered to an RGB array."""
    canvas = ax.figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def _pixel(ax, x, y):
    """Display pixel (row, column) of data point (x, y) in the rendered figure."""
    px, py = ax.transData.transform((x, y))
    height = ax.figure.canvas.get_width_height()[1]
    return round(height - py), round(px)


@pytest.mark.parametrize("order", ["image first", "photo passed", "points twice"])
def test_plot_landmarks_never_flips_the_photo(order):
    photo = _photo()
    _, ax = plt.subplots()
    if order == "image first":  # composing by hand: imshow, then the bare points
        ax.imshow(photo)
        plot_landmarks(None, _points(), ax=ax)
    elif order == "photo passed":
        plot_landmarks(photo, _points(), ax=ax)
    else:  # detected then fitted over the same photo
        plot_landmarks(photo, _points(), ax=ax)
        plot_landmarks(None, _points(), ax=ax)
    assert ax.get_ylim() == (119.5, -0.5)  # imshow's origin="upper" orientation
    rendered = _rendered(ax)
    top, bottom = _pixel(ax, 50, 3), _pixel(ax, 50, 110)
    assert rendered[top].min() > 200  # the white band is drawn at the top
    assert rendered[bottom].max() < 50


def test_plot_landmarks_keeps_an_origin_lower_image_as_it_is():
    _, ax = plt.subplots()
    ax.imshow(_photo(), origin="lower")
    plot_landmarks(None, _points(), ax=ax)
    low, high = ax.get_ylim()
    assert low < high  # the user's orientation, not inverted behind their back


def test_bare_points_point_y_down_once():
    ax = plot_landmarks(None, _points())
    assert ax.yaxis_inverted()
    plot_landmarks(None, _points(), ax=ax, color="red")  # a second set does not re-invert
    assert ax.yaxis_inverted()
    # the points are where their pixel coordinates say: y = 20 above y = 80 on screen
    assert _pixel(ax, 50, 20)[0] < _pixel(ax, 50, 80)[0]


def test_points_land_on_their_pixels():
    photo = np.zeros((100, 100, 3), np.uint8)
    points = np.full((68, 2), np.nan)
    points[30] = (70.0, 25.0)  # one visible point, far from the centre
    _, ax = plt.subplots(figsize=(4, 4))
    plot_landmarks(photo, points, ax=ax, color="red")
    rendered = _rendered(ax)
    row, column = _pixel(ax, 70.0, 25.0)
    red = rendered[row - 1 : row + 2, column - 1 : column + 2]
    assert (red[..., 0] > 200).any() and (red[..., 1] < 60).all()
    mirror_row, _ = _pixel(ax, 70.0, 75.0)  # where a flipped image would have put it
    assert rendered[mirror_row, column].max() < 30


def test_inverse_transform_lands_on_the_landmarks_of_known_coefficients():
    faces = make_synthetic_faces(n_subjects=3, n_views=2, noise=0.0, random_state=0)
    # the truth, projected by the model: what the extractor must reproduce for its own fit
    extractor = MorphableCoefficientExtractor(alpha_reg=0.0, beta_reg=0.0, n_iter=10)
    coefficients = extractor.fit_transform(faces.X)
    fitted = extractor.inverse_transform(coefficients)
    np.testing.assert_allclose(fitted, faces.X, atol=1e-3)  # noise-free, no prior: exact
    # and with the true coefficients and pose in the extractor's layout
    layout = extractor.layout_
    truth = np.zeros_like(coefficients).reshape(3, 2, layout.block_size)
    truth[..., layout.alpha] = faces.alpha[:, None]
    truth[..., layout.beta] = faces.beta[:, None]
    truth[..., layout.pose] = faces.pose
    np.testing.assert_allclose(
        extractor.inverse_transform(truth.reshape(3, -1)), faces.X, atol=1e-9
    )


def test_inverse_transform_nan_views_and_bad_shapes():
    faces = make_synthetic_faces(n_subjects=4, n_views=3, missing_rate=0.4, random_state=1)
    extractor = MorphableCoefficientExtractor().fit(faces.X)
    fitted = extractor.inverse_transform(extractor.transform(faces.X))
    np.testing.assert_array_equal(np.isnan(fitted), np.isnan(faces.X))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 114\).*got shape \(4, 10\)"):
        extractor.inverse_transform(np.zeros((4, 10)))


def test_plot_fit_draws_detected_and_fitted_points_with_the_residual():
    faces = make_synthetic_faces(n_subjects=1, n_views=1, noise=2.0, random_state=3)
    extractor = MorphableCoefficientExtractor().fit(faces.X)
    coefficients = extractor.transform(faces.X)
    fitted = extractor.inverse_transform(coefficients)
    size = int(np.nanmax(faces.X)) + 50
    ax = plot_fit(np.zeros((size, size, 3), np.uint8), faces.X[0], fitted[0])
    detected_points, fitted_points = (c.get_offsets() for c in ax.collections)
    np.testing.assert_allclose(detected_points, faces.X[0].reshape(68, 2))
    np.testing.assert_allclose(fitted_points, fitted[0].reshape(68, 2))
    residual = coefficients[0, extractor.layout_.offset("residual")]
    assert f"residual {residual:.2f} px" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["detected", "fitted (model)"]
    bottom, top = ax.get_ylim()
    assert bottom > top  # zoomed onto the face, still y down
    assert top > -0.5 and bottom < size - 0.5  # and zoomed in


def test_plot_fit_of_a_failed_fit_says_so():
    detected = _points()
    ax = plot_fit(None, detected, np.full((68, 2), np.nan))
    assert "no point both detected and fitted" in ax.get_title()
    with pytest.raises(ValueError, match="fitted must hold the 68 iBUG points"):
        plot_fit(None, detected, np.zeros((5, 2)))


def test_plot_shape_applies_view_angles_units_and_proportions():
    model = make_default_model()
    ax = plot_shape(model, elev=25.0, azim=-120.0, title="mean")
    assert (ax.elev, ax.azim) == (25.0, -120.0)
    assert ax.get_xlabel() == "x: subject's left [mm]"
    assert ax.get_ylabel() == "z: towards camera [mm]"
    assert ax.get_zlabel() == "y: up [mm]"
    points = model.landmarks()
    extent = points.max(0) - points.min(0)
    aspect = np.asarray(ax.get_box_aspect())
    np.testing.assert_allclose(aspect / aspect.max(), extent[[0, 2, 1]] / extent.max())
    low, high = ax.get_ylim()
    assert low > high  # depth axis runs towards the viewer of the frontal view: no mirror


def test_plot_shape_frontal_view_is_not_mirrored():
    model = make_default_model()
    ax = plot_shape(model, elev=0.0, azim=-90.0)
    ax.figure.canvas.draw()
    points = model.landmarks()
    # plot coordinates (x, depth, up) = model (x, z, y), then the view's projection
    screen_x, screen_y, _ = proj3d.proj_transform(
        points[:, 0], points[:, 2], points[:, 1], ax.get_proj()
    )
    projected = np.column_stack([screen_x, screen_y])
    # subject's right eye corner (36) on the screen's left, as in a photo; chin (8) lowest
    assert projected[36, 0] < projected[45, 0]
    assert projected[8, 1] < projected[27, 1]


def test_plot_shape_takes_vertices_and_checks_them():
    model = make_default_model()
    alpha = np.linspace(-1, 1, model.n_alpha)
    ax = plot_shape(model.landmarks(alpha), units="mm")
    np.testing.assert_allclose(ax.lines[0].get_data_3d()[0], model.landmarks(alpha)[:17, 0])
    assert len(plot_shape(np.random.default_rng(0).normal(size=(500, 3))).lines) == 0
    with pytest.raises(ValueError, match=r"vertices of shape \(n_points, 3\).*\(10, 2\)"):
        plot_shape(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="alpha and beta need a MorphableModel"):
        plot_shape(model.landmarks(), alpha=alpha)


def test_confusion_matrix_and_per_class_report_agree_with_sklearn():
    y_true = np.array(["sad", "happy", "happy", "neutral", "sad", "sad"])
    y_pred = np.array(["sad", "happy", "sad", "neutral", "neutral", "sad"])
    labels = ["happy", "neutral", "sad"]
    ax = plot_confusion_matrix(y_true, y_pred, labels=labels, colorbar=False)
    np.testing.assert_array_equal(
        ax.images[0].get_array(), confusion_matrix(y_true, y_pred, labels=labels)
    )
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    rates = plot_confusion_matrix(y_true, y_pred, normalize="true").images[0].get_array()
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    report = per_class_report(y_true, y_pred, averages=True)
    assert list(report.index) == [*labels, "macro avg", "weighted avg"]
    assert report.loc["sad", "recall"] == pytest.approx(2 / 3)
    assert report.loc["happy", "precision"] == 1.0 and report.loc["happy", "support"] == 2
    numbers = per_class_report([3, 3, 7], [3, 7, 7])
    assert list(numbers.index) == [3, 7]  # the labels themselves, not their text
    with pytest.raises(ValueError, match="normalize must be"):
        plot_confusion_matrix(y_true, y_pred, normalize="rows")
    with pytest.raises(ValueError, match="same length"):
        per_class_report(y_true, y_pred[:3])


def test_plot_roc_draws_sklearns_curve_with_eer_and_tar_at_far():
    rng = np.random.default_rng(0)
    y_true = np.r_[np.ones(300), np.zeros(3000)].astype(int)
    scores = rng.normal(1.5 * y_true, 1.0)
    ax = plot_roc(y_true, scores, label="3-D")
    assert ax.get_xscale() == "log"
    curve = ax.lines[1]  # after the chance line
    far, tar, _ = roc_curve(y_true, scores)
    np.testing.assert_allclose(curve.get_xdata(), far[far > 0])
    np.testing.assert_allclose(curve.get_ydata(), tar[far > 0])
    eer = equal_error_rate(y_true, scores)
    eer_marker = ax.lines[2]
    np.testing.assert_allclose(np.ravel(eer_marker.get_data()), [eer, 1 - eer])
    texts = [t.get_text() for t in ax.texts]
    assert f"EER {eer:.1%}" in texts
    for level in (1e-3, 1e-2, 1e-1):  # 3000 impostors measure all three levels
        assert f"TAR {tar_at_far(y_true, scores, far=level):.2f} @ FAR {level:g}" in texts
    assert ax.get_xlim()[0] == pytest.approx(1 / 3000)
    # a second curve on the same axes: no second chance line, both in the legend
    plot_roc(y_true, rng.normal(0.5 * y_true, 1.0), ax=ax, label="2-D", annotate=False)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "chance" and legend[1].startswith("3-D (EER") and len(legend) == 3


def test_plot_roc_skips_far_levels_the_impostors_cannot_measure():
    y_true = np.r_[np.ones(20), np.zeros(50)]
    scores = np.random.default_rng(1).normal(2 * y_true, 1.0)
    ax = plot_roc(y_true, scores)
    texts = [t.get_text() for t in ax.texts]
    assert any("@ FAR 0.1" in t for t in texts)
    assert not any("@ FAR 0.01" in t or "@ FAR 0.001" in t for t in texts)  # < 1/50
    with pytest.raises(ValueError, match="non-finite"):
        plot_roc(y_true, np.r_[scores[:-1], np.nan])


def test_every_plot_takes_an_axes_and_returns_it():
    _, axes = plt.subplots(1, 4)
    y = np.array([0, 1, 0, 1])
    assert plot_landmarks(None, _points(), ax=axes[0]) is axes[0]
    assert plot_fit(None, _points(), _points(), ax=axes[1]) is axes[1]
    assert plot_confusion_matrix(y, y, ax=axes[2]) is axes[2]
    assert plot_roc(y, np.array([0.1, 0.9, 0.2, 0.8]), ax=axes[3]) is axes[3]
    ax3d = plt.figure().add_subplot(projection="3d")
    assert plot_shape(make_default_model(), ax=ax3d) is ax3d
