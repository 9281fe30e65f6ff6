"""Face verification (pairs, pair scores, EER, TAR at a fixed FAR) and per-class reports.

Identity features are judged as Liu et al. (TPAMI 2018) judge them: by *verification*, i.e.
whether two samples show the same person, from a similarity score of their features. Build
pairs among people the features were not trained on (:func:`make_verification_pairs` on the
test side of a subject-disjoint split), score them (:func:`pair_scores`, cosine or Euclidean,
optionally after a learned projection such as
:class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` fitted on the training
people), and summarise the ROC with :func:`equal_error_rate` and :func:`tar_at_far`. All ROC
computations are :func:`sklearn.metrics.roc_curve`; :func:`sk3dface.plotting.plot_roc` draws
the curve.

For classification, :func:`per_class_report` is scikit-learn's
:func:`~sklearn.metrics.classification_report` as a table (what the protocols report per
class); :func:`sk3dface.plotting.plot_confusion_matrix` draws the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import roc_curve
from sklearn.utils import check_random_state

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "equal_error_rate",
    "make_verification_pairs",
    "pair_scores",
    "per_class_report",
    "tar_at_far",
]

_METRICS = ("cosine", "euclidean")


def make_verification_pairs(
    subjects: Any,
    *,
    n_impostors: int | None = None,
    max_genuine: int | None = None,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Genuine (same person) and impostor (different people) pairs of samples.

    Parameters
    ----------
    subjects : array-like of shape (n_samples,)
        Person of each sample. Pass only samples of people the features were *not* trained
        on (e.g. the test indices of a ``GroupKFold`` on the person), so that verification
        measures generalisation to new people.
    n_impostors : int, optional
        Number of impostor pairs, drawn uniformly without repetition among all pairs of
        samples of different people; default: as many as genuine pairs.
    max_genuine : int, optional
        At most this many genuine pairs (drawn uniformly); default: all of them.
    random_state : int, RandomState instance or None
        Seeds the draws.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2), int
        Row indices into ``subjects`` (``i < j``), genuine pairs first.
    is_genuine : ndarray of shape (n_pairs,), int
        1 for a genuine pair, 0 for an impostor pair (``y_true`` of the metrics below).

    Raises
    ------
    ValueError
        If no person has two samples (no genuine pair) or there is only one person.

    Examples
    --------
    >>> from sk3dface.metrics import make_verification_pairs
    >>> pairs, is_genuine = make_verification_pairs(["a", "a", "b", "b"], random_state=0)
    >>> pairs.tolist(), is_genuine.tolist()
    ([[0, 1], [2, 3], [1, 2], [1, 3]], [1, 1, 0, 0])
    """
    subjects = np.asarray(subjects)
    if subjects.ndim != 1:
        raise ValueError(f"subjects must be 1-D (one person per sample); got {subjects.shape}.")
    rng = check_random_state(random_state)
    first, second = np.triu_indices(len(subjects), k=1)
    same = subjects[first] == subjects[second]
    genuine = np.column_stack([first[same], second[same]])
    impostor_pool = np.flatnonzero(~same)
    if len(genuine) == 0:
        raise ValueError(
            "no person has two samples, so there is no genuine pair; verification needs at "
            "least two samples of some people."
        )
    if impostor_pool.size == 0:
        raise ValueError("all samples show one person, so there is no impostor pair.")
    if max_genuine is not None and len(genuine) > max_genuine:
        genuine = genuine[np.sort(rng.choice(len(genuine), max_genuine, replace=False))]
    n_impostors = len(genuine) if n_impostors is None else n_impostors
    if n_impostors < 1:
        raise ValueError(f"n_impostors must be at least 1; got {n_impostors}.")
    chosen = rng.choice(impostor_pool, min(n_impostors, impostor_pool.size), replace=False)
    impostors = np.column_stack([first[chosen], second[chosen]])
    pairs = np.concatenate([genuine, impostors]).astype(np.intp)
    is_genuine = np.r_[np.ones(len(genuine), int), np.zeros(len(impostors), int)]
    return pairs, is_genuine


