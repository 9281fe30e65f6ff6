"""Batched landmark fitting of a linear morphable model: the numerical core.

Plain arrays in, plain arrays out, no estimator machinery: the landmarks of many
views are fitted at once with batched linear algebra (no Python loop per image),
written against the Python array API: ``xp`` is numpy, or torch (CPU or CUDA) with
``device=`` (``sk3dface.utils._array_api``). Every function takes its namespace from its
arrays (``array_namespace``) or from the model (``_Model.xp``).
:class:`~sk3dface.MorphableCoefficientExtractor` wraps this module; the algorithm and its
equations are in ``docs/fitting.md``.

Working coordinates: image points ``(u, v)`` are "lifted" to ``q = (u, -v)`` so
that the scaled orthographic camera of ``docs/conventions.md`` reads
``q = s * R[:2] @ X + t`` with a proper rotation ``R`` and ``t = (tx, -ty)``.
Unknowns of one view: rotation ``R``, log scale, ``t`` and the coefficients
``x = [alpha, beta]``; the objective is

    sum_l w_l |q_l - s R[:2] X_l(x) - t|^2 + sigma^2 (alpha_reg |alpha|^2 + beta_reg |beta|^2)

i.e. the MAP estimate under isotropic Gaussian landmark noise ``sigma`` (pixels)
and the model's N(0, 1) prior.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields, replace
from types import ModuleType
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import ThreadpoolController

from sk3dface.models._camera import rotation_angles
from sk3dface.utils._array_api import array_namespace, linalg_errors, namespace, to_numpy

# Far-side jaw points of a turned face get weight 1 / (1 + (yaw / CONTOUR_YAW)**2).
CONTOUR_YAW = 15.0
# Smallest / largest eigenvalue of the 2-D point spread below this: collinear points.
_DEGENERATE_RATIO = 1e-4
# Landmarks beyond this many pixels from the origin are corrupt (no image is that large):
# their view is failed before the solve, so that it cannot overflow the sample's other views.
MAX_COORDINATE = 1e6
# Largest working array, in floats (32 MB); sets the chunk of samples.
_CHUNK_FLOATS = 1 << 22
_LIFT = np.array([1.0, -1.0])
# The pose Jacobian of one point is linear in a = (s*Y_x, s*Y_y, s*Y_z, 1), Y = R @ X:
# d(q_x, q_y) / d(w_x, w_y, w_z, log s, t_x, t_y) = (_JX @ a, _JY @ a) for the rotation
# increment R <- exp([w]) R.
_JX = np.array(
    [[0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
)
_JY = np.array(
    [[0, 0, -1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
)


@dataclass
class LandmarkFit:
    """Result of :func:`fit_landmarks`; every array has leading shape ``(n, n_views)``.

    Views that are ``missing`` (no finite landmark) or ``failed`` (too few or
    degenerate points, a coordinate beyond ``MAX_COORDINATE`` pixels, a non-finite
    solution, or a residual larger than the spread of the view's points, i.e. a fit
    worse than putting every point at their centroid) hold NaN everywhere.
    """

    alpha: np.ndarray  # (n, V, n_alpha)
    beta: np.ndarray  # (n, V, n_beta)
    angles: np.ndarray  # (n, V, 3): yaw, pitch, roll in degrees
    translation: np.ndarray  # (n, V, 2): tx, ty in pixels
    scale: np.ndarray  # (n, V): pixels per model unit
    residual: np.ndarray  # (n, V): RMS reprojection error in pixels
    missing: np.ndarray  # (n, V) bool
    failed: np.ndarray  # (n, V) bool

    def blocks(self) -> np.ndarray:
        """Per-view blocks ``[alpha, beta, yaw, pitch, roll, tx, ty, scale, residual]``."""
        parts = [self.alpha, self.beta, self.angles, self.translation]
        parts += [self.scale[..., None], self.residual[..., None]]
        return np.concatenate(parts, axis=-1)


def contour_sides(mean: np.ndarray, jaw=range(17)) -> np.ndarray:
    """``-1``/``+1`` for jaw points on the subject's right/left (sign of model ``x``), else 0."""
    sides = np.zeros(len(mean))
    jaw = np.asarray(jaw)
    x = mean[jaw, 0]
    sides[jaw] = np.where(np.abs(x) > 0.05 * np.ptp(x), np.sign(x), 0.0)
    return sides


