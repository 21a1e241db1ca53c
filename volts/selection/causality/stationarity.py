"""Stationarity checks before a Granger test: the augmented Dickey-Fuller test per series.

Granger's F-test assumes stationary series; :func:`adf_check` runs statsmodels' ``adfuller`` on each
series and :func:`stationarity_warning` words the series that fail it (METHOD.md, the Granger stage).
"""

from __future__ import annotations

__all__ = ["adf_check", "stationarity_warning"]

from typing import Mapping

import numpy as np
import pandas as pd

from volts.selection.causality.granger import _check_frame


# ------------------------------------------------------------------------------------------ stationarity
def adf_check(frame: pd.DataFrame, alpha: float = 0.05) -> dict[str, float]:
    """Augmented Dickey-Fuller p-value of every column (statsmodels ``adfuller``, constant, lags by AIC).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_dates, N)
        The series the Granger test will run on (close prices or log returns).
    alpha : float
        Level at which a p-value above it means "unit root not rejected"; only checked here (it must lie in
        (0, 1)) so that callers pass one level to this function and to :func:`stationarity_warning`.

    Returns
    -------
    dict of str to float
        p-value per symbol, in column order. A large p-value (> alpha) means the series looks non-stationary.

    Raises
    ------
    DataError
        Same input rules as :func:`granger_scan`.
    ValueError
        ``alpha`` outside (0, 1).

    Notes
    -----
    Source: Dickey & Fuller (1979); ``statsmodels.tsa.stattools.adfuller``; METHOD.md §4a.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"adf_check: alpha must be in (0, 1), got {alpha}")
    values = _check_frame(frame, what="adf")
    return {str(sym): _adf_pvalue(values[:, k]) for k, sym in enumerate(frame.columns)}


def _adf_pvalue(x: np.ndarray) -> float:
    """``adfuller(x, regression="c", autolag="AIC").pvalue`` without statsmodels' per-regression overhead.

    The same steps as ``statsmodels.tsa.stattools.adfuller``: maximum lag ``ceil(12 (n/100)^(1/4))`` (Schwert, via
    Greene), capped at n // 2 - 2; the lag order minimising AIC = n_used (log 2 pi + log(RSS / n_used) + 1) + 2 k over
    the regressions [constant, lagged level, 0..maxlag lagged differences] on the sample common to all of them;
    the Dickey-Fuller t-statistic of the lagged level re-estimated at that order on its own longer sample; the
    MacKinnon (1994) p-value from ``statsmodels.tsa.adfvalues.mackinnonp``. Least squares by one QR of the widest
    design (its leading columns span every nested design) instead of statsmodels' pseudo-inverse per regression:
    the tests check the p-value against ``adfuller`` to 1e-9.
    Series too short for statsmodels' rule go to ``adfuller`` itself (its error).
    """
    from statsmodels.tsa.adfvalues import mackinnonp

    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    maxlag = min(n // 2 - 1 - 1, int(np.ceil(12.0 * np.power(n / 100.0, 1 / 4.0))))
    if maxlag < 0:
        from statsmodels.tsa.stattools import adfuller

        return float(adfuller(x, autolag="AIC", result_object=True).pvalue)

    dx = np.diff(x)

    def design(lags: int) -> tuple[np.ndarray, np.ndarray]:
        """[constant, level x_{t-1}, dx_{t-1} .. dx_{t-lags}] and dx_t on the rows where all exist."""
        m = dx.shape[0] - lags
        cols = [np.ones(m), x[lags : lags + m]] + [dx[lags - i : lags - i + m] for i in range(1, lags + 1)]
        return np.column_stack(cols), dx[lags:]

    full, y = design(maxlag)
    m = y.shape[0]
    # one QR of the widest design serves every nested one: the first k columns of Q span the first k regressors
    q_full, _ = np.linalg.qr(full)
    qty = q_full.T @ y
    best = None
    for k in range(2, maxlag + 3):  # statsmodels' startlag = 2 (constant, level) .. 2 + maxlag columns
        resid = y - q_full[:, :k] @ qty[:k]
        ssr = float(resid @ resid)
        aic = m * (np.log(2 * np.pi) + np.log(ssr / m) + 1.0) + 2.0 * k
        if best is None or (aic, k) < best:
            best = (aic, k)
    lags = best[1] - 2
    X, y = design(lags)
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - X @ beta
    scale = float(resid @ resid) / (X.shape[0] - X.shape[1])
    r_inv = np.linalg.solve(r, np.eye(r.shape[0]))
    se_level = np.sqrt(scale * float(r_inv[1] @ r_inv[1]))
    return float(mackinnonp(float(beta[1] / se_level), regression="c", N=1))


def stationarity_warning(adf_pvalues: Mapping[str, float], *, series: str = "close", alpha: float = 0.05) -> str | None:
    """A one-line warning when the Granger inputs look non-stationary, else None (METHOD.md §4a).

    Parameters
    ----------
    adf_pvalues : mapping of str to float
        Output of :func:`adf_check`.
    series : str
        What the frame holds: ``"close"`` (price levels) or ``"log_return"``.
    alpha : float
        ADF level: p > alpha means a unit root is not rejected.

    Returns
    -------
    str or None
        For price levels with at least one series that looks non-stationary: a warning that levels bias the
        F-test towards finding causality. For other series that look non-stationary: a milder note. None when
        every series rejects a unit root.
    """
    flagged = {s: p for s, p in adf_pvalues.items() if p > alpha}
    if not flagged:
        return None
    listed = ", ".join(f"{s} (p={p:.3f})" for s, p in flagged.items())
    if series == "close":
        return (
            f"Granger test on price levels: ADF does not reject a unit root at alpha={alpha:g} for {listed}; "
            f"non-stationary levels bias the F-test towards finding causality (METHOD.md §4a), "
            f'granger.series = "log_return" is the sound choice'
        )
    return (
        f"Granger test on {series}: ADF does not reject a unit root at alpha={alpha:g} for {listed}; "
        f"the F-test assumes stationary series"
    )
