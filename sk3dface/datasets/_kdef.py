"""Loader for the Karolinska Directed Emotional Faces (KDEF) as distributed.

See ``docs/datasets.md`` for the layout, the label meanings and the damaged-image check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

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

#: KDEF expression codes (letters 5-6 of a file name) and their names.
KDEF_EXPRESSIONS = {
    "AF": "afraid",
    "AN": "angry",
    "DI": "disgusted",
    "HA": "happy",
    "NE": "neutral",
    "SA": "sad",
    "SU": "surprised",
}
#: KDEF camera-angle codes (the end of a file name) and their names.
KDEF_ANGLES = {
    "FL": "full_left",
    "HL": "half_left",
    "S": "straight",
    "HR": "half_right",
    "FR": "full_right",
}
KDEF_GENDERS = {"F": "female", "M": "male"}
KDEF_SESSIONS = ("A", "B")
N_IDENTITIES = 35  # per gender

_EXPECTED = "e.g. 'AF01ANS.JPG' or 'AF01/AF01HAHL.JPG': session A/B, gender F/M, identity 01-35, "
_EXPECTED += "expression AF|AN|DI|HA|NE|SA|SU, angle FL|HL|S|HR|FR"
_NAME = re.compile(
    r"^(?P<session>[AB])(?P<gender>[FM])(?P<identity>\d{2})"
    r"(?P<expression>AF|AN|DI|HA|NE|SA|SU)(?P<angle>FL|HL|S|HR|FR)\.[A-Z]+$",
    re.IGNORECASE,
)
_NOUNS = {
    "fear": "AF",
    "anger": "AN",
    "disgust": "DI",
    "happiness": "HA",
    "sadness": "SA",
    "surprise": "SU",
}


def _aliases(codes: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Lower-case code or name -> canonical name."""
    aliases = {code.lower(): name for code, name in codes.items()}
    aliases.update({name: name for name in codes.values()})
    aliases.update({noun: codes[code] for noun, code in (extra or {}).items()})
    return aliases


def _subject_aliases() -> dict[str, str]:
    aliases = {}
    for gender in KDEF_GENDERS:
        for identity in range(1, N_IDENTITIES + 1):
            canonical = f"{gender}{identity:02d}"
            aliases[canonical.lower()] = canonical
            aliases[f"{gender}{identity}".lower()] = canonical
    return aliases


def _parse_kdef_name(name: str) -> dict[str, str] | None:
    match = _NAME.match(name)
    if match is None or not 1 <= int(match["identity"]) <= N_IDENTITIES:
        return None
    gender = match["gender"].upper()
    return {
        "subject": f"{gender}{match['identity']}",
        "gender": KDEF_GENDERS[gender],
        "expression": KDEF_EXPRESSIONS[match["expression"].upper()],
        "angle": KDEF_ANGLES[match["angle"].upper()],
        "session": match["session"].upper(),
    }


