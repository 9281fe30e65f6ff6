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

import contextlib
import hashlib
import os
import time
import warnings
from collections.abc import Iterator, Sequence
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
_MAX_LISTED = 5
# landmarker parameters that change how fast, not what, it computes: not part of a cache key
_RUNTIME_PARAMS = ("n_jobs", "verbose")


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
    groups : ndarray of shape (n_samples,) or None
        Person of each sample, which the subject-disjoint splitters split on; None for
        identity, whose ``PredefinedSplit`` on image parts takes no groups.
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
    groups: np.ndarray | None
    pipeline: Pipeline
    description: str = ""


@dataclass
class ProtocolReport:
    """Accuracy per fold, pooled per-class results and timing of one protocol run.

    Attributes
    ----------
    task : str
        The protocol's task.
    fold_accuracy : ndarray of shape (n_folds,)
        Test accuracy of each fold.
    per_class : DataFrame
        Precision, recall, F1 and support per class, pooled over the test folds.
    n_samples : int
        Samples evaluated.
    n_dropped : int
        Samples left out because no view gave landmarks.
    failed_images : list of (str, str)
        Images that gave no landmarks and why (unreadable or no face found).
    seconds : float
        Wall time of the evaluation.
    description : str
        The protocol's description.
    predictions : ndarray of shape (n_samples,)
        Cross-validated prediction of each evaluated sample.
    """

    task: str
    fold_accuracy: np.ndarray
    per_class: pd.DataFrame
    n_samples: int
    n_dropped: int
    failed_images: list[tuple[str, str]]
    seconds: float
    description: str = ""
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def accuracy(self) -> float:
        """Mean test accuracy over the folds."""
        return float(np.mean(self.fold_accuracy))

    def to_text(self) -> str:
        """The report as printed by ``sk3dface evaluate``."""
        folds = ", ".join(f"{a:.3f}" for a in self.fold_accuracy)
        failed = len(self.failed_images)
        listed = "; ".join(
            f"{os.path.basename(image)}: {reason}"
            for image, reason in self.failed_images[:_MAX_LISTED]
        )
        lines = [
            self.description,
            f"task: {self.task}   samples: {self.n_samples}   samples dropped (no landmarks in "
            f"any view): {self.n_dropped}   time: {self.seconds:.1f} s",
            f"images without landmarks: {failed}"
            + (f" ({listed}{'; ...' if failed > _MAX_LISTED else ''})" if failed else ""),
            f"accuracy: {self.accuracy:.3f} ± {np.std(self.fold_accuracy):.3f} "
            f"over {len(self.fold_accuracy)} folds ({folds})",
            "",
            self.per_class.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def make_classifier(name: str, *, depth: int, max_epochs: int | None, random_state: int) -> Any:
    """The protocol's classifier: ``"resnet"`` (ResNetClassifier) or ``"svc"`` (RBF SVC).

    Parameters
    ----------
    name : {"resnet", "svc"}
        Which classifier.
    depth : int
        ResNet depth (34 or 32 in the paper); ignored for ``"svc"``.
    max_epochs : int or None
        ResNet training length; None keeps the ResNet's default.
    random_state : int
        Seed.

    Returns
    -------
    classifier : estimator
        Unfitted.

    Examples
    --------
    >>> from sk3dface.protocols import make_classifier
    >>> make_classifier("svc", depth=34, max_epochs=None, random_state=0)
    SVC(C=10.0, random_state=0)
    """
    if name == "svc":
        from sklearn.svm import SVC

        return SVC(C=10.0, random_state=random_state)
    if name != "resnet":
        raise ValueError(f"classifier must be 'resnet' or 'svc'; got {name!r}.")
    from sk3dface._classifiers import ResNetClassifier

    kwargs = {} if max_epochs is None else {"max_epochs": max_epochs}
    return ResNetClassifier(depth=depth, random_state=random_state, **kwargs)


def _landmark_model(model: Any) -> Any:
    """Read a model given by name or path now, cut to the 68 vertices the fit uses.

    A bad file then fails before any image is processed, and a cache keyed on the pipeline's
    parameters sees the model's numbers, not a file name whose contents may change.
    """
    if isinstance(model, (str, os.PathLike)):
        from sk3dface._model_io import load_model

        return load_model(model).landmark_model()
    return model


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
        The morphable model. A name or path is read here (so a bad file fails at once)
        and cut to its 68 landmark vertices, all the fit uses.
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

    extractor = MorphableCoefficientExtractor(model=_landmark_model(model), multiview=multiview)
    return Pipeline(
        [
            ("landmarker", FaceLandmarker(n_jobs=n_jobs)),
            ("extractor", extractor),
            ("aggregator", MultiViewAggregator(method="mean")),
            ("selector", CoefficientSelector(coefficients)),
            ("scaler", StandardScaler()),
            ("classifier", classifier),
        ],
        memory=memory,
    ).set_output(transform="pandas")  # column names carry the coefficient layout


def _load(loader: Any, data: Any, **filters: Any) -> Bunch:
    return data if isinstance(data, Bunch) else loader(data, **filters)


def _subject_disjoint_cv(task: str, y: np.ndarray, groups: np.ndarray, n_folds: int) -> Any:
    """StratifiedGroupKFold over people, refusing data where a class cannot be tested fairly."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2; got {n_folds}.")
    people = np.unique(groups)
    thin = [str(c) for c in np.unique(y) if len(np.unique(groups[y == c])) < 2]
    if thin:
        raise ValueError(
            f"The {task} protocol tests on people it was not trained on, so every class needs "
            f"images of at least 2 people; class(es) {', '.join(thin)} have fewer (the data "
            f"hold {len(people)} people). Add people or leave those classes out."
        )
    return StratifiedGroupKFold(n_splits=min(n_folds, len(people)))


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
    any fold (``cv`` is a ``PredefinedSplit`` on the part number), and every person is on
    both sides, as identity recognition requires. Alpha (identity) coefficients from a joint
    multi-view fit feed a ResNet-34.

    Parameters
    ----------
    kdef : path or Bunch
        KDEF root folder or the result of :func:`~sk3dface.datasets.load_kdef` (a Bunch is
        used as loaded: ``angles`` applies only when reading a folder).
    n_subjects : int, default=10
        The first ``n_subjects`` people (sorted by subject code); at least 2.
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
    people = np.unique(data.subject)[:n_subjects]
    if len(people) < 2:
        raise ValueError(
            f"Identity needs at least 2 people; got {len(people)} (n_subjects={n_subjects}, "
            f"people in the data: {len(np.unique(data.subject))})."
        )
    keep = np.isin(data.subject, people)
    subject = np.asarray(data.subject)[keep]
    samples, y, fold = make_view_sets(
        np.asarray(data.images, dtype=object)[keep],
        subject,
        subject,
        size=size,
        n_folds=n_folds,
        max_sets=max_sets,
        random_state=random_state,
    )
    return Protocol(
        task="identity",
        samples=samples,
        y=y,
        cv=PredefinedSplit(fold),
        groups=None,
        pipeline=_pipeline(
            "alpha", "joint", 34, classifier, model, max_epochs, n_jobs, random_state
        ),
        description=f"KDEF identity: {len(people)} people, {len(samples)} view sets of "
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
    (both KDEF sessions of a person are one person) means the classifier is always tested
    on faces it has never seen. With fewer people than ``n_folds``, there is one fold per
    person.

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

    Raises
    ------
    ValueError
        If an expression is shown by fewer than 2 people (it could not be both trained on
        and tested on a new person).
    """
    from sk3dface.datasets import load_kdef

    data = _load(load_kdef, kdef, angles=angles)
    subjects = np.asarray(data.subject)
    y = np.asarray(data.expression)
    cv = _subject_disjoint_cv("expression", y, subjects, n_folds)
    return Protocol(
        task="expression",
        samples=[(path,) for path in data.images],
        y=y,
        cv=cv,
        groups=subjects,
        pipeline=_pipeline(
            "beta", "independent", 32, classifier, model, max_epochs, n_jobs, random_state
        ),
        description=f"KDEF expression: {len(y)} images of {len(set(subjects))} people, "
        f"{cv.n_splits} subject-disjoint folds",
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

    Each person's images are split into two disjoint halves and up to ``max_sets`` view
    sets are drawn inside each half; ``StratifiedGroupKFold`` over people then keeps all of
    a person's view sets on one side. People without a gender label are left out (counted
    in the description).

    Parameters
    ----------
    fei : path or Bunch
        FEI root folder or the result of :func:`~sk3dface.datasets.load_fei` (a Bunch is
        used as loaded: ``poses`` and ``gender_table`` apply only when reading a folder).
    gender_table : dict, CSV path or DataFrame, optional
        Subject → gender; FEI does not ship per-subject labels (see docs/datasets.md), so
        it is required unless ``fei`` is a Bunch that already has them.
    size, max_sets : int
        View-set size and most view sets per half of a person's images. People with
        fewer than ``2 * size`` images are left out with a warning.
    n_folds : int, default=5
        Folds (at most one per person).
    poses : sequence of str
        FEI poses used (default: all but the four near-profile views 01, 02, 09, 10).
    classifier, model, max_epochs, n_jobs, random_state
        As in :func:`identity_protocol`.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ValueError
        If no subject has a gender label, or a gender has fewer than 2 people.
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
    subjects = np.asarray(data.subject)
    samples, y, _, groups = make_view_sets(
        np.asarray(data.images, dtype=object)[known],
        gender[known],
        subjects[known],
        size=size,
        n_folds=2,
        max_sets=max_sets,
        on_small="skip",
        random_state=random_state,
        return_groups=True,
    )
    groups = np.asarray(groups)
    cv = _subject_disjoint_cv("gender", y, groups, n_folds)
    unlabelled = len(np.unique(subjects[~known]))
    return Protocol(
        task="gender",
        samples=samples,
        y=y,
        cv=cv,
        groups=groups,
        pipeline=_pipeline(
            "alpha", "joint", 34, classifier, model, max_epochs, n_jobs, random_state
        ),
        description=f"FEI gender: {len(np.unique(groups))} people, {len(samples)} view sets "
        f"of {size} images, {cv.n_splits} subject-disjoint folds"
        + (f" ({unlabelled} people without a gender label left out)" if unlabelled else ""),
    )


def _pipeline(
    coefficients: str,
    multiview: str,
    depth: int,
    classifier: str | Any,
    model: Any,
    max_epochs: int | None,
    n_jobs: int | None,
    random_state: int,
) -> Pipeline:
    """A protocol's pipeline; ``classifier``: a :func:`make_classifier` name or an estimator."""
    if isinstance(classifier, str):
        classifier = make_classifier(
            classifier, depth=depth, max_epochs=max_epochs, random_state=random_state
        )
    return make_pipeline(
        coefficients, multiview=multiview, classifier=classifier, model=model, n_jobs=n_jobs
    )


@contextlib.contextmanager
def _collect_failures() -> Iterator[list[Any]]:
    """Gather the ``failures`` of FailedSamplesWarnings raised inside, instead of showing them.

    Other warnings are shown as usual when the block ends.
    """
    failures: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FailedSamplesWarning)
        yield failures
    for warning in caught:
        if issubclass(warning.category, FailedSamplesWarning):
            failures.extend(getattr(warning.message, "failures", []))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _digest(path: str) -> str | None:
    """Hash of a file's bytes; None if it cannot be read (the landmarker then says why)."""
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def _detect(paths: list[str], landmarker: Any, key: Any) -> tuple[np.ndarray, list[Any]]:
    """Landmarks and failures of ``paths``; ``key`` is only there to key the cache."""
    with _collect_failures() as failures:
        table = np.asarray(clone(landmarker).fit_transform(paths), dtype=float)
    return table, failures


