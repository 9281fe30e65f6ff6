"""Training cost of the coefficient ResNet vs the raw-image ResNet baseline, on CPU.

Prints milliseconds per input per epoch (the median of skorch's per-epoch timer
divided by the number of training inputs) and the ratio to the coefficient
ResNet-34. Targets: coefficient model <= 1 ms/input/epoch and >= 10x faster than
the image model. Image preprocessing (loading, face detection, cropping) happens
once per fit and is timed separately, per image, on the real photos we ship with.

Usage: python benchmarks/classifiers.py [--epochs 3] [--n-images 192] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sklearn.datasets import make_classification

from sk3dface import ImageResNetClassifier, ResNetClassifier


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=3000)
    parser.add_argument("--n-images", type=int, default=192)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

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
        clf = ResNetClassifier(depth=depth, **common)
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


if __name__ == "__main__":
    main()
