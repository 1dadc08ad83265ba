"""Event logs and the real datasets.

``EventLog`` holds events with dense ids (sorted by session, then time) and the maps back to the
shop's own ids. Columns are read in place when they already have comptoir's dtypes (int64 ids and
seconds, uint8 kinds, float32 values); anything else is converted, and ``copied_columns`` says
which columns had to be copied.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _core
from .features import event_kind_codes, to_unix_seconds

PathLike = Union[str, os.PathLike, None]


def _as(array: Any, dtype: Any, name: str, copied: List[str]) -> np.ndarray:
    original = array
    if np.issubdtype(np.dtype(dtype), np.integer):
        values = np.asarray(array)
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values) | (values != np.round(values))
            if bad.any():
                raise ValueError(f"column '{name}' has missing or fractional ids at rows {np.flatnonzero(bad)[:5].tolist()}")
        elif values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            raise ValueError(f"column '{name}' has ids that do not fit 64-bit integers")
    result = np.ascontiguousarray(array, dtype=dtype)
    if not (isinstance(original, np.ndarray) and np.shares_memory(result, original)):
        copied.append(name)
    return result


def _is_string_column(array: Any) -> bool:
    return np.asarray(array[:1] if hasattr(array, "__getitem__") else array).dtype.kind in "OUS"


class EventLog:
    """Columnar events: ``session, user, item, timestamp, kind, value, quantity`` (read-only NumPy
    views, no copies) plus ``item_ids`` / ``user_ids`` mapping dense ids back to the shop's ids."""

    def __init__(self, core: Any, report: Optional[Dict[str, int]] = None, copied_columns: Optional[List[str]] = None) -> None:
        self._log = core
        self.report = report or {}
        self.copied_columns = copied_columns or []

    @classmethod
    def from_arrays(
        cls,
        session: Any,
        item: Any,
        timestamp: Any,
        kind: Any = None,
        user: Any = None,
        value: Any = None,
        quantity: Any = None,
    ) -> "EventLog":
        """Build a log from columns. Ids may be integers or strings; ``user`` may hold -1 / None /
        "" for anonymous visitors; ``kind`` takes codes or names (view, cart, purchase, ...);
        timestamps are seconds or datetimes. Exact duplicate events are dropped and counted in
        ``report``; a bad row raises ``ValueError`` naming it."""
        copied: List[str] = []
        times = to_unix_seconds(timestamp)
        if not (isinstance(timestamp, np.ndarray) and timestamp.dtype == np.int64):
            copied.append("timestamp")
        times = np.ascontiguousarray(times, dtype=np.int64)
        kinds = None
        if kind is not None:
            native = isinstance(kind, np.ndarray) and kind.dtype == np.uint8
            kinds = _as(kind if native else event_kind_codes(kind), np.uint8, "kind", copied)
            if not native and "kind" not in copied:
                copied.append("kind")
        values = None if value is None else _as(value, np.float32, "value", copied)
        quantities = None if quantity is None else _as(quantity, np.float32, "quantity", copied)
        if _is_string_column(session) or _is_string_column(item) or (user is not None and _is_string_column(user)):
            as_text = lambda column: ["" if v is None else str(v) for v in column]  # noqa: E731
            core, report = _core.data.EventLog.build_strings(
                as_text(session), as_text(item), [] if user is None else as_text(user), times, kinds, values, quantities
            )
            copied += ["session", "item"] + ([] if user is None else ["user"])
        else:
            users = None
            if user is not None:
                users = np.asarray(user)
                users = np.where(users < 0, np.iinfo(np.int64).min, users).astype(np.int64)
                copied.append("user")
            core, report = _core.data.EventLog.build(
                _as(session, np.int64, "session", copied), _as(item, np.int64, "item", copied), times, users, kinds, values, quantities
            )
        return cls(core, report, copied)

    @classmethod
    def from_pandas(cls, frame: Any, session: str = "session_id", item: str = "item_id", timestamp: str = "timestamp",
                    kind: Optional[str] = None, user: Optional[str] = None, value: Optional[str] = None,
                    quantity: Optional[str] = None) -> "EventLog":
        """Build from a DataFrame; arguments name its columns."""
        for name in [c for c in (session, item, timestamp, kind, user, value, quantity) if c is not None]:
            if name not in frame.columns:
                raise ValueError(f"the frame has no column '{name}' (columns: {list(frame.columns)})")
        pick = lambda name: None if name is None else frame[name].to_numpy()  # noqa: E731
        return cls.from_arrays(pick(session), pick(item), pick(timestamp), pick(kind), pick(user), pick(value), pick(quantity))

    def __len__(self) -> int:
        return self._log.num_events

    def __getattr__(self, name: str) -> Any:
        if name in ("session", "user", "item", "timestamp", "kind", "value", "quantity", "session_offsets",
                    "item_ids", "user_ids", "num_items", "num_users", "num_sessions"):
            return getattr(self._log, name)
        raise AttributeError(name)

    def sessions(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-session CSR ``(offsets, items)``: what the recommenders' ``fit`` takes."""
        return self._log.session_offsets, self._log.item

    def by_user(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-user CSR ``(offsets, event positions)``, each user's events in time order."""
        return self._log.by_user()

    def sessionize(self, gap_minutes: float = 30.0) -> "EventLog":
        """New sessions wherever a known user was inactive for more than ``gap_minutes``."""
        return EventLog(self._log.sessionize(int(gap_minutes * 60)))

    def filter_once(self, min_item_support: int = 5, min_session_length: int = 2) -> "EventLog":
        """One pass: rare items' events, then too-short sessions."""
        return EventLog(self._log.filter_once(int(min_item_support), int(min_session_length)))

    def filter_to_fixed_point(self, min_item_support: int = 5, min_session_length: int = 2) -> "EventLog":
        """Repeat ``filter_once`` until nothing changes."""
        return EventLog(self._log.filter_to_fixed_point(int(min_item_support), int(min_session_length)))

    def split_by_last_days(self, days: int) -> Tuple["EventLog", "EventLog"]:
        """``(train, test)``: sessions whose last event falls in the final ``days`` days are test;
        both keep the same item ids."""
        train, test = self._log.split_by_last_days(int(days))
        return EventLog(train), EventLog(test)

    def to_dict(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self._log, name) for name in ("session", "user", "item", "timestamp", "kind", "value", "quantity")}


def data_directory(path: PathLike, folder: str) -> Path:
    """``path`` itself, else ``$COMPTOIR_DATA/<folder>``; FileNotFoundError names what is missing."""
    if path is not None:
        resolved = Path(path)
    elif os.environ.get("COMPTOIR_DATA"):
        resolved = Path(os.environ["COMPTOIR_DATA"]) / folder
    else:
        raise FileNotFoundError(f"no path given and COMPTOIR_DATA is not set: cannot find the {folder} dataset")
    if not resolved.exists():
        raise FileNotFoundError(f"dataset path {resolved} does not exist")
    return resolved


def _read_csv_columns(path: Path) -> np.ndarray:
    with gzip.open(path, "rt") as handle:
        return np.loadtxt(handle, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)


def load_diginetica(path: PathLike = None) -> Tuple[EventLog, EventLog]:
    """DIGINETICA as the SR-GNN preprocessing ships it (see the data README): ``(train, test)``
    event logs sharing item ids. The files carry no times: each train session is given one minute
    in file order (which is date order) and each click one second, and the test sessions follow
    in the final week, so ``split_by_last_days(7)`` on the combined log gives the same split."""
    folder = data_directory(path, "diginetica")
    train = _read_csv_columns(folder / "srgnn_train_sessions.csv.gz")
    test = _read_csv_columns(folder / "srgnn_test_sessions.csv.gz")
    test_start = train[:, 0].max() * 60 + 30 * 86_400
    session = np.r_[train[:, 0], test[:, 0] + train[:, 0].max() + 1]
    timestamp = np.r_[train[:, 0] * 60 + train[:, 1], test_start + test[:, 0] * 30 + test[:, 1]]
    item = np.r_[train[:, 2], test[:, 2]]
    combined = EventLog.from_arrays(session, item, timestamp)
    return combined.split_by_last_days(7)


def load_online_retail(path: PathLike = None) -> EventLog:
    """UCI Online Retail: one purchase event per invoice line (session = invoice, value =
    quantity x unit price). Cancelled invoices (numbers starting with C) become ``return`` events
    with the absolute value; lines without a CustomerID are kept as anonymous; the two lines with
    a negative unit price (bad-debt adjustments) are dropped. ``report`` counts each."""
    import pandas as pd

    folder = data_directory(path, "online_retail")
    frame = pd.read_csv(folder / "online_retail.csv.gz", encoding="latin-1", dtype={"InvoiceNo": str, "StockCode": str})
    rows = len(frame)
    negative_price = frame["UnitPrice"] < 0
    frame = frame[~negative_price]
    cancelled = frame["InvoiceNo"].str.startswith("C").to_numpy()
    customer = frame["CustomerID"].to_numpy()
    anonymous = np.isnan(customer)
    user = np.where(anonymous, None, np.nan_to_num(customer).astype(np.int64).astype(str)).astype(object)
    log = EventLog.from_arrays(
        session=frame["InvoiceNo"].to_numpy().astype(str), item=frame["StockCode"].to_numpy().astype(str),
        timestamp=pd.to_datetime(frame["InvoiceDate"]).to_numpy(),
        kind=np.where(cancelled, 4, 2), user=user,
        value=np.abs(frame["Quantity"].to_numpy() * frame["UnitPrice"].to_numpy()), quantity=frame["Quantity"].to_numpy(),
    )
    log.report.update(raw_rows=rows, negative_price_dropped=int(negative_price.sum()), cancellation_lines=int(cancelled.sum()),
                      anonymous_lines=int(anonymous.sum()))
    return log


HILLSTROM_ARMS = {"No E-Mail": 0, "Mens E-Mail": 1, "Womens E-Mail": 2}


def load_hillstrom(path: PathLike = None, as_frame: Optional[bool] = None) -> Any:
    """Hillstrom's e-mail test: pre-campaign features, ``treatment`` (0 no e-mail, 1 mens,
    2 womens), and ``visit``, ``conversion``, ``spend`` in the two following weeks. A DataFrame
    when pandas is installed (or ``as_frame=True``), else a dict of arrays with numeric features
    (history segment and zip code and channel as integer codes)."""
    import csv

    folder = data_directory(path, "hillstrom")
    name = "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv.gz"
    with gzip.open(folder / name, "rt") as handle:
        rows = list(csv.DictReader(handle))
    codes = lambda key: np.unique([r[key] for r in rows], return_inverse=True)[1].astype(np.int32)  # noqa: E731
    data = {
        "recency": np.array([int(r["recency"]) for r in rows], dtype=np.int32),
        "history_segment": codes("history_segment"),
        "history": np.array([float(r["history"]) for r in rows]),
        "mens": np.array([int(r["mens"]) for r in rows], dtype=np.int32),
        "womens": np.array([int(r["womens"]) for r in rows], dtype=np.int32),
        "zip_code": codes("zip_code"),
        "newbie": np.array([int(r["newbie"]) for r in rows], dtype=np.int32),
        "channel": codes("channel"),
        "treatment": np.array([HILLSTROM_ARMS[r["segment"]] for r in rows], dtype=np.int32),
        "visit": np.array([int(r["visit"]) for r in rows], dtype=np.int32),
        "conversion": np.array([int(r["conversion"]) for r in rows], dtype=np.int32),
        "spend": np.array([float(r["spend"]) for r in rows]),
    }
    if as_frame is False:
        return data
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return data
    return pd.DataFrame(data)
