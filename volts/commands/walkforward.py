"""``volts walkforward``: weekly re-selection traded out of sample over a span, with costs and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperCommand

from volts.commands._common import parse_date


def format_comparison(table) -> str:
    """The ``--compare-screens`` table as aligned text: percentages, Sharpe ratios with their 95 % interval,
    weeks in cash out of all weeks (the same figures as the report's "Variants over the same weeks").

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`volts.evaluation.walkforward.compare_variants`'s table (fractions; NaN/None where undefined).
    """
    from volts.reporting.walkforward_report import _nan, _num, _pct

    def ci(lo, hi, fmt) -> str:
        lo, hi = _nan(lo), _nan(hi)
        return "–" if lo is None or hi is None else f"[{fmt(lo)}, {fmt(hi)}]"

    header = [
        "variant",
        "CAGR",
        "Sharpe",
        "95 % CI",
        "max DD",
        "turnover/yr",
        "weeks in cash",
        "pairs",
        "diff vs followers/yr",
        "95 % CI",
    ]
    rows = []
    for _, r in table.iterrows():
        pairs = _nan(r.get("distinct_pairs"))
        rows.append(
            [
                str(r["variant"]),
                _pct(_nan(r.get("cagr"))),
                _num(_nan(r.get("sharpe"))),
                ci(r.get("sharpe_ci_low"), r.get("sharpe_ci_high"), "{:.2f}".format),
                _pct(_nan(r.get("max_drawdown"))),
                _num(_nan(r.get("turnover")), "{:.1f}"),
                "–" if _nan(r.get("weeks")) is None else f"{int(r['weeks_in_cash'])} / {int(r['weeks'])}",
                "–" if pairs is None else str(int(pairs)),
                _pct(_nan(r.get("diff_vs_followers_annual_mean"))),
                ci(r.get("diff_ci_low"), r.get("diff_ci_high"), _pct),
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


class _StrategyHelpCommand(TyperCommand):
    """The walkforward command; its ``--strategy`` help lists the registered strategies, read from the registry
    only when the help is shown (importing the strategies costs about two seconds)."""

    def format_help(self, ctx, formatter) -> None:
        from volts.evaluation.walkforward import strategy_names

        for param in self.params:
            if param.name == "strategy":
                param.help = f"Registered strategy to trade: {', '.join(strategy_names())}."
        super().format_help(ctx, formatter)


def register(app: typer.Typer) -> None:
    """Add ``volts walkforward`` to the CLI.

    Length: a typer command is one function whose parameters are its options; this one declares every
    walk-forward option (span, executor, null model, ablation, comparisons, stability).
    """
    from volts.cli import ConfigOpt, DataDirOpt, console, err_console, load_cli_settings

    @app.command("walkforward", cls=_StrategyHelpCommand)
    def walkforward(
        start: Optional[str] = typer.Option(
            None, "--start", help="First re-selection week, YYYY-MM-DD (default: 2019-01-04)."
        ),
        end: Optional[str] = typer.Option(
            None, "--end", help="Last day traded, YYYY-MM-DD (default: 2024-03-08, or the data's last date if earlier)."
        ),
        every: str = typer.Option(
            "1W",
            "--every",
            help="Re-select every N weeks: 1W, 2W, ...; on intraday bars also '24 bars', 6H, 1D (UTC periods).",
        ),
        hold: Optional[str] = typer.Option(
            None, "--hold", help="Holding period; must equal --every (a holding lasts until the next re-selection)."
        ),
        workers: Optional[int] = typer.Option(
            None, "--workers", help="Start a local Dask cluster of N worker processes."
        ),
        scheduler: Optional[str] = typer.Option(
            None, "--scheduler", help="Use a running Dask scheduler, tcp://HOST:PORT."
        ),
        engine: str = typer.Option("vectorised", "--engine", help="vectorised | backtrader (engine of record)."),
        strategy: str = typer.Option("lead_lag_trend", "--strategy", help="Registered strategy to trade."),
        return_jump: str = typer.Option(
            "flag",
            "--return-jump",
            help="A move beyond data.max_abs_return: flag (keep it, list it in the report) or error (stop).",
        ),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        out: Path = typer.Option(
            Path("runs/walkforward"), "--out", help="Walk-forward folder (week cache in weeks/, artifacts in results/)."
        ),
        force: bool = typer.Option(False, "--force", help="Recompute every week, ignoring the cache."),
        compare_screens: bool = typer.Option(
            False,
            "--compare-screens",
            help="Issue-12 comparison over the same weeks and costs: the Vol-TS "
            "funnel, each screen alone with a top-K rule, Hermitian "
            "clustering and the lead-lag portfolio; one table in the report.",
        ),
        top_k: int = typer.Option(5, "--top-k", help="K of the top-K rule in --compare-screens."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        ablation: bool = typer.Option(
            False,
            "--ablation",
            help="Also run the null/ablation table of issue 11 over the same weeks and "
            "costs (no screen, Granger only, Granger + PCMCI, the full funnel, "
            "optionally + stability threshold; random-pairs null; deflated Sharpe) "
            "into the report, ablation.csv and nulls.json. With [data] "
            "membership: the headline and the null only.",
        ),
        null_draws: int = typer.Option(
            200,
            "--null-draws",
            min=1,
            help="With --ablation (or on intraday bars): seeded random-pairs draws (>= 200 for the null model).",
        ),
        null_seed: int = typer.Option(
            0,
            "--null-seed",
            min=0,
            max=2**32 - 1,
            help="With --ablation: seed of the first draw; draw d uses seed + d, all within 0 .. 2**32 - 1.",
        ),
        stability_runs: int = typer.Option(
            0,
            "--stability-runs",
            min=0,
            help="With --ablation: R bootstrap selections per re-selection for the "
            "'full funnel + stability threshold' row; 0 = row not run.",
        ),
        stability_threshold: Optional[float] = typer.Option(
            None,
            "--stability-threshold",
            help="With --ablation: share of the R runs a pair needs (default [stability] threshold, else 0.6).",
        ),
        stability_every: Optional[str] = typer.Option(
            None,
            "--stability-every",
            help="With --ablation: re-selection frequency of the stability row (default --every); stated in the table.",
        ),
        date_stability: int = typer.Option(
            0,
            "--date-stability",
            min=0,
            help="For every week with pairs, re-select as of the K sessions before and after its as-of date and "
            "report each pick's share of them (up to 2K more selections per week with pairs); 0 = off.",
        ),
    ) -> None:
        """Re-run the selection every week out of sample, trade it, and report against buy-and-hold.
        \f
        Length: the option checks and the dispatch to the headline run, the screen comparison, the ablation
        and the stability run; each branch is a few lines that call into volts.evaluation.
        """
        import datetime as dt

        from volts.core.errors import UsageError
        from volts.core.parallel import Executor
        from volts.evaluation.walkforward import WalkForwardVariant, parse_every, run_walkforward

        if engine not in ("vectorised", "backtrader"):
            raise UsageError(f"--engine must be 'vectorised' or 'backtrader' (got {engine!r})")
        bar_settings = load_cli_settings(config, data_dir, source)
        if bar_settings.data.timeframe != "D1":  # intraday bars: re-selection at any cadence (bar_walkforward)
            from volts.commands.bar_walkforward import run_intraday_walkforward

            given = {
                "--compare-screens": compare_screens,
                "--ablation": ablation,
                "--hold": hold,
                "--date-stability": date_stability,
                "--stability-runs": stability_runs,
                "--engine": engine,
                "--strategy": strategy,
            }
            run_intraday_walkforward(
                bar_settings.override(**{"data.return_jump": return_jump}),
                start=start,
                end=end,
                every=every,
                out=out,
                workers=workers,
                scheduler=scheduler,
                force=force,
                progress=progress,
                null_draws=null_draws,
                null_seed=null_seed,
                given=given,
                console=console,
                err_console=err_console,
            )
            return
        if return_jump not in ("flag", "error"):
            raise UsageError(f"--return-jump must be 'flag' or 'error' (got {return_jump!r})")
        n_every = parse_every(every)
        if hold is not None and parse_every(hold) != n_every:
            raise UsageError(
                f"--hold {hold} differs from --every {every}: overlapping or gapped holdings are not "
                f"supported; a holding lasts until the next re-selection"
            )
        if date_stability and (compare_screens or ablation):
            raise UsageError(
                "--date-stability applies to a plain walk-forward run: drop --compare-screens / "
                "--ablation, or run it separately with the same --out (the weeks are cached)"
            )
        if compare_screens and ablation:
            raise UsageError("--compare-screens and --ablation are two separate runs: use one per --out folder")
        if compare_screens and strategy != "lead_lag_trend":
            raise UsageError(
                "--compare-screens fixes the strategies (the lead-lag trend rule for the pair variants, "
                "lead_lag_portfolio for its own row): drop --strategy"
            )
        if not ablation and (stability_runs or stability_every or stability_threshold is not None):
            raise UsageError("--stability-runs/--stability-threshold/--stability-every need --ablation")
        if top_k < 1:
            raise UsageError(f"--top-k must be >= 1 (got {top_k})")
        settings = load_cli_settings(config, data_dir, source, daily="volts walkforward")
        settings = settings.override(**{"data.return_jump": return_jump})
        from volts.core.config import SEED_MAX
        from volts.core.limits import check_counts

        by_option = ablation and stability_runs > 0
        check_counts(
            settings,
            workers=workers,
            null_draws=null_draws if ablation else None,
            stability_runs=stability_runs if by_option else None,
            stability_option="--stability-runs" if by_option else "stability.runs",
        )
        if ablation and null_seed + null_draws - 1 > SEED_MAX:
            raise UsageError(
                f"--null-seed {null_seed} with --null-draws {null_draws}: draw d uses seed "
                f"--null-seed + d, and the last ({null_seed + null_draws - 1}) exceeds {SEED_MAX} "
                f"(2**32 - 1); lower --null-seed"
            )
        d0 = parse_date(start, "--start") or dt.date(2019, 1, 4)
        d1 = parse_date(end, "--end")  # None: 2024-03-08, cut to the data's last date (said in the summary)
        with Executor(workers=workers, scheduler=scheduler, progress="auto" if progress else False) as ex:
            err_console.print(
                f"walk-forward {d0} .. {d1 or 'the default end (2024-03-08 or the data’s last date)'} "
                f"every {every}: selections run {ex.describe()}",
                markup=False,
            )
            if compare_screens:
                from volts.evaluation.screen_comparison import run_screen_comparison

                table = run_screen_comparison(
                    settings,
                    start=d0,
                    end=d1,
                    out=out,
                    every=every,
                    executor=ex,
                    top_k=top_k,
                    force=force,
                    engine=engine,
                )
                console.print(format_comparison(table), markup=False)
                for _, row in table.iterrows():  # notes (e.g. why the lead-lag portfolio was flat) under the table
                    if isinstance(row.get("note"), str) and row["note"]:
                        console.print(f"- {row['variant']}: {row['note']}", markup=False)
                console.print(
                    f"wrote {Path(out) / 'comparison.csv'} and {Path(out) / 'results-vol-ts'}/report.html", markup=False
                )
                return
            if ablation:
                from volts.evaluation.ablation import run_ablation

                result = run_ablation(
                    settings,
                    start=d0,
                    end=d1,
                    every=every,
                    out=out,
                    executor=ex,
                    force=force,
                    strategy=strategy,
                    engine=engine,
                    draws=null_draws,
                    seed=null_seed,
                    stability_runs=stability_runs,
                    stability_threshold=stability_threshold,
                    stability_every=stability_every,
                )
            else:
                result = run_walkforward(
                    settings,
                    start=d0,
                    end=d1,
                    every=every,
                    out=out,
                    executor=ex,
                    force=force,
                    variant=WalkForwardVariant(strategy=strategy),
                    engine=engine,
                    date_stability=date_stability,
                )
        st = result.stats
        console.print(
            f"walk-forward {result.metrics['start']} .. {result.metrics['end']} (re-selections "
            f"{result.metrics['first_asof']} .. {result.metrics['last_asof']})",
            markup=False,
        )
        console.print(
            f"{st['weeks']} weeks: {st['cached']} from the cache, {st['computed']} computed "
            f"({st['wall_seconds']:.1f} s)",
            markup=False,
        )
        ab = result.metrics.get("ablation")
        if ab:
            for r in ab["rows"]:
                sh = r.get("sharpe")
                text = (
                    r["status"] if r["status"] != "run" else "Sharpe undefined" if sh is None else f"Sharpe {sh:6.2f}"
                )
                console.print(
                    f"  {r['variant']:<48} {text}"
                    + (f"  p = {r['p_value']:.4f}" if r.get("p_value") is not None else ""),
                    markup=False,
                )
            inf = result.metrics["sharpe_inference"]
            if inf.get("psr") is not None:
                console.print(
                    f"  PSR(0) {inf['psr']:.4f}; DSR {inf['dsr']:.4f} over N = {inf['n_trials']} configurations",
                    markup=False,
                )
        uni = result.metrics.get("universe")
        if uni:  # point-in-time universe: survivorship and quarantine disclosed in the summary too
            bad = uni.get("quarantined") or []
            console.print(
                f"universe {uni['source']}: {uni['usable_min']} .. {uni['usable_max']} usable members a "
                f"week (worst coverage {100 * (uni['coverage_min'] or 0):.1f}%); quarantined symbols: "
                f"{len(bad)}" + (f" ({', '.join(sorted({b['symbol'] for b in bad}))})" if bad else ""),
                markup=False,
            )
            for e in (uni.get("left_out") or [])[:20]:
                console.print(
                    f"  {e['symbol']} left out of {e['weeks']} week(s) ({e['first_week']} .. "
                    f"{e['last_week']}): {e['rule']}: {e['message']}",
                    markup=False,
                )
        span = result.metrics.get("span") or {}
        for line in span.get("notes") or []:  # a shortened end or weeks left out: never silent
            console.print(f"span: {line}", markup=False)
        for e in (span.get("excluded_weeks") or [])[1:20]:
            console.print(f"  week {e['week']} left out: {e['reason']}", markup=False)
        if result.metrics.get("data_quality") is not None:
            from volts.commands.select import data_quality_line

            console.print(data_quality_line(result.metrics["data_quality"]), markup=False)
        for name, rows in (result.metrics.get("benchmark_data_quality") or {}).items():
            dropped = [r for r in rows if r["action"] == "dropped"]
            console.print(
                f"{name.upper()} benchmark data: {len(dropped)} row(s) dropped, "
                f"{len(rows) - len(dropped)} finding(s) flagged and kept ("
                + "; ".join(f"{r['date']} {r['rule']}" for r in rows[:5])
                + ")",
                markup=False,
            )
        for name, why in (result.metrics.get("benchmarks_omitted") or {}).items():
            console.print(f"benchmark left out: {name}: {why}", markup=False)
        for line in result.metrics.get("verdict", []):
            console.print(f"- {line}", markup=False)
        console.print(f"wrote {result.folder}/report.html", markup=False)
