"""The paper's experiments as leakage-free :class:`Protocol` objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import PredefinedSplit, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from sk3dface.protocols._pipelines import _pipeline, _task_pipeline

#: profile views are left out by default: dlib's HOG detector is trained on near-frontal faces
KDEF_ANGLES = ("HL", "S", "HR")
FEI_POSES = tuple(f"{p:02d}" for p in range(3, 15) if p not in (9, 10))  # no near-profiles


def _views(chosen: Any, backend: Any, near_frontal: tuple[str, ...]) -> Any:
    """The views a protocol reads: as chosen, else all of them when the back end handles
    profiles (``backend.large_pose``, e.g. TDDFABackend), else the near-frontal ones."""
    if chosen is not None:
        return chosen
    return None if getattr(backend, "large_pose", False) else near_frontal


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
        From images to labels: :func:`make_task_pipeline` (``features="3d"``, the default:
        ``FaceLandmarker`` → ``FrontalShape`` → classifier), or the paper's coefficient
        pipeline (``features="paper"``: ``FaceLandmarker`` →
        ``MorphableCoefficientExtractor`` → ``MultiViewAggregator`` →
        ``CoefficientSelector`` → ``StandardScaler`` → classifier).
    description : str
        One line saying what was built.

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> from sk3dface.protocols import identity_protocol
    >>> protocol = identity_protocol(root, n_subjects=2, size=2, n_folds=3, classifier="lda")
    >>> protocol.task, len(protocol.samples), protocol.cv.get_n_splits()
    ('identity', 90, 3)
    >>> list(protocol.pipeline.named_steps)
    ['landmarker', 'shape', 'classifier']
    """

    task: str
    samples: list[tuple[str, ...]]
    y: np.ndarray
    cv: Any
    groups: np.ndarray | None
    pipeline: Pipeline
    description: str = ""


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


def _protocol(
    task: str,
    samples: Any,
    y: np.ndarray,
    cv: Any,
    groups: np.ndarray | None,
    steps: tuple[str, str, int],
    training: tuple[Any, ...],
    description: str,
) -> Protocol:
    """A :class:`Protocol` whose pipeline is ``_pipeline(*steps, *training)``.

    ``steps`` is (coefficients, multiview, ResNet depth) of the paper's pipeline;
    ``training`` is (classifier, model, max_epochs, n_jobs, random_state, backend,
    features) as the protocol builders take them.
    """
    *settings, features = training
    if features == "paper":
        pipeline = _pipeline(*steps, *settings)
    elif features == "3d":
        pipeline = _task_pipeline(task, *settings)
    else:
        raise ValueError(f"features must be '3d' or 'paper'; got {features!r}.")
    return Protocol(task, samples, y, cv, groups, pipeline, description)


