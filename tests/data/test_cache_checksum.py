"""Bar-cache entries carry a checksum: a flipped bit anywhere in an entry is detected, the entry deleted and rebuilt
from the CSV file with a warning, and the read returns exactly the original bars (never other prices)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from volts.core.config import DataSettings
from volts.data.cache import BarCache
from volts.data.universe import load_universe

START, END = dt.date(2021, 1, 4), dt.date(2021, 6, 30)
FLIPS = 64


@pytest.fixture()
def folder(tmp_path, ref_data_dir):
    """Copies of three reference files (from 2020-10 on: small entries, quick rebuilds) and a membership file."""
    data = tmp_path / "bars"
    data.mkdir()
    for sym in ("MSFT", "IBM", "INTC"):
        lines = (Path(ref_data_dir) / f"{sym}.csv").read_text().splitlines()
        (data / f"{sym}.csv").write_text(
            "\n".join([lines[0]] + [x for x in lines[1:] if x[:10] >= "2020-10-01"]) + "\n"
        )
    (tmp_path / "m.csv").write_text(
        "ticker,start_date,end_date\n" + "".join(f"{s},1996-01-02,\n" for s in ("MSFT", "IBM", "INTC"))
    )
    return data


def _flip_positions(size: int, seed: int) -> list[tuple[int, int]]:
    """``FLIPS`` seeded (byte offset, bit) positions spread over a file of ``size`` bytes (first and last byte
    included: the Parquet magic at both ends and the checksum trailer at the end)."""
    rng = np.random.default_rng(seed)
    offsets = [0, size - 1] + list(rng.integers(0, size, FLIPS - 2))
    return [(int(o), int(rng.integers(0, 8))) for o in offsets]


def _flip(entry: Path, pristine: bytes, offset: int, bit: int) -> None:
    data = bytearray(pristine)
    data[offset] ^= 1 << bit
    entry.write_bytes(bytes(data))


def _damage_warnings(caplog, entry: Path) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and str(entry) in r.getMessage() and "damaged bar-cache entry" in r.getMessage()
    ]


def test_every_flipped_bit_in_a_parsed_bars_entry_is_caught_and_rebuilt(tmp_path, folder, caplog):
    from volts.data.csv import read_csv_bars

    layout = DataSettings().csv
    path = folder / "IBM.csv"
    want = read_csv_bars(path, "IBM", layout)  # the independent answer: no cache at all
    BarCache(tmp_path / "cache", layout).read(path, "IBM", layout)
    [entry] = (tmp_path / "cache").glob("*.parquet")
    pristine = entry.read_bytes()
    for offset, bit in _flip_positions(len(pristine), seed=1):
        _flip(entry, pristine, offset, bit)
        caplog.clear()
        cache = BarCache(tmp_path / "cache", layout)
        with caplog.at_level(logging.WARNING, logger="volts.data"):
            got = cache.read(path, "IBM", layout)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        # detected (not served as a hit), said once, and the entry rebuilt: it verifies again
        assert (cache.hits, cache.misses) == (0, 1), (offset, bit)
        assert len(_damage_warnings(caplog, entry)) == 1, (offset, bit)
        caplog.clear()
        again = BarCache(tmp_path / "cache", layout)
        with caplog.at_level(logging.WARNING, logger="volts.data"):
            pd.testing.assert_frame_equal(again.read(path, "IBM", layout), want, check_exact=True)
        assert (again.hits, again.misses) == (1, 0) and not caplog.records


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["set", "valid"])
def test_every_flipped_bit_in_a_validated_entry_is_caught_and_the_load_is_unchanged(tmp_path, folder, caplog, kind):
    plain = DataSettings(dir=str(folder), membership=str(folder.parent / "m.csv"), on_bad_symbol="exclude")
    cached = plain.model_copy(update={"cache_dir": str(tmp_path / "cache")})

    def load(data):
        return load_universe(data, asof=END, start=START, end=END)

    want, _ = load(plain)  # the independent answer: no cache at all
    load(cached)
    entry = sorted((tmp_path / "cache").glob(f"*-{kind}-*.parquet"))[0]
    pristine = entry.read_bytes()
    for offset, bit in _flip_positions(len(pristine), seed=2):
        _flip(entry, pristine, offset, bit)
        if kind == "valid":  # the validated entries are read when the whole-set entry misses
            for s in (tmp_path / "cache").glob("*-set-*.parquet"):
                s.unlink()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="volts.data"):
            got, report = load(cached)
        for f in ("open", "high", "low", "close", "volume"):
            pd.testing.assert_frame_equal(getattr(got, f), getattr(want, f), check_exact=True)
        assert got.report == want.report
        assert len(_damage_warnings(caplog, entry)) == 1, (offset, bit)
        assert entry.is_file()  # rebuilt
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="volts.data"):
        _, report = load(cached)
    assert not caplog.records and report.cache["set_hits"] == 1


@pytest.mark.slow
def test_volts_select_with_a_damaged_cache_says_so_and_selects_from_the_same_bars(tmp_path, ref_data_dir, capsys):
    """Through the CLI: `volts select` with a bar cache, a bit flipped in the whole-set entry and in a validated
    entry, `volts select --force` again: one warning per damaged entry and the very same bars (data SHA-256)."""
    import json

    from volts.cli import main

    bars = tmp_path / "bars"
    bars.mkdir()
    for sym in ("MSFT", "GOOGL", "MU", "NVDA", "AMZN", "META", "QCOM", "IBM", "INTC", "TSLA"):
        (bars / f"{sym}.csv").write_bytes((Path(ref_data_dir) / f"{sym}.csv").read_bytes())
    cache = tmp_path / "cache"
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[data]\ndir = "{bars}"\non_bad_symbol = "exclude"\ncache_dir = "{cache}"\n'
        "[entropy]\nsurrogates = 20\n[clustering]\nn_init = 1\n"
    )
    out = tmp_path / "runs"
    assert main(["select", "--config", str(cfg), "--out", str(out)]) == 0
    first = json.loads((out / "2023-06-08" / "selection.json").read_text())
    # the whole-set entry, and one symbol's validated entry (read once the set entry has failed)
    damaged = [next(cache.glob("*-set-*.parquet")), sorted(cache.glob("*-valid-*.parquet"))[0]]
    for k, entry in enumerate(damaged):
        data = bytearray(entry.read_bytes())
        data[len(data) // (2 + k)] ^= 0x10
        entry.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["select", "--config", str(cfg), "--out", str(out), "--force"]) == 0
    err = capsys.readouterr().err
    for entry in damaged:
        assert f"warning: {entry}: damaged bar-cache entry (its SHA-256 checksum does not match its bytes)" in err
    again = json.loads((out / "2023-06-08" / "selection.json").read_text())
    assert again["data_sha256"] == first["data_sha256"] and again["pairs"] == first["pairs"]
