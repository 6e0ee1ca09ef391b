"""Churn features and labels cut at a date, with no look-ahead.

:class:`OrderHistory` prepares order lines once; ``features(cutoff, ...)``
reads only lines dated on or before the cutoff's calendar day and
``labels(cutoff, horizon)`` reads only the following ``horizon`` days.  A test
checks that appending any later line leaves the features unchanged.

Behaviour features (per customer with a purchase by the cutoff; days):

* RFM inputs: ``frequency`` (repeat purchase days), ``recency_days``,
  ``tenure_days``, ``n_orders``, ``revenue`` (net of returns),
  ``monetary_value`` (net repeat spend per purchase day), ``aov``,
  ``mean_interpurchase_days``, ``return_rate``;
* ``gap_cv`` (spread of the gaps between purchase days; NaN below 2 gaps),
  ``overdue`` (``recency_days / mean_interpurchase_days``),
  ``return_value_share`` (returned value / gross spend);
* trend: ``days_recent`` / ``days_before`` (purchase days in the last
  horizon-long window and the one before it), ``spend_recent``,
  ``trend`` (recent minus before), ``recent_vs_lifetime`` (recent purchase
  days / what the lifetime rate predicts for one window);
* BG/NBD fitted at the cutoff (weeks): ``bg_p_alive``, ``bg_p_no_purchase``
  (no purchase in the horizon) and ``bg_expected`` (purchases in the horizon).

Text features (:mod:`cx_core.customers.text_profile` signals dated by the cutoff):
``has_reviews`` (0/1, explicit) and, NaN without reviews, ``n_reviews``,
``mean_rating``, ``low_rating_share``, ``mean_sentiment``, ``negative_share``,
``complaint_rate``, ``praise_rate``, ``risk_rate``, ``mean_risk`` and
``days_since_review``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cx_core.customers.clv import fit_bgnbd
from cx_core.customers.rfm import (
    OrderLines,
    cutoff_day_number,
    prepare_lines,
    purchase_days,
    restrict_lines,
    summarise_lines,
)
from cx_core.customers.text_profile import SIGNAL_STATS, aggregate_signals

RFM_FEATURES = (
    "frequency",
    "recency_days",
    "tenure_days",
    "n_orders",
    "revenue",
    "monetary_value",
    "aov",
    "mean_interpurchase_days",
    "return_rate",
)
SHAPE_FEATURES = (
    "gap_cv",
    "overdue",
    "return_value_share",
    "days_recent",
    "days_before",
    "spend_recent",
    "trend",
    "recent_vs_lifetime",
)
BGNBD_FEATURES = ("bg_p_alive", "bg_p_no_purchase", "bg_expected")
TEXT_FEATURES = ("has_reviews", *SIGNAL_STATS, "days_since_review")


def _day_to_ts(day: int) -> pd.Timestamp:
    """An int day (since 1970-01-01) as a Timestamp."""
    return pd.Timestamp(np.datetime64(int(day), "D"))


class OrderHistory:
    """Order lines reduced once to arrays, to cut features and labels at any day."""

    def __init__(self, orders: pd.DataFrame) -> None:
        self.lines: OrderLines = prepare_lines(orders)
        if self.lines.day.size == 0 or not self.lines.purchase.any():
            raise ValueError("No purchases with a customer id: load orders to model churn.")
        self.first_day = int(self.lines.day[self.lines.purchase].min())
        self.last_day = int(self.lines.day.max())
        # features per (cutoff, horizon, bgnbd, id(signals)); the frame is kept so its id stays unique
        self._memo: dict[tuple, tuple[pd.DataFrame, pd.DataFrame | None]] = {}

    @property
    def span_days(self) -> int:
        """Days from the first purchase to the last line."""
        return self.last_day - self.first_day

    def day(self, value: object = None) -> int:
        """A date (anything ``pd.Timestamp`` takes, or an int day) as an int day; None: last day."""
        if isinstance(value, (int, np.integer)):
            return int(value)
        return cutoff_day_number(value, self.lines.day)

    def date(self, day: int) -> str:
        """An int day as ``YYYY-MM-DD``."""
        return str(_day_to_ts(day).date())

    def upto(self, cutoff_day: int) -> OrderLines:
        """The lines dated on or before the cutoff day."""
        return restrict_lines(self.lines, self.lines.day <= cutoff_day)

    def summary(self, cutoff_day: int, freq: str = "D") -> pd.DataFrame:
        """RFM summary (net monetary value) of the lines up to the cutoff."""
        return summarise_lines(self.upto(cutoff_day), cutoff_day, freq)

    def labels(self, cutoff_day: int, horizon_days: int) -> pd.Series:
        """True where a customer active by the cutoff makes no purchase in (cutoff, cutoff + horizon]."""
        if cutoff_day + horizon_days > self.last_day:
            raise ValueError(
                f"the label window {self.date(cutoff_day + 1)} .. "
                f"{self.date(cutoff_day + horizon_days)} runs past the data's last day "
                f"{self.date(self.last_day)}"
            )
        ids = self.summary(cutoff_day).index
        later = (self.lines.day > cutoff_day) & (self.lines.day <= cutoff_day + horizon_days)
        bought = np.zeros(len(self.lines.customers), dtype=bool)
        bought[self.lines.codes[later & self.lines.purchase]] = True
        codes = self.lines.customers.get_indexer(ids)
        return pd.Series(~bought[codes], index=ids, name="churned")

    def features(
        self, cutoff_day: int, horizon_days: int, bgnbd: bool = True, signals: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Behaviour (and, with ``signals``, text) features of every customer active by the cutoff.

        Memoised per (cutoff, horizon, bgnbd, signals object): evaluation and
        production fits share cutoffs, and each BG/NBD fit is worth saving.
        """
        key = (int(cutoff_day), int(horizon_days), bool(bgnbd), None if signals is None else id(signals))
        if key not in self._memo:
            self._memo[key] = (self._features(cutoff_day, horizon_days, bgnbd, signals), signals)
        return self._memo[key][0].copy()

    def _features(
        self, cutoff_day: int, horizon_days: int, bgnbd: bool, signals: pd.DataFrame | None
    ) -> pd.DataFrame:
        """The uncached feature table (see :meth:`features`)."""
        lines = self.upto(cutoff_day)
        summary = summarise_lines(lines, cutoff_day, "D")
        out = summary[list(RFM_FEATURES)].astype(float)
        for name, values in _shape_features(lines, cutoff_day, horizon_days, summary).items():
            out[name] = values
        if bgnbd:
            out = out.join(bgnbd_features(summary, horizon_days))
        if signals is not None:
            out = out.join(text_features(signals, cutoff_day, out.index))
        return out


