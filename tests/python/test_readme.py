"""The README's Python snippets run as written, in order, on a fresh folder (they build on each
other, as a reader's notebook would)."""

import importlib.util
import os
import re
import shutil

import pytest


def missing_engines(block: str) -> list:
    """What a block's first line ``# needs: dask distributed`` (optional engines) names that is
    not installed; ``java`` stands for a Java runtime. CI (CI_REQUIRE_DISTRIBUTED=1) has them all."""
    needs = re.match(r"# needs: (.+)\n", block)
    if needs is None:
        return []
    missing = [name for name in needs.group(1).split()
               if (shutil.which(name) is None if name == "java" else importlib.util.find_spec(name) is None)]
    if missing and os.environ.get("CI_REQUIRE_DISTRIBUTED") == "1":
        pytest.fail(f"CI_REQUIRE_DISTRIBUTED=1 but the README's snippet needs {missing}")
    return missing


def test_readme_python_snippets_run(repo_root, tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / "README.md").read_text(), re.S)
    assert len(blocks) >= 8
    (tmp_path / "tests" / "golden").mkdir(parents=True)
    shutil.copy(repo_root / "tests" / "golden" / "model_file_v1.cmf", tmp_path / "tests" / "golden")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(blocks):
        if missing_engines(block):
            continue  # an optional engine's snippet: no later snippet builds on it
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
