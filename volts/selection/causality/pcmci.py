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

Scaling past ~28 names (decision, issue 13): with n rows PCMCI cannot condition on every lag of N series once
(N + 1) tau_max + 3 > n (150 training rows allow 28 series at tau_max = 5), and tigramite spends milliseconds per
test, too slow for the thousands of links of an S&P-size screen. ``links`` then switches to a restricted screen
of our own (the issue's third design): each candidate link X -> Y (a pair kept by the Granger screen) is tested
at every tau = 1 .. tau_max by the partial correlation of X_{t-tau} and Y_t given a bounded conditioning set S_Y:
the lagged variables among Y's own lags and the lags of Y's *other* Granger parents that correlate most with Y_t
(at most ``max_conds_dim``, ranked by |corr| with Y_t, the unconditional step of PCMCI's PC1), X's own lags
excluded. This removes the confounding by the follower's past and by its other candidate drivers, which is
what the stage exists for among the links the screen can still pass on; links outside the Granger graph are not
tested (value 0, p = 1). The statistic and p-value are tigramite's ParCorr (residuals of both ends regressed
on S_Y after standardising, Student t with T - 2 - |S_Y| degrees of freedom on tigramite's rows
t = 2 tau_max .. n-1, T = n - 2 tau_max), which the tests check against ``ParCorr.run_test`` with the same sets.
The selection uses it only when the rows are too few for the full graph (``[pcmci] links = "auto"``), so the
ten-name reproduction is unchanged.

Decision (pc_alpha): the PC1 condition-selection step runs at ``pc_alpha = alpha``, the same level as the edge
rule. It keeps the stage to one level, is deterministic and fast; tigramite's alternative ``pc_alpha=None``
(choosing the level by AIC over a grid) is slower and moves the conditioning sets with the sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd
from scipy import stats

from volts.core.errors import DataError
from volts.selection.causality.granger import _check_frame, _date_str

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
    links: str = "all"
    n_links_tested: int | None = None
    max_conds_dim: int | None = None

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self.var_names)

    @cached_property
    def _edge_index(self) -> dict[tuple[str, str], PcmciEdge]:
        # (leader, follower) -> its first edge, built once: the screen looks up every pair it was given, and a scan
        # of the edges per lookup is quadratic (tens of thousands of pairs and edges in the S&P crash weeks)
        index: dict[tuple[str, str], PcmciEdge] = {}
        for e in self.edges:
            index.setdefault((e.leader, e.follower), e)
        return index

    def _check(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(f"{name}: not among the screened symbols ({', '.join(self.var_names)})")

    def edge(self, leader: str, follower: str) -> PcmciEdge | None:
        """The edge leader -> follower (the first one listed), or None when the pair has none.

        Raises
        ------
        KeyError
            A symbol that was not screened.
        """
        self._check(leader)
        self._check(follower)
        return self._edge_index.get((leader, follower))

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
            "links": self.links, "n_links_tested": self.n_links_tested, "max_conds_dim": self.max_conds_dim,
            "edges": [e.to_dict() for e in self.edges],
            "val_matrix": np.nan_to_num(self.val_matrix, nan=0.0).tolist(),
            "p_matrix": np.nan_to_num(self.p_matrix, nan=1.0).tolist(),
        }


