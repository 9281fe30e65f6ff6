"""Small KDEF- and FEI-shaped folders of synthetic faces, for the docstring examples.

The faces are :func:`~sk3dface.datasets.make_synthetic_face_images` (one photo warped into
several people, expressions and views), written under the file names of the real sets, so
that the protocols read them exactly as they read KDEF and FEI.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from PIL import Image

from sk3dface.datasets._face_images import make_synthetic_face_images

# make_synthetic_face_images' expressions, in its order, as KDEF codes
_KDEF_CODES = {"neutral": "NE", "happy": "HA", "surprised": "SU", "angry": "AN", "sad": "SA"}
_KDEF_VIEWS = [(session, angle) for session in "AB" for angle in ("S", "HL", "HR")]


@functools.cache
def _faces(n_subjects: int, n_expressions: int, n_views: int, random_state: int):
    """The synthetic faces, made once per process (the examples of a module share them)."""
    return make_synthetic_face_images(
        n_subjects, n_expressions, n_views, width=300, random_state=random_state
    )


def write_kdef_example(
    folder: str | os.PathLike, n_subjects: int = 2, n_expressions: int = 3, random_state: int = 0
) -> Path:
    """Write ``n_subjects`` x ``n_expressions`` x 2 sittings x 3 angles faces as a KDEF tree.

    Subjects alternate female and male (``AF01``, ``AM02``, ...); the angle codes are names
    only (the synthetic views differ in yaw at random). Returns the root folder.

    Examples
    --------
    >>> import tempfile
    >>> root = write_kdef_example(tempfile.mkdtemp())
    >>> sorted(p.name for p in (root / "AF01").iterdir())[:2]
    ['AF01HAHL.JPG', 'AF01HAHR.JPG']
    """
    faces = _faces(n_subjects, n_expressions, len(_KDEF_VIEWS), random_state)
    root = Path(folder)
    for image, subject, expression, view in zip(
        faces.images, faces.subject, faces.expression, faces.view, strict=True
    ):
        number = int(subject[1:]) + 1
        session, angle = _KDEF_VIEWS[int(view)]
        code = f"{'FM'[(number - 1) % 2]}{number:02d}"
        name = f"{session}{code}{_KDEF_CODES[expression]}{angle}.JPG"
        (root / name[:4]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / name[:4] / name, quality=92)
    return root


def write_fei_example(
    folder: str | os.PathLike, n_subjects: int = 4, n_poses: int = 8, random_state: int = 0
) -> tuple[Path, dict[int, str]]:
    """Write ``n_subjects`` x ``n_poses`` faces as FEI's ``originalimages_part1/<s>-<pp>.jpg``.

    Poses are numbered from 03 on (FEI's near-frontal views). Returns the root folder and
    a gender table (odd subjects female, even male) for :func:`~sk3dface.protocols.gender_protocol`.

    Examples
    --------
    >>> import tempfile
    >>> root, genders = write_fei_example(tempfile.mkdtemp(), n_subjects=2, n_poses=2)
    >>> sorted(p.name for p in (root / "originalimages_part1").iterdir()), genders
    (['1-03.jpg', '1-04.jpg', '2-03.jpg', '2-04.jpg'], {1: 'female', 2: 'male'})
    """
    faces = _faces(n_subjects, 1, n_poses, random_state)
    part = Path(folder) / "originalimages_part1"
    part.mkdir(parents=True, exist_ok=True)
    for image, subject, view in zip(faces.images, faces.subject, faces.view, strict=True):
        Image.fromarray(image).save(part / f"{int(subject[1:]) + 1}-{int(view) + 3:02d}.jpg")
    genders = {s: ("female" if s % 2 else "male") for s in range(1, n_subjects + 1)}
    return Path(folder), genders
