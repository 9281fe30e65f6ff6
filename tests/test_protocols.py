"""The paper's protocols: leakage-free splits, ready pipelines, evaluation and its cache."""

import os
import warnings

import cv2
import numpy as np
import pytest
from sklearn.svm import SVC

from sk3dface import FaceLandmarker
from sk3dface.exceptions import FailedSamplesWarning
from sk3dface.protocols import (
    evaluate_protocol,
    expression_protocol,
    gender_protocol,
    identity_protocol,
    landmark_table,
)


def _splits(protocol):
    return list(protocol.cv.split(protocol.samples, protocol.y, protocol.groups))


def test_identity_protocol_never_shares_an_image(make_kdef_tree):
    tree = make_kdef_tree(subjects=("F01", "M02", "F03"), damaged=False, unparseable=False)
    protocol = identity_protocol(
        tree.root, n_subjects=2, n_folds=3, classifier=SVC(), features="paper"
    )
    assert set(protocol.y) == {"F01", "F03"}  # the first two people, sorted
    assert all(len(sample) == 3 for sample in protocol.samples)
    for train, test in _splits(protocol):
        seen = {image for i in train for image in protocol.samples[i]}
        assert not any(image in seen for i in test for image in protocol.samples[i])
        assert set(protocol.y[train]) == set(protocol.y[test])  # every person on both sides
    assert protocol.groups is None  # PredefinedSplit takes none (and warns if given some)
    names = [name for name, _ in protocol.pipeline.steps]
    assert names == ["landmarker", "extractor", "aggregator", "selector", "scaler", "classifier"]
    assert protocol.pipeline.get_params()["extractor__multiview"] == "joint"


def test_expression_and_gender_protocols_are_subject_disjoint(make_kdef_tree, make_fei_tree):
    kdef = make_kdef_tree(subjects=("F01", "M02", "F03"), damaged=False, unparseable=False)
    protocol = expression_protocol(kdef.root, n_folds=3, classifier=SVC(), features="paper")
    assert protocol.pipeline.get_params()["selector__part"] == "beta"
    recommended = expression_protocol(kdef.root, n_folds=3, classifier=SVC())
    assert recommended.pipeline.get_params()["shape__part"] == "expression"
    for train, test in _splits(protocol):
        assert not set(protocol.groups[train]) & set(protocol.groups[test])

    fei = make_fei_tree(subjects=(1, 2, 3, 4), poses=range(3, 9), damaged=False)
    genders = {1: "female", 2: "male", 3: "female", 4: "male"}
    protocol = gender_protocol(fei.root, gender_table=genders, n_folds=5, classifier=SVC())
    assert set(np.unique(protocol.y)) == {"female", "male"}
    assert "4 subject-disjoint folds" in protocol.description  # capped at one per person
    for train, test in _splits(protocol):
        assert not set(protocol.groups[train]) & set(protocol.groups[test])
        assert set(protocol.y[train]) == {"female", "male"}


