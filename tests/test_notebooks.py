"""The example notebooks are committed clean; CI executes them with ``pytest --nbmake notebooks/``."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_four_example_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    for prefix in ("01_quickstart", "02_kyphoplasty", "03_batch", "04_interactive"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs; clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_needs_no_network_or_data_files(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    for word in ("http://", "https://", "urlopen", "requests.", "pooch"):
        assert word not in source, f"{path.name} mentions {word!r}"
