import pickle

import numpy as np
import pytest

from comptoir.simulate import simulate
from comptoir.uplift import ClassTransformation, SLearner, TLearner
from comptoir.uplift_metrics import qini_coefficient_vs_perfect


@pytest.fixture(scope="module")
def campaign():
    shop = simulate(num_customers=30_000, num_items=1_000, num_categories=20, seed=11)
    X = shop.customer_attributes.astype(float)
    X = np.c_[X, np.log1p(X[:, 1])]
    c = shop.campaign
    return X, c["arm"], c["converted"].astype(int), shop


@pytest.mark.parametrize("learner", [TLearner, SLearner, ClassTransformation])
def test_learners_rank_customers_by_their_true_effect(campaign, learner):
    X, arm, converted, shop = campaign
    train = np.arange(len(arm)) < 20_000
    model = learner().fit(X[train], arm[train], converted[train])
    effect = model.predict(X[~train])
    assert effect.shape == (int((~train).sum()), 2)
    truth = shop.true_uplift(2)[~train]
    assert np.corrcoef(effect[:, 1], truth)[0, 1] > 0.3  # learned from observables only
    rows = (arm[~train] == 0) | (arm[~train] == 2)
    qini = qini_coefficient_vs_perfect(effect[rows, 1], (arm[~train][rows] == 2).astype(np.int32), converted[~train][rows])
    assert qini > 0.02
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict(X[~train][:50]), effect[:50])


def test_bad_treatments_and_outcomes_are_named(campaign):
    X, arm, converted, _ = campaign
    with pytest.raises(ValueError, match="every arm present"):
        TLearner().fit(X, np.where(arm == 1, 3, arm), converted)
    with pytest.raises(ValueError, match="integer"):
        TLearner().fit(X, arm.astype(float), converted)
    with pytest.raises(ValueError, match="NaN"):
        TLearner().fit(X, arm, np.where(np.arange(len(arm)) == 5, np.nan, converted))
    with pytest.raises(ValueError, match="only one outcome class"):
        TLearner().fit(X, arm, np.where(arm == 1, 0, converted))
