"""Customer profiles: RFM, lifetime value, churn and text signals, persisted per run.

``build_profiles`` reads the order lines of every identified customer (and
their reviews with the latest review scores) from the workspace, computes the
profile table and stores it in ``customer_profiles`` under a new run id (with
the settings, model fits and churn evaluation in ``runs``), so the app reads
it back for free.  Every score carries its method and the data window it used:
``churn_method`` / ``churn_window`` per row, the rest in the run's metrics.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from cx_core.config import CustomersConfig
from cx_core.customers.churn import ChurnSettings, score_churn
from cx_core.customers.churn_features import OrderHistory
from cx_core.customers.clv import GammaGammaModel, customer_lifetime_value, fit_bgnbd
from cx_core.customers.rfm import SUMMARY_COLUMNS, rfm_scores, rfm_summary
from cx_core.customers.text_profile import (
    TEXT_PROFILE_COLUMNS,
    load_review_signals,
    text_profile_summary,
    text_profiles,
)
from cx_core.progress import Progress
from cx_core.store.db import Workspace
from cx_core.store.runs import StageName, latest_id, record_run

STAGE = "profiles"
METHOD = "RFM + BG/NBD (P(alive), expected purchases) + Gamma-Gamma spend, discounted CLV"

CHURN_COLUMNS = ("churn_prob", "churn_method", "churn_window")
PROFILE_COLUMNS = (
    "customer_id",
    *SUMMARY_COLUMNS,
    "R",
    "F",
    "M",
    "rfm",
    "rfm_segment",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    *CHURN_COLUMNS,
    *TEXT_PROFILE_COLUMNS,
)


@dataclass(frozen=True)
class ProfileSettings(CustomersConfig):
    """What one profile run uses: the churn options of the ``customers`` config section (one set of
    fields and defaults) plus the user's CLV horizon, yearly discount rate and optional cutoff."""

    horizon_weeks: int = 52
    annual_discount_rate: float = 0.10
    cutoff: str | None = None  # None: the last order day

    @classmethod
    def from_config(cls, customers: CustomersConfig, **values: object) -> "ProfileSettings":
        """Settings with the churn options of the ``customers`` config section."""
        return cls(**{**asdict(customers), **values})

    def churn(self) -> ChurnSettings:
        """The churn part of the settings."""
        return ChurnSettings(self.churn_horizon_days, self.churn_method, self.churn_cutoffs)


@dataclass(frozen=True)
class ProfileResult:
    """A finished profile run."""

    run_id: str
    profiles: pd.DataFrame
    metrics: dict


def load_orders(ws: Workspace) -> pd.DataFrame:
    """Order lines of identified customers, the columns the RFM code needs."""
    return ws.query_df(
        "SELECT customer_id, order_id, ts, amount, is_return FROM orders WHERE customer_id IS NOT NULL"
    )