def _restricted(values: np.ndarray, tau_max: int, parents: dict[int, list[int]],
                max_conds_dim: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """ParCorr of every candidate link X_{t-tau} -> Y_t given the bounded set S_Y (module docstring, "Scaling").

    Returns val, p (N, N, tau_max + 1) and the conditioning sets used {(x, y): [(var, tau), ...]}.
    """
    n, N = values.shape
    cut = 2 * tau_max                      # tigramite's default cut-off: rows t = 2 tau_max .. n-1 for every test
    T = n - cut
    std = (values - values.mean(axis=0)) / values.std(axis=0)

    def lag(k: int, tau: int) -> np.ndarray:
        return std[cut - tau:n - tau, k]

    val = np.zeros((N, N, tau_max + 1))
    pm = np.ones((N, N, tau_max + 1))
    used: dict = {}
    taus = range(1, tau_max + 1)
    for j, leaders in sorted(parents.items()):
        y = std[cut:, j]
        y = (y - y.mean()) / y.std()
        pool = [(j, tau) for tau in taus] + [(k, tau) for k in leaders for tau in taus]
        strength = np.array([abs(float(np.dot(lag(k, tau), y))) for k, tau in pool])
        ranked = [pool[i] for i in np.argsort(-strength, kind="stable")]
        for x in leaders:
            cond = [c for c in ranked if c[0] != x][:max_conds_dim]
            used[(x, j)] = cond
            X = np.column_stack([lag(x, tau) for tau in taus])                  # (T, tau_max)
            ends = np.column_stack([X, y])
            ends = (ends - ends.mean(axis=0)) / ends.std(axis=0)
            if cond:
                Z = np.column_stack([lag(k, tau) for k, tau in cond])
                Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
                res = ends - Z @ np.linalg.lstsq(Z, ends, rcond=None)[0]
            else:
                res = ends
            rx, ry = res[:, :tau_max], res[:, tau_max]
            r = (rx * ry[:, None]).sum(axis=0) / np.sqrt((rx * rx).sum(axis=0) * (ry @ ry))
            dof = T - 2 - len(cond)
            r = np.clip(r, -1.0, 1.0)
            with np.errstate(divide="ignore"):
                t = r * np.sqrt(dof / (1.0 - r * r))
            val[x, j, 1:] = r
            pm[x, j, 1:] = 2.0 * stats.t.sf(np.abs(t), dof)
    return val, pm, used


def _pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two 1-D samples, with the very operations ``scipy.stats.pearsonr`` uses for its statistic.

    Centre, scale each side by its largest absolute deviation before the norm (no premature overflow), take the
    dot product of the unit vectors and clip to [-1, 1]; NaN when a side is constant. ``pearsonr`` runs the same
    arithmetic (bitwise the same result, checked in the tests) after about a millisecond of input handling, and
    also computes a p-value that ParCorr discards. The mean is numpy's (sum / count) and the norm is
    ``numpy.linalg.norm``'s along an axis for a real vector (sqrt of the sum of squares), without their wrappers.
    """
    n = float(x.shape[-1])
    xm = x - np.add.reduce(x, axis=-1, keepdims=True) / n
    ym = y - np.add.reduce(y, axis=-1, keepdims=True) / n
    xmax = np.maximum.reduce(np.abs(xm), axis=-1, keepdims=True)
    ymax = np.maximum.reduce(np.abs(ym), axis=-1, keepdims=True)
    if not (xmax > 0).all() or not (ymax > 0).all():
        return float("nan")
    xs, ys = xm / xmax, ym / ymax
    normx = xmax * np.sqrt(np.add.reduce(xs * xs, axis=-1, keepdims=True))
    normy = ymax * np.sqrt(np.add.reduce(ys * ys, axis=-1, keepdims=True))
    return float(np.clip(np.vecdot(xm / normx, ym / normy, axis=-1), -1.0, 1.0))


def _parcorr_p_value(value: float, dof: int) -> float:
    """ParCorr's two-sided Student-t p-value of a partial correlation, tigramite's rule with scipy's own kernel.

    tigramite returns NaN below one degree of freedom, 0 for |r| = 1, else ``2 * scipy.stats.t.sf(|t|, dof)`` with
    ``t = r * sqrt(dof / (1 - r^2))``. ``t.sf(x, dof)`` is ``scipy.special.stdtr(dof, -x)`` after about 0.2 ms of
    argument checking per call; this calls the kernel directly (bitwise the same float, checked in the tests).
    """
    import sys

    from scipy import special

    if dof < 1:
        return float("nan")
    if abs(abs(value) - 1.0) <= sys.float_info.min:
        return 0.0
    t = value * np.sqrt(dof / (1.0 - value * value))
    return special.stdtr(dof, -np.abs(t)) * 2


def _parcorr():
    """tigramite's ``ParCorr`` with the correlation of the residuals taken by :func:`_pearson_r`.

    Same residuals (tigramite's ``_get_single_residuals``), same everything else: only the ``scipy.stats.pearsonr``
    call, about 1 ms each and most of PCMCI's time on ten names (thousands of tests a selection), and the
    ``scipy.stats.t.sf`` call of the p-value (:func:`_parcorr_p_value`) are replaced, each by the same arithmetic
    (bitwise, tested). ``engine = "tigramite"`` runs it; ``tests/causality/test_pcmci.py`` checks that engine's
    matrices for equality with the native engine's, which equal tigramite's own ``ParCorr``.
    """
    from tigramite.independence_tests.parcorr import ParCorr

    class _FastParCorr(ParCorr):
        def get_dependence_measure(self, array, xyz, data_type=None):
            x_vals = self._get_single_residuals(array, target_var=0)
            y_vals = self._get_single_residuals(array, target_var=1)
            return _pearson_r(x_vals, y_vals)

        def get_analytic_significance(self, value, T, dim, xyz):
            return _parcorr_p_value(value, T - dim)

    return _FastParCorr()


def _native_pcmci(values: np.ndarray, tau_max: int, pc_alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PCMCI with ParCorr, lags 1 .. tau_max: tigramite's algorithm and arithmetic without its per-test bookkeeping.

    The same computation, test for test and float for float, as ``PCMCI(dataframe, ParCorr()).run_pcmci(
    tau_min=1, tau_max=tau_max, pc_alpha=pc_alpha)`` with tigramite's other defaults (``max_conds_dim``,
    ``max_conds_py``, ``max_conds_px`` unbounded, ``max_combinations = 1``):

    * rows t = 2 tau_max .. n-1 for every test (tigramite's ``cut_off = "2xtau_max"``), T = n - 2 tau_max;
    * PC1 (``_run_pc_stable_single``), per target j: candidate parents (i, -tau) in variable-major, lag-ascending
      order; at condition dimension d = 0, 1, ... each candidate is tested given the first d *other* candidates
      of the current list, a candidate with p > pc_alpha is removed after the whole level (PC-stable), and the
      survivors are re-sorted by their smallest |partial correlation| so far (stable sort: ties keep their
      first-test order); it stops when fewer than d + 1 candidates are left;
    * MCI (``_run_mci_or_variants``): every link (i, -tau) -> j given the PC1 parents of j without the link, then
      the PC1 parents of i shifted back by tau that are not already in the set;
    * a test (``ParCorr.run_test``): the (2 + |Z|) x T array of X, Y and Z is built from the data as
      ``construct_array`` builds it, rows that are exactly constant are dropped (X or Y constant: value 0, p = 1,
      not dependent), the residuals of X and then of Y come from the operations of tigramite's
      ``ParCorr._get_single_residuals`` on that array (which standardises it in place, so twice, and solves by
      ``numpy.linalg.lstsq``), the value is their Pearson correlation (:func:`_pearson_r`, bitwise
      ``scipy.stats.pearsonr``) and the p-value :func:`_parcorr_p_value` (bitwise tigramite's).

    What is left out is only tigramite's bookkeeping around each test (node checks, masks, the array hash and
    result caches, dictionaries of intermediate results), most of its time on a ten-name selection.
    ``tests/causality/test_pcmci.py`` checks the matrices for equality with ``tigramite.pcmci.PCMCI`` on random
    systems and on the reference window.

    Returns val, p of shape (N, N, tau_max + 1) (slot tau = 0 untested: 0 and 1).
    """
    n, N = values.shape
    cut = 2 * tau_max
    T = n - cut
    rows = np.arange(cut, n)

    add, count = np.add.reduce, float(T)

    def std_rows(array: np.ndarray) -> np.ndarray:
        # array.std(axis=1) by the ufunc calls numpy's _var makes (sum / count, deviations squared in place,
        # sum / count, sqrt), without its Python wrapper: the same floats
        dev = array - add(array, axis=1, keepdims=True) / count
        np.multiply(dev, dev, out=dev)
        return np.sqrt(add(dev, axis=1) / count)

    def residuals(array: np.ndarray, target: int) -> np.ndarray:
        # tigramite's ParCorr._get_single_residuals (standardise = True), with the per-row division loop as one
        # broadcast division (the same IEEE quotients; a zero std divides by 1, which leaves the row unchanged)
        array -= add(array, axis=1, keepdims=True) / count               # array.mean(axis=1), reshaped
        std = std_rows(array)
        array /= np.where(std != 0.0, std, 1.0)[:, None]
        y = array[target, :]
        if array.shape[0] > 2:
            z = array[2:, :].T.copy()
            beta_hat = np.linalg.lstsq(z, y, rcond=None)[0]
            return y - np.dot(z, beta_hat)
        return y                                         # a view, as tigramite's: the next call moves it too

    def test(x: tuple[int, int], y: tuple[int, int], conds: list) -> tuple[float, float]:
        nodes = [x, y] + conds
        var = np.array([v for v, _ in nodes])
        lag = np.array([t for _, t in nodes])
        array = values[rows[None, :] + lag[:, None], var[:, None]]      # construct_array's (dim, T) copy
        constant = np.flatnonzero(std_rows(array) == 0.)
        if len(constant):
            if constant[0] < 2:                                          # X or Y constant
                return 0.0, 1.0
            array = np.delete(array, constant, axis=0)
        x_res = residuals(array, 0)
        y_res = residuals(array, 1)
        value = _pearson_r(x_res, y_res)
        dim, length = array.shape
        return value, float(_parcorr_p_value(value, length - dim))

    candidates = [(i, -tau) for i in range(N) for tau in range(1, tau_max + 1)]
    max_dim = N * tau_max
    parents: dict[int, list] = {}
    for j in range(N):
        current = list(candidates)
        smallest: dict = {}
        for dim in range(max_dim + 1):
            if len(current) - 1 < dim:
                break
            removed = []
            for node in current:
                conds = [c for c in current if c != node][:dim]
                value, p = test(node, (j, 0), conds)
                smallest[node] = min(np.abs(value), smallest.get(node, float("inf")))
                if not p <= pc_alpha:                   # NaN p (no degrees of freedom) is not dependent either
                    removed.append(node)
            for node in removed:
                del smallest[node]
            current = sorted(smallest, key=lambda k: np.abs(smallest[k]), reverse=True)
        parents[j] = current
    val = np.zeros((N, N, tau_max + 1))
    pm = np.ones((N, N, tau_max + 1))
    for j in range(N):
        for i, tau in candidates:
            conds = [c for c in parents[j] if c != (i, tau)]
            conds += [c for c in ((k, tau + lag) for k, lag in parents[i]) if c not in conds]
            val[i, j, -tau], pm[i, j, -tau] = test((i, tau), (j, 0), conds)
    return val, pm


def _lagged(values: np.ndarray, names: list[str], tau_max: int, pc_alpha: float,
            parents: dict[int, list[int]] | None = None,
            max_conds_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    import tigramite.data_processing as pp
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():   # more series than rows is expected here; tigramite asks about the shape
        warnings.filterwarnings("ignore", message="In analysis mode 'single'")
        frame = pp.DataFrame(values, var_names=names)
    pcmci = PCMCI(dataframe=frame, cond_ind_test=_parcorr(), verbosity=0)
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
                 mode: Literal["lagged", "contemporaneous"] = "lagged",
                 links: Iterable[tuple[str, str]] | None = None, max_conds_dim: int = 10,
                 engine: Literal["native", "tigramite"] = "native") -> PcmciResult:
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
    links : iterable of (leader, follower), optional
        Lagged mode only: restrict the graph to these links plus every series' own lags, with conditioning sets
        bounded by ``max_conds_dim`` (see the module docstring, "Scaling"). None = every link (the default).
    max_conds_dim : int
        Largest conditioning set of one test when ``links`` is given.
    engine : {"native", "tigramite"}
        Lagged mode over every link: ``"native"`` runs tigramite's PCMCI algorithm re-implemented on one matrix
        of lagged series (:func:`_native_pcmci`, about 2-3.5x faster, the same values and p-values float for
        float); ``"tigramite"`` calls ``tigramite.pcmci.PCMCI`` itself, the reference the tests compare
        against. Ignored in the other modes.

    Returns
    -------
    PcmciResult

    Raises
    ------
    DataError
        Fewer than 2 symbols, NaN/inf, a constant series, collinear series, or too few rows for the
        conditioning sets (lagged: n >= (N + 1) tau_max + 3, with ``links``: n >= 2 tau_max + max_conds_dim
        + 3; contemporaneous: n >= N + 1), a link naming an unknown symbol.
    ValueError
        A parameter out of range or an unknown mode.

    Notes
    -----
    Source: Runge et al. (2019), "Detecting and quantifying causal associations in large nonlinear time series
    datasets", Science Advances; ``tigramite.pcmci.PCMCI``, ``tigramite.independence_tests.parcorr.ParCorr``.
    """
    if mode not in ("lagged", "contemporaneous"):
        raise ValueError(f"pcmci_screen: mode must be 'lagged' or 'contemporaneous', got {mode!r}")
    if engine not in ("native", "tigramite"):
        raise ValueError(f"pcmci_screen: engine must be 'native' or 'tigramite', got {engine!r}")
    if tau_max < 1 or not 0 < alpha < 1 or not 0 <= min_abs_partial_corr <= 1:
        raise ValueError(f"pcmci_screen: need tau_max >= 1, 0 < alpha < 1, 0 <= min_abs_partial_corr <= 1 "
                         f"(got {tau_max}, {alpha}, {min_abs_partial_corr})")
    values = _check_frame(returns, what="pcmci")
    n, N = values.shape
    names = [str(c) for c in returns.columns]
    start, end = _date_str(returns.index[0]), _date_str(returns.index[-1])
    parents: dict[int, list[int]] | None = None
    n_tested = None
    if links is not None and mode == "lagged":
        if max_conds_dim < 1:
            raise ValueError(f"pcmci_screen: max_conds_dim must be >= 1, got {max_conds_dim}")
        index = {name: k for k, name in enumerate(names)}
        parents = {}
        for leader, follower in links:
            if leader not in index or follower not in index:
                bad = leader if leader not in index else follower
                raise DataError(f"pcmci: link {leader} -> {follower} names {bad}, which is not among the "
                                f"screened symbols")
            if leader != follower:
                parents.setdefault(index[follower], []).append(index[leader])
        parents = {j: sorted(set(v)) for j, v in parents.items()}
        n_tested = sum(len(v) for v in parents.values())
        # a test conditions on at most max_conds_dim lagged variables (fewer when a follower has fewer)
        conds = min(max_conds_dim, tau_max * max((len(v) for v in parents.values()), default=0))
        need = 2 * tau_max + conds + 3
        rule = f"at least 2 tau_max + {conds} conditions + 3 = {need} rows"
    else:
        need = (N + 1) * tau_max + 3 if mode == "lagged" else N + 1
        rule = f"at least {need} rows"
    if n < need:
        raise DataError(f"pcmci: {n} rows from {start} to {end} are too few for {N} series in mode {mode} "
                        f"(rule: {rule}); lower pcmci.tau_max, use a longer training window "
                        f"(windows.train_start) or let fewer candidates through")
    pc_alpha: float | None = None
    if mode == "lagged" and parents is not None:
        val, pm, _ = _restricted(values, tau_max, parents, max_conds_dim)
        taus = range(1, tau_max + 1)
        pc_alpha = None
    elif mode == "lagged":
        if engine == "native":
            val, pm = _native_pcmci(values, tau_max, alpha)
        else:
            val, pm = _lagged(values, names, tau_max, alpha)
        taus = range(1, tau_max + 1)
        pc_alpha = float(alpha)
    else:
        val, pm = _contemporaneous(values, tau_max)
        taus = range(0, 1)
        pc_alpha = None
    edges = []
    tl = list(taus)
    qualifies = (pm[:, :, tl] <= alpha) & (np.abs(val[:, :, tl]) >= min_abs_partial_corr)
    qualifies[np.arange(N), np.arange(N), :] = False
    for i, j in zip(*np.nonzero(qualifies.any(axis=2))):     # row-major: leader, then follower (input order)
        best = None
        for tau in taus:
            v, p = float(val[i, j, tau]), float(pm[i, j, tau])
            if p <= alpha and abs(v) >= min_abs_partial_corr and (best is None or abs(v) > abs(best[1])):
                best = (tau, v, p)
        edges.append(PcmciEdge(names[i], names[j], int(best[0]), best[1], best[2]))
    return PcmciResult(val_matrix=val, p_matrix=pm, var_names=tuple(names), edges=tuple(edges), mode=mode,
                       tau_max=int(tau_max), alpha=float(alpha), min_abs_partial_corr=float(min_abs_partial_corr),
                       pc_alpha=pc_alpha, n_obs=int(n), start=start, end=end,
                       links="all" if parents is None else "granger", n_links_tested=n_tested,
                       max_conds_dim=None if parents is None else int(max_conds_dim))
