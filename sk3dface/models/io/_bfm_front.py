"""Deep3DFaceRecon's ``BFM_model_front.mat`` (Basel Face Model, front part)."""

from __future__ import annotations

import os

from sk3dface.models._morphable_model import MorphableModel
from sk3dface.models.io._common import (
    BFM_EXPRESSION_LICENSE,
    _basis,
    _build,
    _existing,
    _get,
    _indices,
    _landmark_vertices,
    _loadmat,
    _triangles,
    _vertices,
)
from sk3dface.models.io._registry import ModelFormat


def load_bfm_front(path: str | os.PathLike) -> MorphableModel:
    """Load Deep3DFaceRecon's ``BFM_model_front.mat`` (Basel Face Model, front part).

    The file (made by Deep3DFaceRecon's ``util/load_mats.py`` from the BFM 2009 and the
    Guo et al. expression PCA) holds ``meanshape`` (1, 3N), ``idBase`` (3N, 80), ``exBase``
    (3N, 64), ``meantex`` (1, 3N), ``texBase`` (3N, 80), ``tri`` (1-based) and ``keypoints``
    (the 68 landmark vertices, 1-based), with N = 35,709 vertices. The bases there are
    already multiplied by the standard deviations (``shapePC * shapeEV``), so the coefficients
    are ~N(0, 1) as in the paper; coordinates are BFM's micrometres divided by 1e5, i.e.
    decimetres (``units="dm"``). The frame is BFM's, which is sk3dface's.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file.

    Returns
    -------
    model : MorphableModel
        80 identity and 64 expression components, texture and triangles included.

    Raises
    ------
    sk3dface.exceptions.ModelFormatError
        If the file is not such a model or its arrays are inconsistent.

    See Also
    --------
    load_model : Detects the format.

    Examples
    --------
    A file in this layout, written from the built-in model's 68 vertices:

    >>> import os, tempfile
    >>> import numpy as np, scipy.io
    >>> from sk3dface import load_bfm_front, make_default_model
    >>> m = make_default_model()
    >>> path = os.path.join(tempfile.mkdtemp(), "BFM_model_front.mat")
    >>> scipy.io.savemat(path, {"meanshape": m.mean.reshape(1, -1), "idBase": m.identity_basis,
    ...                         "exBase": m.expression_basis, "keypoints": np.arange(1, 69)[None]})
    >>> model = load_bfm_front(path)
    >>> model.n_alpha, model.n_beta, model.units
    (16, 15, 'dm')
    """
    path = _existing(path, "BFM_model_front.mat")
    data = _loadmat(path)
    mean = _vertices(_get(data, "meanshape", path), "meanshape", path)
    n = mean.shape[0]
    texture_mean = texture_basis = triangles = None
    if "meantex" in data:
        texture_mean = _vertices(_get(data, "meantex", path), "meantex", path)
        if "texBase" in data:
            texture_basis = _basis(_get(data, "texBase", path), n, "texBase", path)
    if "tri" in data:
        triangles = _triangles(_get(data, "tri", path), n, path, one_based=True)
    identity = _basis(_get(data, "idBase", path), n, "idBase", path)
    expression = _basis(_get(data, "exBase", path), n, "exBase", path)
    keypoints = _indices(_get(data, "keypoints", path), "keypoints", path, one_based=True)
    landmarks = _landmark_vertices(keypoints, path)
    label = "Deep3DFaceRecon BFM front"
    return _build(
        path,
        label,
        "dm",
        BFM_EXPRESSION_LICENSE,
        mean,
        identity,
        expression,
        landmarks,
        triangles,
        texture_mean=texture_mean,
        texture_basis=texture_basis,
    )


FORMAT = ModelFormat(
    description="Deep3DFaceRecon BFM_model_front.mat",
    matches=lambda file: {"meanshape", "idBase", "exBase"} <= file.mat_names,
    load=load_bfm_front,
)
