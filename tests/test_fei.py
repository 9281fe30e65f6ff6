"""load_fei on fake trees with the FEI Face Database's real file names and layouts."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk3dface.datasets import load_fei
from sk3dface.datasets._fei import FEI_POSES, read_gender_table


def load_quietly(root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_fei(root, **kwargs)


def test_original_layout_gives_paths_subjects_poses_and_unknown_gender(fei_tree):
    with pytest.warns(UserWarning) as record:
        fei = load_fei(fei_tree.root)
    messages = " | ".join(str(w.message) for w in record)
    assert {w.filename for w in record} == {__file__}  # the warnings point at the caller
    assert "names do not follow the FEI scheme" in messages and "1-01 (1).jpg" in messages
    assert "2 damaged FEI image(s) excluded: 5-11.jpg (all black), 5-12.jpg" in messages

    assert len(fei.images) == len(fei_tree.good) == 4 * 14
    assert set(fei.images) == {str(p) for p in fei_tree.good}
    assert list(fei.frame.columns) == ["image", "subject", "pose", "gender"]
    assert fei.subject.dtype == np.int64 and set(fei.subject) == {1, 2, 3, 4}
    assert sorted(set(fei.pose)) == [f"{i:02d}" for i in range(1, 15)]
    assert set(fei.gender) == {"unknown"}
    first = fei.frame.iloc[0]
    assert (first.subject, first.pose) == (1, "01")
    assert Path(first.image).parts[-2:] == ("originalimages_part1", "1-01.jpg")
    assert {p for p, _ in fei.damaged} == {str(fei_tree.black), str(fei_tree.empty)}
    assert "publish no per-subject list" in fei.DESCR and "56 images of 4 subjects" in fei.DESCR


def test_subjects_above_50_are_found_in_later_parts(make_fei_tree):
    tree = make_fei_tree(subjects=[50, 51, 200], poses=[11], damaged=False, unparseable=False)
    fei = load_fei(tree.root)
    parts = {s: Path(p).parent.name for s, p in zip(fei.subject, fei.images, strict=True)}
    assert parts == {
        50: "originalimages_part1",
        51: "originalimages_part2",
        200: "originalimages_part4",
    }


def test_pose_and_subject_filters(fei_tree):
    fei = load_quietly(fei_tree.root, poses=[11, "12", "1"], subjects=[2, "3"])
    assert fei.frame[["subject", "pose"]].values.tolist() == [
        [2, "01"], [2, "11"], [2, "12"], [3, "01"], [3, "11"], [3, "12"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("poses", [15], r"Unknown poses 15; valid poses are 1-14 \(original images\) and 'a'"),
        ("subjects", [0, 201], "Unknown subjects 0, 201; valid subjects are 1-200"),
        ("subset", "aligned", "subset must be one of 'auto', 'original', 'frontal'"),
    ],
)
def test_bad_options_say_what_is_valid(fei_tree, option, value, message):
    with pytest.raises(ValueError, match=message):
        load_fei(fei_tree.root, **{option: value})


def test_frontal_pose_on_original_images_says_what_exists(fei_tree):
    with pytest.raises(ValueError, match=r"No FEI image matches.*'pose': \['01', '02'"):
        load_quietly(fei_tree.root, poses=["a"])


def test_gender_from_a_table_in_every_accepted_form(fei_tree, tmp_path):
    genders = {1: "female", 2: "male", 3: "female", 4: "male"}
    csv = tmp_path / "fei_gender.csv"
    csv.write_text("subject,gender\n1,F\n2,M\n3,woman\n4,Male\n")
    frame = pd.DataFrame({"subject": ["1", "2", "3", "4"], "gender": ["f", "m", "f", "m"]})
    for table in (genders, csv, str(csv), frame):
        fei = load_quietly(fei_tree.root, gender_table=table)
        assert dict(zip(fei.subject, fei.gender, strict=True)) == genders
        assert "user-supplied gender_table" in fei.DESCR


def test_partial_gender_table_leaves_unknown_and_warns(fei_tree):
    with pytest.warns(UserWarning) as record:
        fei = load_fei(fei_tree.root, gender_table={1: "F", 2: np.nan, 3: None})
    assert any("no label for 3 subject(s) (2, 3, 4)" in str(w.message) for w in record)
    assert dict(zip(fei.subject, fei.gender, strict=True)) == {
        1: "female",
        2: "unknown",
        3: "unknown",
        4: "unknown",
    }


@pytest.mark.parametrize(
    ("table", "error", "message"),
    [
        ({1: "x"}, ValueError, "gender 'x' of subject 1 is not one of 'female', 'male'"),
        ({"one": "F"}, ValueError, "subject 'one' is not a subject number"),
        (pd.DataFrame({"id": [1], "sex": ["F"]}), ValueError, "needs columns 'subject' and"),
        (pd.DataFrame({"subject": [1, 1], "gender": ["F", "M"]}), ValueError, "both 'female'"),
        ([("1", "F")], TypeError, "gender_table must be a dict"),
        ("no/such/table.csv", ValueError, "Cannot read the FEI gender table"),
    ],
)
def test_bad_gender_tables_are_explained(table, error, message):
    with pytest.raises(error, match=message):
        read_gender_table(table)


def test_frontal_subsets_never_mix_with_originals(make_fei_tree):
    tree = make_fei_tree(subjects=[1, 2], poses=[11, 12], frontal=True)
    with pytest.warns(UserWarning) as record:
        auto = load_fei(tree.root)
    assert any("loaded the originals only" in str(w.message) for w in record)
    assert set(auto.pose) == {"11", "12"}

    frontal = load_quietly(tree.root, subset="frontal")
    assert frontal.frame[["subject", "pose"]].values.tolist() == [
        [1, "a"],
        [1, "b"],
        [2, "a"],
        [2, "b"],
    ]
    assert all(Path(p).parent.name == "frontalimages_manuallyaligned" for p in frontal.images)
    assert load_quietly(tree.root, subset="frontal", poses="b").frame.pose.tolist() == ["b", "b"]


def test_frontal_only_tree_is_found_automatically(make_fei_tree):
    tree = make_fei_tree(subjects=[7], poses=[], frontal=True, damaged=False, unparseable=False)
    fei = load_fei(tree.root)
    assert fei.frame[["subject", "pose"]].values.tolist() == [[7, "a"], [7, "b"]]
    with pytest.raises(ValueError, match=r"found only frontal images\. Pass subset='frontal'"):
        load_fei(tree.root, subset="original")


def test_wrong_root_and_non_fei_files(tmp_path, make_fei_tree):
    with pytest.raises(FileNotFoundError, match=r"FEI root .* does not exist"):
        load_fei(tmp_path / "missing")
    tree = make_fei_tree(subjects=[1], poses=[1], damaged=False, unparseable=False)
    for bad in ["1-15.jpg", "0-01.jpg", "201-01.jpg", "1c.jpg"]:
        (tree.root / bad).write_bytes(tree.good[0].read_bytes())
    with pytest.warns(UserWarning, match="Ignored 4 image file"):
        fei = load_fei(tree.root)
    assert fei.images.tolist() == [str(tree.good[0])]
    for path in tree.good:
        path.unlink()
    with pytest.raises(ValueError, match=r"found 4 image file.*none of them named like '<subject>"):
        load_fei(tree.root)


def test_pose_table_covers_every_pose():
    assert list(FEI_POSES) == [f"{i:02d}" for i in range(1, 15)] + ["a", "b"]


def test_binary_gender_table_names_the_file(tmp_path):
    table = tmp_path / "genders.csv"
    table.write_bytes(b"subject,gender\n\xff\xfe\x00\x81\xd2binary")
    with pytest.raises(ValueError, match=r"genders\.csv'?: it is not UTF-8 text") as info:
        read_gender_table(table)
    assert not isinstance(info.value, UnicodeDecodeError)


def test_gender_table_without_columns_names_the_file(tmp_path):
    table = tmp_path / "genders.csv"
    table.write_text("id,sex\n1,F\n")
    with pytest.raises(ValueError, match=r"genders\.csv' needs columns 'subject' and 'gender'"):
        read_gender_table(table)


def test_root_that_is_a_named_pipe_is_called_one(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotADirectoryError, match=r"is a named pipe \(FIFO\), not a folder"):
        load_fei(tmp_path / "pipe")
    with pytest.raises(TypeError, match="FEI root must be a folder path"):
        load_fei(None)
