"""Model loaders on small files written here in each real format, the real 3DDFA files where
present, the safe unpickler against malicious pickles, and every bad-input case."""

from __future__ import annotations

import logging
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from sk3dface import (
    MorphableModel,
    load_3ddfa,
    load_bfm2009,
    load_bfm_front,
    load_flame,
    load_model,
    make_default_model,
)
from sk3dface.exceptions import ModelFormatError, UnsafePickleError
from sk3dface.models.io import _common
from sk3dface.models.io._common import _load_npy
from sk3dface.utils import _safe_pickle

REAL_3DDFA = Path(__file__).resolve().parents[2] / "shared" / "models" / "3ddfa_bfm"
FACE_MM = make_default_model().landmarks()


def _face_vertices(rng, n_extra, unit_per_mm):
    """Vertices of a face-like point cloud: the 68 default landmarks hidden among others."""
    n = 68 + n_extra
    order = rng.permutation(n)
    mean = np.empty((n, 3))
    mean[order[:68]] = FACE_MM
    mean[order[68:]] = rng.normal(scale=50.0, size=(n_extra, 3))
    return mean * unit_per_mm, order[:68]


def _rows(vertices):
    return (3 * np.asarray(vertices)[:, None] + np.arange(3)).ravel()


# ----------------------------------------------------------------------------- writers
def write_bfm_front(path, rng, **changes):
    mean, lmk = _face_vertices(rng, 40, 0.01)  # decimetres
    n = len(mean)
    data = {
        "meanshape": mean.reshape(1, -1),
        "idBase": rng.normal(size=(3 * n, 5)),
        "exBase": rng.normal(size=(3 * n, 4)).astype(np.float32),
        "meantex": rng.uniform(0, 255, size=(1, 3 * n)),
        "texBase": rng.normal(size=(3 * n, 3)),
        "tri": rng.integers(1, n + 1, size=(20, 3)).astype(float),
        "keypoints": (lmk + 1).reshape(1, 68).astype(float),
        "point_buf": rng.integers(1, 21, size=(n, 8)),
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    scipy.io.savemat(path, data)
    return data, lmk


def write_exp_pca_bin(path, mean_flat, components):
    k = components.shape[0]
    with open(path, "wb") as f:
        f.write(np.int32(k).tobytes())
        f.write(mean_flat.astype("<f4").tobytes())
        f.write(components.astype("<f4").tobytes())


def write_bfm2009(folder, rng, n_exp=4):
    """01_MorphableModel.mat + Guo et al.'s Exp_Pca.bin, std_exp.txt, BFM_exp_idx.mat."""
    mean, lmk = _face_vertices(rng, 50, 1000.0)  # micrometres
    n = len(mean)
    dropped = rng.choice(np.setdiff1d(np.arange(n), lmk), size=10, replace=False)
    keep = np.setdiff1d(np.arange(n), dropped)  # the expression model's vertices
    m = keep.size
    mat = {
        "shapeMU": mean.reshape(-1, 1).astype(np.float32),
        "shapePC": rng.normal(size=(3 * n, 7)).astype(np.float32),
        "shapeEV": rng.uniform(1e3, 5e3, size=(7, 1)).astype(np.float32),
        "texMU": rng.uniform(0, 255, size=(3 * n, 1)),
        "texPC": rng.normal(size=(3 * n, 3)),
        "texEV": rng.uniform(1, 5, size=(3, 1)),
        "tl": rng.integers(1, n + 1, size=(40, 3)).astype(np.int32),
    }
    scipy.io.savemat(folder / "01_MorphableModel.mat", mat)
    exp_mean = rng.normal(scale=100.0, size=3 * m)
    components = rng.normal(size=(n_exp, 3 * m))
    write_exp_pca_bin(folder / "Exp_Pca.bin", exp_mean, components)
    std = rng.uniform(1e3, 2e3, size=n_exp)
    np.savetxt(folder / "std_exp.txt", std)
    scipy.io.savemat(folder / "BFM_exp_idx.mat", {"trimIndex": (keep + 1).reshape(-1, 1)})
    landmarks_in_kept = np.searchsorted(keep, lmk)
    return mat, keep, exp_mean, components, std, landmarks_in_kept


def write_3ddfa_pkl(folder, rng, n_shp=5, n_exp=3, whitening="param_mean_std_62d_120x120.pkl"):
    mean, lmk = _face_vertices(rng, 30, 1000.0)
    n = len(mean)
    data = {
        "u": mean.reshape(-1, 1).astype(np.float32),
        "w_shp": rng.normal(size=(3 * n, n_shp)).astype(np.float32),
        "w_exp": rng.normal(size=(3 * n, n_exp)).astype(np.float32),
        "keypoints": _rows(lmk),
        "tri": rng.integers(0, n, size=(3, 25)),
    }
    with open(folder / "bfm_noneck_v3.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    std = rng.uniform(1.0, 3.0, size=12 + n_shp + n_exp).astype(np.float32)
    if whitening:
        with open(folder / whitening, "wb") as f:
            pickle.dump({"mean": np.zeros_like(std), "std": std}, f, protocol=2)
    return data, std, lmk


def write_3ddfa_folder(folder, rng):
    mean, lmk = _face_vertices(rng, 30, 1000.0)
    n = len(mean)
    u_exp = rng.normal(scale=10.0, size=(3 * n, 1))
    arrays = {
        "u_shp": (mean.reshape(-1, 1) - u_exp).astype(np.float32),
        "u_exp": u_exp.astype(np.float32),
        "w_shp_sim": rng.normal(size=(3 * n, 40)).astype(np.float32),
        "w_exp_sim": rng.normal(size=(3 * n, 10)).astype(np.float32),
        "keypoints_sim": _rows(lmk).astype(np.int64),
    }
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    std = rng.uniform(1.0, 3.0, size=62).astype(np.float32)
    with open(folder / "param_whitening.pkl", "wb") as f:
        pickle.dump({"param_mean": np.zeros(62, np.float32), "param_std": std}, f, protocol=2)
    return arrays, std, lmk


class _FakeChumpy:
    """Install a stand-in ``chumpy.ch`` module only while FLAME-style pickles are written."""

    def __enter__(self):
        ch_module = types.ModuleType("chumpy.ch")
        package = types.ModuleType("chumpy")

        class Ch:  # what matters is chumpy's pickled state: a __dict__ holding 'x'
            def __init__(self, x):
                self.x = np.asarray(x, dtype=np.float64)
                self._dirty_vars = set()
                self._itr = None
                self._depends_on_deps = {}
                self._make_dense = False

        class Select(Ch):  # a derived expression: no stored 'x'
            def __init__(self, a):
                self.a = a
                self.idxs = np.arange(3)

        for cls in (Ch, Select):
            cls.__module__, cls.__qualname__ = "chumpy.ch", cls.__name__
            setattr(ch_module, cls.__name__, cls)
        package.ch = ch_module
        self.saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
        sys.modules.update({"chumpy": package, "chumpy.ch": ch_module})
        return Ch, Select

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def write_flame(folder, rng, n_shape=4, n_expr=2, derived_shapedirs=False):
    """generic_model.pkl (chumpy arrays, sparse J_regressor) + landmark embeddings.

    Each landmark lies inside its own triangle with random barycentric weights.
    """
    weights = rng.dirichlet([2.0, 2.0, 2.0], size=68)
    d1, d2 = rng.normal(scale=3.0, size=(2, 68, 3))
    d3 = -(weights[:, :1] * d1 + weights[:, 1:2] * d2) / weights[:, 2:]
    corners = np.stack([FACE_MM + d1, FACE_MM + d2, FACE_MM + d3], axis=1)  # (68, 3, 3)
    extra = rng.normal(scale=50.0, size=(30, 3))
    mean_mm = np.vstack([corners.reshape(-1, 3), extra])
    n = len(mean_mm)
    faces = np.vstack([np.arange(204).reshape(68, 3), rng.integers(0, n, size=(10, 3))])
    order = rng.permutation(len(faces))  # the landmark triangles are scattered in f
    faces = faces[order]
    face_of_landmark = np.argsort(order)[:68]
    shapedirs = rng.normal(scale=1e-3, size=(n, 3, n_shape + n_expr))
    with _FakeChumpy() as (Ch, Select):
        model = {
            "v_template": Ch(mean_mm / 1000.0),  # metres
            "shapedirs": Select(Ch(shapedirs)) if derived_shapedirs else Ch(shapedirs),
            "f": faces.astype(np.uint32),
            "J_regressor": scipy.sparse.csc_matrix(rng.uniform(size=(5, n)) > 0.9, dtype=float),
            "weights": Ch(rng.dirichlet(np.ones(5), size=n)),
            "posedirs": Ch(rng.normal(size=(n, 3, 36))),
            "kintree_table": np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
            "bs_style": "lbs",
        }
        with open(folder / "generic_model.pkl", "wb") as f:
            pickle.dump(model, f, protocol=2)
    embedding = {
        "full_lmk_faces_idx": face_of_landmark.reshape(1, 68),
        "full_lmk_bary_coords": weights.reshape(1, 68, 3),
    }
    np.save(folder / "landmark_embedding.npy", embedding, allow_pickle=True)
    static = {"lmk_face_idx": face_of_landmark[17:], "lmk_b_coords": weights[17:]}
    with open(folder / "flame_static_embedding.pkl", "wb") as f:
        pickle.dump(static, f, protocol=2)
    dynamic_faces = rng.integers(0, len(faces), size=(79, 17))
    dynamic_faces[39] = face_of_landmark[:17]
    dynamic_bary = rng.dirichlet(np.ones(3), size=(79, 17))
    dynamic_bary[39] = weights[:17]
    dynamic = {"lmk_face_idx": dynamic_faces, "lmk_b_coords": dynamic_bary}
    np.save(folder / "flame_dynamic_embedding.npy", dynamic, allow_pickle=True)
    vertex_of = faces[face_of_landmark]  # (68, 3)
    return mean_mm / 1000.0, shapedirs, weights, vertex_of


# ----------------------------------------------------------------------------- BFM front
def test_load_bfm_front(tmp_path):
    rng = np.random.default_rng(0)
    data, lmk = write_bfm_front(tmp_path / "BFM_model_front.mat", rng)
    model = load_bfm_front(tmp_path / "BFM_model_front.mat")
    n = data["meanshape"].size // 3
    assert (model.n_vertices, model.n_alpha, model.n_beta, model.units) == (n, 5, 4, "dm")
    np.testing.assert_allclose(model.mean, data["meanshape"].reshape(-1, 3))
    np.testing.assert_allclose(model.identity_basis, data["idBase"])  # already scaled
    np.testing.assert_allclose(model.expression_basis, data["exBase"])
    np.testing.assert_array_equal(model.landmark_indices, lmk)  # 1-based in the file
    np.testing.assert_array_equal(model.triangles, data["tri"] - 1)
    np.testing.assert_allclose(model.texture_mean, data["meantex"].reshape(-1, 3))
    np.testing.assert_allclose(model.landmarks() * 100.0, FACE_MM, atol=1e-9)
    assert "non-commercial" in model.license
    assert load_model(tmp_path / "BFM_model_front.mat").n_beta == 4


# ----------------------------------------------------------------------------- BFM 2009
def test_load_bfm2009_with_guo_expression_files(tmp_path):
    rng = np.random.default_rng(1)
    mat, keep, exp_mean, components, std, lmk = write_bfm2009(tmp_path, rng)
    model = load_bfm2009(
        tmp_path / "01_MorphableModel.mat", tmp_path / "Exp_Pca.bin", landmark_indices=lmk
    )
    rows = _rows(keep)
    assert (model.n_vertices, model.n_alpha, model.n_beta, model.units) == (keep.size, 7, 4, "um")
    expected_mean = mat["shapeMU"].astype(float).ravel()[rows] + exp_mean.astype(np.float32)
    np.testing.assert_allclose(model.mean.ravel(), expected_mean, rtol=1e-6)
    np.testing.assert_allclose(
        model.identity_basis, (mat["shapePC"][rows] * mat["shapeEV"].T).astype(float), rtol=1e-6
    )
    np.testing.assert_allclose(
        model.expression_basis, components.T.astype(np.float32) * std, rtol=1e-6
    )
    # triangles: only those among kept vertices, renumbered
    tl = mat["tl"] - 1
    inside = np.isin(tl, keep).all(axis=1)
    np.testing.assert_array_equal(keep[model.triangles], tl[inside])
    assert model.texture_basis.shape == (3 * keep.size, 3)
    assert "FaceWarehouse" in model.license
    # the same through load_model, with a landmark file
    np.save(tmp_path / "lmk.npy", lmk)
    via_detect = load_model(
        tmp_path / "01_MorphableModel.mat",
        expression_path=tmp_path / "Exp_Pca.bin",
        landmark_indices=tmp_path / "lmk.npy",
    )
    np.testing.assert_allclose(via_detect.landmarks(), model.landmarks())


def test_load_bfm2009_identity_only_and_npz_expression(tmp_path):
    rng = np.random.default_rng(2)
    mat, *_ = write_bfm2009(tmp_path, rng)
    mean = mat["shapeMU"].reshape(-1, 3).astype(float)
    lmk_full = np.array([int(np.argmin(np.linalg.norm(mean - p * 1000, axis=1))) for p in FACE_MM])
    plain = load_bfm2009(tmp_path / "01_MorphableModel.mat", landmark_indices=lmk_full)
    assert (plain.n_vertices, plain.n_beta) == (len(mean), 0)
    assert "FaceWarehouse" not in plain.license
    basis = rng.normal(size=(3 * len(mean), 2))
    np.savez(tmp_path / "expr.npz", mean=np.zeros((len(mean), 3)), basis=basis, std=[2.0, 3.0])
    model = load_bfm2009(
        tmp_path / "01_MorphableModel.mat", tmp_path / "expr.npz", landmark_indices=lmk_full
    )
    np.testing.assert_allclose(model.expression_basis, basis * [2.0, 3.0])


# ----------------------------------------------------------------------------- 3DDFA
def test_load_3ddfa_pickle(tmp_path):
    rng = np.random.default_rng(3)
    data, std, lmk = write_3ddfa_pkl(tmp_path, rng)
    model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl")
    np.testing.assert_allclose(model.mean.ravel(), data["u"].ravel())
    np.testing.assert_allclose(model.identity_basis, data["w_shp"] * std[12:17], rtol=1e-6)
    np.testing.assert_allclose(model.expression_basis, data["w_exp"] * std[17:20], rtol=1e-6)
    np.testing.assert_array_equal(model.landmark_indices, lmk)
    np.testing.assert_array_equal(model.triangles, data["tri"].T)
    assert model.units == "um"
    assert load_model(tmp_path / "bfm_noneck_v3.pkl").n_alpha == 5


def test_load_3ddfa_pickle_with_62d_whitening_truncates_to_40_10(tmp_path):
    rng = np.random.default_rng(4)
    data, _, _ = write_3ddfa_pkl(tmp_path, rng, n_shp=45, n_exp=12, whitening=None)
    std = rng.uniform(1, 2, size=62)
    with open(tmp_path / "stats.pkl", "wb") as f:
        pickle.dump({"mean": np.zeros(62), "std": std}, f)
    model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl", whitening_path=tmp_path / "stats.pkl")
    assert (model.n_alpha, model.n_beta) == (40, 10)
    np.testing.assert_allclose(model.expression_basis, data["w_exp"][:, :10] * std[52:62])


def test_load_3ddfa_folder(tmp_path):
    rng = np.random.default_rng(5)
    arrays, std, lmk = write_3ddfa_folder(tmp_path, rng)
    model = load_model(tmp_path)
    expected = arrays["u_shp"].astype(float) + arrays["u_exp"].astype(float)
    np.testing.assert_allclose(model.mean.ravel(), expected.ravel())
    np.testing.assert_allclose(model.identity_basis, arrays["w_shp_sim"] * std[12:52], rtol=1e-6)
    np.testing.assert_allclose(model.expression_basis, arrays["w_exp_sim"] * std[52:], rtol=1e-6)
    np.testing.assert_array_equal(model.landmark_indices, lmk)


# ----------------------------------------------------------------------------- FLAME
def test_load_flame_without_chumpy(tmp_path):
    rng = np.random.default_rng(6)
    mean, shapedirs, weights, vertex_of = write_flame(tmp_path, rng)
    assert "chumpy" not in sys.modules
    model = load_flame(
        tmp_path / "generic_model.pkl", tmp_path / "landmark_embedding.npy", n_shape=4
    )
    n = len(mean)
    assert (model.n_vertices, model.n_alpha, model.n_beta) == (n + 68, 4, 2)
    assert model.units == "m" and "non-commercial" in model.license
    np.testing.assert_array_equal(model.landmark_indices, n + np.arange(68))
    np.testing.assert_allclose(model.mean[:n], mean)
    np.testing.assert_allclose(model.identity_basis[: 3 * n], shapedirs[..., :4].reshape(3 * n, 4))
    # landmarks are exact barycentric points, for any coefficients
    np.testing.assert_allclose(model.landmarks() * 1000, FACE_MM, atol=1e-9)
    alpha, beta = rng.normal(size=4), rng.normal(size=2)
    vertices = model.shape(alpha, beta)[:n]
    expected = np.einsum("lc,lck->lk", weights, vertices[vertex_of])
    np.testing.assert_allclose(model.landmarks(alpha, beta), expected, atol=1e-12)
    assert model.triangles.max() < n
    assert "chumpy" not in sys.modules


def test_load_flame_static_plus_dynamic_embedding_and_nearest_vertex(tmp_path):
    rng = np.random.default_rng(7)
    mean, _, weights, vertex_of = write_flame(tmp_path, rng)
    exact = load_model(
        tmp_path / "generic_model.pkl",
        landmark_embedding_path=tmp_path / "flame_static_embedding.pkl",
        dynamic_embedding_path=tmp_path / "flame_dynamic_embedding.npy",
        n_shape=4,
    )
    np.testing.assert_allclose(exact.landmarks() * 1000, FACE_MM, atol=1e-9)
    nearest = load_flame(
        tmp_path / "generic_model.pkl",
        tmp_path / "landmark_embedding.npy",
        n_shape=4,
        exact_landmarks=False,
    )
    assert nearest.n_vertices == len(mean)
    np.testing.assert_array_equal(
        nearest.landmark_indices, vertex_of[np.arange(68), weights.argmax(1)]
    )


# ----------------------------------------------------------------------------- load_model
def test_load_model_passthrough_default_and_npz(tmp_path):
    model = make_default_model()
    assert load_model(model) is model
    assert load_model("default").n_alpha == 16
    model.save(tmp_path / "mine.npz")
    assert load_model(tmp_path / "mine.npz").expression_names == model.expression_names
    assert load_model(str(tmp_path / "mine.npz")).units == "mm"
    with pytest.raises(TypeError, match=r"do not apply"):
        load_model("default", landmark_indices=[1])
    with pytest.raises(TypeError, match=r"expects a path"):
        load_model(123)
    with pytest.raises(
        TypeError, match=r"unexpected options \['landmark_indices'\] for a MorphableModel .npz"
    ):
        load_model(tmp_path / "mine.npz", landmark_indices=[1])


def test_npz_readers_refuse_non_archives_naming_the_file(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")  # one array, not an archive
    with pytest.raises(ModelFormatError, match=r"single\.npz: .*not an \.npz archive"):
        load_model(tmp_path / "single.npz")
    (tmp_path / "empty.npz").touch()
    with pytest.raises(ModelFormatError, match=r"empty\.npz: not a readable \.npz"):
        load_model(tmp_path / "empty.npz")
    np.savez(tmp_path / "objects.npz", mean=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFormatError, match=r"objects\.npz: not a readable \.npz"):
        MorphableModel.load(tmp_path / "objects.npz")
    write_bfm2009(tmp_path, np.random.default_rng(17))
    with pytest.raises(ModelFormatError, match=r"objects\.npz: not a readable \.npz"):
        load_bfm2009(tmp_path / "01_MorphableModel.mat", tmp_path / "objects.npz",
                     landmark_indices=np.arange(68))  # fmt: skip


def test_licence_is_logged_once(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(_common, "_noted", set())
    write_bfm_front(tmp_path / "front.mat", np.random.default_rng(8))
    with caplog.at_level(logging.INFO, logger="sk3dface"):
        load_model(tmp_path / "front.mat")
        load_model(tmp_path / "front.mat")
    notes = [r for r in caplog.records if "non-commercial" in r.getMessage()]
    assert len(notes) == 1


# ----------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def real_3ddfa():
    if not REAL_3DDFA.exists():
        pytest.skip("real 3DDFA BFM files not available")
    return load_3ddfa(REAL_3DDFA)


def test_real_3ddfa_model(real_3ddfa):
    model = real_3ddfa
    assert (model.n_vertices, model.n_alpha, model.n_beta) == (53215, 40, 10)
    assert model.units == "um" and "non-commercial" in model.license
    lm = model.landmarks()
    assert lm[36, 0] < lm[45, 0]  # subject's right eye outer corner at smaller x
    assert lm[0, 0] < lm[16, 0] and lm[48, 0] < lm[54, 0]
    assert 80_000 < lm[45, 0] - lm[36, 0] < 100_000  # ~90 mm in micrometres
    # one identity std moves a vertex ~1-5 mm RMS: the std scaling was applied
    rms = np.linalg.norm(model.identity_basis, axis=0) / np.sqrt(model.n_vertices)
    assert 1_000 < rms[0] < 5_000 and np.all(np.diff(rms[:5]) < 0)
    small = model.landmark_model()
    rng = np.random.default_rng(9)
    alpha, beta = rng.normal(size=(2, 40)), rng.normal(size=(2, 10))
    np.testing.assert_allclose(small.landmarks(alpha, beta), model.landmarks(alpha, beta))


# ----------------------------------------------------------------------------- safety
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickles_are_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "generic_model.pkl", "wb") as f:
        pickle.dump({"v_template": _Evil(marker)}, f)
    with pytest.raises(UnsafePickleError, match=r"refused to load (posix|nt|os)\.system"):
        load_model(tmp_path / "generic_model.pkl")
    with pytest.raises(UnsafePickleError, match=r"generic_model.pkl"):
        load_flame(tmp_path / "generic_model.pkl", tmp_path / "none.npy")
    # the same inside a .npy object array (a landmark embedding) and a whitening file
    np.save(tmp_path / "landmark_embedding.npy", np.array(_Evil(marker), dtype=object))
    with pytest.raises(UnsafePickleError):
        _load_npy(tmp_path / "landmark_embedding.npy")
    rng = np.random.default_rng(10)
    write_3ddfa_pkl(tmp_path, rng, whitening=None)
    with open(tmp_path / "param_whitening.pkl", "wb") as f:
        pickle.dump({"std": _Evil(marker)}, f)
    with pytest.raises(UnsafePickleError):
        load_3ddfa(tmp_path / "bfm_noneck_v3.pkl")
    assert not marker.exists()
    assert issubclass(UnsafePickleError, ModelFormatError)


def test_safe_unpickler_refuses_eval_and_reads_plain_data():
    class EvalPayload:
        def __reduce__(self):
            return (eval, ("1 + 1",))

    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        _safe_pickle.loads(pickle.dumps(EvalPayload()))
    data = {"a": np.arange(4, dtype=np.float32), "b": [1, "x", (2.5,)], "c": {1, 2}}
    for protocol in range(6):
        out = _safe_pickle.loads(pickle.dumps(data, protocol=protocol))
        np.testing.assert_array_equal(out["a"], data["a"])
        assert out["b"] == data["b"] and out["c"] == data["c"]
    with pytest.raises(ModelFormatError, match=r"not a readable pickle"):
        _safe_pickle.loads(b"\x80\x02}q\x00(X")


# ----------------------------------------------------------------------------- bad input
def test_unreadable_and_unknown_files(tmp_path):
    (tmp_path / "fake.mat").write_text("hello")
    with pytest.raises(ModelFormatError, match=r"fake\.mat: not a readable MATLAB"):
        load_model(tmp_path / "fake.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"weights": np.zeros(3)})
    with pytest.raises(ModelFormatError, match=r"variables \['weights'\]"):
        load_model(tmp_path / "other.mat")
    (tmp_path / "model.obj").write_text("v 0 0 0")
    with pytest.raises(
        ModelFormatError, match=r"unknown type '.obj', which is no model format we know; supported"
    ):
        load_model(tmp_path / "model.obj")
    with pytest.raises(FileNotFoundError, match=r"missing.mat"):
        load_model(tmp_path / "missing.mat")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "readme.txt").write_text("x")
    with pytest.raises(ModelFormatError, match=r"a folder holding \[.readme.txt.\]"):
        load_model(tmp_path / "folder")
    with open(tmp_path / "list.pkl", "wb") as f:
        pickle.dump([1, 2], f)
    with pytest.raises(ModelFormatError, match=r"a pickle holding list"):
        load_model(tmp_path / "list.pkl")
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps({"u": np.zeros(9)})[:20])
    with pytest.raises(ModelFormatError, match=r"not a readable pickle"):
        load_model(tmp_path / "cut.pkl")
    header = b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM"
    (tmp_path / "hdf5.mat").write_bytes(header + b"\x00" * 512)
    with pytest.raises(ModelFormatError, match=r"v7.3"):
        load_bfm_front(tmp_path / "hdf5.mat")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exBase": None}, r"missing array 'exBase'; found \["),
        ({"idBase": np.zeros((30, 5))}, r"idBase must have shape \(3\*n_vertices"),
        ({"meanshape": np.zeros((1, 10))}, "meanshape has 10 values, not a positive multiple"),
        ({"keypoints": np.arange(1, 60)}, "expected the 68 iBUG landmark vertices"),
        ({"keypoints": np.full(68, 999.0)}, "landmark_indices must be 0-based vertex indices"),
        ({"keypoints": np.zeros(68)}, r"landmark_indices must be 0-based.* \[-1, -1\]"),
        ({"tri": np.zeros((4, 2))}, r"triangles must have shape \(n_triangles, 3\)"),
    ],
)
def test_bfm_front_inconsistent_files(tmp_path, changes, message):
    write_bfm_front(tmp_path / "m.mat", np.random.default_rng(11), **changes)
    with pytest.raises(ModelFormatError, match=r"m\.mat: " + message):
        load_bfm_front(tmp_path / "m.mat")


def test_nan_in_a_basis_is_refused(tmp_path):
    rng = np.random.default_rng(12)
    data, _ = write_bfm_front(tmp_path / "m.mat", rng)
    id_base = data["idBase"].copy()
    id_base[7, 2] = np.nan
    write_bfm_front(tmp_path / "nan.mat", np.random.default_rng(12), idBase=id_base)
    with pytest.raises(ModelFormatError, match=r"nan\.mat: identity_basis contains 1 NaN"):
        load_bfm_front(tmp_path / "nan.mat")


def test_mirrored_or_misordered_landmarks_are_refused(tmp_path):
    rng = np.random.default_rng(13)
    data, _ = write_bfm_front(tmp_path / "m.mat", rng)
    mirrored = data["meanshape"].reshape(-1, 3) * [-1, 1, 1]
    write_bfm_front(tmp_path / "mirror.mat", np.random.default_rng(13), meanshape=mirrored)
    with pytest.raises(ModelFormatError, match=r"right eye .* is not at smaller x"):
        load_model(tmp_path / "mirror.mat")
    upside_down = data["meanshape"].reshape(-1, 3) * [-1, -1, 1]
    write_bfm_front(tmp_path / "flip.mat", np.random.default_rng(13), meanshape=upside_down)
    with pytest.raises(ModelFormatError, match=r"eyes are not above the chin"):
        load_model(tmp_path / "flip.mat")


def test_bfm2009_missing_pieces(tmp_path):
    rng = np.random.default_rng(14)
    *_, lmk = write_bfm2009(tmp_path, rng)
    mat = tmp_path / "01_MorphableModel.mat"
    with pytest.raises(ModelFormatError, match=r"no 68-landmark vertex list; pass landmark_ind"):
        load_model(mat)
    (tmp_path / "std_exp.txt").unlink()
    with pytest.raises(ModelFormatError, match=r"pass expression_std"):
        load_bfm2009(mat, tmp_path / "Exp_Pca.bin", landmark_indices=lmk)
    (tmp_path / "BFM_exp_idx.mat").unlink()
    with pytest.raises(ModelFormatError, match=r"pass vertex_indices"):
        load_bfm2009(mat, tmp_path / "Exp_Pca.bin", landmark_indices=lmk, expression_std=[1] * 4)
    (tmp_path / "bad.bin").write_bytes(np.int32(5).tobytes() + b"\x00" * 28)
    with pytest.raises(ModelFormatError, match=r"bad\.bin: not an Exp_Pca\.bin file"):
        load_bfm2009(mat, tmp_path / "bad.bin", landmark_indices=lmk)
    np.savez(tmp_path / "expr.npz", basis=np.zeros((3, 1)))
    with pytest.raises(ModelFormatError, match=r"missing array 'mean' .*expression files need"):
        load_bfm2009(mat, tmp_path / "expr.npz", landmark_indices=lmk)


def test_3ddfa_missing_pieces(tmp_path):
    rng = np.random.default_rng(15)
    write_3ddfa_pkl(tmp_path, rng, whitening=None)
    with pytest.raises(ModelFormatError, match=r"need the parameter std .* whitening_path="):
        load_3ddfa(tmp_path / "bfm_noneck_v3.pkl")
    with open(tmp_path / "param_whitening.pkl", "wb") as f:
        pickle.dump({"param_std": np.ones(30)}, f)
    with pytest.raises(
        ModelFormatError,
        match=r"param_whitening\.pkl: the parameter std has 30 entries; the model "
        r"bfm_noneck_v3\.pkl needs 12",
    ):
        load_3ddfa(tmp_path / "bfm_noneck_v3.pkl")
    with pytest.raises(TypeError, match=r"unexpected keyword argument .landmark_indices."):
        load_model(tmp_path / "bfm_noneck_v3.pkl", landmark_indices=[0])
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "folder" / "u_shp.npy", np.zeros(3))
    with pytest.raises(ModelFormatError, match=r"not a 3DDFA model folder: missing"):
        load_3ddfa(tmp_path / "folder")


