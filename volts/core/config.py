"""Settings: ``config.toml`` -> validated, frozen settings objects.

Every parameter of METHOD.md lives here, grouped by stage, with the paper's value as the default (METHOD.md says
where a default is a decision of ours). Loading validates types and ranges and rejects unknown keys, naming the
key and the nearest valid one. Settings objects are frozen; ``Settings.override`` returns a changed copy (the CLI
uses it for flags such as ``--data-dir``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_serializer, model_validator)

from volts.core.errors import ConfigError

PAPER_UNIVERSE = ("MSFT", "GOOGL", "MU", "NVDA", "AMZN", "META", "QCOM", "IBM", "INTC", "TSLA")

#: Largest seed a setting or option accepts: seeds reach ``numpy.random.RandomState`` and scikit-learn's
#: ``random_state``, which take 0 .. 2**32 - 1 only.
SEED_MAX = 2**32 - 1


class _Section(BaseModel):
    # allow_inf_nan=False: no setting is meaningful at NaN or infinity (capital = inf, risk_free = nan, ...)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CsvLayout(_Section):
    """How the columns of a vendor's CSV file map onto a bar. The defaults read Yahoo Finance files."""

    date: str = "Date"
    open: str = "Open"
    high: str = "High"
    low: str = "Low"
    close: str = "Close"
    volume: str | None = "Volume"
    date_format: str | None = Field(None, description="strptime format, e.g. '%m/%d/%Y'; None = ISO 8601")
    row_order: Literal["ascending", "descending"] = "ascending"
    thousands: str | None = ","
    decimal: Literal[".", ","] = Field(".", description="decimal mark of the numbers; ',' reads '38,69' as 38.69 "
                                                         "(then thousands must not be ',')")
    currency_symbols: str = "$€£¥"
    file_pattern: str = "{symbol}.csv"

    @model_validator(mode="after")
    def _formats(self) -> "CsvLayout":
        pattern = self.file_pattern
        if pattern.count("{symbol}") != 1 or pattern.replace("{symbol}", "").count("{") or \
                pattern.replace("{symbol}", "").count("}"):
            raise ValueError(f"data.csv.file_pattern {pattern!r} must hold '{{symbol}}' exactly once and no other "
                             f"braces, e.g. '{{symbol}}.csv'")
        if "/" in pattern or "\\" in pattern:
            raise ValueError(f"data.csv.file_pattern {pattern!r} must be a file name without a folder "
                             f"(set data.dir for the folder)")
        if self.decimal == "," and self.thousands == ",":
            raise ValueError("data.csv.decimal = ',' needs another data.csv.thousands ('.', ' ' or '')")
        if self.date_format is not None:
            probe = dt.datetime(2023, 6, 8)
            try:
                back = dt.datetime.strptime(probe.strftime(self.date_format), self.date_format)
            except (ValueError, TypeError):
                back = None
            if back is None or back.date() != probe.date():
                raise ValueError(f"data.csv.date_format {self.date_format!r} is not a strptime format that reads "
                                 f"a day back (e.g. '%m/%d/%Y' or '%Y-%m-%d'); unset it for ISO 8601 dates")
        return self

class Mt5Settings(_Section):
    """MetaTrader5 source. Credentials never live here: see ``login_env`` / ``credentials_file``."""

    bridge: Literal["auto", "native", "mt5linux"] = "auto"
    host: str = "127.0.0.1"
    port: int = Field(18812, ge=1, le=65535)
    symbol_prefix: str = ""
    symbol_suffix: str = ""
    symbol_map: dict[str, str] = Field(default_factory=dict)
    server_utc_offset_hours: float = Field(0.0, ge=-14, le=14)
    exchange_timezone: str = "America/New_York"
    session_close_local: str = "16:00"
    login_env: str = "VOLTS_MT5_LOGIN"
    password_env: str = "VOLTS_MT5_PASSWORD"
    server_env: str = "VOLTS_MT5_SERVER"
    credentials_file: str | None = None
    retries: int = Field(3, ge=0, le=20)
    backoff_seconds: float = Field(1.0, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)


