"""Cross-sectional training losses of the learned lead-lag models (one trading day = one cross-section).

Every loss takes the predictions ``p`` and the realised returns ``r`` of one day, shape (N,), and a mask ``m``
(1 for a stock that has a target that day, 0 otherwise); ``n = sum_i m_i``. Returns are in *standardised* units
(divided by the training span's standard deviation, see :mod:`volts.learning.train`), so that the terms below
are all of order one and the default weights need no tuning to the scale of returns.

``mse``
    ``L = (1/n) sum_i m_i (p_i - r_i)^2``.

``ic``
    ``L = -corr(p, r)``: minus the Pearson correlation over the stocks with ``m_i = 1``
    (``cov / sqrt(var_p var_r + eps)``). The review of DeltaLag does not give its IC-loss form; this is ours.

``rank`` (the default)
    The pairwise ranking loss of Feng et al. (2019, "Temporal Relational Ranking for Stock Prediction",
    ACM Transactions on Information Systems 37(2)): a point-wise regression term plus a pairwise hinge on
    mis-ordered pairs,

        L_rank = (1/n) sum_i m_i (p_i - r_i)^2
                 + alpha (1/n^2) sum_i sum_j m_i m_j max(0, -(p_i - p_j)(r_i - r_j)),

    plus the tanh-smoothed logistic term that the DeltaLag review mentions without its formula. Ours is a logistic
    regression of the return's direction on the prediction, with the hard label sign(r_i) smoothed to
    ``tanh(r_i / gamma)`` so that returns near zero (whose sign is mostly noise) carry little weight:

        L_logit = (1/n) sum_i m_i log(1 + exp(-tanh(r_i / gamma) * p_i)),

        L = L_rank + beta L_logit.

    Defaults ``alpha = 1``, ``beta = 1``, ``gamma = 1`` (one standard deviation). These weights are our choice:
    neither Feng et al.'s tuned alpha nor the DeltaLag weights transfer to standardised returns.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["LOSSES", "mse_loss", "ic_loss", "rank_loss", "loss_by_name"]

#: The selectable losses (the DeltaLag ablation: ranking > IC > MSE in the review).
LOSSES: tuple[str, ...] = ("rank", "ic", "mse")

_EPS = 1e-12


def _n(m):
    return jnp.maximum(jnp.sum(m), 1.0)


def mse_loss(p, r, m):
    """Masked mean squared error of one cross-section.

    Parameters
    ----------
    p, r, m : jax.Array, shape (N,)
        Predictions, realised (standardised) returns, and the 0/1 mask of stocks with a target.

    Returns
    -------
    jax.Array, scalar
        ``(1/n) sum_i m_i (p_i - r_i)^2`` with ``n = max(sum m, 1)``.
    """
    return jnp.sum(m * (p - r) ** 2) / _n(m)


def ic_loss(p, r, m):
    """Minus the Pearson correlation of predictions and returns over the masked cross-section.

    Parameters
    ----------
    p, r, m : jax.Array, shape (N,)
        As in :func:`mse_loss`.

    Returns
    -------
    jax.Array, scalar
        ``-cov(p, r) / sqrt(var(p) var(r) + 1e-12)`` over the stocks with ``m_i = 1`` (population moments);
        0 when fewer than two stocks or a constant side.
    """
    n = _n(m)
    pc = (p - jnp.sum(m * p) / n) * m
    rc = (r - jnp.sum(m * r) / n) * m
    cov = jnp.sum(pc * rc) / n
    var = (jnp.sum(pc**2) / n) * (jnp.sum(rc**2) / n)
    return -cov / jnp.sqrt(var + _EPS)


def rank_loss(p, r, m, *, alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0):
    """Feng et al. (2019) pairwise ranking loss plus a tanh-smoothed logistic term (module docstring formula).

    Parameters
    ----------
    p, r, m : jax.Array, shape (N,)
        As in :func:`mse_loss`.
    alpha : float
        Weight of the pairwise hinge term (Feng et al.'s alpha).
    beta : float
        Weight of the tanh-smoothed logistic term; 0 gives Feng et al.'s loss alone.
    gamma : float
        Scale of the label smoothing ``tanh(r / gamma)``, in the units of ``r`` (> 0).

    Returns
    -------
    jax.Array, scalar
        ``L_rank + beta L_logit``.
    """
    n = _n(m)
    point = jnp.sum(m * (p - r) ** 2) / n
    dp = p[:, None] - p[None, :]
    dr = r[:, None] - r[None, :]
    mm = m[:, None] * m[None, :]
    pair = jnp.sum(mm * jnp.maximum(0.0, -dp * dr)) / (n * n)
    label = jnp.tanh(r / gamma)
    logit = jnp.sum(m * jnp.logaddexp(0.0, -label * p)) / n
    return point + alpha * pair + beta * logit


def loss_by_name(name: str, *, alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0):
    """The loss function called ``name`` (one of :data:`LOSSES`), as ``f(p, r, m) -> scalar``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`LOSSES`.
    """
    if name == "mse":
        return mse_loss
    if name == "ic":
        return ic_loss
    if name == "rank":
        return lambda p, r, m: rank_loss(p, r, m, alpha=alpha, beta=beta, gamma=gamma)
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
