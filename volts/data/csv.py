"""CSV source (TEMPORARY minimal version; the data-layer work replaces it keeping this signature)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from volts.data.market import MarketData


def load_csv_market(directory, symbols=None, start=None, end=None, layout=None, on_invalid="error",
                    missing="error", max_abs_return=0.5) -> MarketData:
    directory = Path(directory)
    if symbols is None:
        symbols = sorted(p.stem for p in directory.glob("*.csv"))
    frames = {}
    for s in symbols:
        df = pd.read_csv(directory / f"{s}.csv", parse_dates=["Date"], index_col="Date")
        frames[s] = df
    out = {f: pd.DataFrame({s: frames[s][f.capitalize()] for s in symbols}).loc[start:end].dropna()
           for f in ("open", "high", "low", "close", "volume")}
    return MarketData.from_frames(out)
