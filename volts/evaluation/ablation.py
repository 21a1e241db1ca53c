"""Ablation: which stage of the funnel earns its keep, against the random-pairs null.

:func:`run_ablation` runs the walk-forward once per variant (no screen, Granger only, Granger + PCMCI, the full
funnel, + stability threshold) on one shared weekly cache, draws the random-pairs null
(:func:`volts.evaluation.nulls.random_pairs_null`) and states every row's Sharpe ratio with its interval, its
permutation p-value and the deflated Sharpe ratio over the variants compared (:mod:`volts.evaluation.sharpe`).
"""

from __future__ import annotations

__all__ = ["Ablation", "AblationRow", "ablation_rows", "run_ablation"]

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from volts.core.config import Settings
from volts.core.errors import UsageError
from volts.evaluation.nulls import (
    HEADLINE,
    NULL_DRAWS,
    STABILITY_THRESHOLD,
    annual_sharpe,
    dsr_trials,
    headline_inference,
    random_pairs_null,
)


# ---------------------------------------------------------------------------------------------- ablation
@dataclass(frozen=True)
class AblationRow:
    """One configuration of the ablation table.

    Attributes
    ----------
    key : str
        ``no-screen``, ``granger-only``, ``granger-pcmci``, ``full-funnel``, ``full-stable``.
    label : str
        Text in the report.
    variant : volts.evaluation.walkforward.WalkForwardVariant
        How it runs (``strategy`` = the headline; the others cache their weeks in ``weeks-<name>/``).
    every : str
        Its re-selection frequency.
    screens : tuple of str
        Its pair funnel (``selection.screens``; empty = no screen).
    run : bool
        False for the stability row when ``stability_runs`` is 0 (``note`` says so).
    note : str
    """

    key: str
    label: str
    variant: Any
    every: str
    screens: tuple = ()
    run: bool = True
    note: str = ""

    def spec(self) -> dict:
        ov = dict(self.variant.overrides)
        return {"row": self.key, "variant": self.label, "run_name": self.variant.name,
                "screens": " -> ".join(self.screens) if self.screens else "none", "every": self.every, "stability_runs": ov.get("stability.runs"),
                "stability_threshold": ov.get("stability.threshold"),
                "status": "run" if self.run else "not run", "trial": self.run, "note": self.note}


def ablation_rows(settings: Settings, *, every: str = "1W", strategy: str = "lead_lag_trend",
                  stability_runs: int = 0, stability_threshold: float | None = None,
                  stability_every: str | None = None) -> list[AblationRow]:
    """The table's configurations, in order (see the module docstring).

    Parameters
    ----------
    settings : Settings
        The headline's settings (its ``selection.screens`` is the full funnel).
    every : str
        Re-selection frequency of every row but the stability row.
    strategy : str
        Registered strategy every row trades.
    stability_runs : int
        R of the stability row; 0 = the row is listed as not run.
    stability_threshold : float, optional
        Its threshold (default ``[stability] threshold``, else :data:`STABILITY_THRESHOLD`).
    stability_every : str, optional
        Its re-selection frequency (default ``every``).

    Returns
    -------
    list of AblationRow
    """
    from volts.evaluation.walkforward import WalkForwardVariant, parse_every

    if int(stability_runs) < 0:
        raise UsageError(f"--stability-runs must be >= 0 (got {stability_runs})")
    full = list(settings.selection.screens)
    thr = stability_threshold if stability_threshold is not None else settings.stability.threshold
    thr = float(STABILITY_THRESHOLD if thr is None else thr)
    if not 0 < thr <= 1:
        raise UsageError(f"--stability-threshold must be in (0, 1] (got {thr})")
    s_every = stability_every or every
    parse_every(s_every)
    rows = [
        AblationRow("no-screen", "no screen (every candidate pair)",
                    WalkForwardVariant(name="no-screen", overrides={"selection.screens": []}, strategy=strategy),
                    every, ()),
        AblationRow("granger-only", "Granger only",
                    WalkForwardVariant(name="granger-only", overrides={"selection.screens": ["granger"]},
                                       strategy=strategy), every, ("granger",)),
        AblationRow("granger-pcmci", "Granger + PCMCI",
                    WalkForwardVariant(name="granger-pcmci", overrides={"selection.screens": ["granger", "pcmci"]},
                                       strategy=strategy), every, ("granger", "pcmci")),
        AblationRow(HEADLINE, "full funnel (headline)", WalkForwardVariant(strategy=strategy), every, tuple(full)),
    ]
    stable = WalkForwardVariant(name="full-stable", strategy=strategy,
                                overrides={"stability.runs": int(stability_runs), "stability.threshold": thr})
    if int(stability_runs) > 0:
        note = (f"R = {int(stability_runs)} bootstrap selections per re-selection, threshold {thr:g}, re-selected "
                f"every {s_every}" + ("" if parse_every(s_every) == parse_every(every) else
                                      f" (the other rows: every {every}; same span and costs)"))
        rows.append(AblationRow("full-stable", "full funnel + stability threshold", stable, s_every, tuple(full),
                                True, note))
    else:
        rows.append(AblationRow("full-stable", "full funnel + stability threshold", stable, s_every, tuple(full),
                                False, "not run: it costs R selections per re-selection; run with --stability-runs R"))
    return rows


