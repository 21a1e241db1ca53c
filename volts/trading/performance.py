"""Statistics of a stitched walk-forward equity curve, with stationary-bootstrap confidence intervals (issue 10).

Conventions (the same as :mod:`volts.trading.metrics`, which serves the single-window backtest):

* **Daily returns** r_i = E_i / E_{i-1} - 1 of consecutive closes. Leading and trailing NaN values of the equity
  (a benchmark such as SPY that ends before the strategy) are dropped first: every statistic covers the span the
  curve covers; a NaN inside the span is an error.
* **CAGR** = (E_n / E_0)^(P / n) - 1 with n daily returns and P = ``periods_per_year`` (252).
* **Annualised volatility** = std(r, ddof=1) * sqrt(P).
* **Sharpe** = mean(r - rf) / std(r - rf, ddof=1) * sqrt(P), rf = (1 + risk_free)^(1/P) - 1 per day;
  **Sortino** = mean(r - rf) * P / (sqrt(mean(min(r - rf, 0)^2)) * sqrt(P)). Both as ``empyrical``.
* **95 % confidence interval of the Sharpe ratio**: percentile interval of ``bootstrap_reps`` stationary-bootstrap
  resamples of the daily returns (Politis & Romano 1994; ``arch.bootstrap.StationaryBootstrap``), with the mean
  block length from ``arch.bootstrap.optimal_block_length`` (Politis & White 2004, Patton, Politis & White 2009),
  floored at 1 day. The stationary bootstrap keeps the short-range dependence of daily returns that an iid
  resample would destroy; the interval is for the Sharpe ratio of the process that generated the days, not a
  forecast. The resamples are drawn in batches (:func:`_stationary_indices`, the same process as arch's
  ``StationaryBootstrap``). **Monte-Carlo error**: each interval end is a sample quantile of B resamples; its
  Monte-Carlo standard error (:func:`quantile_mcse`: sqrt(q (1 - q) / B) times a Siddiqui / Hall-Sheather
  estimate of the sparsity, Koenker 2005 §3.4) is reported beside it. B starts at ``BOOTSTRAP_REPS`` and grows
  (to at most ``BOOTSTRAP_MAX_REPS``) until the error is below ``MCSE_TARGET_SHARPE`` (0.01) for Sharpe ratios and
  ``MCSE_TARGET_RETURN`` (0.1 percentage point a year) for mean returns; ``*_mcse_met`` is False where the cap
  stopped it first.
* **Maximum drawdown** = max_t (peak_t - E_t) / peak_t (positive fraction); its **duration** is the longest
  underwater spell (from a peak to the first close back at or above it, or to the end), in calendar days and in
  sessions. **Calmar** = CAGR / maximum drawdown.
* **Turnover** = (value traded per year) / (average equity) = sum(turnover_value) / (n / P) / mean(E).
* **Hit rate of days** = days with r > 0 / days with r != 0 (days in cash, with r = 0 exactly, are left out);
  **hit rate of trades** = round trips with pnl > 0 / round trips.
* From the schedule (:func:`schedule_stats`): **weeks in cash** (re-selections with no pair), **distinct pairs**
  (leader->follower), **average pair lifetime** (mean length, in consecutive re-selections, of a pair's runs).

A value that is undefined (zero volatility, no trade, no drawdown) is ``None``, never NaN.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from volts.core.errors import DataError

__all__ = ["performance_stats", "difference_stats", "ruin_cut", "schedule_stats", "sharpe_ratio", "bootstrap_ci",
           "bootstrap_replicates", "quantile_mcse", "drawdown_stats", "summary_table", "BOOTSTRAP_REPS",
           "BOOTSTRAP_MAX_REPS", "MCSE_TARGET_SHARPE", "MCSE_TARGET_RETURN"]


def _none(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _when(label):
    return label.date() if isinstance(label, pd.Timestamp) else label


def ruin_cut(equity: pd.Series) -> tuple[pd.Series, dict | None]:
    """The curve up to its first value <= 0 (ruin), that value set to 0, and what happened.

    An account whose equity reaches zero or below is ruined: it cannot keep trading, and the days after it are not
    a result (a simulation may go on marking positions with credit it would not get). The statistics therefore
    stop at the ruin day, counted as a loss of everything (a return of -100 %); a value below zero (losses or
    commissions beyond the capital) is reported in ``equity`` but not used, since returns past -100 % have no
    meaning for a compounded curve.

    Parameters
    ----------
    equity : pandas.Series, shape (n,)
        Daily values (USD), no NaN, the first one > 0.

    Returns
    -------
    (pandas.Series, dict or None)
        The (possibly shortened) curve, and None or ``{"date", "equity", "sessions_lost"}``: the first day
        <= 0, the value marked that day and the sessions of the input after it.
    """
    v = equity.to_numpy(dtype="float64")
    bad = np.flatnonzero(v <= 0)
    if not len(bad):
        return equity, None
    i = int(bad[0])
    cut = equity.iloc[:i + 1].astype("float64").copy()
    cut.iloc[i] = 0.0
    return cut, {"date": _when(equity.index[i]), "equity": float(v[i]), "sessions_lost": int(len(v) - 1 - i)}


def _span(equity: pd.Series, *, ruin: bool = False) -> pd.Series:
    """The equity without leading/trailing NaN; DataError on a NaN inside, a first value <= 0, or (unless
    ``ruin``, see :func:`ruin_cut`) any value <= 0."""
    name = equity.name if equity.name is not None else "equity"
    ok = equity.notna().to_numpy()
    if not ok.any():
        raise DataError(f"{name}: the equity curve holds no value")
    first, last = int(np.argmax(ok)), len(ok) - 1 - int(np.argmax(ok[::-1]))
    e = equity.iloc[first:last + 1].astype("float64")
    values = e.to_numpy()
    bad = ~np.isfinite(values) | ((values <= 0) if not ruin else np.zeros(len(values), dtype=bool))
    if ruin and values[0] <= 0:
        bad[0] = True
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name}: equity on {_when(e.index[i])} is {e.iloc[i]!r}; statistics need a "
                        + ("positive starting value and no gap" if ruin else "positive value every day of the span"))
    return e


def sharpe_ratio(r: np.ndarray, *, periods_per_year: int = 252, rf: float = 0.0) -> float:
    """Annualised Sharpe ratio of daily returns (ddof = 1); NaN when the volatility is 0 or n < 2."""
    x = np.asarray(r, dtype="float64") - rf
    if len(x) < 2:
        return float("nan")
    sd = x.std(ddof=1)
    return float(x.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else float("nan")


def _sharpe_rows(x: np.ndarray, idx: np.ndarray, ppy: int) -> np.ndarray:
    s = x[idx]  # (reps, n)
    sd = s.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return s.mean(axis=1) / sd * math.sqrt(ppy)


def _block_length(x: np.ndarray) -> float:
    from arch.bootstrap import optimal_block_length

    if len(x) < 10 or not np.any(x != x[0]):
        return 1.0
    b = float(optimal_block_length(x)["stationary"].iloc[0])
    return max(1.0, b) if math.isfinite(b) else 1.0


#: Replications of every bootstrap interval before the Monte-Carlo check (see :func:`bootstrap_ci`).
BOOTSTRAP_REPS = 10_000
#: Upper bound on the replications the Monte-Carlo check may add (run time: see the README).
BOOTSTRAP_MAX_REPS = 250_000
#: Monte-Carlo standard error wanted for each interval end: Sharpe ratios (annualised) ...
MCSE_TARGET_SHARPE = 0.01
#: ... and annualised mean returns (fraction: 0.001 = 0.1 percentage point).
MCSE_TARGET_RETURN = 0.001
_BATCH = 250   # resamples drawn at once; counts are rounded up to a multiple, so a result depends on the seed and
#               the final count only, not on how the count was reached


def _stationary_indices(n: int, block: float, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary-bootstrap index arrays (reps, n) (Politis & Romano 1994), vectorised.

    Day 0 of a resample and, with probability p = 1 / block, every later day start a new block at a uniform day;
    otherwise a day follows its predecessor, wrapping from n - 1 to 0. The same process as
    ``arch.bootstrap.StationaryBootstrap`` (geometric block lengths of mean ``block``, circular wrap), drawn for a
    whole batch of resamples at once instead of one resample per Python call.
    """
    p = 1.0 / max(1.0, float(block))
    new = rng.random((reps, n)) < p
    new[:, 0] = True
    starts = rng.integers(0, n, size=(reps, n))
    pos = np.arange(n)
    out = np.empty((reps, n), dtype=np.int64)
    # a few rows at a time: the temporaries stay small (on 40,000 hourly returns the whole batch's took 2-5 times
    # longer in page faults and memory traffic); every row is computed exactly as on the whole batch
    for i in range(0, reps, _ROWS):
        last = np.maximum.accumulate(np.where(new[i : i + _ROWS], pos, 0), axis=1)   # where the current block began
        g = np.take_along_axis(starts[i : i + _ROWS], last, axis=1)
        g += pos
        g -= last
        np.remainder(g, n, out=out[i : i + _ROWS])
    return out


