"""Exceptions raised by comptoir.

Every error crossing from the C++ core is translated by one table (bindings/status_translation.cc)
into one of these classes. Each also derives from the matching built-in exception, so code that
catches ``ValueError`` or ``KeyError`` keeps working, and ``ComptoirError`` catches them all.
"""

from __future__ import annotations

import sys
from typing import Optional


class ComptoirError(Exception):
    """Base class of every comptoir error."""


class InvalidArgumentError(ComptoirError, ValueError):
    """Bad input: wrong shape, NaN, unsorted timestamps, an out-of-range parameter..."""


class NotFoundError(ComptoirError, KeyError, FileNotFoundError):
    """An unknown id, or a file that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(ComptoirError, ValueError, AttributeError):
    """The model must be fitted (or loaded) before this call, as in scikit-learn."""


def not_fitted_error(message: str) -> NotFittedError:
    """A NotFittedError that, once scikit-learn is loaded, is also scikit-learn's own, so its
    tools recognise it; comptoir never imports scikit-learn itself."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    global _SklearnNotFittedError
    if _SklearnNotFittedError is None:
        _SklearnNotFittedError = type("NotFittedError", (NotFittedError, sklearn_exceptions.NotFittedError), {})
    return _SklearnNotFittedError(message)


_SklearnNotFittedError: Optional[type] = None


class ModelFormatError(ComptoirError, ValueError):
    """A model file is truncated, corrupted, foreign, of another kind or from a newer version."""


class InfeasibleError(ComptoirError, ValueError):
    """Constraints that no plan can meet (an allocation's minimums, caps, floors and budget); the
    message names what binds."""


class DriftWarning(UserWarning):
    """The features being scored differ from those the model was trained on (population stability
    index above 0.25 for some feature); the message names them."""


class AlreadyExistsError(ComptoirError, ValueError):
    """Something was added twice."""


class ComptoirOSError(ComptoirError, OSError):
    """A file could not be written or read for a reason outside comptoir."""


class NotImplementedComptoirError(ComptoirError, NotImplementedError):
    """The combination of options is not supported."""


class ResourceExhaustedError(ComptoirError, MemoryError):
    """The request would need more memory than allowed."""


__all__ = [
    "ComptoirError",
    "InvalidArgumentError",
    "NotFoundError",
    "NotFittedError",
    "ModelFormatError",
    "InfeasibleError",
    "DriftWarning",
    "AlreadyExistsError",
    "ComptoirOSError",
    "NotImplementedComptoirError",
    "ResourceExhaustedError",
]
