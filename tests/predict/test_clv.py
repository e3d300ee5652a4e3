"""Lifetime value: the published CDNOW estimates, the models' expectations against
closed forms written out here, simulation and numeric integration, the purchase summary
counted by hand, and the planted churners and value layers of the synthetic shop."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import integrate

from portraits.predict.clv import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    lifetime_value,
)
from portraits.predict.summary import evaluate_clv, holdout_purchases, purchase_summary
from tests.conftest import NOW
from tests.predict.conftest import Shop

# Fader, Hardie & Lee (2005): BG/NBD and Gamma-Gamma; Fader & Hardie's Pareto/NBD note.
BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO_CDNOW = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
GAMMA_GAMMA_CDNOW = {"p": 6.25, "q": 3.74, "v": 15.44}


def _datasets() -> Path:
    """The CDNOW files shipped with ``lifetimes``, found without importing it (it no
    longer imports with current pandas and NumPy)."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The 2,357 CDNOW customers (weeks), with the mean value of their repeat purchases."""
    summary = pd.read_csv(_datasets() / "cdnow_customers_summary.csv")
    spend = pd.read_csv(_datasets() / "cdnow_customers_summary_with_transactions.csv")
    assert len(summary) == 2357 and (summary["frequency"] == spend["x"]).all()
    return summary.assign(monetary=spend["zbar"])


@pytest.fixture(scope="module")
def cdnow_models(cdnow: pd.DataFrame) -> tuple[BGNBD, ParetoNBD, GammaGamma]:
    """The three models fitted on CDNOW."""
    x, t_x, t_end = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    return (fit_bgnbd(x, t_x, t_end), fit_pareto_nbd(x, t_x, t_end),
            fit_gamma_gamma(x, cdnow["monetary"]))


def _three_figures(model: Any, published: dict[str, float]) -> None:
    for name, value in published.items():
        assert f"{getattr(model, name):.3g}" == f"{value:.3g}", name


