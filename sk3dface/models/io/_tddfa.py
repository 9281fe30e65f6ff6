"""3DDFA's Basel Face Model: ``bfm_noneck_v3.pkl`` or the folder of ``.npy`` files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io._common import (
    BFM_EXPRESSION_LICENSE,
    _basis,
    _build,
    _existing,
    _fail,
    _get,
    _landmark_vertices,
    _load_npy,
    _std,
    _triangles,
    _vertices,
)
from sk3dface.models.io._registry import ModelFile, ModelFormat, pickled_dict
from sk3dface.utils import _safe_pickle

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

    Examples
    --------
    The small stand-in model that :class:`~sk3dface.TDDFABackend`'s examples use, in v1's
    folder layout (the real files are 3DDFA's):

    >>> import tempfile
    >>> from sk3dface import load_3ddfa
    >>> from sk3dface.landmarks._tddfa import write_random_files
    >>> model = load_3ddfa(write_random_files(tempfile.mkdtemp())["model"])
    >>> model.n_alpha, model.n_beta, model.units
    (40, 10, 'um')
    """
    source, path = path, _existing(path, "3DDFA model", folder_ok=True)
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
        return _3ddfa_from_dict(pickled_dict(source, path), path, whitening_path)
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
    landmarks = _landmark_vertices(keypoints, path)
    label = "3DDFA Basel Face Model"
    return _build(
        path, label, "um", BFM_EXPRESSION_LICENSE, mean, identity, expression, landmarks, triangles
    )


def _is_3ddfa(file: ModelFile) -> bool:
    if file.path.is_dir():
        return all((file.path / name).exists() for name in _3DDFA_FILES)
    return {"u", "w_shp", "w_exp"} <= file.pickled_keys


FORMAT = ModelFormat(
    description="3DDFA bfm_noneck_v3.pkl or its folder of .npy files",
    matches=_is_3ddfa,
    load=load_3ddfa,
)
