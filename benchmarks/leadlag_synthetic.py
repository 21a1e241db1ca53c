"""Seed 003's synthetic experiment (Sect. 4; LITERATURE.md 003.6-003.8): lead-lag accuracy and ARI against noise.

For every process (linear, cosine, Legendre, Hermite, heterogeneous), noise level sigma and repetition, one panel
of p = 100 series x T = 250 days is drawn (:mod:`volts.data.synthetic_leadlag`), the nine lead-lag matrices are built
(signature; ccf-lag1 and ccf-auc, L = 5, with Pearson, Kendall, distance correlation and mutual information:
:mod:`volts.selection.leadlag`) and each is clustered by Hermitian RW, naive symmetrisation and DI-SIM-L
(:mod:`volts.selection.hermitian`) with k = the true number of clusters. Recorded per draw: accuracy of every metric and the
ARI of every (metric, clustering) cell.

Output (``--out``, default ``runs/leadlag_synthetic``):

* ``draws.csv``: one row per (process, sigma, rep, metric, clustering) -- written as draws finish, so a cut run
  keeps what it did; ``--aggregate-only`` rebuilds the table and figure from it;
* ``accuracy.csv`` / ``ari.csv`` and ``table.md``: mean and standard deviation over the repetitions per cell;
* ``leadlag_synthetic.png``: accuracy (per metric) and ARI (per clustering, mean over metrics) against sigma.

Repetitions are done rep by rep over all cells, so every cell has the same count at any time. Draw r of cell
(process, sigma) uses seed ``(base_seed, process index, sigma index, r)``: fixed in advance, never chosen.
k-means uses ``--n-init`` starts (default 10; the authors' code used 200 -- a speed compromise, stated here).

Grid: by default the four sigma values per process that seed 003 shows in its Figs 5-6 (20 cells); ``--sigmas``
gives one grid for all (e.g. the full 0 .. 4 grid of Figs 1-4, 45 cells).

Run: ``python -m benchmarks.leadlag_synthetic --reps 10 --workers 2`` (about 10-40 s per draw on one busy core).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # k-means threads fight over 2 shared cores otherwise
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SIGMAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 3.0, 4.0)  # seed 003's full grid (Figs 1-4)
#: the sigma values seed 003 shows per process in Figs 5-6 (LITERATURE.md 003.8): the default grid, 4 per process
FIGURE_SIGMAS = {
    "linear": (0.0, 1.0, 2.0, 3.0),
    "cosine": (0.0, 0.2, 0.4, 1.0),
    "legendre": (0.0, 0.2, 0.4, 0.6),
    "hermite": (0.0, 0.4, 0.6, 1.0),
    "heterogeneous": (0.0, 0.4, 1.0, 3.0),
}
FIELDS = ["dgp", "sigma", "rep", "metric", "clustering", "accuracy", "ari"]


def one_draw(
    dgp: str, sigma: float, rep: int, seed: tuple[int, ...], methods: tuple[str, ...], n_init: int
) -> list[dict]:
    """All metrics and clusterings of one simulated panel; rows for ``draws.csv``."""
    from sklearn.metrics import adjusted_rand_score

    from volts.selection import hermitian

    from volts.selection import leadlag
    from volts.data.synthetic_leadlag import lead_lag_accuracy, simulate

    draw = simulate(dgp, sigma, rng=np.random.default_rng(list(seed)))
    y = draw.returns
    mats = {"signature": leadlag.signature_matrix(y)}
    for corr in leadlag.CORRELATIONS:
        stack = [leadlag.cross_correlation(y, lag, corr) for lag in range(1, 6)]
        mats[f"ccf_lag1_{corr}"] = leadlag.ccf_lag1_matrix(y, corr, c1=stack[0])
        mats[f"ccf_auc_{corr}"] = leadlag.ccf_auc_matrix(y, 5, corr, stack=stack)
    rows = []
    for metric, s in mats.items():
        acc = lead_lag_accuracy(s, draw)
        for method in methods:
            labels = hermitian.cluster_lead_lag(s, draw.k, method=method, n_init=n_init, seed=rep).labels
            rows.append(
                {
                    "dgp": dgp,
                    "sigma": sigma,
                    "rep": rep,
                    "metric": metric,
                    "clustering": method,
                    "accuracy": acc,
                    "ari": adjusted_rand_score(draw.labels, labels),
                }
            )
    return rows


def _markdown(frame) -> str:
    """A small pipe table (no tabulate dependency); columns are sigma values."""
    cols = [f"{c:g}" if isinstance(c, float) else str(c) for c in frame.columns]
    head = f"| {frame.index.name or ''} | " + " | ".join(f"sigma={c}" for c in cols) + " |"
    rule = "|---|" + "---|" * len(cols)
    body = [
        f"| {idx} | " + " | ".join("" if v != v else f"{v:.3f}" for v in row) + " |"
        for idx, row in zip(frame.index, frame.to_numpy())
    ]
    return "\n".join([head, rule] + body)


def aggregate(out: Path) -> str:
    """Mean/sd tables and the figure from ``draws.csv``; returns the Markdown table."""
    import pandas as pd

    df = pd.read_csv(out / "draws.csv")
    acc = (
        df.drop_duplicates(["dgp", "sigma", "rep", "metric"])
        .groupby(["dgp", "sigma", "metric"])["accuracy"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    ari = df.groupby(["dgp", "sigma", "clustering", "metric"])["ari"].agg(["mean", "std", "count"]).reset_index()
    acc.to_csv(out / "accuracy.csv", index=False)
    ari.to_csv(out / "ari.csv", index=False)
    lines = ["# Seed-003 synthetic experiment (p = 100, T = 250, L = 5, k = true)", ""]
    n_rep = int(acc["count"].min())
    lines.append(f"Repetitions per cell: {n_rep} (min) .. {int(acc['count'].max())} (max). Mean over repetitions.")
    for dgp in df["dgp"].unique():
        a = acc[acc.dgp == dgp].pivot(index="metric", columns="sigma", values="mean")
        r = ari[ari.dgp == dgp].groupby(["clustering", "sigma"])["mean"].mean().unstack("sigma")
        r2 = ari[(ari.dgp == dgp) & (ari.clustering == "hermitian_rw")].pivot(
            index="metric", columns="sigma", values="mean"
        )
        lines += [
            "",
            f"## {dgp}",
            "",
            "Lead-lag accuracy (share of related pairs with the right sign; chance 0.5):",
            "",
            _markdown(a),
            "",
            "ARI per clustering, mean over the nine metrics:",
            "",
            _markdown(r),
            "",
            "ARI of Hermitian RW per metric:",
            "",
            _markdown(r2),
        ]
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    _figure(acc, ari, out / "leadlag_synthetic.png")
    return text


def _figure(acc, ari, path: Path) -> None:
    import matplotlib.pyplot as plt

    dgps = list(dict.fromkeys(acc["dgp"]))
    fig, axes = plt.subplots(2, len(dgps), figsize=(4 * len(dgps), 7), squeeze=False)
    for c, dgp in enumerate(dgps):
        ax = axes[0, c]
        for metric, g in acc[acc.dgp == dgp].groupby("metric"):
            ax.errorbar(
                g["sigma"],
                g["mean"],
                yerr=1.96 * g["std"].fillna(0) / np.sqrt(g["count"]),
                label=metric,
                marker=".",
                capsize=2,
            )
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{dgp}: accuracy")
        ax.set_xlabel("noise sigma")
        ax.set_ylim(0.3, 1.02)
        ax = axes[1, c]
        m = ari[ari.dgp == dgp].groupby(["clustering", "sigma"])["mean"].mean().reset_index()
        for method, g in m.groupby("clustering"):
            ax.plot(g["sigma"], g["mean"], marker="o", label=method)
        ax.set_title(f"{dgp}: ARI (mean over metrics)")
        ax.set_xlabel("noise sigma")
        ax.set_ylim(-0.05, 1.05)
    axes[0, 0].legend(fontsize=6)
    axes[1, 0].legend(fontsize=7)
    fig.suptitle("Seed-003 synthetic lead-lag experiment (error bars: 95% CI of the mean over repetitions)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from volts.selection.hermitian import CLUSTER_METHODS
    from volts.data.synthetic_leadlag import DGPS

    ap = argparse.ArgumentParser(prog="python -m benchmarks.leadlag_synthetic", description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=10, help="repetitions per (process, sigma) cell (default 10)")
    ap.add_argument(
        "--sigmas",
        type=float,
        nargs="+",
        default=None,
        help="one grid for every process (seed 003's full grid: 0 .2 .4 .6 .8 1 2 3 4); default: the "
        "four values seed 003 shows per process in its Figs 5-6",
    )
    ap.add_argument("--dgps", nargs="+", default=list(DGPS), choices=list(DGPS))
    ap.add_argument("--methods", nargs="+", default=list(CLUSTER_METHODS), choices=list(CLUSTER_METHODS))
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--out", type=Path, default=Path("runs/leadlag_synthetic"))
    ap.add_argument("--aggregate-only", action="store_true", help="rebuild table/figure from draws.csv")
    ap.add_argument("--resume", action="store_true", help="keep the complete draws already in draws.csv")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.aggregate_only:
        grid = {d: tuple(args.sigmas) if args.sigmas else FIGURE_SIGMAS[d] for d in args.dgps}
        tasks = [
            (dgp, s, r, (args.seed, DGPS.index(dgp), int(round(s * 1000)), r))
            for r in range(args.reps)
            for dgp in args.dgps
            for s in grid[dgp]
        ]
        path = args.out / "draws.csv"
        done_keys: set = set()
        if args.resume and path.is_file():  # keep finished draws (same seeds, same code -> same rows)
            import pandas as pd

            prev = pd.read_csv(path)
            per = prev.groupby(["dgp", "sigma", "rep"]).size()
            full = len(args.methods) * 9
            done_keys = {(d, float(s), int(r)) for (d, s, r), n in per.items() if n == full}
            prev[[(d, float(s), int(r)) in done_keys for d, s, r in zip(prev.dgp, prev.sigma, prev.rep)]].to_csv(
                path, index=False
            )
            tasks = [t for t in tasks if (t[0], float(t[1]), t[2]) not in done_keys]
            print(f"resuming: {len(done_keys)} draws kept, {len(tasks)} to do", file=sys.stderr)
        t0 = time.perf_counter()
        with (
            open(path, "a" if done_keys else "w", newline="") as fh,
            ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool,
        ):
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            if not done_keys:
                writer.writeheader()
            futs = [pool.submit(one_draw, d, s, r, seed, tuple(args.methods), args.n_init) for d, s, r, seed in tasks]
            for done, fut in enumerate(as_completed(futs), 1):
                writer.writerows(fut.result())
                fh.flush()
                el = time.perf_counter() - t0
                print(
                    f"\r{done}/{len(tasks)} draws, {el:.0f} s, ETA {el / done * (len(tasks) - done):.0f} s",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
        print(file=sys.stderr)
    print(aggregate(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
