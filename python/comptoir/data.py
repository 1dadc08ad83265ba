"""Event logs and the real datasets.

``EventLog`` holds events with dense ids (sorted by session, then time) and the maps back to the
shop's own ids. Columns are read in place when they already have comptoir's dtypes (int64 ids and
seconds, uint8 kinds, float32 values); anything else is converted, and ``copied_columns`` says
which columns had to be copied.
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _core, _ids
from .features import EVENT_KINDS, event_kind_codes, to_unix_seconds
from .exceptions import InvalidArgumentError

PathLike = Union[str, os.PathLike, None]

_log = logging.getLogger(__name__)


def _as(array: Any, dtype: Any, name: str, copied: List[str]) -> np.ndarray:
    original = array
    if np.issubdtype(np.dtype(dtype), np.integer):
        values = np.asarray(array)
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values) | (values != np.round(values))
            if bad.any():
                raise InvalidArgumentError(f"column '{name}' has missing or fractional ids at rows {np.flatnonzero(bad)[:5].tolist()}")
        elif values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            raise InvalidArgumentError(f"column '{name}' has ids that do not fit 64-bit integers")
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
        datetimes (without ``kind`` every event is a view, which is logged). Exact duplicate events
        are dropped, counted in ``report`` and logged on the ``comptoir`` logger; a bad row raises
        ``ValueError`` naming it."""
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
        if report.get("duplicates_dropped"):
            _log.info("EventLog: dropped %s exact duplicate events of %s rows", f"{report['duplicates_dropped']:,}",
                      f"{report.get('rows', len(times)):,}")
        if kind is None and len(times):
            _log.info("EventLog: no kind given, so the %s events read as views (pass kind= to say they are carts or "
                      "purchases)", f"{len(times):,}")
        return log

    @classmethod
    def from_pandas(cls, frame: Any, session: str = "session_id", item: str = "item_id", timestamp: str = "timestamp",
                    kind: Optional[str] = None, user: Optional[str] = None, value: Optional[str] = None,
                    quantity: Optional[str] = None) -> "EventLog":
        """Build from a DataFrame; arguments name its columns."""
        for name in [c for c in (session, item, timestamp, kind, user, value, quantity) if c is not None]:
            if name not in frame.columns:
                raise InvalidArgumentError(f"the frame has no column '{name}' (columns: {list(frame.columns)})")
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


# Stock codes that are charges, fees or adjustments rather than products, read from the data:
# codes without a digit are services (POST, DOT, M, D, S, B, CRUK, PADS, AMAZONFEE, BANK CHARGES)
# except the two party bags (DCGSSBOY, DCGSSGIRL); C2 is carriage; gift_* are vouchers.
_SERVICE_CODES = frozenset({"C2"})
_PRODUCT_CODES_WITHOUT_DIGITS = ("DCGSS",)


def non_product_codes(codes: Any) -> np.ndarray:
    """True for Online Retail stock codes that are not products: postage, fees, manual
    adjustments, discounts, samples, commissions, carriage and gift vouchers."""
    import pandas as pd

    text = pd.Series(np.asarray(codes, dtype=object)).astype(str).str.strip()
    no_digit = ~text.str.contains(r"\d") & ~text.str.upper().str.startswith(_PRODUCT_CODES_WITHOUT_DIGITS)
    return (no_digit | text.str.upper().isin(_SERVICE_CODES) | text.str.lower().str.startswith("gift_")).to_numpy()


def _match_cancellations(frame: Any) -> Tuple[np.ndarray, np.ndarray, Dict[str, int]]:
    """Pairs each cancellation line with the purchases it cancels: the same customer's latest
    earlier lines of the same stock code, consumed newest first. Returns the purchase quantities
    left after the cancellations, which cancellation lines were fully matched, and counts."""
    quantity = frame["Quantity"].to_numpy().astype(np.float64)
    remaining = quantity.copy()
    cancelled = frame["InvoiceNo"].str.startswith("C").to_numpy()
    customer = frame["CustomerID"].to_numpy()
    code = frame["StockCode"].to_numpy()
    time = frame["InvoiceDate"].to_numpy()
    purchases: Dict[Tuple[Any, Any], List[int]] = {}
    for i in np.flatnonzero(~cancelled & (quantity > 0) & ~np.isnan(customer)):
        purchases.setdefault((customer[i], code[i]), []).append(int(i))
    matched = np.zeros(len(frame), dtype=bool)
    partial = 0
    for i in np.flatnonzero(cancelled)[np.argsort(time[cancelled], kind="stable")]:
        need = -quantity[i]
        if np.isnan(customer[i]) or need <= 0:
            continue
        for j in reversed(purchases.get((customer[i], code[i]), [])):
            if time[j] > time[i] or remaining[j] <= 0:
                continue
            taken = min(remaining[j], need)
            remaining[j] -= taken
            need -= taken
            if need <= 0:
                break
        if need <= 0:
            matched[i] = True
        elif need < -quantity[i]:
            partial += 1
    counts = {"cancellations_matched": int(matched.sum()), "cancellations_partly_matched": partial}
    return remaining, matched, counts


