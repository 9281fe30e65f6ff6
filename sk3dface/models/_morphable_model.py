"""The :class:`MorphableModel` container: shapes, landmarks and projection of coefficients.

Convention: model space is right-handed with ``x`` towards the subject's left, ``y`` up and
``z`` towards the camera; rotations are ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` in degrees;
image ``y`` points down (``v = -scale * (R X)_y + ty``). See ``docs/conventions.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sk3dface._layout import N_LANDMARKS
from sk3dface.exceptions import ModelFormatError
from sk3dface.models._camera import project, rotation_angles, rotation_matrix

_FORMAT_TAG = "sk3dface.MorphableModel"
_FORMAT_VERSION = 1
_ARRAY_FIELDS = (
    "mean",
    "identity_basis",
    "expression_basis",
    "landmark_indices",
    "triangles",
    "texture_mean",
    "texture_basis",
)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, read with ``allow_pickle=False`` (never runs code).

    Raises ``FileNotFoundError`` for a missing file and ``ModelFormatError`` naming the file
    for anything that is not such an archive: an empty, truncated or corrupt file, random
    bytes, a single ``.npy`` array, or an archive holding pickled object arrays.
    """
    import zipfile
    import zlib

    source = os.fspath(path)
    try:
        with open(source, "rb") as file:
            magic = file.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f".npz file not found: {source}") from None
    except OSError as exc:
        raise ModelFormatError(f"{source}: cannot read the .npz file ({exc}).") from None
    if not magic:
        raise ModelFormatError(
            f"{source}: not a readable .npz archive: the file is empty (0 bytes). Write it "
            "again with MorphableModel.save."
        )
    if magic[:2] != b"PK":  # every zip archive (so every .npz) starts with "PK"
        if magic == b"\x93NUM":
            found = "a single .npy array, not an .npz archive"
        else:
            found = f"it starts with bytes {magic!r}, not with a zip archive's 'PK'"
        raise ModelFormatError(
            f"{source}: not a readable .npz archive ({found}). Expected an .npz written by "
            "numpy.savez or MorphableModel.save."
        )
    try:
        with np.load(source, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
        raise ModelFormatError(
            f"{source}: not a readable .npz archive: the zip archive is truncated or corrupt "
            f"({exc}). Copy or download the file again."
        ) from None
    except (OSError, ValueError, NotImplementedError) as exc:
        raise ModelFormatError(f"{source}: not a readable .npz archive ({exc}).") from None


def _locked(array: np.ndarray) -> np.ndarray:
    """A read-only view, so a model can share arrays with its copies safely."""
    view = array.view()
    view.flags.writeable = False
    return view


def _fail(source: str, message: str) -> ModelFormatError:
    prefix = f"{source}: " if source else ""
    return ModelFormatError(prefix + message)


def _check_shape(array: np.ndarray, name: str, shape: tuple, source: str) -> None:
    """Check ``array.shape`` against ``shape`` (ints, or None for a free dimension)."""
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        expected = tuple("*" if s is None else s for s in shape)
        expected = str(expected).replace("'", "")
        raise _fail(source, f"{name} must have shape {expected}; got {array.shape}.")


def _float_array(value: Any, name: str, shape: tuple, source: str) -> np.ndarray:
    """Check a float array against ``shape`` (ints or None for free dims)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _fail(source, f"{name} must be a numeric array ({exc}).") from None
    _check_shape(array, name, shape, source)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise _fail(source, f"{name} contains {bad} NaN or infinite values.")
    return array


def _index_array(value: Any, name: str, shape: tuple, upper: int, source: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind == "f" and array.size and np.all(np.isfinite(array)):
        if np.any(array != np.round(array)):
            raise _fail(source, f"{name} must hold integer indices; got non-integral values.")
        array = array.astype(np.intp)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise _fail(source, f"{name} must hold integer indices; got dtype {array.dtype}.")
    array = array.astype(np.intp)
    _check_shape(array, name, shape, source)
    if array.size and (array.min() < 0 or array.max() >= upper):
        raise _fail(
            source,
            f"{name} must be 0-based vertex indices in [0, {upper}); got values in "
            f"[{array.min()}, {array.max()}] (1-based indices need 1 subtracted).",
        )
    return array


def _names(value: Sequence[str] | None, n: int, prefix: str, name: str, source: str):
    if value is None:
        return tuple(f"{prefix}_{i}" for i in range(n))
    names = tuple(str(v) for v in np.asarray(value, dtype=object).ravel())
    if len(names) != n:
        raise _fail(source, f"{name} has {len(names)} names for {n} components.")
    return names


class MorphableModel:
    """A linear 3-D morphable face model with 68 iBUG landmarks.

    A shape is ``mean + identity_basis @ alpha + expression_basis @ beta`` (flattened
    ``x0, y0, z0, x1, ...``), with ``alpha`` and ``beta`` ~N(0, 1) under the model's prior.
    Arrays are stored as read-only float64 views (index arrays as ``intp``); copies, truncations
    and pickles share or rebuild them cheaply. The constructor validates shapes, finiteness and
    index ranges.

    Parameters
    ----------
    mean : array-like of shape (n_vertices, 3)
        Mean shape in model space (``x`` subject's left, ``y`` up, ``z`` towards the camera).
    identity_basis : array-like of shape (3 * n_vertices, n_alpha)
        Identity modes, one column each, rows xyz-interleaved per vertex (row ``3*v + k`` is
        coordinate ``k`` of vertex ``v``), scaled by their standard deviations.
    expression_basis : array-like of shape (3 * n_vertices, n_beta)
        Expression modes, laid out and scaled like ``identity_basis``.
    landmark_indices : array-like of shape (68,)
        0-based vertex index of each iBUG-68 landmark, in dlib's order.
    triangles : array-like of shape (n_triangles, 3), optional
        0-based vertex indices of the mesh faces.
    texture_mean : array-like of shape (n_vertices, 3), optional
        Mean per-vertex colour (RGB, in the file's range).
    texture_basis : array-like of shape (3 * n_vertices, n_texture), optional
        Colour modes, scaled like the shape bases.
    identity_names, expression_names : sequence of str, optional
        Names of the modes; default ``alpha_0, ...`` and ``beta_0, ...``.
    name : str, default=""
        Description of the model (source file, format).
    units : str, default=""
        Unit of model coordinates, e.g. ``"mm"`` or ``"um"``.
    license : str, default=""
        Terms of use of the model data (the loaders fill it in, e.g. "non-commercial
        research only" for the Basel Face Model and FLAME).

    Attributes
    ----------
    n_vertices : int
        Number of vertices.
    n_alpha : int
        Number of identity components.
    n_beta : int
        Number of expression components.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If an array has the wrong shape, holds NaN/inf, or an index is out of range.

    See Also
    --------
    sk3dface.make_default_model : The built-in sparse 68-landmark model.
    sk3dface.load_model : Load a model from a file (format detected).

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import MorphableModel
    >>> rng = np.random.default_rng(0)
    >>> model = MorphableModel(rng.normal(size=(100, 3)), rng.normal(size=(300, 5)),
    ...                        rng.normal(size=(300, 2)), np.arange(68))
    >>> model.shape(np.zeros((4, 5))).shape
    (4, 100, 3)
    >>> model.landmark_model().n_vertices
    68
    """

    def __init__(
        self,
        mean: Any,
        identity_basis: Any,
        expression_basis: Any,
        landmark_indices: Any,
        *,
        triangles: Any = None,
        texture_mean: Any = None,
        texture_basis: Any = None,
        identity_names: Sequence[str] | None = None,
        expression_names: Sequence[str] | None = None,
        name: str = "",
        units: str = "",
        license: str = "",
    ) -> None:
        src = str(name)
        mean = _float_array(mean, "mean", (None, 3), src)
        n = mean.shape[0]
        if n == 0:
            raise _fail(src, "mean has no vertices.")
        identity_basis = _float_array(identity_basis, "identity_basis", (3 * n, None), src)
        expression_basis = _float_array(expression_basis, "expression_basis", (3 * n, None), src)
        landmark_indices = _index_array(
            landmark_indices, "landmark_indices", (N_LANDMARKS,), n, src
        )
        if triangles is not None:
            triangles = _locked(_index_array(triangles, "triangles", (None, 3), n, src))
        if texture_mean is not None:
            texture_mean = _locked(_float_array(texture_mean, "texture_mean", (n, 3), src))
        if texture_basis is not None:
            if texture_mean is None:
                raise _fail(src, "texture_basis was given without texture_mean.")
            texture_basis = _locked(
                _float_array(texture_basis, "texture_basis", (3 * n, None), src)
            )
        self.mean = _locked(mean)
        self.identity_basis = _locked(identity_basis)
        self.expression_basis = _locked(expression_basis)
        self.landmark_indices = _locked(landmark_indices)
        self.triangles = triangles
        self.texture_mean = texture_mean
        self.texture_basis = texture_basis
        self.identity_names = _names(
            identity_names, identity_basis.shape[1], "alpha", "identity_names", src
        )
        self.expression_names = _names(
            expression_names, expression_basis.shape[1], "beta", "expression_names", src
        )
        self.name = str(name)
        self.units = str(units)
        self.license = str(license)

    # ------------------------------------------------------------------ sizes
    @property
    def n_vertices(self) -> int:
        """Number of vertices."""
        return self.mean.shape[0]

    @property
    def n_alpha(self) -> int:
        """Number of identity components."""
        return self.identity_basis.shape[1]

    @property
    def n_beta(self) -> int:
        """Number of expression components."""
        return self.expression_basis.shape[1]

    def __repr__(self) -> str:
        return (
            f"MorphableModel(name={self.name!r}, n_vertices={self.n_vertices}, "
            f"n_alpha={self.n_alpha}, n_beta={self.n_beta}, units={self.units!r})"
        )

    # ------------------------------------------------------------------ shapes
    def _coefficients(self, value: Any, n: int, name: str) -> np.ndarray | None:
        if value is None:
            return None
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of numbers; got {value!r}.") from exc
        if value.ndim == 0 or value.shape[-1] != n:
            raise ValueError(
                f"{name} must have shape (..., {n}) for this model; got {value.shape}."
            )
        return value

    def _combine(self, mean_flat, id_rows, ex_rows, alpha, beta, n_points):
        alpha = self._coefficients(alpha, self.n_alpha, "alpha")
        beta = self._coefficients(beta, self.n_beta, "beta")
        flat = mean_flat
        if alpha is not None:
            flat = flat + alpha @ id_rows.T
        if beta is not None:
            flat = flat + beta @ ex_rows.T
        flat = np.array(flat, dtype=np.float64)  # writable, never a view of the model
        return flat.reshape(*flat.shape[:-1], n_points, 3)

    def shape(self, alpha: Any = None, beta: Any = None) -> np.ndarray:
        """Vertices of the shapes with identity ``alpha`` and expression ``beta``.

        Parameters
        ----------
        alpha : array-like of shape (..., n_alpha), optional
            Identity coefficients; None means zeros (the mean identity).
        beta : array-like of shape (..., n_beta), optional
            Expression coefficients; None means zeros (neutral). Batch dimensions of ``alpha``
            and ``beta`` broadcast.

        Returns
        -------
        vertices : ndarray of shape (..., n_vertices, 3)
        """
        return self._combine(
            self.mean.reshape(-1),
            self.identity_basis,
            self.expression_basis,
            alpha,
            beta,
            self.n_vertices,
        )

    def _landmark_rows(self) -> np.ndarray:
        return (3 * self.landmark_indices[:, None] + np.arange(3)).ravel()

    def landmarks(self, alpha: Any = None, beta: Any = None) -> np.ndarray:
        """The 68 landmarks of the shapes with coefficients ``alpha`` and ``beta``.

        Parameters
        ----------
        alpha : array-like of shape (..., n_alpha), optional
            Identity coefficients; None means zeros.
        beta : array-like of shape (..., n_beta), optional
            Expression coefficients; None means zeros.

        Returns
        -------
        landmarks : ndarray of shape (..., 68, 3)
            iBUG-68 points in dlib's order, in model space.
        """
        rows = self._landmark_rows()
        return self._combine(
            self.mean[self.landmark_indices].reshape(-1),
            self.identity_basis[rows],
            self.expression_basis[rows],
            alpha,
            beta,
            N_LANDMARKS,
        )

    def project_landmarks(
        self,
        alpha: Any = None,
        beta: Any = None,
        *,
        yaw: Any = 0.0,
        pitch: Any = 0.0,
        roll: Any = 0.0,
        tx: Any = 0.0,
        ty: Any = 0.0,
        scale: Any = 1.0,
        camera: str = "orthographic",
        focal_length: Any = None,
    ) -> np.ndarray:
        """Image positions of the 68 landmarks for coefficients and pose.

        Parameters
        ----------
        alpha, beta : array-like of shape (..., n_alpha) / (..., n_beta), optional
            Coefficients (None means zeros).
        yaw, pitch, roll, tx, ty, scale, camera, focal_length
            Pose and camera, as in :func:`project`; arrays of shape (...) broadcast with the
            coefficients' batch shape.

        Returns
        -------
        uv : ndarray of shape (..., 68, 2)
            Pixel coordinates, ``v`` down, in the layout of FaceLandmarker's output.

        Examples
        --------
        >>> from sk3dface import make_default_model
        >>> model = make_default_model()
        >>> uv = model.project_landmarks(yaw=[0.0, 30.0], tx=250, ty=250, scale=2.0)
        >>> uv.shape
        (2, 68, 2)
        >>> bool(uv[0, 36, 0] < uv[0, 45, 0])  # subject's right eye on the image left
        True
        """
        return project(
            self.landmarks(alpha, beta),
            yaw,
            pitch,
            roll,
            tx,
            ty,
            scale,
            camera=camera,
            focal_length=focal_length,
        )

    rotation_matrix = staticmethod(rotation_matrix)
    rotation_angles = staticmethod(rotation_angles)
    project = staticmethod(project)

    # ------------------------------------------------------------------ derived models
    def _replace(self, **changes: Any) -> MorphableModel:
        fields = {
            "mean": self.mean,
            "identity_basis": self.identity_basis,
            "expression_basis": self.expression_basis,
            "landmark_indices": self.landmark_indices,
            "triangles": self.triangles,
            "texture_mean": self.texture_mean,
            "texture_basis": self.texture_basis,
            "identity_names": self.identity_names,
            "expression_names": self.expression_names,
            "name": self.name,
            "units": self.units,
            "license": self.license,
        }
        fields.update(changes)
        return MorphableModel(**fields)

    def copy(self) -> MorphableModel:
        """A new model object sharing this one's (read-only) arrays."""
        new = object.__new__(MorphableModel)
        new.__dict__.update(self.__dict__)
        return new

    def truncate(self, n_alpha: int | None = None, n_beta: int | None = None) -> MorphableModel:
        """A model keeping only the first ``n_alpha`` identity and ``n_beta`` expression modes.

        Parameters
        ----------
        n_alpha, n_beta : int, optional
            Number of components to keep (None keeps all); at most the current number.

        Returns
        -------
        model : MorphableModel
        """
        counts = []
        for value, have, label in (
            (n_alpha, self.n_alpha, "n_alpha"),
            (n_beta, self.n_beta, "n_beta"),
        ):
            if value is None:
                counts.append(have)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{label} must be an int or None; got {value!r}.")
            if not 0 <= value <= have:
                raise ValueError(f"{label} must be in [0, {have}] for this model; got {value}.")
            counts.append(int(value))
        a, b = counts
        return self._replace(
            identity_basis=self.identity_basis[:, :a],
            expression_basis=self.expression_basis[:, :b],
            identity_names=self.identity_names[:a],
            expression_names=self.expression_names[:b],
        )

    def landmark_model(self) -> MorphableModel:
        """A copy restricted to the 68 landmark vertices (all a landmark fit needs).

        Returns
        -------
        model : MorphableModel
            ``n_vertices == 68`` and ``landmark_indices == arange(68)``; triangles are dropped,
            texture is kept for the landmark vertices.
        """
        idx = self.landmark_indices
        rows = self._landmark_rows()
        return self._replace(
            mean=self.mean[idx],
            identity_basis=self.identity_basis[rows],
            expression_basis=self.expression_basis[rows],
            landmark_indices=np.arange(N_LANDMARKS),
            triangles=None,
            texture_mean=None if self.texture_mean is None else self.texture_mean[idx],
            texture_basis=None if self.texture_basis is None else self.texture_basis[rows],
        )

    # ------------------------------------------------------------------ pickling
    def __setstate__(self, state: dict) -> None:
        for key in _ARRAY_FIELDS:
            if state.get(key) is not None:
                state[key] = _locked(np.asarray(state[key]))
        state.setdefault("license", "")
        self.__dict__.update(state)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike, *, compressed: bool = False) -> None:
        """Write the model to an ``.npz`` file readable with ``allow_pickle=False``.

        Parameters
        ----------
        path : str or path-like
            Destination; numpy appends ``.npz`` when missing.
        compressed : bool, default=False
            Use ``numpy.savez_compressed`` (smaller, slower).

        See Also
        --------
        MorphableModel.load : Read it back.
        """
        arrays: dict[str, np.ndarray] = {
            "format": np.array(_FORMAT_TAG),
            "format_version": np.array(_FORMAT_VERSION),
            "name": np.array(self.name),
            "units": np.array(self.units),
            "license": np.array(self.license),
            "identity_names": np.array(self.identity_names, dtype=str).reshape(-1),
            "expression_names": np.array(self.expression_names, dtype=str).reshape(-1),
        }
        for key in _ARRAY_FIELDS:
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        (np.savez_compressed if compressed else np.savez)(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MorphableModel:
        """Read a model written by :meth:`save` (no pickles are executed).

        Parameters
        ----------
        path : str or path-like
            An ``.npz`` file written by :meth:`save`.

        Returns
        -------
        model : MorphableModel

        Raises
        ------
        sk3dface.exceptions.ModelFormatError
            If the file is not such an archive or its arrays are inconsistent.

        Examples
        --------
        >>> import tempfile, os
        >>> from sk3dface import MorphableModel, make_default_model
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "model.npz")
        ...     make_default_model().save(path)
        ...     MorphableModel.load(path).n_alpha == make_default_model().n_alpha
        True
        """
        source = os.fspath(path)
        contents = read_npz(source)
        if str(contents.get("format", "")) != _FORMAT_TAG:
            raise ModelFormatError(
                f"{source}: not a file written by MorphableModel.save (no format tag "
                f"{_FORMAT_TAG!r}); found arrays {sorted(contents)}."
            )
        missing = [
            k
            for k in ("mean", "identity_basis", "expression_basis", "landmark_indices")
            if k not in contents
        ]
        if missing:
            raise ModelFormatError(f"{source}: missing arrays {missing}.")
        return cls(
            contents["mean"],
            contents["identity_basis"],
            contents["expression_basis"],
            contents["landmark_indices"],
            triangles=contents.get("triangles"),
            texture_mean=contents.get("texture_mean"),
            texture_basis=contents.get("texture_basis"),
            identity_names=list(contents.get("identity_names", [])) or None,
            expression_names=list(contents.get("expression_names", [])) or None,
            name=str(contents.get("name", source)) or source,
            units=str(contents.get("units", "")),
            license=str(contents.get("license", "")),
        )
