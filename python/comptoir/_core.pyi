from typing import Any, Callable, Dict, List, Optional, Tuple

class _IoModule:
    MODEL_FORMAT_VERSION: int
    @staticmethod
    def inspect_model_file(path: str) -> Dict[str, Any]: ...
    @staticmethod
    def inspect_model_bytes(data: bytes) -> Dict[str, Any]: ...
    @staticmethod
    def write_model_bytes(path: str, data: bytes) -> None: ...
    @staticmethod
    def read_model_bytes(path: str) -> bytes: ...
    @staticmethod
    def with_blobs(data: bytes, blobs: Dict[str, bytes]) -> bytes: ...
    @staticmethod
    def blob(data: bytes, name: str) -> Optional[bytes]: ...
    @staticmethod
    def attach_ids(data: bytes, items: Any, users: Any, user_id_key: str = "") -> bytes: ...
    @staticmethod
    def read_ids(data: bytes, user_id_key: str = "") -> Dict[str, Any]: ...
    @staticmethod
    def model_kinds() -> List[str]: ...

io: _IoModule

class _Model:
    kind: str
    family: str  # "recommender", "scorer", "uplift_model" or "vector_index"
    @staticmethod
    def from_bytes(data: bytes, user_id_key: str = "") -> "_Model": ...
    def score(self, X: Any, num_threads: int = 0) -> Any: ...
    def contributions(self, X: Any, num_threads: int = 0) -> Any: ...
    def effect(self, X: Any, num_threads: int = 0) -> Any: ...
    def recommend(self, items: List[str], k: int = 20, user: str = "") -> Tuple[List[str], Any, List[str], List[str]]: ...

class _ModelModule:
    Model: type

model: _ModelModule

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

class _VectorIndex:
    size: int
    dim: int
    def search(self, queries: Any, k: int, allowed: Any = None, excluded: Any = None, num_threads: int = 0) -> Tuple[Any, Any]: ...
    def to_bytes(self) -> bytes: ...

class _RetrievalModule:
    VectorIndex: type
    @staticmethod
    def build_exact(vectors: Any, metric: str = "cosine") -> _VectorIndex: ...
    @staticmethod
    def build_ivf(vectors: Any, metric: str = "cosine", num_lists: int = 0, num_probes: int = 16, kmeans_iterations: int = 12,
                  training_sample: int = 100000, seed: int = 42, num_threads: int = 0,
                  on_progress: Optional[Callable[[int, int, str], None]] = None) -> _VectorIndex: ...
    @staticmethod
    def load_index(data: bytes, num_probes: int = 0) -> _VectorIndex: ...

retrieval: _RetrievalModule

class _EmbedModule:
    Item2VecConfig: type
    SessionEncoderConfig: type
    Item2Vec: type
    @staticmethod
    def blend_with_profile(session_vector: Any, profile: Any, profile_weight: float) -> Any: ...

embed: _EmbedModule

# Areas whose Python layer wraps every call: typed loosely here, precisely in the wrapping modules
# (comptoir.features, comptoir.recommend, comptoir.simulate, comptoir.uplift_metrics, comptoir.promo,
# comptoir.data, comptoir.propensity, comptoir.metrics, comptoir.trees, comptoir.uplift).
features: Any
recommend: Any
eval: Any
simulate: Any
uplift_eval: Any
promo: Any
data: Any
propensity: Any
binary_metrics: Any
trees: Any
uplift: Any

class _Testing:
    @staticmethod
    def raise_status(code: int, message: str, model_format: bool = False) -> None: ...

_testing: _Testing
