"""Per-customer purchase features (RFM) from order lines, as of a cutoff date.

The central function, :func:`rfm_summary`, turns order lines into one row per
customer with

* the BG/NBD / Gamma-Gamma inputs in the Fader-Hardie convention
  (``frequency``, ``recency``, ``T``, ``monetary_value``), and
* marketer features (``recency_days``, ``n_orders``, ``revenue``, ``aov``, ...).

Conventions (the same as ``lifetimes.summary_data_from_transaction_data`` with
daily periods and a time-unit multiplier):

* Time is counted in whole calendar days.  The cutoff is a day: every line
  whose timestamp falls on or before that calendar day counts; later lines are
  ignored.  The default cutoff is the day of the last line.
* A *purchase line* is a line that is not a return: ``is_return`` is false and
  ``amount >= 0``.  A *return line* (``is_return`` true or a negative amount)
  never counts as a purchase; its value ``-abs(amount)`` reduces ``revenue``.
* Purchases on the same calendar day are one *purchase day*.
  ``frequency`` = purchase days after the first; ``recency`` = last minus first
  purchase day; ``T`` = cutoff minus first purchase day; both in the chosen
  unit (``"D"`` days, ``"W"`` weeks = days / 7).  ``monetary_value`` is the
  mean spend of the repeat purchase days (0 for one-time buyers), by default
  *net of returns*: returns dated after the first purchase day are taken off
  the repeat spend (floored at 0), so an order that was bought and then
  cancelled does not count as spend.  ``monetary="gross"`` gives the
  textbook gross mean (Online Retail customer 16446 ordered 80,995 units for
  168k and cancelled it the same day: gross monetary value 168k, net 0).
* Only customers with at least one purchase on or before the cutoff appear.

Everything is vectorised with numpy (one factorisation of the customer ids,
then sorts and ``bincount``); there is no per-customer Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Freq = Literal["D", "W"]
Monetary = Literal["net", "gross"]

#: Days per model time unit.
FREQ_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0}

#: Columns an orders frame must have; ``is_return`` and ``order_id`` are optional
#: (missing ``is_return``: no line is flagged; missing ``order_id``: one order
#: per customer and timestamp).
REQUIRED_COLUMNS = ("customer_id", "ts", "amount")

#: RFM segment rules on the (R score, F score) grid, first match wins.  Each
#: entry is ``(segment, R scores, F scores, description)``.  The table covers
#: all 25 cells; M is reported in the score string but does not drive the name.
RFM_SEGMENT_RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...], str], ...] = (
    ("Champions", (5,), (4, 5), "bought recently, buy often"),
    ("Loyal", (3, 4), (4, 5), "buy often, reasonably recent"),
    ("Potential loyalists", (4, 5), (2, 3), "recent, a few orders"),
    ("New", (5,), (1,), "first order very recently"),
    ("Promising", (4,), (1,), "recent, one order"),
    ("Need attention", (3,), (3,), "average recency and frequency"),
    ("About to sleep", (3,), (1, 2), "average recency, few orders"),
    ("Can't lose them", (1, 2), (5,), "used to buy very often, not lately"),
    ("At risk", (1, 2), (3, 4), "bought often, long ago"),
    ("Hibernating", (1, 2), (1, 2), "few orders, long ago"),
)

SUMMARY_COLUMNS = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "recency_days",
    "n_orders",
    "revenue",
    "aov",
    "tenure_days",
    "mean_interpurchase_days",
    "return_rate",
    "first_purchase",
    "last_purchase",
)


@dataclass(frozen=True)
class OrderLines:
    """Order lines reduced to numpy arrays (customer codes, days, amounts)."""

    codes: np.ndarray  # int64 customer code per line
    customers: pd.Index  # customer id per code
    day: np.ndarray  # int64 days since 1970-01-01
    signed: np.ndarray  # amount, returns as -abs(amount)
    purchase: np.ndarray  # bool: counts as a purchase
    order: np.ndarray  # int64 order code per line


def _to_day(ts: pd.Series) -> np.ndarray:
    """Calendar day (days since epoch, int64) of each timestamp; tz-aware stamps keep local days."""
    ts = pd.to_datetime(ts)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    return ts.to_numpy().astype("datetime64[D]").astype(np.int64)


def cutoff_day_number(cutoff: object, day: np.ndarray) -> int:
    """The cutoff as an int day; ``None`` means the last day in the data."""
    if cutoff is None:
        if day.size == 0:
            raise ValueError("no order lines and no cutoff given")
        return int(day.max())
    return int(np.datetime64(pd.Timestamp(cutoff).tz_localize(None), "D").astype(np.int64))


def _check_columns(orders: pd.DataFrame) -> None:
    """Raise a ``ValueError`` naming any missing required column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in orders.columns]
    if missing:
        raise ValueError(f"orders frame lacks column(s) {missing}; it has {list(orders.columns)}")


