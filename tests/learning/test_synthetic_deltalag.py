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
@pytest.mark.xfail(strict=True, reason="with the default settings the attention stays at chance level on this "
                   "market (top-1 hit rate about 1 %, chance 1/81; test IC about 0.0-0.04): the encoder does not "
                   "learn the lagged co-movement from the raw features in this training budget")
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