#: The intraday keys of ``[data]`` and their defaults (omitted from the settings' dump when at these values).
INTRADAY_DEFAULTS = {"timeframe": "D1", "timezone": "UTC", "gap_policy": "error"}


class DataSettings(_Section):
    source: Literal["csv", "mt5", "synthetic"] = "csv"
    dir: str = "../shared/data/ohlcv"
    universe: tuple[str, ...] = Field(PAPER_UNIVERSE, min_length=1)
    on_invalid: Literal["error", "drop"] = "error"
    missing: Literal["error", "drop_dates", "forward_fill_close"] = "error"
    max_abs_return: float = Field(0.5, gt=0, description="flag |close-to-close simple return| above this")
    return_jump: Literal["error", "flag"] = Field(
        "error", description="a return beyond max_abs_return: stop with an error, or keep the bar and report it "
                             "as a flagged note (volts walkforward flags unless --return-jump error)")
    synthetic_seed: int = Field(0, ge=0, le=SEED_MAX,
                                description="seed of the synthetic demo market (source = 'synthetic')")
    # --- plausibility rules (safety, issue 14) -----------------------------------------------------------
    calendar: str | None = Field("XNYS", description="exchange_calendars code of the exchange whose sessions "
                                                     "the bars must fall on (rule non_session_date); None = off")
    max_range_multiple: float = Field(10.0, gt=0, description="rule range_outlier: a wick beyond the body larger "
                                      "than this many times the neighbouring days' median range and than "
                                      "max_abs_return")
    window_coverage: Literal["error", "warn"] = Field("error", description="a window the data do not cover: "
                                                      "stop (exit 3) or warn and run on the bars there are")
    coverage_gap_days: int = Field(7, ge=1, description="longest stretch without a bar (calendar days) that "
                                                        "still counts as covered (weekends, holidays)")
    # -- scale (issue 13): point-in-time universe, per-symbol quarantine, parsed-bars cache
    membership: str | None = Field(None, description="ticker,start_date,end_date CSV; replaces `universe` "
                                                     "with the members of each as-of date")
    on_bad_symbol: Literal["error", "exclude"] = Field(
        "error", description="a symbol whose file fails to read/validate: stop the run, or exclude and report it")
    cache_dir: str | None = Field(None, description="folder of the parsed-bars Parquet cache; None = no cache")
    spy_file: str | None = Field(None, description="CSV of SPY's daily bars for the walk-forward's SPY benchmark "
                                                   "(same layout as the data files); None = SPY.csv in `dir`")
    # -- bar size and 24-hour markets (volts.data.timeframes, volts.data.intraday_calendar)
    timeframe: Literal["M1", "M5", "M15", "M30", "H1", "H4", "D1"] = Field(
        "D1", description="bar size by its MetaTrader5 name; D1 = daily bars indexed by session date")
    timezone: str = Field("UTC", description="time zone of the time stamps in intraday CSV files (IANA name); "
                                             "bars are held in UTC. Daily files are read as dates")
    gap_policy: Literal["error", "drop", "carry"] = Field(
        "error", description="intraday bars the calendar expects but the file lacks: stop, leave them out "
                             "(reported), or carry the last close with zero range (reported)")
    csv: CsvLayout = CsvLayout()
    mt5: Mt5Settings = Mt5Settings()

    @model_serializer(mode="wrap")
    def _omit_intraday_defaults(self, handler):
        # the intraday keys at their defaults are left out of the dump, so a daily configuration hashes (and is
        # written into selection.json) exactly as before these keys existed
        out = handler(self)
        for key, default in INTRADAY_DEFAULTS.items():
            if key in out and out[key] == default:
                del out[key]
        return out

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"data.timezone {value!r} is not an IANA time zone (e.g. 'UTC', "
                             f"'Europe/London', 'America/New_York')") from None
        return value

    @model_validator(mode="after")
    def _unique_universe(self) -> "DataSettings":
        if self.calendar and self.calendar != "bars":  # "" or None = the non_session_date rule is off
            import exchange_calendars as xcals

            if self.calendar not in xcals.get_calendar_names(include_aliases=True):
                near = difflib.get_close_matches(self.calendar, xcals.get_calendar_names(include_aliases=True), n=1)
                hint = f"; did you mean '{near[0]}'?" if near else " (e.g. 'XNYS', 'XNAS', 'XLON')"
                raise ValueError(f"data.calendar {self.calendar!r} is not an exchange_calendars code{hint} (or "
                                 f"'24/7', '24/5', 'bars' for 24-hour markets)")
        seen, dupes = set(), []
        for s in self.universe:
            if s in seen and s not in dupes:
                dupes.append(s)
            seen.add(s)
        if dupes:
            raise ValueError(f"data.universe lists {', '.join(dupes)} more than once; list each symbol once")
        return self

    @field_validator("universe")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from volts.core.symbols import check_symbols

        try:
            check_symbols(value, "data.universe")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class WindowSettings(_Section):
    """Analysis windows (paper's defaults). ``--asof D`` shifts every window by D - asof calendar days."""

    asof: dt.date = dt.date(2023, 6, 8)
    anomaly_start: dt.date = dt.date(2019, 6, 1)
    anomaly_end: dt.date = dt.date(2023, 5, 1)
    gmm_start: dt.date = dt.date(2021, 11, 1)
    gmm_end: dt.date = dt.date(2023, 6, 8)
    train_start: dt.date = dt.date(2022, 11, 1)
    train_end: dt.date = dt.date(2023, 6, 8)
    test_start: dt.date = dt.date(2023, 6, 8)
    test_end: dt.date = dt.date(2023, 8, 12)

    @model_validator(mode="after")
    def _ordered(self) -> "WindowSettings":
        for a, b in (("anomaly_start", "anomaly_end"), ("gmm_start", "gmm_end"),
                     ("train_start", "train_end"), ("test_start", "test_end")):
            if getattr(self, a) >= getattr(self, b):
                raise ValueError(f"windows.{a} must be before windows.{b}")
        if self.train_end > self.asof or self.gmm_end > self.asof or self.anomaly_end > self.asof:
            raise ValueError("training windows must end on or before windows.asof")
        return self

    def shifted(self, asof: dt.date) -> "WindowSettings":
        """Every window moved by the same number of calendar days so that ``asof`` becomes the new as-of date."""
        delta = asof - self.asof
        return self.model_copy(update={k: getattr(self, k) + delta for k in type(self).model_fields})


