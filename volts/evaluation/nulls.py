"""Null models, ablation and the deflated Sharpe ratio of the walk-forward (issue 11).

Is the weekly selection better than chance, and which stage earns its keep? Over the **same re-selection weeks, the
same bars and the same costs** as the headline walk-forward (the configured funnel), :func:`run_ablation` builds
one table:

* **no screen**: ``[selection] screens = []``: every ordered pair of the week's mid-volatility candidates goes
  straight to the DTW lag stage and is traded;
* **Granger only** (``["granger"]``) and **Granger + PCMCI** (``["granger", "pcmci"]``);
* **full funnel**: the configured screens (the paper's granger -> pcmci -> transfer_entropy by default): the
  headline strategy, whose report holds the table;
* **full funnel + stability threshold**: every re-selection also runs :mod:`volts.selection.stability` R times and keeps
  only final pairs selected in at least ``threshold`` of the runs. It costs R more selections per re-selection, so
  it runs only when asked (``stability_runs`` > 0), possibly at a coarser re-selection frequency; the table states
  R, the threshold and that frequency, or says that the row was not run;
* **random pairs** (the null model): for each of ``draws`` seeded draws, each week holds as many ordered pairs as
  the headline selected, drawn without replacement from that week's mid-volatility candidates, each with a lag
  uniform on ``[lag] min_lag .. max_lag`` (:class:`volts.evaluation.pickers.RandomPairs`), traded by the same simulator
  at the same costs (weeks the headline held cash stay in cash). The selections are the headline's cached weeks,
  so a draw costs only a trading pass (the vectorised simulator without benchmarks or cost tables).

Statistics (:func:`permutation_p_value`, :func:`percentile_of`): the strategy's **permutation p-value** is
``p = (1 + #{null Sharpe >= strategy Sharpe}) / (draws + 1)`` (a draw whose Sharpe is undefined -- a flat equity
-- counts as not reaching it), its percentile is the share of draws strictly below it, and the null's median and
2.5 / 97.5 % quantiles describe the distribution.

The **probabilistic** and **deflated Sharpe ratios** (:mod:`volts.evaluation.sharpe`, Bailey & López de Prado 2012, 2014) of
the headline use its daily excess returns; the number of trials N is the number of configurations of the table
that were run (its rows, the null excluded: the null is a reference distribution, not a configuration one could
have chosen), and the variance of the trials' Sharpe ratios is that of those rows' (per-period) Sharpe ratios.
A **ruined** row (its equity reached zero: its statistics stop at that day, counted as a total loss) is marked
``ruined`` and left out of that variance: its Sharpe ratio describes the few days up to the ruin, not a
configuration's skill over the span, and one such extreme value inflates V and with it the DSR benchmark SR0
(a -5.14 annual Sharpe made SR0 2.48). It still counts in N (it was a configuration tried).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from volts._compat import moved_names as _moved_names
from volts.core.config import Settings
from volts.core.errors import UsageError

__all__ = [
    "NULL_DRAWS",
    "STABILITY_THRESHOLD",
    "NullResult",
    "daily_excess_returns",
    "annual_sharpe",
    "permutation_p_value",
    "percentile_of",
    "random_pairs_null",
    "headline_inference",
]

#: Default number of random-pairs draws (issue 11 asks for at least 200).
NULL_DRAWS = 200
#: Stability threshold of the ablation row when ``[stability] threshold`` is unset: the lower end of the range
#: 0.6 .. 0.9 that Meinshausen & Bühlmann (2010, §2.4) report as giving similar results.
STABILITY_THRESHOLD = 0.6
HEADLINE = "full-funnel"


# ------------------------------------------------------------------------------------------ statistics
def daily_excess_returns(equity: pd.Series, settings: Settings) -> np.ndarray:
    """Daily simple returns of an equity curve minus the daily risk-free rate, as :func:`volts.trading.performance.
    performance_stats` computes them for its Sharpe ratio.

    Parameters
    ----------
    equity : pandas.Series, shape (n_days,)
        Value at each close (USD); leading/trailing NaN are dropped.
    settings : Settings
        ``metrics.risk_free`` (annual) and ``metrics.periods_per_year``.

    Returns
    -------
    numpy.ndarray, shape (n_days - 1,)
        Fewer when the curve was ruined (see :func:`volts.trading.performance.ruin_cut`).
    """
    from volts.trading.performance import ruin_cut

    # a ruined curve counts up to its ruin day (a -100 % return), as performance_stats counts it
    v = ruin_cut(equity.dropna())[0].to_numpy(dtype="float64")
    ppy = int(settings.metrics.periods_per_year)
    rf = (1.0 + settings.metrics.risk_free) ** (1.0 / ppy) - 1.0
    return v[1:] / v[:-1] - 1.0 - rf


def annual_sharpe(equity: pd.Series, settings: Settings) -> float:
    """Annualised Sharpe ratio of an equity curve, the same number ``metrics.json`` reports (NaN when flat)."""
    from volts.trading.performance import sharpe_ratio

    return sharpe_ratio(daily_excess_returns(equity, settings), periods_per_year=settings.metrics.periods_per_year)


def permutation_p_value(null: Sequence[float], observed: float) -> float:
    """Monte Carlo permutation p-value ``(1 + #{null >= observed}) / (len(null) + 1)`` (Davison & Hinkley 1997).

    Parameters
    ----------
    null : sequence of float, shape (draws,)
        Statistic under the null, one per draw; NaN (undefined) never counts as reaching ``observed``.
    observed : float
        The strategy's statistic.

    Returns
    -------
    float
        In (0, 1]; NaN when ``observed`` is NaN.
    """
    x = np.asarray(null, dtype="float64")
    if not np.isfinite(observed):
        return float("nan")
    with np.errstate(invalid="ignore"):
        ge = int(np.sum(x >= observed))
    return (1 + ge) / (len(x) + 1)


def percentile_of(null: Sequence[float], observed: float) -> float:
    """Percentile (0-100) of ``observed`` in the null: 100 x share of draws strictly below it; NaN draws count
    as not below. NaN when ``observed`` is NaN or there is no draw."""
    x = np.asarray(null, dtype="float64")
    if not np.isfinite(observed) or not len(x):
        return float("nan")
    with np.errstate(invalid="ignore"):
        return 100.0 * float(np.sum(x < observed)) / len(x)


@dataclass(frozen=True)
class NullResult:
    """The random-pairs null distribution of the annualised Sharpe ratio and where the strategy falls in it.

    Attributes
    ----------
    sharpes : numpy.ndarray, shape (draws,)
        Annualised Sharpe ratio of each draw (NaN when undefined), in draw order.
    strategy_sharpe : float
        The headline's annualised Sharpe ratio (as in ``metrics.json``).
    draws, seed : int
        Draw d picks its pairs with the per-week generators of ``seed + d`` (:func:`volts.evaluation.walkforward.
        apply_pair_picker`).
    min_lag, max_lag : int
        The lag range the draws used.
    break_evens : numpy.ndarray, shape (draws,), optional
        Each draw's first-order break-even cost, bps per side (:func:`volts.evaluation.breakeven.linear_break_even`
        of the draw's own run: mean gross return over mean turnover); -inf when the draw loses before costs (no
        break-even), NaN when its costs per day are unknown (a strategy without a fills table).
    p_value, percentile : float
        :func:`permutation_p_value` and :func:`percentile_of`.
    """

    sharpes: np.ndarray
    strategy_sharpe: float
    draws: int
    seed: int
    min_lag: int
    max_lag: int
    break_evens: np.ndarray | None = None
    p_value: float = field(init=False)
    percentile: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_value", permutation_p_value(self.sharpes, self.strategy_sharpe))
        object.__setattr__(self, "percentile", percentile_of(self.sharpes, self.strategy_sharpe))

    def quantile(self, q: float) -> float | None:
        """Quantile ``q`` (0..1) of the defined draws (None if none is defined)."""
        s = self.sharpes[np.isfinite(self.sharpes)]
        return float(np.quantile(s, q)) if len(s) else None

    def to_dict(self, *, with_sharpes: bool = False) -> dict:
        """JSON-ready summary (``nulls.json`` adds every draw's Sharpe with ``with_sharpes``)."""
        out = {
            "model": "random_pairs",
            "draws": int(self.draws),
            "seed": int(self.seed),
            "lag_range": [int(self.min_lag), int(self.max_lag)],
            "strategy_sharpe": self.strategy_sharpe,
            "p_value": self.p_value,
            "percentile": self.percentile,
            "median": self.quantile(0.5),
            "q025": self.quantile(0.025),
            "q975": self.quantile(0.975),
            "undefined_draws": int(np.sum(~np.isfinite(self.sharpes))),
            "at_or_above": int(np.sum(np.isfinite(self.sharpes) & (self.sharpes >= self.strategy_sharpe)))
            if np.isfinite(self.strategy_sharpe)
            else None,
        }
        if self.break_evens is not None:
            out.update(break_even_quantiles(self.break_evens))
        if with_sharpes:
            out["sharpes"] = [None if not np.isfinite(v) else float(v) for v in self.sharpes]
            if self.break_evens is not None:
                out["break_evens"] = [
                    None if np.isnan(v) else ("none" if np.isneginf(v) else float(v)) for v in self.break_evens
                ]
        return out


def break_even_quantiles(values: np.ndarray) -> dict:
    """Median and 2.5 / 97.5 % quantiles (inverted CDF: a draw's own value) of the draws' break-even costs.

    A draw without one (-inf: it lost before costs) ranks below every cost, and a quantile that falls among those
    is None; a draw whose costs are unknown (NaN) is left out. Keys ``break_even_median``, ``break_even_q025``,
    ``break_even_q975``, ``break_even_none`` (draws without a break-even), ``break_even_unknown``."""
    values = np.asarray(values, dtype="float64")
    v = values[~np.isnan(values)]

    def q(p: float) -> float | None:
        if not len(v):
            return None
        x = float(np.quantile(v, p, method="inverted_cdf"))
        return x if np.isfinite(x) else None

    return {
        "break_even_median": q(0.5),
        "break_even_q025": q(0.025),
        "break_even_q975": q(0.975),
        "break_even_none": int(np.sum(np.isneginf(values))),
        "break_even_unknown": int(np.sum(np.isnan(values))),
    }


def _trade_weeks(weeks: Sequence[dict], *, market, settings: Settings, end, strategy, engine: str, full=False):
    """Equity of ``weeks`` traded by ``strategy``: a registered name, or the registered function itself (what
    the executor's tasks receive, so that a worker process need not have the registry); ``full``: the whole
    result (equity, turnover, fills)."""
    from volts.evaluation.schedule import build_schedule
    from volts.evaluation.strategies import _strategy

    schedule = build_schedule(weeks)
    if strategy == "lead_lag_trend":
        from volts.trading.simulate import simulate_schedule

        res = simulate_schedule(market, schedule, end=end, settings=settings, engine="vectorised", benchmarks=False)
        return res if full else res.equity
    fn = strategy if callable(strategy) else _strategy(strategy)
    res = fn(market, schedule, end=end, settings=settings, engine=engine, cost_bps=None)
    return res if full else res.equity


def _draw_break_even(res) -> float:
    """First-order break-even cost of one draw's run (bps per side; -inf: none, it loses before costs; NaN: the
    run has no fills table, so its costs per day are unknown)."""
    from volts.evaluation.breakeven import linear_break_even

    fills = getattr(res, "fills", None)
    turnover = getattr(res, "turnover_value", None)
    if fills is None or turnover is None:
        return float("nan")
    paid = (
        fills.groupby("date")["commission"].sum().reindex(res.equity.index, fill_value=0.0)
        if len(fills)
        else pd.Series(0.0, index=res.equity.index)
    )
    be = linear_break_even(res.equity, turnover, paid)["bps_per_side"]
    return -math.inf if be is None else float(be)


def _null_draw_task(
    draw_seed: int, *, market, weeks, settings: Settings, end, strategy, engine: str, picker
) -> tuple[float, float]:
    """One random-pairs draw (an executor task: a whole trading pass over every week): its annualised Sharpe
    ratio and its first-order break-even cost (:func:`_draw_break_even`)."""
    from volts.evaluation.pickers import apply_pair_picker

    drawn = apply_pair_picker(weeks, picker, int(draw_seed))
    res = _trade_weeks(drawn, market=market, settings=settings, end=end, strategy=strategy, engine=engine, full=True)
    return annual_sharpe(res.equity, settings), _draw_break_even(res)


def random_pairs_null(
    market,
    weeks: Sequence[dict],
    settings: Settings,
    *,
    end,
    draws: int = NULL_DRAWS,
    seed: int = 0,
    strategy_sharpe: float | None = None,
    strategy: str = "lead_lag_trend",
    engine: str = "vectorised",
    executor=None,
) -> NullResult:
    """The random-pairs null: ``draws`` seeded re-drawings of the weeks' pairs, each traded like the strategy.

    Parameters
    ----------
    market : MarketData
        The walk-forward's bars (loaded once).
    weeks : sequence of dict
        The headline's week records (:func:`volts.evaluation.walkforward.select_week`): ``asof``, ``candidates``, ``pairs``.
    settings : Settings
        The headline's settings: costs, strategy rule, ``[lag]`` range, ``[metrics]``.
    end : date-like
        Last session traded.
    draws : int
        Number of draws (>= 1; the issue asks for >= 200).
    seed : int
        Draw d uses seed ``seed + d``; the same seed gives the same draws.
    strategy_sharpe : float, optional
        The headline's annualised Sharpe (computed from the headline's weeks when omitted).
    strategy : str
        Registered walk-forward strategy. The paper's ``"lead_lag_trend"`` is traded by the vectorised simulator
        without benchmarks (the same rules as the engine of record, tested to 1e-6); another strategy by its own
        function.
    engine : str
        Engine for a strategy other than ``"lead_lag_trend"``.
    executor : volts.core.parallel.Executor, optional
        Runs the draws as tasks (one draw = one trading pass over every week), with its progress display; on a
        cluster the market is sent once per worker. Default: in this process, one after the other. The result is
        the same either way (draw ``d`` is seeded by ``seed + d``).

    Returns
    -------
    NullResult

    Raises
    ------
    UsageError
        ``draws`` < 1 or an empty lag range.
    """
    from volts.core.registry import PAIR_PICKERS

    if int(draws) < 1:
        raise UsageError(f"--null-draws must be >= 1 (got {draws})")
    picker = PAIR_PICKERS["random_pairs"].from_settings(settings)
    from volts.evaluation.strategies import _strategy

    task_strategy = strategy if strategy == "lead_lag_trend" else _strategy(strategy)
    common = dict(market=market, weeks=list(weeks), settings=settings, end=end, strategy=task_strategy, engine=engine)
    if strategy_sharpe is None:
        strategy_sharpe = annual_sharpe(
            _trade_weeks(weeks, market=market, settings=settings, end=end, strategy=strategy, engine=engine), settings
        )
    seeds = [int(seed) + d for d in range(int(draws))]
    out = np.empty(int(draws))
    be = np.empty(int(draws))
    if executor is None:
        for d, s in enumerate(seeds):
            out[d], be[d] = _null_draw_task(s, picker=picker, **common)
    else:
        for s, value in executor.map(_null_draw_task, seeds, key=str, label="null draws", picker=picker, **common):
            out[s - int(seed)], be[s - int(seed)] = value
    return NullResult(
        sharpes=out,
        break_evens=be,
        strategy_sharpe=float(strategy_sharpe),
        draws=int(draws),
        seed=int(seed),
        min_lag=picker.min_lag,
        max_lag=picker.max_lag,
    )


def headline_inference(
    equity: pd.Series, settings: Settings, *, trial_sharpes: Sequence[float] | None, n_trials: int | None = None
) -> dict:
    """PSR and DSR of the headline's daily excess returns (:func:`volts.evaluation.sharpe.sharpe_inference`).

    Parameters
    ----------
    equity : pandas.Series
        The headline's daily equity.
    settings : Settings
        ``[metrics]`` (risk-free rate, periods per year).
    trial_sharpes : sequence of float or None
        Per-period Sharpe ratios of every configuration compared (the headline included); None = one trial
        (DSR = PSR(0)).
    n_trials : int or None
        N of the DSR when it differs from ``len(trial_sharpes)`` (ruined rows count in N, not in the variance).

    Returns
    -------
    dict
        :func:`volts.evaluation.sharpe.sharpe_inference`'s keys plus ``trials`` (the per-period Sharpe ratios used).
    """
    from volts.evaluation.sharpe import sharpe_inference

    trials = None if trial_sharpes is None else [float(x) for x in trial_sharpes]
    out = sharpe_inference(
        daily_excess_returns(equity, settings),
        trial_sharpes=trials,
        n_trials=n_trials if trials is not None else None,
        periods_per_year=settings.metrics.periods_per_year,
    )
    out["trials"] = trials
    return out


def dsr_trials(rows: list[dict], periods_per_year: int) -> tuple[list[str], list[float]]:
    """Mark the ablation rows that count as deflated-Sharpe trials; the trials' per-period Sharpe ratios.

    Parameters
    ----------
    rows : list of dict
        Ablation rows (``row``, ``status``, ``sharpe`` annualised, optional ``ruined`` and ``note``); updated in
        place with ``sharpe_per_period``, ``trial`` and a note for a row left out.
    periods_per_year : int

    Returns
    -------
    (list of str, list of float)
        The rows counted in N (run, Sharpe defined), and the per-period Sharpe ratios whose variance is V: those
        rows minus the ruined ones (module docstring).
    """
    for r in rows:
        sh = r.get("sharpe")
        r["sharpe_per_period"] = (
            (sh / math.sqrt(periods_per_year)) if r["status"] == "run" and sh is not None and np.isfinite(sh) else None
        )
        r["trial"] = r["sharpe_per_period"] is not None
        if r["status"] == "run" and not r["trial"]:
            r["note"] = "; ".join(
                x
                for x in (
                    r.get("note"),
                    "Sharpe ratio undefined (flat equity: no trade at all), so not counted as a DSR trial",
                )
                if x
            )
        if r["status"] == "run" and r.get("ruined"):
            when = r["ruined"].get("date") if isinstance(r["ruined"], dict) else r["ruined"]
            r["note"] = "; ".join(
                x
                for x in (
                    r.get("note"),
                    f"RUINED on {when}: statistics up to that day "
                    "(a total loss); counted in N but left out of the variance of "
                    "the trials' Sharpe ratios",
                )
                if x
            )
    trial_rows = [r["row"] for r in rows if r["trial"]]
    return trial_rows, [r["sharpe_per_period"] for r in rows if r["trial"] and not r.get("ruined")]


# names of volts 0.2's ``volts.nulls`` that live in :mod:`volts.evaluation.ablation` now (it runs walk-forwards,
# which this module's caller is)
__getattr__ = _moved_names(
    __name__,
    {
        "Ablation": "volts.evaluation.ablation",
        "AblationRow": "volts.evaluation.ablation",
        "ablation_rows": "volts.evaluation.ablation",
        "run_ablation": "volts.evaluation.ablation",
    },
)
