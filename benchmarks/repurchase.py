"""Re-purchase timing on UCI Online Retail: from a snapshot (2011-09-01), the probability that each
customer re-buys each item they bought before within the next 30 days, scored against what they
did (ROC-AUC and calibration over (customer, item) pairs).

    python benchmarks/repurchase.py [--data ../shared/data]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from common import dataset_folder, parse_args
from comptoir.data import load_online_retail
from comptoir.features import repurchase_timing, to_unix_seconds
from comptoir.metrics import expected_calibration_error, roc_auc_score


def main() -> int:
    args = parse_args(__doc__)
    folder = dataset_folder(args, "online_retail")
    if folder is None:
        return 0
    log = load_online_retail(folder)
    snapshot = int(to_unix_seconds(np.datetime64("2011-09-01")))
    events = log.to_dict()
    start = time.perf_counter()
    timing = repurchase_timing(events, snapshot, horizon_days=30, as_frame=False)
    seconds = time.perf_counter() - start
    after = (log.timestamp >= snapshot) & (log.timestamp < snapshot + 30 * 86_400) & (log.kind == 2) & (log.user >= 0)
    bought = np.isin(timing["user"].astype(np.int64) * log.num_items + timing["key"],
                     log.user[after].astype(np.int64) * log.num_items + log.item[after])
    p = timing["probability_within_horizon"]
    print(f"{len(p):,} (customer, item) pairs bought before 2011-09-01, estimated in {seconds:.2f} s; "
          f"{bought.mean():.2%} re-bought within 30 days")
    print(f"ROC-AUC {roc_auc_score(bought, p):.4f}   mean predicted {p.mean():.4f}   ECE {expected_calibration_error(bought, p):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
