"""Figures of a run and the Markdown/HTML report.

The figure functions live in ``volts.reporting.figures.*`` (one module per stage); this module decides which figures a run
writes and assembles the report. The HTML report embeds its figures (base64 PNG) so it opens offline.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

SELECTION_FIGURES = {
    "anomalies": "anomalies.png",
    "volatility_regimes": "volatility_regimes.png",
    "granger_pvalues": "granger_pvalues.png",
    "pcmci_graph": "pcmci_graph.png",
    "lag_accuracy": "lag_accuracy.png",
}


#: Tables of the report list at most this many rows (the full tables are in selection.json / Parquet).
REPORT_TOP_ROWS = 50

#: Figures of large universes show at most this many pairs / edges (and about this many regime members).
FIGURE_TOP_K = 20


def shown_lag_choices(selection) -> dict:
    """The lag choices the figures show: all of them, or past :data:`FIGURE_TOP_K` the ``FIGURE_TOP_K`` pairs with
    the best out-of-sample k-NN accuracy (ties: selection order), in selection order.

    Parameters
    ----------
    selection : volts.selection.pipeline.Selection

    Returns
    -------
    dict of str to volts.selection.lag.LagChoice
        ``"LEADER->FOLLOWER"`` -> choice; empty when the selection has none.
    """
    lags = selection.lags or {}
    if len(lags) > FIGURE_TOP_K:
        best = set(sorted(lags, key=lambda k: -float(lags[k].knn_accuracy))[:FIGURE_TOP_K])
        lags = {k: lags[k] for k in lags if k in best}
    return dict(lags)


def shown_symbols(selection) -> list[str]:
    """The stocks the regime figure draws: the whole universe up to :data:`FIGURE_TOP_K` names; past that, the
    members of the pairs the figures show (:func:`shown_lag_choices`) and the first ``FIGURE_TOP_K // 3`` other
    stocks of each regime, in universe order.

    Parameters
    ----------
    selection : volts.selection.pipeline.Selection

    Returns
    -------
    list of str
    """
    shown = list(selection.universe)
    if len(shown) <= FIGURE_TOP_K:
        return shown
    lags = shown_lag_choices(selection)
    in_pairs = {x for p in selection.pairs for x in (p.leader, p.follower)
                if not lags or f"{p.leader}->{p.follower}" in lags}
    per_regime: dict[str, int] = {}
    keep = []
    for sym in shown:
        regime = selection.clusters.regimes.get(sym)
        if sym in in_pairs or per_regime.get(regime, 0) < FIGURE_TOP_K // 3:
            keep.append(sym)
            per_regime[regime] = per_regime.get(regime, 0) + (sym not in in_pairs)
    return keep


def write_selection_figures(selection, market, folder: str | Path) -> dict[str, Path]:
    """Write the selection's figures into ``folder``; returns {figure name: path}.

    Parameters
    ----------
    selection : volts.selection.pipeline.Selection
    market : MarketData
        The bars the selection ran on (for the volatility paths of the regime figure).
    """
    from volts.reporting.figures.causality import plot_granger_pvalues, plot_pcmci_graph
    from volts.reporting.figures.lag import plot_lag_accuracy
    from volts.reporting.figures.volatility import plot_anomalies, plot_volatility_regimes
    from volts.selection.volatility import estimate_all

    folder = Path(folder)
    w = selection.windows
    s = selection.settings
    out: dict[str, Path] = {}
    out["anomalies"] = Path(plot_anomalies(selection.anomalies, folder / SELECTION_FIGURES["anomalies"]))
    # large universes (issue 13): figures draw the top-k, never the whole universe
    lags = shown_lag_choices(selection)
    shown = shown_symbols(selection)
    gmm_market = market.select(shown).slice(w.gmm_start, w.gmm_end)
    vols = estimate_all(gmm_market, window=s.volatility.window, periods_per_year=s.volatility.periods_per_year)
    out["volatility_regimes"] = Path(plot_volatility_regimes(
        vols, selection.clusters, folder / SELECTION_FIGURES["volatility_regimes"]))
    g = selection.granger
    if selection.granger_scan is not None and g is not None:   # absent when [selection] screens leaves Granger out
        top = None   # the figure's default: every kept pair (or the five smallest p when none is kept)
        if len(g.pairs) > FIGURE_TOP_K:
            top = [(t.leader, t.follower) for t in sorted(g.pairs, key=lambda t: t.p)[:FIGURE_TOP_K]]
        out["granger_pvalues"] = Path(plot_granger_pvalues(
            selection.granger_scan, g, folder / SELECTION_FIGURES["granger_pvalues"], pairs=top))
    pcmci = selection.pcmci
    if pcmci is not None:
        if len(pcmci.var_names) > FIGURE_TOP_K:
            import dataclasses

            edges = sorted(pcmci.edges, key=lambda e: -abs(e.value))[:FIGURE_TOP_K]
            nodes = [v for v in pcmci.var_names if any(v in (e.leader, e.follower) for e in edges)]
            pcmci = dataclasses.replace(pcmci, var_names=tuple(nodes), edges=tuple(edges))
        out["pcmci_graph"] = Path(plot_pcmci_graph(pcmci, folder / SELECTION_FIGURES["pcmci_graph"]))
    if lags:
        out["lag_accuracy"] = Path(plot_lag_accuracy(lags, folder / SELECTION_FIGURES["lag_accuracy"]))
    return out


def markdown_to_html(markdown_text: str, folder: str | Path, title: str = "volts report") -> str:
    """A self-contained HTML page from the report's Markdown (Python-Markdown with tables and fenced code), with
    every local ``<img>`` embedded as a base64 data URI so the file opens offline."""
    import markdown

    folder = Path(folder)
    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code"], output_format="html")

    def embed(match: re.Match) -> str:
        src = html.unescape(match.group(1))
        path = folder / src
        if src.startswith("data:") or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+)"', embed, body)
    style = ("body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;"
             "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
             "td,th{border:1px solid #ccc;padding:.25rem .5rem}th{background:#f3f3f3}img{max-width:100%}"
             "code{background:#f5f5f5;padding:0 .2rem}pre{background:#f5f5f5;padding:.5rem;overflow-x:auto}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
            + body + "\n</body></html>\n")


# --------------------------------------------------------------------------------------------- the report
PAPER = {
    "source": "Letteri, 'A Framework for Predictive Directional Trading Based on Volatility and Causal Inference'",
    "mid_cluster": ["TSLA", "AMZN", "META", "MU", "QCOM", "INTC"],
    "granger_lag": 45,
    "granger_pairs": {"AMZN->MU": 0.0001, "AMZN->TSLA": 0.0030, "META->TSLA": 0.0063, "MU->TSLA": 0.0001,
                      "QCOM->MU": 0.0007},
    "final_pairs": {"MU->QCOM": 2, "META->TSLA": 1, "TSLA->AMZN": 5},
    "knn_accuracy": {"MU->QCOM": 0.923, "META->TSLA": 0.981, "TSLA->AMZN": 0.965},
    # per pair: trades, win rate, total return, final equity, Sharpe, Sortino, max drawdown (fractions)
    "backtest": {
        "MU->QCOM": (4, 1.0, 0.1512, 1151.20, 2.169, 3.933, 0.0266),
        "QCOM buy & hold": (1, 1.0, 0.0259, 1025.94, 0.24, 0.31, 0.0681),
        "META->TSLA": (8, 0.886, 0.1451, 1145.05, 1.178, 4.642, 0.0177),
        "TSLA buy & hold": (1, 1.0, 0.0332, 1033.24, 0.21, 0.28, 0.1123),
        "TSLA->AMZN": (4, 1.0, 0.1650, 1165.01, 1.178, 4.642, 0.0249),
        "AMZN buy & hold": (1, 1.0, 0.0504, 1050.40, 0.53, 0.76, 0.0495),
    },
    "portfolio": {"total_return": 0.1538, "final_equity": 3461.26},
}
"""The paper's published claims (METHOD.md §3-§7), shown beside our results; never used in any computation."""


