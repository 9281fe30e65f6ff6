"""Cross-validating a protocol: landmarks once per image, then per-fold and per-class results."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import PredefinedSplit, cross_validate

from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.models.io import load_landmark_model
from sk3dface.protocols._tasks import PROTOCOLS, Protocol
from sk3dface.utils._failures import collect_failures
from sk3dface.utils._warnings import warn_at_caller

logger = logging.getLogger(__name__)
_MAX_LISTED = 5
# landmarker parameters that change how fast, not what, it computes: not part of a cache key
# (memory: the per-view cache folder, a new temporary one in every session by default)
_RUNTIME_PARAMS = ("memory", "n_jobs", "verbose")


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
        Cross-validated (out-of-fold) prediction of each evaluated sample; None for a
        sample no fold tested.
    y_true : ndarray of shape (n_samples,)
        True label of each evaluated sample, aligned with ``predictions``.

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> from sk3dface.protocols import evaluate_protocol, identity_protocol
    >>> protocol = identity_protocol(root, n_subjects=2, size=2, n_folds=3, classifier="lda")
    >>> report = evaluate_protocol(protocol)
    >>> report.n_samples, len(report.fold_accuracy), report.per_class.index.tolist()
    (90, 3, ['F01', 'M02'])
    >>> 0.0 <= report.accuracy <= 1.0
    True
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
    y_true: np.ndarray = field(default_factory=lambda: np.empty(0))
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (what ``sk3dface evaluate --out`` writes).

        Per-class results and the confusion matrix come from scikit-learn's
        ``classification_report(output_dict=True)`` and ``confusion_matrix``.

        Returns
        -------
        report : dict
            ``task``, ``description``, ``parameters``, ``accuracy`` (``mean``, ``std``),
            ``folds`` (test accuracy of each), ``per_class``, ``confusion_matrix``
            (``labels`` and ``matrix``, rows true, columns predicted), sample counts,
            ``failed_images`` and ``seconds``.
        """
        from sklearn.metrics import classification_report, confusion_matrix

        labels = np.unique(self.y_true)
        names = [str(label) for label in labels]
        per_class = classification_report(
            self.y_true.astype(str),
            self.predictions.astype(str),
            labels=names,
            output_dict=True,
            zero_division=0,
        )
        matrix = confusion_matrix(
            self.y_true.astype(str), self.predictions.astype(str), labels=names
        )
        return {
            "task": self.task,
            "description": self.description,
            "parameters": dict(self.parameters),
            "accuracy": {"mean": self.accuracy, "std": float(np.std(self.fold_accuracy))},
            "folds": [{"fold": i, "accuracy": float(a)} for i, a in enumerate(self.fold_accuracy)],
            "per_class": per_class,
            "confusion_matrix": {"labels": names, "matrix": matrix.tolist()},
            "n_samples": self.n_samples,
            "n_dropped": self.n_dropped,
            "failed_images": [
                {"image": image, "reason": reason} for image, reason in self.failed_images
            ],
            "seconds": self.seconds,
        }

    @property
    def accuracy(self) -> float:
        """Mean test accuracy over the folds."""
        return float(np.mean(self.fold_accuracy))

    def _tested(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.y_true) != len(self.predictions) or not len(self.predictions):
            raise ValueError(
                "this report holds no out-of-fold predictions with their true labels "
                "(predictions and y_true); evaluate_protocol fills them."
            )
        tested = np.array([p is not None for p in self.predictions], dtype=bool)
        return self.y_true[tested], self.predictions[tested]

    def confusion_matrix(self, normalize: str | None = None) -> pd.DataFrame:
        """Confusion matrix of the out-of-fold predictions.

        Parameters
        ----------
        normalize : {"true", "pred", "all"} or None, default=None
            As in :func:`sklearn.metrics.confusion_matrix`: rows sum to 1 (per-class
            recall), columns, everything, or counts.

        Returns
        -------
        matrix : DataFrame
            Rows: true class (index ``true``), columns: predicted class (``predicted``),
            in the order of ``per_class``.
        """
        from sklearn.metrics import confusion_matrix

        y_true, y_pred = self._tested()
        classes = list(self.per_class.index)
        matrix = confusion_matrix(y_true, y_pred, labels=classes, normalize=normalize)
        return pd.DataFrame(
            matrix,
            index=pd.Index(classes, name="true"),
            columns=pd.Index(classes, name="predicted"),
        )

    def plot_confusion_matrix(self, ax: Any = None, *, normalize: str | None = None) -> Any:
        """Draw :meth:`confusion_matrix` (:func:`sk3dface.plotting.plot_confusion_matrix`).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into; a new figure when omitted.
        normalize : {"true", "pred", "all"} or None, default=None
            Counts, or rates (see :meth:`confusion_matrix`).

        Returns
        -------
        ax : matplotlib Axes
            Titled with the task and the mean accuracy over the folds.
        """
        from sk3dface.plotting import plot_confusion_matrix

        y_true, y_pred = self._tested()
        ax = plot_confusion_matrix(
            y_true, y_pred, labels=list(self.per_class.index), normalize=normalize, ax=ax
        )
        ax.set_title(
            f"{self.task}: accuracy {self.accuracy:.3f} over {len(self.fold_accuracy)} folds"
        )
        return ax

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


