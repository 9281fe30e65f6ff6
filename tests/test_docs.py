"""Every Python block of README.md and docs/*.md runs as written, page by page, in page order.

Each page runs in a fresh Python process (blocks share one namespace, like a reader pasting
them in order) from a temporary working directory. A block that needs the user's own data set
is marked by the line ``<!-- needs-data -->`` right above it and is skipped; such a block must
be followed by a runnable counterpart on the same page.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- needs-data -->\s*\n)?```python\n(.*?)```", re.S)


def _blocks(page: Path) -> list[tuple[bool, str]]:
    return [(bool(m.group(1)), m.group(2)) for m in BLOCK.finditer(page.read_text())]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_page_blocks_run(page, tmp_path):
    blocks = _blocks(page)
    runnable = [code for needs_data, code in blocks if not needs_data]
    assert runnable, f"{page.name}: every block needs data; add a runnable counterpart"
    script = "\n\n".join(
        f"# ---- block {i} of {page.name}\n{code}" for i, code in enumerate(runnable)
    )
    (tmp_path / "page.py").write_text("import matplotlib\nmatplotlib.use('Agg')\n" + script)
    result = subprocess.run(
        [sys.executable, "page.py"], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{page.name} failed:\n{result.stderr[-3000:]}"
