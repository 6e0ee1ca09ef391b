"""What a column holds, judged from a sample of its values (not from its name).

Used to keep a number column out of the review-text field, and to warn when a
"rating" column holds 0/1/2 class labels.
"""

from __future__ import annotations

import re

import pandas as pd

_NUMBER = re.compile(r"^[+-]?[$€£¥]?\s?[\d.,'\s]*\d[\d.,'\s]*\s?[$€£¥%]?$")


def _values(series: pd.Series, n: int = 2_000) -> pd.Series:
    s = series.dropna().head(n).astype(str).str.strip()
    return s[s != ""]


def numeric_share(series: pd.Series) -> float:
    """Share of non-blank sample values that are numbers (any decimal or thousands style)."""
    s = _values(series)
    if s.empty:
        return 0.0
    return float(s.map(lambda v: bool(_NUMBER.match(v))).mean())


def holds_text(series: pd.Series) -> bool:
    """False when the column is (nearly) all numbers: it cannot be written text."""
    s = _values(series)
    return s.empty or numeric_share(series) < 0.9


def label_values(series: pd.Series) -> list[float] | None:
    """The distinct values when a column holds only class labels such as 0/1, 0/1/2 or -1/0/1."""
    s = pd.to_numeric(_values(series), errors="coerce")
    if s.empty or s.isna().any():
        return None
    vals = sorted(set(s.tolist()))
    return vals if set(vals) <= {-1.0, 0.0, 1.0, 2.0} and len(s) >= 5 else None


def text_problem(column: str, label: str, series: pd.Series) -> str | None:
    """A refusal when a text field is mapped to a number column."""
    if holds_text(series):
        return None
    shown = ", ".join(_values(series).drop_duplicates().head(3))
    return (
        f"Column '{column}' mapped to '{label}' holds numbers ({shown}…), not text. Choose the "
        "column with the written words."
    )


def rating_warning(column: str, series: pd.Series) -> str | None:
    """A warning when the mapped rating column holds only 0/1/2-style labels."""
    vals = label_values(series)
    if vals is None:
        return None
    shown = "/".join(f"{v:g}" for v in vals)
    return (
        f"Rating column '{column}' holds only {shown}: that looks like a sentiment class, not a "
        "star rating. If it is a label, map it as the sentiment label instead of the rating."
    )
