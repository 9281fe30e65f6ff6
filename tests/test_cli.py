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


def test_a_bad_image_does_not_lose_the_others(tmp_path, capsys):
    missing, out = tmp_path / "nope.jpg", tmp_path / "landmarks.csv"
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")  # unreadable
    argv = ["landmarks", str(missing), GRACE, str(empty), "--out", str(out)]
    assert main([*argv, "--plot", str(tmp_path / "plots")]) == 1  # partial failure
    err = capsys.readouterr().err
    assert f"{missing}: Cannot read image" in err and "no such file" in err
    assert str(empty) in err and "2 of 3 image(s) gave no landmarks" in err
    frame = pd.read_csv(out)
    assert frame["image"].tolist() == [str(missing), GRACE, str(empty)]
    assert frame.iloc[1, 1:].notna().all() and frame.iloc[[0, 2], 1:].isna().all().all()
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["grace_hopper.png"]


def test_no_usable_image_is_exit_1(tmp_path, capsys):
    assert main(["landmarks", str(tmp_path / "nope.jpg")]) == 1
    assert "none of the 1 image(s) gave landmarks" in capsys.readouterr().err


def test_landmark_cache_is_used(tmp_path, capsys):
    cache = tmp_path / "cache"
    argv = ["landmarks", GRACE, "--cache-dir", str(cache)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert len(list(cache.rglob("output.pkl"))) == 1
    assert main([*argv, "--n-jobs", "2"]) == 0  # jobs do not change the result: same entry
    assert capsys.readouterr().out == first
    assert len(list(cache.rglob("output.pkl"))) == 1


def test_same_file_names_in_two_folders_get_two_plots(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "face.jpg").write_bytes(Path(GRACE).read_bytes())
    images = [str(tmp_path / folder / "face.jpg") for folder in ("a", "b")]
    argv = ["landmarks", *images, "--out", str(tmp_path / "l.csv"), "--plot", str(tmp_path / "p")]
    assert main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["face.png", "face_1.png"]


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


@pytest.mark.parametrize(
    ("model", "message"),
    [("model.txt", "model.txt"), ("missing.npz", "model file not found")],
)
def test_fit_bad_model_is_exit_1_before_reading_images(tmp_path, capsys, model, message):
    (tmp_path / "model.txt").write_text("not a model")
    argv = ["fit", str(tmp_path / "no.jpg"), "--model", str(tmp_path / model)]
    assert main([*argv, "--out", str(tmp_path / "c.csv")]) == 1
    err = capsys.readouterr().err
    assert message in err and "no.jpg" not in err  # the model failed first


def test_fit_out_folder_must_exist(tmp_path, capsys):
    assert main(["fit", GRACE, "--out", str(tmp_path / "no" / "c.csv")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "kdef", "{missing}", "--task", "identity"], "is not a folder"),
        (["evaluate", "kdef", "{root}", "--task", "identity"], "{root}"),
        (
            ["evaluate", "kdef", "{kdef}", "--task", "identity", "--model", "{missing}"],
            "model file not found",
        ),
        (
            ["evaluate", "fei", "{fei}", "--task", "gender", "--gender-table", "{missing}"],
            "Cannot read the FEI gender table",
        ),
    ],
)
def test_evaluate_bad_data_is_exit_1(tmp_path, capsys, kdef_tree, fei_tree, argv, message):
    where = dict(missing=tmp_path / "none", root=tmp_path, kdef=kdef_tree.root, fei=fei_tree.root)
    argv = [a.format(**where) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("sk3dface evaluate: error: ") and message.format(**where) in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "lfw", "root", "--task", "identity"], "invalid choice: 'lfw'"),
        (["evaluate", "fei", "root", "--task", "identity"], "not available for fei"),
        (["evaluate", "kdef", "r", "--task", "identity", "--gender-table", "g.csv"], "only"),
        (["evaluate", "kdef", "r", "--task", "identity", "--n-splits", "1"], "at least 2"),
        (["evaluate", "kdef", "r", "--task", "identity", "--max-epochs", "0"], "at least 1"),
        (["evaluate", "kdef", "r", "--task", "identity", "--n-jobs", "0"], "-1 (all cores)"),
        (["landmarks", "a.jpg", "--n-jobs", "two"], "expected an integer, got 'two'"),
        (["landmarks", "a.jpg", "--upsample", "-1"], "at least 0"),
        (["fit", "a.jpg"], "--out"),
        (["demo", "--random-state", "-3"], "at least 0"),
    ],
)
def test_bad_arguments_are_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


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
        "--n-jobs",
        "2",
    ]
    assert main(argv) == 0
    report = capsys.readouterr().out
    assert "KDEF identity: 3 people" in report
    assert "images without landmarks: 0\n" in report
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
    assert main([*argv, "--verbose"]) == 0
    captured = capsys.readouterr()
    report = captured.out
    assert "subject-disjoint" in report and "happy" in report and "neutral" in report
    assert "sk3dface evaluate: fold 2/2: accuracy" in captured.err  # progress per fold
    assert "train_loss" in captured.err  # and skorch's epoch table, through the log


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


