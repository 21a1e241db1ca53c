"""The configured funnel on the reference data: the default sequence gives exactly what the hard-coded Vol-TS
order (Granger on levels -> PCMCI -> ETE at the PCMCI tau) gave, and any other sequence runs end to end."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import REPO
from volts.core.config import load_settings

ASOF = dt.date(2023, 6, 8)


@pytest.fixture(scope="module")
def settings(ref_data_dir):
    return load_settings(REPO / "config.toml").override(**{"data.dir": str(ref_data_dir)})


@pytest.fixture(scope="module")
def default_selection(paper_market, settings):
    from volts.selection.pipeline import run_selection

    return run_selection(paper_market, settings, asof=ASOF)


def _hard_coded_funnel(market, settings, candidates):
    """The pre-issue-12 stage 4, written out: Granger scan on the candidates' closes -> l* -> p < alpha; PCMCI edge;
    ETE at max(1, PCMCI tau)."""
    from volts.selection.causality.entropy import ete_screen
    from volts.selection.causality.granger import granger_scan
    from volts.selection.causality.granger_select import select_granger_pairs
    from volts.selection.causality.pcmci import pcmci_screen

    w = settings.windows.shifted(ASOF)
    train = market.select(list(settings.data.universe)).slice(w.train_start, w.train_end).select(candidates)
    returns = train.log_returns()
    g, pc, e = settings.granger, settings.pcmci, settings.entropy
    scan = granger_scan(train.close, min_lag=g.min_lag, max_lag=g.max_lag, min_df=g.min_df)
    granger = select_granger_pairs(scan, alpha=g.alpha)
    kept = [(t.leader, t.follower) for t in granger.pairs]
    pcmci = pcmci_screen(
        returns, tau_max=pc.tau_max, alpha=pc.alpha, min_abs_partial_corr=pc.min_abs_partial_corr, mode=pc.mode
    )
    after_pcmci = [p for p in kept if pcmci.has_edge(*p)]
    ete = ete_screen(
        returns,
        [(x, y, max(1, int(pcmci.edge(x, y).tau))) for x, y in after_pcmci],
        bins=e.bins,
        history=e.history,
        surrogates=e.surrogates,
        alpha=e.alpha,
        seed=e.seed,
    )
    final = [(r["leader"], r["follower"]) for r in ete.rows if r["kept"]]
    ordered = [(x, y) for x in candidates for y in candidates if x != y]
    dropped = {}
    for stage, before, after in (
        ("granger", ordered, kept),
        ("pcmci", kept, after_pcmci),
        ("transfer_entropy", after_pcmci, final),
    ):
        dropped.update({f"{x}->{y}": stage for x, y in before if (x, y) not in after})
    return scan, granger, pcmci, ete, final, dropped


def test_default_sequence_equals_the_hard_coded_vol_ts_funnel(default_selection, paper_market, settings):
    sel = default_selection
    d = sel.to_dict()
    scan, granger, pcmci, ete, final, dropped = _hard_coded_funnel(paper_market, settings, list(sel.candidates))
    assert d["granger"] == granger.to_dict()
    assert d["granger_pvalues"] == scan.to_dict()
    assert d["pcmci"] == pcmci.to_dict()
    assert d["transfer_entropy"] == ete.to_dict()
    assert [(p.leader, p.follower) for p in sel.pairs] == final
    assert d["dropped"] == dropped
    assert [f["stage"] for f in d["funnel"]] == ["granger", "pcmci", "transfer_entropy", "lag"]
    assert list(d["screens"]) == ["granger", "pcmci", "transfer_entropy"]
    for p in d["pairs"]:  # the per-pair statistics come from the same screens
        assert p["screens"]["granger"]["p"] == p["granger_p"] and p["screens"]["transfer_entropy"]["p"] == p["ete_p"]
        assert p["screens"]["pcmci"]["lag"] == p["partial_corr_tau"]
    assert any("unit root" in w for w in d["warnings"])


@pytest.mark.slow
def test_any_sequence_runs_on_the_reference_data(default_selection, paper_market, settings, tmp_path):
    from volts.reporting.run_report import build_report, write_selection_figures
    from volts.selection.pipeline import run_selection

    s = settings.override(
        **{
            "selection.screens": ["levy_area", "distance_correlation", "transfer_entropy"],
            "selection.rules": {"levy_area": "top_k"},
            "selection.top_k": 6,
        }
    )
    sel = run_selection(paper_market, s, asof=ASOF)
    d = sel.to_dict()
    assert d["candidates"] == list(default_selection.candidates)  # the stages before are untouched
    assert d["granger"] is None and d["pcmci"] is None and d["transfer_entropy"] is not None
    steps = d["funnel"]
    assert [f["stage"] for f in steps] == ["levy_area", "distance_correlation", "transfer_entropy", "lag"]
    n = len(sel.candidates)
    assert steps[0]["entered"] == n * (n - 1) and steps[0]["kept"] <= 6
    for a, b in zip(steps, steps[1:]):
        assert b["entered"] == a["kept"]
    assert all(r["lag"] == 1 for r in d["transfer_entropy"]["rows"])  # no delay before: lag 1
    assert len(set(d["dropped"]) | {f"{p['leader']}->{p['follower']}" for p in d["pairs"]}) == n * (n - 1)
    figures = write_selection_figures(sel, paper_market, tmp_path)
    assert "granger_pvalues" not in figures and "pcmci_graph" not in figures
    text = build_report(tmp_path, d, None)
    assert "Screen `levy_area`" in text and "Screen `distance_correlation`" in text