def _id_strings(ids: pd.Series) -> pd.Series:
    """Customer ids as strings; whole-number floats (ids read next to blanks) lose their ``.0``."""
    if pd.api.types.is_float_dtype(ids) and bool((ids == np.round(ids)).all()):
        ids = ids.astype(np.int64)
    return ids.astype(str)


def prepare_lines(orders: pd.DataFrame) -> OrderLines:
    """Validate the orders frame and reduce it to arrays; drops lines without a customer, time or amount."""
    _check_columns(orders)
    keep = orders["customer_id"].notna() & orders["ts"].notna() & orders["amount"].notna()
    df = orders.loc[keep] if not bool(keep.all()) else orders
    amount = df["amount"].to_numpy(dtype=np.float64)
    flag = (
        df["is_return"].fillna(False).to_numpy(dtype=bool)
        if "is_return" in df.columns
        else np.zeros(len(df), dtype=bool)
    )
    is_return = flag | (amount < 0)
    codes, customers = pd.factorize(_id_strings(df["customer_id"]), sort=False)
    day = _to_day(df["ts"])
    if "order_id" in df.columns:
        order = pd.factorize(df["order_id"].astype(str))[0].astype(np.int64)
    else:
        order = pd.factorize(pd.to_datetime(df["ts"]).to_numpy())[0].astype(np.int64)
    signed = np.where(is_return, -np.abs(amount), amount)
    return OrderLines(
        codes.astype(np.int64), pd.Index(customers, name="customer_id"), day, signed, ~is_return, order
    )


def restrict_lines(lines: OrderLines, mask: np.ndarray) -> OrderLines:
    """The subset of lines selected by ``mask`` (customer coding unchanged)."""
    return OrderLines(
        lines.codes[mask],
        lines.customers,
        lines.day[mask],
        lines.signed[mask],
        lines.purchase[mask],
        lines.order[mask],
    )


def _first_of_runs(sorted_values: np.ndarray) -> np.ndarray:
    """Boolean mask of the first element of each run of equal values in a sorted array."""
    flag = np.empty(sorted_values.size, dtype=bool)
    flag[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=flag[1:])
    return flag


