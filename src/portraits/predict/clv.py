"""Customer lifetime value (R5.7): BG/NBD and Pareto/NBD for the number of purchases,
Gamma-Gamma for their value, fitted by maximum likelihood on the RFM summary
(``portraits.predict.summary.purchase_summary``).

Inputs per customer, in one time unit (days, weeks: whatever the summary used):
``frequency`` x (repeat purchases), ``recency`` t_x (first to last purchase) and ``T``
(first purchase to the end of the calibration period); ``monetary`` is the mean value of
the repeat purchases.

The likelihoods are written here rather than taken from a package. ``lifetimes`` is
archived (no release since 2020; it no longer imports with current pandas and NumPy, so
it is only a dev dependency, for its CDNOW data files). Weighed as well: ``btyd`` (a fork
of it, also unmaintained, moving to PyMC) and ``pymc-marketing`` (Bayesian, with PyMC and
PyTensor as heavy dependencies, and MCMC too slow for a million customers). The models
have closed-form likelihoods, so about a hundred lines of NumPy/SciPy give the maximum
likelihood estimates, checked against the published CDNOW figures in the tests.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way" (BG/NBD)
and "RFM and CLV: using iso-value curves" (Gamma-Gamma); Schmittlein, Morrison & Colombo
(1987) with Fader & Hardie (2005), "A note on deriving the Pareto/NBD model" (its
likelihood with the A0 term).
"""

# T (the calibration period's length) keeps its capital, as in the papers and lifetimes.
# ruff: noqa: N803, N806

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1

Array = NDArray[np.float64]
LogLikelihood = Callable[[Array], Array]


def _as_float(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _bgnbd_log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, a, b = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    stays = -(r + x) * np.log(alpha + T)
    # The customer dropped out just after the last purchase: only possible once they bought.
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x),
                        -np.inf)
    out: Array = head + np.logaddexp(stays, left)
    return out


def _bgnbd_tail(params: Array, t: Array, x: Array, T: Array) -> Array:
    """(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) with z = t/(alpha+T+t), the hypergeometric
    part of BG/NBD's expectations. Where SciPy's series gives no finite value (very large
    x and t), Euler's transformation (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z) does; it
    fails in turn for very large a and b (a nearly fixed dropout probability)."""
    r, alpha, a, b = params
    t, x, T = np.broadcast_arrays(t, x, T)
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        tail = np.asarray((1 - z) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        bad = ~np.isfinite(tail)
        if bad.any():
            zb, xb = z[bad], x[bad]
            tail[bad] = (1 - zb) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + xb - 1, zb)
    out: Array = tail
    return out


def _pareto_log_a0(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """log A0 of Fader & Hardie's note. Each branch's 2F1 is taken through Euler's
    transformation, so that its first parameter is 1 (no overflow for large x). The
    branch keeps |z| < 1; where SciPy's series still gives no finite value (z very near
    1 with a large x: a huge alpha/beta ratio), the other branch, valid for any z < 1 by
    analytic continuation, is tried."""
    r, alpha, s, beta = params
    n = r + s + x

    def log_term(at: Array, alpha_first: bool) -> Array:
        if alpha_first:  # 2F1(n, s+1; n+1; z) = (1-z)^(-s) 2F1(1, r+x; n+1; z)
            low, second, power = alpha, r + x, -s
        else:  # 2F1(n, r+x; n+1; z) = (1-z)^(1-r-x) 2F1(1, s+1; n+1; z)
            low, second, power = beta, s + 1, 1 - r - x
        z = ((alpha - beta) if alpha_first else (beta - alpha)) / (low + at)
        value: Array = (power * np.log1p(-z) + np.log(hyp2f1(1.0, second, n + 1, z))
                        - n * np.log(low + at))
        return value

    with np.errstate(all="ignore"):
        upper, lower = log_term(t_x, alpha >= beta), log_term(T, alpha >= beta)
        bad = ~(np.isfinite(upper) & np.isfinite(lower))
        if bad.any():
            upper = np.where(bad, log_term(t_x, alpha < beta), upper)
            lower = np.where(bad, log_term(T, alpha < beta), lower)
        out: Array = upper + np.log1p(-np.exp(np.minimum(lower - upper, 0.0)))
    return out


def _pareto_log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, s, beta = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    gone = np.log(s) - np.log(r + s + x) + _pareto_log_a0(params, x, t_x, T)
    out: Array = head + np.logaddexp(alive, gone)
    return out


def _gamma_gamma_log_likelihood(params: Array, x: Array, m: Array) -> Array:
    p, q, v = params
    px = p * x
    out: Array = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
                  + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m))
    return out


