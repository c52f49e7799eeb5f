"""The README's quick start runs as written."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_quick_start_runs(tmp_path, monkeypatch, capsys):
    section = README.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README quick start", "exec"), {})
    out = capsys.readouterr().out
    assert "magnification-corrected" in out
    assert (tmp_path / "overlay.png").stat().st_size > 10_000
    assert "L1" in out and "wedge" in out
