"""Pairwise lead-lag screens of seeds 003 and 004 with a seeded permutation test (LITERATURE.md 003.2, 004.2).

Every score here is a lead-lag *asymmetry* of the ordered pair (leader x, follower y), skew-symmetric in the
pair and positive when x leads y:

============================ ===================================================================================
screen                       score (lag = the delay it refers to)
============================ ===================================================================================
``ccf_lag1``                 corr(x_{t-1}, y_t) - corr(y_{t-1}, x_t)  (003's Pearson ccf-lag1), lag 1
``ccf_best``                 the same difference at the lag l in 1..L where |difference| is largest, lag l
``ccf_auc``                  003's ccf-auc over lags 1..L (|S| in {0} U [0.5, 1]); lag = argmax_l |corr(x_{t-l}, y_t)|
``levy_area``                004's Lévy area of the z-scored returns path (1/2 factor), lag 1
``distance_correlation``     dCor(x_{t-1}, y_t) - dCor(y_{t-1}, x_t) (V-statistic, as ``dcor``), lag 1
``mutual_information``       MI(x_{t-1}, y_t) - MI(y_{t-1}, x_t), nats, pooled quartile buckets, lag 1
============================ ===================================================================================

The seeds give no test for these scores, so the p-value is a permutation test of "the leader carries no
information about the follower" (one-sided on the score): the leader is moved against the follower by a
random circular shift k (k uniform in [L + 1, T - L - 1], so no shifted copy lines up within the scored lags;
it keeps the leader's autocorrelation and volatility clustering), or shuffled in time (``null = "shuffle"``),
``surrogates`` times, and ``p = (1 + #{score_s >= score}) / (surrogates + 1)``. Each pair's shifts come from
its own generator seeded with :func:`volts.selection.causality.entropy.pair_seed` (seed, leader, follower), so a pair's
p-value does not depend on the other pairs. ``surrogates = 0`` turns the test off (score only; the funnel then
keeps the top-K pairs). Under the test rule a pair is kept when p <= alpha and score > 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from volts.selection.screens.base import PairScreen, register_screen
from volts.selection.screens.stats import ccf_auc_from_ccfs, mutual_information_quartiles

__all__ = [
    "CcfAucScreen",
    "CcfBestScreen",
    "CcfLag1Screen",
    "DistanceCorrelationScreen",
    "LevyAreaScreen",
    "MutualInformationScreen",
    "PermutationScreen",
    "column_corr",
]


def column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``a`` with the same column of ``b`` (shape (m, P) -> (P,)).

    Each column pair is re-centred on its own sample (the seed-003 code's ``corr`` on the overlapping dates);
    a constant column gives 0.
    """
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a * b).sum(axis=0) / den
    return np.where(den > 0, out, 0.0)


