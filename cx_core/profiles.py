"""Customer profiles: RFM features and scores, BG/NBD + Gamma-Gamma lifetime value, persisted per run.

``build_profiles`` reads the order lines of every identified customer from
the workspace, computes the profile table and stores it in
``customer_profiles`` under a new run id (with the settings and the model
fits in ``runs``), so the app reads it back for free.  Every score carries
its method and the data window it used.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Callable

import numpy as np
import pandas as pd

from .clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from .db import Workspace
from .rfm import rfm_scores, rfm_summary

Progress = Callable[[float, str], None]
STAGE = "profiles"
METHOD = "RFM + BG/NBD (P(alive), expected purchases) + Gamma-Gamma spend, discounted CLV"

PROFILE_COLUMNS = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "recency_days", "n_orders",
    "revenue", "aov", "tenure_days", "mean_interpurchase_days", "return_rate", "first_purchase",
    "last_purchase", "R", "F", "M", "rfm", "rfm_segment", "p_alive", "expected_purchases",
    "expected_spend", "clv")


@dataclass(frozen=True)
class ProfileSettings:
    """What the user picks: the CLV horizon and the yearly discount rate (and optionally a cutoff)."""

    horizon_weeks: int = 52
    annual_discount_rate: float = 0.10
    cutoff: str | None = None  # None: the last order day


@dataclass(frozen=True)
class ProfileResult:
    """A finished profile run."""

    run_id: str
    profiles: pd.DataFrame
    metrics: dict


def load_orders(ws: Workspace) -> pd.DataFrame:
    """Order lines of identified customers, the columns the RFM code needs."""
    return ws.query_df("SELECT customer_id, order_id, ts, amount, is_return FROM orders "
                       "WHERE customer_id IS NOT NULL")


def compute_profiles(orders: pd.DataFrame, settings: ProfileSettings) -> tuple[pd.DataFrame, dict]:
    """Profiles (one row per customer) and the fit summaries, from order lines. Pure function."""
    if orders.empty:
        raise ValueError("No orders with a customer id are loaded: load orders to profile customers.")
    summary = rfm_summary(orders, cutoff=settings.cutoff, freq="W")
    scores = rfm_scores(summary).rename(columns={"segment": "rfm_segment"})
    df = summary.join(scores[["R", "F", "M", "rfm", "rfm_segment"]])
    bg = _fit_bgnbd(df, settings.horizon_weeks)
    df["p_alive"] = bg.p_alive(df["frequency"], df["recency"], df["T"])
    df["expected_purchases"] = bg.expected_purchases(settings.horizon_weeks, df["frequency"],
                                                     df["recency"], df["T"])
    metrics = {"bgnbd": bg.fit_summary(), "customers": int(len(df))}
    repeat = (df["frequency"] > 0) & (df["monetary_value"] > 0)
    if repeat.sum() >= 20:
        gg = GammaGammaModel().fit(df["frequency"], df["monetary_value"])
        df["expected_spend"] = gg.expected_spend(df["frequency"], df["monetary_value"])
        weekly = (1 + settings.annual_discount_rate) ** (1 / 52) - 1
        df["clv"] = customer_lifetime_value(bg, gg, df["frequency"], df["recency"], df["T"],
                                            df["monetary_value"], settings.horizon_weeks, weekly)
        metrics["gamma_gamma"] = gg.fit_summary()
    else:
        df["expected_spend"] = np.nan
        df["clv"] = np.nan
        metrics["gamma_gamma"] = {"skipped": "fewer than 20 repeat buyers"}
    df = df.reset_index()
    lo, hi = pd.Timestamp(orders["ts"].min()), pd.Timestamp(df["last_purchase"].max())
    metrics.update(window_start=str(lo.date()), window_end=str(hi.date()), method=METHOD,
                   settings=asdict(settings))
    return df[list(PROFILE_COLUMNS)], metrics


def _fit_bgnbd(df: pd.DataFrame, horizon: float) -> BetaGeoModel:
    """Plain maximum likelihood; when that fit is degenerate (parameters at a bound, scores not
    finite), refit with a small L2 penalty, as lifetimes users do, and say so in the summary."""
    bg = BetaGeoModel().fit(df["frequency"], df["recency"], df["T"])
    scores = bg.expected_purchases(horizon, df["frequency"], df["recency"], df["T"])
    if np.isfinite(scores).all() and np.isfinite(bg.p_alive(df["frequency"], df["recency"], df["T"])).all():
        return bg
    bg = BetaGeoModel(penalizer=1e-3).fit(df["frequency"], df["recency"], df["T"])
    bg.warnings_ = [*bg.warnings_, "plain maximum likelihood was degenerate on this data; "
                    "refitted with an L2 penalty of 0.001"]
    return bg


def build_profiles(ws: Workspace, settings: ProfileSettings = ProfileSettings(),
                   progress: Progress | None = None) -> ProfileResult:
    """Compute profiles from the workspace's orders and store them as a new run."""
    step = progress or (lambda f, m: None)
    step(0.05, "Reading orders")
    orders = load_orders(ws)
    step(0.3, "Fitting BG/NBD and Gamma-Gamma")
    started = datetime.now()
    profiles, metrics = compute_profiles(orders, settings)
    step(0.8, "Saving profiles")
    run_id = "run_" + uuid.uuid4().hex[:10]
    save_profiles(ws, run_id, profiles, settings, metrics, started)
    step(1.0, "Done")
    return ProfileResult(run_id, profiles, metrics)


