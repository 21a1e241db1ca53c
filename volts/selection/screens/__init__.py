"""Lead-lag pair screens behind one interface (issue 12): ``PairScreen`` -> ``ScreenResult``.

The names are a contract for ``[selection] screens`` and the CLI:

* Vol-TS's causal screens: ``granger``, ``pcmci``, ``transfer_entropy`` (:mod:`volts.selection.screens.causal`);
* the pairwise lead-lag scores of seeds 003/004 with a permutation test: ``ccf_lag1``, ``ccf_best``,
  ``ccf_auc``, ``levy_area``, ``distance_correlation``, ``mutual_information`` (:mod:`volts.selection.screens.pairwise`);
* the Hayashi-Yoshida lead-lag ratio: ``hayashi_yoshida`` (:mod:`volts.selection.screens.hayashi_yoshida`).

All-pairs lead-lag matrices (Lévy area as one matrix product, ccf-lag1, ccf-auc, ...) are in
:mod:`volts.selection.leadlag`; the screens' pair-batched statistics in :mod:`volts.selection.screens.stats`. A screen class joins the
registry :data:`SCREENS` with the ``@register_screen`` decorator where it is defined; the config and the CLI read
the names from there. :func:`make_screen` builds a screen from the settings; :func:`run_funnel` runs a sequence
of screens, each on the pairs the previous one kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import pandas as pd

from volts.core.registry import load_plugins
from volts.selection.screens.base import SCREENS, PairScreen, ScreenResult, register_screen

# importing the modules registers their screens (``@register_screen``), in the order of the contract
from volts.selection.screens.causal import GrangerScreen, PcmciScreen, TransferEntropyScreen  # noqa: F401
from volts.selection.screens.pairwise import (  # noqa: F401
    CcfAucScreen,
    CcfBestScreen,
    CcfLag1Screen,
    DistanceCorrelationScreen,
    LevyAreaScreen,
    MutualInformationScreen,
    PermutationScreen,
)
from volts.selection.screens.hayashi_yoshida import HayashiYoshidaScreen  # noqa: F401

if TYPE_CHECKING:
    from volts.core.config import Settings

__all__ = [
    "SCREENS",
    "FunnelOutcome",
    "PairScreen",
    "PermutationScreen",
    "ScreenResult",
    "make_screen",
    "register_screen",
    "run_funnel",
]


def make_screen(name: str, settings: "Settings") -> PairScreen:
    """The screen ``name`` configured from ``settings``.

    Granger, PCMCI and transfer entropy read ``[granger]``, ``[pcmci]``, ``[entropy]``; the pairwise screens read
    ``[screens]``. The keep rule is ``[selection] rules[name]``, else ``[selection] rule``; K is ``[selection]
    top_k``.

    Raises
    ------
    KeyError
        An unknown name (the message lists the valid ones).
    """
    load_plugins(settings.plugins)  # a Dask worker unpickles settings without re-running their validators
    if name not in SCREENS:
        raise KeyError(f"unknown screen {name!r}; valid: {', '.join(SCREENS)}")
    sel = settings.selection
    return SCREENS[name].from_settings(settings, rule=sel.rules.get(name, sel.rule), top_k=sel.top_k)


@dataclass(frozen=True, eq=False)
class FunnelOutcome:
    """The result of :func:`run_funnel`.

    Attributes
    ----------
    results : dict of str to ScreenResult
        Per screen, in the order run.
    kept : list of (str, str)
        Pairs that passed every screen, in input order.
    dropped : dict of str to str
        ``"leader->follower"`` -> the screen where the pair left.
    delays : dict of (str, str) to int
        The last delay (in bars) a ``lag_kind = "delay"`` screen found per surviving pair.
    warnings : list of str
    """

    results: dict[str, ScreenResult]
    kept: list[tuple[str, str]]
    dropped: dict[str, str]
    delays: dict[tuple[str, str], int]
    warnings: list[str]


def run_funnel(
    screens: Sequence[PairScreen],
    returns: pd.DataFrame,
    pairs,
    *,
    prices: pd.DataFrame | None = None,
    timed: Callable | None = None,
) -> FunnelOutcome:
    """Run screens in sequence, each on the pairs the previous one kept.

    Parameters
    ----------
    screens : sequence of PairScreen
        Distinct names.
    returns : pandas.DataFrame, shape (T, N)
        Log returns of every candidate (PCMCI conditions on all of them).
    pairs : iterable of (leader, follower)
        Pairs entering the first screen.
    prices : pandas.DataFrame, optional
        Close prices (T + 1 dates) for Granger on levels.
    timed : callable, optional
        ``timed(stage, fn, *args, **kwargs)`` wrapper for progress and timings (default: call ``fn``).

    Returns
    -------
    FunnelOutcome
    """
    call = timed or (lambda stage, fn, *a, **k: fn(*a, **k))
    current = [(str(a), str(b)) for a, b in pairs]
    results: dict[str, ScreenResult] = {}
    dropped: dict[str, str] = {}
    delays: dict[tuple[str, str], int] = {}
    warnings: list[str] = []
    for screen in screens:
        if screen.name in results:
            raise ValueError(f"screen {screen.name!r} appears twice in the funnel")
        res = call(screen.name, screen.run, returns, current, prices=prices, lags=delays)
        warnings.extend(res.warnings)
        kept = res.kept_pairs
        for pair, lag, k in zip(res.pairs, res.lag, res.kept):
            if not k:
                dropped[f"{pair[0]}->{pair[1]}"] = screen.name
            elif screen.lag_kind == "delay" and lag >= 0:
                delays[pair] = int(lag)
        results[screen.name] = res
        current = kept
    return FunnelOutcome(results=results, kept=current, dropped=dropped, delays=delays, warnings=warnings)
