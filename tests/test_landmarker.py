"""FaceLandmarker and DlibBackend on real photos: geometry, inputs, failures, sklearn contracts."""

import pickle
import re
import runpy
import shutil
import warnings
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sk3dface import DlibBackend, FaceLandmarker, LandmarkBackend, landmarks_to_views
from sk3dface.exceptions import FaceNotFoundError, FailedSamplesWarning, ImageReadError
from sk3dface.landmarks._backend import backend_identity
from sk3dface.landmarks._dlib import default_predictor_path
from sk3dface.landmarks._landmarker import _image_digest
from sk3dface.utils._images import load_image

GRACE = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"
if not PHOTOS.is_dir():
    PHOTOS = Path("/work/shared/photos")
needs_photos = pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared/photos is absent")

# iBUG-68 index of each point's mirror image (subject's right <-> left)
MIRROR = np.r_[
    16:-1:-1, 26:16:-1, 27:31, 35:30:-1,
    [45, 44, 43, 42, 47, 46], [39, 38, 37, 36, 41, 40],
    [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55], [64, 63, 62, 61, 60, 67, 66, 65],
]  # fmt: skip
INNER = slice(17, 68)  # brows, nose, eyes, mouth: the jaw outline is ambiguous on turned faces


@pytest.fixture(scope="module")
def grace():
    return load_image(GRACE)


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def landmarker():
    return FaceLandmarker().fit([GRACE])


def one(landmarker, image):
    """Landmarks of a single image as (68, 2)."""
    return landmarks_to_views(landmarker.transform([image]))[0, 0]


def interocular(points):
    return np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0))


def assert_close_landmarks(actual, expected, *, mean=0.08, inner_max=0.2):
    """Distances relative to the interocular distance (the usual landmark error measure)."""
    errors = np.linalg.norm(actual - expected, axis=1) / interocular(expected)
    assert errors.mean() < mean, errors
    assert errors[INNER].max() < inner_max, errors


# -- geometry on real photos -------------------------------------------------------------------


@pytest.mark.parametrize(
    "photo",
    [
        pytest.param(GRACE, id="grace_hopper"),
        pytest.param(skimage.data.astronaut(), id="astronaut"),
        pytest.param(PHOTOS / "JianzhuGuo.jpg", id="JianzhuGuo", marks=needs_photos),
    ],
)
def test_landmarks_land_on_the_face(landmarker, photo):
    image = load_image(photo)
    box = DlibBackend().detect(image)[0]
    points = one(landmarker, photo)
    x, y = points[:, 0], points[:, 1]
    eyes = points[36:48]
    assert (eyes[:, 0] > box[0]).all() and (eyes[:, 0] < box[2]).all()
    assert (eyes[:, 1] > box[1]).all() and (eyes[:, 1] < box[3]).all()
    right_eye, left_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    assert right_eye[0] < left_eye[0]  # subject's right eye on the image left
    assert right_eye[0] < x[30] < left_eye[0]  # nose tip between the eyes...
    assert y[30] > max(right_eye[1], left_eye[1])  # ...and below them
    assert y[8] == y.max()  # chin lowest
    assert y[19] < right_eye[1] and y[24] < left_eye[1]  # brows above eyes
    assert y[51] < y[57]  # upper lip above lower lip


def test_horizontal_flip_mirrors_landmarks(landmarker, grace, astronaut):
    for image in (grace, astronaut):
        flipped = one(landmarker, image[:, ::-1])[MIRROR]
        flipped[:, 0] = image.shape[1] - 1 - flipped[:, 0]
        assert_close_landmarks(flipped, one(landmarker, image))


