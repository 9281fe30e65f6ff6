"""Warnings that name the user's line, not a line inside sk3dface or scikit-learn.

How deep a warning is raised varies: ``transform`` alone, through ``fit_transform``, through
``set_output``'s wrapper (``sklearn/utils/_set_output.py``), inside a ``Pipeline`` or a
joblib call. A fixed ``stacklevel`` is right for one of these paths only, so
:func:`warn_at_caller` walks the stack out of the libraries' frames instead (Python 3.12's
``skip_file_prefixes`` would do this, but 3.11 is supported).
"""

from __future__ import annotations

import sys
import warnings

# top-level packages whose frames are never "the user's line"; contextlib and functools wrap
# decorated methods (e.g. ``_fit_context``) and add frames of their own
_LIBRARY_PACKAGES = frozenset(
    {"sk3dface", "sklearn", "joblib", "skorch", "contextlib", "functools"}
)


def caller_stacklevel(skip: int = 1) -> int:
    """``stacklevel`` for :func:`warnings.warn` pointing at the first frame outside the libraries.

    Parameters
    ----------
    skip : int, default=1
        Frames to skip before the walk: 1 starts at the function that calls this one (which
        is the one calling ``warnings.warn``).

    Returns
    -------
    stacklevel : int
        Counted from the caller of this function, as ``warnings.warn`` counts. If every frame
        belongs to a library (the command line, a worker thread), the outermost frame.
    """
    frame = sys._getframe(skip)
    level = 1
    while frame.f_back is not None and _is_library(frame):
        frame, level = frame.f_back, level + 1
    return level


def _is_library(frame) -> bool:
    return frame.f_globals.get("__name__", "").partition(".")[0] in _LIBRARY_PACKAGES


def warn_at_caller(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """:func:`warnings.warn` with the location of the user's call, wherever it comes from.

    Parameters
    ----------
    message : str or Warning
        The message, or a warning instance (``category`` is then ignored, as in
        ``warnings.warn``).
    category : type of Warning, default=UserWarning

    Examples
    --------
    >>> import warnings
    >>> from sk3dface.utils._warnings import warn_at_caller
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_at_caller("careful")
    >>> str(caught[0].message)
    'careful'
    """
    # +1: the level is counted from this function's own frame
    warnings.warn(message, category, stacklevel=caller_stacklevel(skip=2) + 1)
