"""The paper's three experiments as ready-made, leakage-free protocols.

Each ``*_protocol`` function turns a data set (a folder or a loaded Bunch) into a
:class:`Protocol`: the samples (view sets of image paths), their labels, a cross-validation
splitter that never puts one image (identity) or one person (expression, gender) on both
sides of a split, and the full scikit-learn pipeline from images to labels.
:func:`evaluate_protocol` runs it; :func:`run_protocol` does both, for the command line.

==========  ========  ==========================  ========================================
task        data set  samples                     folds
==========  ========  ==========================  ========================================
identity    KDEF      3-image view sets, 10 ppl   disjoint image parts of each person
expression  KDEF      single images               subject-disjoint (StratifiedGroupKFold)
gender      FEI       3-image view sets           subject-disjoint (StratifiedGroupKFold)
==========  ========  ==========================  ========================================
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import PredefinedSplit, StratifiedGroupKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from sk3dface.exceptions import FailedSamplesWarning

#: profile views are left out by default: dlib's HOG detector is trained on near-frontal faces
KDEF_ANGLES = ("HL", "S", "HR")
FEI_POSES = tuple(f"{p:02d}" for p in range(3, 15) if p not in (9, 10))  # no near-profiles


@dataclass
class Protocol:
    """One experiment: samples, labels, CV splitter and the pipeline from images to labels.

    Attributes
    ----------
    task : str
        ``"identity"``, ``"expression"`` or ``"gender"``.
    samples : list of tuple of str
        View sets of image paths (a single image is a 1-tuple).
    y : ndarray of shape (n_samples,)
        Labels.
    cv : cross-validation splitter
        Use with ``groups`` in ``cross_val_score(pipeline, samples, y, groups=groups, cv=cv)``.
    groups : ndarray of shape (n_samples,)
        Person of each sample (for subject-disjoint splitters).
    pipeline : Pipeline
        ``FaceLandmarker`` → ``MorphableCoefficientExtractor`` → ``MultiViewAggregator``
        → ``CoefficientSelector`` → ``StandardScaler`` → classifier.
    description : str
        One line saying what was built.
    """

    task: str
    samples: list[tuple[str, ...]]
    y: np.ndarray
    cv: Any
    groups: np.ndarray
    pipeline: Pipeline
    description: str = ""


@dataclass
class ProtocolReport:
    """Accuracy per fold, pooled per-class results and timing of one protocol run."""

    task: str
    fold_accuracy: np.ndarray
    per_class: pd.DataFrame
    n_samples: int
    n_dropped: int
    n_images_without_face: int
    seconds: float
    description: str = ""
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.fold_accuracy))

    def to_text(self) -> str:
        """The report as printed by ``sk3dface evaluate``."""
        folds = ", ".join(f"{a:.3f}" for a in self.fold_accuracy)
        lines = [
            self.description,
            f"task: {self.task}   samples: {self.n_samples}   images without a face: "
            f"{self.n_images_without_face}   samples dropped (no face in any view): "
            f"{self.n_dropped}   time: {self.seconds:.1f} s",
            f"accuracy: {self.accuracy:.3f} ± {np.std(self.fold_accuracy):.3f} "
            f"over {len(self.fold_accuracy)} folds ({folds})",
            "",
            self.per_class.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def make_classifier(name: str, *, depth: int, max_epochs: int | None, random_state: int) -> Any:
    """The protocol's classifier: ``"resnet"`` (ResNetClassifier) or ``"svc"`` (RBF SVC)."""
    if name == "svc":
        from sklearn.svm import SVC

        return SVC(C=10.0, random_state=random_state)
    if name != "resnet":
        raise ValueError(f"classifier must be 'resnet' or 'svc'; got {name!r}.")
    from sk3dface._classifiers import ResNetClassifier

    kwargs = {} if max_epochs is None else {"max_epochs": max_epochs}
    return ResNetClassifier(depth=depth, random_state=random_state, **kwargs)


