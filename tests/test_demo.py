"""The main job: ``sk3dface demo --quick`` end to end (about a minute on 2 cores)."""

import pandas as pd

from sk3dface.cli import main


def test_quick_demo_writes_table_and_plots(tmp_path, capsys):
    out, cache = tmp_path / "demo", tmp_path / "cache"
    argv = ["demo", "--quick", "--out", str(out), "--cache-dir", str(cache), "--n-jobs", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "done in" in printed
    results = pd.read_csv(out / "results.csv")
    scored = results[results["chance"].notna()]
    assert len(scored) == 7 and scored["accuracy"].between(0, 1).all()
    assert (scored["accuracy"] > scored["chance"]).all(), results  # every classifier beats chance
    assert scored["std"].notna().all()
    notes = results[results["chance"].isna()]
    assert notes["note"].str.contains("alpha r .* guessing 0|reprojection RMS").all()
    # --cache-dir is Pipeline(memory=...): the fitting steps of the CV were cached
    assert any(cache.rglob("*_fit_transform_one*"))
    assert results["experiment"].str.contains("GridSearchCV").any()
    assert results["experiment"].str.startswith("landmarks + fit: grace_hopper").any()
    for plot in ("confusion_matrix.png", "landmarks_and_shapes.png"):
        assert (out / plot).stat().st_size > 10_000
    assert len(list((out / "synthetic_images").glob("*.png"))) == 4 * 3 * 6
