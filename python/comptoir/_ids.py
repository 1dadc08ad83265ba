"""The shop's ids as users hold them (lists of SKU strings, int64 customer numbers, pandas columns
with NaN gaps, categoricals) turned into one exact form, or an error naming the bad value.

The rule everywhere in comptoir: an id column holds either integers (int64; integer-valued floats
such as pandas' 17850.0 are integers) or strings (kept as written: '85123' stays a string when the
column is strings). Nothing wraps or truncates: a fractional float, a bool, an integer beyond int64
or a column mixing strings and numbers is an ``InvalidArgumentError`` naming the value. Missing
values (None, NaN, NaT, pandas NA, the empty string) are missing: anonymous guests for users, an
error for items.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .exceptions import InvalidArgumentError

_INT64 = np.iinfo(np.int64)
_EXACT_FLOAT = 2.0 ** 53  # integers beyond this are not exact in a float column


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(value != value)
    return type(value).__name__ in ("NAType", "NaTType")


def _plain_array(values: Any) -> np.ndarray:
    """NumPy values of a list, array, pandas Series / Index / Categorical (extension dtypes, whose
    missing values NumPy cannot hold, come as objects)."""
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "to_numpy"):
        dtype = getattr(values, "dtype", None)
        if dtype is not None and not isinstance(dtype, np.dtype):  # categorical, nullable Int64, string...
            return np.asarray(values.to_numpy(dtype=object))
        return np.asarray(values.to_numpy())
    if isinstance(values, (list, tuple)):
        # Never np.asarray on a list: ['a', 1] would silently become ['a', '1'].
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
        return array
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise InvalidArgumentError(f"expected a sequence of ids, got the single value {values!r}")
    return _plain_array(list(values))


def _describe(what: str, rows: np.ndarray, values: np.ndarray) -> str:
    shown = ", ".join(repr(v) for v in values[rows[:3]].tolist())
    return f"{what} ids at rows {rows[:5].tolist()} ({shown})"


def _from_floats(array: np.ndarray, what: str) -> Tuple[np.ndarray, np.ndarray]:
    missing = np.isnan(array)
    bad = ~np.isfinite(array) & ~missing
    with np.errstate(invalid="ignore"):
        bad |= ~missing & ((array != np.round(array)) | (np.abs(array) > _EXACT_FLOAT))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InvalidArgumentError(f"{_describe(what, rows, array)} are not whole numbers that a float holds exactly: "
                                   f"{what} ids must be integers or strings")
    out = np.zeros(len(array), dtype=np.int64)
    out[~missing] = array[~missing].astype(np.int64)
    return out, missing


def _from_objects(array: np.ndarray, what: str) -> Tuple[np.ndarray, np.ndarray]:
    values = array.tolist()
    kinds = set(map(type, values))
    if kinds == {str}:
        strings = np.asarray(values, dtype=object)
        return strings, strings == ""
    if kinds <= {int}:
        try:
            return np.asarray(values, dtype=np.int64), np.zeros(len(values), dtype=bool)
        except OverflowError:
            pass  # the slow path below names the value
    missing = np.zeros(len(values), dtype=bool)
    numbers = np.zeros(len(values), dtype=np.int64)
    strings = np.empty(len(values), dtype=object)
    first_str: Optional[int] = None
    first_number: Optional[int] = None
    for row, value in enumerate(values):
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str):
            if value == "":
                missing[row] = True
            else:
                strings[row] = value
                first_str = row if first_str is None else first_str
            continue
        if _is_missing(value):
            missing[row] = True
            continue
        if isinstance(value, (bool, np.bool_)):
            raise InvalidArgumentError(f"{what} id at row {row} is a boolean ({value!r}): ids must be integers or strings")
        if isinstance(value, (int, np.integer)):
            number = int(value)
        elif isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) <= _EXACT_FLOAT:
            number = int(value)
        elif isinstance(value, (float, np.floating)):
            raise InvalidArgumentError(f"{what} id at row {row} is {value!r}, not a whole number: "
                                       f"{what} ids must be integers or strings")
        else:
            raise InvalidArgumentError(f"{what} id at row {row} is a {type(value).__name__} ({value!r}): "
                                       "ids must be integers or strings")
        if not _INT64.min <= number <= _INT64.max:
            raise InvalidArgumentError(f"{what} id {number} at row {row} does not fit a 64-bit integer")
        numbers[row] = number
        strings[row] = str(number)
        first_number = row if first_number is None else first_number
    if first_str is not None and first_number is not None:
        raise InvalidArgumentError(
            f"{what} ids mix strings ({values[first_str]!r} at row {first_str}) and numbers "
            f"({values[first_number]!r} at row {first_number}) in one column: give them one type (e.g. .astype(str))")
    if first_str is not None:
        strings[missing] = ""
        return strings, missing
    return numbers, missing


def shop_ids(values: Any, what: str = "item", allow_missing: bool = False,
             negative_is_missing: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """``(ids, missing)``: ids as an int64 array or an object array of str (missing rows hold 0 or
    ''), and which rows are missing. ``allow_missing=False`` makes a missing value an error;
    ``negative_is_missing`` reads negative integers as missing (comptoir's old -1 for guests)."""
    array = _plain_array(values)
    if array.ndim != 1:
        raise InvalidArgumentError(f"{what} ids must be one-dimensional, got shape {array.shape}")
    kind = array.dtype.kind
    if kind == "i":
        ids, missing = array.astype(np.int64, copy=False), np.zeros(len(array), dtype=bool)
    elif kind == "u":
        if array.size and int(array.max()) > _INT64.max:
            rows = np.flatnonzero(array > _INT64.max)
            raise InvalidArgumentError(f"{_describe(what, rows, array)} do not fit 64-bit integers")
        ids, missing = array.astype(np.int64), np.zeros(len(array), dtype=bool)
    elif kind == "f":
        ids, missing = _from_floats(array, what)
    elif kind in "US":
        ids = np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in array.tolist()], dtype=object)
        missing = ids == ""
    elif kind == "O":
        ids, missing = _from_objects(array, what)
    elif kind == "b":
        raise InvalidArgumentError(f"{what} ids are booleans: ids must be integers or strings")
    else:
        raise InvalidArgumentError(f"{what} ids of dtype {array.dtype} are not ids: ids must be integers or strings")
    missing = np.asarray(missing, dtype=bool)
    if negative_is_missing and ids.dtype == np.int64:
        missing = missing | (ids < 0)
    if missing.any() and not allow_missing:
        rows = np.flatnonzero(missing)
        raise InvalidArgumentError(f"{what} ids are missing (None, NaN or empty) at rows {rows[:5].tolist()}")
    return ids, missing


