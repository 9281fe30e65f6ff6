"""Grid search and cross-validation on 1,000 landmark sets: wall time and where it goes.

Data: 1,000 images of the Taiwanese facial expression set in ``../shared/datasets`` (or
``$SK3DFACE_DATASETS``), task expression, folds that never put one person on both sides
(``GroupKFold`` on the person). Their landmarks come from one ``FaceLandmarker`` pass with
its content cache in ``$SK3DFACE_BENCH_CACHE`` (default ``~/.cache/sk3dface-bench``), so
each image is detected once ever and later runs read the cache. Without the data sets,
1,000 synthetic landmark sets (``make_synthetic_faces``: 40 people × 5 expressions × 5)
stand in, and the table says so.

1. ``GridSearchCV`` over ``FrontalShape → StandardScaler → classifier``: 4 extractor
   settings (``part`` ∈ {expression, observed} × identity prior ``alpha_reg`` ∈ {1, 10})
   × 3 classifier settings × 5 grouped folds, once with an RBF ``SVC`` (``C`` ∈ {1, 10,
   100}), without and with ``Pipeline(memory=...)``, and once with the default
   ``ResNetClassifier`` (``noise_std`` ∈ {0.1, 0.3, 0.5}). The time is split into
   landmarks (the ``FaceLandmarker`` pass), fitting (``FrontalShape.transform``: the 3-D
   fit), training (classifier ``fit`` and ``predict``) and the rest (scaler, scoring,
   joblib, the pipeline cache), measured by timing subclasses that log to a file, so the
   split also works with process workers.
2. 10-fold grouped CV of the default ``ResNetClassifier`` on the 1,000 ``FrontalShape``
   expression features against ``SVC`` and the raw-landmark baseline.

Every table prints the raw-landmark baseline (Procrustes-normalised landmarks +
``StandardScaler`` + ``LogisticRegression``) of the same run and folds.

Usage: ``python benchmarks/grid_search.py [--n-jobs 2] [--n-samples 1000] [--skip-resnet]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from sk3dface import FaceLandmarker, FrontalShape, MorphableCoefficientExtractor, ResNetClassifier
from sk3dface.datasets import load_image_folder, make_synthetic_faces
from sk3dface.exceptions import FailedSamplesWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timed import STAGE_LOG, TimedFrontalShape, TimedResNet, TimedSVC, stage_seconds

DATASETS = Path(
    os.environ.get("SK3DFACE_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)
CACHE = Path(os.environ.get("SK3DFACE_BENCH_CACHE", Path.home() / ".cache" / "sk3dface-bench"))
TAIWANESE = ("taiwanese/faces_256x256", r"(?P<subject>\d{2})\d\d(?P<expression>[a-g])\d\d\.jpg")


def procrustes(X: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit norm per sample (the raw baseline's input)."""
    points = X.reshape(len(X), -1, 2)
    points = points - points.mean(axis=1, keepdims=True)
    return (points / np.linalg.norm(points, axis=(1, 2), keepdims=True)).reshape(len(X), -1)


def baseline() -> Pipeline:
    return make_pipeline(
        FunctionTransformer(procrustes), StandardScaler(), LogisticRegression(max_iter=3000)
    )


