"""TDDFABackend and ImageCoefficientRegressor: a random checkpoint here, the real one if present."""

from __future__ import annotations

import collections
import glob
import os
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook

from sk3dface import (
    FaceLandmarker,
    ImageCoefficientRegressor,
    LandmarkBackend,
    MorphableCoefficientExtractor,
    MultiViewAggregator,
    TDDFABackend,
)
from sk3dface.exceptions import FailedSamplesWarning, ModelFormatError
from sk3dface.landmarks._tddfa import load_network, load_normalization, write_random_files

torch = pytest.importorskip("torch")

GRACE = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
V2 = SHARED / "models" / "3ddfa_v2"
BFM = SHARED / "models" / "3ddfa_bfm"
AFLW = SHARED / "datasets" / "aflw2000_sample"
HAVE_REAL = (V2 / "mb05_120x120.pth").is_file() and (BFM / "u_shp.npy").is_file()
needs_real = pytest.mark.skipif(not HAVE_REAL, reason="3DDFA_V2 / 3ddfa_bfm files not present")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_random_files(tmp_path_factory.mktemp("tddfa"))


@pytest.fixture(scope="module")
def real():
    if not HAVE_REAL:
        pytest.skip("3DDFA_V2 / 3ddfa_bfm files not present")
    return {
        "checkpoint": V2 / "mb05_120x120.pth",
        "normalization": V2 / "param_mean_std_62d_120x120.pkl",
        "model": BFM,
    }


# ---- random checkpoint ----------------------------------------------------------------


def test_random_backend_protocol_and_outputs(files):
    backend = TDDFABackend(**files).load()
    assert isinstance(backend, LandmarkBackend)
    from sk3dface.utils._images import load_image

    image = load_image(GRACE)
    result = backend.predict_3dmm(image, [[150, 100, 400, 350], [10, 10, 100, 100]])
    assert result["landmarks"].shape == (2, 68, 2)
    assert result["alpha"].shape == (2, 40) and result["beta"].shape == (2, 10)
    for key in ("yaw", "pitch", "roll", "tx", "ty", "scale", "head_rms"):
        assert result[key].shape == (2,) and np.isfinite(result[key]).all(), key
    one = backend.predict(image, [150, 100, 400, 350])
    np.testing.assert_allclose(one, result["landmarks"][0], rtol=1e-5, atol=1e-4)


def test_pickle_is_small_and_keeps_results(files):
    backend = TDDFABackend(**files)
    landmarks = FaceLandmarker(backend).fit([GRACE]).transform([GRACE])
    blob = pickle.dumps(backend.load())
    assert len(blob) < 2000
    again = pickle.loads(blob)
    np.testing.assert_allclose(FaceLandmarker(again).fit([GRACE]).transform([GRACE]), landmarks)
    assert again.cache_key() == backend.cache_key() and len(backend.cache_key()) == 64


def test_changed_checkpoint_is_refused_after_unpickling(files, tmp_path):
    import shutil

    copy = dict(files, checkpoint=tmp_path / "c.pth")
    shutil.copy(files["checkpoint"], copy["checkpoint"])
    backend = pickle.loads(pickle.dumps(TDDFABackend(**copy).load()))
    net = load_network(copy["checkpoint"])
    with torch.no_grad():
        net.fc_param.bias += 1
    torch.save(net.state_dict(), copy["checkpoint"])
    with pytest.raises(ModelFormatError, match=r"c\.pth: the checkpoint changed"):
        backend.load()