def test_half_size_copy_gives_half_coordinates(landmarker, grace):
    half = cv2.resize(grace, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    expected = (one(landmarker, grace) + 0.5) * 0.5 - 0.5  # pixel centres scale about -0.5
    assert_close_landmarks(one(landmarker, half), expected)


@pytest.mark.parametrize("angle", [10, -10])
def test_small_rotation_rotates_landmarks(landmarker, grace, astronaut, angle):
    for image in (grace, astronaut):
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
        rotated = cv2.warpAffine(image, matrix, (width, height))
        expected = one(landmarker, image) @ matrix[:, :2].T + matrix[:, 2]
        assert_close_landmarks(one(landmarker, rotated), expected, mean=0.1)


def test_quarter_turn_is_not_detected(landmarker, grace):
    # dlib's HOG detector is upright-only: a face turned by 90° is NaN + a warning
    with pytest.warns(FailedSamplesWarning, match="1 without a face"):
        out = landmarker.transform([np.rot90(grace)])
    assert np.isnan(out).all()


def test_detection_on_downscaled_copy(grace):
    big = cv2.resize(grace, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # 1024 x 1200
    full = FaceLandmarker(detection_width=None).fit([big])
    small = FaceLandmarker(detection_width=400).fit([big])
    assert_close_landmarks(one(small, big), one(full, big))


@needs_photos
def test_largest_of_several_faces_wins(landmarker):
    image = load_image(PHOTOS / "trump_hillary.jpg")
    middle = image.shape[1] // 2
    for shrunk_side in ("left", "right"):
        collage = image.copy()
        side = slice(0, middle) if shrunk_side == "left" else slice(middle, None)
        part = collage[:, side]
        smaller = cv2.resize(part, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
        part[:] = 0
        part[: smaller.shape[0], : smaller.shape[1]] = smaller
        assert len(DlibBackend().detect(collage)) == 2
        nose_x = one(landmarker, collage)[30, 0]
        assert (nose_x > middle) == (shrunk_side == "left")


# -- input types -------------------------------------------------------------------------------


def test_input_types_give_identical_landmarks(landmarker, grace):
    gray = cv2.cvtColor(grace, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([grace, np.full(grace.shape[:2], 255, np.uint8)])
    X = [
        grace,
        GRACE,
        Path(GRACE),
        Image.open(GRACE),
        rgba,
        grace.astype(np.uint16) * 257,
        grace / 255.0,
        gray,
        np.repeat(gray[:, :, None], 3, axis=2),
        Image.fromarray(gray),
    ]
    out = landmarker.transform(X)
    assert np.isfinite(out).all()
    for row in out[1:7]:
        np.testing.assert_array_equal(row, out[0])
    for row in out[8:]:
        np.testing.assert_array_equal(row, out[7])


def test_containers_of_samples(landmarker, grace):
    expected = landmarker.transform([GRACE, GRACE])
    for X in (
        (GRACE, GRACE),
        np.array([GRACE, GRACE], dtype=object),
        pd.Series([GRACE, GRACE]),
        pd.DataFrame({"path": [GRACE, GRACE]}),
        np.stack([grace, grace]),  # (n, H, W, 3)
    ):
        np.testing.assert_array_equal(landmarker.transform(X), expected)


def test_dataframe_columns_are_views(grace):
    frame = pd.DataFrame({"front": [GRACE, None], "again": [GRACE, GRACE]})
    landmarker = FaceLandmarker().fit(frame)
    assert landmarker.n_views_ == 2
    out = landmarks_to_views(landmarker.transform(frame))
    assert np.isnan(out[1, 0]).all()
    np.testing.assert_array_equal(out[0, 0], out[1, 1])


@pytest.mark.parametrize(
    ("X", "error", "message"),
    [
        (GRACE, TypeError, r"single '.*grace_hopper\.jpg'.*\[image\]"),
        (np.zeros((60, 50, 3), np.uint8), ValueError, r"ambiguous.*\[image\]"),
        (np.zeros((5, 136)), ValueError, "reads images, not feature vectors"),
        ([GRACE, 3.5], TypeError, r"Sample 1, view 0: expected an image.*got float 3\.5"),
        ([[GRACE, np.zeros(5)]], TypeError, r"Sample 0, view 1.*shape \(5,\)"),
        (42, TypeError, "got int"),
        ([], ValueError, "0 samples"),
        ([[]], ValueError, "empty view set"),
    ],
)
def test_bad_X_is_refused_with_a_clear_error(X, error, message):
    with pytest.raises(error, match=message):
        FaceLandmarker().fit(X)


# -- view sets ---------------------------------------------------------------------------------


def test_view_sets_are_padded_with_nan(grace, astronaut):
    X = [[GRACE, None, astronaut], [grace], (astronaut, GRACE)]
    landmarker = FaceLandmarker().fit(X)
    assert landmarker.n_views_ == 3
    out = landmarker.transform(X)
    assert out.shape == (3, 3 * 136)
    views = landmarks_to_views(out)
    missing = np.isnan(views).all(axis=(2, 3))
    np.testing.assert_array_equal(
        missing, [[False, True, False], [False, True, True], [False, False, True]]
    )
    np.testing.assert_array_equal(views[0, 0], views[1, 0])
    np.testing.assert_array_equal(views[0, 2], views[2, 0])

    with pytest.raises(ValueError, match=r"has 4 views but .* n_views_=3"):
        landmarker.transform([[GRACE] * 4])
    fixed = FaceLandmarker(n_views=5).fit([GRACE])
    assert fixed.transform([[GRACE, GRACE]]).shape == (1, 5 * 136)
    with pytest.raises(ValueError, match="has 2 views but n_views=1"):
        FaceLandmarker(n_views=1).fit([[GRACE, GRACE]])


# -- failures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "empty.jpg").touch()
    (folder / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(4096))
    big = folder / "big.png"
    Image.new("RGB", (3000, 2000)).save(big)
    return {
        "missing": str(folder / "missing.jpg"),
        "empty": str(folder / "empty.jpg"),
        "corrupt": str(folder / "corrupt.jpg"),
        "big": str(big),
    }


def test_bad_files_become_nan_with_one_warning(grace, bad_files):
    landmarker = FaceLandmarker(max_pixels=5_000_000).fit([GRACE])
    blank = np.full((300, 300, 3), 128, np.uint8)
    X = [GRACE, bad_files["missing"], bad_files["empty"], blank, bad_files["corrupt"],
         bad_files["big"], grace]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = landmarker.transform(X)
    ours = [w for w in caught if issubclass(w.category, FailedSamplesWarning)]
    assert len(ours) == 1
    assert ours[0].filename == __file__  # points at the caller's line, not into sk3dface
    message = str(ours[0].message)
    assert "5 of 7 views gave no landmarks" in message
    assert "4 unreadable, 1 without a face" in message
    assert "missing.jpg': no such file" in message
    assert "empty (0 bytes); sample 3" in message and "max_pixels. The" in message  # all 5 listed
    failures = ours[0].message.failures
    assert [(f.sample, f.view) for f in failures] == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]
    assert "not a recognised image format" in str(failures[3].error)
    assert "6,000,000 pixels is more than max_pixels=5,000,000" in str(failures[4].error)
    assert isinstance(failures[2].error, FaceNotFoundError)
    finite = np.isfinite(out).all(axis=1)
    np.testing.assert_array_equal(finite, [True, False, False, False, False, False, True])
    np.testing.assert_array_equal(out[0], out[6])  # the good results survive the bad ones


def test_a_broken_pil_image_costs_only_its_view(landmarker, tmp_path):
    path = tmp_path / "half.jpg"
    data = Path(GRACE).read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.warns(FailedSamplesWarning, match=r"1 unreadable.*PIL image from .*half\.jpg"):
        out = landmarker.transform([GRACE, Image.open(path)])
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()


def test_many_failures_are_summarised(bad_files):
    X = [bad_files["missing"]] * 8
    with pytest.warns(FailedSamplesWarning, match="8 of 8 views.*and 3 more") as record:
        FaceLandmarker().fit(X).transform(X)
    (summary,) = [w.message for w in record if w.category is FailedSamplesWarning]
    assert len(summary.failures) == 8


def test_on_error_raise(bad_files):
    landmarker = FaceLandmarker(on_error="raise", n_views=2).fit([GRACE])
    with pytest.raises(ImageReadError, match=r"Sample 1, view 0: .*corrupt\.jpg"):
        landmarker.transform([GRACE, bad_files["corrupt"], bad_files["missing"]])
    blank = np.zeros((200, 200, 3), np.uint8)
    with pytest.raises(FaceNotFoundError, match=r"Sample 0, view 1: No face found in array"):
        landmarker.transform([[GRACE, blank]])


# -- face boxes --------------------------------------------------------------------------------


def test_given_face_boxes_skip_detection(landmarker, grace):
    box = DlibBackend().detect(grace)[0]
    detected = landmarker.transform([GRACE])
    np.testing.assert_array_equal(landmarker.transform([GRACE], face_boxes=[box]), detected)
    # a box is used even where the detector finds nothing; NaN boxes ask for detection
    turned = np.rot90(grace, 2)  # upside down: no detection
    height, width = grace.shape[:2]
    turned_box = [width - box[2], height - box[3], width - box[0], height - box[1]]
    boxes = np.array([[turned_box], [[np.nan] * 4]])
    out = landmarker.transform([turned, GRACE], face_boxes=boxes)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[1], detected[0])


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (np.zeros((2, 4)), r"shape \(n_samples, n_views, 4\) = \(1, 1, 4\)"),
        ([[1, 2, np.nan, 4]], "mixes numbers and NaN"),
        ([[10, 10, 5, 20]], "is empty"),
        ([[0, 0, np.inf, 9]], "infinite"),
    ],
)
def test_bad_face_boxes(landmarker, boxes, message):
    with pytest.raises(ValueError, match=message):
        landmarker.transform([GRACE], face_boxes=boxes)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ([5000, 5000, 5200, 5200], r"\[5000, 5000, 5200, 5200\] given .*outside the 512×512 image"),
        ([-300, 10, -10, 200], "lies outside the 512×512 image"),
        ([100, 100, 101, 101], "is 1×1 pixels, smaller than the 8×8"),
        ([100, 100, 300, 104], "is 200×4 pixels"),
        ([508, 100, 700, 300], "covers only 4×200 pixels of the 512×512 image"),
    ],
    ids=["far-off", "left-of-image", "1-pixel", "flat", "sliver-inside"],
)
def test_face_boxes_off_the_image_or_too_small_fail_that_view(astronaut, box, message):
    # before: landmarks at x≈5000 for the first box, all 68 points at one pixel for the third
    landmarker = FaceLandmarker(n_views=2).fit([astronaut])
    boxes = [[box, [np.nan] * 4], [[np.nan] * 4, [np.nan] * 4]]
    with pytest.warns(FailedSamplesWarning, match="1 of 4 views.*1 without a face") as record:
        out = landmarks_to_views(landmarker.transform([[astronaut] * 2] * 2, face_boxes=boxes))
    (failure,) = [
        f for w in record if w.category is FailedSamplesWarning for f in w.message.failures
    ]
    assert (failure.sample, failure.view) == (0, 0)
    assert isinstance(failure.error, FaceNotFoundError)
    assert re.search(message, str(failure.error)), failure.error
    assert np.isnan(out[0, 0]).all() and np.isfinite(out[[0, 1, 1], [1, 0, 1]]).all()
    strict = clone(landmarker).set_params(on_error="raise", n_views=1).fit([astronaut])
    with pytest.raises(FaceNotFoundError, match=r"Sample 0, view 0: The face box .* NaN to detect"):
        strict.transform([astronaut], face_boxes=[box])


