"""A ruined configuration of the ablation table is marked and left out of the deflated Sharpe ratio's variance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings
from volts.evaluation.nulls import dsr_trials, headline_inference
from volts.evaluation.sharpe import expected_max_sharpe
from volts.evaluation.walkforward import comparison_row


def _rows():
    # annual Sharpe ratios of the reference ablation's run rows, and a row ruined at -5.14
    return [
        {
            "row": "no-screen",
            "status": "run",
            "sharpe": -5.14,
            "ruined": {"date": "2020-03-23", "equity": -12.0, "sessions_lost": 990},
        },
        {"row": "granger-only", "status": "run", "sharpe": 0.01},
        {"row": "granger-pcmci", "status": "run", "sharpe": 0.35},
        {"row": "full-funnel", "status": "run", "sharpe": 0.22},
        {"row": "full-stable", "status": "not run", "sharpe": None},
    ]


def test_a_ruined_row_counts_in_n_but_not_in_the_variance():
    rows = _rows()
    names, trials = dsr_trials(rows, 252)
    assert names == ["no-screen", "granger-only", "granger-pcmci", "full-funnel"]
    assert trials == pytest.approx([s / math.sqrt(252) for s in (0.01, 0.35, 0.22)])
    assert "RUINED on 2020-03-23" in rows[0]["note"] and "left out of the variance" in rows[0]["note"]
    assert "note" not in rows[1]

    days = pd.bdate_range("2019-01-02", periods=1300)
    r = np.random.default_rng(0).normal(0.0002, 0.01, 1300)
    equity = pd.Series(100_000 * np.cumprod(np.r_[1.0, 1 + r[1:]]), index=days)
    inf = headline_inference(equity, Settings(), trial_sharpes=trials, n_trials=len(names))
    v = float(np.var(trials, ddof=1))
    assert inf["n_trials"] == 4 and inf["trials_variance"] == pytest.approx(v)
    assert inf["sr0"] == pytest.approx(expected_max_sharpe(4, v))
    # with the ruined row in the variance the benchmark would be about 2.5 a year: the bug this guards against
    with_ruin = [s / math.sqrt(252) for s in (-5.14, 0.01, 0.35, 0.22)]
    assert expected_max_sharpe(4, float(np.var(with_ruin, ddof=1))) * math.sqrt(252) > 2.0
    assert inf["sr0"] * math.sqrt(252) < 0.5


def test_comparison_row_carries_the_ruin_record():
    m = {
        "strategy": {"sharpe": -5.14, "ruined": {"date": "2020-03-23", "equity": -1.0, "sessions_lost": 3}},
        "weeks": {"weeks_in_cash": 0, "weeks": 3, "distinct_pairs": 2},
    }
    assert comparison_row("x", m)["ruined"] == "2020-03-23"  # the ruin day: a plain cell in comparison.csv
    m["strategy"]["ruined"] = None
    assert "ruined" not in comparison_row("x", m)
