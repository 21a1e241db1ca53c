"""Partial-correlation screen of ordered pairs with tigramite's PCMCI / ParCorr (METHOD.md §4b).

Two modes:

* ``"lagged"`` (default): ``tigramite.pcmci.PCMCI`` with the ``ParCorr`` conditional-independence test on the
  log returns, lags tau = 1 .. tau_max. PCMCI first selects, for every variable, a superset of its lagged parents
  (PC1 step, level ``pc_alpha``), then tests each lagged link X_{t-tau} -> Y_t conditioned on the parents of
  both ends (MCI step). An edge X -> Y exists when some tau in 1..tau_max has p <= alpha and |partial
  correlation| >= the threshold; the strongest qualifying tau is recorded.
* ``"contemporaneous"``: the paper's "customised" variant (its §3.3.2): for every pair, the partial correlation
  of X_t and Y_t conditioned on all the other series at t (the correlation of the two OLS residuals), with a
  Student t-test on n - 2 - k degrees of freedom (k = number of conditioning series). It is symmetric, so an
  edge is recorded in both directions with tau = 0.

Decision (pc_alpha): the PC1 condition-selection step runs at ``pc_alpha = alpha``, the same level as the edge
rule. It keeps the stage to one level, is deterministic and fast; tigramite's alternative ``pc_alpha=None``
(choosing the level by AIC over a grid) is slower and moves the conditioning sets with the sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from volts.causality.granger import _check_frame, _date_str
from volts.errors import DataError

__all__ = ["PcmciEdge", "PcmciResult", "pcmci_screen"]


@dataclass(frozen=True)
class PcmciEdge:
    """One edge leader -> follower of the partial-correlation graph.

    Attributes
    ----------
    leader, follower : str
        X and Y of X_{t-tau} -> Y_t.
    tau : int
        Lag in trading days of the strongest qualifying link (0 in the contemporaneous mode).
    value : float
        Partial correlation (ParCorr statistic) of that link, in [-1, 1].
    p : float
        Its p-value.
    """

    leader: str
    follower: str
    tau: int
    value: float
    p: float

    def to_dict(self) -> dict[str, Any]:
        """``{"leader", "follower", "tau", "value", "p"}``."""
        return {"leader": self.leader, "follower": self.follower, "tau": int(self.tau), "value": float(self.value),
                "p": float(self.p)}


@dataclass(frozen=True, eq=False)
class PcmciResult:
    """Partial correlations and p-values of every link, and the edges that pass the rule (METHOD.md §4b).

    Attributes
    ----------
    val_matrix : numpy.ndarray, shape (N, N, tau_max + 1)
        ``val_matrix[i, j, tau]`` = partial correlation of X^i_{t-tau} and X^j_t (tigramite's layout). In the
        lagged mode the slot tau = 0 is not tested (0); in the contemporaneous mode only tau = 0 is filled (the
        other slots are 0).
    p_matrix : numpy.ndarray, shape (N, N, tau_max + 1)
        Matching p-values; 1 where nothing was tested.
    var_names : tuple of str
        Symbols, the order of axes 0 and 1.
    edges : tuple of PcmciEdge
        Qualifying edges between distinct symbols, ordered by leader then follower (input column order).
    mode : {"lagged", "contemporaneous"}
    tau_max : int
    alpha : float
    min_abs_partial_corr : float
    pc_alpha : float or None
        Level of PCMCI's condition-selection step (None in the contemporaneous mode).
    n_obs : int
        Rows of the input.
    start, end : str
        First and last date (label) of the input.
    """

    val_matrix: np.ndarray
    p_matrix: np.ndarray
    var_names: tuple[str, ...]
    edges: tuple[PcmciEdge, ...]
    mode: str
    tau_max: int
    alpha: float
    min_abs_partial_corr: float
    pc_alpha: float | None
    n_obs: int
    start: str
    end: str

    def _check(self, name: str) -> None:
        if name not in self.var_names:
            raise KeyError(f"{name}: not among the screened symbols ({', '.join(self.var_names)})")

    def edge(self, leader: str, follower: str) -> PcmciEdge | None:
        """The edge leader -> follower, or None when the pair has none.

        Raises
        ------
        KeyError
            A symbol that was not screened.
        """
        self._check(leader)
        self._check(follower)
        for e in self.edges:
            if e.leader == leader and e.follower == follower:
                return e
        return None

    def has_edge(self, leader: str, follower: str) -> bool:
        """True when leader -> follower passes the rule (p <= alpha and |value| >= min_abs_partial_corr)."""
        return self.edge(leader, follower) is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, ``edges`` and the two matrices as nested lists [i][j][tau]."""
        return {
            "mode": self.mode, "tau_max": int(self.tau_max), "alpha": float(self.alpha),
            "min_abs_partial_corr": float(self.min_abs_partial_corr),
            "pc_alpha": None if self.pc_alpha is None else float(self.pc_alpha),
            "n_obs": int(self.n_obs), "start": self.start, "end": self.end, "var_names": list(self.var_names),
            "edges": [e.to_dict() for e in self.edges],
            "val_matrix": np.nan_to_num(self.val_matrix, nan=0.0).tolist(),
            "p_matrix": np.nan_to_num(self.p_matrix, nan=1.0).tolist(),
        }


def _lagged(values: np.ndarray, names: list[str], tau_max: int, pc_alpha: float) -> tuple[np.ndarray, np.ndarray]:
    import tigramite.data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    pcmci = PCMCI(dataframe=pp.DataFrame(values, var_names=names), cond_ind_test=ParCorr(), verbosity=0)
    out = pcmci.run_pcmci(tau_min=1, tau_max=tau_max, pc_alpha=pc_alpha)
    return np.asarray(out["val_matrix"], dtype=float), np.asarray(out["p_matrix"], dtype=float)


def _contemporaneous(values: np.ndarray, tau_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Partial correlation of each pair at t given all other series at t, from the inverse covariance matrix.

    rho_ij|rest = -P_ij / sqrt(P_ii P_jj) with P the inverse of the sample covariance matrix: the same number as
    the correlation of the residuals of X^i and X^j regressed (OLS, with constant) on the other series.
    """
    n, N = values.shape
    k = N - 2
    dof = n - 2 - k
    centred = values - values.mean(axis=0)
    cov = centred.T @ centred / n
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    if np.linalg.cond(corr) > 1e12:
        raise DataError("pcmci: the return series are (nearly) collinear, the partial correlations given all "
                        "other series are undefined (rule: the correlation matrix must be invertible)")
    prec = np.linalg.inv(corr)
    d = np.sqrt(np.diag(prec))
    pc = -prec / np.outer(d, d)
    np.fill_diagonal(pc, 0.0)
    pc = np.clip(pc, -1.0, 1.0)
    with np.errstate(divide="ignore"):
        t = pc * np.sqrt(dof / (1.0 - pc * pc))
    p = 2.0 * stats.t.sf(np.abs(t), dof)
    np.fill_diagonal(p, 1.0)
    val = np.zeros((N, N, tau_max + 1))
    pm = np.ones((N, N, tau_max + 1))
    val[:, :, 0] = pc
    pm[:, :, 0] = p
    return val, pm


def pcmci_screen(returns: pd.DataFrame, *, tau_max: int = 5, alpha: float = 0.05,
                 min_abs_partial_corr: float = 0.15,
                 mode: Literal["lagged", "contemporaneous"] = "lagged") -> PcmciResult:
    """Partial-correlation graph of the candidates' returns and its edges (METHOD.md §4b; the paper's §3.3.2).

    Parameters
    ----------
    returns : pandas.DataFrame, shape (n_dates, N)
        Dates x symbols, daily log returns over the training window; N >= 2, no NaN.
    tau_max : int
        Largest lag in trading days (METHOD.md: 5).
    alpha : float
        Edge level: p <= alpha (METHOD.md: 0.05). Also PCMCI's ``pc_alpha`` (see the module docstring).
    min_abs_partial_corr : float
        Edge threshold on |partial correlation| (the paper's 0.15).
    mode : {"lagged", "contemporaneous"}
        ``"lagged"``: tigramite PCMCI with ParCorr, lags 1..tau_max. ``"contemporaneous"``: each pair's partial
        correlation at t given all other series at t (tau = 0, both directions).

    Returns
    -------
    PcmciResult

    Raises
    ------
    DataError
        Fewer than 2 symbols, NaN/inf, a constant series, collinear series, or too few rows for the
        conditioning sets (lagged: n >= (N + 1) tau_max + 3; contemporaneous: n >= N + 1).
    ValueError
        A parameter out of range or an unknown mode.

    Notes
    -----
    Source: Runge et al. (2019), "Detecting and quantifying causal associations in large nonlinear time series
    datasets", Science Advances; ``tigramite.pcmci.PCMCI``, ``tigramite.independence_tests.parcorr.ParCorr``.
    """
    if mode not in ("lagged", "contemporaneous"):
        raise ValueError(f"pcmci_screen: mode must be 'lagged' or 'contemporaneous', got {mode!r}")
    if tau_max < 1 or not 0 < alpha < 1 or not 0 <= min_abs_partial_corr <= 1:
        raise ValueError(f"pcmci_screen: need tau_max >= 1, 0 < alpha < 1, 0 <= min_abs_partial_corr <= 1 "
                         f"(got {tau_max}, {alpha}, {min_abs_partial_corr})")
    values = _check_frame(returns, what="pcmci")
    n, N = values.shape
    names = [str(c) for c in returns.columns]
    start, end = _date_str(returns.index[0]), _date_str(returns.index[-1])
    need = (N + 1) * tau_max + 3 if mode == "lagged" else N + 1
    if n < need:
        raise DataError(f"pcmci: {n} rows from {start} to {end} are too few for {N} series in mode {mode} "
                        f"(rule: at least {need} rows); lower pcmci.tau_max, use a longer training window "
                        f"(windows.train_start) or let fewer candidates through")
    if mode == "lagged":
        val, pm = _lagged(values, names, tau_max, alpha)
        taus = range(1, tau_max + 1)
        pc_alpha: float | None = float(alpha)
    else:
        val, pm = _contemporaneous(values, tau_max)
        taus = range(0, 1)
        pc_alpha = None
    edges = []
    for i in range(N):
        for j in range(N):
            if i == j:
                continue
            best = None
            for tau in taus:
                v, p = float(val[i, j, tau]), float(pm[i, j, tau])
                if p <= alpha and abs(v) >= min_abs_partial_corr and (best is None or abs(v) > abs(best[1])):
                    best = (tau, v, p)
            if best is not None:
                edges.append(PcmciEdge(names[i], names[j], int(best[0]), best[1], best[2]))
    return PcmciResult(val_matrix=val, p_matrix=pm, var_names=tuple(names), edges=tuple(edges), mode=mode,
                       tau_max=int(tau_max), alpha=float(alpha), min_abs_partial_corr=float(min_abs_partial_corr),
                       pc_alpha=pc_alpha, n_obs=int(n), start=start, end=end)