def test_face_box_partly_outside_the_image_is_used(landmarker, astronaut):
    left, top, right, bottom = DlibBackend().detect(astronaut)[0]
    moved = np.array([left, top, right, bottom]) - [left + 20, 0, left + 20, 0]  # 20 px off
    out = landmarker.transform([astronaut], face_boxes=[moved])
    assert np.isfinite(out).all()


class OffImageBackend:
    """A back end whose detector reports a face far outside the image."""

    def detect(self, image):
        return np.array([[4000.0, 4000.0, 4200.0, 4200.0]])

    def predict(self, image, box):
        return np.zeros((68, 2))


def test_detected_box_off_the_image_fails_that_view():
    with pytest.warns(FailedSamplesWarning, match=r"found by OffImageBackend .* lies outside"):
        out = FaceLandmarker(backend=OffImageBackend()).fit_transform([np.zeros((50, 60))])
    assert np.isnan(out).all()


# -- back ends ---------------------------------------------------------------------------------


class CentreBackend:
    """A deterministic stand-in: one face in the middle, landmarks on its diagonal."""

    def detect(self, image):
        height, width = image.shape[:2]
        return np.array([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])

    def predict(self, image, box):
        t = np.linspace(0, 1, 68)[:, None]
        return box[:2] + t * (box[2:] - box[:2])


