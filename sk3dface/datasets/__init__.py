"""Data sets: any labelled photo folder, KDEF and FEI layouts, view sets, synthetic faces."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "load_kdef": "sk3dface.datasets._kdef",
    "load_fei": "sk3dface.datasets._fei",
    "load_image_folder": "sk3dface.datasets._image_folder",
    "make_view_sets": "sk3dface.datasets._view_sets",
    "make_synthetic_faces": "sk3dface.datasets._synthetic",
    "make_synthetic_face_images": "sk3dface.datasets._face_images",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'sk3dface.datasets' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
