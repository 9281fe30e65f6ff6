"""sk3dface's own ``.npz`` model files, written by :meth:`MorphableModel.save`."""

from __future__ import annotations

from typing import Any

from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io._registry import ModelFile, ModelFormat


def _load_npz(file: ModelFile, **options: Any) -> MorphableModel:
    if options:
        raise TypeError(f"unexpected options {sorted(options)} for a MorphableModel .npz file.")
    return MorphableModel.load(file)


FORMAT = ModelFormat(
    description="a MorphableModel .npz (MorphableModel.save)",
    matches=lambda file: file.suffix == ".npz",
    load=_load_npz,
)
