"""Historical volatility estimators (METHOD.md §2): known answers, GBM bias/efficiency, windows, degenerate input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from volts.selection import volatility as vol
from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError

# ------------------------------------------------------------------------------------------------ fixtures
# Six hand-written bars of two symbols (open, high, low, close); every bar satisfies L <= O, C <= H.
BARS = {
    "AAA": [
        (100.0, 103.0, 99.0, 102.0),
        (102.5, 104.0, 101.0, 101.5),
        (101.0, 101.8, 97.5, 98.0),
        (98.6, 100.9, 98.1, 100.5),
        (100.2, 102.7, 99.4, 102.2),
        (103.0, 103.5, 100.8, 101.1),
    ],
    "BBB": [
        (50.0, 50.6, 49.2, 49.5),
        (49.0, 49.9, 48.1, 49.8),
        (50.3, 51.7, 50.1, 51.6),
        (51.2, 51.4, 49.6, 49.9),
        (50.4, 52.0, 50.2, 51.8),
        (51.5, 52.4, 50.9, 52.3),
    ],
}


def _hand_market() -> MarketData:
    idx = pd.bdate_range("2024-01-01", periods=6)
    frames = {
        f: pd.DataFrame({s: [bar[i] for bar in BARS[s]] for s in BARS}, index=idx)
        for i, f in enumerate(("open", "high", "low", "close"))
    }
    return MarketData.from_frames(frames)


def _sample_var(xs):
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _expected(name: str, bars, n: int, ppy: int = 252) -> list[float]:
    """The estimator written out with plain math, one window at a time (independent of volts)."""
    out = []
    first = n - 1 if name in ("parkinson", "garman_klass", "rogers_satchell") else n
    for t in range(first, len(bars)):
        win = bars[t - n + 1 : t + 1]
        if name == "parkinson":
            var = sum(math.log(h / l) ** 2 for o, h, l, c in win) / (4 * n * math.log(2))
        elif name == "garman_klass":
            var = (
                sum(0.5 * math.log(h / l) ** 2 - (2 * math.log(2) - 1) * math.log(c / o) ** 2 for o, h, l, c in win) / n
            )
        elif name == "rogers_satchell":
            var = sum(math.log(h / c) * math.log(h / o) + math.log(l / c) * math.log(l / o) for o, h, l, c in win) / n
        elif name == "close_to_close":
            var = _sample_var([math.log(bars[j][3] / bars[j - 1][3]) for j in range(t - n + 1, t + 1)])
        else:  # yang_zhang
            overnight = [math.log(bars[j][0] / bars[j - 1][3]) for j in range(t - n + 1, t + 1)]
            intraday = [math.log(bars[j][3] / bars[j][0]) for j in range(t - n + 1, t + 1)]
            rs = sum(math.log(h / c) * math.log(h / o) + math.log(l / c) * math.log(l / o) for o, h, l, c in win) / n
            k = 0.34 / (1.34 + (n + 1) / (n - 1))
            var = _sample_var(overnight) + k * _sample_var(intraday) + (1 - k) * rs
        out.append(math.sqrt(ppy * var))
    return out


# ------------------------------------------------------------------------------------------ known answers
@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("name", vol.ESTIMATORS)
def test_known_answer_on_hand_bars(name, n):
    market = _hand_market()
    got = getattr(vol, name)(market, window=n)
    for sym, bars in BARS.items():
        want = _expected(name, bars, n)
        assert got[sym].tolist() == pytest.approx(want, rel=1e-12)
    # the first complete window's value sits on its last day (n + 1 bars for the estimators using C_{t-1})
    first = n - 1 if name in vol.RANGE_ESTIMATORS else n
    assert list(got.index) == list(market.dates[first:])
    assert not got.isna().to_numpy().any()


def test_annualisation_factor_and_terms_are_averaged_variances():
    market = _hand_market()
    daily = vol.rolling_variance(market, "garman_klass", window=4)
    terms = vol.garman_klass_terms(market)
    assert daily["AAA"].iloc[-1] == pytest.approx(terms["AAA"].iloc[-4:].mean(), rel=1e-12)
    assert vol.garman_klass(market, window=4, periods_per_year=365).to_numpy() == pytest.approx(
        np.sqrt(365 * daily.to_numpy()), rel=1e-12
    )


def test_yang_zhang_k():
    assert vol.yang_zhang_k(20) == pytest.approx(0.34 / (1.34 + 21 / 19))
    assert vol.yang_zhang_k(2) == pytest.approx(0.34 / (1.34 + 3.0))


def test_estimate_all_matches_individual_estimators():
    market = _hand_market()
    out = vol.estimate_all(market, window=3, periods_per_year=252)
    assert set(out) == set(vol.ESTIMATORS)
    for name, frame in out.items():
        pd.testing.assert_frame_equal(frame, getattr(vol, name)(market, window=3))


def test_no_look_ahead():
    """Changing every bar after day t leaves every value dated <= t unchanged."""
    rng = np.random.default_rng(3)
    market = _daily_market(rng, 60, ["A", "B", "C"], [0.2, 0.4, 0.6])
    t = market.dates[40]
    changed = {f: market.field(f).copy() for f in ("open", "high", "low", "close")}
    for f in changed:
        changed[f].loc[changed[f].index > t] *= 1.37
    changed["high"].loc[changed["high"].index > t] *= 1.05
    other = MarketData.from_frames(changed)
    a, b = vol.estimate_all(market, window=10), vol.estimate_all(other, window=10)
    for name in vol.ESTIMATORS:
        pd.testing.assert_frame_equal(a[name].loc[:t], b[name].loc[:t])
        assert not np.allclose(a[name].loc[t:].iloc[1:], b[name].loc[t:].iloc[1:])


# ------------------------------------------------------------------------------------- simulated GBM bars
def _daily_market(rng, n_days, symbols, sigmas, steps=50):
    """Coarse GBM bars (daily sigma per symbol, small overnight gaps) for structural tests."""
    return _gbm_market(rng, n_days, len(symbols), np.asarray(sigmas), steps, symbols=symbols, sigma_overnight=0.05)


def _gbm_market(
    rng, n_days, n_sym, sigma, steps, *, mu=0.0, sigma_overnight=0.0, ppy=252, symbols=None, chunk=50
) -> MarketData:
    """Bars from a fine intraday GBM path: open = previous close + overnight gap, high/low = extremes of the path.

    ``sigma`` and ``mu`` are annualised (per symbol allowed); the intraday path has ``steps`` increments per day.
    """
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (n_sym,))
    dt = 1.0 / (ppy * steps)
    logs = {f: np.empty((n_days, n_sym)) for f in ("open", "high", "low", "close")}
    last = np.zeros(n_sym)
    for s in range(0, n_days, chunk):
        k = min(n_days, s + chunk) - s
        gaps = rng.standard_normal((k, n_sym)) * sigma_overnight / math.sqrt(ppy)
        inc = rng.standard_normal((k, steps, n_sym), dtype=np.float32) * (sigma * math.sqrt(dt)).astype(np.float32) + (
            (mu - 0.5 * sigma**2) * dt
        ).astype(np.float32)
        path = np.cumsum(inc, axis=1, dtype=np.float64)  # log price relative to the open
        hi, lo = np.maximum(path.max(axis=1), 0.0), np.minimum(path.min(axis=1), 0.0)
        for i in range(k):
            op = last + gaps[i]
            logs["open"][s + i], logs["high"][s + i] = op, op + hi[i]
            logs["low"][s + i], logs["close"][s + i] = op + lo[i], op + path[i, -1]
            last = logs["close"][s + i]
    idx = pd.bdate_range("2001-01-02", periods=n_days)
    cols = symbols or [f"S{i}" for i in range(n_sym)]
    return MarketData.from_frames(
        {f: pd.DataFrame(100.0 * np.exp(a), index=idx, columns=cols) for f, a in logs.items()}
    )


SIGMA = 0.30
N_DAYS, N_SYM, STEPS = 600, 8, 4000  # 4000 intraday steps: the discrete extremes miss ~1 % of the range


@pytest.fixture(scope="module")
def gbm_plain():
    return vol.estimate_all(_gbm_market(np.random.default_rng(11), N_DAYS, N_SYM, SIGMA, STEPS))


def _rel_bias(frame, sigma):
    return frame.to_numpy().mean() / sigma - 1.0


@pytest.mark.parametrize("name", ["parkinson", "garman_klass", "rogers_satchell", "yang_zhang"])
def test_range_estimators_unbiased_on_gbm(gbm_plain, name):
    assert abs(_rel_bias(gbm_plain[name], SIGMA)) < 0.03


@pytest.mark.parametrize("name", ["parkinson", "garman_klass", "yang_zhang"])
def test_range_estimators_more_efficient_than_close_to_close(gbm_plain, name):
    # non-overlapping windows: the spread of the estimates across windows and symbols
    spread = {k: f.iloc[::20].to_numpy().std() for k, f in gbm_plain.items()}
    assert spread[name] < 0.6 * spread["close_to_close"]


def test_yang_zhang_handles_overnight_gaps():
    gap = 0.20
    vols = vol.estimate_all(_gbm_market(np.random.default_rng(12), N_DAYS, N_SYM, SIGMA, STEPS, sigma_overnight=gap))
    total = math.hypot(SIGMA, gap)
    assert abs(_rel_bias(vols["yang_zhang"], total)) < 0.03
    for name in vol.RANGE_ESTIMATORS:  # blind to the gap: they see the intraday part only
        assert _rel_bias(vols[name], total) < -0.10


def test_rogers_satchell_unbiased_under_drift_parkinson_not():
    mu = SIGMA * math.sqrt(252)  # daily drift = one daily standard deviation
    vols = vol.estimate_all(
        _gbm_market(np.random.default_rng(13), N_DAYS, N_SYM, SIGMA, STEPS, mu=mu),
        estimators=("parkinson", "rogers_satchell"),
    )
    assert abs(_rel_bias(vols["rogers_satchell"], SIGMA)) < 0.03
    assert _rel_bias(vols["parkinson"], SIGMA) > 0.08


# --------------------------------------------------------------------------------------- degenerate input
def test_window_longer_than_data_raises():
    market = _hand_market()
    with pytest.raises(DataError, match="fewer than the 20 bars"):
        vol.parkinson(market, window=20)
    # Yang-Zhang and close-to-close need n + 1 bars
    vol.parkinson(market, window=6)
    with pytest.raises(DataError, match="yang_zhang: 6 bars"):
        vol.yang_zhang(market, window=6)
    with pytest.raises(DataError, match="close_to_close"):
        vol.close_to_close(market, window=6)


def test_constant_price_symbol_raises_naming_it():
    market = _hand_market()
    frames = {f: market.field(f).copy() for f in ("open", "high", "low", "close")}
    for f in frames:
        frames[f]["FLAT"] = 42.0
    flat = MarketData.from_frames(frames)
    for name in vol.ESTIMATORS:
        with pytest.raises(DataError, match=r"^FLAT: .*variance is zero"):
            vol.estimate(flat, name, window=3)


def test_bad_parameters_and_prices():
    market = _hand_market()
    with pytest.raises(ConfigError):
        vol.parkinson(market, window=1)
    with pytest.raises(ConfigError):
        vol.estimate(market, "garch", window=3)
    with pytest.raises(ConfigError):
        vol.parkinson(market, window=3, periods_per_year=0)
    frames = {f: market.field(f).copy() for f in ("open", "high", "low", "close")}
    frames["low"].iloc[2, 1] = 0.0
    with pytest.raises(DataError, match="BBB: non-positive low price on 2024-01-03"):
        vol.parkinson(MarketData.from_frames(frames), window=3)
