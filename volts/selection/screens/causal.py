"""Vol-TS's three causal screens as members of the screen family: Granger, PCMCI, effective transfer entropy.

Each wraps the existing code in :mod:`volts.selection.causality` without changing its numbers (METHOD.md §4a-4c):

* :class:`GrangerScreen` -- the F-test scan over lag orders and l* chosen by the median p-value across the
  screened pairs (:func:`volts.selection.causality.granger.granger_scan`, :func:`~volts.selection.causality.granger.select_granger_pairs`).
  It runs on close levels (``series = "close"``, the paper's choice) or on log returns. The scan only needs the
  symbols of the screened pairs (each F-test is bivariate); when it screens fewer than all ordered pairs of those
  symbols (a later stage of a funnel), l* is chosen over the screened pairs only.
* :class:`PcmciScreen` -- tigramite PCMCI/ParCorr on *all* the returns passed (every candidate is a possible
  condition, whichever pairs are screened), an edge per METHOD.md §4b.
* :class:`TransferEntropyScreen` -- ETE with its shuffle surrogates (:func:`volts.selection.causality.entropy.ete_screen`),
  at the delay an earlier screen of the funnel found for the pair (PCMCI's tau, as Vol-TS does), else at lag 1
  (METHOD.md's ETE).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np
import pandas as pd

from volts.selection.screens.base import PairScreen, register_screen

__all__ = ["GrangerScreen", "PcmciScreen", "TransferEntropyScreen"]


def _empty(n: int = 0) -> dict:
    return {"score": np.full(n, np.nan), "p": np.full(n, np.nan), "lag": np.full(n, -1), "passed": np.zeros(n, bool)}


@register_screen
class GrangerScreen(PairScreen):
    """Granger F-test at the lag order l* that minimises the median p-value (METHOD.md §4a).

    Per pair: ``score`` = F statistic at l*, ``p`` = its ``ssr_ftest`` p-value, ``lag`` = l* (a model order, not a
    delay), kept when p < alpha (strict, as Vol-TS). Extra column ``p_bh``: Benjamini-Hochberg across the screened
    pairs at l*. With ``lag_order = "per_pair"`` each pair is tested at its own order instead (minimum p over
    the evaluated orders, Bonferroni-corrected; see :func:`volts.selection.causality.granger.select_granger_pairs`) and
    ``lag`` is that order.

    Parameters
    ----------
    series : {"close", "log_return"}
        What the F-test runs on; "close" needs ``prices`` in :meth:`run` and adds the ADF warning when the levels
        look non-stationary.
    min_lag, max_lag, min_df, adf_alpha :
        As ``[granger]`` (see :func:`volts.selection.causality.granger.granger_scan`).
    alpha, rule, top_k :
        See :class:`~volts.selection.screens.base.PairScreen`.
    """

    name = "granger"
    lag_kind = "order"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Granger's test configured from ``[granger]``."""
        g = settings.granger
        return cls(
            series=g.series,
            min_lag=g.min_lag,
            max_lag=g.max_lag,
            min_df=g.min_df,
            adf_alpha=g.adf_alpha,
            alpha=g.alpha,
            select_on=g.select_on,
            sample=g.sample,
            lag_order=g.lag_order,
            rule=rule,
            top_k=top_k,
        )

    def __init__(
        self,
        *,
        series: str = "close",
        min_lag: int = 2,
        max_lag: int = 48,
        min_df: int = 10,
        adf_alpha: float = 0.05,
        alpha: float = 0.01,
        rule: str = "test",
        top_k: int = 5,
        select_on: str = "p",
        sample: str = "per_lag",
        lag_order: str = "median_p",
    ):
        super().__init__(rule=rule, top_k=top_k, alpha=alpha)
        if lag_order not in ("median_p", "per_pair"):
            raise ValueError(f"granger: lag_order must be 'median_p' or 'per_pair', got {lag_order!r}")
        self.lag_order = lag_order  # [granger] lag_order (issue 13): one l* for all pairs | each pair's own
        if select_on not in ("p", "p_bh"):
            raise ValueError(f"granger: select_on must be 'p' or 'p_bh', got {select_on!r}")
        self.select_on = select_on
        self.sample = sample  # [granger] sample (issue 13): "per_lag" (statsmodels) | "common" (fast)
        self.executor = None  # optional volts.core.parallel.Executor for the common-sample scan
        if series not in ("close", "log_return"):
            raise ValueError(f"granger: series must be 'close' or 'log_return', got {series!r}")
        self.series, self.min_lag, self.max_lag = series, int(min_lag), int(max_lag)
        self.min_df, self.adf_alpha = int(min_df), float(adf_alpha)

    def params(self) -> dict:
        return {
            "series": self.series,
            "min_lag": self.min_lag,
            "max_lag": self.max_lag,
            "min_df": self.min_df,
            "adf_alpha": self.adf_alpha,
            "select_on": self.select_on,
            "sample": self.sample,
            **({"lag_order": self.lag_order} if self.lag_order != "median_p" else {}),
        }

    def _evaluate(self, returns, pairs, *, prices, lags) -> dict:
        from volts.selection.causality.granger import granger_scan
        from volts.selection.causality.granger_select import select_granger_pairs
        from volts.selection.causality.stationarity import adf_check, stationarity_warning

        if not pairs:
            return _empty()
        used = {s for pair in pairs for s in pair}
        syms = [str(c) for c in returns.columns if str(c) in used]
        if self.series == "close":
            if prices is None:
                raise ValueError("granger: series = 'close' needs the close prices (prices=...)")
            frame = prices[syms]
        else:
            frame = returns[syms]
        warnings = []
        if self.series == "close":
            msg = stationarity_warning(adf_check(frame, alpha=self.adf_alpha), series=self.series, alpha=self.adf_alpha)
            if msg:
                warnings.append(msg)
        extra = {"executor": self.executor} if self.executor is not None and self.sample == "common" else {}
        scan = granger_scan(
            frame, min_lag=self.min_lag, max_lag=self.max_lag, min_df=self.min_df, sample=self.sample, **extra
        )
        if list(scan.pairs) != list(pairs):  # a later stage: keep only the screened pairs (l* chosen over them)
            index = pd.MultiIndex.from_tuples(pairs, names=["leader", "follower"])
            scan = dataclasses.replace(
                scan,
                pvalues=scan.pvalues.loc[index],
                fstats=scan.fstats.loc[index],
                n_tests=len(pairs) * len(scan.evaluated_lags),
            )
        sel = select_granger_pairs(scan, alpha=self.alpha, select_on=self.select_on, lag_order=self.lag_order)
        on = (lambda t: t.p) if self.select_on == "p" else (lambda t: t.p_bh)
        lag = (
            np.array([t.lag for t in sel.tests], dtype=int)
            if self.lag_order == "per_pair"
            else np.full(len(pairs), sel.lag)
        )
        return {
            "score": [t.f for t in sel.tests],
            "p": [t.p for t in sel.tests],
            "lag": lag,
            "passed": [on(t) < self.alpha for t in sel.tests],
            "extra": {"p_bh": np.array([t.p_bh for t in sel.tests], dtype=float)},
            # the per-pair, per-order table is not copied here (about 6 s at 28,000 pairs): it is in ``raw``,
            # in selection.json (small runs) or in granger_pvalues.parquet (large ones)
            "details": {"granger": sel.to_dict(), "granger_pvalues": scan.to_dict(tests=False)},
            "raw": (scan, sel),
            "warnings": warnings,
        }


