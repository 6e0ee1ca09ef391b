"""Numbers and column names for people: one table of model column -> label, kind and rounding.

Every page, the HTML report and the charts show model columns through this table, so a
marketer reads "Days since last order" and "Avg order value (£)" instead of ``recency_days``
and ``aov``, numbers rounded for reading, ids as text and no "None" cells. Full precision
stays in the exports (:mod:`cx_core.insight.export_files`), which never use this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

#: kinds: how a column's values are rounded and which unit its label gets
KINDS = ("money", "pct", "count", "days", "number", "score", "rating", "text", "date", "id", "list", "flag")
EMPTY = "—"


@dataclass(frozen=True)
class Column:
    """How one model column is shown: a human ``label``, its ``kind`` and ``decimals`` when rounded.

    ``detail`` columns (ids, run ids, JSON, method names) are hidden unless the user asks for ids.
    """

    label: str
    kind: str = "number"
    decimals: int = 0
    detail: bool = False


def _ids(*names: str, label: str = "") -> dict[str, Column]:
    return {n: Column(label or n.replace("_", " ").capitalize(), "id", detail=True) for n in names}


COLUMNS: dict[str, Column] = {
    # ids and internals: behind the "Show ids" toggle
    **_ids("review_id", label="Review id"),
    **_ids("dataset_id", label="Dataset id"),
    **_ids("run_id", label="Run id"),
    **_ids("unit_id", label="Unit id"),
    **_ids("attrs_json", label="Other columns (JSON)"),
    **_ids("aspect_sentiment_json", label="Aspect sentiment (JSON)"),
    **_ids("text_hash", label="Text hash"),
    "method": Column("Sentiment method", "text", detail=True),
    "sentiment_method": Column("Sentiment method", "text", detail=True),
    "churn_method": Column("Churn method", "text", detail=True),
    "churn_window": Column("Churn definition", "text", detail=True),
    "model_id": Column("Model", "text", detail=True),
    "x": Column("Map x", "number", 2, detail=True),
    "y": Column("Map y", "number", 2, detail=True),
    "probability": Column("Fit to segment", "pct", detail=True),
    # people and things
    "customer_id": Column("Customer", "id"),
    "order_id": Column("Order", "id"),
    "item": Column("Item code", "id"),
    "item_name": Column("Product", "text"),
    "name": Column("Name", "text"),
    "email": Column("Email", "text"),
    "phone": Column("Phone", "text"),
    "segment_id": Column("Segment", "id"),
    "segment": Column("Segment name", "text"),
    # orders and value
    "ts": Column("Date", "date"),
    "signup_ts": Column("Signed up", "date"),
    "date": Column("Date", "date"),
    "quantity": Column("Quantity", "count"),
    "amount": Column("Amount", "money", 2),
    "is_return": Column("Return", "flag"),
    "is_outlier": Column("Outlier", "flag"),
    "frequency": Column("Repeat orders", "count"),
    "recency": Column("Days from first to last order", "days"),
    "T": Column("Days since first order", "days"),
    "monetary_value": Column("Avg repeat order value", "money", 2),
    "recency_days": Column("Days since last order", "days"),
    "n_orders": Column("Orders", "count"),
    "orders": Column("Orders", "count"),
    "revenue": Column("Revenue", "money"),
    "aov": Column("Avg order value", "money", 2),
    "tenure_days": Column("Days as a customer", "days"),
    "mean_interpurchase_days": Column("Days between orders", "days"),
    "return_rate": Column("Returned", "pct"),
    "first_purchase": Column("First order", "date"),
    "last_purchase": Column("Last order", "date"),
    "last_bought": Column("Last bought", "date"),
    "R": Column("Recency score (1–5)", "count"),
    "F": Column("Frequency score (1–5)", "count"),
    "M": Column("Spend score (1–5)", "count"),
    "rfm": Column("RFM code", "text"),
    "rfm_segment": Column("Customer group", "text"),
    "p_alive": Column("Chance still active", "pct"),
    "expected_purchases": Column("Expected orders (CLV horizon)", "number", 1),
    "expected_spend": Column("Expected spend per order", "money", 2),
    "clv": Column("Predicted lifetime value", "money"),
    "mean_clv": Column("Avg predicted lifetime value", "money"),
    "churn_prob": Column("Chance of churning", "pct"),
    "churn_rate": Column("Likely to churn", "pct"),
    # reviews
    "text": Column("Review", "text"),
    "title": Column("Title", "text"),
    "rating": Column("Rating", "rating", 1),
    "sentiment": Column("Sentiment", "text"),
    "score": Column("Sentiment (−1 to +1)", "score", 2),
    "sentiment_score": Column("Sentiment (−1 to +1)", "score", 2),
    "rating_pred": Column("Predicted rating", "rating", 1),
    "aspects": Column("Aspects", "list"),
    "risk": Column("Complaint risk", "pct"),
    "risk_flags": Column("Risk flags", "list"),
    "n_reviews": Column("Reviews", "count"),
    "reviews": Column("Reviews", "count"),
    "mean_rating": Column("Avg rating", "rating", 1),
    "mean_sentiment": Column("Avg sentiment (−1 to +1)", "score", 2),
    "negative_share": Column("Negative", "pct"),
    "complaint_rate": Column("Reviews with a complaint", "pct"),
    "praise_rate": Column("Reviews with praise", "pct"),
    "risk_rate": Column("Reviews at risk", "pct"),
    "top_complaints": Column("Top complaints", "list"),
    "top_praise": Column("Top praise", "list"),
    "snippet": Column("Review", "text"),
    # drivers
    "aspect": Column("Aspect", "text"),
    "mentions": Column("Mentions", "count"),
    "negative_mentions": Column("Negative mentions", "count"),
    "rating_gain": Column("Stars gained if fixed", "number", 2),
    "churn_gain": Column("Churn risk saved if fixed", "pct"),
    "negative_share_recent": Column("Negative, last period", "pct"),
    "negative_share_previous": Column("Negative, period before", "pct"),
    "trend": Column("Trend", "text"),
    "coef_negative": Column("Effect of a complaint (stars)", "number", 2, detail=True),
    "coef_positive": Column("Effect of praise (stars)", "number", 2, detail=True),
    "churn_coef_negative": Column("Effect of a complaint on churn", "number", 3, detail=True),
    "trend_p": Column("Trend p-value", "number", 3, detail=True),
    "trend_q": Column("Trend q-value (FDR)", "number", 3, detail=True),
    # products and recommendations
    "rank": Column("Rank", "count"),
    "seg_buyers": Column("Buyers in segment", "count"),
    "seg_size": Column("Segment size", "count"),
    "seg_share": Column("Share of segment", "pct"),
    "all_buyers": Column("Buyers overall", "count"),
    "all_share": Column("Share of all customers", "pct"),
    "lift": Column("Lift (× usual)", "number", 1),
    "members": Column("Members", "count"),
    "share": Column("Share", "pct"),
    "reason": Column("Why", "text"),
    # datasets
    "kind": Column("Holds", "text"),
    "source_name": Column("File", "text"),
    "rows": Column("Rows", "count"),
    "rejected": Column("Rejected rows", "count"),
    "loaded_at": Column("Loaded", "date"),
}

#: columns that come first in a review table: what the customer wrote
TEXT_FIRST = ("text", "snippet", "title")


def column(name: str) -> Column:
    """The display rule of ``name`` (an unknown column keeps its name, rounded to 2 decimals)."""
    return COLUMNS.get(name, Column(str(name).replace("_", " ").capitalize(), "number", 2))


def label(name: str, currency: str = "") -> str:
    """A column's human label with its unit: "Avg order value (£)", "Chance still active (%)"."""
    col = column(name)
    if col.kind == "money" and currency:
        return f"{col.label} ({currency})"
    if col.kind == "pct":
        return f"{col.label} (%)"
    return col.label


