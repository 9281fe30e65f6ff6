"""What every model loader shares: licences, file checks, readers and array validation."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from sk3dface._layout import N_LANDMARKS
from sk3dface.exceptions import ModelFormatError
from sk3dface.models._morphable_model import MorphableModel
from sk3dface.utils import _safe_pickle

logger = logging.getLogger(__name__)

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
_noted: set[str] = set()


def _note_license(license: str) -> None:
    """Log the licence once per process at INFO level (quiet unless logging is configured)."""
    if license not in _noted:
        _noted.add(license)
        logger.info("Loaded a morphable model with usage terms: %s", license)


def _fail(source: Any, message: str) -> ModelFormatError:
    return ModelFormatError(f"{os.fspath(source)}: {message}")


def _existing(path: Any, what: str, *, folder_ok: bool = False) -> Path:
    """``path`` as a Path, checked to exist (and, unless ``folder_ok``, not to be a folder)."""
    try:
        path = Path(os.fspath(path))
    except TypeError:
        raise TypeError(f"{what} must be a path; got {type(path).__name__}.") from None
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not folder_ok and path.is_dir():
        raise _fail(path, f"{what} is a folder; pass the file itself.")
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


def _build(
    source: Any,
    label: str,
    units: str,
    license: str,
    mean: np.ndarray,
    identity_basis: np.ndarray,
    expression_basis: np.ndarray,
    landmark_indices: np.ndarray,
    triangles: np.ndarray | None = None,
    *,
    texture_mean: np.ndarray | None = None,
    texture_basis: np.ndarray | None = None,
) -> MorphableModel:
    """The MorphableModel ``"<label> (<file name>)"`` of a model file's arrays.

    A validation error names the file; the model is checked to be a face in sk3dface's
    frame and its licence is noted (see :func:`_finish`).
    """
    name = f"{label} ({source.name})"
    try:
        model = MorphableModel(
            mean=mean,
            identity_basis=identity_basis,
            expression_basis=expression_basis,
            landmark_indices=landmark_indices,
            triangles=triangles,
            texture_mean=texture_mean,
            texture_basis=texture_basis,
            name=name,
            units=units,
            license=license,
        )
    except ModelFormatError as exc:
        message = str(exc)
        if message.startswith(name + ": "):
            message = message[len(name) + 2 :]
        raise _fail(source, message) from None
    return _finish(model, source)


# --------------------------------------------------------------------------- Deep3DFaceRecon
