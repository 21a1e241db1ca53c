"""The training losses against a hand-computed three-stock example."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from volts.learning.losses import ic_loss, loss_by_name, mse_loss, rank_loss

# predictions, realised returns of one day's cross-section of three stocks
P = jnp.array([1.0, 0.0, -1.0])
R = jnp.array([2.0, -1.0, 0.0])
M = jnp.ones(3)


def test_mse_by_hand():
    # errors -1, 1, -1
    assert float(mse_loss(P, R, M)) == pytest.approx(1.0, abs=1e-6)


def test_ic_by_hand():
    # mean p = 0, mean r = 1/3; cov = 2/3, var p = 2/3, var r = 14/9  ->  corr = (2/3) / sqrt(28/27)
    want = -(2 / 3) / math.sqrt(28 / 27)
    assert float(ic_loss(P, R, M)) == pytest.approx(want, abs=1e-6)
    assert float(ic_loss(P, R, M)) == pytest.approx(-np.corrcoef(np.asarray(P), np.asarray(R))[0, 1], abs=1e-6)


def test_rank_by_hand():
    # point-wise: 1. Pairs: (0,1) dp=1 dr=3 ok; (0,2) dp=2 dr=2 ok; (1,2) dp=1 dr=-1 mis-ordered -> 1, counted
    # as (1,2) and (2,1): sum 2 over n^2 = 9. Logistic: labels tanh(2), tanh(-1), 0 times p = 1, 0, -1.
    logit = (math.log1p(math.exp(-math.tanh(2.0) * 1.0)) + math.log(2.0) + math.log(2.0)) / 3
    for alpha, beta in [(1.0, 1.0), (0.5, 0.0), (2.0, 3.0)]:
        want = 1.0 + alpha * 2 / 9 + beta * logit
        assert float(rank_loss(P, R, M, alpha=alpha, beta=beta)) == pytest.approx(want, abs=1e-6)
    # gamma scales the label smoothing: tanh(r / gamma)
    logit2 = (math.log1p(math.exp(-math.tanh(1.0) * 1.0)) + 2 * math.log(2.0)) / 3
    assert float(rank_loss(P, R, M, gamma=2.0)) == pytest.approx(1.0 + 2 / 9 + logit2, abs=1e-6)


@pytest.mark.parametrize("name", ["rank", "ic", "mse"])
def test_mask_drops_a_stock(name):
    f = loss_by_name(name)
    p4 = jnp.concatenate([P, jnp.array([7.0])])
    r4 = jnp.concatenate([R, jnp.array([-5.0])])
    m4 = jnp.array([1.0, 1.0, 1.0, 0.0])
    assert float(f(p4, r4, m4)) == pytest.approx(float(f(P, R, M)), abs=1e-6)


def test_unknown_loss_named():
    with pytest.raises(ValueError, match="rank, ic, mse"):
        loss_by_name("hinge")
