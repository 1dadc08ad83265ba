"""comptoir: session-aware recommendation, propensity scoring and promo targeting for e-commerce.

The heavy lifting happens in the C++ core (``comptoir._core``); this package adds the Pythonic
layer: scikit-learn-style estimators, pandas/numpy input, plots and the ``comptoir`` command.
"""

from __future__ import annotations

import logging as _logging

from . import _core
from .exceptions import (
    AlreadyExistsError,
    ComptoirError,
    ComptoirOSError,
    DriftWarning,
    InfeasibleError,
    InvalidArgumentError,
    ModelFormatError,
    NotFittedError,
    NotFoundError,
    NotImplementedComptoirError,
    ResourceExhaustedError,
)
from ._base import load_model
from .io import inspect_model_file

__version__: str = _core.__version__

_logging.getLogger("comptoir").addHandler(_logging.NullHandler())
# Forward C++ messages at INFO and above; `logging.getLogger("comptoir")` decides what is shown.
_core.set_log_level(_logging.INFO)

__all__ = [
    "__version__",
    "inspect_model_file",
    "load_model",
    "AlreadyExistsError",
    "ComptoirError",
    "ComptoirOSError",
    "DriftWarning",
    "InfeasibleError",
    "InvalidArgumentError",
    "ModelFormatError",
    "NotFittedError",
    "NotFoundError",
    "NotImplementedComptoirError",
    "ResourceExhaustedError",
]
