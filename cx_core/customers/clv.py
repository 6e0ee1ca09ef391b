"""Customer lifetime value: BG/NBD and Gamma-Gamma models in plain numpy/scipy.

* :class:`BetaGeoModel` - the BG/NBD model of Fader, Hardie & Lee (2005),
  "Counting your customers the easy way", for repeat-purchase counts.
* :class:`GammaGammaModel` - the Gamma-Gamma spend model (Fader, Hardie & Lee
  2005, "RFM and CLV"; Colombo & Jiang 1999) for the mean spend per purchase.
* :func:`customer_lifetime_value` - discounted CLV combining the two.

Inputs follow the Fader-Hardie convention produced by
:func:`cx_core.customers.rfm.rfm_summary`: ``frequency`` = repeat purchases, ``recency``
= time of the last purchase since the first, ``T`` = time since the first
purchase, all in one time unit (days or weeks); ``monetary_value`` = mean spend
per repeat purchase.

The models follow scikit-learn habits: ``__init__`` only stores settings,
``fit`` validates its input and returns ``self``, learned state ends with an
underscore (``params_``), and predicting before ``fit`` raises
:class:`NotFittedError`.  Fitting maximises the exact log-likelihood with an
analytic gradient over log-parameters (L-BFGS-B, Nelder-Mead as a fallback);
rows are grouped by identical values first, so a million customers fit in
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import digamma, expit, gammaln, hyp2f1

ArrayLike = Any  # numpy array, pandas Series or a sequence of numbers

#: Bounds of every log-parameter during optimisation (parameters in [e^-15, e^15]).
LOG_PARAM_BOUND = 15.0


class NotFittedError(ValueError, AttributeError):
    """A model was used for prediction before :meth:`fit` (mirrors scikit-learn's)."""


# --------------------------------------------------------------------------- input checks


def _as_array(name: str, values: ArrayLike) -> np.ndarray:
    """A finite 1-D float64 array from ``values``; ``ValueError`` otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_rft(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate BG/NBD inputs: equal lengths, whole non-negative counts, 0 <= recency <= T."""
    x, tx, big_t = _as_array("frequency", frequency), _as_array("recency", recency), _as_array("T", T)
    n = max(x.size, tx.size, big_t.size)
    try:
        x, tx, big_t = (np.broadcast_to(a, (n,)) for a in (x, tx, big_t))
    except ValueError:
        raise ValueError("frequency, recency and T must have the same length") from None
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("frequency must hold whole numbers >= 0 (repeat purchase counts)")
    if (tx < 0).any():
        raise ValueError("recency must be >= 0")
    if (tx > big_t * (1 + 1e-9) + 1e-12).any():
        raise ValueError("recency must not exceed T (time since the first purchase)")
    return x, tx, big_t


def _require_fitted(model: Any) -> None:
    """Raise :class:`NotFittedError` unless ``model`` has ``params_``."""
    if getattr(model, "params_", None) is None:
        raise NotFittedError(
            f"This {type(model).__name__} instance is not fitted yet; call fit() before using it to predict."
        )


def _group(*cols: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Codes of identical rows across ``cols`` and the unique value of each column per code."""
    code = np.zeros(cols[0].size, dtype=np.int64)
    for col in cols:
        c, uniq = pd.factorize(col)
        code = code * len(uniq) + c
        code, _ = pd.factorize(code)
    rep = np.zeros(int(code.max()) + 1 if code.size else 0, dtype=np.int64)
    rep[code] = np.arange(code.size)  # any row of a group represents it: its values are equal
    return code, [col[rep] for col in cols]


# --------------------------------------------------------------------------- optimisation


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """Inner product of two vectors without BLAS.

    Multi-threaded BLAS dot products slow down badly (10x) when the machine's
    cores are busy; a single-threaded einsum is as fast in the common case.
    """
    return float(np.einsum("i,i->", u, v))


@dataclass
class _FitResult:
    """Outcome of a likelihood maximisation over log-parameters."""

    log_params: np.ndarray
    mean_nll: float
    converged: bool
    n_iter: int
    message: str


def _maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray, max_iter: int
) -> _FitResult:
    """Minimise a (value, gradient) objective over bounded log-parameters.

    L-BFGS-B first; if it does not report convergence, Nelder-Mead from its end
    point and a final L-BFGS-B polish.
    """
    bounds = [(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * start.size
    opts = {"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-8}
    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    n_iter = int(res.nit)
    if not res.success or not np.isfinite(res.fun):
        nm = optimize.minimize(
            lambda p: objective(p)[0],
            res.x if np.isfinite(res.fun) else start,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 200 * start.size, "xatol": 1e-8, "fatol": 1e-12},
        )
        res = optimize.minimize(objective, nm.x, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        n_iter += int(nm.nit) + int(res.nit)
    return _FitResult(np.asarray(res.x), float(res.fun), bool(res.success), n_iter, str(res.message))


# --------------------------------------------------------------------------- BG/NBD


@dataclass
class _BGData:
    """BG/NBD inputs grouped for a fast likelihood.

    Rows with ``x > 0`` are grouped by identical ``(x, t_x, T)``; rows with
    ``x == 0`` only need ``T``.  Per-frequency terms are computed once per
    distinct frequency.
    """

    ux: np.ndarray  # distinct frequencies
    ux_w: np.ndarray  # customers per distinct frequency
    x: np.ndarray  # x > 0 groups: frequency
    xi: np.ndarray  # x > 0 groups: index into ux
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray  # x > 0 groups: customers in group
    T0: np.ndarray  # x == 0 groups: distinct T
    w0: np.ndarray
    n: float


def _bg_data(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> _BGData:
    """Group BG/NBD inputs (see :class:`_BGData`)."""
    pos = x > 0
    code0, (t0,) = _group(big_t[~pos])
    w0 = np.bincount(code0, minlength=t0.size).astype(np.float64)
    code, (xp, txp, tp) = _group(x[pos], tx[pos], big_t[pos])
    w = np.bincount(code, minlength=xp.size).astype(np.float64)
    ux, xi_all = np.unique(np.concatenate([xp, np.zeros(int(w0.size > 0))]), return_inverse=True)
    ux_w = np.bincount(xi_all[: xp.size], weights=w, minlength=ux.size)
    if w0.size:
        ux_w[0] += w0.sum()
    return _BGData(ux, ux_w, xp, xi_all[: xp.size], txp, tp, w, t0, w0, float(x.size))


def _bg_frequency_terms(r: float, alpha: float, a: float, b: float, d: _BGData) -> tuple[float, np.ndarray]:
    """Log-likelihood terms A1 + A2 of FHL 2005 (they depend on the frequency only) and their gradient."""
    ux, uw = d.ux, d.ux_w
    ll = _dot(
        uw, gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)
    ) + d.n * r * np.log(alpha)
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + ux)
    grad = np.array(
        [
            _dot(uw, digamma(r + ux) - digamma(r)) + d.n * np.log(alpha),
            d.n * r / alpha,
            _dot(uw, psi_ab - psi_abx),
            _dot(uw, psi_ab + digamma(b + ux) - digamma(b) - psi_abx),
        ]
    )
    return ll, grad


def _bg_one_time_terms(r: float, alpha: float, d: _BGData) -> tuple[float, np.ndarray]:
    """Customers without repeat purchases: A3 = -r ln(alpha + T) only."""
    log_t0 = np.log(alpha + d.T0)
    grad = np.array([-_dot(d.w0, log_t0), -r * _dot(d.w0, 1.0 / (alpha + d.T0)), 0.0, 0.0])
    return -r * _dot(d.w0, log_t0), grad


def _bg_repeat_terms(r: float, alpha: float, a: float, b: float, d: _BGData) -> tuple[float, np.ndarray]:
    """Repeat buyers: log(exp(A3) + exp(A4)) and its gradient.

    ``omega`` is the posterior share of the "dropped out after the last
    purchase" branch A4; one exp serves both the softplus and the sigmoid.
    """
    rx = r + d.x
    log_T, log_tx = np.log(alpha + d.T), np.log(alpha + d.tx)
    log_ab = np.log(a) - np.log(b + np.maximum(d.ux, 1.0) - 1.0)
    a3 = -rx * log_T
    diff = log_ab[d.xi] - rx * log_tx - a3  # A4 - A3
    e = np.exp(-np.abs(diff))
    softplus = np.log1p(e) + np.maximum(diff, 0.0)  # log(1 + exp(diff))
    omega = np.where(diff >= 0, 1.0, e) / (1.0 + e) * d.w  # weighted sigmoid(diff)
    keep = d.w - omega
    ll = _dot(d.w, a3) + _dot(d.w, softplus)
    omega_by_x = np.bincount(d.xi, weights=omega, minlength=d.ux.size)
    grad = np.array(
        [
            -_dot(keep, log_T) - _dot(omega, log_tx),
            -_dot(keep * rx, 1.0 / (alpha + d.T)) - _dot(omega * rx, 1.0 / (alpha + d.tx)),
            omega.sum() / a,
            -_dot(omega_by_x, 1.0 / (b + np.maximum(d.ux, 1.0) - 1.0)),
        ]
    )
    return ll, grad


def _bg_objective(log_params: np.ndarray, d: _BGData, penalizer: float) -> tuple[float, np.ndarray]:
    """Mean negative BG/NBD log-likelihood (plus L2 penalty) and its gradient in log-parameters."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    parts = (
        _bg_frequency_terms(r, alpha, a, b, d),
        _bg_one_time_terms(r, alpha, d),
        _bg_repeat_terms(r, alpha, a, b, d),
    )
    ll = sum(p[0] for p in parts)
    grad = sum(p[1] for p in parts)
    value = -ll / d.n + penalizer * float(np.sum(params**2))
    gradient = (-grad / d.n + 2.0 * penalizer * params) * params  # chain rule for log-params
    return float(value), gradient


def _bg_start(d: _BGData) -> np.ndarray:
    """Starting log-parameters: r = a = b = 1 and alpha matching the mean purchase rate."""
    mean_rate = _dot(d.w, d.x) / max(_dot(d.w, d.T) + _dot(d.w0, d.T0), 1e-12)
    alpha = 1.0 / mean_rate if mean_rate > 0 else max(float(np.mean(d.T0)) if d.T0.size else 1.0, 1e-6)
    return np.log([1.0, np.clip(alpha, 1e-6, 1e6), 1.0, 1.0])


def _bg_warnings(log_params: np.ndarray, n_repeat: int) -> list[str]:
    """Plain-language caveats about a BG/NBD fit (no repeat buyers, parameters at a bound, no churn)."""
    out = []
    if n_repeat == 0:
        out.append(
            "no customer has a repeat purchase: the dropout parameters a and b are not "
            "identified and keep their starting values"
        )
    names = np.array(BetaGeoModel.param_names)
    at_bound = names[np.abs(log_params) > LOG_PARAM_BOUND - 1.0]
    if at_bound.size:
        out.append(
            f"parameter(s) {', '.join(at_bound)} ran to the optimiser's bound: "
            "the likelihood is flat there and their values are not identified"
        )
    _, _, a, b = np.exp(log_params)
    if a / (a + b) < 1e-3:
        out.append(
            f"mean dropout probability a/(a+b) = {a / (a + b):.2g}: the data show almost no "
            "churn, so P(alive) is close to 1 for everyone (the model reduces to the NBD)"
        )
    return out


class BetaGeoModel:
    """BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005).

    Purchase rates follow Gamma(r, alpha) across customers; after each repeat
    purchase a customer drops out with probability p ~ Beta(a, b).

    Args:
        penalizer: L2 penalty on the parameters added to the mean negative
            log-likelihood (0 = plain maximum likelihood, as published).
        max_iter: iteration limit for the optimiser.

    Attributes:
        params_: dict with ``r``, ``alpha``, ``a``, ``b`` after :meth:`fit`.
        log_likelihood_: total log-likelihood at ``params_``.
        n_customers_: number of customers fitted.
        converged_: whether the optimiser reported convergence.
        n_iter_: optimiser iterations.
        warnings_: plain-language caveats about the fit (empty when none).
    """

    param_names = ("r", "alpha", "a", "b")

    def __init__(self, penalizer: float = 0.0, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> "BetaGeoModel":
        """Fit by maximum likelihood; returns ``self``."""
        x, tx, big_t = _check_rft(frequency, recency, T)
        if x.size == 0:
            raise ValueError("cannot fit on zero customers")
        if self.penalizer < 0:
            raise ValueError("penalizer must be >= 0")
        data = _bg_data(x, tx, big_t)
        res = _maximise(lambda p: _bg_objective(p, data, self.penalizer), _bg_start(data), self.max_iter)
        values = np.exp(res.log_params)
        self.params_ = dict(zip(self.param_names, map(float, values)))
        self.log_likelihood_ = -float(_bg_objective(res.log_params, data, 0.0)[0]) * data.n
        self.n_customers_ = int(x.size)
        self.converged_ = res.converged
        self.n_iter_ = res.n_iter
        self.message_ = res.message
        self.warnings_ = _bg_warnings(res.log_params, int((x > 0).sum()))
        return self

    def _params(self) -> tuple[float, float, float, float]:
        """(r, alpha, a, b) of a fitted model."""
        _require_fitted(self)
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def _log_dropout_odds(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x); -inf where x == 0."""
        r, alpha, a, b = self._params()
        out = np.full(x.size, -np.inf)
        pos = x > 0
        xp = x[pos]
        out[pos] = (
            np.log(a)
            - np.log(b + xp - 1.0)
            + (r + xp) * (np.log(alpha + big_t[pos]) - np.log(alpha + tx[pos]))
        )
        return out

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Probability that each customer is still active at ``T`` (1 for ``frequency == 0``)."""
        _require_fitted(self)
        x, tx, big_t = _check_rft(frequency, recency, T)
        return expit(-self._log_dropout_odds(x, tx, big_t))

    def expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Conditional expected number of purchases in the next ``t`` periods (FHL 2005, eq. 10)."""
        _require_fitted(self)
        x, tx, big_t = _check_rft(frequency, recency, T)
        return next(self._expected_path([float(t)], x, tx, big_t))

    def _expected_path(
        self, times: Iterable[float], x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
    ) -> Iterable[np.ndarray]:
        """Yield conditional expected purchases in (T, T+t] for each t in ``times``.

        The Gauss hypergeometric term depends only on (x, T), so it is computed
        once per distinct pair and broadcast back.
        """
        alive = expit(-self._log_dropout_odds(x, tx, big_t))
        code, (ux, ut) = _group(x, big_t)
        for t in times:
            if t < 0:
                raise ValueError("t must be >= 0")
            yield self._unconditional_part(t, ux, ut)[code] * alive

    def _unconditional_part(self, t: float | np.ndarray, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)].

        Evaluated through Euler's transformation
        ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``
        with ``z = t/(alpha+T+t)`` and ``c = a+b+x-1``: the transformed series
        has bounded parameters, so it neither overflows for large ``x`` nor
        loses precision as ``z`` approaches 1.
        """
        r, alpha, a, b = self._params()
        if abs(a - 1.0) < 1e-9:  # removable singularity at a = 1
            a = 1.0 + 1e-9
        c = a + b + x - 1.0
        log1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t)  # log(1 - z)
        z = -np.expm1(log1mz)
        u = (a - 1.0) * log1mz
        f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        bracket = -np.expm1(u) - np.exp(u) * (f - 1.0)  # 1 - (1-z)^(a-1) F, without cancellation
        return c / (a - 1.0) * bracket

    def p_no_purchase(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Probability of no purchase in the next ``t`` periods, ``P(X(T, T+t) = 0)``.

        A dropped-out customer never buys again; an active one keeps its rate,
        whose posterior given ``(x, T)`` is Gamma(r + x, alpha + T), and drops
        out only right after a purchase.  Hence
        ``1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + t)) ** (r + x)``.
        """
        _require_fitted(self)
        if t < 0:
            raise ValueError("t must be >= 0")
        r, alpha, _, _ = self._params()
        x, tx, big_t = _check_rft(frequency, recency, T)
        alive = expit(-self._log_dropout_odds(x, tx, big_t))
        quiet = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t)))
        return 1.0 - alive + alive * quiet

    def expected_purchases_new(self, t: ArrayLike) -> np.ndarray:
        """Expected purchases in (0, t] of a customer picked at random from the population (FHL eq. 7).

        Eq. 7 is the numerator of eq. 10 with x = 0 and T = 0.
        """
        _require_fitted(self)
        tt = _as_array("t", t)
        if (tt < 0).any():
            raise ValueError("t must be >= 0")
        zeros = np.zeros_like(tt)
        return self._unconditional_part(tt, zeros, zeros)

    def fit_summary(self) -> dict[str, Any]:
        """JSON-ready description of the fit, for storing with a run."""
        _require_fitted(self)
        return {
            "model": "BG/NBD",
            "params": dict(self.params_),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "n_iter": self.n_iter_,
            "penalizer": self.penalizer,
            "aic": 2 * len(self.params_) - 2 * self.log_likelihood_,
            "warnings": list(self.warnings_),
        }


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, horizon: float) -> BetaGeoModel:
    """Fit BG/NBD by plain maximum likelihood, falling back to a small L2 penalty when degenerate.

    The plain fit is kept when P(alive) and the expected purchases over
    ``horizon`` are finite for every customer; otherwise the model is refitted
    with ``penalizer=1e-3`` (as lifetimes users do) and ``warnings_`` says so.
    """
    bg = BetaGeoModel().fit(frequency, recency, T)
    with np.errstate(all="ignore"):  # a degenerate fit shows up as non-finite scores, checked here
        finite = (
            np.isfinite(bg.expected_purchases(horizon, frequency, recency, T)).all()
            and np.isfinite(bg.p_alive(frequency, recency, T)).all()
        )
    if finite:
        return bg
    bg = BetaGeoModel(penalizer=1e-3).fit(frequency, recency, T)
    bg.warnings_ = [
        *bg.warnings_,
        "plain maximum likelihood was degenerate on this data; refitted with an L2 penalty of 0.001",
    ]
    return bg


# --------------------------------------------------------------------------- Gamma-Gamma


@dataclass
class _GGData:
    """Gamma-Gamma inputs with per-frequency and constant terms precomputed."""

    ux: np.ndarray  # distinct frequencies
    ux_w: np.ndarray
    x: np.ndarray  # per customer
    xz: np.ndarray  # x * zbar
    s_xlogz: float  # sum x ln zbar
    s_logz: float  # sum ln zbar
    n: float


def _gg_data(x: np.ndarray, zbar: np.ndarray) -> _GGData:
    """Precompute the Gamma-Gamma likelihood's data terms."""
    ux, xi = np.unique(x, return_inverse=True)
    logz = np.log(zbar)
    return _GGData(
        ux,
        np.bincount(xi, minlength=ux.size).astype(np.float64),
        x,
        x * zbar,
        _dot(x, logz),
        float(logz.sum()),
        float(x.size),
    )