def test_too_few_people_is_a_clear_error(make_kdef_tree, make_fei_tree):
    kdef = make_kdef_tree(subjects=("F01",), damaged=False, unparseable=False)
    with pytest.raises(ValueError, match="at least 2 people"):
        expression_protocol(kdef.root, classifier=SVC())
    with pytest.raises(ValueError, match="Identity needs at least 2 people; got 1"):
        identity_protocol(kdef.root, classifier=SVC())
    fei = make_fei_tree(subjects=(1, 2, 3), poses=range(3, 9), damaged=False)
    genders = {1: "female", 2: "male", 3: "male"}  # one woman: never both trained and tested
    with pytest.raises(ValueError, match="class\\(es\\) female have fewer"):
        gender_protocol(fei.root, gender_table=genders, classifier=SVC())
    # only some people labelled: the rest are left out and said to be
    fei = make_fei_tree(subjects=(1, 2, 3, 4, 5), poses=range(3, 9), damaged=False)
    genders = {1: "female", 2: "male", 3: "female", 4: "male"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the loader's notes on subject 5
        protocol = gender_protocol(fei.root, gender_table=genders, classifier=SVC())
    assert "(1 people without a gender label left out)" in protocol.description
    assert 5 not in set(protocol.groups)


def test_a_bad_model_file_fails_before_any_image_is_read(make_kdef_tree, tmp_path):
    bogus = tmp_path / "model.npz"
    bogus.write_bytes(b"not a model")
    tree = make_kdef_tree(subjects=("F01", "M02"), damaged=False, unparseable=False)
    with pytest.raises(ValueError, match=r"model\.npz"):
        identity_protocol(tree.root, n_folds=2, classifier=SVC(), model=bogus)


def test_evaluate_drops_faceless_samples_and_keeps_folds(make_kdef_tree, tmp_path):
    tree = make_kdef_tree(subjects=("F01", "M02", "F03"), damaged=False, unparseable=False)
    protocol = identity_protocol(tree.root, n_folds=2, classifier=SVC())
    # blank out every image of F01's fold-0 part: those view sets lose all their views
    gone = (protocol.y == "F01") & (protocol.cv.test_fold == 0)
    blank = {image for i in np.flatnonzero(gone) for image in protocol.samples[i]}
    for image in blank:
        cv2.imwrite(str(image), np.zeros((300, 256, 3), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. groups given to PredefinedSplit
        report = evaluate_protocol(protocol, cache_dir=tmp_path / "cache")
    assert report.n_dropped == gone.sum() > 0
    assert report.n_samples == len(protocol.samples) - gone.sum()
    assert len(report.fold_accuracy) == 2  # both folds survive, each with its own samples
    assert {image for image, _ in report.failed_images} == {str(p) for p in blank}
    assert len(report.predictions) == report.n_samples
    assert list(report.per_class.columns) == ["precision", "recall", "f1-score", "support"]
    assert report.per_class["support"].sum() == report.n_samples  # no 'accuracy' pseudo-row
    assert report.per_class.loc["F01", "support"] == (protocol.y[~gone] == "F01").sum()
    text = report.to_text()
    assert f"images without landmarks: {len(blank)}" in text and "F03" in text
    # the fitting steps were cached too (Pipeline(memory=cache_dir))
    assert any((tmp_path / "cache").rglob("*_fit_transform_one*"))


class CountingBackend:
    """Stand-in back end: one 'face' whose landmarks shift with the image's grey level."""

    calls = 0

    def detect(self, image):
        if image.mean() < 1:
            return np.empty((0, 4))  # black image: no face
        height, width = image.shape[:2]
        return np.array([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])

    def predict(self, image, box):
        CountingBackend.calls += 1
        t = np.linspace(0, 1, 68)
        left, top, right, bottom = box
        return np.column_stack([left + t * (right - left) + image.mean(), top + t * bottom])


def _bmp(path, level):  # uncompressed: the same size whatever the content
    cv2.imwrite(str(path), np.full((40, 50, 3), level, np.uint8))
    return str(path)


def _entries(cache):
    return len(list(cache.rglob("output.pkl")))


def test_landmark_cache_is_keyed_by_content_and_settings(tmp_path):
    cache = tmp_path / "cache"
    images = [_bmp(tmp_path / "a.bmp", 100), _bmp(tmp_path / "b.bmp", 200)]
    landmarker = FaceLandmarker(CountingBackend())
    first = landmark_table(images, landmarker, cache)
    calls = CountingBackend.calls
    np.testing.assert_array_equal(landmark_table(images, landmarker, cache), first)
    assert CountingBackend.calls == calls and _entries(cache) == 1  # read from the cache

    # n_jobs and verbose change nothing in the result: still the same entry
    fast = FaceLandmarker(CountingBackend(), n_jobs=2, verbose=1)
    np.testing.assert_array_equal(landmark_table(images, fast, cache), first)
    assert _entries(cache) == 1

    # same path, same size, same time stamp, other pixels: detected again
    stat = os.stat(images[0])
    _bmp(images[0], 150)
    os.utime(images[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(images[0]).st_size == stat.st_size
    changed = landmark_table(images, landmarker, cache)
    assert changed[0, 0] == pytest.approx(first[0, 0] + 50)
    np.testing.assert_array_equal(changed[1], first[1])
    # a setting that changes the result is part of the key
    landmark_table(images, FaceLandmarker(CountingBackend(), detection_width=32), cache)
    assert _entries(cache) == 3


def test_landmark_table_reports_failures_also_from_the_cache(tmp_path):
    images = [_bmp(tmp_path / "face.bmp", 100), _bmp(tmp_path / "black.bmp", 0)]
    images.append(str(tmp_path / "missing.bmp"))
    landmarker = FaceLandmarker(CountingBackend())
    for _ in range(2):  # computed, then cached
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = landmark_table(images, landmarker, tmp_path / "cache")
        (warning,) = [w.message for w in caught if w.category is FailedSamplesWarning]
        assert "2 of 3 images gave no landmarks" in str(warning)
        assert [f.sample for f in warning.failures] == [1, 2]
        assert "missing.bmp" in str(warning) and "no such file" in str(warning)
        assert np.isfinite(table[0]).all() and np.isnan(table[1:]).all()


def test_report_confusion_matrix_of_the_out_of_fold_predictions():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sk3dface.metrics import per_class_report
    from sk3dface.protocols import ProtocolReport

    y_true = np.array(["F01", "F01", "M02", "M02", "M02"])
    predictions = np.array(["F01", "M02", "M02", "M02", None], dtype=object)  # last: untested
    report = ProtocolReport(
        task="identity",
        fold_accuracy=np.array([0.5, 1.0]),
        per_class=per_class_report(y_true[:4], predictions[:4]),
        n_samples=5,
        n_dropped=0,
        failed_images=[],
        seconds=0.0,
        predictions=predictions,
        y_true=y_true,
    )
    matrix = report.confusion_matrix()
    assert matrix.loc["F01"].tolist() == [1, 1] and matrix.loc["M02"].tolist() == [0, 2]
    assert (matrix.index.name, matrix.columns.name) == ("true", "predicted")
    np.testing.assert_allclose(report.confusion_matrix(normalize="true").sum(axis=1), 1.0)
    ax = report.plot_confusion_matrix(normalize="true")
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.5, 0.5], [0.0, 1.0]])
    assert ax.get_title() == "identity: accuracy 0.750 over 2 folds"
    plt.close("all")
    with pytest.raises(ValueError, match="no out-of-fold predictions"):
        ProtocolReport("identity", np.ones(1), report.per_class, 1, 0, [], 0.0).confusion_matrix()


class _LargePoseBackend:
    """A stand-in back end that declares it works at any yaw (as TDDFABackend does)."""

    large_pose = True

    def detect(self, image):
        h, w = image.shape[:2]
        return np.array([[w / 4, h / 4, 3 * w / 4, 3 * h / 4]])

    def predict(self, image, box):
        left, top, right, bottom = box
        t = np.linspace(0, 1, 68)
        return np.column_stack([left + t * (right - left), top + t * (bottom - top) * t])


def test_protocols_read_profiles_when_the_back_end_handles_them(make_kdef_tree, make_fei_tree):
    kdef = make_kdef_tree(subjects=("F01", "M02", "F03"), angles=("FL", "S", "FR"),
                          damaged=False, unparseable=False)  # fmt: skip
    backend = _LargePoseBackend()

    def angles(protocol):
        return {os.path.basename(path)[6:-4] for sample in protocol.samples for path in sample}

    frontal = expression_protocol(kdef.root, n_folds=3, classifier=SVC())
    assert angles(frontal) == {"S"}  # dlib: near-frontal angles only
    turned = expression_protocol(kdef.root, n_folds=3, classifier=SVC(), backend=backend)
    assert angles(turned) == {"FL", "S", "FR"}
    assert turned.pipeline.named_steps["landmarker"].backend is backend
    chosen = expression_protocol(kdef.root, n_folds=3, classifier=SVC(), backend=backend,
                                 angles=["S"])  # fmt: skip
    assert angles(chosen) == {"S"}  # an explicit choice wins
    paper = identity_protocol(kdef.root, n_subjects=3, n_folds=2, classifier=SVC(),
                              features="paper", backend=backend)  # fmt: skip
    assert angles(paper) == {"FL", "S", "FR"}
    assert paper.pipeline.named_steps["landmarker"].backend is backend

    fei = make_fei_tree(subjects=(1, 2, 3, 4), poses=range(1, 11), damaged=False,
                        unparseable=False)  # fmt: skip
    genders = {1: "female", 2: "male", 3: "female", 4: "male"}

    def poses(protocol):
        return {os.path.basename(p).split("-")[1][:2] for s in protocol.samples for p in s}

    frontal = gender_protocol(fei.root, gender_table=genders, classifier=SVC())
    assert poses(frontal) <= {"03", "04", "05", "06", "07", "08"}  # no near-profiles
    turned = gender_protocol(fei.root, gender_table=genders, classifier=SVC(), backend=backend)
    assert poses(turned) & {"01", "02", "09", "10"}