class VolatilitySettings(_Section):
    window: int = Field(20, ge=2, description="rolling window n in trading days")
    periods_per_year: int = Field(252, ge=1)


class AnomalySettings(_Section):
    neighbors: int = Field(5, ge=1)
    z_threshold: float = Field(3.0, gt=0)
    features: tuple[Literal["log_return", "log_range"], ...] = ("log_return", "log_range")
    exclude: bool = False


class ClusteringSettings(_Section):
    features: Literal["level", "estimators"] = Field(
        "level", description="decision: 'level' = 1-D mean log-volatility (bands, the paper's Fig. 3); "
                             "'estimators' = METHOD.md §3's 4-D point")
    estimators: tuple[Literal["parkinson", "garman_klass", "rogers_satchell", "yang_zhang"], ...] = (
        "parkinson", "garman_klass", "rogers_satchell", "yang_zhang")
    covariance_type: Literal["full", "tied", "diag", "spherical"] = "full"
    n_init: int = Field(5, ge=1)
    random_state: int = Field(0, ge=0, le=SEED_MAX)
    # lead-lag (Hermitian RW) clustering, seed 003 (volts.selection.hermitian); "gmm" keeps the paper's volatility regimes
    method: Literal["gmm", "hermitian"] = Field(
        "gmm", description="'gmm' = mid-volatility candidates (the paper); 'hermitian' = ordered pairs from a "
                           "leading to a lagging cluster of the Hermitian RW clustering of the lead-lag matrix")
    hermitian_k: int = Field(3, ge=2, description="number of lead-lag clusters (decision; Bennett, Cucuringu & Reinert "
                                                  "2022 used 10 for 434 stocks)")
    hermitian_metric: str = Field("ccf_auc_distance", description="lead-lag metric (volts.selection.leadlag.METRICS); "
                                                                  "Bennett, Cucuringu & Reinert 2022's US-equity choice")
    hermitian_max_lag: int = Field(5, ge=1, description="L of ccf-auc")

    tol: float = Field(1e-8, gt=0, description="EM stops when the mean log-likelihood per point changes by less "
                                               "(scikit-learn's 1e-3 stops the reference fit unconverged)")
    max_iter: int = Field(10000, ge=1, description="maximum EM iterations per initialisation")
    borderline_margin: float = Field(0.1, ge=0, le=1, description="a stock whose assigned mean posterior exceeds "
                                                                  "the next largest by less is borderline")
    em_acceleration: Literal["squarem", "none"] = Field(
        "squarem", description="'squarem' = the 1-D EM accelerated by SQUAREM (Varadhan & Roland 2008; same fixed "
                               "points, fewer steps); 'none' = plain EM, step for step scikit-learn's")

    @model_validator(mode="after")
    def _known_metric(self) -> "ClusteringSettings":
        from volts.core.registry import LEAD_LAG_METRICS

        if self.hermitian_metric not in LEAD_LAG_METRICS:
            raise ValueError(f"clustering.hermitian_metric '{self.hermitian_metric}' is not one of "
                             f"{', '.join(LEAD_LAG_METRICS)}")
        return self


