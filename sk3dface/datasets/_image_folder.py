"""load_image_folder: any labelled photo folder, labels from a regular expression."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.utils import Bunch

from sk3dface.datasets._common import _preview, handle_damaged, make_bunch, scan_records
from sk3dface.utils._docstrings import EXAMPLE_IMPORTS, SEE_ALSO_VIEW_SETS, Substitution
from sk3dface.utils._warnings import warn_at_caller

_MATCH_ON = ("name", "path")


def _compile(pattern: Any) -> re.Pattern:
    try:
        compiled = re.compile(pattern, re.IGNORECASE) if isinstance(pattern, str) else pattern
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}.") from None
    if not isinstance(compiled, re.Pattern):
        raise TypeError(
            f"pattern must be a regular expression string; got {type(pattern).__name__}."
        )
    if not compiled.groupindex:
        raise ValueError(
            f"pattern {compiled.pattern!r} has no named groups, so it gives no labels; name the "
            r"parts, e.g. r'(?P<subject>\d{2})_(?P<expression>[a-z]+)\.jpg'."
        )
    reserved = {"image", "images", "frame", "damaged", "DESCR"} & set(compiled.groupindex)
    if reserved:
        raise ValueError(f"pattern group name(s) {sorted(reserved)} are reserved; rename them.")
    return compiled


def _content_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop files whose bytes repeat an earlier file (in path order), with one warning."""
    digests = []
    for path in frame["image"]:
        try:
            digests.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        except OSError:
            digests.append(path)  # unreadable: the damaged-image check reports it
    duplicated = pd.Series(digests, index=frame.index).duplicated(keep="first")
    if duplicated.any():
        dropped = [Path(p).name for p in frame.loc[duplicated, "image"]]
        warn_at_caller(
            f"Found {len(dropped)} file(s) whose bytes repeat an image already seen under root; "
            f"kept the first copy in path order and ignored {_preview(dropped)}.",
            UserWarning,
        )
    return frame.loc[~duplicated].reset_index(drop=True)


@Substitution(see_also_view_sets=SEE_ALSO_VIEW_SETS, example_imports=EXAMPLE_IMPORTS)
def load_image_folder(
    root: str | os.PathLike,
    pattern: str | re.Pattern,
    *,
    match_on: str = "name",
    filters: Mapping[str, Iterable[str] | str] | None = None,
    check_images: bool = True,
    keep_damaged: bool = False,
    n_jobs: int | None = None,
) -> Bunch:
    """Load any labelled photo folder: the named groups of ``pattern`` become label columns.

    Every image file below ``root`` (recursively; hidden files and macOS metadata skipped)
    whose name — or path relative to ``root``, with ``match_on="path"`` — matches ``pattern``
    (case-insensitive, the whole string) is one row; each named group is a label. Files
    that do not match are named in one warning. Files with identical bytes (copies of one
    image under two names) are kept once; damaged images (empty, truncated, unreadable, all
    black, blank) are reported and left out, as by :func:`load_kdef`.

    Parameters
    ----------
    root : str or path-like
        The folder holding the images.
    pattern : str or compiled regular expression
        With named groups, e.g. ``r"(?P<subject>\\d{2})\\d\\d(?P<expression>[a-g])\\d\\d\\.jpg"``
        for the Taiwanese facial expression database, or, with ``match_on="path"``,
        ``r"s(?P<subject>\\d+)/\\d+\\.pgm"`` for the ORL faces (the folder is the person).
    match_on : {"name", "path"}, default="name"
        Match the file name, or the path relative to ``root`` with ``/`` separators.
    filters : dict, optional
        Keep only rows whose label is among the given values, e.g.
        ``{"expression": ["a", "b"]}`` (values compared as strings, case-insensitively).
    check_images : bool, default=True
        Decode every selected image at 1/8 size to find damaged ones.
    keep_damaged : bool, default=False
        Keep damaged images instead of excluding them.
    n_jobs : int, default=None
        Parallel jobs (threads) for the image check.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (paths, sorted), one array per named group (strings), ``frame`` (the same
        as a table), ``damaged`` (``(path, reason)`` pairs) and ``DESCR``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` is missing or not a folder.
    ValueError
        If ``pattern`` is invalid or has no named groups, no file matches, a filter names an
        unknown group, or nothing is left after filtering.

    See Also
    --------
    load_kdef, load_fei : Loaders for two published layouts.
    %(see_also_view_sets)s

    Examples
    --------
    %(example_imports)s
    >>> from sk3dface.datasets import load_image_folder
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ["0111a01.jpg", "0111b01.jpg", "0211a01.jpg", "notes.jpg"]:
    ...         pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ...         Image.fromarray(pixels).save(Path(root, name))
    ...     data = load_image_folder(
    ...         root, r"(?P<subject>\\d{2})\\d\\d(?P<expression>[a-g])\\d\\d\\.jpg"
    ...     )
    >>> data.frame.drop(columns="image")
      subject expression
    0      01          a
    1      01          b
    2      02          a
    """
    if match_on not in _MATCH_ON:
        raise ValueError(f"match_on must be one of {_MATCH_ON}; got {match_on!r}.")
    compiled = _compile(pattern)
    groups = list(compiled.groupindex)
    base = Path(root).expanduser()

    def parse(path: Path) -> dict[str, str] | None:
        text = path.name if match_on == "name" else path.relative_to(base).as_posix()
        found = compiled.fullmatch(text)
        return None if found is None else {g: found.group(g) for g in groups}

    expected = f"matching {compiled.pattern!r} on the file {match_on}"
    frame = scan_records(root, parse, "image folder", expected, by_path=True)
    frame = frame.sort_values("image", kind="stable").reset_index(drop=True)
    frame = _content_duplicates(frame)
    for group, values in (filters or {}).items():
        if group not in groups:
            raise ValueError(
                f"filters names {group!r}, which is not a group of the pattern {groups}."
            )
        wanted = {str(v).lower() for v in ([values] if isinstance(values, str) else values)}
        frame = frame.loc[frame[group].str.lower().isin(wanted)].reset_index(drop=True)
        if frame.empty:
            raise ValueError(f"No image is left after keeping {group} in {sorted(wanted)}.")
    frame, damaged = handle_damaged(
        frame,
        check_images=check_images,
        keep_damaged=keep_damaged,
        n_jobs=n_jobs,
        dataset="image folder",
    )
    counts = ", ".join(f"{frame[g].nunique()} {g}" for g in groups)
    descr = (
        f"Image folder {str(base)!r}: {len(frame)} images ({counts}) matching "
        f"{compiled.pattern!r} on the file {match_on}; {len(damaged)} damaged."
    )
    return make_bunch(frame, groups, damaged, descr)