def test_cdnow_estimates_match_the_published_ones(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    bgnbd, pareto, spend = cdnow_models
    _three_figures(bgnbd, BGNBD_CDNOW)
    assert round(bgnbd.log_likelihood, 1) == -9582.4
    _three_figures(pareto, PARETO_CDNOW)
    assert round(pareto.log_likelihood, 1) == -9595.0
    # 946 repeat buyers. The maximum on the file's means (rounded to cents) is
    # v = 15.448 (15.45 to four figures, as lifetimes reports); the paper gives 15.44.
    _three_figures(spend, GAMMA_GAMMA_CDNOW)
    assert spend.v == pytest.approx(15.448, abs=5e-4)


def test_weights_stand_for_repeated_rows(cdnow: pd.DataFrame) -> None:
    grouped = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    compressed = fit_bgnbd(grouped["frequency"], grouped["recency"], grouped["T"],
                           weights=grouped["n"])
    assert len(grouped) < len(cdnow)
    _three_figures(compressed, BGNBD_CDNOW)
    assert compressed.log_likelihood == pytest.approx(-9582.43, abs=0.01)


def test_bgnbd_p_alive_closed_form(cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    model = cdnow_models[0]
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    for x, t_x, t_end in [(2, 30.43, 38.86), (1, 1.71, 38.86), (0, 0.0, 38.86),
                          (7, 29.43, 35.0), (15, 38.0, 38.86)]:
        expected = 1.0 if x == 0 else 1 / (
            1 + a / (b + x - 1) * ((alpha + t_end) / (alpha + t_x)) ** (r + x))
        assert model.p_alive(x, t_x, t_end) == pytest.approx(expected, rel=1e-12)


def _simulate_bgnbd(model: BGNBD, t: float, customers: int, seed: int) -> np.ndarray:
    """Purchases in (0, t] of simulated BG/NBD customers: a Poisson count, cut at the
    purchase after which they drop out (geometric)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(model.r, 1 / model.alpha, customers)
    dropout = rng.beta(model.a, model.b, customers)
    return np.minimum(rng.poisson(rate * t), rng.geometric(dropout))


def _simulate_pareto(model: ParetoNBD, t: float, customers: int, seed: int) -> np.ndarray:
    """Purchases in (0, t] of simulated Pareto/NBD customers alive for an exponential time."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(model.r, 1 / model.alpha, customers)
    lifetime = rng.exponential(1 / rng.gamma(model.s, 1 / model.beta, customers))
    return rng.poisson(rate * np.minimum(t, lifetime))


@pytest.mark.parametrize("t", [39.0, 78.0])
def test_new_customer_expectations_match_simulation(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma], t: float) -> None:
    bgnbd, pareto, _ = cdnow_models
    simulated = _simulate_bgnbd(bgnbd, t, 200_000, seed=1).mean()
    assert float(bgnbd.expected_purchases_new(t)) == pytest.approx(simulated, rel=0.01)
    simulated = _simulate_pareto(pareto, t, 200_000, seed=2).mean()
    assert float(pareto.expected_purchases_new(t)) == pytest.approx(simulated, rel=0.01)


def _gamma_weighted(f: Callable[[float], float], shape: float, upper: float) -> float:
    """∫_0^upper u^(shape-1) f(u) du, the endpoint singularity handled by QUADPACK's QAWS."""
    value, _ = integrate.quad(f, 0, upper, weight="alg", wvar=(shape - 1, 0), epsabs=0,
                              epsrel=1e-9, limit=200)
    return float(value)


def _bgnbd_by_integration(model: BGNBD, t: float, x: int, t_x: float, t_end: float) -> float:
    """E[Y(t) | x, t_x, T] as a ratio of two integrals over the posterior of (λ, p);
    λ = u / (α + T), so that the integrands are of order one."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    back = (alpha + t_x) / (alpha + t_end)
    upper = (r + x + 60) / back

    def over_rate(p: float, numerator: bool) -> float:
        def integrand(u: float) -> float:
            alive = (1 - p) ** x * math.exp(-u)
            if numerator:  # (1 - e^(-λpt)) / p, which is λt at p = 0
                spent = u * t / (alpha + t_end)
                return alive * (spent if p == 0 else -math.expm1(-spent * p) / p)
            left = p * (1 - p) ** (x - 1) * math.exp(-u * back) if x > 0 else 0.0
            return alive + left
        return _gamma_weighted(integrand, r + x, upper)

    def over_dropout(numerator: bool) -> float:
        value, _ = integrate.quad(lambda p: over_rate(p, numerator), 0, 1, weight="alg",
                                  wvar=(a - 1, b - 1), epsabs=0, epsrel=1e-10)
        return float(value)

    return over_dropout(True) / over_dropout(False)


@pytest.mark.parametrize(("x", "t_x", "t_end"), [(2, 30.43, 38.86), (0, 0.0, 38.86),
                                                 (6, 20.0, 36.0)])
def test_bgnbd_conditional_expectation_matches_integration(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma], x: int, t_x: float,
        t_end: float) -> None:
    model = cdnow_models[0]
    expected = _bgnbd_by_integration(model, 39.0, x, t_x, t_end)
    assert float(model.expected_purchases(39.0, x, t_x, t_end)) == pytest.approx(
        expected, rel=1e-6)


def _pareto_alive_by_integration(model: ParetoNBD, x: int, t_x: float, t_end: float) -> float:
    """P(alive | x, t_x, T) of the Pareto/NBD as a ratio of integrals over (λ, μ)."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta

    def over_rate(mu: float, alive_only: bool) -> float:
        def integrand(lam: float) -> float:
            both = lam + mu
            alive = math.exp(-both * t_end - alpha * lam)
            if alive_only:
                return alive
            gone = 0.0 if mu == 0 else mu / both * (math.exp(-both * t_x)
                                                    - math.exp(-both * t_end))
            return alive + gone * math.exp(-alpha * lam)
        return _gamma_weighted(integrand, r + x, (r + x + 60) / alpha)

    def over_dropout(alive_only: bool) -> float:
        return _gamma_weighted(lambda mu: over_rate(mu, alive_only) * math.exp(-beta * mu),
                               s, (s + 60) / beta)

    return over_dropout(True) / over_dropout(False)


@pytest.mark.parametrize(("x", "t_x", "t_end"), [(2, 30.43, 38.86), (1, 1.71, 38.86),
                                                 (5, 10.0, 38.0)])
def test_pareto_p_alive_matches_integration(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma], x: int, t_x: float,
        t_end: float) -> None:
    model = cdnow_models[1]
    expected = _pareto_alive_by_integration(model, x, t_x, t_end)
    assert float(model.p_alive(x, t_x, t_end)) == pytest.approx(expected, rel=1e-6)


