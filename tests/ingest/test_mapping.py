"""Column mapping suggestions for the names real exports use; hints at the file kind the columns fit."""

import pytest

from cx_core.ingest.mapping import kind_hint, mapping_problems, suggest_mapping
from tests.ingest_fixtures import RETAIL

AMAZON = [
    "reviewerID",
    "asin",
    "reviewerName",
    "helpful",
    "reviewText",
    "overall",
    "summary",
    "unixReviewTime",
    "reviewTime",
]


@pytest.mark.parametrize(
    "kind, column, field",
    [
        ("orders", "CustomerID", "customer_id"),
        ("orders", "Customer ID", "customer_id"),
        ("orders", "customer_id", "customer_id"),
        ("reviews", "reviewerID", "customer_id"),
        ("orders", "user_id", "customer_id"),
        ("reviews", "Review Text", "text"),
        ("reviews", "reviewText", "text"),
        ("reviews", "text", "text"),
        ("reviews", "Rating", "rating"),
        ("reviews", "overall", "rating"),
        ("reviews", "stars", "rating"),
        ("reviews", "Score", "rating"),
        ("orders", "InvoiceDate", "ts"),
        ("reviews", "unixReviewTime", "ts"),
        ("orders", "date", "ts"),
        ("orders", "dollar_value", "amount"),
        ("orders", "UnitPrice", "unit_price"),
        ("orders", "Quantity", "quantity"),
        ("customers", "E-mail Address", "email"),
    ],
)
def test_synonyms(kind, column, field):
    assert suggest_mapping(kind, ["zzz", column])[field] == column


def test_online_retail_header():
    cols = [
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ]
    m = suggest_mapping("orders", cols)
    assert m == {
        "order_id": "InvoiceNo",
        "customer_id": "CustomerID",
        "ts": "InvoiceDate",
        "amount": None,
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "item": "StockCode",
        "item_name": "Description",
        "country": "Country",
    }
    assert mapping_problems("orders", m, cols) == []


def test_each_column_used_once():
    m = suggest_mapping("reviews", ["date", "text"])
    assert list(v for v in m.values() if v).count("date") == 1


def test_problems_are_plain_words():
    probs = mapping_problems("orders", {"customer_id": "id", "ts": None}, ["id", "x"])
    text = " ".join(probs)
    assert "Order date" in text and "Amount" in text
    assert any("more than one" in p for p in mapping_problems("reviews", {"text": "a", "title": "a"}, ["a"]))
    assert any("not in the file" in p for p in mapping_problems("reviews", {"text": "b"}, ["a"]))


def test_kind_hint_names_the_kind_the_columns_fit():
    hint = kind_hint("reviews", RETAIL)
    assert hint == (
        "This looks like an orders file (InvoiceNo, Description, Quantity columns): choose 'Orders'."
    )
    assert "an orders file" in kind_hint("customers", RETAIL)
    assert "a reviews file" in kind_hint("customers", AMAZON)
    assert "a reviews file" in kind_hint("orders", AMAZON)
    for kind, cols in [
        ("orders", RETAIL),
        ("reviews", AMAZON),
        ("reviews", ["sentence", "label"]),
        ("customers", ["customer_id", "name", "email", "signup_date"]),
        ("customers", ["ID", "frequency", "recency", "T"]),
    ]:
        assert kind_hint(kind, cols) is None, (kind, cols)
