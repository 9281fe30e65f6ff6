"""``sk3dface demo``: the whole method end to end on built-in data, in a few minutes.

1. Landmark-level synthetic faces with known identities, expressions and poses: how well
   fitting recovers the truth, identity and expression classification with
   ``cross_val_score``, and a ``GridSearchCV`` over a reconstruction parameter and a
   classifier parameter together.
2. Synthetic *images* (a real photo warped by the model, see
   :func:`~sk3dface.datasets.make_synthetic_face_images`): the full pipeline from images.
3. Real photographs that ship with installed packages: landmarks and fitted shapes.

Results go to a printed table, ``results.csv`` and PNG plots in the output folder.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    PredefinedSplit,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.svm import SVC

from sk3dface.exceptions import FailedSamplesWarning


def _coefficient_pipeline(coefficients: str, multiview: str, classifier: Any, memory=None):
    """The protocols' pipeline without its landmarker: it starts from landmarks."""
    from sk3dface.protocols import make_coefficient_pipeline

    return make_coefficient_pipeline(
        coefficients, multiview=multiview, classifier=classifier, memory=memory
    )[1:]


class _Table:
    """Rows of the results table: classification scores or a measured note."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def _row(self, experiment: str, data: str, classifier: str, seconds: float, **values: Any):
        row = {"experiment": experiment, "data": data, "classifier": classifier}
        row.update({"accuracy": np.nan, "std": np.nan, "chance": np.nan, "note": ""})
        row.update(values, seconds=round(seconds, 2))
        self.rows.append(row)

    def add(
        self,
        experiment: str,
        data: str,
        classifier: str,
        scores: Any,
        chance: float,
        seconds: float,
    ) -> None:
        scores = np.atleast_1d(np.asarray(scores, dtype=float))
        mean, std = round(float(scores.mean()), 3), round(float(scores.std()), 3)
        self._row(
            experiment, data, classifier, seconds, accuracy=mean, std=std, chance=round(chance, 3)
        )
        print(f"  {experiment:<36} {classifier:<10} {mean:.3f} ± {std:.3f} (chance {chance:.3f})")

    def note(self, experiment: str, data: str, note: str, seconds: float) -> None:
        self._row(experiment, data, "-", seconds, note=note)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _resnet(depth: int, epochs: int, random_state: int):
    from sk3dface import ResNetClassifier

    return ResNetClassifier(depth=depth, max_epochs=epochs, random_state=random_state)


def _landmark_level(
    table: _Table, out: Path, quick: bool, n_jobs: int, memory: Any, random_state: int
) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    from sk3dface import MorphableCoefficientExtractor
    from sk3dface.datasets import make_synthetic_faces

    repeats, epochs = (3, 15) if quick else (6, 40)
    data = make_synthetic_faces(
        n_subjects=10,
        n_views=3,
        n_expressions=7,
        n_repeats=repeats,
        noise=2.0,
        identity_scale=0.3,
        expression_jitter=0.7,
        yaw_range=(-30.0, 30.0),
        missing_rate=0.1,
        random_state=random_state,
    )  # people and expressions close enough together that the task is not trivial
    X, subject = data.X, data.subject
    # class 0 is the neutral face, the others random FACS-like prototypes: name them so
    expression = np.array(["neutral"] + [f"E{k}" for k in range(1, 7)])[data.expression]
    print(
        f"[1] synthetic landmarks: {len(X)} view sets of 3 views, 10 people, 7 expressions, "
        "2 px landmark noise"
    )

    # recovery of the truth: single-view vs joint multi-view
    for multiview in ("independent", "joint"):
        start = time.perf_counter()
        extractor = MorphableCoefficientExtractor(multiview=multiview)
        coefficients = extractor.fit_transform(X)
        seconds = time.perf_counter() - start
        layout = extractor.layout_
        first = layout.split(coefficients)[:, 0]  # view 0 (NaN when missing)
        ok = ~np.isnan(first[:, 0])
        fitted, truth = first[ok, layout.alpha], data.alpha[ok]
        # the true identities are only 0.3 sd apart: an RMSE means little without the
        # error of guessing 0 for every coefficient, so report the correlation too
        alpha_rmse = np.sqrt(np.mean((fitted - truth) ** 2))
        guess_rmse = np.sqrt(np.mean(truth**2))
        alpha_corr = np.corrcoef(fitted.ravel(), truth.ravel())[0, 1]
        beta_corr = np.corrcoef(first[ok, layout.beta].ravel(), data.beta[ok].ravel())[0, 1]
        summary = (
            f"alpha r {alpha_corr:.2f} (RMSE {alpha_rmse:.2f}, guessing 0: {guess_rmse:.2f}), "
            f"beta r {beta_corr:.2f}"
        )
        table.note(f"recovery ({multiview} fit)", "synthetic landmarks", summary, seconds)
        print(f"  recovery, {multiview:<11} fit: {summary}, {len(X) * 3 / seconds:,.0f} views/s")

    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
    for task, y, coefficients, depth, multiview in (
        ("identity", subject, "alpha", 34, "joint"),
        ("expression", expression, "beta", 32, "independent"),
    ):
        for name, classifier in (
            (f"ResNet-{depth}", _resnet(depth, epochs, random_state)),
            ("SVC", SVC(C=10.0)),
        ):
            start = time.perf_counter()
            pipe = _coefficient_pipeline(coefficients, multiview, classifier, memory)
            scores = cross_val_score(pipe, X, y, cv=cv, n_jobs=n_jobs)
            table.add(
                f"{task} from {coefficients}",
                "synthetic landmarks",
                name,
                scores,
                1 / len(np.unique(y)),
                time.perf_counter() - start,
            )

    # a grid over a reconstruction parameter and a classifier parameter at once
    start = time.perf_counter()
    search = GridSearchCV(
        _coefficient_pipeline("beta", "independent", _resnet(10, epochs, random_state), memory),
        {"extractor__beta_reg": [0.1, 1.0, 10.0], "classifier__lr": [1e-3, 3e-3]},
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state),
        n_jobs=n_jobs,
    )
    search.fit(X, expression)
    best_scores = [
        search.cv_results_[f"split{k}_test_score"][search.best_index_]
        for k in range(search.n_splits_)
    ]
    table.add(
        "expression, best of GridSearchCV",
        "synthetic landmarks",
        "ResNet-10",
        best_scores,
        1 / 7,
        time.perf_counter() - start,
    )
    print(
        "    best parameters: "
        + ", ".join(f"{k}={v}" for k, v in sorted(search.best_params_.items()))
    )

    predicted = cross_val_predict(search.best_estimator_, X, expression, cv=cv, n_jobs=n_jobs)
    display = ConfusionMatrixDisplay.from_predictions(expression, predicted, colorbar=False)
    display.ax_.set_title("expression from beta (synthetic), cross-validated")
    display.figure_.savefig(out / "confusion_matrix.png", dpi=100, bbox_inches="tight")


def _image_level(table: _Table, out: Path, quick: bool, n_jobs: int, random_state: int) -> None:
    import cv2

    from sk3dface.datasets import make_synthetic_face_images, make_view_sets
    from sk3dface.protocols import make_coefficient_pipeline

    n_subjects, n_views = (4, 6) if quick else (5, 9)
    images = make_synthetic_face_images(n_subjects, 3, n_views, random_state=random_state)
    folder = out / "synthetic_images"
    folder.mkdir(exist_ok=True)
    paths = []
    for i, (image, who, what) in enumerate(
        zip(images.images, images.subject, images.expression, strict=True)
    ):
        path = folder / f"{who}_{what}_{i:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    print(
        f"[2] synthetic images: {len(paths)} warped photos of {n_subjects} identities x 3 "
        f"expressions in {folder}"
    )

    samples, y, fold = make_view_sets(
        paths,
        images.subject,
        images.subject,
        size=3,
        n_folds=3,
        max_sets=4,
        random_state=random_state,
    )
    start = time.perf_counter()
    pipe = make_coefficient_pipeline(
        "alpha", multiview="joint", classifier=SVC(C=10.0), n_jobs=n_jobs
    )
    scores = cross_val_score(pipe, samples, y, cv=PredefinedSplit(fold))
    table.add(
        "identity from images (view sets)",
        "warped photos",
        "SVC",
        scores,
        1 / n_subjects,
        time.perf_counter() - start,
    )

    start = time.perf_counter()
    pipe = make_coefficient_pipeline(
        "beta", multiview="independent", classifier=SVC(C=10.0), n_jobs=n_jobs
    )
    scores = cross_val_score(
        pipe,
        [(p,) for p in paths],
        images.expression,
        groups=images.subject,
        cv=GroupKFold(n_splits=n_subjects),
    )
    table.add(
        "expression from images (new people)",
        "warped photos",
        "SVC",
        scores,
        1 / 3,
        time.perf_counter() - start,
    )


def _real_photos(table: _Table, out: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    from sk3dface import FaceLandmarker, MorphableCoefficientExtractor
    from sk3dface.plotting import plot_fit, plot_shape
    from sk3dface.utils._images import load_image

    photos = {
        "grace_hopper": load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    }
    try:
        import skimage.data

        photos["astronaut"] = skimage.data.astronaut()
    except ImportError:  # scikit-image is a test extra
        pass
    start = time.perf_counter()
    landmarks = FaceLandmarker().fit_transform(list(photos.values()))
    found = {
        name: i for i, name in enumerate(photos) if not np.isnan(landmarks[i]).all()
    }  # a dlib build that misses a face must not stop the demo
    for name in photos.keys() - found.keys():
        table.note(f"landmarks + fit: {name}", "real photo", "no face found", 0.0)
        print(f"[3] {name}: no face found")
    if not found:
        return
    extractor = MorphableCoefficientExtractor().fit(landmarks)
    coefficients = extractor.transform(landmarks)
    fitted = extractor.inverse_transform(coefficients)
    model = extractor.model_
    layout = extractor.layout_
    n = len(found)
    fig = plt.figure(figsize=(5 * n, 9))
    for k, (name, i) in enumerate(found.items()):
        plot_fit(
            photos[name],
            landmarks[i],
            fitted[i],
            ax=fig.add_subplot(2, n, k + 1),
            margin=0.6,
            title=f"{name}: dlib vs fitted",
        )
        alpha, beta = coefficients[i, layout.alpha], coefficients[i, layout.beta]
        residual = coefficients[i, layout.offset("residual")]
        plot_shape(
            model.landmarks(alpha, beta),
            ax=fig.add_subplot(2, n, n + k + 1, projection="3d"),
            title=f"{name}: fitted shape, residual {residual:.1f} px",
        )
        table.note(
            f"landmarks + fit: {name}",
            "real photo",
            f"reprojection RMS {residual:.1f} px",
            time.perf_counter() - start,
        )
        print(f"[3] {name}: face found, fitted with reprojection RMS {residual:.1f} px")
    fig.savefig(out / "landmarks_and_shapes.png", dpi=80, bbox_inches="tight")
    plt.close(fig)


def run_demo(
    out: str | Path = "demo_output",
    *,
    quick: bool = False,
    n_jobs: int = 1,
    cache_dir: str | None = None,
    random_state: int = 0,
    verbose: bool = False,
) -> pd.DataFrame:
    """Run the demo; print and save the results table and plots in ``out``.

    Parameters
    ----------
    out : str or Path, default="demo_output"
        Output folder (created).
    quick : bool, default=False
        Smaller data and shorter training.
    n_jobs : int, default=1
        Parallel jobs for cross-validation and landmark detection.
    cache_dir : str, optional
        joblib cache folder for ``Pipeline(memory=...)``.
    random_state : int, default=0
        Seed of every random step.
    verbose : bool, default=False
        Show warnings about failed views (silenced otherwise).

    Returns
    -------
    results : DataFrame
        The table that is printed and written to ``results.csv``: ``experiment``,
        ``data``, ``classifier``, ``accuracy`` and ``std`` over the CV folds, ``chance``
        (1 / number of classes), ``note`` (measurements that are not accuracies, such as
        coefficient recovery or reprojection error) and ``seconds``.
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = _Table()
    start = time.perf_counter()
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore", FailedSamplesWarning)
        _landmark_level(table, out, quick, n_jobs, cache_dir, random_state)
        _image_level(table, out, quick, n_jobs, random_state)
        _real_photos(table, out)
    results = table.frame()
    results.to_csv(out / "results.csv", index=False)
    with pd.option_context("display.width", 220, "display.max_colwidth", 60):
        print("\n" + results.fillna({"classifier": "-"}).to_string(index=False, na_rep=""))
    print(f"\ndone in {time.perf_counter() - start:.0f} s; plots and results.csv in {out}/")
    return results