def pair_scores(
    X: Any, pairs: Any, *, metric: str = "cosine", transformer: Any = None
) -> np.ndarray:
    """Similarity of the two samples of each pair (higher = more likely the same person).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features (e.g. alpha, 2-D embeddings, or both), one row per sample.
    pairs : array-like of shape (n_pairs, 2)
        Row indices into ``X``, as from :func:`make_verification_pairs`.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or minus the Euclidean distance.
    transformer : fitted transformer, optional
        Applied to ``X`` first: a *learned metric*, e.g. ``StandardScaler`` or
        ``LinearDiscriminantAnalysis`` fitted on the training people's features and labels.

    Returns
    -------
    scores : ndarray of shape (n_pairs,)
        NaN where either sample has a non-finite feature, or (cosine) is all zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from sk3dface.metrics import pair_scores
    >>> X = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0]])
    >>> np.round(pair_scores(X, [[0, 1], [0, 2]]), 3)
    array([0.999, 0.   ])
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
    X = np.asarray(X if transformer is None else transformer.transform(X), dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be integer indices of shape (n_pairs, 2); got {pairs.shape}.")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= len(X)):
        raise ValueError(f"pairs index rows outside X, which has {len(X)} rows.")
    a, b = X[pairs[:, 0]], X[pairs[:, 1]]
    if metric == "euclidean":
        return -np.linalg.norm(a - b, axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->i", a, b) / norms


def _roc(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and scores must be 1-D of the same length; got {y_true.shape} and "
            f"{scores.shape}."
        )
    finite = np.isfinite(scores)
    if not finite.all():
        raise ValueError(
            f"scores has {int((~finite).sum())} non-finite value(s) (pairs with a failed "
            "sample); drop those pairs first, e.g. keep = np.isfinite(scores)."
        )
    if np.unique(y_true).size != 2:
        raise ValueError("y_true must hold both genuine (1) and impostor (0) pairs.")
    far, tar, _ = roc_curve(y_true, scores)
    return far, tar


def equal_error_rate(y_true: Any, scores: Any) -> float:
    """The error rate where false acceptance equals false rejection.

    Interpolated linearly between the two ROC points (from :func:`sklearn.metrics.roc_curve`)
    where ``FAR - FRR`` changes sign.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for genuine pairs, 0 for impostor pairs.
    scores : array-like of shape (n_pairs,)
        Similarity scores, higher for "same person".

    Returns
    -------
    eer : float
        In [0, 1]; 0 when the scores separate the pairs perfectly, ~0.5 for chance.

    Examples
    --------
    >>> from sk3dface.metrics import equal_error_rate
    >>> equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1])
    0.0
    """
    far, tar = _roc(y_true, scores)
    frr = 1.0 - tar
    difference = far - frr  # rises from -1 (accept nothing) to +1 (accept everything)
    k = int(np.argmax(difference >= 0))
    if k == 0 or difference[k] == 0:
        return float(far[k])
    weight = -difference[k - 1] / (difference[k] - difference[k - 1])
    return float(far[k - 1] + weight * (far[k] - far[k - 1]))


def tar_at_far(y_true: Any, scores: Any, far: float = 1e-2) -> float:
    """True acceptance rate at a fixed false acceptance rate (e.g. TAR@FAR=1e-2).

    The largest TAR of an ROC point (from :func:`sklearn.metrics.roc_curve`) whose FAR does
    not exceed ``far``: a threshold a deployment could actually use.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for genuine pairs, 0 for impostor pairs.
    scores : array-like of shape (n_pairs,)
        Similarity scores.
    far : float, default=1e-2
        The allowed false acceptance rate, in (0, 1]. With fewer than ``1 / far`` impostor
        pairs the estimate is coarse: use enough pairs.

    Returns
    -------
    tar : float

    Examples
    --------
    >>> from sk3dface.metrics import tar_at_far
    >>> tar_at_far([1, 1, 0, 0], [0.9, 0.2, 0.3, 0.1], far=0.5)
    1.0
    """
    if not 0 < far <= 1:
        raise ValueError(f"far must be in (0, 1]; got {far}.")
    rates, tar = _roc(y_true, scores)
    return float(tar[rates <= far].max())


def per_class_report(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    averages: bool = False,
    zero_division: float | str = 0.0,
) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, as a table.

    :func:`sklearn.metrics.classification_report` with ``output_dict=True``, one row per
    class indexed by the class labels themselves (not their text).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, e.g. out-of-fold predictions.
    labels : sequence, optional
        Classes and their row order; default: the sorted classes found in ``y_true`` and
        ``y_pred``.
    averages : bool, default=False
        Append the ``"macro avg"`` and ``"weighted avg"`` rows.
    zero_division : float or "warn", default=0.0
        Precision or recall of a class never predicted or never present.

    Returns
    -------
    report : DataFrame
        Columns ``precision``, ``recall``, ``f1-score``, ``support`` (int); index ``class``.

    See Also
    --------
    sk3dface.plotting.plot_confusion_matrix : The confusion matrix of the same predictions.

    Examples
    --------
    >>> from sk3dface.metrics import per_class_report
    >>> per_class_report([1, 1, 2, 2], [1, 2, 2, 2])  # doctest: +NORMALIZE_WHITESPACE
           precision  recall  f1-score  support
    class
    1       1.000000     0.5  0.666667        2
    2       0.666667     1.0  0.800000        2
    """
    import pandas as pd
    from sklearn.metrics import classification_report
    from sklearn.utils.multiclass import unique_labels

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length; got shapes {y_true.shape} and "
            f"{y_pred.shape}."
        )
    classes = list(unique_labels(y_true, y_pred) if labels is None else labels)
    names = [f"class {i}" for i in range(len(classes))]  # unique keys whatever the labels
    report = classification_report(
        y_true,
        y_pred,
        labels=classes,
        target_names=names,
        output_dict=True,
        zero_division=zero_division,
    )
    rows = [report[name] for name in names]
    index = list(classes)
    if averages:
        rows += [report["macro avg"], report["weighted avg"]]
        index += ["macro avg", "weighted avg"]
    table = pd.DataFrame(rows, index=pd.Index(index, name="class"))
    table["support"] = table["support"].astype(int)
    return table[["precision", "recall", "f1-score", "support"]]