@dataclass
class Ablation:
    """The ablation rows run before the headline, and the null's settings; :meth:`evaluate` finishes the table in
    the headline's :func:`volts.evaluation.walkforward.run_walkforward` (its ``ablation`` argument).

    Attributes
    ----------
    rows : list of dict
        One per :class:`AblationRow` in order: its :meth:`AblationRow.spec` plus, when run,
        :func:`volts.evaluation.walkforward.comparison_row`'s statistics. The headline's row is filled by :meth:`evaluate`.
    draws, seed : int
        Of the random-pairs null.
    """

    rows: list[dict]
    draws: int = NULL_DRAWS
    seed: int = 0

    def evaluate(self, *, sim, weeks: Sequence[dict], market, settings: Settings, end, metrics: dict,
                 strategy: str = "lead_lag_trend", engine: str = "vectorised",
                 executor=None, dropped_candidates: Sequence[dict] = ()) -> tuple[dict, dict, dict]:
        """Complete the table with the headline's row and the random-pairs null; compute PSR and DSR.

        Returns
        -------
        section : dict
            ``metrics.json["ablation"]``: ``rows`` (the table, null row last), ``null`` (summary), ``n_trials``,
            ``trial_rows``.
        inference : dict
            ``metrics.json["sharpe_inference"]`` (:func:`headline_inference` with the run rows as trials).
        files : dict
            ``{"ablation.csv": DataFrame, "nulls.json": dict}`` for the results folder.
        """
        from volts.evaluation.walkforward import comparison_row

        ppy = int(settings.metrics.periods_per_year)
        rows = []
        for r in self.rows:
            if r["row"] == HEADLINE:
                r = {**r, **comparison_row(r["variant"], metrics)}
            rows.append(dict(r))
        trial_rows, trials = dsr_trials(rows, ppy)
        inference = headline_inference(sim.equity, settings, trial_sharpes=trials, n_trials=len(trial_rows))
        inference["ruined_rows"] = [r["row"] for r in rows if r["trial"] and r.get("ruined")]
        from volts.evaluation.walkforward import null_weeks

        null = random_pairs_null(market, null_weeks(weeks, dropped_candidates), settings, end=end,
                                 draws=self.draws, seed=self.seed,
                                 strategy_sharpe=annual_sharpe(sim.equity, settings), strategy=strategy,
                                 engine=engine, executor=executor)
        nd = null.to_dict()
        nd["dropped_candidates"] = list(dropped_candidates)
        rows.append({"row": "random-pairs", "variant": f"random pairs (null, {null.draws} draws)",
                     "run_name": None, "screens": "random", "every": rows[0]["every"] if rows else None,
                     "status": "run", "trial": False, "sharpe": nd["median"], "sharpe_ci_low": nd["q025"],
                     "sharpe_ci_high": nd["q975"], "p_value": nd["p_value"], "percentile": nd["percentile"],
                     "break_even_bps": nd.get("break_even_median"),
                     "note": (f"each week as many ordered pairs as the headline, drawn from that week's "
                              f"mid-volatility candidates, lags uniform {null.min_lag}..{null.max_lag}, seeds "
                              f"{null.seed}..{null.seed + null.draws - 1}; Sharpe = median, interval = 2.5-97.5 % "
                              f"of the draws (not a confidence interval); break-even = median of the draws' "
                              f"first-order break-even costs (mean gross return / mean turnover of each draw's run)"
                              + (f"; {len(dropped_candidates)} (candidate, week) left out of the pool: bars that "
                                 f"fail inside the week's holding span (listed in nulls.json)"
                                 if dropped_candidates else ""))})
        if nd.get("break_even_unknown", null.draws) >= null.draws:  # no draw's costs known: no break-even cell
            rows[-1].pop("break_even_bps", None)
        section = {"rows": rows, "null": nd, "n_trials": len(trial_rows), "trial_rows": trial_rows,
                   "ruined_rows": inference["ruined_rows"],
                   "headline": HEADLINE}
        columns = ["row", "variant", "status", "screens", "every", "stability_runs", "stability_threshold",
                   "cagr", "volatility", "sharpe", "sharpe_ci_low", "sharpe_ci_high", "sharpe_per_period",
                   "max_drawdown", "turnover", "break_even_bps", "weeks_in_cash", "weeks", "distinct_pairs",
                   "diff_vs_followers_annual_mean", "diff_ci_low", "diff_ci_high", "trial", "p_value",
                   "percentile", "ruined", "note"]
        table = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
        files = {"ablation.csv": table,
                 "nulls.json": {**null.to_dict(with_sharpes=True), "dropped_candidates": list(dropped_candidates)}}
        return section, inference, files


