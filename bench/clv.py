"""Benchmark the CLV models: fit and score time, peak memory and parameter recovery.

Simulates ``--n`` customers (default 1M) from a BG/NBD + Gamma-Gamma model with
known parameters, fits both models, scores everyone (P(alive), expected
purchases, expected spend, discounted CLV) and checks that the parameters and
the aggregate hold-out purchases are recovered.  It also times
:func:`cx_core.customers.rfm.rfm_summary` on 1M synthetic order lines.

As a baseline it times, on ``--baseline-n`` customers (default 100k), the code a
user would otherwise write: the textbook BG/NBD likelihood minimised with
``scipy.optimize.minimize`` (BFGS, finite-difference gradient) and scored with
the textbook formula, plus the ``lifetimes`` package when it is installed (it
is not a dependency and is never installed by this script).

It then checks the models on real data: UCI Online Retail calibrated to
2011-09-09 and compared with the 13-week hold-out to 2011-12-09 (predicted
hold-out spend = expected purchases x expected spend, undiscounted), in
aggregate and per decile of predicted value, with monetary value gross and net
of returns, and shows what net monetary value does to customer 16446 (an
80,995-unit order cancelled the same day) in a full-data profile.

Prints one JSON object.  Usage: ``python bench/clv.py [--n N] [--baseline-n N]
[--online-retail-only]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import gammaln, hyp2f1

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cx_core.customers.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,  # noqa: E402
    fit_bgnbd,
    sample_bgnbd,
    sample_gamma_gamma,
)
from cx_core.customers.rfm import calibration_holdout, rfm_summary  # noqa: E402

TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW-like, weeks
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.45}
HOLDOUT_WEEKS = 26.0
CLV_WEEKS = 52
WEEKLY_DISCOUNT = 0.10 / 52


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``fn`` and return its result with wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}


def simulate(n: int, seed: int) -> pd.DataFrame:
    """Customers acquired uniformly over the last year, observed weekly (T in days / 7)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 365, n) / 7.0
    sim = sample_bgnbd(n, **TRUE_BG, T=T, horizon=HOLDOUT_WEEKS, seed=rng)
    sim["monetary_value"] = sample_gamma_gamma(sim["frequency"], **TRUE_GG, seed=rng)
    return sim


