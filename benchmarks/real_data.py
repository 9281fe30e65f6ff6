"""Accuracy on real labelled photos: raw-landmark baselines beside every sk3dface pipeline.

Reads the real sets in ``../shared/datasets`` (skips cleanly when absent): Taiwanese facial
expressions (expression, identity), IIM (expression, gender, identity) and ORL (identity).
Each image is detected once (``FaceEmbedder(include_landmarks=True, memory=...)``: landmarks
and dlib descriptors from one detection, cached by content); every candidate is then the
rest of its pipeline (``pipe[1:]``) cross-validated on those arrays.

Folds follow ``../shared/datasets/README.md``: expression and gender never put one person on
both sides (``GroupKFold`` on the person); identity never puts one expression (Taiwanese,
IIM) or one image number (ORL) on both sides (``LeaveOneGroupOut``). No parameter is chosen
on test folds: every candidate is a fixed, a-priori pipeline, except the fusion weight of the
"grouped inner CV" rows, chosen inside each training fold on its own people.

Usage: ``python benchmarks/real_data.py [--cache-dir DIR] [--resnet] [--sets taiwanese,iim]
[--only classification|verification|ratings|person|tddfa]`` prints a Markdown table per set
and task (accuracy mean ± std over folds, Δ against the raw-landmark + LogReg baseline of the
same run, fit+predict time of the whole CV). The ``tddfa`` tables need 3DDFA_V2's files in
``../shared/models`` and are skipped without them.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
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
MODELS = DATASETS.parent / "models"
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
        (
            "both",
            "fused, 2-D weight by grouped inner CV + LDA",
            make_task_pipeline(task, features="fused", fusion_weights="cv")[1:],
        ),
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


def run(name: str, cache_dir: str, resnet: bool, only: str | None = None) -> None:
    folder, pattern, match_on, tasks = SETS[name]
    data = load_image_folder(DATASETS / folder, pattern, match_on=match_on, check_images=False)
    start = time.perf_counter()
    arrays = features(data, cache_dir)
    found = np.isfinite(arrays["both"]).all(axis=1)
    print(
        f"\n### {name}: {len(found)} images, {int(found.sum())} with a face "
        f"(detection + descriptors {time.perf_counter() - start:.0f} s)\n"
    )
    if only in (None, "verification"):
        verification(name, data, arrays, found)
    if name == "taiwanese" and only in (None, "ratings"):
        ratings(data, arrays, found)
    if "expression" in tasks and only in (None, "person"):
        person_normalised(name, data, arrays, found)
    if only in (None, "tddfa"):
        learned_landmarks(name, data, arrays, found, tasks, cache_dir)
    for task in tasks if only in (None, "classification") else ():
        y, groups, cv = folds(task, data)
        y, groups = y[found], groups[found]
        print(f"#### {name} — {task} ({len(y)} samples, {cv.get_n_splits(groups=groups)} folds)\n")
        print("| features | accuracy % (mean ± std) | Δ vs baseline | CV time s |")
        print("|---|---|---|---|")
        baseline = None
        for kind, label, estimator in candidates(task, resnet):
            X = arrays[kind][found]
            start = time.perf_counter()
            # the inner weight search splits the training folds by the same groups
            params = {"fusion__groups": groups} if "fusion" in estimator.named_steps else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = 100 * cross_val_score(estimator, X, y, groups=groups, cv=cv, params=params)
            seconds = time.perf_counter() - start
            baseline = scores.mean() if baseline is None else baseline
            print(
                f"| {label} | {scores.mean():.1f} ± {scores.std():.1f} | "
                f"{scores.mean() - baseline:+.1f} | {seconds:.1f} |"
            )
        print()


def verification(name: str, data, arrays: dict[str, np.ndarray], found: np.ndarray) -> None:
    """EER and TAR@FAR=1e-2 on people never seen when learning the projection."""
    from sk3dface.fitting import FrontalShape
    from sk3dface.metrics import equal_error_rate, make_verification_pairs, pair_scores, tar_at_far

    subject = np.asarray(data.subject)[found]
    people = np.unique(subject)
    train = np.isin(subject, people[: len(people) // 2])  # first half of the people
    test = ~train
    pairs, same = make_verification_pairs(subject[test], n_impostors=20_000, random_state=0)
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")
    kinds = {
        "raw landmarks": (FunctionTransformer(procrustes), arrays["landmarks"]),
        "3d: FrontalShape identity": (FrontalShape("identity"), arrays["landmarks"]),
        "2d: dlib descriptor": (None, arrays["embedding"]),
    }
    print(
        f"#### {name} — verification ({test.sum()} images of {len(people) - len(people) // 2} "
        f"new people; {same.sum()} genuine, {(~same.astype(bool)).sum()} impostor pairs)\n"
    )
    print("| features | metric | EER % | TAR@FAR=1e-2 % |")
    print("|---|---|---|---|")
    fused = []
    for label, (transformer, X) in kinds.items():
        X = X[found]
        if transformer is not None:
            X = transformer.fit(X[train]).transform(X)
        X = StandardScaler().fit(X[train]).transform(X)
        fused.append(X)
        rows = [("cosine", None)]
        rows.append(("cosine after LDA (train people)", lda.fit(X[train], subject[train])))
        for metric, projection in rows:
            scores = pair_scores(X[test], pairs, transformer=projection)
            print(
                f"| {label} | {metric} | {100 * equal_error_rate(same, scores):.1f} | "
                f"{100 * tar_at_far(same, scores, 1e-2):.1f} |"
            )
    X = np.concatenate(fused[1:], axis=1)
    projection = lda.fit(X[train], subject[train])
    scores = pair_scores(X[test], pairs, transformer=projection)
    print(
        f"| fused (3d + 2d) | cosine after LDA (train people) | "
        f"{100 * equal_error_rate(same, scores):.1f} | {100 * tar_at_far(same, scores, 1e-2):.1f} |"
    )
    print()


def ratings(data, arrays: dict[str, np.ndarray], found: np.ndarray) -> None:
    """Observer-rated expression intensity (Taiwanese ratings.csv), person-disjoint folds."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.metrics import make_scorer, mean_absolute_error
    from sklearn.model_selection import cross_validate
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.svm import SVR

    from sk3dface.classifiers import ResNetRegressor
    from sk3dface.fitting import FrontalShape
    from sk3dface.protocols._task_pipeline import embedding_columns, landmark_columns

    table = pd.read_csv(DATASETS / "taiwanese" / "ratings.csv").set_index("file_name")
    names = [Path(p).name for p in np.asarray(data.images)[found]]
    rated = np.array([n in table.index for n in names])
    targets = [c for c in table.columns if c.startswith("intensity_")]
    y = table.loc[np.array(names)[rated], targets].to_numpy(float)
    groups = np.asarray(data.subject)[found][rated]

    def shape():
        return FrontalShape("expression", extractor=MorphableCoefficientExtractor())

    kinds = {
        "raw landmarks": (FunctionTransformer(procrustes), arrays["landmarks"]),
        "3d: FrontalShape expression": (shape(), arrays["landmarks"]),
        "2d: dlib descriptor": (None, arrays["embedding"]),
        "fused: FrontalShape + descriptor": (
            ColumnTransformer(
                [
                    ("3d", make_pipeline(shape(), StandardScaler()), landmark_columns),
                    ("2d", StandardScaler(), embedding_columns),
                ]
            ),
            arrays["both"],
        ),
    }
    print(
        f"#### taiwanese — observer-rated intensity of {len(targets)} emotions "
        f"({rated.sum()} images, GroupKFold(10) on the person)\n"
    )
    print("| features | regressor | R² (mean over emotions) | MAE | CV time s |")
    print("|---|---|---|---|---|")
    for label, (transformer, X) in kinds.items():
        X = X[found][rated]
        regressors = {
            "Ridge(alpha=10)": Ridge(alpha=10.0),
            "SVR": MultiOutputRegressor(SVR(C=1.0)),
            "ResNetRegressor (default)": ResNetRegressor(random_state=0),
        }
        for reg_name, regressor in regressors.items():
            steps = [] if transformer is None else [clone(transformer)]
            estimator = make_pipeline(*steps, StandardScaler(), regressor)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = cross_validate(
                    estimator,
                    X,
                    y,
                    groups=groups,
                    cv=GroupKFold(10),
                    scoring={"r2": "r2", "mae": make_scorer(mean_absolute_error)},
                )
            print(
                f"| {label} | {reg_name} | {result['test_r2'].mean():.3f} | "
                f"{result['test_mae'].mean():.3f} | {time.perf_counter() - start:.1f} |"
            )
    print()


