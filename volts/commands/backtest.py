"""``volts backtest --selection FILE``: the selection's pairs and their buy-and-hold benchmarks in backtrader."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import typer

from volts.commands._common import parse_date


def run_backtest_for_selection(settings, selection: dict, *, start=None, end=None, market=None):
    """Backtest the pairs of a parsed ``selection.json`` over [start, end] (default: the config's test window,
    shifted to the selection's as-of date). Returns ``(BacktestResult, market)``.

    No look-ahead between selection and trading: the selection saw the bar of its as-of date, so by default the
    first traded session is the one after ``asof`` (the paper's test window starts on the as-of date itself). An
    explicit ``start`` on or before ``asof`` is allowed but logged as an in-sample backtest.
    """
    import datetime as dt
    import logging

    from volts.trading.backtest import PairSpec, run_backtest
    from volts.data.sources import load_market
    from volts.core.errors import UsageError

    if "bars" in selection:  # a selection made on intraday bars: its lags count bars, not sessions
        raise UsageError(f"the selection was made on {selection['bars'].get('timeframe')} bars (as of "
                         f"{selection['asof']}); volts backtest trades daily bars: run volts walkforward on the "
                         f"intraday data instead, or select on daily bars")
    asof = dt.date.fromisoformat(selection["asof"])
    windows = settings.windows.shifted(asof)
    explicit_start = start is not None
    start = start or windows.test_start
    end = end or windows.test_end
    if start <= asof:
        if explicit_start:
            logging.getLogger("volts.trading.backtest").warning(
                "--start %s is on or before the selection's as-of date %s: the pairs were chosen with bars the "
                "backtest trades on (in-sample)", start, asof)
        else:
            from volts.data.calendar import next_session

            start = next_session(asof)  # first exchange session after the selection's last bar (XNYS)
    if start >= end:
        raise UsageError(f"--start {start} must be before --end {end}")
    if not selection["pairs"]:
        raise UsageError(f"the selection as of {asof} holds no pair; nothing to backtest")
    pairs = [PairSpec(p["leader"], p["follower"], int(p["lag"])) for p in selection["pairs"]]
    symbols = sorted({s for p in pairs for s in (p.leader, p.follower)})
    if market is None and pairs:
        # the leader's SMA needs history before the first traded day; load a generous warm-up
        from volts.core.pairs import warmup_start

        warm = min(start - dt.timedelta(days=3 * (settings.strategy.ma_window + 12) + 30),
                   warmup_start(start, ma_window=settings.strategy.ma_window, max_lag=max(p.lag for p in pairs)))
        market = load_market(settings.data, symbols=symbols, start=warm, end=end)
        from volts.data.coverage import check_coverage

        check_coverage(market, settings.data, {"test": (start, end)})
    st, bt = settings.strategy, settings.backtest
    result = run_backtest(market, pairs, start=start, end=end, capital=bt.capital, commission=bt.commission,
                          commission_pct=bt.commission_pct, slippage_bps=bt.slippage_bps,
                          ma_window=st.ma_window, mode=st.mode, execution=st.execution,
                          risk_free=settings.metrics.risk_free, periods_per_year=settings.metrics.periods_per_year)
    return result, market


def write_backtest_outputs(result, folder: Path, *, extra: dict | None = None) -> dict[str, Path]:
    """``metrics.json``, ``equity.csv``, ``trades.csv`` and the equity figure, each written atomically.

    ``extra`` adds provenance fields to ``metrics.json`` (the selection's as-of date, the config hash, the data
    quality of the backtest's bars)."""
    from volts.core.artifacts import atomic_write_csv, atomic_write_json
    from volts.reporting.figures.backtest import plot_equity

    folder = Path(folder)
    metrics = result.metrics_dict()
    if extra:
        metrics = {**metrics, **extra}
    paths = {
        "metrics": atomic_write_json(folder / "metrics.json", metrics),
        "equity": atomic_write_csv(folder / "equity.csv", result.equity, index_label="date"),
        "trades": atomic_write_csv(folder / "trades.csv", result.trades, index=False),
    }
    paths["equity_figure"] = Path(plot_equity(result, folder / "equity.png"))
    return paths


def metrics_table(metrics: dict) -> str:
    """The paper's Tables 4-6 layout: trades, win %, return %, final $, Sharpe, Sortino, MDD %."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    def num(v, fmt="{:.3f}"):
        return "-" if v is None else fmt.format(v)

    header = f"{'strategy':<28} {'trades':>6} {'win %':>7} {'return %':>9} {'final $':>10} {'SR':>7} {'SoR':>7} {'MDD %':>7}"
    lines = [header, "-" * len(header)]
    rows = list(metrics.get("strategies", []))
    bench = {r["name"]: r for r in metrics.get("benchmarks", [])}
    ordered = []
    for r in rows:
        ordered.append(r)
        follower = r.get("follower")
        for name, b in bench.items():
            if follower and b.get("follower") == follower and b not in ordered:
                ordered.append(b)
    ordered += [b for b in bench.values() if b not in ordered]
    ordered += list(metrics.get("portfolio", []))
    for r in ordered:
        lines.append(f"{r['name']:<28} {num(r.get('trades'), '{:d}'):>6} {pct(r.get('win_rate')):>7} "
                     f"{pct(r.get('total_return')):>9} {num(r.get('final_equity'), '{:.2f}'):>10} "
                     f"{num(r.get('sharpe')):>7} {num(r.get('sortino')):>7} {pct(r.get('max_drawdown')):>7}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, err_console, load_cli_settings

    @app.command("backtest")
    def backtest(
        selection: Path = typer.Option(..., "--selection", help="selection.json of a `volts select` run."),
        start: Optional[str] = typer.Option(None, "--start", help="First day YYYY-MM-DD (default: config)."),
        end: Optional[str] = typer.Option(None, "--end", help="Last day YYYY-MM-DD (default: config)."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        out: Optional[Path] = typer.Option(None, "--out", help="Folder for outputs (default: beside the selection)."),
        force: bool = typer.Option(False, "--force", help="Replace existing backtest outputs (in the run folder: "
                                                          "and rebuild its report)."),
    ) -> None:
        """Backtest the selection's pairs against buy-and-hold; write metrics.json, equity.csv, trades.csv.

        Beside the selection (the default), the outputs belong to the run: an existing metrics.json there is
        replaced only with --force, and the run's report is then rebuilt so that it stays in step. A backtest
        of another window belongs in another folder (--out)."""
        import json

        from volts.core.artifacts import dumps, read_json, read_selection
        from volts.commands.select import data_quality, data_quality_line
        from volts.core.errors import UsageError

        settings = load_cli_settings(config, data_dir, source, daily="volts backtest")
        sel = read_selection(selection)
        folder = Path(out) if out is not None else Path(selection).parent
        in_run = out is None or folder.resolve() == Path(selection).parent.resolve()
        s, e = parse_date(start, "--start"), parse_date(end, "--end")
        existing = (folder / "metrics.json").exists() and not force
        made_with = str(sel.get("config_sha256"))
        same = (settings.sha256(), settings.legacy_week_sha256())   # the latter: made before data.spy_file existed
        if in_run and not force and re.fullmatch(r"[0-9a-f]{64}", made_with) and made_with not in same:
            raise UsageError(f"{selection}: the selection was made with another config (SHA-256 "
                             f"{str(sel.get('config_sha256'))[:12]}… there, {settings.sha256()[:12]}… now); use "
                             f"the same config, --out DIR for a separate backtest, or --force")
        if not os.access(folder if folder.exists() else folder.parent if folder.parent.exists() else Path("."),
                         os.W_OK):
            raise UsageError(f"{folder}: not writable; choose another --out")
        result, market = run_backtest_for_selection(settings, sel, start=s, end=e)
        from volts.evaluation.disclosure import backtest_costs

        extra = {"selection_asof": sel["asof"], "config_sha256": settings.sha256(),
                 "data_quality": data_quality(market), "costs": backtest_costs(result)}
        if existing:
            # like `volts run`: an identical re-run (same selection, config, window and data, hence the same
            # metrics.json) keeps the folder as it is; anything else is refused without --force
            old = read_json(folder / "metrics.json")
            if old == json.loads(dumps({**result.metrics_dict(), **extra})):
                console.print(f"{folder / 'metrics.json'} already exists with the same results; kept it (use "
                              f"--force to rewrite)", markup=False)
                return
            win = old.get("window", {}) if isinstance(old, dict) else {}
            raise UsageError(f"{folder / 'metrics.json'} already exists (window {win.get('start', '?')} .. "
                             f"{win.get('end', '?')}) and differs from this backtest; use --force to replace it"
                             + (" (the run's report is rebuilt)" if in_run else "")
                             + ", or --out DIR to keep both")
        write_backtest_outputs(result, folder, extra=extra)
        metrics = result.metrics_dict()
        if metrics.get("optimistic"):
            err_console.print("warning: execution = 'close' trades at the signal's own close: optimistic "
                              "(look-ahead by construction)", markup=False)
        console.print(metrics_table(metrics), markup=False)
        console.print(data_quality_line(data_quality(market)), markup=False)
        console.print(f"wrote {folder / 'metrics.json'}, equity.csv, trades.csv, equity.png", markup=False)
        if in_run and (folder / "report.md").exists():
            from volts.reporting.run_report import write_report

            md, _ = write_report(folder)
            console.print(f"rebuilt {md} and report.html for this backtest", markup=False)
