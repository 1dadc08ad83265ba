from typing import Any, Callable, Dict, Optional

class _IoModule:
    MODEL_FORMAT_VERSION: int
    @staticmethod
    def inspect_model_file(path: str) -> Dict[str, Any]: ...
    @staticmethod
    def inspect_model_bytes(data: bytes) -> Dict[str, Any]: ...

io: _IoModule

__version__: str

def set_log_level(level: int) -> None: ...
def flush_logs() -> None: ...
def default_num_threads() -> int: ...
def parallel_uniform_sum(
    n: int,
    seed: int = 42,
    num_threads: int = 0,
    on_progress: Optional[Callable[[int, int, str], None]] = None,
) -> float: ...