def fit_landmarks(
    points,
    mean,
    identity_basis,
    expression_basis,
    *,
    focal_length: float | None = None,
    landmark_noise: float = 2.0,
    alpha_reg: float = 1.0,
    beta_reg: float = 1.0,
    n_iter: int = 3,
    joint: bool = False,
    contour: np.ndarray | None = None,
    min_points: int = 6,
    n_jobs: int | None = None,
    device: str | None = None,
) -> LandmarkFit:
    """Fit pose, identity and expression coefficients to 2-D landmarks.

    Parameters
    ----------
    points : ndarray of shape (n, n_views, L, 2)
        Pixel coordinates (``x`` right, ``y`` down); NaN marks a missing point,
        an all-NaN view is a missing view.
    mean : ndarray of shape (L, 3)
        Model mean at the landmark vertices.
    identity_basis, expression_basis : ndarray of shape (L, 3, n_alpha), (L, 3, n_beta)
        Bases at the landmark vertices, scaled so that coefficients are ~N(0, 1).
    focal_length : float or None
        None: scaled orthographic camera; else perspective with this focal length (px).
    landmark_noise : float
        Landmark noise standard deviation sigma in pixels.
    alpha_reg, beta_reg : float
        Prior weights (1 = the N(0, 1) prior of the model).
    n_iter : int
        Rounds: the first is the closed-form pose + linear shape solve, each further
        round a damped Gauss-Newton step on pose and coefficients together.
    joint : bool
        Share one ``alpha`` across the views of each sample.
    contour : ndarray of shape (L,) or None
        Side of each contour point (see :func:`contour_sides`); far-side points of a
        turned face are down-weighted. None disables it.
    min_points : int
        Views with fewer finite points are failed.
    n_jobs : int or None
        Threads working on chunks of samples (joblib semantics: None is 1, -1 all cores).
    device : str or None
        None: numpy. A torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``): the
        same algorithm in float64 torch on that device, with chunks 16 times larger on a GPU.

    Returns
    -------
    LandmarkFit
    """
    points = np.asarray(points, dtype=float)
    mean = np.asarray(mean, dtype=float)
    n, n_views, L = points.shape[:3]
    n_alpha, n_beta = identity_basis.shape[-1], expression_basis.shape[-1]
    basis = np.concatenate([identity_basis, expression_basis], axis=-1).astype(float)
    n_coef = n_alpha + n_beta
    ridge = landmark_noise**2 * np.r_[np.full(n_alpha, alpha_reg), np.full(n_beta, beta_reg)]
    if joint:
        # A shared alpha's prior is split evenly over the sample's views, so that the
        # per-view terms summed over a sample count it once.
        ridge[:n_alpha] /= n_views
    xp, device = namespace(device)
    model = _Model.build(mean, basis, ridge=ridge, n_alpha=n_alpha, contour=contour)
    model = model.to(xp, device)
    options = dict(focal_length=focal_length, n_iter=n_iter, joint=joint, min_points=min_points)
    per_sample = n_views * (L * (3 * n_coef + 12) + (n_coef + 6) ** 2)
    on_gpu = device is not None and not str(device).startswith("cpu")
    chunk = max(1, _CHUNK_FLOATS * (16 if on_gpu else 1) // per_sample)
    n_threads = effective_n_jobs(n_jobs)
    if n_threads > 1:  # give every thread work, in chunks still large enough to be efficient
        chunk = max(min(chunk, 64), min(chunk, -(-n // n_threads)))
    starts = range(0, n, chunk) if n else [0]  # no samples: one empty chunk keeps the shapes
    # Small matrices: multi-threaded BLAS only adds overhead (and stalls on a busy machine),
    # so BLAS runs single-threaded and the chunks run in parallel threads instead.
    with _blas_controller().limit(limits=1, user_api="blas"):
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_fit_chunk)(points[i : i + chunk], model, **options) for i in starts
        )
    return LandmarkFit(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(LandmarkFit)}
    )


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


# The 6 entries (j, k), j <= k, of a symmetric 3x3 matrix.
_SYM3 = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


@dataclass
class _Model:
    """The landmark model with the products of its basis the normal equations need.

    Built with numpy, then moved (:meth:`to`) into the array namespace ``xp`` of the fit.
    """

    mean: Any  # (L, 3)
    basis: Any  # (L, 3, K)
    # sum_{j<=k} G[(j, k), l] holds the upper triangle of B_lj^T B_lk + B_lk^T B_lj (j != k)
    gram: Any  # (6 * L, K * (K + 1) / 2)
    triangle: Any  # (K * K,) index of each (k, h) entry into the upper triangle
    ridge: Any  # (K,) prior weight of each coefficient in one view's objective
    n_alpha: int
    # Landmark groups whose points share one weight in a complete view (the near jaw side,
    # the far jaw side, the rest): the same products summed over each group, full K x K.
    groups: Any  # (L,) group of each landmark
    group_first: Any  # (n_groups,) one landmark of each group
    group_gram: Any  # (n_groups * 6, K * K)
    contour: Any = None  # (L,) jaw side of each landmark, or None
    xp: ModuleType = np

    @classmethod
    def build(cls, mean, basis, *, ridge, n_alpha, contour=None):
        L, _, K = basis.shape
        upper = np.triu_indices(K)
        blocks = []
        for j, k in _SYM3:
            product = np.einsum("lk,lh->lkh", basis[:, j], basis[:, k])
            if j != k:
                product = product + np.swapaxes(product, 1, 2)
            blocks.append(product[:, upper[0], upper[1]])
        position = np.zeros((K, K), dtype=np.intp)
        position[upper] = np.arange(len(upper[0]))
        position = np.maximum(position, position.T)  # the lower triangle reads the upper
        gram = np.concatenate(blocks)
        sides = np.zeros(L) if contour is None else np.sign(np.asarray(contour, dtype=float))
        labels, groups = np.unique(sides, return_inverse=True)
        group_first = np.array([np.flatnonzero(groups == g)[0] for g in range(len(labels))])
        per_landmark = gram[:, position.ravel()].reshape(6, L, K * K)
        group_gram = np.stack(
            [per_landmark[:, groups == g].sum(1) for g in range(len(labels))]
        ).reshape(len(labels) * 6, K * K)
        return cls(
            mean,
            np.ascontiguousarray(basis),
            gram,
            position.ravel(),
            ridge,
            n_alpha,
            groups,
            group_first,
            group_gram,
            None if contour is None else np.asarray(contour, dtype=float),
        )

    def to(self, xp: ModuleType, device) -> _Model:
        """This model with every array in namespace ``xp`` on ``device``."""
        if xp is np:
            return self
        moved = {
            f.name: xp.asarray(value, device=device, copy=True)
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), np.ndarray)
        }
        return replace(self, xp=xp, **moved)

    def constant(self, value):
        """A float64 array of ``value`` in this model's namespace and on its device."""
        return self.xp.asarray(value, dtype=self.xp.float64, device=_device(self.mean))

    def shape(self, coef):
        L = self.mean.shape[0]
        flat = self.xp.reshape(self.basis, (3 * L, -1))
        return self.mean + self.xp.reshape(coef @ self.xp.matrix_transpose(flat), (-1, L, 3))


