"""A learned large-pose back end: dlib face detection + 3DDFA_V2's MobileNet regressor.

3DDFA_V2 (Guo et al., ECCV 2020; ``cleardusk/3DDFA_V2``, MIT) regresses 62 parameters from a
120×120 crop: a 3×4 ``[R | t]`` camera and 40 identity + 10 expression coefficients of
3DDFA's Basel Face Model. :class:`TDDFABackend` runs its ``mb05_120x120.pth`` network
(MobileNet-V1 ×0.5, written here in plain torch: no torchvision) on the boxes of
:class:`~sk3dface.DlibBackend`'s detector and returns the 68 keypoints of the fitted model
as landmarks, or (:meth:`TDDFABackend.predict_3dmm`) pose and coefficients in the scaling
of sk3dface's :func:`~sk3dface.load_3ddfa` model. The crop rule, the pixel convention and
the measured accuracy are in ``docs/turned_faces.md``.

torch is imported on first use only. Checkpoints are read with
``torch.load(weights_only=True)`` and nothing else, so a checkpoint cannot run code; every
file that is unreadable or does not fit the network is a
:class:`~sk3dface.exceptions.ModelFormatError` naming the file. The network and the
model's keypoint bases are loaded once per process and file (keyed by path, size and
modification time) and never pickled: a pickled back end holds its parameters and the
checkpoint's SHA-256, and refuses a checkpoint whose content changed. One lock per network
serialises its calls, so a back end may be shared between threads.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from sk3dface.exceptions import ModelFormatError
from sk3dface.landmarks._backend import check_box
from sk3dface.landmarks._dlib import DETECTORS, DlibBackend, _sha256
from sk3dface.utils._images import load_image

INPUT_SIZE = 120
N_PARAM = 62
N_ALPHA, N_BETA = 40, 10
#: ROI rule for detector boxes (3DDFA_V2's, tuned on FaceBoxes boxes): side
#: ``int(1.58 * (w + h) / 2)``, centre shifted down by ``0.14 * (w + h) / 2``
ROI_SCALE, ROI_SHIFT = 1.58, 0.14
_LICENCE_NOTE = (
    "3DDFA_V2's code is MIT-licensed; its network was trained on 300W-LP, which is built from "
    "the Basel Face Model (non-commercial research use only)."
)
_NETWORK = "MobileNet-V1 x0.5 (3DDFA_V2 mb05_120x120)"

# (name, input channels, output channels, stride) at width 1.0
_BLOCKS = (
    ("dw2_1", 32, 64, 1),
    ("dw2_2", 64, 128, 2),
    ("dw3_1", 128, 128, 1),
    ("dw3_2", 128, 256, 2),
    ("dw4_1", 256, 256, 1),
    ("dw4_2", 256, 512, 2),
    ("dw5_1", 512, 512, 1),
    ("dw5_2", 512, 512, 1),
    ("dw5_3", 512, 512, 1),
    ("dw5_4", 512, 512, 1),
    ("dw5_5", 512, 512, 1),
    ("dw5_6", 512, 1024, 2),
    ("dw6", 1024, 1024, 1),
)


@functools.cache
def _network_class() -> type:
    """The torch module class, defined on first use so that importing this needs no torch."""
    from torch import nn

    class DepthwiseSeparable(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv_dw = nn.Conv2d(
                c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False
            )
            self.bn_dw = nn.BatchNorm2d(c_in)
            self.conv_sep = nn.Conv2d(c_in, c_out, 1, bias=False)
            self.bn_sep = nn.BatchNorm2d(c_out)

        def forward(self, x):
            x = self.bn_dw(self.conv_dw(x)).relu()
            return self.bn_sep(self.conv_sep(x)).relu()

    class MobileNetV1(nn.Module):
        """3DDFA_V2's MobileNet-V1: 120×120 BGR crops in; 62 parameters (``fc_param``) and
        136 landmark coordinates (``fc_lm``, an auxiliary head) out."""

        def __init__(self, width: float = 0.5) -> None:
            super().__init__()
            c = lambda n: int(n * width)  # noqa: E731
            self.conv1 = nn.Conv2d(3, c(32), 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c(32))
            for name, c_in, c_out, stride in _BLOCKS:
                setattr(self, name, DepthwiseSeparable(c(c_in), c(c_out), stride))
            self.fc_param = nn.Linear(c(1024), N_PARAM)
            self.fc_lm = nn.Linear(c(1024), 2 * 68)

        def features(self, x):
            x = self.bn1(self.conv1(x)).relu()
            for name, *_ in _BLOCKS:
                x = getattr(self, name)(x)
            return x.mean(dim=(2, 3))

        def forward(self, x):
            return self.fc_param(self.features(x))

    return MobileNetV1


def make_network(width: float = 0.5) -> Any:
    """An untrained network of the checkpoint's architecture (e.g. to write a test checkpoint).

    Examples
    --------
    >>> net = make_network()
    >>> sum(p.numel() for p in net.parameters())
    920166
    """
    return _network_class()(width)


def _fail(path: Any, message: str) -> ModelFormatError:
    return ModelFormatError(f"{os.fspath(path)}: {message}")


def _existing(path: Any, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise _fail(
            path,
            f"the {what} does not exist. Download it from github.com/cleardusk/3DDFA_V2 "
            f"(see docs/turned_faces.md). {_LICENCE_NOTE}",
        )
    return path


def load_network(path: str | os.PathLike) -> Any:
    """Build the network and load a 3DDFA_V2 checkpoint into it (eval mode).

    Only ``torch.load(..., weights_only=True)`` is used. The file holds the state dict or
    ``{"state_dict": ...}``; a ``module.`` prefix (DataParallel) is stripped. Keys and shapes
    must match exactly.

    Raises
    ------
    ModelFormatError
        Missing file, not a weights-only torch file, not a state dict, or keys / shapes that
        do not fit the network. The message names the file.
    """
    import torch

    path = _existing(path, "3DDFA_V2 checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", str(exc))
        what = f" (it names {found.group(1)})" if found else ""
        raise _fail(
            path,
            "refused to load: not a weights-only torch checkpoint: it pickles objects other "
            f"than tensors and plain containers{what}; it was not executed. Save the weights "
            "with torch.save(model.state_dict(), path).",
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, IndexError... on junk
        raise _fail(
            path, f"not a readable torch checkpoint ({type(exc).__name__}: {exc})."
        ) from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict) or not state:
        raise _fail(
            path,
            "expected a state dict (a dict of tensors, or {'state_dict': ...}); got "
            f"{type(obj).__name__}.",
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise _fail(path, f"not a state dict: entries that are not named tensors: {bad[:5]}.")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    net = make_network()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)}, network {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) {missing[:5]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) {unexpected[:5]}")
    if wrong:
        problems.append(f"{len(wrong)} wrong shape(s) [{'; '.join(wrong[:5])}]")
    if problems:
        raise _fail(path, f"does not fit {_NETWORK}: " + ", ".join(problems) + ".")
    net.load_state_dict(state, strict=True)
    return net.eval()


def load_normalization(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of the 62 parameters (``param_mean_std_62d_120x120.pkl``).

    Read with sk3dface's safe unpickler (numpy arrays and plain containers only).

    Raises
    ------
    ModelFormatError
        Missing or unsafe file, missing keys, or not 62 finite numbers (std > 0).
    """
    from sk3dface.utils import _safe_pickle

    path = _existing(path, "3DDFA_V2 normalisation file")
    try:
        data = _safe_pickle.load(path)
    except ModelFormatError:
        raise
    except Exception as exc:
        raise _fail(path, f"not a readable pickle ({type(exc).__name__}: {exc}).") from None
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict with 'mean' and 'std'; got {type(data).__name__}.")
    out = []
    for keys in (("mean", "param_mean"), ("std", "param_std")):
        key = next((k for k in keys if k in data), None)
        if key is None:
            raise _fail(path, f"no {keys[0]!r} array; found keys {sorted(map(str, data))}.")
        array = _safe_pickle.to_array(data[key], key, os.fspath(path)).astype(np.float64)
        array = array.reshape(-1)
        if array.shape != (N_PARAM,) or not np.isfinite(array).all():
            raise _fail(path, f"{key} must be {N_PARAM} finite numbers; got shape {array.shape}.")
        out.append(array)
    if not (out[1] > 0).all():
        raise _fail(path, "std must be positive.")
    return out[0], out[1]


