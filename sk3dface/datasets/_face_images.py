"""Synthetic face *images*: one real photo warped by model-driven landmark displacements.

Each synthetic subject gets its own identity coefficients, each expression class its own
FACS-style expression coefficients, and each view its own head pose; the photo's face is
warped so that its landmarks move exactly as the built-in model says they should. The
landmarker then reads the warped images like any photo, so a whole pipeline can be run
from images on data with known identities and expressions.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

from sk3dface.utils._sklearn_compat import Interval, validate_params

# expression classes as (name, {expression mode name: coefficient}) of the default model
EXPRESSIONS: tuple[tuple[str, dict[str, float]], ...] = (
    ("neutral", {}),
    ("happy", {"AU12_lip_corner_puller": 2.0, "AU6_cheek_raiser": 1.0, "AU25_lips_part": 0.8}),
    ("surprised", {"AU1+2_brow_raiser": 2.0, "AU5_upper_lid_raiser": 1.5, "AU26_jaw_drop": 2.0}),
    ("angry", {"AU4_brow_lowerer": 2.0, "AU24_lip_presser": 1.5, "AU9_nose_wrinkler": 1.0}),
    ("sad", {"AU15_lip_corner_depressor": 2.0, "AU1+2_brow_raiser": 0.8}),
)


def warp_image(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Warp ``image`` so that the points ``source`` move to ``target``.

    A piecewise-linear warp over the Delaunay triangulation of the target points plus the
    image border (which stays put): each output pixel looks up the input pixel given by
    linear interpolation of the source points.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
        The photo.
    source, target : ndarray of shape (n_points, 2)
        Pixel positions ``(x, y)`` before and after the warp.

    Returns
    -------
    warped : ndarray of shape (H, W, 3), uint8

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((40, 40, 3), np.uint8); image[18:22, 18:22] = 255
    >>> warped = warp_image(image, np.array([[20.0, 20.0]]), np.array([[25.0, 20.0]]))
    >>> int(warped[20].argmax(0)[0]) > 20  # the bright square moved right
    True
    """
    import cv2
    from scipy.interpolate import LinearNDInterpolator

    image = np.asarray(image)
    source, target = np.asarray(source, dtype=float), np.asarray(target, dtype=float)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 2:
        raise ValueError(f"image must be an H×W or H×W×C array; got shape {image.shape}.")
    if source.ndim != 2 or source.shape[1:] != (2,) or source.shape != target.shape:
        raise ValueError(
            "source and target must both have shape (n_points, 2), x and y in pixels; got "
            f"{source.shape} and {target.shape}."
        )
    height, width = image.shape[:2]
    border = np.array(
        [
            [x, y]
            for x in np.linspace(0, width - 1, 5)
            for y in np.linspace(0, height - 1, 5)
            if x in (0, width - 1) or y in (0, height - 1)
        ]
    )
    keep = np.isfinite(source).all(1) & np.isfinite(target).all(1)
    targets = np.vstack([target[keep], border])
    sources = np.vstack([source[keep], border])
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    lookup = LinearNDInterpolator(targets, sources)(gx, gy).astype(np.float32)
    map_x = np.where(np.isnan(lookup[..., 0]), gx, lookup[..., 0])
    map_y = np.where(np.isnan(lookup[..., 1]), gy, lookup[..., 1])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _photo(photo: Any) -> np.ndarray:
    from sk3dface.exceptions import ImageReadError
    from sk3dface.utils._images import load_image

    if photo is None:
        from matplotlib import cbook

        photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    try:
        return load_image(photo)
    except ImageReadError as error:
        raise ImageReadError(
            f"photo: {error} Pass a photo with one clearly visible frontal face (a path, an "
            "H×W×3 uint8 array or a PIL image), or photo=None for the default."
        ) from error


def _photo_landmarks(image: np.ndarray) -> np.ndarray:
    """The 68 landmarks of the one face in the photo, or an error naming ``photo``."""
    from sk3dface.exceptions import FaceNotFoundError, ImageReadError
    from sk3dface.landmarks import FaceLandmarker

    try:
        base = FaceLandmarker(on_error="raise").fit_transform([image])
    except (FaceNotFoundError, ImageReadError) as error:
        raise type(error)(
            f"photo: no face was found in the photo given to warp ({str(error).rstrip('.')}). "
            "Pass a photo "
            "with one clearly visible frontal face, or photo=None for the default."
        ) from error
    if np.isnan(base).any():
        raise FaceNotFoundError(
            "photo: no face was found in the photo given to warp. Pass a photo with one "
            "clearly visible frontal face, or photo=None for the default."
        )
    return base


