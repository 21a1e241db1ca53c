"""DeltaLag: learned, time-varying lead-lag by sparse attention over (leader, lag) pairs.

Source: Zhou, Wang, Cucuringu et al., "DeltaLag: Learning Dynamic Lead-Lag Patterns in Financial Markets"
(arXiv 2511.00390), as read in ``../shared/docs/LITERATURE.md`` section 000.1 (a review; no code, few dimensions).

The network, for one decision day t (the close of bar t) and all N stocks at once:

1. **Time encoder.** One LSTM, shared by all stocks, runs over each stock's window of the last ``window`` (L) bars
   of raw price-volume features x (see :func:`price_volume_features`), giving hidden states H[u, t-L+1 .. t].
2. **Query and keys.** ``q_u = W_Q H[u, t]`` (the lagger's last embedding) and, for every candidate leader v and lag
   tau = 1 .. l_max, ``k_{v,tau} = W_K H[v, t + 1 - tau]``.
3. **Scores.** ``s[u, v, tau] = q_u . k_{v,tau} / sqrt(d)`` (``score="scaled_dot"``) or the cosine of the two
   (``score="cosine"``), for every (v, tau); self-pairs v = u and stocks without data are excluded.
4. **Sparse top-k.** The k largest scores of lagger u's (N x l_max) matrix give its leaders v_m and lags tau_m.
5. **Aggregation of raw features.** ``a_u = sum_m w_m x[v_m, t + 1 - tau_m]``: the leaders' raw features at their
   lags (not embeddings), weighted by the normalised scores w_m.
6. **MLP** on ``a_u`` predicts u's return of bar t + 1 (close t to close t + 1).

Choices where the review says "not stated" (each is a field of :class:`DeltaLagSettings`):

* **Lag indexing** (fixed by causality, not a setting): lag tau means the leader's bar ``t + 1 - tau`` informs the
  lagger's bar ``t + 1``; tau = 1 is the leader's latest bar, known at the decision close. In the review's notation
  (keys ``H_{v, t - tau}``) this is ``tau = 0 .. l_max - 1`` counted from the decision day, or ``1 .. l_max``
  counted from the predicted day. A lag of 0 counted from the predicted day would be look-ahead.
* **Scoring function** ``score``: scaled dot product (default, the review's presumption) or cosine.
* **Normalisation** ``normalise``: ``"softmax"`` over the k selected scores (default), ``"softmax_all"`` (softmax
  over all candidates, the selected k weights kept as they are) or ``"none"`` (the raw scores as weights).
* **Window** ``window = 20`` bars (must be >= l_max), **hidden size** ``hidden = 32``, key size ``key_dim = 16``,
  MLP width ``mlp_hidden = 32`` with two hidden layers.
* **Optimiser**: Adam (Optax) with learning rate ``1e-3``, gradient clipping at global norm 1, mini-batches of
  ``batch_days`` days, early stopping on the validation loss (see :mod:`volts.learning.train`).
* The features are not embeddings but *raw* bar ratios (:func:`price_volume_features`), each divided by its
  standard deviation over the training span so that one learning rate fits all of them.

The baselines (:mod:`volts.learning.baselines`) are variants of the same network (``variant``): ``"lag1"``
(leaders at the fixed lag 1), ``"self"`` (the stock's own lags only), ``"fixed"`` (leaders, lags and weights given
from outside, e.g. a statistical lead-lag matrix) and ``"lstm"`` (the MLP on the lagger's own last embedding, no
cross-asset part).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DeltaLagSettings", "DeltaLagNet", "VARIANTS", "FEATURES", "price_volume_features"]

#: Model variants: the full model and the baselines that share its code.
VARIANTS: tuple[str, ...] = ("deltalag", "lag1", "self", "fixed", "lstm")
#: Names of the raw features, in the order of the last axis of :func:`price_volume_features`.
FEATURES: tuple[str, ...] = ("ret", "gap", "high", "low", "dvolume")


@dataclass(frozen=True)
class DeltaLagSettings:
    """Every choice of the model, its loss and its training (frozen; hashable; ``asdict`` for caching).

    Attributes
    ----------
    variant : str
        One of :data:`VARIANTS`.
    k, l_max : int
        Number of selected (leader, lag) pairs and largest lag in bars (review: 2 and 9).
    window, hidden, key_dim, mlp_hidden : int
        Encoder window L in bars (>= l_max), LSTM hidden size, query/key size, MLP width.
    score : {"scaled_dot", "cosine"}
        Scoring function of a (query, key) pair.
    normalise : {"softmax", "softmax_all", "none"}
        How the selected scores become aggregation weights.
    loss : {"rank", "ic", "mse"}
        Training loss (:mod:`volts.learning.losses`); ``rank_alpha``, ``rank_beta``, ``rank_gamma`` its weights.
    learning_rate, clip_norm : float
        Adam's step size and the global gradient-norm clip.
    batch_days, max_epochs, patience : int
        Days per mini-batch, the epoch cap, and the epochs without a better validation loss before stopping.
    seed : int
        Seed of the initial weights and of the order of the mini-batches.
    corr_window : int
        Rolling window in days of the statistical lead-lag matrix of the ``"fixed"`` (CorrGraph) baseline.
    forget_bias : float
        Added to the initial bias of the LSTM's forget gate (Jozefowicz, Zaremba & Sutskever 2015 use 1): a longer
        memory at the start of training, so that the embeddings hold more than the last bar or two.
    dense_epochs : int
        Epochs of *dense* attention before the sparse top-k (0 = sparse from the start). With hard top-k only the
        k selected pairs receive a gradient, so a pair never selected is never learned; during the dense epochs
        every (leader, lag) is weighted by its softmax score. Our choice; the review does not say how the
        selection is trained. Early stopping only counts the sparse epochs.
    """

    variant: str = "deltalag"
    k: int = 2
    l_max: int = 9
    window: int = 20
    hidden: int = 32
    key_dim: int = 16
    mlp_hidden: int = 32
    score: str = "scaled_dot"
    normalise: str = "softmax"
    loss: str = "rank"
    rank_alpha: float = 1.0
    rank_beta: float = 1.0
    rank_gamma: float = 1.0
    learning_rate: float = 1e-3
    clip_norm: float = 1.0
    batch_days: int = 16
    max_epochs: int = 60
    patience: int = 8
    seed: int = 0
    corr_window: int = 60
    dense_epochs: int = 0
    forget_bias: float = 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.score not in ("scaled_dot", "cosine"):
            raise ValueError(f"score must be 'scaled_dot' or 'cosine', got {self.score!r}")
        if self.normalise not in ("softmax", "softmax_all", "none"):
            raise ValueError(f"normalise must be 'softmax', 'softmax_all' or 'none', got {self.normalise!r}")
        if self.loss not in ("rank", "ic", "mse"):
            raise ValueError(f"loss must be 'rank', 'ic' or 'mse', got {self.loss!r}")
        if self.k < 1 or self.l_max < 1:
            raise ValueError(f"k and l_max must be >= 1, got k={self.k}, l_max={self.l_max}")
        if self.window < self.l_max:
            raise ValueError(
                f"window ({self.window}) must be >= l_max ({self.l_max}): the keys of lag l_max "
                "are embeddings inside the window"
            )
        if self.variant == "self" and self.k > self.l_max:
            raise ValueError(f"the self variant selects k={self.k} of its own l_max={self.l_max} lags; need k <= l_max")
        if min(self.hidden, self.key_dim, self.mlp_hidden, self.batch_days, self.max_epochs) < 1:
            raise ValueError("hidden, key_dim, mlp_hidden, batch_days and max_epochs must be >= 1")

    def to_dict(self) -> dict:
        """Plain dict of the settings (JSON-ready; the key of a model cache)."""
        return asdict(self)


def price_volume_features(open_, high, low, close, volume) -> np.ndarray:
    """Raw price-volume features of every bar: the model's input (before scaling).

    Parameters
    ----------
    open_, high, low, close, volume : array-like, shape (T, N)
        Bars in time order (rows) per stock (columns); prices > 0, volume >= 0. NaN marks a missing bar.

    Returns
    -------
    numpy.ndarray, shape (T, N, 5)
        ``ret = ln(C_t / C_{t-1})``, ``gap = ln(O_t / C_{t-1})``, ``high = ln(H_t / C_t)``, ``low = ln(L_t / C_t)``,
        ``dvolume = ln((V_t + 1) / (V_{t-1} + 1))`` (order :data:`FEATURES`). Row 0 and the bar after a missing
        one are NaN in the features that need the previous bar. Every feature of bar t is known at its close.
    """
    o, h, lo, c, v = (np.asarray(a, dtype=float) for a in (open_, high, low, close, volume))
    prev_c = np.vstack([np.full((1, c.shape[1]), np.nan), c[:-1]])
    prev_v = np.vstack([np.full((1, v.shape[1]), np.nan), v[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        feats = np.stack(
            [np.log(c / prev_c), np.log(o / prev_c), np.log(h / c), np.log(lo / c), np.log((v + 1.0) / (prev_v + 1.0))],
            axis=-1,
        )
    return feats


class DeltaLagNet(eqx.Module):
    """The network of the module docstring (and its baseline variants), for one day's cross-section.

    Parameters
    ----------
    n_features : int
        Size F of the last axis of the inputs.
    settings : DeltaLagSettings
        Sizes and choices.
    key : jax.random.PRNGKey
        Initialisation key.
    """

    cell: eqx.nn.LSTMCell
    wq: eqx.nn.Linear
    wk: eqx.nn.Linear
    mlp: eqx.nn.MLP
    variant: str = eqx.field(static=True)
    k: int = eqx.field(static=True)
    l_max: int = eqx.field(static=True)
    score: str = eqx.field(static=True)
    normalise: str = eqx.field(static=True)

    def __init__(self, n_features: int, settings: DeltaLagSettings, key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        s = settings
        self.variant, self.k, self.score, self.normalise = s.variant, s.k, s.score, s.normalise
        self.l_max = 1 if s.variant == "lag1" else s.l_max
        cell = eqx.nn.LSTMCell(n_features, s.hidden, key=k1)
        h = s.hidden  # gate order of equinox's LSTMCell: input, forget, cell, output
        self.cell = eqx.tree_at(lambda c: c.bias, cell, cell.bias.at[h : 2 * h].add(s.forget_bias))
        self.wq = eqx.nn.Linear(s.hidden, s.key_dim, use_bias=False, key=k2)
        self.wk = eqx.nn.Linear(s.hidden, s.key_dim, use_bias=False, key=k3)
        mlp_in = s.hidden if s.variant == "lstm" else n_features
        self.mlp = eqx.nn.MLP(mlp_in, "scalar", s.mlp_hidden, 2, activation=jax.nn.gelu, key=k4)

    def encode(self, x):
        """LSTM hidden states of every stock: x (N, L, F) -> H (N, L, hidden)."""
        n = x.shape[0]
        h0 = jnp.zeros((n, self.cell.hidden_size))

        def step(carry, xt):
            carry = jax.vmap(self.cell)(xt, carry)
            return carry, carry[0]

        _, hs = jax.lax.scan(step, (h0, h0), jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(hs, 0, 1)

    def scores(self, hid, avail):
        """Masked scores s[u, v, tau] (N, N, l_max) from hidden states (N, L, hidden); -inf where excluded."""
        n, L, _ = hid.shape
        q = jax.vmap(self.wq)(hid[:, -1])  # (N, d)
        lagged = hid[:, L - 1 - jnp.arange(self.l_max)]  # (N, l_max, hidden): tau = 1 .. l_max
        kk = jax.vmap(jax.vmap(self.wk))(lagged)  # (N, l_max, d)
        if self.score == "cosine":
            q = q / (jnp.linalg.norm(q, axis=-1, keepdims=True) + 1e-8)
            kk = kk / (jnp.linalg.norm(kk, axis=-1, keepdims=True) + 1e-8)
            s = jnp.einsum("ud,vtd->uvt", q, kk)
        else:
            s = jnp.einsum("ud,vtd->uvt", q, kk) / jnp.sqrt(q.shape[-1])
        eye = jnp.eye(n, dtype=bool)
        allowed = (eye if self.variant == "self" else ~eye) & avail[None, :]
        return jnp.where(allowed[:, :, None], s, -jnp.inf)

    def __call__(self, x, avail, fixed=None, dense: bool = False):
        """Predict every stock's next-bar (standardised) return from one day's windows.

        Parameters
        ----------
        x : jax.Array, shape (N, L, F)
            Scaled features of the last L bars (the last row is the decision bar t); missing values as 0.
        avail : jax.Array of bool, shape (N,)
            Stocks with data on the window (candidate leaders).
        fixed : tuple of jax.Array, optional
            For ``variant="fixed"``: leaders (N, k) int, lags (N, k) int in 1 .. l_max, weights (N, k).
        dense : bool
            Aggregate over every (leader, lag) with softmax weights instead of the top-k (training warm-up).

        Returns
        -------
        pred : jax.Array, shape (N,)
        leaders, lags : jax.Array of int, shape (N, k)
            The selected (leader index, lag in bars) per lagger; zeros for the ``"lstm"`` variant.
        weights : jax.Array, shape (N, k)
            Their aggregation weights.
        """
        n, L, _ = x.shape
        if self.variant == "lstm":
            hid = self.encode(x)
            z = jnp.zeros((n, self.k), dtype=jnp.int32)
            return jax.vmap(self.mlp)(hid[:, -1]), z, z, jnp.zeros((n, self.k))
        if self.variant == "fixed":
            leaders, lags, w = fixed
        else:
            s = self.scores(self.encode(x), avail)
            flat = s.reshape(n, -1)
            if dense:
                ok = jnp.isfinite(flat)
                wd = jax.nn.softmax(jnp.where(ok, flat, -1e30), axis=-1)
                wd = jnp.where(ok, wd, 0.0).reshape(n, n, self.l_max)  # (u, v, tau); 0 without candidates
                lagged_x = x[:, L - 1 - jnp.arange(self.l_max)]  # (v, tau, F)
                agg = jnp.einsum("uvt,vtf->uf", wd, lagged_x)
                z = jnp.zeros((n, self.k), dtype=jnp.int32)
                return jax.vmap(self.mlp)(agg), z, z, jnp.zeros((n, self.k))
            top, idx = jax.lax.top_k(flat, self.k)
            leaders, lags = idx // self.l_max, idx % self.l_max + 1
            finite = jnp.isfinite(top)
            top = jnp.where(finite, top, 0.0)
            if self.normalise == "softmax":
                w = jax.nn.softmax(jnp.where(finite, top, -1e30), axis=-1)
            elif self.normalise == "softmax_all":
                w = jnp.take_along_axis(jax.nn.softmax(flat, axis=-1), idx, axis=-1)
            else:
                w = top
            w = jnp.where(finite, w, 0.0)
        lead_x = x[leaders, L - lags]  # (N, k, F): leader's bar t + 1 - tau
        agg = jnp.sum(w[..., None] * lead_x, axis=1)
        return jax.vmap(self.mlp)(agg), leaders, lags, w