# ----------------------------------------------------------------------------- crops
def roi_from_box(boxes: np.ndarray) -> np.ndarray:
    """3DDFA_V2's square ROIs ``(n, 4)`` ``[l, t, r, b]`` from detector boxes ``(n, 4)``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    old = (w + h) / 2
    cx = b[:, 0] + w / 2
    cy = b[:, 1] + h / 2 + ROI_SHIFT * old
    size = np.floor(old * ROI_SCALE)  # 3DDFA_V2 truncates with int()
    return np.stack([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], axis=1)


def roi_from_landmarks(points: np.ndarray) -> np.ndarray:
    """The refinement crop: squares of side ``sqrt(2) * max(extent)`` on the points' box."""
    p = np.asarray(points, dtype=np.float64)[..., :2].reshape(-1, 68, 2)
    lo, hi = p.min(axis=1), p.max(axis=1)
    centre = (lo + hi) / 2
    side = math.sqrt(2) * (hi - lo).max(axis=1)
    return np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)


def crop(image_rgb: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Network input ``(n, 3, 120, 120)`` float32 from an RGB ``uint8`` image and ROIs.

    Bilinear resampling of each whole-pixel square ROI (black outside the image), BGR order,
    ``(pixel - 127.5) / 128``.
    """
    import cv2

    if image_rgb.ndim == 2:
        image_rgb = np.repeat(image_rgb[..., None], 3, axis=2)
    bgr = np.ascontiguousarray(image_rgb[..., ::-1])
    rois = np.asarray(rois, dtype=np.float64).reshape(-1, 4)
    out = np.empty((len(rois), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    # OpenCV's thread pool fights torch's OpenMP pool (measured: 1.4 instead of 55 faces/s
    # with torch at 2 threads) and 120x120 warps gain nothing from threads: run them serially
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for i, roi in enumerate(rois):
            sx, sy, ex, ey = (round(v) for v in roi)
            kx, ky = (ex - sx) / INPUT_SIZE, (ey - sy) / INPUT_SIZE
            # output pixel j samples source sx + (j + 0.5) * k - 0.5 (as cv2.resize does)
            M = np.array([[kx, 0, sx + 0.5 * kx - 0.5], [0, ky, sy + 0.5 * ky - 0.5]])
            out[i] = cv2.warpAffine(
                bgr,
                M,
                (INPUT_SIZE, INPUT_SIZE),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
    finally:
        cv2.setNumThreads(threads)
    x = out.transpose(0, 3, 1, 2).astype(np.float32)
    return (x - 127.5) / 128.0


# ----------------------------------------------------------------------------- 3DMM
def _column_scale(scaled: np.ndarray, raw: np.ndarray, what: str, folder: Path) -> np.ndarray:
    """Per-column factor ``s`` with ``scaled = raw * s`` (checked)."""
    s = (scaled * raw).sum(0) / (raw * raw).sum(0)
    err = np.abs(scaled - raw * s).max() / max(np.abs(scaled).max(), 1e-300)
    if not np.all(s > 0) or err > 1e-4:
        raise _fail(
            folder,
            f"the loaded model's {what} basis is not the raw 3DDFA basis times a per-component "
            f"std (relative mismatch {err:.2g}).",
        )
    return s


class _Regressor:
    """Network + normalisation + keypoint bases; what one process keeps per set of files."""

    def __init__(self, checkpoint: Path, normalization: Path, model: Path, whitening: Any):
        from sk3dface.models.io import load_3ddfa
        from sk3dface.models.io._common import _load_npy

        self.net = load_network(checkpoint)
        self.param_mean, self.param_std = load_normalization(normalization)
        if not Path(model).is_dir():
            raise _fail(
                model,
                "not a folder: TDDFABackend needs 3DDFA's BFM folder (u_shp.npy, u_exp.npy, "
                "w_shp_sim.npy, w_exp_sim.npy, keypoints_sim.npy, param_whitening.pkl).",
            )
        folder = Path(model)
        morphable = load_3ddfa(folder, whitening_path=whitening)
        if morphable.n_alpha < N_ALPHA or morphable.n_beta < N_BETA:
            raise _fail(folder, f"needs >= {N_ALPHA} identity and {N_BETA} expression components.")
        morphable = morphable.truncate(N_ALPHA, N_BETA)
        kp = np.asarray(_load_npy(folder / "keypoints_sim.npy")).reshape(-1).astype(np.intp)
        w_shp = np.asarray(_load_npy(folder / "w_shp_sim.npy"), np.float64)[kp][:, :N_ALPHA]
        w_exp = np.asarray(_load_npy(folder / "w_exp_sim.npy"), np.float64)[kp][:, :N_BETA]
        rows = (3 * np.asarray(morphable.landmark_indices)[:, None] + np.arange(3)).reshape(-1)
        identity = np.asarray(morphable.identity_basis[rows], np.float64)
        expression = np.asarray(morphable.expression_basis[rows], np.float64)
        self.alpha_std = _column_scale(identity, w_shp, "identity", folder)
        self.beta_std = _column_scale(expression, w_exp, "expression", folder)
        self.lm_mean = np.asarray(morphable.mean[morphable.landmark_indices], np.float64)
        self.lm_identity, self.lm_expression = identity, expression
        self.lock = threading.Lock()

    def regress(self, crops: np.ndarray, n_threads: int | None) -> tuple[np.ndarray, np.ndarray]:
        """De-normalised parameters ``(n, 62)`` and the ``fc_lm`` head ``(n, 136)``."""
        import torch

        with self.lock, torch.inference_mode():
            previous = torch.get_num_threads()
            if n_threads is not None:
                torch.set_num_threads(int(n_threads))
            try:
                features = self.net.features(torch.from_numpy(np.ascontiguousarray(crops)))
                params = self.net.fc_param(features).double().numpy()
                head = self.net.fc_lm(features).double().numpy()
            finally:
                if n_threads is not None:
                    torch.set_num_threads(previous)
        return params * self.param_std + self.param_mean, head

    def decode(self, params: np.ndarray, rois: np.ndarray) -> dict[str, np.ndarray]:
        from sk3dface.models._camera import rotation_angles

        p = np.asarray(params, np.float64).reshape(-1, N_PARAM)
        camera = p[:, :12].reshape(-1, 3, 4)
        R, t = camera[:, :, :3], camera[:, :, 3]
        alpha = p[:, 12:52] / self.alpha_std
        beta = p[:, 52:62] / self.beta_std
        X = self.lm_mean + (alpha @ self.lm_identity.T + beta @ self.lm_expression.T).reshape(
            -1, 68, 3
        )
        P = X @ np.swapaxes(R, 1, 2) + t[:, None, :]  # crop frame, 1-based, y up
        k = (rois[:, 2] - rois[:, 0]) / INPUT_SIZE
        ky = (rois[:, 3] - rois[:, 1]) / INPUT_SIZE
        # crop pixel (0-based, y down) xc = P_x - 1, yc = 120 - P_y; image pixel
        # u = sx + (xc + 0.5) k - 0.5: the exact inverse of the resampling in crop()
        u = rois[:, :1] + (P[..., 0] - 0.5) * k[:, None] - 0.5
        v = rois[:, 1:2] + (INPUT_SIZE - P[..., 1] + 0.5) * ky[:, None] - 0.5
        U, S, Vt = np.linalg.svd(R[:, :2, :], full_matrices=False)
        top = U @ Vt  # nearest orthonormal first two rows
        rotation = np.concatenate([top, np.cross(top[:, 0], top[:, 1])[:, None, :]], axis=1)
        yaw, pitch, roll = rotation_angles(rotation)
        kk = (k + ky) / 2
        z = kk[:, None] * P[..., 2]
        return {
            "landmarks": np.stack([u, v], axis=-1),
            "landmarks_3d": np.stack([u, v, z - z.min(axis=1, keepdims=True)], axis=-1),
            "alpha": alpha,
            "beta": beta,
            "yaw": np.asarray(yaw, float).reshape(-1),
            "pitch": np.asarray(pitch, float).reshape(-1),
            "roll": np.asarray(roll, float).reshape(-1),
            "tx": rois[:, 0] + (t[:, 0] - 0.5) * k - 0.5,
            "ty": rois[:, 1] + (INPUT_SIZE - t[:, 1] + 0.5) * ky - 0.5,
            "scale": S.mean(axis=1) * kk,
            "rotation": rotation,
            "roi": rois,
        }

    def head_landmarks(self, head: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """``fc_lm`` output ``(n, 136)`` as image pixels ``(n, 68, 2)``.

        The head gives 68 x then 68 y coordinates normalised to [-1, 1] over the crop, y down
        (read off the real checkpoint: it agrees with the 3DMM keypoints to ~1-2 px); crop
        pixel ``xc = 60 * (1 + h)``.
        """
        h = np.asarray(head, np.float64).reshape(-1, 2, 68)
        half = INPUT_SIZE / 2
        k = ((rois[:, 2] - rois[:, 0]) / INPUT_SIZE)[:, None]
        ky = ((rois[:, 3] - rois[:, 1]) / INPUT_SIZE)[:, None]
        u = rois[:, :1] + (half * (1 + h[:, 0]) + 0.5) * k - 0.5
        v = rois[:, 1:2] + (half * (1 + h[:, 1]) + 0.5) * ky - 0.5
        return np.stack([u, v], axis=-1)


_load_lock = threading.Lock()
_regressors: dict[tuple, _Regressor] = {}
_MAX_REGRESSORS = 4


def _reset_after_fork() -> None:
    global _load_lock
    _load_lock = threading.Lock()
    for regressor in _regressors.values():
        regressor.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class TDDFABackend(BaseEstimator):
    """dlib face detection + 3DDFA_V2's learned landmark and 3DMM regressor.

    A :class:`~sk3dface.LandmarkBackend` for :class:`~sk3dface.FaceLandmarker`: ``detect``
    is :class:`~sk3dface.DlibBackend`'s (HOG or CNN), ``predict`` returns the 68 keypoints
    of the 3DDFA BFM fitted by the network, which stay on the face up to ~90° of yaw
    (NME 3.4 % on 16 AFLW2000 images against dlib's 4.1-8.4 %; ``docs/turned_faces.md``).
    :meth:`predict_3dmm` also returns pose and coefficients.

    Parameters
    ----------
    checkpoint : str or path-like
        ``mb05_120x120.pth`` from 3DDFA_V2 (read with ``torch.load(weights_only=True)``).
    normalization : str or path-like
        ``param_mean_std_62d_120x120.pkl``, the network's parameter mean and std.
    model : str or path-like
        3DDFA's BFM folder (``u_shp.npy``, ``w_shp_sim.npy``... as read by
        :func:`~sk3dface.load_3ddfa`). Coefficients are returned in the scaling of
        ``load_3ddfa(model, whitening_path=whitening)``.
    whitening : str, path-like or None, default=None
        Passed to ``load_3ddfa`` (None: the file found next to the model).
    detector : {"hog", "cnn"}, default="hog"
        dlib's detector (see :class:`~sk3dface.DlibBackend`). "cnn" finds turned faces
        (92 % vs 54 % on cmu_faces) at ~60× the cost.
    upsample : int, default=1
        The detector's ``upsample``.
    refine : int, default=1
        Extra passes that re-crop from the previous pass's landmarks (3DDFA_V2's landmark
        crop). One pass lowers the NME with dlib boxes by 0.3-0.5 points; more add nothing.
    n_threads : int or None, default=None
        torch threads during each network call (None: torch's setting). With joblib
        ``n_jobs > 1`` use 1.

    Notes
    -----
    Landmarks 0-16 are model vertices along the jaw, not the silhouette: fit them with
    ``MorphableCoefficientExtractor(contour="fixed")``. Pickling keeps the parameters and the
    checkpoint's SHA-256; the network is rebuilt on first use in each process. BFM is for
    non-commercial research only.

    ``large_pose = True`` (a class attribute) tells the protocols that this back end works
    from profile to profile, so they read all KDEF angles and FEI poses with it.

    Examples
    --------
    With randomly initialised stand-in files (the real ones: ``docs/turned_faces.md``):

    >>> import tempfile
    >>> import numpy as np
    >>> from sk3dface import TDDFABackend
    >>> from sk3dface.landmarks._tddfa import write_random_files
    >>> backend = TDDFABackend(**write_random_files(tempfile.mkdtemp()))
    >>> image = np.zeros((160, 160, 3), dtype=np.uint8)
    >>> backend.predict(image, [20, 20, 140, 140]).shape
    (68, 2)
    """

    #: works at any yaw: the protocols then keep profile views (see ``LandmarkBackend``)
    large_pose = True

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        normalization: str | os.PathLike,
        model: str | os.PathLike,
        *,
        whitening: str | os.PathLike | None = None,
        detector: str = "hog",
        upsample: int = 1,
        refine: int = 1,
        n_threads: int | None = None,
    ):
        self.checkpoint = checkpoint
        self.normalization = normalization
        self.model = model
        self.whitening = whitening
        self.detector = detector
        self.upsample = upsample
        self.refine = refine
        self.n_threads = n_threads

    # ------------------------------------------------------------------ loading
    def _checked_checkpoint(self) -> tuple[tuple[str, int, int], str]:
        path = _existing(self.checkpoint, "3DDFA_V2 checkpoint")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        checksum = _sha256(*key)
        fingerprint = getattr(self, "_fingerprint", None)
        if fingerprint is not None and fingerprint[0] == os.fspath(self.checkpoint):
            if fingerprint[1] != checksum:
                raise ModelFormatError(
                    f"{path}: the checkpoint changed since this TDDFABackend was built "
                    f"(SHA-256 {checksum[:12]}… instead of {fingerprint[1][:12]}…), so its "
                    "landmarks would not match those of the fitted pipeline. Restore the file, "
                    "or re-fit with a new TDDFABackend."
                )
        self._fingerprint = (os.fspath(self.checkpoint), checksum)
        return key, checksum

    def _regressor(self) -> _Regressor:
        key, _ = self._checked_checkpoint()
        files = []
        for value in (self.normalization, self.model, self.whitening):
            if value is None:
                files.append(None)
                continue
            path = Path(value)
            stat = path.stat() if path.exists() else None
            files.append((str(path), stat and stat.st_size, stat and stat.st_mtime_ns))
        cache_key = (key, *files)
        with _load_lock:
            regressor = _regressors.get(cache_key)
            if regressor is None:
                regressor = _Regressor(
                    Path(key[0]), Path(self.normalization), Path(self.model), self.whitening
                )
                if len(_regressors) >= _MAX_REGRESSORS:
                    _regressors.pop(next(iter(_regressors)))
                _regressors[cache_key] = regressor
        return regressor

    def _detector(self) -> DlibBackend:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}; got {self.detector!r}.")
        return DlibBackend(detector=self.detector, upsample=self.upsample)

    def _check_refine(self) -> int:
        refine = self.refine
        if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or refine < 0:
            raise ValueError(f"refine must be an int >= 0; got {refine!r}.")
        return int(refine)

    def load(self) -> TDDFABackend:
        """Load the network, normalisation and model files (and the detector) now.

        Returns
        -------
        self : TDDFABackend

        Raises
        ------
        ModelFormatError
            A file is missing, unreadable, unsafe, or does not fit; or the checkpoint changed
            since this back end was pickled.
        """
        self._check_refine()
        self._regressor()
        detector = self._detector()
        detector._check_upsample()
        if self.detector == "cnn":
            from sk3dface.landmarks._dlib import _cnn_detector

            _cnn_detector()
        return self

    def cache_key(self) -> str:
        """SHA-256 of the checkpoint (``FaceLandmarker(memory=...)`` keys its cache on it)."""
        return self._checked_checkpoint()[1]

    # ------------------------------------------------------------------ inference
    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes ``(n, 4)`` ``[l, t, r, b]`` from :class:`~sk3dface.DlibBackend`."""
        return self._detector().detect(image)

    def detect_with_scores(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Face boxes and detector scores from :meth:`DlibBackend.detect_with_scores`."""
        return self._detector().detect_with_scores(image)

    def predict_3dmm(self, image: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
        """Landmarks, pose and coefficients of the faces in ``boxes`` (one batch).

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), dtype uint8
            RGB image (anything :func:`~sk3dface.utils._images.load_image` accepts).
        boxes : array-like of shape (n_faces, 4) or (4,)
            ``[left, top, right, bottom]`` as from :meth:`detect`.

        Returns
        -------
        result : dict of ndarray
            ``landmarks`` (n, 68, 2) image pixels; ``landmarks_3d`` (n, 68, 3) with depth in
            pixels towards the camera (min 0); ``alpha`` (n, 40) and ``beta`` (n, 10) in the
            scaling of ``load_3ddfa(model, whitening_path=whitening)``; ``yaw``, ``pitch``,
            ``roll`` (degrees), ``tx``, ``ty`` (pixels), ``scale`` (pixels per model unit)
            in sk3dface's camera convention (``docs/conventions.md``); ``rotation``
            (n, 3, 3); ``roi`` (n, 4) the last crop; ``head_rms`` (n,) the RMS distance in
            pixels between the network's ``fc_lm`` head and ``landmarks``.
        """
        rgb = load_image(image, max_pixels=None)
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        if not np.isfinite(b).all() or not ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all():
            raise ValueError(
                "boxes must be finite [left, top, right, bottom] with right > left and bottom "
                f"> top; got {b.tolist()}."
            )
        refine = self._check_refine()
        regressor = self._regressor()
        rois = np.round(roi_from_box(b))  # whole pixels: the crop and decode use the same
        params, head = regressor.regress(crop(rgb, rois), self.n_threads)
        result = regressor.decode(params, rois)
        for _ in range(refine):
            rois = np.round(roi_from_landmarks(result["landmarks"]))
            params, head = regressor.regress(crop(rgb, rois), self.n_threads)
            result = regressor.decode(params, rois)
        head_points = regressor.head_landmarks(head, rois)
        result["head_rms"] = np.sqrt(
            ((head_points - result["landmarks"]) ** 2).sum(axis=-1).mean(axis=-1)
        )
        return result

    def predict(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 68 iBUG landmarks ``(68, 2)`` of the face in ``box`` (image pixels)."""
        return self.predict_3dmm(image, check_box(box)[None])["landmarks"][0]


def write_random_files(folder: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write a randomly initialised checkpoint, its normalisation and a tiny stand-in BFM.

    For tests and examples without the real 3DDFA_V2 files: the results are deterministic
    but meaningless. Returns the keyword arguments of :class:`TDDFABackend`.

    Examples
    --------
    >>> import tempfile
    >>> files = write_random_files(tempfile.mkdtemp())
    >>> sorted(files)
    ['checkpoint', 'model', 'normalization']
    """
    import torch

    from sk3dface.models import make_default_model

    folder = Path(folder)
    (folder / "bfm").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = make_network()
    with torch.no_grad():  # random BN statistics, so that outputs depend on the input
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.uniform_(0.5, 2.0)
    torch.save(net.state_dict(), folder / "random_mb05_120x120.pth")
    rng = np.random.default_rng(seed)
    mean = make_default_model().mean[make_default_model().landmark_indices]  # (68, 3)
    mean = (mean - mean.mean(axis=0)) / np.abs(mean).max() * 8e4  # ~um, like the BFM
    n = len(mean)
    arrays = {
        "u_shp": mean.reshape(-1, 1).astype(np.float32),
        "u_exp": np.zeros((3 * n, 1), np.float32),
        "w_shp_sim": rng.normal(scale=1e2, size=(3 * n, N_ALPHA)).astype(np.float32),
        "w_exp_sim": rng.normal(scale=1e2, size=(3 * n, N_BETA)).astype(np.float32),
        "keypoints_sim": (3 * np.arange(n)[:, None] + np.arange(3)).reshape(-1),
    }
    for name, array in arrays.items():
        np.save(folder / "bfm" / f"{name}.npy", array)
    param_mean = np.zeros(N_PARAM, np.float32)
    param_mean[[0, 5, 10]] = 6e-4  # a frontal camera of ~120 px faces
    param_mean[[3, 7]] = 60.0
    param_std = np.full(N_PARAM, 1e-4, np.float32)
    param_std[[3, 7]] = 2.0
    param_std[12:] = 1.0
    for name in ("param_whitening.pkl", "param_mean_std_62d_120x120.pkl"):
        target = folder / ("bfm" if name == "param_whitening.pkl" else "") / name
        with open(target, "wb") as file:
            pickle.dump({"mean": param_mean, "std": param_std}, file, protocol=2)
    return {
        "checkpoint": folder / "random_mb05_120x120.pth",
        "normalization": folder / "param_mean_std_62d_120x120.pkl",
        "model": folder / "bfm",
    }