def _unique_inverse(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values of an int array and the inverse index (sort based, fast for int64)."""
    order = np.argsort(key, kind="stable")
    flag = _first_of_runs(key[order])
    inverse = np.empty(key.size, dtype=np.int64)
    inverse[order] = np.cumsum(flag) - 1
    return key[order][flag], inverse


def purchase_days(lines: OrderLines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, day) purchases sorted by customer then day, with the day's spend."""
    p = lines.purchase
    d0 = int(lines.day.min()) if lines.day.size else 0
    span = int(lines.day.max()) - d0 + 1 if lines.day.size else 1
    ukey, inv = _unique_inverse(lines.codes[p] * span + (lines.day[p] - d0))
    spend = np.bincount(inv, weights=lines.signed[p], minlength=ukey.size)
    return ukey // span, ukey % span + d0, spend


def _distinct_orders(lines: OrderLines, n_customers: int) -> np.ndarray:
    """Number of distinct purchase order ids per customer code."""
    p = lines.purchase
    n_ord = int(lines.order.max()) + 1 if lines.order.size else 1
    key = np.sort(lines.codes[p] * n_ord + lines.order[p])
    return np.bincount(key[_first_of_runs(key)] // n_ord, minlength=n_customers)


def _returns_after_first(lines: OrderLines, first_by_code: np.ndarray) -> np.ndarray:
    """Value (<= 0) of each customer's returns dated after their first purchase day, per code."""
    late = ~lines.purchase & (lines.day > first_by_code[lines.codes])
    return np.bincount(lines.codes[late], weights=lines.signed[late], minlength=first_by_code.size)


def summarise_lines(lines: OrderLines, cutoff_day: int, freq: str, monetary: str = "net") -> pd.DataFrame:
    """The summary table for lines already restricted to the cutoff."""
    unit = FREQ_DAYS[freq]
    n_all = len(lines.customers)
    cust, day, spend = purchase_days(lines)
    first_idx = np.flatnonzero(_first_of_runs(cust))  # cust is sorted
    buyers = cust[first_idx]
    n_days = np.diff(np.append(first_idx, cust.size))
    last_idx = first_idx + n_days - 1
    first, last = day[first_idx], day[last_idx]
    frequency = (n_days - 1).astype(np.float64)
    repeat_spend = np.bincount(cust, weights=spend, minlength=n_all)[buyers] - spend[first_idx]
    if monetary == "net":
        first_by_code = np.full(n_all, np.iinfo(np.int64).max)
        first_by_code[buyers] = first
        late_returns = _returns_after_first(lines, first_by_code)[buyers]
        repeat_spend = np.maximum(repeat_spend + late_returns, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_spend / frequency, 0.0)
        interpurchase = np.where(frequency > 0, (last - first) / frequency, np.nan)
    n_lines = np.bincount(lines.codes, minlength=n_all)[buyers]
    n_returns = np.bincount(lines.codes, weights=~lines.purchase, minlength=n_all)[buyers]
    revenue = np.bincount(lines.codes, weights=lines.signed, minlength=n_all)[buyers]
    n_orders = _distinct_orders(lines, n_all)[buyers]
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first) / unit,
            "T": (cutoff_day - first) / unit,
            "monetary_value": monetary,
            "recency_days": (cutoff_day - last).astype(np.int64),
            "n_orders": n_orders.astype(np.int64),
            "revenue": revenue,
            "aov": revenue / np.maximum(n_orders, 1),
            "tenure_days": (cutoff_day - first).astype(np.int64),
            "mean_interpurchase_days": interpurchase,
            "return_rate": n_returns / n_lines,
            "first_purchase": first.astype("datetime64[D]").astype("datetime64[s]"),
            "last_purchase": last.astype("datetime64[D]").astype("datetime64[s]"),
        },
        index=lines.customers[buyers],
    )
    return out


def rfm_summary(
    orders: pd.DataFrame, cutoff: object = None, freq: Freq = "W", monetary: Monetary = "net"
) -> pd.DataFrame:
    """One row per customer with BG/NBD inputs and marketer features as of ``cutoff``.

    Args:
        orders: order lines with ``customer_id``, ``ts`` and ``amount``; optional
            ``is_return`` (bool) and ``order_id``.  Lines without a customer are dropped.
        cutoff: last calendar day to include (anything ``pd.Timestamp`` accepts);
            ``None`` means the day of the last line.
        freq: model time unit for ``recency`` and ``T``: ``"D"`` days or ``"W"`` weeks.
        monetary: ``"net"`` (default) takes later returns off the repeat spend;
            ``"gross"`` ignores returns in ``monetary_value``.

    Returns:
        A DataFrame indexed by ``customer_id`` (str) with the columns in
        :data:`SUMMARY_COLUMNS`; only customers with a purchase by the cutoff.
    """
    _check_options(freq, monetary)
    lines = prepare_lines(orders)
    cut = cutoff_day_number(cutoff, lines.day)
    return summarise_lines(restrict_lines(lines, lines.day <= cut), cut, freq, monetary)


def _check_options(freq: str, monetary: str) -> None:
    """Raise a ``ValueError`` for an unknown time unit or monetary convention."""
    if freq not in FREQ_DAYS:
        raise ValueError(f"freq must be one of {sorted(FREQ_DAYS)}, got {freq!r}")
    if monetary not in ("net", "gross"):
        raise ValueError(f"monetary must be 'net' or 'gross', got {monetary!r}")