def compute_profiles(
    orders: pd.DataFrame,
    settings: ProfileSettings,
    signals: pd.DataFrame | None = None,
    scores_run_id: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Profiles (one row per customer) and the fit summaries, from order lines. Pure function.

    ``signals`` are per-review text signals (:func:`cx_core.customers.text_profile.load_review_signals`);
    without them the text columns are NULL and the churn model uses behaviour only.
    """
    if orders.empty:
        raise ValueError("No orders with a customer id are loaded: load orders to profile customers.")
    summary = rfm_summary(orders, cutoff=settings.cutoff, freq="W")
    scores = rfm_scores(summary).rename(columns={"segment": "rfm_segment"})
    df = summary.join(scores[["R", "F", "M", "rfm", "rfm_segment"]])
    metrics = {"customers": int(len(df)), **_clv_columns(df, settings)}
    if settings.cutoff is not None:
        end = pd.Timestamp(settings.cutoff).normalize() + pd.Timedelta(days=1)
        orders = orders[pd.to_datetime(orders["ts"]) < end]
        signals = None if signals is None else signals[signals["ts"].isna() | (signals["ts"] < end)]
    metrics["churn"] = _churn_columns(df, orders, settings, signals)
    metrics["text"] = _text_columns(df, signals, scores_run_id)
    df = df.reset_index()
    lo, hi = pd.Timestamp(orders["ts"].min()), pd.Timestamp(df["last_purchase"].max())
    metrics.update(
        window_start=str(lo.date()), window_end=str(hi.date()), method=METHOD, settings=asdict(settings)
    )
    return df[list(PROFILE_COLUMNS)], metrics


def _clv_columns(df: pd.DataFrame, settings: ProfileSettings) -> dict:
    """Add BG/NBD and Gamma-Gamma columns to ``df`` in place; return their fit summaries."""
    bg = fit_bgnbd(df["frequency"], df["recency"], df["T"], settings.horizon_weeks)
    df["p_alive"] = bg.p_alive(df["frequency"], df["recency"], df["T"])
    df["expected_purchases"] = bg.expected_purchases(
        settings.horizon_weeks, df["frequency"], df["recency"], df["T"]
    )
    out = {"bgnbd": bg.fit_summary(), "monetary_value": "net of returns after the first purchase day"}
    repeat = (df["frequency"] > 0) & (df["monetary_value"] > 0)
    if repeat.sum() >= 20:
        gg = GammaGammaModel().fit(df["frequency"], df["monetary_value"])
        df["expected_spend"] = gg.expected_spend(df["frequency"], df["monetary_value"])
        weekly = (1 + settings.annual_discount_rate) ** (1 / 52) - 1
        df["clv"] = customer_lifetime_value(
            bg,
            gg,
            df["frequency"],
            df["recency"],
            df["T"],
            df["monetary_value"],
            settings.horizon_weeks,
            weekly,
        )
        out["gamma_gamma"] = gg.fit_summary()
    else:
        df["expected_spend"] = np.nan
        df["clv"] = np.nan
        out["gamma_gamma"] = {"skipped": "fewer than 20 repeat buyers"}
    return out


def _churn_columns(
    df: pd.DataFrame, orders: pd.DataFrame, settings: ProfileSettings, signals: pd.DataFrame | None
) -> dict:
    """Add churn_prob / churn_method / churn_window to ``df`` in place; return the churn metrics.

    When the data cannot support a churn model (too short, one outcome only),
    the columns stay NULL and the metrics say why.
    """
    try:
        if settings.churn_method == "off":
            raise ValueError("the churn model is turned off (customers.churn_method = off)")
        res = score_churn(OrderHistory(orders), settings.churn(), signals)
    except ValueError as exc:
        df["churn_prob"], df["churn_method"], df["churn_window"] = np.nan, None, None
        return {"skipped": str(exc)}
    df["churn_prob"] = res.scores.reindex(df.index).to_numpy()
    df["churn_method"], df["churn_window"] = res.method, res.window
    return res.metrics


def _text_columns(df: pd.DataFrame, signals: pd.DataFrame | None, scores_run_id: str | None) -> dict:
    """Add the text-profile columns to ``df`` in place (NULL without reviews); return a summary."""
    if signals is None or signals.empty:
        text = pd.DataFrame(index=df.index, columns=list(TEXT_PROFILE_COLUMNS), dtype=object)
    else:
        text = text_profiles(signals).reindex(df.index)
    for col in TEXT_PROFILE_COLUMNS:
        df[col] = text[col].to_numpy()
    df["n_reviews"] = pd.array(df["n_reviews"], dtype="Int64")
    return text_profile_summary(text, scores_run_id)


def build_profiles(
    ws: Workspace, settings: ProfileSettings = ProfileSettings(), progress: Progress | None = None
) -> ProfileResult:
    """Compute profiles from the workspace's orders and store them as a new run."""
    step = progress or (lambda f, m: None)
    step(0.05, "Reading orders and reviews")
    started = datetime.now()
    orders = load_orders(ws)
    scores_run = latest_id(ws, StageName.REVIEW_SCORES)
    signals = load_review_signals(ws, scores_run)
    step(0.3, "Fitting BG/NBD, Gamma-Gamma and the churn model")
    profiles, metrics = compute_profiles(orders, settings, signals, scores_run)
    step(0.8, "Saving profiles")
    run_id = "run_" + uuid.uuid4().hex[:10]
    save_profiles(ws, run_id, profiles, settings, metrics, started)
    step(1.0, "Done")
    return ProfileResult(run_id, profiles, metrics)


def save_profiles(
    ws: Workspace,
    run_id: str,
    profiles: pd.DataFrame,
    settings: ProfileSettings,
    metrics: dict,
    started: datetime,
) -> None:
    """Write a profile run (rows and run record) in one transaction."""
    from cx_core.ingest.datasets import dataset_version

    frame = profiles.assign(run_id=run_id)
    with ws.write() as cur:
        cur.register("_cx_profiles", frame)
        cur.execute("INSERT INTO customer_profiles BY NAME SELECT * FROM _cx_profiles")
        cur.unregister("_cx_profiles")
        record_run(cur, run_id, STAGE, dataset_version(ws), asdict(settings), started, metrics)


def load_profiles(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The stored profiles of a run, with the customer's name and email when known."""
    return ws.query_df(
        "SELECT p.* EXCLUDE (run_id), c.name, c.email FROM customer_profiles p "
        "LEFT JOIN (SELECT customer_id, any_value(name) AS name, any_value(email) AS email "
        "FROM customers GROUP BY customer_id) c USING (customer_id) "
        "WHERE p.run_id = ? ORDER BY p.clv DESC NULLS LAST",
        [run_id],
    )


def customer_detail(ws: Workspace, customer_id: str) -> dict[str, pd.DataFrame]:
    """One customer's record, order lines and reviews."""
    return {
        "customer": ws.query_df(
            "SELECT * EXCLUDE (dataset_id) FROM customers WHERE customer_id = ? LIMIT 1", [customer_id]
        ),
        "orders": ws.query_df(
            "SELECT order_id, ts, item, item_name, quantity, amount, is_return "
            "FROM orders WHERE customer_id = ? ORDER BY ts DESC LIMIT 500",
            [customer_id],
        ),
        "reviews": ws.query_df(
            "SELECT ts, rating, title, text, item FROM reviews "
            "WHERE customer_id = ? ORDER BY ts DESC NULLS LAST LIMIT 200",
            [customer_id],
        ),
    }


def count_customer_orders(ws: Workspace) -> int:
    """Order lines with a customer id (profiles need at least one)."""
    return int(ws.scalar("SELECT count(*) FROM orders WHERE customer_id IS NOT NULL"))
