"""The pair-screen interface: ``PairScreen`` (one job per class) and its result, ``ScreenResult``.

Modelled on tigramite's ``CondIndTest``: a screen is configured once (its parameters are constructor
arguments), then :meth:`PairScreen.run` takes log returns (T dates x N symbols) and candidate ordered pairs
(leader, follower) and returns, per pair, a score, a p-value and a lag where they are defined, and a kept flag,
as documented arrays on a :class:`ScreenResult`.

Keep rules (``rule``):

* ``"test"``: the screen's own test. For the permutation screens: p <= alpha and score > 0 (the score is a
  lead-lag asymmetry, positive when the leader leads). Granger, PCMCI and transfer entropy keep their own rules
  (METHOD.md §4a-4c).
* ``"top_k"``: the ``top_k`` pairs with the highest score (finite, and > 0 for a directional score), ties broken
  by input order. A screen without a test (``surrogates = 0``) always uses it.

Context passed on by the funnel (``run(..., prices=, lags=)``): ``prices`` are the close levels for Granger on
levels; ``lags`` are the delays (in bars) that earlier screens found per pair (PCMCI's tau, ccf_best's lag),
which transfer entropy uses. A screen's ``lag_kind`` says whether its lag is a delay between leader and follower
(``"delay"``), a model order (Granger's l*, ``"order"``) or undefined (``None``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Iterable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import DataError
from volts.core.registry import SCREENS as _REGISTRY

__all__ = ["SCREENS", "PairScreen", "ScreenResult", "normalise_pairs", "register_screen"]

Rule = Literal["test", "top_k"]

#: The registry (:data:`volts.core.registry.SCREENS`): contract name -> screen class, in the order the classes are
#: registered. A class joins it by the :func:`register_screen` decorator where it is defined; ``[selection]
#: screens``, the CLI and the tests read the names from it.
SCREENS = _REGISTRY


def register_screen(cls: type["PairScreen"]) -> type["PairScreen"]:
    """Class decorator: add a :class:`PairScreen` subclass to :data:`SCREENS` under its ``name``.

    Adding a screen is then one class (this decorator on it) and its name in the config's ``[selection] screens``.
    :func:`volts.selection.screens.make_screen` builds it with :meth:`PairScreen.from_settings`.

    Raises
    ------
    ValueError
        An empty name, or a name another class holds already.
    """
    name = cls.__dict__.get("name", "")
    if not name:
        raise ValueError(f"{cls.__name__}: a registered screen sets its own class attribute 'name'")
    return SCREENS.add(name, cls)


def _f(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class ScreenResult:
    """What one screen found for each candidate pair.

    Attributes
    ----------
    screen : str
        Screen name (``granger``, ``levy_area``, ...).
    pairs : tuple of (str, str)
        The ordered pairs (leader, follower) screened, in input order; every array below is aligned to it.
    score : numpy.ndarray of float, shape (n_pairs,)
        The screen's statistic; larger = stronger evidence that the leader leads (units per screen, see its class).
    p : numpy.ndarray of float, shape (n_pairs,)
        p-value of the screen's test; NaN where the screen has no test.
    lag : numpy.ndarray of int, shape (n_pairs,)
        Lag in trading days where defined (see ``lag_kind``), else -1.
    kept : numpy.ndarray of bool, shape (n_pairs,)
        The keep decision under ``rule``.
    rule : {"test", "top_k"}
    alpha : float or None
        Level of the test (None when the screen has no single level).
    top_k : int or None
        K of the top-K rule (None under ``rule = "test"``).
    lag_kind : {"delay", "order"} or None
    params : dict
        The screen's parameters (JSON-ready).
    extra : dict of str to numpy.ndarray
        Further per-pair columns (e.g. reverse-direction statistics), aligned to ``pairs``.
    details : dict or None
        The wrapped computation's own JSON (e.g. the Granger selection), for ``selection.json``.
    raw : object
        The wrapped computation's result object (for figures), or None.
    warnings : tuple of str
        One-line warnings (e.g. the ADF warning of Granger on levels).
    """

    screen: str
    pairs: tuple[tuple[str, str], ...]
    score: np.ndarray
    p: np.ndarray
    lag: np.ndarray
    kept: np.ndarray
    rule: str
    alpha: float | None
    top_k: int | None
    lag_kind: str | None
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    details: Any = None
    raw: Any = None
    warnings: tuple[str, ...] = ()

    @property
    def kept_pairs(self) -> list[tuple[str, str]]:
        """(leader, follower) of the kept pairs, in input order."""
        return [pair for pair, k in zip(self.pairs, self.kept) if k]

    def row(self, leader: str, follower: str) -> dict:
        """One pair's record (see :meth:`rows`); KeyError when the pair was not screened."""
        i = self._position.get((leader, follower))
        if i is None:
            raise KeyError(f"{leader}->{follower}: not screened by {self.screen}")
        return self._row(i)

    @cached_property
    def _position(self) -> dict[tuple[str, str], int]:
        # pair -> index, built once: a linear search cost 2.9 ms a lookup among the 140,250 pairs of an S&P crash
        # week, about 200 s for its 5,961 final pairs (12 lookups each)
        position: dict[tuple[str, str], int] = {}
        for i, pair in enumerate(self.pairs):
            position.setdefault(pair, i)  # the first occurrence, as tuple.index gave
        return position

    def _row(self, i: int) -> dict:
        leader, follower = self.pairs[i]
        out = {
            "leader": leader,
            "follower": follower,
            "score": _f(self.score[i]),
            "p": _f(self.p[i]),
            "lag": int(self.lag[i]) if self.lag[i] >= 0 else None,
            "kept": bool(self.kept[i]),
        }
        for name, values in self.extra.items():
            v = values[i]
            out[name] = _f(v) if isinstance(v, (float, np.floating)) else (v.item() if hasattr(v, "item") else v)
        return out

    def rows(self) -> list[dict]:
        """One plain dict per pair: leader, follower, score, p, lag, kept and the ``extra`` columns."""
        return [self._row(i) for i in range(len(self.pairs))]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame."""
        return pd.DataFrame(self.rows(), columns=["leader", "follower", "score", "p", "lag", "kept", *self.extra])

    def to_dict(self) -> dict:
        """JSON-ready: the screen's settings, counts and rows (``details`` are stored separately by the funnel)."""
        return {
            "screen": self.screen,
            "rule": self.rule,
            "alpha": self.alpha,
            "top_k": self.top_k,
            "lag_kind": self.lag_kind,
            "params": dict(self.params),
            "entered": len(self.pairs),
            "kept": int(np.sum(self.kept)),
            "rows": self.rows(),
        }


