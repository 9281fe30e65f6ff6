"""How a failed sample is recorded, reported and collected: one policy for every estimator.

A view that cannot be read or shows no face costs that view only: its output block is NaN,
and one :class:`~sk3dface.exceptions.FailedSamplesWarning` per call counts the failures and
carries every :class:`ViewFailure` in its ``failures`` attribute (``on_error="raise"``
raises the first instead). See ``docs/failures.md``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sk3dface.exceptions import FailedSamplesWarning, ImageReadError
from sk3dface.utils._warnings import warn_at_caller

_MAX_LISTED_FAILURES = 5


class ViewFailure(NamedTuple):
    """One view that gave no result: where it is in ``X`` and why.

    Attributes
    ----------
    sample : int
        Row of ``X`` (0-based).
    view : int
        Position in the sample's view set (0-based).
    image : str
        Short description of the input (file name, or array shape).
    error : ImageReadError or FaceNotFoundError
        The error, whose message says what went wrong.
    """

    sample: int
    view: int
    image: str
    error: Exception

    def __str__(self) -> str:
        return f"sample {self.sample}, view {self.view}: {self.error}"


def report_failures(
    owner: str, failures: Sequence[ViewFailure], n_views: int, on_error: str, outcome: str
) -> None:
    """Raise the first failure (``on_error="raise"``) or warn once, counting all of them.

    ``outcome`` says what a failed view gives, e.g. ``"gave no landmarks and are NaN"``.
    """
    if not failures:
        return
    if on_error == "raise":
        first = failures[0]
        raise type(first.error)(
            f"Sample {first.sample}, view {first.view}: {first.error}"
        ) from first.error
    unreadable = sum(isinstance(f.error, ImageReadError) for f in failures)
    listed = "; ".join(str(f).rstrip(".") for f in failures[:_MAX_LISTED_FAILURES])
    more = len(failures) - _MAX_LISTED_FAILURES
    warning = FailedSamplesWarning(
        f"{owner}: {len(failures)} of {n_views} views {outcome} ({unreadable} unreadable, "
        f"{len(failures) - unreadable} without a face). {listed}"
        + (f"; and {more} more" if more > 0 else "")
        + ". The warning's `failures` attribute lists them all; on_error='raise' raises "
        "instead."
    )
    warning.failures = list(failures)
    warn_at_caller(warning)


@contextlib.contextmanager
def collect_failures() -> Iterator[list[Any]]:
    """Gather the ``failures`` of FailedSamplesWarnings raised inside, instead of showing them.

    Other warnings are shown as usual when the block ends.
    """
    failures: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FailedSamplesWarning)
        yield failures
    for warning in caught:
        if issubclass(warning.category, FailedSamplesWarning):
            failures.extend(getattr(warning.message, "failures", []))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