class BrokenBackend(CentreBackend):
    def detect(self, image):
        return np.zeros(3)


class BlindBackend(CentreBackend):
    def detect(self, image):
        return []


def test_custom_backend():
    assert isinstance(CentreBackend(), LandmarkBackend)
    landmarker = FaceLandmarker(backend=CentreBackend(), detection_width=None)
    out = landmarks_to_views(landmarker.fit_transform([np.zeros((40, 80), np.uint8)]))[0, 0]
    np.testing.assert_allclose(out[0], [20, 10])
    np.testing.assert_allclose(out[-1], [60, 30])
    # boxes from a downscaled detection are scaled back to full resolution
    scaled = FaceLandmarker(backend=CentreBackend(), detection_width=40)
    np.testing.assert_allclose(scaled.fit_transform([np.zeros((40, 80), np.uint8)])[0, :2],
                               [20, 10])  # fmt: skip
    with pytest.raises(TypeError, match=r"BrokenBackend\.detect must return .*\(n_faces, 4\)"):
        FaceLandmarker(backend=BrokenBackend()).fit_transform([np.zeros((9, 9), np.uint8)])
    with pytest.warns(FailedSamplesWarning, match="BlindBackend searched the 9×9 image"):
        FaceLandmarker(backend=BlindBackend()).fit_transform([np.zeros((9, 9), np.uint8)])
    with pytest.raises(ValueError, match=r"backend=DlibBackend\(upsample=1, detector=.hog.\)"):
        FaceLandmarker(backend=CentreBackend(), upsample=1).fit([GRACE])


def test_upsample_finds_small_faces(grace):
    small = cv2.resize(grace, None, fx=0.22, fy=0.22, interpolation=cv2.INTER_AREA)  # face ~50 px
    assert len(DlibBackend().detect(small)) == 0
    assert len(DlibBackend(upsample=1).detect(small)) == 1
    with pytest.warns(FailedSamplesWarning):
        assert np.isnan(FaceLandmarker().fit_transform([small])).all()
    assert np.isfinite(FaceLandmarker(upsample=1).fit_transform([small])).all()


def test_dlib_backend_pickles_without_dlib_objects(grace):
    backend = DlibBackend().load()
    box = backend.detect(grace)[0]
    expected = backend.predict(grace, box)
    state = backend.__getstate__()
    assert "_loaded" not in state and state["_fingerprint"][1]  # path + sha256 only
    assert len(pickle.dumps(backend)) < 2000
    restored = pickle.loads(pickle.dumps(backend))
    np.testing.assert_array_equal(restored.predict(grace, box), expected)


