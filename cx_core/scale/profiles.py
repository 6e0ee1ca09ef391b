"""Customer profiles over customer partitions: the per-partition work, the one-off fits, the scoring.

Everything per customer (the RFM summary, the churn behaviour features at each cutoff and their
labels) is computed per partition with the single-machine functions (``rfm_summary``,
``OrderHistory.features``/``labels``); a partition holds every line of its customers, so these are
the in-process numbers. What needs all customers at once is done ONCE on the per-customer rows
(small next to the order lines): the BG/NBD and Gamma-Gamma fits, the RFM quintiles (ranks over
all customers), the BG/NBD fits at the churn cutoffs and the churn classifier
(:class:`GatheredHistory` gives ``score_churn`` the ``OrderHistory`` interface over those rows).
BG/NBD, Gamma-Gamma and CLV are then scored per partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cx_core.customers.churn import default_horizon_days
from cx_core.customers.churn_features import RFM_FEATURES, SHAPE_FEATURES, OrderHistory, bgnbd_features
from cx_core.customers.profiles import CHURN_COLUMNS, ProfileSettings
from cx_core.customers.rfm import SUMMARY_COLUMNS, rfm_summary

#: columns of a profile shard (the text columns are left out: NULL after import)
SCORE_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv")
RFM_COLUMNS = ("R", "F", "M", "rfm", "rfm_segment")
GLOBAL_COLUMNS = (*RFM_COLUMNS, *CHURN_COLUMNS)
#: fewest repeat buyers for a Gamma-Gamma fit (as ``compute_profiles``)
MIN_REPEAT_BUYERS = 20
MONETARY_NOTE = "net of returns after the first purchase day"


@dataclass(frozen=True)
class ProfilePlan:
    """Days every partition cuts at (int days since 1970-01-01)."""

    rfm_cutoff_day: int  # the RFM summary's cutoff: --cutoff, else the last line day
    cutoff_day: int | None  # --cutoff as a day (lines after it are left out of churn)
    first_day: int  # first purchase day (churn history)
    last_day: int  # last line day (churn history)
    horizon_days: int  # churn horizon N
    churn_days: tuple[int, ...]  # last - k N, k = 0 .. n_cutoffs + 1 (training, evaluation, scoring)


def make_plan(settings: ProfileSettings, days: pd.DataFrame) -> ProfilePlan:
    """The plan from the per-batch day ranges (:func:`cx_core.scale.orders.day_range` rows)."""
    if not days["lines"].sum() or days["first_purchase_day"].isna().all():
        raise ValueError("No purchases with a customer id in the inputs: nothing to profile.")
    cutoff = day_number(settings.cutoff)
    first, last = int(days["first_purchase_day"].min()), int(days["last_day"].max())
    n = settings.churn_horizon_days or default_horizon_days(last - first)
    churn_days = tuple(last - k * n for k in range(settings.churn_cutoffs + 2) if last - k * n >= first)
    if settings.churn_method == "off":
        churn_days = ()
    rfm_cut = cutoff if cutoff is not None else int(days["last_day_all"].max())
    return ProfilePlan(rfm_cut, cutoff, first, last, int(n), churn_days)


def day_number(value: object) -> int | None:
    """A date as an int day (None stays None), as the RFM code counts days."""
    if value is None:
        return None
    return int(np.datetime64(pd.Timestamp(value).tz_localize(None), "D").astype(np.int64))


def day_date(day: int) -> str:
    """An int day as ``YYYY-MM-DD``."""
    return str(pd.Timestamp(np.datetime64(int(day), "D")).date())


def churn_column(k: int, name: str) -> str:
    """Column of feature ``name`` at churn day number ``k`` in a partition's rows."""
    return f"c{k}__{name}"