def _broken_checkpoints(folder: Path, good: Path) -> dict[str, tuple[object, str]]:
    state = torch.load(good, weights_only=True)
    sd = {"module." + k: v for k, v in state.items()}
    missing = dict(sd)
    del missing["module.dw3_1.bn_dw.running_var"]
    extra = dict(sd, **{"module.fc_extra.weight": torch.zeros(3)})
    wrong = dict(sd, **{"module.fc_param.weight": torch.zeros(62, 1024)})

    class Evil:
        def __reduce__(self):
            return (os.system, (f"echo PWNED > {folder / 'pwned.txt'}",))

    return {
        "missing.pth": ({"state_dict": missing}, r"1 missing key\(s\) \['dw3_1\.bn_dw"),
        "extra.pth": ({"state_dict": extra}, r"1 unexpected key\(s\) \['fc_extra"),
        "wrong.pth": ({"state_dict": wrong}, r"wrong shape.*fc_param\.weight: file \(62, 1024\)"),
        "tensor.pth": (torch.zeros(3), "expected a state dict"),
        "list.pth": ({"state_dict": {"conv1.weight": [1, 2]}}, "not named tensors"),
        "evil.pth": ({"state_dict": Evil()}, "not a weights-only torch checkpoint"),
        "counter.pth": (collections.Counter(a=1), "not a weights-only"),
    }


def test_broken_checkpoints_name_the_file(files, tmp_path):
    for name, (obj, message) in _broken_checkpoints(tmp_path, files["checkpoint"]).items():
        path = tmp_path / name
        if isinstance(obj, collections.Counter):
            with open(path, "wb") as f:
                pickle.dump(obj, f)
        else:
            torch.save(obj, path)
        with pytest.raises(ModelFormatError, match=message) as info:
            load_network(path)
        assert str(path) in str(info.value), name
    assert not (tmp_path / "pwned.txt").exists()
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint" * 10)
    for name in ("empty.pth", "junk.pth", "absent.pth"):
        with pytest.raises(ModelFormatError, match=name):
            load_network(tmp_path / name)
    # the backend reports the same at load (FaceLandmarker.fit)
    with pytest.raises(ModelFormatError, match=r"absent\.pth"):
        FaceLandmarker(TDDFABackend(**dict(files, checkpoint=tmp_path / "absent.pth"))).fit([GRACE])


def test_broken_normalisation_files_name_the_file(files, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo PWNED",))

    cases = {
        "evil.pkl": ({"mean": Evil(), "std": np.ones(62)}, "refused"),
        "short.pkl": ({"mean": np.zeros(50), "std": np.ones(50)}, "62 finite numbers"),
        "nokeys.pkl": ({"mu": np.zeros(62)}, "no 'mean' array"),
        "list.pkl": ([1, 2], "expected a dict"),
        "negative.pkl": ({"mean": np.zeros(62), "std": -np.ones(62)}, "positive"),
    }
    for name, (obj, message) in cases.items():
        path = tmp_path / name
        with open(path, "wb") as f:
            pickle.dump(obj, f)
        with pytest.raises(ModelFormatError, match=message) as info:
            load_normalization(path)
        assert name in str(info.value)
    with pytest.raises(ModelFormatError, match=r"absent\.pkl"):
        load_normalization(tmp_path / "absent.pkl")
    mean, std = load_normalization(files["normalization"])
    assert mean.shape == std.shape == (62,)


def test_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sk3dface, sk3dface.landmarks._tddfa, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_regressor_layout_failures_and_threads(files):
    backend = TDDFABackend(**files, n_threads=1)
    regressor = ImageCoefficientRegressor(backend).fit([[GRACE, GRACE]])
    names = regressor.get_feature_names_out()
    assert names[0] == "v0_alpha_0" and names[40] == "v0_beta_0" and names[56] == "v0_residual"
    assert len(names) == 2 * (40 + 10 + 7)
    blank = np.zeros((64, 64, 3), np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = regressor.transform([[GRACE, GRACE], [GRACE, None], [blank]])
    counted = [w for w in caught if issubclass(w.category, FailedSamplesWarning)]
    assert len(counted) == 1 and "1 of 4 views" in str(counted[0].message)
    assert np.isfinite(out[0]).all() and np.isnan(out[1, 57:]).all() and np.isnan(out[2]).all()
    with pytest.raises(Exception, match="No face found"):
        ImageCoefficientRegressor(backend, on_error="raise").fit([blank]).transform([blank])
    with pytest.warns(FailedSamplesWarning, match="1 of 3 samples"):
        aggregated = MultiViewAggregator(n_alpha=40, n_beta=10).fit_transform(out)
    assert aggregated.shape == (3, 57)
    threaded = ImageCoefficientRegressor(backend, n_jobs=2).fit([[GRACE, GRACE]])
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda _: regressor.transform([[GRACE, GRACE]]), range(4)))
    for result in [threaded.transform([[GRACE, GRACE]]), *parallel]:
        np.testing.assert_allclose(result, out[:1], rtol=1e-6, atol=1e-6)
    again = pickle.loads(pickle.dumps(regressor))
    np.testing.assert_allclose(again.transform([[GRACE, GRACE]]), out[:1], rtol=1e-6)


