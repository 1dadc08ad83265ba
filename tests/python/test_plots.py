"""The figures: titles, labels, legends and reference lines, checked on the artists (Agg)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pd = pytest.importorskip("pandas")

import matplotlib.pyplot as plt  # noqa: E402

from comptoir import plots  # noqa: E402
from comptoir.metrics import plot_calibration, plot_contributions, plot_gain  # noqa: E402
from comptoir.uplift_metrics import plot_qini, plot_uplift, qini_coefficient_vs_perfect  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def randomised(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    arm = rng.choice(["No E-Mail", "Mens E-Mail", "Womens E-Mail"], size=n)
    effect = np.where(arm == "Mens E-Mail", 0.2 * (x > 0), np.where(arm == "Womens E-Mail", 0.1, 0.0))
    outcome = (rng.random(n) < 0.1 + effect).astype(int)
    scores = pd.DataFrame({"Mens E-Mail": x + rng.normal(scale=0.5, size=n), "Womens E-Mail": rng.normal(size=n)})
    return scores, arm, outcome


def test_qini_legend_names_the_coefficient_and_the_reference_is_drawn_once():
    scores, arm, outcome = randomised()
    one = arm != "Womens E-Mail"
    _, ax = plt.subplots()
    plot_qini(scores["Mens E-Mail"][one].to_numpy(), treatment=arm[one], outcome=outcome[one], control_name="No E-Mail",
              ax=ax, label="forest")
    plot_qini(-scores["Mens E-Mail"][one].to_numpy(), treatment=arm[one], outcome=outcome[one],
              control_name="No E-Mail", ax=ax, label="reversed")
    assert len(plots.reference_lines(ax)) == 1
    texts = legend_texts(ax)
    coefficient = qini_coefficient_vs_perfect(scores["Mens E-Mail"][one].to_numpy(), treatment=arm[one],
                                              outcome=outcome[one], control_name="No E-Mail")
    assert texts.count("random targeting") == 1
    assert f"forest (Qini coefficient {coefficient:.3f})" in texts
    assert any(t.startswith("reversed (Qini coefficient -") for t in texts)
    assert ax.get_title() == "Qini curve"
    assert ax.get_xlabel().startswith("share of customers targeted") and ax.get_ylabel()


def test_several_offers_get_a_curve_each_and_one_legend_entry_for_random():
    scores, arm, outcome = randomised()
    _, ax = plt.subplots()
    for _ in range(2):
        plot_uplift(scores, treatment=arm, outcome=outcome, control_name="No E-Mail", ax=ax)
    texts = legend_texts(ax)
    assert texts.count("random targeting") == 1
    assert sum(t.startswith("model: Mens E-Mail (AUUC vs perfect") for t in texts) == 2
    assert sum(t.startswith("model: Womens E-Mail (AUUC vs perfect") for t in texts) == 2
    # One random line per offer (their totals differ), however many calls.
    assert len(plots.reference_lines(ax)) == 2
    assert ax.get_title() == "Uplift curve"


def test_uplift_plots_refuse_positional_treatment():
    scores, arm, outcome = randomised()
    with pytest.raises(TypeError, match="keyword"):
        plot_qini(scores, arm, outcome)


def test_calibration_and_gain_keep_one_reference_line_over_calls():
    rng = np.random.default_rng(1)
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(int)
    _, (left, right) = plt.subplots(1, 2)
    plot_calibration(y, p, ax=left, label="isotonic")
    plot_calibration(y, np.clip(p * 1.3, 0, 1), ax=left, label="raw")
    assert len(plots.reference_lines(left)) == 1
    assert legend_texts(left)[0] == "perfectly calibrated" and len(legend_texts(left)) == 3
    assert legend_texts(left)[1].startswith("isotonic (ECE 0.0")
    assert left.get_title() == "Calibration" and left.get_xlabel() == "mean predicted probability"
    plot_gain(y, p, ax=right)
    plot_gain(y, -p, ax=right, label="reversed")
    assert len(plots.reference_lines(right)) == 1 and right.get_title() == "Cumulative gain"


def test_contributions_waterfall_names_the_customer_and_the_feature_values():
    contributions = pd.DataFrame({"recency_days": [-0.8, 0.1], "orders_90d": [0.5, 0.2], "weekend_share": [0.05, 0.0],
                                  "base_value": [-2.0, -2.0]}, index=pd.Index([17850, 13047], name="customer"))
    X = pd.DataFrame({"recency_days": [120.0, 3.0], "orders_90d": [4.0, 1.0], "weekend_share": [np.nan, 0.5]},
                     index=contributions.index)
    _, ax = plt.subplots()
    plot_contributions(contributions, customer=17850, features=X, top=2, ax=ax)
    assert "customer 17850" in ax.get_title() and "base value -2.000" in ax.get_title()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["recency_days = 120", "orders_90d = 4", "1 other features"]
    widths = [p.get_width() for p in ax.patches]
    lefts = [p.get_x() for p in ax.patches]
    np.testing.assert_allclose(widths, [-0.8, 0.5, 0.05])
    # Each step starts where the previous ended: a waterfall from the base value to the score.
    np.testing.assert_allclose(lefts, [-2.0, -2.8, -2.3])
    assert any(t.startswith("score -2.250") for t in legend_texts(ax))
    assert ax.get_xlabel() and ax.get_ylabel() == "feature"
    with pytest.raises(KeyError, match="12345"):
        plot_contributions(contributions, customer=12345)


def test_contributions_of_many_rows_are_mean_absolute_values():
    contributions = pd.DataFrame({"a": [1.0, -3.0], "b": [0.5, 0.5], "base_value": [0.0, 0.0]})
    _, ax = plt.subplots()
    plot_contributions(contributions, ax=ax)
    assert sorted(p.get_width() for p in ax.patches) == [0.5, 2.0]
    assert "2 rows" in ax.get_title()


def test_budget_path_plots_profit_and_spend_against_budget():
    from comptoir.promo import plan_offers, plot_budget_path

    rng = np.random.default_rng(2)
    value = pd.DataFrame({"10% off": rng.gamma(2.0, 3.0, 200), "free shipping": rng.gamma(2.0, 2.0, 200)},
                         index=pd.Index(np.arange(1000, 1200), name="customer"))
    plan = plan_offers(value=value, cost={"10% off": 4.0, "free shipping": 2.5})
    _, ax = plt.subplots()
    plot_budget_path(plan, budgets=[0, 100, 200, 400, 800], ax=ax)
    lines = {line.get_label(): line for line in ax.get_lines()}
    profit, spend = lines["profit (value - spend)"], lines["spend"]
    np.testing.assert_allclose(spend.get_xdata(), [0, 100, 200, 400, 800])
    np.testing.assert_allclose(spend.get_ydata(), [plan.at(b).attrs["spend"] for b in [0, 100, 200, 400, 800]])
    np.testing.assert_allclose(profit.get_ydata(), [plan.at(b).attrs["profit"] for b in [0, 100, 200, 400, 800]])
    assert (spend.get_ydata() <= spend.get_xdata() + 1e-9).all()
    assert any(t.startswith("most profit") for t in legend_texts(ax))
    assert ax.get_title() == "Budget path" and ax.get_xlabel() == "budget"


def test_recall_at_k_one_line_per_model():
    from comptoir.recommend import Popularity, SessionKNN, plot_recall_at_k

    rng = np.random.default_rng(3)
    sessions = [list(rng.choice(30, size=4, replace=False) + (s % 3) * 30) for s in range(400)]
    sessions = [[f"SKU-{i}" for i in session] for session in sessions]
    train, test = sessions[:300], sessions[300:]
    models = {"knn": SessionKNN().fit(train), "popular": Popularity().fit([i for s in train for i in s])}
    _, ax = plt.subplots()
    plot_recall_at_k(models, test, ks=(1, 5, 10), ax=ax)
    assert legend_texts(ax) == ["knn", "popular"]
    recall = ax.get_lines()[0].get_ydata()
    assert list(ax.get_lines()[0].get_xdata()) == [1, 5, 10] and (np.diff(recall) >= 0).all()
    assert ax.get_title().startswith("Recall@k") and ax.get_ylabel() == "recall@k"
    assert list(ax.get_xticks()) == [1, 5, 10]


def test_plotting_changes_no_global_style_and_imports_matplotlib_lazily(tmp_path):
    import subprocess

    before = dict(matplotlib.rcParams)
    scores, arm, outcome = randomised()
    plot_qini(scores, treatment=arm, outcome=outcome, control_name="No E-Mail", ax=plt.subplots()[1])
    assert dict(matplotlib.rcParams) == before
    code = "import sys, comptoir, comptoir.metrics, comptoir.uplift_metrics, comptoir.promo, comptoir.plots; " \
           "print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
