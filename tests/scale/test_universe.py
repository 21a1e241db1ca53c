"""Point-in-time universe from a membership file, per-symbol quarantine, the parsed-bars cache (issue 13)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from volts.core.config import DataSettings
from volts.data.cache import BarCache
from volts.data.universe import load_universe, members_on, read_membership
from volts.core.errors import DataError

START, END = dt.date(2021, 1, 4), dt.date(2021, 6, 30)


def _write_membership(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("ticker,start_date,end_date\n" + "".join(f"{t},{s},{e}\n" for t, s, e in rows))
    return path


@pytest.fixture()
def folder(tmp_path, ref_data_dir):
    """Copies of reference files (tests must not edit ../shared) plus planted defects."""
    data = tmp_path / "bars"
    data.mkdir()
    for sym in ("MSFT", "IBM", "INTC", "QCOM", "MU"):
        shutil.copy(Path(ref_data_dir) / f"{sym}.csv", data / f"{sym}.csv")
    # a bad print inside the window: High below Close on 2021-03-01
    lines = (data / "MU.csv").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("2021-03-01,"))
    d, o, h, lo, c, a, v = lines[i].split(",")
    lines[i] = ",".join([d, o, str(float(c) - 5), lo, c, a, v])
    (data / "MU.csv").write_text("\n".join(lines) + "\n")
    # a listing inside the window: rows before 2021-03-01 removed
    lines = (data / "QCOM.csv").read_text().splitlines()
    (data / "QCOM.csv").write_text("\n".join([lines[0]] + [x for x in lines[1:] if x[:10] >= "2021-03-01"]) + "\n")
    return data


def test_members_on_is_point_in_time(tmp_path):
    table = read_membership(
        _write_membership(
            tmp_path / "m.csv",
            [
                ("A", "2000-01-03", ""),
                ("B", "2010-01-04", "2020-12-31"),
                ("C", "2021-01-04", ""),
                ("B", "2022-01-03", ""),
            ],
        )
    )
    assert list(members_on(table, dt.date(2020, 12, 31))) == ["A", "B"]  # end date inclusive
    assert list(members_on(table, dt.date(2021, 1, 4))) == ["A", "C"]  # B left, C joined
    assert list(members_on(table, dt.date(2022, 6, 1))) == ["A", "B", "C"]  # B re-joined (second spell)
    bad = _write_membership(tmp_path / "bad.csv", [("A", "2000-13-03", "")])
    with pytest.raises(DataError, match=r"bad.csv: line 2: start_date '2000-13-03'"):
        read_membership(bad)


def test_quarantine_excludes_bad_and_incomplete_symbols_with_reasons(tmp_path, folder):
    membership = _write_membership(
        tmp_path / "m.csv",
        [
            ("MSFT", "1996-01-02", ""),
            ("IBM", "1996-01-02", ""),
            ("INTC", "1996-01-02", ""),
            ("QCOM", "2021-02-26", ""),
            ("MU", "1996-01-02", ""),
            ("GONE", "1996-01-02", ""),
            ("LEFT", "1996-01-02", "2020-01-02"),
        ],
    )
    data = DataSettings(dir=str(folder), membership=str(membership), on_bad_symbol="exclude")
    market, report = load_universe(data, asof=END, start=START, end=END)
    assert report.members == ("GONE", "IBM", "INTC", "MSFT", "MU", "QCOM")  # LEFT is not a member on END
    assert report.usable == ("IBM", "INTC", "MSFT") == tuple(market.symbols)
    why = {e.symbol: e for e in report.excluded}
    assert why["GONE"].rule == "no_file" and not why["GONE"].quarantined
    assert why["MU"].rule == "high_below_max_open_close" and why["MU"].date == "2021-03-01"
    assert why["MU"].quarantined and why["MU"].file.endswith("MU.csv")
    assert why["QCOM"].rule == "incomplete_history" and "2021-03-01" in why["QCOM"].message
    assert report.coverage_line().startswith(
        f"universe as of {END} (membership:m.csv): 3 of 6 members had usable data (50.0%)"
    )
    assert market.dates[0] == pd.Timestamp(START) and market.dates[-1] <= pd.Timestamp(END)
    # "error" stops at the first bad file, with the validator's one-line message
    with pytest.raises(DataError, match=r"MU.csv: MU 2021-03-01: high_below_max_open_close"):
        load_universe(data.model_copy(update={"on_bad_symbol": "error"}), asof=END, start=START, end=END)


def test_stale_quotes_are_quarantined_instead_of_stopping_the_selection(tmp_path, folder):
    """A member whose window holds a run of bars with high == low (stale quotes, like AMCR's pre-listing series
    in ../shared/data/sp500) makes every range-based volatility zero and stopped the whole selection (a weekly
    S&P walk-forward lost 6 of 21 weeks to one file). With "exclude" it leaves with rule zero_range_run."""
    lines = (folder / "IBM.csv").read_text().splitlines()
    flat_from = next(k for k, line in enumerate(lines) if line.startswith("2021-04-01,"))
    for k in range(flat_from, flat_from + 20):
        d, o, h, lo, c, a, v = lines[k].split(",")
        lines[k] = ",".join([d, c, c, c, c, a, "0"])
    (folder / "IBM.csv").write_text("\n".join(lines) + "\n")
    membership = _write_membership(tmp_path / "m.csv", [(s, "1996-01-02", "") for s in ("MSFT", "IBM", "INTC")])
    data = DataSettings(dir=str(folder), membership=str(membership), on_bad_symbol="exclude")
    _, report = load_universe(data, asof=END, start=START, end=END, zero_range_run=20)
    why = {e.symbol: e for e in report.excluded}
    assert report.usable == ("INTC", "MSFT")
    assert why["IBM"].rule == "zero_range_run" and why["IBM"].quarantined and why["IBM"].date == "2021-04-01"
    assert "20 consecutive bars with high == low from 2021-04-01" in why["IBM"].message
    _, longer = load_universe(data, asof=END, start=START, end=END, zero_range_run=21)  # run shorter than a window
    assert "IBM" in longer.usable
    _, unchecked = load_universe(data, asof=END, start=START, end=END)
    assert "IBM" in unchecked.usable
    # only the bars from zero_range_since count (the GMM window: where the volatility estimators run)
    _, later = load_universe(
        data, asof=END, start=START, end=END, zero_range_run=20, zero_range_since=dt.date(2021, 4, 2)
    )
    assert "IBM" in later.usable
    _, same = load_universe(
        data, asof=END, start=START, end=END, zero_range_run=20, zero_range_since=dt.date(2021, 4, 1)
    )
    assert "IBM" not in same.usable


def test_first_zero_range_run():
    import numpy as np

    from volts.data.universe import _first_zero_range_run

    hi = np.array([2, 1, 1, 1, 3, 1, 1, 1, 1, 2.0])
    lo = np.array([1, 1, 1, 1, 2, 1, 1, 1, 1, 1.0])
    assert _first_zero_range_run(hi, lo, 3) == (1, 3)
    assert _first_zero_range_run(hi, lo, 4) == (5, 4)
    assert _first_zero_range_run(hi, lo, 5) is None
    assert _first_zero_range_run(np.ones(4), np.ones(4), 4) == (0, 4)


def test_suspected_ticker_reuse_is_excluded(tmp_path, folder):
    # OLD's file starts 2012, after the other files' first bar (the data floor): a spell from 1999 is suspect
    shutil.copy(folder / "MSFT.csv", folder / "OLD.csv")
    lines = (folder / "OLD.csv").read_text().splitlines()
    (folder / "OLD.csv").write_text("\n".join([lines[0]] + [x for x in lines[1:] if x[:10] >= "2012-01-03"]) + "\n")
    membership = _write_membership(
        tmp_path / "m.csv",
        [("MSFT", "1996-01-02", ""), ("IBM", "1996-01-02", ""), ("OLD", "1999-01-04", ""), ("INTC", "2015-01-02", "")],
    )
    data = DataSettings(dir=str(folder), membership=str(membership), on_bad_symbol="exclude")
    _, report = load_universe(data, asof=END, start=START, end=END)
    why = {e.symbol: e for e in report.excluded}
    assert why["OLD"].rule == "suspected_ticker_reuse" and "1999-01-04" in why["OLD"].message
    assert "INTC" in report.usable  # its spell starts after its file's first bar: fine


def test_cache_returns_the_parsed_bars_and_misses_on_edited_bytes(tmp_path, folder):
    from volts.data.csv import read_csv_bars

    data = DataSettings()
    cache = BarCache(tmp_path / "cache", data.csv)
    first = cache.read(folder / "IBM.csv", "IBM", data.csv)
    again = cache.read(folder / "IBM.csv", "IBM", data.csv)
    assert (cache.hits, cache.misses) == (1, 1)
    pd.testing.assert_frame_equal(again, read_csv_bars(folder / "IBM.csv", "IBM", data.csv))
    pd.testing.assert_frame_equal(first, again)
    text = (folder / "IBM.csv").read_text().replace("2021-03-01,", "2021-03-01,1", 1)  # same size +1, new bytes
    (folder / "IBM.csv").write_text(text)
    cache.read(folder / "IBM.csv", "IBM", data.csv)
    assert cache.misses == 2


def test_validated_cache_gives_the_same_market_and_report(tmp_path, folder):
    membership = _write_membership(
        tmp_path / "m.csv",
        [("MSFT", "1996-01-02", ""), ("IBM", "1996-01-02", ""), ("MU", "1996-01-02", ""), ("INTC", "1996-01-02", "")],
    )
    data = DataSettings(
        dir=str(folder), membership=str(membership), on_bad_symbol="exclude", cache_dir=str(tmp_path / "cache")
    )
    m1, r1 = load_universe(data, asof=END, start=START, end=END)
    m2, r2 = load_universe(data, asof=END, start=START, end=END)
    assert r1.cache == {"hits": 0, "misses": 4, "set_hits": 0, "set_misses": 1}
    # 3 symbols from the validated set + MU's parsed bars (its validation failure is not cached)
    assert r2.cache == {"hits": 4, "misses": 0, "set_hits": 1, "set_misses": 0}
    assert m1.sha256() == m2.sha256() and r1.to_dict()["excluded"] == r2.to_dict()["excluded"]
    assert m1.report.problems == m2.report.problems
    m3, r3 = load_universe(data, asof=END, start=START, end=dt.date(2021, 5, 28))  # another window: new keys
    assert r3.cache == {"hits": 4, "misses": 0, "set_hits": 0, "set_misses": 1}  # parsed hits
    assert m3.dates[-1] <= pd.Timestamp("2021-05-28") and m3.sha256() != m1.sha256()


def _assert_same_load(got, want):
    """Same MarketData (values, dates, symbols, dtypes), validation report and universe report (cache counters
    aside)."""
    (m, r), (m0, r0) = got, want
    for f in ("open", "high", "low", "close", "volume"):
        pd.testing.assert_frame_equal(getattr(m, f), getattr(m0, f), check_exact=True)
    assert m.report == m0.report
    d, d0 = r.to_dict(), r0.to_dict()
    d.pop("cache"), d0.pop("cache")
    assert d == d0


def test_validated_set_is_one_read_and_equals_the_uncached_load(tmp_path, folder):
    """A repeated load reads one consolidated entry and gives exactly the uncached result: with a quarantined
    symbol (MU, a bad print), an incomplete one (QCOM, listed late), a member without a file (GONE), after an edit
    of one file between runs, and when the consolidated entry is damaged."""
    membership = _write_membership(
        tmp_path / "m.csv",
        [
            ("MSFT", "1996-01-02", ""),
            ("IBM", "1996-01-02", ""),
            ("MU", "1996-01-02", ""),
            ("INTC", "1996-01-02", ""),
            ("QCOM", "1996-01-02", ""),
            ("GONE", "1996-01-02", ""),
        ],
    )
    plain = DataSettings(dir=str(folder), membership=str(membership), on_bad_symbol="exclude")
    cached = plain.model_copy(update={"cache_dir": str(tmp_path / "cache")})

    def load(data):
        return load_universe(data, asof=END, start=START, end=END, zero_range_run=20)

    want = load(plain)
    assert want[1].usable == ("IBM", "INTC", "MSFT") and {e.symbol for e in want[1].quarantined} == {"MU"}
    cold, warm = load(cached), load(cached)
    _assert_same_load(cold, want)
    _assert_same_load(warm, want)
    assert warm[1].cache == {"hits": 5, "misses": 0, "set_hits": 1, "set_misses": 0}  # 4 from the set + MU
    sets = sorted((tmp_path / "cache").glob("*-set-*.parquet"))
    assert len(sets) == 1

    # an edit of one file between runs: the set misses, only that file is parsed and validated again
    lines = (folder / "IBM.csv").read_text().splitlines()
    k = next(k for k, line in enumerate(lines) if line.startswith("2021-03-02,"))
    lines[k] += "1"  # 2021-03-02's volume: ten times larger plus one share
    (folder / "IBM.csv").write_text("\n".join(lines) + "\n")
    want = load(plain)
    edited = load(cached)
    _assert_same_load(edited, want)
    assert edited[1].cache == {"hits": 4, "misses": 1, "set_hits": 0, "set_misses": 1}
    assert edited[0].volume.loc["2021-03-02", "IBM"] == 10 * cold[0].volume.loc["2021-03-02", "IBM"] + 1

    # a damaged consolidated entry is ignored, the load is the same, and the entry is rewritten
    newest = max((tmp_path / "cache").glob("*-set-*.parquet"), key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(newest.read_bytes()[:100])
    damaged = load(cached)
    _assert_same_load(damaged, want)
    assert damaged[1].cache["set_hits"] == 0 and damaged[1].cache["misses"] == 0  # per-file entries served
    repaired = load(cached)
    _assert_same_load(repaired, want)
    assert repaired[1].cache["set_hits"] == 1


def test_validated_set_is_not_written_when_a_bad_file_stops_the_load(tmp_path, folder):
    membership = _write_membership(tmp_path / "m.csv", [("MSFT", "1996-01-02", ""), ("MU", "1996-01-02", "")])
    data = DataSettings(
        dir=str(folder), membership=str(membership), on_bad_symbol="error", cache_dir=str(tmp_path / "cache")
    )
    for _ in range(2):  # the same error every time: failures are never cached
        with pytest.raises(DataError, match=r"MU.csv: MU 2021-03-01: high_below_max_open_close"):
            load_universe(data, asof=END, start=START, end=END)
    assert not list((tmp_path / "cache").glob("*-set-*.parquet"))


def _cached_and_uncached_load(tmp_path, folder):
    """Three clean members: settings with a cache folder, and the load without a cache to compare against."""
    membership = _write_membership(
        tmp_path / "m.csv", [("MSFT", "1996-01-02", ""), ("IBM", "1996-01-02", ""), ("INTC", "1996-01-02", "")]
    )
    plain = DataSettings(dir=str(folder), membership=str(membership), on_bad_symbol="exclude")
    return (
        plain.model_copy(update={"cache_dir": str(tmp_path / "cache")}),
        load_universe(plain, asof=END, start=START, end=END),
    )


def test_whole_set_entry_can_be_left_out(tmp_path, folder):
    """``whole_set_entry=False`` (the walk-forward's weeks): the same load from the per-file entries, and no
    consolidated entry written or read."""
    cached, want = _cached_and_uncached_load(tmp_path, folder)
    for _ in range(2):
        got = load_universe(cached, asof=END, start=START, end=END, whole_set_entry=False)
        _assert_same_load(got, want)
        assert got[1].cache["set_hits"] == 0
    assert got[1].cache["hits"] == 3
    assert not list((tmp_path / "cache").glob("*-set-*.parquet"))


def test_validated_entries_can_be_left_out(tmp_path, folder):
    """``validated_entries=False`` (with ``whole_set_entry=False``: the walk-forward's weeks): the same load as
    without a cache, the files parsed once and read from the parsed-bars entries afterwards, and no entry keyed by
    the window written (the weekly S&P run had written one per member and week)."""
    cached, want = _cached_and_uncached_load(tmp_path, folder)
    for attempt in range(2):
        got = load_universe(cached, asof=END, start=START, end=END, whole_set_entry=False, validated_entries=False)
        _assert_same_load(got, want)
        assert (got[1].cache["hits"], got[1].cache["misses"]) == ((0, 3) if attempt == 0 else (3, 0))
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 3 and not [f for f in files if "-valid-" in f or "-set-" in f], files


def test_a_file_rewritten_during_a_load_is_never_cached_under_its_old_hash(tmp_path, folder, monkeypatch):
    """The cache keys work by a file's SHA-256 and must hold what those bytes parse to. A file rewritten between
    the listing (hashing) and the read is reported (rule ``file_changed``) and nothing is stored under the old
    hash; the parsed-bars entry is always the parse of the bytes it is named after."""
    import hashlib

    import volts.data.cache as cache_mod
    from volts.data.csv import read_csv_bars

    path = folder / "MU.csv"
    original = path.read_bytes()
    old = hashlib.sha256(original).hexdigest()
    cache = BarCache(tmp_path / "cache", DataSettings().csv)
    lines = original.decode().splitlines(keepends=True)
    path.write_text("".join(lines[:-30]))  # the vendor rewrites the file (30 rows fewer)
    with pytest.raises(DataError, match="changed while it was being loaded") as err:
        cache.read(path, "MU", DataSettings().csv, expect_sha256=old)
    assert err.value.rule == "file_changed"
    assert not list((tmp_path / "cache").glob(f"*{old}*"))
    got = cache.read(path, "MU", DataSettings().csv)  # a plain read: the new bytes under the new hash
    new = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name.split("-")[-1] for p in (tmp_path / "cache").glob("*.parquet")] == [f"{new}.parquet"]
    pd.testing.assert_frame_equal(got, read_csv_bars(path, "MU", DataSettings().csv))

    # through a load: the member is hashed, then rewritten before it is read -> quarantined with the rule
    path.write_bytes(original)
    membership = _write_membership(
        tmp_path / "m.csv", [("MSFT", "1996-01-02", ""), ("MU", "1996-01-02", ""), ("IBM", "1996-01-02", "")]
    )
    data = DataSettings(
        dir=str(folder), membership=str(membership), on_bad_symbol="exclude", cache_dir=str(tmp_path / "cache2")
    )
    real = cache_mod.file_sha256

    def hash_then_rewrite(p):
        digest = real(p)
        if Path(p).name == "MU.csv":
            Path(p).write_text("".join(lines[:-30]))
        return digest

    monkeypatch.setattr(cache_mod, "file_sha256", hash_then_rewrite)
    for kw in ({}, {"whole_set_entry": False, "validated_entries": False}):
        path.write_bytes(original)
        market, report = load_universe(data, asof=END, start=START, end=END, **kw)
        assert "MU" not in market.symbols and {"MSFT", "IBM"} <= set(market.symbols)
        (mu,) = [e for e in report.excluded if e.symbol == "MU"]
        assert mu.rule == "file_changed", mu
    assert not list((tmp_path / "cache2").glob(f"*{old}*"))