def _device(array):
    return getattr(array, "device", None)


def _transpose(a):
    """Swap the last two axes."""
    return array_namespace(a).matrix_transpose(a)


def _fit_chunk(points, model, **options):
    if model.xp is not np:
        points = model.xp.asarray(points, device=_device(model.mean), copy=True)
        return _fit_chunk_unguarded(points, model, **options)
    # NaN and overflow are expected and handled here: the views that produce them are
    # marked failed. numpy's RuntimeWarnings about them would only alarm the user.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _fit_chunk_unguarded(points, model, **options)


def _fit_chunk_unguarded(points, model, *, focal_length, n_iter, joint, min_points):
    xp = model.xp
    n, n_views, L, _ = points.shape
    m = n * n_views
    valid = xp.all(xp.isfinite(points), axis=-1).reshape(m, L)
    lift = model.constant(_LIFT)
    q = xp.where(valid[..., None], points.reshape(m, L, 2), 0.0) * lift
    missing = ~xp.any(valid, axis=1)
    in_range = xp.all(xp.abs(q) <= MAX_COORDINATE, axis=(1, 2))
    q = xp.where(in_range[:, None, None], q, 0.0)
    usable = in_range & (xp.sum(valid, axis=1) >= min_points)
    usable &= ~_degenerate(q, valid & in_range[:, None])
    # unusable views take no part in the solve (weight 0, points 0): like missing views,
    # they cannot disturb the shared alpha of their sample
    q = xp.where(usable[:, None, None], q, 0.0)
    # The closed-form pose start needs well-posed data for every batch member: unusable
    # views get a stand-in (the frontal mean) there, and weight 0 everywhere else.
    q_start = xp.where(usable[:, None, None], q, model.mean[None, :, :2])
    w_start = xp.asarray(xp.where(usable[:, None], valid, True), dtype=xp.float64)
    w_data = xp.asarray(valid & usable[:, None], dtype=xp.float64)
    group = n_views if joint else 1

    S = xp.broadcast_to(model.mean, (m, L, 3))
    R, s, t = _affine_pose(S, q_start, w_start)
    for round_ in range(n_iter):
        w = w_data * _contour_weights(R, model.contour)
        if round_ == 0:
            q_fit = _depth_corrected(q, S, R, s, t, focal_length)
            coef = _shape_step(q_fit, model, R, s, t, w, group)
        else:
            R, s, t, coef = _gauss_newton_step(q, model, coef, R, s, t, w, group, focal_length)

    S = model.shape(coef)
    error = _project_lifted(S, R, t, s, focal_length) - q
    n_valid = xp.asarray(xp.sum(valid, axis=1), dtype=xp.float64)
    residual = xp.sqrt(xp.sum(valid * xp.sum(error**2, axis=-1), axis=1) / xp.clip(n_valid, min=1))
    angles = xp.stack(rotation_angles(R), axis=-1)
    translation = t * lift
    solved = xp.all(xp.isfinite(coef), axis=1) & xp.all(xp.isfinite(angles), axis=1)
    solved &= xp.all(xp.isfinite(translation), axis=1)
    solved &= xp.isfinite(residual) & (s > 0) & xp.isfinite(s)
    solved &= residual <= _spread(q, valid)
    failed = ~missing & ~(usable & solved)
    bad = missing | failed
    for array in (coef, angles, translation):
        array[bad] = math.nan

    def out(a):
        return to_numpy(a).reshape(n, n_views, *a.shape[1:])

    return LandmarkFit(
        alpha=out(coef[:, : model.n_alpha]),
        beta=out(coef[:, model.n_alpha :]),
        angles=out(angles),
        translation=out(translation),
        scale=out(xp.where(bad, math.nan, s)),
        residual=out(xp.where(bad, math.nan, residual)),
        missing=out(missing),
        failed=out(failed),
    )