class GrangerSettings(_Section):
    series: Literal["close", "log_return"] = "close"
    min_lag: int = Field(2, ge=1)
    max_lag: int = Field(48, ge=1)
    alpha: float = Field(0.01, gt=0, lt=1)
    select_on: Literal["p", "p_bh"] = Field("p", description="'p' = naive p at l* (the paper); 'p_bh' = "
                                                            "Benjamini-Hochberg adjusted across the pairs at l*")
    min_df: int = Field(10, ge=1, description="skip a lag whose unrestricted regression has fewer residual df")
    adf_alpha: float = Field(0.05, gt=0, lt=1)
    sample: Literal["per_lag", "common"] = Field(
        "per_lag", description="'per_lag': each l on rows l..n-1 (statsmodels, the paper reproduction); "
                               "'common': every l on rows L..n-1, one factorisation per pair (fast, S&P size)")
    lag_order: Literal["median_p", "per_pair"] = Field(
        "median_p", description="'median_p': one l* for all pairs, minimising the median p (the paper); "
                                "'per_pair': each pair at its own order, min p over l Bonferroni-corrected")

    @model_validator(mode="after")
    def _lags(self) -> "GrangerSettings":
        if self.min_lag > self.max_lag:
            raise ValueError("granger.min_lag must not exceed granger.max_lag")
        return self