def partition_rows(orders: pd.DataFrame, plan: ProfilePlan) -> pd.DataFrame:
    """One row per customer of the partition (lines sorted by customer, time, order and amount, so
    the sums do not depend on the order blocks arrived in): the RFM summary (weeks) at the plan's cutoff and the
    churn features (days), ``recency`` and label at each churn day (prefixed ``c{k}__``)."""
    orders = orders.drop(columns=[c for c in orders.columns if c.startswith("_")])
    keys = [c for c in ("customer_id", "ts", "order_id", "amount") if c in orders.columns]
    orders = orders.sort_values(keys, kind="stable", ignore_index=True)  # the same sums on every run
    out = rfm_summary(orders, cutoff=day_date(plan.rfm_cutoff_day), freq="W")
    if plan.churn_days:
        if plan.cutoff_day is not None:
            end = pd.Timestamp(day_date(plan.cutoff_day)) + pd.Timedelta(days=1)
            orders = orders[pd.to_datetime(orders["ts"]) < end]
        try:
            history = OrderHistory(orders)
        except ValueError:  # no purchase in this partition before the cutoff
            history = None
        if history is not None:
            history.first_day, history.last_day = plan.first_day, plan.last_day
            for k, day in enumerate(plan.churn_days):
                out = out.join(churn_block(history, k, day, plan))
    return out.reset_index().reindex(columns=partition_columns(plan))


def partition_columns(plan: ProfilePlan) -> list[str]:
    """The columns of every partition's rows (the same in each, so the shards share a schema)."""
    cols = ["customer_id", *SUMMARY_COLUMNS]
    for k, day in enumerate(plan.churn_days):
        names = [*RFM_FEATURES, *SHAPE_FEATURES, "recency", "active"]
        names += ["label"] if day + plan.horizon_days <= plan.last_day else []
        cols += [churn_column(k, n) for n in names]
    return cols


def churn_block(history: Any, k: int, day: int, plan: ProfilePlan) -> pd.DataFrame:
    """Behaviour features, BG/NBD ``recency`` (days) and the label at ``day`` for this partition."""
    x = history.features(day, plan.horizon_days, bgnbd=False)
    x["recency"] = history.summary(day)["recency"].reindex(x.index)
    x["active"] = 1.0  # floats (1 / NaN), so a partition without churn rows has the same schema
    if day + plan.horizon_days <= plan.last_day:
        x["label"] = history.labels(day, plan.horizon_days).reindex(x.index).astype(float)
    return x.add_prefix(f"c{k}__")


class GatheredHistory(OrderHistory):
    """:class:`~cx_core.customers.churn_features.OrderHistory` as ``score_churn`` uses it
    (``first_day``, ``last_day``, ``span_days``, ``day``, ``date``, ``features``, ``labels``), over
    the per-customer rows the partitions computed instead of order lines. BG/NBD features are fitted here, over all
    customers, at each cutoff (:func:`bgnbd_features`), as ``OrderHistory`` does."""

    def __init__(self, rows: pd.DataFrame, plan: ProfilePlan) -> None:  # no order lines: no super()
        self.rows = rows.set_index("customer_id").sort_index()
        self.plan = plan
        self.first_day, self.last_day = plan.first_day, plan.last_day
        self._k = {day: k for k, day in enumerate(plan.churn_days)}
        self._memo = {}  # features() memoises per cutoff as OrderHistory does (each is a BG/NBD fit)

    @property
    def span_days(self) -> int:
        """Days from the first purchase to the last line."""
        return self.last_day - self.first_day

    def day(self, value: object = None) -> int:
        """A date or int day as an int day; None: the last day."""
        if value is None:
            return self.last_day
        if isinstance(value, (int, np.integer)):
            return int(value)
        return int(day_number(value))

    def date(self, day: int) -> str:
        """An int day as ``YYYY-MM-DD``."""
        return day_date(day)

    def _block(self, day: int) -> pd.DataFrame:
        """The rows active at ``day`` with their ``c{k}__`` columns, prefix removed."""
        if day not in self._k:
            raise ValueError(f"churn features at {self.date(day)} were not computed by the partitions")
        prefix = f"c{self._k[day]}__"
        cols = [c for c in self.rows.columns if c.startswith(prefix)]
        block = self.rows[cols]
        block = block[block[prefix + "active"] == 1]
        return block.rename(columns=lambda c: c[len(prefix) :])

    def _features(
        self, cutoff_day: int, horizon_days: int, bgnbd: bool, signals: pd.DataFrame | None
    ) -> pd.DataFrame:
        """Behaviour (+ BG/NBD) features of every customer active by the cutoff (uncached; the
        inherited ``features`` memoises them: evaluation and the final fit share cutoffs)."""
        if signals is not None:
            raise ValueError("review text signals are not used by a scale profile run")
        block = self._block(int(cutoff_day))
        out = block.drop(columns=[c for c in ("recency", "active", "label") if c in block]).astype(float)
        if bgnbd:
            out = out.join(bgnbd_features(block[["frequency", "recency", "tenure_days"]], horizon_days))
        return out

    def labels(self, cutoff_day: int, horizon_days: int) -> pd.Series:
        """True where a customer active by the cutoff makes no purchase in the horizon after it."""
        if cutoff_day + horizon_days > self.last_day:
            raise ValueError(
                f"the label window {self.date(cutoff_day + 1)} .. {self.date(cutoff_day + horizon_days)} "
                f"runs past the data's last day {self.date(self.last_day)}"
            )
        return (self._block(int(cutoff_day))["label"] == 1).rename("churned")


