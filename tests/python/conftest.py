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


@pytest.fixture
def ctrl_c_delivered():
    """Python's own Ctrl-C handler, whatever the launcher left: a shell that starts pytest in the
    background ignores SIGINT, and then a simulated Ctrl-C would never reach the call under test."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