def _centred(q, valid):
    """The view's valid points minus their centroid (0 elsewhere), the centroid, the count."""
    xp = array_namespace(q)
    w = xp.asarray(valid, dtype=xp.float64)
    total = xp.clip(xp.sum(w, axis=1), min=1.0)
    centre = xp.sum(w[..., None] * q, axis=1) / total[:, None]
    return (q - centre[:, None]) * w[..., None], centre, total


def _spread(q, valid):
    """RMS distance of a view's valid points from their centroid, (m,)."""
    xp = array_namespace(q)
    d, _, total = _centred(q, valid)
    return xp.sqrt(xp.sum(d**2, axis=(1, 2)) / total)


def _degenerate(q, valid):
    """All points (nearly) equal or collinear: no pose can be estimated."""
    xp = array_namespace(q)
    d, centre, total = _centred(q, valid)
    eig = xp.linalg.eigvalsh(_transpose(d) @ d / total[:, None, None])
    size2 = xp.sum(centre**2, axis=1) + eig[:, 1]
    return (eig[:, 1] <= 1e-12 * xp.clip(size2, min=1e-300)) | (
        eig[:, 0] <= _DEGENERATE_RATIO * eig[:, 1]
    )


def _contour_weights(R, contour):
    if contour is None:
        return 1.0
    xp = array_namespace(R)
    yaw = rotation_angles(R)[0]
    far = contour[None, :] * xp.sign(yaw)[:, None] > 0
    return xp.where(far, 1.0 / (1.0 + (yaw[:, None] / CONTOUR_YAW) ** 2), 1.0)


