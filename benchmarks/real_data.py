"""Accuracy on real labelled photos: raw-landmark baselines beside every sk3dface pipeline.

Reads the real sets in ``../shared/datasets`` (skips cleanly when absent): Taiwanese facial
expressions (expression, identity), IIM (expression, gender, identity) and ORL (identity).
Each image is detected once (``FaceEmbedder(include_landmarks=True, memory=...)``: landmarks
and dlib descriptors from one detection, cached by content); every candidate is then the
rest of its pipeline (``pipe[1:]``) cross-validated on those arrays.

Folds follow ``../shared/datasets/README.md``: expression and gender never put one person on
both sides (``GroupKFold`` on the person); identity never puts one expression (Taiwanese,
IIM) or one image number (ORL) on both sides (``LeaveOneGroupOut``). No parameter is chosen
on test folds: every candidate is a fixed, a-priori pipeline.

Usage: ``python benchmarks/real_data.py [--cache-dir DIR] [--resnet] [--sets taiwanese,iim]``
prints a Markdown table per set and task (accuracy mean ± std over folds, Δ against the
raw-landmark + LogReg baseline of the same run, fit+predict time of the whole CV).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from sk3dface import CoefficientSelector, FaceEmbedder, MorphableCoefficientExtractor
from sk3dface.datasets import load_image_folder
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.protocols import make_task_pipeline

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SETS = {
    "taiwanese": (
        "taiwanese/faces_256x256",
        r"(?P<subject>\d{2})\d\d(?P<expression>[a-g])\d\d\.jpg",
        "name",
        ("expression", "identity"),
    ),
    "iim": (
        "iim/IIM_GScale_Imgs",
        r"DST_(?P<subject>\d+)_(?P<gender>[FM])_(?P<expression>[A-Z]+)\.jpg",
        "name",
        ("expression", "gender", "identity"),
    ),
    "orl": ("orl/orl_faces", r"s(?P<subject>\d+)/(?P<shot>\d+)\.pgm", "path", ("identity",)),
}


def procrustes(X: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit norm per sample (the raw baseline's input)."""
    points = X.reshape(len(X), -1, 2)
    points = points - points.mean(axis=1, keepdims=True)
    return (points / np.linalg.norm(points, axis=(1, 2), keepdims=True)).reshape(len(X), -1)


def candidates(task: str, resnet: bool) -> list[tuple[str, str, object]]:
    """(feature kind, name, estimator on that kind's columns); the first is the baseline."""
    raw = FunctionTransformer(procrustes)
    block = "alpha" if task in ("identity", "gender") else "beta"
    rows = [
        (
            "landmarks",
            "raw landmarks + LogReg (baseline)",
            make_pipeline(raw, StandardScaler(), LogisticRegression(C=1.0, max_iter=3000)),
        ),
        (
            "landmarks",
            "raw landmarks + LDA",
            make_pipeline(raw, LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")),
        ),
        (
            "landmarks",
            f"3DMM {block} (default fit) + SVC",
            make_pipeline(
                MorphableCoefficientExtractor(),
                CoefficientSelector(block, n_alpha=16, n_beta=15),
                StandardScaler(),
                SVC(C=10.0),
            ),
        ),
        ("landmarks", "3d: make_task_pipeline (FrontalShape + LDA)", make_task_pipeline(task)[1:]),
        ("landmarks", "3d + LogReg", make_task_pipeline(task, classifier="logreg")[1:]),
        ("embedding", "2d: dlib descriptor + LDA", make_task_pipeline(task, features="2d")[1:]),
        ("both", "fused (intermediate) + LDA", make_task_pipeline(task, features="fused")[1:]),
        ("both", "late (soft vote) + LDA", make_task_pipeline(task, features="late")[1:]),
    ]
    if resnet:
        rows.append(
            (
                "landmarks",
                "3d + ResNet (default)",
                make_task_pipeline(task, classifier="resnet")[1:],
            )
        )
    return rows


def folds(task: str, data) -> tuple[np.ndarray, np.ndarray, object]:
    subject = np.asarray(data.subject)
    if task == "identity":
        group = np.asarray(data.expression if "expression" in data else data.shot)
        return subject, group, LeaveOneGroupOut()
    return np.asarray(data[task]), subject, GroupKFold(n_splits=10)


def features(data, cache_dir: str) -> dict[str, np.ndarray]:
    """Landmarks and descriptors of every image, from one detection, cached by content."""
    embedder = FaceEmbedder(include_landmarks=True, memory=cache_dir, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)  # counted below
        both = embedder.fit_transform(list(data.images))
    return {"landmarks": both[:, :136], "embedding": both[:, 136:], "both": both}


def run(name: str, cache_dir: str, resnet: bool) -> None:
    folder, pattern, match_on, tasks = SETS[name]
    data = load_image_folder(DATASETS / folder, pattern, match_on=match_on, check_images=False)
    start = time.perf_counter()
    arrays = features(data, cache_dir)
    found = np.isfinite(arrays["both"]).all(axis=1)
    print(
        f"\n### {name}: {len(found)} images, {int(found.sum())} with a face "
        f"(detection + descriptors {time.perf_counter() - start:.0f} s)\n"
    )
    for task in tasks:
        y, groups, cv = folds(task, data)
        y, groups = y[found], groups[found]
        print(f"#### {name} — {task} ({len(y)} samples, {cv.get_n_splits(groups=groups)} folds)\n")
        print("| features | accuracy % (mean ± std) | Δ vs baseline | CV time s |")
        print("|---|---|---|---|")
        baseline = None
        for kind, label, estimator in candidates(task, resnet):
            X = arrays[kind][found]
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = 100 * cross_val_score(estimator, X, y, groups=groups, cv=cv)
            seconds = time.perf_counter() - start
            baseline = scores.mean() if baseline is None else baseline
            print(
                f"| {label} | {scores.mean():.1f} ± {scores.std():.1f} | "
                f"{scores.mean() - baseline:+.1f} | {seconds:.1f} |"
            )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "sk3dface-bench"))
    parser.add_argument("--resnet", action="store_true", help="also the default ResNet")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    args = parser.parse_args()
    if not DATASETS.is_dir():
        print(f"skipped: {DATASETS} is absent (the real data sets are not on this machine)")
        return
    for name in args.sets.split(","):
        run(name, args.cache_dir, args.resnet)


if __name__ == "__main__":
    main()
