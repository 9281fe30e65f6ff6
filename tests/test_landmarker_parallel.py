"""FaceLandmarker under threads and distributed joblib back ends: results equal serial ones.

dlib's detector and shape predictor are not thread-safe; every thread must get its own. The
Dask and Ray tests run a local cluster of worker processes (``dask.distributed``,
``ray.util.joblib``) and skip when the package is not installed; Ray's lack of
``return_as="generator"`` is also reproduced by a tiny custom joblib back end, which runs
without Ray.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
import skimage.data
from conftest import build_kdef_tree
from joblib._parallel_backends import ThreadingBackend
from matplotlib import cbook
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk3dface import FaceLandmarker, MorphableCoefficientExtractor
from sk3dface.datasets import make_synthetic_faces
from sk3dface.utils._images import load_image
from sk3dface.utils._parallel import parallel_map

GRACE = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"
if not PHOTOS.is_dir():
    PHOTOS = Path("/work/shared/photos")
REPETITIONS = 3


@pytest.fixture(scope="module")
def photos():
    """Real photos: Grace Hopper, the astronaut (and mirrored), and shared/photos if present."""
    astronaut = skimage.data.astronaut()
    images = [
        GRACE,
        astronaut,
        load_image(GRACE)[:, ::-1],
        np.ascontiguousarray(astronaut[:, ::-1]),
    ]
    if PHOTOS.is_dir():
        images += sorted(str(path) for path in PHOTOS.glob("*.jpg"))
    return images


@pytest.fixture(scope="module")
def serial(photos):
    landmarker = FaceLandmarker().fit(photos)
    return landmarker, landmarker.transform(photos)


def test_threading_backend_equals_serial(serial, photos):
    landmarker, expected = serial
    assert np.isfinite(expected).all()
    threaded = clone(landmarker).set_params(n_jobs=2).fit(photos)
    for _ in range(REPETITIONS):
        with joblib.parallel_backend("threading", n_jobs=2):
            np.testing.assert_array_equal(threaded.transform(photos * 2), np.vstack([expected] * 2))


def test_two_threads_sharing_one_fitted_landmarker(serial, photos):
    landmarker, expected = serial
    results, errors = {}, []
    start = threading.Barrier(2)

    def run(name):
        try:
            start.wait()
            results[name] = [landmarker.transform(photos) for _ in range(REPETITIONS)]
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for outputs in results.values():
        for output in outputs:
            np.testing.assert_array_equal(output, expected)


# -- back ends without return_as="generator" (Ray's), Dask, threaded cross-validation ----------


class NoGeneratorBackend(ThreadingBackend):
    """Refuses ``return_as="generator"`` the way ``ray.util.joblib``'s RayBackend does."""

    supports_return_generator = False


joblib.register_parallel_backend("sk3dface-no-generator", NoGeneratorBackend)


def test_backend_without_generator_support(serial, photos):
    with joblib.parallel_config(backend="sk3dface-no-generator", n_jobs=2):
        with pytest.raises(ValueError, match="does not support return_as=generator"):
            joblib.Parallel(return_as="generator")(joblib.delayed(abs)(-1) for _ in range(2))
        assert parallel_map(pow, [2, 3, 4], n_jobs=2, verbose=1, exp=2) == [4, 9, 16]
        landmarker, expected = serial
        threaded = clone(landmarker).set_params(n_jobs=2).fit(photos)
        np.testing.assert_array_equal(threaded.transform(photos), expected)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """12 JPEG files of two people (labels 0, 1) for cross-validation."""
    tree = build_kdef_tree(
        tmp_path_factory.mktemp("KDEF"),
        expressions=("HA", "NE", "SA"),
        angles=("S",),
        damaged=False,
        unparseable=False,
    )
    paths = [str(path) for path in tree.good]
    labels = np.array([int("M02" in Path(path).name) for path in paths])
    return paths, labels


def _cv_scores(X, y, n_jobs=None):
    pipeline = make_pipeline(FaceLandmarker(), StandardScaler(), LogisticRegression())
    return cross_val_score(pipeline, X, y, cv=StratifiedKFold(3), n_jobs=n_jobs)


def test_threaded_cross_validation_equals_serial(faces):
    X, y = faces
    expected = _cv_scores(X, y)
    with joblib.parallel_backend("threading", n_jobs=2):
        np.testing.assert_array_equal(_cv_scores(X, y, n_jobs=2), expected)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    cluster = distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_cluster_equals_serial(dask_client, serial, photos, faces):
    landmarker, expected = serial
    X, y = faces
    expected_scores = _cv_scores(X, y)
    distributed_landmarker = clone(landmarker).set_params(n_jobs=2).fit(photos)
    with joblib.parallel_config(backend="dask"):
        np.testing.assert_array_equal(distributed_landmarker.transform(photos), expected)
        np.testing.assert_array_equal(_cv_scores(X, y, n_jobs=2), expected_scores)
    # the work really ran on the cluster's worker processes
    assert any(dask_client.run(lambda: __import__("sys").modules.get("dlib") is not None).values())


@pytest.fixture(scope="module")
def ray_backend():
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from ray.util.joblib import register_ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=200 * 2**20,
        configure_logging=False,
    )
    register_ray()
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_cluster_equals_serial(ray_backend, serial, photos, faces):
    landmarker, expected = serial
    X, y = faces
    expected_scores = _cv_scores(X, y)
    distributed_landmarker = clone(landmarker).set_params(n_jobs=2).fit(photos)
    with joblib.parallel_config(backend="ray"):
        np.testing.assert_array_equal(distributed_landmarker.transform(photos), expected)
        np.testing.assert_array_equal(_cv_scores(X, y, n_jobs=2), expected_scores)
        # a local function: pickled by value, as the workers cannot import this test module
        worker_pids = set(parallel_map(lambda _: os.getpid(), range(4), n_jobs=2))
    # the landmarker's parallel_map really sent its work to Ray's worker processes
    assert worker_pids and os.getpid() not in worker_pids


def test_fitter_on_ray_equals_serial(ray_backend):
    faces = make_synthetic_faces(n_subjects=300, n_views=1, random_state=0)
    extractor = MorphableCoefficientExtractor(n_jobs=2).fit(faces.X)
    expected = clone(extractor).set_params(n_jobs=1).fit(faces.X).transform(faces.X)
    with joblib.parallel_config(backend="ray"):
        np.testing.assert_array_equal(extractor.transform(faces.X), expected)
