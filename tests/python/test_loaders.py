"""The Online Retail and Hillstrom loaders: what they clean, the report of it, and the labels."""

import csv
import gzip
import io
import logging

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from comptoir.data import (HILLSTROM_CONTROL, clean_online_retail, hillstrom_table, load_hillstrom,  # noqa: E402
                           load_online_retail, non_product_codes)

HILLSTROM = "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv.gz"


def retail_lines():
    rows = [
        # invoice, code, quantity, date, price, customer
        ("536365", "85123A", 6, "2010-12-01 08:26", 2.55, 17850.0),
        ("536365", "POST", 1, "2010-12-01 08:26", 18.0, 17850.0),
        ("536366", "22633", 12, "2010-12-02 09:00", 1.85, 17850.0),
        ("536367", "22633", 4, "2010-12-03 09:00", 1.85, 17850.0),
        ("C536400", "22633", -4, "2010-12-04 10:00", 1.85, 17850.0),     # cancels the 4 of 536367
        ("C536401", "22633", -5, "2010-12-05 10:00", 1.85, 17850.0),     # 5 of the 12 of 536366
        ("C536402", "84029G", -2, "2010-12-05 11:00", 3.39, 13047.0),    # bought before the data starts
        ("536403", "84029G", 3, "2010-12-06 11:00", 3.39, np.nan),       # a guest
        ("536404", "22139", -10, "2010-12-06 12:00", 0.0, np.nan),       # a stock adjustment ("damaged")
        ("536405", "gift_0001_20", 1, "2010-12-07 12:00", 16.67, 13047.0),
        ("536406", "B", 1, "2010-12-07 13:00", -11062.06, np.nan),
        ("536407", "DCGSSBOY", 1, "2010-12-07 14:00", 3.29, 13047.0),   # a product despite no digit
    ]
    return pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]).assign(
        InvoiceDate=lambda f: pd.to_datetime(f["InvoiceDate"]), Description="x", Country="United Kingdom")


def test_non_product_codes_are_services_fees_and_vouchers():
    codes = ["POST", "DOT", "M", "m", "BANK CHARGES", "C2", "PADS", "AMAZONFEE", "CRUK", "D", "S", "B", "gift_0001_10",
             "85123A", "22633", "DCGSSBOY", "DCGSSGIRL", "DCGS0003"]
    assert non_product_codes(codes).tolist() == [True] * 13 + [False] * 5


def test_cancellations_are_removed_with_what_they_cancel():
    frame, report = clean_online_retail(retail_lines())
    assert report["non_product_lines"] == 3 and report["negative_price_dropped"] == 0  # B is a service code
    assert report["stock_adjustment_lines"] == 1
    assert report["cancellation_lines"] == 3 and report["cancellations_unmatched"] == 1
    assert report["cancelled_purchase_lines"] == 1 and report["purchase_lines_reduced"] == 1
    assert report["guest_lines"] == 1 and report["rows"] == 4
    kept = frame.set_index("InvoiceNo")["Quantity"].to_dict()
    assert kept == {"536365": 6, "536366": 7, "536403": 3, "536407": 1}
    assert (frame["kind"] == 2).all()


def test_cancellations_can_stay_as_returns():
    frame, report = clean_online_retail(retail_lines(), cancellations="returns")
    returns = frame[frame["kind"] == 4]
    assert sorted(returns["InvoiceNo"]) == ["C536400", "C536401", "C536402"]
    assert (returns["Quantity"] > 0).all() and report["rows"] == 8
    assert "cancelled_purchase_lines" not in report


