"""numpy or torch behind one array namespace (the Python array API standard).

Numerical code written against the standard runs on numpy (``xp = numpy``, numpy >= 2
implements it in its main namespace) and on torch through ``array_api_compat.torch``
(CPU or CUDA), so one implementation serves both. torch is imported only when asked for.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np


def resolve_device(device: str) -> str:
    """A torch device string, ``"auto"`` meaning CUDA when present, else the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:index]'."
        ) from exc
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' (CUDA when present, else CPU) or device='cpu'."
        )
    return device


def namespace(device: str | None) -> tuple[ModuleType, Any]:
    """``(numpy, None)`` for ``device=None``, else the torch namespace and the device."""
    if device is None:
        return np, None
    return _torch_namespace(), resolve_device(device)


def linalg_errors(xp: ModuleType) -> tuple[type[Exception], ...]:
    """The exceptions the namespace's ``linalg.solve`` raises for a singular matrix."""
    if xp is np:
        return (np.linalg.LinAlgError,)
    import torch

    return (torch.linalg.LinAlgError,)


def to_numpy(array: Any) -> np.ndarray:
    """A numpy copy (or the array itself) of a numpy array or a torch tensor on any device."""
    if isinstance(array, np.ndarray):
        return array
    return array.detach().cpu().numpy()


def array_namespace(array: Any) -> ModuleType:
    """The namespace of ``array``: torch's for a torch tensor, numpy for anything else."""
    if type(array).__module__.startswith("torch"):
        return _torch_namespace()
    return np


@functools.cache
def _torch_namespace() -> ModuleType:
    import array_api_compat.torch as xp

    return xp
