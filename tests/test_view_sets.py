"""make_view_sets: the paper's k-of-n samples with no image in both train and test."""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GroupKFold, PredefinedSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sk3dface.datasets import load_kdef, make_view_sets
from sk3dface.datasets._view_sets import _draw_combinations, _unrank


@pytest.fixture
def kdef(make_kdef_tree):
    """A KDEF-like tree of 3 people x 2 sessions x 4 expressions x 5 angles (120 images)."""
    tree = make_kdef_tree(
        subjects=["F01", "M02", "F03"],
        expressions=["HA", "NE", "SA", "SU"],
        angles=["FL", "HL", "S", "HR", "FR"],
        damaged=False,
        unparseable=False,
    )
    return load_kdef(tree.root)


def assert_no_shared_image(samples, splits):
    for train, test in splits:
        seen = {image for i in train for image in samples[i]}
        tested = {image for i in test for image in samples[i]}
        assert seen and tested and not seen & tested


@pytest.mark.parametrize("task", ["identity", "expression", "gender"])
def test_no_image_is_in_train_and_test_of_any_fold(kdef, task):
    frame = kdef.frame
    if task == "expression":
        labels, groups = frame.expression, frame.subject + "/" + frame.expression
    else:
        labels, groups = frame[{"identity": "subject", "gender": "gender"}[task]], frame.subject
    samples, y, fold = make_view_sets(
        kdef.images, labels, groups, size=3, n_folds=3, max_sets=6, random_state=0
    )
    assert len(samples) == len(y) == len(fold) > 0
    assert_no_shared_image(samples, PredefinedSplit(fold).split())
    assert_no_shared_image(samples, GroupKFold(n_splits=3).split(samples, y, groups=fold))
    # every label (and for identity every person) is in every fold
    assert {(label, f) for label, f in zip(y, fold, strict=True)} == set(
        itertools.product(set(labels), range(3))
    )


def test_each_view_set_shows_one_group_and_label(kdef):
    frame = kdef.frame.set_index("image")
    groups = kdef.frame.subject + "/" + kdef.frame.expression
    samples, y, fold, sample_groups = make_view_sets(
        kdef.images, kdef.expression, groups, size=3, n_folds=2, random_state=1, return_groups=True
    )
    for views, label, group in zip(samples, y, sample_groups, strict=True):
        assert len(views) == len(set(views)) == 3
        rows = frame.loc[list(views)]
        assert set(rows.expression) == {label}
        assert set(rows.subject + "/" + rows.expression) == {group}
    # 3 people x 4 expressions x 10 images, split in 2 parts of 5: all C(5, 3) = 10 sets per part
    assert Counter(sample_groups.tolist()) == dict.fromkeys(set(groups), 2 * 10)
    assert Counter(fold.tolist()) == {0: 120, 1: 120}


def test_max_sets_draws_distinct_combinations_and_none_takes_all():
    images = [f"p{i:02d}.jpg" for i in range(20)]
    person = ["p"] * 20
    everything, _, _ = make_view_sets(images, person, person, n_folds=2, random_state=0)
    assert len(everything) == 2 * math.comb(10, 3)
    capped, _, capped_fold = make_view_sets(
        images, person, person, size=3, n_folds=2, max_sets=25, random_state=0
    )
    assert Counter(capped_fold.tolist()) == {0: 25, 1: 25}
    assert len(set(capped)) == 50
    assert set(capped) <= set(everything)


def test_deterministic_given_random_state_and_independent_of_input_order(kdef):
    args = (kdef.images, kdef.subject, kdef.subject)
    first = make_view_sets(*args, n_folds=3, max_sets=4, random_state=7)
    again = make_view_sets(*args, n_folds=3, max_sets=4, random_state=7)
    other = make_view_sets(*args, n_folds=3, max_sets=4, random_state=8)
    assert first[0] == again[0] and np.array_equal(first[2], again[2])
    assert first[0] != other[0]
    order = np.random.default_rng(0).permutation(len(kdef.images))
    shuffled = make_view_sets(
        kdef.images[order], kdef.subject[order], kdef.subject[order], n_folds=3, max_sets=4,
        random_state=7,
    )  # fmt: skip
    assert shuffled[0] == first[0] and np.array_equal(shuffled[1], first[1])


