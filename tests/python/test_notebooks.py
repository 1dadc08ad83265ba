"""The example notebooks run headless, on the real datasets when they are there and on the simulator
always, without an error; every figure they draw has a title, axis labels and a legend."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "examples" / "notebooks").glob("*.ipynb"))

# Appended to each notebook under test: the figures are still open because the kernel draws with
# Agg (plt.show() does not close them there).
CHECK_FIGURES = '''import matplotlib.pyplot as plt
_figures = [plt.figure(n) for n in plt.get_fignums()]
assert _figures, "the notebook drew no figure"
_missing = [(f.number, a.get_title() or "untitled", what) for f in _figures for a in f.axes
            for what, ok in (("title", a.get_title()), ("x label", a.get_xlabel()), ("y label", a.get_ylabel()),
                             ("legend", a.get_legend() is not None)) if not ok]
assert not _missing, _missing
'''


def real_data() -> Path:
    root = Path(os.environ["COMPTOIR_DATA"]) if os.environ.get("COMPTOIR_DATA") else REPO.parent / "shared" / "data"
    return root if root.is_dir() else None


def test_there_are_three_notebooks_saved_without_outputs():
    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"


@pytest.mark.parametrize("data", ["real", "simulator"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, data, tmp_path, monkeypatch):
    if data == "real":
        root = real_data()
        if root is None:
            pytest.skip("real datasets not found: the simulator run covers the notebook")
        monkeypatch.setenv("COMPTOIR_DATA", str(root))
    else:
        (tmp_path / "no_data").mkdir()
        monkeypatch.setenv("COMPTOIR_DATA", str(tmp_path / "no_data"))  # a folder without the files
    # The kernel imports the comptoir these tests import: the installed package, or the checkout's
    # python/ when PYTHONPATH points there.
    import comptoir

    found = str(Path(comptoir.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [found, os.environ.get("PYTHONPATH")] if p))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_FIGURES))
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=180, allow_errors=False,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} ({data}) failed:\n{error}")
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    if data == "simulator":
        assert "UCI Online Retail" not in text
