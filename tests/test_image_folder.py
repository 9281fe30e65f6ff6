"""load_image_folder on folders the tests write, and on the real sets when ../shared exists."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sk3dface.datasets import load_image_folder

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TAIWANESE = r"(?P<subject>\d{2})\d\d(?P<expression>[a-g])\d\d\.jpg"


def _write(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_labels_from_named_groups_with_duplicates_damage_and_strays(tmp_path):
    _write(tmp_path / "0111a01.jpg", 0)
    _write(tmp_path / "0111b01.jpg", 1)
    _write(tmp_path / "sub" / "0211c01.JPG", 2)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "0911a01.jpg").write_bytes((tmp_path / "0111a01.jpg").read_bytes())
    (tmp_path / "0311d01.jpg").write_bytes(b"")  # damaged: empty
    _write(tmp_path / "0410001.jpg", 3)  # '0' in the expression slot: not matched
    with pytest.warns(UserWarning) as record:
        data = load_image_folder(tmp_path, TAIWANESE)
    messages = " | ".join(str(w.message) for w in record)
    assert "0410001.jpg" in messages and "repeat an image" in messages and "damaged" in messages
    assert data.subject.tolist() == ["01", "01", "02"]
    assert data.expression.tolist() == ["a", "b", "c"]
    assert [Path(p).name for p in data.images] == ["0111a01.jpg", "0111b01.jpg", "0211c01.JPG"]
    assert data.damaged[0][0].endswith("0311d01.jpg")
    assert list(data.frame.columns) == ["image", "subject", "expression"]
    kept = load_image_folder(tmp_path, TAIWANESE, filters={"expression": "B"}, check_images=False)
    assert kept.expression.tolist() == ["b"]


def test_folder_as_label_with_match_on_path(tmp_path):
    for person in (1, 2):
        for k in (1, 2):
            _write(tmp_path / f"s{person}" / f"{k}.png", 10 * person + k)
    data = load_image_folder(tmp_path, r"s(?P<subject>\d+)/(?P<shot>\d+)\.png", match_on="path")
    assert data.subject.tolist() == ["1", "1", "2", "2"]
    assert data.shot.tolist() == ["1", "2", "1", "2"]


def test_errors_name_the_problem(tmp_path):
    _write(tmp_path / "a.jpg", 0)
    with pytest.raises(ValueError, match="no named groups"):
        load_image_folder(tmp_path, r"a\.jpg")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        load_image_folder(tmp_path, r"(?P<x>")
    with pytest.raises(ValueError, match="No image folder images found"):
        load_image_folder(tmp_path, r"(?P<x>b)\.jpg")
    with pytest.raises(ValueError, match="match_on must be one of"):
        load_image_folder(tmp_path, r"(?P<x>a)\.jpg", match_on="stem")
    with pytest.raises(ValueError, match="not a group of the pattern"):
        load_image_folder(tmp_path, r"(?P<x>a)\.jpg", filters={"y": "a"})
    with pytest.raises(ValueError, match="reserved"):
        load_image_folder(tmp_path, r"(?P<images>a)\.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing", r"(?P<x>a)\.jpg")


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is absent")
def test_real_layouts():
    taiwanese = load_image_folder(DATASETS / "taiwanese" / "faces_256x256", TAIWANESE)
    assert len(taiwanese.images) > 1000 and len(set(taiwanese.subject)) == 29
    assert sorted(set(taiwanese.expression)) == list("abcdefg")
    iim = load_image_folder(
        DATASETS / "iim" / "IIM_GScale_Imgs",
        r"DST_(?P<subject>\d+)_(?P<gender>[FM])_(?P<expression>[A-Z]+)\.jpg",
        check_images=False,
    )
    assert len(iim.images) == 700 and len(set(iim.subject)) == 100
    assert sorted(set(iim.gender)) == ["F", "M"]
