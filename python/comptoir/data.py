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

from . import _core, _ids
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
        """Build a log from columns. Ids may be integers (int64, or integer-valued floats such as
        pandas' 17850.0, which is 17850) or strings, one type per column (a fractional, boolean or
        mixed column is an ``InvalidArgumentError`` naming the value); ``user`` may hold None /
        NaN / "" / negative numbers for anonymous visitors (guests, never one user "nan");
        ``kind`` takes codes or names (view, cart, purchase, ...); timestamps are seconds or
        datetimes. Exact duplicate events are dropped and counted in
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
        # The shop's ids, checked (never wrapped or truncated): integers, integer-valued floats
        # (pandas' 17850.0 is customer 17850) or strings; missing users are guests.
        session_ids, _ = _ids.shop_ids(session, "session")
        item_ids, _ = _ids.shop_ids(item, "item")
        user_ids, guests = (None, None) if user is None else _ids.shop_ids(user, "user", allow_missing=True,
                                                                            negative_is_missing=True)
        columns = [session_ids, item_ids] + ([] if user_ids is None else [user_ids])
        integer = {"item": item_ids.dtype == np.int64, "user": user_ids is not None and user_ids.dtype == np.int64}
        if all(c.dtype == np.int64 for c in columns):
            for name, original, ids in (("session", session, session_ids), ("item", item, item_ids)):
                if not (isinstance(original, np.ndarray) and np.shares_memory(ids, original)):
                    copied.append(name)
            users = None
            if user_ids is not None:
                users = np.where(guests, np.iinfo(np.int64).min, user_ids).astype(np.int64)
                copied.append("user")
            core, report = _core.data.EventLog.build(
                np.ascontiguousarray(session_ids), np.ascontiguousarray(item_ids), times, users, kinds, values, quantities
            )
        else:
            as_text = lambda ids, missing=None: [  # noqa: E731
                "" if missing is not None and missing[i] else str(v) for i, v in enumerate(ids.tolist())]
            core, report = _core.data.EventLog.build_strings(
                as_text(session_ids), as_text(item_ids), [] if user_ids is None else as_text(user_ids, guests), times, kinds,
                values, quantities
            )
            copied += ["session", "item"] + ([] if user is None else ["user"])
        log = cls(core, report, copied)
        log._integer_ids = integer
        log.has_kinds = kind is not None
        return log

    @classmethod
    def from_pandas(cls, frame: Any, session: str = "session_id", item: str = "item_id", timestamp: str = "timestamp",
                    kind: Optional[str] = None, user: Optional[str] = None, value: Optional[str] = None,
                    quantity: Optional[str] = None) -> "EventLog":
        """Build from a DataFrame; arguments name its columns."""
        for name in [c for c in (session, item, timestamp, kind, user, value, quantity) if c is not None]:
            if name not in frame.columns:
                raise ValueError(f"the frame has no column '{name}' (columns: {list(frame.columns)})")
        pick = lambda name: None if name is None else frame[name].to_numpy()  # noqa: E731
        # Id columns go as Series: categoricals and nullable integers keep their missing values.
        ids = lambda name: None if name is None else frame[name]  # noqa: E731
        return cls.from_arrays(ids(session), ids(item), pick(timestamp), pick(kind), ids(user), pick(value), pick(quantity))

    def __len__(self) -> int:
        return self._log.num_events

    _integer_ids: Dict[str, bool] = {}
    # Whether the events came with their kinds (without, every event reads as a view, and the
    # recommenders' reasons do not claim to know what the events were).
    has_kinds = True

    def __getattr__(self, name: str) -> Any:
        if name in ("session", "user", "item", "timestamp", "kind", "value", "quantity", "session_offsets",
                    "num_items", "num_users", "num_sessions"):
            return getattr(self._log, name)
        raise AttributeError(name)

    def _ids(self, column: str) -> Any:
        ids = getattr(self._log, f"{column}_ids")
        if self._integer_ids.get(column) and isinstance(ids, list):
            # A log built from text (another column held strings) keeps integer ids integers.
            return np.asarray([int(v) for v in ids], dtype=np.int64)
        return ids

    @property
    def item_ids(self) -> Any:
        """The shop's id of each dense item: an int64 array, or a list of str."""
        return self._ids("item")

    @property
    def user_ids(self) -> Any:
        """The shop's id of each dense user (guests have none; their ``user`` is -1)."""
        return self._ids("user")

    def _derived(self, core: Any) -> "EventLog":
        log = EventLog(core)
        log._integer_ids = self._integer_ids
        log.has_kinds = self.has_kinds
        return log

    def sessions(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-session CSR ``(offsets, items)``: what the recommenders' ``fit`` takes."""
        return self._log.session_offsets, self._log.item

    def by_user(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-user CSR ``(offsets, event positions)``, each user's events in time order."""
        return self._log.by_user()

    def sessionize(self, gap_minutes: float = 30.0) -> "EventLog":
        """New sessions wherever a known user was inactive for more than ``gap_minutes``."""
        return self._derived(self._log.sessionize(int(gap_minutes * 60)))

    def filter_once(self, min_item_support: int = 5, min_session_length: int = 2) -> "EventLog":
        """One pass: rare items' events, then too-short sessions."""
        return self._derived(self._log.filter_once(int(min_item_support), int(min_session_length)))

    def filter_to_fixed_point(self, min_item_support: int = 5, min_session_length: int = 2) -> "EventLog":
        """Repeat ``filter_once`` until nothing changes."""
        return self._derived(self._log.filter_to_fixed_point(int(min_item_support), int(min_session_length)))

    def split_by_last_days(self, days: int) -> Tuple["EventLog", "EventLog"]:
        """``(train, test)``: sessions whose last event falls in the final ``days`` days are test;
        both keep the same item ids."""
        train, test = self._log.split_by_last_days(int(days))
        return self._derived(train), self._derived(test)

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
