"""Tests for cx_core.customers.clv: published CDNOW fits, model identities, simulation recovery, Online Retail."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cx_core.customers.clv import (
    BetaGeoModel,
    GammaGammaModel,
    NotFittedError,
    customer_lifetime_value,
    sample_bgnbd,
    sample_gamma_gamma,
)
from cx_core.customers.rfm import calibration_holdout
from tests.conftest import shared

# Published maximum-likelihood fits on the CDNOW 1/10 sample (Fader, Hardie & Lee 2005).
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GG = {"p": 6.25, "q": 3.74, "v": 15.45}


def _sig2(v: float) -> str:
    return f"{v:.2g}"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(shared("cdnow/cdnow_customers_summary.csv"))


@pytest.fixture(scope="module")
def bg(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def gg() -> GammaGammaModel:
    d = pd.read_csv(shared("cdnow/cdnow_customers_summary_with_transactions.csv"))
    return GammaGammaModel().fit(d["x"], d["zbar"])


def test_bgnbd_reproduces_cdnow(bg: BetaGeoModel) -> None:
    assert bg.converged_ and bg.n_customers_ == 2357 and not bg.warnings_
    for k, v in CDNOW_BGNBD.items():
        assert _sig2(bg.params_[k]) == _sig2(v), (k, bg.params_[k])
        assert bg.params_[k] == pytest.approx(v, rel=5e-3)
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)  # FHL 2005, table 1


def test_gamma_gamma_reproduces_cdnow(gg: GammaGammaModel) -> None:
    assert gg.converged_ and gg.n_customers_ == 946
    for k, v in CDNOW_GG.items():
        assert _sig2(gg.params_[k]) == _sig2(v), (k, gg.params_[k])
        assert gg.params_[k] == pytest.approx(v, rel=5e-3)


def test_p_alive_range(bg: BetaGeoModel, cdnow: pd.DataFrame) -> None:
    p = bg.p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert p.shape == (len(cdnow),) and ((p >= 0) & (p <= 1)).all()
    assert (p[cdnow["frequency"].to_numpy() == 0] == 1).all()
    # more recent last purchase -> more likely alive; long silence after many purchases -> unlikely
    assert bg.p_alive(5, 38, 39)[0] > bg.p_alive(5, 10, 39)[0]
    assert bg.p_alive(30, 1, 39)[0] < 1e-6


def test_expected_purchases_monotone_and_exact(bg: BetaGeoModel, cdnow: pd.DataFrame) -> None:
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    path = np.array([bg.expected_purchases(t, f, r, T) for t in (0, 1, 5, 39, 100, 1000)])
    assert (path[0] == 0).all() and (np.diff(path, axis=0) > 0).all()
    # FHL 2005: a customer with x=2, t_x=30.43, T=38.86 is expected to buy 1.226 times in 39 weeks
    assert bg.expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=1e-3)
    new = bg.expected_purchases_new([1.0, 39.0, 78.0])
    assert (np.diff(new) > 0).all() and new[0] > 0


def test_expected_purchases_matches_high_precision(bg: BetaGeoModel) -> None:
    """Euler-transformed 2F1 agrees with 40-digit evaluation of eq. 10, even where it overflows naively."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    r, alpha, a, b = (mp.mpf(bg.params_[k]) for k in ("r", "alpha", "a", "b"))
    cases = [
        (39.0, 2, 30.43, 38.86),
        (1.0, 0, 0.0, 10.0),
        (5000.0, 150, 70.0, 78.0),
        (1e4, 3, 1.0, 2.0),
        (100.0, 800, 99.0, 100.0),
        (0.01, 5, 3.0, 4.0),
    ]
    for t, x, tx, T in cases:
        z = mp.mpf(t) / (alpha + T + t)
        num = (
            (a + b + x - 1)
            / (a - 1)
            * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * mp.hyp2f1(r + x, b + x, a + b + x - 1, z))
        )
        den = 1 + (a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else 0)
        assert bg.expected_purchases(t, x, tx, T)[0] == pytest.approx(float(num / den), rel=1e-9)