def _maximise(log_likelihood: LogLikelihood, weights: Array, starts: list[Array],
              penalizer: float) -> tuple[Array, float]:
    """Maximum likelihood over log-parameters: L-BFGS-B from each start, then Nelder-Mead
    from the best and L-BFGS-B again. Deterministic: fixed starts, no random restarts."""
    total = float(weights.sum())

    def objective(log_params: Array) -> float:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):  # far from the optimum, terms may overflow
            value = float(np.dot(weights, log_likelihood(params))) / total
        if not np.isfinite(value):
            return 1e300
        return -value + penalizer * float(np.sum(params ** 2))

    def gradient_search(start: Array) -> Any:
        return minimize(objective, start, method="L-BFGS-B",
                        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2_000})

    best = min((gradient_search(np.log(start)) for start in starts), key=lambda r: r.fun)
    # Nelder-Mead from there copes with the walls where the likelihood overflows, and
    # the gradient search polishes what it finds.
    simplex = minimize(objective, best.x, method="Nelder-Mead",
                       options={"xatol": 1e-7, "fatol": 1e-12, "maxfev": 2_000,
                                "adaptive": True})
    polished = gradient_search(simplex.x)
    chosen = min((best, simplex, polished), key=lambda r: r.fun)
    params = np.exp(chosen.x)
    return params, float(np.dot(weights, log_likelihood(params)))


def _weights(weights: ArrayLike | None, like: Array) -> Array:
    if weights is None:
        return np.ones_like(like)
    return np.broadcast_to(np.asarray(weights, dtype=np.float64), like.shape).copy()


def _discount_periods(horizon_days: float, period_days: float) -> Array:
    """The end day of each period up to the horizon (the last one may be shorter)."""
    ends = np.arange(period_days, horizon_days + period_days, period_days, dtype=np.float64)
    out: Array = np.minimum(ends, horizon_days)
    return out


# Below this q, Gamma-Gamma's mean spend p·v/(q−1) is dominated by the tail (q = 1.1 makes
# it ten times p·v); expected spend then falls back to observed means (GammaGamma docs).
HEAVY_TAIL_Q = 1.5


@dataclass(frozen=True)
class BGNBD:
    """A fitted BG/NBD model: purchases at rate λ ~ Gamma(r, alpha) while alive; after
    each purchase the customer drops out with probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def _params(self) -> Array:
        return np.array([self.r, self.alpha, self.a, self.b])

    def _log_dead_odds(self, x: Array, t_x: Array, T: Array) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            odds: Array = np.where(
                x > 0, np.log(self.a) - np.log(self.b + x - 1)
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)), -np.inf)
        return odds

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Probability that each customer is still alive at ``T``."""
        x, t_x, t_end = _as_float(frequency, recency, T)
        out: Array = expit(-self._log_dead_odds(x, t_x, t_end))
        return out

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array:
        """E[purchases in (T, T + t]] given each customer's history."""
        t, x, t_x, t_end = _as_float(t, frequency, recency, T)
        a, b = self.a, self.b
        tail = _bgnbd_tail(self._params(), t, x, t_end)
        out: Array = ((a + b + x - 1) / (a - 1) * (1 - tail)
                      * expit(-self._log_dead_odds(x, t_x, t_end)))
        return out

    def expected_purchases_new(self, t: ArrayLike) -> Array:
        """E[X(t)]: purchases of a new customer in their first ``t`` units after the first."""
        (t,) = _as_float(t)
        a, b = self.a, self.b
        tail = _bgnbd_tail(self._params(), t, np.zeros_like(t), np.zeros_like(t))
        out: Array = (a + b - 1) / (a - 1) * (1 - tail)
        return out


