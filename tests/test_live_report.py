"""``volts live report`` names every difference from the simulator with its cause: a planted partial fill and a
planted manual close are found in the report."""

from __future__ import annotations

import datetime as dt

import pytest

from volts.cli import main
from volts.core.config import Settings
from volts.data.csv import load_csv_market
from volts.data.mt5 import Mt5Terminal
from volts.core.errors import BrokerError
from volts.live.orders import Journal, compute_targets
from volts.live.book import execute_book
from volts.testing.mt5_standin import StandInTerminal

PAIRS = [{"leader": "MU", "follower": "QCOM", "lag": 2}]
SESSIONS = ["2023-08-04", "2023-08-07", "2023-08-08", "2023-08-09", "2023-08-10", "2023-08-11", "2023-08-14"]


@pytest.mark.slow
def test_report_finds_a_partial_fill_and_a_manual_close(tmp_path, ref_data_dir, monkeypatch, capsys):
    from volts.data.calendar import next_session

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = Settings().override(
        **{"data.dir": str(ref_data_dir), "live.sizing": "sleeve", "live.journal": str(tmp_path / "journal.sqlite")}
    )
    market = load_csv_market(ref_data_dir, symbols=["MU", "QCOM"], start="2023-01-03", end="2023-08-31")
    standin = StandInTerminal(
        ref_data_dir,
        until=SESSIONS[0],
        fill_price="next_open",
        volume_step=1e-6,
        volume_min=1e-6,
        volume_max=1e12,
        balance=settings.costs.capital,
        commission_fixed=settings.costs.commission,
    )
    term = Mt5Terminal.from_api(standin, sleep=lambda _: None, retries=1)
    signs = []
    for k, day in enumerate(SESSIONS[:-1]):
        c = dt.date.fromisoformat(day)
        standin.set_until(c)
        if k == 0:
            standin.faults.partial_fills(1, fraction=0.5)  # the first opening order fills half
        if k == 3:
            assert standin.positions
            for pos in standin.positions:  # closed by hand in the terminal before the run of day 4
                standin.close_position(pos.ticket)
        targets = compute_targets(PAIRS, market, asof=c)
        signs.append(targets[0].target)
        now = dt.datetime.combine(c, dt.time(23, 0), tzinfo=dt.timezone.utc)
        with Journal(settings.live.journal, now=now) as j:
            try:
                execute_book(
                    targets,
                    term,
                    j,
                    settings=settings,
                    asof=c,
                    session=next_session(c),
                    now=now,
                    selection_asof="2023-08-03",
                )
            except BrokerError as exc:
                assert k == 0 and "filled" in str(exc)
    assert signs[0] != 0  # the sleeve opens on the first day (so the partial fill is planted on a real order)
    rc = main(["live", "report", "--journal", str(tmp_path / "journal.sqlite"), "--data-dir", str(ref_data_dir)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    text = (tmp_path / "live_report.md").read_text()
    assert "partial fill: " in text and "(retcode 10010)" in text
    assert "manual close: the run for 2023-08-10 found 0 lots" in text
    assert (tmp_path / "live_report.html").read_text().startswith("<!doctype html>")
    assert "10009" in text  # orders are listed with their retcodes


def test_report_of_a_paper_run_without_surprises_lists_no_difference(tmp_path, ref_data_dir, monkeypatch):
    from volts.data.calendar import next_session
    from volts.reporting.live_report import build_live_report

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = Settings().override(**{"data.dir": str(ref_data_dir), "live.sizing": "sleeve"})
    market = load_csv_market(ref_data_dir, symbols=["MU", "QCOM"], start="2023-01-03", end="2023-08-31")
    standin = StandInTerminal(
        ref_data_dir,
        until=SESSIONS[0],
        fill_price="next_open",
        volume_step=1e-6,
        volume_min=1e-6,
        volume_max=1e12,
        balance=settings.costs.capital,
        commission_fixed=settings.costs.commission,
        commission_rate=settings.costs.commission_pct
        + (settings.costs.slippage_bps + settings.costs.half_spread_bps) / 1e4,
    )
    term = Mt5Terminal.from_api(standin, sleep=lambda _: None, retries=1)
    for day in ["2023-08-03", *SESSIONS[:-1]]:  # from the selection's own close, as the daily job runs
        c = dt.date.fromisoformat(day)
        standin.set_until(c)
        now = dt.datetime.combine(c, dt.time(23, 0), tzinfo=dt.timezone.utc)
        with Journal(tmp_path / "j.sqlite", now=now) as j:
            execute_book(
                compute_targets(PAIRS, market, asof=c),
                term,
                j,
                settings=settings,
                asof=c,
                session=next_session(c),
                now=now,
                selection_asof="2023-08-03",
            )
    report = build_live_report(tmp_path / "j.sqlite", settings)
    assert len(report.orders) > 0 and report.differences.empty, report.differences