# ---- the real 3DDFA_V2 files ----------------------------------------------------------


def _aflw():
    import scipy.io

    from sk3dface.utils._images import load_image

    jpgs = sorted(glob.glob(str(AFLW / "*.jpg")))
    if not jpgs:
        pytest.skip("aflw2000_sample not present")
    gts = [scipy.io.loadmat(j[:-4] + ".mat")["pt3d_68"][:2].T.astype(float) for j in jpgs]
    return [load_image(j) for j in jpgs], gts


def _nme(pred, gt):
    return np.linalg.norm(pred - gt, axis=1).mean() / np.sqrt(np.prod(gt.max(0) - gt.min(0)))


@needs_real
def test_real_nme_and_extractor_on_aflw(real):
    images, gts = _aflw()
    backend = TDDFABackend(**real, detector="hog", upsample=1)
    boxes = np.array([np.r_[g.min(0), g.max(0)] for g in gts])
    landmarker = FaceLandmarker(backend).fit(images)
    landmarks = landmarker.transform(images, face_boxes=boxes)
    nme = np.mean([_nme(p.reshape(68, 2), g) for p, g in zip(landmarks, gts, strict=True)])
    assert nme < 0.045, nme
    extractor = MorphableCoefficientExtractor(BFM, contour="fixed").fit(landmarks)
    coefficients = extractor.transform(landmarks)
    residual = coefficients[:, extractor.layout_.offset("residual")]
    assert np.isfinite(coefficients).all() and np.median(residual) < 5, residual


@needs_real
def test_real_regressor_feeds_aggregator_threads_equal_serial(real):
    images, gts = _aflw()
    images, gts = images[:4], gts[:4]
    boxes = np.array([np.r_[g.min(0), g.max(0)] for g in gts])
    regressor = ImageCoefficientRegressor(TDDFABackend(**real, n_threads=1)).fit(images)
    out = regressor.transform(images, face_boxes=boxes)
    residual = out[:, regressor.layout_.offset("residual")]
    assert np.isfinite(out).all() and (residual < 5).all(), residual
    assert MultiViewAggregator(n_alpha=40, n_beta=10).fit_transform(out).shape == (4, 57)
    threaded = ImageCoefficientRegressor(TDDFABackend(**real, n_threads=1), n_jobs=2)
    np.testing.assert_allclose(
        threaded.fit(images).transform(images, face_boxes=boxes), out, rtol=1e-6, atol=1e-6
    )
    again = pickle.loads(pickle.dumps(regressor))
    np.testing.assert_allclose(again.transform(images, face_boxes=boxes), out, rtol=1e-6)


def test_landmarker_box_columns_with_the_learned_backend(files):
    from sk3dface import DlibBackend, FaceLandmarker
    from sk3dface.utils._images import load_image

    backend = TDDFABackend(**files, upsample=0, n_threads=1)
    out = FaceLandmarker(backend, return_box=True).fit_transform([GRACE])
    boxes, scores = DlibBackend(upsample=0).detect_with_scores(load_image(GRACE))
    np.testing.assert_array_equal(out[0, 136:], [*boxes[0], scores[0]])
    np.testing.assert_allclose(out[0, :136], backend.predict(load_image(GRACE), boxes[0]).ravel())