def save_profiles(ws: Workspace, run_id: str, profiles: pd.DataFrame, settings: ProfileSettings,
                  metrics: dict, started: datetime) -> None:
    """Write a profile run (rows and run record) in one transaction."""
    from .browse import dataset_version

    frame = profiles.assign(run_id=run_id)
    with ws.write() as cur:
        cur.register("_cx_profiles", frame)
        cur.execute("INSERT INTO customer_profiles BY NAME SELECT * FROM _cx_profiles")
        cur.unregister("_cx_profiles")
        cur.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, 'done', ?)",
                    [run_id, STAGE, dataset_version(ws), json.dumps(asdict(settings)), started,
                     datetime.now(), json.dumps(metrics, default=str)])


def latest_run(ws: Workspace, stage: str = STAGE) -> tuple[str, dict, str] | None:
    """(run_id, metrics, dataset_key) of the newest finished run of a stage, or None."""
    row = ws.query_one("SELECT run_id, metrics_json, dataset_key FROM runs WHERE stage = ? "
                       "AND status = 'done' ORDER BY finished_at DESC LIMIT 1", [stage])
    return None if row is None else (row[0], json.loads(row[1] or "{}"), row[2])


def load_profiles(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The stored profiles of a run, with the customer's name and email when known."""
    return ws.query_df(
        "SELECT p.* EXCLUDE (run_id), c.name, c.email FROM customer_profiles p "
        "LEFT JOIN (SELECT customer_id, any_value(name) AS name, any_value(email) AS email "
        "FROM customers GROUP BY customer_id) c USING (customer_id) "
        "WHERE p.run_id = ? ORDER BY p.clv DESC NULLS LAST", [run_id])


def customer_detail(ws: Workspace, customer_id: str) -> dict[str, pd.DataFrame]:
    """One customer's record, order lines and reviews."""
    return {
        "customer": ws.query_df("SELECT * EXCLUDE (dataset_id) FROM customers WHERE customer_id = ? "
                                "LIMIT 1", [customer_id]),
        "orders": ws.query_df("SELECT order_id, ts, item, item_name, quantity, amount, is_return "
                              "FROM orders WHERE customer_id = ? ORDER BY ts DESC LIMIT 500",
                              [customer_id]),
        "reviews": ws.query_df("SELECT ts, rating, title, text, item FROM reviews "
                               "WHERE customer_id = ? ORDER BY ts DESC NULLS LAST LIMIT 200",
                               [customer_id]),
    }
