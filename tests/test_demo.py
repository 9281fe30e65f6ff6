"""The main job: ``sk3dface demo --quick`` end to end (about a minute on 2 cores)."""

import pandas as pd

from sk3dface.cli import main


def test_quick_demo_writes_table_and_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "done in" in printed
    results = pd.read_csv(out / "results.csv")
    scored = results[results["chance"].notna()]
    accuracy = scored["accuracy"].str.split(" ± ").str[0].astype(float)
    assert (accuracy > scored["chance"]).all(), results  # every classifier beats chance
    assert results["experiment"].str.contains("GridSearchCV").any()
    assert results["experiment"].str.startswith("landmarks + fit: grace_hopper").any()
    for plot in ("confusion_matrix.png", "landmarks_and_shapes.png"):
        assert (out / plot).stat().st_size > 10_000
    assert len(list((out / "synthetic_images").glob("*.png"))) == 4 * 3 * 6
