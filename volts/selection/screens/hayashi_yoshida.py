"""The ``hayashi_yoshida`` screen: Hayashi-Yoshida lead-lag ratio and Hoffmann-Rosenbaum-Yoshida lag on bars.

On bars every symbol is observed at the same bar closes, so the screen's clock is the bar number and the shift
grid is ``-L..L`` bars (``L = max_lag``). On that clock the shifted Hayashi-Yoshida contrast of
:mod:`volts.selection.hayashi_yoshida` is exactly ``U(k) = sum_t x_t y_{t+k}`` (the leader's return on bar t meets the
follower's return k bars later; equal bars only touch at their end points), which this screen computes for all
pairs at once; ``tests/screens/test_hayashi_yoshida_screen.py`` checks it against the asynchronous estimator
pair by pair.
For ticks or bars observed at different times use :func:`volts.selection.hayashi_yoshida.hy_lead_lag_matrix` directly.

Per ordered pair (leader x, follower y):

* score = lead-lag ratio ``LLR = sum_{k=1..L} rho(k)^2 / sum_{k=1..L} rho(-k)^2`` with the HY correlation
  ``rho(k) = U(k) / sqrt(sum x^2 sum y^2)`` (Huth & Abergel 2014, Sect. 3.2); > 1 when x leads;
* lag = ``theta_hat = argmax_k |U(k)|`` in bars (Hoffmann, Rosenbaum & Yoshida 2013), reported when >= 0, else -1
  (the extra column ``theta_hat`` keeps the signed value);
* p = Bonferroni p-value of ``max_k |z(k)|``, ``z(k) = U(k) / sqrt(sum_t x_t^2 y_{t+k}^2)`` over the ``2L + 1``
  shifts: a test of no dependence at any shift (:func:`volts.selection.hayashi_yoshida.hy_test`);
* kept under the test rule when ``p <= alpha`` and ``LLR > 1``. The score is a ratio (swapping the pair gives
  ``1 / LLR``), not a signed asymmetry, so the top-K rule keeps the K largest ratios.

Extra columns: ``theta_hat`` (signed, bars), ``rho_hat`` (HY correlation at theta_hat), ``max_abs_z``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from volts.selection.screens.base import PairScreen, register_screen

__all__ = ["HayashiYoshidaScreen"]


@register_screen
class HayashiYoshidaScreen(PairScreen):
    """Hayashi-Yoshida lead-lag screen on bars (see the module docstring).

    Parameters
    ----------
    max_lag : int
        L: shifts -L..L bars.
    alpha, rule, top_k :
        See :class:`~volts.selection.screens.base.PairScreen`.

    Sources: Hayashi & Yoshida (2005), Bernoulli 11(2); Hoffmann, Rosenbaum & Yoshida (2013), Bernoulli 19(2);
    Huth & Abergel (2014), J. Empirical Finance 26.
    """

    name = "hayashi_yoshida"
    lag_kind = "delay"
    directional = False

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Configured from ``[screens]`` (``max_lag``, ``alpha``)."""
        return cls(max_lag=settings.screens.max_lag, alpha=settings.screens.alpha, rule=rule, top_k=top_k)

    def __init__(self, *, max_lag: int = 5, alpha: float = 0.05, rule: str = "test", top_k: int = 5):
        super().__init__(rule=rule, top_k=top_k, alpha=alpha)
        if max_lag < 1:
            raise ValueError(f"hayashi_yoshida: max_lag must be >= 1, got {max_lag}")
        self.max_lag = int(max_lag)

    def params(self) -> dict:
        return {"max_lag": self.max_lag, "test": "bonferroni_max_abs_z"}

    def min_dates(self) -> int:
        """Fewest bars the screen accepts."""
        return 2 * (self.max_lag + 1) + 8

    def pair_statistics(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """HY statistics of P column pairs on the bar clock.

        Parameters
        ----------
        x, y : numpy.ndarray, shape (T, P)
            Leaders' and followers' log returns, column p = pair p.

        Returns
        -------
        dict
            ``shifts`` (K,) = -L..L; ``contrast``, ``correlation``, ``z`` of shape (K, P); ``llr``, ``theta_hat``,
            ``rho_hat``, ``max_abs_z``, ``p`` of shape (P,).
        """
        T = x.shape[0]
        shifts = np.arange(-self.max_lag, self.max_lag + 1)
        u = np.empty((shifts.size, x.shape[1]))
        v = np.empty_like(u)
        x2, y2 = x * x, y * y
        for r, k in enumerate(shifts):
            a, b = (slice(0, T - k), slice(k, T)) if k >= 0 else (slice(-k, T), slice(0, T + k))
            u[r] = np.einsum("tp,tp->p", x[a], y[b])
            v[r] = np.einsum("tp,tp->p", x2[a], y2[b])
        den = np.sqrt(x2.sum(axis=0) * y2.sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(den > 0, u / den, 0.0)
            z = np.where(v > 0, u / np.sqrt(v), 0.0)
            llr = (rho[shifts > 0] ** 2).sum(axis=0) / (rho[shifts < 0] ** 2).sum(axis=0)
        best = np.argmax(np.abs(u), axis=0)
        cols = np.arange(x.shape[1])
        max_abs_z = np.abs(z).max(axis=0)
        p = np.minimum(1.0, shifts.size * 2.0 * ndtr(-max_abs_z))
        return {
            "shifts": shifts,
            "contrast": u,
            "correlation": rho,
            "z": z,
            "llr": llr,
            "theta_hat": shifts[best],
            "rho_hat": rho[best, cols],
            "max_abs_z": max_abs_z,
            "p": p,
        }

    def _evaluate(self, returns, pairs, *, prices, lags) -> dict:
        from volts.selection.causality.granger import _check_frame
        from volts.core.errors import DataError

        if not pairs:
            return {"score": [], "p": [], "lag": [], "passed": []}
        used = list(dict.fromkeys(s for pair in pairs for s in pair))
        frame = returns[used]
        values = _check_frame(frame, what=self.name)
        T = values.shape[0]
        if T < self.min_dates():
            raise DataError(
                f"{self.name}: {T} bars from {frame.index[0]} to {frame.index[-1]} are too few "
                f"(rule: at least {self.min_dates()} for shifts up to {self.max_lag} bars; "
                f"lower [screens] max_lag or widen the window)"
            )
        col = {s: k for k, s in enumerate(used)}
        st = self.pair_statistics(values[:, [col[a] for a, _ in pairs]], values[:, [col[b] for _, b in pairs]])
        llr, p, theta = st["llr"], st["p"], st["theta_hat"]
        passed = (p <= self.alpha) & (llr > 1.0)
        return {
            "score": llr,
            "p": p,
            "lag": np.where(theta >= 0, theta, -1),
            "passed": passed,
            "extra": {"theta_hat": theta.astype(float), "rho_hat": st["rho_hat"], "max_abs_z": st["max_abs_z"]},
        }
