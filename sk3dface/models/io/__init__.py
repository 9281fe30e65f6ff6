"""Model file formats: one module per format, and :func:`load_model`, which detects them.

To add a format, write ``_<format>.py`` with its public loader and a
:class:`~sk3dface.models.io._registry.ModelFormat`, and list it in :data:`FORMATS`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io import _bfm2009, _bfm_front, _flame, _npz, _tddfa
from sk3dface.models.io._bfm2009 import load_bfm2009
from sk3dface.models.io._bfm_front import load_bfm_front
from sk3dface.models.io._common import _fail
from sk3dface.models.io._flame import load_flame
from sk3dface.models.io._registry import ModelFile, ModelFormat
from sk3dface.models.io._tddfa import load_3ddfa

__all__ = ["FORMATS", "load_3ddfa", "load_bfm2009", "load_bfm_front", "load_flame", "load_model"]

#: every format load_model knows, tried in this order
FORMATS: tuple[ModelFormat, ...] = (
    _npz.FORMAT,
    _bfm_front.FORMAT,
    _bfm2009.FORMAT,
    _tddfa.FORMAT,
    _flame.FORMAT,
)


def _supported() -> str:
    return "supported: 'default', " + ", ".join(f.description for f in FORMATS)


def load_model(path: Any, **kwargs: Any) -> MorphableModel:
    """Load a morphable model, detecting its format from the name and the arrays inside.

    Parameters
    ----------
    path : str, path-like or MorphableModel
        ``"default"`` for the built-in model (:func:`make_default_model`); a
        :class:`MorphableModel` (returned unchanged); a ``.npz`` written by
        :meth:`MorphableModel.save`; Deep3DFaceRecon's ``BFM_model_front.mat``; the raw BFM
        2009 ``01_MorphableModel.mat``; 3DDFA's ``bfm_noneck_v3.pkl`` or folder; FLAME's
        ``generic_model.pkl``.
    **kwargs
        Passed to the format's loader (an unknown option is a ``TypeError``), e.g.
        ``landmark_indices`` / ``expression_path`` for :func:`load_bfm2009`,
        ``landmark_embedding_path`` for :func:`load_flame`, ``whitening_path`` for
        :func:`load_3ddfa`.

    Returns
    -------
    model : MorphableModel

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    sk3dface.exceptions.ModelFormatError
        If the format is not recognised (the message lists what was found) or the file is
        inconsistent.

    See Also
    --------
    load_bfm_front, load_bfm2009, load_3ddfa, load_flame, make_default_model

    Examples
    --------
    >>> from sk3dface import load_model
    >>> model = load_model("default")
    >>> model.n_vertices, model.units
    (68, 'mm')
    >>> load_model(model) is model
    True
    """
    if isinstance(path, MorphableModel):
        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} do not apply to a MorphableModel.")
        return path
    if isinstance(path, str) and path == "default":
        from sk3dface.models._default_model import make_default_model

        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} do not apply to the default model.")
        return make_default_model()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load_model expects a path, 'default' or a MorphableModel; got {type(path).__name__}."
        )
    file = ModelFile(Path(os.fspath(path)))
    if not file.path.exists():
        raise FileNotFoundError(f"model file not found: {file.path} ({_supported()}).")
    for model_format in FORMATS:
        if model_format.matches(file):
            return model_format.load(file, **kwargs)
    raise _fail(file.path, f"{file.describe()}, which is no model format we know; {_supported()}.")


_logger = logging.getLogger(__name__)


def load_landmark_model(model: Any) -> Any:
    """Read a model given by name or path now, cut to the 68 vertices the fit uses.

    A bad file then fails before any image is processed, and a cache keyed on the pipeline's
    parameters sees the model's numbers, not a file name whose contents may change.
    """
    if isinstance(model, (str, os.PathLike)):
        loaded = load_model(model)
        _logger.info(
            "loaded model %s (%d identity, %d expression components)",
            os.fspath(model),
            loaded.n_alpha,
            loaded.n_beta,
        )
        return loaded.landmark_model()
    return model
