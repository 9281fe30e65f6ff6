"""Training cost of the coefficient ResNet vs the raw-image ResNet baseline, on CPU.

Prints milliseconds per input per epoch (the median of skorch's per-epoch timer
divided by the number of training inputs) and the ratio to the coefficient
ResNet-34. Targets: coefficient model <= 1 ms/input/epoch and >= 10x faster than
the image model. Image preprocessing (loading, face detection, cropping) happens
once per fit and is timed separately, per image, on the real photos we ship with.

With the real photo sets of ``../shared/datasets`` present (next to the repository,
or ``$SK3DFACE_DATASETS``),
it then compares the default ``ResNetClassifier`` with ``SVC`` and
``LogisticRegression(C=1)`` (both after ``StandardScaler``) on ``FrontalShape``
features, with the protocols of docs/classifiers.md, printing accuracies, the
ResNet's gap to the best of the two, and wall/CPU seconds of each 10-fold CV. The
landmarks are computed once with ``FaceLandmarker`` and cached under ``--cache``
(outside the repository: those data must never be copied into it). Without the
data sets that part is skipped with a message.

Usage: python benchmarks/classifiers.py [--epochs 3] [--n-images 192] [--threads N]
       [--cache ~/.cache/sk3dface-benchmarks] [--no-real] [--only-real]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sklearn.datasets import make_classification

from sk3dface import ImageResNetClassifier, ResNetClassifier

# ../shared/datasets next to the repository, or $SK3DFACE_DATASETS
DATASETS = os.environ.get(
    "SK3DFACE_DATASETS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets"),
)
TAIWANESE_EXPRESSIONS = dict(
    a="neutral", b="happy", c="sad", d="angry", e="disgusted", f="fearful", g="surprised"
)


def ms_per_input_epoch(clf, X, y) -> tuple[float, int]:
    clf.fit(X, y)
    durations = clf.net_.history[:, "dur"]
    n_inputs = len(X)
    return 1000 * float(np.median(durations)) / n_inputs, n_inputs


def preprocessing_ms_per_image() -> float:
    from matplotlib import cbook
    from skimage import data

    photos = [cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), data.astronaut()]
    clf = ImageResNetClassifier(crop="face")
    clf._crops(photos)  # warm up dlib
    start = time.perf_counter()
    clf._crops(photos * 2)
    return 1000 * (time.perf_counter() - start) / (2 * len(photos))


def _real_set(name: str, cache: str) -> dict[str, np.ndarray]:
    """Landmarks and labels of a real photo set (landmarks cached outside the repository)."""
    import glob
    import re

    from sk3dface import FaceLandmarker

    if name == "taiwanese":
        paths = sorted(glob.glob(f"{DATASETS}/taiwanese/faces_256x256/*.jpg"))
        paths = [p for p in paths if os.path.basename(p)[4] != "0"]  # no expression label
        names = [os.path.basename(p) for p in paths]
        labels = {
            "subject": np.array([n[:2] for n in names]),
            "expression": np.array([TAIWANESE_EXPRESSIONS[n[4]] for n in names]),
        }
    else:  # iim
        paths = sorted(glob.glob(f"{DATASETS}/iim/IIM_GScale_Imgs/*/*.jpg"))
        parts = [re.match(r"DST_(\d+)_([FM])_", os.path.basename(p)) for p in paths]
        labels = {
            "subject": np.array([m.group(1) for m in parts]),
            "gender": np.array([m.group(2) for m in parts]),
        }
    os.makedirs(cache, exist_ok=True)
    cached = os.path.join(cache, f"{name}_landmarks.npy")
    if os.path.exists(cached):
        landmarks = np.load(cached)
    else:
        print(f"computing landmarks of {len(paths)} {name} photos (cached in {cache}) ...")
        landmarks = FaceLandmarker(n_jobs=-1).fit_transform(paths)
        np.save(cached, landmarks)
    found = ~np.isnan(landmarks).any(axis=1)
    return {"X": landmarks[found], **{k: v[found] for k, v in labels.items()}}


def real_comparison(cache: str) -> None:
    """Default ResNetClassifier vs SVC / LogisticRegression on FrontalShape features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from sk3dface import FrontalShape

    if not os.path.isdir(DATASETS):
        print(f"\nreal-photo comparison skipped: {os.path.normpath(DATASETS)} is absent.")
        return
    print("\naccuracy (%) of CV on FrontalShape features of real photos; CV wall/CPU seconds")
    print(f"{'cell':<22} {'n':>5} {'LogReg':>7} {'SVC':>6} {'ResNet':>7} {'gap':>6}  times")
    cells = [
        ("taiwanese expression", "taiwanese", "expression", "expression", "subject"),
        ("taiwanese identity", "taiwanese", "identity", "subject", "expression"),
        ("iim gender", "iim", "identity", "gender", "subject"),
    ]
    for title, name, part, target, group in cells:
        data = _real_set(name, cache)
        # FrontalShape fits each sample on its own, without labels: computed once
        X = FrontalShape(part).fit_transform(data["X"])
        y, groups = data[target], data[group]
        cv = LeaveOneGroupOut() if target == "subject" else GroupKFold(10)
        scores, times = {}, {}
        for label, clf in (
            ("LogReg", LogisticRegression(C=1, max_iter=5000)),
            ("SVC", SVC()),
            ("ResNet", ResNetClassifier(random_state=0)),
        ):
            start, cpu = time.perf_counter(), time.process_time()
            pipe = make_pipeline(StandardScaler(), clf)
            scores[label] = 100 * cross_val_score(pipe, X, y, groups=groups, cv=cv).mean()
            times[label] = (time.perf_counter() - start, time.process_time() - cpu)
        gap = scores["ResNet"] - max(scores["LogReg"], scores["SVC"])
        timing = ", ".join(f"{k} {w:.1f}/{c:.1f}" for k, (w, c) in times.items())
        print(
            f"{title:<22} {len(y):>5} {scores['LogReg']:>7.1f} {scores['SVC']:>6.1f} "
            f"{scores['ResNet']:>7.1f} {gap:>+6.1f}  {timing}"
        )
        ratio = times["ResNet"][0] / max(times["LogReg"][0], times["SVC"][0])
        print(f"{'':<22} ResNet CV wall time = {ratio:.1f}x the slower of LogReg/SVC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} (target: gap >= -1, ResNet CV <= 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=3000)
    parser.add_argument("--n-images", type=int, default=192)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--cache",
        default=os.path.expanduser("~/.cache/sk3dface-benchmarks"),
        help="where the landmarks of the real photos are cached (outside the repository)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real-photo part")
    parser.add_argument("--only-real", action="store_true", help="only the real-photo part")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.only_real:
        real_comparison(args.cache)
        return

    X, y = make_classification(
        n_samples=args.n_samples, n_features=80, n_informative=30, n_classes=7, random_state=0
    )
    rng = np.random.default_rng(0)
    images = list(rng.integers(0, 256, (args.n_images, 112, 112, 3), dtype=np.uint8))
    image_labels = y[: args.n_images]
    common = dict(
        max_epochs=args.epochs, early_stopping=False, random_state=0, n_threads=args.threads
    )

    rows = []
    for depth in (34, 32, 8):
        clf = ResNetClassifier(depth=depth, width=64, n_estimators=1, **common)
        rows.append((f"coefficients ({X.shape[1]}-dim)", depth, *ms_per_input_epoch(clf, X, y)))
    image_clf = ImageResNetClassifier(depth=34, image_size=112, crop=None, **common)
    rows.append(
        ("face crops 112x112 RGB", 34, *ms_per_input_epoch(image_clf, images, image_labels))
    )

    reference = rows[0][2]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"CPU training cost, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"{os.cpu_count()} core(s), load average {load:.1f} (a shared CPU inflates times)"
    )
    print(f"{'input':<26} {'depth':>5} {'n_train':>8} {'ms/input/epoch':>15} {'x coef-34':>10}")
    for name, depth, ms, n in rows:
        print(f"{name:<26} {depth:>5} {n:>8} {ms:>15.3f} {ms / reference:>10.1f}")
    image_ms = rows[-1][2]
    print(
        f"\ncoefficient ResNet-34: {reference:.3f} ms/input/epoch (target <= 1); "
        f"image ResNet-34 is {image_ms / reference:.0f}x slower (target >= 10x)."
    )
    print(
        f"image preprocessing (load + dlib face detection + crop), once per fit: "
        f"{preprocessing_ms_per_image():.1f} ms/image"
    )
    if not args.no_real:
        real_comparison(args.cache)


if __name__ == "__main__":
    main()
