"""The pipeline shown at the top of the README runs as written, end to end from images."""

import pickle
import re
from pathlib import Path

import numpy as np

from sk3dface.datasets import make_synthetic_face_images

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_pipeline_fits_predicts_and_pickles():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    pipe = namespace["pipe"]
    faces = make_synthetic_face_images(2, 1, 6, random_state=0)
    # two view sets of three images per synthetic person
    samples = [tuple(faces.images[i : i + 3]) for i in range(0, 12, 3)]
    y = faces.subject[::3]
    pipe.set_params(resnetclassifier__max_epochs=30, resnetclassifier__random_state=0)
    pipe.fit(samples, y)
    assert pipe.predict(samples).tolist() == y.tolist()  # it can learn its training set
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(restored.predict_proba(samples), pipe.predict_proba(samples))
