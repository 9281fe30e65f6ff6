"""Torch session state (seed, threads) and input checks shared by the nets."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@contextmanager
def _torch_session(seed: int | None, n_threads: int | None):
    """Seed torch and set its thread count for the block, then restore the caller's state.

    Even prediction draws from torch's global RNG (each DataLoader iterator takes a
    base seed), so every torch call of the estimators runs inside this block.
    """
    import torch

    previous_threads = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        with torch.random.fork_rng():
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(previous_threads)


def _check_finite_float32(X: np.ndarray, name: str) -> np.ndarray:
    """Reject NaN/inf with an actionable message; return X as float32."""
    nan_rows = np.isnan(X).any(axis=1)
    if nan_rows.any():
        raise ValueError(
            f"{name} got input X that contains NaN in {int(nan_rows.sum())} of "
            f"{X.shape[0]} samples. In sk3dface, NaN marks a view that was missing or in "
            "which no face was found. Aggregate views first (sk3dface.MultiViewAggregator), "
            "impute them with sklearn.impute.SimpleImputer in the pipeline, or drop those "
            "samples."
        )
    too_large = ~(np.abs(X) <= _FLOAT32_MAX)
    if too_large.any():
        raise ValueError(
            f"{name} got input X that contains infinity or values too large for float32 "
            f"(|x| > {_FLOAT32_MAX:.3g}) in {int(too_large.any(axis=1).sum())} samples; "
            "rescale the features (e.g. sklearn.preprocessing.StandardScaler) or drop them."
        )
    # torch warns about read-only arrays (pandas' copy-on-write frames, memmaps): copy those
    return np.require(X, dtype=np.float32, requirements=["C", "W"])


def check_numeric_input(X, name: str) -> None:
    """Refuse text X (paths, labels) with a message that says what is expected."""
    array = X if isinstance(X, np.ndarray) else None
    if array is None and isinstance(X, (list, tuple)) and X:
        first = X[0]
        if isinstance(first, str) or (
            isinstance(first, (list, tuple)) and first and isinstance(first[0], str)
        ):
            array = np.asarray(X, dtype=object)
    if array is not None and array.dtype.kind in "USO" and array.size:
        sample = array.flat[0]
        if isinstance(sample, (str, bytes)):
            raise ValueError(
                f"{name} expects numeric feature vectors in X, shape (n_samples, "
                f"n_features); got text such as {str(sample)!r:.40}. To start from images, "
                "put FaceLandmarker (and a feature step such as FrontalShape) before it, "
                "or use ImageResNetClassifier."
            )