class PcmciSettings(_Section):
    mode: Literal["lagged", "contemporaneous"] = "lagged"
    tau_max: int = Field(5, ge=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    min_abs_partial_corr: float = Field(0.15, ge=0, le=1)
    links: Literal["auto", "all", "granger"] = Field(
        "auto", description="'all': every lagged link (needs (N+1) tau_max + 3 rows); 'granger': only the "
                            "Granger-kept links plus each series' own lags, bounded conditioning sets; "
                            "'auto': 'all' when the rows suffice, else 'granger'")
    max_conds_dim: int = Field(10, ge=1, description="'granger' links: largest conditioning set of a test")
    engine: Literal["native", "tigramite"] = Field(
        "native", description="full PCMCI: 'native' = tigramite's algorithm on one lagged matrix (same values "
                              "float for float, 2-3.5x faster); 'tigramite' = tigramite.pcmci.PCMCI itself")


class EntropySettings(_Section):
    bins: int = Field(3, ge=2)
    history: int = Field(1, ge=1)
    surrogates: int = Field(2000, ge=1, description="decision: MC SE of a p-value at 0.05 is 0.0049 (paper: 100)")
    alpha: float = Field(0.05, gt=0, lt=1)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    stop_early: bool = Field(False, description="curtail each surrogate test once p > alpha is certain "
                                                "(Besag & Clifford 1991): the same decisions, fewer surrogates "
                                                "for null pairs")


class LagSettings(_Section):
    min_lag: int = Field(1, ge=1)
    max_lag: int = Field(10, ge=1)
    window: int = Field(5, ge=1, description="w: leader's daily % changes per sample")
    neighbors: int = Field(7, ge=1)
    cv_splits: int = Field(5, ge=2)

    @model_validator(mode="after")
    def _lags(self) -> "LagSettings":
        if self.min_lag > self.max_lag:
            raise ValueError("lag.min_lag must not exceed lag.max_lag")
        return self


def _known_screen(name: str) -> str:
    """A name of the screen registry (:data:`volts.core.registry.SCREENS`, filled where each screen class is defined)."""
    from volts.core.registry import SCREENS  # at validation time: the registry is the one list of screen names

    if name not in SCREENS:
        near = difflib.get_close_matches(name, list(SCREENS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown screen {name!r}{hint}; valid: {', '.join(SCREENS)}")
    return name


ScreenName = Annotated[str, AfterValidator(_known_screen)]


class SelectionSettings(_Section):
    """The pair-selection funnel: which screens run, in which order, and how each keeps pairs."""

    screens: tuple[ScreenName, ...] = Field(
        ("granger", "pcmci", "transfer_entropy"),
        description="screens in funnel order (volts.selection.screens); each screens the pairs the previous one kept; "
                    "empty = no screen: every ordered pair of mid-volatility candidates goes to the lag stage "
                    "(the walk-forward ablation's 'no screen' row)")
    rule: Literal["test", "top_k"] = Field("test", description="'test': a screen keeps the pairs that pass its "
                                                                "test; 'top_k': its top_k pairs by score")
    top_k: int = Field(5, ge=1, description="K of the top-K rule")
    max_pairs: int | None = Field(
        None, ge=1, description="cap on the pairs the funnel passes on: when more pass (a market-wide shock), the "
                                "max_pairs with the highest score of the last screen are kept and the selection "
                                "records how many passed (volts.selection.pair_cap); None = no cap")
    rules: dict[ScreenName, Literal["test", "top_k"]] = Field(default_factory=dict,
                                                             description="per-screen rule, overrides 'rule'")
    date_stability_sessions: int = Field(
        5, ge=0, description="volts select / run: re-run the selection as of the k exchange sessions before and "
                             "after the as-of date and report, per selected pair, the share of them that select it "
                             "(volts.selection.date_stability; 2k more selections); 0 = off")

    @model_serializer(mode="wrap")
    def _omit_no_cap(self, handler):
        # no cap: the key is left out of the dump, so hashes and selection.json stay as before the key existed
        out = handler(self)
        if isinstance(out, dict) and out.get("max_pairs") is None:
            out.pop("max_pairs", None)
        return out

    @model_validator(mode="after")
    def _sequence(self) -> "SelectionSettings":
        twice = sorted({s for s in self.screens if self.screens.count(s) > 1})
        if twice:
            raise ValueError(f"selection.screens names {', '.join(twice)} more than once")
        return self


class ScreenSettings(_Section):
    """Parameters of the pairwise lead-lag screens (ccf_lag1, ccf_best, ccf_auc, levy_area,
    distance_correlation, mutual_information) and their permutation test."""

    alpha: float = Field(0.05, gt=0, lt=1, description="level of the permutation test")
    surrogates: int = Field(199, ge=0, description="permutations per pair; 0 = no test (top-K rule)")
    null: Literal["circular_shift", "shuffle"] = "circular_shift"
    seed: int = Field(0, ge=0, le=SEED_MAX)
    max_lag: int = Field(5, ge=1, description="L of ccf_best and ccf_auc (Bennett et al. 2022: 5); "
                                               "hayashi_yoshida's shifts -L..L bars")
    mi_buckets: int = Field(4, ge=2, description="pooled quantile buckets of mutual_information (Bennett et al. 2022: 4)")


class StabilitySettings(_Section):
    """Stability selection (volts.selection.stability): repeat the selection under a block bootstrap and fresh seeds."""

    runs: int = Field(0, ge=0, description="R repetitions; 0 = off (volts select --stability R overrides)")
    block_length: int = Field(30, ge=1, description="decision: consecutive training days per bootstrap block "
                                                        "(3 x lag.max_lag, so most lagged relations stay inside a block)")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="root seed of every run's bootstrap and stage seeds")
    threshold: float | None = Field(None, gt=0, le=1, description="keep only final pairs selected in at least "
                                                                  "this share of runs; None = off (the paper)")


class StrategySettings(_Section):
    ma_window: int = Field(20, ge=1, description="m: SMA of the leader's close (the paper does not state it)")
    mode: Literal["long_short", "long_only"] = "long_short"
    execution: Literal["next_open", "close"] = "next_open"


class BacktestSettings(_Section):
    capital: float = Field(1000.0, gt=0, description="starting cash per pair, USD")
    commission: float = Field(9.0, ge=0, description="fixed commission per order, USD")
    commission_pct: float = Field(0.0, ge=0, description="percentage commission, fraction of traded value")
    slippage_bps: float = Field(0.0, ge=0)


class CostSettings(_Section):
    """Capital and trading costs of the walk-forward portfolio (``volts.trading.simulate``).

    Every order pays ``commission + (commission_pct + (slippage_bps + half_spread_bps) / 1e4) * |value|``, one
    side. The default capital is large enough that the paper's fixed $9 is about 2 bps of a $50,000 order; set
    ``capital = 1000`` per pair to reproduce the paper's $1,000 sleeves, where $9 is 0.9 % of every order.
    """

    capital: float = Field(100_000.0, gt=0, description="starting cash of the whole walk-forward portfolio, USD")
    commission: float = Field(9.0, ge=0, description="fixed commission per order, USD (the paper's $9)")
    commission_pct: float = Field(0.0, ge=0, description="commission as a fraction of the traded value")
    slippage_bps: float = Field(0.0, ge=0, description="slippage against the trader, bps of value, per side")
    half_spread_bps: float = Field(0.0, ge=0, description="half the bid-ask spread, bps of value, per side")


class IntradaySettings(_Section):
    """Windows of a selection on bars other than D1, each ending at the decision bar (``volts.selection.bar_windows``).

    A length is a duration (``"90D"``, ``"36H"``, ``"2W"``: the bars whose stamps lie within it) or a number of bars
    (``"500 bars"``). Lags, the volatility window and the strategy's moving average are counted in bars. Read only
    when ``[data] timeframe`` is not D1; the section is left out of the settings' dump at its defaults.
    """

    anomaly_window: str = Field("365D", description="bars the KNN anomaly filter sees, ending at the decision bar")
    gmm_window: str = Field("90D", description="bars whose volatility estimates the Gaussian mixture clusters")
    train_window: str = Field("30D", description="bars the causal screens and the lag choice are fitted on")

    @field_validator("anomaly_window", "gmm_window", "train_window")
    @classmethod
    def _length(cls, value: str) -> str:
        from volts.core.lengths import parse_length

        parse_length(value)   # raises ValueError naming the accepted forms
        return value


#: Defaults of [intraday] (the section is omitted from the settings' dump when it equals them).
INTRADAY_WINDOW_DEFAULTS = {"anomaly_window": "365D", "gmm_window": "90D", "train_window": "30D"}


class MetricsSettings(_Section):
    risk_free: float = Field(0.0, description="annual risk-free rate, fraction")
    periods_per_year: int = Field(252, ge=1)


class LiveSettings(_Section):
    magic: int = Field(20230608, ge=0, description="MT5 magic number of volts' orders")
    journal: str = "journal.sqlite"
    volume_per_pair: float | None = Field(None, gt=0, description="fixed lots per pair; None = capital / price")
    deviation_points: int = Field(20, ge=0)
    lock_timeout_seconds: float = Field(60.0, ge=0, description="wait this long for another run's account lock")
    lock_dir: str | None = Field(None, description="folder of the per-account locks; None = ~/.cache/volts/locks")
    max_selection_age_sessions: int = Field(7, ge=0, description="--execute refuses an older selection "
                                            "(exchange sessions between its as-of date and the last close used)")
    cap_volume: bool = Field(False, description="cap a volume above the broker's maximum lot (else refuse it)")
    sizing: Literal["fixed", "sleeve"] = Field("fixed", description="fixed: volume_per_pair or backtest.capital "
                                               "per pair; sleeve: the walk-forward's sleeves of costs.capital")


class Settings(_Section):
    plugins: tuple[str, ...] = Field(
        (), description="plug-in modules imported before the rest is validated: dotted module names, or .py files "
                        "(relative to the config file); their decorators register screens, strategies or pair "
                        "pickers, which the other settings can then name")
    data: DataSettings = DataSettings()
    windows: WindowSettings = WindowSettings()
    volatility: VolatilitySettings = VolatilitySettings()
    anomaly: AnomalySettings = AnomalySettings()
    clustering: ClusteringSettings = ClusteringSettings()
    granger: GrangerSettings = GrangerSettings()
    pcmci: PcmciSettings = PcmciSettings()
    entropy: EntropySettings = EntropySettings()
    lag: LagSettings = LagSettings()
    selection: SelectionSettings = SelectionSettings()
    screens: ScreenSettings = ScreenSettings()
    stability: StabilitySettings = StabilitySettings()
    strategy: StrategySettings = StrategySettings()
    backtest: BacktestSettings = BacktestSettings()
    costs: CostSettings = CostSettings()
    metrics: MetricsSettings = MetricsSettings()
    live: LiveSettings = LiveSettings()
    intraday: IntradaySettings = IntradaySettings()

    @model_serializer(mode="wrap")
    def _omit_empty_plugins(self, handler):
        # no plug-in: the key is left out of the dump, so the configuration hashes (and is written into
        # selection.json) exactly as before the key existed
        out = handler(self)
        if isinstance(out, dict) and not out.get("plugins"):
            out.pop("plugins", None)
        if isinstance(out, dict) and out.get("intraday") == INTRADAY_WINDOW_DEFAULTS:
            out.pop("intraday", None)   # read only on intraday bars: a daily configuration hashes as before
        return out

    @model_validator(mode="before")
    @classmethod
    def _load_plugins(cls, data: Any) -> Any:
        # before the sections are validated: a plug-in screen's name in [selection] screens must be known
        if isinstance(data, dict) and data.get("plugins"):
            from volts.core.registry import load_plugins

            plugins = data["plugins"]
            load_plugins([plugins] if isinstance(plugins, str) else list(plugins))
        return data

    def override(self, **dotted: Any) -> "Settings":
        """Return a copy with dotted keys replaced, e.g. ``override(**{"data.dir": "x"})``; validated again."""
        raw = self.model_dump(mode="json")
        for key, value in dotted.items():
            node = raw
            *parents, leaf = key.split(".")
            # checked against the model, not the dump: keys at their default may be left out of the dump
            if key not in _valid_keys(Settings):
                raise ConfigError(_unknown_key_message(key, _valid_keys(Settings)))
            for p in parents:
                node = node.setdefault(p, {})   # a section left out of the dump at its defaults
            node[leaf] = value
        return parse_settings(raw, source="command line")

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of every setting (provenance for artifacts)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def legacy_week_sha256(self) -> str:
        """The config hash a weekly record written before :meth:`selection_sha256` carries: :meth:`sha256` as it
        was then, i.e. without the keys added since (``KEYS_ADDED_AFTER_SELECTION_KEY``; they did not exist, and
        none of them is read by a selection). Without this, adding any key would orphan every such record."""
        raw = self.model_dump(mode="json")
        for dotted in KEYS_ADDED_AFTER_SELECTION_KEY:
            *path, last = dotted.split(".")
            node = raw
            for part in path:
                node = node[part]
            node.pop(last, None)
        blob = json.dumps(raw, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def selection_sha256(self) -> str:
        """SHA-256 of the settings a selection can depend on: every section but those read only after it
        (``SELECTION_INDEPENDENT``: strategy, backtest, costs, metrics, live) and without ``data.cache_dir`` (where
        parsed bars are kept, not what they are) and ``data.spy_file`` (the SPY benchmark's bars). The walk-forward
        keys its weekly selections by it, so a change of commission or strategy re-trades the cached weeks instead
        of recomputing them."""
        raw = self.model_dump(mode="json")
        for section in SELECTION_INDEPENDENT:
            raw.pop(section, None)
        raw["data"].pop("cache_dir", None)
        raw["data"].pop("spy_file", None)   # read by the trading pass only
        raw["selection"].pop("date_stability_sessions", None)   # a report diagnostic: no selection reads it
        blob = json.dumps(raw, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


#: Keys added after weekly records were keyed by :meth:`Settings.selection_sha256` (none read by a selection).
KEYS_ADDED_AFTER_SELECTION_KEY = ("data.spy_file", "live.lock_dir", "live.max_selection_age_sessions",
                                  "live.cap_volume", "live.sizing", "selection.date_stability_sessions")

#: Sections no selection reads (the trading pass, the statistics and the live path do).
SELECTION_INDEPENDENT = ("strategy", "backtest", "costs", "metrics", "live")


def _valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(_valid_keys(ann, prefix + name + "."))
    return keys


def _unknown_key_message(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not near:  # compare the leaf within the same section
        parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
        siblings = [k for k in valid if k.startswith(parent) and "." not in k[len(parent):]]
        near = difflib.get_close_matches(key, siblings, n=1, cutoff=0.0)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return f"unknown config key '{key}'{hint}"


def parse_settings(raw: dict[str, Any], source: str = "config") -> Settings:
    """Validate a nested mapping into :class:`Settings`.

    Raises
    ------
    ConfigError
        On an unknown key (naming the nearest valid one), a wrong type or an out-of-range value.
    """
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        if err["type"] == "extra_forbidden":
            msg = _unknown_key_message(key, _valid_keys(Settings))
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            msg = f"invalid value for '{key}'{shown}: {err['msg']}" if key else err["msg"]
        extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {msg}{extra}") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate a TOML config file; ``None`` gives the built-in defaults (the paper's values).

    Raises
    ------
    ConfigError
        The file is missing, is not valid TOML, or fails validation.
    """
    if path is None:
        return Settings()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark is not an error
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    plugins = raw.get("plugins")
    if isinstance(plugins, list):  # plug-in files are relative to the config file, like every path in it
        raw["plugins"] = [str((path.parent / p).resolve()) if isinstance(p, str) and p.endswith(".py")
                          and not Path(p).expanduser().is_absolute() else p for p in plugins]
    settings = parse_settings(raw, source=str(path))
    data_dir = Path(settings.data.dir)
    if not data_dir.is_absolute():  # paths in a config file are relative to that file
        settings = settings.override(**{"data.dir": str((path.parent / data_dir).resolve())})
    for key in ("membership", "cache_dir", "spy_file"):
        value = getattr(settings.data, key)
        if value and not value.startswith("~") and not Path(value).is_absolute():
            settings = settings.override(**{f"data.{key}": str((path.parent / value).resolve())})
    for key in ("live.journal", "live.lock_dir", "data.mt5.credentials_file"):  # also relative to the file
        section, *rest = key.split(".")
        node = getattr(settings, section)
        for part in rest[:-1]:
            node = getattr(node, part)
        value = getattr(node, rest[-1])
        if value and not value.startswith("~") and not Path(value).is_absolute():
            settings = settings.override(**{key: str((path.parent / value).resolve())})
    return settings


def require_daily_bars(settings: Settings, what: str) -> None:
    """Refuse a bar size other than D1 where a stage still assumes one bar per exchange session.

    The data layer reads, checks and resamples bars of any MT5 timeframe; the selection, trading, walk-forward and
    live stages count windows, lags and annualisation in sessions, so on H1 bars they would silently mean hours
    where they say days.

    Raises
    ------
    ConfigError
        ``data.timeframe`` is not ``"D1"``; the message names the stage and the way out (resample to D1).
    """
    tf = settings.data.timeframe
    if tf != "D1":
        raise ConfigError(f"{what}: [data] timeframe = {tf!r}, but this stage runs on daily bars only in this release "
                          f"(its windows, lags and annualisation count exchange sessions); resample first with "
                          f"`volts data resample --to D1 --out DIR` and point data.dir at DIR with timeframe = 'D1'")
