"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado 2012, 2014).

A Sharpe ratio estimated from T returns is itself a random variable. Under i.i.d. (not necessarily normal) returns
its standard error is approximately

    sigma(SR) = sqrt[(1 - g3 SR + (g4 - 1) / 4 SR^2) / (T - 1)],

with g3 the skewness and g4 the (non-excess) kurtosis of the returns and SR the *per-period* (not annualised) ratio
(Mertens 2002). The **probabilistic Sharpe ratio** against a benchmark SR* is

    PSR(SR*) = Phi[(SR - SR*) / sigma(SR)],

the probability that the true Sharpe ratio exceeds SR*. When the reported strategy is the best of N trials
(configurations compared on the same data), the benchmark is the expected maximum of N Sharpe estimates whose true
value is zero,

    SR0 = sqrt(V) * [(1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))],

with V the variance of the trials' Sharpe estimates and gamma the Euler-Mascheroni constant. The **deflated
Sharpe ratio** is PSR(SR0) (Bailey & López de Prado 2014, eq. 2 and the "numerical example" of §4, which the
tests reproduce). With a single trial (N = 1) no selection took place and DSR = PSR(0).

References
----------
Bailey, D. H. and López de Prado, M. (2012). The Sharpe ratio efficient frontier. Journal of Risk 15(2).
Bailey, D. H. and López de Prado, M. (2014). The deflated Sharpe ratio: correcting for selection bias, backtest
overfitting and non-normality. Journal of Portfolio Management 40(5), 94-107.
Mertens, E. (2002). Comments on variance of the IID estimator in Lo (2002). Working paper.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "EULER_GAMMA",
    "sharpe_standard_error",
    "probabilistic_sharpe_ratio",
    "expected_max_sharpe",
    "deflated_sharpe_ratio",
    "sharpe_inference",
]

#: Euler-Mascheroni constant.
EULER_GAMMA = 0.5772156649015329


