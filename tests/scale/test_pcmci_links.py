"""The restricted partial-correlation screen past 28 names (issue 13): tigramite's ParCorr as the reference,
planted links among many names, the row rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.selection.causality.pcmci import _restricted, pcmci_screen
from volts.core.errors import DataError


def _planted(n_names: int, n: int = 150, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 5, n_names))
    planted = [(0, 1, 1), (2, 3, 2), (4, 5, 3), (6, 7, 5)]
    for lead, follow, tau in planted:
        x[5:, follow] = 0.7 * x[5 - tau : n + 5 - tau, lead] + np.sqrt(1 - 0.49) * x[5:, follow]
    names = [f"N{k:02d}" for k in range(n_names)]
    frame = pd.DataFrame(x[5:], columns=names, index=pd.bdate_range("2022-01-03", periods=n))
    return frame, [(names[a], names[b], tau) for a, b, tau in planted]


def test_each_link_equals_tigramite_parcorr_with_the_same_conditions():
    import tigramite.data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr

    frame, _ = _planted(10)
    values = frame.to_numpy()
    tau_max = 4
    parents = {1: [0, 2, 5], 3: [2, 8], 9: [4]}
    val, pm, used = _restricted(values, tau_max, parents, max_conds_dim=6)
    test = ParCorr()
    test.set_dataframe(pp.DataFrame(values))
    for (x, y), cond in used.items():
        assert len(cond) <= 6 and all(k != x for k, _ in cond)
        for tau in range(1, tau_max + 1):
            ref_val, ref_p = test.run_test(X=[(x, -tau)], Y=[(y, 0)], Z=[(k, -t) for k, t in cond], tau_max=tau_max)[:2]
            assert val[x, y, tau] == pytest.approx(ref_val, abs=1e-10)
            assert pm[x, y, tau] == pytest.approx(ref_p, abs=1e-10)
    assert np.all(pm[0, 3] == 1.0) and np.all(val[0, 3] == 0.0)  # not a candidate link: not tested


def test_planted_links_are_found_among_sixty_names_and_null_links_stay_near_nominal():
    frame, planted = _planted(60)
    with pytest.raises(DataError, match="too few for 60 series"):
        pcmci_screen(frame, tau_max=5)  # (60 + 1) * 5 + 3 = 308 rows needed
    rng = np.random.default_rng(1)
    names = list(frame.columns)
    pairs = {(p[0], p[1]) for p in planted}
    null = set()
    while len(null) < 600:
        a, b = rng.choice(len(names), size=2, replace=False)
        if (names[a], names[b]) not in pairs:
            null.add((names[a], names[b]))
    links = [(a, b) for a, b, _ in planted] + sorted(null)
    res = pcmci_screen(frame, tau_max=5, links=links, max_conds_dim=10)
    for a, b, tau in planted:
        edge = res.edge(a, b)
        assert edge is not None and edge.tau == tau, (a, b, edge)
    # a null link is 5 tests at alpha = 0.05 that must also reach |r| >= 0.15 (|r| >= 0.15 at T = 145 already
    # means p ~ 0.07): per link about 1 - (1 - 0.05)^5 = 0.23 at most; a screen that keeps everything fails
    false = [e for e in res.edges if (e.leader, e.follower) in null]
    rate = len(false) / len(null)
    assert rate <= 0.23, rate
    assert res.links == "granger" and res.n_links_tested == len(links)
    with pytest.raises(DataError, match="not among the screened"):
        pcmci_screen(frame, tau_max=5, links=[("N00", "XX")])