def test_gamma_gamma_expected_spend_is_the_weighted_mean(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    spend = cdnow_models[2]
    p, q, v = spend.p, spend.q, spend.v
    x = np.array([0, 1, 2, 10])
    m = np.array([0.0, 20.0, 35.5, 12.0])
    expected = np.where(x > 0, p * (v + x * m) / (p * x + q - 1), p * v / (q - 1))
    np.testing.assert_allclose(spend.expected_spend(x, m), expected, rtol=1e-12)


def test_large_histories_give_finite_values(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    x, t_x, t_end = (np.array(v, dtype=float) for v in np.meshgrid(
        [0, 1, 5, 50, 200], [0.0, 1.0, 500.0, 1999.0], [10.0, 500.0, 2000.0]))
    t_x = np.where(x == 0, 0.0, np.minimum(t_x, t_end))
    bgnbd, pareto, spend = cdnow_models
    for model in (bgnbd, pareto):
        alive = model.p_alive(x, t_x, t_end)
        assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all()
        expected = model.expected_purchases(52.0, x, t_x, t_end)
        assert np.isfinite(expected).all() and (expected >= 0).all()
        value = lifetime_value(model, spend, x, t_x, t_end, np.full_like(x, 30.0), 730,
                               unit_days=7)
        assert np.isfinite(value).all()
    # More purchases in the same span: more expected; the same purchases long ago: fewer.
    assert bgnbd.expected_purchases(52.0, 200, 1999, 2000) > bgnbd.expected_purchases(
        52.0, 50, 1999, 2000)
    assert pareto.p_alive(200, 500, 2000) < pareto.p_alive(200, 1999, 2000)


def test_lifetime_value_discounts_each_period(
        cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    bgnbd, _, spend = cdnow_models
    x, t_x, t_end, m = 3, 30.0, 38.0, 25.0
    ends = np.array([30, 60, 90, 100]) / 7
    cumulative = bgnbd.expected_purchases(ends, x, t_x, t_end)
    per_period = np.diff(np.concatenate([[0.0], cumulative]))
    discount = 1.1 ** (np.array([30, 60, 90, 100]) / 365)
    expected = (per_period / discount).sum() * float(spend.expected_spend(x, m)) * 0.3
    value = lifetime_value(bgnbd, spend, x, t_x, t_end, m, horizon_days=100, margin=0.3,
                           unit_days=7)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    undiscounted = lifetime_value(bgnbd, spend, x, t_x, t_end, m, 100, 0.0, unit_days=7)
    assert float(undiscounted) == pytest.approx(
        cumulative[-1] * float(spend.expected_spend(x, m)), rel=1e-12)


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, 1, hour) + timedelta(days=day)


ORDERS = [  # customer, day, hour, status, amount
    ("C1", 0, 9, "paid", 10.0), ("C1", 0, 18, None, 20.0),  # one purchase day of 30
    ("C1", 4, 12, "paid", 30.0), ("C1", 4, 13, "cancelled", 100.0),
    ("C1", 11, 12, "paid", 40.0), ("C1", 39, 12, "paid", 50.0),  # day 39: after as_of
    ("C2", 9, 23, "paid", 15.0),  # one order: frequency 0
    ("C3", 2, 12, "refunded", 99.0),  # nothing counted: absent
    ("C4", 45, 12, "paid", 60.0), ("C4", 46, 12, "paid", 70.0),  # only after as_of
    (None, 3, 12, "paid", 5.0),
]
AS_OF = _at(19, 12)


def _orders() -> ibis.Table:
    return ibis.memtable(pd.DataFrame({
        "order_id": [f"O{i}" for i in range(len(ORDERS))],
        "customer_id": [o[0] for o in ORDERS],
        "ordered_at": [_at(o[1], o[2]) for o in ORDERS],
        "status": [o[3] for o in ORDERS],
        "total_amount": [o[4] for o in ORDERS]}))


def test_purchase_summary_counts_purchase_days(con: Any) -> None:
    got = con.to_pyarrow(purchase_summary(_orders(), AS_OF)).to_pylist()
    assert sorted(got, key=lambda row: row["customer_id"]) == [
        {"customer_id": "C1", "frequency": 2, "recency": 11.0, "T": 19.0,
         "monetary": 35.0, "orders": 4, "spend": 100.0},
        {"customer_id": "C2", "frequency": 0, "recency": 0.0, "T": 10.0,
         "monetary": 0.0, "orders": 1, "spend": 15.0},
    ]
    weeks = con.to_pyarrow(purchase_summary(_orders(), AS_OF, unit_days=7)).to_pylist()
    c1 = next(row for row in weeks if row["customer_id"] == "C1")
    assert c1["recency"] == pytest.approx(11 / 7) and c1["T"] == pytest.approx(19 / 7)


def test_holdout_purchases(con: Any) -> None:
    got = con.to_pyarrow(holdout_purchases(_orders(), AS_OF, _at(45, 23))).to_pylist()
    assert sorted(got, key=lambda row: row["customer_id"]) == [
        {"customer_id": "C1", "purchases": 1, "spend": 50.0},
        {"customer_id": "C4", "purchases": 1, "spend": 60.0}]


def test_evaluation_report(cdnow_models: tuple[BGNBD, ParetoNBD, GammaGamma]) -> None:
    bgnbd, _, spend = cdnow_models
    calibration = pa.table({"customer_id": ["A", "B", "C"], "frequency": [0, 2, 9],
                            "recency": [0.0, 20.0, 30.0], "T": [38.0, 38.0, 38.0],
                            "monetary": [0.0, 20.0, 15.0]})
    holdout = pa.table({"customer_id": ["B", "Z"], "purchases": [3, 1],
                        "spend": [75.0, 10.0]})  # Z is new in the holdout: not predicted
    report = evaluate_clv(calibration, holdout, bgnbd, spend, holdout_days=39 * 7,
                          unit_days=7)
    predicted = bgnbd.expected_purchases(39, [0, 2, 9], [0, 20, 30], 38)
    assert report.customers == 3 and report.actual_purchases == 3 and report.buyers == 1
    assert report.predicted_purchases == pytest.approx(predicted.sum())
    assert report.mae == pytest.approx(np.abs(predicted - [0, 3, 0]).mean())
    assert report.actual_spend == 25.0
    assert report.predicted_spend == pytest.approx(float(spend.expected_spend(2, 20.0)))
    rows = report.rows()
    assert [row["frequency"] for row in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert rows[7]["customers"] == 1 and rows[2]["actual_purchases"] == 3
    json.dumps(report.to_dict(), allow_nan=False)
    english, chinese = report.summary("en"), report.summary("zh-CN")
    assert len(english) == len(chinese) and english[0][0] == "Customers (calibration)"
    assert chinese[0] == ("客户数（校准期）", "3")


def _shop_summary(shop: Shop, as_of: datetime) -> pd.DataFrame:
    """The shop's summary in weeks, with each customer's planted churn and value layer."""
    with shop.open() as ws:
        summary = ws.engine.to_arrow(purchase_summary(ws.table("orders"), as_of, 7))
    people = pq.read_table(shop.root / "data" / "truth" / "people.parquet",
                           columns=["person_id", "churned", "value_layer"]).to_pandas()
    return summary.to_pandas().merge(people, left_on="customer_id", right_on="person_id")


@pytest.mark.slow
def test_shop_planted_churners_and_value_layers(shop: Shop) -> None:
    data = _shop_summary(shop, NOW)
    x, t_x, t_end = data["frequency"], data["recency"], data["T"]
    spend = fit_gamma_gamma(x, data["monetary"])
    active = data["value_layer"] == "high_value"  # regular buyers who did not churn
    once = ~data["churned"] & ~active & (x == 0)  # one purchase, on registering
    for model in (fit_bgnbd(x, t_x, t_end), fit_pareto_nbd(x, t_x, t_end)):
        alive = model.p_alive(x, t_x, t_end)
        assert alive[data["churned"]].mean() < alive[active].mean() - 0.3
        value = pd.Series(lifetime_value(model, spend, x, t_x, t_end, data["monetary"],
                                         365, unit_days=7))
        layer = data["value_layer"]
        # Regular buyers: active, then those who stopped 150–240 days ago, then 300–480.
        ladder = [value[active].mean(), value[data["churned"] & (layer == "churn_warning")]
                  .mean(), value[data["churned"] & (layer == "lost")].mean()]
        assert ladder == sorted(ladder, reverse=True)
        # One-time buyers: newest first (the models cannot tell them from new regulars).
        ladder = [value[once & (layer == name)].mean()
                  for name in ("potential", "churn_warning", "lost")]
        assert ladder == sorted(ladder, reverse=True)


@pytest.mark.slow
def test_shop_holdout_purchases(shop: Shop) -> None:
    """A 120-day holdout: every planted churner stopped at least 30 days before it."""
    split = NOW - timedelta(days=120)
    with shop.open() as ws:
        orders = ws.table("orders")
        calibration = ws.engine.to_arrow(purchase_summary(orders, split, 7))
        holdout = ws.engine.to_arrow(holdout_purchases(orders, split, NOW))
    data = _shop_summary(shop, split).merge(holdout.to_pandas(), on="customer_id",
                                            how="left").fillna({"purchases": 0})
    active = (data["value_layer"] == "high_value").to_numpy()
    x, t_x, t_end = data["frequency"], data["recency"], data["T"]
    spend = fit_gamma_gamma(x, data["monetary"])
    for model in (fit_bgnbd(x, t_x, t_end), fit_pareto_nbd(x, t_x, t_end)):
        report = evaluate_clv(calibration, holdout, model, spend, 120, unit_days=7)
        predicted = model.expected_purchases(120 / 7, x, t_x, t_end)
        assert report.predicted_purchases == pytest.approx(predicted.sum())
        # The regular buyers who stay (about 510 of the ~540 holdout purchases) are
        # predicted within 15% (measured: -13%, shrunk towards the mean of all buyers).
        actual = data["purchases"].to_numpy()
        assert abs(predicted[active].sum() / actual[active].sum() - 1) < 0.15
        # In all, the models over-predict (measured: +26% Pareto/NBD, +33% BG/NBD): the
        # planted churners and one-time buyers buy nothing more, which 120 days of
        # silence cannot yet show; what is predicted for them is that excess.
        excess = predicted[~active].sum() - actual[~active].sum()
        assert 0 < report.purchases_error < 0.4
        assert excess > 0.9 * (report.predicted_purchases - report.actual_purchases)
        # Customers with more repeat purchases are predicted to buy more, as they do.
        rows = report.rows()
        assert rows[7]["predicted_purchases"] > rows[1]["predicted_purchases"]
        assert rows[7]["actual_purchases"] > rows[1]["actual_purchases"]
