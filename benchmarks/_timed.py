"""Timing subclasses for benchmarks/grid_search.py (a module, so process workers and
joblib's cache can pickle them by name): each logs its seconds to the file in
``$SK3DFACE_BENCH_STAGE_LOG``, so the split works in any worker process."""

from __future__ import annotations

import os
import time

from sklearn.svm import SVC

from sk3dface import FrontalShape, ResNetClassifier

STAGE_LOG = "SK3DFACE_BENCH_STAGE_LOG"  # file the timing subclasses append to (any process)


def _log(stage: str, seconds: float) -> None:
    with open(os.environ[STAGE_LOG], "a") as log:
        log.write(f"{stage} {seconds}\n")


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
        start = time.perf_counter()
        try:
            return super().transform(X)
        finally:
            _log("fitting", time.perf_counter() - start)


class TimedSVC(SVC):
    """SVC whose fit and predict are logged as training."""

    def fit(self, X, y, sample_weight=None):
        start = time.perf_counter()
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            _log("training", time.perf_counter() - start)

    def predict(self, X):
        start = time.perf_counter()
        try:
            return super().predict(X)
        finally:
            _log("training", time.perf_counter() - start)


class TimedResNet(ResNetClassifier):
    """ResNetClassifier whose fit and predict are logged as training."""

    def fit(self, X, y, **fit_params):
        start = time.perf_counter()
        try:
            return super().fit(X, y, **fit_params)
        finally:
            _log("training", time.perf_counter() - start)

    def predict(self, X):
        start = time.perf_counter()
        try:
            return super().predict(X)
        finally:
            _log("training", time.perf_counter() - start)
