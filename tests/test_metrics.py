"""Verification metrics: pairs that never leave the given people, EER and TAR@FAR."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import roc_curve

from sk3dface.metrics import equal_error_rate, make_verification_pairs, pair_scores, tar_at_far


def test_pairs_are_genuine_or_impostor_and_within_the_given_samples():
    subjects = np.repeat(np.arange(6), 4)
    pairs, is_genuine = make_verification_pairs(subjects, n_impostors=50, random_state=0)
    same = subjects[pairs[:, 0]] == subjects[pairs[:, 1]]
    np.testing.assert_array_equal(same, is_genuine.astype(bool))
    assert is_genuine.sum() == 6 * 6  # C(4, 2) pairs per person
    assert (~same).sum() == 50 and len(np.unique(pairs, axis=0)) == len(pairs)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    again, _ = make_verification_pairs(subjects, n_impostors=50, random_state=0)
    np.testing.assert_array_equal(pairs, again)
    few, flags = make_verification_pairs(subjects, max_genuine=5, random_state=1)
    assert flags.sum() == 5 and len(few) == 10


def test_pair_errors_are_clear():
    with pytest.raises(ValueError, match="no genuine pair"):
        make_verification_pairs([1, 2, 3])
    with pytest.raises(ValueError, match="no impostor pair"):
        make_verification_pairs([1, 1, 1])
    with pytest.raises(ValueError, match="metric must be one of"):
        pair_scores(np.zeros((2, 2)), [[0, 1]], metric="manhattan")
    with pytest.raises(ValueError, match="outside X"):
        pair_scores(np.zeros((2, 2)), [[0, 2]])
    with pytest.raises(ValueError, match="non-finite"):
        equal_error_rate([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="both genuine"):
        equal_error_rate([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"far must be in \(0, 1\]"):
        tar_at_far([1, 0], [0.3, 0.2], far=0)


@pytest.mark.parametrize("seed", range(5))
def test_eer_agrees_with_sklearn_roc_on_random_scores(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    scores = rng.normal(size=2000) + 1.2 * y
    far, tar, _ = roc_curve(y, scores)
    frr = 1 - tar
    k = np.argmin(np.abs(far - frr))
    reference = (far[k] + frr[k]) / 2
    assert abs(equal_error_rate(y, scores) - reference) < 0.01
    assert 0.2 < equal_error_rate(y, scores) < 0.35  # d' = 1.2: EER = Phi(-0.6) = 0.27


def test_tar_at_far_and_perfect_separation():
    y = np.r_[np.ones(100), np.zeros(1000)]
    scores = np.r_[np.linspace(1, 2, 100), np.linspace(-1, 1.05, 1000)]
    # impostors above 1.0 are the top 2.4 %: at FAR 1e-2 only genuine scores above ~1.03 pass
    assert 0.9 < tar_at_far(y, scores, far=1e-2) < 1.0
    assert tar_at_far(y, scores, far=1.0) == 1.0
    assert equal_error_rate([1, 1, 0, 0], [3, 2, 1, 0]) == 0.0
    assert equal_error_rate([0, 0, 1, 1], [3, 2, 1, 0]) == 1.0


def test_learned_metric_separates_people_better_than_raw_features():
    rng = np.random.default_rng(0)
    n_people, per_person = 40, 6
    identity = rng.normal(size=(n_people, 3))
    nuisance = rng.normal(scale=5.0, size=(n_people * per_person, 7))  # large, person-free
    X = np.column_stack([np.repeat(identity, per_person, axis=0), nuisance])
    X[:, :3] += 0.2 * rng.normal(size=(len(X), 3))
    subjects = np.repeat(np.arange(n_people), per_person)
    train, test = subjects < 20, subjects >= 20  # verification on new people only
    lda = LinearDiscriminantAnalysis(n_components=3).fit(X[train], subjects[train])
    pairs, y = make_verification_pairs(subjects[test], random_state=0)
    raw = equal_error_rate(y, pair_scores(X[test], pairs))
    learned = equal_error_rate(y, pair_scores(X[test], pairs, transformer=lda))
    euclidean = equal_error_rate(y, pair_scores(X[test], pairs, metric="euclidean"))
    assert learned < 0.15 < 0.35 < min(raw, euclidean)
