"""Turned faces on cmu_faces: detection rate per pose, identity trained straight, tested turned.

Reads ``$SK3DFACE_SHARED/datasets/cmu_faces`` (default ``/work/shared``; skips cleanly when
absent) and, for the learned back end, ``$SK3DFACE_SHARED/models/3ddfa_v2`` and
``3ddfa_bfm``. The 313 full-size 128×120 PGM images (``_2``/``_4`` copies and ``.bad`` files
left out) of 20 people in 4 poses (straight, left, right, up).

1. Detection rate per pose: dlib HOG and CNN (``upsample=1``; the faces are ~40 px). The
   learned back end (``TDDFABackend``) uses dlib's detectors, so its rate is theirs.
2. Identity: train on the ``straight`` images, test on each turned pose, in one run, on the
   images where the CNN found the face (the same images for every feature):
   Procrustes-normalised raw landmarks (dlib predictor, and TDDFA), landmark-fit alpha
   (``MorphableCoefficientExtractor``: built-in model on dlib landmarks; built-in model and the
   3DDFA BFM on TDDFA landmarks, ``contour="fixed"``), ``ImageCoefficientRegressor`` alpha,
   and dlib's face descriptor (``FaceEmbedder``, on dlib and on TDDFA landmarks).
   Classifier: StandardScaler + LogisticRegression (fixed a priori, nothing tuned on test).

Landmarks and descriptors are cached by content (``FaceLandmarker(memory=...)``) under
``$SK3DFACE_BENCH_CACHE`` (default ``~/.cache/sk3dface-bench``), outside the repository.

Usage: ``python benchmarks/turned_faces.py`` prints Markdown tables.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk3dface import (
    CoefficientSelector,
    FaceEmbedder,
    FaceLandmarker,
    ImageCoefficientRegressor,
    MorphableCoefficientExtractor,
    TDDFABackend,
    load_3ddfa,
)

SHARED = Path(os.environ.get("SK3DFACE_SHARED", "/work/shared"))
DATA = SHARED / "datasets" / "cmu_faces" / "faces"
V2, BFM = SHARED / "models" / "3ddfa_v2", SHARED / "models" / "3ddfa_bfm"
CACHE = Path(os.environ.get("SK3DFACE_BENCH_CACHE", Path.home() / ".cache" / "sk3dface-bench"))
POSES = ("straight", "left", "right", "up")
NAME = re.compile(r"(?P<person>[^_]+)_(?P<pose>[a-z]+)_[a-z]+_[a-z]+\.pgm")


def procrustes(X: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit norm per sample (the raw baseline's input)."""
    points = X.reshape(len(X), -1, 2)
    points = points - points.mean(axis=1, keepdims=True)
    return (points / np.linalg.norm(points, axis=(1, 2), keepdims=True)).reshape(len(X), -1)


def images() -> tuple[list[str], np.ndarray, np.ndarray]:
    paths, people, poses = [], [], []
    for path in sorted(DATA.glob("*/*.pgm")):
        match = NAME.fullmatch(path.name)  # the _2 / _4 smaller copies do not match
        if match:
            paths.append(str(path))
            people.append(match["person"])
            poses.append(match["pose"])
    return paths, np.array(people), np.array(poses)


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failed views are counted in the tables
        return function(*args, **kwargs)


