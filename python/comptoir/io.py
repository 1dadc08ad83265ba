"""Model files: every comptoir model is saved in one checked container format."""

from __future__ import annotations

import os
from typing import Any, Dict, Union

from . import _core

MODEL_FORMAT_VERSION: int = _core.io.MODEL_FORMAT_VERSION


def inspect_model_file(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """Verify a model file's checksums and format version and describe what it holds.

    Raises ``ModelFormatError`` for a truncated, corrupted, foreign or too-new file and
    ``NotFoundError`` (a ``FileNotFoundError``) when it does not exist.
    """
    return _core.io.inspect_model_file(os.fspath(path))



def write_model_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    """Atomically write a serialised model (checked first, then a temporary file and a rename)."""
    _core.io.write_model_bytes(os.fspath(path), data)


def read_model_bytes(path: Union[str, os.PathLike]) -> bytes:
    """Read and check a model file, returning its bytes."""
    return _core.io.read_model_bytes(os.fspath(path))