def factorize(values: Any, what: str = "item") -> Tuple[np.ndarray, np.ndarray]:
    """``(dense int32 codes, shop ids)``: the distinct ids sorted, each value's position among them."""
    ids, _ = shop_ids(values, what)
    unique, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int32).reshape(-1), unique


def factorize_users(values: Any) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Users as dense codes with -1 for anonymous guests (None, NaN, empty, negative integers), and
    the distinct known ids (None when there are none)."""
    ids, missing = shop_ids(values, "user", allow_missing=True, negative_is_missing=True)
    codes = np.full(len(ids), -1, dtype=np.int32)
    if missing.all():
        return codes, None
    unique, known_codes = np.unique(ids[~missing], return_inverse=True)
    codes[~missing] = known_codes.reshape(-1)
    return codes, unique


def id_texts(ids: np.ndarray) -> Any:
    """Ids as ``comptoir::ModelIds`` takes them: int64 arrays stay arrays, strings a list."""
    return ids if ids.dtype == np.int64 else ids.tolist()


def scalar_id(value: Any, what: str = "item") -> Any:
    """One id, checked like a column of one."""
    ids, _ = shop_ids([value], what)
    return ids[0].item() if ids.dtype == np.int64 else ids[0]


_LARGEST_COUNT = 2**31 - 1


def count(value: Any, name: str = "N") -> int:
    """A result count (``N``, ``k``) as the core takes it: a positive integer (the core's own
    upper bound then applies), or an InvalidArgumentError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    if not 1 <= value <= _LARGEST_COUNT:
        raise InvalidArgumentError(f"{name} must be in [1, {_LARGEST_COUNT}], got {value}")
    return int(value)


def timestamp(value: Any, what: str = "timestamp") -> int:
    """Seconds since the epoch as an int64; NaN, infinities and non-numbers are refused."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a number of seconds, got {value!r}") from None
    if not np.isfinite(number) or abs(number) >= 2.0**63:
        raise InvalidArgumentError(f"{what} must be a finite number of seconds, got {value!r}")
    return int(value) if isinstance(value, (int, np.integer)) else int(np.floor(number))


def timestamps(values: Any, what: str = "timestamps") -> np.ndarray:
    """An int64 array of seconds; NaN or infinite entries are refused, naming their rows."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return np.ascontiguousarray(array, dtype=np.int64)
    try:
        numbers = array.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be numbers of seconds") from None
    bad = np.flatnonzero(~np.isfinite(numbers) | (np.abs(numbers) >= 2.0**63))
    if len(bad):
        raise InvalidArgumentError(f"{what} must be finite numbers of seconds: rows {bad[:10].tolist()} are not")
    return np.ascontiguousarray(np.floor(numbers), dtype=np.int64)
