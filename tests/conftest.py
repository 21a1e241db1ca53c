"""Shared fixtures. The reference data are read in place from ../shared/data/ohlcv (never copied)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
REF_DATA = (REPO.parent / "shared" / "data" / "ohlcv").resolve()
PAPER_UNIVERSE = ("MSFT", "GOOGL", "MU", "NVDA", "AMZN", "META", "QCOM", "IBM", "INTC", "TSLA")


@pytest.fixture(scope="session")
def ref_data_dir() -> Path:
    """Directory of the reference Yahoo-layout CSV files (../shared/data/ohlcv)."""
    if not REF_DATA.is_dir():
        pytest.fail(f"reference data not found at {REF_DATA}; ../shared must sit beside the repository")
    return REF_DATA


@pytest.fixture(scope="session")
def paper_market(ref_data_dir):
    """The paper's ten stocks, 2019-01-02 .. 2023-12-29, as validated MarketData (through the CSV source)."""
    from volts.data.csv import load_csv_market

    return load_csv_market(ref_data_dir, symbols=PAPER_UNIVERSE, start="2019-01-01", end="2023-12-31")
