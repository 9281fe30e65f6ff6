"""A landmark cache folder for this Python process: what ``memory="auto"`` resolves to.

One folder per process (created on first use, removed at interpreter exit), so every
pipeline built in a session shares it: grid-search candidates, folds and repeated fits
detect each image once per landmarker setting. The folder only ever holds per-view
results keyed by image content and settings (``FaceLandmarker(memory=...)``), so sharing
it between pipelines is safe.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

_session_folder: str | None = None


def _remove(folder: str, owner: int) -> None:
    if os.getpid() == owner:  # a forked child must not delete its parent's folder
        shutil.rmtree(folder, ignore_errors=True)


def session_cache_dir() -> str:
    """The path of this process's temporary landmark cache (created on first call).

    Returns
    -------
    folder : str
        A folder under :func:`tempfile.gettempdir`, deleted when the interpreter exits.

    Examples
    --------
    >>> import os
    >>> from sk3dface.utils._cache import session_cache_dir
    >>> os.path.isdir(session_cache_dir()) and session_cache_dir() == session_cache_dir()
    True
    """
    global _session_folder
    if _session_folder is None or not os.path.isdir(_session_folder):
        _session_folder = tempfile.mkdtemp(prefix="sk3dface-landmarks-")
        atexit.register(_remove, _session_folder, os.getpid())
    return _session_folder


def resolve_landmark_memory(memory: Any) -> Any:
    """``"auto"`` → :func:`session_cache_dir`; anything else (None, a path, a Memory) as given."""
    if isinstance(memory, str) and memory == "auto":
        return session_cache_dir()
    return memory
