"""FLAME (``generic_model.pkl``) and its landmark embedding, read without chumpy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sk3dface._layout import N_LANDMARKS
from sk3dface.models._morphable_model import MorphableModel, read_npz
from sk3dface.models.io._common import (
    FLAME_LICENSE,
    _build,
    _existing,
    _fail,
    _get,
    _indices,
    _load_npy,
    _triangles,
)
from sk3dface.models.io._registry import ModelFormat, pickled_dict
from sk3dface.utils import _safe_pickle


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
    landmark_embedding_path: str | os.PathLike | None = None,
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
    landmark_embedding_path : str or path-like, optional
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

    Examples
    --------
    A pickle and a DECA-style embedding in these layouts, written from the built-in model
    (in metres; triangle ``l`` is landmark ``l`` repeated, so each landmark is a vertex):

    >>> import os, pickle, tempfile
    >>> import numpy as np
    >>> from sk3dface import load_flame, make_default_model
    >>> m = make_default_model()
    >>> folder = tempfile.mkdtemp()
    >>> dirs = np.concatenate([m.identity_basis, m.expression_basis], axis=1) / 1000
    >>> with open(os.path.join(folder, "generic_model.pkl"), "wb") as f:
    ...     pickle.dump({"v_template": m.mean / 1000, "shapedirs": dirs.reshape(68, 3, -1),
    ...                  "f": np.repeat(np.arange(68)[:, None], 3, axis=1)}, f)
    >>> np.save(os.path.join(folder, "landmark_embedding.npy"),
    ...         {"full_lmk_faces_idx": np.arange(68)[None],
    ...          "full_lmk_bary_coords": np.full((1, 68, 3), 1 / 3)})
    >>> model = load_flame(os.path.join(folder, "generic_model.pkl"),
    ...                    os.path.join(folder, "landmark_embedding.npy"), n_shape=16)
    >>> model.n_alpha, model.n_beta, model.n_vertices  # 68 + the 68 appended landmarks
    (16, 15, 136)
    """
    source, path = path, _existing(path, "FLAME model")
    data = pickled_dict(source, path)
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
    return _build(
        path, "FLAME", "m", FLAME_LICENSE, mean, identity, expression, landmarks, triangles
    )


FORMAT = ModelFormat(
    description="FLAME generic_model.pkl (+ landmark_embedding_path=...)",
    matches=lambda file: {"v_template", "shapedirs"} <= file.pickled_keys,
    load=load_flame,
)
