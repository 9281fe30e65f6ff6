"""The model-format registry: each format says how to recognise its files and load them.

A format is one module in this package that defines a :class:`ModelFormat`; adding it to
:data:`FORMATS` (``sk3dface/models/io/__init__.py``) is all :func:`load_model` needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sk3dface.models.io._common import _fail, _mat_names
from sk3dface.utils import _safe_pickle


class ModelFile:
    """A candidate model file, read at most once while the formats are tried on it.

    Path-like (``os.fspath`` works), so a loader takes it wherever it takes a path and can
    reuse what sniffing has already read (:attr:`pickled`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @cached_property
    def mat_names(self) -> set[str]:
        return set(_mat_names(self.path)) if self.suffix == ".mat" else set()

    @cached_property
    def pickled(self) -> Any:
        return _safe_pickle.load(self.path)

    @cached_property
    def pickled_keys(self) -> set[str]:
        if self.suffix not in (".pkl", ".pickle"):
            return set()
        data = self.pickled
        return set(map(str, data)) if isinstance(data, dict) else set()

    def describe(self) -> str:
        """What was found, for the message when no format matches."""
        if self.path.is_dir():
            listing = sorted(p.name for p in self.path.iterdir())[:20]
            return f"a folder holding {listing}"
        if self.suffix == ".mat":
            return f"a .mat file with variables {sorted(self.mat_names)}"
        if self.suffix in (".pkl", ".pickle"):
            found = sorted(self.pickled_keys) or type(self.pickled).__name__
            return f"a pickle holding {found}"
        return f"a file of unknown type {self.suffix!r}"


def pickled_dict(source: Any, path: Path) -> dict:
    """The dict pickled in ``path`` (reusing a :class:`ModelFile`'s read); else an error."""
    data = source.pickled if isinstance(source, ModelFile) else _safe_pickle.load(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict of arrays; got {type(data).__name__}.")
    return data


@dataclass(frozen=True)
class ModelFormat:
    """One model file format: its description, how to recognise it, and its loader.

    Attributes
    ----------
    description : str
        What the user has, e.g. ``"FLAME generic_model.pkl"``; listed in error messages.
    matches : callable
        ``matches(file: ModelFile) -> bool``, cheap: names, suffixes, variable names.
    load : callable
        ``load(file: ModelFile, **options) -> MorphableModel``, the format's public loader.
    """

    description: str
    matches: Callable[[ModelFile], bool]
    load: Callable[..., Any]
