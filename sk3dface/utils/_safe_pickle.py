"""Read model pickles without executing pickled code.

Model files such as 3DDFA's ``bfm_noneck_v3.pkl`` or FLAME's ``generic_model.pkl`` are
pickles. A pickle may name any importable callable, so :func:`pickle.load` on a file from the
internet can run arbitrary code. :class:`SafeUnpickler` admits only what numpy arrays and plain
containers need; chumpy objects (FLAME) and scipy sparse matrices become inert stand-ins that
hold their pickled state, from which :func:`to_array` takes the numbers. Anything else raises
:class:`~sk3dface.exceptions.UnsafePickleError` naming the refused ``module.name`` and the file.
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from sk3dface.exceptions import ModelFormatError, UnsafePickleError

# Array reconstruction helpers of numpy (module names before and after numpy 2's rename).
_NUMPY_ALLOWED = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS_ALLOWED = {"set", "frozenset", "object", "complex", "slice"}
_SPARSE_CLASSES = {"csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array", "coo_array"}


class PickledObject:
    """Inert stand-in for a pickled chumpy or scipy.sparse object: it only stores state."""

    kind = "object"
    qualname = "?"
    state: Any = None  # set by BUILD; __init__ is never called when unpickling

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<pickled {self.kind} {self.qualname}>"


def _stand_in(kind: str, module: str, name: str) -> type:
    """A fresh stand-in class remembering which class the pickle named."""
    return type(name, (PickledObject,), {"kind": kind, "qualname": f"{module}.{name}"})


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """``copyreg._reconstructor`` restricted to stand-ins (Python 2 style object pickles)."""
    if not (isinstance(cls, type) and issubclass(cls, PickledObject)) or base is not object:
        raise pickle.UnpicklingError("copyreg._reconstructor may only rebuild stand-ins")
    return cls.__new__(cls)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 uses it to pickle bytes at protocol < 3."""
    if encoding.lower().replace("-", "") not in ("latin1", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"refused codec {encoding!r}")
    return text.encode(encoding)


class SafeUnpickler(pickle.Unpickler):
    """An :class:`pickle.Unpickler` that only rebuilds numpy arrays and plain containers.

    Parameters
    ----------
    file : binary file
        The open pickle.
    source : str
        File name used in error messages.
    """

    def __init__(self, file: BinaryIO, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1", fix_imports=True)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 pickles name e.g. "__builtin__"/"copy_reg"; map them like pickle does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _NUMPY_ALLOWED:
            return super().find_class(module, name)
        if module == "builtins" and name in _BUILTINS_ALLOWED:
            return super().find_class(module, name)
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module == "chumpy" or module.startswith("chumpy."):
            return _stand_in("chumpy", module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_CLASSES:
            return _stand_in("sparse", module, name)
        raise UnsafePickleError(
            f"{self.source}: refused to load {module}.{name}: model pickles may only contain "
            "numpy arrays, plain containers, chumpy arrays and scipy sparse matrices. "
            "The file may be corrupt or malicious; it was not executed."
        )


def load(path: str | os.PathLike | BinaryIO, *, source: str | None = None) -> Any:
    """Unpickle a file with :class:`SafeUnpickler`.

    Parameters
    ----------
    path : str, path-like or binary file
        The pickle (an open binary file is read from its current position).
    source : str, optional
        Name for error messages; default the path.

    Returns
    -------
    obj : object
        The unpickled object (numpy arrays, containers, :class:`PickledObject` stand-ins).

    Raises
    ------
    sk3dface.exceptions.UnsafePickleError
        If the pickle names anything not admitted.
    sk3dface.exceptions.ModelFormatError
        If the data is not a readable pickle.

    Examples
    --------
    >>> import io, pickle
    >>> import numpy as np
    >>> from sk3dface.utils import _safe_pickle
    >>> data = pickle.dumps({"u": np.arange(3.0)})
    >>> _safe_pickle.load(io.BytesIO(data))["u"]
    array([0., 1., 2.])
    """
    if isinstance(path, (str, os.PathLike)):
        source = source or os.fspath(path)
        with open(path, "rb") as f:
            return _load(f, source)
    return _load(path, source or getattr(path, "name", "<pickle>"))


def _load(f: BinaryIO, source: str) -> Any:
    try:
        return SafeUnpickler(f, source).load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        TypeError,
        ValueError,
        IndexError,
        KeyError,
        ImportError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise ModelFormatError(f"{source}: not a readable pickle ({exc}).") from None


def loads(data: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle bytes with :class:`SafeUnpickler` (see :func:`load`)."""
    return _load(io.BytesIO(data), source)


def to_array(value: Any, name: str, source: str) -> np.ndarray:
    """The numbers of an unpickled array, chumpy ``Ch`` or scipy sparse matrix, as numpy.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If ``value`` holds no array (e.g. a chumpy expression that needs chumpy to evaluate).
    """
    if isinstance(value, PickledObject):
        state = value.state if isinstance(value.state, dict) else {}
        if value.kind == "chumpy" and "x" in state:
            return to_array(state["x"], name, source)
        if value.kind == "sparse":
            return _sparse_to_dense(value, name, source)
        raise ModelFormatError(
            f"{source}: {name} is a pickled {value.qualname} without stored values; "
            "only plain chumpy Ch arrays can be read without chumpy. Re-save the file with "
            "numpy arrays (e.g. `x.r` for chumpy objects)."
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{source}: {name} is not an array ({exc}).") from None
    if array.dtype == object:
        raise ModelFormatError(f"{source}: {name} is not a numeric array (got {type(value)}).")
    return array


def _sparse_to_dense(value: PickledObject, name: str, source: str) -> np.ndarray:
    from scipy import sparse

    state = value.state if isinstance(value.state, dict) else {}
    shape = state.get("_shape")
    fmt = value.qualname.rsplit(".", 1)[-1][:3]
    try:
        if fmt == "coo":
            coords = state.get("coords") or (state["row"], state["col"])
            matrix = sparse.coo_matrix((state["data"], coords), shape=shape)
        else:
            cls = sparse.csc_matrix if fmt == "csc" else sparse.csr_matrix
            matrix = cls((state["data"], state["indices"], state["indptr"]), shape=shape)
        return matrix.toarray()
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(
            f"{source}: {name} is a pickled {value.qualname} that could not be read ({exc})."
        ) from None
