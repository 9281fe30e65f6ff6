"""Compare classifier back ends on 3DMM coefficients: ResNet vs SVC vs error-correcting SVC.

One pipeline — landmarks → :class:`sk3dface.MorphableCoefficientExtractor` →
:class:`sk3dface.MultiViewAggregator` → :class:`sk3dface.CoefficientSelector` (beta) →
``StandardScaler`` → classifier — is cross-validated with interchangeable final steps:
:class:`sk3dface.ResNetClassifier` (skorch), ``sklearn.svm.SVC`` and
``OutputCodeClassifier(SVC())`` (the DeepExp3D back end). Swapping them is one
``set_params(clf=...)`` call.

The data are 7-class synthetic expressions from :func:`sk3dface.datasets.make_synthetic_faces`
(3 views per sample, 2 px landmark noise); with real data, put ``FaceLandmarker`` first.

Usage: ``python examples/plot_classifier_backends.py [out.png]``
"""

import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.multiclass import OutputCodeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk3dface import (
    CoefficientSelector,
    MorphableCoefficientExtractor,
    MultiViewAggregator,
    ResNetClassifier,
)
from sk3dface.datasets import make_synthetic_faces
from sk3dface.exceptions import FailedSamplesWarning

EXPRESSIONS = np.array(["afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised"])


def make_landmarks():
    """Landmarks of 10 synthetic people x 7 expressions x 6 repeats, 3 views each."""
    faces = make_synthetic_faces(
        n_subjects=10,
        n_views=3,
        n_expressions=7,
        n_repeats=6,
        noise=2.0,
        expression_jitter=0.7,
        yaw_range=(-30.0, 30.0),
        missing_rate=0.1,
        random_state=0,
    )
    return faces.X, EXPRESSIONS[faces.expression]


def main(out: Path) -> None:
    warnings.simplefilter("ignore", FailedSamplesWarning)  # the views made missing on purpose
    X, y = make_landmarks()
    pipe = Pipeline(
        [
            ("extractor", MorphableCoefficientExtractor()),
            ("aggregator", MultiViewAggregator()),
            ("selector", CoefficientSelector("beta")),
            ("scale", StandardScaler()),
            ("clf", SVC()),
        ]
    ).set_output(transform="pandas")
    back_ends = {
        "ResNet-8": ResNetClassifier(depth=8, random_state=0),
        "ResNet-34": ResNetClassifier(depth=34, max_epochs=40, random_state=0),
        "SVC (RBF)": SVC(C=10),
        "OutputCode(SVC)": OutputCodeClassifier(SVC(C=10), code_size=2, random_state=0),
    }
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = {}
    for name, clf in back_ends.items():
        scores[name] = cross_val_score(pipe.set_params(clf=clf), X, y, cv=cv)
        print(f"{name:<16} accuracy {scores[name].mean():.3f} ± {scores[name].std():.3f}")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(scores)
    means = [scores[n].mean() for n in names]
    ax.bar(names, means, yerr=[scores[n].std() for n in names], capsize=4, color="tab:blue")
    ax.axhline(1 / 7, color="gray", linestyle="--", label="chance (7 classes)")
    for i, name in enumerate(names):
        ax.text(i, means[i] + scores[name].std() + 0.02, f"{means[i]:.2f}", ha="center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("3-fold CV accuracy")
    ax.set_title("Expression from beta: classifier back ends (synthetic faces)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "backends.png"
    main(target)
