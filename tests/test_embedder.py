"""FaceEmbedder: dlib descriptors per view, one detection shared with the landmarks."""

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from sklearn.base import BaseEstimator, clone

from sk3dface import DlibBackend, FaceEmbedder, FaceLandmarker
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.utils._images import load_image

GRACE = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
ASTRONAUT = skimage.data.astronaut()
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"


class CountingDlib(BaseEstimator):
    """dlib's back end, counting its detect calls in ``log``."""

    def __init__(self, log=None):
        self.log = log

    def detect(self, image):
        self.log.append("detect")
        return DlibBackend().detect(image)

    def predict(self, image, box):
        return DlibBackend().predict(image, box)


def test_descriptors_per_view_and_mean_with_names():
    embedder = FaceEmbedder(combine_views="none").fit([[GRACE, ASTRONAUT]])
    out = embedder.transform([[GRACE, ASTRONAUT], [GRACE, None]])
    assert out.shape == (2, 256)
    names = embedder.get_feature_names_out()
    assert names[0] == "v0_emb_0" and names[-1] == "v1_emb_127"
    np.testing.assert_allclose(out[0, :128], out[1, :128])  # the same photo
    assert np.isnan(out[1, 128:]).all()
    # two different people are far apart, as dlib's 0.6 threshold says
    assert np.linalg.norm(out[0, :128] - out[0, 128:]) > 0.6
    mean = FaceEmbedder().fit([[GRACE, ASTRONAUT]]).transform([[GRACE, None]])
    np.testing.assert_allclose(mean[0], out[1, :128])


def test_include_landmarks_equals_the_landmarker_and_detects_once():
    embedder = FaceEmbedder(backend=CountingDlib([]), include_landmarks=True)
    both = embedder.fit_transform([GRACE, ASTRONAUT])
    # one detection per image for landmarks + descriptor (fit works on a clone: count there)
    assert embedder.backend_.log.count("detect") == 2
    landmarks = FaceLandmarker().fit_transform([GRACE, ASTRONAUT])
    np.testing.assert_array_equal(both[:, :136], landmarks)
    assert list(embedder.get_feature_names_out()[134:138]) == ["v0_x67", "v0_y67", "emb_0", "emb_1"]


def test_failures_are_nan_with_one_warning_and_other_rows_kept():
    blank = np.full((200, 200, 3), 128, np.uint8)
    embedder = FaceEmbedder().fit([GRACE])
    alone = embedder.transform([GRACE])
    with pytest.warns(FailedSamplesWarning, match="1 of 2 views") as record:
        out = embedder.transform([blank, GRACE])
    assert len(record) == 1
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], alone[0])


def test_threads_equal_serial_and_pickle_and_cache(tmp_path):
    images = [GRACE, ASTRONAUT, GRACE[:, ::-1].copy(), ASTRONAUT[:, ::-1].copy()]
    if PHOTOS.is_dir():
        images += sorted(str(p) for p in PHOTOS.glob("*.jpg"))
    embedder = FaceEmbedder(combine_views="none").fit(images)
    serial = embedder.transform(images)
    for _ in range(2):
        with joblib.parallel_config(backend="threading", n_jobs=2):
            threaded = clone(embedder).set_params(n_jobs=2).fit(images).transform(images)
        np.testing.assert_array_equal(threaded, serial)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(images), serial)
    cached = clone(embedder).set_params(memory=str(tmp_path)).fit(images)
    np.testing.assert_array_equal(cached.transform(images), serial)
    np.testing.assert_array_equal(cached.transform(images), serial)  # from the cache


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="combine_views"):
        FaceEmbedder(combine_views="max").fit([GRACE])
    with pytest.raises(FileNotFoundError, match="descriptor_path"):
        FaceEmbedder(descriptor_path="/no/such/model.dat").fit([GRACE])
