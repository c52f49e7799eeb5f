"""What a new user reads and installs: the README quick start, the notebook extra."""

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# distribution name -> the module it provides, where they differ
MODULE_OF = {"scikit-image": "skimage", "pillow": "PIL", "pyyaml": "yaml"}


def _dist_modules(requirements):
    names = set()
    for req in requirements:
        name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].strip().lower()
        names.add(MODULE_OF.get(name, name.replace("-", "_")))
    return names


def _notebook_imports():
    mods = set()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            src = "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(src)):
                if isinstance(node, ast.Import):
                    mods.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    mods.add(node.module.split(".")[0])
    return mods


def test_notebook_extra_installs_what_running_the_notebooks_needs():
    extra = _dist_modules(PYPROJECT["project"]["optional-dependencies"]["notebook"])
    # a front end to open them, a kernel to run them (also headless), the editor's backend
    assert {"jupyterlab", "ipykernel", "nbclient", "ipympl"} <= extra
    provided = extra | _dist_modules(PYPROJECT["project"]["dependencies"]) | {"vcfmeasure"}
    needed = _notebook_imports() - set(sys.stdlib_module_names)
    assert needed and needed <= provided, needed - provided
    readme = (ROOT / "notebooks" / "README.md").read_text()
    # one install command is enough: nothing else is added to it
    line = next(ln for ln in readme.splitlines() if ln.startswith("pip install 'vcfmeasure["))
    assert line.split("#")[0].split() == ["pip", "install", "'vcfmeasure[notebook]'"]


def test_readme_quick_start_explains_the_anchor_and_the_reference():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert 'levels="L3"' in quick and "anchor" in quick
    assert "Restored fractions depend on the reference" in quick
    assert 'reference="radelement"' in quick and "docs/measurement.md" in quick
