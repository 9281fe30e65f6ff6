"""What the per-view image transformers share: view sets in, one block per view out.

:class:`~sk3dface.FaceLandmarker` (and its :class:`~sk3dface.FaceEmbedder`) and
:class:`~sk3dface.ImageCoefficientRegressor` read view sets, find one face per view and
write one fixed-width block per view, NaN for missing and failed views.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from sk3dface.landmarks._backend import check_box_in_image, check_boxes, largest_face_and_score
from sk3dface.utils._failures import ViewFailure, report_failures
from sk3dface.utils._images import load_image
from sk3dface.utils._input import as_view_sets
from sk3dface.utils._parallel import N_JOBS_CONSTRAINT
from sk3dface.utils._sklearn_compat import Interval, StrOptions

#: one view to compute: (sample, view, image, face box or None to detect)
ViewTask = tuple[int, int, Any, "np.ndarray | None"]

#: the constraints of the parameters every per-view transformer has
VIEW_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "detection_width": [Interval(Integral, 32, None, closed="left"), None],
    "max_pixels": [Interval(Integral, 1, None, closed="left"), None],
    "n_views": [Interval(Integral, 1, None, closed="left"), None],
    "on_error": [StrOptions({"warn", "raise"})],
    "n_jobs": N_JOBS_CONSTRAINT,
    "verbose": ["verbose"],
}


def locate_face(
    backend: Any,
    image: Any,
    box: np.ndarray | None,
    max_pixels: int | None,
    detection_width: int | None,
    name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``image`` and check its face box: the given ``box``, or the largest face found.

    Raises :class:`~sk3dface.exceptions.ImageReadError` or
    :class:`~sk3dface.exceptions.FaceNotFoundError` for the view.
    """
    rgb, box, _ = locate_face_with_score(backend, image, box, max_pixels, detection_width, name)
    return rgb, box


def locate_face_with_score(
    backend: Any,
    image: Any,
    box: np.ndarray | None,
    max_pixels: int | None,
    detection_width: int | None,
    name: str,
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`locate_face` and the detector's score of the box (NaN for a given box)."""
    rgb = load_image(image, max_pixels=max_pixels)
    if box is None:
        box, score = largest_face_and_score(backend, rgb, detection_width, name)
        check_box_in_image(box, rgb, name, f"found by {type(backend).__name__}")
    else:
        score = np.nan
        check_box_in_image(box, rgb, name, "given in face_boxes")
    return rgb, box, score


class PerViewImageMixin:
    """View-set input checks, view tasks, output assembly and tags of a per-view transformer.

    The estimator has ``n_views`` and ``on_error`` parameters and sets ``n_views_`` in fit.
    ``owner`` is the class name its messages use.
    """

    def _fit_n_views(self, X: Sequence[Any], owner: str) -> int:
        """``n_views`` or the longest view set of ``X``, checked; X must hold a sample."""
        view_sets = as_view_sets(X, type(self).__name__)
        if not view_sets:
            raise ValueError(f"X has 0 samples; {owner} needs at least one image.")
        longest = max(len(views) for views in view_sets)
        if self.n_views is not None and longest > self.n_views:
            raise ValueError(
                f"A view set in X has {longest} views but n_views={self.n_views}; raise "
                "n_views or shorten the view sets."
            )
        n_views = self.n_views if self.n_views is not None else longest
        if n_views == 0:
            raise ValueError("Every sample of X is an empty view set; there is nothing to fit.")
        return n_views

    def _view_tasks(self, X: Sequence[Any], face_boxes: Any, owner: str) -> tuple[int, list]:
        """The number of samples and the views to compute (missing views left out)."""
        check_is_fitted(self)
        view_sets = as_view_sets(X, type(self).__name__)
        longest = max((len(views) for views in view_sets), default=0)
        if longest > self.n_views_:
            raise ValueError(
                f"A view set in X has {longest} views but this {owner} was fitted with "
                f"n_views_={self.n_views_}. Fit on data with the longest view sets, or set "
                "n_views."
            )
        boxes = check_boxes(face_boxes, len(view_sets), self.n_views_)
        tasks: list[ViewTask] = []
        for sample, views in enumerate(view_sets):
            for view, image in enumerate(views):
                if image is not None:
                    box = None if boxes is None else boxes[sample, view]
                    tasks.append(
                        (sample, view, image, None if box is None or np.isnan(box[0]) else box)
                    )
        return len(view_sets), tasks

    def _assemble(
        self, n_samples: int, tasks: list, results: list, width: int, outcome: str
    ) -> np.ndarray:
        """Rows of ``n_views_`` blocks of ``width``; failed views are reported and NaN."""
        out = np.full((n_samples, self.n_views_, width), np.nan)
        failures = []
        for (sample, view, _, _), result in zip(tasks, results, strict=True):
            if isinstance(result, ViewFailure):
                failures.append(result)
            else:
                out[sample, view] = np.ravel(result)
        report_failures(type(self).__name__, failures, len(tasks), self.on_error, outcome)
        return out.reshape(n_samples, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # file paths
        tags.input_tags.allow_nan = True  # NaN / None cells are missing views
        tags.transformer_tags.preserves_dtype = []  # always float64
        return tags