_ROWS = 8  # resamples post-processed at once by _stationary_indices


def _indices(n: int, block: float, reps: int, seed: int) -> np.ndarray:
    """Stationary-bootstrap index arrays (reps, n) from ``seed`` (:func:`_stationary_indices`)."""
    return _stationary_indices(n, block, reps, np.random.default_rng(seed))


def quantile_mcse(vals: np.ndarray, q: float) -> float | None:
    """Monte-Carlo standard error of the sample ``q``-quantile of ``vals`` (iid draws, e.g. bootstrap replicates).

    The asymptotic standard error of a sample quantile is sqrt(q (1 - q) / B) / f(Q(q)) for B draws of density f
    (e.g. Serfling 1980, §2.3). The sparsity 1 / f(Q(q)) is estimated by Siddiqui's difference quotient
    (Q(q + h) - Q(q - h)) / (2 h) of the sample quantiles, with the Hall & Sheather (1988) bandwidth
    h = B^(-1/3) z^(2/3) (1.5 phi(Phi^-1(q))^2 / (2 Phi^-1(q)^2 + 1))^(1/3), z = Phi^-1(0.975), as in Koenker
    (2005) "Quantile Regression", §3.4 (``statsmodels``' ``hall_sheather``).

    Parameters
    ----------
    vals : ndarray, shape (B,)
        Finite replicates.
    q : float
        In (0, 1).

    Returns
    -------
    float or None
        Standard error in the unit of ``vals``; None for fewer than 10 replicates.
    """
    from scipy.stats import norm

    v = np.sort(np.asarray(vals, dtype="float64"))
    b = len(v)
    if b < 10:
        return None
    x = norm.ppf(q)
    h = b ** (-1 / 3) * norm.ppf(0.975) ** (2 / 3) * (1.5 * norm.pdf(x) ** 2 / (2 * x ** 2 + 1)) ** (1 / 3)
    lo, hi = max(q - h, 0.5 / b), min(q + h, 1 - 0.5 / b)
    sparsity = (np.quantile(v, hi) - np.quantile(v, lo)) / (hi - lo)
    return float(math.sqrt(q * (1 - q) / b) * sparsity)


