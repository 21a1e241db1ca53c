"""A synthetic asynchronous market with planted lead-lag delays in seconds (the Hayashi-Yoshida test oracle).

Model (continuous time, seconds over ``[0, duration]``):

* each leader ``L`` has a latent efficient log price ``P_L(t) = sigma W_L(t)`` (a Brownian motion);
* each follower ``F`` of ``L`` follows it with a planted delay ``d_F`` (seconds) plus its own Brownian part:
  ``P_F(t) = beta P_L(t - d_F) + sigma_own W_F(t)``, so ``(P_L(t), P_F(t + d_F))`` is the semimartingale pair of
  Hoffmann, Rosenbaum & Yoshida (2013) with lead-lag parameter ``d_F``;
* independent assets ``P_I(t) = sigma W_I(t)`` share nothing with anyone (their pairs, and every pair across two
  families, are the null pairs);
* every asset is observed at the points of its own homogeneous Poisson process (intensity drawn per asset), and
  optional microstructure noise ``eta * N(0, 1)`` (i.i.d. per observation) is added to the observed log price.

The Brownian paths are simulated exactly at every time they are needed (the leader at its own observation times
and at its followers' times minus their delays). Everything is drawn from one ``numpy.random.Generator`` seeded by
``seed``, in a fixed order, so a seed gives the same market on every platform with the same NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["AsyncMarket", "simulate_async_market"]


@dataclass(frozen=True)
class AsyncMarket:
    """A simulated asynchronous market and its truth.

    Attributes
    ----------
    paths : dict of str to (numpy.ndarray, numpy.ndarray)
        Symbol -> (observation times in seconds, strictly increasing; observed log prices).
    planted : dict of (str, str) to float
        (leader, follower) -> planted delay in seconds (> 0: the leader leads).
    family : dict of str to str
        Symbol -> its leader's name (a leader and an independent asset are their own family).
    duration : float
        Length of the observation window, seconds.
    params : dict
        The generator's arguments.
    """

    paths: dict[str, tuple[np.ndarray, np.ndarray]]
    planted: dict[tuple[str, str], float]
    family: dict[str, str]
    duration: float
    params: dict = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        """Symbols in creation order."""
        return list(self.paths)

    def null_pairs(self) -> list[tuple[str, str]]:
        """Ordered pairs of symbols from different families (independent by construction)."""
        return [(a, b) for a in self.paths for b in self.paths if a != b and self.family[a] != self.family[b]]


def _poisson_times(rng: np.random.Generator, rate: float, duration: float) -> np.ndarray:
    n = max(int(rng.poisson(rate * duration)), 2)
    return np.unique(rng.uniform(0.0, duration, size=n))


def _brownian_at(rng: np.random.Generator, times: np.ndarray, sigma: float) -> np.ndarray:
    """``sigma W`` at the given times (any order, repeats allowed), ``W(min(times, 0)) = 0``."""
    grid, inverse = np.unique(times, return_inverse=True)
    start = min(0.0, float(grid[0]))
    steps = np.diff(np.concatenate([[start], grid]))
    w = np.cumsum(sigma * np.sqrt(steps) * rng.standard_normal(grid.size))
    return w[inverse]


def simulate_async_market(
    *,
    n_leaders: int = 3,
    followers_per_leader: int = 2,
    n_independent: int = 2,
    duration: float = 23_400.0,
    rate: tuple[float, float] = (0.05, 0.5),
    delay: tuple[float, float] = (5.0, 60.0),
    sigma: float = 1e-4,
    beta: float = 1.0,
    own: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
) -> AsyncMarket:
    """Simulate an asynchronous market with planted leader -> follower delays (see the module docstring).

    Parameters
    ----------
    n_leaders, followers_per_leader, n_independent : int
        Market layout: symbols ``L0, L0F0, L0F1, ..., I0, ...``.
    duration : float
        Window length in seconds (23,400 = one 6.5-hour equity session).
    rate : (float, float)
        Observation intensities per second are drawn uniformly in this range, one per asset.
    delay : (float, float)
        Planted delays in seconds are drawn uniformly in this range, one per follower.
    sigma : float
        Volatility of every Brownian part, log-price units per sqrt(second) (1e-4 ~ 1.5 % a session).
    beta : float
        Loading of a follower on its leader's delayed price.
    own : float
        A follower's own volatility as a multiple of ``sigma`` (1 = its variance is half its leader's).
    noise : float
        Standard deviation of the i.i.d. microstructure noise added to each observed log price (0 = none).
    seed : int
        Seed of the ``numpy.random.Generator``.

    Returns
    -------
    AsyncMarket
    """
    if n_leaders < 0 or followers_per_leader < 0 or n_independent < 0:
        raise ValueError("simulate_async_market: counts must be >= 0")
    if not (duration > 0 and 0 < rate[0] <= rate[1] and 0 <= delay[0] <= delay[1] < duration):
        raise ValueError(
            f"simulate_async_market: need duration > 0, 0 < rate[0] <= rate[1], "
            f"0 <= delay[0] <= delay[1] < duration; got {duration}, {rate}, {delay}"
        )
    rng = np.random.default_rng(seed)
    paths: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    planted: dict[tuple[str, str], float] = {}
    family: dict[str, str] = {}

    def observe(times: np.ndarray, efficient: np.ndarray) -> np.ndarray:
        return efficient + noise * rng.standard_normal(times.size) if noise > 0 else efficient

    for a in range(n_leaders):
        lead = f"L{a}"
        t_lead = _poisson_times(rng, rng.uniform(*rate), duration)
        fol = [
            (f"{lead}F{b}", _poisson_times(rng, rng.uniform(*rate), duration), float(rng.uniform(*delay)))
            for b in range(followers_per_leader)
        ]
        needed = np.concatenate([t_lead] + [t - d for _, t, d in fol])
        p_lead = _brownian_at(rng, needed, sigma)
        paths[lead] = (t_lead, observe(t_lead, p_lead[: t_lead.size]))
        family[lead] = lead
        offset = t_lead.size
        for name, t, d in fol:
            delayed = p_lead[offset : offset + t.size]
            offset += t.size
            eff = beta * delayed + _brownian_at(rng, t, own * sigma)
            paths[name] = (t, observe(t, eff))
            planted[(lead, name)] = d
            family[name] = lead
    for c in range(n_independent):
        name = f"I{c}"
        t = _poisson_times(rng, rng.uniform(*rate), duration)
        paths[name] = (t, observe(t, _brownian_at(rng, t, sigma)))
        family[name] = name
    params = {
        "n_leaders": n_leaders,
        "followers_per_leader": followers_per_leader,
        "n_independent": n_independent,
        "duration": duration,
        "rate": list(rate),
        "delay": list(delay),
        "sigma": sigma,
        "beta": beta,
        "own": own,
        "noise": noise,
        "seed": seed,
    }
    return AsyncMarket(paths=paths, planted=planted, family=family, duration=float(duration), params=params)
