"""Churn: the probability that a customer makes no purchase in the next N days.

Protocol (no look-ahead; :mod:`cx_core.customers.churn_features` cuts features at a day):

* ``N`` (the horizon) defaults to 90 days when the orders span at least a
  year, else a quarter of the span (at least 7 days): :func:`default_horizon_days`.
* :meth:`ChurnModel.fit` with a cutoff ``c`` uses only data up to ``c``: it
  builds features at ``c - N`` (and ``c - 2N``, ... for ``n_cutoffs`` > 1,
  stacked) and labels them with the windows that end by ``c``.
* Evaluation (:func:`evaluate_churn`): fit with ``c = last day - N``, predict
  at ``c``, compare with what happened in ``(c, last day]``.  The baselines in
  the same run are BG/NBD fitted at ``c``: ``1 - P(alive)`` and the fairer
  ``P(no purchase in N days)``, and plain recency (days since the last purchase).
* Production (:func:`score_churn`): fit with ``c = last day`` and predict at
  the last day, i.e. the chance of no purchase in the N days after the data ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from cx_core.customers.churn_features import OrderHistory
from cx_core.customers.clv import NotFittedError

METHODS = ("hgb", "logreg")
METHOD_NAMES = {
    "hgb": "gradient-boosted trees (HistGradientBoosting)",
    "logreg": "logistic regression (L2, log-scaled features)",
}
#: Fewest customers a training cutoff needs to be used.
MIN_CUSTOMERS = 20
#: Shortest order history (days) that supports a churn model.
MIN_SPAN_DAYS = 28
#: Features computed for the baselines but not given to the model: BG/NBD's P(alive) is
#: often constant up to rounding (Online Retail fits a/(a+b) ~ 1e-9) and is implied by
#: P(no purchase); standardising it turned one logistic fit upside down (AUC 0.37).
NOT_MODEL_FEATURES = ("bg_p_alive",)


def default_horizon_days(span_days: int) -> int:
    """90 days for at least a year of orders, else a quarter of the span (at least 7 days)."""
    if span_days >= 365:
        return 90
    return max(7, int(span_days) // 4)


def _signed_log(x: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): tames heavy tails for the linear model (NaN stays NaN)."""
    return np.sign(x) * np.log1p(np.abs(x))


def _clip(x: np.ndarray) -> np.ndarray:
    """Clip standardised features to [-5, 5] so a shifted or near-constant column cannot dominate."""
    return np.clip(x, -5.0, 5.0)


def make_estimator(method: str, random_state: int = 0) -> Any:
    """The classifier behind a method name (see :data:`METHODS`)."""
    if method == "hgb":
        return HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
    if method == "logreg":
        return make_pipeline(
            FunctionTransformer(_signed_log, feature_names_out="one-to-one"),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            FunctionTransformer(_clip, feature_names_out="one-to-one"),
            LogisticRegression(C=0.03, max_iter=2000),
        )
    raise ValueError(f"unknown churn method {method!r}; choose one of {', '.join(METHODS)}")