def test_flame_bad_embeddings_and_chumpy_expressions(tmp_path):
    rng = np.random.default_rng(16)
    write_flame(tmp_path, rng)
    model = tmp_path / "generic_model.pkl"
    with pytest.raises(ModelFormatError, match=r"51 static landmarks .* dynamic_embedding_path"):
        load_flame(model, tmp_path / "flame_static_embedding.pkl", n_shape=4)
    with pytest.raises(ModelFormatError, match=r"no 68-landmark vertex list of its own"):
        load_model(model)
    with pytest.raises(ValueError, match=r"n_shape must be in \[0, 6\] for .*generic_model\.pkl"):
        load_flame(model, tmp_path / "landmark_embedding.npy")
    np.save(
        tmp_path / "bad_embedding.npy",
        {"full_lmk_faces_idx": np.full(68, 10_000), "full_lmk_bary_coords": np.ones((68, 3))},
    )
    with pytest.raises(ModelFormatError, match=r"landmark face indices must be in"):
        load_flame(model, tmp_path / "bad_embedding.npy", n_shape=4)
    np.save(tmp_path / "unknown.npy", {"points": np.zeros(3)})
    with pytest.raises(ModelFormatError, match=r"not a FLAME landmark embedding"):
        load_flame(model, tmp_path / "unknown.npy", n_shape=4)
    (tmp_path / "derived").mkdir()
    write_flame(tmp_path / "derived", rng, derived_shapedirs=True)
    with pytest.raises(ModelFormatError, match=r"shapedirs is a pickled chumpy.ch.Select"):
        load_flame(tmp_path / "derived" / "generic_model.pkl", tmp_path / "landmark_embedding.npy")