def identity_protocol(
    kdef: Any,
    *,
    n_subjects: int = 10,
    size: int = 3,
    n_folds: int = 5,
    max_sets: int | None = 20,
    angles: Sequence[str] | str | None = None,
    backend: Any = None,
    classifier: str | Any = "resnet",
    features: str = "3d",
    model: Any = "default",
    max_epochs: int | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> Protocol:
    """Identity of ``n_subjects`` KDEF people from view sets of ``size`` images (paper: 100%).

    View sets are drawn with :func:`~sk3dface.datasets.make_view_sets` inside disjoint
    parts of each person's images, so no image is in both the training and the test side of
    any fold (``cv`` is a ``PredefinedSplit`` on the part number), and every person is on
    both sides, as identity recognition requires. With ``features="3d"`` (the default) the
    pipeline is :func:`make_task_pipeline` ``("identity")``; with ``features="paper"``,
    alpha (identity) coefficients from a joint multi-view fit feed a ResNet-34.

    Parameters
    ----------
    kdef : path or Bunch
        KDEF root folder or the result of :func:`~sk3dface.datasets.load_kdef` (a Bunch is
        used as loaded: ``angles`` applies only when reading a folder).
    n_subjects : int, default=10
        The first ``n_subjects`` people (sorted by subject code); at least 2.
    size, n_folds, max_sets
        View-set size, folds and most view sets per person and fold.
    angles : sequence of str, "all" or None, default=None
        KDEF angles used. None: all five when ``backend`` handles profiles (its
        ``large_pose`` is true, as for :class:`~sk3dface.TDDFABackend`), else
        ``KDEF_ANGLES`` = ("HL", "S", "HR"): dlib's detector and predictor are made for
        near-frontal faces and miss or misplace most full profiles.
    backend : LandmarkBackend, optional
        The landmarker's detector + landmark back end (None: dlib HOG + 68-point
        predictor); see ``docs/turned_faces.md``.
    classifier : {"resnet", "svc"} or estimator, default="resnet"
    features : {"3d", "paper"}, default="3d"
        ``"3d"``: the recommended pipeline, :func:`make_task_pipeline` (``FrontalShape``
        of the landmarks; see ``docs/real_data.md``). ``"paper"``: the paper's pipeline of
        3DMM coefficients (:func:`make_coefficient_pipeline`: extractor, aggregator,
        selector, scaler).
    model : MorphableModel, path or "default"
    max_epochs : int, optional
        Override the ResNet's training length.
    n_jobs : int, optional
        Landmarker jobs.
    random_state : int, default=0

    Returns
    -------
    protocol : Protocol

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> protocol = identity_protocol(root, n_subjects=2, size=2, n_folds=3, classifier="lda")
    >>> protocol.description
    'KDEF identity: 2 people, 90 view sets of 2 images, 3 image-disjoint folds'
    """
    from sk3dface.datasets import load_kdef, make_view_sets

    data = _load(load_kdef, kdef, angles=_views(angles, backend, KDEF_ANGLES))
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
    return _protocol(
        "identity",
        samples,
        y,
        PredefinedSplit(fold),
        None,
        ("alpha", "joint", 34),
        (classifier, model, max_epochs, n_jobs, random_state, backend, features),
        f"KDEF identity: {len(people)} people, {len(samples)} view sets of "
        f"{size} images, {n_folds} image-disjoint folds",
    )


def expression_protocol(
    kdef: Any,
    *,
    n_folds: int = 5,
    angles: Sequence[str] | str | None = None,
    backend: Any = None,
    classifier: str | Any = "resnet",
    features: str = "3d",
    model: Any = "default",
    max_epochs: int | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> Protocol:
    """Seven KDEF expressions from single images, subject-disjoint folds (paper: 83.5%).

    With ``features="3d"`` (the default) the pipeline is :func:`make_task_pipeline`
    ``("expression")``; with ``features="paper"``, beta (expression) coefficients feed a
    ResNet-32. ``StratifiedGroupKFold`` over people (both KDEF sessions of a person are one
    person) means the classifier is always tested on faces it has never seen. With fewer
    people than ``n_folds``, there is one fold per person.

    Parameters
    ----------
    kdef : path or Bunch
        KDEF root folder or the result of :func:`~sk3dface.datasets.load_kdef`.
    n_folds : int, default=5
    angles, backend, classifier, features, model, max_epochs, n_jobs, random_state
        As in :func:`identity_protocol`.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ValueError
        If an expression is shown by fewer than 2 people (it could not be both trained on
        and tested on a new person).

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_kdef_example
    >>> root = write_kdef_example(tempfile.mkdtemp())  # synthetic faces, KDEF's file names
    >>> protocol = expression_protocol(root, n_folds=2, classifier="lda")
    >>> protocol.description
    'KDEF expression: 36 images of 2 people, 2 subject-disjoint folds'
    """
    from sk3dface.datasets import load_kdef

    data = _load(load_kdef, kdef, angles=_views(angles, backend, KDEF_ANGLES))
    subjects = np.asarray(data.subject)
    y = np.asarray(data.expression)
    cv = _subject_disjoint_cv("expression", y, subjects, n_folds)
    return _protocol(
        "expression",
        [(path,) for path in data.images],
        y,
        cv,
        subjects,
        ("beta", "independent", 32),
        (classifier, model, max_epochs, n_jobs, random_state, backend, features),
        f"KDEF expression: {len(y)} images of {len(set(subjects))} people, "
        f"{cv.n_splits} subject-disjoint folds",
    )


def gender_protocol(
    fei: Any,
    *,
    gender_table: Any = None,
    size: int = 3,
    max_sets: int | None = 10,
    n_folds: int = 5,
    poses: Sequence[str] | None = None,
    backend: Any = None,
    classifier: str | Any = "resnet",
    features: str = "3d",
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
    poses : sequence of str or None, default=None
        FEI poses used. None: all 14 when ``backend`` handles profiles, else
        ``FEI_POSES`` (all but the four near-profile views 01, 02, 09, 10).
    backend, classifier, features, model, max_epochs, n_jobs, random_state
        As in :func:`identity_protocol`.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ValueError
        If no subject has a gender label, or a gender has fewer than 2 people.

    Examples
    --------
    >>> import tempfile
    >>> from sk3dface.datasets._example_trees import write_fei_example
    >>> root, genders = write_fei_example(tempfile.mkdtemp())  # synthetic faces, FEI's names
    >>> genders
    {1: 'female', 2: 'male', 3: 'female', 4: 'male'}
    >>> protocol = gender_protocol(root, gender_table=genders, size=2, n_folds=2, classifier="lda")
    >>> protocol.description
    'FEI gender: 4 people, 24 view sets of 2 images, 2 subject-disjoint folds'
    """
    from sk3dface.datasets import load_fei, make_view_sets

    data = _load(load_fei, fei, poses=_views(poses, backend, FEI_POSES), gender_table=gender_table)
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
    return _protocol(
        "gender",
        samples,
        y,
        cv,
        groups,
        ("alpha", "joint", 34),
        (classifier, model, max_epochs, n_jobs, random_state, backend, features),
        f"FEI gender: {len(np.unique(groups))} people, {len(samples)} view sets "
        f"of {size} images, {cv.n_splits} subject-disjoint folds"
        + (f" ({unlabelled} people without a gender label left out)" if unlabelled else ""),
    )


#: data set -> task -> the function that builds its :class:`Protocol`
PROTOCOLS: dict[str, dict[str, Any]] = {
    "kdef": {"identity": identity_protocol, "expression": expression_protocol},
    "fei": {"gender": gender_protocol},
}
#: data set -> the tasks it has a protocol for (what ``sk3dface evaluate`` offers)
TASKS: dict[str, tuple[str, ...]] = {name: tuple(tasks) for name, tasks in PROTOCOLS.items()}
