import logging
import re
import shutil
import subprocess
import sys
import threading
import time
import _thread

import pytest

import comptoir
from comptoir import _core

GOLDEN = "tests/golden/model_file_v1.cmf"


def test_version_has_one_source(repo_root):
    cmake = (repo_root / "CMakeLists.txt").read_text()
    assert re.search(r"project\(comptoir VERSION ([0-9.]+)", cmake).group(1) == comptoir.__version__


# (absl::StatusCode, exception class, built-in it must also be)
STATUS_TABLE = [
    (3, comptoir.InvalidArgumentError, ValueError),  # kInvalidArgument
    (11, comptoir.InvalidArgumentError, ValueError),  # kOutOfRange
    (5, comptoir.NotFoundError, KeyError),
    (5, comptoir.NotFoundError, FileNotFoundError),
    (9, comptoir.NotFittedError, AttributeError),  # kFailedPrecondition
    (15, comptoir.ModelFormatError, ValueError),  # kDataLoss
    (6, comptoir.AlreadyExistsError, ValueError),
    (7, comptoir.ComptoirOSError, OSError),  # kPermissionDenied
    (14, comptoir.ComptoirOSError, OSError),  # kUnavailable
    (12, comptoir.NotImplementedComptoirError, NotImplementedError),
    (8, comptoir.ResourceExhaustedError, MemoryError),
    (13, comptoir.ComptoirError, Exception),  # kInternal
]


@pytest.mark.parametrize("code, exc_type, builtin", STATUS_TABLE)
def test_status_codes_map_to_exceptions(code, exc_type, builtin):
    with pytest.raises(exc_type, match="the message") as info:
        _core._testing.raise_status(code, "the message")
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, comptoir.ComptoirError)
    assert str(info.value) == "the message"


def test_cancelled_is_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        _core._testing.raise_status(1, "stop")


def test_model_format_payload_wins_over_code():
    with pytest.raises(comptoir.ModelFormatError):
        _core._testing.raise_status(9, "newer format", model_format=True)


def test_golden_model_file_is_described(repo_root):
    info = comptoir.inspect_model_file(repo_root / GOLDEN)
    assert info["model_kind"] == "golden_test"
    assert info["format_version"] == 1
    assert info["blobs"] == {"weights": 12, "ids": 24, "empty": 0}


def test_damaged_and_foreign_files_raise_model_format_error(repo_root, tmp_path):
    data = (repo_root / GOLDEN).read_bytes()
    for cut in (0, 5, 17, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.cmf"
        path.write_bytes(data[:cut])
        with pytest.raises(comptoir.ModelFormatError, match="truncated|magic"):
            comptoir.inspect_model_file(path)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(comptoir.ModelFormatError, match="corrupted|checksum|header"):
        _core.io.inspect_model_bytes(bytes(flipped))
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello, not a model")
    with pytest.raises(comptoir.ModelFormatError, match="not a comptoir model file"):
        comptoir.inspect_model_file(foreign)
    with pytest.raises(FileNotFoundError):
        comptoir.inspect_model_file(tmp_path / "missing.cmf")


def test_seeded_parallel_work_is_bit_identical_across_threads():
    one = _core.parallel_uniform_sum(3_000_000, seed=3, num_threads=1)
    two = _core.parallel_uniform_sum(3_000_000, seed=3, num_threads=2)
    assert one == two
    assert one != _core.parallel_uniform_sum(3_000_000, seed=4, num_threads=2)
    with pytest.raises(ValueError, match="num_threads"):
        _core.parallel_uniform_sum(10, num_threads=-1)


def test_progress_is_reported_and_an_exception_cancels():
    seen = []
    _core.parallel_uniform_sum(20_000_000, num_threads=2, on_progress=lambda d, t, s: seen.append((d, t, s)))
    assert seen and seen[-1] == (20_000_000, 20_000_000, "parallel_uniform_sum")

    class Stop(Exception):
        pass

    def stop(done, total, stage):
        raise Stop("enough")

    with pytest.raises(Stop):
        _core.parallel_uniform_sum(2_000_000_000, num_threads=2, on_progress=stop)


def test_ctrl_c_stops_a_long_call_cleanly(ctrl_c_delivered):
    timer = threading.Timer(0.2, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        # About a minute of work if it were not interrupted.
        _core.parallel_uniform_sum(50_000_000_000, num_threads=2)
    assert time.perf_counter() - start < 5.0
    timer.join()
    # The module is still usable afterwards.
    assert _core.parallel_uniform_sum(1000, seed=1) == _core.parallel_uniform_sum(1000, seed=1)


def test_cpp_logs_reach_python_logging(caplog):
    with caplog.at_level(logging.INFO, logger="comptoir"):
        _core.parallel_uniform_sum(1000, num_threads=1)
    assert any("parallel_uniform_sum: 1000 draws" in r.getMessage() for r in caplog.records)


def test_progress_helper_accepts_callables_and_flags():
    from comptoir._progress import make_progress

    assert make_progress(False) is None
    fn = lambda d, t, s: None  # noqa: E731
    assert make_progress(fn) is fn


def test_cli_version_and_inspect(repo_root):
    out = subprocess.run([sys.executable, "-m", "comptoir", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"comptoir {comptoir.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "comptoir", "inspect-model", str(repo_root / GOLDEN)], capture_output=True, text=True, check=True
    )
    assert '"model_kind": "golden_test"' in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "comptoir", "inspect-model", str(repo_root / "README.md")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "not a comptoir model file" in bad.stderr
