"""Does the extractor's jaw-contour down-weighting help on turned faces? (aflw2000_sample)

The 16 AFLW2000-3D images of ``$SK3DFACE_SHARED/datasets/aflw2000_sample`` (skips cleanly
when absent) have ground-truth 68 3-D landmarks (``pt3d_68``) and head pose (``Pose_Para``,
whose yaw has the opposite sign of sk3dface's). Landmarks from three sources are fitted with
``MorphableCoefficientExtractor(contour="downweight")`` (far-side jaw weight
``1 / (1 + (yaw / CONTOUR_YAW)^2)``, ``CONTOUR_YAW`` patched in this script only: 7.5, 15 =
the library's, 30) and ``contour="fixed"``:

- ``ground truth``: the x, y of ``pt3d_68`` (jaw points are model vertices, also hidden ones);
- ``TDDFA``: ``TDDFABackend`` on the ground-truth landmark box (needs 3DDFA_V2 files);
- ``dlib``: dlib's predictor on dlib CNN boxes (``upsample=1``), where it finds the face.

Reported per |yaw| bin: mean absolute yaw error (degrees) against ``-Pose_Para`` yaw, and the
3-D shape error: the fitted 68 model points against ``pt3d_68`` after a similarity
(Procrustes) alignment, as a % of the ground-truth box size ``sqrt(w*h)``.

Usage: ``python benchmarks/turned_contour.py``.
"""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.io
from scipy.spatial import procrustes

import sk3dface.fitting._core as core
from sk3dface import FaceLandmarker, MorphableCoefficientExtractor, TDDFABackend, load_3ddfa
from sk3dface.utils._images import load_image

SHARED = Path(os.environ.get("SK3DFACE_SHARED", "/work/shared"))
AFLW = SHARED / "datasets" / "aflw2000_sample"
V2, BFM = SHARED / "models" / "3ddfa_v2", SHARED / "models" / "3ddfa_bfm"
BINS = ((0, 30), (30, 60), (60, 91))


def shape_error(extractor, coefficients, gt3d) -> np.ndarray:
    """Procrustes distance of the fitted 3-D landmarks to pt3d_68, % of sqrt(w*h)."""
    model, layout = extractor.model_, extractor.layout_
    errors = np.full(len(coefficients), np.nan)
    for i, row in enumerate(coefficients):
        if not np.isfinite(row).all():
            continue
        points = (
            model.mean.reshape(-1)
            + model.identity_basis @ row[layout.alpha]
            + model.expression_basis @ row[layout.beta]
        ).reshape(68, 3)
        truth = gt3d[i] * np.array([1, -1, -1])  # image y down -> model y up
        a, b, _ = procrustes(truth, points)  # both scaled to unit norm
        size = np.sqrt(np.prod(gt3d[i][:, :2].max(0) - gt3d[i][:, :2].min(0)))
        norm = np.linalg.norm(truth - truth.mean(0))
        errors[i] = 100 * np.linalg.norm(a - b, axis=1).mean() * norm / size
    return errors


def main() -> None:
    jpgs = sorted(glob.glob(str(AFLW / "*.jpg")))
    if not jpgs:
        print(f"aflw2000_sample not found under {AFLW}: skipped")
        return
    mats = [scipy.io.loadmat(j[:-4] + ".mat") for j in jpgs]
    gt3d = np.stack([m["pt3d_68"].T.astype(float) for m in mats])  # (n, 68, 3)
    yaw_true = -np.degrees([m["Pose_Para"][0, 1] for m in mats])
    images = [load_image(j) for j in jpgs]
    boxes = np.array([np.r_[g[:, :2].min(0), g[:, :2].max(0)] for g in gt3d])
    sources = {"ground truth": gt3d[:, :, :2].reshape(len(jpgs), -1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if (V2 / "mb05_120x120.pth").is_file():
            backend = TDDFABackend(
                V2 / "mb05_120x120.pth", V2 / "param_mean_std_62d_120x120.pkl", BFM, n_threads=1
            )
            sources["TDDFA"] = FaceLandmarker(backend).fit(images).transform(images, boxes)
        sources["dlib (CNN boxes)"] = FaceLandmarker(detector="cnn", upsample=1).fit_transform(
            images
        )
    models = {"built-in": "default"}
    if BFM.is_dir():
        models["3DDFA BFM"] = load_3ddfa(BFM)
    variants = [("downweight", 7.5), ("downweight", 15.0), ("downweight", 30.0), ("fixed", None)]
    header = " | ".join(
        f"|yaw| {lo}-{hi - 1}° (n={((abs(yaw_true) >= lo) & (abs(yaw_true) < hi)).sum()})"
        for lo, hi in BINS
    )
    print(f"{len(jpgs)} images; cells: yaw error ° / 3-D shape error %\n")
    print(f"| landmarks | model | contour | {header} | all |")
    print("|---|---|---|" + "---|" * (len(BINS) + 1))
    default_yaw = core.CONTOUR_YAW
    for source, X in sources.items():
        for model_name, model in models.items():
            for contour, contour_yaw in variants:
                core.CONTOUR_YAW = default_yaw if contour_yaw is None else contour_yaw
                extractor = MorphableCoefficientExtractor(model, contour=contour)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    coefficients = extractor.fit(X).transform(X)
                yaw = coefficients[:, extractor.layout_.offset("yaw")]
                yaw_error = np.abs(yaw - yaw_true)
                shape = shape_error(extractor, coefficients, gt3d)
                cells = []
                for lo, hi in (*BINS, (0, 91)):
                    inside = (abs(yaw_true) >= lo) & (abs(yaw_true) < hi) & np.isfinite(yaw)
                    cells.append(
                        f"{np.mean(yaw_error[inside]):.1f} / {np.mean(shape[inside]):.2f}"
                        if inside.any()
                        else "–"
                    )
                label = contour if contour_yaw is None else f"{contour} {contour_yaw:g}°"
                print(f"| {source} | {model_name} | {label} | " + " | ".join(cells) + " |")
    core.CONTOUR_YAW = default_yaw


if __name__ == "__main__":
    main()
