"""Every example script runs headless and writes its figure."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    out = tmp_path / f"{script.stem}.png"
    subprocess.run([sys.executable, str(script), str(out)], check=True, timeout=600)
    assert out.stat().st_size > 10_000