def _gg_objective(log_params: np.ndarray, d: _GGData, penalizer: float) -> tuple[float, np.ndarray]:
    """Mean negative Gamma-Gamma log-likelihood and its gradient with respect to log-parameters.

    Per customer: ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln v + (px-1) ln zbar
    + px ln x - (px+q) ln(x zbar + v).
    """
    p, q, v = np.exp(log_params)
    ux, uw = d.ux, d.ux_w
    px = p * ux
    log_xz_v = np.log(d.xz + v)
    ll = (
        _dot(uw, gammaln(px + q) - gammaln(px) + px * np.log(ux))
        - d.n * (gammaln(q) - q * np.log(v))
        + p * d.s_xlogz
        - d.s_logz
        - _dot(p * d.x + q, log_xz_v)
    )
    psi = digamma(px + q)
    g_p = _dot(uw, ux * (psi - digamma(px) + np.log(ux))) + d.s_xlogz - _dot(d.x, log_xz_v)
    g_q = _dot(uw, psi) - d.n * (digamma(q) - np.log(v)) - log_xz_v.sum()
    g_v = d.n * q / v - _dot(p * d.x + q, 1.0 / (d.xz + v))
    params = np.array([p, q, v])
    value = -ll / d.n + penalizer * float(np.sum(params**2))
    gradient = (-np.array([g_p, g_q, g_v]) / d.n + 2.0 * penalizer * params) * params
    return float(value), gradient


