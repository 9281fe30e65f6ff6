"""The public API inventory: names never disappear silently, and importing is light."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import sk3dface
import sk3dface.datasets
import sk3dface.exceptions
import sk3dface.metrics
import sk3dface.plotting
import sk3dface.protocols

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _documented_names(section: str) -> set[str]:
    """Names in the bullets of one ``## section``: the backticked names before the dash."""
    bullets, current = [], None
    for line in API_DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip("` ")
        elif current == section and line.startswith("- `"):
            bullets.append(line[2:])
        elif current == section and line.startswith("  ") and bullets:
            bullets[-1] += " " + line.strip()  # a bullet continued on the next line
    names = set()
    for bullet in bullets:
        names.update(part.strip(" `") for part in bullet.split(" — ")[0].split(","))
    return names - {""}


@pytest.mark.parametrize(
    "module",
    [
        sk3dface,
        sk3dface.datasets,
        sk3dface.protocols,
        sk3dface.plotting,
        sk3dface.exceptions,
        sk3dface.metrics,
    ],
)
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


@pytest.mark.parametrize(
    "module",
    [sk3dface, sk3dface.datasets, sk3dface.protocols, sk3dface.plotting, sk3dface.metrics],
)
def test_every_public_function_and_class_has_a_runnable_example(module):
    # --doctest-modules runs the examples; this makes sure there is one to run
    def has_example(obj) -> bool:
        _, heading, section = (inspect.getdoc(obj) or "").partition("Examples\n--------\n")
        return bool(heading) and ">>> " in section

    callables = [n for n in module.__all__ if callable(getattr(module, n))]
    assert [n for n in callables if not has_example(getattr(module, n))] == []