def normalise_pairs(pairs: Iterable[Sequence], columns: Iterable) -> list[tuple[str, str]]:
    """Validate ordered pairs against the symbols of a frame; returns a list of (leader, follower) strings.

    Raises
    ------
    ValueError
        A malformed pair, a pair of a symbol with itself, or a repeated pair.
    DataError
        A symbol that is not a column of the returns.
    """
    have = [str(c) for c in columns]
    known = set(have)
    out: list[tuple[str, str]] = []
    seen = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a pair is (leader, follower); got {pair!r}")
        leader, follower = str(pair[0]), str(pair[1])
        if leader == follower:
            raise ValueError(f"pair {leader}->{follower}: leader and follower must differ")
        for sym in (leader, follower):
            if sym not in known:
                raise DataError(
                    f"{sym}: symbol of pair {leader}->{follower} is not in the returns "
                    f"({', '.join(have)}); screen only symbols you passed returns for"
                )
        if (leader, follower) in seen:
            raise ValueError(f"pair {leader}->{follower} given twice")
        seen.add((leader, follower))
        out.append((leader, follower))
    return out


def top_k_mask(score: np.ndarray, k: int, *, positive_only: bool) -> np.ndarray:
    """Boolean mask of the ``k`` highest finite scores (and > 0 when ``positive_only``); ties by position."""
    score = np.asarray(score, dtype=float)
    eligible = np.isfinite(score) & ((score > 0) if positive_only else True)
    order = [i for i in np.argsort(-np.where(eligible, score, -np.inf), kind="stable") if eligible[i]]
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:k]] = True
    return mask


