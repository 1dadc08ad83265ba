"""Every silent repair is logged on the ``comptoir`` logger with its counts; progress bars keep their
final state in a saved notebook."""

import logging
from pathlib import Path

import numpy as np
import pytest

from comptoir.data import EventLog


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith("comptoir")]


def test_event_log_logs_dropped_duplicates_and_defaulted_kinds(caplog):
    caplog.set_level(logging.INFO, logger="comptoir")
    EventLog.from_arrays(session=[1, 1, 1, 2], item=["a", "a", "b", "c"], timestamp=[10, 10, 11, 12],
                         kind=["cart", "cart", "purchase", "view"], user=[7, 7, 7, None])
    assert messages(caplog) == ["EventLog: dropped 1 exact duplicate events of 4 rows"]
    caplog.clear()
    EventLog.from_arrays(session=[1, 1, 2], item=[5, 6, 7], timestamp=[10, 11, 12])
    assert len(messages(caplog)) == 1 and "the 3 events read as views" in messages(caplog)[0]


def test_basket_truncation_is_logged_with_counts(caplog):
    from comptoir.recommend import FrequentlyBoughtTogether

    baskets = [[f"S{i}" for i in range(8)], ["S0", "S1"], [f"S{i}" for i in range(6)] + ["S0", "S0"], ["S2", "S3"]]
    caplog.set_level(logging.INFO, logger="comptoir")
    FrequentlyBoughtTogether(max_basket_size=5, min_support=1).fit(baskets)
    (message,) = messages(caplog)
    # Baskets 0 (8 distinct) and 2 (6 distinct, the repeats do not count) go past 5.
    assert "max_basket_size=5 truncated 2 of 4 baskets (50.0%), leaving out 4 distinct items" in message
    caplog.clear()
    FrequentlyBoughtTogether(max_basket_size=8, min_support=1).fit(baskets)
    assert messages(caplog) == []


def test_features_log_the_customers_and_guest_events_they_leave_out(caplog):
    from comptoir.features import behaviour_features, purchase_labels

    day = 86_400
    events = {"session": [1, 2, 3, 4, 5], "user": [10, 10, None, 11, 12], "item": ["a", "b", "a", "c", "a"],
              "timestamp": [0, day, 2 * day, 20 * day, 25 * day], "kind": ["purchase"] * 5,
              "value": [1.0, 2.0, 3.0, 4.0, 5.0]}
    caplog.set_level(logging.INFO, logger="comptoir")
    X = behaviour_features(events, 10 * day)
    assert list(X.index) == [10]
    found = messages(caplog)
    assert "behaviour_features: 2 customers first seen after the snapshot get no row (no history to describe)" in found
    assert "behaviour_features: 1 guest events before the snapshot belong to no customer and get no row" in found
    caplog.clear()
    purchase_labels(events, 10 * day, horizon_days=30, customers=[10, 99])
    assert messages(caplog) == ["purchase_labels: 1 of the 2 customers asked for have no events; their labels are 0"]


def test_early_stopping_is_logged(caplog):
    from comptoir.trees import GradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = (rng.random(3000) < 0.5).astype(int)  # pure noise: the validation loss stops improving at once
    caplog.set_level(logging.INFO, logger="comptoir")
    model = GradientBoostingClassifier(n_estimators=200, early_stopping=True, n_iter_no_change=5).fit(X, y)
    (message,) = messages(caplog)
    assert message.startswith(f"GradientBoostingClassifier: early stopping after {len(model.validation_loss_)} of 200 trees")
    assert message.endswith(f"kept the best {model.n_estimators_}")
    caplog.clear()
    GradientBoostingClassifier(n_estimators=20).fit(X, y)
    assert messages(caplog) == []


def test_progress_bars_are_text_bars_outside_notebooks_and_leave_nothing(capsys):
    pytest.importorskip("tqdm")
    from comptoir._progress import bar_class, make_progress

    tqdm, notebook = bar_class()
    assert not notebook and tqdm.__module__ == "tqdm.std"
    report = make_progress(True)
    for done in range(0, 11):
        report(done, 10, "fit")
    assert "100%" not in capsys.readouterr().out


def test_progress_bars_end_at_100_percent_in_a_saved_notebook(tmp_path, monkeypatch):
    pytest.importorskip("tqdm")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import os

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from comptoir._progress import make_progress\n"
        "report = make_progress(True)\n"
        "for done in range(0, 101, 5):\n"
        "    report(done, 100, 'fitting trees')\n")]
    import comptoir

    found = str(Path(comptoir.__file__).resolve().parents[1])  # the comptoir these tests import
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [found, os.environ.get("PYTHONPATH")] if p))
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=60,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    widgets = [o for o in outputs if o.get("output_type") == "display_data"]
    assert "IProgress not found" not in text
    if widgets:  # ipywidgets installed: the notebook widget, kept (not closed) at the end
        return
    # A saved notebook shows what follows a stream's last carriage return.
    last = [part for part in text.split("\r") if part.strip()][-1]
    assert last.startswith("fitting trees: 100%")


def test_popularity_without_kinds_says_its_events_count_as_views(caplog):
    from comptoir.recommend import Popularity

    caplog.set_level(logging.INFO, logger="comptoir")
    Popularity().fit(["a", "b", "a"])
    assert messages(caplog) == ["Popularity: no kinds given, so the 3 events count as views (kind_weights[0] = 1 each)"]
    caplog.clear()
    Popularity().fit(["a", "b", "a"], kinds=["purchase"] * 3)
    assert messages(caplog) == []
