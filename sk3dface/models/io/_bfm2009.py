"""The raw Basel Face Model 2009 (``01_MorphableModel.mat``) plus an expression PCA."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sk3dface.models._morphable_model import MorphableModel, read_npz
from sk3dface.models.io._common import (
    BFM_EXPRESSION_LICENSE,
    BFM_LICENSE,
    _basis,
    _build,
    _existing,
    _fail,
    _get,
    _indices,
    _landmark_vertices,
    _load_npy,
    _loadmat,
    _std,
    _triangles,
    _vertices,
)
from sk3dface.models.io._registry import ModelFormat


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

    Examples
    --------
    A file in this layout, written from the built-in model's 68 vertices (no expression PCA):

    >>> import os, tempfile
    >>> import numpy as np, scipy.io
    >>> from sk3dface import load_bfm2009, make_default_model
    >>> m = make_default_model()
    >>> path = os.path.join(tempfile.mkdtemp(), "01_MorphableModel.mat")
    >>> scipy.io.savemat(path, {"shapeMU": m.mean.reshape(-1, 1), "shapePC": m.identity_basis,
    ...                         "shapeEV": np.ones((m.n_alpha, 1))})
    >>> model = load_bfm2009(path, landmark_indices=np.arange(68))
    >>> model.n_alpha, model.n_beta, model.units
    (16, 0, 'um')
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
    landmarks = _landmark_vertices(landmarks, path)
    texture = {"texture_mean": texture_mean, "texture_basis": texture_basis}
    label = "Basel Face Model 2009"
    return _build(
        path, label, "um", license, mean, identity, expression, landmarks, triangles, **texture
    )


FORMAT = ModelFormat(
    description="BFM 2009 01_MorphableModel.mat",
    matches=lambda file: {"shapeMU", "shapePC", "shapeEV"} <= file.mat_names,
    load=load_bfm2009,
)
