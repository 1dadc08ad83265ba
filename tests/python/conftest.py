import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the project (skips when absent)."""
    root = Path(os.environ.get("COMPTOIR_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real datasets not found at {root}")
    return root