def calibration_holdout(
    orders: pd.DataFrame,
    calibration_end: object,
    holdout_end: object,
    freq: Freq = "W",
    monetary: Monetary = "net",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split order lines into a calibration summary and what each customer did afterwards.

    The calibration summary is :func:`rfm_summary` at ``calibration_end``.  The
    holdout frame has the same index (calibration customers only) and columns
    ``n_purchases_holdout`` (purchase days in the holdout, the unit of
    ``frequency``), ``spend_holdout`` (gross purchase spend, what the models
    predict), ``revenue_holdout`` (net of returns), ``purchased_holdout`` (bool)
    and ``duration_holdout`` (holdout length in the model unit).
    """
    _check_options(freq, monetary)
    lines = prepare_lines(orders)
    cal, hold = cutoff_day_number(calibration_end, lines.day), cutoff_day_number(holdout_end, lines.day)
    if hold <= cal:
        raise ValueError("holdout_end must be after calibration_end")
    summary = summarise_lines(restrict_lines(lines, lines.day <= cal), cal, freq, monetary)
    holdout = _holdout(restrict_lines(lines, (lines.day > cal) & (lines.day <= hold)), summary.index)
    holdout["duration_holdout"] = (hold - cal) / FREQ_DAYS[freq]
    return summary, holdout


def _holdout(lines: OrderLines, index: pd.Index) -> pd.DataFrame:
    """Holdout purchase days, spend and revenue per customer, aligned to ``index``."""
    n_all = len(lines.customers)
    cust, _, spend = purchase_days(lines)
    frame = pd.DataFrame(
        {
            "n_purchases_holdout": np.bincount(cust, minlength=n_all).astype(np.int64),
            "spend_holdout": np.bincount(cust, weights=spend, minlength=n_all),
            "revenue_holdout": np.bincount(lines.codes, weights=lines.signed, minlength=n_all),
        },
        index=lines.customers,
    )
    frame = frame.reindex(index, fill_value=0)
    frame["purchased_holdout"] = frame["n_purchases_holdout"].to_numpy() > 0
    return frame


def _quintile(values: pd.Series, higher_is_better: bool = True) -> np.ndarray:
    """1-5 score from the average percentile rank; tied values share a score."""
    rank = values.rank(method="average", ascending=higher_is_better).to_numpy()
    return np.clip(np.ceil(5.0 * rank / max(len(values), 1) - 1e-9), 1, 5).astype(np.int64)


def _segment_grid() -> np.ndarray:
    """6x6 lookup (index R, F; row and column 0 unused) of segment names from the rule table."""
    grid = np.full((6, 6), "", dtype=object)
    for name, rs, fs, _ in reversed(RFM_SEGMENT_RULES):  # first rule wins
        for r in rs:
            for f in fs:
                grid[r, f] = name
    if (grid[1:, 1:] == "").any():
        raise RuntimeError("RFM_SEGMENT_RULES leave part of the 5x5 grid without a segment")
    return grid


def rfm_scores(
    summary: pd.DataFrame,
    recency: str = "recency_days",
    frequency: str = "n_orders",
    monetary: str = "revenue",
) -> pd.DataFrame:
    """Classic 1-5 quintile R, F, M scores and a segment name per customer.

    R scores low ``recency_days`` high; F and M score high values high.  Scores
    come from average percentile ranks, so equal values always share a score.
    The segment comes from :data:`RFM_SEGMENT_RULES` on the (R, F) pair.

    Returns:
        A DataFrame with the index of ``summary`` and columns ``R``, ``F``,
        ``M``, ``rfm`` (e.g. ``"545"``) and ``segment``.
    """
    if summary.empty:
        return pd.DataFrame(columns=["R", "F", "M", "rfm", "segment"], index=summary.index)
    r = _quintile(summary[recency], higher_is_better=False)
    f = _quintile(summary[frequency])
    m = _quintile(summary[monetary])
    rfm = (r * 100 + f * 10 + m).astype(str)
    return pd.DataFrame(
        {"R": r, "F": f, "M": m, "rfm": rfm, "segment": _segment_grid()[r, f]}, index=summary.index
    )