def _project_lifted(S, R, t, s, focal_length):
    Y = S @ _transpose(R)
    xy = s[..., None, None] * Y[..., :2]
    if focal_length is not None:
        xy = xy / _depth_factor(Y[..., 2], s, focal_length)[..., None]
    return xy + t[..., None, :]


def _depth_factor(z, s, focal_length):
    # depth of a point / depth of the model origin = 1 - z / d with d = f / s; clipped so
    # that a point behind the camera cannot flip the projection during the iterations.
    return array_namespace(z).clip(1.0 - z * (s[..., None] / focal_length), min=0.1)


def _depth_corrected(q, S, R, s, t, focal_length):
    """POSIT-style: perspective points -> the points a scaled orthographic camera would give."""
    if focal_length is None:
        return q
    z = (S @ _transpose(R))[..., 2]
    return t[:, None, :] + (q - t[:, None, :]) * _depth_factor(z, s, focal_length)[..., None]


def _affine_pose(S, q, w):
    """Closed-form start: weighted affine camera, projected to the nearest scaled rotation."""
    xp = array_namespace(S)
    total = xp.sum(w, axis=1)[:, None]
    Sc = S - xp.sum(w[..., None] * S, axis=1)[:, None] / total[..., None]
    qc = q - xp.sum(w[..., None] * q, axis=1)[:, None] / total[..., None]
    Scw = _transpose(Sc * w[..., None])
    A = Scw @ Sc  # (m, 3, 3)
    B = Scw @ qc  # (m, 3, 2)
    A += 1e-12 * xp.linalg.trace(A)[:, None, None] * xp.eye(3, dtype=A.dtype, device=_device(A))
    P = _transpose(_solve(A, B))  # the affine camera, (m, 2, 3)
    U, sv, Vt = xp.linalg.svd(P, full_matrices=False)
    R2 = U @ Vt
    R = xp.concat([R2, xp.linalg.cross(R2[:, 0], R2[:, 1])[:, None]], axis=1)
    s = xp.mean(sv, axis=1)
    t = xp.sum(w[..., None] * (q - s[:, None, None] * (S @ _transpose(R2))), axis=1) / total
    return R, s, t


def _pose_terms(S, q, w, R, s, t, model):
    """Residuals and the pose part of the normal equations, from 4x4 weighted moments."""
    xp = model.xp
    a = xp.concat([s[:, None, None] * (S @ _transpose(R)), xp.ones_like(S[..., :1])], axis=-1)
    e = q - (a[..., :2] + t[:, None, :])
    aw = _transpose(a * w[..., None])  # (m, 4, L)
    moments = aw @ a
    ge = aw @ e  # (m, 4, 2)
    JX, JY = model.constant(_JX), model.constant(_JY)
    H = JX @ moments @ JX.T + JY @ moments @ JY.T
    g = (JX @ ge[..., 0:1] + JY @ ge[..., 1:2])[..., 0]
    return e, aw, H, g


def _update_pose(R, s, t, step):
    xp = array_namespace(R)
    R = _rodrigues(step[:, :3]) @ R
    s = s * xp.exp(xp.clip(step[:, 3], min=-1.0, max=1.0))
    return R, s, t + step[:, 4:6]


def _pose_damping(H):
    xp = array_namespace(H)
    diag = xp.linalg.diagonal(H)
    return (1e-6 * diag + 1e-9)[..., None] * xp.eye(H.shape[-1], dtype=H.dtype, device=_device(H))