def test_dlib_backend_refuses_a_changed_predictor_file(tmp_path, grace):
    copy = tmp_path / "predictor.dat"
    shutil.copyfile(default_predictor_path(), copy)
    backend = DlibBackend(predictor_path=copy).load()
    blob = pickle.dumps(backend)
    with open(copy, "ab") as file:
        file.write(b"changed")
    with pytest.raises(RuntimeError, match=r"predictor\.dat' changed since .*SHA-256"):
        pickle.loads(blob).predict(grace, [161, 137, 377, 353])
    copy.unlink()
    with pytest.raises(FileNotFoundError, match=r"predictor\.dat' does not exist"):
        pickle.loads(blob).load()


def test_dlib_backend_bad_predictor_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*iBUG 300-W"):
        FaceLandmarker(backend=DlibBackend(predictor_path=tmp_path / "no.dat")).fit([GRACE])
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"not a predictor")
    with pytest.raises(RuntimeError, match=r"could not load the shape predictor .*junk\.dat"):
        DlibBackend(predictor_path=junk).load()


# -- content-keyed cache (memory=...) ----------------------------------------------------------


class CountingBackend(BaseEstimator):
    """CentreBackend as a scikit-learn estimator that records every detect / predict call.

    ``shift`` moves every landmark (a parameter that changes the results); an all-black
    image has no face.
    """

    def __init__(self, shift=0.0):
        self.shift = shift

    def _record(self, method):
        self.__dict__.setdefault("calls", []).append(method)

    def detect(self, image):
        self._record("detect")
        if not image.any():
            return np.zeros((0, 4))
        return CentreBackend().detect(image)

    def predict(self, image, box):
        self._record("predict")
        return CentreBackend().predict(image, box) + self.shift


def _calls(landmarker):
    calls = landmarker.backend_.__dict__.pop("calls", [])
    return calls.count("detect"), calls.count("predict")


def test_memory_computes_only_new_or_changed_images(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(1, 255, (40, 60 + 4 * i, 3), dtype=np.uint8) for i in range(4)]
    black = np.zeros((40, 60), np.uint8)
    landmarker = FaceLandmarker(backend=CountingBackend(), memory=str(tmp_path)).fit(images)
    first = landmarker.transform(images[:3])
    assert _calls(landmarker) == (3, 3)
    np.testing.assert_array_equal(landmarker.transform(images[:3]), first)
    assert _calls(landmarker) == (0, 0)
    more = landmarker.transform([*images[:3], images[3]])  # one image added: one computed
    assert _calls(landmarker) == (1, 1)
    np.testing.assert_array_equal(more[:3], first)
    edited = images[1].copy()
    edited[0, 0] += 1  # same shape, other content: recomputed
    landmarker.transform([images[0], edited])
    assert _calls(landmarker) == (1, 1)
    # a view set, in another order, with a missing view: still only cache hits
    landmarker.set_params(n_views=2).fit([[images[2], None]])
    assert landmarker.transform([[images[2], None], [images[0], images[1]]]).shape == (2, 272)
    assert _calls(landmarker) == (0, 0)
    # the cache is on disk: a clone (or another process) with the same settings reuses it
    again = clone(landmarker).set_params(n_views=None).fit(images)
    np.testing.assert_array_equal(again.transform(images[:1]), first[:1])
    assert _calls(again) == (0, 0)
    # failures are cached too, and still reported on a hit
    for expected_calls in [(1, 0), (0, 0)]:
        with pytest.warns(FailedSamplesWarning, match="1 of 2 views.*1 without a face") as record:
            out = again.transform([images[0], black])
        assert _calls(again) == expected_calls
        (warning,) = [w.message for w in record if w.category is FailedSamplesWarning]
        assert [(f.sample, f.view) for f in warning.failures] == [(1, 0)]
        assert isinstance(warning.failures[0].error, FaceNotFoundError)
        assert np.isnan(out[1]).all() and np.isfinite(out[0, :136]).all()