@dataclass(frozen=True)
class ParetoNBD:
    """A fitted Pareto/NBD model: purchases at rate λ ~ Gamma(r, alpha), lifetimes
    exponential with rate μ ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float

    def _params(self) -> Array:
        return np.array([self.r, self.alpha, self.s, self.beta])

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Probability that each customer is still alive at ``T``."""
        x, t_x, t_end = _as_float(frequency, recency, T)
        r, alpha, s, beta = self._params()
        odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + t_end)
                + s * np.log(beta + t_end) + _pareto_log_a0(self._params(), x, t_x, t_end))
        out: Array = expit(-odds)
        return out

    def _rate_integral(self, t: Array, T: Array) -> Array:
        """(1 - ((beta+T)/(beta+T+t))^(s-1)) / (s-1), its limit log(...) at s = 1."""
        log_ratio = np.log(self.beta + T) - np.log(self.beta + T + t)
        if abs(self.s - 1) < 1e-9:
            out: Array = -log_ratio
            return out
        out = -np.expm1((self.s - 1) * log_ratio) / (self.s - 1)
        return out

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array:
        """E[purchases in (T, T + t]] given each customer's history."""
        t, x, t_x, t_end = _as_float(t, frequency, recency, T)
        rate = (self.r + x) * (self.beta + t_end) / (self.alpha + t_end)
        out: Array = rate * self._rate_integral(t, t_end) * self.p_alive(x, t_x, t_end)
        return out

    def expected_purchases_new(self, t: ArrayLike) -> Array:
        """E[X(t)]: purchases of a new customer in their first ``t`` units."""
        (t,) = _as_float(t)
        out: Array = self.r * self.beta / self.alpha * self._rate_integral(t, np.zeros_like(t))
        return out


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model: each purchase's value ~ Gamma(p, ν), ν ~ Gamma(q, v)."""

    p: float
    q: float
    v: float
    log_likelihood: float
    observed_mean: float = float("nan")

    @property
    def heavy_tailed(self) -> bool:
        """Whether q is so close to 1 (or below) that the model's mean spend p·v/(q−1) is
        unstable or undefined: spend across customers is not Gamma-shaped (several price
        levels mixed, as in a shop selling phones and snacks)."""
        return self.q <= HEAVY_TAIL_Q

    @property
    def population_mean(self) -> float:
        """The mean value of a purchase over all customers: p·v/(q−1), or the observed
        mean of the customers fitted on when the fit is heavy-tailed."""
        if self.heavy_tailed and np.isfinite(self.observed_mean):
            return self.observed_mean
        return self.p * self.v / (self.q - 1)

    def expected_spend(self, frequency: ArrayLike, monetary: ArrayLike) -> Array:
        """E[value of a purchase] for each customer: the population mean shrunk towards
        their own mean by their number of repeat purchases (the mean for frequency 0).

        When the fit is :attr:`heavy_tailed` the model's weights do not hold; the
        customer's own mean is then shrunk towards the observed mean as if the observed
        mean were one more purchase, (x·m + mean) / (x + 1).
        """
        x, m = _as_float(frequency, monetary)
        x = np.maximum(x, 0.0)
        own = np.where(x > 0, m, 0.0)
        if self.heavy_tailed and np.isfinite(self.observed_mean):
            shrunk: Array = (x * own + self.observed_mean) / (x + 1)
            return shrunk
        weight = self.p * x / (self.p * x + self.q - 1)
        out: Array = (1 - weight) * self.population_mean + weight * own
        return out


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
              weights: ArrayLike | None = None, penalizer: float = 0.0) -> BGNBD:
    """Fit a BG/NBD model by maximum likelihood.

    Args:
        frequency: Repeat purchases per customer (or per row of compressed data).
        recency: First to last purchase, in the model's unit.
        T: First purchase to the end of the calibration period, same unit.
        weights: Customers each row stands for (compressed data); one each when omitted.
        penalizer: L2 penalty on the parameters (0: plain maximum likelihood).

    Returns:
        The parameters and the (weighted) log-likelihood.

    Example:
        >>> fit_bgnbd(s.frequency, s.recency, s.T).p_alive(2, 30.4, 38.9)  # doctest: +SKIP
    """
    x, t_x, t_end = _as_float(frequency, recency, T)
    starts = [np.array([1.0, 1.0, 1.0, 1.0]),
              np.array([0.5, float(np.mean(t_end)) / 4 + 1, 0.8, 2.5])]
    params, ll = _maximise(lambda p: _bgnbd_log_likelihood(p, x, t_x, t_end),
                           _weights(weights, x), starts, penalizer)
    r, alpha, a, b = map(float, params)
    return BGNBD(r, alpha, a, b, ll)


