"""The contract between pipeline steps: array layouts and column names, in one place.

Between pipeline steps data are plain 2-D float arrays (see ``docs/architecture.md``):

- landmarks: ``(n_samples, n_views * 136)``, columns ``v{k}_x{i}, v{k}_y{i}`` for the 68
  iBUG points ``i`` of view ``k``;
- coefficients: ``(n_samples, n_views * (n_alpha + n_beta + 7))``, per view
  ``alpha_0.., beta_0.., yaw, pitch, roll, tx, ty, scale, residual`` (prefixed ``v{k}_``).

Every estimator that writes or reads these layouts uses the names and the
:class:`CoefficientLayout` defined here, never offsets of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral

import numpy as np

N_LANDMARKS = 68
LANDMARK_BLOCK = N_LANDMARKS * 2  # x, y per landmark
#: the pose part of a coefficient block, in this order
POSE_NAMES = ("yaw", "pitch", "roll", "tx", "ty", "scale")
#: after the pose: the RMS landmark error of the fit, in pixels
RESIDUAL_NAME = "residual"
N_POSE = len(POSE_NAMES) + 1  # pose + residual columns per view
#: the face-box columns of ``FaceLandmarker(return_box=True)``, per view, after all landmarks
BOX_NAMES = ("box_left", "box_top", "box_right", "box_bottom", "box_score")


def view_prefixed(names: list[str], n_views: int) -> list[str]:
    """``v{k}_`` + each name, for every view ``k`` in turn."""
    return [f"v{view}_{name}" for view in range(n_views) for name in names]


def landmark_names(n_views: int = 1) -> list[str]:
    """Column names of landmark arrays: ``v0_x0, v0_y0, ..., v{n_views-1}_y67``."""
    point_names = [f"{axis}{index}" for index in range(N_LANDMARKS) for axis in ("x", "y")]
    return view_prefixed(point_names, n_views)


def landmark_layout(n_columns: int, names: list[str] | None = None) -> tuple[int, bool] | None:
    """``(n_views, has_boxes)`` of a landmark array, or None when it is not one.

    Landmark arrays are ``n_views * 136`` landmark columns, optionally followed by the
    ``n_views * 5`` face-box columns of ``FaceLandmarker(return_box=True)``
    (:data:`BOX_NAMES`, ``v{k}_`` prefixed). Column names decide when they are exactly one
    of the two layouts; otherwise the count does: a multiple of 136 is landmarks only (the
    only ambiguity, 136 × 141 × m columns, is read that way), a multiple of 141 is landmarks
    and boxes.

    Examples
    --------
    >>> from sk3dface._layout import landmark_layout
    >>> landmark_layout(272), landmark_layout(282), landmark_layout(100)
    ((2, False), (2, True), None)
    """
    if names is not None:
        names = [str(name) for name in names]
        for n_views in {
            n_columns // LANDMARK_BLOCK,
            n_columns // (LANDMARK_BLOCK + len(BOX_NAMES)),
        }:
            if n_views and names == landmark_names(n_views):
                return n_views, False
            if n_views and names == landmark_names(n_views) + box_names(n_views):
                return n_views, True
    if n_columns and n_columns % LANDMARK_BLOCK == 0:
        return n_columns // LANDMARK_BLOCK, False
    if n_columns and n_columns % (LANDMARK_BLOCK + len(BOX_NAMES)) == 0:
        return n_columns // (LANDMARK_BLOCK + len(BOX_NAMES)), True
    return None


def box_names(n_views: int = 1) -> list[str]:
    """Column names of the face boxes: ``v0_box_left, ..., v{n_views-1}_box_score``."""
    return view_prefixed(list(BOX_NAMES), n_views)


@dataclass(frozen=True)
class CoefficientLayout:
    """Where alpha, beta, pose and residual sit in a coefficient array.

    Parameters
    ----------
    n_views : int
        Blocks per sample (1 after aggregation).
    n_alpha, n_beta : int
        Identity and expression coefficients per block.

    Examples
    --------
    >>> from sk3dface._layout import CoefficientLayout
    >>> layout = CoefficientLayout(n_views=2, n_alpha=3, n_beta=2)
    >>> layout.block_size, layout.n_columns
    (12, 24)
    >>> layout.block_names()[-7:]
    ['yaw', 'pitch', 'roll', 'tx', 'ty', 'scale', 'residual']
    >>> layout.column("v1_yaw")
    17
    """

    n_views: int
    n_alpha: int
    n_beta: int

    @property
    def block_size(self) -> int:
        return self.n_alpha + self.n_beta + N_POSE

    @property
    def n_columns(self) -> int:
        return self.n_views * self.block_size

    @property
    def alpha(self) -> slice:
        """Columns of alpha inside one block."""
        return slice(0, self.n_alpha)

    @property
    def beta(self) -> slice:
        """Columns of beta inside one block."""
        return slice(self.n_alpha, self.n_alpha + self.n_beta)

    @property
    def pose(self) -> slice:
        """Columns of yaw, pitch, roll, tx, ty, scale inside one block."""
        start = self.n_alpha + self.n_beta
        return slice(start, start + len(POSE_NAMES))

    def offset(self, name: str) -> int:
        """Column of ``name`` (``"yaw"``, ``"residual"``, ``"beta_3"``...) inside one block."""
        return self.block_names().index(name)

    def block_names(self) -> list[str]:
        """Names of one block, without the view prefix."""
        return (
            [f"alpha_{i}" for i in range(self.n_alpha)]
            + [f"beta_{i}" for i in range(self.n_beta)]
            + [*POSE_NAMES, RESIDUAL_NAME]
        )

    def feature_names(self) -> list[str]:
        """Column names of the whole array, ``v{k}_`` prefixed per view."""
        return view_prefixed(self.block_names(), self.n_views)

    def column(self, name: str) -> int:
        """Column of a prefixed name such as ``"v1_yaw"`` in the whole array."""
        return self.feature_names().index(name)

    def split(self, X: np.ndarray) -> np.ndarray:
        """``X`` reshaped to ``(n_samples, n_views, block_size)``."""
        return split_views(X, self.block_size)

    @classmethod
    def from_names(cls, names: list[str]) -> CoefficientLayout | None:
        """The layout whose :meth:`feature_names` are exactly ``names``, else None."""
        names = [str(n) for n in names]
        prefix = re.match(r"v(\d+)_", names[0]) if names else None
        n_views = 1
        if prefix:
            n_views = 1 + max(int(m.group(1)) for n in names if (m := re.match(r"v(\d+)_", n)))
        n_alpha = sum(bool(re.fullmatch(r"(v0_)?alpha_\d+", n)) for n in names)
        n_beta = sum(bool(re.fullmatch(r"(v0_)?beta_\d+", n)) for n in names)
        layout = cls(n_views, n_alpha, n_beta)
        expected = layout.feature_names() if prefix else layout.block_names()
        return layout if names == expected else None

    @classmethod
    def from_params(
        cls,
        n_features: int,
        *,
        n_views: int | None = None,
        n_alpha: int | None = None,
        n_beta: int | None = None,
        names: list[str] | None = None,
        owner: str = "The estimator",
    ) -> CoefficientLayout:
        """The layout of ``n_features`` columns, from column names if they carry it.

        Column names from :meth:`feature_names` decide (parameters that contradict them
        are an error); otherwise two of ``n_views``, ``n_alpha`` and ``n_beta`` must be
        given, and ``n_features`` must fit them.
        """
        given = {"n_views": n_views, "n_alpha": n_alpha, "n_beta": n_beta}
        if names is not None:
            parsed = cls.from_names(list(names))
            if parsed is not None:
                found = {
                    "n_views": parsed.n_views,
                    "n_alpha": parsed.n_alpha,
                    "n_beta": parsed.n_beta,
                }
                for key, value in given.items():
                    if value is not None and value != found[key]:
                        raise ValueError(
                            f"{owner}: {key}={value} contradicts the column names of X, which "
                            f"hold {found[key]}."
                        )
                return parsed
        if n_alpha is not None and n_beta is not None:
            block = n_alpha + n_beta + N_POSE
            if n_views is None and n_features % block == 0 and n_features:
                return cls(n_features // block, n_alpha, n_beta)
            if n_views is not None and n_features == n_views * block:
                return cls(n_views, n_alpha, n_beta)
        elif n_views is not None and (n_alpha is not None or n_beta is not None):
            known = n_alpha if n_alpha is not None else n_beta
            rest = n_features / n_views - N_POSE - known
            if rest == int(rest) and rest >= 0:
                rest = int(rest)
                if n_alpha is not None:
                    return cls(n_views, n_alpha, rest)
                return cls(n_views, rest, n_beta)
        else:
            raise ValueError(
                f"{owner} cannot tell the per-view layout of X ({n_features} columns): pass two "
                "of n_views, n_alpha and n_beta (as given to MorphableCoefficientExtractor; the "
                "default model has n_alpha=16, n_beta=15), or give X the extractor's column "
                "names, e.g. with set_output(transform='pandas') on the pipeline."
            )
        raise ValueError(
            f"{owner}: X has {n_features} feature(s) (columns), which does not fit {given} with "
            f"{N_POSE} pose/residual columns per view (n_views * (n_alpha + n_beta + {N_POSE}))."
        )


def split_views(X: np.ndarray, view_size: int, *, name: str = "X") -> np.ndarray:
    """Reshape ``(n_samples, n_views * view_size)`` to ``(n_samples, n_views, view_size)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_views * view_size)
        Per-view blocks laid side by side, view 0 first.
    view_size : int
        Number of columns of one view's block.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    views : ndarray of shape (n_samples, n_views, view_size)
        A view of ``X`` (no copy when ``X`` is C-contiguous float).

    Raises
    ------
    ValueError
        If ``view_size`` is not a positive integer, ``X`` is not 2-D or its column count
        is not a multiple of ``view_size``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import split_views
    >>> split_views(np.zeros((4, 6)), 3).shape
    (4, 2, 3)
    """
    if isinstance(view_size, bool) or not isinstance(view_size, Integral) or view_size < 1:
        raise ValueError(f"view_size must be a positive integer; got {view_size!r}.")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, n_views*{view_size}); "
            f"got an array with shape {X.shape}."
        )
    n_samples, n_columns = X.shape
    if n_columns == 0 or n_columns % view_size:
        raise ValueError(
            f"{name} has {n_columns} columns, which is not a positive multiple of "
            f"{view_size} (the columns of one view): expected shape "
            f"(n_samples, n_views*{view_size})."
        )
    return X.reshape(n_samples, n_columns // view_size, view_size)


def landmarks_to_views(X: np.ndarray) -> np.ndarray:
    """Reshape FaceLandmarker output to ``(n_samples, n_views, 68, 2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_views * 136)
        Landmarks as produced by :class:`~sk3dface.FaceLandmarker`: for each
        view the 68 iBUG points as ``x0, y0, x1, y1, ...`` in pixels.

    Returns
    -------
    landmarks : ndarray of shape (n_samples, n_views, 68, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface import landmarks_to_views
    >>> landmarks_to_views(np.zeros((5, 3 * 136))).shape
    (5, 3, 68, 2)
    """
    views = split_views(X, LANDMARK_BLOCK)
    return views.reshape(views.shape[0], views.shape[1], N_LANDMARKS, 2)
