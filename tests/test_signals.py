"""volts.trading.signals: the trend signal, the follower positions and the next-session target (METHOD.md §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.core.errors import DataError
from volts.trading.signals import follower_positions, next_session_target, trend_signal


def _walk(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    return pd.Series(close, index=pd.bdate_range("2022-01-03", periods=n), name="LEAD")


def test_trend_signal_by_hand():
    # m = 3: SMA_2 = (1+2+3)/3 = 2 -> 3 > 2 (+1); SMA_3 = (2+3+2)/3 = 7/3 -> 2 < 7/3 (-1); SMA_4 = (3+2+4)/3 = 3
    # -> 4 > 3 (+1); SMA_5 = (2+4+4)/3 = 10/3 -> 4 > 10/3 (+1); SMA_6 = (4+4+1)/3 = 3 -> 1 < 3 (-1)
    close = pd.Series([1.0, 2.0, 3.0, 2.0, 4.0, 4.0, 1.0], index=pd.bdate_range("2023-01-02", periods=7))
    ls = trend_signal(close, ma_window=3)
    assert ls.tolist() == [0, 0, 1, -1, 1, 1, -1]
    assert ls.dtype == np.int64 and ls.index.equals(close.index)
    lo = trend_signal(close, ma_window=3, mode="long_only")
    assert lo.tolist() == [0, 0, 1, 0, 1, 1, 0]


def test_trend_signal_tie_is_not_above():
    # a close equal to its SMA is not "above": -1 (long_short); 2.0 and 1.5 are exact in binary
    close = pd.Series([2.0] * 5 + [1.5] * 4, index=pd.bdate_range("2023-01-02", periods=9))
    s = trend_signal(close, ma_window=4)
    assert s.tolist() == [0, 0, 0, -1, -1, -1, -1, -1, -1]


@pytest.mark.parametrize("mode", ["long_short", "long_only"])
@pytest.mark.parametrize("m", [1, 5, 20])
def test_trend_signal_matches_pandas_rolling(mode, m):
    close = _walk(300, seed=m)
    sma = close.rolling(m).mean()
    below = -1 if mode == "long_short" else 0
    expected = np.where(sma.isna(), 0, np.where(close > sma, 1, below))
    got = trend_signal(close, ma_window=m, mode=mode)
    assert (got.to_numpy() == expected).all()
    assert (got.iloc[: m - 1] == 0).all()


def test_signal_does_not_depend_on_history_length():
    # the SMA of a day uses only its own m closes (exact sum): a shorter history gives bit-identical signals
    close = _walk(250, seed=3)
    full = trend_signal(close, ma_window=20)
    for cut in (1, 17, 100):
        part = trend_signal(close.iloc[cut:], ma_window=20)
        assert part.iloc[19:].equals(full.iloc[cut + 19 :])


@pytest.mark.parametrize("lag", [1, 2, 5])
def test_follower_positions_is_signal_shifted_by_lag(lag):
    close = _walk(120, seed=lag)
    s = trend_signal(close, ma_window=10).to_numpy()
    pos = follower_positions(close, lag=lag, ma_window=10)
    expected = [0 if d - lag < 0 else s[d - lag] for d in range(len(close))]
    assert pos.tolist() == expected
    assert pos.index.equals(close.index) and pos.dtype == np.int64


@pytest.mark.parametrize("mode", ["long_short", "long_only"])
@pytest.mark.parametrize("lag", [1, 2, 3, 7])
def test_next_session_target_equals_follower_positions_on_extended_index(lag, mode):
    close = _walk(90, seed=11 * lag)
    rng = np.random.default_rng(lag)
    for n in range(1, len(close) + 1):
        known = close.iloc[:n]
        target = next_session_target(known, lag=lag, ma_window=8, mode=mode)
        # append day T+1 with an arbitrary close: the position of T+1 must not depend on it
        t_next = known.index[-1] + pd.offsets.BDay(1)
        for value in (rng.uniform(1, 500), 1e-3):
            extended = pd.concat([known, pd.Series([value], index=[t_next])])
            assert target == follower_positions(extended, lag=lag, ma_window=8, mode=mode).iloc[-1]
        assert isinstance(target, int)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_lag_below_one_is_rejected(bad):
    close = _walk(30, seed=0)
    with pytest.raises(ValueError):
        follower_positions(close, lag=bad)
    with pytest.raises(ValueError):
        next_session_target(close, lag=bad)


def test_bad_parameters():
    close = _walk(30, seed=0)
    with pytest.raises(ValueError):
        trend_signal(close, ma_window=0)
    with pytest.raises(ValueError):
        trend_signal(close, mode="short_only")


@pytest.mark.parametrize("value", [np.nan, 0.0, -3.0, np.inf])
def test_bad_close_raises_data_error_naming_symbol_and_date(value):
    close = _walk(30, seed=1)
    close.iloc[12] = value
    with pytest.raises(DataError, match=r"LEAD: close on 2022-01-19"):
        trend_signal(close)
    with pytest.raises(DataError, match="LEAD"):
        next_session_target(close, lag=1)


def test_unsorted_index_raises():
    close = _walk(30, seed=2).iloc[::-1]
    with pytest.raises(DataError, match="ascending"):
        follower_positions(close, lag=1)


def test_short_history_is_flat():
    close = _walk(5, seed=4)
    assert next_session_target(close, lag=1, ma_window=20) == 0
    assert next_session_target(close.iloc[:0], lag=1, ma_window=3) == 0
    assert (follower_positions(close, lag=2, ma_window=20) == 0).all()