def centred_per_person(X: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Each person's mean row subtracted from that person's rows (no labels used)."""
    out = X.copy()
    for who in np.unique(person):
        out[person == who] -= X[person == who].mean(axis=0)
    return out


def jointly_fitted_expression(landmarks: np.ndarray, person: np.ndarray) -> np.ndarray:
    """FrontalShape("expression") with one alpha per person: all of a person's images are
    the views of one joint fit, so the identity removed is fitted from all of them."""
    from sk3dface.fitting import FrontalShape

    people = np.unique(person)
    n_views = max(int((person == who).sum()) for who in people)
    views = np.full((len(people), n_views, 136), np.nan)  # missing views: NaN
    slot = np.empty((len(landmarks), 2), dtype=int)
    for i, who in enumerate(people):
        rows = np.flatnonzero(person == who)
        views[i, : len(rows)] = landmarks[rows]
        slot[rows] = np.column_stack([np.full(len(rows), i), np.arange(len(rows))])
    joint = MorphableCoefficientExtractor(multiview="joint", alpha_reg=10.0)
    shape = FrontalShape("expression", extractor=joint, combine_views="none")
    shapes = shape.fit_transform(views.reshape(len(people), -1)).reshape(len(people), n_views, -1)
    return shapes[slot[:, 0], slot[:, 1]]


def person_normalised(name: str, data, arrays: dict[str, np.ndarray], found: np.ndarray) -> None:
    """Expression when the test person's other images are at hand (labels never used).

    A person's images are all in one fold (GroupKFold on the person), so normalising by
    them uses nothing from another fold: it is label-free and transductive per person.
    """
    from sk3dface.fitting import FrontalShape

    landmarks = arrays["landmarks"][found]
    y = np.asarray(data.expression)[found]
    person = np.asarray(data.subject)[found]
    raw = procrustes(landmarks)
    frontal = FrontalShape("expression").fit_transform(landmarks)
    joint = jointly_fitted_expression(landmarks, person)
    rows = [
        ("raw landmarks + LogReg (baseline)", raw, "logreg"),
        ("raw landmarks", raw, "lda"),
        ("raw landmarks, centred per person", centred_per_person(raw, person), "lda"),
        ("FrontalShape expression (single-image fit)", frontal, "lda"),
        ("FrontalShape expression, centred per person", centred_per_person(frontal, person),
         "lda"),
        ("FrontalShape expression, one joint fit per person", joint, "lda"),
        ("joint fit per person, centred per person", centred_per_person(joint, person), "lda"),
    ]  # fmt: skip
    print(f"#### {name} — expression, normalised by the person's own images (label-free)\n")
    print("| features | classifier | accuracy % (mean ± std) | Δ vs baseline |")
    print("|---|---|---|---|")
    baseline = None
    for label, X, classifier in rows:
        estimator = (
            make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
            if classifier == "logreg"
            else LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = 100 * cross_val_score(estimator, X, y, groups=person, cv=GroupKFold(10))
        baseline = scores.mean() if baseline is None else baseline
        print(f"| {label} | {classifier} | {scores.mean():.1f} ± {scores.std():.1f} | "
              f"{scores.mean() - baseline:+.1f} |")  # fmt: skip
    print()


def learned_landmarks(name, data, arrays, found, tasks, cache_dir: str) -> None:
    """The same tasks from 3DDFA_V2 (``TDDFABackend``): its landmarks, and its coefficients.

    The network regresses a 40 + 10-mode BFM from the image; its landmarks are that model's
    keypoints, so they can only hold what the regressed shape holds.
    """
    from sk3dface import FaceLandmarker, ImageCoefficientRegressor, TDDFABackend
    from sk3dface.fitting import FrontalShape

    v2, bfm = MODELS / "3ddfa_v2", MODELS / "3ddfa_bfm"
    if not (v2 / "mb05_120x120.pth").is_file() or not bfm.is_dir():
        print(f"3DDFA_V2 / 3ddfa_bfm files not found in {MODELS}: the TDDFA rows are skipped\n")
        return
    backend = TDDFABackend(
        v2 / "mb05_120x120.pth", v2 / "param_mean_std_62d_120x120.pkl", bfm, n_threads=1
    )
    images = list(data.images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)  # counted below
        landmarks = FaceLandmarker(backend, memory=cache_dir, n_jobs=2).fit_transform(images)
        coefficients = ImageCoefficientRegressor(backend, n_jobs=2).fit_transform(images)[:, :50]
    both = found & np.isfinite(landmarks).all(axis=1) & np.isfinite(coefficients).all(axis=1)
    raw = FunctionTransformer(procrustes)
    for task in tasks:
        y, groups, cv = folds(task, data)
        part = "expression" if task == "expression" else "identity"
        fixed = MorphableCoefficientExtractor(alpha_reg=10.0 if part == "identity" else 1.0,
                                              contour="fixed")  # fmt: skip
        rows = [
            ("dlib: raw landmarks + LogReg (baseline)", arrays["landmarks"],
             make_pipeline(raw, StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))),
            ("dlib: make_task_pipeline (FrontalShape + LDA)", arrays["landmarks"],
             make_task_pipeline(task)[1:]),
            ("TDDFA: raw landmarks + LDA", landmarks,
             make_pipeline(raw, LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))),
            ("TDDFA: FrontalShape (contour fixed) + LDA", landmarks,
             make_pipeline(FrontalShape(part, extractor=fixed),
                           LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))),
            ("TDDFA: regressed alpha + beta + LDA", coefficients,
             make_pipeline(StandardScaler(),
                           LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))),
        ]  # fmt: skip
        print(
            f"#### {name} — {task}, learned landmarks ({both.sum()} images with a face for "
            "dlib and TDDFA)\n"
        )
        print("| features | accuracy % (mean ± std) | Δ vs baseline |")
        print("|---|---|---|")
        baseline = None
        for label, X, estimator in rows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = 100 * cross_val_score(
                    estimator, X[both], y[both], groups=groups[both], cv=cv
                )
            baseline = scores.mean() if baseline is None else baseline
            print(f"| {label} | {scores.mean():.1f} ± {scores.std():.1f} | "
                  f"{scores.mean() - baseline:+.1f} |")  # fmt: skip
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "sk3dface-bench"))
    parser.add_argument("--resnet", action="store_true", help="also the default ResNet")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument(
        "--only",
        choices=("classification", "verification", "ratings", "person", "tddfa"),
        default=None,
    )
    args = parser.parse_args()
    if not DATASETS.is_dir():
        print(f"skipped: {DATASETS} is absent (the real data sets are not on this machine)")
        return
    for name in args.sets.split(","):
        run(name, args.cache_dir, args.resnet, args.only)


if __name__ == "__main__":
    main()