def load_online_retail(path: PathLike = None, cancellations: str = "remove", as_frame: bool = False) -> Any:
    """UCI Online Retail as an ``EventLog``: one purchase event per invoice line (session =
    invoice, item = StockCode as text, value = quantity x unit price), customers as the integers
    they are (17850, not '17850.0'); lines without a CustomerID are guests.

    Cleaning, each step counted in ``report`` and logged on the ``comptoir`` logger:

    - ``non_product_lines``: postage, fees, manual adjustments, discounts, samples, bank charges,
      carriage and gift vouchers (``non_product_codes``) are not products and are dropped;
    - ``negative_price_dropped``: the bad-debt adjustments with a negative unit price;
    - ``stock_adjustment_lines``: negative quantities outside a cancelled invoice (damages, stock
      checks, all at price 0);
    - cancellations (invoices numbered C...): with ``cancellations="remove"`` each cancellation
      line takes back the quantity of the same customer's latest earlier purchase lines of the same
      code; purchase lines cancelled entirely are dropped (``cancelled_purchase_lines``), partly
      cancelled ones keep what was not returned (``purchase_lines_reduced``), and the
      cancellation lines are dropped (``cancellation_lines``; ``cancellations_unmatched``: those
      not matched in full: nothing, or not enough, to cancel in the data, e.g. bought before
      December 2010, or by guests). With
      ``cancellations="returns"`` they stay as ``return`` events (kind 4, value and quantity
      positive).

    ``as_frame=True`` returns the cleaned lines as a DataFrame instead (the raw columns,
    ``CustomerID`` as nullable Int64, a ``kind`` column) with the counts in ``attrs["report"]``."""
    import logging

    import pandas as pd

    if cancellations not in ("remove", "returns"):
        raise InvalidArgumentError(f"cancellations must be 'remove' or 'returns', got {cancellations!r}")
    folder = data_directory(path, "online_retail")
    frame = pd.read_csv(folder / "online_retail.csv.gz", encoding="latin-1", dtype={"InvoiceNo": str, "StockCode": str})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    report: Dict[str, int] = {"raw_rows": len(frame)}
    frame, report = clean_online_retail(frame, cancellations, report)
    if as_frame:
        frame = frame.copy()
        frame["CustomerID"] = frame["CustomerID"].astype("Int64")
        frame.attrs["report"] = report
        logging.getLogger(__name__).info("Online Retail: %s", _describe_report(report))
        return frame
    returned = frame["kind"].to_numpy() == EVENT_KINDS["return"]
    log = EventLog.from_arrays(
        session=frame["InvoiceNo"].to_numpy().astype(str), item=frame["StockCode"].to_numpy().astype(str),
        timestamp=frame["InvoiceDate"].to_numpy(), kind=frame["kind"].to_numpy().astype(np.uint8),
        user=frame["CustomerID"].to_numpy(),
        value=np.abs(frame["Quantity"].to_numpy() * frame["UnitPrice"].to_numpy()),
        quantity=np.where(returned, -1, 1) * frame["Quantity"].to_numpy(),
    )
    log.report = {**report, **log.report}
    logging.getLogger(__name__).info("Online Retail: %s", _describe_report(log.report))
    return log