def _digest(path: str) -> str | None:
    """Hash of a file's bytes; None if it cannot be read (the landmarker then says why)."""
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def _detect(paths: list[str], landmarker: Any, key: Any) -> tuple[np.ndarray, list[Any]]:
    """Landmarks and failures of ``paths``; ``key`` is only there to key the cache."""
    with collect_failures() as failures:
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
    the result, are not part of the key (nor is the landmarker's own ``memory``).

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
        ``failures`` attribute lists them as :class:`~sk3dface.landmarks._landmarker.ViewFailure`.

    Examples
    --------
    >>> from matplotlib import cbook
    >>> from sk3dface.protocols import landmark_table
    >>> photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> landmark_table([photo]).shape
    (1, 136)
    """
    if landmarker is None:
        from sk3dface.landmarks import FaceLandmarker

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
    started = time.perf_counter()
    table, failures = detect(paths, landmarker, key)
    logger.info(
        "landmarks of %d image(s) in %.1f s; %d gave none",
        len(paths),
        time.perf_counter() - started,
        len(failures),
    )
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
        warn_at_caller(warning)
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

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> from sk3dface.protocols import expression_protocol
    >>> report = evaluate_protocol(expression_protocol(root, n_folds=2, classifier="lda"))
    >>> report.task, report.n_samples, report.n_dropped
    ('expression', 36, 0)
    """
    from sklearn.metrics import accuracy_score

    from sk3dface.metrics import per_class_report

    start = time.perf_counter()
    landmarker = protocol.pipeline.steps[0][1]
    unique = sorted({path for sample in protocol.samples for path in sample})
    with collect_failures() as failures:
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
        logger.info(
            "fold %d/%d: accuracy %.3f on %d test samples (fit %.1f s)",
            len(accuracies),
            len(result["indices"]["test"]),
            accuracies[-1],
            len(test),
            result["fit_time"][len(accuracies) - 1],
        )
    tested = np.concatenate(result["indices"]["test"])
    classes = np.unique(y)
    per_class = per_class_report(y[tested], predictions[tested], labels=classes)
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
        y_true=y,
    )


def _log_epoch(line: str) -> None:
    """skorch's ``PrintLog`` sink: each line of the epoch table as an INFO log line."""
    for text in str(line).splitlines():
        logger.info("%s", text)


def run_protocol(
    dataset: str,
    root: str,
    *,
    task: str,
    model: Any = "default",
    classifier: str = "resnet",
    features: str = "3d",
    n_splits: int = 5,
    max_epochs: int | None = None,
    gender_table: Any = None,
    cache_dir: str | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
    verbose: bool = False,
    backend: Any = None,
) -> ProtocolReport:
    """Build and evaluate a protocol by name (what ``sk3dface evaluate`` runs).

    Parameters
    ----------
    dataset : {"kdef", "fei"}
    root : str
        Data set folder.
    task : {"identity", "expression"} for KDEF, {"gender"} for FEI
    model, classifier, features, max_epochs, random_state
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
    backend : LandmarkBackend, optional
        Face detector + landmark back end of the protocol (see :func:`identity_protocol`:
        one with ``large_pose = True`` makes it read the profile views too).

    Returns
    -------
    report : ProtocolReport

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> report = run_protocol("kdef", str(root), task="expression", classifier="lda", n_splits=2)
    >>> report.description
    'KDEF expression: 36 images of 2 people, 2 subject-disjoint folds'
    """
    common = dict(
        backend=backend,
        classifier=classifier,
        features=features,
        model=load_landmark_model(model),  # a bad model file fails before the data set is read
        max_epochs=max_epochs,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    build = PROTOCOLS.get(dataset, {}).get(task)
    if build is None:
        raise ValueError(f"no protocol for task {task!r} on data set {dataset!r}.")
    if dataset == "fei":
        common["gender_table"] = gender_table
    protocol = build(root, n_folds=n_splits, **common)
    protocol.pipeline.steps[0][1].set_params(verbose=verbose)
    if verbose:  # a skorch ResNet anywhere in the pipeline: its epoch table goes to the log
        for name in protocol.pipeline.get_params(deep=True):
            if name.endswith("__callbacks"):
                prefix = name.removesuffix("callbacks")
                protocol.pipeline.set_params(
                    **{f"{prefix}verbose": True, f"{prefix}callbacks__print_log__sink": _log_epoch}
                )
    report = evaluate_protocol(protocol, n_jobs=n_jobs, cache_dir=cache_dir)
    report.parameters = {
        "dataset": dataset,
        "root": os.fspath(root),
        "task": task,
        "model": model if isinstance(model, str) else type(model).__name__,
        "classifier": classifier,
        "features": features,
        "n_splits": n_splits,
        "max_epochs": max_epochs,
        "random_state": random_state,
    }
    logger.info(
        "%s: accuracy %.3f over %d folds in %.1f s",
        task,
        report.accuracy,
        len(report.fold_accuracy),
        report.seconds,
    )
    return report
