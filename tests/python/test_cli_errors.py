"""`comptoir score` / `offers` / `inspect-model`: a user's mistake is one line naming it and exit status 2,
never a traceback."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from comptoir.cli import main  # noqa: E402
from comptoir.propensity import LogisticRegression  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"recency": rng.normal(size=300), "frequency": rng.normal(size=300)})
    y = (frame["recency"] + rng.normal(size=300) > 0).astype(int)
    LogisticRegression().fit(frame, y).save(root / "lr.cmf")
    frame.assign(customer=np.arange(300)).to_csv(root / "customers.csv", index=False)
    (root / "damaged.cmf").write_bytes((root / "lr.cmf").read_bytes()[:-9])
    (root / "empty.csv").write_text("")
    (root / "folder").mkdir()
    return root


def one_error_line(capsys, code, *fragments):
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("comptoir: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], err
    return lines[0]


def test_scoring_works_with_and_without_an_id_column(files, capsys):
    assert main(["score", str(files / "lr.cmf"), str(files / "customers.csv"), str(files / "out.csv"),
                 "--id-column", "customer"]) == 0
    assert list(pd.read_csv(files / "out.csv").columns) == ["customer", "probability"]
    assert main(["score", str(files / "lr.cmf"), str(files / "customers.csv"), str(files / "out2.csv")]) == 0
    assert len(pd.read_csv(files / "out2.csv")) == 300


@pytest.mark.parametrize("case, fragments", [
    ("missing_id_column", ["--id-column 'client'", "customer"]),
    ("input_is_a_folder", ["is a folder"]),
    ("input_missing", ["does not exist"]),
    ("output_folder_missing", ["does not exist", "nowhere"]),
    ("output_is_a_folder", ["is a folder"]),
    ("model_damaged", ["damaged.cmf"]),
    ("model_is_a_folder", ["is a folder"]),
    ("model_is_a_table", ["customers.csv"]),
    ("empty_table", ["empty.csv", "empty"]),
    ("negative_explain", ["--explain"]),
])
def test_score_mistakes_are_one_line(files, capsys, case, fragments):
    model, table, output, extra = files / "lr.cmf", files / "customers.csv", files / "scores.csv", []
    if case == "missing_id_column":
        extra = ["--id-column", "client"]
    elif case == "input_is_a_folder":
        table = files / "folder"
    elif case == "input_missing":
        table = files / "absent.csv"
    elif case == "output_folder_missing":
        output = files / "nowhere" / "scores.csv"
    elif case == "output_is_a_folder":
        output = files / "folder"
    elif case == "model_damaged":
        model = files / "damaged.cmf"
    elif case == "model_is_a_folder":
        model = files / "folder"
    elif case == "model_is_a_table":
        model = files / "customers.csv"
    elif case == "empty_table":
        table = files / "empty.csv"
    elif case == "negative_explain":
        extra = ["--explain", "-1"]
    one_error_line(capsys, main(["score", str(model), str(table), str(output), *extra]), *fragments)
    assert not (files / "scores.csv").exists()


def test_parquet_without_pyarrow_is_one_line(files, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyarrow", "fastparquet") else real(name, *a))
    pd.read_csv(files / "customers.csv").to_csv(files / "customers.parquet", index=False)  # any bytes: never read
    one_error_line(capsys, main(["score", str(files / "lr.cmf"), str(files / "customers.parquet"), str(files / "s.csv")]),
                   "pyarrow")
    one_error_line(capsys, main(["score", str(files / "lr.cmf"), str(files / "customers.csv"), str(files / "s.parquet")]),
                   "pyarrow")


def test_offers_mistakes_are_one_line(files, capsys):
    base = [str(files / "customers.csv"), str(files / "o.csv"), "--budget", "10", "--value", "5"]
    one_error_line(capsys, main(["offers", str(files / "lr.cmf"), *base, "--cost", "1"]), "uplift model")
    one_error_line(capsys, main(["offers", str(files / "lr.cmf"), *base, "--cost", "one,two"]), "--cost")
    one_error_line(capsys, main(["offers", str(files / "folder"), *base, "--cost", "1"]), "is a folder")


def test_inspect_mistakes_are_one_line(files, capsys):
    one_error_line(capsys, main(["inspect-model", str(files / "damaged.cmf")]), "damaged.cmf")
    one_error_line(capsys, main(["inspect-model", str(files / "folder")]))
    one_error_line(capsys, main(["inspect-model", str(files / "absent.cmf")]))


def test_the_installed_command_prints_no_traceback(files):
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "comptoir", "score", str(files / "lr.cmf"), str(files / "folder"),
                           str(files / "x.csv")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"comptoir: error: {files / 'folder'} is a folder; give a file"]