def test_small_groups_raise_or_are_skipped_with_a_warning():
    images = [f"a{i}.png" for i in range(6)] + [f"b{i}.png" for i in range(5)]
    people = [name[0] for name in images]
    with pytest.raises(ValueError, match=r"1 group\(s\) have fewer than size \* n_folds = 3 \* 2"):
        make_view_sets(images, people, people, size=3, n_folds=2)
    with pytest.warns(UserWarning, match=r"'b' \(5\); dropped them"):
        samples, y, _ = make_view_sets(images, people, people, n_folds=2, on_small="skip")
    assert set(y) == {"a"} and len(samples) == 2
    with pytest.raises(ValueError, match="that is every group"):
        make_view_sets(images, people, people, n_folds=4, on_small="skip")


def test_groups_must_not_mix_labels(kdef):
    with pytest.raises(ValueError, match=r"3 group\(s\) mix labels.*person \+ expression"):
        make_view_sets(kdef.images, kdef.expression, kdef.subject, n_folds=2)


@pytest.mark.parametrize(
    ("images", "labels", "groups", "kwargs", "error", "message"),
    [
        (["a", "b"], [0], [0, 0], {}, ValueError, "same length.*got 2, 1 and 2"),
        ([], [], [], {}, ValueError, "images is empty"),
        (["a", "a", "b"], [0] * 3, [0] * 3, {}, ValueError, "'a' \\(2x\\).*remove the duplicates"),
        (["a"], [[0]], [0], {}, ValueError, "labels must be 1-D"),
        (["a", "b"], [0, 0], ["p", None], {}, ValueError, "groups has 1 missing value"),
        (["a"], [0], [0], {"size": 0}, InvalidParameterError, "'size' parameter"),
        (["a"], [0], [0], {"n_folds": 1}, InvalidParameterError, "'n_folds' parameter"),
        (["a"], [0], [0], {"on_small": "drop"}, InvalidParameterError, "'on_small' parameter"),
    ],
)
def test_bad_input_is_explained(images, labels, groups, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_view_sets(images, labels, groups, **kwargs)


def test_in_memory_images_are_accepted():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(8)]
    samples, _, _ = make_view_sets(images, [0] * 4 + [1] * 4, [0] * 4 + [1] * 4, size=2, n_folds=2)
    assert len(samples) == 4 and all(isinstance(v, np.ndarray) for s in samples for v in s)


def test_combination_ranking_and_large_populations():
    for n, size in [(5, 3), (7, 1), (6, 6), (9, 4)]:
        ranks = range(math.comb(n, size))
        assert [_unrank(r, n, size) for r in ranks] == list(itertools.combinations(range(n), size))
    rng = np.random.RandomState(0)
    huge = _draw_combinations(200, 100, 5, rng)  # C(200, 100) > 2**62: drawn by rejection
    assert len(set(huge)) == 5 and all(len(c) == 100 == len(set(c)) for c in huge)


class FirstViewBrightness(TransformerMixin, BaseEstimator):
    """A stand-in feature extractor: reads nothing, maps each view set to a number."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.array([[hash(views[0]) % 97] for views in X], dtype=float)


def test_view_sets_cross_validate_with_sklearn(kdef):
    samples, y, fold = make_view_sets(
        kdef.images, kdef.subject, kdef.subject, n_folds=5, max_sets=3, random_state=0
    )
    model = make_pipeline(FirstViewBrightness(), DummyClassifier(strategy="most_frequent"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = cross_val_score(model, samples, y, groups=fold, cv=GroupKFold(n_splits=5))
    assert scores.shape == (5,)
    np.testing.assert_allclose(scores, 1 / 3)  # 3 balanced people


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_images_are_refused_naming_the_index(missing):
    images = ["a.jpg", missing, "c.jpg", "d.jpg"]
    with pytest.raises(ValueError, match=r"images has 1 missing entry .* at index 1;"):
        make_view_sets(images, [0] * 4, [0] * 4, size=1, n_folds=2)