def test_model_format_errors_are_value_errors():
    with pytest.raises(ValueError):
        MorphableModel(np.zeros((68, 3)), np.zeros((10, 1)), np.zeros((204, 1)), np.arange(68))


def _broken_npz_files(tmp_path):
    """A truncated valid archive, random bytes named .npz and an empty file."""
    make_default_model().save(tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    files = {
        "truncated.npz": data[: len(data) // 2],
        "random.npz": np.random.default_rng(0).bytes(500),
        "empty.npz": b"",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return [tmp_path / name for name in files]


@pytest.mark.parametrize("reader", [load_model, MorphableModel.load])
def test_corrupt_npz_is_a_model_format_error_naming_the_file(tmp_path, reader):
    for path in _broken_npz_files(tmp_path):
        with pytest.raises(ModelFormatError, match=rf"{path.name}: not a readable \.npz") as info:
            reader(path)
        assert info.value.__cause__ is None  # no zipfile traceback chained to the message


def test_corrupt_npz_member_is_a_model_format_error(tmp_path):
    """The central directory is intact but a compressed member is damaged."""
    make_default_model().save(tmp_path / "good.npz", compressed=True)
    data = bytearray((tmp_path / "good.npz").read_bytes())
    middle = len(data) // 3
    data[middle : middle + 200] = bytes(200)
    (tmp_path / "damaged.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"damaged\.npz: not a readable \.npz"):
        MorphableModel.load(tmp_path / "damaged.npz")


def test_truncated_npz_expression_and_embedding_files_name_the_file(tmp_path):
    write_bfm2009(tmp_path, np.random.default_rng(3))
    np.savez(tmp_path / "expr.npz", mean=np.zeros((68, 3)), basis=np.zeros((204, 2)))
    (tmp_path / "expr.npz").write_bytes((tmp_path / "expr.npz").read_bytes()[:100])
    with pytest.raises(ModelFormatError, match=r"expr\.npz: not a readable \.npz"):
        load_bfm2009(tmp_path / "01_MorphableModel.mat", tmp_path / "expr.npz",
                     landmark_indices=np.arange(68))  # fmt: skip
    write_flame(tmp_path, np.random.default_rng(4))
    (tmp_path / "embedding.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFormatError, match=r"embedding\.npz: not a readable \.npz"):
        load_flame(tmp_path / "generic_model.pkl", tmp_path / "embedding.npz", n_shape=4)


def test_a_folder_where_a_model_file_is_expected_is_named(tmp_path):
    with pytest.raises(ModelFormatError, match=r"FLAME model is a folder; pass the file"):
        load_flame(tmp_path)
    with pytest.raises(ModelFormatError, match=r"BFM_model_front\.mat is a folder"):
        load_bfm_front(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"\.npz file not found: .*none\.npz"):
        MorphableModel.load(tmp_path / "none.npz")
