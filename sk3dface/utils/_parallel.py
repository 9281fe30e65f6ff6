"""Map a function over items with joblib and an optional tqdm progress bar.

``n_jobs`` follows joblib: ``None`` means 1 unless inside a
``joblib.parallel_config(n_jobs=...)`` context, ``-1`` means all cores. Any joblib
back end works (loky by default; Dask or Ray via ``parallel_config``). Results are
streamed (``return_as="generator"``, for the progress bar) when the active back end
supports it, and gathered as a list otherwise (Ray's back end, joblib's
``multiprocessing``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any, TypeVar

from sk3dface.utils._sklearn_compat import Interval

T = TypeVar("T")
R = TypeVar("R")

#: Parameter constraint of ``n_jobs`` (joblib's meaning; 0 has none and is refused at fit).
N_JOBS_CONSTRAINT = [
    Interval(Integral, 1, None, closed="left"),
    Interval(Integral, None, -1, closed="right"),
    None,
]


def parallel_map(
    function: Callable[..., R],
    items: Sequence[T],
    *,
    n_jobs: int | None = None,
    verbose: int | bool = 0,
    desc: str | None = None,
    **kwargs: Any,
) -> list[R]:
    """Return ``[function(item, **kwargs) for item in items]``, computed with joblib.

    Parameters
    ----------
    function : callable
        Called as ``function(item, **kwargs)``; must be picklable for process-based
        back ends (a module-level function, not a lambda).
    items : sequence
        Inputs, one call each. The order of the results is the order of the items.
    n_jobs : int or None, default=None
        Number of joblib workers (``-1``: all cores).
    verbose : int or bool, default=0
        Show a tqdm progress bar (on stderr) when true.
    desc : str, optional
        Label of the progress bar.
    **kwargs
        Passed unchanged to every call.

    Returns
    -------
    results : list
        One result per item, in order.

    Examples
    --------
    >>> from sk3dface.utils._parallel import parallel_map
    >>> parallel_map(pow, [2, 3, 4], exp=2)
    [4, 9, 16]
    >>> parallel_map(pow, [2, 3, 4], n_jobs=2, exp=3)
    [8, 27, 64]
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    items = list(items)
    if not items:
        return []
    return_as = "generator" if _supports_generator() else "list"
    results = Parallel(n_jobs=n_jobs, return_as=return_as)(
        delayed(function)(item, **kwargs) for item in items
    )
    with tqdm(total=len(items), desc=desc, disable=not verbose, leave=False) as bar:
        out = []
        for result in results:
            out.append(result)
            bar.update()
    return out


def _supports_generator() -> bool:
    """Whether the active joblib back end accepts ``Parallel(return_as="generator")``.

    ``Parallel`` refuses the generator up front ("Backend ... does not support
    return_as=generator") with back ends such as Ray's; joblib's sequential back end
    always accepts it.
    """
    from joblib.parallel import SequentialBackend, get_active_backend

    backend, _ = get_active_backend()
    return isinstance(backend, SequentialBackend) or bool(
        getattr(backend, "supports_return_generator", False)
    )