def _pct(v, digits=2):
    return "–" if v is None else f"{100 * v:.{digits}f}"


def _num(v, fmt="{:.3f}"):
    return "–" if v is None else fmt.format(v)


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


PAPER_ASOF = "2023-06-08"


def paper_comparison_absent(selection: dict) -> str | None:
    """Why the paper comparison does not apply to this run (None when it does): it is shown only for the paper's
    universe (the ten stocks, any order) and the paper's as-of date, whose windows the default config holds."""
    from volts.core.config import PAPER_UNIVERSE

    reasons = []
    if sorted(selection.get("universe", [])) != sorted(PAPER_UNIVERSE):
        reasons.append("the universe is not the paper's ten stocks")
    if selection.get("asof") != PAPER_ASOF:
        reasons.append(f"the as-of date is {selection.get('asof')}, not the paper's {PAPER_ASOF}")
    if not reasons:
        return None
    return ("Paper comparison: not shown, because " + " and ".join(reasons)
            + "; the paper's numbers describe another experiment.")


def data_quality_section(selection: dict, metrics: dict | None) -> list[str]:
    """Markdown lines listing the rows validation dropped, the bars it filled and the findings it kept."""
    lines = ["## Data quality", ""]
    any_rows = False
    for label, q in (("selection", selection.get("data_quality")), ("backtest", (metrics or {}).get("data_quality"))):
        if not q:
            continue
        dropped, filled = q.get("rows_dropped", {}), q.get("rows_filled", {})
        findings = [f for f in q.get("findings", [])]
        lines.append(f"* {label} bars: {sum(dropped.values())} row(s) dropped"
                     + (f" ({', '.join(f'{k} {v}' for k, v in dropped.items())})" if dropped else "")
                     + f", {sum(filled.values())} bar(s) filled"
                     + (f" ({', '.join(f'{k} {v}' for k, v in filled.items())})" if filled else "")
                     + f", {sum(1 for f in findings if f['action'] == 'flagged')} finding(s) flagged and kept.")
        any_rows = True
        for f in findings[:30]:
            lines.append(f"  * {f['symbol']} {f.get('date') or ''} `{f['rule']}` ({f['action']}): {f['message']}")
        if len(findings) > 30:
            lines.append(f"  * … and {len(findings) - 30} more (see selection.json / metrics.json)")
    if not any_rows:
        return []
    return lines + [""]


