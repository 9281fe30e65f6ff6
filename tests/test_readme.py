"""The README's example fits, predicts and pickles the whole pipeline from images."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_pipeline_fits_predicts_and_pickles():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    pipe, samples, y = namespace["pipe"], namespace["samples"], namespace["y"]
    assert pipe.predict(samples).tolist() == y.tolist()  # it can learn its training set
    assert list(pipe[:-1].get_feature_names_out())[:2] == ["alpha_0", "alpha_1"]
