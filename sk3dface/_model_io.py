"""Loaders for the morphable-model files researchers actually have.

Each loader returns a :class:`~sk3dface.MorphableModel` in sk3dface's conventions (``x`` to the
subject's left, ``y`` up, ``z`` towards the camera; bases scaled so coefficients are ~N(0, 1);
0-based vertex indices); :func:`load_model` detects the format. The files themselves are not
ours: users obtain them from their publishers, and their licences (non-commercial research for
the Basel Face Model and FLAME) travel with the model as ``model.license``. Pickled formats are
read with :mod:`sk3dface._safe_pickle`, which never executes pickled code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from sk3dface import _safe_pickle
from sk3dface._morphable_model import N_LANDMARKS, MorphableModel, read_npz
from sk3dface.exceptions import ModelFormatError

logger = logging.getLogger("sk3dface")

BFM_LICENSE = (
    "Basel Face Model: free for non-commercial research only, under the University of Basel "
    "licence agreement (https://faces.dmi.unibas.ch/bfm/); do not redistribute."
)
BFM_EXPRESSION_LICENSE = (
    BFM_LICENSE + " Expression bases derived from FaceWarehouse (Guo et al. / Zhu et al.): "
    "non-commercial research only."
)
FLAME_LICENSE = (
    "FLAME: free for non-commercial scientific research only, under the MPI licence "
    "(https://flame.is.tue.mpg.de/); do not redistribute."
)
_SUPPORTED = (
    "supported: 'default', a MorphableModel .npz, Deep3DFaceRecon BFM_model_front.mat, "
    "BFM 2009 01_MorphableModel.mat, 3DDFA bfm_noneck_v3.pkl or its folder of .npy files, "
    "FLAME generic_model.pkl"
)
_noted: set[str] = set()


def _note_license(license: str) -> None:
    """Log the licence once per process at INFO level (quiet unless logging is configured)."""
    if license not in _noted:
        _noted.add(license)
        logger.info("Loaded a morphable model with usage terms: %s", license)


def _fail(source: Any, message: str) -> ModelFormatError:
    return ModelFormatError(f"{os.fspath(source)}: {message}")


def _existing(path: Any, what: str) -> Path:
    try:
        path = Path(os.fspath(path))
    except TypeError:
        raise TypeError(f"{what} must be a path; got {type(path).__name__}.") from None
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


# --------------------------------------------------------------------------- readers
def _loadmat(path: Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        data = loadmat(path, variable_names=names)
    except NotImplementedError:
        raise _fail(
            path,
            "MATLAB v7.3 (HDF5) .mat files are not supported; re-save it in MATLAB with "
            "save(..., '-v7') or convert it to .npz.",
        ) from None
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise _fail(path, f"not a readable MATLAB .mat file ({exc}).") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _mat_names(path: Path) -> list[str]:
    from scipy.io import whosmat
    from scipy.io.matlab import MatReadError

    try:
        return [entry[0] for entry in whosmat(path)]
    except NotImplementedError:
        raise _fail(path, "MATLAB v7.3 (HDF5) .mat files are not supported.") from None
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise _fail(path, f"not a readable MATLAB .mat file ({exc}).") from None


def _load_npy(path: Path) -> Any:
    """Read a ``.npy``; object arrays (pickled dicts) go through the safe unpickler."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                _, _, dtype = fmt.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                _, _, dtype = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy version {version}")
            if dtype.hasobject:
                obj = _safe_pickle.load(f, source=os.fspath(path))
                if isinstance(obj, np.ndarray) and obj.shape == ():
                    return obj.item()
                return obj
        return np.load(path, allow_pickle=False)
    except ModelFormatError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"not a readable .npy file ({exc}).") from None


def _get(data: dict, key: str, source: Any, what: str = "") -> np.ndarray:
    if key not in data:
        raise _fail(
            source,
            f"missing array {key!r}{what}; found {sorted(map(str, data))}. "
            "Is this the right file for this loader?",
        )
    return _safe_pickle.to_array(data[key], key, os.fspath(source))


def _vertices(flat: np.ndarray, name: str, source: Any) -> np.ndarray:
    flat = np.asarray(flat, dtype=np.float64).reshape(-1)
    if flat.size == 0 or flat.size % 3:
        raise _fail(source, f"{name} has {flat.size} values, not a positive multiple of 3 (xyz).")
    return flat.reshape(-1, 3)


def _basis(array: np.ndarray, n_vertices: int, name: str, source: Any) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != 3 * n_vertices:
        raise _fail(
            source,
            f"{name} must have shape (3*n_vertices, n_components) = ({3 * n_vertices}, *) "
            f"to match the mean shape; got {array.shape}.",
        )
    return array


def _std(values: Any, n: int, name: str, source: Any) -> np.ndarray:
    std = np.asarray(values, dtype=np.float64).reshape(-1)
    if std.size < n:
        raise _fail(source, f"{name} has {std.size} standard deviations for {n} components.")
    std = std[:n]
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise _fail(source, f"{name} must be finite and non-negative.")
    return std


def _indices(values: Any, name: str, source: Any, *, one_based: bool = False) -> np.ndarray:
    array = np.asarray(values).reshape(-1)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise _fail(source, f"{name} must hold integer indices.")
    elif array.dtype.kind not in "iu":
        raise _fail(source, f"{name} must hold integer indices; got dtype {array.dtype}.")
    array = array.astype(np.intp)
    return array - 1 if one_based else array


