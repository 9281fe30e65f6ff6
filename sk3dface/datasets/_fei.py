"""Loader for the FEI Face Database (Centro Universitário da FEI, Brazil) as distributed.

See ``docs/datasets.md`` for the layout, the pose numbers and where gender labels come from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from sk3dface.datasets._common import (
    apply_filters,
    drop_duplicates,
    handle_damaged,
    make_bunch,
    normalize_choice,
    scan_records,
)
from sk3dface.utils._docstrings import loader_docstring
from sk3dface.utils._warnings import warn_at_caller

N_SUBJECTS = 200
N_POSES = 14

#: What each FEI pose number shows (``"a"``/``"b"``: the aligned frontal subsets).
#: The FEI page shows the 14 poses in a figure rather than a table; this reading of it
#: agrees with how published code uses the files (see docs/datasets.md).
FEI_POSES = {
    **{f"{i:02d}": "head rotation sweep" for i in range(1, 11)},
    "01": "head rotation sweep: profile at one end",
    "10": "head rotation sweep: profile at the other end",
    "11": "frontal, neutral",
    "12": "frontal, smiling",
    "13": "frontal, lighting changed",
    "14": "frontal, lighting changed",
    "a": "frontal, neutral (aligned frontal subset)",
    "b": "frontal, smiling (aligned frontal subset)",
}

GenderTable = Mapping[Any, str] | pd.DataFrame | str | os.PathLike

_EXPECTED_ORIGINAL = "'<subject>-<pose>.jpg' with subject 1-200 and pose 01-14, e.g. '1-01.jpg'"
_EXPECTED_FRONTAL = "'<subject>a.jpg' (neutral) or '<subject>b.jpg' (smiling), e.g. '1a.jpg'"
_EXPECTED = f"{_EXPECTED_ORIGINAL}, or frontal subsets {_EXPECTED_FRONTAL}"
_ORIGINAL = re.compile(r"^(?P<subject>\d{1,3})-(?P<pose>\d{1,2})\.[A-Z]+$", re.IGNORECASE)
_FRONTAL = re.compile(r"^(?P<subject>\d{1,3})(?P<pose>[AB])\.[A-Z]+$", re.IGNORECASE)
_SUBSETS = ("auto", "original", "frontal")
_GENDER_WORDS = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
}
UNKNOWN = "unknown"


def _parse_fei_name(name: str) -> dict[str, Any] | None:
    match = _ORIGINAL.match(name)
    if match is not None and 1 <= int(match["pose"]) <= N_POSES:
        record = {"pose": f"{int(match['pose']):02d}", "subset": "original"}
    else:
        match = _FRONTAL.match(name)
        if match is None:
            return None
        record = {"pose": match["pose"].lower(), "subset": "frontal"}
    subject = int(match["subject"])
    if not 1 <= subject <= N_SUBJECTS:
        return None
    return {"subject": subject, **record}


def _pose_aliases() -> dict[str, str]:
    aliases = {"a": "a", "b": "b"}
    for pose in range(1, N_POSES + 1):
        aliases[str(pose)] = aliases[f"{pose:02d}"] = f"{pose:02d}"
    return aliases


def read_gender_table(gender_table: GenderTable) -> dict[int, str]:
    """Read a user-supplied FEI gender table into ``{subject: "female" | "male"}``.

    Parameters
    ----------
    gender_table : dict, pandas.DataFrame, str or path-like
        A mapping ``{subject: gender}``, a data frame with columns ``subject``
        and ``gender``, or the path of a CSV file with those columns. Genders
        may be written ``"female"``/``"male"``, ``"F"``/``"M"`` or
        ``"woman"``/``"man"`` (any case); empty cells mean unknown.

    Returns
    -------
    table : dict of int to str

    Examples
    --------
    >>> from sk3dface.datasets._fei import read_gender_table
    >>> read_gender_table({"1": "M", 2: "female"})
    {1: 'male', 2: 'female'}
    """
    source = "The FEI gender table"
    if isinstance(gender_table, (str, os.PathLike)):
        path = os.fspath(gender_table)
        source = f"The FEI gender table {path!r}"
        if os.path.isdir(path):
            raise ValueError(
                f"{source} is a folder; expected a CSV file with columns 'subject' and 'gender'."
            )
        try:
            gender_table = pd.read_csv(path)
        except UnicodeDecodeError as error:
            raise ValueError(
                f"Cannot read the FEI gender table {path!r}: it is not UTF-8 text (a binary "
                f"file? {error.reason} at byte {error.start}). Expected a CSV file with columns "
                "'subject' and 'gender'; save it as UTF-8 CSV."
            ) from None
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ValueError(
                f"Cannot read the FEI gender table {path!r}: {error}. "
                "Expected a CSV file with columns 'subject' and 'gender'."
            ) from error
    if isinstance(gender_table, pd.DataFrame):
        missing = {"subject", "gender"} - set(gender_table.columns)
        if missing:
            columns = [str(c)[:40] for c in list(gender_table.columns)[:10]]
            raise ValueError(
                f"{source} needs columns 'subject' and 'gender'; it has "
                f"{columns} (missing {sorted(missing)})."
            )
        pairs = list(zip(gender_table["subject"], gender_table["gender"], strict=True))
    elif isinstance(gender_table, Mapping):
        pairs = list(gender_table.items())
    else:
        raise TypeError(
            "gender_table must be a dict {subject: gender}, a pandas DataFrame or the path of "
            f"a CSV file with columns 'subject' and 'gender'; got {type(gender_table).__name__}."
        )
    table: dict[int, str] = {}
    for subject, gender in pairs:
        if gender is None or (isinstance(gender, float) and np.isnan(gender)):
            continue
        try:
            key = int(str(subject).strip())
        except ValueError:
            raise ValueError(
                f"FEI gender table: subject {subject!r} is not a subject number (1-200)."
            ) from None
        word = _GENDER_WORDS.get(str(gender).strip().lower())
        if word is None:
            raise ValueError(
                f"FEI gender table: gender {gender!r} of subject {key} is not one of "
                "'female', 'male', 'F', 'M', 'woman', 'man' (or empty for unknown)."
            )
        if table.get(key, word) != word:
            raise ValueError(
                f"FEI gender table: subject {key} is listed as both {table[key]!r} and {word!r}."
            )
        table[key] = word
    return table


@loader_docstring("FEI")
def load_fei(
    root: str | os.PathLike,
    *,
    poses: Iterable[int | str] | int | str | None = None,
    subjects: Iterable[int] | int | None = None,
    gender_table: GenderTable | None = None,
    subset: str = "auto",
    check_images: bool = True,
    keep_damaged: bool = False,
    n_jobs: int | None = None,
) -> Bunch:
    """Load the FEI Face Database file list and labels from a folder as distributed.

    The FEI Face Database holds 200 people (100 women, 100 men, according to
    its authors), 14 images each, named ``<subject>-<pose>.jpg`` (``1-01.jpg``
    ... ``200-14.jpg``) and usually split into ``originalimages_part1/`` ...
    ``originalimages_part4/``. Poses 01-10 sweep the head from one profile to
    the other, 11 is frontal neutral, 12 frontal smiling, 13-14 frontal with
    changed lighting (see ``FEI_POSES``). The aligned frontal subsets name
    their files ``1a.jpg`` (neutral) and ``1b.jpg`` (smiling). ``root`` is
    searched recursively; names are matched case-insensitively.

    **Gender labels are not in the file names** and the FEI page publishes no
    per-subject list, so ``gender`` is ``"unknown"`` unless you pass
    ``gender_table``; sk3dface never guesses them. See ``docs/datasets.md``.

    Parameters
    ----------
    root : str or path-like
        The folder holding the FEI images.
    poses : int, str or iterable, default=None
        Keep only these poses: numbers 1-14 (``11`` or ``"11"``) for the
        original images, ``"a"``/``"b"`` for the frontal subsets. None keeps all.
    subjects : int or iterable of int, default=None
        Keep only these subject numbers (1-200). None keeps all.
    gender_table : dict, DataFrame, str or path-like, default=None
        Per-subject gender labels you obtained: a dict ``{subject: gender}``,
        a data frame or a CSV file with columns ``subject`` and ``gender``
        (``female``/``male``/``F``/``M``). Subjects it does not list are
        ``"unknown"`` (with a warning).
    subset : {"auto", "original", "frontal"}, default="auto"
        Which files to load: the original 14-pose images, or the frontal
        subsets. ``"auto"`` loads the originals when there are any, otherwise
        the frontal subsets. The two are never mixed, because a frontal-subset
        image is a crop of an original one (mixing them would put the same
        photograph in two samples).
    check_images : bool, default=True
        Decode every selected image at reduced size to find damaged ones
        (empty, unreadable, truncated, all black or blank); they are reported
        in a warning and in ``damaged``.
    %(damaged_options)s

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with one entry per image, sorted by subject and pose:

        %(loader_images)s
        subject : ndarray of int
            Subject number, 1-200.
        pose : ndarray of str
            ``"01"`` ... ``"14"``, or ``"a"``/``"b"`` for the frontal subsets.
        gender : ndarray of str
            ``"female"``, ``"male"`` or ``"unknown"`` (see ``gender_table``).
        %(loader_table)s

    Raises
    ------
    %(raises)s

    Warns
    -----
    UserWarning
        For image files with non-FEI names, duplicated files, damaged images,
        ignored frontal-subset files and subjects without a gender label.

    See Also
    --------
    load_kdef : The KDEF data set.
    %(see_also_view_sets)s

    Examples
    --------
    %(example_imports)s
    >>> from sk3dface.datasets import load_fei
    >>> pixels = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     Path(root, "originalimages_part1").mkdir()
    ...     for name in ["1-11.jpg", "1-12.jpg", "2-11.jpg", "2-01.jpg"]:
    ...         Image.fromarray(pixels).save(Path(root, "originalimages_part1", name))
    ...     fei = load_fei(root, poses=[11, 12], gender_table={1: "F", 2: "M"})
    >>> fei.frame.drop(columns="image")
       subject pose  gender
    0        1   11  female
    1        1   12  female
    2        2   11    male
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(map(repr, _SUBSETS))}; got {subset!r}.")
    pose_filter = normalize_choice(
        poses, _pose_aliases(), "poses", "1-14 (original images) and 'a', 'b' (frontal subsets)"
    )
    subject_filter = normalize_choice(
        subjects, {str(s): s for s in range(1, N_SUBJECTS + 1)}, "subjects", "1-200"
    )
    table = None if gender_table is None else read_gender_table(gender_table)

    frame = scan_records(root, _parse_fei_name, "FEI", _EXPECTED)
    frame = _choose_subset(frame, subset)
    frame = frame.sort_values(["subject", "pose", "image"], kind="stable").reset_index(drop=True)
    frame = drop_duplicates(frame, ["subject", "pose"], "FEI")
    frame = apply_filters(frame, {"pose": pose_filter, "subject": subject_filter}, "FEI")
    frame, damaged = handle_damaged(
        frame, check_images=check_images, keep_damaged=keep_damaged, n_jobs=n_jobs, dataset="FEI"
    )
    frame["gender"] = _genders(frame["subject"], table)
    frame["subject"] = frame["subject"].astype(np.int64)
    columns = ["subject", "pose", "gender"]
    return make_bunch(frame, columns, damaged, _describe(frame, damaged, check_images, table))


