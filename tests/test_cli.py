"""The ``sk3dface`` command line, end to end on real photos and fake data-set trees."""

from pathlib import Path

import pandas as pd
import pytest
from matplotlib import cbook

from sk3dface.cli import main

GRACE = str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def test_landmarks_writes_csv_and_plot(tmp_path):
    out = tmp_path / "landmarks.csv"
    assert main(["landmarks", GRACE, "--out", str(out), "--plot", str(tmp_path / "plots")]) == 0
    frame = pd.read_csv(out)
    assert frame.shape == (1, 1 + 136)
    assert frame.loc[0, "image"] == GRACE
    assert frame.iloc[0, 1:].notna().all()
    assert (tmp_path / "plots" / "grace_hopper.png").stat().st_size > 0


def test_landmarks_prints_csv_to_stdout(capsys):
    assert main(["landmarks", GRACE]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("image,v0_x0,v0_y0,v0_x1")


def test_missing_image_is_exit_1_with_message(tmp_path, capsys):
    missing = tmp_path / "nope.jpg"
    assert main(["landmarks", str(missing)]) == 1
    assert f"no such image file: {missing}" in capsys.readouterr().err


def test_fit_writes_coefficients(tmp_path):
    out = tmp_path / "coeffs.csv"
    assert main(["fit", GRACE, GRACE, "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 2
    assert {"v0_alpha_0", "v0_beta_0", "v0_yaw", "v0_residual"} <= set(frame.columns)
    assert frame["v0_residual"].between(0, 20).all()


def test_fit_view_set_is_one_row(tmp_path):
    out = tmp_path / "coeffs.csv"
    assert main(["fit", GRACE, GRACE, "--view-set", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 1 and "v1_alpha_0" in frame.columns


def test_fit_unknown_model_format_is_exit_1(tmp_path, capsys):
    bogus = tmp_path / "model.txt"
    bogus.write_text("not a model")
    assert main(["fit", GRACE, "--model", str(bogus), "--out", str(tmp_path / "c.csv")]) == 1
    assert "model.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "kdef", "{missing}", "--task", "identity"], "is not a folder"),
        (["evaluate", "fei", "{root}", "--task", "identity"], "not available for fei"),
    ],
)
def test_evaluate_bad_data_is_exit_1(tmp_path, capsys, argv, message):
    argv = [a.format(missing=tmp_path / "none", root=tmp_path) for a in argv]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_bad_arguments_are_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "lfw", "root", "--task", "identity"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'lfw'" in capsys.readouterr().err


def test_evaluate_kdef_identity_end_to_end(make_kdef_tree, capsys, tmp_path):
    tree = make_kdef_tree(subjects=("F01", "M02", "F03"), expressions=("HA", "NE"))
    argv = [
        "evaluate",
        "kdef",
        str(tree.root),
        "--task",
        "identity",
        "--classifier",
        "svc",
        "--n-splits",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(argv) == 0
    report = capsys.readouterr().out
    assert "KDEF identity: 3 people" in report
    assert "images without a face: 0 " in report
    accuracy = float(report.split("accuracy: ")[1].split()[0])
    assert accuracy > 1 / 3  # better than chance on three distinct faces
    for subject in ("F01", "M02", "F03"):
        assert subject in report  # the per-class table
    # the landmark cache was written and is reused
    assert any(Path(tmp_path / "cache").rglob("output.pkl"))
    assert main(argv) == 0


def test_evaluate_kdef_expression_with_resnet(make_kdef_tree, capsys):
    tree = make_kdef_tree(subjects=("F01", "M02"), expressions=("HA", "NE"), angles=("S",))
    argv = [
        "evaluate",
        "kdef",
        str(tree.root),
        "--task",
        "expression",
        "--n-splits",
        "2",
        "--max-epochs",
        "2",
    ]
    assert main(argv) == 0
    report = capsys.readouterr().out
    assert "subject-disjoint" in report and "happy" in report and "neutral" in report


def test_evaluate_fei_gender_needs_labels(make_fei_tree, capsys, tmp_path):
    tree = make_fei_tree(subjects=(1, 2, 3, 4), poses=range(3, 9))
    assert main(["evaluate", "fei", str(tree.root), "--task", "gender"]) == 1
    assert "gender_table" in capsys.readouterr().err
    table = tmp_path / "gender.csv"
    table.write_text("subject,gender\n1,female\n2,male\n3,female\n4,male\n")
    argv = [
        "evaluate",
        "fei",
        str(tree.root),
        "--task",
        "gender",
        "--gender-table",
        str(table),
        "--classifier",
        "svc",
        "--n-splits",
        "2",
    ]
    assert main(argv) == 0
    assert "FEI gender: 4 people" in capsys.readouterr().out