def _triangles(values: Any, n_vertices: int, source: Any, *, one_based: bool) -> np.ndarray:
    tri = np.asarray(values)
    if tri.ndim == 2 and tri.shape[0] == 3 and tri.shape[1] != 3:
        tri = tri.T
    if tri.ndim != 2 or tri.shape[1] != 3:
        raise _fail(source, f"triangles must have shape (n_triangles, 3); got {tri.shape}.")
    return _indices(tri, "triangles", source, one_based=one_based).reshape(-1, 3)


def _landmark_vertices(values: Any, source: Any) -> np.ndarray:
    """Accept 68 vertex indices, or 204 flat xyz indices (3*v, 3*v+1, 3*v+2 per landmark)."""
    flat = _indices(values, "keypoints", source)
    if flat.size == 3 * N_LANDMARKS:
        xyz = flat.reshape(N_LANDMARKS, 3)
        if np.any(xyz % 3 != np.arange(3)) or np.any(xyz // 3 != (xyz[:, :1] // 3)):
            raise _fail(
                source,
                "keypoints has 204 entries but they are not x, y, z indices (3v, 3v+1, 3v+2) "
                "of 68 vertices.",
            )
        return xyz[:, 0] // 3
    if flat.size != N_LANDMARKS:
        raise _fail(
            source,
            f"expected the 68 iBUG landmark vertices (68 indices, or 204 flat xyz indices); "
            f"got {flat.size} values.",
        )
    return flat


def _check_face(model: MorphableModel, source: Any) -> MorphableModel:
    """Refuse models whose landmarks are mirrored, upside down or facing away."""
    lm = model.landmarks()
    right_eye, left_eye = lm[36:42].mean(0), lm[42:48].mean(0)
    problems = []
    if not right_eye[0] < left_eye[0]:
        problems.append("the subject's right eye (landmarks 36-41) is not at smaller x")
    if not min(right_eye[1], left_eye[1]) > lm[8, 1]:
        problems.append("the eyes are not above the chin (y up)")
    if not lm[30, 2] > 0.5 * (right_eye[2] + left_eye[2]):
        problems.append("the nose tip (landmark 30) is not in front of the eyes (z to camera)")
    if problems:
        raise _fail(
            source,
            "the 68 landmarks do not form a face in sk3dface's frame (x subject's left, y up, "
            "z towards the camera): " + "; ".join(problems) + ". Check the landmark indices "
            "(0-based, dlib order) and the file's coordinate frame.",
        )
    return model


def _finish(model: MorphableModel, source: Any) -> MorphableModel:
    _check_face(model, source)
    if model.license:
        _note_license(model.license)
    return model


def _build(source: Any, **fields: Any) -> MorphableModel:
    """MorphableModel(...) with the file named in any validation error."""
    try:
        return MorphableModel(**fields)
    except ModelFormatError as exc:
        message = str(exc)
        name = str(fields.get("name", ""))
        if name and message.startswith(name + ": "):
            message = message[len(name) + 2 :]
        raise _fail(source, message) from None


# --------------------------------------------------------------------------- Deep3DFaceRecon
def load_bfm_front(path: str | os.PathLike) -> MorphableModel:
    """Load Deep3DFaceRecon's ``BFM_model_front.mat`` (Basel Face Model, front part).

    The file (made by Deep3DFaceRecon's ``util/load_mats.py`` from the BFM 2009 and the
    Guo et al. expression PCA) holds ``meanshape`` (1, 3N), ``idBase`` (3N, 80), ``exBase``
    (3N, 64), ``meantex`` (1, 3N), ``texBase`` (3N, 80), ``tri`` (1-based) and ``keypoints``
    (the 68 landmark vertices, 1-based), with N = 35,709 vertices. The bases there are
    already multiplied by the standard deviations (``shapePC * shapeEV``), so the coefficients
    are ~N(0, 1) as in the paper; coordinates are BFM's micrometres divided by 1e5, i.e.
    decimetres (``units="dm"``). The frame is BFM's, which is sk3dface's.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file.

    Returns
    -------
    model : MorphableModel
        80 identity and 64 expression components, texture and triangles included.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If the file is not such a model or its arrays are inconsistent.

    See Also
    --------
    load_model : Detects the format.
    """
    path = _existing(path, "BFM_model_front.mat")
    data = _loadmat(path)
    mean = _vertices(_get(data, "meanshape", path), "meanshape", path)
    n = mean.shape[0]
    texture_mean = texture_basis = triangles = None
    if "meantex" in data:
        texture_mean = _vertices(_get(data, "meantex", path), "meantex", path)
        if "texBase" in data:
            texture_basis = _basis(_get(data, "texBase", path), n, "texBase", path)
    if "tri" in data:
        triangles = _triangles(_get(data, "tri", path), n, path, one_based=True)
    model = _build(
        path,
        mean=mean,
        identity_basis=_basis(_get(data, "idBase", path), n, "idBase", path),
        expression_basis=_basis(_get(data, "exBase", path), n, "exBase", path),
        landmark_indices=_landmark_vertices(
            _indices(_get(data, "keypoints", path), "keypoints", path, one_based=True), path
        ),
        triangles=triangles,
        texture_mean=texture_mean,
        texture_basis=texture_basis,
        name=f"Deep3DFaceRecon BFM front ({path.name})",
        units="dm",
        license=BFM_EXPRESSION_LICENSE,
    )
    return _finish(model, path)


# --------------------------------------------------------------------------- BFM 2009
def _read_index_file(value: Any, key_hint: tuple[str, ...], name: str) -> np.ndarray:
    """Indices from an array or a file (.npy, .txt, .mat with one of ``key_hint``)."""
    if not isinstance(value, (str, os.PathLike)):
        return np.asarray(value)
    path = _existing(value, name)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.asarray(_load_npy(path))
    if suffix == ".mat":
        data = _loadmat(path)
        for key in key_hint:
            if key in data:
                return data[key]
        raise _fail(path, f"no array named one of {list(key_hint)}; found {sorted(data)}.")
    try:
        return np.loadtxt(path, ndmin=1)
    except ValueError as exc:
        raise _fail(path, f"not a text file of numbers ({exc}).") from None


def _read_expression(
    path: Path, n_shape_vertices: int, expression_std: Any, vertex_indices: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Expression mean (M, 3), basis (3M, k) scaled by std, and vertex indices (or None)."""
    suffix = path.suffix.lower()
    if suffix == ".bin":
        # Guo et al.'s Exp_Pca.bin: int32 k, float32 mean (3M), float32 components (k, 3M).
        raw = path.read_bytes()
        if len(raw) < 4:
            raise _fail(path, "too short for an Exp_Pca.bin file.")
        k = int(np.frombuffer(raw[:4], dtype="<i4")[0])
        floats = (len(raw) - 4) // 4
        if k <= 0 or (len(raw) - 4) % 4 or floats % (k + 1) or (floats // (k + 1)) % 3:
            raise _fail(
                path,
                f"not an Exp_Pca.bin file: header says {k} components, which does not divide "
                f"the {floats} float32 values as mean (3M) + components (k x 3M).",
            )
        values = np.frombuffer(raw[4:], dtype="<f4").astype(np.float64)
        m3 = floats // (k + 1)
        mean_flat, basis = values[:m3], values[m3:].reshape(k, m3).T
        std = expression_std
        if std is None and (path.parent / "std_exp.txt").exists():
            std = path.parent / "std_exp.txt"
        if std is None:
            raise _fail(
                path,
                "Exp_Pca.bin stores unit components; pass expression_std (the std_exp.txt "
                "from the same source, or an array of standard deviations) or put "
                "std_exp.txt next to it.",
            )
        if vertex_indices is None and (path.parent / "BFM_exp_idx.mat").exists():
            vertex_indices = path.parent / "BFM_exp_idx.mat"
    elif suffix in (".npz", ".mat"):
        data = read_npz(path) if suffix == ".npz" else _loadmat(path)
        what = " (expression files need 'mean', 'basis' and optionally 'std', 'vertex_indices')"
        mean_flat = _get(data, "mean", path, what).reshape(-1)
        basis = np.asarray(_get(data, "basis", path, what), dtype=np.float64)
        if basis.ndim == 1:
            basis = basis[:, None]
        std = expression_std if expression_std is not None else data.get("std")
        if vertex_indices is None and "vertex_indices" in data:
            vertex_indices = np.asarray(data["vertex_indices"])
    else:
        raise _fail(path, "unknown expression file type; use Exp_Pca.bin, .npz or .mat.")
    mean = _vertices(mean_flat, "expression mean", path)
    basis = _basis(basis, mean.shape[0], "expression basis", path)
    if std is not None:
        std = _std(
            _read_index_file(std, ("std", "expEV"), "expression_std"),
            basis.shape[1],
            "expression_std",
            path,
        )
        basis = basis * std
    indices = None
    if vertex_indices is not None:
        raw_idx = _read_index_file(vertex_indices, ("trimIndex", "vertex_indices"), "indices")
        # BFM_exp_idx.mat's trimIndex is MATLAB (1-based); arrays, .npy and .txt are 0-based
        one_based = (
            isinstance(vertex_indices, (str, os.PathLike))
            and Path(vertex_indices).suffix.lower() == ".mat"
        )
        indices = _indices(raw_idx, "vertex_indices", path, one_based=one_based)
        if indices.size != mean.shape[0]:
            raise _fail(
                path,
                f"vertex_indices has {indices.size} entries for {mean.shape[0]} expression "
                "vertices.",
            )
        if indices.min() < 0 or indices.max() >= n_shape_vertices:
            raise _fail(
                path,
                f"vertex_indices must index the {n_shape_vertices} BFM vertices; got values "
                f"in [{indices.min()}, {indices.max()}].",
            )
    elif mean.shape[0] != n_shape_vertices:
        raise _fail(
            path,
            f"the expression model has {mean.shape[0]} vertices and the shape model "
            f"{n_shape_vertices}; pass vertex_indices (e.g. BFM_exp_idx.mat, whose trimIndex "
            "maps the 53,215 expression vertices to the 53,490 BFM vertices).",
        )
    return mean, basis, indices


def _restrict_triangles(tri: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    new_index = np.full(n, -1, dtype=np.intp)
    new_index[keep] = np.arange(keep.size)
    mapped = new_index[tri]
    return mapped[np.all(mapped >= 0, axis=1)]


def load_bfm2009(
    path: str | os.PathLike,
    expression_path: str | os.PathLike | None = None,
    *,
    landmark_indices: Any = None,
    expression_std: Any = None,
    vertex_indices: Any = None,
) -> MorphableModel:
    """Load the raw Basel Face Model 2009 (``01_MorphableModel.mat``), plus an expression PCA.

    The BFM file holds ``shapeMU`` (3N, 1), ``shapePC`` (3N, 199), ``shapeEV`` (199, 1) --
    standard deviations, as BFM's own ``coef2object`` uses them -- ``texMU``, ``texPC``,
    ``texEV`` and the 1-based triangles ``tl``; N = 53,490 vertices in micrometres
    (``units="um"``), in sk3dface's frame. It has no expression model and no 68 landmarks.

    Parameters
    ----------
    path : str or path-like
        ``01_MorphableModel.mat``.
    expression_path : str or path-like, optional
        An expression PCA: Guo et al.'s ``Exp_Pca.bin`` (as used by Deep3DFaceRecon and 3DDFA;
        unit components, standard deviations in ``std_exp.txt``, vertices mapped by
        ``BFM_exp_idx.mat``'s 1-based ``trimIndex`` -- both picked up from the same folder
        when present), or an ``.npz``/``.mat`` with ``mean`` (3M or (M, 3)), ``basis``
        (3M, k), optional ``std`` (k,) and optional 0-based ``vertex_indices`` (M,). Its mean
        is added to the mean shape. Without it the model has no expression components.
    landmark_indices : array-like of shape (68,) or path, required
        0-based vertex indices of the 68 iBUG landmarks (dlib order) in the *returned* model
        (after the restriction to ``vertex_indices``), or a ``.npy``/``.txt`` file holding
        them. The raw BFM has no such list.
    expression_std : array-like or path, optional
        Standard deviations of the expression components (``std_exp.txt``).
    vertex_indices : array-like or path, optional
        BFM vertex of each expression vertex: a 0-based array or ``.npy``/``.txt`` file, or a
        ``.mat`` such as ``BFM_exp_idx.mat`` whose ``trimIndex`` holds 1-based MATLAB indices.
        The model keeps only these vertices.

    Returns
    -------
    model : MorphableModel
        199 identity components (scaled by ``shapeEV``), the expression components, texture
        and the triangles among the kept vertices.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If a file is not of its format, arrays disagree, or ``landmark_indices`` is missing.

    See Also
    --------
    load_bfm_front : The same model as cut and scaled by Deep3DFaceRecon.
    """
    path = _existing(path, "01_MorphableModel.mat")
    names = ["shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV", "tl"]
    data = _loadmat(path, names)
    mean = _vertices(_get(data, "shapeMU", path), "shapeMU", path)
    n = mean.shape[0]
    shape_pc = _basis(_get(data, "shapePC", path), n, "shapePC", path)
    identity = shape_pc * _std(_get(data, "shapeEV", path), shape_pc.shape[1], "shapeEV", path)
    texture_mean = texture_basis = triangles = None
    if "texMU" in data:
        texture_mean = _vertices(_get(data, "texMU", path), "texMU", path)
        if texture_mean.shape[0] != n:
            raise _fail(path, f"texMU has {texture_mean.shape[0]} vertices, shapeMU {n}.")
        if "texPC" in data and "texEV" in data:
            tex_pc = _basis(_get(data, "texPC", path), n, "texPC", path)
            texture_basis = tex_pc * _std(_get(data, "texEV", path), tex_pc.shape[1], "texEV", path)
    if "tl" in data:
        triangles = _triangles(_get(data, "tl", path), n, path, one_based=True)
    expression = np.zeros((3 * n, 0))
    license = BFM_LICENSE
    if expression_path is not None:
        expression_path = _existing(expression_path, "expression_path")
        exp_mean, expression, keep = _read_expression(
            expression_path, n, expression_std, vertex_indices
        )
        license = BFM_EXPRESSION_LICENSE
        if keep is not None:
            rows = (3 * keep[:, None] + np.arange(3)).ravel()
            mean, identity = mean[keep], identity[rows]
            if texture_mean is not None:
                texture_mean = texture_mean[keep]
                texture_basis = None if texture_basis is None else texture_basis[rows]
            if triangles is not None:
                triangles = _restrict_triangles(triangles, keep, n)
        mean = mean + exp_mean
    if landmark_indices is None:
        raise _fail(
            path,
            "the raw Basel Face Model has no 68-landmark vertex list; pass landmark_indices= "
            f"(68 0-based vertex indices, dlib order, of the {mean.shape[0]}-vertex model) or "
            "a .npy/.txt file holding them.",
        )
    landmarks = _read_index_file(
        landmark_indices, ("keypoints", "landmark_indices"), "landmark_indices"
    )
    model = _build(
        path,
        mean=mean,
        identity_basis=identity,
        expression_basis=expression,
        landmark_indices=_landmark_vertices(landmarks, path),
        triangles=triangles,
        texture_mean=texture_mean,
        texture_basis=texture_basis,
        name=f"Basel Face Model 2009 ({path.name})",
        units="um",
        license=license,
    )
    return _finish(model, path)


# --------------------------------------------------------------------------- 3DDFA
_3DDFA_FILES = ("u_shp.npy", "u_exp.npy", "w_shp_sim.npy", "w_exp_sim.npy", "keypoints_sim.npy")
_WHITENING_FILES = ("param_mean_std_62d_120x120.pkl", "param_whitening.pkl")


def _whitening_std(path: Path) -> np.ndarray:
    data = _safe_pickle.load(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict of parameter statistics; got {type(data).__name__}.")
    for key in ("std", "param_std"):
        if key in data:
            return _safe_pickle.to_array(data[key], key, os.fspath(path)).reshape(-1)
    raise _fail(path, f"no 'std' or 'param_std' array; found {sorted(map(str, data))}.")


def _scale_3ddfa(
    w_shp: np.ndarray, w_exp: np.ndarray, std: np.ndarray, source: Path, model: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Scale 3DDFA's bases by its parameter std: 12 pose, then shape, then expression."""
    n_shp, n_exp = w_shp.shape[1], w_exp.shape[1]
    if std.size == 12 + n_shp + n_exp:
        pass
    elif std.size == 62 and n_shp >= 40 and n_exp >= 10:
        n_shp, n_exp = 40, 10  # 3DDFA's 62-d parameter uses the first 40 + 10 components
    else:
        raise _fail(
            source,
            f"the parameter std has {std.size} entries; the model {model.name} needs 12 "
            f"(pose) + {n_shp} (shape) + {n_exp} (expression) = {12 + n_shp + n_exp}, or "
            "3DDFA's 62.",
        )
    id_std = _std(std[12 : 12 + n_shp], n_shp, "shape std", source)
    ex_std = _std(std[12 + n_shp : 12 + n_shp + n_exp], n_exp, "expression std", source)
    return w_shp[:, :n_shp] * id_std, w_exp[:, :n_exp] * ex_std


def load_3ddfa(
    path: str | os.PathLike, *, whitening_path: str | os.PathLike | None = None
) -> MorphableModel:
    """Load 3DDFA's Basel Face Model: ``bfm_noneck_v3.pkl`` or the older folder of ``.npy``.

    Two layouts of the same model (BFM 2009 identity + FaceWarehouse expression, without
    the neck):

    - 3DDFA_V2's ``bfm_noneck_v3.pkl``: a dict with ``u`` (3N, 1) mean shape, ``w_shp``
      (3N, 40), ``w_exp`` (3N, 10), ``keypoints`` (204 flat xyz indices of the 68 landmarks)
      and optionally ``tri``; read with the safe unpickler.
    - 3DDFA v1's folder: ``u_shp.npy`` + ``u_exp.npy`` (the mean is their sum),
      ``w_shp_sim.npy``, ``w_exp_sim.npy``, ``keypoints_sim.npy`` and ``param_whitening.pkl``.

    3DDFA's bases are not scaled: its network predicts a 62-d parameter whitened with a
    parameter mean and std (12 pose values, then 40 shape, then 10 expression). The bases are
    multiplied by ``std[12:52]`` and ``std[52:62]`` so coefficients are ~N(0, 1); the
    parameter *mean* (a 300W-LP training-set average, up to ~0.7 std) is not applied, so
    alpha = beta = 0 is the BFM mean face. Coordinates are BFM's (about micrometres,
    ``units="um"``), in sk3dface's frame.

    Parameters
    ----------
    path : str or path-like
        ``bfm_noneck_v3.pkl`` (or any pickle with those keys) or the folder.
    whitening_path : str or path-like, optional
        The parameter statistics: ``param_mean_std_62d_120x120.pkl`` (keys ``mean``/``std``)
        or ``param_whitening.pkl`` (``param_mean``/``param_std``). Default: either file found
        next to ``path`` (inside the folder).

    Returns
    -------
    model : MorphableModel
        40 identity and 10 expression components for 3DDFA's files.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If files are missing or inconsistent.
    sk3dface.exceptions.UnsafePickleError
        If a pickle names anything but arrays and containers.

    See Also
    --------
    load_model : Detects the format.
    """
    path = _existing(path, "3DDFA model")
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        missing = [f for f in _3DDFA_FILES if not (path / f).exists()]
        if missing:
            raise _fail(path, f"not a 3DDFA model folder: missing {missing}.")
        arrays = {f[:-4]: _load_npy(path / f) for f in _3DDFA_FILES}
        mean_flat = np.asarray(arrays["u_shp"], np.float64).reshape(-1) + np.asarray(
            arrays["u_exp"], np.float64
        ).reshape(-1)
        w_shp, w_exp = arrays["w_shp_sim"], arrays["w_exp_sim"]
        keypoints, tri = arrays["keypoints_sim"], None
    else:
        data = _safe_pickle.load(path)
        if not isinstance(data, dict):
            raise _fail(path, f"expected a dict of arrays; got {type(data).__name__}.")
        return _3ddfa_from_dict(data, path, whitening_path)
    return _3ddfa_model(path, folder, mean_flat, w_shp, w_exp, keypoints, tri, whitening_path)


def _3ddfa_from_dict(data: dict, path: Path, whitening_path: Any) -> MorphableModel:
    mean_flat = _get(data, "u", path).reshape(-1)
    tri = _get(data, "tri", path) if "tri" in data else None
    return _3ddfa_model(
        path,
        path.parent,
        mean_flat,
        _get(data, "w_shp", path),
        _get(data, "w_exp", path),
        _get(data, "keypoints", path),
        tri,
        whitening_path,
    )


def _3ddfa_model(path, folder, mean_flat, w_shp, w_exp, keypoints, tri, whitening_path):
    mean = _vertices(mean_flat, "mean shape", path)
    n = mean.shape[0]
    w_shp = _basis(w_shp, n, "shape basis", path)
    w_exp = _basis(w_exp, n, "expression basis", path)
    if whitening_path is None:
        found = [folder / f for f in _WHITENING_FILES if (folder / f).exists()]
        if not found:
            raise _fail(
                path,
                "3DDFA's bases need the parameter std to give ~N(0, 1) coefficients; pass "
                f"whitening_path= or put one of {list(_WHITENING_FILES)} next to the model.",
            )
        whitening_path = found[0]
    whitening_path = _existing(whitening_path, "whitening_path")
    identity, expression = _scale_3ddfa(
        w_shp, w_exp, _whitening_std(whitening_path), whitening_path, path
    )
    triangles = None
    if tri is not None:
        tri = np.asarray(tri)
        one_based = tri.size > 0 and tri.min() >= 1 and tri.max() == n
        triangles = _triangles(tri, n, path, one_based=one_based)
    model = _build(
        path,
        mean=mean,
        identity_basis=identity,
        expression_basis=expression,
        landmark_indices=_landmark_vertices(keypoints, path),
        triangles=triangles,
        name=f"3DDFA Basel Face Model ({path.name})",
        units="um",
        license=BFM_EXPRESSION_LICENSE,
    )
    return _finish(model, path)


# --------------------------------------------------------------------------- FLAME
def _embedding_dict(path: Path) -> dict:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = _load_npy(path)
    elif suffix == ".npz":
        data = read_npz(path)
    else:
        data = _safe_pickle.load(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict of landmark arrays; got {type(data).__name__}.")
    return data


def _embedding_68(path: Path, dynamic_path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(68,) face indices and (68, 3) barycentric weights, iBUG order."""
    data = _embedding_dict(path)
    src = os.fspath(path)

    def pair(d: dict, faces: str, coords: str, source: str) -> tuple[np.ndarray, np.ndarray]:
        f = _safe_pickle.to_array(d[faces], faces, source)
        b = _safe_pickle.to_array(d[coords], coords, source).astype(np.float64)
        return _indices(f, faces, source), b.reshape(-1, 3)

    if "full_lmk_faces_idx" in data and "full_lmk_bary_coords" in data:  # DECA's embedding
        faces, bary = pair(data, "full_lmk_faces_idx", "full_lmk_bary_coords", src)
    else:
        static = None
        for faces_key, coords_key in (
            ("static_lmk_faces_idx", "static_lmk_bary_coords"),
            ("lmk_face_idx", "lmk_b_coords"),
        ):
            if faces_key in data and coords_key in data:
                static = pair(data, faces_key, coords_key, src)
                break
        if static is None:
            raise _fail(
                path,
                "not a FLAME landmark embedding: expected full_lmk_faces_idx/"
                "full_lmk_bary_coords, static_lmk_faces_idx/static_lmk_bary_coords or "
                f"lmk_face_idx/lmk_b_coords; found {sorted(map(str, data))}.",
            )
        if static[0].size == N_LANDMARKS:
            faces, bary = static
        elif static[0].size == N_LANDMARKS - 17:
            dyn = data if "dynamic_lmk_faces_idx" in data else None
            keys = ("dynamic_lmk_faces_idx", "dynamic_lmk_bary_coords")
            if dyn is None and dynamic_path is not None:
                dyn = _embedding_dict(dynamic_path)
                keys = ("lmk_face_idx", "lmk_b_coords")
                src = os.fspath(dynamic_path)
            if dyn is None or keys[0] not in dyn:
                raise _fail(
                    path,
                    "this embedding has the 51 static landmarks (iBUG 17-67) only; the 17 jaw "
                    "points need FLAME's dynamic contour embedding: pass "
                    "dynamic_embedding_path= (flame_dynamic_embedding.npy) or use DECA's "
                    "landmark_embedding.npy.",
                )
            dyn_faces = _indices(_safe_pickle.to_array(dyn[keys[0]], keys[0], src), keys[0], src)
            dyn_bary = _safe_pickle.to_array(dyn[keys[1]], keys[1], src).astype(np.float64)
            n_rows = dyn_faces.size // 17
            if dyn_faces.size != 17 * n_rows or dyn_bary.size != 3 * dyn_faces.size:
                raise _fail(path, "the dynamic contour embedding is not (n_angles, 17[, 3]).")
            row = n_rows // 2  # rows are yaw angles -39..39 degrees: the middle is frontal
            faces = np.r_[dyn_faces.reshape(n_rows, 17)[row], static[0]]
            bary = np.r_[dyn_bary.reshape(n_rows, 17, 3)[row], static[1]]
        else:
            raise _fail(path, f"expected 51 or 68 embedded landmarks; got {static[0].size}.")
    if faces.size != N_LANDMARKS or bary.shape != (N_LANDMARKS, 3):
        raise _fail(path, f"expected 68 landmarks with 3 barycentric weights; got {bary.shape}.")
    if not np.all(np.isfinite(bary)):
        raise _fail(path, "barycentric coordinates contain NaN or infinite values.")
    return faces, bary


def load_flame(
    path: str | os.PathLike,
    landmark_embedding_path: str | os.PathLike,
    *,
    dynamic_embedding_path: str | os.PathLike | None = None,
    n_shape: int = 300,
    exact_landmarks: bool = True,
) -> MorphableModel:
    """Load FLAME (``generic_model.pkl``) and its landmark embedding, without chumpy.

    FLAME's pickle holds ``v_template`` (5023, 3), ``shapedirs`` (5023, 3, 400: 300 shape
    then 100 expression blendshapes, already scaled so coefficients are ~N(0, 1)), ``f``
    (0-based triangles) and the skinning data (``J_regressor``, ``weights``, ``posedirs``,
    ``kintree_table``), mostly as chumpy objects. It is read with the safe unpickler, which
    turns chumpy arrays into numpy without importing chumpy or executing pickled code. Only
    the linear shape + expression model in the rest pose is used: jaw, neck and eyeball
    rotations (FLAME's pose) are not modelled. Units are metres; FLAME's frame (y up, face
    towards +z) is sk3dface's.

    Landmarks in FLAME are points on triangles (face index + barycentric weights). With
    ``exact_landmarks=True`` the 68 points are appended to the model as extra vertices, each
    an exact barycentric combination of its triangle's vertices (mean and bases alike), so
    ``n_vertices = 5023 + 68`` and ``landmark_indices = 5023..5090``; the triangles use only
    the first 5023. With ``exact_landmarks=False`` each landmark is the vertex of its triangle
    with the largest weight (a few millimetres off).

    Parameters
    ----------
    path : str or path-like
        ``generic_model.pkl`` (or ``male_model.pkl``, ``female_model.pkl``, FLAME 2020/2023).
    landmark_embedding_path : str or path-like
        DECA's ``landmark_embedding.npy`` (68 points), or FLAME's
        ``flame_static_embedding.pkl`` (51 points, iBUG 17-67) together with
        ``dynamic_embedding_path``.
    dynamic_embedding_path : str or path-like, optional
        FLAME's ``flame_dynamic_embedding.npy`` (jaw contour per yaw angle); its frontal row
        gives iBUG points 0-16.
    n_shape : int, default=300
        Number of identity components at the start of ``shapedirs``; the rest are expression.
    exact_landmarks : bool, default=True
        Append the barycentric landmark points as vertices (see above).

    Returns
    -------
    model : MorphableModel

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If a file is not of its format or arrays disagree.
    sk3dface.exceptions.UnsafePickleError
        If the pickle names anything but arrays, containers, chumpy arrays and sparse matrices.

    See Also
    --------
    load_model : Detects the format.
    """
    path = _existing(path, "FLAME model")
    data = _safe_pickle.load(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict of arrays; got {type(data).__name__}.")
    return _flame_from_dict(
        data, path, landmark_embedding_path, dynamic_embedding_path, n_shape, exact_landmarks
    )


def _flame_from_dict(data, path, embedding_path, dynamic_path, n_shape, exact_landmarks):
    if embedding_path is None:
        raise _fail(
            path,
            "FLAME has no 68-landmark vertex list of its own; pass landmark_embedding_path= "
            "(DECA's landmark_embedding.npy or FLAME's flame_static_embedding.pkl).",
        )
    embedding_path = _existing(embedding_path, "landmark_embedding_path")
    dynamic_path = None if dynamic_path is None else _existing(dynamic_path, "dynamic embedding")
    mean = _get(data, "v_template", path).astype(np.float64)
    if mean.ndim != 2 or mean.shape[1] != 3:
        raise _fail(path, f"v_template must have shape (n_vertices, 3); got {mean.shape}.")
    n = mean.shape[0]
    dirs = _get(data, "shapedirs", path).astype(np.float64)
    if dirs.ndim != 3 or dirs.shape[:2] != (n, 3):
        raise _fail(path, f"shapedirs must have shape ({n}, 3, n_components); got {dirs.shape}.")
    if isinstance(n_shape, bool) or not isinstance(n_shape, (int, np.integer)):
        raise TypeError(f"n_shape must be an int; got {n_shape!r}.")
    if not 0 <= n_shape <= dirs.shape[2]:
        raise ValueError(
            f"n_shape must be in [0, {dirs.shape[2]}] for {path}, whose shapedirs has "
            f"{dirs.shape[2]} components (identity first, then expression); got {n_shape}."
        )
    basis = dirs.reshape(3 * n, dirs.shape[2])  # row 3*v + k: coordinate k of vertex v
    identity, expression = basis[:, :n_shape], basis[:, n_shape:]
    triangles = _triangles(_get(data, "f", path), n, path, one_based=False)
    if triangles.size and (triangles.min() < 0 or triangles.max() >= n):
        raise _fail(path, f"f (triangles) must index the {n} vertices.")
    faces, bary = _embedding_68(embedding_path, dynamic_path)
    if faces.min() < 0 or faces.max() >= len(triangles):
        raise _fail(
            embedding_path,
            f"landmark face indices must be in [0, {len(triangles)}) for this FLAME mesh; got "
            f"[{faces.min()}, {faces.max()}].",
        )
    corners = triangles[faces]  # (68, 3) vertex ids
    if exact_landmarks:
        weights = np.zeros((N_LANDMARKS, n))
        np.add.at(weights, (np.arange(N_LANDMARKS)[:, None], corners), bary)
        extra_mean = weights @ mean
        extra_rows = np.einsum("lv,vkc->lkc", weights, basis.reshape(n, 3, -1))
        mean = np.vstack([mean, extra_mean])
        identity = np.vstack([identity, extra_rows[..., :n_shape].reshape(3 * N_LANDMARKS, -1)])
        expression = np.vstack([expression, extra_rows[..., n_shape:].reshape(3 * N_LANDMARKS, -1)])
        landmarks = n + np.arange(N_LANDMARKS)
    else:
        landmarks = corners[np.arange(N_LANDMARKS), np.argmax(bary, axis=1)]
    model = _build(
        path,
        mean=mean,
        identity_basis=identity,
        expression_basis=expression,
        landmark_indices=landmarks,
        triangles=triangles,
        name=f"FLAME ({path.name})",
        units="m",
        license=FLAME_LICENSE,
    )
    return _finish(model, path)


# --------------------------------------------------------------------------- detection
def _options(given: dict, **defaults: Any) -> dict:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        expected = f"expected {sorted(defaults)}" if defaults else "it takes none"
        raise TypeError(f"unexpected options {unknown} for this format; {expected}.")
    return {**defaults, **given}


def load_model(path: Any, **kwargs: Any) -> MorphableModel:
    """Load a morphable model, detecting its format from the name and the arrays inside.

    Parameters
    ----------
    path : str, path-like or MorphableModel
        ``"default"`` for the built-in model (:func:`make_default_model`); a
        :class:`MorphableModel` (returned unchanged); a ``.npz`` written by
        :meth:`MorphableModel.save`; Deep3DFaceRecon's ``BFM_model_front.mat``; the raw BFM
        2009 ``01_MorphableModel.mat``; 3DDFA's ``bfm_noneck_v3.pkl`` or folder; FLAME's
        ``generic_model.pkl``.
    **kwargs
        Passed to the format's loader, e.g. ``landmark_indices`` / ``expression_path`` for
        :func:`load_bfm2009`, ``landmark_embedding_path`` for :func:`load_flame`,
        ``whitening_path`` for :func:`load_3ddfa`.

    Returns
    -------
    model : MorphableModel

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    sk3dface.exceptions.ModelFormatError
        If the format is not recognised (the message lists what was found) or the file is
        inconsistent.

    See Also
    --------
    load_bfm_front, load_bfm2009, load_3ddfa, load_flame, make_default_model

    Examples
    --------
    >>> from sk3dface import load_model
    >>> model = load_model("default")
    >>> model.n_vertices, model.units
    (68, 'mm')
    >>> load_model(model) is model
    True
    """
    if isinstance(path, MorphableModel):
        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} do not apply to a MorphableModel.")
        return path
    if isinstance(path, str) and path == "default":
        from sk3dface._default_model import make_default_model

        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} do not apply to the default model.")
        return make_default_model()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load_model expects a path, 'default' or a MorphableModel; got {type(path).__name__}."
        )
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path} ({_SUPPORTED}).")
    if path.is_dir():
        if all((path / f).exists() for f in _3DDFA_FILES):
            return load_3ddfa(path, **kwargs)
        listing = sorted(p.name for p in path.iterdir())[:20]
        raise _fail(
            path, f"a folder that is not a 3DDFA model folder (found {listing}); {_SUPPORTED}."
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _options(kwargs)
        return MorphableModel.load(path)
    if suffix == ".mat":
        names = set(_mat_names(path))
        if {"meanshape", "idBase", "exBase"} <= names:
            return load_bfm_front(path, **kwargs)
        if {"shapeMU", "shapePC", "shapeEV"} <= names:
            return load_bfm2009(path, **kwargs)
        raise _fail(
            path,
            f"a .mat file with variables {sorted(names)}, which is no model "
            f"format we know; {_SUPPORTED}.",
        )
    if suffix in (".pkl", ".pickle"):
        data = _safe_pickle.load(path)
        keys = set(map(str, data)) if isinstance(data, dict) else set()
        if {"v_template", "shapedirs"} <= keys:
            options = _options(
                kwargs,
                landmark_embedding_path=None,
                dynamic_embedding_path=None,
                n_shape=300,
                exact_landmarks=True,
            )
            return _flame_from_dict(
                data,
                path,
                options["landmark_embedding_path"],
                options["dynamic_embedding_path"],
                options["n_shape"],
                options["exact_landmarks"],
            )
        if {"u", "w_shp", "w_exp"} <= keys:
            options = _options(kwargs, whitening_path=None)
            return _3ddfa_from_dict(data, path, options["whitening_path"])
        found = sorted(keys) if keys else type(data).__name__
        raise _fail(
            path, f"a pickle holding {found}, which is no model format we know; {_SUPPORTED}."
        )
    raise _fail(path, f"unknown model file type {suffix!r}; {_SUPPORTED}.")
