"""Data sets: any labelled photo folder, KDEF and FEI layouts, view sets, synthetic faces."""

from __future__ import annotations

from sk3dface.utils._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "load_kdef": "sk3dface.datasets._kdef",
    "make_kdef_view_sets": "sk3dface.datasets._kdef",
    "load_fei": "sk3dface.datasets._fei",
    "load_image_folder": "sk3dface.datasets._image_folder",
    "make_view_sets": "sk3dface.datasets._view_sets",
    "make_synthetic_faces": "sk3dface.datasets._synthetic",
    "make_synthetic_face_images": "sk3dface.datasets._face_images",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("sk3dface.datasets", _EXPORTS, globals())