@pytest.mark.parametrize(
    ("change", "recomputed"),
    [
        ({}, False),
        ({"n_jobs": 2, "verbose": 0, "on_error": "raise"}, False),
        ({"backend": CountingBackend(shift=1.0)}, True),
        ({"detection_width": 40}, True),
        ({"max_pixels": 10**6}, True),
    ],
    ids=["same", "n_jobs-verbose-on_error", "backend-params", "detection_width", "max_pixels"],
)
def test_memory_key_holds_the_result_affecting_parameters(tmp_path, change, recomputed):
    image = np.random.default_rng(1).integers(1, 255, (40, 80, 3), dtype=np.uint8)
    params = dict(backend=CountingBackend(), memory=joblib.Memory(tmp_path, verbose=0))
    with joblib.parallel_config(backend="threading"):  # n_jobs=2: calls are still counted
        expected = FaceLandmarker(**params).fit([image]).transform([image])
        second = FaceLandmarker(**{**params, **change}).fit([image])
        out = second.transform([image])
        assert _calls(second) == ((1, 1) if recomputed else (0, 0))
        if "backend" in change:
            np.testing.assert_array_equal(out, expected + 1.0)
        # a given face box is part of the key
        box = [[10.0, 5.0, 50.0, 35.0]]
        boxed = second.transform([image], face_boxes=box)
        assert _calls(second) == (0, 1)
        np.testing.assert_array_equal(second.transform([image], face_boxes=box), boxed)
        assert _calls(second) == (0, 0)


def test_memory_sees_an_image_edited_in_place(tmp_path, astronaut):
    # Pipeline(memory=...) keys on the path and would return Grace Hopper's landmarks here
    path = tmp_path / "photo.jpg"
    shutil.copyfile(GRACE, path)
    landmarker = FaceLandmarker(memory=str(tmp_path / "cache")).fit([path])
    before = landmarker.transform([path])
    np.testing.assert_array_equal(before, FaceLandmarker().fit([GRACE]).transform([GRACE]))
    Image.fromarray(astronaut).save(path, format="JPEG")  # same path, other photo
    after = landmarker.transform([path])
    np.testing.assert_array_equal(after, FaceLandmarker().fit([path]).transform([path]))
    assert np.abs(after - before).max() > 50


def test_memory_reports_cached_failures_under_their_own_name(tmp_path, bad_files):
    corrupt = tmp_path / "copy of corrupt.jpg"
    shutil.copyfile(bad_files["corrupt"], corrupt)
    landmarker = FaceLandmarker(memory=str(tmp_path / "cache")).fit([GRACE])
    X = [bad_files["corrupt"], bad_files["missing"], str(corrupt)]
    for _ in range(2):  # computed, then from the cache (the missing file has no content)
        with pytest.warns(FailedSamplesWarning, match=r"3 of 3 views.*\(3 unreadable") as record:
            landmarker.transform(X)
        (warning,) = [w.message for w in record if w.category is FailedSamplesWarning]
        errors = [str(f.error) for f in warning.failures]
        assert "corrupt.jpg': not a recognised image format" in errors[0]
        assert "missing.jpg': no such file" in errors[1]
        assert "copy of corrupt.jpg': not a recognised" in errors[2]
        assert warning.failures[2].error.reason.startswith("not a recognised image format")
    with pytest.raises(ImageReadError, match=r"Sample 0, view 0: .*corrupt\.jpg"):
        clone(landmarker).set_params(on_error="raise").fit([GRACE]).transform(X)