def test_predict_before_fit_raises() -> None:
    for call in (
        lambda: BetaGeoModel().p_alive([1], [1], [2]),
        lambda: BetaGeoModel().expected_purchases(1, [1], [1], [2]),
        lambda: BetaGeoModel().fit_summary(),
        lambda: GammaGammaModel().expected_spend([1], [10]),
        lambda: customer_lifetime_value(BetaGeoModel(), GammaGammaModel(), [1], [1], [2], [10], 10),
    ):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_fit_validates_input() -> None:
    m = BetaGeoModel()
    with pytest.raises(ValueError, match="frequency"):
        m.fit([-1, 2], [0, 1], [2, 3])
    with pytest.raises(ValueError, match="exceed"):
        m.fit([1, 2], [5, 1], [2, 3])
    with pytest.raises(ValueError, match="same length"):
        m.fit([1, 2, 3], [0, 1], [2, 3])
    with pytest.raises(ValueError, match="NaN"):
        m.fit([1, np.nan], [0, 1], [2, 3])
    with pytest.raises(ValueError, match="repeat buyers"):
        GammaGammaModel().fit([0, 0, 1], [0, 0, 5])
    assert BetaGeoModel(penalizer=0.1).penalizer == 0.1 and not hasattr(m, "params_")


def test_fit_summary_is_json(bg: BetaGeoModel, gg: GammaGammaModel) -> None:
    for s in (bg.fit_summary(), gg.fit_summary()):
        back = json.loads(json.dumps(s))
        assert back["n_customers"] > 0 and np.isfinite(back["log_likelihood"])
        assert set(back["params"]) in ({"r", "alpha", "a", "b"}, {"p", "q", "v"})


def test_simulation_recovery_and_calibration() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(11)
    T = rng.integers(7, 365, 100_000) / 7.0
    sim = sample_bgnbd(len(T), **true, T=T, horizon=26.0, seed=12)
    m = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    for k, v in true.items():
        assert m.params_[k] == pytest.approx(v, rel=0.15), (k, m.params_[k])
    pred = m.expected_purchases(26.0, sim["frequency"], sim["recency"], sim["T"])
    assert pred.sum() == pytest.approx(sim["n_holdout"].sum(), rel=0.05)
    assert (
        m.p_alive(sim["frequency"], sim["recency"], sim["T"])[sim["alive"]].mean()
        > m.p_alive(sim["frequency"], sim["recency"], sim["T"])[~sim["alive"]].mean()
    )
    spend = sample_gamma_gamma(sim["frequency"], p=6.0, q=4.0, v=15.0, seed=13)
    g = GammaGammaModel().fit(sim["frequency"], spend)
    assert g.params_["q"] == pytest.approx(4.0, rel=0.15)
    assert g.params_["p"] * g.params_["v"] / (g.params_["q"] - 1) == pytest.approx(6 * 15 / 3, rel=0.05)


def test_clv_identities(bg: BetaGeoModel, gg: GammaGammaModel) -> None:
    d = pd.read_csv(shared("cdnow/cdnow_customers_summary_with_transactions.csv"))
    args = (d["x"], d["t_x"], d["T"], d["zbar"])
    plain = customer_lifetime_value(bg, gg, *args, horizon_periods=52, discount_rate_per_period=0.0)
    direct = bg.expected_purchases(52, d["x"], d["t_x"], d["T"]) * gg.expected_spend(d["x"], d["zbar"])
    np.testing.assert_allclose(plain, direct, rtol=1e-9)
    coarse = customer_lifetime_value(bg, gg, *args, horizon_periods=52, step=5)  # last step is 2
    np.testing.assert_allclose(coarse, direct, rtol=1e-9)
    disc = customer_lifetime_value(bg, gg, *args, horizon_periods=52, discount_rate_per_period=0.01)
    assert (disc < plain).all() and (disc > plain / 1.01**52).all()
    assert gg.expected_spend([0], [0]) == pytest.approx(
        gg.params_["p"] * gg.params_["v"] / (gg.params_["q"] - 1)
    )


