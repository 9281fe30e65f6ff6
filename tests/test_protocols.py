"""The paper's protocols: leakage-free splits and ready pipelines."""

import numpy as np
from sklearn.svm import SVC

from sk3dface.protocols import expression_protocol, gender_protocol, identity_protocol


def _splits(protocol):
    return list(protocol.cv.split(protocol.samples, protocol.y, protocol.groups))


def test_identity_protocol_never_shares_an_image(make_kdef_tree):
    tree = make_kdef_tree(subjects=("F01", "M02", "F03"), damaged=False, unparseable=False)
    protocol = identity_protocol(tree.root, n_subjects=2, n_folds=3, classifier=SVC())
    assert set(protocol.y) == {"F01", "F03"}  # the first two people, sorted
    assert all(len(sample) == 3 for sample in protocol.samples)
    for train, test in _splits(protocol):
        seen = {image for i in train for image in protocol.samples[i]}
        assert not any(image in seen for i in test for image in protocol.samples[i])
        assert set(protocol.y[train]) == set(protocol.y[test])  # every person on both sides
    names = [name for name, _ in protocol.pipeline.steps]
    assert names == ["landmarker", "extractor", "aggregator", "selector", "scaler", "classifier"]
    assert protocol.pipeline.get_params()["extractor__multiview"] == "joint"


def test_expression_and_gender_protocols_are_subject_disjoint(make_kdef_tree, make_fei_tree):
    kdef = make_kdef_tree(subjects=("F01", "M02", "F03"), damaged=False, unparseable=False)
    protocol = expression_protocol(kdef.root, n_folds=3, classifier=SVC())
    assert protocol.pipeline.get_params()["selector__part"] == "beta"
    for train, test in _splits(protocol):
        assert not set(protocol.groups[train]) & set(protocol.groups[test])

    fei = make_fei_tree(subjects=(1, 2, 3, 4), poses=range(3, 9), damaged=False)
    genders = {1: "female", 2: "male", 3: "female", 4: "male"}
    protocol = gender_protocol(fei.root, gender_table=genders, n_folds=2, classifier=SVC())
    assert set(np.unique(protocol.y)) == {"female", "male"}
    for train, test in _splits(protocol):
        assert not set(protocol.groups[train]) & set(protocol.groups[test])