def fit_pareto_nbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                   weights: ArrayLike | None = None, penalizer: float = 0.0) -> ParetoNBD:
    """Fit a Pareto/NBD model by maximum likelihood (arguments as :func:`fit_bgnbd`)."""
    x, t_x, t_end = _as_float(frequency, recency, T)
    scale = float(np.mean(t_end)) / 4 + 1
    starts = [np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.5, scale, 0.5, scale])]
    params, ll = _maximise(lambda p: _pareto_log_likelihood(p, x, t_x, t_end),
                           _weights(weights, x), starts, penalizer)
    r, alpha, s, beta = map(float, params)
    return ParetoNBD(r, alpha, s, beta, ll)


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike,
                    weights: ArrayLike | None = None, penalizer: float = 0.0) -> GammaGamma:
    """Fit the Gamma-Gamma spend model on the customers with repeat purchases.

    Args:
        frequency: Repeat purchases per customer; rows with none (or with a mean spend
            that is not positive) are left out of the fit.
        monetary: Mean value of each customer's repeat purchases.
        weights: Customers each row stands for; one each when omitted.
        penalizer: L2 penalty on the parameters.

    Returns:
        p, q, v and the log-likelihood over the rows fitted on.
    """
    x, m = _as_float(frequency, monetary)
    w = _weights(weights, x)
    keep = (x > 0) & (m > 0)
    x, m, w = x[keep], m[keep], w[keep]
    starts = [np.array([1.0, 1.0, 1.0]), np.array([5.0, 3.0, float(np.mean(m))])]
    params, ll = _maximise(lambda p: _gamma_gamma_log_likelihood(p, x, m), w, starts,
                           penalizer)
    p, q, v = map(float, params)
    observed = float(np.average(m, weights=w * x)) if x.size else float("nan")
    return GammaGamma(p, q, v, ll, observed)


def lifetime_value(transactions: BGNBD | ParetoNBD, spend: GammaGamma, frequency: ArrayLike,
                   recency: ArrayLike, T: ArrayLike, monetary: ArrayLike,
                   horizon_days: float, discount_rate_annual: float = 0.1,
                   margin: float = 1.0, period_days: float = 30,
                   unit_days: float = 1.0) -> Array:
    """Discounted value of each customer's expected purchases over the next ``horizon_days``.

    The horizon is cut into periods of ``period_days``; each period's expected purchases
    times the expected value of a purchase times ``margin`` is discounted at
    ``discount_rate_annual`` from the period's end.

    Args:
        transactions: A fitted BG/NBD or Pareto/NBD model.
        spend: A fitted Gamma-Gamma model.
        frequency: Repeat purchases; recency, T: in units of ``unit_days`` days.
        recency: First to last purchase.
        T: First purchase to the end of the calibration period.
        monetary: Mean value of the repeat purchases.
        horizon_days: How far ahead, in days.
        discount_rate_annual: Yearly discount rate.
        margin: Share of revenue that is profit (1: value is revenue).
        period_days: Length of a discounting period, in days.
        unit_days: Days per unit of ``recency`` and ``T`` (7 for weeks).

    Returns:
        The lifetime value per customer, in the currency of ``monetary``.
    """
    x, t_x, t_end = _as_float(frequency, recency, T)
    value = spend.expected_spend(x, monetary) * margin
    total = np.zeros(np.broadcast(x, t_x, t_end).shape)
    before = np.zeros_like(total)
    for end in _discount_periods(horizon_days, period_days):
        upto = transactions.expected_purchases(end / unit_days, x, t_x, t_end)
        total += (upto - before) / (1 + discount_rate_annual) ** (end / 365)
        before = upto
    out: Array = total * value
    return out
