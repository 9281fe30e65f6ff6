"""What a landmark back end is, and the rules every back end's output goes through.

A back end is any object with the two methods of :class:`LandmarkBackend`. The rules here
(checking user-given face boxes, the largest face wins, detection on a downscaled copy) are
shared by :class:`~sk3dface.FaceLandmarker` and :class:`~sk3dface.ImageResNetClassifier`;
:func:`check_box_in_image` is the one rule that needs the loaded image (a box must cover at
least ``MIN_BOX_SIDE`` × ``MIN_BOX_SIDE`` pixels of it).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sk3dface.exceptions import FaceNotFoundError

#: Smallest width and height, in pixels, of the part of a face box inside the image. A
#: landmark predictor given less (a 1-pixel box, a box off the image) returns points that
#: are not on any face: dlib put all 68 at the box corner, or thousands of pixels away.
MIN_BOX_SIDE = 8


@runtime_checkable
class LandmarkBackend(Protocol):
    """What :class:`~sk3dface.FaceLandmarker` needs from a face detector + landmark predictor.

    Both methods receive the image as a ``uint8`` RGB array of shape
    ``(height, width, 3)`` (see :func:`sk3dface.utils._images.load_image`). Pixel
    coordinates follow ``docs/conventions.md`` (origin at the centre of the
    top-left pixel, ``y`` down). A back end may also define ``load()``, which
    :meth:`FaceLandmarker.fit` calls so that a missing model file fails early, and
    ``cache_key()``, returning anything :func:`joblib.hash` accepts that changes
    whenever its results would change although its parameters do not (e.g. a model
    file's SHA-256): ``FaceLandmarker(memory=...)`` keys its cache on the back end's
    class, its parameters (``get_params`` for a scikit-learn estimator, public
    attributes otherwise) and that key (see :func:`backend_identity`).
    A back end may also define ``detect_with_scores(image) -> (boxes, scores)``: the
    boxes of ``detect`` and one detector score per box (larger is more confident), which
    ``FaceLandmarker(return_box=True)`` writes in its ``box_score`` columns (NaN without
    it).
    A back end whose landmarks hold from profile to profile sets the attribute
    ``large_pose = True`` (as :class:`~sk3dface.TDDFABackend` does); the KDEF and FEI
    protocols then read all angles / poses by default instead of the near-frontal ones.

    Examples
    --------
    A stand-in back end that "finds" one face in the middle of any image:

    >>> import numpy as np
    >>> from sk3dface import LandmarkBackend
    >>> class CentreBackend:
    ...     def detect(self, image):
    ...         h, w = image.shape[:2]
    ...         return np.array([[w / 4, h / 4, 3 * w / 4, 3 * h / 4]])
    ...     def predict(self, image, box):
    ...         left, top, right, bottom = box
    ...         t = np.linspace(0, 1, 68)
    ...         return np.column_stack([left + t * (right - left), top + t * (bottom - top)])
    >>> isinstance(CentreBackend(), LandmarkBackend)
    True
    """

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Find faces.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image.

        Returns
        -------
        boxes : ndarray of shape (n_faces, 4), float
            ``[left, top, right, bottom]`` in pixels; ``left``/``top`` is the first
            pixel inside the box and ``right``/``bottom`` one past the last, so
            ``image[top:bottom, left:right]`` is the face (after rounding and clipping:
            boxes may reach outside the image). ``(0, 4)`` when there is no face.
        """
        ...

    def predict(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Locate the 68 iBUG landmarks of the face in ``box``.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image.
        box : ndarray of shape (4,)
            ``[left, top, right, bottom]`` as returned by :meth:`detect`.

        Returns
        -------
        landmarks : ndarray of shape (68, 2), float
            ``(x, y)`` pixel coordinates in iBUG-68 order.
        """
        ...


def check_boxes(face_boxes: Any, n_samples: int, n_views: int) -> np.ndarray | None:
    if face_boxes is None:
        return None
    boxes = np.asarray(face_boxes, dtype=float)
    if boxes.ndim == 2 and n_views == 1:
        boxes = boxes[:, np.newaxis, :]
    if boxes.shape != (n_samples, n_views, 4):
        raise ValueError(
            f"face_boxes must have shape (n_samples, n_views, 4) = ({n_samples}, {n_views}, 4)"
            + (f" or ({n_samples}, 4)" if n_views == 1 else "")
            + f" as [left, top, right, bottom] per view; got shape {boxes.shape}."
        )
    if np.isinf(boxes).any():
        raise ValueError("face_boxes contains infinite values; use NaN to request detection.")
    incomplete = np.isnan(boxes).any(axis=2) & ~np.isnan(boxes).all(axis=2)
    if incomplete.any():
        sample, view = np.argwhere(incomplete)[0]
        raise ValueError(
            f"face_boxes[{sample}, {view}] mixes numbers and NaN: give all four of "
            "[left, top, right, bottom], or all NaN to detect the face."
        )
    given = ~np.isnan(boxes).any(axis=2)
    degenerate = given & ((boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1]))
    if degenerate.any():
        sample, view = np.argwhere(degenerate)[0]
        raise ValueError(
            f"face_boxes[{sample}, {view}] = {boxes[sample, view].tolist()} is empty: "
            "expected [left, top, right, bottom] with right > left and bottom > top."
        )
    return boxes


def check_box(box: Any) -> np.ndarray:
    """One face box as 4 finite floats ``[left, top, right, bottom]`` with right > left and
    bottom > top (the ``box`` argument of a back end's ``predict``)."""
    try:
        checked = np.asarray(box, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"box must be 4 numbers [left, top, right, bottom]; got {box!r}.") from exc
    if (
        checked.shape != (4,)
        or not np.isfinite(checked).all()
        or not (checked[2] > checked[0] and checked[3] > checked[1])
    ):
        raise ValueError(
            "box must be 4 finite numbers [left, top, right, bottom] with right > left and "
            f"bottom > top; got {checked.tolist()}."
        )
    return checked


def check_box_in_image(box: np.ndarray, image: np.ndarray, name: str, source: str) -> None:
    """Refuse a face box that does not cover at least ``MIN_BOX_SIDE`` pixels of the image.

    Parameters
    ----------
    box : ndarray of shape (4,)
        ``[left, top, right, bottom]`` in pixels of ``image``, right/bottom exclusive.
    image : ndarray of shape (height, width, 3)
        The loaded image the box refers to.
    name : str
        The image's description, for the message.
    source : str
        Where the box comes from, for the message: ``"given in face_boxes"`` or
        ``"found by <Backend>"``.

    Raises
    ------
    FaceNotFoundError
        The box lies outside the image, is smaller than ``MIN_BOX_SIDE`` pixels, or only
        a sliver of it is inside the image. It costs that view only (NaN and a warning, or
        an error with ``on_error="raise"``).
    """
    height, width = image.shape[:2]
    left, top, right, bottom = (float(value) for value in box)
    shown = f"[{left:g}, {top:g}, {right:g}, {bottom:g}]"
    inside_width = min(right, width) - max(left, 0.0)
    inside_height = min(bottom, height) - max(top, 0.0)
    if inside_width <= 0 or inside_height <= 0:
        reason = (
            f"lies outside the {width}×{height} image (boxes are in pixels of their own "
            "image, 0 <= x < width, 0 <= y < height: check that face_boxes follow the "
            "order and the size of the images)"
        )
    elif right - left < MIN_BOX_SIDE or bottom - top < MIN_BOX_SIDE:
        reason = (
            f"is {right - left:g}×{bottom - top:g} pixels, smaller than the "
            f"{MIN_BOX_SIDE}×{MIN_BOX_SIDE} pixels a face needs for landmarks (boxes are in "
            "pixels, not fractions of the image)"
        )
    elif inside_width < MIN_BOX_SIDE or inside_height < MIN_BOX_SIDE:
        reason = (
            f"covers only {inside_width:g}×{inside_height:g} pixels of the {width}×{height} "
            f"image, less than the {MIN_BOX_SIDE}×{MIN_BOX_SIDE} a face needs for landmarks"
        )
    else:
        return
    raise FaceNotFoundError(
        f"The face box {shown} {source} for {name} {reason}; that view has no landmarks. "
        "Pass a box around the face, or NaN to detect it."
    )


def largest_face(
    backend: Any, image: np.ndarray, detection_width: int | None, name: str
) -> np.ndarray:
    """The largest face box ``backend`` finds in ``image`` (see :func:`largest_face_and_score`)."""
    return largest_face_and_score(backend, image, detection_width, name)[0]


def largest_face_and_score(
    backend: Any, image: np.ndarray, detection_width: int | None, name: str
) -> tuple[np.ndarray, float]:
    """The largest face box found in ``image`` and its detector score (NaN if not given).

    Detection runs on a copy downscaled to ``detection_width``; the box is returned in
    pixels of ``image``. The score comes from ``backend.detect_with_scores`` when the back
    end has it, else it is NaN. Raises :class:`~sk3dface.exceptions.FaceNotFoundError`
    when there is no face.
    """
    height, width = image.shape[:2]
    small = image
    if detection_width is not None and width > detection_width:
        import cv2

        small_height = max(1, round(height * detection_width / width))
        small = cv2.resize(image, (detection_width, small_height), interpolation=cv2.INTER_AREA)
    if callable(getattr(backend, "detect_with_scores", None)):
        boxes, scores = backend.detect_with_scores(small)
        boxes = np.asarray(boxes, dtype=float)
        scores = np.asarray(scores, dtype=float).reshape(-1)
    else:
        boxes, scores = np.asarray(backend.detect(small), dtype=float), None
    if boxes.size == 0:  # also accept [] for "no face"
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise TypeError(
            f"{type(backend).__name__}.detect must return a finite float array of shape "
            f"(n_faces, 4); got shape {boxes.shape}."
        )
    if scores is None:
        scores = np.full(len(boxes), np.nan)
    elif scores.shape != (len(boxes),):
        raise TypeError(
            f"{type(backend).__name__}.detect_with_scores must return one score per box; got "
            f"{scores.size} scores for {len(boxes)} boxes."
        )
    if len(boxes) == 0:
        searched = (
            f"{width}×{height} image"
            if small is image
            else f"{width}×{height} image downscaled to {small.shape[1]}×{small.shape[0]}"
        )
        raise FaceNotFoundError(
            f"No face found in {name} ({type(backend).__name__} searched the {searched}). "
            "The default dlib detector finds upright, roughly frontal faces of at least "
            "~80 pixels: for smaller faces raise upsample or detection_width, or pass "
            "face_boxes."
        )
    # areas before rescaling: dlib's box sizes are quantized, so equal sizes are common and
    # must stay exactly equal for the tie to go to the first box (dlib: the best score)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    largest = int(np.argmax(areas))
    scale = np.array([width / small.shape[1], height / small.shape[0]] * 2)
    return boxes[largest] * scale, float(scores[largest])


_PLAIN = (str, bytes, int, float, complex, bool, type(None), PurePath, np.ndarray, np.generic)


def backend_identity(backend: Any, _depth: int = 0) -> Any:
    """What a back end's results depend on, as plain data for a cache key.

    Parameters
    ----------
    backend : object
        A landmark back end (or a value held by one).

    Returns
    -------
    identity : tuple or plain value
        ``(class path, parameters, cache_key())``: the parameters are ``get_params(deep=False)``
        for objects that have it and the public attributes (not starting with ``_``)
        otherwise, each turned into its own identity; ``cache_key()`` is ``None`` when the
        back end has no such method. Plain values (numbers, strings, paths, arrays) are
        returned as they are; containers element-wise.

    Examples
    --------
    >>> from sk3dface import DlibBackend
    >>> name, params, key = backend_identity(DlibBackend(upsample=1))
    >>> name, sorted(params), len(key)
    ('sk3dface.landmarks._dlib.DlibBackend', ['detector', 'predictor_path', 'upsample'], 64)
    """
    if isinstance(backend, _PLAIN):
        return backend
    if _depth > 4:  # a cycle or a deep object graph: its type stands for it
        return f"{type(backend).__module__}.{type(backend).__qualname__}"
    if isinstance(backend, (list, tuple)):
        return type(backend)(backend_identity(item, _depth + 1) for item in backend)
    if isinstance(backend, dict):
        return {key: backend_identity(value, _depth + 1) for key, value in backend.items()}
    cls = type(backend)
    if callable(getattr(backend, "get_params", None)):
        params = backend.get_params(deep=False)
    else:
        params = {k: v for k, v in getattr(backend, "__dict__", {}).items() if k[:1] != "_"}
    key = backend.cache_key() if callable(getattr(backend, "cache_key", None)) else None
    return (
        f"{cls.__module__}.{cls.__qualname__}",
        {name: backend_identity(value, _depth + 1) for name, value in sorted(params.items())},
        key,
    )
