"""Paper account against walk-forward, week by week: the parity table of ``volts paper``.

Runs ``volts walkforward`` and ``volts paper`` over one span with the same config (the paper run reuses the
walk-forward's week cache, so both trade the same selections) and prints, per re-selection week:

    week | pairs:lags | walk-forward equity | paper equity | max |d equity| | max |d shares|

where the equities are at the last session of the week (the session before the next re-selection date) and the
two maxima run over every session of the week (the (day, pair) holdings of ``positions.csv`` against the paper
account's positions, a pair missing on one side counting as 0 shares).

Usage:
    PYTHONPATH=. python scripts/live_parity_table.py --start 2023-01-06 --end 2023-03-31 \\
        [--config config.toml] [--data-dir DIR] [--slippage-bps 5] [--out DIR] [--markdown]

``--slippage-bps`` overrides ``costs.slippage_bps`` (the parity test uses 5 so that both cost terms are exercised).
Exit 0 when every week is at parity (equity within half a cent, shares within the paper's volume step), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd


def parity_table(
    weeks: list, wf_results: Path, paper_equity: pd.DataFrame, paper_positions: pd.DataFrame
) -> pd.DataFrame:
    """One row per re-selection week: ``week``, ``pairs``, ``wf_equity``, ``paper_equity``, ``max_d_equity``,
    ``max_d_shares`` (see the module docstring)."""
    wf_eq = pd.read_csv(wf_results / "equity.csv", parse_dates=["date"]).set_index("date")["strategy"]
    wf_pos = pd.read_csv(wf_results / "positions.csv", parse_dates=["date"]).set_index(["date", "pair"])["shares"]
    eq = paper_equity.assign(date=pd.to_datetime(paper_equity["date"])).set_index("date")["equity"]
    pos = paper_positions.assign(date=pd.to_datetime(paper_positions["date"])).groupby(["date", "pair"])["shares"].sum()
    both_eq = pd.concat({"wf": wf_eq, "paper": eq}, axis=1)
    both_pos = pd.concat({"wf": wf_pos, "paper": pos}, axis=1).fillna(0.0)
    d_shares = (both_pos["paper"] - both_pos["wf"]).abs().groupby(level="date").max()
    starts = [pd.Timestamp(str(w["asof"])[:10]) for w in weeks]
    rows = []
    for k, w in enumerate(weeks):
        lo = starts[k]
        hi = starts[k + 1] if k + 1 < len(starts) else both_eq.index.max() + pd.Timedelta(days=1)
        days = both_eq.index[(both_eq.index >= lo) & (both_eq.index < hi)]
        if len(days) == 0:
            continue
        last = days[-1]
        d_sh = d_shares.reindex(days).fillna(0.0)
        rows.append(
            {
                "week": str(w["asof"])[:10],
                "pairs": " ".join(f"{p['leader']}->{p['follower']}:{p['lag']}" for p in w["pairs"]) or "-",
                "wf_equity": both_eq.at[last, "wf"],
                "paper_equity": both_eq.at[last, "paper"],
                "max_d_equity": (both_eq.loc[days, "paper"] - both_eq.loc[days, "wf"]).abs().max(),
                "max_d_shares": float(d_sh.max()),
            }
        )
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame, markdown: bool = False) -> str:
    """The table as text (aligned columns) or as a Markdown table."""
    head = ["week", "pairs:lags", "walk-forward equity", "paper equity", "max |Δequity|", "max |Δshares|"]
    body = [
        [
            r.week,
            r.pairs,
            f"{r.wf_equity:,.2f}",
            f"{r.paper_equity:,.2f}",
            f"{r.max_d_equity:.2g}",
            f"{r.max_d_shares:.2g}",
        ]
        for r in table.itertuples()
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 4) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]

    def fmt(row) -> str:
        return "  ".join(str(x).ljust(n) if i < 2 else str(x).rjust(n) for i, (x, n) in enumerate(zip(row, widths)))

    return "\n".join([fmt(head), fmt(["-" * n for n in widths])] + [fmt(row) for row in body])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--every", default="1W")
    ap.add_argument("--config", default=None, help="config file (default: the project's config.toml)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--slippage-bps", type=float, default=None)
    ap.add_argument("--out", default=None, help="folder of the two runs (default: a temporary folder)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    from volts.core.config import load_settings
    from volts.live.paper import VOLUME_STEP, run_paper
    from volts.core.parallel import Executor
    from volts.evaluation.walkforward import run_walkforward

    settings = load_settings(args.config or Path(__file__).resolve().parents[1] / "config.toml")
    over = {"data.return_jump": "flag"}
    if args.data_dir:
        over["data.dir"] = str(Path(args.data_dir).resolve())
    if args.slippage_bps is not None:
        over["costs.slippage_bps"] = args.slippage_bps
    settings = settings.override(**over)
    with tempfile.TemporaryDirectory(prefix="volts-parity-") as tmp:
        out = Path(args.out or tmp)
        with Executor() as ex:
            run_walkforward(
                settings,
                start=args.start,
                end=args.end,
                every=args.every,
                out=out / "wf",
                executor=ex,
                report=False,
                force=False,
            )
            paper = run_paper(
                settings,
                start=args.start,
                end=args.end,
                every=args.every,
                out=out / "paper",
                weeks_dir=out / "wf" / "weeks",
                executor=ex,
                force=True,
            )
        table = parity_table(paper.weeks, out / "wf" / "results", paper.equity, paper.positions)
    print(format_table(table, markdown=args.markdown))
    ok = bool((table["max_d_equity"] < 0.005).all() and (table["max_d_shares"] <= VOLUME_STEP * 1.01).all())
    print(
        f"\n{len(table)} weeks, {'at parity' if ok else 'NOT at parity'} (equity within $0.005, shares within "
        f"{VOLUME_STEP:g})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