class ChurnModel:
    """P(no purchase in the next ``horizon_days``) from behaviour, BG/NBD and (optional) text features.

    Args:
        horizon_days: N, the churn window in days.
        method: ``"hgb"`` (gradient-boosted trees, handles missing text natively)
            or ``"logreg"`` (regularised logistic regression).
        n_cutoffs: how many earlier cutoffs (``c - N``, ``c - 2N``, ...) to stack
            into the training set; ones with too little history are skipped.
        bgnbd: add the BG/NBD scores fitted at each cutoff as features.
        blend: weight of BG/NBD's P(no purchase in the horizon) in the returned
            probability (the rest is the classifier's); needs ``bgnbd``.  The
            50/50 blend beat both parts alone on all 9 evaluation points we
            measured (Online Retail, CDNOW, demo store; bench/churn.py).
        random_state: seed of the estimator.

    Attributes (after :meth:`fit`): ``estimator_``, ``feature_names_``,
    ``train_cutoffs_`` (dates), ``n_train_`` (rows), ``train_churn_rate_``,
    ``uses_text_``.
    """

    def __init__(
        self,
        horizon_days: int = 90,
        method: str = "logreg",
        n_cutoffs: int = 2,
        bgnbd: bool = True,
        blend: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.method = method
        self.n_cutoffs = n_cutoffs
        self.bgnbd = bgnbd
        self.blend = blend
        self.random_state = random_state

    def _training_cutoffs(self, history: OrderHistory, cutoff: int) -> list[int]:
        """Earlier cutoffs whose label windows end by ``cutoff`` and that leave some history."""
        n = int(self.horizon_days)
        days = [cutoff - k * n for k in range(1, int(self.n_cutoffs) + 1)]
        return [d for d in days if d - history.first_day >= max(n // 2, 7)]

    def _check_params(self) -> None:
        """Raise a ``ValueError`` for settings that cannot work."""
        if self.method not in METHODS:
            raise ValueError(f"unknown churn method {self.method!r}; choose one of {', '.join(METHODS)}")
        if int(self.horizon_days) < 1 or int(self.n_cutoffs) < 1:
            raise ValueError("horizon_days and n_cutoffs must be >= 1")
        if not 0.0 <= self.blend <= 1.0 or (self.blend > 0 and not self.bgnbd):
            raise ValueError("blend must be in [0, 1] and needs bgnbd=True")

    def _training_set(
        self,
        history: OrderHistory,
        cut: int,
        signals: pd.DataFrame | None,
    ) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
        """Stacked features and labels of the training cutoffs before ``cut``, and their dates."""
        frames, labels, used = [], [], []
        for day in self._training_cutoffs(history, cut):
            x = history.features(day, self.horizon_days, self.bgnbd, signals)
            x = x.drop(columns=[c for c in NOT_MODEL_FEATURES if c in x.columns])
            if len(x) >= MIN_CUSTOMERS:
                frames.append(x)
                labels.append(history.labels(day, self.horizon_days).reindex(x.index).to_numpy())
                used.append(history.date(day))
        if not frames:
            raise ValueError(
                f"Not enough order history before {history.date(cut)} to train a "
                f"{self.horizon_days}-day churn model: it needs a cutoff at least "
                f"{self.horizon_days} days before with {MIN_CUSTOMERS}+ customers."
            )
        y = np.concatenate(labels)
        if y.all() or not y.any():
            raise ValueError(
                "Every training customer has the same outcome (all churned or none): "
                "a churn model cannot be trained on this window."
            )
        return pd.concat(frames), y, used

    def fit(
        self, history: OrderHistory | pd.DataFrame, cutoff: object = None, signals: pd.DataFrame | None = None
    ) -> "ChurnModel":
        """Train on what is known at ``cutoff`` (default: the last day); returns ``self``."""
        self._check_params()
        history = history if isinstance(history, OrderHistory) else OrderHistory(history)
        self.uses_text_ = signals is not None and not signals.empty
        X, y, used = self._training_set(history, history.day(cutoff), signals if self.uses_text_ else None)
        X = X.loc[:, X.notna().any()]  # e.g. sentiment columns before any review is scored
        self.feature_names_ = list(X.columns)
        with threadpool_limits(limits=1):  # OpenMP spin-waits: 2 threads on 2 busy cores ran 7x slower
            self.estimator_ = make_estimator(self.method, self.random_state).fit(X.to_numpy(float), y)
        self.train_cutoffs_, self.n_train_ = used, int(len(y))
        self.train_churn_rate_ = float(y.mean())
        return self

    def features(
        self, history: OrderHistory, at: object = None, signals: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The feature table at day ``at`` in the fitted column order."""
        if getattr(self, "estimator_", None) is None:
            raise NotFittedError("This ChurnModel is not fitted yet; call fit() first.")
        x = history.features(
            history.day(at), self.horizon_days, self.bgnbd, signals if self.uses_text_ else None
        )
        return x.reindex(columns=self.feature_names_)

    def predict_proba(
        self,
        history: OrderHistory | pd.DataFrame,
        at: object = None,
        signals: pd.DataFrame | None = None,
        blend: float | None = None,
    ) -> pd.Series:
        """P(no purchase in (at, at + horizon]) per customer active by ``at`` (default: last day).

        ``blend`` overrides the fitted blend weight (0: the classifier alone).
        """
        blend = self.blend if blend is None else blend
        history = history if isinstance(history, OrderHistory) else OrderHistory(history)
        x = self.features(history, at, signals)
        if x.empty:
            return pd.Series([], index=x.index, name="churn_prob", dtype=float)
        with threadpool_limits(limits=1):
            p = self.estimator_.predict_proba(x.to_numpy(float))[:, 1]
        if blend > 0 and "bg_p_no_purchase" in x:
            prior = x["bg_p_no_purchase"].to_numpy(float)
            p = np.where(np.isfinite(prior), (1 - blend) * p + blend * prior, p)
        return pd.Series(p, index=x.index, name="churn_prob")

    def describe(self) -> str:
        """One line naming the method, its inputs, the blend and the training cutoffs."""
        inputs = (
            "behaviour" + (" + BG/NBD" if self.bgnbd else "") + (" + review text" if self.uses_text_ else "")
        )
        blend = (
            f", averaged {1 - self.blend:.0%}/{self.blend:.0%} with BG/NBD P(no purchase)"
            if self.blend > 0
            else ""
        )
        return (
            f"{METHOD_NAMES[self.method]} on {inputs}{blend}; trained on cutoff(s) "
            f"{', '.join(self.train_cutoffs_)}"
        )


@dataclass(frozen=True)
class ChurnSettings:
    """What a churn run uses: horizon (0 = from the data), method and stacked cutoffs."""

    horizon_days: int = 0
    method: str = "logreg"
    n_cutoffs: int = 2
    bgnbd: bool = True
    blend: float = 0.5

    def model(self, horizon_days: int) -> ChurnModel:
        """An unfitted :class:`ChurnModel` with these settings."""
        return ChurnModel(horizon_days, self.method, self.n_cutoffs, self.bgnbd, self.blend)


@dataclass
class ChurnResult:
    """Production scores and the JSON-ready metrics of one churn run."""

    scores: pd.Series  # churn_prob per customer_id
    method: str
    window: str
    metrics: dict = field(default_factory=dict)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR-AUC (churn = positive) and Brier score of probabilities ``p`` for labels ``y``."""
    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, np.clip(p, 0, 1))), 4),
    }