def paper_comparison(selection: dict, metrics: dict | None) -> str:
    """Markdown section laying our results beside the paper's claims; differences are stated, not explained away."""
    clusters = selection["volatility_clusters"]
    ours_mid = [s for s, r in clusters.items() if r == "mid"]
    if not selection.get("granger"):   # [selection] screens without Granger: no l* to compare
        selection = {**selection, "granger": {"lag": None, "tests": [], "pairs": []}}
    tests = {f"{t['leader']}->{t['follower']}": t for t in selection["granger"]["tests"]}
    kept = {f"{p['leader']}->{p['follower']}" for p in selection["granger"].get("pairs", [])}
    finals = {f"{p['leader']}->{p['follower']}": p for p in selection["pairs"]}
    lines = ["## Paper comparison", "",
             f"Paper: {PAPER['source']} (its data: a broker's CFD bars; ours: the `{selection.get('data_source', '?')}` "
             f"source, data SHA-256 `{selection['data_sha256'][:16]}…`). "
             "The paper's numbers are its claims; ours are what this run measured. No parameter was tuned towards them.", ""]
    rows = [["mid-volatility cluster", ", ".join(PAPER["mid_cluster"]), ", ".join(ours_mid) or "none",
             "same" if set(ours_mid) == set(PAPER["mid_cluster"]) else "differs"],
            ["Granger lag order l*", PAPER["granger_lag"], selection["granger"]["lag"],
             "same" if selection["granger"]["lag"] == PAPER["granger_lag"] else "differs"]]
    lines += [_table(["item", "paper", "ours", ""], rows), "", "### Granger pairs (p at the chosen l)", ""]
    names = sorted(set(PAPER["granger_pairs"]) | kept)
    grows = []
    for n in names:
        paper_p = PAPER["granger_pairs"].get(n)
        t = tests.get(n)
        ours_p = None if t is None else t["p"]
        grows.append([n, "–" if paper_p is None else f"{paper_p:.4f}",
                      "not a candidate pair" if t is None else f"{ours_p:.4g}",
                      "kept" if n in kept else "not kept"])
    lines += [_table(["pair", "paper p (l=45)", f"our p (l={selection['granger']['lag']})", "ours"], grows), ""]
    lines += ["### Final pairs and lags", ""]
    frows = []
    for n in sorted(set(PAPER["final_pairs"]) | set(finals)):
        p = finals.get(n)
        frows.append([n, PAPER["final_pairs"].get(n, "–"), "–" if p is None else p["lag"],
                      _pct(PAPER["knn_accuracy"].get(n), 1) if n in PAPER["knn_accuracy"] else "–",
                      "–" if p is None else _pct(p.get("knn_accuracy"), 1),
                      "–" if p is None or p.get("knn_accuracy_in_sample") is None else _pct(p["knn_accuracy_in_sample"], 1)])
    lines += [_table(["pair", "paper lag", "our lag", "paper accuracy %", "our OOS accuracy %",
                      "our in-sample %"], frows), ""]
    if metrics is not None:
        lines += ["### Backtest (our pairs; the paper's rows for its pairs)", ""]
        brows = []
        for name, vals in PAPER["backtest"].items():
            brows.append([f"paper: {name}", vals[0], _pct(vals[1], 1), _pct(vals[2]), f"{vals[3]:.2f}",
                          f"{vals[4]:.3f}", f"{vals[5]:.3f}", _pct(vals[6])])
        brows.append(["paper: portfolio", "", "", _pct(PAPER["portfolio"]["total_return"]),
                       f"{PAPER['portfolio']['final_equity']:.2f}", "", "", ""])
        for r in metrics.get("strategies", []) + metrics.get("benchmarks", []) + metrics.get("portfolio", []):
            brows.append([f"ours: {r['name']}", _num(r.get("trades"), "{:d}"), _pct(r.get("win_rate"), 1),
                          _pct(r.get("total_return")), _num(r.get("final_equity"), "{:.2f}"),
                          _num(r.get("sharpe")), _num(r.get("sortino")), _pct(r.get("max_drawdown"))])
        lines += [_table(["strategy", "trades", "win %", "return %", "final $", "Sharpe", "Sortino", "MDD %"],
                         brows), ""]
    return "\n".join(lines)