class GammaGammaModel:
    """Gamma-Gamma model of the mean spend per transaction.

    Each spend is Gamma(p, nu); nu varies across customers as Gamma(q, v).
    Assumes spend is independent of purchase frequency.

    Args:
        penalizer: L2 penalty on the parameters (0 = plain maximum likelihood).
        max_iter: iteration limit for the optimiser.

    Attributes:
        params_: dict with ``p``, ``q``, ``v`` after :meth:`fit`.
        log_likelihood_, n_customers_ (repeat buyers used), n_ignored_,
        converged_, n_iter_.
    """

    param_names = ("p", "q", "v")

    def __init__(self, penalizer: float = 0.0, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> "GammaGammaModel":
        """Fit on repeat buyers (``frequency > 0`` and ``monetary_value > 0``; others are ignored)."""
        x, m = _as_array("frequency", frequency), _as_array("monetary_value", monetary_value)
        if x.size != m.size:
            raise ValueError("frequency and monetary_value must have the same length")
        use = (x > 0) & (m > 0)
        if use.sum() < 2:
            raise ValueError("the Gamma-Gamma model needs at least two repeat buyers with spend > 0")
        if self.penalizer < 0:
            raise ValueError("penalizer must be >= 0")
        data = _gg_data(x[use], m[use])
        start = np.log([1.0, 2.0, float(np.mean(m[use]))])
        res = _maximise(lambda p: _gg_objective(p, data, self.penalizer), start, self.max_iter)
        self.params_ = dict(zip(self.param_names, map(float, np.exp(res.log_params))))
        self.log_likelihood_ = -float(_gg_objective(res.log_params, data, 0.0)[0]) * data.n
        self.n_customers_ = int(use.sum())
        self.n_ignored_ = int(x.size - use.sum())
        self.converged_ = res.converged
        self.n_iter_ = res.n_iter
        self.message_ = res.message
        return self

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray:
        """Conditional expected mean spend per transaction, p(v + x zbar)/(px + q - 1).

        Customers without repeat purchases get the population mean ``p v / (q - 1)``.
        """
        _require_fitted(self)
        p, q, v = (self.params_[k] for k in self.param_names)
        if q <= 1:
            raise ValueError(f"q = {q:.3g} <= 1: the fitted spend distribution has no finite mean")
        x, m = _as_array("frequency", frequency), _as_array("monetary_value", monetary_value)
        if x.size != m.size:
            raise ValueError("frequency and monetary_value must have the same length")
        xz = np.where(x > 0, x * m, 0.0)
        return p * (v + xz) / (p * np.maximum(x, 0.0) + q - 1.0)

    def fit_summary(self) -> dict[str, Any]:
        """JSON-ready description of the fit, for storing with a run."""
        _require_fitted(self)
        p, q, v = (self.params_[k] for k in self.param_names)
        return {
            "model": "Gamma-Gamma",
            "params": dict(self.params_),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "n_ignored": self.n_ignored_,
            "converged": self.converged_,
            "n_iter": self.n_iter_,
            "penalizer": self.penalizer,
            "population_mean_spend": p * v / (q - 1.0) if q > 1 else None,
        }


# --------------------------------------------------------------------------- CLV


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gg: GammaGammaModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    horizon_periods: float,
    discount_rate_per_period: float = 0.0,
    step: float = 1.0,
) -> np.ndarray:
    """Discounted expected value of each customer's purchases over the next ``horizon_periods``.

    Sums, over steps ending at ``t_k = min(k * step, horizon)``, the expected
    purchases in the step (BG/NBD) times the expected spend per purchase
    (Gamma-Gamma) times the discount factor ``(1 + rate) ** -t_k``.  Periods are
    the models' time unit (the rate is per period, e.g. weekly for weeks).
    """
    if horizon_periods <= 0 or step <= 0:
        raise ValueError("horizon_periods and step must be > 0")
    if discount_rate_per_period <= -1:
        raise ValueError("discount_rate_per_period must be > -1")
    x, tx, big_t = _check_rft(frequency, recency, T)
    spend = gg.expected_spend(x, monetary)
    n_steps = int(np.ceil(horizon_periods / step - 1e-9))
    times = np.minimum(np.arange(1, n_steps + 1) * step, horizon_periods)
    value = np.zeros(x.size)
    previous = np.zeros(x.size)
    for t, expected in zip(times, bgnbd._expected_path(times, x, tx, big_t)):
        value += (expected - previous) * (1.0 + discount_rate_per_period) ** -t
        previous = expected
    return value * spend