class PairScreen(ABC):
    """A lead-lag screen of ordered pairs (one job per class; tigramite's ``CondIndTest`` is the model).

    Subclasses set the class attributes and implement :meth:`_evaluate`; :meth:`run` validates the input, calls
    it and applies the keep rule.

    Parameters
    ----------
    rule : {"test", "top_k"}
        Keep rule (see the module docstring).
    top_k : int
        K of the top-K rule.
    alpha : float
        Level of the screen's test.

    Attributes
    ----------
    name : str
        Contract name used in ``[selection] screens`` (class attribute).
    lag_kind : {"delay", "order"} or None
        What the reported lag means (class attribute).
    directional : bool
        True when the score is a skew-symmetric lead-lag asymmetry (positive = leader leads); the top-K rule then
        keeps positive scores only (class attribute).
    """

    name: ClassVar[str] = ""
    lag_kind: ClassVar[str | None] = None
    directional: ClassVar[bool] = False

    def __init__(self, *, rule: Rule = "test", top_k: int = 5, alpha: float = 0.05):
        if rule not in ("test", "top_k"):
            raise ValueError(f"{self.name}: rule must be 'test' or 'top_k', got {rule!r}")
        if top_k < 1:
            raise ValueError(f"{self.name}: top_k must be >= 1, got {top_k}")
        if not 0 < alpha < 1:
            raise ValueError(f"{self.name}: alpha must be in (0, 1), got {alpha}")
        self.rule: Rule = rule
        self.top_k = int(top_k)
        self.alpha = float(alpha)

    # -- what subclasses provide ------------------------------------------------------------------------
    @property
    def has_test(self) -> bool:
        """False when the screen gives scores only (then the top-K rule applies)."""
        return True

    def params(self) -> dict:
        """The screen's own parameters, JSON-ready (recorded in ``selection.json``)."""
        return {}

    @classmethod
    def from_settings(cls, settings: Any, *, rule: Rule, top_k: int) -> "PairScreen":
        """The screen configured from the run's settings (:class:`volts.core.config.Settings`).

        ``rule`` and ``top_k`` are the funnel's keep rule for this screen. The default passes only them; a screen
        with parameters of its own overrides this to read its section of the settings.
        """
        return cls(rule=rule, top_k=top_k)

    @abstractmethod
    def _evaluate(
        self,
        returns: pd.DataFrame,
        pairs: list[tuple[str, str]],
        *,
        prices: pd.DataFrame | None,
        lags: Mapping[tuple[str, str], int],
    ) -> dict:
        """Compute the screen; return a dict with ``score``, ``p``, ``lag`` (arrays aligned to ``pairs``),
        ``passed`` (the test's decision), and optionally ``extra``, ``details``, ``raw``, ``warnings``."""

    # -- the public call ----------------------------------------------------------------------------------
    def run(
        self,
        returns: pd.DataFrame,
        pairs: Iterable[Sequence],
        *,
        prices: pd.DataFrame | None = None,
        lags: Mapping[tuple[str, str], int] | None = None,
    ) -> ScreenResult:
        """Screen ordered pairs.

        Parameters
        ----------
        returns : pandas.DataFrame, shape (T, N)
            Daily log returns, dates x symbols, in time order, no NaN in the columns the pairs use.
        pairs : iterable of (leader, follower)
            Candidate ordered pairs; every symbol must be a column of ``returns``.
        prices : pandas.DataFrame, optional
            Close prices of the same symbols (T + 1 dates), for screens on levels (Granger with series "close").
        lags : mapping of (leader, follower) to int, optional
            Delays found by earlier screens of the funnel (see the module docstring).

        Returns
        -------
        ScreenResult

        Raises
        ------
        DataError
            A symbol not in ``returns``, NaN/inf, a constant series, or too few dates for the screen.
        ValueError
            A malformed or repeated pair.
        """
        if not isinstance(returns, pd.DataFrame):
            raise DataError(
                f"{self.name}: expected a pandas DataFrame of dates x symbols, got {type(returns).__name__}"
            )
        pairs = normalise_pairs(pairs, returns.columns)
        out = self._evaluate(returns, pairs, prices=prices, lags=dict(lags or {}))
        n = len(pairs)
        score = np.asarray(out["score"], dtype=float).reshape(n)
        p = np.asarray(out["p"], dtype=float).reshape(n)
        lag = np.asarray(out["lag"], dtype=np.int64).reshape(n)
        rule = self.rule if self.has_test else "top_k"
        if rule == "test":
            kept = np.asarray(out["passed"], dtype=bool).reshape(n)
        else:
            kept = top_k_mask(score, self.top_k, positive_only=self.directional)
        return ScreenResult(
            screen=self.name,
            pairs=tuple(pairs),
            score=score,
            p=p,
            lag=lag,
            kept=kept,
            rule=rule,
            alpha=self.alpha if rule == "test" and self.has_test else None,
            top_k=self.top_k if rule == "top_k" else None,
            lag_kind=self.lag_kind,
            params=self.params(),
            extra=dict(out.get("extra", {})),
            details=out.get("details"),
            raw=out.get("raw"),
            warnings=tuple(out.get("warnings", ())),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rule={self.rule!r}, top_k={self.top_k}, alpha={self.alpha}, {self.params()})"