def _fig(folder: Path, name: str, caption: str) -> list[str]:
    return [f"![{caption}]({name})", ""] if (folder / name).is_file() else []


def build_report(folder: str | Path, selection: dict, metrics: dict | None, *, timings: dict | None = None,
                 truth: dict | None = None) -> str:
    """The run's report as Markdown, for a reader who has not seen the code.

    Parameters
    ----------
    folder : path
        The run folder (figures are referenced relative to it).
    selection, metrics : dict
        The parsed ``selection.json`` and ``metrics.json`` (``metrics`` None when no pair survived).
    timings : dict, optional
        Wall time per stage, seconds.
    truth : dict, optional
        Planted ground truth of a synthetic market (``GroundTruth.to_dict()``): adds planted-versus-recovered.

    Length: the report is one Markdown document written section after section (windows, coverage, anomalies,
    regimes, each screen, lags, backtest, timings); each section is a short independent block.
    """
    folder = Path(folder)
    w = selection.get("windows", {})
    s = selection.get("settings", {})
    L: list[str] = [f"# volts report — selection as of {selection['asof']}", ""]
    L += ["## Data and windows", "",
          f"* Universe: {', '.join(selection['universe'])}",
          f"* Source: `{selection.get('data_source', s.get('data', {}).get('source', '?'))}`; data SHA-256 "
          f"`{selection['data_sha256'][:16]}…`; config SHA-256 `{selection['config_sha256'][:16]}…`; "
          f"volts {selection['volts_version']}"]
    for key, label in (("anomaly", "anomaly detection"), ("gmm", "volatility clustering (GMM)"),
                       ("train", "causal screen and lag choice (training)"), ("test", "backtest (test)")):
        if key in w:
            L.append(f"* {label}: {w[key]['start']} .. {w[key]['end']}")
    L.append("")
    cov = selection.get("universe_coverage")
    if cov:  # survivorship and quarantine disclosure (issue 13)
        L += [f"**Coverage:** {cov['coverage']}.", ""]
        if cov.get("excluded"):
            rows = [[e["symbol"], e["rule"], e.get("date") or "", e["message"]] for e in cov["excluded"][:100]]
            L += [_table(["excluded member", "rule", "date", "reason"], rows), ""]
            if len(cov["excluded"]) > 100:
                L += [f"… and {len(cov['excluded']) - 100} more (selection.json, `universe_coverage`).", ""]
    for warn in selection.get("warnings", []):
        L += [f"> **Warning:** {warn}", ""]

    L += ["## 1. Anomalies (KNN distance score)", ""]
    an = selection.get("anomalies", [])
    L.append(f"{len(an)} day(s) flagged" + (": " + ", ".join(a["date"] for a in an[:25]) + (" …" if len(an) > 25 else "") if an else "") + ".")
    L.append("")
    L += _fig(folder, "anomalies.png", "KNN anomaly score per day, threshold and flagged days")

    L += ["## 2-3. Volatility regimes (pooled GMM on the Parkinson, Garman-Klass, Rogers-Satchell and Yang-Zhang estimators)", ""]
    vc = selection.get("volatility_clustering", {})
    post = vc.get("posteriors") or vc.get("mean_posterior") or {}
    rows = []
    margins = vc.get("margins") or {}
    borderline = set(vc.get("borderline") or [])
    for sym, regime in selection["volatility_clusters"].items():
        p = post.get(sym, {}) if isinstance(post, dict) else {}
        rows.append([sym, regime] + [_num(p.get(k), "{:.2f}") for k in ("low", "mid", "high")]
                    + [_num(margins.get(sym), "{:.3f}"), "**borderline**" if sym in borderline else ""])
    if len(rows) > REPORT_TOP_ROWS:
        counts: dict[str, int] = {}
        for regime in selection["volatility_clusters"].values():
            counts[regime] = counts.get(regime, 0) + 1
        L += [f"{len(rows)} stocks: " + ", ".join(f"{k} {v}" for k, v in counts.items())
              + " (every stock's regime and posteriors are in selection.json).", ""]
    else:
        L += [_table(["symbol", "regime", "P(low)", "P(mid)", "P(high)", "margin", ""], rows), ""]
    if "n_iter" in vc:
        accel = (" accelerated by SQUAREM (iterations = EM steps)" if vc.get("em_acceleration") == "squarem"
                 else "")
        L.append(f"EM{accel}: log-likelihood {vc['log_likelihood']:.2f} after {vc['n_iter']} iterations (tol "
                 f"{vc['tol']:g}, max {vc['max_iter']}), converged = {str(vc['converged']).lower()} (scikit-learn's "
                 f"rule for the kept initialisation). Margin = assigned mean posterior minus the runner-up; below "
                 f"{vc['borderline_margin']:g} a stock is borderline: "
                 + (", ".join(sorted(borderline)) if borderline else "none") + ".")
        L.append("")
    cv = vc.get("component_volatility", {})
    space = ("one axis, the mean log volatility of the estimators (bands of volatility level)"
             if vc.get("features") == "level" else "one axis per estimator (METHOD.md §3 as written)")
    L.append(f"Mixture fitted on {vc.get('n_points', '?')} stock-days, {space}; component mean volatilities: "
             + ", ".join(f"{k} {100 * v:.1f}%" for k, v in cv.items()) + ". A stock's regime is the argmax of its "
             "mean posterior; the posteriors show how clear-cut each assignment is.")
    L.append("")
    L.append(f"Candidates for the causal screen (mid): {', '.join(selection['candidates']) or 'none'}.")
    L.append("")
    L += _fig(folder, "volatility_regimes.png", "Volatility by stock, coloured by regime")

    L += ["## 4. Causal screen", "", "### Funnel", ""]
    L += [_table(["stage", "pairs in", "kept", "dropped"],
                 [[f["stage"], f["entered"], f["kept"], f["dropped"]] for f in selection.get("funnel", [])]), ""]
    g = selection.get("granger")
    n_tests = None
    if g:   # each of the three is absent when [selection] screens leaves it out
        n_tests = g.get("n_tests") or (selection.get("granger_pvalues") or {}).get("n_tests")
        L += ["### 4a. Granger F-test", "",
              f"Series: `{s.get('granger', {}).get('series', '?')}`; lag order l* = {g['lag']} (minimises the median "
              f"p-value across pairs); keep p < {s.get('granger', {}).get('alpha', '?')}. "
              + (f"{n_tests} (pair, lag) tests were looked at to choose l*: the naive p-values understate the "
                 "multiple comparison; the Benjamini-Hochberg column adjusts across pairs at l* only." if n_tests else ""), ""]
        grows = sorted(g["tests"], key=lambda t: (t["p"] is None, t["p"]))
        kept_pairs = {(k["leader"], k["follower"]) for k in g.get("pairs", [])}
        if len(grows) > REPORT_TOP_ROWS or g.get("tests_file"):
            L += [f"The {min(len(grows), REPORT_TOP_ROWS)} smallest p-values listed; every pair is in "
                  f"`{g.get('tests_file', 'selection.json')}`.", ""]
        L += [_table(["leader → follower", "p", "p (BH)", "kept"],
                     [[f"{t['leader']} → {t['follower']}", _num(t["p"], "{:.3g}"), _num(t.get("p_bh"), "{:.3g}"),
                       "yes" if (t["leader"], t["follower"]) in kept_pairs else ""]
                      for t in grows[:REPORT_TOP_ROWS]]), ""]
        L += _fig(folder, "granger_pvalues.png", "Granger p-value versus lag order per pair")
    pc = selection.get("pcmci")
    if pc:
        L += ["### 4b. PCMCI partial correlation", "",
              f"Mode `{s.get('pcmci', {}).get('mode', '?')}`, tau_max = {s.get('pcmci', {}).get('tau_max', '?')}, "
              f"edge when p <= {s.get('pcmci', {}).get('alpha', '?')} and |partial correlation| >= "
              f"{s.get('pcmci', {}).get('min_abs_partial_corr', '?')}.", ""]
        edges = pc.get("edges", [])
        if edges:
            L += [_table(["leader → follower", "tau", "partial corr", "p"],
                         [[f"{e['leader']} → {e['follower']}", e.get("tau"), _num(e.get("value")), _num(e.get("p"), "{:.3g}")]
                           for e in (edges if len(edges) <= REPORT_TOP_ROWS else
                                    sorted(edges, key=lambda e: -abs(e.get("value") or 0))[:REPORT_TOP_ROWS])]), ""]
        else:
            L += ["No edge passed.", ""]
        L += _fig(folder, "pcmci_graph.png", "PCMCI partial-correlation graph")
    te_section = selection.get("transfer_entropy")
    if te_section is not None:
        te = te_section.get("rows", [])
        L += ["### 4c. Effective transfer entropy", ""]
        if te:
            L += [_table(["leader → follower", "lag", "TE (bits)", "ETE", "p", "ETE reverse", "p reverse", "kept"],
                         [[f"{r['leader']} → {r['follower']}", r.get("lag"), _num(r.get("te"), "{:.4f}"),
                           _num(r.get("ete"), "{:.4f}"), _num(r.get("p"), "{:.3f}"), _num(r.get("ete_reverse"), "{:.4f}"),
                           _num(r.get("p_reverse"), "{:.3f}"), "yes" if r.get("kept") else r.get("reason", "")]
                          for r in te]), ""]
        else:
            L += ["No pair reached this stage.", ""]

    other = {k: v for k, v in (selection.get("screens") or {}).items()
             if k not in ("granger", "pcmci", "transfer_entropy")}
    for name, res in other.items():
        rule = (f"keep p <= {res.get('alpha')} and score > 0" if res.get("rule") == "test"
                else f"keep the top {res.get('top_k')} scores")
        L += [f"### Screen `{name}`", "", f"Rule: {rule}; parameters: "
              + ", ".join(f"{k} = {v}" for k, v in (res.get("params") or {}).items()) + ".", ""]
        rows = sorted(res.get("rows", []), key=lambda r: (r.get("score") is None, -(r.get("score") or 0.0)))
        if rows:
            L += [_table(["leader → follower", "score", "p", "lag", "kept"],
                         [[f"{r['leader']} → {r['follower']}", _num(r.get("score"), "{:.4g}"),
                           _num(r.get("p"), "{:.3g}"), "–" if r.get("lag") is None else r["lag"],
                           "yes" if r.get("kept") else ""] for r in rows]), ""]
        else:
            L += ["No pair reached this stage.", ""]

    L += ["## 5. Lag choice (DTW k-NN)", ""]
    lags = selection.get("lag_selection", {})
    if lags:
        rows = []
        for name, c in lags.items():
            rows.append([name, c.get("lag"), _pct(c.get("knn_accuracy"), 1),
                         _pct(_at(c.get("accuracy_in_sample"), c.get("lag")), 1), c.get("n_samples", "–"),
                         _num(c.get("dtw_distance"), "{:.3f}"), _num(c.get("dtw_median_offset"), "{:.1f}")])
        L += [_table(["pair", "tau*", "OOS accuracy %", "in-sample %", "samples", "DTW distance", "median DTW offset"],
                     rows), ""]
        L += ["Out-of-sample accuracy comes from time-ordered cross-validation (never shuffled); daily direction is "
              "close to a coin flip out of sample, so values near 50% are expected.", ""]
        L += _fig(folder, "lag_accuracy.png", "k-NN accuracy versus lag")
    else:
        L += ["No pair reached this stage.", ""]
    dropped = selection.get("dropped", {})
    if dropped and len(dropped) > REPORT_TOP_ROWS:
        by_stage: dict[str, int] = {}
        for v in dropped.values():
            by_stage[v] = by_stage.get(v, 0) + 1
        L += ["Pairs that dropped out, by stage: " + "; ".join(f"{k} {v}" for k, v in by_stage.items())
              + " (every pair in selection.json, `dropped`).", ""]
    elif dropped:
        L += ["Pairs that dropped out, and where: " + "; ".join(f"{k} ({v})" for k, v in sorted(dropped.items())) + ".", ""]
    if truth:
        L += ["## Planted versus recovered (synthetic market)", ""]
        found = {f"{p['leader']}->{p['follower']}": p["lag"] for p in selection["pairs"]}
        prow = []
        for p in truth.get("pairs", []):
            n = f"{p['leader']}->{p['follower']}"
            prow.append([n, p["lag"], found.get(n, "not found"),
                         "yes" if found.get(n) == p["lag"] else "no"])
        planted = {f"{p['leader']}->{p['follower']}" for p in truth.get("pairs", [])}
        for n, lag in found.items():
            if n not in planted:
                prow.append([n, "not planted", lag, "false pair"])
        L += [_table(["pair", "planted lag", "recovered lag", "match"], prow), ""]

    from volts.selection.date_stability import date_stability_markdown

    L += date_stability_markdown(selection.get("date_stability"))
    L += ["## 6-7. Backtest", ""]
    if metrics:
        win = metrics.get("window", {})
        L.append(f"Test window {win.get('start', '?')} .. {win.get('end', '?')}; execution "
                 f"`{metrics.get('execution', '?')}`" + (" — **optimistic: trades at the signal's own close**"
                                                         if metrics.get("optimistic") else
                                                         " (signal at the close, fill at the next open)") + ".")
        L.append("")
        rows = []
        for r in metrics.get("strategies", []) + metrics.get("benchmarks", []) + metrics.get("portfolio", []):
            rows.append([r["name"], _num(r.get("trades"), "{:d}"), _pct(r.get("win_rate"), 1), _pct(r.get("total_return")),
                         _num(r.get("final_equity"), "{:.2f}"), _num(r.get("sharpe")), _num(r.get("sortino")),
                         _pct(r.get("max_drawdown")), _num(r.get("calmar"), "{:.2f}")])
        L += [_table(["strategy", "trades", "win %", "return %", "final $", "Sharpe", "Sortino", "MDD %", "Calmar"],
                     rows), ""]
        from volts.evaluation.disclosure import backtest_costs_markdown

        L += backtest_costs_markdown(metrics)
        L += _fig(folder, "equity.png", "Equity curves and drawdowns")
    else:
        L += ["No pair survived the selection, so nothing was backtested.", ""]

    L += data_quality_section(selection, metrics)
    absent = paper_comparison_absent(selection)
    L += [paper_comparison(selection, metrics) if absent is None else absent, ""]
    L += ["## Caveats", "",
          "* Survivorship: every stock of the reference universe was still listed in 2024; results on it are biased "
          "towards survivors.",
          "* The test window is short (the paper's is about 45 trading days): a handful of trades cannot separate "
          "skill from luck; Sharpe ratios over so few days have wide error bars.",
          f"* Multiple testing: {n_tests or 'many'} Granger (pair, lag) tests were looked at before the cut; add the "
          "PCMCI and transfer-entropy screens and the lag scan, and some surviving pairs are expected by chance.",
          "* Granger tests on price levels (the paper's choice) are biased towards finding causality; "
          "`granger.series = \"log_return\"` is the sound alternative.",
          "* The k-NN accuracy the paper reports appears to be in-sample; ours is out-of-sample with the in-sample "
          "figure beside it.", ""]
    if timings:
        L += ["## Wall time per stage", "",
              _table(["stage", "seconds"], [[k, f"{v:.2f}"] for k, v in timings.items()]), ""]
    return "\n".join(L)