def _online_retail_orders() -> pd.DataFrame:
    """UCI Online Retail as an orders frame (rows without a customer dropped)."""
    cols = ["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    df = pd.read_parquet(shared("online_retail/online_retail.parquet"), columns=cols)
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


def test_online_retail_holdout_smoke() -> None:
    from sklearn.metrics import roc_auc_score

    cal, hold = calibration_holdout(_online_retail_orders(), "2011-09-09", "2011-12-09", freq="W")
    horizon = float(hold["duration_holdout"].iloc[0])
    f, r, T, m = cal["frequency"], cal["recency"], cal["T"], cal["monetary_value"]
    bgm = BetaGeoModel().fit(f, r, T)
    ggm = GammaGammaModel().fit(f, m)
    pred_n = bgm.expected_purchases(horizon, f, r, T)
    clv = customer_lifetime_value(bgm, ggm, f, r, T, m, horizon_periods=horizon)
    alive = bgm.p_alive(f, r, T)
    bought = hold["purchased_holdout"].to_numpy()
    repeat = f.to_numpy() > 0
    report = {
        "customers": len(cal),
        "holdout_weeks": horizon,
        "bgnbd": bgm.params_,
        "gg": ggm.params_,
        "warnings": bgm.warnings_,
        "purchases_pred": pred_n.sum(),
        "purchases_actual": int(hold["n_purchases_holdout"].sum()),
        "clv_pred": clv.sum(),
        "spend_actual": hold["spend_holdout"].sum(),
        "revenue_actual": hold["revenue_holdout"].sum(),
        "auc_p_alive": roc_auc_score(bought, alive),
        "auc_p_alive_repeat_buyers": roc_auc_score(bought[repeat], alive[repeat]),
        "auc_expected_purchases": roc_auc_score(bought, pred_n),
    }
    report["purchases_error"] = report["purchases_pred"] / report["purchases_actual"] - 1
    report["clv_error"] = report["clv_pred"] / report["spend_actual"] - 1
    deciles = pd.DataFrame(
        {
            "decile": pd.qcut(pd.Series(clv).rank(method="first"), 10, labels=False) + 1,
            "pred_n": pred_n,
            "actual_n": hold["n_purchases_holdout"].to_numpy(),
            "pred_clv": clv,
            "actual_spend": hold["spend_holdout"].to_numpy(),
        }
    )
    by_decile = deciles.groupby("decile").mean()
    print("\nOnline Retail calibration to 2011-09-09, holdout to 2011-12-09:")
    print(json.dumps(report, indent=1, default=float))
    print("per CLV decile (means):\n" + by_decile.round(2).to_string())
    assert len(cal) > 3000 and np.isfinite(clv).all() and (clv >= 0).all()
    assert ((alive >= 0) & (alive <= 1)).all()
    assert report["auc_expected_purchases"] > 0.6  # the model ranks buyers better than chance
    assert by_decile["actual_spend"].iloc[-1] > by_decile["actual_spend"].iloc[0]
    assert abs(report["purchases_error"]) < 0.6 and abs(report["clv_error"]) < 0.8


def test_p_no_purchase_matches_simulation() -> None:
    sim = sample_bgnbd(20_000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39.0, horizon=13.0, seed=5)
    f, r, T = sim["frequency"], sim["recency"], sim["T"]
    bg = BetaGeoModel().fit(f, r, T)
    p0 = bg.p_no_purchase(13.0, f, r, T)
    assert p0.mean() == pytest.approx((sim["n_holdout"] == 0).mean(), abs=0.01)
    for x in (0, 1, 3):  # calibrated within frequency groups too
        grp = (f == x).to_numpy()
        assert p0[grp].mean() == pytest.approx((sim["n_holdout"][grp] == 0).mean(), abs=0.03)
    np.testing.assert_allclose(bg.p_no_purchase(0.0, f, r, T), 1.0)
    assert (bg.p_no_purchase(26.0, f, r, T) <= p0 + 1e-12).all()
    assert (p0 >= 1 - bg.p_alive(f, r, T) - 1e-12).all()  # a dead customer never buys
