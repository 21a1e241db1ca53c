"""Probabilistic and deflated Sharpe ratios (volts.evaluation.sharpe): the paper's worked example and a coverage property."""

from __future__ import annotations

import math

import numpy as np
import pytest

from volts.evaluation.sharpe import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_inference,
    sharpe_standard_error,
)


def test_deflated_sharpe_matches_the_papers_numerical_example():
    # Bailey & Lopez de Prado (2014), section "A numerical example": 100 independent trials whose annualised
    # Sharpe ratios have variance 0.5; the best has annualised SR 2.5 over 5 years of daily returns (T = 1250,
    # 250 days a year), skewness -3, kurtosis 10. The paper reports E[max SR] = 0.1132 per day and DSR = 0.9004.
    sr0_annual = expected_max_sharpe(100, 0.5)
    sr0 = sr0_annual / math.sqrt(250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), 1250, skew=-3, kurtosis=10, benchmark=sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    # the same through deflated_sharpe_ratio with per-period inputs: variance scales by 1/250
    dsr2, sr0b = deflated_sharpe_ratio(
        2.5 / math.sqrt(250), 1250, n_trials=100, trials_variance=0.5 / 250, skew=-3, kurtosis=10
    )
    assert dsr2 == pytest.approx(dsr, abs=1e-12) and sr0b == pytest.approx(sr0, abs=1e-12)


def test_expected_max_sharpe_against_simulation():
    # independent check of the approximation: the mean of the maximum of N standard normals
    rng = np.random.default_rng(0)
    for n in (10, 100):
        sim = rng.standard_normal((20000, n)).max(axis=1).mean()
        assert expected_max_sharpe(n, 1.0) == pytest.approx(sim, rel=0.03)
    assert expected_max_sharpe(1, 0.3) == 0.0


def test_psr_is_calibrated_under_the_null_and_se_matches_normal_formula():
    # normal returns whose true Sharpe equals the benchmark: PSR should be about uniform, P(PSR > 0.95) ~ 5 %
    rng = np.random.default_rng(1)
    true_sr, t = 0.05, 500
    psr = []
    for _ in range(2000):
        r = true_sr + rng.standard_normal(t)
        sr = r.mean() / r.std(ddof=1)
        psr.append(probabilistic_sharpe_ratio(sr, t, benchmark=true_sr))
    frac = np.mean(np.array(psr) > 0.95)
    assert 0.035 <= frac <= 0.065, frac
    # normal returns: sigma(SR) = sqrt((1 + SR^2 / 2) / (T - 1)) (Lo 2002)
    assert sharpe_standard_error(0.1, 101) == pytest.approx(math.sqrt((1 + 0.005) / 100), rel=1e-12)


def test_sharpe_inference_from_returns():
    rng = np.random.default_rng(2)
    r = 0.0005 + 0.01 * rng.standard_normal(750)
    one = sharpe_inference(r)
    assert one["n_trials"] == 1 and one["dsr"] == pytest.approx(one["psr"])
    trials = [one["sharpe"], 0.0, -0.02, 0.03, 0.01]
    many = sharpe_inference(r, trial_sharpes=trials)
    assert many["n_trials"] == 5 and many["trials_variance"] == pytest.approx(np.var(trials, ddof=1))
    assert many["dsr"] < many["psr"] and many["sr0"] > 0
    assert sharpe_inference([0.01, 0.01, 0.01])["psr"] is None
