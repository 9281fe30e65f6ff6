"""Detect once: grid search and cross-validation over image pipelines landmark each image once.

``make_task_pipeline`` gives its landmarker a per-process content cache by default
(``memory="auto"``); ``memory=None`` switches it off. A counting back end (dlib underneath)
records every detection per landmarker setting and image.
"""

import hashlib
import pickle
import uuid
from collections import Counter

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from sk3dface import DlibBackend
from sk3dface.datasets import make_synthetic_face_images
from sk3dface.protocols import make_task_pipeline
from sk3dface.utils._cache import session_cache_dir

# (run, shift, image digest) -> detections; module level, so clones of the back end share it
DETECTIONS: Counter = Counter()


class CountingDlibBackend(BaseEstimator):
    """dlib's back end that counts detections; ``shift`` moves every landmark (a setting).

    ``run`` (a fresh string per test) keeps one test's cache entries from serving another.
    """

    def __init__(self, run="", shift=0.0):
        self.run = run
        self.shift = shift

    def detect(self, image):
        digest = hashlib.sha256(np.ascontiguousarray(image).data).hexdigest()
        DETECTIONS[(self.run, self.shift, digest)] += 1
        return DlibBackend().detect(image)

    def predict(self, image, box):
        return DlibBackend().predict(image, box) + self.shift


@pytest.fixture(scope="module")
def images():
    return make_synthetic_face_images(n_subjects=2, n_expressions=3, n_views=2, random_state=0)


def _counts(run):
    return {key[1:]: n for key, n in DETECTIONS.items() if key[0] == run}


def test_grid_search_detects_each_image_once_per_landmarker_setting(images):
    run = uuid.uuid4().hex
    pipe = make_task_pipeline("identity", classifier="lda")
    pipe.set_params(landmarker__backend=CountingDlibBackend(run))
    grid = {
        "landmarker__backend__shift": [0.0, 0.25],
        "shape__extractor__alpha_reg": [1.0, 10.0],
        "classifier__shrinkage": ["auto", 0.5],
    }
    search = GridSearchCV(pipe, grid, cv=GroupKFold(3), error_score="raise")
    search.fit(list(images.images), images.subject, groups=images.expression)
    # 8 candidates x 3 folds fit and score, plus the refit: all from one detection per image
    assert len(search.cv_results_["params"]) == 8
    counts = _counts(run)
    assert len(counts) == 2 * len(images.images), counts  # every image, under both shifts
    assert set(counts.values()) == {1}, counts
    assert search.best_score_ >= 0.9


def test_without_the_cache_each_fold_detects_again(images):
    run = uuid.uuid4().hex
    pipe = make_task_pipeline("identity", classifier="lda", memory=None)
    pipe.set_params(landmarker__backend=CountingDlibBackend(run))
    assert pipe.named_steps["landmarker"].memory is None
    cross_val_score(
        pipe, list(images.images), images.subject, groups=images.expression, cv=GroupKFold(2)
    )
    counts = _counts(run)
    assert len(counts) == len(images.images)
    # each fold detects its training images in fit and its test images in score
    assert min(counts.values()) >= 2, counts


def test_the_default_cache_survives_clone_get_params_and_pickling():
    pipe = make_task_pipeline("expression")
    folder = pipe.named_steps["landmarker"].memory
    assert folder == session_cache_dir()
    assert make_task_pipeline("gender", features="fused").named_steps["faces"].memory == folder
    assert clone(pipe).get_params()["landmarker__memory"] == folder
    assert pickle.loads(pickle.dumps(pipe)).named_steps["landmarker"].memory == folder
    explicit = make_task_pipeline("identity", memory="landmark-cache")
    assert explicit.named_steps["landmarker"].memory == "landmark-cache"