def landmark_table(
    images: Sequence[str | os.PathLike],
    landmarker: Any = None,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """Landmarks of each image, optionally cached on disk.

    The cache key is each file's path and a hash of its bytes together with the
    landmarker's settings, so an edited image (even one with the same size and time stamp)
    or a changed setting is detected again; ``n_jobs`` and ``verbose``, which do not change
    the result, are not part of the key.

    Parameters
    ----------
    images : sequence of str or path-like
        Image paths.
    landmarker : FaceLandmarker, optional
        The (unfitted) landmarker to use; default ``FaceLandmarker()``.
    cache_dir : str or path-like, optional
        joblib cache folder; None computes without caching.

    Returns
    -------
    landmarks : ndarray of shape (n_images, 136)
        NaN rows for images that cannot be read or show no face.

    Warns
    -----
    FailedSamplesWarning
        If some images gave no landmarks (also when the result comes from the cache); its
        ``failures`` attribute lists them as :class:`~sk3dface._landmarker.ViewFailure`.

    Examples
    --------
    >>> from matplotlib import cbook
    >>> from sk3dface.protocols import landmark_table
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> landmark_table([photo]).shape
    (1, 136)
    """
    if landmarker is None:
        from sk3dface._landmarker import FaceLandmarker

        landmarker = FaceLandmarker()
    paths = [os.fspath(image) for image in images]
    settings = {
        name: value
        for name, value in landmarker.get_params(deep=False).items()
        if name not in _RUNTIME_PARAMS
    }
    key = (type(landmarker).__qualname__, settings, [_digest(path) for path in paths])
    detect = _detect
    if cache_dir is not None:
        from joblib import Memory

        detect = Memory(os.fspath(cache_dir), verbose=0).cache(_detect, ignore=["landmarker"])
    table, failures = detect(paths, landmarker, key)
    if failures:
        listed = "; ".join(
            f"{paths[failure.sample]}: {str(failure.error).rstrip('.')}"
            for failure in failures[:_MAX_LISTED]
        )
        more = f"; and {len(failures) - _MAX_LISTED} more" if len(failures) > _MAX_LISTED else ""
        warning = FailedSamplesWarning(
            f"{len(failures)} of {len(paths)} images gave no landmarks and are NaN: "
            f"{listed}{more}. The warning's `failures` attribute lists them all."
        )
        warning.failures = failures
        warnings.warn(warning, stacklevel=2)
    return table


def evaluate_protocol(
    protocol: Protocol,
    *,
    n_jobs: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> ProtocolReport:
    """Cross-validate a protocol's pipeline and collect per-fold and per-class results.

    Each distinct image is landmarked once (view sets share images; ``cache_dir`` keeps the
    landmarks between runs), then the rest of the pipeline — extractor, aggregator,
    selector, scaler, classifier — is cross-validated on the samples' landmarks with the
    protocol's splitter. This gives the same result as cross-validating the full pipeline
    (the landmarker is stateless) without detecting each image once per view set and fold.
    Samples with no landmarks in any view are dropped and counted; a ``PredefinedSplit``
    keeps the fold of each remaining sample.

    Parameters
    ----------
    protocol : Protocol
    n_jobs : int, optional
        Folds fitted in parallel.
    cache_dir : str or path-like, optional
        Folder for the landmark cache and ``Pipeline(memory=...)`` of the fitting steps.

    Returns
    -------
    report : ProtocolReport
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    start = time.perf_counter()
    landmarker = protocol.pipeline.steps[0][1]
    unique = sorted({path for sample in protocol.samples for path in sample})
    with _collect_failures() as failures:
        table = landmark_table(unique, landmarker, cache_dir)
    row = {path: i for i, path in enumerate(unique)}
    X = np.stack([np.concatenate([table[row[p]] for p in sample]) for sample in protocol.samples])
    usable = ~np.isnan(X).all(axis=1)
    if usable.sum() < 2:
        raise ValueError(
            f"{int((~usable).sum())} of {len(X)} samples have no landmarks in any view "
            f"({len(failures)} of {len(unique)} images unreadable or without a face): too few "
            "to evaluate. Check that the folder holds face photographs."
        )
    X, y = X[usable], protocol.y[usable]
    groups = None if protocol.groups is None else protocol.groups[usable]
    cv = protocol.cv
    if isinstance(cv, PredefinedSplit):
        cv = PredefinedSplit(cv.test_fold[usable])
    rest = protocol.pipeline[1:]  # the steps keep their pandas output
    if cache_dir is not None and rest.memory is None:
        rest.set_params(memory=os.fspath(cache_dir))
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
    classes = np.unique(y)
    scores = precision_recall_fscore_support(
        y[tested], predictions[tested], labels=classes, zero_division=0
    )
    per_class = pd.DataFrame(
        dict(zip(["precision", "recall", "f1-score", "support"], scores, strict=True)),
        index=pd.Index(classes, name="class"),
    )
    return ProtocolReport(
        task=protocol.task,
        fold_accuracy=np.asarray(accuracies),
        per_class=per_class,
        n_samples=int(usable.sum()),
        n_dropped=int((~usable).sum()),
        failed_images=[(unique[failure.sample], str(failure.error)) for failure in failures],
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
        Cache folder for landmarks and fits (see :func:`evaluate_protocol`).
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
        model=_landmark_model(model),  # a bad model file fails before the data set is read
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