def make_pipeline(
    coefficients: str,
    *,
    multiview: str,
    classifier: Any,
    model: Any = "default",
    n_jobs: int | None = None,
    memory: Any = None,
) -> Pipeline:
    """The paper's pipeline from images (or view sets) to labels.

    Parameters
    ----------
    coefficients : {"alpha", "beta", "both"}
        Which coefficients the classifier sees (identity: alpha; expression: beta).
    multiview : {"independent", "joint"}
        Fitting mode of the extractor (joint: one alpha per view set).
    classifier : estimator
        Any scikit-learn classifier.
    model : MorphableModel, path or "default"
        The morphable model.
    n_jobs : int, optional
        Parallel jobs of the landmarker.
    memory : str, joblib.Memory or None
        ``Pipeline(memory=...)`` cache.

    Returns
    -------
    pipeline : Pipeline
        With ``set_output(transform="pandas")``: the extractor's column names tell the
        aggregator and selector which columns are alpha, beta and pose.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> from sk3dface.protocols import make_pipeline
    >>> make_pipeline("alpha", multiview="joint", classifier=SVC()).steps[1][0]
    'extractor'
    """
    from sk3dface._aggregator import CoefficientSelector, MultiViewAggregator
    from sk3dface._extractor import MorphableCoefficientExtractor
    from sk3dface._landmarker import FaceLandmarker

    return Pipeline(
        [
            ("landmarker", FaceLandmarker(n_jobs=n_jobs)),
            ("extractor", MorphableCoefficientExtractor(model=model, multiview=multiview)),
            ("aggregator", MultiViewAggregator(method="mean")),
            ("selector", CoefficientSelector(coefficients)),
            ("scaler", StandardScaler()),
            ("classifier", classifier),
        ],
        memory=memory,
    ).set_output(transform="pandas")  # column names carry the coefficient layout


def _load(loader: Any, data: Any, **filters: Any) -> Bunch:
    return data if isinstance(data, Bunch) else loader(data, **filters)