def main() -> None:
    if not DATA.is_dir():
        print(f"cmu_faces not found under {DATA}: skipped")
        return
    paths, people, poses = images()
    memory = str(CACHE)
    print(f"cmu_faces: {len(paths)} images, {len(set(people))} people\n")

    detections = {}
    for detector in ("hog", "cnn"):
        start = time.perf_counter()
        landmarker = FaceLandmarker(detector=detector, upsample=1, return_box=True, memory=memory)
        detections[detector] = quiet(landmarker.fit_transform, paths)
        print(f"{detector}: {time.perf_counter() - start:.0f} s (cached runs are fast)")
    print("\n| detector (upsample 1) | " + " | ".join(POSES) + " | all |")
    print("|---|" + "---|" * (len(POSES) + 1))
    for detector, out in detections.items():
        found = np.isfinite(out[:, 0])
        cells = [f"{found[poses == p].sum()}/{(poses == p).sum()}" for p in POSES]
        print(f"| dlib {detector} | " + " | ".join(cells) + f" | {100 * found.mean():.0f} % |")
    print("(TDDFABackend detects with dlib: its rate is that of the detector it is given.)\n")

    cnn = detections["cnn"]
    keep = np.isfinite(cnn[:, 0])
    paths_k = [p for p, k in zip(paths, keep, strict=True) if k]
    people_k, poses_k = people[keep], poses[keep]
    boxes = cnn[keep, 136:140]
    features = {"raw landmarks, dlib predictor": procrustes(cnn[keep, :136])}
    dlib_landmarks = cnn[keep, :136]
    fit_default = quiet(MorphableCoefficientExtractor().fit_transform, dlib_landmarks)
    features["alpha, fit of built-in model to dlib landmarks"] = fit_default[:, :16]
    embedder = FaceEmbedder(memory=memory)
    features["dlib descriptor (dlib landmarks)"] = quiet(
        embedder.fit(paths_k).transform, paths_k, face_boxes=boxes
    )
    have_tddfa = (V2 / "mb05_120x120.pth").is_file() and BFM.is_dir()
    if have_tddfa:
        backend = TDDFABackend(
            V2 / "mb05_120x120.pth",
            V2 / "param_mean_std_62d_120x120.pkl",
            BFM,
            detector="cnn",
            upsample=1,
            n_threads=1,
        )
        tddfa = quiet(
            FaceLandmarker(backend, memory=memory).fit(paths_k).transform,
            paths_k,
            face_boxes=boxes,
        )
        features["raw landmarks, TDDFA"] = procrustes(tddfa)
        fitted = quiet(MorphableCoefficientExtractor(contour="fixed").fit_transform, tddfa)
        features["alpha, fit of built-in model to TDDFA landmarks"] = fitted[:, :16]
        bfm_fit = MorphableCoefficientExtractor(load_3ddfa(BFM), contour="fixed")
        features["alpha, fit of 3DDFA BFM to TDDFA landmarks"] = quiet(
            bfm_fit.fit_transform, tddfa
        )[:, :40]
        regressed = quiet(
            ImageCoefficientRegressor(backend).fit(paths_k).transform, paths_k, face_boxes=boxes
        )
        features["alpha, ImageCoefficientRegressor"] = CoefficientSelector(
            "alpha", n_alpha=40, n_beta=10
        ).fit_transform(regressed)[:, :40]
        features["dlib descriptor (TDDFA landmarks)"] = quiet(
            FaceEmbedder(backend, memory=memory).fit(paths_k).transform,
            paths_k,
            face_boxes=boxes,
        )
    else:
        print("3DDFA_V2 / 3ddfa_bfm files not found: the TDDFA rows are skipped\n")

    turned = POSES[1:]
    train = poses_k == "straight"
    print(
        f"Identity, trained on {train.sum()} straight images of {len(set(people_k[train]))} "
        "people, accuracy % on the turned images the CNN found (StandardScaler + LogReg):\n"
    )
    print("| features | " + " | ".join(f"{p} (n={(poses_k == p).sum()})" for p in turned) + " |")
    print("|---|" + "---|" * len(turned))
    for label, X in features.items():
        usable = np.isfinite(X).all(axis=1)
        classifier = make_pipeline(
            FunctionTransformer(), StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)
        )
        quiet(classifier.fit, X[train & usable], people_k[train & usable])
        cells = []
        for pose in turned:
            test = poses_k == pose
            correct = np.zeros(test.sum(), bool)  # a view that could not be fitted is wrong
            ok = usable[test]
            if ok.any():
                correct[ok] = classifier.predict(X[test][ok]) == people_k[test][ok]
            cells.append(f"{100 * correct.mean():.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