def clean_online_retail(frame: Any, cancellations: str = "remove", report: Optional[Dict[str, int]] = None) -> Any:
    """The cleaning ``load_online_retail`` applies, on a DataFrame with the raw columns
    (``InvoiceNo``, ``StockCode``, ``Quantity``, ``InvoiceDate``, ``UnitPrice``, ``CustomerID``):
    returns ``(cleaned frame with a kind column, report)``."""
    report = dict(report or {"raw_rows": len(frame)})
    frame = frame.reset_index(drop=True)
    frame = frame.assign(InvoiceNo=frame["InvoiceNo"].astype(str), StockCode=frame["StockCode"].astype(str).str.strip(),
                         CustomerID=_customer_numbers(frame["CustomerID"]))
    service = non_product_codes(frame["StockCode"])
    report["non_product_lines"] = int(service.sum())
    frame = frame[~service]
    negative_price = (frame["UnitPrice"] < 0).to_numpy()
    report["negative_price_dropped"] = int(negative_price.sum())
    frame = frame[~negative_price]
    cancelled = frame["InvoiceNo"].str.startswith("C").to_numpy()
    adjustment = (frame["Quantity"] <= 0).to_numpy() & ~cancelled
    report["stock_adjustment_lines"] = int(adjustment.sum())
    frame = frame[~adjustment].reset_index(drop=True)
    cancelled = frame["InvoiceNo"].str.startswith("C").to_numpy()
    report["cancellation_lines"] = int(cancelled.sum())
    if cancellations == "remove":
        remaining, matched, counts = _match_cancellations(frame)
        original = frame["Quantity"].to_numpy()
        purchase = ~cancelled
        report["cancelled_purchase_lines"] = int((purchase & (remaining <= 0)).sum())
        report["purchase_lines_reduced"] = int((purchase & (remaining > 0) & (remaining < original)).sum())
        report["cancellations_unmatched"] = int(cancelled.sum() - counts["cancellations_matched"])
        frame = frame.assign(Quantity=np.where(purchase, remaining, original).astype(original.dtype))
        frame = frame[purchase & (remaining > 0)]
        kind = np.full(len(frame), EVENT_KINDS["purchase"], dtype=np.uint8)
    else:
        frame = frame.assign(Quantity=np.abs(frame["Quantity"].to_numpy()))
        kind = np.where(cancelled, EVENT_KINDS["return"], EVENT_KINDS["purchase"]).astype(np.uint8)
    frame = frame.assign(kind=kind).reset_index(drop=True)
    report["guest_lines"] = int(frame["CustomerID"].isna().sum())
    report["rows"] = len(frame)
    return frame, report


def _customer_numbers(column: Any) -> Any:
    """Customer ids as float (NaN for guests) whether they came as 17850.0, '17850' or ''."""
    import pandas as pd

    return pd.to_numeric(pd.Series(column).replace("", np.nan), errors="raise").astype(np.float64)


def _describe_report(report: Dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in report.items())


HILLSTROM_ARMS = {"No E-Mail": 0, "Mens E-Mail": 1, "Womens E-Mail": 2}
HILLSTROM_CONTROL = "No E-Mail"
_HILLSTROM_CATEGORIES = ("history_segment", "zip_code", "channel")


def load_hillstrom(path: PathLike = None, as_frame: Optional[bool] = None) -> Any:
    """Hillstrom's e-mail test: pre-campaign features and ``visit``, ``conversion``, ``spend`` in
    the two following weeks.

    As a DataFrame (when pandas is installed, or ``as_frame=True``): ``segment`` holds the offer
    names as a categorical, ``'No E-Mail'`` (the control, ``HILLSTROM_CONTROL``) then
    ``'Mens E-Mail'`` and ``'Womens E-Mail'``, so ``TLearner(control_name="No E-Mail").fit(X,
    treatment=data["segment"], y=...)`` names the offers; ``history_segment`` (ordered,
    ``'1) $0 - $100'`` .. ``'7) $1,000 +'``), ``zip_code`` and ``channel`` are categoricals with
    their labels; ``treatment`` is the segment's code (0 control, 1 mens, 2 womens).
    ``as_frame=False`` (or no pandas) gives a dict of arrays with the categoricals as integer
    codes in their labels' sorted order, the labels in ``data["labels"]``."""
    import csv

    folder = data_directory(path, "hillstrom")
    name = "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv.gz"
    with gzip.open(folder / name, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return hillstrom_table(rows, as_frame)


def hillstrom_table(rows: List[Dict[str, str]], as_frame: Optional[bool] = None) -> Any:
    """Hillstrom's rows (dicts of the CSV's text fields) as ``load_hillstrom`` returns them."""
    labels: Dict[str, List[str]] = {}

    def codes(key: str) -> np.ndarray:
        names, inverse = np.unique([r[key] for r in rows], return_inverse=True)
        labels[key] = [str(n) for n in names]
        return inverse.astype(np.int32)

    unknown = sorted({r["segment"] for r in rows} - set(HILLSTROM_ARMS))
    if unknown:
        raise InvalidArgumentError(f"Hillstrom segments {unknown} are not {sorted(HILLSTROM_ARMS)}")
    data: Dict[str, Any] = {
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
        return {**data, "labels": labels}
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return {**data, "labels": labels}
    frame = pd.DataFrame(data)
    for key in _HILLSTROM_CATEGORIES:
        frame[key] = pd.Categorical.from_codes(data[key], categories=labels[key], ordered=key == "history_segment")
    arms = list(HILLSTROM_ARMS)
    frame.insert(frame.columns.get_loc("treatment"), "segment", pd.Categorical.from_codes(data["treatment"], categories=arms))
    frame.attrs["control_name"] = HILLSTROM_CONTROL
    return frame
