"""The README's Python snippets run as written, in order, on a fresh folder (they build on each
other, as a reader's notebook would)."""

import re
import shutil

import pytest


def test_readme_python_snippets_run(repo_root, tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / "README.md").read_text(), re.S)
    assert len(blocks) >= 8
    (tmp_path / "tests" / "golden").mkdir(parents=True)
    shutil.copy(repo_root / "tests" / "golden" / "model_file_v1.cmf", tmp_path / "tests" / "golden")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
