"""``volts frequency``: the signal and the net value of the method at several bar sizes of one universe and span.

Every bar size is resampled from the finest bars (``[data] timeframe``) per symbol
(:func:`volts.evaluation.frequency.resample_panel`), so the bar sizes see the same trades. For each:

* the **signal** (:mod:`volts.evaluation.frequency`): pairs each screen validates at 5 % FDR over all ordered pairs
  per block of one clock duration, their median effect size, and their lags in hours;
* the **value**: the intraday walk-forward (:func:`volts.evaluation.bar_walkforward.run_bar_walkforward`) at one
  cadence for every bar size, with the configured costs: gross Sharpe ratio (the cost table's 0 bps row), net Sharpe
  ratio with its bootstrap interval, CAGR, maximum drawdown and the break-even cost.

Outputs in ``<out>/``: ``signal.csv``, ``value.csv``, ``frequency.json``, ``report.md``, ``frequency.png``, and one
walk-forward folder per bar size (``wf-<bar>/``, with its own decision cache, so a re-run reuses the selections).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import UsageError
from volts.data.timeframes import timeframe

__all__ = ["FrequencyStudy", "run_frequency_study", "value_row"]


@dataclass
class FrequencyStudy:
    """What :func:`run_frequency_study` produced: the two tables, the folder and wall times (seconds)."""

    signal: pd.DataFrame
    value: pd.DataFrame
    folder: Path
    seconds: dict


def value_row(bar: str, metrics: dict) -> dict:
    """One row of the value table from a walk-forward's ``metrics.json``."""
    s = metrics.get("strategy") or {}
    gross = next((r for r in metrics.get("cost_table") or [] if float(r.get("bps_per_side", -1)) == 0.0), {})
    be = ((metrics.get("break_even") or {}).get("strategy") or {}).get("bps_per_side")
    null = metrics.get("random_pairs_null") or {}
    return {
        "bar": bar,
        "decisions": (metrics.get("decisions") or {}).get("total"),
        "decisions_with_pairs": (metrics.get("decisions") or {}).get("with_pairs"),
        "gross_sharpe": gross.get("sharpe"),
        "net_sharpe": s.get("sharpe"),
        "net_sharpe_ci_low": s.get("sharpe_ci_low"),
        "net_sharpe_ci_high": s.get("sharpe_ci_high"),
        "net_cagr": s.get("cagr"),
        "max_drawdown": s.get("max_drawdown"),
        "turnover": s.get("turnover"),
        "break_even_bps": be,
        "null_p": null.get("p_value"),
    }


def _walkforward(bar: str, *, settings, panel, start, end, every, out, executor, force, null_draws) -> dict:
    from volts.evaluation.bar_walkforward import run_bar_walkforward

    s = settings.override(**{"data.timeframe": bar})
    res = run_bar_walkforward(
        s,
        start=start,
        end=end,
        every=every,
        out=out / f"wf-{bar}",
        executor=executor,
        force=force,
        market=panel,
        null_draws=null_draws,
    )
    return res.metrics