def evaluate_churn(
    history: OrderHistory,
    settings: ChurnSettings = ChurnSettings(),
    signals: pd.DataFrame | None = None,
    end: object = None,
) -> dict[str, Any]:
    """Hold-out evaluation: train up to ``end - N``, score at it, compare with the N days to ``end``.

    ``end`` defaults to the data's last day (an earlier ``end`` gives a rolling
    check).  Returns the windows, the model's AUC / PR-AUC / Brier and the same
    for the baselines (BG/NBD ``1 - P(alive)``, BG/NBD ``P(no purchase in N
    days)``, recency rank), computed on the same customers.
    """
    n = settings.horizon_days or default_horizon_days(history.span_days)
    last = history.day(end)
    c = last - n
    model = settings.model(n).fit(history, c, signals)
    x = history.features(c, n, True, None)
    y = history.labels(c, n).reindex(x.index).to_numpy()
    if y.all() or not y.any():
        raise ValueError("every hold-out customer has the same outcome; no AUC can be computed")
    p = model.predict_proba(history, c, signals).reindex(x.index).to_numpy()
    alone = model.predict_proba(history, c, signals, blend=0.0).reindex(x.index).to_numpy()
    recency = x["recency_days"].to_numpy()
    recency_rank = pd.Series(recency).rank(pct=True).to_numpy()
    return {
        "horizon_days": n,
        "eval_cutoff": history.date(c),
        "holdout_window": f"{history.date(c + 1)} .. {history.date(last)}",
        "train_cutoffs": model.train_cutoffs_,
        "n_train": model.n_train_,
        "train_churn_rate": round(model.train_churn_rate_, 4),
        "customers": int(len(y)),
        "holdout_churn_rate": round(float(y.mean()), 4),
        "model": {"method": model.describe(), **_scores(y, p)},
        "classifier_alone": _scores(y, alone),
        "baseline_bgnbd_1_minus_p_alive": _scores(y, 1.0 - x["bg_p_alive"].to_numpy()),
        "baseline_bgnbd_p_no_purchase": _scores(y, x["bg_p_no_purchase"].to_numpy()),
        "baseline_recency_days": {
            "auc": round(float(roc_auc_score(y, recency)), 4),
            "pr_auc": round(float(average_precision_score(y, recency_rank)), 4),
        },
    }