@register_screen
class PcmciScreen(PairScreen):
    """PCMCI / ParCorr edge of the pair (METHOD.md §4b), conditioning on every series passed.

    Per pair: ``lag`` = tau of the edge (0 in the contemporaneous mode); ``score`` = |partial correlation| at that
    tau; kept when the edge rule holds (some tau with per-link p <= alpha and |partial corr| >= the threshold).
    For a pair without an edge, the tau with the smallest per-link p is reported. ``p`` is the pair-level p-value
    of the strongest link after the search over taus, Šidák-adjusted: ``1 - (1 - p_min)^{n_tau}`` (uniform under
    independence when the per-tau tests are); the per-link p of the reported tau is the extra column ``p_link``,
    the signed partial correlation ``partial_corr``.

    Parameters
    ----------
    mode, tau_max, min_abs_partial_corr, links, max_conds_dim, engine :
        As ``[pcmci]`` (see :func:`volts.selection.causality.pcmci.pcmci_screen`).
    alpha, rule, top_k :
        See :class:`~volts.selection.screens.base.PairScreen`.
    """

    name = "pcmci"
    lag_kind = "delay"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """PCMCI configured from ``[pcmci]``."""
        pc = settings.pcmci
        return cls(
            mode=pc.mode,
            tau_max=pc.tau_max,
            min_abs_partial_corr=pc.min_abs_partial_corr,
            alpha=pc.alpha,
            links=pc.links,
            max_conds_dim=pc.max_conds_dim,
            engine=pc.engine,
            rule=rule,
            top_k=top_k,
        )

    def __init__(
        self,
        *,
        mode: str = "lagged",
        tau_max: int = 5,
        min_abs_partial_corr: float = 0.15,
        alpha: float = 0.05,
        rule: str = "test",
        top_k: int = 5,
        links: str = "all",
        max_conds_dim: int = 10,
        engine: str = "native",
    ):
        super().__init__(rule=rule, top_k=top_k, alpha=alpha)
        self.mode, self.tau_max, self.min_abs_partial_corr = mode, int(tau_max), float(min_abs_partial_corr)
        # [pcmci] links (issue 13): "all" = full PCMCI; "granger" = only the screened pairs' links, bounded
        # conditioning (pcmci.py, "Scaling"); "auto" = "all" when the rows allow the full graph
        self.links, self.max_conds_dim = links, int(max_conds_dim)
        self.engine = engine  # "native" | "tigramite" (full PCMCI only; the same floats)

    def params(self) -> dict:
        return {
            "mode": self.mode,
            "tau_max": self.tau_max,
            "min_abs_partial_corr": self.min_abs_partial_corr,
            "links": self.links,
            "max_conds_dim": self.max_conds_dim,
            "engine": self.engine,
        }

    def _evaluate(self, returns, pairs, *, prices, lags) -> dict:
        from volts.selection.causality.pcmci import pcmci_screen

        links = self.links
        if links == "auto":
            links = "all" if len(returns) >= (returns.shape[1] + 1) * self.tau_max + 3 else "granger"
        restrict = (
            {"links": [tuple(p) for p in pairs], "max_conds_dim": self.max_conds_dim}
            if links == "granger" and self.mode == "lagged"
            else {}
        )
        res = pcmci_screen(
            returns,
            tau_max=self.tau_max,
            alpha=self.alpha,
            min_abs_partial_corr=self.min_abs_partial_corr,
            mode=self.mode,
            engine=self.engine,
            **restrict,
        )
        taus = list(range(1, self.tau_max + 1)) if self.mode == "lagged" else [0]
        pos = {name: k for k, name in enumerate(res.var_names)}
        n = len(pairs)
        out = _empty(n)
        p_link, value = np.full(n, np.nan), np.full(n, np.nan)
        for k, (x, y) in enumerate(pairs):
            i, j = pos[x], pos[y]
            pv = np.array([res.p_matrix[i, j, t] for t in taus], dtype=float)
            edge = res.edge(x, y)
            tau = int(edge.tau) if edge is not None else taus[int(np.argmin(pv))]
            value[k] = float(res.val_matrix[i, j, tau])
            p_link[k] = float(res.p_matrix[i, j, tau])
            out["score"][k] = abs(value[k])
            out["lag"][k] = tau
            out["p"][k] = 1.0 - (1.0 - float(pv.min())) ** len(taus)
            out["passed"][k] = edge is not None
        out.update(extra={"partial_corr": value, "p_link": p_link}, details=res.to_dict(), raw=res)
        return out