def sharpe_standard_error(sr: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """Standard error of a per-period Sharpe ratio estimate under i.i.d. non-normal returns (Mertens 2002).

    Parameters
    ----------
    sr : float
        Per-period (not annualised) Sharpe ratio.
    n_obs : int
        T, number of returns (>= 2).
    skew : float
        Skewness g3 of the returns.
    kurtosis : float
        Kurtosis g4 (non-excess: 3 for normal returns).

    Returns
    -------
    float
        sqrt[(1 - g3 SR + (g4 - 1)/4 SR^2) / (T - 1)].

    Raises
    ------
    ValueError
        ``n_obs`` < 2 or a non-positive variance term (extreme skew with a large SR).
    """
    if n_obs < 2:
        raise ValueError(f"sharpe_standard_error: need at least 2 returns, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not var > 0:
        raise ValueError(
            f"sharpe_standard_error: non-positive variance term {var:.4g} (SR {sr:.4g}, skew "
            f"{skew:.4g}, kurtosis {kurtosis:.4g})"
        )
    return math.sqrt(var / (n_obs - 1))


def probabilistic_sharpe_ratio(
    sr: float, n_obs: int, *, skew: float = 0.0, kurtosis: float = 3.0, benchmark: float = 0.0
) -> float:
    """PSR: probability that the true per-period Sharpe ratio exceeds ``benchmark`` (Bailey & López de Prado 2012).

    Parameters
    ----------
    sr, benchmark : float
        Observed and benchmark per-period Sharpe ratios.
    n_obs : int
        T, number of returns.
    skew, kurtosis : float
        Of the returns (kurtosis non-excess).

    Returns
    -------
    float
        Phi[(SR - SR*) / sigma(SR)], in [0, 1].
    """
    return float(stats.norm.cdf((sr - benchmark) / sharpe_standard_error(sr, n_obs, skew, kurtosis)))


def expected_max_sharpe(n_trials: int, variance: float, mean: float = 0.0) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates with the given mean and variance (the DSR benchmark SR0).

    mean + sqrt(V) [(1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))] for N >= 2; ``mean`` for N = 1.

    Parameters
    ----------
    n_trials : int
        N >= 1, number of configurations compared.
    variance : float
        V >= 0, variance of the trials' Sharpe estimates (same units as the Sharpe ratios: per period or annual).
    mean : float
        Mean Sharpe ratio under the null (0 in the paper).
    """
    if n_trials < 1:
        raise ValueError(f"expected_max_sharpe: n_trials must be >= 1, got {n_trials}")
    if variance < 0:
        raise ValueError(f"expected_max_sharpe: variance must be >= 0, got {variance}")
    if n_trials == 1:
        return float(mean)
    z = (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n_trials) + EULER_GAMMA * stats.norm.ppf(1 - 1 / (n_trials * math.e))
    return float(mean + math.sqrt(variance) * z)


def deflated_sharpe_ratio(
    sr: float, n_obs: int, *, n_trials: int, trials_variance: float, skew: float = 0.0, kurtosis: float = 3.0
) -> tuple[float, float]:
    """DSR: PSR against the expected maximum Sharpe ratio of ``n_trials`` null trials (Bailey & López de Prado 2014).

    Parameters
    ----------
    sr : float
        Observed per-period Sharpe ratio of the reported (selected) strategy.
    n_obs : int
        T, number of its returns.
    n_trials : int
        N, configurations compared before reporting this one.
    trials_variance : float
        Variance of the trials' per-period Sharpe estimates.
    skew, kurtosis : float
        Of the strategy's returns (kurtosis non-excess).

    Returns
    -------
    (dsr, sr0) : tuple of float
        The deflated Sharpe ratio (a probability) and the benchmark SR0 (per period).
    """
    sr0 = expected_max_sharpe(n_trials, trials_variance)
    return probabilistic_sharpe_ratio(sr, n_obs, skew=skew, kurtosis=kurtosis, benchmark=sr0), sr0


def sharpe_inference(
    returns, *, trial_sharpes: Sequence[float] | None = None, n_trials: int | None = None, periods_per_year: int = 252
) -> dict:
    """PSR and DSR of a strategy's periodic returns, for the report.

    Parameters
    ----------
    returns : pandas.Series or array-like, shape (T,)
        Periodic (daily) simple returns of the headline strategy; NaN are dropped.
    trial_sharpes : sequence of float, optional
        Per-period Sharpe ratios of every configuration compared (including the headline one); their variance is
        V of the DSR. Without it (or with fewer than two) only the PSR is computed and DSR = PSR(0).
    n_trials : int, optional
        N; default ``len(trial_sharpes)`` (1 without them).
    periods_per_year : int
        For the annualised Sharpe ratio shown beside the per-period one.

    Returns
    -------
    dict
        ``sharpe`` (per period), ``sharpe_annual``, ``n_obs``, ``skew``, ``kurtosis`` (non-excess), ``psr``
        (against 0), ``n_trials``, ``trials_variance`` (per period, or None), ``sr0`` (per period),
        ``sr0_annual``, ``dsr``. Values are None when fewer than 3 returns or zero volatility.
    """
    r = pd.Series(np.asarray(returns, dtype=float)).dropna().to_numpy()
    out = {
        "sharpe": None,
        "sharpe_annual": None,
        "n_obs": int(len(r)),
        "skew": None,
        "kurtosis": None,
        "psr": None,
        "n_trials": None,
        "trials_variance": None,
        "sr0": None,
        "sr0_annual": None,
        "dsr": None,
    }
    if len(r) < 3 or not np.std(r, ddof=1) > 0:
        return out
    sr = float(np.mean(r) / np.std(r, ddof=1))
    skew = float(stats.skew(r, bias=False))
    kurt = float(stats.kurtosis(r, fisher=False, bias=False))
    trials = [float(x) for x in (trial_sharpes or []) if x is not None and np.isfinite(x)]
    n = int(n_trials if n_trials is not None else max(1, len(trials)))
    var = float(np.var(trials, ddof=1)) if len(trials) >= 2 else 0.0
    out.update(
        sharpe=sr,
        sharpe_annual=sr * math.sqrt(periods_per_year),
        skew=skew,
        kurtosis=kurt,
        n_trials=n,
        trials_variance=var if len(trials) >= 2 else None,
    )
    try:
        out["psr"] = probabilistic_sharpe_ratio(sr, len(r), skew=skew, kurtosis=kurt)
        dsr, sr0 = deflated_sharpe_ratio(
            sr, len(r), n_trials=n if len(trials) >= 2 else 1, trials_variance=var, skew=skew, kurtosis=kurt
        )
    except ValueError:
        return out
    out.update(dsr=dsr, sr0=sr0, sr0_annual=sr0 * math.sqrt(periods_per_year))
    return out
