"""Break-even cost: the proportional cost per side at which a strategy's mean net return is zero.

Definition (used everywhere in volts: ``metrics.json["break_even"]``, the cost table, the ablation table, the
report and the cost-sweep figure). Let ``M(c)`` be the mean daily simple return of the equity curve that the
simulator produces when every order pays ``c`` basis points of its traded value per side and nothing else (no fixed
commission, no spread: the cost model of the cost table, ``cost_bps = c``). The **break-even cost** is the root
``c* >= 0`` of ``M(c) = 0``, in bps of traded value per side. For a difference against a benchmark the function is
the mean of the daily return differences, strategy minus benchmark, both run at ``c`` (the benchmark pays the same
cost on its own orders).

* ``M(0) <= 0``: no cost makes it break even (it loses before costs): ``bps_per_side`` is None, ``status`` "none".
* ``M(c) > 0`` up to :data:`MAX_BPS`: ``status`` "above", ``bps_per_side`` None (it stays above zero at any cost
  searched).
* otherwise ``status`` "root": the root, bracketed and refined by Brent's method (``scipy.optimize.brentq``) to
  :data:`XTOL_BPS`.

Why the search starts where it does. Write ``E_t`` for the equity, ``V_t`` for the value traded on day t and
``K_t`` for the costs paid on it. The gross return ``g_t = (E_t - E_{t-1} + K_t) / E_{t-1}`` and the turnover
``tau_t = V_t / E_{t-1}`` give ``r_t = g_t - c tau_t`` exactly when every cost is ``c`` per unit of value, so
``M(c) = mean(g(c)) - c mean(tau(c))`` and the root is the fixed point ``c* = mean(g(c*)) / mean(tau(c*))``.
``g`` and ``tau`` depend on ``c`` only through the positions' sizes (a sleeve that paid more owns a little less),
so :func:`linear_break_even` of one run, ``mean(g) / mean(tau)``, is a close first estimate: the bracket is searched
around it. The random-pairs null reports that first estimate per draw (one simulation per draw, the draw's own run
at the configured costs), not the root; the report says so.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MAX_BPS",
    "XTOL_BPS",
    "SWEEP_BPS",
    "DEFINITION",
    "mean_daily_return",
    "linear_break_even",
    "break_even_root",
    "break_even_section",
    "light_run",
]

#: Highest cost searched, bps per side (100 % of the traded value).
MAX_BPS = 10_000.0
#: Tolerance of the root, bps per side.
XTOL_BPS = 1e-4
#: Costs of the cost-sweep figure (bps per side); the cost table's 0/5/10/25 are among them.
SWEEP_BPS = (0.0, 2.5, 5.0, 10.0, 15.0, 25.0, 50.0)

DEFINITION = (
    "break-even cost: the cost per side c (bps of traded value, no fixed fee, no spread) at which the mean daily "
    "net return of the simulator's run at cost c is zero (root of M(c) = 0, Brent's method to 1e-4 bps); for a "
    "difference, the mean daily return difference with both sides paying c. None when the mean is <= 0 before "
    "costs (no cost makes it break even)"
)


def mean_daily_return(equity: pd.Series) -> float:
    """Mean daily simple return of an equity curve (leading/trailing NaN dropped; NaN with fewer than 2 values).

    A curve that reaches zero or below stops there (its last return is the total loss), as the statistics of
    :func:`volts.trading.performance.performance_stats` do.
    """
    from volts.trading.performance import ruin_cut

    v = ruin_cut(equity.dropna())[0].to_numpy(dtype="float64")
    if len(v) < 2:
        return float("nan")
    return float(np.mean(v[1:] / v[:-1] - 1.0))


def _annual_sharpe(equity: pd.Series, settings) -> float:
    """Annualised Sharpe ratio of the daily excess returns, as ``metrics.json`` computes it
    (:func:`volts.evaluation.nulls.annual_sharpe`, which imports this module)."""
    from volts.trading.performance import ruin_cut, sharpe_ratio

    v = ruin_cut(equity.dropna())[0].to_numpy(dtype="float64")
    ppy = int(settings.metrics.periods_per_year)
    rf = (1.0 + settings.metrics.risk_free) ** (1.0 / ppy) - 1.0
    return sharpe_ratio(v[1:] / v[:-1] - 1.0 - rf, periods_per_year=ppy)


def _cagr(equity: pd.Series, periods_per_year: int) -> float | None:
    """Compound annual growth of an equity curve, as :func:`volts.trading.performance.performance_stats` computes
    it (a ruined curve: -100 %); None with fewer than two values."""
    from volts.trading.performance import ruin_cut

    v = ruin_cut(equity.dropna())[0].to_numpy(dtype="float64")
    if len(v) < 2 or not v[0] > 0:
        return None
    if v[-1] <= 0:
        return -1.0
    return float((v[-1] / v[0]) ** (periods_per_year / (len(v) - 1)) - 1.0)


def light_run(res) -> SimpleNamespace:
    """What the break-even search keeps of a run: ``equity``, ``turnover_value`` and ``benchmarks`` (not the fills,
    trades and positions, which can be large for a wide universe)."""
    return SimpleNamespace(
        equity=res.equity,
        turnover_value=getattr(res, "turnover_value", None),
        benchmarks=dict(getattr(res, "benchmarks", None) or {}),
    )


def _mean_difference(a: pd.Series, b: pd.Series) -> float:
    common = a.dropna().index.intersection(b.dropna().index)
    if len(common) < 2:
        return float("nan")
    x = a.loc[common].to_numpy(dtype="float64")
    y = b.loc[common].to_numpy(dtype="float64")
    return float(np.mean((x[1:] / x[:-1] - 1.0) - (y[1:] / y[:-1] - 1.0)))


def linear_break_even(equity: pd.Series, turnover_value: pd.Series, costs_paid: pd.Series | None = None) -> dict:
    """First-order break-even cost of one run: ``mean(g) / mean(tau)`` in bps per side.

    Parameters
    ----------
    equity : pandas.Series, shape (n_days,)
        Value at each close (USD).
    turnover_value : pandas.Series, shape (n_days,)
        Value traded on each day (USD, both sides summed), on the same index.
    costs_paid : pandas.Series, optional
        Costs paid on each day (USD), on the same index; None = zero (a run at ``cost_bps = 0``).

    Returns
    -------
    dict
        ``bps_per_side`` (None when the gross mean is <= 0 or nothing was traded), ``status`` ("root", "none" or
        "no_turnover"), ``gross_mean_daily`` (mean of ``g_t``) and ``turnover_mean_daily`` (mean of ``tau_t``).
        With ``g_t = (E_t - E_{t-1} + K_t) / E_{t-1}`` and ``tau_t = V_t / E_{t-1}`` (module docstring), the net
        return at a proportional cost ``c`` is ``g_t - c tau_t``, so this is the exact root when ``g`` and ``tau``
        do not depend on ``c``, and a first-order estimate for the simulator, whose sizes do.
    """
    e = equity.dropna()
    idx = e.index
    v = e.to_numpy(dtype="float64")
    traded = turnover_value.reindex(idx).fillna(0.0).to_numpy(dtype="float64")
    paid = costs_paid.reindex(idx).fillna(0.0).to_numpy(dtype="float64") if costs_paid is not None else np.zeros(len(v))
    if len(v) < 2 or not np.all(v[:-1] > 0):
        return {"bps_per_side": None, "status": "none", "gross_mean_daily": None, "turnover_mean_daily": None}
    g = float(np.mean((v[1:] - v[:-1] + paid[1:]) / v[:-1]))
    tau = float(np.mean(traded[1:] / v[:-1]))
    out = {"gross_mean_daily": g, "turnover_mean_daily": tau}
    if not (tau > 0):
        return {"bps_per_side": None, "status": "no_turnover", **out}
    if not (g > 0):
        return {"bps_per_side": None, "status": "none", **out}
    return {"bps_per_side": g / tau * 1e4, "status": "root", **out}


def break_even_root(mean_at: Callable[[float], float], *, guess: float | None = None) -> dict:
    """Root of ``mean_at(c) = 0`` over ``0 <= c <= MAX_BPS`` (bps per side), ``mean_at`` decreasing in cost.

    Parameters
    ----------
    mean_at : callable
        Cost per side (bps) -> mean daily net return (or return difference) of the run at that cost.
    guess : float, optional
        Where to look first (e.g. :func:`linear_break_even`); default 10 bps.

    Returns
    -------
    dict
        ``bps_per_side`` (the root, or None), ``status`` ("root", "none": ``mean_at(0) <= 0``, "above": still > 0
        at :data:`MAX_BPS`, "undefined": a NaN mean), ``mean_at_zero`` and ``evaluations``.

    Notes
    -----
    The bracket ``[lo, hi]`` with ``mean_at(lo) > 0 >= mean_at(hi)`` is found by stepping from ``guess`` by
    factors of 1.02, 1.1, 2, ... (few steps when the guess is close), then refined by ``scipy.optimize.brentq``
    (Brent 1973) to :data:`XTOL_BPS`.
    """
    from scipy.optimize import brentq

    memo: dict[float, float] = {}

    def f(c: float) -> float:
        c = float(c)
        if c not in memo:
            memo[c] = float(mean_at(c))
        return memo[c]

    m0 = f(0.0)
    base = {"mean_at_zero": m0 if math.isfinite(m0) else None}
    if not math.isfinite(m0):
        return {"bps_per_side": None, "status": "undefined", **base, "evaluations": len(memo)}
    if m0 <= 0:
        return {"bps_per_side": None, "status": "none", **base, "evaluations": len(memo)}
    g = float(guess) if guess is not None and math.isfinite(guess) and 0 < guess < MAX_BPS else 10.0
    lo, hi = 0.0, None
    fg = f(g)
    if not math.isfinite(fg):
        return {"bps_per_side": None, "status": "undefined", **base, "evaluations": len(memo)}
    if fg > 0:
        lo = g
        for factor in (1.02, 1.1, 1.5, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0):
            c = min(g * factor, MAX_BPS)
            fc = f(c)
            if not (fc > 0):
                hi = c
                break
            lo = c
            if c >= MAX_BPS:
                break
        if hi is None:
            return {"bps_per_side": None, "status": "above", **base, "evaluations": len(memo)}
    else:
        hi = g
        for factor in (0.98, 0.9, 0.5, 0.25, 0.0625, 0.0):
            c = g * factor
            if c == 0.0 or f(c) > 0:
                lo = c
                break
            hi = c
    root = float(brentq(f, lo, hi, xtol=XTOL_BPS, rtol=1e-12, maxiter=200))
    return {"bps_per_side": root, "status": "root", **base, "evaluations": len(memo)}


def _secant_guess(f: Callable[[float], float], costs: Sequence[float]) -> float | None:
    """Where the line through ``f(0)`` and ``f(c)`` crosses zero, ``c`` the largest of ``costs`` whose run exists
    already (no new simulation); None when it does not cross at a positive cost."""
    if not costs:
        return None
    c = max(costs)
    f0, f1 = f(0.0), f(c)
    if not (math.isfinite(f0) and math.isfinite(f1)) or not (f0 > f1):
        return None
    guess = c * f0 / (f0 - f1)
    return guess if guess > 0 else None


def break_even_section(
    run_at: Callable[[float], object],
    *,
    cached: Mapping[float, object] | None = None,
    sweep: Sequence[float] = SWEEP_BPS,
    settings=None,
) -> dict:
    """``metrics.json["break_even"]``: the strategy's and each difference's break-even cost and the cost sweep.

    Parameters
    ----------
    run_at : callable
        Cost per side (bps) -> the walk-forward strategy's result at that cost (``equity``, ``turnover_value``,
        ``benchmarks``), e.g. the registered strategy with ``cost_bps = c``.
    cached : mapping of float to result, optional
        Runs already made (the cost table's), reused by cost.
    sweep : sequence of float
        Costs of the sweep (bps per side).
    settings : volts.core.config.Settings, optional
        For the sweep's annualised Sharpe ratios (``[metrics]``); without it the sweep has no Sharpe ratios.

    Returns
    -------
    dict
        ``definition`` (:data:`DEFINITION`), ``strategy`` (:func:`break_even_root` plus ``first_estimate``, the
        :func:`linear_break_even` of the run at 0 bps), ``differences`` (per benchmark, the root of the mean daily
        difference), ``sweep`` (``bps``: ``sweep`` plus the strategy's break-even, and 1.5 times it when the
        break-even lies beyond the last cost of ``sweep``; ``curves``: per curve -- ``strategy`` and each
        benchmark -- the annualised Sharpe ratio, the CAGR and the mean daily return at each cost).
    """
    runs: dict[float, object] = {float(c): light_run(r) for c, r in (cached or {}).items()}

    def run(c: float):
        c = float(c)
        if c not in runs:
            runs[c] = light_run(run_at(c))
        return runs[c]

    zero = run(0.0)
    first = linear_break_even(zero.equity, zero.turnover_value)
    strat = break_even_root(lambda c: mean_daily_return(run(c).equity), guess=first.get("bps_per_side"))
    strat["first_estimate"] = first["bps_per_side"]
    diffs = {}
    for name in sorted((getattr(zero, "benchmarks", None) or {}).keys()):

        def diff_at(c: float, name: str = name) -> float:
            r = run(c)
            b = (r.benchmarks or {}).get(name)
            return float("nan") if b is None else _mean_difference(r.equity, b)

        diffs[name] = break_even_root(diff_at, guess=_secant_guess(diff_at, [c for c in runs if c > 0]))
    out: dict = {"definition": DEFINITION, "strategy": strat, "differences": diffs}
    grid = sorted(set(float(c) for c in sweep))
    if strat["status"] == "root":  # the sweep passes through the break-even, and past it
        be = float(strat["bps_per_side"])
        grid = sorted(set(grid) | {be} | ({min(1.5 * be, MAX_BPS)} if be > grid[-1] else set()))
    curves: dict[str, dict[str, list]] = {}
    for c in grid:
        r = run(c)
        named = {"strategy": r.equity, **{k: v for k, v in (getattr(r, "benchmarks", None) or {}).items()}}
        for name, eq in named.items():
            cur = curves.setdefault(name, {"mean_daily": [], "sharpe": [], "cagr": []})
            m = mean_daily_return(eq)
            cur["mean_daily"].append(m if math.isfinite(m) else None)
            cur["cagr"].append(_cagr(eq, int(settings.metrics.periods_per_year) if settings is not None else 252))
            if settings is not None:
                sh = _annual_sharpe(eq, settings)
                cur["sharpe"].append(float(sh) if math.isfinite(sh) else None)
    out["sweep"] = {"bps": grid, "curves": curves}
    return out