def ours(sim: pd.DataFrame) -> dict[str, Any]:
    """Fit and score with cx_core.customers.clv; report times, recovery and memory."""
    f, r, T, m = sim["frequency"], sim["recency"], sim["T"], sim["monetary_value"]
    bg, t_fit = timed(lambda: BetaGeoModel().fit(f, r, T))
    gg, t_gg = timed(lambda: GammaGammaModel().fit(f, m))

    def score() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (bg.p_alive(f, r, T), bg.expected_purchases(HOLDOUT_WEEKS, f, r, T), gg.expected_spend(f, m))

    (alive, expected, _), t_score = timed(score)
    clv, t_clv = timed(lambda: customer_lifetime_value(bg, gg, f, r, T, m, CLV_WEEKS, WEEKLY_DISCOUNT))
    rel = {k: round(bg.params_[k] / v - 1, 4) for k, v in TRUE_BG.items()}
    rel.update({k: round(gg.params_[k] / v - 1, 4) for k, v in TRUE_GG.items()})
    return {
        "customers": len(sim),
        "fit_bgnbd": t_fit,
        "fit_gamma_gamma": t_gg,
        "score_p_alive_expected_purchases_spend": t_score,
        f"clv_{CLV_WEEKS}_weekly_steps": t_clv,
        "fit_plus_score_wall_s": round(t_fit["wall_s"] + t_gg["wall_s"] + t_score["wall_s"], 3),
        "bgnbd_params": {k: round(v, 4) for k, v in bg.params_.items()},
        "gamma_gamma_params": {k: round(v, 4) for k, v in gg.params_.items()},
        "param_relative_error": rel,
        "holdout_purchases_pred_vs_sim": round(float(expected.sum() / sim["n_holdout"].sum() - 1), 4),
        "p_alive_mean_alive_vs_dropped": [
            round(float(alive[sim["alive"]].mean()), 3),
            round(float(alive[~sim["alive"]].mean()), 3),
        ],
        "clv_finite": bool(np.isfinite(clv).all()),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def naive_nll(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> float:
    """Textbook BG/NBD negative log-likelihood, every term on every row."""
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(
        x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf
    )
    return -float(np.sum(a1 + a2 + np.logaddexp(a3, a4))) / x.size


def naive_expected(params: np.ndarray, t: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Textbook conditional expectation (FHL 2005 eq. 10) with the untransformed 2F1."""
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    num = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    return num / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))


def baseline_naive(sim: pd.DataFrame) -> dict[str, Any]:
    """Time the textbook implementation (scipy BFGS, numeric gradient)."""
    x, tx, T = (sim[c].to_numpy() for c in ("frequency", "recency", "T"))
    res, t_fit = timed(lambda: optimize.minimize(naive_nll, np.zeros(4), args=(x, tx, T)))
    params = np.exp(res.x)
    expected, t_score = timed(lambda: naive_expected(params, HOLDOUT_WEEKS, x, tx, T))
    return {
        "customers": len(sim),
        "fit": t_fit,
        "score_expected_purchases": t_score,
        "params": dict(zip(TRUE_BG, np.round(params, 4).tolist())),
        "converged": bool(res.success),
        "non_finite_predictions": int((~np.isfinite(expected)).sum()),
    }


def baseline_lifetimes(sim: pd.DataFrame) -> dict[str, Any]:
    """Time lifetimes.BetaGeoFitter when the package happens to be installed."""
    if importlib.util.find_spec("lifetimes") is None:
        return {
            "status": "lifetimes is not installed; baseline skipped (it is not a dependency "
            "and this benchmark never installs it)"
        }
    from lifetimes import BetaGeoFitter  # type: ignore[import-not-found]

    f, r, T = sim["frequency"], sim["recency"], sim["T"]
    bgf, t_fit = timed(lambda: BetaGeoFitter().fit(f, r, T))
    _, t_score = timed(
        lambda: bgf.conditional_expected_number_of_purchases_up_to_time(HOLDOUT_WEEKS, f, r, T)
    )
    return {
        "customers": len(sim),
        "fit": t_fit,
        "score_expected_purchases": t_score,
        "params": {k: round(float(v), 4) for k, v in bgf.params_.items()},
    }


def synthetic_orders(n_lines: int, n_customers: int, seed: int) -> pd.DataFrame:
    """Random order lines (3% negative amounts, 1% flagged returns) over one year."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(rng.integers(0, n_customers, n_lines)).astype(str),
            "ts": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 86400, n_lines), unit="s"),
            "amount": rng.gamma(2.0, 20.0, n_lines) * np.where(rng.random(n_lines) < 0.03, -1.0, 1.0),
            "is_return": rng.random(n_lines) < 0.01,
            "order_id": pd.Series(rng.integers(0, n_lines // 2, n_lines)).astype(str),
        }
    )


DATA = Path(
    os.environ.get("CX_SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)


def online_retail_orders() -> pd.DataFrame:
    """UCI Online Retail order lines (cancellations are returns)."""
    cols = ["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    df = pd.read_parquet(DATA / "online_retail" / "online_retail.parquet", columns=cols)
    df = df[df["CustomerID"].notna()]
    return pd.DataFrame(
        {
            "customer_id": df["CustomerID"].astype("int64").astype(str),
            "ts": df["InvoiceDate"],
            "amount": df["Quantity"] * df["UnitPrice"],
            "is_return": df["InvoiceNo"].str.startswith("C") | (df["Quantity"] < 0),
            "order_id": df["InvoiceNo"],
        }
    )


def _deciles(pred: np.ndarray, hold: pd.DataFrame) -> list[dict[str, Any]]:
    """Predicted vs actual hold-out spend per decile of predicted value (1 = lowest)."""
    d = pd.DataFrame(
        {
            "pred": pred,
            "gross": hold["spend_holdout"].to_numpy(),
            "net": hold["revenue_holdout"].to_numpy(),
            "buyers": hold["purchased_holdout"].to_numpy(),
        }
    )
    d["decile"] = pd.qcut(d["pred"].rank(method="first"), 10, labels=False) + 1
    g = d.groupby("decile").agg(
        customers=("pred", "size"),
        predicted=("pred", "sum"),
        actual_gross=("gross", "sum"),
        actual_net=("net", "sum"),
        buyer_share=("buyers", "mean"),
    )
    g["error_vs_gross"] = g["predicted"] / g["actual_gross"] - 1
    g["error_vs_net"] = g["predicted"] / g["actual_net"] - 1
    return json.loads(g.round(3).reset_index().to_json(orient="records"))


def online_retail_holdout(orders: pd.DataFrame, monetary: str) -> dict[str, Any]:
    """Hold-out CLV check on Online Retail with gross or net monetary value."""
    cal, hold = calibration_holdout(orders, "2011-09-09", "2011-12-09", freq="W", monetary=monetary)
    weeks = float(hold["duration_holdout"].iloc[0])
    f, r, T, m = cal["frequency"], cal["recency"], cal["T"], cal["monetary_value"]
    bg, gg = fit_bgnbd(f, r, T, weeks), GammaGammaModel().fit(f, m)
    n_pred = bg.expected_purchases(weeks, f, r, T)
    pred = n_pred * gg.expected_spend(f, m)
    gross, net = float(hold["spend_holdout"].sum()), float(hold["revenue_holdout"].sum())
    return {
        "monetary_value": monetary,
        "customers": len(cal),
        "holdout_weeks": round(weeks, 2),
        "gamma_gamma": {k: round(v, 4) for k, v in gg.params_.items()},
        "purchases_predicted": round(float(n_pred.sum()), 1),
        "purchases_actual": int(hold["n_purchases_holdout"].sum()),
        "spend_predicted": round(float(pred.sum()), 0),
        "spend_actual_gross": round(gross, 0),
        "spend_actual_net": round(net, 0),
        "aggregate_error_vs_gross": round(float(pred.sum()) / gross - 1, 4),
        "aggregate_error_vs_net": round(float(pred.sum()) / net - 1, 4),
        "deciles": _deciles(pred, hold),
    }


def customer_16446(orders: pd.DataFrame) -> dict[str, Any]:
    """Full-data 52-week CLV of customer 16446 with gross and with net monetary value."""
    from cx_core.customers.profiles import ProfileSettings, compute_profiles

    out: dict[str, Any] = {}
    for monetary in ("gross", "net"):
        s = rfm_summary(orders, freq="W", monetary=monetary)
        f, r, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
        bg, gg = fit_bgnbd(f, r, T, 52), GammaGammaModel().fit(f, m)
        clv = pd.Series(customer_lifetime_value(bg, gg, f, r, T, m, 52, 0.10 / 52), index=s.index)
        out[monetary] = {
            "monetary_value": round(float(m["16446"]), 2),
            "clv_52w": round(float(clv["16446"]), 2),
            "rank": int(clv.rank(ascending=False)["16446"]),
            "top_clv": round(float(clv.max()), 2),
        }
    prof, _ = compute_profiles(orders, ProfileSettings(horizon_weeks=52))
    out["profile_clv"] = round(float(prof.set_index("customer_id").loc["16446", "clv"]), 2)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic customers for our models")
    ap.add_argument("--baseline-n", type=int, default=100_000, help="customers for the baselines")
    ap.add_argument("--order-lines", type=int, default=1_000_000, help="order lines for rfm_summary")
    ap.add_argument("--online-retail-only", action="store_true", help="only the real-data CLV check")
    args = ap.parse_args(argv)
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "rss_after_imports_mb": round(peak_rss_mb(), 1),
        "true_params": {**TRUE_BG, **TRUE_GG},
    }
    orders = online_retail_orders()
    report["online_retail_holdout"] = [online_retail_holdout(orders, m) for m in ("gross", "net")]
    report["online_retail_customer_16446"] = customer_16446(orders)
    if args.online_retail_only:
        print(json.dumps(report, indent=1))
        return report
    sim, report["simulate"] = timed(lambda: simulate(args.n, seed=1))
    report["ours"] = ours(sim)
    del sim
    small = simulate(args.baseline_n, seed=2)
    keep = ("customers", "fit_bgnbd", "score_p_alive_expected_purchases_spend")
    report["ours_on_baseline_n"] = {k: v for k, v in ours(small).items() if k in keep}
    report["baseline_textbook_scipy"] = baseline_naive(small)
    report["baseline_lifetimes"] = baseline_lifetimes(small)
    orders = synthetic_orders(args.order_lines, args.order_lines // 5, seed=3)
    summary, t_rfm = timed(lambda: rfm_summary(orders, cutoff="2020-12-31", freq="W"))
    report["rfm_summary"] = {"order_lines": len(orders), "customers": len(summary), **t_rfm}
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