def _choose_subset(frame: pd.DataFrame, subset: str) -> pd.DataFrame:
    has = {name: bool((frame["subset"] == name).any()) for name in ("original", "frontal")}
    if subset == "auto":
        subset = "original" if has["original"] else "frontal"
        if has["original"] and has["frontal"]:
            n_frontal = int((frame["subset"] == "frontal").sum())
            warn_at_caller(
                f"Found both original FEI images and {n_frontal} frontal-subset images "
                "('1a.jpg', ...); loaded the originals only. Pass subset='frontal' to load the "
                "frontal subsets instead (the two are never mixed: one is a crop of the other).",
                UserWarning,
            )
    if not has[subset]:
        other = "frontal" if subset == "original" else "original"
        expected = _EXPECTED_ORIGINAL if subset == "original" else _EXPECTED_FRONTAL
        raise ValueError(
            f"No FEI {subset} images ({expected}) under root; found only {other} images. "
            f"Pass subset={other!r}."
        )
    return frame.loc[frame["subset"] == subset].drop(columns="subset")


def _genders(subjects: pd.Series, table: dict[int, str] | None) -> list[str]:
    if table is None:
        return [UNKNOWN] * len(subjects)
    missing = sorted(set(subjects) - set(table))
    if missing:
        warn_at_caller(
            f"The FEI gender table has no label for {len(missing)} subject(s) "
            f"({', '.join(map(str, missing[:10]))}{', ...' if len(missing) > 10 else ''}); "
            f"their gender is {UNKNOWN!r}.",
            UserWarning,
        )
    return [table.get(int(s), UNKNOWN) for s in subjects]


def _describe(frame: pd.DataFrame, damaged: list, checked: bool, table: dict | None) -> str:
    poses = "\n".join(f"  {pose}: {text}" for pose, text in FEI_POSES.items())
    genders = frame["gender"].value_counts().to_dict()
    source = "user-supplied gender_table" if table is not None else "none given: all unknown"
    check = f"{len(damaged)} damaged image(s) found" if checked else "images not checked"
    return f"""\
FEI Face Database
-----------------
C. E. Thomaz and G. A. Giraldi. A new ranking method for Principal Components
Analysis and its application to face image analysis. Image and Vision
Computing 28(6):902-913, 2010. https://fei.edu.br/~cet/facedatabase.html
(research use only; distribution forbidden) - sk3dface never ships or downloads it.

200 subjects x 14 images, 640x480, white background, taken 2005-2006 at FEI,
Sao Bernardo do Campo, Brazil. The authors state 100 male and 100 female
subjects but publish no per-subject list: gender comes only from gender_table.
Poses:
{poses}

Loaded: {len(frame)} images of {frame["subject"].nunique()} subjects; gender labels:
{source} {genders}; {check}.
"""
