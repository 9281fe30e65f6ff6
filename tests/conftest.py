"""Shared fixtures: tiny fake KDEF and FEI trees with the real file names and real faces.

``make_kdef_tree`` / ``make_fei_tree`` are factories (call them with the subjects,
expressions, angles or poses you need); ``kdef_tree`` / ``fei_tree`` are small default
trees. Every image is a real face photo (Grace Hopper from matplotlib, the astronaut
from scikit-image) with a per-subject face shape (horizontal stretch) and per-image
jitter (scale, shift, brightness), large enough for dlib's HOG detector. Each tree also
holds one all-black image, one 0-byte file and one file with an unparseable name,
all of a subject outside the requested grid (see ``FakeTree``).
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

KDEF_EXPRESSION_CODES = ("AF", "AN", "DI", "HA", "NE", "SA", "SU")
KDEF_ANGLE_CODES = ("FL", "HL", "S", "HR", "FR")
FACE_SHAPE = (300, 256)  # height, width of every fake photo


@dataclass
class FakeTree:
    """What a fake data-set tree holds.

    ``good`` are the grid images (real faces); ``black`` and ``empty`` are the
    damaged files and ``unparseable`` the badly named one (None when not written);
    ``extra_subject`` is the subject the damaged files are named after.
    """

    root: Path
    good: list[Path] = field(default_factory=list)
    black: Path | None = None
    empty: Path | None = None
    truncated: Path | None = None
    unparseable: Path | None = None
    extra_subject: str | int | None = None

    @property
    def damaged(self) -> list[Path]:
        return [p for p in (self.black, self.empty, self.truncated) if p is not None]


@functools.lru_cache(maxsize=1)
def _base_faces() -> tuple[np.ndarray, np.ndarray]:
    """Two real frontal faces as RGB uint8 arrays of FACE_SHAPE, face ~110 px wide."""
    import cv2
    import matplotlib.cbook
    import skimage.data

    height, width = FACE_SHAPE
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    grace = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    astronaut = skimage.data.astronaut()[30:255, 131:323]
    return tuple(
        np.ascontiguousarray(cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA))
        for face in (grace, astronaut)
    )


def fake_face(subject_index: int, name: str, *, mirror: bool = False) -> np.ndarray:
    """A real face photo varied per subject (shape) and per file ``name`` (jitter), RGB."""
    import cv2

    base = _base_faces()[subject_index % 2]
    height, width = base.shape[:2]
    stretch = 1.0 + 0.06 * ((subject_index // 2) % 3 - 1)  # face shape differs by subject
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    scale = 1.0 + rng.uniform(-0.04, 0.04)
    tx, ty = rng.uniform(-4.0, 4.0, size=2)
    matrix = np.array(
        [
            [scale * stretch, 0.0, (1 - scale * stretch) * width / 2 + tx],
            [0.0, scale, (1 - scale) * height / 2 + ty],
        ]
    )
    image = cv2.warpAffine(base, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    image = np.clip(image * rng.uniform(0.9, 1.1) + rng.uniform(-10, 10), 0, 255)
    image = image.astype(np.uint8)
    return np.ascontiguousarray(image[:, ::-1]) if mirror else image


def write_jpeg(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def write_truncated_jpeg(path: Path) -> Path:
    write_jpeg(path, fake_face(0, path.name))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _black(path: Path) -> Path:
    return write_jpeg(path, np.zeros((*FACE_SHAPE, 3), dtype=np.uint8))


def _empty(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def build_kdef_tree(
    root: Path,
    *,
    subjects: Iterable[str] = ("F01", "M02"),
    expressions: Iterable[str] = ("HA", "NE", "SA"),
    angles: Iterable[str] = ("S", "HL", "HR"),
    sessions: Iterable[str] = ("A", "B"),
    layout: str = "folders",
    extension: str = ".JPG",
    damaged: bool = True,
    truncated: bool = False,
    unparseable: bool = True,
) -> FakeTree:
    """Write a fake KDEF tree: one image per session x subject x expression x angle.

    ``layout="folders"`` puts each sitting in its own folder (``AF01/AF01HAS.JPG``),
    as KDEF is distributed; ``"flat"`` puts every file directly in ``root``.
    """
    subjects, sessions = list(subjects), list(sessions)
    tree = FakeTree(root=Path(root))

    def path_for(name: str) -> Path:
        return tree.root / name[:4] / name if layout == "folders" else tree.root / name

    for session, subject in itertools.product(sessions, subjects):
        index = int(subject[1:]) * 2 + (subject[0] == "M")
        for expression, angle in itertools.product(expressions, angles):
            name = f"{session}{subject}{expression}{angle}{extension}"
            face = fake_face(index, name, mirror=angle.endswith("R"))
            tree.good.append(write_jpeg(path_for(name), face))
    spare = [f"{g}{i:02d}" for i in range(35, 0, -1) for g in "FM" if f"{g}{i:02d}" not in subjects]
    tree.extra_subject = spare[0]
    if damaged:  # named like KDEF's real all-black image AF01SUFR
        tree.black = _black(path_for(f"A{spare[0]}SUFR{extension}"))
        tree.empty = _empty(path_for(f"B{spare[0]}DIHL{extension}"))
    if truncated:
        tree.truncated = write_truncated_jpeg(path_for(f"A{spare[0]}AFFL{extension}"))
    if unparseable:
        first = tree.good[0]
        tree.unparseable = write_jpeg(
            first.with_name(first.stem + " copy" + extension), fake_face(0, "copy")
        )
    return tree


def build_fei_tree(
    root: Path,
    *,
    subjects: Iterable[int] = (1, 2, 3, 4),
    poses: Iterable[int] = range(1, 15),
    frontal: bool = False,
    damaged: bool = True,
    truncated: bool = False,
    unparseable: bool = True,
) -> FakeTree:
    """Write a fake FEI tree: ``originalimages_partK/<subject>-<pose>.jpg``.

    Subjects 1-50 go to part 1, 51-100 to part 2, and so on, as distributed. With
    ``frontal=True`` the aligned frontal subset (``<subject>a.jpg``, ``<subject>b.jpg``)
    is written too, to ``frontalimages_manuallyaligned/``.
    """
    subjects, poses = list(subjects), list(poses)
    tree = FakeTree(root=Path(root))

    def path_for(subject: int, name: str) -> Path:
        return tree.root / f"originalimages_part{(subject - 1) // 50 + 1}" / name

    for subject in subjects:
        for pose in poses:
            name = f"{subject}-{pose:02d}.jpg"
            face = fake_face(subject - 1, name, mirror=pose <= 5)
            tree.good.append(write_jpeg(path_for(subject, name), face))
        if frontal:
            for letter in "ab":
                name = f"{subject}{letter}.jpg"
                folder = tree.root / "frontalimages_manuallyaligned"
                tree.good.append(write_jpeg(folder / name, fake_face(subject - 1, name)))
    extra = max(subjects) + 1
    tree.extra_subject = extra
    if damaged:
        tree.black = _black(path_for(extra, f"{extra}-11.jpg"))
        tree.empty = _empty(path_for(extra, f"{extra}-12.jpg"))
    if truncated:
        tree.truncated = write_truncated_jpeg(path_for(extra, f"{extra}-13.jpg"))
    if unparseable:  # a browser's name for a second download of 1-01.jpg
        name = f"{subjects[0]}-01 (1).jpg"
        tree.unparseable = write_jpeg(path_for(subjects[0], name), fake_face(0, name))
    return tree


def _factory(build: Callable[..., FakeTree], tmp_path_factory, prefix: str):
    def make(root: Path | str | None = None, **options) -> FakeTree:
        root = Path(root) if root is not None else tmp_path_factory.mktemp(prefix)
        return build(root, **options)

    return make


@pytest.fixture
def make_kdef_tree(tmp_path_factory) -> Callable[..., FakeTree]:
    """Factory ``make_kdef_tree(root=None, subjects=..., expressions=..., angles=..., ...)``."""
    return _factory(build_kdef_tree, tmp_path_factory, "KDEF")


@pytest.fixture
def make_fei_tree(tmp_path_factory) -> Callable[..., FakeTree]:
    """Factory ``make_fei_tree(root=None, subjects=..., poses=..., frontal=..., ...)``."""
    return _factory(build_fei_tree, tmp_path_factory, "FEI")


@pytest.fixture
def kdef_tree(make_kdef_tree) -> FakeTree:
    """2 people x 2 sessions x 3 expressions x 3 angles = 36 faces, plus the bad files."""
    return make_kdef_tree()


@pytest.fixture
def fei_tree(make_fei_tree) -> FakeTree:
    """4 subjects x 14 poses = 56 faces in originalimages_part1/, plus the bad files."""
    return make_fei_tree()
