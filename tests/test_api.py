"""The public API inventory: names never disappear silently, and importing is light."""

import subprocess
import sys
from pathlib import Path

import pytest

import sk3dface
import sk3dface.datasets

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _documented_names(section: str) -> set[str]:
    names, current = set(), None
    for line in API_DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip("` ")
        elif current == section and line.startswith("- `"):
            names.add(line[3:].split("`")[0])
    return names


@pytest.mark.parametrize("module", [sk3dface, sk3dface.datasets])
def test_every_public_name_resolves_and_is_documented(module):
    for name in module.__all__:
        assert getattr(module, name) is not None
    public = {n for n in module.__all__ if not n.startswith("__")}
    assert public == _documented_names(module.__name__)


def test_import_does_not_load_heavy_backends():
    code = (
        "import sys, sk3dface, sk3dface.datasets;"
        "heavy = {'torch', 'dlib', 'cv2', 'skorch'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sk3dface.Nope  # noqa: B018