# --------------------------------------------------------------------------- simulation


def sample_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    horizon: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate BG/NBD customers observed over (0, T] and then for ``horizon`` more periods.

    Each customer gets a rate lambda ~ Gamma(r, 1/alpha) and a dropout
    probability p ~ Beta(a, b); the number of repeat purchases before dropping
    out is Geometric(p), and repeat purchases arrive as a Poisson(lambda)
    process.  ``T`` is a scalar or one value per customer.

    Returns:
        ``frequency``, ``recency``, ``T`` (calibration summary), ``n_holdout``
        (purchases in (T, T + horizon]), the true ``lam`` and ``p`` and
        ``alive`` (still active at T).
    """
    rng = np.random.default_rng(seed)
    big_t = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    lifetime = rng.geometric(np.clip(p, 1e-12, 1.0))  # repeat purchases until dropout
    arrivals = rng.poisson(lam * (big_t + horizon))  # purchases if the customer never dropped out
    in_cal = rng.binomial(arrivals, big_t / (big_t + horizon))  # arrivals falling in (0, T]
    x = np.minimum(in_cal, lifetime)
    # the x-th of `in_cal` uniform arrival times on (0, T] is T * Beta(x, in_cal - x + 1)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = big_t[pos] * rng.beta(x[pos], in_cal[pos] - x[pos] + 1)
    return pd.DataFrame(
        {
            "frequency": x.astype(np.float64),
            "recency": tx,
            "T": big_t,
            "n_holdout": np.minimum(arrivals, lifetime) - x,
            "lam": lam,
            "p": p,
            "alive": in_cal < lifetime,
        }
    )


def sample_gamma_gamma(
    frequency: ArrayLike, p: float, q: float, v: float, seed: int | np.random.Generator | None = None
) -> np.ndarray:
    """Simulate each customer's mean spend over ``frequency`` purchases (Gamma-Gamma; 0 if none)."""
    rng = np.random.default_rng(seed)
    x = _as_array("frequency", frequency)
    nu = rng.gamma(q, 1.0 / v, x.size)
    out = np.zeros(x.size)
    pos = x > 0
    out[pos] = rng.gamma(p * x[pos], 1.0 / (nu[pos] * x[pos]))
    return out