def landmark_sets(n_samples: int, n_jobs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(landmarks, expression, person, source); real photos when the data sets are present."""
    folder = DATASETS / TAIWANESE[0]
    if not folder.is_dir():
        faces = make_synthetic_faces(
            n_subjects=40, n_views=1, n_expressions=5, n_repeats=5, random_state=0
        )
        keep = np.random.default_rng(0).permutation(len(faces.X))[:n_samples]
        return faces.X[keep], faces.expression[keep], faces.subject[keep], "synthetic"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 9 files without an expression code
        data = load_image_folder(folder, TAIWANESE[1], match_on="name", check_images=False)
    keep = np.sort(np.random.default_rng(0).permutation(len(data.images))[:n_samples])
    images = [data.images[i] for i in keep]
    landmarker = FaceLandmarker(memory=str(CACHE), n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)  # no-face rows dropped below
        X = landmarker.fit_transform(images)
    found = np.isfinite(X).all(axis=1)
    y, groups = np.asarray(data.expression)[keep], np.asarray(data.subject)[keep]
    return (
        X[found],
        y[found],
        groups[found],
        f"taiwanese ({found.sum()} of {len(keep)} with a face)",
    )


def grid_search(X, y, groups, classifier, grid, n_jobs, memory) -> dict:
    pipe = Pipeline(
        [
            ("shape", TimedFrontalShape("expression", extractor=MorphableCoefficientExtractor())),
            ("scaler", StandardScaler()),
            ("classifier", classifier),
        ],
        memory=memory,
    )
    grid = {
        "shape__part": ["expression", "observed"],
        "shape__extractor__alpha_reg": [1.0, 10.0],
        **grid,
    }
    search = GridSearchCV(pipe, grid, cv=GroupKFold(5), n_jobs=n_jobs, error_score="raise")
    open(os.environ[STAGE_LOG], "w").close()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)
        search.fit(X, y, groups=groups)
    wall = time.perf_counter() - start
    results = search.cv_results_
    n_fits = len(results["params"]) * search.n_splits_
    worker = (results["mean_fit_time"] + results["mean_score_time"]).sum() * search.n_splits_
    return dict(
        wall=wall,
        worker=worker + search.refit_time_,
        n_fits=n_fits,
        best=search.best_score_,
        best_params={k.split("__")[-1]: v for k, v in search.best_params_.items()},
        **stage_seconds(),
    )


def print_grid(rows, landmark_seconds, baseline_accuracy, source) -> None:
    print(
        f"\n#### GridSearchCV, 4 extractor × 3 classifier settings × 5 grouped folds ({source})\n"
    )
    print(
        "| classifier | Pipeline(memory) | fits | grid wall s | total wall s | landmarks % | "
        "fitting % | "
        "training % | other % | best accuracy % | best setting | raw-landmark baseline % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, memory, r in rows:
        total = landmark_seconds + r["wall"]
        # worker seconds (summed over parallel workers) are scaled onto the grid's wall time
        grid_share = r["wall"] / total / max(r["worker"], 1e-9)
        fitting, training = r["fitting"] * grid_share, r["training"] * grid_share
        other = r["wall"] / total - fitting - training
        setting = ", ".join(f"{k}={v}" for k, v in r["best_params"].items())
        print(
            f"| {name} | {memory} | {r['n_fits']} + refit | {r['wall']:.1f} | {total:.1f} | "
            f"{100 * landmark_seconds / total:.0f} | {100 * fitting:.0f} | {100 * training:.0f} | "
            f"{100 * max(other, 0.0):.0f} | {100 * r['best']:.1f} | {setting} | "
            f"{baseline_accuracy:.1f} |"
        )


def ten_fold(X, y, groups, n_jobs) -> None:
    shapes = FrontalShape("expression", extractor=MorphableCoefficientExtractor()).fit_transform(X)
    cv = GroupKFold(10)
    resnet = make_pipeline(StandardScaler(), ResNetClassifier(random_state=0))
    rows = [
        ("raw landmarks + LogReg (baseline)", baseline(), X, n_jobs),
        ("FrontalShape + SVC", make_pipeline(StandardScaler(), SVC()), shapes, n_jobs),
        ("FrontalShape + ResNetClassifier (defaults)", resnet, shapes, n_jobs),
        ("FrontalShape + ResNetClassifier (defaults)", resnet, shapes, 1),
    ]
    print(f"\n#### 10-fold grouped CV on {len(y)} samples\n")
    print("| model | accuracy % (mean ± std) | n_jobs | CV wall s |")
    print("|---|---|---|---|")
    for name, model, features, jobs in rows:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = 100 * cross_val_score(model, features, y, groups=groups, cv=cv, n_jobs=jobs)
        seconds = time.perf_counter() - start
        print(f"| {name} | {scores.mean():.1f} ± {scores.std():.1f} | {jobs} | {seconds:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="GridSearchCV / CV workers")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--skip-resnet", action="store_true", help="only the SVC grid")
    args = parser.parse_args()
    os.environ[STAGE_LOG] = os.path.join(tempfile.mkdtemp(prefix="sk3dface-bench-"), "stages")

    start = time.perf_counter()
    X, y, groups, source = landmark_sets(args.n_samples, args.n_jobs)
    landmark_seconds = time.perf_counter() - start
    print(f"landmarks of {len(X)} samples ({source}): {landmark_seconds:.1f} s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline_accuracy = 100 * np.mean(
            cross_val_score(baseline(), X, y, groups=groups, cv=GroupKFold(5))
        )

    svc_grid = {"classifier__C": [1.0, 10.0, 100.0]}
    rows = []
    for memory in (None, "temporary folder"):
        with tempfile.TemporaryDirectory() as folder:
            location = None if memory is None else folder
            result = grid_search(X, y, groups, TimedSVC(), svc_grid, args.n_jobs, location)
        rows.append(("SVC (RBF)", "no" if memory is None else "yes", result))
    if not args.skip_resnet:
        resnet_grid = {"classifier__noise_std": [0.1, 0.3, 0.5]}
        with tempfile.TemporaryDirectory() as folder:
            resnet = TimedResNet(random_state=0)
            result = grid_search(X, y, groups, resnet, resnet_grid, args.n_jobs, folder)
        rows.append(("ResNetClassifier (defaults)", "yes", result))
    print_grid(rows, landmark_seconds, baseline_accuracy, source)
    if not args.skip_resnet:
        ten_fold(X, y, groups, args.n_jobs)


if __name__ == "__main__":
    main()