def run_ablation(settings: Settings, *, start, end, out: str | Path, every: str = "1W", executor=None,
                 market=None, engine: str = "vectorised", strategy: str = "lead_lag_trend", force: bool = False,
                 draws: int = NULL_DRAWS, seed: int = 0, stability_runs: int = 0,
                 stability_threshold: float | None = None, stability_every: str | None = None,
                 universe_for_asof=None):
    """Run the ablation rows, then the headline walk-forward with the null/ablation table in its report.

    Parameters
    ----------
    settings : Settings
        The headline's settings.
    start, end : date-like
        Span of the re-selection dates, as :func:`volts.evaluation.walkforward.run_walkforward`.
    out : Path
        Walk-forward folder: the headline's cache ``weeks/`` and results ``results/`` (with ``ablation.csv``,
        ``nulls.json``); each other row caches its weeks in ``weeks-<name>/`` and writes ``results-<name>/``
        without a report.
    every : str
        Re-selection frequency.
    executor : volts.core.parallel.Executor, optional
        Where the weekly selections run.
    market : MarketData, optional
        Bars (default: loaded once for every row).
    engine, strategy, force
        As :func:`volts.evaluation.walkforward.run_walkforward`, for every row.
    draws, seed : int
        Random-pairs null (:func:`random_pairs_null`).
    stability_runs, stability_threshold, stability_every
        The stability row (:func:`ablation_rows`).

    Returns
    -------
    volts.evaluation.walkforward.WalkForwardResult
        The headline's result; ``metrics["ablation"]`` holds the table.

    Notes
    -----
    A point-in-time universe (``[data] membership``, no ``market``): every other row would re-select every week
    of the membership universe, so those rows are listed as not run (the note says why) and only the headline
    and the random-pairs null run; the null trades on
    :func:`volts.evaluation.walkforward.candidates_market` (every candidate of the weeks that hold pairs).
    """
    from volts.evaluation.walkforward import _to_date, load_walkforward_market, run_walkforward

    if int(draws) < 1:
        raise UsageError(f"--null-draws must be >= 1 (got {draws})")
    point_in_time = bool(settings.data.membership) and market is None and universe_for_asof is None
    rows = ablation_rows(settings, every=every, strategy=strategy, stability_runs=stability_runs,
                         stability_threshold=stability_threshold, stability_every=stability_every)
    if point_in_time:
        # each other row re-selects every week of the membership universe (hours at S&P size): listed, not run.
        # The headline and the random-pairs null run (the null draws from each week's own candidates).
        rows = [r if r.key == HEADLINE else dataclasses.replace(
                    r, run=False, note="not run on a point-in-time universe ([data] membership): each row would "
                                       "recompute every week's selection; the headline and the random-pairs null "
                                       "run") for r in rows]
    elif market is None and settings.data.on_bad_symbol != "exclude":   # "exclude": each week loads its members
        market = load_walkforward_market(settings, _to_date(start), None if end is None else _to_date(end))
    done = []
    for row in rows:
        spec = row.spec()
        if row.key != HEADLINE and row.run:
            from volts.evaluation.walkforward import comparison_row

            res = run_walkforward(settings, start=start, end=end, every=row.every, out=Path(out),
                                  executor=executor, force=force, variant=row.variant, market=market,
                                  engine=engine, report=False, universe_for_asof=universe_for_asof)
            spec.update(comparison_row(row.label, res.metrics))
        done.append(spec)
    head = next(r for r in rows if r.key == HEADLINE)
    return run_walkforward(settings, start=start, end=end, every=every, out=Path(out), executor=executor,
                           force=force, variant=head.variant, market=market, engine=engine,
                           universe_for_asof=universe_for_asof,
                           ablation=Ablation(rows=done, draws=int(draws), seed=int(seed)))