@register_screen
class TransferEntropyScreen(PairScreen):
    """Effective transfer entropy leader -> follower with the time-shuffle surrogate test (METHOD.md §4c).

    The delay is the one an earlier screen of the funnel found for the pair (``lags``; PCMCI's tau in Vol-TS,
    raised to 1 when it is 0), else 1. Per pair: ``score`` = ETE in bits, ``p`` = surrogate p-value, ``lag`` =
    the delay used; kept when ETE > 0, p <= alpha and ETE > the reverse direction's ETE. Extra columns: ``te``,
    ``ete_reverse``, ``p_reverse``, ``reason``.

    Parameters
    ----------
    bins, history, surrogates, seed, stop_early :
        As ``[entropy]`` (see :func:`volts.selection.causality.entropy.ete_screen`).
    alpha, rule, top_k :
        See :class:`~volts.selection.screens.base.PairScreen`.
    """

    name = "transfer_entropy"
    lag_kind = "delay"

    @classmethod
    def from_settings(cls, settings, *, rule, top_k):
        """Effective transfer entropy configured from ``[entropy]``."""
        e = settings.entropy
        return cls(
            bins=e.bins,
            history=e.history,
            surrogates=e.surrogates,
            seed=e.seed,
            alpha=e.alpha,
            stop_early=e.stop_early,
            rule=rule,
            top_k=top_k,
        )

    def __init__(
        self,
        *,
        bins: int = 3,
        history: int = 1,
        surrogates: int = 100,
        seed: int = 0,
        alpha: float = 0.05,
        rule: str = "test",
        top_k: int = 5,
        stop_early: bool = False,
    ):
        super().__init__(rule=rule, top_k=top_k, alpha=alpha)
        self.bins, self.history, self.surrogates, self.seed = int(bins), int(history), int(surrogates), int(seed)
        self.stop_early = bool(stop_early)
        self.reverse_when_dropped = True  # run_selection(pairs_only=True) turns it off (see ete_screen)

    def params(self) -> dict:
        return {
            "bins": self.bins,
            "history": self.history,
            "surrogates": self.surrogates,
            "seed": self.seed,
            "stop_early": self.stop_early,
            "lag": "the delay of an earlier screen (PCMCI tau), at least 1; else 1",
        }

    def _evaluate(self, returns, pairs, *, prices, lags: Mapping) -> dict:
        from volts.selection.causality.entropy import ete_screen

        spec = [(x, y, max(1, int(lags.get((x, y), 1)))) for x, y in pairs]
        res = ete_screen(
            returns,
            spec,
            bins=self.bins,
            history=self.history,
            surrogates=self.surrogates,
            alpha=self.alpha,
            seed=self.seed,
            # a curtailed test keeps the test rule's decisions, not the ETE ranking of top_k
            stop_early=self.stop_early and self.rule == "test",
            # a dropped pair's reverse ETE decides nothing under the test rule
            reverse_when_dropped=self.reverse_when_dropped or self.rule != "test",
        )
        rows = res.rows
        return {
            "score": [r["ete"] for r in rows],
            "p": [r["p"] for r in rows],
            "lag": [r["lag"] for r in rows],
            "passed": [r["kept"] for r in rows],
            "extra": {
                "te": np.array([r["te"] for r in rows], dtype=float),
                "ete_reverse": np.array([r["ete_reverse"] for r in rows], dtype=float),
                "p_reverse": np.array([r["p_reverse"] for r in rows], dtype=float),
                "reason": [r["reason"] for r in rows],
            },
            "details": res.to_dict(),
            "raw": res,
        }