def write_retail(folder, frame):
    folder.mkdir()
    frame = frame.assign(InvoiceDate=frame["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with gzip.open(folder / "online_retail.csv.gz", "wt", encoding="latin-1") as handle:
        frame[["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
               "Country"]].to_csv(handle, index=False)


def test_the_loader_reports_and_logs_and_keeps_customer_ids_integers(tmp_path, caplog):
    write_retail(tmp_path / "online_retail", retail_lines())
    caplog.set_level(logging.INFO, logger="comptoir")
    log = load_online_retail(tmp_path / "online_retail")
    assert log.report["raw_rows"] == 12 and log.report["rows"] == 4 and log.report["cancellations_unmatched"] == 1
    assert log.user_ids.dtype == np.int64 and sorted(log.user_ids.tolist()) == [13047, 17850]
    assert sorted(log.item_ids) == ["22633", "84029G", "85123A", "DCGSSBOY"]
    assert (np.asarray(log.user) == -1).sum() == 1  # the guest line
    (message,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Online Retail")]
    assert "non product lines 3" in message and "cancellations unmatched 1" in message
    frame = load_online_retail(tmp_path / "online_retail", as_frame=True)
    assert str(frame["CustomerID"].dtype) == "Int64" and frame["CustomerID"].isna().sum() == 1
    assert frame.attrs["report"]["rows"] == 4
    with pytest.raises(ValueError, match="cancellations"):
        load_online_retail(tmp_path / "online_retail", cancellations="keep")


def hillstrom_rows():
    text = ("recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\r\n"
            '10,"2) $100 - $200",142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0\r\n'
            '6,"3) $200 - $350",329.08,1,1,Rural,1,Web,No E-Mail,0,0,0\r\n'
            '7,"6) $750 - $1,000",800.0,0,1,Urban,1,Multichannel,Mens E-Mail,1,1,35.5\r\n')
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_hillstrom_segments_are_offer_names_and_codes_have_labels():
    frame = hillstrom_table(hillstrom_rows())
    assert list(frame["segment"].cat.categories) == ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]
    assert frame["segment"].tolist() == ["Womens E-Mail", "No E-Mail", "Mens E-Mail"]
    assert frame["treatment"].tolist() == [2, 0, 1] and frame.attrs["control_name"] == HILLSTROM_CONTROL == "No E-Mail"
    assert frame["history_segment"].tolist() == ["2) $100 - $200", "3) $200 - $350", "6) $750 - $1,000"]
    assert frame["history_segment"].cat.ordered
    assert frame["zip_code"].tolist() == ["Surburban", "Rural", "Urban"]
    assert frame["channel"].tolist() == ["Phone", "Web", "Multichannel"]
    data = hillstrom_table(hillstrom_rows(), as_frame=False)
    assert data["channel"].tolist() == [1, 2, 0] and data["labels"]["channel"] == ["Multichannel", "Phone", "Web"]
    bad = hillstrom_rows()
    bad[0]["segment"] = "SMS"
    with pytest.raises(ValueError, match="SMS"):
        hillstrom_table(bad)


def test_hillstrom_segments_fit_the_offer_convention():
    from comptoir.uplift import TLearner

    rows = hillstrom_rows() * 40
    frame = hillstrom_table(rows)
    frame["visit"] = np.random.default_rng(0).integers(0, 2, len(frame))
    X = frame[["recency", "history", "mens", "womens", "newbie"]]
    model = TLearner(control_name="No E-Mail").fit(X, treatment=frame["segment"], y=frame["visit"])
    assert list(model.predict(X).columns) == ["Mens E-Mail", "Womens E-Mail"]


def test_real_online_retail(shared_data):
    if not (shared_data / "online_retail").exists():
        pytest.skip("Online Retail not present")
    log = load_online_retail(shared_data / "online_retail")
    report = log.report
    assert report["raw_rows"] == 541_909
    assert report["cancellation_lines"] + report["stock_adjustment_lines"] + report["non_product_lines"] + \
        report["negative_price_dropped"] <= 541_909 - report["rows"]
    assert not non_product_codes(log.item_ids).any()
    assert log.user_ids.dtype == np.int64 and 17850 in set(log.user_ids.tolist())
    assert (np.asarray(log.kind) == 2).all() and (np.asarray(log.quantity) > 0).all()
    for code in ("POST", "DOT", "M", "BANK CHARGES", "C2", "AMAZONFEE"):
        assert code not in set(log.item_ids)


def test_real_hillstrom_labels(shared_data):
    if not (shared_data / "hillstrom" / HILLSTROM).exists():
        pytest.skip("Hillstrom not present")
    frame = load_hillstrom(shared_data / "hillstrom")
    assert frame["segment"].value_counts().to_dict() == {"Womens E-Mail": 21_387, "Mens E-Mail": 21_307,
                                                         "No E-Mail": 21_306}
    assert list(frame["history_segment"].cat.categories) == [
        "1) $0 - $100", "2) $100 - $200", "3) $200 - $350", "4) $350 - $500", "5) $500 - $750", "6) $750 - $1,000",
        "7) $1,000 +"]
    assert sorted(frame["zip_code"].cat.categories) == ["Rural", "Surburban", "Urban"]
    assert sorted(frame["channel"].cat.categories) == ["Multichannel", "Phone", "Web"]


def test_main_reasons_quote_category_labels_not_codes():
    from comptoir.uplift import TLearner

    rng = np.random.default_rng(0)
    n = 4000
    zip_code = pd.Categorical(rng.choice(["Rural", "Urban"], n))
    arm = rng.choice(["No E-Mail", "Mens E-Mail"], n)
    y = (rng.random(n) < 0.1 + 0.3 * ((arm == "Mens E-Mail") & (zip_code == "Urban"))).astype(int)
    X = pd.DataFrame({"zip_code": zip_code, "noise": rng.normal(size=n)})
    reasons = TLearner(control_name="No E-Mail").fit(X, treatment=arm, y=y).main_reasons(X.head(200))["Mens E-Mail"]
    by_zip = reasons[reasons.str.startswith("zip_code=")]
    assert len(by_zip) > 0
    assert by_zip.str.match(r"^zip_code=(Rural|Urban) \(").all(), by_zip.head().tolist()
