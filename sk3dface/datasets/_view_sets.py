"""Multi-image samples ("choose 3 of the images of a person") without train/test leakage.

The paper builds each sample from ``size`` images of one person. Drawing those
combinations from all of a person's images and then splitting the *combinations*
into folds puts the same photograph in training and test sets. Here each person's
images are first split into ``n_folds`` disjoint parts and combinations are drawn
inside a part only; the part number is the fold. See ``docs/datasets.md``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from sk3dface.utils._sklearn_compat import Interval, StrOptions, validate_params
from sk3dface.utils._warnings import warn_at_caller

# sample_without_replacement takes int64 population sizes; beyond that, draw by rejection.
_MAX_RANKED = 2**62


@validate_params(
    {
        "images": ["array-like"],
        "labels": ["array-like"],
        "groups": ["array-like"],
        "size": [Interval(Integral, 1, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "max_sets": [Interval(Integral, 1, None, closed="left"), None],
        "on_small": [StrOptions({"error", "skip"})],
        "random_state": ["random_state"],
        "return_groups": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_view_sets(
    images: Sequence[Any],
    labels: Any,
    groups: Any,
    *,
    size: int = 3,
    n_folds: int = 5,
    max_sets: int | None = None,
    on_small: str = "error",
    random_state: int | np.random.RandomState | None = None,
    return_groups: bool = False,
) -> tuple[list[tuple], np.ndarray, np.ndarray] | tuple[list[tuple], np.ndarray, np.ndarray, Any]:
    """Build view sets (samples of ``size`` images) and CV folds that never share an image.

    For each group (a person, or a person and an expression: images that may
    form one sample), the group's images are shuffled and split into
    ``n_folds`` disjoint parts of near-equal size; up to ``max_sets``
    different combinations of ``size`` images are drawn inside each part.
    The part number is the sample's fold. Cross-validate with
    ``PredefinedSplit(fold)`` (or, equivalently, ``GroupKFold(n_splits=n_folds)``
    with ``groups=fold``): the test fold ``k`` holds the view sets of part
    ``k`` of every group, training holds the other parts, and as the parts
    are disjoint no image is ever in both. Every group has samples in every
    fold, as an identity classifier needs.

    Parameters
    ----------
    images : sequence of length n_images
        Images (paths, arrays or PIL images), e.g. ``load_kdef(root).images``.
        Paths must not repeat.
    labels : array-like of shape (n_images,)
        Target of each image; it must be constant within a group.
    groups : array-like of shape (n_images,)
        The group of each image: only images of one group form a view set.
        Use the person for identity or gender, and person + expression (e.g.
        ``frame.subject + "/" + frame.expression``) for expression.
    size : int, default=3
        Images per view set (the paper uses 3).
    n_folds : int, default=5
        Number of disjoint image parts per group, i.e. of CV folds.
    max_sets : int, default=None
        Most view sets drawn per part (without repeating a combination). None
        takes every combination: C(m, size) for a part of m images.
    on_small : {"error", "skip"}, default="error"
        What to do with a group of fewer than ``size * n_folds`` images (some
        part could not hold one view set): raise a ValueError, or drop the
        group with a warning.
    random_state : int, RandomState instance or None, default=None
        Controls the partition and the combinations drawn. Pass an int for
        reproducible output.
    return_groups : bool, default=False
        Also return the group of each view set.

    Returns
    -------
    samples : list of tuple
        The view sets, each a tuple of ``size`` images (paths in sorted
        order), the multi-view input :class:`~sk3dface.FaceLandmarker`
        accepts. Groups come in sorted order. For paths, the result depends
        only on the data and ``random_state``, not on the input order.
    y : ndarray of shape (n_samples,)
        The label of each view set.
    fold : ndarray of int of shape (n_samples,)
        The fold (image part, ``0 .. n_folds - 1``) of each view set.
    sample_groups : ndarray of shape (n_samples,)
        The group of each view set; only if ``return_groups=True``.

    Raises
    ------
    ValueError
        If lengths differ, paths repeat, a group mixes labels, or a group is too
        small and ``on_small="error"``.

    See Also
    --------
    sklearn.model_selection.PredefinedSplit : The CV splitter for ``fold``.
    load_kdef, load_fei : Images and labels of the paper's data sets.

    Examples
    --------
    >>> from sklearn.model_selection import PredefinedSplit
    >>> from sk3dface.datasets import make_view_sets
    >>> images = [f"{person}_{i}.jpg" for person in "AB" for i in range(4)]
    >>> people = [name[0] for name in images]
    >>> samples, y, fold = make_view_sets(
    ...     images, people, people, size=2, n_folds=2, random_state=0)
    >>> samples
    [('A_2.jpg', 'A_3.jpg'), ('A_0.jpg', 'A_1.jpg'), ('B_0.jpg', 'B_2.jpg'), ('B_1.jpg', 'B_3.jpg')]
    >>> y.tolist(), fold.tolist()
    (['A', 'A', 'B', 'B'], [0, 1, 0, 1])
    >>> for train, test in PredefinedSplit(fold).split():
    ...     seen = {image for i in train for image in samples[i]}
    ...     print(any(image in seen for i in test for image in samples[i]))
    False
    False
    """
    images = list(images)
    labels = _column(labels, "labels")
    groups = _column(groups, "groups")
    if not len(images) == len(labels) == len(groups):
        raise ValueError(
            "images, labels and groups must have the same length (one entry per image); got "
            f"{len(images)}, {len(labels)} and {len(groups)}."
        )
    if not images:
        raise ValueError("images is empty: nothing to build view sets from.")
    _check_present(images)
    _check_unique_paths(images)

    rng = check_random_state(random_state)
    try:  # sorted groups: the result does not depend on the order of the input
        codes, uniques = pd.factorize(pd.Series(groups, dtype=object), sort=True)
    except TypeError:  # groups of mixed, unorderable types
        codes, uniques = pd.factorize(pd.Series(groups, dtype=object), sort=False)
    if (codes < 0).any():
        raise ValueError(
            f"groups has {int((codes < 0).sum())} missing value(s) (None/NaN); every image needs "
            "a group (e.g. its person)."
        )
    members = [np.flatnonzero(codes == code) for code in range(len(uniques))]
    _check_constant_labels(members, uniques, labels)
    minimum = size * n_folds
    small = [(g, len(m)) for g, m in zip(uniques, members, strict=True) if len(m) < minimum]
    if small:
        _report_small(small, size, n_folds, minimum, on_small, n_groups=len(uniques))

    samples, y, fold, sample_groups = [], [], [], []
    for group, member in zip(uniques, members, strict=True):
        if len(member) < minimum:
            continue
        member = _input_order_free(member, images)
        parts = np.array_split(rng.permutation(len(member)), n_folds)
        for part_index, positions in enumerate(parts):
            part = member[np.sort(positions)]
            for combination in _draw_combinations(len(part), size, max_sets, rng):
                samples.append(tuple(images[part[j]] for j in combination))
                fold.append(part_index)
            n_new = len(samples) - len(y)
            y.extend([labels[member[0]]] * n_new)
            sample_groups.extend([group] * n_new)

    y = np.asarray(y, dtype=labels.dtype)
    fold = np.asarray(fold, dtype=np.int64)
    if return_groups:
        return samples, y, fold, np.asarray(sample_groups, dtype=groups.dtype)
    return samples, y, fold


def _column(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one entry per image; got shape {array.shape}.")
    return array


def _check_present(images: list) -> None:
    """Refuse missing images (None, NaN): a view set made of them has nothing to show."""
    from sk3dface.utils._input import is_missing

    missing = [i for i, image in enumerate(images) if is_missing(image)]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise ValueError(
            f"images has {len(missing)} missing entr{'y' if len(missing) == 1 else 'ies'} "
            f"(None or NaN) at index {shown}; every entry must be an image (a path, an "
            "array or a PIL image). Drop the missing images (and their labels and groups) "
            "before building view sets."
        )


def _path_key(image: Any) -> str | None:
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else None


def _check_unique_paths(images: list) -> None:
    keys = [k for k in map(_path_key, images) if k is not None]
    counts = pd.Series(keys, dtype=object).value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        shown = ", ".join(f"{k!r} ({n}x)" for k, n in repeated.head(5).items())
        raise ValueError(
            f"{len(repeated)} image path(s) occur more than once in images: {shown}. A repeated "
            "image could land in a training and a test fold; remove the duplicates."
        )


def _check_constant_labels(members: list, uniques: Any, labels: np.ndarray) -> None:
    mixed = []
    for group, member in zip(uniques, members, strict=True):
        values = pd.unique(pd.Series(labels[member], dtype=object))
        if len(values) > 1:
            mixed.append(f"{group!r} has {sorted(map(str, values))[:5]}")
    if mixed:
        raise ValueError(
            f"{len(mixed)} group(s) mix labels ({'; '.join(mixed[:3])}), but a view set must show "
            "one label. Pass groups that do not cross labels: for an expression task use person "
            "+ expression as the group (e.g. frame.subject + '/' + frame.expression)."
        )


def _report_small(
    small: list, size: int, n_folds: int, minimum: int, on_small: str, n_groups: int
) -> None:
    shown = ", ".join(f"{g!r} ({n})" for g, n in small[:10])
    shown += f" and {len(small) - 10} more" if len(small) > 10 else ""
    problem = (
        f"{len(small)} group(s) have fewer than size * n_folds = {size} * {n_folds} = {minimum} "
        f"images, so some of their {n_folds} parts cannot hold a view set: {shown}"
    )
    if on_small == "error":
        raise ValueError(
            f"{problem}. Lower size or n_folds, or pass on_small='skip' to drop these groups."
        )
    if len(small) == n_groups:
        raise ValueError(f"{problem}; that is every group, so no view set can be built.")
    warn_at_caller(f"{problem}; dropped them (on_small='skip').", UserWarning)


def _input_order_free(member: np.ndarray, images: list) -> np.ndarray:
    """Sort a group's images by path, so the result does not depend on the input order."""
    keys = [_path_key(images[i]) for i in member]
    if any(k is None for k in keys):
        return member
    return member[np.argsort(keys, kind="stable")]


def _draw_combinations(
    n: int, size: int, max_sets: int | None, rng: np.random.RandomState
) -> list[tuple[int, ...]]:
    """Distinct ``size``-combinations of ``range(n)`` (all, or ``max_sets`` at random)."""
    total = math.comb(n, size)
    if max_sets is None or total <= max_sets:
        return list(itertools.combinations(range(n), size))
    if total < _MAX_RANKED:
        ranks = sample_without_replacement(total, max_sets, random_state=rng)
        return [_unrank(int(r), n, size) for r in np.sort(ranks)]
    drawn: set[tuple[int, ...]] = set()
    while len(drawn) < max_sets:
        drawn.add(tuple(sorted(rng.choice(n, size, replace=False).tolist())))
    return sorted(drawn)


def _unrank(rank: int, n: int, size: int) -> tuple[int, ...]:
    """The ``rank``-th ``size``-combination of ``range(n)`` in lexicographic order."""
    combination, x = [], 0
    for position in range(size):
        while True:
            count = math.comb(n - x - 1, size - position - 1)
            if rank < count:
                break
            rank -= count
            x += 1
        combination.append(x)
        x += 1
    return tuple(combination)