@loader_docstring("KDEF")
def load_kdef(
    root: str | os.PathLike,
    *,
    angles: Iterable[str] | str | None = None,
    expressions: Iterable[str] | str | None = None,
    subjects: Iterable[str] | str | None = None,
    sessions: Iterable[str] | str | None = None,
    check_images: bool = True,
    keep_damaged: bool = False,
    n_jobs: int | None = None,
) -> Bunch:
    """Load the KDEF file list and labels from a folder laid out as distributed.

    KDEF (Karolinska Directed Emotional Faces) holds 70 people (35 women, 35
    men), each photographed in two sessions (A and B) with 7 expressions from
    5 camera angles: 4,900 images named like ``AF01ANS.JPG`` = session ``A``,
    gender ``F``, identity ``01``, expression ``AN`` (angry), angle ``S``
    (straight). The images may sit in one folder per sitting (``AF01/``) or
    all in one folder; ``root`` is searched recursively, file names are
    matched case-insensitively. Images are not decoded except for the quick
    damaged-image check. See ``docs/datasets.md`` for details.

    Parameters
    ----------
    root : str or path-like
        The folder holding the KDEF images (e.g. the extracted ``KDEF/``).
    angles : str or iterable of str, default=None
        Keep only these camera angles, as codes (``"FL"``, ``"HL"``, ``"S"``,
        ``"HR"``, ``"FR"``) or names (``"full_left"``, ``"half_left"``,
        ``"straight"``, ``"half_right"``, ``"full_right"``). None or ``"all"`` keeps
        all five.
    expressions : str or iterable of str, default=None
        Keep only these expressions, as codes (``"AF"``, ``"AN"``, ``"DI"``,
        ``"HA"``, ``"NE"``, ``"SA"``, ``"SU"``) or names (``"afraid"``,
        ``"angry"``, ``"disgusted"``, ``"happy"``, ``"neutral"``, ``"sad"``,
        ``"surprised"``). None keeps all.
    subjects : str or iterable of str, default=None
        Keep only these people, as gender + identity (``"F01"`` ... ``"M35"``).
        None keeps all.
    sessions : str or iterable of str, default=None
        Keep only these sessions (``"A"``, ``"B"``). None keeps both.
    check_images : bool, default=True
        Decode every selected image at 1/8 size to find damaged ones (empty,
        unreadable, truncated, all black or blank); they are reported in a
        warning and in ``damaged``. About 1-2 ms per image.
    %(damaged_options)s

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with one entry per image, sorted by file name:

        %(loader_images)s
        subject : ndarray of str
            The person, gender + identity (``"F01"``): the same person in
            sessions A and B has the same ``subject``.
        gender : ndarray of str
            ``"female"`` or ``"male"``.
        expression : ndarray of str
            ``"afraid"``, ``"angry"``, ``"disgusted"``, ``"happy"``,
            ``"neutral"``, ``"sad"`` or ``"surprised"``.
        angle : ndarray of str
            ``"full_left"``, ``"half_left"``, ``"straight"``,
            ``"half_right"`` or ``"full_right"``.
        session : ndarray of str
            ``"A"`` or ``"B"``.
        %(loader_table)s

    Raises
    ------
    %(raises)s

    Warns
    -----
    UserWarning
        For image files with non-KDEF names, duplicated files and damaged images.

    See Also
    --------
    load_fei : The FEI Face Database.
    %(see_also_view_sets)s

    Examples
    --------
    %(example_imports)s
    >>> from sk3dface.datasets import load_kdef
    >>> pixels = np.random.default_rng(0).integers(0, 255, (76, 56, 3), dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ["AF01ANS.JPG", "AF01HAHL.JPG", "BF01ANS.JPG", "AM02NES.JPG"]:
    ...         folder = Path(root, name[:4])
    ...         folder.mkdir(exist_ok=True)
    ...         Image.fromarray(pixels).save(folder / name)
    ...     kdef = load_kdef(root, expressions=["angry", "HA"])
    >>> kdef.frame.drop(columns="image")
      subject  gender expression      angle session
    0     F01  female      angry   straight       A
    1     F01  female      happy  half_left       A
    2     F01  female      angry   straight       B
    """
    if isinstance(angles, str) and angles.strip().lower() == "all":
        angles = None
    angle_filter = normalize_choice(angles, _aliases(KDEF_ANGLES), "angles", _valid(KDEF_ANGLES))
    expression_filter = normalize_choice(
        expressions, _aliases(KDEF_EXPRESSIONS, _NOUNS), "expressions", _valid(KDEF_EXPRESSIONS)
    )
    subject_filter = normalize_choice(
        subjects, _subject_aliases(), "subjects", "'F01' ... 'F35' and 'M01' ... 'M35'"
    )
    session_filter = normalize_choice(
        sessions, {s.lower(): s for s in KDEF_SESSIONS}, "sessions", "'A' and 'B'"
    )

    frame = scan_records(root, _parse_kdef_name, "KDEF", _EXPECTED)
    frame["name"] = frame["image"].map(lambda p: os.path.basename(p).upper())
    frame = frame.sort_values(["name", "image"], kind="stable").reset_index(drop=True)
    frame = drop_duplicates(frame, ["subject", "session", "expression", "angle"], "KDEF")
    frame = apply_filters(
        frame,
        {
            "angle": angle_filter,
            "expression": expression_filter,
            "subject": subject_filter,
            "session": session_filter,
        },
        "KDEF",
    )
    frame, damaged = handle_damaged(
        frame, check_images=check_images, keep_damaged=keep_damaged, n_jobs=n_jobs, dataset="KDEF"
    )
    columns = ["subject", "gender", "expression", "angle", "session"]
    return make_bunch(frame, columns, damaged, _describe(frame, damaged, check_images))