def score_churn(
    history: OrderHistory,
    settings: ChurnSettings = ChurnSettings(),
    signals: pd.DataFrame | None = None,
    evaluate: bool = True,
) -> ChurnResult:
    """Evaluate on the hold-out window (when ``evaluate``), then fit on all data and score at the last day."""
    if history.span_days < MIN_SPAN_DAYS:
        raise ValueError(
            f"Churn needs at least {MIN_SPAN_DAYS} days of orders; these span {history.span_days}."
        )
    n = settings.horizon_days or default_horizon_days(history.span_days)
    metrics: dict[str, Any] = {"horizon_days": n, "settings": settings.__dict__.copy()}
    if evaluate:
        try:
            metrics["evaluation"] = evaluate_churn(history, settings, signals)
        except ValueError as exc:
            metrics["evaluation"] = {"skipped": str(exc)}
    model = settings.model(n).fit(history, None, signals)
    scores = model.predict_proba(history, None, signals)
    window = (
        f"no purchase {history.date(history.last_day + 1)} .. "
        f"{history.date(history.last_day + n)} ({n} days after the data ends)"
    )
    metrics.update(
        method=model.describe(),
        window=window,
        score_at=history.date(history.last_day),
        train_cutoffs=model.train_cutoffs_,
        n_train=model.n_train_,
        train_churn_rate=round(model.train_churn_rate_, 4),
        uses_text=model.uses_text_,
        mean_churn_prob=round(float(scores.mean()), 4),
    )
    return ChurnResult(scores, model.describe(), window, metrics)


def evaluation_line(churn_metrics: dict) -> str:
    """One plain sentence on how the churn scores did in their hold-out check (for the app)."""
    ev = churn_metrics.get("evaluation") or {}
    if not churn_metrics:
        return "No churn scores in this run: recompute the profiles."
    if "skipped" in churn_metrics:
        return f"No churn scores: {churn_metrics['skipped']}"
    if "model" not in ev:
        return f"Churn scores not checked on a hold-out window: {ev.get('skipped', 'not run')}"
    return (
        f"Hold-out check ({ev['holdout_window']}, {ev['customers']:,} customers, "
        f"{ev['holdout_churn_rate']:.0%} churned): AUC {ev['model']['auc']:.3f} vs "
        f"{ev['baseline_bgnbd_p_no_purchase']['auc']:.3f} for BG/NBD P(no purchase) and "
        f"{ev['baseline_bgnbd_1_minus_p_alive']['auc']:.3f} for 1 - P(alive); "
        f"Brier {ev['model']['brier']:.3f} vs {ev['baseline_bgnbd_p_no_purchase']['brier']:.3f}."
    )