@validate_params(
    {
        "n_subjects": [Interval(Integral, 1, None, closed="left")],
        "n_expressions": [Interval(Integral, 1, len(EXPRESSIONS), closed="both")],
        "n_views": [Interval(Integral, 1, None, closed="left")],
        "photo": "no_validation",
        "identity_scale": [Interval(Real, 0, None, closed="left")],
        "yaw_range": [Interval(Real, 0, 45, closed="both")],
        "width": [Interval(Integral, 100, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_synthetic_face_images(
    n_subjects: int = 4,
    n_expressions: int = 3,
    n_views: int = 3,
    *,
    photo: Any = None,
    identity_scale: float = 1.0,
    yaw_range: float = 15.0,
    width: int = 400,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    """Warp one real photo into a labelled set of synthetic subjects, expressions and views.

    The photo's 68 landmarks are detected and the built-in model is fitted to them; then for
    every (subject, expression, view) the model's landmarks are recomputed with the subject's
    identity coefficients, the expression's coefficients and the view's head pose, and the
    photo is warped so its landmarks follow the model's displacement. Identities are random
    (``identity_scale`` standard deviations from the photo's own), expressions are fixed
    FACS-style prototypes (neutral, happy, surprised, angry, sad), views differ in yaw
    (uniform in ``±yaw_range`` degrees), roll, scale and position.

    A 2-D warp is not a 3-D rendering: out-of-plane rotation is only approximated by moving
    the landmarks (no occlusion, no new texture). That is enough for the landmarker and the
    fitter to see the intended shape changes, which is what the demo and tests need.

    Parameters
    ----------
    n_subjects : int, default=4
        Number of synthetic identities.
    n_expressions : int, default=3
        Number of expression classes (at most 5), taken in the order listed above.
    n_views : int, default=3
        Images per (subject, expression).
    photo : path, ndarray or PIL image, optional
        A photo with one clearly visible frontal face; default matplotlib's
        ``grace_hopper.jpg``.
    identity_scale : float, default=1.0
        Standard deviation of the identity coefficients around the photo's own.
    yaw_range : float, default=15.0
        Largest |yaw| of a view, in degrees (at most 45: a 2-D warp cannot turn a face
        further).
    width : int, default=400
        The photo is resized to this width (at least 100 pixels) first (speed).
    random_state : int, RandomState instance or None, default=None
        Seed for identities and views.

    Returns
    -------
    data : Bunch
        ``images`` (list of uint8 RGB arrays), ``subject``, ``expression`` (names), ``view``
        (ints), ``alpha`` (n_images, n_alpha), ``beta`` (n_images, n_beta), ``yaw``,
        ``landmarks`` (n_images, 68, 2: where the warp put the landmarks), ``model``.

    Raises
    ------
    sk3dface.exceptions.FaceNotFoundError
        If no face is found in ``photo`` (the message names ``photo``).
    sk3dface.exceptions.ImageReadError
        If ``photo`` cannot be read.

    Examples
    --------
    >>> from sk3dface.datasets import make_synthetic_face_images
    >>> data = make_synthetic_face_images(2, 2, 1, random_state=0)
    >>> len(data.images), sorted(set(data.expression.tolist()))
    (4, ['happy', 'neutral'])
    """
    import cv2

    from sk3dface.fitting import MorphableCoefficientExtractor
    from sk3dface.models import make_default_model

    rng = check_random_state(random_state)
    image = _photo(photo)
    image = cv2.resize(
        image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA
    )
    base = _photo_landmarks(image)
    model = make_default_model()
    extractor = MorphableCoefficientExtractor(model=model).fit(base)
    fitted = extractor.transform(base)[0]
    layout = extractor.layout_
    alpha0, beta0 = fitted[layout.alpha], fitted[layout.beta]
    yaw0, pitch0, roll0, tx0, ty0, scale0 = fitted[layout.pose]
    base_points = base[0].reshape(68, 2)
    base_model = model.project_landmarks(
        alpha0, beta0, yaw=yaw0, pitch=pitch0, roll=roll0, tx=tx0, ty=ty0, scale=scale0
    )

    index = {name: i for i, name in enumerate(model.expression_names)}
    rows: list[dict[str, Any]] = []
    images = []
    for subject in range(n_subjects):
        alpha = alpha0 + identity_scale * np.clip(rng.standard_normal(model.n_alpha), -2, 2)
        for name, units in EXPRESSIONS[:n_expressions]:
            beta = np.zeros(model.n_beta)
            for unit, value in units.items():
                beta[index[unit]] = value
            for view in range(n_views):
                yaw = rng.uniform(-yaw_range, yaw_range)
                # the face deforms (identity, expression, yaw) by a local warp; roll, scale
                # and position change the whole image rigidly, as a real camera would
                moved = model.project_landmarks(
                    alpha,
                    beta,
                    yaw=yaw0 + yaw,
                    pitch=pitch0,
                    roll=roll0,
                    tx=tx0,
                    ty=ty0,
                    scale=scale0,
                )
                local = base_points + (moved - base_model)
                similarity = cv2.getRotationMatrix2D(
                    (float(tx0), float(ty0)), rng.uniform(-5, 5), rng.uniform(0.92, 1.08)
                )
                similarity[:, 2] += rng.uniform(-0.04, 0.04, 2) * width
                warped = warp_image(image, base_points, local)
                images.append(
                    cv2.warpAffine(
                        warped, similarity, warped.shape[1::-1], borderMode=cv2.BORDER_REFLECT
                    )
                )
                target = local @ similarity[:, :2].T + similarity[:, 2]
                rows.append(
                    {
                        "subject": f"S{subject:02d}",
                        "expression": name,
                        "view": view,
                        "alpha": alpha,
                        "beta": beta,
                        "yaw": yaw0 + yaw,
                        "landmarks": target,
                    }
                )
    return Bunch(
        images=images,
        subject=np.array([r["subject"] for r in rows]),
        expression=np.array([r["expression"] for r in rows]),
        view=np.array([r["view"] for r in rows]),
        alpha=np.array([r["alpha"] for r in rows]),
        beta=np.array([r["beta"] for r in rows]),
        yaw=np.array([r["yaw"] for r in rows]),
        landmarks=np.array([r["landmarks"] for r in rows]),
        model=model,
    )
