"""FaceLandmarker throughput: images/second from JPEG files, for n_jobs=1 and 2.

Real face photos (matplotlib's Grace Hopper, scikit-image's astronaut) are resized and
cropped to 640×480 and 562×762 (KDEF's size), given a small per-file brightness change
so that no two files are identical, and written as JPEG; the timed call reads, detects
and predicts every file with the default settings. Worker start-up (joblib processes
and the one-off dlib model load in each) is excluded by a warm-up call and reported
separately. Target: >= 15 images/s with 2 workers on 562×762.

With the 3DDFA_V2 files present (``--tddfa-dir``, default ``/work/shared/models``: its
``3ddfa_v2/`` and ``3ddfa_bfm/``), also ``TDDFABackend``: the network on known boxes
(``refine=1``, two calls per face), end to end with HOG detection, and the network alone on
batches of 64 crops (target >= 300 crops/s on 2 cores); skipped otherwise.

Usage: ``python benchmarks/landmarks.py [--n-images 60] [--tddfa-dir DIR]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from matplotlib import cbook

from sk3dface import FaceLandmarker
from sk3dface.utils._images import load_image

TARGET = 15.0  # images/s, 562×762, 2 workers, default settings
SIZES = ((640, 480), (562, 762))  # width, height


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to cover width×height (keeping the aspect ratio), then crop the centre."""
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


def write_images(folder: Path, width: int, height: int, n_images: int) -> list[str]:
    photos = [
        load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
        skimage.data.astronaut(),
    ]
    paths = []
    for index in range(n_images):
        base = cover(photos[index % 2], width, height).astype(np.int16)
        image = np.clip(base + (index % 11) - 5, 0, 255).astype(np.uint8)
        path = folder / f"{width}x{height}_{index:03d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    return paths


def run(paths: list[str], n_jobs: int) -> tuple[float, float, float]:
    """(warm-up seconds, timed seconds, fraction of images with landmarks)."""
    landmarker = FaceLandmarker(n_jobs=n_jobs).fit(paths)
    start = time.perf_counter()
    landmarker.transform(paths[: 2 * n_jobs])  # start workers, load dlib models in each
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = landmarker.transform(paths)
    elapsed = time.perf_counter() - start
    return warm_up, elapsed, float(np.isfinite(out).all(axis=1).mean())


def run_tddfa(paths: list[str], folder: Path) -> None:
    """TDDFABackend throughput on the first size's images, one process, 1 and 2 torch threads."""
    from sk3dface import TDDFABackend

    files = {
        "checkpoint": folder / "3ddfa_v2" / "mb05_120x120.pth",
        "normalization": folder / "3ddfa_v2" / "param_mean_std_62d_120x120.pkl",
        "model": folder / "3ddfa_bfm",
    }
    if not all(path.exists() for path in files.values()):
        print(f"\nTDDFABackend: skipped (no 3DDFA_V2 files under {folder})")
        return
    print()
    images = [load_image(path) for path in paths]
    boxes = [TDDFABackend(**files).detect(image) for image in images]
    for n_threads in (1, 2):
        backend = TDDFABackend(**files, n_threads=n_threads).load()
        known = [(image, box[0]) for image, box in zip(images, boxes, strict=True) if len(box)]
        backend.predict(*known[0])  # warm-up
        start = time.perf_counter()
        for image, box in known:
            backend.predict(image, box)
        rate_known = len(known) / (time.perf_counter() - start)
        landmarker = FaceLandmarker(backend).fit(paths)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            landmarker.transform(paths)
        rate_all = len(paths) / (time.perf_counter() - start)
        print(
            f"TDDFABackend (refine=1, {n_threads} torch thread(s)), {len(known)} faces: known "
            f"boxes {rate_known:.1f} images/s; FaceLandmarker end to end (HOG upsample 1, "
            f"files) {rate_all:.1f} images/s"
        )
    network_alone(files["checkpoint"])


def network_alone(checkpoint: Path, batch: int = 64, repeats: int = 10) -> None:
    """The regressor network itself on batches of 120x120 crops (target >= 300 crops/s)."""
    import torch

    from sk3dface.landmarks._tddfa import load_network

    net = load_network(checkpoint)
    crops = torch.from_numpy(np.random.default_rng(0).random((batch, 3, 120, 120), np.float32))
    previous = torch.get_num_threads()
    try:
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            with torch.inference_mode():
                net.fc_param(net.features(crops))  # warm-up
                seconds = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    net.fc_param(net.features(crops))
                    seconds.append(time.perf_counter() - start)
            print(
                f"TDDFA network alone, batches of {batch}, {n_threads} torch thread(s): "
                f"{batch / min(seconds):.0f} crops/s best, {batch / np.median(seconds):.0f} median "
                f"(of {repeats})"
            )
    finally:
        torch.set_num_threads(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=60, help="images per size (default 60)")
    parser.add_argument(
        "--tddfa-dir",
        type=Path,
        default=Path("/work/shared/models"),
        help="folder with 3ddfa_v2/ and 3ddfa_bfm/ (TDDFABackend is skipped without them)",
    )
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"FaceLandmarker throughput, {os.cpu_count()} CPUs, load average {load:.1f} at start")
    print(f"target: >= {TARGET:g} images/s for 562x762 with n_jobs=2 (default settings)\n")
    header = (
        f"{'size':>9} {'n_jobs':>6} {'images':>6} {'warm-up s':>9} {'seconds':>8} "
        f"{'images/s':>8} {'vs target':>9} {'found':>6}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for width, height in SIZES:
            paths = write_images(Path(folder), width, height, args.n_images)
            for n_jobs in (1, 2):
                warm_up, elapsed, found = run(paths, n_jobs)
                rate = len(paths) / elapsed
                print(
                    f"{width:>4}x{height:<4} {n_jobs:>6} {len(paths):>6} {warm_up:>9.2f} "
                    f"{elapsed:>8.2f} {rate:>8.1f} {rate / TARGET:>8.2f}x {found:>6.0%}"
                )
            if (width, height) == SIZES[0]:
                run_tddfa(paths[:20], args.tddfa_dir)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average {load:.1f} at the end (other processes share these CPUs)")


if __name__ == "__main__":
    main()