def _valid(codes: dict[str, str]) -> str:
    return ", ".join(f"{code!r}/{name!r}" for code, name in codes.items())


def _describe(frame: pd.DataFrame, damaged: list, checked: bool) -> str:
    counts = ", ".join(
        f"{frame[column].nunique()} {column}s" for column in ["subject", "expression", "angle"]
    )
    check = f"{len(damaged)} damaged image(s) found" if checked else "images not checked"
    return f"""\
KDEF: Karolinska Directed Emotional Faces
-----------------------------------------
Lundqvist, D., Flykt, A. & Öhman, A. (1998). The Karolinska Directed Emotional
Faces - KDEF. Department of Clinical Neuroscience, Psychology section,
Karolinska Institutet. Obtain it from https://kdef.se (research use; terms of
use forbid redistribution) - sk3dface never ships or downloads it.

70 people (35 female, 35 male) x 2 sessions (A, B) x 7 expressions x 5 angles.
File name AF01ANS.JPG = session A, gender F, identity 01, expression AN, angle S.
subject = gender + identity ("F01"): one person across sessions A and B.
expression: AF afraid, AN angry, DI disgusted, HA happy, NE neutral, SA sad,
SU surprised. angle: FL full left, HL half left, S straight, HR half right,
FR full right (profiles ~90 degrees, half profiles ~45 degrees).

Loaded: {len(frame)} images of {counts}; {check}.
"""


def make_kdef_view_sets(
    kdef: Bunch, angles: Iterable[str] | str = "all"
) -> tuple[list[tuple], pd.DataFrame]:
    """The paper's KDEF view sets: one sample = one person's photos of one expression.

    Each sample is a tuple of the images of one ``(subject, session, expression)`` sitting,
    one per angle, in the order of ``angles``; an angle that sitting lacks (filtered out or
    damaged) is ``None``, a missing view for :class:`~sk3dface.FaceLandmarker`. Both sessions
    of a person keep the same ``subject``: use it as the CV group.

    Parameters
    ----------
    kdef : Bunch
        The result of :func:`load_kdef`.
    angles : str or iterable of str, default="all"
        The views of a sample, in this order, as codes or names (``"all"``: FL, HL, S, HR, FR).

    Returns
    -------
    samples : list of tuple
        One view set per sitting, sorted by subject, session and expression.
    labels : DataFrame
        One row per sample: ``subject``, ``gender``, ``expression``, ``session``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.utils import Bunch
    >>> from sk3dface.datasets import make_kdef_view_sets
    >>> frame = pd.DataFrame({
    ...     "image": ["AF01ANS.JPG", "AF01ANHL.JPG", "AF01HAS.JPG"], "subject": "F01",
    ...     "gender": "female", "expression": ["angry", "angry", "happy"],
    ...     "angle": ["straight", "half_left", "straight"], "session": "A"})
    >>> samples, labels = make_kdef_view_sets(Bunch(frame=frame), angles=["HL", "S"])
    >>> samples
    [('AF01ANHL.JPG', 'AF01ANS.JPG'), (None, 'AF01HAS.JPG')]
    >>> labels.expression.tolist()
    ['angry', 'happy']
    """
    if isinstance(angles, str) and angles.strip().lower() == "all":
        angles = list(KDEF_ANGLES)
    order = normalize_choice(angles, _aliases(KDEF_ANGLES), "angles", _valid(KDEF_ANGLES))
    frame = kdef.frame
    key = ["subject", "session", "expression"]
    samples, rows = [], []
    for (subject, session, expression), sitting in frame.groupby(key, sort=True):
        by_angle = dict(zip(sitting["angle"], sitting["image"], strict=True))
        views = tuple(by_angle.get(angle) for angle in order)
        if any(view is not None for view in views):
            samples.append(views)
            rows.append((subject, sitting["gender"].iloc[0], expression, session))
    labels = pd.DataFrame(rows, columns=["subject", "gender", "expression", "session"])
    return samples, labels
