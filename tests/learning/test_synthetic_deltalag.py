"""The planted-truth check: on a market whose leaders and lags switch every few weeks, DeltaLag's top-1 attention
should find the current leader at its current lag, and its predictions should beat Lag1Net's and SelfLag's.

Fixed seed, default settings; neither was tuned toward the result. The current implementation does NOT reach the
bar (see the xfail reason): the test stays as the acceptance criterion for the learned model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.data.synthetic_timevarying import make_timevarying_market
from volts.learning import fit, panel_from_bars, predict, settings_for


def _daily_ic(pred: pd.DataFrame, panel) -> float:
    """Mean over decision days of the cross-sectional Pearson correlation of predicted and next-bar returns."""
    nxt = pd.DataFrame(panel.returns, index=panel.dates, columns=list(panel.symbols)).shift(-1).loc[pred.index]
    return float(np.mean([np.corrcoef(pred.loc[t], nxt.loc[t])[0, 1] for t in pred.index]))


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="not reached: with the default settings the learned attention stays at "
    "chance on this market (top-1 hit rate about 1 %, chance 1 in 81; test ICs within 0.04 of zero), "
    "and also on a market whose leaders never switch; docs/guide/deltalag.md gives the figures",
)
def test_attention_finds_planted_leaders_and_beats_baselines():
    market = make_timevarying_market(seed=0)
    panel = panel_from_bars(market.bars)
    d = panel.dates
    train, valid, test = (d[0], d[599]), (d[600], d[749]), d[749:-1]  # decision days of the test span
    ics, sel = {}, None
    for name in ("deltalag", "lag1net", "selflag"):
        f = fit(panel, settings_for(name), train, valid)
        pred, s = predict(f, panel, test)
        ics[name] = _daily_ic(pred, panel)
        if name == "deltalag":
            sel = s
    top1 = sel[(sel["rank"] == 1) & sel.lagger.isin(market.followers)]
    target = pd.Series(d[1:], index=d[:-1])[top1.date].to_numpy()  # the day each prediction is for
    truth = market.truth.set_index(["date", "follower"]).loc[list(zip(target, top1.lagger))]
    hit = (top1.leader.to_numpy() == truth.leader.to_numpy()) & (top1.lag.to_numpy() == truth.lag.to_numpy())
    print(f"top-1 hit rate {hit.mean():.3f}; test IC {ics}")
    assert hit.mean() >= 0.70
    assert ics["deltalag"] > ics["lag1net"] and ics["deltalag"] > ics["selflag"]


def _planted_selection(market, panel, k: int = 2):
    """The planted (leader, lag) of every follower for the day each decision predicts (weight 1; leaders: none)."""
    T, n = panel.returns.shape
    lead = np.zeros((T, n, k), dtype=np.int32)
    lag = np.ones((T, n, k), dtype=np.int32)
    w = np.zeros((T, n, k))
    truth = market.truth.set_index(["date", "follower"])
    for f in market.followers:
        u = panel.symbols.index(f)
        tf = truth.xs(f, level="follower")  # one row per date, in date order
        lead[:-1, u, 0] = [panel.symbols.index(x) for x in tf.leader.to_numpy()[1:]]
        lag[:-1, u, 0] = tf.lag.to_numpy()[1:]
        w[:-1, u, 0] = 1.0
    return lead, lag, w


@pytest.mark.slow
def test_given_the_planted_leaders_the_network_predicts():
    """The aggregation of the selected leaders' raw features at their lags and the MLP are wired right: fed the
    planted (leader, lag) of each follower (an oracle, not a causal model), the trained network's daily IC is far
    above zero, and above the same network fed the planted leaders at a wrong lag (lag + 1, capped at 9; lag 9
    becomes 8) which carries no information on this market."""
    market = make_timevarying_market(seed=0, n_days=400)
    panel = panel_from_bars(market.bars)
    d = panel.dates
    lead, lag, w = _planted_selection(market, panel)
    wrong = np.where(lag >= 9, 8, lag + 1)
    s = settings_for("corrgraph")
    ics = {}
    for name, sel in (("planted", (lead, lag, w)), ("wrong lag", (lead, wrong, w))):
        f = fit(panel, s, (d[0], d[249]), (d[250], d[319]), selection=sel)
        pred, _ = predict(f, panel, d[319:-1], selection=sel)
        ics[name] = _daily_ic(pred, panel)
    # with R2 = 0.5 on 6 of 10 stocks the oracle's cross-sectional IC is about 0.5 (0.53 on a 1000-day market)
    assert ics["planted"] > 0.3, ics
    assert abs(ics["wrong lag"]) < 0.1, ics