def identity_protocol(
    kdef: Any,
    *,
    n_subjects: int = 10,
    size: int = 3,
    n_folds: int = 5,
    max_sets: int | None = 20,
    angles: Sequence[str] = KDEF_ANGLES,
    classifier: str | Any = "resnet",
    model: Any = "default",
    max_epochs: int | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> Protocol:
    """Identity of ``n_subjects`` KDEF people from view sets of ``size`` images (paper: 100%).

    View sets are drawn with :func:`~sk3dface.datasets.make_view_sets` inside disjoint
    parts of each person's images, so no image is in both the training and the test side of
    any fold. Alpha (identity) coefficients from a joint multi-view fit feed a ResNet-34.

    Parameters
    ----------
    kdef : path or Bunch
        KDEF root folder or the result of :func:`~sk3dface.datasets.load_kdef`.
    n_subjects : int, default=10
        The first ``n_subjects`` people (sorted by subject code).
    size, n_folds, max_sets
        View-set size, folds and most view sets per person and fold.
    angles : sequence of str, default=("HL", "S", "HR")
        KDEF angles used (full profiles are hard for dlib's frontal detector).
    classifier : {"resnet", "svc"} or estimator, default="resnet"
    model : MorphableModel, path or "default"
    max_epochs : int, optional
        Override the ResNet's training length.
    n_jobs : int, optional
        Landmarker jobs.
    random_state : int, default=0

    Returns
    -------
    protocol : Protocol
    """
    from sk3dface.datasets import load_kdef, make_view_sets

    data = _load(load_kdef, kdef, angles=angles)
    keep = np.isin(data.subject, np.unique(data.subject)[:n_subjects])
    images = np.asarray(data.images, dtype=object)[keep]
    subject = np.asarray(data.subject)[keep]
    samples, y, fold = make_view_sets(
        images,
        subject,
        subject,
        size=size,
        n_folds=n_folds,
        max_sets=max_sets,
        random_state=random_state,
    )
    clf = _classifier(classifier, depth=34, max_epochs=max_epochs, random_state=random_state)
    return Protocol(
        task="identity",
        samples=samples,
        y=y,
        cv=PredefinedSplit(fold),
        groups=fold,
        pipeline=make_pipeline(
            "alpha", multiview="joint", classifier=clf, model=model, n_jobs=n_jobs
        ),
        description=f"KDEF identity: {len(np.unique(y))} people, {len(samples)} view sets of "
        f"{size} images, {n_folds} image-disjoint folds",
    )


def expression_protocol(
    kdef: Any,
    *,
    n_folds: int = 5,
    angles: Sequence[str] = KDEF_ANGLES,
    classifier: str | Any = "resnet",
    model: Any = "default",
    max_epochs: int | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> Protocol:
    """Seven KDEF expressions from single images, subject-disjoint folds (paper: 83.5%).

    Beta (expression) coefficients feed a ResNet-32; ``StratifiedGroupKFold`` over people
    means the classifier is always tested on faces it has never seen.

    Parameters
    ----------
    kdef : path or Bunch
        KDEF root folder or the result of :func:`~sk3dface.datasets.load_kdef`.
    n_folds : int, default=5
    angles, classifier, model, max_epochs, n_jobs, random_state
        As in :func:`identity_protocol`.

    Returns
    -------
    protocol : Protocol
    """
    from sk3dface.datasets import load_kdef

    data = _load(load_kdef, kdef, angles=angles)
    clf = _classifier(classifier, depth=32, max_epochs=max_epochs, random_state=random_state)
    subjects = np.asarray(data.subject)
    return Protocol(
        task="expression",
        samples=[(path,) for path in data.images],
        y=np.asarray(data.expression),
        cv=StratifiedGroupKFold(n_splits=min(n_folds, len(np.unique(subjects)))),
        groups=subjects,
        pipeline=make_pipeline(
            "beta", multiview="independent", classifier=clf, model=model, n_jobs=n_jobs
        ),
        description=f"KDEF expression: {len(data.images)} images of {len(set(subjects))} "
        "people, subject-disjoint folds",
    )


def gender_protocol(
    fei: Any,
    *,
    gender_table: Any = None,
    size: int = 3,
    max_sets: int | None = 10,
    n_folds: int = 5,
    poses: Sequence[str] = FEI_POSES,
    classifier: str | Any = "resnet",
    model: Any = "default",
    max_epochs: int | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> Protocol:
    """Gender on FEI from view sets of ``size`` images, subject-disjoint folds (paper: 95.4%).

    Parameters
    ----------
    fei : path or Bunch
        FEI root folder or the result of :func:`~sk3dface.datasets.load_fei`.
    gender_table : dict, CSV path or DataFrame, optional
        Subject → gender; FEI does not ship per-subject labels (see docs/datasets.md), so
        it is required unless ``fei`` is a Bunch that already has them.
    size, max_sets : int
        View-set size and most view sets per person.
    n_folds : int, default=5
    poses : sequence of str
        FEI poses used (default: all but the four near-profile views 01, 02, 09, 10).
    classifier, model, max_epochs, n_jobs, random_state
        As in :func:`identity_protocol`.

    Returns
    -------
    protocol : Protocol
    """
    from sk3dface.datasets import load_fei, make_view_sets

    data = _load(load_fei, fei, poses=poses, gender_table=gender_table)
    gender = np.asarray(data.gender, dtype=object)
    known = gender != "unknown"
    if not known.any():
        raise ValueError(
            "FEI has no gender labels for these subjects: the data set does not ship a "
            "per-subject list. Pass gender_table (dict, CSV with columns subject,gender, or "
            "DataFrame); see docs/datasets.md."
        )
    subjects = np.asarray(data.subject)[known]
    samples, y, _, groups = make_view_sets(
        np.asarray(data.images, dtype=object)[known],
        gender[known],
        subjects,
        size=size,
        n_folds=2,
        max_sets=max_sets,
        on_small="skip",
        random_state=random_state,
        return_groups=True,
    )
    clf = _classifier(classifier, depth=34, max_epochs=max_epochs, random_state=random_state)
    return Protocol(
        task="gender",
        samples=samples,
        y=y,
        cv=StratifiedGroupKFold(n_splits=min(n_folds, len(np.unique(groups)))),
        groups=np.asarray(groups),
        pipeline=make_pipeline(
            "alpha", multiview="joint", classifier=clf, model=model, n_jobs=n_jobs
        ),
        description=f"FEI gender: {len(np.unique(groups))} people, {len(samples)} view sets "
        f"of {size} images, subject-disjoint folds",
    )


def _classifier(classifier: Any, **kwargs: Any) -> Any:
    return make_classifier(classifier, **kwargs) if isinstance(classifier, str) else classifier


def _file_key(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return (os.fspath(path), stat.st_size, stat.st_mtime_ns)


def _detect(keys: list[tuple[str, int, int]], landmarker: Any) -> np.ndarray:
    return np.asarray(clone(landmarker).fit_transform([key[0] for key in keys]), dtype=float)


def landmark_table(images: Sequence[str], landmarker: Any, cache_dir: str | None = None):
    """Landmarks of each distinct image, computed once and optionally cached on disk.

    The cache key holds each file's path, size and modification time and the landmarker's
    parameters, so an edited image or a changed setting is detected again.

    Parameters
    ----------
    images : sequence of str
        Image paths.
    landmarker : FaceLandmarker
        The (unfitted) landmarker to use.
    cache_dir : str, optional
        joblib cache folder; None computes without caching.

    Returns
    -------
    landmarks : ndarray of shape (n_images, 136)
    """
    detect = _detect
    if cache_dir is not None:
        from joblib import Memory

        detect = Memory(cache_dir, verbose=0).cache(_detect)
    return detect([_file_key(p) for p in images], landmarker)


def evaluate_protocol(
    protocol: Protocol,
    *,
    n_jobs: int | None = None,
    cache_dir: str | None = None,
) -> ProtocolReport:
    """Cross-validate a protocol's pipeline and collect per-fold and per-class results.

    Each distinct image is landmarked once (view sets share images; ``cache_dir`` keeps the
    landmarks between runs), then the rest of the pipeline — extractor, aggregator,
    selector, scaler, classifier — is cross-validated on the samples' landmarks with the
    protocol's splitter. This gives the same result as cross-validating the full pipeline
    (the landmarker is stateless) without detecting each image once per view set and fold.
    Samples with no face in any view are dropped and counted.

    Parameters
    ----------
    protocol : Protocol
    n_jobs : int, optional
        Folds fitted in parallel.
    cache_dir : str, optional
        Folder for the landmark cache.

    Returns
    -------
    report : ProtocolReport
    """
    import warnings

    from sklearn.metrics import accuracy_score, classification_report

    start = time.perf_counter()
    landmarker = protocol.pipeline.steps[0][1]
    unique = sorted({path for sample in protocol.samples for path in sample})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)
        table = landmark_table(unique, landmarker, cache_dir)
    row = {path: i for i, path in enumerate(unique)}
    X = np.stack([np.concatenate([table[row[p]] for p in sample]) for sample in protocol.samples])
    usable = ~np.isnan(X).all(axis=1)
    if usable.sum() < 2:
        raise ValueError(
            f"no face was found in {int((~usable).sum())} of {len(X)} samples: nothing to "
            "evaluate. Check that the folder holds face photographs."
        )
    X, y, groups = X[usable], protocol.y[usable], protocol.groups[usable]
    cv = protocol.cv
    if isinstance(cv, PredefinedSplit):
        cv = PredefinedSplit(cv.test_fold[usable])
    rest = protocol.pipeline[1:]  # the steps keep their pandas output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FailedSamplesWarning)
        result = cross_validate(
            rest,
            X,
            y,
            groups=groups,
            cv=cv,
            n_jobs=n_jobs,
            return_estimator=True,
            return_indices=True,
            error_score="raise",
        )
    predictions = np.empty(len(y), dtype=object)
    accuracies = []
    for estimator, test in zip(result["estimator"], result["indices"]["test"], strict=True):
        predictions[test] = estimator.predict(X[test])
        accuracies.append(accuracy_score(y[test], predictions[test]))
    tested = np.concatenate(result["indices"]["test"])
    per_class = pd.DataFrame(
        classification_report(y[tested], predictions[tested], output_dict=True, zero_division=0)
    ).T
    return ProtocolReport(
        task=protocol.task,
        fold_accuracy=np.asarray(accuracies),
        per_class=per_class,
        n_samples=int(usable.sum()),
        n_dropped=int((~usable).sum()),
        n_images_without_face=int(np.isnan(table).all(axis=1).sum()),
        seconds=time.perf_counter() - start,
        description=protocol.description,
        predictions=predictions,
    )


def run_protocol(
    dataset: str,
    root: str,
    *,
    task: str,
    model: Any = "default",
    classifier: str = "resnet",
    n_splits: int = 5,
    max_epochs: int | None = None,
    gender_table: Any = None,
    cache_dir: str | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
    verbose: bool = False,
) -> ProtocolReport:
    """Build and evaluate a protocol by name (what ``sk3dface evaluate`` runs).

    Parameters
    ----------
    dataset : {"kdef", "fei"}
    root : str
        Data set folder.
    task : {"identity", "expression"} for KDEF, {"gender"} for FEI
    model, classifier, max_epochs, random_state
        As in the protocol functions.
    n_splits : int, default=5
        Number of folds.
    gender_table : optional
        FEI gender labels (see :func:`gender_protocol`).
    cache_dir : str, optional
        Landmark cache folder.
    n_jobs : int, optional
        Jobs for landmarks and folds.
    verbose : bool, default=False
        Progress bars while detecting landmarks.

    Returns
    -------
    report : ProtocolReport
    """
    common = dict(
        classifier=classifier,
        model=model,
        max_epochs=max_epochs,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    if (dataset, task) == ("kdef", "identity"):
        protocol = identity_protocol(root, n_folds=n_splits, **common)
    elif (dataset, task) == ("kdef", "expression"):
        protocol = expression_protocol(root, n_folds=n_splits, **common)
    elif (dataset, task) == ("fei", "gender"):
        protocol = gender_protocol(root, n_folds=n_splits, gender_table=gender_table, **common)
    else:
        raise ValueError(f"no protocol for task {task!r} on data set {dataset!r}.")
    protocol.pipeline.steps[0][1].set_params(verbose=verbose)
    return evaluate_protocol(protocol, n_jobs=n_jobs, cache_dir=cache_dir)
