"""Compare classifier back ends on coefficient vectors: ResNet vs SVC vs error-correcting SVC.

The same pipeline (``StandardScaler`` then a classifier) is cross-validated with
three interchangeable final steps: :class:`sk3dface.ResNetClassifier` (skorch),
``sklearn.svm.SVC``, and ``OutputCodeClassifier(SVC())`` (the DeepExp3D back end).
Swapping them is one ``set_params(clf=...)`` call.

The data are coefficient-like vectors from ``make_classification`` (80 features,
7 classes such as the 7 KDEF expressions); replace ``make_features`` with the
real landmark -> coefficient pipeline to compare on faces.

Usage: ``python examples/plot_classifier_backends.py [out.png]``
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.multiclass import OutputCodeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk3dface import ResNetClassifier


def make_features():
    """Coefficient-like features: 80 dims (e.g. 80 alpha), 7 classes."""
    X, y = make_classification(
        n_samples=1050,
        n_features=80,
        n_informative=25,
        n_redundant=10,
        n_classes=7,
        n_clusters_per_class=2,
        class_sep=1.5,
        random_state=0,
    )
    expressions = np.array(["afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised"])
    return X, expressions[y]


def main(out: Path) -> None:
    X, y = make_features()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
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
    ax.set_title("Classifier back ends on 80-dim coefficient-like vectors")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "backends.png"
    main(target)