def _rodrigues(omega):
    xp = array_namespace(omega)
    theta = xp.linalg.vector_norm(omega, axis=1)
    k = omega / xp.where(theta > 0, theta, 1.0)[:, None]
    K = xp.zeros((omega.shape[0], 3, 3), dtype=omega.dtype, device=_device(omega))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    st, ct = xp.sin(theta)[:, None, None], xp.cos(theta)[:, None, None]
    return xp.eye(3, dtype=omega.dtype, device=_device(omega)) + st * K + (1 - ct) * (K @ K)


def _coef_normal(model, R, s, w):
    """sum_l w_l M_l^T M_l for the coefficient Jacobian M_l = s R[:2] B_l, (m, K, K).

    It equals s^2 sum_l w_l B_l^T P B_l with P = R[:2]^T R[:2] = I - r_3 r_3^T, i.e. a sum
    over the 6 entries of the symmetric P of precomputed basis products. In a view whose
    landmark groups (jaw sides, rest) each have one weight, the sum over landmarks is
    precomputed too: 6 x n_groups products of K x K matrices, whatever L. Other views (with
    missing points) sum over their landmarks: one GEMM.
    """
    xp = model.xp
    m, L = w.shape
    K = model.basis.shape[-1]
    n_groups = model.group_first.shape[0]
    r3 = R[:, 2]
    P = xp.stack([float(j == k) - r3[:, j] * r3[:, k] for j, k in _SYM3], axis=1)
    P *= (s**2)[:, None]
    group_weight = w[:, model.group_first]  # (m, n_groups)
    regular = xp.all(w == group_weight[:, model.groups], axis=1)
    left = xp.reshape(group_weight[:, :, None] * P[:, None, :], (m, 6 * n_groups))
    H = xp.reshape(left @ model.group_gram, (m, K, K))
    if not bool(xp.all(regular)):
        other = xp.nonzero(~regular)[0]
        left = P[other][:, :, None] * w[other][:, None, :]  # (m_other, 6, L)
        upper = xp.reshape(left, (other.shape[0], 6 * L)) @ model.gram
        H[other] = xp.reshape(upper[:, model.triangle], (-1, K, K))
    return H


def _coef_gradient(model, R, s, w, e):
    """sum_l w_l M_l^T e_l, (m, K)."""
    xp = model.xp
    m, L = w.shape
    back = (s[:, None, None] * w[..., None]) * (e @ R[:, :2])  # (m, L, 3): w s R[:2]^T e_l
    return xp.reshape(back, (m, 3 * L)) @ xp.reshape(model.basis, (3 * L, -1))


def _shape_step(q, model, R, s, t, w, group):
    """Ridge least squares for the coefficients given the pose."""
    xp = model.xp
    e = q - t[:, None, :] - s[:, None, None] * (model.mean @ _transpose(R[:, :2]))
    K = model.ridge.shape[0]
    H = _coef_normal(model, R, s, w)
    diagonal = xp.arange(K, device=_device(H))
    H[:, diagonal, diagonal] += model.ridge
    g = _coef_gradient(model, R, s, w, e)
    return _solve_grouped(H, g, model.n_alpha if group > 1 else 0, group)