def test_keyboard_interrupt_is_exit_130(monkeypatch, capsys):
    from sk3dface import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "landmarks", interrupted)
    assert main(["landmarks", GRACE]) == 130
    assert "sk3dface landmarks: interrupted" in capsys.readouterr().err


def test_interrupting_the_demo_training_stops_the_demo(monkeypatch, tmp_path, capsys):
    """Ctrl-C in a ResNet's second epoch: no results table, exit 130 (skorch swallowed it)."""
    import skorch

    from sk3dface import ResNetClassifier
    from sk3dface.protocols import _demo

    class InterruptInEpoch2(skorch.callbacks.Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    def resnet(depth, epochs, random_state):
        return ResNetClassifier(
            depth=8, width=8, max_epochs=epochs, random_state=random_state,
            callbacks=[InterruptInEpoch2()],
        )  # fmt: skip

    monkeypatch.setattr(_demo, "_resnet", resnet)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--n-jobs", "1"]) == 130
    assert "sk3dface demo: interrupted" in capsys.readouterr().err
    assert not (out / "results.csv").exists()


@pytest.mark.parametrize("content", [b"", b"not a zip archive", "truncated"])
def test_fit_with_a_corrupt_npz_model_is_one_line_and_exit_1(tmp_path, capsys, content):
    from sk3dface import make_default_model

    model = tmp_path / "bad.npz"
    if content == "truncated":
        make_default_model().save(model)
        content = model.read_bytes()[:-300]
    model.write_bytes(content)
    argv = ["fit", GRACE, "--model", str(model), "--out", str(tmp_path / "c.csv")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sk3dface fit: error: {model}: not a readable .npz archive")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture
def no_detection(monkeypatch):
    """Fail the test if any image is read: output problems must be found first."""
    import sk3dface.cli

    def detect(*args, **kwargs):
        raise AssertionError("detection ran before the output was checked")

    monkeypatch.setattr(sk3dface.cli, "_detect", detect)
    monkeypatch.setattr("sk3dface.protocols._demo.run_demo", detect)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["landmarks", GRACE, "--out", "/proc/x.csv"], "cannot write --out /proc/x.csv"),
        (["fit", GRACE, "--out", "/proc/x.csv"], "cannot write --out /proc/x.csv"),
        (["landmarks", GRACE, "--out", "{tmp}"], "is an existing folder"),
        (["landmarks", GRACE, "--plot", "{file}"], "is an existing file, not a folder"),
        (["landmarks", GRACE, "--plot", "{file}/sub"], "is an existing file, not a folder"),
        (["landmarks", GRACE, "--plot", "/proc/plots"], "cannot create or write --plot"),
        (["demo", "--out", "{file}"], "--out {file}: it is an existing file, not a folder"),
        (["demo", "--out", "/proc/demo"], "cannot create or write --out /proc/demo"),
        (["landmarks", GRACE, "--cache-dir", "{file}"], "--cache-dir {file}: it is an existing"),
        (
            ["evaluate", "kdef", "{tmp}", "--task", "identity", "--cache-dir", "{file}"],
            "--cache-dir {file}: it is an existing file",
        ),
    ],
)
def test_unwritable_outputs_fail_before_any_work(tmp_path, capsys, no_detection, argv, message):
    file = tmp_path / "a_file"
    file.write_text("x")
    where = dict(tmp=tmp_path, file=file)
    assert main([a.format(**where) for a in argv]) == 1
    err = capsys.readouterr().err
    assert message.format(**where) in err and "Errno" not in err
    assert len(err.strip().splitlines()) == 1
    assert file.read_text() == "x"  # left alone


