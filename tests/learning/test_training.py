"""Training is deterministic and causal: bars after a date change nothing that is decided before it."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

from volts.data.synthetic_timevarying import make_timevarying_market
from volts.learning import DeltaLagSettings, corr_graph_selection, fit, panel_from_bars, predict, settings_for

# every test here trains networks (module fixtures): the full suite, not the fast tier
pytestmark = pytest.mark.slow

# a short market and a few epochs: these tests check properties of the code, not the quality of the fit
SMALL = DeltaLagSettings(
    window=12, hidden=8, key_dim=4, mlp_hidden=8, max_epochs=2, patience=2, batch_days=16, corr_window=30
)


@pytest.fixture(scope="module")
def market():
    return make_timevarying_market(seed=3, n_assets=6, n_leaders=2, n_days=260)


def _leaves(fitted):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(fitted.model) if hasattr(a, "shape")]


def _perturbed(market, cut: pd.Timestamp):
    """The bars after ``cut`` scaled by random positive factors (prices and volumes): a different future."""
    rng = np.random.default_rng(99)
    after = market.bars["close"].index > cut
    out = {}
    for f, frame in market.bars.items():
        g = frame.copy()
        g.loc[after] = g.loc[after].to_numpy() * np.exp(0.2 * rng.standard_normal(g.loc[after].shape))
        out[f] = g
    return out


CUT = 180
SPANS = dict(train=(0, 130), valid=(131, CUT))


def _fit(panel, name, seed=0):
    d = panel.dates
    s = settings_for(name, DeltaLagSettings(**{**SMALL.to_dict(), "seed": seed}))
    return fit(panel, s, (d[SPANS["train"][0]], d[SPANS["train"][1]]), (d[SPANS["valid"][0]], d[SPANS["valid"][1]]))


@pytest.fixture(scope="module")
def panels(market):
    cut = market.bars["close"].index[CUT]
    return panel_from_bars(market.bars), panel_from_bars(_perturbed(market, cut))


@pytest.fixture(scope="module")
def fits(panels):
    """(model on the true bars, model on the bars perturbed after the cut) per model name; trained once."""
    return {name: (_fit(panels[0], name), _fit(panels[1], name)) for name in ("deltalag", "corrgraph")}


@pytest.mark.parametrize("name", ["deltalag", "corrgraph"])
def test_future_bars_change_nothing_before(panels, fits, name):
    original, perturbed = panels
    d = original.dates
    assert not np.allclose(np.nan_to_num(original.features[CUT + 1 :]), np.nan_to_num(perturbed.features[CUT + 1 :]))
    f1, f2 = fits[name]
    # same code, same inputs up to the cut, one process: the parameters are bit-identical
    for a, b in zip(_leaves(f1), _leaves(f2)):
        np.testing.assert_array_equal(a, b)
    assert f1.history == f2.history
    decisions = d[20 : CUT + 1]  # every decision close up to the cut
    p1, s1 = predict(f1, original, decisions)
    p2, s2 = predict(f2, perturbed, decisions)
    pd.testing.assert_frame_equal(p1, p2, check_exact=True)
    pd.testing.assert_frame_equal(s1, s2, check_exact=True)
    # and the future does reach decisions after the cut (the perturbation is not a no-op)
    q1, _ = predict(f1, original, d[CUT + 1 : CUT + 20])
    q2, _ = predict(f2, perturbed, d[CUT + 1 : CUT + 20])
    assert not np.allclose(q1.to_numpy(), q2.to_numpy())


def test_training_is_deterministic(panels, fits):
    f1 = fits["deltalag"][0]
    f2 = _fit(panels[0], "deltalag")
    for a, b in zip(_leaves(f1), _leaves(f2)):
        np.testing.assert_array_equal(a, b)
    f3 = _fit(panels[0], "deltalag", seed=1)
    assert any(not np.array_equal(a, b) for a, b in zip(_leaves(f1), _leaves(f3)))


def test_selections_are_well_formed(panels, fits):
    panel = panels[0]
    d = panel.dates
    f = fits["deltalag"][0]
    pred, sel = predict(f, panel, d[181:200])
    assert pred.shape == (19, 6) and np.isfinite(pred.to_numpy()).all()
    assert len(sel) == 19 * 6 * f.settings.k
    assert (sel.leader != sel.lagger).all()  # self-pairs excluded
    assert sel.lag.between(1, f.settings.l_max).all()
    w = sel.groupby(["date", "lagger"]).weight.sum()
    np.testing.assert_allclose(w.to_numpy(), 1.0, rtol=1e-5)  # softmax over the selected k (float32)


def test_validation_span_must_follow_training(panels):
    panel = panels[0]
    d = panel.dates
    with pytest.raises(ValueError, match="validation span must start after"):
        fit(panel, SMALL, (d[0], d[130]), (d[100], d[180]))


def test_corr_graph_finds_a_static_planted_leader():
    # follower 1 copies stock 0 three bars later; stocks 2, 3 are independent
    rng = np.random.default_rng(0)
    r = rng.standard_normal((300, 4))
    r[3:, 1] = r[:-3, 0] + 0.3 * rng.standard_normal(297)
    lead, lag, w = corr_graph_selection(r, k=2, l_max=5, window=60)
    assert (lead[59:, 1, 0] == 0).all() and (lag[59:, 1, 0] == 3).all() and (w[59:, 1, 0] > 0.8).all()
    assert (w[:59] == 0).all()
    # causal: changing rows after t leaves the selection of day t alone
    r2 = r.copy()
    r2[200:] = rng.standard_normal((100, 4))
    lead2, lag2, w2 = corr_graph_selection(r2, k=2, l_max=5, window=60)
    np.testing.assert_array_equal(w[:200], w2[:200])