def _gauss_newton_step(q, model, coef, R, s, t, w, group, focal_length):
    """One damped Gauss-Newton step on pose and coefficients together; see _solve_step."""
    if focal_length is not None:
        return _perspective_gauss_newton_step(q, model, coef, R, s, t, w, group, focal_length)
    xp = model.xp
    m, L = w.shape
    K = model.basis.shape[-1]
    S = model.shape(coef)
    e, aw, Hpp, gp = _pose_terms(S, q, w, R, s, t, model)
    # pose-coefficient block: (_JX, _JY) applied to sum_l w_l a_l (s R[:2] B_l)
    aB = xp.reshape(xp.reshape(aw, (m * 4, L)) @ xp.reshape(model.basis, (L, 3 * K)),
                    (m, 4, 3, K))  # fmt: skip
    T = (s[:, None, None] * R[:, :2]) @ xp.reshape(xp.permute_dims(aB, (0, 2, 1, 3)),
                                                   (m, 3, 4 * K))  # fmt: skip
    T = xp.reshape(T, (m, 2, 4, K))
    Hpx = model.constant(_JX) @ T[:, 0] + model.constant(_JY) @ T[:, 1]  # (m, 6, K)
    H = xp.empty((m, 6 + K, 6 + K), dtype=xp.float64, device=_device(q))
    H[:, :6, :6] = Hpp
    H[:, :6, 6:] = Hpx
    H[:, 6:, :6] = _transpose(Hpx)
    H[:, 6:, 6:] = _coef_normal(model, R, s, w)
    g = xp.concat([gp, _coef_gradient(model, R, s, w, e)], axis=1)
    return _solve_step(H, g, e, q, model, coef, R, s, t, w, group, None)


def _perspective_gauss_newton_step(q, model, coef, R, s, t, w, group, focal_length):
    """The same step for the perspective camera, with an explicit per-point Jacobian.

    p = t + s Y[:2] / d with Y = R X, d = 1 - (s / f) Y_z, so for anything moving Y:
    dp = (s / d) [I_2 | (s / f) Y[:2] / d] dY, and dp / d log s = s Y[:2] / d^2.
    """
    xp = model.xp
    m, L = w.shape
    K = model.basis.shape[-1]
    like = dict(dtype=xp.float64, device=_device(q))
    Y = model.shape(coef) @ _transpose(R)
    d = _depth_factor(Y[..., 2], s, focal_length)
    k = (s / focal_length)[:, None]
    A = xp.zeros((m, L, 2, 3), **like)
    A[..., 0, 0] = 1.0
    A[..., 1, 1] = 1.0
    A[..., 2] = (k / d)[..., None] * Y[..., :2]
    A *= (s[:, None] / d)[..., None, None]
    e = q - (t[:, None, :] + s[:, None, None] * Y[..., :2] / d[..., None])
    upper = xp.zeros((m, L, 3, 3), **like)  # dY / d(rotation increment) = -[Y]x
    upper[..., 0, 1], upper[..., 0, 2], upper[..., 1, 2] = Y[..., 2], -Y[..., 1], Y[..., 0]
    cross = upper - _transpose(upper)
    J = xp.concat(
        [
            A @ cross,
            (s[:, None, None] * Y[..., :2] / d[..., None] ** 2)[..., None],
            xp.broadcast_to(xp.eye(2, **like), (m, L, 2, 2)),
            A @ (R[:, None] @ model.basis[None]),  # dY / d coef = R B_l
        ],
        axis=-1,
    )
    J = xp.reshape(J, (m, 2 * L, 6 + K))
    Jw = J * xp.repeat(w, 2, axis=1)[..., None]
    H = _transpose(Jw) @ J
    g = (_transpose(Jw) @ xp.reshape(e, (m, 2 * L, 1)))[..., 0]
    return _solve_step(H, g, e, q, model, coef, R, s, t, w, group, focal_length)