def _gap_cv(cust: np.ndarray, day: np.ndarray, n_codes: int) -> np.ndarray:
    """Coefficient of variation of the gaps between purchase days, per customer code (NaN < 2 gaps)."""
    same = cust[1:] == cust[:-1]
    gaps = (day[1:] - day[:-1]).astype(float)[same]
    who = cust[1:][same]
    n = np.bincount(who, minlength=n_codes)
    s1 = np.bincount(who, weights=gaps, minlength=n_codes)
    s2 = np.bincount(who, weights=gaps**2, minlength=n_codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        sd = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
        return np.where(n >= 2, sd / mean, np.nan)


def _shape_features(
    lines: OrderLines, cutoff_day: int, horizon: int, summary: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Trend, regularity, overdue and return-value features, aligned to the summary's rows."""
    n_codes = len(lines.customers)
    cust, day, spend = purchase_days(lines)
    recent = day > cutoff_day - horizon
    before = (day > cutoff_day - 2 * horizon) & ~recent
    days_recent = np.bincount(cust[recent], minlength=n_codes).astype(float)
    days_before = np.bincount(cust[before], minlength=n_codes).astype(float)
    gross = np.bincount(cust, weights=spend, minlength=n_codes)
    returned = np.bincount(
        lines.codes[~lines.purchase], weights=-lines.signed[~lines.purchase], minlength=n_codes
    )
    tenure = summary["tenure_days"].to_numpy(dtype=float)
    lifetime_per_window = (summary["frequency"].to_numpy() + 1.0) / np.maximum(tenure, horizon) * horizon
    codes = lines.customers.get_indexer(summary.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "gap_cv": _gap_cv(cust, day, n_codes)[codes],
            "overdue": (summary["recency_days"] / summary["mean_interpurchase_days"]).to_numpy(),
            "return_value_share": np.where(gross > 0, returned / gross, np.nan)[codes],
            "days_recent": days_recent[codes],
            "days_before": days_before[codes],
            "spend_recent": np.bincount(cust[recent], weights=spend[recent], minlength=n_codes)[codes],
            "trend": (days_recent - days_before)[codes],
            "recent_vs_lifetime": days_recent[codes] / lifetime_per_window,
        }


def bgnbd_features(summary: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """BG/NBD fitted on the summary (in weeks): P(alive), P(no purchase), expected purchases."""
    f = summary["frequency"].to_numpy()
    r, t = summary["recency"].to_numpy() / 7.0, summary["tenure_days"].to_numpy() / 7.0
    weeks = horizon_days / 7.0
    try:
        bg = fit_bgnbd(f, r, t, weeks)
    except ValueError:
        nan = np.full(len(summary), np.nan)
        return pd.DataFrame({c: nan for c in BGNBD_FEATURES}, index=summary.index)
    return pd.DataFrame(
        {
            "bg_p_alive": bg.p_alive(f, r, t),
            "bg_p_no_purchase": bg.p_no_purchase(weeks, f, r, t),
            "bg_expected": bg.expected_purchases(weeks, f, r, t),
        },
        index=summary.index,
    )


def text_features(signals: pd.DataFrame, cutoff_day: int, index: pd.Index) -> pd.DataFrame:
    """Text features of the customers in ``index`` from reviews dated by the cutoff (NaN: none)."""
    cutoff = _day_to_ts(cutoff_day)
    agg = aggregate_signals(signals, cutoff).reindex(index)
    out = agg[list(SIGNAL_STATS)].astype(float)
    out.insert(0, "has_reviews", agg["n_reviews"].notna().astype(float).to_numpy())
    last = pd.to_datetime(agg["last_review"])
    out["days_since_review"] = (cutoff - last.dt.normalize()).dt.days.astype(float)
    return out
