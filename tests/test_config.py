"""Config loading: defaults equal config.toml, unknown keys named with the nearest valid one, ranges checked."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import REPO
from volts.core.config import Settings, load_settings, parse_settings
from volts.core.errors import ConfigError


def test_config_toml_holds_exactly_the_defaults():
    from_file = load_settings(REPO / "config.toml").model_dump()
    defaults = Settings().model_dump()
    # the only differences allowed: data.dir and live.journal are resolved relative to the config file
    assert from_file["data"].pop("dir").endswith("shared/data/ohlcv")
    defaults["data"].pop("dir")
    assert from_file["live"].pop("journal") == str((REPO / "journal.sqlite").resolve())
    defaults["live"].pop("journal")
    assert from_file == defaults


def test_paper_defaults():
    s = Settings()
    assert s.windows.train_start == dt.date(2022, 11, 1) and s.windows.test_end == dt.date(2023, 8, 12)
    assert (s.granger.min_lag, s.granger.max_lag, s.granger.alpha) == (2, 48, 0.01)
    assert (s.pcmci.tau_max, s.pcmci.min_abs_partial_corr) == (5, 0.15)
    assert s.entropy.bins == 3
    assert s.entropy.surrogates == 2000  # decision (issue 11): the paper's 100 leaves a p-value SE of 0.022 at 0.05
    assert (s.lag.max_lag, s.lag.window, s.lag.neighbors, s.lag.cv_splits) == (10, 5, 7, 5)
    assert (s.backtest.capital, s.backtest.commission) == (1000.0, 9.0)
    assert len(s.data.universe) == 10 and "TSLA" in s.data.universe


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"granger": {"max_lags": 3}}, "unknown config key 'granger.max_lags'; did you mean 'granger.max_lag'?"),
        ({"grnger": {}}, "did you mean 'granger'?"),
        ({"data": {"csv": {"dat": "x"}}}, "did you mean 'data.csv.date'?"),
    ],
)
def test_unknown_keys_name_the_nearest_valid_key(raw, expected):
    with pytest.raises(ConfigError, match=expected.replace("?", r"\?").replace(".", r"\.")):
        parse_settings(raw)


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"granger": {"alpha": 1.5}}, "granger.alpha"),
        ({"volatility": {"window": 1}}, "volatility.window"),
        ({"strategy": {"mode": "sideways"}}, "strategy.mode"),
        ({"granger": {"min_lag": 10, "max_lag": 5}}, "granger"),
        ({"windows": {"test_start": "2023-09-01"}}, "windows"),
    ],
)
def test_invalid_values_are_config_errors_naming_the_key(raw, key):
    with pytest.raises(ConfigError, match=key):
        parse_settings(raw)


def test_settings_are_frozen_and_override_revalidates():
    s = Settings()
    with pytest.raises(Exception):
        s.granger.alpha = 0.5  # type: ignore[misc]
    t = s.override(**{"granger.series": "log_return"})
    assert t.granger.series == "log_return" and s.granger.series == "close"
    assert t.sha256() != s.sha256()
    with pytest.raises(ConfigError, match="granger.alpha"):
        s.override(**{"granger.alpha": 2})
    with pytest.raises(ConfigError, match="unknown config key"):
        s.override(**{"granger.alfa": 0.1})


def test_window_shift_moves_every_window_by_the_same_days():
    w = Settings().windows
    moved = w.shifted(dt.date(2023, 6, 15))
    assert moved.asof == dt.date(2023, 6, 15)
    assert moved.train_start - w.train_start == dt.timedelta(days=7)
    assert moved.test_end - w.test_end == dt.timedelta(days=7)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[granger\nalpha = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_paths_in_a_config_file_resolve_against_that_file(tmp_path):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "c.toml").write_text(
        '[data]\ndir = "bars"\nmembership = "../m.csv"\nspy_file = "../ohlcv/SPY.csv"\ncache_dir = "~/cache"\n'
    )
    s = load_settings(sub / "c.toml")
    assert s.data.dir == str((sub / "bars").resolve())
    assert s.data.membership == str((tmp_path / "m.csv").resolve())
    assert s.data.spy_file == str((tmp_path / "ohlcv" / "SPY.csv").resolve())
    assert s.data.cache_dir == "~/cache"  # expanded where it is used
    sp500 = load_settings(REPO / "examples" / "sp500.toml")
    assert sp500.data.spy_file.endswith("shared/data/ohlcv/SPY.csv")
