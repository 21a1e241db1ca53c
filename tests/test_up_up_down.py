"""The "up up DOWN" lag table of seeds/002 (babbage9010, "using time series lag() in R finance"), reproduced.

The blog's R code builds 2023-01-01 .. 2023-02-13 daily bars (weekends included) with base O = 1.10, H = 1.20,
L = 1.00, C = 1.10; every 10th bar (i % 10 == 0, 1-based) adds 0.02 to O, H, L, C, the bar after it adds 0.03.
Signal: 1 when the 1-day rate of change of the close is >= 0.015, else 0. Strategy return of lag k:
ROC(open)_t * signal_{t-k}. The blog prints those streams for 2023-01-08 .. 2023-01-14.

The engine's default timing (signal at the close of d, market order filled at the open of d+1, held to the open
of d+2) must earn exactly the lag-2 stream; the optimistic ``execution="close"`` earns the lag-1 stream of close
returns ("Magical Thinking"). The engine run is LeadLagTrend itself with the blog's threshold signal plugged in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.trading.backtest import simulate_pair

# the blog's table: date -> (benchmark ROC, lag 0, lag 1, lag 2)
BLOG_TABLE = {
    "2023-01-08": (0.00000, 0.00000, 0.00000, 0.00000),
    "2023-01-09": (0.00000, 0.00000, 0.00000, 0.00000),
    "2023-01-10": (0.01818, 0.01818, 0.00000, 0.00000),
    "2023-01-11": (0.00893, 0.00000, 0.00893, 0.00000),
    "2023-01-12": (-0.02655, 0.00000, 0.00000, -0.02655),
    "2023-01-13": (0.00000, 0.00000, 0.00000, 0.00000),
    "2023-01-14": (0.00000, 0.00000, 0.00000, 0.00000),
}
THRESHOLD = 0.015


def up_up_down_bars() -> pd.DataFrame:
    dates = pd.date_range("2023-01-01", "2023-02-13", freq="D")
    base = np.array([1.1, 1.2, 1.0, 1.1])  # open, high, low, close
    rows = []
    for i in range(1, len(dates) + 1):  # R's 1-based loop
        bump = 0.0
        if i % 10 == 0 and i > 3:
            bump = 0.02
        elif (i - 1) % 10 == 0 and i > 3:
            bump = 0.03
        rows.append(base + bump)
    bars = pd.DataFrame(rows, index=dates, columns=["open", "high", "low", "close"])
    bars["volume"] = 0.0
    return bars


def lag_streams(bars: pd.DataFrame, trade_price: str = "open") -> dict[int, pd.Series]:
    """The blog's streams, computed independently with pandas: ROC(trade price) * signal shifted by k."""
    roc_close = bars["close"].pct_change()
    roc_trade = bars[trade_price].pct_change()
    signal = (roc_close >= THRESHOLD).astype(float).where(roc_close.notna())
    return {k: (roc_trade * signal.shift(k)).dropna() for k in (0, 1, 2)}


def threshold_target(known_close: pd.Series) -> int:
    """Blog signal at the last known close: 1 if ROC >= 0.015 else 0 (0 while ROC is undefined)."""
    if len(known_close) < 2:
        return 0
    return int(known_close.iloc[-1] / known_close.iloc[-2] - 1.0 >= THRESHOLD)


def test_series_matches_blog_first_rows():
    bars = up_up_down_bars()
    assert len(bars) == 44
    assert bars.loc["2023-01-09"].tolist()[:4] == pytest.approx([1.10, 1.20, 1.00, 1.10])
    assert bars.loc["2023-01-10"].tolist()[:4] == pytest.approx([1.12, 1.22, 1.02, 1.12])
    assert bars.loc["2023-01-11"].tolist()[:4] == pytest.approx([1.13, 1.23, 1.03, 1.13])
    assert bars.loc["2023-01-12"].tolist()[:4] == pytest.approx([1.10, 1.20, 1.00, 1.10])


def test_pandas_lag_streams_match_blog_table():
    bars = up_up_down_bars()
    streams = lag_streams(bars)
    bench = bars["close"].pct_change()
    for day, (b, l0, l1, l2) in BLOG_TABLE.items():
        assert abs(bench[day] - b) <= 1e-5
        assert abs(streams[0][day] - l0) <= 1e-5
        assert abs(streams[1][day] - l1) <= 1e-5
        assert abs(streams[2][day] - l2) <= 1e-5


def _engine_stream(run, index: pd.DatetimeIndex) -> pd.Series:
    """Per-day return the engine earned: each round trip's return, booked on its exit day (all trades here
    last one session)."""
    out = pd.Series(0.0, index=index)
    for t in run.trades.itertuples():
        sign = 1.0 if t.side == "long" else -1.0
        out[t.exit_date] += sign * (t.exit_price / t.entry_price - 1.0)
    return out


def _run(execution: str):
    bars = up_up_down_bars()
    return bars, simulate_pair(
        bars,
        bars,
        lag=1,
        start="2023-01-02",
        end="2023-02-13",
        capital=1000.0,
        commission=0.0,
        execution=execution,
        target_fn=threshold_target,
        name="up up DOWN",
    )


def test_engine_next_open_earns_exactly_the_lag2_stream():
    bars, run = _run("next_open")
    streams = lag_streams(bars)
    lag2 = streams[2].loc[run.equity.index[1] :]
    assert len(run.trades) == 4 and (run.trades["closed"]).all()
    got = _engine_stream(run, bars.index).loc[lag2.index]
    np.testing.assert_allclose(got.to_numpy(), lag2.to_numpy(), rtol=0, atol=1e-12)
    # and the same from the positions: sign held in session d times the open-to-open return d -> d+1
    held = np.sign(run.shares)
    open_to_open = bars["open"].shift(-1) / bars["open"] - 1.0
    by_position = (held * open_to_open.loc[held.index]).shift(1).dropna()
    common = by_position.index.intersection(lag2.index)
    assert len(common) >= 40
    np.testing.assert_allclose(by_position.loc[common].to_numpy(), lag2.loc[common].to_numpy(), atol=1e-12)
    # it is not the time-travel streams
    for k in (0, 1):
        assert not np.allclose(got.to_numpy(), streams[k].loc[lag2.index].to_numpy(), atol=1e-6)
    # every cycle's nosedive, as the blog says
    assert (got != 0).sum() == 4 and np.allclose(got[got != 0], 1.10 / 1.13 - 1.0, rtol=0, atol=1e-12)
    # the entry was sized at the decision close (1.12) but filled at the 1.13 open: trimmed to the cash
    assert run.fills.iloc[0]["size"] == np.floor(1000 / 1.13)
    assert any(e["event"] == "cancel_remainder" for e in run.events)


def test_engine_close_execution_earns_the_lag1_close_stream():
    bars, run = _run("close")
    lag1_close = lag_streams(bars, trade_price="close")[1].loc["2023-01-03":]
    got = _engine_stream(run, bars.index).loc[lag1_close.index]
    np.testing.assert_allclose(got.to_numpy(), lag1_close.to_numpy(), rtol=0, atol=1e-12)
    assert (got > 0).sum() == 4 and (got < 0).sum() == 0  # "Magical Thinking" catches the small rises
