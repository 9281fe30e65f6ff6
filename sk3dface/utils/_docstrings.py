"""Docstring fragments shared by several public functions, and the decorator that fills them in.

Like imbalanced-learn's ``Substitution``: a docstring holds ``%(name)s`` alone on a line, and
:class:`Substitution` replaces it with the fragment of that name, indented like the
placeholder, when the function is defined (so ``help()``, Sphinx and doctests see the text).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

_PLACEHOLDER = re.compile(r"^( *)%\((\w+)\)s$", flags=re.MULTILINE)


class Substitution:
    """Decorator filling each ``%(name)s`` line of a docstring with ``fragments[name]``."""

    def __init__(self, **fragments: str) -> None:
        self.fragments = {
            name: textwrap.dedent(text).strip("\n") for name, text in fragments.items()
        }

    def __call__(self, obj: Any) -> Any:
        def fill(match: re.Match) -> str:
            indent, name = match.groups()
            return textwrap.indent(self.fragments[name], indent)

        obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        return obj


#: the image paths entry of a data-set loader's Bunch
LOADER_IMAGES = """
    images : ndarray of str, shape (n_images,)
        Image paths, ready for :class:`~sk3dface.FaceLandmarker`.
"""

#: the entries every data-set loader's Bunch ends with
LOADER_TABLE = """
    frame : pandas.DataFrame
        The same columns (``image`` and the labels) as a table.
    damaged : list of (str, str)
        ``(path, reason)`` of each damaged image found.
    DESCR : str
        Description of the data set and of what was found.
"""

#: the damaged-image options of a data-set loader, after ``check_images``
LOADER_DAMAGED_OPTIONS = """
    keep_damaged : bool, default=False
        Keep damaged images in the result instead of excluding them.
    n_jobs : int, default=None
        Parallel jobs (joblib threads) for the image check; -1 uses all cores.
"""

#: the See Also line every data-set loader ends with
SEE_ALSO_VIEW_SETS = "make_view_sets : Leakage-free multi-image samples and CV folds."

#: the imports that start a data-set loader's example (it writes images to a temporary folder)
EXAMPLE_IMPORTS = """
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
"""


def loader_raises(dataset: str) -> str:
    """The Raises section body of the loader of one published data set."""
    return f"""
    FileNotFoundError
        If ``root`` does not exist.
    ValueError
        If no {dataset} file is found, a filter value is unknown, or no image is left.
"""


def loader_docstring(dataset: str) -> Substitution:
    """The :class:`Substitution` of every fragment above, for the loader of ``dataset``."""
    return Substitution(
        loader_images=LOADER_IMAGES,
        loader_table=LOADER_TABLE,
        damaged_options=LOADER_DAMAGED_OPTIONS,
        raises=loader_raises(dataset),
        see_also_view_sets=SEE_ALSO_VIEW_SETS,
        example_imports=EXAMPLE_IMPORTS,
    )
