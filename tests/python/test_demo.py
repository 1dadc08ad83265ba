import io

import pytest

from comptoir.demo import SECTIONS, run_demo


def test_main_job_runs_every_capability_end_to_end():
    pytest.importorskip("pandas")  # the command-line scoring steps read and write tables
    out = io.StringIO()
    run_demo(seed=3, num_threads=2, out=out, num_customers=8_000)
    text = out.getvalue()
    for title, _ in SECTIONS:
        assert f"== {title} ==" in text
    for capability in ("hybrid", "TreeSHAP", "`comptoir score`", "DR-learner", "uplift forest", "doubly robust",
                       "`comptoir offers`", "shadow price", "within 1 point", "offer rate by channel", "margin floor",
                       "is refused: the offers' minimums cost", "drifted from training",
                       "C++ LoadModel serves it as an uplift model", "no raw customer id in any file",
                       "bit-identical to Python's"):
        assert capability in text, capability
