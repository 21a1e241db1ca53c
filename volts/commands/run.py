"""``volts run``: select + backtest + report for the config's windows (the paper's experiment by default);
``volts report RUN_DIR``: rebuild the report of a run folder from its artifacts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from volts.commands._common import StageProgress, parse_date
from volts.reporting.run_report import write_report  # noqa: F401  (volts report; re-exported)


def run_all(settings, *, asof=None, out: Path, force: bool = False, console, err_console):
    """The main job: selection, backtest and report staged in one folder and renamed into place once.

    Returns a dict with the run folder, selection, backtest result and wall times; ``kept`` is True (and nothing
    else is set) when the run exists with the same config and data hashes and ``force`` is off.
    """
    from volts.commands.backtest import metrics_table, run_backtest_for_selection, write_backtest_outputs
    from volts.commands.select import data_quality, run_select
    from volts.core.artifacts import RunFolder, atomic_write_json, read_selection

    windows = settings.windows if asof is None else settings.windows.shifted(asof)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with RunFolder(out, windows.asof.isoformat()) as rf:
        selection, run_dir, market = run_select(
            settings, asof=asof, out=out, force=force, console=err_console, folder=rf
        )
        if selection is None:
            return {"kept": True, "run_dir": run_dir}
        stage = rf.staging
        timings["selection (total)"] = time.perf_counter() - t0
        timings.update({f"  {k}": v for k, v in selection.timings.items()})
        sel = read_selection(stage / "selection.json")
        result = None
        progress = StageProgress(err_console)
        if sel["pairs"]:
            progress("backtest", "start")
            t1 = time.perf_counter()
            result, bt_market = run_backtest_for_selection(settings, sel)
            from volts.evaluation.disclosure import backtest_costs

            write_backtest_outputs(
                result,
                stage,
                extra={
                    "selection_asof": sel["asof"],
                    "config_sha256": settings.sha256(),
                    "data_quality": data_quality(bt_market),
                    "costs": backtest_costs(result),
                },
            )
            timings["backtest"] = time.perf_counter() - t1
            progress("backtest", f"done in {timings['backtest']:.2f} s")
        truth = None
        if settings.data.source == "synthetic":
            from volts.data.synthetic import make_synthetic_market

            truth = make_synthetic_market(seed=settings.data.synthetic_seed).truth.to_dict()
            atomic_write_json(stage / "truth.json", truth)
        timings["total (before the report)"] = time.perf_counter() - t0
        progress("report", "start")
        t2 = time.perf_counter()
        atomic_write_json(stage / "timings.json", timings)
        write_report(stage, timings=timings, truth=truth)
        progress("report", f"done in {time.perf_counter() - t2:.2f} s")
        timings["total"] = time.perf_counter() - t0
        rf.commit()
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    return {
        "kept": False,
        "run_dir": run_dir,
        "selection": sel,
        "result": result,
        "timings": timings,
        "truth": truth,
        "report": (md_path, html_path),
        "market": market,
        "metrics_table": metrics_table(result.metrics_dict()) if result else None,
    }


def planted_vs_recovered(selection: dict, truth: dict) -> list[str]:
    """Lines comparing planted pairs and lags with the selection's (synthetic market only)."""
    found = {(p["leader"], p["follower"]): p["lag"] for p in selection["pairs"]}
    lines = ["planted vs recovered pairs:"]
    ok = 0
    for p in truth["pairs"]:
        key = (p["leader"], p["follower"])
        got = found.get(key)
        match = got == p["lag"]
        ok += match
        lines.append(
            f"  {p['leader']}->{p['follower']}: planted lag {p['lag']}, recovered "
            f"{'lag ' + str(got) if got is not None else 'no pair'}  {'OK' if match else 'MISS'}"
        )
    planted = {(p["leader"], p["follower"]) for p in truth["pairs"]}
    false = [f"{a}->{b} (lag {lag})" for (a, b), lag in found.items() if (a, b) not in planted]
    lines.append(f"  false pairs: {', '.join(false) if false else 'none'}")
    lines.append(f"recovered {ok} of {len(truth['pairs'])} planted pairs with their lags; {len(false)} false pair(s)")
    return lines


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, OutOpt, console, err_console, load_cli_settings

    @app.command("run")
    def run(
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        asof: Optional[str] = typer.Option(None, "--asof", help="As-of date (default: config's)."),
        out: Path = OutOpt,
        force: bool = typer.Option(
            False,
            "--force",
            help="Replace an existing run for the same date, even one with another config or data hash.",
        ),
    ) -> None:
        """Select, backtest and report for the config's windows (the paper's experiment by default)."""
        from volts.commands.select import data_quality, data_quality_line

        settings = load_cli_settings(config, data_dir, source, daily="volts run")
        from volts.core.limits import check_counts

        check_counts(settings)
        res = run_all(
            settings, asof=parse_date(asof, "--asof"), out=out, force=force, console=console, err_console=err_console
        )
        if res["kept"]:
            console.print(f"run {res['run_dir']}: kept (report {res['run_dir'] / 'report.md'})", markup=False)
            return
        sel = res["selection"]
        for w in sel.get("warnings", []):
            err_console.print(f"warning: {w}", markup=False)
        console.print(
            f"run {res['run_dir']}: final pairs "
            + (", ".join(f"{p['leader']}->{p['follower']} (lag {p['lag']})" for p in sel["pairs"]) or "none"),
            markup=False,
        )
        if res["result"] is not None:
            m = res["result"].metrics_dict()
            console.print(res["metrics_table"], markup=False)
            port = {r["name"]: r for r in m.get("portfolio", [])}
            if port:
                console.print(
                    "portfolio: "
                    + "; ".join(f"{name} return {100 * (r['total_return'] or 0):.2f}%" for name, r in port.items()),
                    markup=False,
                )
        console.print(data_quality_line(data_quality(res["market"])), markup=False)
        console.print(
            f"report: {res['report'][0]} and {res['report'][1].name}; total wall time {res['timings']['total']:.1f} s",
            markup=False,
        )
        if res["truth"] is not None:
            for line in planted_vs_recovered(sel, res["truth"]):
                console.print(line, markup=False)

    @app.command("report")
    def report(run_dir: Path = typer.Argument(..., help="A run folder holding selection.json.")) -> None:
        """Rebuild report.md and report.html of a run folder from its artifacts."""
        md, html = write_report(run_dir)
        console.print(f"wrote {md} and {html}", markup=False)