def bootstrap_replicates(stat_fns: Sequence, x: np.ndarray, *, block: float, reps: int, seed: int = 0,
                         level: float = 0.95, targets: Sequence[float | None] | None = None,
                         max_reps: int = BOOTSTRAP_MAX_REPS) -> list[dict]:
    """Percentile intervals of several statistics from the same stationary-bootstrap resamples, with their
    Monte-Carlo standard errors, adding replications until each end's error is below its target.

    ``reps`` resamples are drawn first; if an interval end's Monte-Carlo standard error (:func:`quantile_mcse`)
    exceeds its target, the count is raised to what the error's 1 / sqrt(B) rate says is needed (+10 %), by drawing
    more resamples from the same generator, at most four times. When that count would exceed ``max_reps`` the
    drawing stops where it is (``mcse_met`` False, the error as measured): the cap bounds run time, and draws up
    to it would still miss the target (a short series' Sharpe ratio, say). Resamples are drawn in
    batches of 250 (counts rounded up), so a result depends only on the seed and the final count.

    Parameters
    ----------
    stat_fns : sequence of callable
        ``f(x, idx) -> ndarray (r,)`` for an index batch ``idx`` of shape (r, n).
    x : ndarray, shape (n,) or (n, k)
    block : float
        Mean block length (days).
    reps : int
        Initial number of resamples (>= 1).
    seed : int
    level : float, default 0.95
    targets : sequence of float or None
        Per statistic, the Monte-Carlo standard error wanted for both ends (None: no target).
    max_reps : int

    Returns
    -------
    list of dict
        Per statistic: ``low``, ``high``, ``se`` (bootstrap standard error), ``low_mcse``, ``high_mcse``,
        ``mcse_target``, ``mcse_met`` (False when the target needs more than ``max_reps``), ``reps`` (resamples drawn),
        ``finite`` (of which finite); ends None when fewer than half the resamples give a finite value.
    """
    x = np.asarray(x, dtype="float64")
    n = len(x)
    k = len(stat_fns)
    targets = list(targets) if targets is not None else [None] * k
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    drawn = 0
    a = (1 - level) / 2

    def draw(count: int) -> None:
        nonlocal drawn
        while count > 0:
            idx = _stationary_indices(n, block, _BATCH, rng)
            for j, f in enumerate(stat_fns):
                parts[j].append(np.asarray(f(x, idx), dtype="float64"))
            count -= _BATCH
            drawn += _BATCH

    def summarise() -> list[dict]:
        out = []
        for j in range(k):
            vals = np.concatenate(parts[j]) if parts[j] else np.zeros(0)
            vals = vals[np.isfinite(vals)]
            rec = {"low": None, "high": None, "se": None, "low_mcse": None, "high_mcse": None,
                   "mcse_target": targets[j], "mcse_met": None, "reps": int(drawn), "finite": int(len(vals))}
            if len(vals) >= max(10, drawn // 2):
                lo, hi = np.quantile(vals, [a, 1 - a])
                rec.update(low=_none(lo), high=_none(hi), se=_none(vals.std(ddof=1)),
                           low_mcse=quantile_mcse(vals, a), high_mcse=quantile_mcse(vals, 1 - a))
                if targets[j] is not None:
                    rec["mcse_met"] = bool(max(rec["low_mcse"] or 0.0, rec["high_mcse"] or 0.0) <= targets[j])
            out.append(rec)
        return out

    draw(int(reps))
    res = summarise()
    for _ in range(4):
        need = drawn
        for rec in res:
            t = rec["mcse_target"]
            if t and rec["mcse_met"] is False:
                worst = max(rec["low_mcse"] or 0.0, rec["high_mcse"] or 0.0)
                need = max(need, int(math.ceil(drawn * (worst / t) ** 2 * 1.1)))
        if need > max_reps:   # the target is out of reach within the cap: more draws cost time and still miss it
            break
        if need <= drawn:
            break
        draw(need - drawn)
        res = summarise()
    return res


def bootstrap_ci(stat_rows, x: np.ndarray, *, reps: int = BOOTSTRAP_REPS, seed: int = 0, level: float = 0.95,
                 block: float | None = None, mcse_target: float | None = None,
                 max_reps: int = BOOTSTRAP_MAX_REPS) -> dict:
    """Percentile interval of a statistic under the stationary bootstrap of the rows of ``x``.

    Parameters
    ----------
    stat_rows : callable
        ``f(x, idx) -> ndarray (r,)``: the statistic of each resample ``x[idx[j]]``.
    x : ndarray, shape (n,) or (n, k)
        Daily observations (rows are days; columns are resampled together).
    reps : int, default BOOTSTRAP_REPS
        Resamples drawn first.
    seed : int, default 0
    level : float, default 0.95
    block : float or None
        Mean block length; None = ``arch.bootstrap.optimal_block_length`` of the first column (stationary).
    mcse_target : float or None
        Monte-Carlo standard error wanted for both ends; more resamples are drawn (up to ``max_reps``) until it
        is met (:func:`bootstrap_replicates`). None: exactly ``reps``.
    max_reps : int, default BOOTSTRAP_MAX_REPS

    Returns
    -------
    dict
        ``low``, ``high``, ``se`` (bootstrap standard error), ``low_mcse``, ``high_mcse`` (Monte-Carlo standard
        errors of the ends, :func:`quantile_mcse`), ``mcse_target``, ``mcse_met``, ``block`` (mean block length,
        days), ``reps`` (resamples drawn).
    """
    x = np.asarray(x, dtype="float64")
    if block is None:
        block = _block_length(x if x.ndim == 1 else x[:, 0])
    if len(x) < 3 or reps < 1:
        return {"low": None, "high": None, "se": None, "low_mcse": None, "high_mcse": None,
                "mcse_target": mcse_target, "mcse_met": None, "block": block, "reps": int(reps)}
    rec = bootstrap_replicates([stat_rows], x, block=block, reps=reps, seed=seed, level=level,
                               targets=[mcse_target], max_reps=max_reps)[0]
    rec.pop("finite", None)
    return {**rec, "block": float(block)}


def drawdown_stats(equity: pd.Series) -> dict:
    """Maximum drawdown (positive fraction) and the longest underwater spell (calendar days and sessions).

    Parameters
    ----------
    equity : pandas.Series, shape (n,)
        Positive values on an ascending DatetimeIndex.

    Returns
    -------
    dict
        ``max_drawdown``, ``max_drawdown_start`` (the peak's date), ``max_drawdown_trough``,
        ``max_drawdown_duration_days`` (calendar), ``max_drawdown_duration_sessions``.
    """
    v = equity.to_numpy(dtype="float64")
    peak = np.maximum.accumulate(v)
    dd = 1.0 - v / peak
    i_trough = int(np.argmax(dd))
    mdd = float(dd[i_trough])
    i_peak = int(np.argmax(v[:i_trough + 1])) if mdd > 0 else i_trough
    # longest underwater spell: from the last close at a peak to the first close back at or above it
    best_len, best_days = 0, 0
    start = None
    idx = equity.index
    for i in range(len(v)):
        under = v[i] < peak[i]
        if under and start is None:
            start = i - 1
        if start is not None and (not under or i == len(v) - 1):
            end = i
            sessions = end - start
            days = (pd.Timestamp(idx[end]) - pd.Timestamp(idx[start])).days
            if sessions > best_len:
                best_len, best_days = sessions, days
            start = None if not under else start
    return {"max_drawdown": mdd, "max_drawdown_start": idx[i_peak], "max_drawdown_trough": idx[i_trough],
            "max_drawdown_duration_days": int(best_days), "max_drawdown_duration_sessions": int(best_len)}


def schedule_stats(schedule: Sequence) -> dict:
    """Weeks in cash, distinct pairs and average pair lifetime of a schedule of re-selections.

    Parameters
    ----------
    schedule : sequence of volts.trading.simulate.Rebalance
        In any order (sorted by as-of date here).

    Returns
    -------
    dict
        ``rebalances``, ``weeks_in_cash`` (re-selections with no pair), ``share_in_cash``, ``distinct_pairs``
        (leader->follower keys), ``average_pair_lifetime`` (mean length of the runs of consecutive re-selections
        holding a key; None without a pair), ``pair_counts`` (key -> number of re-selections holding it).
    """
    rebs = sorted(schedule, key=lambda r: r.asof)
    counts: dict[str, int] = {}
    runs: list[int] = []
    current: dict[str, int] = {}
    for r in rebs:
        keys = {h.key for h in r.pairs}
        for k in list(current):
            if k not in keys:
                runs.append(current.pop(k))
        for k in keys:
            current[k] = current.get(k, 0) + 1
            counts[k] = counts.get(k, 0) + 1
    runs.extend(current.values())
    cash = sum(1 for r in rebs if not r.pairs)
    return {"rebalances": len(rebs), "weeks_in_cash": cash, "share_in_cash": cash / len(rebs) if rebs else None,
            "distinct_pairs": len(counts), "average_pair_lifetime": float(np.mean(runs)) if runs else None,
            "pair_counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}


def performance_stats(equity: pd.Series, *, trades: pd.DataFrame | None = None,
                      turnover_value: pd.Series | None = None, periods_per_year: int = 252,
                      risk_free: float = 0.0, bootstrap_reps: int = BOOTSTRAP_REPS, seed: int = 0,
                      schedule: Sequence | None = None, mcse_target: float | None = MCSE_TARGET_SHARPE) -> dict:
    """Performance statistics of a daily equity curve, with a stationary-bootstrap 95 % CI of the Sharpe ratio.

    Parameters
    ----------
    equity : pandas.Series, shape (n_days,)
        Value at each close (USD), ascending DatetimeIndex; leading/trailing NaN are dropped (module docstring).
    trades : pandas.DataFrame or None
        Round trips with a ``pnl`` column (``volts.trading.simulate.SimulationResult.trades``).
    turnover_value : pandas.Series or None
        USD traded per day, same index as ``equity``.
    periods_per_year : int, default 252
    risk_free : float, default 0.0
        Annual risk-free rate, fraction.
    bootstrap_reps : int, default BOOTSTRAP_REPS
        Resamples drawn first; 0 skips the interval.
    seed : int, default 0
        Seed of the bootstrap.
    schedule : sequence of Rebalance or None
        Adds :func:`schedule_stats`.
    mcse_target : float or None, default MCSE_TARGET_SHARPE
        Monte-Carlo standard error wanted for each end of the Sharpe interval; resamples are added (up to
        ``BOOTSTRAP_MAX_REPS``) until it is met (:func:`bootstrap_replicates`). None: exactly ``bootstrap_reps``.

    Returns
    -------
    dict
        ``start``, ``end``, ``days`` (returns), ``years``, ``total_return``, ``cagr``, ``volatility``, ``sharpe``,
        ``sharpe_ci_low``, ``sharpe_ci_high``, ``sharpe_se``, ``sharpe_ci_low_mcse``, ``sharpe_ci_high_mcse``
        (Monte-Carlo standard errors of the ends), ``sharpe_ci_mcse_met``, ``bootstrap_block``, ``bootstrap_reps``,
        ``sortino``, the keys of :func:`drawdown_stats`, ``calmar``, ``turnover``, ``hit_rate_days``, ``trades``,
        ``hit_rate_trades``, and the schedule's keys. Fractions; None where undefined. ``ruined``: None, or the
        :func:`ruin_cut` record when the equity reached 0 or below; every statistic then covers the span up to
        that day, which counts as a loss of everything (CAGR and total return -100 %, maximum drawdown 100 %).

    Raises
    ------
    DataError
        Fewer than two values, a NaN inside the span, or a first value <= 0.
    """
    import empyrical

    e, ruined = ruin_cut(_span(equity, ruin=True))
    if len(e) < 2:
        raise DataError(f"{equity.name or 'equity'}: at least two values are needed for returns")
    v = e.to_numpy()
    r = v[1:] / v[:-1] - 1.0
    n = len(r)
    ppy = int(periods_per_year)
    years = n / ppy
    rf = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    total = v[-1] / v[0] - 1.0
    cagr = (v[-1] / v[0]) ** (1.0 / years) - 1.0
    vol = float(np.std(r, ddof=1) * math.sqrt(ppy)) if n > 1 else float("nan")
    sharpe = sharpe_ratio(r, periods_per_year=ppy, rf=rf)
    sortino = float(empyrical.sortino_ratio(r, required_return=rf, annualization=ppy))
    dd = drawdown_stats(e)
    calmar = cagr / dd["max_drawdown"] if dd["max_drawdown"] > 0 else float("nan")
    out = {"start": e.index[0], "end": e.index[-1], "days": n, "years": years, "total_return": total,
           "cagr": cagr, "volatility": vol, "sharpe": sharpe, "ruined": ruined}
    if bootstrap_reps:
        ci = bootstrap_ci(lambda x, idx: _sharpe_rows(x - rf, idx, ppy), r, reps=bootstrap_reps, seed=seed,
                          mcse_target=mcse_target)
        out.update(sharpe_ci_low=ci["low"], sharpe_ci_high=ci["high"], sharpe_se=ci["se"],
                   sharpe_ci_low_mcse=ci["low_mcse"], sharpe_ci_high_mcse=ci["high_mcse"],
                   sharpe_ci_mcse_met=ci["mcse_met"], bootstrap_block=ci["block"], bootstrap_reps=ci["reps"])
    else:
        out.update(sharpe_ci_low=None, sharpe_ci_high=None, sharpe_se=None, sharpe_ci_low_mcse=None,
                   sharpe_ci_high_mcse=None, sharpe_ci_mcse_met=None, bootstrap_block=None, bootstrap_reps=0)
    out.update(sortino=sortino, **dd, calmar=calmar)
    if turnover_value is not None:
        tv = turnover_value.reindex(e.index).fillna(0.0).to_numpy(dtype="float64")[1:]
        out["turnover"] = float(tv.sum() / years / v.mean())
    else:
        out["turnover"] = None
    moved = r != 0
    out["hit_rate_days"] = float((r > 0).sum() / moved.sum()) if moved.any() else None
    if trades is not None:
        pnl = trades["pnl"].to_numpy(dtype="float64") if len(trades) else np.array([])
        out["trades"] = int(len(pnl))
        out["hit_rate_trades"] = float((pnl > 0).mean()) if len(pnl) else None
    else:
        out["trades"], out["hit_rate_trades"] = None, None
    if schedule is not None:
        st = schedule_stats(schedule)
        out.update({k: v2 for k, v2 in st.items() if k != "pair_counts"})
    return {k: (_none(x) if isinstance(x, (float, np.floating)) else x) for k, x in out.items()}


def difference_stats(strategy: pd.Series, benchmark: pd.Series, *, periods_per_year: int = 252,
                     bootstrap_reps: int = BOOTSTRAP_REPS, seed: int = 0,
                     mcse_targets: tuple[float | None, float | None] | None = (MCSE_TARGET_RETURN,
                                                                                MCSE_TARGET_SHARPE)) -> dict:
    """Strategy minus benchmark: the difference of their daily returns, with stationary-bootstrap intervals.

    Both curves are cut to the dates where both have a value (e.g. SPY's span). With d_i = r_strategy,i -
    r_benchmark,i:

    Parameters
    ----------
    strategy, benchmark : pandas.Series
        Daily values (USD) on DatetimeIndexes.
    periods_per_year : int, default 252
    bootstrap_reps : int, default BOOTSTRAP_REPS
        Resamples drawn first.
    seed : int, default 0
    mcse_targets : (float or None, float or None) or None
        Monte-Carlo standard error wanted for the ends of the annual-mean interval (fraction a year) and of the
        Sharpe intervals; resamples are added until both are met (:func:`bootstrap_replicates`). None: exactly
        ``bootstrap_reps``.

    Returns
    -------
    dict
        ``start``, ``end``, ``days``; ``mean_daily`` and ``annual_mean`` (= mean(d) * P) with ``annual_mean_ci_low``
        / ``_high``; every interval end ``X_ci_low`` / ``X_ci_high`` with its Monte-Carlo standard error
        ``X_ci_low_mcse`` / ``X_ci_high_mcse`` and ``X_ci_mcse_met``; ``tracking_error`` (std(d) * sqrt(P)); ``sharpe`` (of d, i.e. the information ratio) with
        ``sharpe_ci_low`` / ``_high``; ``sharpe_strategy``, ``sharpe_benchmark`` and ``sharpe_difference`` with
        its interval (both series resampled with the same blocks); ``bootstrap_block`` (from d). None where
        undefined. ``ruined``: None, or ``{"date", "sessions_lost", "which"}`` when a curve reached 0 or below;
        the comparison then stops that day, counted as a loss of everything for that curve.

    Raises
    ------
    DataError
        Fewer than three common days.
    """
    both = pd.concat([strategy.rename("s"), benchmark.rename("b")], axis=1).dropna()
    if len(both) < 3:
        raise DataError(f"{strategy.name or 'strategy'} - {benchmark.name or 'benchmark'}: fewer than three "
                        "common days; the curves do not overlap")
    v = both.to_numpy(dtype="float64")
    if (v[0] <= 0).any():
        raise DataError("difference_stats: the first common values must be > 0")
    ruined = None
    bad = np.flatnonzero((v <= 0).any(axis=1))
    if len(bad):   # a ruined curve: the comparison stops at its ruin day, a loss of everything (see ruin_cut)
        i = int(bad[0])
        ruined = {"date": _when(both.index[i]), "sessions_lost": int(len(v) - 1 - i),
                  "which": [("strategy", "benchmark")[k] for k in range(2) if v[i, k] <= 0]}
        v = np.maximum(v[:i + 1], 0.0)
        both = both.iloc[:i + 1]
        if len(v) < 3:
            raise DataError(f"{strategy.name or 'strategy'} - {benchmark.name or 'benchmark'}: ruined on "
                            f"{ruined['date']}, fewer than three common days before it")
    r = v[1:] / v[:-1] - 1.0
    d = r[:, 0] - r[:, 1]
    ppy = int(periods_per_year)
    out = {"start": both.index[0], "end": both.index[-1], "days": int(len(d)), "ruined": ruined,
           "mean_daily": float(d.mean()),
           "annual_mean": float(d.mean() * ppy), "tracking_error": float(d.std(ddof=1) * math.sqrt(ppy)),
           "sharpe": sharpe_ratio(d, periods_per_year=ppy),
           "sharpe_strategy": sharpe_ratio(r[:, 0], periods_per_year=ppy),
           "sharpe_benchmark": sharpe_ratio(r[:, 1], periods_per_year=ppy)}
    out["sharpe_difference"] = out["sharpe_strategy"] - out["sharpe_benchmark"]
    if bootstrap_reps:
        block = _block_length(d)
        t_ret, t_sh = mcse_targets if mcse_targets is not None else (None, None)
        dr = np.column_stack([d, r])    # the three statistics read the same resampled days
        recs = bootstrap_replicates(
            [lambda x, idx: x[:, 0][idx].mean(axis=1) * ppy,
             lambda x, idx: _sharpe_rows(x[:, 0], idx, ppy),
             lambda x, idx: _sharpe_rows(x[:, 1], idx, ppy) - _sharpe_rows(x[:, 2], idx, ppy)],
            dr, block=block, reps=bootstrap_reps, seed=seed, targets=[t_ret, t_sh, t_sh])
        for name, rec in zip(("annual_mean", "sharpe", "sharpe_difference"), recs):
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = rec["low"], rec["high"]
            out[f"{name}_ci_low_mcse"], out[f"{name}_ci_high_mcse"] = rec["low_mcse"], rec["high_mcse"]
            out[f"{name}_ci_mcse_met"] = rec["mcse_met"]
        out["bootstrap_block"], out["bootstrap_reps"] = float(block), int(recs[0]["reps"])
    return {k: (_none(x) if isinstance(x, (float, np.floating)) else x) for k, x in out.items()}


def summary_table(result, schedule: Sequence | None = None, *, periods_per_year: int = 252,
                  risk_free: float = 0.0, bootstrap_reps: int | None = None, seed: int = 0,
                  differences: bool = True) -> pd.DataFrame:
    """One row per curve of a :class:`volts.trading.simulate.SimulationResult`: the strategy, then each benchmark.

    Parameters
    ----------
    result : volts.trading.simulate.SimulationResult
    schedule : sequence of Rebalance or None
        Adds weeks in cash, distinct pairs and average pair lifetime to the strategy's row.
    periods_per_year, risk_free, bootstrap_reps, seed
        As :func:`performance_stats`.
    differences : bool, default True
        Add, on each benchmark's row, the strategy-minus-benchmark columns of :func:`difference_stats`
        (prefixed ``diff_``).

    Returns
    -------
    pandas.DataFrame
        Index ``curve`` (``strategy``, ``followers_buy_and_hold``, ``universe_equal_weight``, ``spy``); columns the
        keys of :func:`performance_stats` (benchmarks: no trade or schedule columns) plus ``cost_bps`` (the
        proportional cost per side, bps), ``fixed_commission`` and ``optimistic``.
    """
    if bootstrap_reps is None:
        bootstrap_reps = BOOTSTRAP_REPS
    kw = dict(periods_per_year=periods_per_year, risk_free=risk_free, bootstrap_reps=bootstrap_reps, seed=seed)
    rows = {"strategy": performance_stats(result.equity, trades=result.trades,
                                          turnover_value=result.turnover_value, schedule=schedule, **kw)}
    for name, curve in result.benchmarks.items():
        if curve.notna().sum() < 2:
            continue
        row = performance_stats(curve, **kw)
        if differences:
            diff = difference_stats(result.equity, curve, periods_per_year=periods_per_year,
                                    bootstrap_reps=bootstrap_reps, seed=seed)
            row.update({f"diff_{k}": v for k, v in diff.items() if k not in ("start", "end")})
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "curve"
    out["cost_bps"] = result.costs.rate * 1e4
    out["fixed_commission"] = result.costs.fixed
    out["optimistic"] = bool(result.optimistic)
    return out
