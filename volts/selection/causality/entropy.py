"""Effective transfer entropy between return series (METHOD.md §4c; the paper's §3.3.3).

Transfer entropy (Schreiber 2000) from a source X to a target Y with target history k, in bits:

    TE_{X->Y} = sum p(y_{t+1}, y_t^(k), x_t) log2[ p(y_{t+1} | y_t^(k), x_t) / p(y_{t+1} | y_t^(k)) ],

estimated by plug-in frequencies on discretised series with ``pyinform.transferentropy.transfer_entropy`` (a C
library). Plug-in TE is biased upwards on short samples, so the effective transfer entropy (Marschinski & Kantz
2002) subtracts the mean TE of surrogates in which X is shuffled in time (which destroys any X -> Y coupling but
keeps both marginal distributions):

    ETE = TE - mean_s TE(shuffle_s(X) -> Y),    p = (1 + #{TE_s >= TE}) / (S + 1).

The p-value is a Monte Carlo estimate; its standard error sqrt(p (1 - p) / S) is reported beside it (``p_se``).
With volts' default S = 2000 the standard error of a p-value at 0.05 is sqrt(0.05 * 0.95 / 2000) = 0.0049: a
pair near alpha is no longer decided by the surrogate seed as it was with the paper's S = 100 (SE 0.022; issue
11). To keep 2000 surrogates cheap, the screen computes the observed and every surrogate TE in one vectorised
plug-in count (:func:`transfer_entropy_batch`, one matrix product per source state), which the tests check against pyinform to
1e-12 bits; :func:`transfer_entropy` is the single-call pyinform path.

pyinform takes non-negative integer states only and silently truncates floats, so every series goes through
:func:`discretise` first; :func:`transfer_entropy` refuses anything but integers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import DataError

__all__ = [
    "EtePair",
    "EteResult",
    "EteScreen",
    "discretise",
    "effective_transfer_entropy",
    "ete_screen",
    "pair_seed",
    "transfer_entropy",
    "transfer_entropy_batch",
    "DEFAULT_SURROGATES",
]

#: Default number of time-shuffled surrogates: Monte Carlo SE of a p-value at 0.05 is 0.0049 (<= 0.005).
DEFAULT_SURROGATES = 2000


# ------------------------------------------------------------------------------------------ discretise
def discretise(series, bins: int = 3, *, name: str | None = None) -> np.ndarray:
    """Equal-frequency discretisation of a series into the integer states 0 .. bins - 1.

    State of x_i = floor(b * r_i / n) where r_i = #{j : x_j < x_i} is the 0-based rank of x_i with ties given the
    lowest rank they share ("min" ranking). Without ties each state holds floor(n/b) or ceil(n/b) observations
    (the equal-frequency property) and the states are monotone in the value. Tied values always share a state
    (deterministic, independent of their order in time); heavy ties can therefore leave a state under-filled.

    Parameters
    ----------
    series : pandas.Series or array-like, shape (n,)
        Values over the window (e.g. log returns); finite.
    bins : int
        b, number of states (METHOD.md §4c: 3).
    name : str, optional
        Symbol used in error messages (default: the Series' name).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        States in 0 .. bins - 1, ready for pyinform.

    Raises
    ------
    DataError
        NaN/inf values (naming the date when the input is a Series), fewer observations than bins, or a constant
        series.
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    label = name or (str(series.name) if isinstance(series, pd.Series) and series.name is not None else "series")
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{label}: discretise expects a 1-D series")
    bad = ~np.isfinite(values)
    if bad.any():
        where = _where(series, int(np.argmax(bad)))
        raise DataError(f"{label}: value at {where} is NaN or infinite; cannot discretise for transfer entropy")
    n = len(values)
    if n < bins:
        raise DataError(f"{label}: {n} observations cannot fill {bins} equal-frequency bins")
    if values.min() == values.max():
        raise DataError(f"{label}: constant over the window ({_span(series)}); transfer entropy is undefined")
    ranks = np.searchsorted(np.sort(values), values, side="left")
    return (ranks * bins // n).astype(np.int64)


# -------------------------------------------------------------------------------------- transfer entropy
def transfer_entropy(x_states, y_states, *, history: int = 1, lag: int = 1) -> float:
    """Transfer entropy X -> Y in bits, from integer states, with pyinform.

    ``pyinform.transferentropy.transfer_entropy(source, target, k)`` relates the source at t to the target at
    t + 1, given the target's k previous values: it estimates I(Y_{t+1} ; X_t | Y_t, ..., Y_{t-k+1}). That is
    ``lag = 1``. For ``lag = L > 1`` the source is delayed by L - 1 further bars by aligning the arrays (source
    x_0 .. x_{n-L}, target y_{L-1} .. y_{n-1}), so the estimate becomes I(Y_t ; X_{t-L} | Y_{t-1}, ...,
    Y_{t-k}); the target's own history stays its immediate past. The lag is a decision of ours on top of
    METHOD.md §4c (which has k = 1 and no lag): with k = 1 a coupling at lag 3 is invisible to plain lag-1 TE,
    so the pipeline passes the PCMCI edge's tau here.

    Parameters
    ----------
    x_states, y_states : array-like of int, shape (n,)
        Source X and target Y as non-negative integer states on the same dates (see :func:`discretise`).
    history : int
        k, the target's history length (METHOD.md: 1).
    lag : int
        L >= 1, delay from the source to the target in bars.

    Returns
    -------
    float
        TE in bits (log base 2), >= 0.

    Raises
    ------
    TypeError
        Non-integer states (pyinform would truncate floats silently).
    ValueError
        Negative states, different lengths, bad ``history``/``lag``.
    DataError
        Too few observations for the history and lag.
    """
    from pyinform.transferentropy import transfer_entropy as _pyinform_te

    x = np.asarray(x_states)
    y = np.asarray(y_states)
    for arr, role in ((x, "source"), (y, "target")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"transfer_entropy: {role} states must be integers (got {arr.dtype}); "
                            f"discretise() the series first")
        if arr.ndim != 1:
            raise ValueError(f"transfer_entropy: {role} states must be 1-D")
        if arr.size and arr.min() < 0:
            raise ValueError(f"transfer_entropy: {role} states must be non-negative")
    if x.shape != y.shape:
        raise ValueError(f"transfer_entropy: source and target lengths differ ({len(x)} vs {len(y)})")
    if history < 1 or lag < 1:
        raise ValueError(f"transfer_entropy: history and lag must be >= 1 (got {history}, {lag})")
    if len(x) - (lag - 1) - history < 2:
        raise DataError(f"transfer_entropy: {len(x)} observations are too few for history {history} and lag {lag}")
    if lag > 1:
        x, y = x[: len(x) - (lag - 1)], y[lag - 1:]
    return float(_pyinform_te(np.ascontiguousarray(x, dtype=np.int32), np.ascontiguousarray(y, dtype=np.int32),
                              k=history))


def transfer_entropy_batch(sources, target, *, history: int = 1, lag: int = 1) -> np.ndarray:
    """Transfer entropy from each of several sources to one target, in bits, by one vectorised plug-in count.

    The same estimator as :func:`transfer_entropy` (pyinform's ``transfer_entropy(source, target, k)`` with the
    source delayed by ``lag - 1`` further bars): with h_t = (y_{t-k}, ..., y_{t-1}) the target's history and
    x_{t-1} the (aligned) source,

        TE = sum_{h, x, y} c(h, x, y) / N * log2[ c(h, x, y) c(h) / (c(h, x) c(h, y)) ]

    over the N = n - (lag - 1) - k usable times, where c are the joint counts. All sources are counted at once
    (one matrix product of the sources' indicator of each state with the target's one-hot (h, y) cells), which
    is what makes thousands of surrogates affordable (pyinform costs one C call
    per surrogate plus its Python overhead).

    Parameters
    ----------
    sources : array-like of int, shape (S, n) or (n,)
        S source series of non-negative integer states (e.g. the observed source and its shuffles).
    target : array-like of int, shape (n,)
        Target states on the same dates.
    history : int
        k, the target's history length.
    lag : int
        L >= 1, source-to-target delay in bars.

    Returns
    -------
    numpy.ndarray of float, shape (S,)
        TE in bits of each source row.

    Raises
    ------
    TypeError, ValueError, DataError
        As :func:`transfer_entropy`.
    """
    x = np.atleast_2d(np.asarray(sources))
    y = np.asarray(target)
    for arr, role in ((x, "source"), (y, "target")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"transfer_entropy_batch: {role} states must be integers (got {arr.dtype}); "
                            f"discretise() the series first")
        if arr.size and arr.min() < 0:
            raise ValueError(f"transfer_entropy_batch: {role} states must be non-negative")
    if x.ndim != 2 or y.ndim != 1 or x.shape[1] != y.shape[0]:
        raise ValueError(f"transfer_entropy_batch: sources must be (S, n) and target (n,); got {x.shape} and "
                         f"{y.shape}")
    if history < 1 or lag < 1:
        raise ValueError(f"transfer_entropy_batch: history and lag must be >= 1 (got {history}, {lag})")
    n = y.shape[0]
    if n - (lag - 1) - history < 2:
        raise DataError(f"transfer_entropy: {n} observations are too few for history {history} and lag {lag}")
    if lag > 1:
        x, y = x[:, : n - (lag - 1)], y[lag - 1:]
    m = y.shape[0]
    base = int(max(int(x.max()), int(y.max()), 1)) + 1
    k = int(history)
    hist = np.zeros(m - k, dtype=np.int64)
    for j in range(k, 0, -1):                    # h_t = y_{t-k} .. y_{t-1}, base-b digits
        hist = hist * base + y[k - j: m - j]
    n_h = base ** k
    # c[s, h, x, y]: the target's (history, future) cell is shared by every source row, so the counts of source
    # state v are one matrix product of the row's indicator (x_{t-1} == v) with the one-hot (h_t, y_t) cells.
    # Exact integers in float64, the same table as a bincount over (s, h, x, y) at about half the cost.
    cell = hist * base + y[k:]                   # (h_t, y_t) as one code in [0, n_h * base)
    onehot = np.zeros((m - k, n_h * base))
    onehot[np.arange(m - k), cell] = 1.0
    src = x[:, k - 1: m - 1]                     # x_{t-1}
    c = np.empty((x.shape[0], n_h, base, base))
    for v in range(base):
        c[:, :, v, :] = ((src == v).astype(np.float64) @ onehot).reshape(x.shape[0], n_h, base)
    c_hx = c.sum(axis=3, keepdims=True)
    c_hy = c.sum(axis=2, keepdims=True)
    c_h = c.sum(axis=(2, 3), keepdims=True)
    total = float(m - k)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c > 0, c * np.log2(c * c_h / (c_hx * c_hy)), 0.0)
    return terms.sum(axis=(1, 2, 3)) / total


@dataclass(frozen=True)
class EteResult:
    """Effective transfer entropy X -> Y with its surrogate test.

    Attributes
    ----------
    te : float
        Transfer entropy in bits.
    ete : float
        te - surrogate_mean, bits.
    p : float
        (1 + #{surrogate TE >= te}) / (surrogates + 1).
    surrogate_mean, surrogate_std : float
        Mean and standard deviation (ddof 0) of the surrogates' TE, bits.
    surrogates : int
        S, number of time-shuffled surrogates.
    bins, history, lag : int
        Settings used.
    seed : int
        Seed of ``numpy.random.default_rng`` for the shuffles.
    n : int
        Observations per series.
    p_se : float
        Monte Carlo standard error of ``p``: sqrt(p (1 - p) / surrogates).
    stopped_early : bool
        True when the curtailed test stopped before the configured count (see :func:`ete_screen`,
        ``stop_early``): then ``surrogates`` is the number drawn, ``p`` = max(h / surrogates, (1 + h) / (S + 1))
        with h exceedances (Besag & Clifford 1991), certainly above alpha, and ``ete`` and the surrogate moments
        are over the surrogates drawn.
    """

    te: float
    ete: float
    p: float
    surrogate_mean: float
    surrogate_std: float
    surrogates: int
    bins: int
    history: int
    lag: int
    seed: int
    n: int
    stopped_early: bool = False

    @property
    def p_se(self) -> float:
        """Monte Carlo standard error of the surrogate p-value, sqrt(p (1 - p) / S)."""
        return float(np.sqrt(self.p * (1.0 - self.p) / self.surrogates))

    def to_dict(self) -> dict:
        """JSON-ready plain Python."""
        return {"te": float(self.te), "ete": float(self.ete), "p": float(self.p), "p_se": self.p_se,
                "surrogate_mean": float(self.surrogate_mean), "surrogate_std": float(self.surrogate_std),
                "surrogates": int(self.surrogates), "bins": int(self.bins), "history": int(self.history),
                "lag": int(self.lag), "seed": int(self.seed), "n": int(self.n),
                "stopped_early": bool(self.stopped_early)}


def effective_transfer_entropy(x, y, *, bins: int = 3, history: int = 1, lag: int = 1,
                               surrogates: int = DEFAULT_SURROGATES, seed: int = 0) -> EteResult:
    """Effective transfer entropy X -> Y with a time-shuffle surrogate p-value (METHOD.md §4c).

    Both series are discretised with :func:`discretise` over the given window; TE comes from
    :func:`transfer_entropy_batch` (equal to :func:`transfer_entropy`); each surrogate applies a random
    permutation (``numpy.random.default_rng(seed).permuted`` of S copies of X's states, row-wise) to X's states,
    keeping Y intact.

    Parameters
    ----------
    x, y : pandas.Series or array-like, shape (n,)
        Source and target values (e.g. log returns) on the same dates; Series must share their index.
    bins : int
        Equal-frequency states per series (METHOD.md: 3).
    history : int
        k, target history (METHOD.md: 1).
    lag : int
        Source-to-target delay in bars; see :func:`transfer_entropy` (1 = METHOD.md / pyinform).
    surrogates : int
        S (METHOD.md: 100; volts' default 2000, see the module docstring).
    seed : int
        Seed of the shuffles.

    Returns
    -------
    EteResult

    Raises
    ------
    DataError
        Misaligned series, NaN, constant or too short series.
    """
    if surrogates < 1:
        raise ValueError(f"surrogates must be >= 1, got {surrogates}")
    if isinstance(x, pd.Series) and isinstance(y, pd.Series) and not x.index.equals(y.index):
        raise DataError(f"{x.name}->{y.name}: series are not on the same dates")
    xs = discretise(x, bins)
    ys = discretise(y, bins)
    if len(xs) != len(ys):
        raise DataError(f"source and target have different lengths ({len(xs)} vs {len(ys)})")
    return _ete_from_states(xs, ys, bins=bins, history=history, lag=lag, surrogates=surrogates, seed=seed)


def exceedances_to_stop(surrogates: int, alpha: float) -> int:
    """h: the fewest surrogates at or above the observed TE for which the p-value (1 + h) / (S + 1) exceeds alpha.

    Computed with the same float comparison as the keep rule (``p <= alpha``), so that h exceedances among the
    first surrogates make "not significant at alpha" certain for the full count S.
    """
    h = max(0, int(alpha * (surrogates + 1)) - 2)
    while (1 + h) / (surrogates + 1) <= alpha:
        h += 1
    return h


#: Surrogates in the curtailed test's first block; the result does not depend on the block sizes.
_FIRST_BLOCK = 100


def _next_block(drawn: int, exceed: int, h: int, left: int) -> int:
    """Size of the curtailed test's next block: the surrogates expected to reach h exceedances at the rate seen
    so far, with a 25 % margin (at least 50), or everything left when none exceeded yet (a likely significant pair,
    which draws all S anyway). Only the cost depends on it: the blocks are one stream, and the stopping time is
    read from the surrogates in order."""
    if exceed == 0:
        return left
    expected = (h - exceed) * drawn / exceed
    return int(min(left, max(50, np.ceil(1.25 * expected) + 20)))


def _ete_from_states(xs: np.ndarray, ys: np.ndarray, *, bins: int, history: int, lag: int, surrogates: int,
                     seed: int, stop_above: float | None = None) -> EteResult:
    """ETE and surrogate p-value of states xs -> ys; ``stop_above = alpha`` curtails the test (see ete_screen).

    The surrogates are the rows of ``default_rng(seed).permuted(S copies of xs, axis=1)``, drawn in one call or,
    curtailed, in blocks from the same generator (the same rows in the same order: a block-wise draw is the
    prefix of the one-call draw), so a curtailed test that does not stop returns the same floats as the full one.
    """
    rng = np.random.default_rng(seed)
    n = len(xs)
    if stop_above is None:
        shuffled = rng.permuted(np.broadcast_to(xs, (surrogates, n)), axis=1)
        values = transfer_entropy_batch(np.vstack([xs[None, :], shuffled]), ys, history=history, lag=lag)
        te, te_s = float(values[0]), values[1:]
    else:
        h = exceedances_to_stop(surrogates, stop_above)
        te, parts, drawn, exceed, block = None, [], 0, 0, _FIRST_BLOCK
        while drawn < surrogates:
            size = min(block, surrogates - drawn)
            shuffled = rng.permuted(np.broadcast_to(xs, (size, n)), axis=1)
            rows = np.vstack([xs[None, :], shuffled]) if te is None else shuffled
            values = transfer_entropy_batch(rows, ys, history=history, lag=lag)
            if te is None:
                te, values = float(values[0]), values[1:]
            parts.append(values)
            drawn += size
            exceed += int(np.sum(values >= te))
            block = _next_block(drawn, exceed, h, surrogates - drawn)
            if 1 <= h <= exceed and drawn < surrogates:   # h = 0: no count is significant; draw them all
                break
        te_s = np.concatenate(parts)
        at = np.cumsum(te_s >= te)
        if h >= 1 and at[-1] >= h:
            used = int(np.argmax(at >= h)) + 1        # the h-th exceedance: Besag & Clifford's stopping time
            if used < surrogates:
                te_s = te_s[:used]
                mean = float(te_s.mean())
                p = max(h / used, (1 + h) / (surrogates + 1))
                return EteResult(te=te, ete=te - mean, p=p, surrogate_mean=mean, surrogate_std=float(te_s.std()),
                                 surrogates=used, bins=bins, history=history, lag=lag, seed=int(seed), n=n,
                                 stopped_early=True)
    p = (1 + int(np.sum(te_s >= te))) / (surrogates + 1)
    mean = float(te_s.mean())
    return EteResult(te=te, ete=te - mean, p=p, surrogate_mean=mean, surrogate_std=float(te_s.std()),
                     surrogates=surrogates, bins=bins, history=history, lag=lag, seed=int(seed), n=n)


# ------------------------------------------------------------------------------------------------ screen
def pair_seed(seed: int, source: str, target: str, lag: int = 1) -> int:
    """Seed of the surrogates of one direction, derived from the run's seed and the pair (stable across runs).

    SHA-256 of ``"{seed}|{source}|{target}|{lag}"`` (not Python's salted ``hash``), first 8 bytes as an unsigned
    integer. Depends only on its arguments, so a pair's result does not depend on which other pairs are
    screened or in which order.
    """
    digest = hashlib.sha256(f"{int(seed)}|{source}|{target}|{int(lag)}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class EtePair:
    """ETE of one ordered pair in both directions and the keep decision.

    Attributes
    ----------
    leader, follower : str
    lag : int
    forward : EteResult
        leader -> follower.
    reverse : EteResult or None
        follower -> leader at the same lag; None when it was not computed (``ete_screen(reverse_when_dropped=
        False)`` and the forward test already failed, so it could not change the decision).
    kept : bool
        forward.ete > 0 and forward.p <= alpha and forward.ete > reverse.ete.
    reason : str
        Why it was kept or dropped.
    """

    leader: str
    follower: str
    lag: int
    forward: EteResult
    reverse: EteResult
    kept: bool
    reason: str

    def to_dict(self) -> dict:
        """One row: leader, follower, lag, te, ete, p, p_se, te_reverse, ete_reverse, p_reverse, p_se_reverse,
        kept, reason, surrogates, stopped_early (``p_se``: Monte Carlo standard error of the surrogate p-value;
        ``surrogates``: drawn by the forward test, fewer than configured when it ``stopped_early``)."""
        rev = self.reverse
        nan = float("nan")
        return {"leader": self.leader, "follower": self.follower, "lag": int(self.lag),
                "te": float(self.forward.te), "ete": float(self.forward.ete), "p": float(self.forward.p),
                "p_se": self.forward.p_se, "te_reverse": nan if rev is None else float(rev.te),
                "ete_reverse": nan if rev is None else float(rev.ete),
                "p_reverse": nan if rev is None else float(rev.p),
                "p_se_reverse": nan if rev is None else rev.p_se, "kept": bool(self.kept), "reason": self.reason,
                "surrogates": int(self.forward.surrogates), "stopped_early": bool(self.forward.stopped_early)}


@dataclass(frozen=True)
class EteScreen:
    """Result of :func:`ete_screen`.

    Attributes
    ----------
    pairs : tuple of EtePair
        In the order the pairs were given.
    bins, history, surrogates : int
    alpha : float
    seed : int
    start, end : str or None
        First and last date of the window (ISO), when the returns carried dates.
    stop_early : bool
        Whether the surrogate tests were curtailed (see :func:`ete_screen`).
    """

    pairs: tuple[EtePair, ...]
    bins: int
    history: int
    surrogates: int
    alpha: float
    seed: int
    start: str | None
    end: str | None
    stop_early: bool = False

    @property
    def rows(self) -> list[dict]:
        """One plain dict per pair (see :meth:`EtePair.to_dict`)."""
        return [p.to_dict() for p in self.pairs]

    @property
    def kept(self) -> list[tuple[str, str, int]]:
        """(leader, follower, lag) of the pairs that pass."""
        return [(p.leader, p.follower, p.lag) for p in self.pairs if p.kept]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame."""
        return pd.DataFrame(self.rows, columns=["leader", "follower", "lag", "te", "ete", "p", "p_se",
                                                "te_reverse", "ete_reverse", "p_reverse", "p_se_reverse", "kept",
                                                "reason", "surrogates", "stopped_early"])

    def to_dict(self) -> dict:
        """JSON-ready plain Python."""
        return {"bins": int(self.bins), "history": int(self.history), "surrogates": int(self.surrogates),
                "alpha": float(self.alpha), "seed": int(self.seed), "start": self.start, "end": self.end,
                "stop_early": bool(self.stop_early), "rows": self.rows}


def ete_screen(returns: pd.DataFrame, pairs: Iterable[Sequence], *, bins: int = 3, history: int = 1,
               surrogates: int = DEFAULT_SURROGATES, alpha: float = 0.05, seed: int = 0,
               stop_early: bool = False, reverse_when_dropped: bool = True) -> EteScreen:
    """Screen ordered pairs by effective transfer entropy in both directions (METHOD.md §4c).

    A pair X -> Y is kept when ETE_{X->Y} > 0, p_{X->Y} <= alpha and ETE_{X->Y} > ETE_{Y->X}. Each column is
    discretised once over the whole frame (the training window). Each direction's surrogates are seeded with
    :func:`pair_seed` (seed, source, target, lag), so results do not depend on the order of ``pairs``.

    Parameters
    ----------
    returns : pandas.DataFrame, shape (n_dates, n_symbols)
        Returns (METHOD.md: log returns) over the training window; columns = symbols; no NaN.
    pairs : iterable of (leader, follower) or (leader, follower, lag)
        Ordered pairs; lag defaults to 1 (METHOD.md); the pipeline passes the PCMCI edge's tau (see
        :func:`transfer_entropy`).
    bins, history, surrogates : int
        See :func:`effective_transfer_entropy` (METHOD.md: 3, 1, 100; volts' default S = 2000).
    alpha : float
        Significance level of the surrogate test (METHOD.md: 0.05).
    seed : int
        Run seed.
    stop_early : bool
        Curtail the surrogate test where it cannot change a decision (Besag & Clifford 1991). The forward test
        stops at its h-th surrogate TE >= the observed TE, h = :func:`exceedances_to_stop` (S, alpha) (100 for
        S = 2000 at alpha = 0.05): from then on p > alpha is certain for the full S, so the pair is dropped as
        it would be. The reverse direction's ETE decides only a pair whose forward p <= alpha; it is curtailed
        the same way only when the forward test already failed. Every kept/dropped decision, and every
        number of a pair whose forward test did not stop, is the one of the full test; a stopped test reports
        ``stopped_early``, the surrogates drawn and ``p = max(h / drawn, (1 + h) / (S + 1))``. Null pairs, most
        of a large screen, stop after about h / p surrogates (a few hundred instead of S).
    reverse_when_dropped : bool
        False: when the forward test already failed (p > alpha), the reverse direction, which can then change
        nothing, is not computed (``EtePair.reverse`` is None; its row fields are NaN). For runs that keep only
        the decisions and the kept pairs (stability runs, the walk-forward's weeks); a kept pair's numbers are
        unchanged.

    Returns
    -------
    EteScreen

    Raises
    ------
    DataError
        A symbol missing from ``returns``, NaN in a used column (naming symbol and date), a constant column or
        too few rows.
    ValueError
        A malformed pair.
    """
    norm = []
    for pair in pairs:
        if len(pair) not in (2, 3):
            raise ValueError(f"a pair is (leader, follower) or (leader, follower, lag); got {pair!r}")
        leader, follower = str(pair[0]), str(pair[1])
        lag = int(pair[2]) if len(pair) == 3 else 1
        if leader == follower:
            raise ValueError(f"pair {leader}->{follower}: leader and follower must differ")
        if lag < 1:
            raise ValueError(f"pair {leader}->{follower}: lag must be >= 1, got {lag}")
        norm.append((leader, follower, lag))
    states: dict[str, np.ndarray] = {}
    for sym in dict.fromkeys(s for p in norm for s in p[:2]):
        if sym not in returns.columns:
            have = ", ".join(map(str, returns.columns))
            raise DataError(f"{sym}: symbol not in the returns for the ETE screen ({have})")
        states[sym] = discretise(returns[sym], bins, name=sym)
    out = []
    for leader, follower, lag in norm:
        kw = dict(bins=bins, history=history, lag=lag, surrogates=surrogates)
        fwd = _ete_from_states(states[leader], states[follower], seed=pair_seed(seed, leader, follower, lag),
                               stop_above=alpha if stop_early else None, **kw)
        rev = None
        if reverse_when_dropped or fwd.p <= alpha:
            rev = _ete_from_states(states[follower], states[leader], seed=pair_seed(seed, follower, leader, lag),
                                   stop_above=alpha if stop_early and not fwd.p <= alpha else None, **kw)
        failed = []
        if not fwd.ete > 0:
            failed.append(f"ETE {fwd.ete:.4f} <= 0")
        if not fwd.p <= alpha:
            failed.append(f"p {fwd.p:.4f} (MC SE {fwd.p_se:.4f}) > alpha {alpha:g}"
                          + (f" (curtailed after {fwd.surrogates} surrogates)" if fwd.stopped_early else ""))
        if rev is None:
            failed.append("reverse ETE not computed")
        elif not fwd.ete > rev.ete:
            failed.append(f"reverse ETE {rev.ete:.4f} >= ETE {fwd.ete:.4f}")
        kept = not failed
        reason = f"ETE > 0, p <= {alpha:g}, ETE > reverse ETE" if kept else "; ".join(failed)
        out.append(EtePair(leader, follower, lag, fwd, rev, kept, reason))
    start = end = None
    if isinstance(returns.index, pd.DatetimeIndex) and len(returns.index):
        start, end = returns.index[0].date().isoformat(), returns.index[-1].date().isoformat()
    return EteScreen(pairs=tuple(out), bins=bins, history=history, surrogates=surrogates, alpha=float(alpha),
                     seed=int(seed), start=start, end=end, stop_early=bool(stop_early))


# ------------------------------------------------------------------------------------------------ helpers
def _where(series, i: int) -> str:
    if isinstance(series, pd.Series):
        day = series.index[i]
        return pd.Timestamp(day).date().isoformat() if isinstance(series.index, pd.DatetimeIndex) else str(day)
    return f"position {i}"


def _span(series) -> str:
    if isinstance(series, pd.Series) and isinstance(series.index, pd.DatetimeIndex) and len(series):
        return f"{series.index[0].date()} .. {series.index[-1].date()}"
    return f"{len(series)} observations"
