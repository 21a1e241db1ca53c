"""``[clustering] method = "hermitian"`` in the selection pipeline (volts.selection.pipeline + volts.selection.hermitian).

Property: every pair that leaves the Granger stage, and so every final pair, goes from a lead-lag cluster to a
cluster it leads (meta-flow F > 0); the clustering is reported in selection.json. Reduced settings (few lags and
surrogates) keep it fast; the rule does not depend on them.
"""

from __future__ import annotations

import datetime as dt

from volts.core.config import Settings
from volts.selection.pipeline import run_selection


def test_hermitian_candidates_are_leading_to_lagging_pairs(paper_market):
    settings = Settings().override(
        **{
            "clustering.method": "hermitian",
            "clustering.hermitian_k": 3,
            "clustering.hermitian_metric": "ccf_auc_pearson",
            "granger.max_lag": 6,
            "granger.series": "log_return",
            "granger.alpha": 0.2,
            "entropy.surrogates": 20,
            "lag.max_lag": 3,
        }
    )
    sel = run_selection(paper_market, settings, asof=dt.date(2023, 6, 8))
    ll = sel.lead_lag_clusters
    assert ll is not None and ll.method == "hermitian_rw"
    label = dict(zip(ll.symbols, ll.labels))
    step = {s.stage: s for s in sel.funnel}
    assert step["granger"].entered == sum(1 for _ in _leading(ll))
    for p in sel.pairs:
        assert ll.flow[label[p.leader], label[p.follower]] > 0
    d = sel.to_dict()
    assert set(d["lead_lag_clustering"]["clusters"]) == set(ll.symbols)
    assert d["lead_lag_clustering"]["leadingness"] == sorted(d["lead_lag_clustering"]["leadingness"], reverse=True)


def _leading(ll):
    from volts.selection.hermitian import leading_pairs

    return leading_pairs(ll)
