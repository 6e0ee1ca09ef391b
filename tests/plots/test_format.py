"""The reading table: labels with units, rounding, currency, ids as text, no "None" cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cx_core.plots.format import (
    COLUMNS,
    EMPTY,
    KINDS,
    fmt_value,
    has_details,
    id_text,
    label,
    money,
    readable_frame,
)


def test_every_column_has_a_known_kind():
    assert {c.kind for c in COLUMNS.values()} <= set(KINDS)


def test_labels_carry_units_and_currency():
    assert label("recency_days") == "Days since last order"
    assert label("aov", "£") == "Avg order value (£)"
    assert label("aov") == "Avg order value"
    assert label("p_alive") == "Chance still active (%)"
    assert label("some_new_column") == "Some new column"


def test_values_rounded_for_reading():
    assert fmt_value("recency", 50.42857142857143) == "50"
    assert fmt_value("revenue", 279489.02000000014, "£") == "£279,489"
    assert fmt_value("aov", 17.456, "$") == "$17.46"
    assert fmt_value("churn_prob", 0.5123) == "51%"
    assert fmt_value("mean_sentiment", 0.1234) == "+0.12"
    assert fmt_value("clv", None, "£") == EMPTY
    assert money(-12.5, "€", 2) == "-€12.50"


def test_ids_as_text():
    assert id_text(17850.0) == "17850"
    assert id_text("ds_1") == "ds_1"
    assert id_text(None) == ""


def test_readable_frame_text_first_ids_hidden_no_none():
    df = pd.DataFrame(
        {
            "review_id": ["r1", "r2"],
            "dataset_id": ["ds_a", "ds_a"],
            "customer_id": [17850.0, np.nan],
            "score": [0.123456, -0.5],
            "risk": [0.25, None],
            "aspects": [["fit", "price"], None],
            "title": [None, "Nice"],
            "text": ["<img src=x onerror=alert(1)>", "ok"],
            "revenue": [279489.02000000014, 1.0],
        }
    )
    out = readable_frame(df, "£")
    assert list(out.columns)[:2] == ["Review", "Title"]
    assert "Review id" not in out.columns and "Dataset id" not in out.columns
    assert out["Customer"].tolist() == ["17850", ""]
    assert out["Sentiment (−1 to +1)"].tolist() == [0.12, -0.5]
    assert out["Complaint risk (%)"].iloc[0] == 25.0
    assert out["Aspects"].tolist() == ["fit, price", ""]
    assert out["Title"].tolist() == ["", "Nice"]
    assert out["Revenue (£)"].iloc[0] == 279489
    assert "None" not in out.astype(str).to_numpy().ravel().tolist()
    assert out["Review"].iloc[0] == "<img src=x onerror=alert(1)>"  # escaped by the table, not mangled
    assert has_details(df)
    shown = readable_frame(df, show_ids=True)
    assert {"Review id", "Dataset id"} <= set(shown.columns)


def test_readable_frame_keeps_numbers_sortable():
    out = readable_frame(pd.DataFrame({"n_orders": [3.0, 12.0], "recency_days": [1.4, 50.42857142857143]}))
    assert out["Orders"].tolist() == [3, 12]
    assert out["Days since last order"].tolist() == [1, 50]
    assert pd.api.types.is_integer_dtype(out["Orders"])


def test_timestamps_show_as_dates_never_as_integers():
    import pandas as pd

    from cx_core.plots.format import readable_frame

    df = pd.DataFrame(
        {
            "signup_ts": pd.to_datetime(["2023-05-09", None]),
            "loaded_at": pd.to_datetime(["2024-01-02 10:00", None]),
        }
    )
    out = readable_frame(df)
    assert out["Signed up"].tolist() == ["2023-05-09", ""]
    assert out.iloc[0, 1] == "2024-01-02" and out.iloc[1, 1] == ""


def test_string_columns_keep_their_text_and_show_blanks():
    import pandas as pd

    from cx_core.plots.format import readable_frame

    df = pd.DataFrame(
        {"country": pd.Series([None, "UK"], dtype="string"), "city": pd.Series([None, None], dtype="string")}
    )
    out = readable_frame(df)
    assert out["Country"].tolist() == ["", "UK"] and out["City"].tolist() == ["", ""]