class PermutationScreen(PairScreen):
    """Base of the pairwise lead-lag screens: a score per pair and a seeded permutation p-value.

    Subclasses implement :meth:`pair_scores`. See the module docstring for the test.

    Parameters
    ----------
    surrogates : int
        Permutations per pair (0 = no test: the screen gives scores only and the top-K rule applies).
    null : {"circular_shift", "shuffle"}
        How the leader is moved against the follower.
    seed : int
        Run seed (combined with the pair's names).
    alpha, rule, top_k :
        See :class:`~volts.selection.screens.base.PairScreen`.
    """

    lag_kind = "delay"
    directional = True
    #: largest delay the score looks at (circular shifts stay clear of it)
    max_delay: int = 1

    @classmethod
    def _permutation_settings(cls, settings, rule, top_k) -> dict:
        s = settings.screens
        return {
            "surrogates": s.surrogates,
            "null": s.null,
            "seed": s.seed,
            "alpha": s.alpha,
            "rule": rule,
            "top_k": top_k,
        }

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """The permutation screen configured from ``[screens]``."""
        return cls(**cls._permutation_settings(settings, rule, top_k))

    def __init__(
        self,
        *,
        surrogates: int = 199,
        null: Literal["circular_shift", "shuffle"] = "circular_shift",
        seed: int = 0,
        alpha: float = 0.05,
        rule: str = "test",
        top_k: int = 5,
    ):
        super().__init__(rule=rule, top_k=top_k, alpha=alpha)
        if surrogates < 0:
            raise ValueError(f"{self.name}: surrogates must be >= 0, got {surrogates}")
        if null not in ("circular_shift", "shuffle"):
            raise ValueError(f"{self.name}: null must be 'circular_shift' or 'shuffle', got {null!r}")
        self.surrogates, self.null, self.seed = int(surrogates), null, int(seed)

    @property
    def has_test(self) -> bool:
        return self.surrogates > 0

    def params(self) -> dict:
        return {"surrogates": self.surrogates, "null": self.null, "seed": self.seed}

    def min_dates(self) -> int:
        """Fewest dates the screen accepts."""
        return 2 * (self.max_delay + 1) + 8

    def prepare(self, y: np.ndarray):
        """Work on the followers that every surrogate shares (computed once per run); None by default."""
        return None

    def pair_scores(self, x: np.ndarray, y: np.ndarray, ctx=None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Scores of P pairs at once.

        Parameters
        ----------
        x, y : numpy.ndarray, shape (T, P)
            Leaders' and followers' returns, column p = pair p.
        ctx : object
            What :meth:`prepare` returned for ``y``.

        Returns
        -------
        score : numpy.ndarray, shape (P,)
        lag : numpy.ndarray of int, shape (P,)
        extra : dict of str to numpy.ndarray, shape (P,)
        """
        raise NotImplementedError

    def _evaluate(self, returns, pairs, *, prices, lags) -> dict:
        from volts.selection.causality.entropy import pair_seed
        from volts.selection.causality.granger import _check_frame
        from volts.core.errors import DataError

        n = len(pairs)
        if n == 0:
            return {"score": [], "p": [], "lag": [], "passed": []}
        used = list(dict.fromkeys(s for pair in pairs for s in pair))
        frame = returns[used]
        values = _check_frame(frame, what=self.name)
        T = values.shape[0]
        if T < self.min_dates():
            raise DataError(
                f"{self.name}: {T} dates from {frame.index[0]} to {frame.index[-1]} are too few "
                f"(rule: at least {self.min_dates()} for lags up to {self.max_delay})"
            )
        col = {s: k for k, s in enumerate(used)}
        x = values[:, [col[a] for a, _ in pairs]]
        y = values[:, [col[b] for _, b in pairs]]
        ctx = self.prepare(y)
        score, lag, extra = self.pair_scores(x, y, ctx)
        p = np.full(n, np.nan)
        if self.surrogates:
            rngs = [np.random.default_rng(pair_seed(self.seed, a, b, 0)) for a, b in pairs]
            exceed = np.zeros(n, dtype=np.int64)
            tol = 1e-12 * np.maximum(1.0, np.abs(score))
            cols = np.arange(n)
            if self.null == "circular_shift":
                lo, hi = self.max_delay + 1, T - self.max_delay - 1
                shifts = np.stack([r.integers(lo, hi + 1, size=self.surrogates) for r in rngs], axis=1)  # (S, P)
                t = np.arange(T)[:, None]
                for s in range(self.surrogates):
                    xs = x[(t - shifts[s][None, :]) % T, cols]
                    exceed += self.pair_scores(xs, y, ctx)[0] >= score - tol
            else:
                for s in range(self.surrogates):
                    idx = np.stack([r.permutation(T) for r in rngs], axis=1)
                    exceed += self.pair_scores(x[idx, cols], y, ctx)[0] >= score - tol
            p = (1.0 + exceed) / (self.surrogates + 1.0)
        passed = (p <= self.alpha) & (score > 0)
        return {"score": score, "p": p, "lag": lag, "passed": passed, "extra": extra}


# ------------------------------------------------------------------------------------- cross-correlation
@register_screen
class CcfLag1Screen(PermutationScreen):
    """Seed 003's Pearson ccf-lag1: corr(x_{t-1}, y_t) - corr(y_{t-1}, x_t); detects positive association.

    Extra columns: ``ccf_forward`` = corr(x_{t-l}, y_t) and ``ccf_reverse`` = corr(y_{t-l}, x_t) at the lag.
    Source: Bennett, Cucuringu & Reinert (seed 003), Sect. 3 (LITERATURE.md 003.2).
    """

    name = "ccf_lag1"

    def _lags(self) -> range:
        return range(1, self.max_delay + 1)

    def pair_scores(self, x, y, ctx=None):
        fwd = np.stack([column_corr(x[:-l], y[l:]) for l in self._lags()])  # (L, P)
        rev = np.stack([column_corr(y[:-l], x[l:]) for l in self._lags()])
        diff = fwd - rev
        best = np.argmax(np.abs(diff), axis=0)  # first lag on ties
        cols = np.arange(x.shape[1])
        return diff[best, cols], best + 1, {"ccf_forward": fwd[best, cols], "ccf_reverse": rev[best, cols]}


@register_screen
class CcfBestScreen(CcfLag1Screen):
    """Cross-correlation at the best lag: the difference corr(x_{t-l}, y_t) - corr(y_{t-l}, x_t) at the l in 1..L
    where its absolute value is largest (so the score stays skew-symmetric); ``lag`` = that l. The permutation test takes the search over l into account
    (each surrogate searches too).

    Parameters
    ----------
    max_lag : int
        L.
    """

    name = "ccf_best"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Configured from ``[screens]``, with its delay range ``max_lag``."""
        return cls(max_lag=settings.screens.max_lag, **cls._permutation_settings(settings, rule, top_k))

    def __init__(self, *, max_lag: int = 5, **kwargs):
        if max_lag < 1:
            raise ValueError(f"ccf_best: max_lag must be >= 1, got {max_lag}")
        self.max_delay = int(max_lag)
        super().__init__(**kwargs)

    def params(self) -> dict:
        return {**super().params(), "max_lag": self.max_delay}


@register_screen
class CcfAucScreen(PermutationScreen):
    """Seed 003's ccf-auc over lags 1..L with Pearson correlation.

    ``I_f = sum_l |corr(x_{t-l}, y_t)|``, ``I_r = sum_l |corr(y_{t-l}, x_t)|``, score = ``sign(I_f - I_r)
    max(I_f, I_r) / (I_f + I_r)``; handles negative association too. ``lag`` = argmax_l |corr(x_{t-l}, y_t)|.
    Extra columns ``auc_forward`` (I_f) and ``auc_reverse`` (I_r).

    Parameters
    ----------
    max_lag : int
        L (seed 003: 5).
    """

    name = "ccf_auc"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Configured from ``[screens]``, with its delay range ``max_lag``."""
        return cls(max_lag=settings.screens.max_lag, **cls._permutation_settings(settings, rule, top_k))

    def __init__(self, *, max_lag: int = 5, **kwargs):
        if max_lag < 1:
            raise ValueError(f"ccf_auc: max_lag must be >= 1, got {max_lag}")
        self.max_delay = int(max_lag)
        super().__init__(**kwargs)

    def params(self) -> dict:
        return {**super().params(), "max_lag": self.max_delay}

    def pair_scores(self, x, y, ctx=None):
        lags = range(1, self.max_delay + 1)
        fwd = np.abs(np.stack([column_corr(x[:-l], y[l:]) for l in lags]))
        rev = np.abs(np.stack([column_corr(y[:-l], x[l:]) for l in lags]))
        i_f, i_r = fwd.sum(axis=0), rev.sum(axis=0)
        return ccf_auc_from_ccfs(i_f, i_r), np.argmax(fwd, axis=0) + 1, {"auc_forward": i_f, "auc_reverse": i_r}


# ------------------------------------------------------------------------------------------------ Lévy area
@register_screen
class LevyAreaScreen(PermutationScreen):
    """Seed 004's Lévy area of the pair's z-scored returns path: 1/2 sum_t (x_{t-1} y_t - y_{t-1} x_t).

    :func:`volts.selection.leadlag.levy_area_returns` on the pair's columns: z-scores over the window (ddof = 1), the path
    started at 0 (004 App. B), the same number as that function's all-pairs matrix (``[leader, follower]``)
    behind the Hermitian candidates and the lead-lag portfolio. Lag 1 (004's Theorem 1: the sign identifies the
    direction at lag 1 only). Source: Cartea, Cucuringu & Jin (seed 004), eqs 4-5.
    """

    name = "levy_area"

    def pair_scores(self, x, y, ctx=None):
        from volts.selection.leadlag import levy_area_returns

        return levy_area_returns(x, y), np.ones(x.shape[1], dtype=np.int64), {}


# -------------------------------------------------------------------------------------------- dependence
@register_screen
class DistanceCorrelationScreen(PermutationScreen):
    """Distance correlation at lag 1: dCor(x_{t-1}, y_t) - dCor(y_{t-1}, x_t) (003's ccf-lag1 with distance
    correlation, the V-statistic of ``dcor.distance_correlation``, each term in [0, 1]; computed in blocks of
    pairs by :func:`volts.selection.screens.stats.distance_correlation_batch`, checked against ``dcor`` in the tests).
    Detects non-linear dependence of either sign. Extra columns ``dcor_forward``, ``dcor_reverse``. Source:
    Székely, Rizzo & Bakirov (2007); seed 003, Sect. 3.

    Memory: a pair needs four (T-1) x (T-1) distance matrices (about 2 MiB at T = 250), so the pairs are taken
    :attr:`block` at a time (the temporary arrays hold at most ``block`` pairs' matrices, whatever the number of
    pairs). The followers' matrices, the same for every surrogate, are kept between the surrogates while they
    fit in :attr:`cache_bytes`; above that they are recomputed per block (the same numbers, more time).
    """

    name = "distance_correlation"
    #: pairs per block: bounds the temporary distance matrices to block x (T-1)^2 floats each
    block: int = 32
    #: largest size of the followers' distance matrices kept across the surrogates (bytes)
    cache_bytes: int = 256 * 2**20

    def _blocks(self, n: int) -> list[slice]:
        return [slice(start, start + self.block) for start in range(0, n, self.block)]

    def prepare(self, y):
        from volts.selection.screens.stats import _distance_stats

        m = y.shape[0] - 1
        if 2 * y.shape[1] * m * m * 8 > self.cache_bytes:
            return None
        return [(_distance_stats(y[1:, sl].T), _distance_stats(y[:-1, sl].T)) for sl in self._blocks(y.shape[1])]

    def pair_scores(self, x, y, ctx=None):
        from volts.selection.screens.stats import _dcor_from_stats, _distance_stats, distance_correlation_batch

        if ctx is None:
            fwd = distance_correlation_batch(x[:-1].T, y[1:].T, block=self.block)
            rev = distance_correlation_batch(y[:-1].T, x[1:].T, block=self.block)
        else:
            fwd, rev = np.empty(x.shape[1]), np.empty(x.shape[1])
            for sl, (y_now, y_before) in zip(self._blocks(x.shape[1]), ctx):
                fwd[sl] = _dcor_from_stats(_distance_stats(x[:-1, sl].T), y_now)
                rev[sl] = _dcor_from_stats(y_before, _distance_stats(x[1:, sl].T))
        return fwd - rev, np.ones(x.shape[1], dtype=np.int64), {"dcor_forward": fwd, "dcor_reverse": rev}


@register_screen
class MutualInformationScreen(PermutationScreen):
    """Mutual information at lag 1: MI(x_{t-1}, y_t) - MI(y_{t-1}, x_t), in nats, each term from the pooled
    quartile buckets of its two series (seed 003's MI: ``pd.qcut(q=4)`` of the pool, then
    ``mutual_info_classif(discrete_features=True)``). Extra columns ``mi_forward``, ``mi_reverse``.

    Parameters
    ----------
    buckets : int
        Quantile buckets of the pooled values (seed 003: 4).
    """

    name = "mutual_information"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Configured from ``[screens]``, with ``mi_buckets`` quantile buckets."""
        return cls(buckets=settings.screens.mi_buckets, **cls._permutation_settings(settings, rule, top_k))

    def __init__(self, *, buckets: int = 4, **kwargs):
        if buckets < 2:
            raise ValueError(f"mutual_information: buckets must be >= 2, got {buckets}")
        self.buckets = int(buckets)
        super().__init__(**kwargs)

    def params(self) -> dict:
        return {**super().params(), "buckets": self.buckets}

    def pair_scores(self, x, y, ctx=None):
        fwd = mutual_information_quartiles(x[:-1].T, y[1:].T, self.buckets)
        rev = mutual_information_quartiles(y[:-1].T, x[1:].T, self.buckets)
        return fwd - rev, np.ones(x.shape[1], dtype=np.int64), {"mi_forward": fwd, "mi_reverse": rev}
