"""load_kdef on fake trees with KDEF's real file names, layouts and defects."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_jpeg

from sk3dface.datasets import load_kdef
from sk3dface.datasets._common import damage_reason

LABELS = ["subject", "gender", "expression", "angle", "session"]


def load_quietly(root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_kdef(root, **kwargs)


def test_real_layout_gives_paths_labels_and_reports_bad_files(kdef_tree):
    with pytest.warns(UserWarning) as record:
        kdef = load_kdef(kdef_tree.root)
    messages = " | ".join(str(w.message) for w in record)
    assert {w.filename for w in record} == {__file__}  # the warnings point at the caller
    assert "1 image file(s) whose names do not follow the KDEF scheme" in messages
    assert kdef_tree.unparseable.name in messages
    assert "2 damaged KDEF image(s) excluded" in messages
    assert kdef_tree.black.name in messages and kdef_tree.empty.name in messages

    assert len(kdef.images) == len(kdef_tree.good) == 36
    assert set(kdef.images) == {str(p) for p in kdef_tree.good}
    assert list(kdef.frame.columns) == ["image", *LABELS]
    for column in LABELS:
        np.testing.assert_array_equal(kdef[column], kdef.frame[column].to_numpy())
    assert set(kdef.subject) == {"F01", "M02"}
    assert set(kdef.gender) == {"female", "male"}
    assert set(kdef.expression) == {"happy", "neutral", "sad"}
    assert set(kdef.angle) == {"straight", "half_left", "half_right"}
    assert set(kdef.session) == {"A", "B"}

    row = kdef.frame.set_index("image").loc[str(kdef_tree.root / "BM02" / "BM02SAHR.JPG")]
    assert row.to_dict() == {
        "subject": "M02",
        "gender": "male",
        "expression": "sad",
        "angle": "half_right",
        "session": "B",
    }
    # the same person in both sessions has one subject label
    assert kdef.frame.groupby("subject")["session"].nunique().to_dict() == {"F01": 2, "M02": 2}

    reasons = dict(kdef.damaged)
    assert set(reasons) == {str(kdef_tree.black), str(kdef_tree.empty)}
    assert reasons[str(kdef_tree.black)] == "all black"
    assert "empty" in reasons[str(kdef_tree.empty)]
    assert "Loaded: 36 images" in kdef.DESCR and "2 damaged" in kdef.DESCR


def test_flat_layout_lower_case_names_and_jpeg_extension(make_kdef_tree):
    tree = make_kdef_tree(layout="flat", extension=".jpeg", damaged=False, unparseable=False)
    for path in tree.good[:5]:
        path.rename(path.with_name(path.name.lower()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kdef = load_kdef(tree.root)
    assert len(kdef.images) == 36
    assert kdef.frame.groupby(["subject", "session"]).size().tolist() == [9, 9, 9, 9]
    assert "af01hahl.jpeg" in {Path(p).name for p in kdef.images}


def test_filters_accept_codes_names_and_any_case(kdef_tree):
    kdef = load_quietly(
        kdef_tree.root,
        angles=["S", "half_left"],
        expressions="ha",
        subjects=["m2"],
        sessions="b",
    )
    assert kdef.frame[LABELS].drop_duplicates().shape[0] == 2
    assert set(kdef.angle) == {"straight", "half_left"}
    assert set(kdef.expression) == {"happy"}
    assert set(kdef.subject) == {"M02"} and set(kdef.session) == {"B"}
    assert {Path(p).name for p in kdef.images} == {"BM02HAS.JPG", "BM02HAHL.JPG"}


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("angles", ["S", "up"], "Unknown angles 'up'; valid angles are 'FL'/'full_left'"),
        ("expressions", ["joy"], "Unknown expressions 'joy'; valid expressions are 'AF'/'afraid'"),
        ("subjects", "F36", "Unknown subjects 'F36'; valid subjects are 'F01' ... 'F35'"),
        ("sessions", ["C"], "Unknown sessions 'C'; valid sessions are 'A' and 'B'"),
        ("angles", [], "angles must not be empty"),
    ],
)
def test_unknown_filter_values_list_the_valid_ones(kdef_tree, option, value, message):
    with pytest.raises(ValueError, match=message):
        load_kdef(kdef_tree.root, **{option: value})


def test_filter_matching_nothing_says_what_the_data_have(kdef_tree):
    expected = r"No KDEF image matches.*'angle': \['full_right', 'half_left'"
    with pytest.raises(ValueError, match=expected):
        load_quietly(kdef_tree.root, angles="FL")


def test_wrong_root_errors_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*AF01ANS\.JPG"):
        load_kdef(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        load_kdef(tmp_path / "file.txt")
    with pytest.raises(ValueError, match=r"found no image files, named like e\.g\. 'AF01ANS\.JPG'"):
        load_kdef(tmp_path)
    write_jpeg(tmp_path / "holiday.jpg", np.full((20, 20, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="found 1 image file\\(s\\), none of them named like"):
        load_kdef(tmp_path)


def test_damaged_images_kept_on_request_and_not_checked_when_disabled(kdef_tree):
    with pytest.warns(UserWarning) as record:
        kept = load_kdef(kdef_tree.root, keep_damaged=True)
    assert any("2 damaged KDEF image(s) kept" in str(w.message) for w in record)
    assert len(kept.images) == 38
    assert {str(kdef_tree.black), str(kdef_tree.empty)} <= set(kept.images)
    assert kept.frame.loc[kept.images == str(kdef_tree.black), "subject"].item() == "F35"

    unchecked = load_quietly(kdef_tree.root, check_images=False)
    assert len(unchecked.images) == 38 and unchecked.damaged == []
    assert "images not checked" in unchecked.DESCR


def test_truncated_and_blank_images_are_detected(make_kdef_tree):
    tree = make_kdef_tree(truncated=True, expressions=["NE"], angles=["S"])
    grey = write_jpeg(tree.root / "AM10" / "AM10NES.JPG", np.full((300, 256, 3), 128, np.uint8))
    kdef = load_quietly(tree.root)
    reasons = dict(kdef.damaged)
    assert "truncated" in reasons[str(tree.truncated)]
    assert reasons[str(grey)].startswith("blank")
    assert set(reasons) == {str(p) for p in [*tree.damaged, grey]}
    assert set(kdef.images) == {str(p) for p in tree.good}


def test_damage_reason_on_real_faces_and_on_non_images(kdef_tree, tmp_path):
    assert all(damage_reason(str(p)) is None for p in kdef_tree.good[:5])
    not_an_image = tmp_path / "AF02HAS.JPG"
    not_an_image.write_text("this is text, not a JPEG")
    assert "not a recognised image format" in damage_reason(str(not_an_image))


def test_parallel_check_matches_serial(make_kdef_tree):
    tree = make_kdef_tree(expressions=["AF", "AN", "DI", "HA", "NE", "SA", "SU"], angles=["S"])
    assert len(tree.good) >= 28
    # enough files to take the parallel path (>= 64)
    for i in range(3, 9):
        for path in tree.good[:14]:
            copy = tree.root / f"AF{i:02d}" / f"AF{i:02d}{path.name[4:]}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copy(path, copy)
    serial = load_quietly(tree.root, n_jobs=1)
    parallel = load_quietly(tree.root, n_jobs=2)
    assert len(serial.images) >= 64
    pd.testing.assert_frame_equal(serial.frame, parallel.frame)
    assert serial.damaged == parallel.damaged


def test_duplicate_copies_and_macos_metadata(make_kdef_tree):
    tree = make_kdef_tree(damaged=False, unparseable=False)
    shutil.copy(tree.good[0], tree.root / tree.good[0].name)  # a stray flat copy
    (tree.root / "__MACOSX" / "AF01").mkdir(parents=True)
    (tree.root / "__MACOSX" / "AF01" / "._AF01HAS.JPG").write_bytes(b"\x00\x05")
    (tree.root / "AF01" / "._AF01HAS.JPG").write_bytes(b"\x00\x05")
    (tree.root / "README.txt").write_text("KDEF")
    with pytest.warns(UserWarning) as record:
        kdef = load_kdef(tree.root)
    assert len(record) == 1
    assert "1 KDEF file(s) repeating an image" in str(record[0].message)
    assert len(kdef.images) == 36 and kdef.damaged == []


def test_fixture_images_show_a_detectable_face(kdef_tree):
    dlib = pytest.importorskip("dlib")
    from PIL import Image

    detector = dlib.get_frontal_face_detector()
    for path in kdef_tree.good[::9]:
        faces = detector(np.asarray(Image.open(path).convert("RGB")), 0)
        assert len(faces) == 1 and faces[0].width() > 80, path.name


@pytest.mark.parametrize("root", [None, 3])
def test_root_that_is_not_a_path_says_root_must_be_a_folder_path(root):
    with pytest.raises(TypeError, match=r"KDEF root must be a folder path .*got "):
        load_kdef(root)


def test_root_that_is_a_device_is_not_called_a_file():
    with pytest.raises(NotADirectoryError, match=r"'/dev/null' is a character device, not a"):
        load_kdef("/dev/null")


def test_a_named_pipe_among_the_images_is_reported_not_opened(kdef_tree):
    import os

    fifo = kdef_tree.root / "AF02" / "AF02NES.JPG"
    fifo.parent.mkdir(exist_ok=True)
    os.mkfifo(fifo)  # opening it would block for ever
    assert damage_reason(str(fifo)) == "a named pipe (FIFO), not an image file"


def test_all_angles_and_view_sets_across_angles(make_kdef_tree):
    from sk3dface.datasets import make_kdef_view_sets

    tree = make_kdef_tree(expressions=["NE", "HA"], angles=["FL", "HL", "S", "HR", "FR"])
    kdef = load_quietly(tree.root, angles="all")
    assert set(kdef.angle) == {"full_left", "half_left", "straight", "half_right", "full_right"}
    np.testing.assert_array_equal(load_quietly(tree.root, angles=None).images, kdef.images)
    samples, labels = make_kdef_view_sets(kdef)
    # one sample per (person, session, expression), its views in FL, HL, S, HR, FR order
    assert (
        len(samples)
        == len(labels)
        == kdef.frame.groupby(["subject", "session", "expression"]).ngroups
    )
    assert list(labels.columns) == ["subject", "gender", "expression", "session"]
    angle_of = dict(zip(kdef.images, kdef.angle, strict=True))
    full = [views for views in samples if None not in views]
    assert full
    for views in full:
        assert [angle_of[v] for v in views] == [
            "full_left", "half_left", "straight", "half_right", "full_right"
        ]  # fmt: skip
    for views, (subject, _, expression, session) in zip(
        samples, labels.itertuples(False), strict=True
    ):
        for view in views:
            if view is not None:
                row = kdef.frame[kdef.frame.image == view].iloc[0]
                assert (row.subject, row.expression, row.session) == (subject, expression, session)
    # a subset of the angles, in the order asked; a sitting without any of them is dropped
    samples, _ = make_kdef_view_sets(kdef, angles=["straight", "FL"])
    assert all(len(views) == 2 for views in samples)
    assert all(views[0] is None or angle_of[views[0]] == "straight" for views in samples)
    with pytest.raises(ValueError, match="Unknown angles 'up'"):
        make_kdef_view_sets(kdef, angles=["up"])