def missing(value: object) -> bool:
    """None, NaN or NaT."""
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def money(value: object, currency: str = "", decimals: int = 0) -> str:
    """``£1,234`` / ``-£12.50`` / ``1,234`` without a currency; an em dash when missing."""
    if missing(value):
        return EMPTY
    v = float(value)  # type: ignore[arg-type]
    sign = "-" if v < 0 else ""
    return f"{sign}{currency}{abs(v):,.{decimals}f}"


def pct(value: object, decimals: int = 0) -> str:
    """A share 0..1 as ``51 %``-style text (``51%``); an em dash when missing."""
    return EMPTY if missing(value) else f"{float(value):.{decimals}%}"  # type: ignore[arg-type]


def id_text(value: object) -> str:
    """An id as people write it: ``17850`` (never ``17850.0``), "" when missing."""
    if missing(value):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def fmt_value(name: str, value: object, currency: str = "") -> str:
    """One value of column ``name`` as text for a card or a sentence (money with its currency)."""
    col = column(name)
    if missing(value):
        return EMPTY
    if col.kind == "money":
        return money(value, currency, 0 if abs(float(value)) >= 1000 else col.decimals)  # type: ignore[arg-type]
    if col.kind == "pct":
        return pct(value)
    if col.kind in ("count", "days"):
        return f"{float(value):,.0f}"  # type: ignore[arg-type]
    if col.kind in ("number", "rating"):
        return f"{float(value):,.{col.decimals}f}"  # type: ignore[arg-type]
    if col.kind == "score":
        return f"{float(value):+.{col.decimals}f}"  # type: ignore[arg-type]
    if col.kind == "id":
        return id_text(value)
    if col.kind == "list":
        return _list_text(value)
    if col.kind == "date":
        return f"{pd.Timestamp(value):%Y-%m-%d}"  # type: ignore[arg-type]
    return str(value)


