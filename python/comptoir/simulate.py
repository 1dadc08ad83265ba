"""The built-in storefront simulator: the default data of ``comptoir demo`` and ground truth for
tests and benchmarks. Deterministic for a ``seed``, whatever ``n_jobs`` is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import _core
from ._progress import make_progress


@dataclass
class Storefront:
    """A simulated shop. ``events`` columns: session, user, item, timestamp (s), kind (codes of
    ``comptoir.features.EVENT_KINDS``), value, quantity; sorted by (session, time).
    ``campaign``: randomised ``arm`` per customer, outcomes ``converted`` and ``spend``, and the
    truth ``true_conversion`` / ``true_spend`` (customers x arms) under every arm."""

    events: Dict[str, np.ndarray]
    catalogue: Dict[str, np.ndarray]
    customer_attributes: np.ndarray
    customer_attribute_names: List[str]
    campaign: Dict[str, Any]
    consumable_cycle_days: np.ndarray
    consumable_item: np.ndarray
    num_sessions: int
    num_items: int = field(default=0)

    @property
    def num_customers(self) -> int:
        return len(self.customer_attributes)

    def true_uplift(self, arm: int, outcome: str = "conversion") -> np.ndarray:
        """The true effect of ``arm`` against the control, per customer."""
        truth = self.campaign["true_conversion" if outcome == "conversion" else "true_spend"]
        return truth[:, arm] - truth[:, 0]

    def events_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.events)

    def customers_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.customer_attributes, columns=self.customer_attribute_names)


def simulate(
    num_customers: int = 20_000,
    num_items: int = 5_000,
    num_categories: int = 40,
    num_days: int = 90,
    sessions_per_customer: float = 8.0,
    mean_session_views: float = 5.0,
    intent_drift: float = 0.15,
    consumable_fraction: float = 0.1,
    popularity_exponent: float = 1.0,
    promo_discounts: Sequence[float] = (0.0, 0.10, 0.20),
    seed: int = 42,
    n_jobs: int = 0,
    verbose: Any = False,
    **config: Any,
) -> Storefront:
    """Simulate a storefront (see ``comptoir/simulate/simulator.h`` for the model). Further
    ``SimulatorConfig`` fields (``taste_dim``, ``activity_shape``, ``start_timestamp``,
    ``campaign_days``) may be passed by name."""
    settings = _core.simulate.SimulatorConfig()
    values = dict(num_customers=num_customers, num_items=num_items, num_categories=num_categories, num_days=num_days,
                  sessions_per_customer=sessions_per_customer, mean_session_views=mean_session_views,
                  intent_drift=intent_drift, consumable_fraction=consumable_fraction,
                  popularity_exponent=popularity_exponent, promo_discounts=list(promo_discounts), **config)
    for name, value in values.items():
        if not hasattr(settings, name):
            raise TypeError(f"simulate() got an unknown setting {name!r}")
        setattr(settings, name, value)
    raw = _core.simulate.simulate(settings, seed=int(seed), num_threads=int(n_jobs), on_progress=make_progress(verbose))
    return Storefront(num_items=num_items, **raw)
