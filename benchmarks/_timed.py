"""Timing subclasses for benchmarks/grid_search.py (a module, so process workers and
joblib's cache can pickle them by name): each logs its seconds to the file in
``$SK3DFACE_BENCH_STAGE_LOG``, so the split works in any worker process."""

from __future__ import annotations

import contextlib
import os
import time

from sklearn.svm import SVC

from sk3dface import FrontalShape, ResNetClassifier

STAGE_LOG = "SK3DFACE_BENCH_STAGE_LOG"  # file the timing subclasses append to (any process)


def _log(stage: str, seconds: float) -> None:
    with open(os.environ[STAGE_LOG], "a") as log:
        log.write(f"{stage} {seconds}\n")


@contextlib.contextmanager
def _timed(stage: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        _log(stage, time.perf_counter() - start)


def stage_seconds() -> dict[str, float]:
    totals = {"fitting": 0.0, "training": 0.0}
    with open(os.environ[STAGE_LOG]) as log:
        for line in log:
            stage, seconds = line.split()
            totals[stage] += float(seconds)
    return totals


class TimedFrontalShape(FrontalShape):
    """FrontalShape whose transform (the 3-D fit of every sample) is logged as fitting."""

    def transform(self, X):
        with _timed("fitting"):
            return super().transform(X)


class TimedSVC(SVC):
    """SVC whose fit and predict are logged as training."""

    def fit(self, X, y, sample_weight=None):
        with _timed("training"):
            return super().fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        with _timed("training"):
            return super().predict(X)


class TimedResNet(ResNetClassifier):
    """ResNetClassifier whose fit and predict are logged as training."""

    def fit(self, X, y, **fit_params):
        with _timed("training"):
            return super().fit(X, y, **fit_params)

    def predict(self, X):
        with _timed("training"):
            return super().predict(X)