def _list_text(value: object) -> str:
    if missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return ", ".join(str(v) for v in value)
    return str(value)


def _numeric(s: pd.Series, col: Column) -> pd.Series:
    v = pd.to_numeric(s, errors="coerce")
    if col.kind == "pct":
        return (100 * v).round(1)
    if col.kind in ("count", "days"):
        return v.round(0).astype("Int64") if v.notna().any() else v
    return v.round(col.decimals)


def _shown(s: pd.Series, col: Column) -> pd.Series:
    """One column's values for reading (numbers stay numbers so tables still sort)."""
    if col.kind == "id":
        return s.map(id_text)
    if col.kind == "list":
        return s.map(_list_text)
    if col.kind == "flag":
        return s.map(lambda v: "" if missing(v) else ("yes" if bool(v) else ""))
    if col.kind == "date" or pd.api.types.is_datetime64_any_dtype(s):
        ts = pd.to_datetime(s, errors="coerce")
        return ts.dt.strftime("%Y-%m-%d").fillna("")
    textual = s.dtype == object or pd.api.types.is_string_dtype(s)
    if col.kind == "text" or textual and not pd.api.types.is_numeric_dtype(s.dropna()):
        return s.map(lambda v: "" if missing(v) else str(v))
    if pd.api.types.is_bool_dtype(s):
        return s.map(lambda v: "yes" if v else "")
    return _numeric(s, col)


def readable_frame(
    df: pd.DataFrame, currency: str = "", show_ids: bool = False, text_first: bool = True
) -> pd.DataFrame:
    """``df`` for reading: detail columns (ids, JSON, methods) dropped unless ``show_ids``, the
    review text first, numbers rounded (shares in %, money with its currency in the label), ids
    as text, no "None" cells, and human column labels. Not for exports (they keep full precision)."""
    cols = [c for c in df.columns if show_ids or not column(str(c)).detail]
    if text_first:
        first = [c for c in TEXT_FIRST if c in cols]
        cols = first + [c for c in cols if c not in first]
    out = pd.DataFrame(index=df.index)
    used: set[str] = set()
    for c in cols:
        name = label(str(c), currency)
        while name in used:  # two columns with one label (ts and date): keep both apart
            name += " "
        used.add(name)
        out[name] = _shown(df[c], column(str(c)))
    return out


def has_details(df: pd.DataFrame) -> bool:
    """Whether ``df`` holds columns that :func:`readable_frame` hides behind "Show ids"."""
    return any(column(str(c)).detail for c in df.columns)


def round_for_reading(value: float, digits: int = 2) -> float:
    """A float without noise (``279489.02000000014`` -> ``279489.02``); NaN stays NaN."""
    return value if math.isnan(value) else round(value, digits)