def _at(values, lag):
    if values is None or lag is None:
        return None
    if isinstance(values, dict):
        return values.get(str(lag), values.get(lag))
    return None


def write_report(folder: Path, *, timings: dict | None = None, truth: dict | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` and the self-contained ``report.html`` of a run folder from its artifacts.

    ``timings`` default to the run's ``timings.json`` (written by ``volts run``), so a rebuilt report keeps its
    "Wall time per stage" section.

    Raises
    ------
    ArtifactError
        ``selection.json``, ``metrics.json`` or ``timings.json`` is missing a field or malformed (naming the file).
    """
    from volts.core.artifacts import atomic_write_text, read_json, read_selection
    from volts.core.errors import ArtifactError
    from volts.trading.metrics import read_metrics

    folder = Path(folder)
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: not a run folder (no such directory)")
    selection = read_selection(folder / "selection.json")
    metrics = read_metrics(folder / "metrics.json") if (folder / "metrics.json").is_file() else None
    if timings is None and (folder / "timings.json").is_file():
        timings = read_json(folder / "timings.json")
        if not isinstance(timings, dict) or not all(isinstance(v, (int, float)) for v in timings.values()):
            raise ArtifactError(f"{folder / 'timings.json'}: expected an object of stage -> seconds")
    if truth is None and (folder / "truth.json").is_file():
        truth = read_json(folder / "truth.json")
    try:
        md = build_report(folder, selection, metrics, timings=timings, truth=truth)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ArtifactError(f"{folder}: the run's artifacts do not fit together or lack a field "
                            f"({type(exc).__name__}: {exc}); rebuild the run with volts run --force") from None
    md_path = atomic_write_text(folder / "report.md", md)
    html_path = atomic_write_text(folder / "report.html",
                                  markdown_to_html(md, folder, title=f"volts report {selection['asof']}"))
    return md_path, html_path