def _solve_step(H, g, e, q, model, coef, R, s, t, w, group, focal_length):
    """Add the prior and damping to the Gauss-Newton system [pose (6), coef (K)], solve it,
    and keep the step (or, failing that, a half or a quarter of it) only where it lowers the
    objective: per sample when alpha is shared. The half and quarter steps are tried on the
    samples that still need them only."""
    xp = model.xp
    ka, K = model.n_alpha, model.basis.shape[-1]
    H[:, :6, :6] += _pose_damping(H[:, :6, :6])
    diagonal = xp.arange(6, 6 + K, device=_device(H))
    H[:, diagonal, diagonal] += model.ridge
    g[:, 6:] -= model.ridge * coef
    shared = ka if group > 1 else 0
    if shared:
        # unknowns ordered [alpha, pose, beta] so that a shared alpha comes first
        order = xp.asarray(np.r_[6 : 6 + ka, 0:6, 6 + ka : 6 + K], device=_device(H))
        step = xp.empty_like(g)
        step[:, order] = _solve_grouped(H[:, order][:, :, order], g[:, order], shared, group)
    else:
        step = _solve(H, g[..., None])[..., 0]
    best = _objective(e, w, coef, model.ridge, group)
    todo = xp.all(xp.isfinite(step), axis=1)
    rows = slice(None)  # the views of the samples still trying, all of them at first
    for fraction in (1.0, 0.5, 0.25):
        R1, s1, t1 = _update_pose(R[rows], s[rows], t[rows], fraction * step[rows, :6])
        coef1 = coef[rows] + fraction * step[rows, 6:]
        e1 = q[rows] - _project_lifted(model.shape(coef1), R1, t1, s1, focal_length)
        value = _objective(e1, w[rows], coef1, model.ridge, group)
        samples = slice(None) if isinstance(rows, slice) else rows[::group] // group
        keep = xp.repeat(value <= best[samples] * (1 + 1e-10), group) & todo[rows]  # ties
        kept = xp.nonzero(keep)[0]
        target = kept if isinstance(rows, slice) else rows[kept]
        R[target], s[target], t[target], coef[target] = R1[kept], s1[kept], t1[kept], coef1[kept]
        best[samples] = xp.where(xp.all(xp.reshape(keep, (-1, group)), axis=1), value,
                                 best[samples])  # fmt: skip
        todo[target] = False
        waiting = xp.any(xp.reshape(todo, (-1, group)), axis=1)
        if not bool(xp.any(waiting)):
            break
        waiting = xp.nonzero(waiting)[0]
        rows = xp.reshape(waiting[:, None] * group + xp.arange(group, device=_device(H)), (-1,))
    return R, s, t, coef


def _objective(e, w, coef, ridge, group):
    xp = array_namespace(e)
    value = xp.sum(w * xp.sum(e**2, axis=-1), axis=1) + xp.sum(ridge * coef**2, axis=1)
    value = xp.where(xp.isfinite(value), value, math.inf)
    return xp.sum(xp.reshape(value, (-1, group)), axis=1)


def _solve_grouped(H, g, n_shared, group):
    """Solve ``H x = g`` per view, the first ``n_shared`` unknowns shared by ``group``
    consecutive views (a sample): each view's own unknowns are eliminated (Schur
    complement), the shared ones solved from the summed reduced systems."""
    if n_shared == 0 or group == 1:
        return _solve(H, g[..., None])[..., 0]
    xp = array_namespace(H)
    a, b = slice(0, n_shared), slice(n_shared, g.shape[1])
    Z = _solve(H[:, b, b], xp.concat([H[:, b, a], g[:, b, None]], axis=2))
    Haa = H[:, a, a] - H[:, a, b] @ Z[..., :n_shared]
    ga = g[:, a] - (H[:, a, b] @ Z[..., n_shared:])[..., 0]
    Haa = xp.sum(xp.reshape(Haa, (-1, group, n_shared, n_shared)), axis=1)
    ga = xp.sum(xp.reshape(ga, (-1, group, n_shared)), axis=1)
    shared = xp.repeat(_solve(Haa, ga[..., None])[..., 0], group, axis=0)
    own = Z[..., n_shared] - (Z[..., :n_shared] @ shared[..., None])[..., 0]
    return xp.concat([shared, own], axis=1)


def _solve(A, B):
    """Batched ``solve(A, B)`` that never raises: singular members fall back to the
    pseudo-inverse, members with non-finite entries (overflow) give NaN."""
    xp = array_namespace(A)
    finite = xp.all(xp.isfinite(A), axis=(-2, -1)) & xp.all(xp.isfinite(B), axis=(-2, -1))
    if not bool(xp.all(finite)):
        A = xp.where(finite[..., None, None], A,
                     xp.eye(A.shape[-1], dtype=A.dtype, device=_device(A)))  # fmt: skip
        B = xp.where(finite[..., None, None], B, 0.0)
    try:
        X = xp.linalg.solve(A, B)
    except linalg_errors(xp):
        X = xp.linalg.pinv(A) @ B
    return xp.where(finite[..., None, None], X, math.nan)