def test_checking_out_leaves_no_file_behind(tmp_path, monkeypatch):
    import sk3dface.cli

    def detect(args, images):
        assert not (tmp_path / "c.csv").exists()  # the check removed its probe
        raise sk3dface.cli.CommandError("stop here")

    monkeypatch.setattr(sk3dface.cli, "_detect", detect)
    assert main(["landmarks", GRACE, "--out", str(tmp_path / "c.csv")]) == 1
    assert not (tmp_path / "c.csv").exists()


def test_version(capsys):
    from sk3dface import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sk3dface {__version__}"


def _photo_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.jpg", "a.jpg", "sub/c.jpg"):
        (folder / name).write_bytes(Path(GRACE).read_bytes())
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_landmarks_folder_as_json_lines_on_stdout(tmp_path, capsys):
    import json

    folder = _photo_folder(tmp_path)
    assert main(["landmarks", str(folder), "--format", "json", "--out", "-"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [r["image"] for r in records] == [str(folder / "a.jpg"), str(folder / "b.jpg")]
    assert len(records[0]) == 1 + 136 and isinstance(records[0]["v0_x0"], float)
    assert not (Path.cwd() / "-").exists()  # '-' is standard output, not a file named '-'


def test_landmarks_recursive_glob_and_inferred_parquet(tmp_path, capsys):
    folder = _photo_folder(tmp_path)
    out = tmp_path / "l.parquet"
    assert main(["landmarks", str(folder), "--recursive", "--out", str(out)]) == 0
    assert pd.read_parquet(out)["image"].tolist()[-1] == str(folder / "sub" / "c.jpg")
    assert main(["landmarks", str(folder / "*.jpg"), "--out", str(tmp_path / "g.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "g.csv")) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["landmarks", "{tmp}/*.png"], "matches no file"),
        (["landmarks", "{empty}"], "holds no image files"),
        (["landmarks", GRACE, "--format", "parquet"], "cannot go to standard output"),
    ],
)
def test_inputs_matching_nothing_are_exit_1(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    argv = [a.format(tmp=tmp_path, empty=tmp_path / "empty") for a in argv]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_parquet_without_pyarrow_names_the_package(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyarrow" else find_spec(name, *a),
    )
    assert main(["landmarks", GRACE, "--out", str(tmp_path / "l.parquet")]) == 1
    assert "needs the pyarrow package" in capsys.readouterr().err


def test_evaluate_writes_a_json_report(make_kdef_tree, tmp_path, capsys):
    import json

    tree = make_kdef_tree(subjects=("F01", "M02", "F03"), expressions=("HA", "NE"))
    out = tmp_path / "report.json"
    argv = ["evaluate", "kdef", str(tree.root), "--task", "identity", "--classifier", "svc"]
    assert main([*argv, "--n-splits", "2", "--out", str(out), "--verbose"]) == 0
    report = json.loads(out.read_text())
    assert report["task"] == "identity" and report["parameters"]["classifier"] == "svc"
    assert len(report["folds"]) == 2
    assert report["accuracy"]["mean"] == pytest.approx(
        sum(f["accuracy"] for f in report["folds"]) / 2
    )
    assert {"F01", "M02", "F03"} <= set(report["per_class"])
    assert set(report["per_class"]["F01"]) == {"precision", "recall", "f1-score", "support"}
    matrix = report["confusion_matrix"]
    assert sum(map(sum, matrix["matrix"])) == report["n_samples"]
    err = capsys.readouterr().err
    assert "sk3dface evaluate: identity: accuracy" in err  # -v: INFO lines on stderr


def test_warnings_are_one_line_without_source(tmp_path, capsys, monkeypatch):
    import warnings

    from sk3dface import cli
    from sk3dface.exceptions import FailedSamplesWarning

    def warns(args):
        warnings.warn("3 of 40 images failed: x.jpg", FailedSamplesWarning, stacklevel=1)
        return 0

    monkeypatch.setitem(cli.COMMANDS, "landmarks", warns)
    assert main(["landmarks", GRACE]) == 0
    err = capsys.readouterr().err
    assert err == (
        "sk3dface landmarks: warning: 3 of 40 images failed: x.jpg (FailedSamplesWarning)\n"
    )
    assert main(["landmarks", GRACE, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_evaluate_plot_saves_the_confusion_matrix(make_kdef_tree, capsys, tmp_path):
    from PIL import Image

    tree = make_kdef_tree(
        subjects=("F01", "M02"), expressions=("HA", "NE"), damaged=False, unparseable=False
    )
    plot = tmp_path / "confusion.png"
    argv = ["evaluate", "kdef", str(tree.root), "--task", "identity", "--classifier", "svc"]
    assert main([*argv, "--n-splits", "2", "--plot", str(plot)]) == 0
    assert f"saved the confusion matrix to {plot}" in capsys.readouterr().out
    with Image.open(plot) as image:
        assert image.format == "PNG" and min(image.size) > 200
    # an output that cannot be written fails before any image is read
    assert main([*argv, "--plot", str(tmp_path / "no" / "cm.png")]) == 1
    assert "cannot write --plot" in capsys.readouterr().err


def test_landmarks_with_the_learned_back_end(tmp_path, capsys):
    import json

    from sk3dface.landmarks._tddfa import write_random_files

    files = write_random_files(tmp_path / "tddfa")  # a random network: real shapes, real API
    argv = ["landmarks", GRACE, "--format", "json", "--out", "-", "--tddfa"]
    argv += [str(files["checkpoint"]), str(files["normalization"]), str(files["model"])]
    assert main(argv) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert len(record) == 1 + 136 and all(isinstance(record[f"v0_x{i}"], float) for i in range(68))


def test_a_missing_tddfa_file_is_exit_1_naming_it(tmp_path, capsys):
    from sk3dface.landmarks._tddfa import write_random_files

    files = write_random_files(tmp_path / "tddfa")
    missing = tmp_path / "no_such.pth"
    argv = ["landmarks", GRACE, "--tddfa", str(missing), str(files["normalization"]),
            str(files["model"])]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("sk3dface landmarks: error:") and "no_such.pth" in err


def test_evaluate_passes_the_face_back_end_to_the_protocol(make_kdef_tree, monkeypatch, capsys):
    import sk3dface.protocols

    seen = {}

    def run_protocol(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before any work: only the wiring is under test

    monkeypatch.setattr(sk3dface.protocols, "run_protocol", run_protocol)
    tree = make_kdef_tree(subjects=("F01", "M02"))
    argv = ["evaluate", "kdef", str(tree.root), "--task", "expression"]
    assert main(argv) == 130 and seen["backend"] is None  # the protocols' own default
    assert main([*argv, "--detector", "cnn", "--upsample", "1"]) == 130
    assert (seen["backend"].detector, seen["backend"].upsample) == ("cnn", 1)