def run_frequency_study(
    settings,
    *,
    bars: Sequence[str],
    start,
    end,
    every: str = "1W",
    block: str = "90D",
    screens: Sequence[str] | None = None,
    out: Path,
    executor=None,
    force: bool = False,
    null_draws: int = 0,
    progress=None,
) -> FrequencyStudy:
    """Run the frequency study (see the module docstring).

    Parameters
    ----------
    settings : volts.core.config.Settings
        ``[data] timeframe`` = the finest bar size, which every entry of ``bars`` must be a whole multiple of.
    bars : sequence of str
        Bar sizes (MT5 names), e.g. ``("H1", "H4", "D1")``.
    start, end : date-like
        Span of the blocks and of the walk-forwards' decisions.
    every : str
        The walk-forwards' cadence (the same for every bar size).
    block : str
        Block duration of the signal part.
    screens : sequence of str, optional
        Screens of the signal part; default ``[selection] screens`` plus ``hayashi_yoshida``.
    out : Path
        Output folder.
    executor : volts.core.parallel.Executor, optional
        Where the blocks and the selections run.
    force : bool
        Recompute cached selections.
    null_draws : int
        Random-pairs draws per walk-forward (0 = none).
    progress : callable, optional
        ``progress(text)`` for stage lines.

    Returns
    -------
    FrequencyStudy

    Raises
    ------
    UsageError
        A bar size finer than the data's, or not a multiple of it.

    Notes
    -----
    Length: the study's steps in order (check the bar sizes, load and resample, the signal blocks on the executor,
    one walk-forward per bar size, the outputs), sharing the executor and the wall times.
    """
    from volts.core.parallel import Executor
    from volts.evaluation.bar_walkforward import load_panel
    from volts.selection.bar_windows import lookback
    from volts.evaluation.frequency import blocks, resample_panel, screen_block, signal_table

    say = progress or (lambda text: None)
    finest = timeframe(settings.data.timeframe)
    names = sorted({timeframe(b).name for b in bars}, key=lambda b: timeframe(b).minutes)
    for b in names:
        if timeframe(b).minutes < finest.minutes or timeframe(b).minutes % finest.minutes:
            raise UsageError(f"--bars {b}: not a whole multiple of the data's {finest.name} bars")
    if screens is None:
        screens = list(dict.fromkeys([*settings.selection.screens, "hayashi_yoshida"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    # the bars the first decision's windows can reach, and no earlier (windows are still checked per decision)
    panel = load_panel(settings, pd.Timestamp(end) + pd.Timedelta(days=1))
    panel = panel.slice(pd.Timestamp(start) - lookback(settings), None)
    panels = {b: resample_panel(panel, finest.name, b, settings.data.calendar) for b in names}
    seconds["load_and_resample"] = time.perf_counter() - t0
    say(f"bars: {', '.join(f'{b} {len(p.market)}' for b, p in panels.items())} stamps")

    own = executor is None
    ex = Executor() if own else executor
    try:
        if own:
            ex.__enter__()
        t0 = time.perf_counter()
        tasks = [(b, a, z) for b in names for a, z in blocks(panel.market.dates, start, end, block)]
        done = [
            r
            for _, r in ex.map(
                screen_block,
                tasks,
                key=lambda t: f"{t[0]}-{t[1]:%Y%m%d}",
                label="blocks",
                markets=panels,
                settings=settings,
                screens=list(screens),
            )
        ]
        seconds["signal"] = time.perf_counter() - t0
        signal = signal_table(done)
        say(f"signal: {len(tasks)} blocks in {seconds['signal']:.0f} s")
        rows = []
        for b in names:
            t0 = time.perf_counter()
            m = _walkforward(
                b,
                settings=settings,
                panel=panels[b],
                start=start,
                end=end,
                every=every,
                out=out,
                executor=ex,
                force=force,
                null_draws=null_draws,
            )
            seconds[f"walkforward_{b}"] = time.perf_counter() - t0
            rows.append(value_row(b, m))
            say(f"walk-forward {b}: {seconds[f'walkforward_{b}']:.0f} s")
    finally:
        if own:
            ex.close()
    value = pd.DataFrame(rows)
    _write_outputs(
        out,
        signal,
        value,
        done,
        settings=settings,
        names=names,
        finest=finest.name,
        start=start,
        end=end,
        every=every,
        block=block,
        screens=screens,
        seconds=seconds,
    )
    return FrequencyStudy(signal, value, out, seconds)


def _write_outputs(
    out: Path, signal, value, done, *, settings, names, finest, start, end, every, block, screens, seconds
) -> None:
    """``signal.csv``, ``value.csv``, ``frequency.json``, ``frequency.png`` and ``report.md``."""
    from volts.core.artifacts import atomic_write_csv, atomic_write_json, atomic_write_text, now_utc_iso

    atomic_write_csv(out / "signal.csv", signal, index=False)
    atomic_write_csv(out / "value.csv", value, index=False)
    info: dict[str, Any] = {
        "created": now_utc_iso(),
        "bars": names,
        "finest": finest,
        "calendar": settings.data.calendar,
        "start": str(start),
        "end": str(end),
        "every": every,
        "block": block,
        "screens": list(screens),
        "universe": list(settings.data.universe),
        "seconds": seconds,
        "blocks_skipped": [{"bar": r.bar, "start": r.start.isoformat(), "why": r.error} for r in done if r.error],
        "config_sha256": settings.sha256(),
    }
    atomic_write_json(
        out / "frequency.json", info | {"signal": signal.to_dict("records"), "value": value.to_dict("records")}
    )
    write_figure(signal, value, out / "frequency.png")
    atomic_write_text(out / "report.md", frequency_markdown(signal, value, info))


def _cell(x, spec="{:.2f}") -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else spec.format(x)


def frequency_markdown(signal: pd.DataFrame, value: pd.DataFrame, info: dict) -> str:
    """``report.md`` of the study: the two tables and how they were made."""
    lines = [
        f"# Frequency study: {', '.join(info['bars'])} from {info['finest']} bars ({info['calendar']})",
        "",
        f"Span {info['start']} .. {info['end']}; universe {', '.join(info['universe'])}. Every bar size is resampled "
        f"from the {info['finest']} bars of each symbol (incomplete buckets dropped).",
        "",
        f"## Signal: ordered pairs validated at 5 % FDR (Benjamini-Hochberg over all pairs of a block of "
        f"{info['block']}; a delay screen needs a lead of at least one bar)",
        "",
        "| screen | bar | blocks | bars per block | pairs | validated per block | share | median effect | "
        "lag (h), median [q25, q75] |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in signal.to_dict("records"):
        lag = (
            f"{_cell(r['lag_hours_median'], '{:g}')} [{_cell(r['lag_hours_q25'], '{:g}')}, "
            f"{_cell(r['lag_hours_q75'], '{:g}')}]" + (" (model order)" if r["lag_kind"] == "order" else "")
        )
        lines.append(
            f"| {r['screen']} | {r['bar']} | {r['blocks']} | {_cell(r['bars_per_block'], '{:.0f}')} | "
            f"{_cell(r['pairs'], '{:.0f}')} | {_cell(r['validated_per_block'])} | "
            f"{_cell(r['validated_share'], '{:.1%}')} | {_cell(r['median_effect'], '{:.3g}')} | {lag} |"
        )
    lines += [
        "",
        f"## Value: the walk-forward at each bar size (re-selection every {info['every']}, configured costs)",
        "",
        "| bar | decisions (with pairs) | gross Sharpe | net Sharpe [95 % CI] | net CAGR | max drawdown | "
        "break-even (bps/side) | null p |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in value.to_dict("records"):
        lines.append(
            f"| {r['bar']} | {r['decisions']} ({r['decisions_with_pairs']}) | {_cell(r['gross_sharpe'])} | "
            f"{_cell(r['net_sharpe'])} [{_cell(r['net_sharpe_ci_low'])}, {_cell(r['net_sharpe_ci_high'])}] | "
            f"{_cell(r['net_cagr'], '{:.1%}')} | {_cell(r['max_drawdown'], '{:.1%}')} | "
            f"{_cell(r['break_even_bps'], '{:.1f}')} | {_cell(r['null_p'], '{:.3f}')} |"
        )
    if info["blocks_skipped"]:
        lines += ["", f"{len(info['blocks_skipped'])} block(s) skipped (see frequency.json)."]
    lines += ["", "![signal and value against bar size](frequency.png)", ""]
    return "\n".join(lines)


def write_figure(signal: pd.DataFrame, value: pd.DataFrame, path: Path) -> None:
    """Two panels against bar size (log minutes): validated pairs per block per screen; gross and net Sharpe ratio
    with the net ratio's bootstrap interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for screen, g in signal.groupby("screen", sort=True):
        x = [timeframe(b).minutes for b in g["bar"]]
        a1.plot(x, g["validated_per_block"], marker="o", label=screen)
    a1.set_xscale("log")
    a1.set_xlabel("bar size (minutes)")
    a1.set_ylabel("pairs validated per block (5 % FDR)")
    a1.legend(fontsize=7)
    if len(value):
        x = np.array([timeframe(b).minutes for b in value["bar"]], float)
        net = value["net_sharpe"].astype(float).to_numpy()
        lo = value["net_sharpe_ci_low"].astype(float).to_numpy()
        hi = value["net_sharpe_ci_high"].astype(float).to_numpy()
        a2.errorbar(x, net, yerr=[net - lo, hi - net], marker="o", capsize=3, label="net (95 % CI)")
        a2.plot(x, value["gross_sharpe"].astype(float), marker="s", linestyle="--", label="gross (0 bps)")
        a2.axhline(0.0, color="grey", linewidth=0.8)
        a2.set_xscale("log")
        a2.set_xlabel("bar size (minutes)")
        a2.set_ylabel("Sharpe ratio (annualised)")
        a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