@dataclass
class ProfileModels:
    """What is fitted once: BG/NBD, Gamma-Gamma (None below 20 repeat buyers) and their summaries."""

    bg: Any
    gg: Any
    metrics: dict


def fit_clv(summary: pd.DataFrame, settings: ProfileSettings) -> ProfileModels:
    """BG/NBD and Gamma-Gamma fitted on all customers' summaries, as ``compute_profiles`` fits them."""
    from cx_core.customers.clv import GammaGammaModel, fit_bgnbd

    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], settings.horizon_weeks)
    metrics: dict[str, Any] = {"bgnbd": bg.fit_summary(), "monetary_value": MONETARY_NOTE}
    repeat = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
    gg = None
    if repeat.sum() >= MIN_REPEAT_BUYERS:
        gg = GammaGammaModel().fit(summary["frequency"], summary["monetary_value"])
        metrics["gamma_gamma"] = gg.fit_summary()
    else:
        metrics["gamma_gamma"] = {"skipped": f"fewer than {MIN_REPEAT_BUYERS} repeat buyers"}
    return ProfileModels(bg, gg, metrics)


def global_columns(
    rows: pd.DataFrame, settings: ProfileSettings, plan: ProfilePlan
) -> tuple[pd.DataFrame, dict]:
    """RFM quintiles (ranks over all customers) and churn columns per customer id, and the churn
    metrics (``score_churn`` on a :class:`GatheredHistory`; skipped as locally when it cannot run)."""
    from cx_core.customers.churn import score_churn
    from cx_core.customers.rfm import rfm_scores

    summary = rows.set_index("customer_id")
    out = rfm_scores(summary).rename(columns={"segment": "rfm_segment"})[list(RFM_COLUMNS)]
    try:
        if settings.churn_method == "off":
            raise ValueError("the churn model is turned off (customers.churn_method = off)")
        res = score_churn(GatheredHistory(rows, plan), settings.churn(), None)
    except ValueError as exc:
        out["churn_prob"], out["churn_method"], out["churn_window"] = np.nan, None, None
        return out, {"skipped": str(exc)}
    out["churn_prob"] = res.scores.reindex(out.index).to_numpy()
    out["churn_method"], out["churn_window"] = res.method, res.window
    return out, res.metrics


def score_partition(
    rows: pd.DataFrame, models: ProfileModels, settings: ProfileSettings, extra: pd.DataFrame
) -> pd.DataFrame:
    """Profile rows of one partition: summary, CLV scores from the fitted models, and the
    customer's RFM quintiles and churn columns from ``extra`` (indexed by customer id)."""
    from cx_core.customers.clv import customer_lifetime_value

    df = rows[["customer_id", *SUMMARY_COLUMNS]].copy()
    f, r, t, m = (df[c] for c in ("frequency", "recency", "T", "monetary_value"))
    df["p_alive"] = models.bg.p_alive(f, r, t)
    df["expected_purchases"] = models.bg.expected_purchases(settings.horizon_weeks, f, r, t)
    if models.gg is not None:
        weekly = (1 + settings.annual_discount_rate) ** (1 / 52) - 1
        df["expected_spend"] = models.gg.expected_spend(f, m)
        df["clv"] = customer_lifetime_value(models.bg, models.gg, f, r, t, m, settings.horizon_weeks, weekly)
    else:
        df["expected_spend"], df["clv"] = np.nan, np.nan
    got = extra.reindex(df["customer_id"])
    for col in GLOBAL_COLUMNS:
        df[col] = got[col].to_numpy()
    return df
