"""Camera and pose math: rotations from yaw/pitch/roll and back, and projection to pixels.

Convention: model space is right-handed with ``x`` towards the subject's left, ``y`` up and
``z`` towards the camera; rotations are ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` in degrees
(scipy's intrinsic ``"ZYX"`` Euler angles); image ``y`` points down
(``v = -scale * (R X)_y + ty``). See ``docs/conventions.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sk3dface.utils._array_api import array_namespace

_DEGREES = 180.0 / math.pi


def rotation_matrix(yaw: Any = 0.0, pitch: Any = 0.0, roll: Any = 0.0) -> np.ndarray:
    """Rotation matrices ``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` from angles in degrees.

    Parameters
    ----------
    yaw, pitch, roll : float or array-like
        Angles in degrees; arrays broadcast against each other. Positive yaw moves the nose
        towards image right, positive pitch moves it down, positive roll turns model ``x``
        towards ``y`` (see ``docs/conventions.md``).

    Returns
    -------
    R : ndarray of shape (..., 3, 3)
        One rotation per broadcast element of the angles.

    See Also
    --------
    rotation_angles : The inverse, angles from rotation matrices.
    project : Rotate, scale and project points to pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.models._camera import rotation_matrix
    >>> R = rotation_matrix(yaw=90.0)
    >>> np.round(R @ [0.0, 0.0, 1.0], 6)  # the nose (z) turns to +x, image right
    array([1., 0., 0.])
    >>> rotation_matrix([0.0, 10.0, 20.0]).shape
    (3, 3, 3)
    """
    from scipy.spatial.transform import Rotation

    yaw, pitch, roll = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (yaw, pitch, roll))
    )
    angles = np.stack([roll.ravel(), yaw.ravel(), pitch.ravel()], axis=-1)
    matrices = Rotation.from_euler("ZYX", angles, degrees=True).as_matrix()
    return matrices.reshape(*yaw.shape, 3, 3)


def rotation_angles(R: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch and roll in degrees of rotation matrices ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``.

    Parameters
    ----------
    R : array-like of shape (..., 3, 3)
        Rotation matrices.

    Returns
    -------
    yaw, pitch, roll : ndarray of shape (...)
        Angles in degrees; yaw in [-90, 90], pitch and roll in (-180, 180]. At yaw = ±90°
        (gimbal lock) pitch and roll are not unique.

    See Also
    --------
    rotation_matrix : The inverse.

    Examples
    --------
    >>> from sk3dface.models._camera import rotation_angles, rotation_matrix
    >>> [round(float(a), 6) for a in rotation_angles(rotation_matrix(30.0, -10.0, 5.0))]
    [30.0, -10.0, 5.0]
    """
    xp = array_namespace(R)  # torch tensors stay torch tensors (the torch fitter)
    if xp is np:
        R = np.asarray(R, dtype=np.float64)
    if tuple(R.shape[-2:]) != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3); got an array with shape {R.shape}.")
    yaw = xp.atan2(-R[..., 2, 0], xp.hypot(R[..., 0, 0], R[..., 1, 0]))
    pitch = xp.atan2(R[..., 2, 1], R[..., 2, 2])
    roll = xp.atan2(R[..., 1, 0], R[..., 0, 0])
    return yaw * _DEGREES, pitch * _DEGREES, roll * _DEGREES


def project(
    points: Any,
    yaw: Any = 0.0,
    pitch: Any = 0.0,
    roll: Any = 0.0,
    tx: Any = 0.0,
    ty: Any = 0.0,
    scale: Any = 1.0,
    camera: str = "orthographic",
    focal_length: Any = None,
) -> np.ndarray:
    """Project model-space points to pixel coordinates.

    Parameters
    ----------
    points : array-like of shape (..., n_points, 3)
        Points in model space (``x`` subject's left, ``y`` up, ``z`` towards the camera).
    yaw, pitch, roll : float or array-like of shape (...)
        Head pose in degrees (``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``).
    tx, ty : float or array-like of shape (...)
        Image position of the model origin, in pixels.
    scale : float or array-like of shape (...)
        Pixels per model unit at the depth of the model origin.
    camera : {"orthographic", "perspective"}, default="orthographic"
        ``"orthographic"`` is the scaled orthographic (weak perspective) camera
        ``u = scale * (R X)_x + tx``, ``v = -scale * (R X)_y + ty``.
        ``"perspective"`` puts a pinhole camera with ``focal_length`` pixels on the ``z`` axis at
        distance ``d = focal_length / scale`` model units from the origin, so that
        ``u = focal_length * (R X)_x / (d - (R X)_z) + tx`` (``v`` likewise, with the minus
        sign); as ``focal_length`` grows it tends to the orthographic camera. Points at or behind
        the camera give NaN.
    focal_length : float or array-like of shape (...), optional
        Focal length in pixels; required for the perspective camera.

    Returns
    -------
    uv : ndarray of shape (..., n_points, 2)
        Pixel coordinates ``(u, v)``, ``v`` down.

    See Also
    --------
    rotation_matrix : The rotation used here.
    MorphableModel.project_landmarks : Landmarks of coefficients, projected.

    Examples
    --------
    >>> from sk3dface.models._camera import project
    >>> project([[0.0, 10.0, 0.0]], tx=100, ty=50, scale=2.0)  # y up becomes v smaller
    array([[100.,  30.]])
    """
    X = np.asarray(points, dtype=np.float64)
    if X.ndim < 2 or X.shape[-1] != 3:
        raise ValueError(
            f"points must have shape (..., n_points, 3); got an array with shape {X.shape}."
        )
    if camera not in ("orthographic", "perspective"):
        raise ValueError(f"camera must be 'orthographic' or 'perspective'; got {camera!r}.")
    R = rotation_matrix(yaw, pitch, roll)
    RX = X @ np.swapaxes(R, -1, -2)  # (..., n_points, 3)
    tx, ty, scale = (np.asarray(a, dtype=np.float64)[..., None] for a in (tx, ty, scale))
    if camera == "orthographic":
        factor = scale
    else:
        if focal_length is None:
            raise ValueError("camera='perspective' needs focal_length (in pixels).")
        f = np.asarray(focal_length, dtype=np.float64)[..., None]
        depth = f / scale - RX[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(depth > 0, f / depth, np.nan)
    u = factor * RX[..., 0] + tx
    v = -factor * RX[..., 1] + ty
    return np.stack(np.broadcast_arrays(u, v), axis=-1)