def test_memory_keys_on_the_image_not_on_its_container(tmp_path, grace):
    landmarker = FaceLandmarker(memory=str(tmp_path)).fit([GRACE])
    expected = landmarker.transform([GRACE])
    for image in (grace, Image.open(GRACE), grace[:, ::-1]):
        assert _image_digest(image) != _image_digest(GRACE)
    assert _image_digest(Image.open(GRACE)) == _image_digest(Image.fromarray(grace))
    assert _image_digest(grace) != _image_digest(grace.astype(np.uint16))
    assert _image_digest(grace) != _image_digest(grace.reshape(-1, grace.shape[1] // 2, 3))
    np.testing.assert_array_equal(
        landmarker.transform([grace, Image.open(GRACE)]), [expected[0]] * 2
    )


def test_memory_keys_on_the_predictor_file(tmp_path):
    sha256 = backend_identity(DlibBackend())[2]
    assert sha256 == "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
    copy = tmp_path / "predictor.dat"
    shutil.copyfile(default_predictor_path(), copy)
    with open(copy, "ab") as file:
        file.write(b"another model")
    assert backend_identity(DlibBackend(predictor_path=copy))[2] != sha256
    with pytest.raises(InvalidParameterError, match="memory"):
        FaceLandmarker(memory=3).fit([GRACE])


# -- scikit-learn contracts --------------------------------------------------------------------


def test_clone_and_params(tmp_path):
    landmarker = FaceLandmarker(
        backend=DlibBackend(upsample=1), n_jobs=2, on_error="raise", memory=str(tmp_path)
    )
    params = landmarker.get_params()
    assert params["backend__upsample"] == 1 and params["n_jobs"] == 2
    assert params["memory"] == str(tmp_path)
    cloned = clone(landmarker)
    assert cloned.memory == str(tmp_path)
    assert cloned.backend is not landmarker.backend
    assert cloned.get_params()["backend__upsample"] == 1
    cloned.set_params(backend__upsample=2, detection_width=None)
    assert cloned.backend.upsample == 2 and landmarker.backend.upsample == 1
    with pytest.raises(InvalidParameterError, match="on_error"):
        FaceLandmarker(on_error="ignore").fit([GRACE])
    with pytest.raises(InvalidParameterError, match="backend"):
        FaceLandmarker(backend="dlib").fit([GRACE])


def test_fitted_landmarker_pickles(landmarker, tmp_path):
    expected = landmarker.transform([GRACE])
    restored = pickle.loads(pickle.dumps(landmarker))
    np.testing.assert_array_equal(restored.transform([GRACE]), expected)
    cached = clone(landmarker).set_params(memory=joblib.Memory(tmp_path, verbose=0)).fit([GRACE])
    np.testing.assert_array_equal(cached.transform([GRACE]), expected)
    blob = pickle.dumps(cached)
    assert len(blob) < 5000  # no dlib object, no cache content
    np.testing.assert_array_equal(pickle.loads(blob).transform([GRACE]), expected)


def test_parallel_gives_the_same_output(landmarker, grace, astronaut, bad_files):
    X = [GRACE, astronaut, [grace, bad_files["missing"]], astronaut[:, ::-1]]
    single = FaceLandmarker(n_jobs=1).fit(X)
    double = clone(single).set_params(n_jobs=2).fit(X)
    with pytest.warns(FailedSamplesWarning):
        expected = single.transform(X)
    with pytest.warns(FailedSamplesWarning, match="missing.jpg"):
        np.testing.assert_array_equal(double.transform(X), expected)


def test_in_pipeline_and_pandas_output(grace):
    X = pd.Series([GRACE, grace, grace[:, ::-1]], index=["a", "b", "c"])
    pipeline = make_pipeline(FaceLandmarker(), StandardScaler()).fit(X)
    out = pipeline.transform(X)
    assert out.shape == (3, 136) and np.isfinite(out).all()
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)

    frame = FaceLandmarker().set_output(transform="pandas").fit_transform(X)
    assert list(frame.index) == ["a", "b", "c"]
    assert list(frame.columns[:3]) == ["v0_x0", "v0_y0", "v0_x1"]
    assert frame.columns[-1] == "v0_y67"


def test_column_transformer_on_a_table_of_paths():
    table = pd.DataFrame({"photo": [GRACE, GRACE], "age": [85.0, 85.0]})
    columns = ColumnTransformer([("landmarks", FaceLandmarker(), "photo")], remainder="passthrough")
    out = columns.fit_transform(table)
    assert out.shape == (2, 137)
    names = columns.get_feature_names_out()
    assert names[0] == "landmarks__v0_x0" and names[-1] == "remainder__age"


def test_face_boxes_can_be_routed_through_a_pipeline(grace):
    left, top, right, bottom = DlibBackend().detect(grace)[0]
    height, width = grace.shape[:2]
    turned_box = [width - right, height - bottom, width - left, height - top]
    with config_context(enable_metadata_routing=True):
        step = FaceLandmarker().set_transform_request(face_boxes=True)
        pipeline = make_pipeline(step).fit([GRACE])
        routed = pipeline.transform([np.rot90(grace, 2)], face_boxes=[turned_box])
    assert np.isfinite(routed).all()


def test_example_script_draws_landmarks_to_a_png(tmp_path, monkeypatch):
    script = Path(__file__).resolve().parents[1] / "examples" / "plot_landmarks.py"
    output = tmp_path / "landmarks.png"
    monkeypatch.setattr("sys.argv", [str(script), str(output)])
    runpy.run_path(str(script), run_name="__main__")
    with Image.open(output) as png:
        assert png.format == "PNG" and png.width > 400


def test_verbose_shows_a_progress_bar(landmarker, capsys):
    clone(landmarker).set_params(verbose=1).fit([GRACE]).transform([GRACE, GRACE])
    assert "FaceLandmarker" in capsys.readouterr().err


def test_cnn_detector_finds_the_face_and_gives_landmarks_like_hog():
    photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    hog = FaceLandmarker().fit_transform([photo]).reshape(68, 2)
    cnn = FaceLandmarker(detector="cnn").fit_transform([photo]).reshape(68, 2)
    spread = np.ptp(hog, axis=0).max()
    # CNN boxes mapped onto HOG's: nearly the same landmarks (the predictor depends on the box)
    assert np.median(np.abs(cnn - hog)) < 0.02 * spread
    assert FaceLandmarker(detector="cnn").fit([photo]).backend_.detector == "cnn"
    with pytest.raises(ValueError, match="only apply to the default back end"):
        FaceLandmarker(backend=DlibBackend(), detector="cnn").fit([photo])
    with pytest.raises(ValueError, match="detector must be one of"):
        DlibBackend(detector="sift").load()


# -- face box and detector score columns ----------------------------------------------------


class ScoredBackend(CentreBackend):
    """Two faces, the smaller one first, each with a score."""

    def detect(self, image):
        return self.detect_with_scores(image)[0]

    def detect_with_scores(self, image):
        boxes = np.array([[0.0, 0.0, 10.0, 10.0], [4.0, 2.0, 36.0, 30.0]])
        return boxes, np.array([2.5, 0.75])


class MiscountingBackend(ScoredBackend):
    def detect_with_scores(self, image):
        return super().detect_with_scores(image)[0], np.array([1.0])


def test_return_box_columns_follow_the_landmarks(grace):
    landmarker = FaceLandmarker(return_box=True).fit([[grace, grace]])
    names = landmarker.get_feature_names_out()
    assert names[272:].tolist() == [
        f"v{view}_box_{part}"
        for view in (0, 1)
        for part in ("left", "top", "right", "bottom", "score")
    ]
    with pytest.warns(FailedSamplesWarning, match="1 of 3"):
        out = landmarker.transform([[grace, np.zeros((50, 50), np.uint8)], [grace]])
    assert out.shape == (2, 282) == (2, len(names))
    boxes, scores = DlibBackend().detect_with_scores(grace)
    assert scores.shape == (1,) and scores[0] > 0
    np.testing.assert_array_equal(out[0, 272:277], [*boxes[0], scores[0]])
    assert np.isnan(out[0, 277:]).all() and np.isnan(out[1, 277:]).all()  # failed, missing
    plain = FaceLandmarker().fit([[grace, grace]])
    with pytest.warns(FailedSamplesWarning):
        expected = plain.transform([[grace, np.zeros((50, 50), np.uint8)], [grace]])
    np.testing.assert_array_equal(out[:, :272], expected)


def test_return_box_score_is_nan_for_given_boxes_and_unscored_backends(grace):
    landmarker = FaceLandmarker(return_box=True).fit([grace])
    box = [150.0, 100.0, 400.0, 350.0]
    out = landmarker.transform([grace], face_boxes=[box])
    np.testing.assert_array_equal(out[0, 136:140], box)
    assert np.isnan(out[0, 140])
    image = np.zeros((40, 80), np.uint8)
    unscored = FaceLandmarker(CentreBackend(), return_box=True, detection_width=None)
    np.testing.assert_array_equal(unscored.fit_transform([image])[0, 136:140], [20, 10, 60, 30])
    assert np.isnan(unscored.transform([image])[0, 140])
    # the largest box wins, with its own score, scaled back from a downscaled detection
    scored = FaceLandmarker(ScoredBackend(), return_box=True, detection_width=40)
    np.testing.assert_array_equal(scored.fit_transform([image])[0, 136:], [8, 4, 72, 60, 0.75])
    with pytest.raises(TypeError, match="one score per box; got 1 scores for 2 boxes"):
        FaceLandmarker(MiscountingBackend(), return_box=True).fit_transform([image])


def test_cnn_detector_score_is_the_mmod_confidence(grace):
    backend = DlibBackend(detector="cnn")
    boxes, scores = backend.detect_with_scores(grace)
    np.testing.assert_array_equal(boxes, backend.detect(grace))
    out = FaceLandmarker(detector="cnn", return_box=True).fit_transform([grace])
    np.testing.assert_array_equal(out[0, 136:], [*boxes[0], scores[0]])
    assert 0 < scores[0] < 5


def test_landmark_consumers_ignore_the_box_columns(grace, astronaut):
    from sk3dface import FrontalShape, MorphableCoefficientExtractor

    X = [[grace, astronaut], [astronaut, grace]]
    with_box = FaceLandmarker(return_box=True).fit_transform(X)
    plain = with_box[:, :272]
    for make in (MorphableCoefficientExtractor, FrontalShape):
        np.testing.assert_array_equal(
            make().fit(with_box).transform(with_box), make().fit(plain).transform(plain)
        )
    pipeline = make_pipeline(FaceLandmarker(return_box=True), MorphableCoefficientExtractor())
    frame = pipeline.set_output(transform="pandas").fit_transform(X)
    assert frame.shape == (2, 76) and pipeline[1].n_views_ == 2
    assert list(pipeline[1].feature_names_in_[-1:]) == ["v1_box_score"]


def test_memory_keys_on_return_box(tmp_path, grace):
    memory = joblib.Memory(tmp_path, verbose=0)
    plain = FaceLandmarker(memory=memory).fit_transform([grace])
    boxed = FaceLandmarker(memory=memory, return_box=True).fit_transform([grace])
    assert plain.shape == (1, 136) and boxed.shape == (1, 141)
    np.testing.assert_array_equal(boxed[:, :136], plain)
    np.testing.assert_array_equal(FaceLandmarker(memory=memory).fit_transform([grace]), plain)
